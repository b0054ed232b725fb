/* SPDX-License-Identifier: GPL-3.0-or-later */
/* C interface of the CUDA backend (compiled by nvcc, called from C). Every failure is
 * returned as a message, never fatal.
 *
 * The ops below have the signatures and semantics of their nn/vg-nn.h and nn/vg-optim.h
 * namesakes (vg_cuda_linear_forward mirrors vg_linear_forward, and so on), with every
 * pointer in device memory except concat's arrays of pointers and sizes, which are host
 * arrays holding device pointers. They are enqueued on the backend's stream and return at
 * once; call vg_cuda_backend_init first. vg-backend-cuda.c gathers them into a VgBackend. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of CUDA devices; 0 with a reason when there is no driver or device. */
int vg_cuda_device_count (char *why, size_t why_len);

/* C = A (M x K) * B (K x N), all row-major, computed on device 0 with cuBLAS.
 * Returns 0 on success, -1 with a message in err on any CUDA or cuBLAS failure. */
int vg_cuda_sgemm (float *c, const float *a, const float *b, int m, int n, int k,
                   char *err, size_t err_len);

/* ---- backend state ---------------------------------------------------------------------- */

/* Select device 0, create the stream, the cuBLAS handle and the reduction workspace. Not
 * thread-safe; the caller (vg-backend-cuda.c) runs it once. 0 on success, -1 with err. */
int vg_cuda_backend_init (char *err, size_t err_len);

/* "FP32" (the default), or "TF32" when VISAGE_CUDA_TF32=1 was set at initialisation and
 * cuBLAS may round matrix-product inputs to TF32 on the tensor cores; NULL before a
 * successful vg_cuda_backend_init. */
const char *vg_cuda_math_mode (void);

/* The first CUDA or cuBLAS failure since the last call (a kernel fault, a failed launch),
 * copied to err and cleared; 0 when there was none. Ops cannot return errors, so they
 * record them here and tests and the trainer ask after a step. */
int vg_cuda_take_error (char *err, size_t err_len);

/* Tests only: float budgets of the attention score tiles and of the im2col and
 * transposed-convolution chunks, so small shapes exercise the multi-tile paths. 0 restores
 * the default. Scratch sizes must be asked again afterwards. */
void vg_cuda_set_tile_budgets (size_t attention_floats, size_t conv_floats);

/* ---- memory ------------------------------------------------------------------------------ */

/* NULL with "out of GPU memory: needed N MiB, free M MiB" in err when cudaMalloc fails. */
void *vg_cuda_alloc (size_t bytes, char *err, size_t err_len);
void vg_cuda_free (void *ptr);
void vg_cuda_zero (void *ptr, size_t bytes);
/* Upload and download wait for the copy: the host buffer can be reused (or read) at once. */
void vg_cuda_upload (void *dst, const void *host_src, size_t bytes);
void vg_cuda_download (void *host_dst, const void *src, size_t bytes);
/* Page-locked host memory (NULL with a reason in err); freeing waits for queued copies. */
void *vg_cuda_host_alloc (size_t bytes, char *err, size_t err_len);
void vg_cuda_host_free (void *ptr);
/* A host-to-device copy on the upload stream, marked as slot's (0 or 1); the compute
 * stream waits for slot's copies (upload_wait) or the host does (upload_host_wait). */
void vg_cuda_upload_async (void *dst, const void *host_src, size_t bytes, int slot);
void vg_cuda_upload_wait (int slot);
void vg_cuda_upload_host_wait (int slot);
void vg_cuda_copy (void *dst, const void *src, size_t bytes);
void vg_cuda_synchronize (void);

/* ---- layers (see nn/vg-nn.h) ------------------------------------------------------------- */

void vg_cuda_linear_forward (float *out, const float *inp, const float *weight,
                             const float *bias, int Nr, int Cin, int Cout);
void vg_cuda_linear_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, int Nr, int Cin, int Cout);

size_t vg_cuda_conv2d_scratch_floats (int B, int H, int W, int Cin, int Cout, int K, int S,
                                      int P, int G);
