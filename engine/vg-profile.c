/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The per-op profile of the benchmarks (visage-cli bench --profile, tests/cuda/
 * bench-cuda-step): a backend table whose op entries time the inner backend's and record,
 * per op and shape, the calls, seconds and FLOPs (matrix products and convolutions; 0 for
 * the ops whose FLOPs the convention does not count). */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg-conv-shape.h"
#include "vg-profile.h"

typedef struct {
  char key[112];   /* op and shape */
  char op[32];
  double seconds;
  double flops;    /* 0 for ops whose FLOPs are not counted */
  long calls;
} ProfEntry;

static const VgBackend *prof_inner;
static VgBackend prof_backend;
static char prof_name[64];
static GHashTable *prof_table;  /* key -> ProfEntry* */
static gboolean prof_recording;
static gboolean prof_synchronize;

static void prof_add (const char *op, double t0, double flops, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);

/* Seconds now; a device backend is synchronised first, so that its queued ops count. */
static double
now_s (void)
{
  if (prof_synchronize && prof_inner->synchronize != NULL)
    prof_inner->synchronize ();
  return g_get_monotonic_time () / 1e6;
}

static void
prof_add (const char *op, double t0, double flops, const char *fmt, ...)
{
  double dt = now_s () - t0;
  char key[112];
  ProfEntry *e;
  va_list ap;
  int n;

  if (!prof_recording)
    return;
  n = snprintf (key, sizeof key, "%s ", op);
  va_start (ap, fmt);
  vsnprintf (key + n, sizeof key - n, fmt, ap);
  va_end (ap);
  e = g_hash_table_lookup (prof_table, key);
  if (e == NULL)
    {
      e = g_new0 (ProfEntry, 1);
      g_strlcpy (e->key, key, sizeof e->key);
      g_strlcpy (e->op, op, sizeof e->op);
      g_hash_table_insert (prof_table, e->key, e);
    }
  e->seconds += dt;
  e->flops += flops;
  e->calls++;
}

/* Times one call of the inner backend and adds it to the row named by op and the shape's
 * format: PROF (inner call, op, FLOPs, format, shape...). */
#define PROF(call, op, flops, ...)              \
  do                                            \
    {                                           \
      double t0_ = now_s ();                    \
      call;                                     \
      prof_add (op, t0_, flops, __VA_ARGS__);   \
    }                                           \
  while (0)

static void
p_linear_forward (float *out, const float *inp, const float *weight, const float *bias, int Nr,
                  int Cin, int Cout)
{
  PROF (prof_inner->linear_forward (out, inp, weight, bias, Nr, Cin, Cout),
        "linear_fwd", 2.0 * Nr * Cin * Cout, "%dx%d->%d", Nr, Cin, Cout);
}

static void
p_linear_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                   const float *inp, const float *weight, int Nr, int Cin, int Cout)
{
  PROF (prof_inner->linear_backward (dinp, dweight, dbias, dout, inp, weight, Nr, Cin, Cout),
        "linear_bwd", (dinp != NULL ? 4.0 : 2.0) * Nr * Cin * Cout, "%dx%d->%d", Nr, Cin, Cout);
}

static double
conv_flops (int B, int H, int W, int Cin, int Cout, int K, int S, int P, int G)
{
  double Ho = vg_conv_out_size (H, K, S, P), Wo = vg_conv_out_size (W, K, S, P);
  return 2.0 * B * Ho * Wo * Cout * (Cin / G) * K * K;
}

static void
p_conv2d_forward (float *out, const float *inp, const float *weight, const float *bias,
                  float *scratch, int B, int H, int W, int Cin, int Cout, int K, int S, int P,
                  int G)
{
  PROF (
      prof_inner->conv2d_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, S, P, G),
      G > 1 ? "dwconv_fwd" : "conv2d_fwd", conv_flops (B, H, W, Cin, Cout, K, S, P, G),
      "B%d %dx%d %d->%d k%ds%d g%d", B, H, W, Cin, Cout, K, S, G);
}

