/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Export of a model as a standard ONNX graph (opset 17), for ONNX Runtime and other
 * runtimes.
 *
 * The graph takes `image`, a batch of RGB pictures of any size that is a multiple of 32
 * (batch, height and width are symbolic), and gives `logits` (batch, 19, height, width),
 * the same function as vg_model_forward in evaluation mode. The input is either float32
 * already normalised as the model's metadata says ((value / 255 - mean) / std per channel,
 * as the engine feeds itself), or uint8 0..255 with that normalisation inside the graph;
 * either one NCHW or NHWC. The model's metadata_props carry the class names, palette and
 * left/right partners, the preprocessing and the configuration.
 *
 * Built only with protobuf-c (libprotobuf-c-dev, protobuf-c-compiler) and Debian's
 * onnx.proto (libonnx-dev); otherwise vg_onnx_export fails with
 * VG_ONNX_ERROR_UNSUPPORTED, naming those packages. */
#pragma once

#include <glib.h>

#include "vg-model.h"
#include "vg-predict.h"

#define VG_ONNX_OPSET 17

typedef struct {
  gboolean uint8_input;    /* uint8 0..255 instead of normalised float32 */
  gboolean channels_last;  /* NHWC instead of NCHW */
} VgOnnxOptions;

/* TRUE when this build can export (protobuf-c and onnx.proto were found). */
gboolean vg_onnx_supported (void);

/* The ONNX model of a SegFormer model (any configuration; weights read through the model's
 * backend) with its preprocessing, serialised. opts NULL: float32 NCHW. */
GBytes *vg_onnx_export (VgModel *model, const VgPreprocess *pre, const VgOnnxOptions *opts,
                        GError **error);

/* The same written to path with vg_atomic_file_set_contents (all or nothing). */
gboolean vg_onnx_export_file (VgModel *model, const VgPreprocess *pre,
                              const VgOnnxOptions *opts, const char *path, GError **error);

#define VG_ONNX_ERROR (vg_onnx_error_quark ())
GQuark vg_onnx_error_quark (void);

typedef enum {
  VG_ONNX_ERROR_UNSUPPORTED,  /* built without protobuf-c / onnx.proto */
  VG_ONNX_ERROR_MODEL,        /* the model does not fit the exporter (a tensor is missing) */
  VG_ONNX_ERROR_INTERNAL,     /* serialisation failed */
} VgOnnxError;
