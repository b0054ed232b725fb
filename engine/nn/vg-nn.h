/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CPU layers of the engine: each a forward and a backward, plain C with explicit shapes.
 *
 * Shape letters: B batch, C channels (Cin/Cout in and out), H, W height and width
 * (Ho, Wo of the output), N = H*W tokens, M tokens of keys/values, NH heads,
 * K kernel size, S stride, P padding, G groups, R spatial reduction ratio.
 *
 * Layout: activations are channels-last, (B, H, W, C) == (B, N, C): a row per pixel.
 * Weights keep PyTorch's layouts so safetensors files load unchanged:
 * conv (Cout, Cin/G, K, K), transposed conv (Cin, Cout, K, K), linear (Cout, Cin).
 *
 * Gradient rule: parameter gradients accumulate (+=); activation gradients overwrite (=).
 * Where a residual sums paths, the model adds the second path itself.
 *
 * Threads: OpenMP inside each op, OpenBLAS (OpenMP build) for matrix products. Results do
 * not depend on the thread count beyond float rounding. No op allocates: scratch memory
 * is passed in, sized by the matching *_scratch_floats() function.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* ---- linear: out (Nr, Cout) = inp (Nr, Cin) @ weight^T + bias ------------------------ */
void vg_linear_forward (float *out, const float *inp, const float *weight, const float *bias,
                        int Nr, int Cin, int Cout);
/* out = the ReLU of that (vg_relu_forward's values), applied as the rows are stored where
 * the narrow kernels run */
void vg_linear_relu_forward (float *out, const float *inp, const float *weight,
                             const float *bias, int Nr, int Cin, int Cout);
/* dinp may be NULL (input needs no gradient); dbias may be NULL when bias is NULL. */
void vg_linear_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, int Nr, int Cin, int Cout);
/* dbias (C) += the column sums of dout (Nr, C): the bias gradient of any layer that adds
 * a bias to every row (linear, and the convolutions over their output pixels). */
void vg_bias_backward (float *dbias, const float *dout, int Nr, int C);

/* ---- 2-D convolution, channels-last: inp (B, H, W, Cin) -> out (B, Ho, Wo, Cout) ------
 * Ho = (H + 2P - K) / S + 1. Any K, S, P; groups G divide Cin and Cout (G == Cin == Cout is
 * depthwise). weight (Cout, Cin/G, K, K), bias (Cout) or NULL. */
size_t vg_conv2d_scratch_floats (int B, int H, int W, int Cin, int Cout, int K, int S, int P,
                                 int G);
void vg_conv2d_forward (float *out, const float *inp, const float *weight, const float *bias,
                        float *scratch, int B, int H, int W, int Cin, int Cout, int K, int S,
                        int P, int G);
/* The same, faster, with another rounding: 3x3 stride-1 one-group convolutions with at least
 * 16 input channels go through Winograd's F(4x4, 3x3) (a quarter of the products; results
 * within about 1e-5 of the largest output, where the direct kernels' are within 1e-6),
 * others (and all with VISAGE_CONV=direct) through vg_conv2d_forward. Same scratch. The
 * graphs' forward, in training as at inference. With relu, out is the ReLU of that
 * (vg_relu_forward's values): applied as pointwise, depthwise and Winograd convolutions
 * store their outputs, in a pass of its own after the others. */
void vg_conv2d_forward_fast (float *out, const float *inp, const float *weight,
                              const float *bias, float *scratch, int B, int H, int W, int Cin,
                              int Cout, int K, int S, int P, int G, int relu);
/* dinp may be NULL (e.g. the first layer, whose input is the image). Winograd computes the
 * gradients of 3x3 stride-1 one-group convolutions where the direct kernels run: the input
 * gradient where the forward would, the weight gradient where the forward would and Cout
 * fills vectors, but for a few shapes (vg_conv_winograd_backward). */
void vg_conv2d_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, float *scratch, int B, int H,
                         int W, int Cin, int Cout, int K, int S, int P, int G);

/* ---- transposed convolution with kernel == stride (4x4 stride 4 in the head) -----------
 * inp (B, H, W, Cin) -> out (B, H*K, W*K, Cout); weight (Cin, Cout, K, K), bias (Cout). */
size_t vg_conv_transpose_scratch_floats (int B, int H, int W, int Cin, int Cout, int K);
void vg_conv_transpose_forward (float *out, const float *inp, const float *weight,
                                const float *bias, float *scratch, int B, int H, int W, int Cin,
                                int Cout, int K);
void vg_conv_transpose_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                                 const float *inp, const float *weight, float *scratch, int B,
                                 int H, int W, int Cin, int Cout, int K);

/* ---- LayerNorm over the last dimension: inp (Nr, C); saves mean, rstd (Nr) ------------- */
void vg_layernorm_forward (float *out, float *mean, float *rstd, const float *inp,
                           const float *weight, const float *bias, float eps, int Nr, int C);
void vg_layernorm_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, const float *mean,
                            const float *rstd, int Nr, int C);

