/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The backend table: the model calls every op through it, so a device backend (CUDA)
 * slots in without #ifdef in model code. Pointers handed to the ops are device memory of
 * that backend (host memory for the CPU backend), allocated with its alloc().
 *
 * Shapes and gradient rules are those of nn/vg-nn.h, which is the CPU implementation and
 * the specification every backend is tested against. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

typedef struct _VgBackend VgBackend;

#define VG_UPLOAD_SLOTS 2

struct _VgBackend
{
  const char *name;

  /* memory: alloc returns NULL (and sets error) when the device is out of memory */
  void *(*alloc) (size_t bytes, GError **error);
  void (*free) (void *ptr);
  void (*zero) (void *ptr, size_t bytes);
  void (*upload) (void *dst, const void *host_src, size_t bytes);
  void (*download) (void *host_dst, const void *src, size_t bytes);
  void (*copy) (void *dst, const void *src, size_t bytes);
  void (*synchronize) (void);

  /* Batches uploaded while the previous step computes. Optional: NULL where memory is the
   * host's (the CPU backend). host_alloc gives page-locked host memory (a staging area);
   * upload_async queues a copy from it to the device on a second stream and returns at
   * once, marking the copy as slot's (0 <= slot < VG_UPLOAD_SLOTS); upload_wait makes the
   * compute stream wait for slot's copies (host returns at once); upload_host_wait blocks
   * the host until they are done (before the staging area is written again). */
  void *(*host_alloc) (size_t bytes, GError **error);
  void (*host_free) (void *ptr);
  void (*upload_async) (void *dst, const void *host_src, size_t bytes, int slot);
  void (*upload_wait) (int slot);
  void (*upload_host_wait) (int slot);

