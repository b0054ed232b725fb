/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The engine's side of the interop tests (onnxruntime.mjs): not a test by itself.
 *
 *   engine-logits make-model --config NAME [--spec SPEC] --seed N --out FILE
 *     A model file of random weights: the engine's initialisation, then every bias, norm
 *     weight and BatchNorm running statistic moved off its default (so BatchNorm's eval
 *     arithmetic and the norms' affine parts are exercised), with preprocessing metadata.
 *
 *   engine-logits run --model FILE --batch B --size WxH --images DIR --prefix P
 *     Takes the first B photographs of DIR (name order), resized to W x H with the
 *     engine's resampler and rounded to uint8, and writes
 *       P.u8   the pictures, uint8 (B, H, W, 3)
 *       P.f32  their normalised input, float32 (B, 3, H, W), by the engine's own
 *              whitening (vg_augment_sample at the native size, as vg_predict does)
 *       P.out  the engine's logits in evaluation mode, float32 (B, NC, H, W)
 *     all raw little-endian, the layouts of the ONNX graph's input and output. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg-augment.h"
#include "vg-image.h"
#include "vg-model.h"
#include "vg-predict.h"

static gboolean
make_model (int argc, char **argv, GError **error)
{
  g_autofree char *config = NULL, *spec = NULL, *out = NULL;
  int seed = 1;
  GOptionEntry entries[] = {
    { "config", 0, 0, G_OPTION_ARG_STRING, &config, "configuration name", "NAME" },
    { "spec", 0, 0, G_OPTION_ARG_STRING, &spec, "custom spec on top", "SPEC" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, "random seed", "N" },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "model file", "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("make-model");
  g_autoptr (VgModel) model = NULL;
  g_autoptr (GRand) rand = NULL;
  g_autofree VgParamSpec *specs = NULL;
  g_auto (GStrv) meta = NULL;
  VgPreprocess pre = { { 0.52, 0.42, 0.37 }, { 0.29, 0.26, 0.27 }, 256 };
  VgConfig cfg;
  int n;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, error))
    return FALSE;
  if (out == NULL || !vg_config_from_name (&cfg, config ? config : "visage-s", error)
      || (spec != NULL && !vg_config_parse (&cfg, spec, error))
      || !vg_config_validate (&cfg, error)
      || (model = vg_model_new (&cfg, vg_backend_cpu (), error)) == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "give --out");
      return FALSE;
    }
  vg_model_init (model, (uint64_t) seed);
  rand = g_rand_new_with_seed ((guint32) seed);
  n = vg_config_param_specs (&cfg, NULL, 0);
  specs = g_new (VgParamSpec, n);
  vg_config_param_specs (&cfg, specs, n);
  for (int i = 0; i < n; i++)
    {
      const VgParamSpec *s = &specs[i];
      gboolean is_var = g_str_has_suffix (s->name, ".running_var");
      gboolean is_scale = g_str_has_suffix (s->name, "norm.weight")
        || g_str_has_suffix (s->name, "norm1.weight") || g_str_has_suffix (s->name, "norm2.weight")
        || g_str_has_suffix (s->name, "bn.weight");
      size_t numel;
      float *t;

      if (s->kind == VG_TENSOR_COUNTER || s->ndim != 1)
        continue;
      t = vg_model_tensor (model, s->name, FALSE, &numel);
      for (size_t k = 0; k < numel; k++)
        {
          if (is_var)
            t[k] = (float) g_rand_double_range (rand, 0.5, 2.0);
          else if (is_scale)
            t[k] = (float) g_rand_double_range (rand, 0.7, 1.3);
          else
            t[k] += (float) g_rand_double_range (rand, -0.2, 0.2);
        }
    }
  meta = vg_preprocess_to_metadata (&pre);
  return vg_model_save (model, out, (const char *const *) meta, error);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/* The first B images of dir, each resized to (H, W) and rounded to uint8: rgb (B, H, W, 3). */
static gboolean
load_pictures (uint8_t *rgb, const char *dir, int B, int H, int W, GError **error)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();
  g_autofree float *tmp = g_new (float, (size_t) H * W * 3);
  const char *name;

  if (d == NULL)
    return FALSE;
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".jpg") || g_str_has_suffix (name, ".png"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  if ((int) names->len < B)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: fewer than %d images", dir, B);
      return FALSE;
    }
  for (int b = 0; b < B; b++)
    {
      g_autofree char *path = g_build_filename (dir, names->pdata[b], NULL);
      VgImage img = { 0 };
      size_t n = (size_t) H * W * 3;

      if (!vg_image_load (&img, path, error))
        return FALSE;
      vg_resample_image (tmp, img.data, 0, 0, img.height, img.width, FALSE, scratch,
                         img.height, img.width, H, W);
      for (size_t i = 0; i < n; i++)
        rgb[b * n + i] = (uint8_t) CLAMP (lrintf (tmp[i] * 255.0f), 0, 255);
      vg_image_clear (&img);
    }
  return TRUE;
}

