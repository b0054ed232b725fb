/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Model files: safetensors with PyTorch's state_dict names and layouts, and the metadata
 * that make a file self-describing: its configuration ("visage.config" on top of the
 * named "visage.config_name") and its preprocessing (the training split's whitening and
 * the training resolution), so that predictions never depend on the caller guessing them.
 *
 * Errors name the file. Opening one is checked, never trusted: the tensors are checked
 * against the configuration before a model is allocated for it. */
#pragma once

#include <glib.h>

#include "vg-backend.h"
#include "vg-config.h"
#include "vg-model.h"
#include "vg-safetensors.h"

/* Larger model inputs are refused: 16384 is vg_cli_parse_size's limit too. */
#define VG_MAX_RESOLUTION 16384

typedef struct {
  double mean[3];   /* per channel, of values / 255 */
  double std[3];
  int resolution;   /* square model input size; 0 = the image's own size (multiple of 32) */
} VgPreprocess;

/* Metadata keys ("visage.mean" = "0.51,0.42,0.37", "visage.std", "visage.resolution") as a
 * NULL-terminated key, value list for vg_model_save (free with g_strfreev). */
char **vg_preprocess_to_metadata (const VgPreprocess *pre);
/* Read them back from a model file; FALSE with an error naming the file when absent or
 * malformed. */
gboolean vg_preprocess_from_file (VgPreprocess *pre, const char *model_path, GError **error);

/* Open a model file: its configuration from the metadata ("visage.config" on top of the
 * named "visage.config_name"), its weights and its preprocessing. The model is ready for
 * vg_predict_image (evaluation mode). Errors name the file: not a safetensors file,
 * truncated, no visage metadata, or tensors that do not fit the stated configuration. */
VgModel *vg_model_open (const char *path, const VgBackend *be, VgPreprocess *pre,
                        GError **error);

/* Weights as safetensors with the state_dict names (loadable by the PyTorch module of
 * tests/reference/segformer_ref.py). metadata: NULL-terminated key, value pairs. */
gboolean vg_model_save (VgModel *model, const char *path, const char *const *metadata,
                        GError **error);
/* Load weights saved by vg_model_save or by PyTorch; every tensor is checked against the
 * model's names and shapes (vg_model_check_file), and every value must be finite (a NaN or
 * an infinity is an error naming the tensor). On failure the model's weights are
 * unchanged. */
gboolean vg_model_load (VgModel *model, const char *path, GError **error);
/* The same from a file already open; path names it in messages. */
gboolean vg_model_load_from (VgModel *model, const VgSafetensors *st, const char *path,
                             GError **error);

/* Check a model file against configuration cfg before any model is allocated, so that
 * metadata describing a far larger model than the file holds fails at once instead of
 * allocating for it: every tensor of the configuration must be present with its shape and
 * a floating-point dtype, and every tensor of the file must belong to the configuration
 * (an unused one is named), except a training checkpoint's state (optim.*, pipeline.*). */
gboolean vg_model_check_file (const VgConfig *cfg, const VgSafetensors *st,
                              const char *path, GError **error);