  /* layers (see nn/vg-nn.h) */
  void (*linear_forward) (float *out, const float *inp, const float *weight, const float *bias,
                          int Nr, int Cin, int Cout);
  void (*linear_backward) (float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, int Nr, int Cin, int Cout);
  size_t (*conv2d_scratch_floats) (int B, int H, int W, int Cin, int Cout, int K, int S, int P,
                                   int G);
  void (*conv2d_forward) (float *out, const float *inp, const float *weight, const float *bias,
                          float *scratch, int B, int H, int W, int Cin, int Cout, int K, int S,
                          int P, int G);
  /* The graphs' forward (training and inference), free to take a faster algorithm whose
   * rounding differs from conv2d_forward's (the CPU: Winograd for 3x3 stride-1
   * convolutions); conv2d_forward stays the reference path. With relu, out is the ReLU of
   * the output (relu_forward's values, applied where the kernels store it if they can).
   * Optional: NULL where the backend has none (conv2d_forward then relu_forward run); same
   * scratch as conv2d_forward. */
  void (*conv2d_forward_fast) (float *out, const float *inp, const float *weight,
                                const float *bias, float *scratch, int B, int H, int W,
                                int Cin, int Cout, int K, int S, int P, int G, int relu);
  void (*conv2d_backward) (float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, float *scratch, int B, int H,
                           int W, int Cin, int Cout, int K, int S, int P, int G);
  size_t (*conv_transpose_scratch_floats) (int B, int H, int W, int Cin, int Cout, int K);
  void (*conv_transpose_forward) (float *out, const float *inp, const float *weight,
                                  const float *bias, float *scratch, int B, int H, int W,
                                  int Cin, int Cout, int K);
  void (*conv_transpose_backward) (float *dinp, float *dweight, float *dbias, const float *dout,
                                   const float *inp, const float *weight, float *scratch, int B,
                                   int H, int W, int Cin, int Cout, int K);
  void (*layernorm_forward) (float *out, float *mean, float *rstd, const float *inp,
                             const float *weight, const float *bias, float eps, int Nr, int C);
  void (*layernorm_backward) (float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, const float *mean,
                              const float *rstd, int Nr, int C);
  void (*batchnorm_forward_train) (float *out, float *mean, float *rstd, float *running_mean,
                                   float *running_var, const float *inp, const float *weight,
                                   const float *bias, float eps, float momentum, int Nr, int C);
  void (*batchnorm_forward_eval) (float *out, const float *inp, const float *weight,
                                  const float *bias, const float *running_mean,
                                  const float *running_var, float eps, int Nr, int C);
  void (*batchnorm_backward) (float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, const float *mean,
                              const float *rstd, int Nr, int C);
  void (*batchnorm_fold) (float *fweight, float *fbias, const float *weight, const float *bias,
                          const float *bn_weight, const float *bn_bias,
                          const float *running_mean, const float *running_var, float eps,
                          int Cout, size_t per);
  /* Synchronised BatchNorm's halves (nn/vg-nn.h), for data-parallel training; sums (2C + 1
   * doubles) in the backend's memory like the rest. Optional: NULL where the backend lacks
   * them (then vg_model_set_sync refuses). */
  void (*batchnorm_sums) (double *sums, const float *inp, const float *shift, int Nr, int C);
  void (*batchnorm_stats) (float *mean, float *rstd, float *running_mean, float *running_var,
                           const double *sums, const float *shift, float eps, float momentum,
                           int C);
  void (*batchnorm_normalize) (float *out, const float *inp, const float *mean,
                               const float *rstd, const float *weight, const float *bias,
                               int Nr, int C);
  void (*batchnorm_backward_sums) (double *sums, float *dweight, float *dbias,
                                   const float *dout, const float *inp, const float *mean,
                                   const float *rstd, int Nr, int C);
  void (*batchnorm_backward_dinp) (float *dinp, const float *dout, const float *inp,
                                   const float *weight, const float *mean, const float *rstd,
                                   const double *sums, int Nr, int C);
  void (*gelu_forward) (float *out, const float *inp, size_t n);
  void (*gelu_backward) (float *dinp, const float *dout, const float *inp, size_t n);
  void (*relu_forward) (float *out, const float *inp, size_t n);
  void (*relu_backward) (float *dinp, const float *dout, const float *out, size_t n);
  void (*resize_bilinear_forward) (float *out, const float *inp, int B, int H, int W, int Ho,
                                   int Wo, int C);
  void (*resize_bilinear_backward) (float *dinp, const float *dout, int B, int H, int W, int Ho,
                                    int Wo, int C);
  /* the baselines' layers (U-Net, DeepLabV3+, Fast-SCNN); see nn/vg-nn.h */
  void (*resize_bilinear_ac_forward) (float *out, const float *inp, int B, int H, int W,
                                      int Ho, int Wo, int C);
  void (*resize_bilinear_ac_backward) (float *dinp, const float *dout, int B, int H, int W,
                                       int Ho, int Wo, int C);
  size_t (*conv2d_dilated_scratch_floats) (int B, int H, int W, int Cin, int Cout, int K,
                                           int S, int P, int Dl);
  void (*conv2d_dilated_forward) (float *out, const float *inp, const float *weight,
                                  const float *bias, float *scratch, int B, int H, int W,
                                  int Cin, int Cout, int K, int S, int P, int Dl);
  void (*conv2d_dilated_backward) (float *dinp, float *dweight, float *dbias,
                                   const float *dout, const float *inp, const float *weight,
                                   float *scratch, int B, int H, int W, int Cin, int Cout,
                                   int K, int S, int P, int Dl);
  void (*maxpool2d_forward) (float *out, const float *inp, int B, int H, int W, int C, int K,
                             int S);
  void (*maxpool2d_backward) (float *dinp, const float *dout, const float *inp,
                              const float *out, int B, int H, int W, int C, int K, int S);
  void (*adaptive_avgpool_forward) (float *out, const float *inp, int B, int H, int W, int C,
                                    int Ho, int Wo);
  void (*adaptive_avgpool_backward) (float *dinp, const float *dout, int B, int H, int W,
                                     int C, int Ho, int Wo);
  void (*dropout_forward) (float *out, const float *inp, size_t n, float p, uint64_t seed);
  void (*dropout_backward) (float *dinp, const float *dout, size_t n, float p, uint64_t seed);
  void (*concat_forward) (float *out, const float *const *parts, const int *Cs, int n_parts,
                          int Nr);
  void (*concat_backward) (float *const *dparts, const float *dout, const int *Cs, int n_parts,
                           int Nr);
  float (*cross_entropy_forward) (const float *logits, const uint8_t *targets,
                                  const float *weights, int ignore_index, int Nr, int NC);
  void (*cross_entropy_backward) (float *dlogits, const float *logits, const uint8_t *targets,
                                  const float *weights, int ignore_index, float dloss, int Nr,
                                  int NC);
  /* Both of the above in one pass (vg_cross_entropy_forward_backward): the loss returned,
   * dlogits written, the same floats. Optional: NULL where the backend has no fused one
   * (vg_model_forward_backward then calls the two). */
  float (*cross_entropy_forward_backward) (float *dlogits, const float *logits,
                                           const uint8_t *targets, const float *weights,
                                           int ignore_index, float dloss, int Nr, int NC);
  /* Cross-entropy + soft Dice (nn/vg-dice.h), the Dice over all classes or over those
   * present in the batch, with the signatures of the two above. Optional: NULL where the
   * backend does not implement them (vg_model_loss_supported). */
  float (*cross_entropy_dice_forward) (const float *logits, const uint8_t *targets,
                                       const float *weights, int ignore_index, int Nr, int NC);
  void (*cross_entropy_dice_backward) (float *dlogits, const float *logits,
                                       const uint8_t *targets, const float *weights,
                                       int ignore_index, float dloss, int Nr, int NC);
  float (*cross_entropy_dice_present_forward) (const float *logits, const uint8_t *targets,
                                               const float *weights, int ignore_index, int Nr,
                                               int NC);
  void (*cross_entropy_dice_present_backward) (float *dlogits, const float *logits,
                                               const uint8_t *targets, const float *weights,
                                               int ignore_index, float dloss, int Nr, int NC);
  /* Cross-entropy + Lovász-softmax over the classes present in the batch (nn/vg-lovasz.h),
   * with the same signatures. Optional, as the Dice losses. */
  float (*cross_entropy_lovasz_forward) (const float *logits, const uint8_t *targets,
                                         const float *weights, int ignore_index, int Nr,
                                         int NC);
  void (*cross_entropy_lovasz_backward) (float *dlogits, const float *logits,
                                         const uint8_t *targets, const float *weights,
                                         int ignore_index, float dloss, int Nr, int NC);
  size_t (*attention_scratch_floats) (int B, int N, int M, int C, int NH);
  void (*attention_forward) (float *out, float *lse, const float *q, const float *k,
                             const float *v, float *scratch, int B, int N, int M, int C,
                             int NH);
  void (*attention_backward) (float *dq, float *dk, float *dv, const float *dout,
                              const float *out, const float *lse, const float *q,
                              const float *k, const float *v, float *scratch, int B, int N,
                              int M, int C, int NH);

