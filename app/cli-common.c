/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the commands that run a model on images share (eval, predict, export-submission,
 * stats): errors, progress, options' ranges, the default model, JSON text. */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <math.h>
#include <stdio.h>

#include "visage-cli-private.h"
#include "vg-gemm.h"
#include "vg-json.h"
#include "vg-known-models.h"

int
vg_cli_fail (const char *command, const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      fprintf (stderr, "visage-cli %s: interrupted\n", command);
      return EXIT_INTERRUPTED;
    }
  fprintf (stderr, "visage-cli %s: %s\n", command, error->message);
  return EXIT_FAILURE_RUN;
}

void
vg_cli_on_progress (int done, int total, gpointer data)
{
  vg_cli_progress_update (data, done, NULL);
}

gboolean
vg_cli_check_range (const char *command, const char *option, int value, int lo, int hi)
{
  if (value < lo || value > hi)
    {
      fprintf (stderr, "visage-cli %s: %s must be between %d and %d, not %d\n", command, option,
               lo, hi, value);
      return FALSE;
    }
  return TRUE;
}

gboolean
vg_cli_check_batch_workers (const char *command, int batch, int workers)
{
  return vg_cli_check_range (command, "--batch", batch, 1, 256)
         && vg_cli_check_range (command, "--workers", workers, 1, 256);
}

/* Without --model: the model shipped with the program (vg_bundled_model_path); --model
 * visage-fast (a name, when no such file exists): that shipped model. */
gboolean
vg_cli_default_model (const char *command, char **model_path)
{
  VgBundledModel which = VG_BUNDLED_ACCURATE;
  char *shipped = NULL;

  if (*model_path == NULL)
    shipped = vg_bundled_model_path_for (which);
  else if (g_file_test (*model_path, G_FILE_TEST_EXISTS)
           || !vg_bundled_model_lookup (*model_path, &which, &shipped))
    return TRUE;
  if (shipped == NULL && *model_path == NULL)
    fprintf (stderr, "visage-cli %s: no model ships with this build: give --model FILE\n",
             command);
  else if (shipped == NULL)
    fprintf (stderr, "visage-cli %s: the model %s does not ship with this build: give "
             "--model FILE\n", command, vg_bundled_model_name (which));
  if (shipped == NULL)
    return FALSE;
  g_free (*model_path);
  *model_path = shipped;
  return TRUE;
}

VgModel *
vg_cli_open_model (const char *path, const VgBackend *be, VgPreprocess *pre, GError **error)
{
  VgModel *model = vg_model_open (path, be, pre, error);

  if (model == NULL)
    return NULL;
  if (pre->resolution > 0)
    fprintf (stderr, "model: %s (%s, resolution %d)\n", path, vg_model_config (model)->name,
             pre->resolution);
  else
    fprintf (stderr, "model: %s (%s, at each image's own size)\n", path,
             vg_model_config (model)->name);
  return model;
}

gboolean
vg_cli_set_precision (const char *command, const char *name)
{
  if (name == NULL || g_strcmp0 (name, "fp32") == 0)
    return vg_gemm_set_precision (VG_PRECISION_FP32);
  if (g_strcmp0 (name, "bf16") != 0)
    {
      fprintf (stderr, "visage-cli %s: unknown --precision '%s' (fp32 or bf16)\n", command,
               name);
      return FALSE;
    }
  if (!vg_gemm_set_precision (VG_PRECISION_BF16))
    {
      fprintf (stderr, "visage-cli %s: --precision bf16 needs a processor with AVX512_BF16, "
               "which this one lacks\n", command);
      return FALSE;
    }
  fprintf (stderr, "precision: bf16 (the layers' matrix products in bfloat16 with float "
           "sums; attention in float)\n");
  return TRUE;
}

VgPredictor *
vg_cli_predictor_new (VgModel *model, const VgPreprocess *pre, int batch, gboolean flip,
                      GError **error)
{
  g_autoptr (VgPredictor) predictor = vg_predictor_new (model, pre, batch, error);

  if (predictor == NULL || !vg_predictor_set_flip (predictor, flip, error))
    return NULL;
  return g_steal_pointer (&predictor);
}

void
vg_cli_json_string (GString *out, const char *s)
{
  vg_json_append_string (out, s);
}

/* A double as JSON: shortest round-trip text; null when negative (no value) or not finite. */
void
vg_cli_json_number (GString *out, double v, gboolean allow_negative)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (v) || (!allow_negative && v < 0))
    g_string_append (out, "null");
  else
    g_string_append (out, g_ascii_dtostr (buf, sizeof buf, v));
}
