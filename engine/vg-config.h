/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SegFormer configurations and the parameter table they imply.
 *
 * The parameter table lists every tensor of the model in the order and with the names
 * and shapes of the PyTorch module in tests/reference/segformer_ref.py, so a safetensors
 * file written by the engine loads there with load_state_dict (and vice versa). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define VG_STAGES 4
#define VG_PARAM_NAME_MAX 96

typedef enum {
  VG_HEAD_BILINEAR = 0, /* logits bilinear x4 to the input size */
  VG_HEAD_TCONV,        /* 4x4 stride-4 transposed convolution (19 -> 19 channels) */
} VgHeadType;

typedef struct {
  char name[32];
  int in_channels;        /* 3 */
  int num_classes;        /* 19 */
  int widths[VG_STAGES];  /* C of each stage */
  int depths[VG_STAGES];  /* transformer blocks per stage */
  int heads[VG_STAGES];   /* attention heads per stage (divide widths) */
  int ratios[VG_STAGES];  /* spatial reduction ratio R in {1, 2, 4, 8}; 1 = global */
  int mlp_ratio;          /* Mix-FFN hidden = mlp_ratio * C */
  int decoder_dim;        /* D */
  VgHeadType head;
  float ln_eps;           /* 1e-5 */
  float bn_eps;           /* 1e-5 */
  float bn_momentum;      /* 0.1 */
} VgConfig;

typedef enum {
  VG_DTYPE_F32 = 0,
  VG_DTYPE_F16,
  VG_DTYPE_BF16,
  VG_DTYPE_I64,
  VG_DTYPE_U8,
} VgDType;

typedef enum {
  VG_TENSOR_PARAM = 0,  /* trainable parameter (F32) */
  VG_TENSOR_BUFFER,     /* BatchNorm running_mean / running_var (F32), not trained */
  VG_TENSOR_COUNTER,    /* BatchNorm num_batches_tracked (I64 scalar), not trained */
} VgTensorKind;

typedef struct {
  char name[VG_PARAM_NAME_MAX];  /* e.g. "encoder.stages.0.blocks.0.attn.q.weight" */
  VgTensorKind kind;
  int ndim;                      /* 0 for the I64 counter */
  int shape[4];
  size_t numel;
} VgParamSpec;

/* Names of the shipped configurations, NULL-terminated: "visage-s" (default), "seed". */
const char *const *vg_config_names (void);

/* Fill cfg with a named configuration. FALSE with an error naming the choices if unknown. */
gboolean vg_config_from_name (VgConfig *cfg, const char *name, GError **error);

/* Parse a custom configuration such as
 * "widths=16,32,128,192 depths=1,2,2,2 heads=2,2,2,8 ratios=8,4,2,1 mlp=4 dim=256 head=bilinear"
 * on top of the given base (keys omitted keep the base's values). */
gboolean vg_config_parse (VgConfig *cfg, const char *spec, GError **error);

/* Check divisibility, ranges and R in {1, 2, 4, 8}; the error says which field is wrong. */
gboolean vg_config_validate (const VgConfig *cfg, GError **error);

/* Write the configuration as the one-line spec vg_config_parse() reads. */
char *vg_config_to_string (const VgConfig *cfg);

/* The model's tensors in state_dict order. Returns the count; writes at most max_specs
 * entries (call with specs NULL to get the count). */
int vg_config_param_specs (const VgConfig *cfg, VgParamSpec *specs, int max_specs);

/* Trainable parameter count (kind VG_TENSOR_PARAM only). seed: 1,981,478. */
size_t vg_config_count_params (const VgConfig *cfg);

#define VG_CONFIG_ERROR (vg_config_error_quark ())
GQuark vg_config_error_quark (void);
