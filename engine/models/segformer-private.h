/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The SegFormer's state, shared by its files (nothing else includes this):
 *
 *   segformer.c           the parameter table, the binding of the weight views,
 *                         initialisation and the activation plan
 *   segformer-passes.c    the forward and backward passes
 *   segformer-describe.c  the layer table: parameters and multiply-accumulates per layer
 *
 * Shape letters: B batch, H, W input size, Hs, Ws and N = Hs*Ws tokens of a stage, C its
 * width, hC = mlp_ratio * C, M tokens after spatial reduction R, NH heads, D decoder
 * width, NC classes, N0 tokens of stage 0 (H/4 x W/4). */
#pragma once

#include "vg-model-private.h"

/* ---- weights ------------------------------------------------------------------------- */

typedef struct {
  VgWB norm1, q, kv, sr, sr_norm, proj, norm2, fc1, dwconv, fc2;
} VgBlockW;

typedef struct {
  VgWB patch_proj, patch_norm, norm;
  VgBlockW *blocks; /* depths[s] */
} VgStageW;

typedef struct {
  VgStageW stages[VG_STAGES];
  VgWB linear_c[VG_STAGES];
  VgBatchNormW linear_c_bn[VG_STAGES];
  VgWB fuse;
  VgBatchNormW fuse_bn;
  VgWB classifier;
  VgWB head; /* transposed conv head (VG_HEAD_TCONV only) */
} VgWeights;

/* ---- activations --------------------------------------------------------------------- */

typedef struct {
  const float *inp;                 /* (B, N, C) block input, owned by the previous layer */
  float *ln1, *ln1_mean, *ln1_rstd; /* (B, N, C), (B*N), (B*N) */
  float *q;                         /* (B, N, C) */
  float *sr;                        /* (B, M, C) when R > 1 */
  float *srn, *srn_mean, *srn_rstd; /* (B, M, C), (B*M), (B*M) when R > 1 */
  float *k, *v;                     /* (B, M, C) */
  float *att;                       /* (B, N, C) */
  float *lse;                       /* (B, NH, N) */
  float *x1;                        /* (B, N, C) inp + proj(att) */
  float *ln2, *ln2_mean, *ln2_rstd; /* (B, N, C), (B*N), (B*N) */
  float *fc1;                       /* (B, N, hC) */
  float *dw;                        /* (B, N, hC) */
  float *gelu;                      /* (B, N, hC) */
  float *out;                       /* (B, N, C) x1 + fc2(gelu) */
} VgBlockActs;

typedef struct {
  float *patch;                           /* (B, N, C) patch embedding conv */
  float *patch_ln, *patch_mean, *patch_rstd; /* (B, N, C), (B*N), (B*N) */
  VgBlockActs *blocks;                    /* depths[s] */
  float *out, *out_mean, *out_rstd;       /* (B, N, C) stage output after its LayerNorm */
  float *dout;                            /* (B, N, C) gradient of out (training) */
} VgStageActs;

typedef struct {
  VgStageActs stages[VG_STAGES];
  float *lc_conv[VG_STAGES];                 /* (B, N_s, D) */
  float *lc_mean[VG_STAGES], *lc_rstd[VG_STAGES]; /* (D) batch statistics */
  float *lc_act[VG_STAGES];                  /* (B, N_s, D) BatchNorm + ReLU */
  float *fuse_part;                          /* (B, N1, D) a stage's share of the fuse */
  float *fuse_up;                            /* (B, N0, D) that share at 1/4 scale */
  float *fuse_w;                             /* (4, D, D) the fuse weight's column blocks */
  float *fuse_gw;                            /* (4, D, D) their gradients */
  float *fuse_gpack;                         /* (D, 4D) those packed as the weight */
  float *fuse_conv, *fuse_mean, *fuse_rstd;  /* (B, N0, D), (D), (D) */
  float *fuse_act;                           /* (B, N0, D) */
  float *cls;                                /* (B, N0, NC) */
  float *logits;                             /* (B, H, W, NC) */
  float *tmp[5];                             /* gradient temporaries, max activation size */
  float *stream[2];                          /* (B, N, C) block gradients, ping-pong */
  float *scratch;                            /* conv / attention scratch */
} VgActs;

typedef struct {
  int H, W; /* spatial size of the stage */
} VgStageSize;

typedef struct {
  VgWeights w, g;                /* views into the model's params / grads */
  VgActs a;                      /* views into its activation block */
  VgStageSize sizes[VG_STAGES];  /* of the reserved input */
} VgSegformer;

static inline VgSegformer *
segformer_of (const VgModel *m)
{
  return m->arch_state;
}

void vg_segformer_forward (VgModel *m, const float *images, int B, gboolean training);
void vg_segformer_backward (VgModel *m, int B);
int vg_segformer_describe (const VgConfig *cfg, int H, int W, VgLayerInfo *rows, int max);

/* ---- sizes ----------------------------------------------------------------------------- */

/* The spatial size of each stage for an H x W input: the patch embeddings are 7x7/4 pad 3,
 * then 3x3/2 pad 1. */
static inline void
model_stage_sizes (int H, int W, VgStageSize sizes[VG_STAGES])
{
  for (int s = 0; s < VG_STAGES; s++)
    {
      int k = s == 0 ? 7 : 3, st = s == 0 ? 4 : 2, p = s == 0 ? 3 : 1;
      H = vg_conv_out_size (H, k, st, p);
      W = vg_conv_out_size (W, k, st, p);
      sizes[s].H = H;
      sizes[s].W = W;
    }
}

/* One side of the keys after spatial reduction R (an R x R convolution of stride R). */
static inline int
model_reduced (int size, int R)
{
  return R > 1 ? vg_conv_out_size (size, R, R, 0) : size;
}
