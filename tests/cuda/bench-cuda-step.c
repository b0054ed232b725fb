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
#include "cuda/vg-cuda.h"

/* ---- profile: a table whose entries synchronise and time the CUDA ops ------------------- */

typedef struct
{
  const char *name;
  double seconds;
  long calls;
} OpTime;

static const VgBackend *inner;
static VgBackend profiled;
static GHashTable *op_times; /* name -> OpTime */

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

static void
record (const char *name, double t0)
{
  OpTime *t;

  inner->synchronize ();
  t = g_hash_table_lookup (op_times, name);
  if (t == NULL)
    {
      t = g_new0 (OpTime, 1);
      t->name = name;
      g_hash_table_insert (op_times, (gpointer) name, t);
    }
  t->seconds += now () - t0;
  t->calls++;
}

#define START()                                                                           \
  double t0_;                                                                             \
  inner->synchronize ();                                                                  \
  t0_ = now ()

static void
p_linear_forward (float *out, const float *inp, const float *w, const float *b, int Nr,
                  int Cin, int Cout)
{
  START ();
  inner->linear_forward (out, inp, w, b, Nr, Cin, Cout);
  record ("linear_forward", t0_);
}

static void
p_linear_backward (float *dinp, float *dw, float *db, const float *dout, const float *inp,
                   const float *w, int Nr, int Cin, int Cout)
{
  START ();
  inner->linear_backward (dinp, dw, db, dout, inp, w, Nr, Cin, Cout);
  record ("linear_backward", t0_);
}

static void
p_conv2d_forward (float *out, const float *inp, const float *w, const float *b, float *s,
                  int B, int H, int W, int Cin, int Cout, int K, int S, int P, int G)
{
  START ();
  inner->conv2d_forward (out, inp, w, b, s, B, H, W, Cin, Cout, K, S, P, G);
  record (G > 1 && G == Cin ? "conv2d_forward (depthwise)" : "conv2d_forward", t0_);
}

static void
p_conv2d_backward (float *dinp, float *dw, float *db, const float *dout, const float *inp,
                   const float *w, float *s, int B, int H, int W, int Cin, int Cout, int K,
                   int S, int P, int G)
{
  START ();
  inner->conv2d_backward (dinp, dw, db, dout, inp, w, s, B, H, W, Cin, Cout, K, S, P, G);
  record (G > 1 && G == Cin ? "conv2d_backward (depthwise)" : "conv2d_backward", t0_);
}

static void
p_conv_transpose_forward (float *out, const float *inp, const float *w, const float *b,
                          float *s, int B, int H, int W, int Cin, int Cout, int K)
{
  START ();
  inner->conv_transpose_forward (out, inp, w, b, s, B, H, W, Cin, Cout, K);
  record ("conv_transpose_forward", t0_);
}

static void
p_conv_transpose_backward (float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, float *s, int B, int H, int W,
                           int Cin, int Cout, int K)
{
  START ();
  inner->conv_transpose_backward (dinp, dw, db, dout, inp, w, s, B, H, W, Cin, Cout, K);
  record ("conv_transpose_backward", t0_);
}

static void
p_layernorm_forward (float *out, float *mean, float *rstd, const float *inp, const float *w,
                     const float *b, float eps, int Nr, int C)
{
  START ();
  inner->layernorm_forward (out, mean, rstd, inp, w, b, eps, Nr, C);
  record ("layernorm_forward", t0_);
}

static void
p_layernorm_backward (float *dinp, float *dw, float *db, const float *dout, const float *inp,
                      const float *w, const float *mean, const float *rstd, int Nr, int C)
{
  START ();
  inner->layernorm_backward (dinp, dw, db, dout, inp, w, mean, rstd, Nr, C);
  record ("layernorm_backward", t0_);
}

static void
p_batchnorm_forward_train (float *out, float *mean, float *rstd, float *rm, float *rv,
                           const float *inp, const float *w, const float *b, float eps,
                           float momentum, int Nr, int C)
{
  START ();
  inner->batchnorm_forward_train (out, mean, rstd, rm, rv, inp, w, b, eps, momentum, Nr, C);
  record ("batchnorm_forward_train", t0_);
}