static void
p_conv2d_forward_fast (float *out, const float *inp, const float *weight, const float *bias,
                        float *scratch, int B, int H, int W, int Cin, int Cout, int K, int S,
                        int P, int G, int relu)
{
  PROF (prof_inner->conv2d_forward_fast (out, inp, weight, bias, scratch, B, H, W, Cin, Cout,
                                          K, S, P, G, relu),
        G > 1 ? "dwconv_fwd" : "conv2d_fwd", conv_flops (B, H, W, Cin, Cout, K, S, P, G),
        "B%d %dx%d %d->%d k%ds%d g%d%s", B, H, W, Cin, Cout, K, S, G, relu ? " +relu" : "");
}

static void
p_conv2d_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                   const float *inp, const float *weight, float *scratch, int B, int H, int W,
                   int Cin, int Cout, int K, int S, int P, int G)
{
  PROF (prof_inner->conv2d_backward (dinp, dweight, dbias, dout, inp, weight, scratch, B, H, W, Cin,
                                     Cout, K, S, P, G),
        G > 1 ? "dwconv_bwd" : "conv2d_bwd",
        (dinp != NULL ? 2 : 1) * conv_flops (B, H, W, Cin, Cout, K, S, P, G),
        "B%d %dx%d %d->%d k%ds%d g%d", B, H, W, Cin, Cout, K, S, G);
}

static void
p_conv_transpose_forward (float *out, const float *inp, const float *weight, const float *bias,
                          float *scratch, int B, int H, int W, int Cin, int Cout, int K)
{
  PROF (prof_inner->conv_transpose_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K),
        "tconv_fwd", 2.0 * B * H * W * Cin * Cout * K * K, "B%d %dx%d %d->%d k%d", B, H, W, Cin,
        Cout, K);
}

static void
p_conv_transpose_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, float *scratch, int B, int H,
                           int W, int Cin, int Cout, int K)
{
  PROF (prof_inner->conv_transpose_backward (dinp, dweight, dbias, dout, inp, weight, scratch, B, H,
                                             W, Cin, Cout, K),
        "tconv_bwd", 4.0 * B * H * W * Cin * Cout * K * K, "B%d %dx%d %d->%d k%d", B, H, W, Cin,
        Cout, K);
}

static void
p_layernorm_forward (float *out, float *mean, float *rstd, const float *inp, const float *weight,
                     const float *bias, float eps, int Nr, int C)
{
  PROF (prof_inner->layernorm_forward (out, mean, rstd, inp, weight, bias, eps, Nr, C),
        "layernorm_fwd", 0, "%dx%d", Nr, C);
}

static void
p_layernorm_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                      const float *inp, const float *weight, const float *mean,
                      const float *rstd, int Nr, int C)
{
  PROF (prof_inner->layernorm_backward (dinp, dweight, dbias, dout, inp, weight, mean, rstd, Nr, C),
        "layernorm_bwd", 0, "%dx%d", Nr, C);
}

static void
p_batchnorm_forward_train (float *out, float *mean, float *rstd, float *running_mean,
                           float *running_var, const float *inp, const float *weight,
                           const float *bias, float eps, float momentum, int Nr, int C)
{
  PROF (prof_inner->batchnorm_forward_train (out, mean, rstd, running_mean, running_var, inp,
                                             weight, bias, eps, momentum, Nr, C),
        "batchnorm_fwd", 0, "%dx%d", Nr, C);
}

static void
p_batchnorm_fold (float *fweight, float *fbias, const float *weight, const float *bias,
                  const float *bn_weight, const float *bn_bias, const float *running_mean,
                  const float *running_var, float eps, int Cout, size_t per)
{
  PROF (prof_inner->batchnorm_fold (fweight, fbias, weight, bias, bn_weight, bn_bias, running_mean,
                                    running_var, eps, Cout, per),
        "batchnorm_fold", 0, "%dx%zu", Cout, per);
}

