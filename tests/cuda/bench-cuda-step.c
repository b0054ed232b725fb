/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A small benchmark of the CUDA backend for the device check, independent of visage-cli:
 * training steps (zero_grad + forward + backward + Adam) on a synthetic batch already on the
 * device, and inference latency at batch 1. With --profile, every op is followed by a
 * synchronisation and timed, and the ops are listed by total time (the synchronisations
 * slow the step down: the plain figures come first).
 *
 * usage: bench-cuda-step [--config NAME] [--size N] [--batch B] [--steps N] [--warmup N]
 *                        [--runs N] [--profile]
 * Not a test: it asserts nothing and prints figures. Exit 77 without a device. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "vg-backend.h"
#include "vg-config.h"
#include "vg-device.h"
#include "vg-model.h"
#include "vg-profile.h"
#include "cuda/vg-cuda.h"
#include "cuda-backend.h"

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* ---- the benchmark ------------------------------------------------------------------------ */

static double
train_steps (VgModel *model, const VgBackend *be, const float *images, const uint8_t *targets,
             float *m, float *v, int B, int n, int *t)
{
  size_t np = vg_model_num_params (model);
  double t0;
  float loss = 0.0f;

  be->synchronize ();
  t0 = now ();
  for (int i = 0; i < n; i++)
    {
      vg_model_zero_grad (model);
      loss = vg_model_forward (model, images, targets, B, TRUE);
      vg_model_backward (model);
      ++*t;
      be->adam_step (vg_model_params (model), vg_model_grads (model), m, v, np, 1e-4f, 0.9f,
                     0.999f, 1e-8f, 0.0f, *t, 0);
    }
  be->synchronize ();
  if (n > 0)
    printf ("  last loss %.4f\n", loss);
  return now () - t0;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

int
main (int argc, char *argv[])
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgModel) infer = NULL;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autofree char *config = NULL;
  int size = 512, batch = 16, steps = 10, warmup = 2, runs = 20;
  gboolean profile = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_STRING, &config, "Configuration (visage-s)", "NAME" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "Input size (512)", "N" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Training batch (16)", "B" },
    { "steps", 'n', 0, G_OPTION_ARG_INT, &steps, "Timed training steps (10)", "N" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &warmup, "Untimed steps and runs (2)", "N" },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &runs, "Timed inference runs (20)", "N" },
    { "profile", 0, 0, G_OPTION_ARG_NONE, &profile, "Also time every op", NULL },
    { NULL }
  };
  const VgBackend *be;
  int status;
  VgConfig cfg;
  size_t n_img, n_pix, np;
  float *images, *m, *v, *h_images;
  uint8_t *targets, *h_targets;
  double secs, *lat;
  int t = 0;
  GRand *rng;

  ctx = g_option_context_new ("- time the CUDA backend");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 2;
    }
  be = cuda_backend_or_status (&status);
  if (be == NULL)
    return status;
  if (!vg_config_from_name (&cfg, config != NULL ? config : "visage-s", &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 2;
    }

  n_img = (size_t) batch * size * size * 3;
  n_pix = (size_t) batch * size * size;
  h_images = g_new (float, n_img);
  h_targets = g_new (uint8_t, n_pix);
  rng = g_rand_new_with_seed (1);
  for (size_t i = 0; i < n_img; i++)
    h_images[i] = (float) g_rand_double_range (rng, -2, 2);
  for (size_t i = 0; i < n_pix; i++)
    h_targets[i] = g_rand_double (rng) < 0.01 ? 255 : (uint8_t) g_rand_int_range (rng, 0, 19);
  g_rand_free (rng);

  model = vg_model_new (&cfg, be, &error);
  if (model == NULL || !vg_model_reserve (model, batch, size, size, TRUE, &error))
    {
      fprintf (stderr, "training model: %s\n", error->message);
      return 1;
    }
  np = vg_model_num_params (model);
  images = be->alloc (n_img * sizeof (float), &error);
  targets = images != NULL ? be->alloc (n_pix, &error) : NULL;
  m = targets != NULL ? be->alloc (np * sizeof (float), &error) : NULL;
  v = m != NULL ? be->alloc (np * sizeof (float), &error) : NULL;
  if (v == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  be->upload (images, h_images, n_img * sizeof (float));
  be->upload (targets, h_targets, n_pix);
  be->zero (m, np * sizeof (float));
  be->zero (v, np * sizeof (float));

  printf ("CUDA backend, matrix products %s; %s, %zu parameters; %dx%d, batch %d\n",
          vg_backend_cuda_math_mode (), cfg.name, np, size, size, batch);
  printf ("model memory %.1f MiB (parameters, gradients, activations, scratch)\n",
          vg_model_memory_bytes (model) / 1048576.0);
  printf ("warm-up: %d steps\n", warmup);
  train_steps (model, be, images, targets, m, v, batch, warmup, &t);
  printf ("timed: %d steps\n", steps);
  secs = train_steps (model, be, images, targets, m, v, batch, steps, &t);
  printf ("training: %.1f ms/step, %.1f images/s (5,000 images: %.1f s of GPU compute)\n",
          1e3 * secs / steps, batch * steps / secs, 5000.0 / (batch * steps / secs));

  if (profile)
    {
      const VgBackend *profiled = vg_profile_backend (be, TRUE);
      double profiled_secs;

      vg_model_free (g_steal_pointer (&model));
      model = vg_model_new (&cfg, profiled, &error);
      g_assert_no_error (error);
      if (!vg_model_reserve (model, batch, size, size, TRUE, &error))
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
      train_steps (model, profiled, images, targets, m, v, batch, 1, &t);
      vg_profile_set_recording (TRUE);
      profiled_secs = train_steps (model, profiled, images, targets, m, v, batch, 3, &t);
      vg_profile_set_recording (FALSE);
      vg_profile_report (stdout, "each op synchronised", 3, profiled_secs);
    }
  vg_model_free (g_steal_pointer (&model));
  be->free (m);
  be->free (v);

  /* inference: batch 1, evaluation mode, the logits left on the device */
  infer = vg_model_new (&cfg, be, &error);
  if (infer == NULL || !vg_model_reserve (infer, 1, size, size, FALSE, &error))
    {
      fprintf (stderr, "inference model: %s\n", error->message);
      return 1;
    }
  lat = g_new (double, MAX (runs, 1));
  for (int i = 0; i < warmup + runs; i++)
    {
      double t0;
      be->synchronize ();
      t0 = now ();
      vg_model_forward (infer, images, NULL, 1, FALSE);
      be->synchronize ();
      if (i >= warmup)
        lat[i - warmup] = now () - t0;
    }
  qsort (lat, runs, sizeof (double), compare_double);
  if (runs > 0)
    printf ("inference at %dx%d, batch 1: median %.2f ms, min %.2f ms (%d runs)\n", size, size,
            1e3 * lat[runs / 2], 1e3 * lat[0], runs);
  g_free (lat);
  be->free (images);
  be->free (targets);
  g_free (h_images);
  g_free (h_targets);
  return 0;
}