  /* elementwise helpers */
  void (*add_inplace) (float *acc, const float *x, size_t n);          /* acc += x */

  /* optimisers over flat parameter blocks; t is the 1-based step count.
   * decoupled = 0: Adam with L2 added to the gradient (torch.optim.Adam weight_decay);
   * decoupled = 1: AdamW (torch.optim.AdamW). */
  void (*adam_step) (float *param, const float *grad, float *m, float *v, size_t n, float lr,
                     float beta1, float beta2, float eps, float weight_decay, int t,
                     int decoupled);
  /* torch.optim.SGD with momentum (dampening 0, no Nesterov), L2 weight decay. */
  void (*sgd_step) (float *param, const float *grad, float *momentum_buf, size_t n, float lr,
                    float momentum, float weight_decay, int first_step);
  /* avg = decay * avg + (1 - decay) * x (the weights' moving average) */
  void (*ema_update) (float *avg, const float *x, size_t n, float decay);

  /* Data-parallel training over the ranks of vg-dist.h, in the backend's memory. Optional:
   * NULL where the backend cannot (then distributed training refuses it). dist_init joins
   * the ranks' devices once vg_dist_init has succeeded (the CPU: nothing to do);
   * dist_sum adds n floats (or doubles) in place over the ranks, every rank getting the
   * sums; dist_broadcast copies rank 0's bytes to every rank. */
  gboolean (*dist_init) (GError **error);
  void (*dist_sum) (void *values, size_t n, gboolean doubles);
  void (*dist_broadcast) (void *data, size_t bytes);
  /* The Dice losses over the ranks' shards of one batch (nn/vg-dice.h), with the signatures
   * of the losses above: the global batch's loss, and this rank's rows of its gradient.
   * Optional: NULL where the backend lacks them (then a Dice loss is not distributed). */
  float (*cross_entropy_dice_dist_forward) (const float *logits, const uint8_t *targets,
                                            const float *weights, int ignore_index, int Nr,
                                            int NC);
  void (*cross_entropy_dice_dist_backward) (float *dlogits, const float *logits,
                                            const uint8_t *targets, const float *weights,
                                            int ignore_index, float dloss, int Nr, int NC);
  float (*cross_entropy_dice_present_dist_forward) (const float *logits,
                                                    const uint8_t *targets,
                                                    const float *weights, int ignore_index,
                                                    int Nr, int NC);
  void (*cross_entropy_dice_present_dist_backward) (float *dlogits, const float *logits,
                                                    const uint8_t *targets,
                                                    const float *weights, int ignore_index,
                                                    float dloss, int Nr, int NC);
  /* The same for cross-entropy + Lovász (nn/vg-lovasz.h): the histograms summed. */
  float (*cross_entropy_lovasz_dist_forward) (const float *logits, const uint8_t *targets,
                                              const float *weights, int ignore_index, int Nr,
                                              int NC);
  void (*cross_entropy_lovasz_dist_backward) (float *dlogits, const float *logits,
                                              const uint8_t *targets, const float *weights,
                                              int ignore_index, float dloss, int Nr, int NC);
};

/* The CPU backend (OpenBLAS + OpenMP). */
const VgBackend *vg_backend_cpu (void);