static void
p_batchnorm_forward_eval (float *out, const float *inp, const float *w, const float *b,
                          const float *rm, const float *rv, float eps, int Nr, int C)
{
  START ();
  inner->batchnorm_forward_eval (out, inp, w, b, rm, rv, eps, Nr, C);
  record ("batchnorm_forward_eval", t0_);
}

static void
p_batchnorm_backward (float *dinp, float *dw, float *db, const float *dout, const float *inp,
                      const float *w, const float *mean, const float *rstd, int Nr, int C)
{
  START ();
  inner->batchnorm_backward (dinp, dw, db, dout, inp, w, mean, rstd, Nr, C);
  record ("batchnorm_backward", t0_);
}

static void
p_gelu_forward (float *out, const float *inp, size_t n)
{
  START ();
  inner->gelu_forward (out, inp, n);
  record ("gelu_forward", t0_);
}

static void
p_gelu_backward (float *dinp, const float *dout, const float *inp, size_t n)
{
  START ();
  inner->gelu_backward (dinp, dout, inp, n);
  record ("gelu_backward", t0_);
}

static void
p_relu_forward (float *out, const float *inp, size_t n)
{
  START ();
  inner->relu_forward (out, inp, n);
  record ("relu_forward", t0_);
}

static void
p_relu_backward (float *dinp, const float *dout, const float *out, size_t n)
{
  START ();
  inner->relu_backward (dinp, dout, out, n);
  record ("relu_backward", t0_);
}

static void
p_resize_forward (float *out, const float *inp, int B, int H, int W, int Ho, int Wo, int C)
{
  START ();
  inner->resize_bilinear_forward (out, inp, B, H, W, Ho, Wo, C);
  record ("resize_bilinear_forward", t0_);
}

static void
p_resize_backward (float *dinp, const float *dout, int B, int H, int W, int Ho, int Wo, int C)
{
  START ();
  inner->resize_bilinear_backward (dinp, dout, B, H, W, Ho, Wo, C);
  record ("resize_bilinear_backward", t0_);
}

static void
p_concat_forward (float *out, const float *const *parts, const int *Cs, int n, int Nr)
{
  START ();
  inner->concat_forward (out, parts, Cs, n, Nr);
  record ("concat_forward", t0_);
}

static void
p_concat_backward (float *const *dparts, const float *dout, const int *Cs, int n, int Nr)
{
  START ();
  inner->concat_backward (dparts, dout, Cs, n, Nr);
  record ("concat_backward", t0_);
}

static float
p_ce_forward (const float *logits, const uint8_t *targets, const float *weights, int ignore,
              int Nr, int NC)
{
  float loss;
  START ();
  loss = inner->cross_entropy_forward (logits, targets, weights, ignore, Nr, NC);
  record ("cross_entropy_forward", t0_);
  return loss;
}

static void
p_ce_backward (float *dlogits, const float *logits, const uint8_t *targets,
               const float *weights, int ignore, float dloss, int Nr, int NC)
{
  START ();
  inner->cross_entropy_backward (dlogits, logits, targets, weights, ignore, dloss, Nr, NC);
  record ("cross_entropy_backward", t0_);
}

static void
p_attention_forward (float *out, float *lse, const float *q, const float *k, const float *v,
                     float *s, int B, int N, int M, int C, int NH)
{
  START ();
  inner->attention_forward (out, lse, q, k, v, s, B, N, M, C, NH);
  record ("attention_forward", t0_);
}

static void
p_attention_backward (float *dq, float *dk, float *dv, const float *dout, const float *out,
                      const float *lse, const float *q, const float *k, const float *v,
                      float *s, int B, int N, int M, int C, int NH)
{
  START ();
  inner->attention_backward (dq, dk, dv, dout, out, lse, q, k, v, s, B, N, M, C, NH);
  record ("attention_backward", t0_);
}