static void
p_batchnorm_forward_eval (float *out, const float *inp, const float *weight, const float *bias,
                          const float *running_mean, const float *running_var, float eps,
                          int Nr, int C)
{
  PROF (prof_inner->batchnorm_forward_eval (out, inp, weight, bias, running_mean, running_var, eps,
                                            Nr, C),
        "batchnorm_eval", 0, "%dx%d", Nr, C);
}

static void
p_batchnorm_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                      const float *inp, const float *weight, const float *mean,
                      const float *rstd, int Nr, int C)
{
  PROF (prof_inner->batchnorm_backward (dinp, dweight, dbias, dout, inp, weight, mean, rstd, Nr, C),
        "batchnorm_bwd", 0, "%dx%d", Nr, C);
}

static void
p_gelu_forward (float *out, const float *inp, size_t n)
{
  PROF (prof_inner->gelu_forward (out, inp, n),
        "gelu_fwd", 0, "%zu", n);
}

static void
p_gelu_backward (float *dinp, const float *dout, const float *inp, size_t n)
{
  PROF (prof_inner->gelu_backward (dinp, dout, inp, n),
        "gelu_bwd", 0, "%zu", n);
}

static void
p_relu_forward (float *out, const float *inp, size_t n)
{
  PROF (prof_inner->relu_forward (out, inp, n),
        "relu_fwd", 0, "%zu", n);
}

static void
p_relu_backward (float *dinp, const float *dout, const float *out, size_t n)
{
  PROF (prof_inner->relu_backward (dinp, dout, out, n),
        "relu_bwd", 0, "%zu", n);
}

static void
p_resize_bilinear_forward (float *out, const float *inp, int B, int H, int W, int Ho, int Wo,
                           int C)
{
  PROF (prof_inner->resize_bilinear_forward (out, inp, B, H, W, Ho, Wo, C),
        "resize_fwd", 0, "B%d %dx%d->%dx%d C%d", B, H, W, Ho, Wo, C);
}

static void
p_resize_bilinear_backward (float *dinp, const float *dout, int B, int H, int W, int Ho, int Wo,
                            int C)
{
  PROF (prof_inner->resize_bilinear_backward (dinp, dout, B, H, W, Ho, Wo, C),
        "resize_bwd", 0, "B%d %dx%d->%dx%d C%d", B, H, W, Ho, Wo, C);
}

static void
p_concat_forward (float *out, const float *const *parts, const int *Cs, int n_parts, int Nr)
{
  PROF (prof_inner->concat_forward (out, parts, Cs, n_parts, Nr),
        "concat_fwd", 0, "%dx%d", Nr, n_parts);
}

static void
p_concat_backward (float *const *dparts, const float *dout, const int *Cs, int n_parts, int Nr)
{
  PROF (prof_inner->concat_backward (dparts, dout, Cs, n_parts, Nr),
        "concat_bwd", 0, "%dx%d", Nr, n_parts);
}

static float
p_cross_entropy_forward (const float *logits, const uint8_t *targets, const float *weights,
                         int ignore_index, int Nr, int NC)
{
  float loss;
  PROF (loss = prof_inner->cross_entropy_forward (logits, targets, weights, ignore_index, Nr, NC),
        "xent_fwd", 0, "%dx%d", Nr, NC);
  return loss;
}

static void
p_cross_entropy_backward (float *dlogits, const float *logits, const uint8_t *targets,
                          const float *weights, int ignore_index, float dloss, int Nr, int NC)
{
  PROF (prof_inner->cross_entropy_backward (dlogits, logits, targets, weights, ignore_index, dloss,
                                            Nr, NC),
        "xent_bwd", 0, "%dx%d", Nr, NC);
}

static float
p_cross_entropy_forward_backward (float *dlogits, const float *logits, const uint8_t *targets,
                                  const float *weights, int ignore_index, float dloss, int Nr,
                                  int NC)
{
  float loss;
  PROF (loss = prof_inner->cross_entropy_forward_backward (dlogits, logits, targets, weights,
                                                           ignore_index, dloss, Nr, NC),
        "xent_fwdbwd", 0, "%dx%d", Nr, NC);
  return loss;
}