/* ---- BatchNorm2d, channels-last: inp (Nr = B*H*W, C) ------------------------------------
 * Training: normalises with the batch mean and biased variance, saves mean and rstd (C),
 * and updates running_mean/running_var (unbiased variance) with momentum, as PyTorch.
 * Evaluation: normalises with the running statistics (mean/rstd untouched). */
void vg_batchnorm_forward_train (float *out, float *mean, float *rstd, float *running_mean,
                                 float *running_var, const float *inp, const float *weight,
                                 const float *bias, float eps, float momentum, int Nr, int C);
void vg_batchnorm_forward_eval (float *out, const float *inp, const float *weight,
                                const float *bias, const float *running_mean,
                                const float *running_var, float eps, int Nr, int C);
void vg_batchnorm_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, const float *mean,
                            const float *rstd, int Nr, int C);
/* Inference: an evaluation-mode BatchNorm folded into the convolution before it. weight
 * (Cout, per) and bias (Cout, or NULL for none) are the convolution's; fweight and fbias get
 * the convolution whose output is the BatchNorm's: each output channel's row times
 * scale = bn_weight / sqrt(running_var + eps), and (bias - running_mean) scale + bn_bias. */
void vg_batchnorm_fold (float *fweight, float *fbias, const float *weight, const float *bias,
                        const float *bn_weight, const float *bn_bias, const float *running_mean,
                        const float *running_var, float eps, int Cout, size_t per);
/* Synchronised BatchNorm (data-parallel training): the two passes above split where the
 * processes sum their per-channel sums: sums (2C + 1) doubles, the first C, the second C,
 * then this process's row count. Forward: vg_batchnorm_sums writes sum(x - shift),
 * sum((x - shift)^2) and Nr, shift (C) a value common to all (the running mean); once summed
 * over the processes, vg_batchnorm_stats makes mean, rstd and the running statistics'
 * update from them, and vg_batchnorm_normalize applies them (out = (x - mean) rstd weight +
 * bias). Backward: vg_batchnorm_backward_sums writes sum(dout), sum(dout * xhat) and Nr,
 * and adds the first two to dbias and dweight (+=: this process's part of their
 * gradients); once summed, vg_batchnorm_backward_dinp writes dinp (=) from them. With one
 * process and shift the first row these are vg_batchnorm_forward_train and _backward. */
void vg_batchnorm_sums (double *sums, const float *inp, const float *shift, int Nr, int C);
void vg_batchnorm_stats (float *mean, float *rstd, float *running_mean, float *running_var,
                         const double *sums, const float *shift, float eps, float momentum,
                         int C);
void vg_batchnorm_normalize (float *out, const float *inp, const float *mean,
                             const float *rstd, const float *weight, const float *bias, int Nr,
                             int C);
void vg_batchnorm_backward_sums (double *sums, float *dweight, float *dbias, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 int Nr, int C);
void vg_batchnorm_backward_dinp (float *dinp, const float *dout, const float *inp,
                                 const float *weight, const float *mean, const float *rstd,
                                 const double *sums, int Nr, int C);

/* ---- pointwise activations over n floats (out may equal inp) ---------------------------- */
void vg_gelu_forward (float *out, const float *inp, size_t n);          /* erf form */
void vg_gelu_backward (float *dinp, const float *dout, const float *inp, size_t n);
void vg_relu_forward (float *out, const float *inp, size_t n);
/* Uses the forward output (out > 0), so the input can be overwritten in place. */
void vg_relu_backward (float *dinp, const float *dout, const float *out, size_t n);

/* ---- bilinear resize, channels-last, PyTorch align_corners=False ------------------------
 * inp (B, H, W, C) -> out (B, Ho, Wo, C); the scale is H/Ho and W/Wo (interpolate(size=)). */
void vg_resize_bilinear_forward (float *out, const float *inp, int B, int H, int W, int Ho,
                                 int Wo, int C);
void vg_resize_bilinear_backward (float *dinp, const float *dout, int B, int H, int W, int Ho,
                                  int Wo, int C);

/* ---- bilinear resize, PyTorch align_corners=True --------------------------------------
 * inp (B, H, W, C) -> out (B, Ho, Wo, C): output pixel i samples the input at
 * i * (H - 1) / (Ho - 1) (0 when Ho == 1), so the corners meet; H == 1 broadcasts. The
 * backward overwrites dinp. */
void vg_resize_bilinear_ac_forward (float *out, const float *inp, int B, int H, int W, int Ho,
                                    int Wo, int C);
void vg_resize_bilinear_ac_backward (float *dinp, const float *dout, int B, int H, int W,
                                     int Ho, int Wo, int C);

/* ---- dilated convolution: vg_conv2d_* with dilation Dl (G == 1) ------------------------
 * Ho = (H + 2P - Dl (K - 1) - 1) / S + 1, as torch.nn.Conv2d(dilation=Dl). */
size_t vg_conv2d_dilated_scratch_floats (int B, int H, int W, int Cin, int Cout, int K, int S,
                                         int P, int Dl);
void vg_conv2d_dilated_forward (float *out, const float *inp, const float *weight,
                                const float *bias, float *scratch, int B, int H, int W, int Cin,
                                int Cout, int K, int S, int P, int Dl);
