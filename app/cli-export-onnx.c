/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli export-onnx: a model file as a standard ONNX graph (engine/onnx/vg-onnx.h). */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <stdio.h>

#include <glib/gstdio.h>

#include "visage-cli-private.h"
#include "vg-atomic-file.h"
#include "vg-onnx.h"
#include "vg-predict.h"

int
vg_cli_export_onnx (int argc, char **argv)
{
  g_autofree char *model_path = NULL, *out = NULL;
  gboolean uint8_input = FALSE, nhwc = FALSE;
  g_autoptr (GError) error = NULL;
  g_autoptr (VgModel) model = NULL;
  GOptionEntry entries[] = {
    VG_CLI_MODEL_OPTION (model_path),
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "The ONNX file to write", "FILE" },
    { "uint8", 0, 0, G_OPTION_ARG_NONE, &uint8_input,
      "Input uint8 RGB 0..255, normalised inside the graph (default: float32, normalised "
      "as the model's metadata says)", NULL },
    { "nhwc", 0, 0, G_OPTION_ARG_NONE, &nhwc,
      "Input channels-last (batch, height, width, 3) instead of (batch, 3, height, width)",
      NULL },
    { NULL }
  };
  int status = EXIT_OK;
  VgOnnxOptions opts;
  VgPreprocess pre;
  GStatBuf st;

  if (!vg_cli_parse_options_only ("export-onnx", "write a model as an ONNX graph (opset 17)",
                                  entries, &argc, &argv, &status))
    return status;
  if (out == NULL)
    {
      fprintf (stderr, "visage-cli export-onnx: give --out FILE\n");
      return EXIT_USAGE;
    }
  if (!vg_onnx_supported ())
    {
      vg_onnx_export_file (NULL, NULL, NULL, out, &error);
      fprintf (stderr, "visage-cli export-onnx: %s\n", error->message);
      return EXIT_FAILURE_RUN;
    }
  if (!vg_cli_default_model ("export-onnx", &model_path))
    return EXIT_USAGE;

  /* a folder or an unwritable place is found before the model is read */
  if (!vg_check_output_file (out, &error))
    {
      fprintf (stderr, "visage-cli export-onnx: %s\n", error->message);
      return EXIT_FAILURE_RUN;
    }

  opts.uint8_input = uint8_input;
  opts.channels_last = nhwc;
  if ((model = vg_model_open (model_path, vg_backend_cpu (), &pre, &error)) == NULL
      || !vg_onnx_export_file (model, &pre, &opts, out, &error))
    {
      fprintf (stderr, "visage-cli export-onnx: %s\n", error->message);
      return EXIT_FAILURE_RUN;
    }
  printf ("wrote %s (%.2f MB): %s, ONNX opset %d\n", out,
          g_stat (out, &st) == 0 ? st.st_size / 1e6 : 0.0, vg_model_config (model)->name,
          VG_ONNX_OPSET);
  printf ("input  'image'  %s %s, any height and width that are multiples of 32\n",
          uint8_input ? "uint8 RGB 0..255" : "float32 RGB, (value / 255 - mean) / std",
          nhwc ? "(batch, height, width, 3)" : "(batch, 3, height, width)");
  if (!uint8_input)
    printf ("        mean %.6g, %.6g, %.6g  std %.6g, %.6g, %.6g\n", pre.mean[0], pre.mean[1],
            pre.mean[2], pre.std[0], pre.std[1], pre.std[2]);
  printf ("output 'logits' float32 (batch, %d, height, width)\n",
          vg_model_config (model)->num_classes);
  return EXIT_OK;
}