static void
p_resize_bilinear_ac_forward (float *out, const float *inp, int B, int H, int W, int Ho,
                              int Wo, int C)
{
  PROF (prof_inner->resize_bilinear_ac_forward (out, inp, B, H, W, Ho, Wo, C),
        "resize_ac_fwd", 0, "B%d %dx%d->%dx%d C%d", B, H, W, Ho, Wo, C);
}

static void
p_resize_bilinear_ac_backward (float *dinp, const float *dout, int B, int H, int W, int Ho,
                               int Wo, int C)
{
  PROF (prof_inner->resize_bilinear_ac_backward (dinp, dout, B, H, W, Ho, Wo, C),
        "resize_ac_bwd", 0, "B%d %dx%d->%dx%d C%d", B, H, W, Ho, Wo, C);
}

static void
p_conv2d_dilated_forward (float *out, const float *inp, const float *weight, const float *bias,
                          float *scratch, int B, int H, int W, int Cin, int Cout, int K, int S,
                          int P, int Dl)
{
  int Ho = vg_conv_out_size_dilated (H, K, S, P, Dl);
  int Wo = vg_conv_out_size_dilated (W, K, S, P, Dl);
  PROF (prof_inner->conv2d_dilated_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K,
                                            S, P, Dl),
        "conv2d_dilated_fwd", 2.0 * B * Ho * Wo * Cout * Cin * K * K, "B%d %dx%d %d->%d k%d d%d", B,
        H, W, Cin, Cout, K, Dl);
}

static void
p_conv2d_dilated_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, float *scratch, int B, int H,
                           int W, int Cin, int Cout, int K, int S, int P, int Dl)
{
  int Ho = vg_conv_out_size_dilated (H, K, S, P, Dl);
  int Wo = vg_conv_out_size_dilated (W, K, S, P, Dl);
  PROF (prof_inner->conv2d_dilated_backward (dinp, dweight, dbias, dout, inp, weight, scratch, B, H,
                                             W, Cin, Cout, K, S, P, Dl),
        "conv2d_dilated_bwd", (dinp != NULL ? 4.0 : 2.0) * B * Ho * Wo * Cout * Cin * K * K,
        "B%d %dx%d %d->%d k%d d%d", B, H, W, Cin, Cout, K, Dl);
}

static void
p_maxpool2d_forward (float *out, const float *inp, int B, int H, int W, int C, int K, int S)
{
  PROF (prof_inner->maxpool2d_forward (out, inp, B, H, W, C, K, S),
        "maxpool_fwd", 0, "B%d %dx%d C%d k%ds%d", B, H, W, C, K, S);
}

static void
p_maxpool2d_backward (float *dinp, const float *dout, const float *inp, const float *out, int B,
                      int H, int W, int C, int K, int S)
{
  PROF (prof_inner->maxpool2d_backward (dinp, dout, inp, out, B, H, W, C, K, S),
        "maxpool_bwd", 0, "B%d %dx%d C%d k%ds%d", B, H, W, C, K, S);
}

static void
p_adaptive_avgpool_forward (float *out, const float *inp, int B, int H, int W, int C, int Ho,
                            int Wo)
{
  PROF (prof_inner->adaptive_avgpool_forward (out, inp, B, H, W, C, Ho, Wo),
        "avgpool_fwd", 0, "B%d %dx%d->%dx%d C%d", B, H, W, Ho, Wo, C);
}

static void
p_adaptive_avgpool_backward (float *dinp, const float *dout, int B, int H, int W, int C, int Ho,
                             int Wo)
{
  PROF (prof_inner->adaptive_avgpool_backward (dinp, dout, B, H, W, C, Ho, Wo),
        "avgpool_bwd", 0, "B%d %dx%d->%dx%d C%d", B, H, W, Ho, Wo, C);
}