void vg_conv2d_dilated_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                                 const float *inp, const float *weight, float *scratch, int B,
                                 int H, int W, int Cin, int Cout, int K, int S, int P, int Dl);

/* ---- max pooling, K x K window, stride S, no padding, floor: Ho = (H - K) / S + 1 -------
 * inp (B, H, W, C) -> out (B, Ho, Wo, C). The backward finds each window's first maximum
 * again (row-major order, as PyTorch) from inp and out, so nothing is saved; it overwrites
 * dinp (zero where no window's maximum is). */
void vg_maxpool2d_forward (float *out, const float *inp, int B, int H, int W, int C, int K,
                           int S);
void vg_maxpool2d_backward (float *dinp, const float *dout, const float *inp, const float *out,
                            int B, int H, int W, int C, int K, int S);

/* ---- adaptive average pooling: (B, H, W, C) -> (B, Ho, Wo, C), PyTorch's bins ----------
 * Output row i averages input rows floor(i H / Ho) .. ceil((i + 1) H / Ho) - 1 (likewise
 * columns); Ho > H is allowed (bins overlap). The backward overwrites dinp. */
void vg_adaptive_avgpool_forward (float *out, const float *inp, int B, int H, int W, int C,
                                  int Ho, int Wo);
void vg_adaptive_avgpool_backward (float *dinp, const float *dout, int B, int H, int W, int C,
                                   int Ho, int Wo);

/* ---- dropout over n floats (out may equal inp) ------------------------------------------
 * Element i is kept, and scaled by 1 / (1 - p), when vg_dropout_keep (seed, i, p); the mask
 * is a hash of (seed, i), so nothing is stored, the backward recomputes it, and every
 * backend draws the same mask: r = splitmix64 (seed + i * 0x9E3779B97F4A7C15) (the
 * finaliser of tests/reference/ref-init.h's splitmix64), kept iff (r >> 40) >= p * 2^24
 * rounded down. 0 <= p < 1. */
static inline int
vg_dropout_keep (uint64_t seed, uint64_t i, float p)
{
  uint64_t z = seed + i * 0x9E3779B97F4A7C15ull;

  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (z >> 40) >= (uint64_t) (p * 16777216.0f);
}
void vg_dropout_forward (float *out, const float *inp, size_t n, float p, uint64_t seed);
void vg_dropout_backward (float *dinp, const float *dout, size_t n, float p, uint64_t seed);

/* ---- channel concatenation, channels-last: parts[i] (Nr, Cs[i]) -> out (Nr, sum Cs) ----- */
void vg_concat_forward (float *out, const float *const *parts, const int *Cs, int n_parts,
                        int Nr);
void vg_concat_backward (float *const *dparts, const float *dout, const int *Cs, int n_parts,
                         int Nr);

/* ---- weighted softmax cross-entropy over logits (Nr, NC), targets (Nr) ------------------
 * loss = sum_i w[y_i] * -log softmax(logits_i)[y_i] / sum_i w[y_i], the mean of
 * torch.nn.CrossEntropyLoss(weight=w); weights NULL means all ones. Targets equal to
 * ignore_index (or >= NC) are skipped. Returns the loss; the backward writes dlogits
 * (overwrite) scaled by dloss. vg_cross_entropy_weight_total is the loss's denominator,
 * sum_i w[y_i] over the counted rows (host memory). */
double vg_cross_entropy_weight_total (const uint8_t *targets, const float *weights,
                                      int ignore_index, int Nr, int NC);
float vg_cross_entropy_forward (const float *logits, const uint8_t *targets,
                                const float *weights, int ignore_index, int Nr, int NC);
void vg_cross_entropy_backward (float *dlogits, const float *logits, const uint8_t *targets,
                                const float *weights, int ignore_index, float dloss, int Nr,
                                int NC);
/* Both in one read of the logits, for a training step: returns the forward's loss and
 * writes the backward's dlogits, the same floats as the two calls; dlogits may alias
 * logits. */
float vg_cross_entropy_forward_backward (float *dlogits, const float *logits,
                                         const uint8_t *targets, const float *weights,
                                         int ignore_index, float dloss, int Nr, int NC);

/* ---- multi-head attention core: softmax(Q K^T / sqrt(C/NH)) V per head ------------------
 * q (B, N, C), k and v (B, M, C) with heads interleaved as PyTorch's reshape (B, N, NH, C/NH)
 * -> out (B, N, C). Tiled over query rows so memory grows linearly in N and M (never the
 * full N x M matrix of a batch); lse (B, NH, N) keeps each row's log-sum-exp for the
 * backward, which recomputes the probabilities tile by tile. dq, dk, dv overwrite. */
size_t vg_attention_scratch_floats (int B, int N, int M, int C, int NH);
void vg_attention_forward (float *out, float *lse, const float *q, const float *k,
                           const float *v, float *scratch, int B, int N, int M, int C, int NH);
void vg_attention_backward (float *dq, float *dk, float *dv, const float *dout,
                            const float *out, const float *lse, const float *q, const float *k,
                            const float *v, float *scratch, int B, int N, int M, int C,
                            int NH);