void vg_cuda_conv2d_forward (float *out, const float *inp, const float *weight,
                             const float *bias, float *scratch, int B, int H, int W, int Cin,
                             int Cout, int K, int S, int P, int G);
void vg_cuda_conv2d_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, float *scratch, int B,
                              int H, int W, int Cin, int Cout, int K, int S, int P, int G);

size_t vg_cuda_conv_transpose_scratch_floats (int B, int H, int W, int Cin, int Cout, int K);
void vg_cuda_conv_transpose_forward (float *out, const float *inp, const float *weight,
                                     const float *bias, float *scratch, int B, int H, int W,
                                     int Cin, int Cout, int K);
void vg_cuda_conv_transpose_backward (float *dinp, float *dweight, float *dbias,
                                      const float *dout, const float *inp, const float *weight,
                                      float *scratch, int B, int H, int W, int Cin, int Cout,
                                      int K);

void vg_cuda_layernorm_forward (float *out, float *mean, float *rstd, const float *inp,
                                const float *weight, const float *bias, float eps, int Nr,
                                int C);
void vg_cuda_layernorm_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                                 const float *inp, const float *weight, const float *mean,
                                 const float *rstd, int Nr, int C);
void vg_cuda_batchnorm_forward_train (float *out, float *mean, float *rstd,
                                      float *running_mean, float *running_var,
                                      const float *inp, const float *weight, const float *bias,
                                      float eps, float momentum, int Nr, int C);
void vg_cuda_batchnorm_forward_eval (float *out, const float *inp, const float *weight,
                                     const float *bias, const float *running_mean,
                                     const float *running_var, float eps, int Nr, int C);
void vg_cuda_batchnorm_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                                 const float *inp, const float *weight, const float *mean,
                                 const float *rstd, int Nr, int C);
void vg_cuda_batchnorm_fold (float *fweight, float *fbias, const float *weight,
                             const float *bias, const float *bn_weight, const float *bn_bias,
                             const float *running_mean, const float *running_var, float eps,
                             int Cout, size_t per);
/* synchronised BatchNorm's halves (nn/vg-nn.h), sums (2C + 1) in device memory */
void vg_cuda_batchnorm_sums (double *sums, const float *inp, const float *shift, int Nr, int C);
void vg_cuda_batchnorm_stats (float *mean, float *rstd, float *running_mean,
                              float *running_var, const double *sums, const float *shift,
                              float eps, float momentum, int C);
void vg_cuda_batchnorm_normalize (float *out, const float *inp, const float *mean,
                                  const float *rstd, const float *weight, const float *bias,
                                  int Nr, int C);
void vg_cuda_batchnorm_backward_sums (double *sums, float *dweight, float *dbias,
                                      const float *dout, const float *inp, const float *mean,
                                      const float *rstd, int Nr, int C);
void vg_cuda_batchnorm_backward_dinp (float *dinp, const float *dout, const float *inp,
                                      const float *weight, const float *mean,
                                      const float *rstd, const double *sums, int Nr, int C);

void vg_cuda_gelu_forward (float *out, const float *inp, size_t n);
void vg_cuda_gelu_backward (float *dinp, const float *dout, const float *inp, size_t n);
void vg_cuda_relu_forward (float *out, const float *inp, size_t n);
void vg_cuda_relu_backward (float *dinp, const float *dout, const float *out, size_t n);

void vg_cuda_resize_bilinear_forward (float *out, const float *inp, int B, int H, int W,
                                      int Ho, int Wo, int C);
void vg_cuda_resize_bilinear_backward (float *dinp, const float *dout, int B, int H, int W,
                                       int Ho, int Wo, int C);
/* the baselines' layers (U-Net, DeepLabV3+, Fast-SCNN) */
void vg_cuda_resize_bilinear_ac_forward (float *out, const float *inp, int B, int H, int W,
                                         int Ho, int Wo, int C);
void vg_cuda_resize_bilinear_ac_backward (float *dinp, const float *dout, int B, int H, int W,
                                          int Ho, int Wo, int C);
size_t vg_cuda_conv2d_dilated_scratch_floats (int B, int H, int W, int Cin, int Cout, int K,
                                              int S, int P, int Dl);