static gboolean
write_raw (const char *prefix, const char *ext, const void *data, size_t bytes, GError **error)
{
  g_autofree char *path = g_strconcat (prefix, ext, NULL);

  return g_file_set_contents (path, data, bytes, error);
}

/* x (B, H, W, C) channels-last -> out (B, C, H, W). */
static void
to_nchw (float *out, const float *x, int B, int H, int W, int C)
{
  for (int b = 0; b < B; b++)
    for (size_t p = 0; p < (size_t) H * W; p++)
      for (int c = 0; c < C; c++)
        out[((size_t) b * C + c) * H * W + p] = x[((size_t) b * H * W + p) * C + c];
}

static gboolean
run (int argc, char **argv, GError **error)
{
  g_autofree char *model_path = NULL, *size = NULL, *images = NULL, *prefix = NULL;
  int B = 1, H = 0, W = 0;
  GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model_path, "model file", "FILE" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &B, "batch", "B" },
    { "size", 0, 0, G_OPTION_ARG_STRING, &size, "W x H", "WxH" },
    { "images", 0, 0, G_OPTION_ARG_FILENAME, &images, "folder of photographs", "DIR" },
    { "prefix", 0, 0, G_OPTION_ARG_FILENAME, &prefix, "output files' prefix", "P" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("run");
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();
  g_autofree uint8_t *rgb = NULL;
  g_autofree float *x = NULL, *x_nchw = NULL, *logits = NULL;
  VgAugmentParams aug;
  VgPreprocess pre;
  size_t npix;
  int NC;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, error))
    return FALSE;
  if (model_path == NULL || size == NULL || images == NULL || prefix == NULL
      || sscanf (size, "%dx%d", &W, &H) != 2 || B < 1 || H < 32 || W < 32)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "give --model, --batch, --size WxH, --images and --prefix");
      return FALSE;
    }
  if ((model = vg_model_open (model_path, vg_backend_cpu (), &pre, error)) == NULL
      || !vg_model_reserve (model, B, H, W, FALSE, error))
    return FALSE;
  NC = vg_model_config (model)->num_classes;
  npix = (size_t) H * W;
  rgb = g_new (uint8_t, B * npix * 3);
  x = g_new (float, B * npix * 3);
  x_nchw = g_new (float, B * npix * 3);
  if (!load_pictures (rgb, images, B, H, W, error))
    return FALSE;

  /* the engine's evaluation input: native size, whitening only (vg_predict's path) */
  vg_augment_params_init (&aug, FALSE);
  vg_augment_params_set_whitening (&aug, pre.mean, pre.std);
  for (int b = 0; b < B; b++)
    vg_augment_sample (x + b * npix * 3, NULL, rgb + b * npix * 3, NULL, &aug, 0, scratch, H,
                       W);
  vg_model_forward (model, x, NULL, B, FALSE);
  logits = g_new (float, B * npix * NC);
  to_nchw (logits, vg_model_logits (model), B, H, W, NC);
  to_nchw (x_nchw, x, B, H, W, 3);
  return write_raw (prefix, ".u8", rgb, B * npix * 3, error)
         && write_raw (prefix, ".f32", x_nchw, B * npix * 3 * sizeof (float), error)
         && write_raw (prefix, ".out", logits, B * npix * NC * sizeof (float), error);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  gboolean ok;

  if (argc < 2)
    {
      fprintf (stderr, "usage: engine-logits make-model|run OPTIONS\n");
      return 2;
    }
  if (strcmp (argv[1], "make-model") == 0)
    ok = make_model (argc - 1, argv + 1, &error);
  else if (strcmp (argv[1], "run") == 0)
    ok = run (argc - 1, argv + 1, &error);
  else
    {
      fprintf (stderr, "engine-logits: unknown command '%s'\n", argv[1]);
      return 2;
    }
  if (!ok)
    {
      fprintf (stderr, "engine-logits %s: %s\n", argv[1], error->message);
      return 1;
    }
  return 0;
}