static void
p_dropout_forward (float *out, const float *inp, size_t n, float p, uint64_t seed)
{
  PROF (prof_inner->dropout_forward (out, inp, n, p, seed),
        "dropout_fwd", 0, "%zu", n);
}

static void
p_dropout_backward (float *dinp, const float *dout, size_t n, float p, uint64_t seed)
{
  PROF (prof_inner->dropout_backward (dinp, dout, n, p, seed),
        "dropout_bwd", 0, "%zu", n);
}

static float
p_cross_entropy_dice_forward (const float *logits, const uint8_t *targets, const float *weights,
                              int ignore_index, int Nr, int NC)
{
  float loss;
  PROF (loss
        = prof_inner->cross_entropy_dice_forward (logits, targets, weights, ignore_index, Nr, NC),
        "xent_dice_fwd", 0, "%dx%d", Nr, NC);
  return loss;
}

static void
p_cross_entropy_dice_backward (float *dlogits, const float *logits, const uint8_t *targets,
                               const float *weights, int ignore_index, float dloss, int Nr,
                               int NC)
{
  PROF (prof_inner->cross_entropy_dice_backward (dlogits, logits, targets, weights, ignore_index,
                                                 dloss, Nr, NC),
        "xent_dice_bwd", 0, "%dx%d", Nr, NC);
}

static float
p_cross_entropy_dice_present_forward (const float *logits, const uint8_t *targets,
                                      const float *weights, int ignore_index, int Nr, int NC)
{
  float loss;
  PROF (loss = prof_inner->cross_entropy_dice_present_forward (logits, targets, weights,
                                                               ignore_index, Nr, NC),
        "xent_dice_present_fwd", 0, "%dx%d", Nr, NC);
  return loss;
}

static void
p_cross_entropy_dice_present_backward (float *dlogits, const float *logits,
                                       const uint8_t *targets, const float *weights,
                                       int ignore_index, float dloss, int Nr, int NC)
{
  PROF (prof_inner->cross_entropy_dice_present_backward (dlogits, logits, targets, weights,
                                                         ignore_index, dloss, Nr, NC),
        "xent_dice_present_bwd", 0, "%dx%d", Nr, NC);
}

static float
p_cross_entropy_lovasz_forward (const float *logits, const uint8_t *targets,
                                const float *weights, int ignore_index, int Nr, int NC)
{
  float loss;
  PROF (loss = prof_inner->cross_entropy_lovasz_forward (logits, targets, weights,
                                                         ignore_index, Nr, NC),
        "xent_lovasz_fwd", 0, "%dx%d", Nr, NC);
  return loss;
}

static void
p_cross_entropy_lovasz_backward (float *dlogits, const float *logits, const uint8_t *targets,
                                 const float *weights, int ignore_index, float dloss, int Nr,
                                 int NC)
{
  PROF (prof_inner->cross_entropy_lovasz_backward (dlogits, logits, targets, weights,
                                                   ignore_index, dloss, Nr, NC),
        "xent_lovasz_bwd", 0, "%dx%d", Nr, NC);
}

static void
p_sgd_step (float *param, const float *grad, float *momentum_buf, size_t n, float lr,
            float momentum, float weight_decay, int first_step)
{
  PROF (prof_inner->sgd_step (param, grad, momentum_buf, n, lr, momentum, weight_decay, first_step),
        "sgd_step", 0, "%zu", n);
}

static void
p_ema_update (float *avg, const float *x, size_t n, float decay)
{
  PROF (prof_inner->ema_update (avg, x, n, decay),
        "ema_update", 0, "%zu", n);
}

static void
p_attention_forward (float *out, float *lse, const float *q, const float *k, const float *v,
                     float *scratch, int B, int N, int M, int C, int NH)
{
  /* QK^T and PV: 2 products of N x M x C per image */
  PROF (prof_inner->attention_forward (out, lse, q, k, v, scratch, B, N, M, C, NH),
        "attention_fwd", 4.0 * B * N * M * C, "B%d N%d M%d C%d NH%d", B, N, M, C, NH);
}