void vg_cuda_conv2d_dilated_forward (float *out, const float *inp, const float *weight,
                                     const float *bias, float *scratch, int B, int H, int W,
                                     int Cin, int Cout, int K, int S, int P, int Dl);
void vg_cuda_conv2d_dilated_backward (float *dinp, float *dweight, float *dbias,
                                      const float *dout, const float *inp, const float *weight,
                                      float *scratch, int B, int H, int W, int Cin, int Cout,
                                      int K, int S, int P, int Dl);
void vg_cuda_maxpool2d_forward (float *out, const float *inp, int B, int H, int W, int C, int K,
                                int S);
void vg_cuda_maxpool2d_backward (float *dinp, const float *dout, const float *inp,
                                 const float *out, int B, int H, int W, int C, int K, int S);
void vg_cuda_adaptive_avgpool_forward (float *out, const float *inp, int B, int H, int W, int C,
                                       int Ho, int Wo);
void vg_cuda_adaptive_avgpool_backward (float *dinp, const float *dout, int B, int H, int W,
                                        int C, int Ho, int Wo);
void vg_cuda_dropout_forward (float *out, const float *inp, size_t n, float p, uint64_t seed);
void vg_cuda_dropout_backward (float *dinp, const float *dout, size_t n, float p,
                               uint64_t seed);

void vg_cuda_concat_forward (float *out, const float *const *parts, const int *Cs,
                             int n_parts, int Nr);
void vg_cuda_concat_backward (float *const *dparts, const float *dout, const int *Cs,
                              int n_parts, int Nr);

float vg_cuda_cross_entropy_forward (const float *logits, const uint8_t *targets,
                                     const float *weights, int ignore_index, int Nr, int NC);
void vg_cuda_cross_entropy_backward (float *dlogits, const float *logits,
                                     const uint8_t *targets, const float *weights,
                                     int ignore_index, float dloss, int Nr, int NC);

size_t vg_cuda_attention_scratch_floats (int B, int N, int M, int C, int NH);
void vg_cuda_attention_forward (float *out, float *lse, const float *q, const float *k,
                                const float *v, float *scratch, int B, int N, int M, int C,
                                int NH);
void vg_cuda_attention_backward (float *dq, float *dk, float *dv, const float *dout,
                                 const float *out, const float *lse, const float *q,
                                 const float *k, const float *v, float *scratch, int B, int N,
                                 int M, int C, int NH);

/* ---- elementwise and optimisers (see nn/vg-optim.h) -------------------------------------- */

void vg_cuda_add_inplace (float *acc, const float *x, size_t n);
void vg_cuda_adam_step (float *param, const float *grad, float *m, float *v, size_t n,
                        float lr, float beta1, float beta2, float eps, float weight_decay,
                        int t, int decoupled);
void vg_cuda_sgd_step (float *param, const float *grad, float *momentum_buf, size_t n,
                       float lr, float momentum, float weight_decay, int first_step);
void vg_cuda_ema_update (float *avg, const float *x, size_t n, float decay);

/* ---- NCCL (engine/cuda/nccl.cu, built when NCCL is found: VG_HAVE_NCCL) ------------------
 * One communicator over the ranks of the run, one GPU per rank (the device that
 * vg_cuda_backend_init chose from the launcher's local rank). Rank 0 makes the id
 * (vg_cuda_nccl_make_id into VG_CUDA_NCCL_ID_BYTES bytes), every rank receives it (over
 * MPI) and joins with vg_cuda_nccl_init; 0 on success, -1 with err. The collectives are
 * enqueued on the backend's stream, in place; failures are recorded like the ops'. */
#define VG_CUDA_NCCL_ID_BYTES 128
int vg_cuda_nccl_make_id (void *id, char *err, size_t err_len);
int vg_cuda_nccl_init (const void *id, int rank, int n_ranks, char *err, size_t err_len);
void vg_cuda_nccl_sum (void *values, size_t n, int doubles);
void vg_cuda_nccl_broadcast (void *data, size_t bytes);

#ifdef __cplusplus
}
#endif
