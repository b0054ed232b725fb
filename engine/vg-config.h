/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Model configurations (the architecture and its sizes) and the parameter table they
 * imply. An architecture is a SegFormer (the default: the fields below) or one of the
 * report's three convolutional baselines, whose layers are fixed (only in_channels,
 * num_classes and the BatchNorm settings apply).
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

typedef enum {
  VG_ARCH_SEGFORMER = 0,  /* the configurations' spec keys below */
  VG_ARCH_UNET,           /* the report's U-Net (SmallerUNet) */
  VG_ARCH_DEEPLABV3PLUS,  /* the report's DeepLabV3+ (LargerDeepLabV3Plus) */
  VG_ARCH_FASTSCNN,       /* the report's Fast-SCNN */
  VG_N_ARCHS
} VgArchitecture;

typedef struct {
  char name[32];
  VgArchitecture arch;
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

/* Names of the shipped configurations, NULL-terminated: "visage-s" (default), "seed",
 * "unet", "deeplabv3plus", "fastscnn". */
const char *const *vg_config_names (void);

/* Fill cfg with a named configuration. FALSE with an error naming the choices if unknown. */
gboolean vg_config_from_name (VgConfig *cfg, const char *name, GError **error);

/* Parse a custom configuration such as
 * "widths=16,32,128,192 depths=1,2,2,2 heads=2,2,2,8 ratios=8,4,2,1 mlp=4 dim=256 head=bilinear"
 * on top of the given base (keys omitted keep the base's values); "arch=unet" (or
 * deeplabv3plus, fastscnn, segformer) picks the architecture, and the SegFormer's keys are
 * refused for the others. */
gboolean vg_config_parse (VgConfig *cfg, const char *spec, GError **error);

/* Check divisibility, ranges and R in {1, 2, 4, 8}; the error says which field is wrong. */
gboolean vg_config_validate (const VgConfig *cfg, GError **error);

/* Write the configuration as the one-line spec vg_config_parse() reads ("arch=NAME" for
 * the convolutional baselines; a SegFormer's spec has no arch key, as before them). */
char *vg_config_to_string (const VgConfig *cfg);

/* The model's tensors in state_dict order. Returns the count; writes at most max_specs
 * entries (call with specs NULL to get the count). */
int vg_config_param_specs (const VgConfig *cfg, VgParamSpec *specs, int max_specs);

/* The architecture's name in specs ("segformer", "unet", "deeplabv3plus", "fastscnn"). */
const char *vg_config_arch_name (VgArchitecture arch);
/* Trainable parameter count (kind VG_TENSOR_PARAM only). seed: 1,981,478; unet 1,941,411;
 * deeplabv3plus 1,964,394; fastscnn 1,154,435. */
size_t vg_config_count_params (const VgConfig *cfg);

#define VG_CONFIG_ERROR (vg_config_error_quark ())
GQuark vg_config_error_quark (void);