static void
p_add_inplace (float *acc, const float *x, size_t n)
{
  START ();
  inner->add_inplace (acc, x, n);
  record ("add_inplace", t0_);
}

static void
p_adam_step (float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
             float b2, float eps, float wd, int t, int decoupled)
{
  START ();
  inner->adam_step (p, g, m, v, n, lr, b1, b2, eps, wd, t, decoupled);
  record ("adam_step", t0_);
}

static void
p_zero (void *ptr, size_t bytes)
{
  START ();
  inner->zero (ptr, bytes);
  record ("zero", t0_);
}

static const VgBackend *
profile_backend (const VgBackend *be)
{
  inner = be;
  profiled = *be;
  profiled.name = "cuda (profiled)";
  profiled.zero = p_zero;
  profiled.linear_forward = p_linear_forward;
  profiled.linear_backward = p_linear_backward;
  profiled.conv2d_forward = p_conv2d_forward;
  profiled.conv2d_backward = p_conv2d_backward;
  profiled.conv_transpose_forward = p_conv_transpose_forward;
  profiled.conv_transpose_backward = p_conv_transpose_backward;
  profiled.layernorm_forward = p_layernorm_forward;
  profiled.layernorm_backward = p_layernorm_backward;
  profiled.batchnorm_forward_train = p_batchnorm_forward_train;
  profiled.batchnorm_forward_eval = p_batchnorm_forward_eval;
  profiled.batchnorm_backward = p_batchnorm_backward;
  profiled.gelu_forward = p_gelu_forward;
  profiled.gelu_backward = p_gelu_backward;
  profiled.relu_forward = p_relu_forward;
  profiled.relu_backward = p_relu_backward;
  profiled.resize_bilinear_forward = p_resize_forward;
  profiled.resize_bilinear_backward = p_resize_backward;
  profiled.concat_forward = p_concat_forward;
  profiled.concat_backward = p_concat_backward;
  profiled.cross_entropy_forward = p_ce_forward;
  profiled.cross_entropy_backward = p_ce_backward;
  profiled.attention_forward = p_attention_forward;
  profiled.attention_backward = p_attention_backward;
  profiled.add_inplace = p_add_inplace;
  profiled.adam_step = p_adam_step;
  return &profiled;
}

static int
by_time (gconstpointer a, gconstpointer b)
{
  const OpTime *x = *(OpTime *const *) a, *y = *(OpTime *const *) b;

  return x->seconds < y->seconds ? 1 : x->seconds > y->seconds ? -1 : 0;
}

static void
print_profile (int steps)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new ();
  g_autoptr (GList) values = g_hash_table_get_values (op_times);
  double total = 0.0;

  for (GList *l = values; l != NULL; l = l->next)
    g_ptr_array_add (rows, l->data);

  g_ptr_array_sort (rows, by_time);
  for (guint i = 0; i < rows->len; i++)
    total += ((OpTime *) rows->pdata[i])->seconds;
  printf ("profile per step (each op synchronised), total %.2f ms:\n", 1e3 * total / steps);
  for (guint i = 0; i < rows->len; i++)
    {
      const OpTime *t = rows->pdata[i];
      printf ("  %-30s %9.3f ms %5.1f%% %6ld calls\n", t->name, 1e3 * t->seconds / steps,
              100.0 * t->seconds / total, t->calls / steps);
    }
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
  char why[256] = "";
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
  if (vg_device_cuda_count (why, sizeof why) == 0)
    {
      printf ("SKIP: no CUDA device: %s\n", why);
      return 77;
    }
  be = vg_backend_cuda (&error);
  if (be == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
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
      op_times = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
      vg_model_free (g_steal_pointer (&model));
      model = vg_model_new (&cfg, profile_backend (be), &error);
      g_assert_no_error (error);
      if (!vg_model_reserve (model, batch, size, size, TRUE, &error))
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
      train_steps (model, &profiled, images, targets, m, v, batch, 1, &t);
      g_hash_table_remove_all (op_times);
      train_steps (model, &profiled, images, targets, m, v, batch, 3, &t);
      print_profile (3);
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