static void
p_attention_backward (float *dq, float *dk, float *dv, const float *dout, const float *out,
                      const float *lse, const float *q, const float *k, const float *v,
                      float *scratch, int B, int N, int M, int C, int NH)
{
  /* the standard count: twice the forward's products (recomputing P is not counted) */
  PROF (prof_inner->attention_backward (dq, dk, dv, dout, out, lse, q, k, v, scratch, B, N, M, C,
                                        NH),
        "attention_bwd", 8.0 * B * N * M * C, "B%d N%d M%d C%d NH%d", B, N, M, C, NH);
}

static void
p_add_inplace (float *acc, const float *x, size_t n)
{
  PROF (prof_inner->add_inplace (acc, x, n),
        "add_inplace", 0, "%zu", n);
}

static void
p_adam_step (float *param, const float *grad, float *m, float *v, size_t n, float lr,
             float beta1, float beta2, float eps, float weight_decay, int t, int decoupled)
{
  PROF (prof_inner->adam_step (param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, t,
                               decoupled),
        "adam_step", 0, "%zu", n);
}

static void
p_zero (void *ptr, size_t bytes)
{
  PROF (prof_inner->zero (ptr, bytes),
        "zero", 0, "%zu bytes", bytes);
}

const VgBackend *
vg_profile_backend (const VgBackend *inner, gboolean synchronize)
{
  g_autofree char *name = g_strdup_printf ("%s (profiled)", inner->name);

  prof_inner = inner;
  prof_synchronize = synchronize;
  prof_backend = *inner;
  g_strlcpy (prof_name, name, sizeof prof_name);
  prof_backend.name = prof_name;
  prof_backend.zero = p_zero;
  prof_backend.linear_forward = p_linear_forward;
  prof_backend.linear_backward = p_linear_backward;
  prof_backend.conv2d_forward = p_conv2d_forward;
  prof_backend.conv2d_backward = p_conv2d_backward;
  prof_backend.conv_transpose_forward = p_conv_transpose_forward;
  prof_backend.conv_transpose_backward = p_conv_transpose_backward;
  prof_backend.layernorm_forward = p_layernorm_forward;
  prof_backend.layernorm_backward = p_layernorm_backward;
  prof_backend.batchnorm_forward_train = p_batchnorm_forward_train;
  prof_backend.batchnorm_forward_eval = p_batchnorm_forward_eval;
  prof_backend.batchnorm_fold = p_batchnorm_fold;
  prof_backend.batchnorm_backward = p_batchnorm_backward;
  prof_backend.gelu_forward = p_gelu_forward;
  prof_backend.gelu_backward = p_gelu_backward;
  prof_backend.relu_forward = p_relu_forward;
  prof_backend.relu_backward = p_relu_backward;
  prof_backend.resize_bilinear_forward = p_resize_bilinear_forward;
  prof_backend.resize_bilinear_backward = p_resize_bilinear_backward;
  prof_backend.concat_forward = p_concat_forward;
  prof_backend.concat_backward = p_concat_backward;
  prof_backend.cross_entropy_forward = p_cross_entropy_forward;
  prof_backend.cross_entropy_backward = p_cross_entropy_backward;
  prof_backend.attention_forward = p_attention_forward;
  prof_backend.attention_backward = p_attention_backward;
  prof_backend.add_inplace = p_add_inplace;
  prof_backend.adam_step = p_adam_step;
  /* the baselines' layers, the Dice losses and the other optimiser steps, where the inner
   * backend has them */
#define WRAP(op)                      \
  if (inner->op != NULL)              \
    prof_backend.op = p_##op;
  WRAP (resize_bilinear_ac_forward) WRAP (resize_bilinear_ac_backward)
  WRAP (conv2d_forward_fast)
  WRAP (conv2d_dilated_forward) WRAP (conv2d_dilated_backward)
  WRAP (maxpool2d_forward) WRAP (maxpool2d_backward)
  WRAP (adaptive_avgpool_forward) WRAP (adaptive_avgpool_backward)
  WRAP (dropout_forward) WRAP (dropout_backward)
  WRAP (cross_entropy_dice_forward) WRAP (cross_entropy_dice_backward)
  WRAP (cross_entropy_dice_present_forward) WRAP (cross_entropy_dice_present_backward)
  WRAP (cross_entropy_lovasz_forward) WRAP (cross_entropy_lovasz_backward)
  WRAP (cross_entropy_forward_backward)
  WRAP (sgd_step) WRAP (ema_update)
#undef WRAP
  if (prof_table == NULL)
    prof_table = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  return &prof_backend;
}

