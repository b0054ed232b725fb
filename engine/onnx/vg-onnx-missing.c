/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vg-onnx.h in a build without protobuf-c or onnx.proto: exporting says what to install. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include "vg-onnx.h"

G_DEFINE_QUARK (vg-onnx-error-quark, vg_onnx_error)

#define MISSING "this build has no ONNX export: install libprotobuf-c-dev, " \
  "protobuf-c-compiler and libonnx-dev (make deps), then reconfigure"

gboolean
vg_onnx_supported (void)
{
  return FALSE;
}

GBytes *
vg_onnx_export (VgModel *model, const VgPreprocess *pre, const VgOnnxOptions *opts,
                GError **error)
{
  g_set_error_literal (error, VG_ONNX_ERROR, VG_ONNX_ERROR_UNSUPPORTED, MISSING);
  return NULL;
}

gboolean
vg_onnx_export_file (VgModel *model, const VgPreprocess *pre, const VgOnnxOptions *opts,
                     const char *path, GError **error)
{
  g_set_error_literal (error, VG_ONNX_ERROR, VG_ONNX_ERROR_UNSUPPORTED, MISSING);
  return FALSE;
}