static int
compare_entry_time (const void *a, const void *b)
{
  const ProfEntry *x = *(ProfEntry *const *) a, *y = *(ProfEntry *const *) b;
  return (x->seconds < y->seconds) - (x->seconds > y->seconds);
}

void
vg_profile_set_recording (gboolean recording)
{
  prof_recording = recording;
}

double
vg_profile_recorded_flops (const char *op, long *calls)
{
  GHashTableIter iter;
  gpointer value;
  double flops = 0;

  if (calls != NULL)
    *calls = 0;
  if (prof_table == NULL)
    return 0;
  g_hash_table_iter_init (&iter, prof_table);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const ProfEntry *e = value;
      if (strcmp (e->op, op) != 0)
        continue;
      flops += e->flops;
      if (calls != NULL)
        *calls += e->calls;
    }
  return flops;
}

void
vg_profile_report (FILE *out, const char *title, int n_steps, double total_s)
{
  g_autoptr (GPtrArray) entries = g_ptr_array_new ();
  g_autoptr (GPtrArray) by_op = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer value;
  double op_total = 0;

  g_hash_table_iter_init (&iter, prof_table);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      ProfEntry *e = value, *agg = NULL;
      g_ptr_array_add (entries, e);
      op_total += e->seconds;
      for (guint i = 0; i < by_op->len && agg == NULL; i++)
        if (strcmp (((ProfEntry *) by_op->pdata[i])->op, e->op) == 0)
          agg = by_op->pdata[i];
      if (agg == NULL)
        {
          agg = g_new0 (ProfEntry, 1);
          g_strlcpy (agg->op, e->op, sizeof agg->op);
          g_strlcpy (agg->key, e->op, sizeof agg->key);
          g_ptr_array_add (by_op, agg);
        }
      agg->seconds += e->seconds;
      agg->flops += e->flops;
      agg->calls += e->calls;
    }
  qsort (entries->pdata, entries->len, sizeof (gpointer), compare_entry_time);
  qsort (by_op->pdata, by_op->len, sizeof (gpointer), compare_entry_time);

  fprintf (out, "\nprofile: %s, %d step%s, %.1f ms per step (ops %.1f ms, rest %.1f ms)\n", title,
          n_steps, n_steps == 1 ? "" : "s", 1e3 * total_s / n_steps, 1e3 * op_total / n_steps,
          1e3 * (total_s - op_total) / n_steps);
  for (int pass = 0; pass < 2; pass++)
    {
      GPtrArray *rows = pass == 0 ? by_op : entries;
      guint limit = pass == 0 ? rows->len : MIN (rows->len, 30u);
      fprintf (out, "\n  %-52s %10s %6s %8s %9s\n", pass == 0 ? "op" : "op and shape (top 30)",
              "ms/step", "share", "calls", "GFLOP/s");
      for (guint i = 0; i < limit; i++)
        {
          const ProfEntry *e = rows->pdata[i];
          char rate[32] = "-";
          if (e->flops > 0 && e->seconds > 0)
            snprintf (rate, sizeof rate, "%.1f", e->flops / e->seconds / 1e9);
          fprintf (out, "  %-52s %10.2f %5.1f%% %8ld %9s\n", e->key, 1e3 * e->seconds / n_steps,
                  100 * e->seconds / MAX (total_s, 1e-12), e->calls / MAX (n_steps, 1), rate);
        }
    }
  g_hash_table_remove_all (prof_table);
}
