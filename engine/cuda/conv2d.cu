/* SPDX-License-Identifier: GPL-3.0-or-later */
/* 2-D convolution on the GPU, mirroring nn/conv2d.c: channels-last inp (B, H, W, Cin) ->
 * out (B, Ho, Wo, Cout), Ho = (H + 2P - Dl (K - 1) - 1) / S + 1, weight (Cout, Cin/G, K, K),
 * bias (Cout). Letters: B batch, H W sizes, K kernel, S stride, P zero padding, G groups,
 * Dl dilation (1 but in the dilated convolution, which has one group).
 *
 * The same three paths as the CPU, chosen from the shape alone:
 * - pointwise (1x1, stride 1, no padding, one group): the linear layer over B*H*W rows;
 * - depthwise (G == Cin == Cout): direct kernels, a thread per output (forward) or input
 *   (backward) element, threads along the contiguous channels; the weight gradient is a
 *   column reduction over the output pixels with one column per (tap, channel);
 * - everything else: im2col then cuBLAS, in chunks of images (a chunk's column matrix stays
 *   under the conv budget). A column row holds one output pixel's receptive field in
 *   (cin, kh, kw) order, PyTorch's weight order; groups are one strided-batched product.
 *   Dilated convolutions (Dl > 1, K > 1) take this path, the taps Dl pixels apart.
 *
 * Gradient rule: parameter gradients accumulate (+=), activation gradients overwrite (=).
 * No atomics: every sum runs in a fixed order. */
#include "common.cuh"
#include "vg-conv-shape.h"

using namespace vgc;

/* Images per im2col chunk: the chunk's column matrix stays under the budget. Shape only. */
static inline int
chunk_images (int B, int Ho, int Wo, int Cin, int K)
{
  return vg_conv_chunk_images (B, Ho, Wo, Cin, K, g.conv_chunk_floats);
}

extern "C" size_t
vg_cuda_conv2d_scratch_floats (int B, int H, int W, int Cin, int Cout, int K, int S, int P,
                               int G)
{
  int Ho = vg_conv_out_size (H, K, S, P);
  int Wo = vg_conv_out_size (W, K, S, P);

  if (vg_conv_path (Cin, Cout, K, S, P, G) != VG_CONV_IM2COL)
    return 0;
  return (size_t) chunk_images (B, Ho, Wo, Cin, K) * Ho * Wo * Cin * K * K;
}

/* ---- im2col path ------------------------------------------------------------------------ */

/* col (nb*Ho*Wo, Cin*K*K) from inp (nb, H, W, Cin); padding reads as zero. A thread per
 * column element, so the writes are contiguous. */
static __global__ void
im2col_kernel (float *col, const float *inp, int nb, int H, int W, int Cin, int K, int S,
               int P, int Dl, int Ho, int Wo)
{
  const int KK = K * K;
  const size_t CKK = (size_t) Cin * KK;

  VGC_GRID_STRIDE (e, (size_t) nb * Ho * Wo * CKK)
    {
      /* e = ((b, oh, ow) row, (ci, kh, kw) column): a channels-last index with CKK channels */
      Nhwc y = nhwc_index (e, Ho, Wo, (int) CKK);
      int ci = y.c / KK, k = y.c - ci * KK, kh = k / K, kw = k - kh * K;
      int ow = y.x, oh = y.y, b = y.b;
      int ih = oh * S - P + kh * Dl, iw = ow * S - P + kw * Dl;

      col[e] = ih < 0 || ih >= H || iw < 0 || iw >= W
                 ? 0.0f
                 : inp[(((size_t) b * H + ih) * W + iw) * Cin + ci];
    }
}

/* dinp (nb, H, W, Cin): each input element gathers, in (kh, kw) order, from the output
 * pixels whose window covers it (the taps of vg_conv_taps_dilated), as col2im and the
 * depthwise input gradient in nn/conv2d.c. Output pixel o's value for channel c and tap t is
 * src[o * ldo + c * ldc + t * ldt], times weight[c * K * K + t] where weight is given:
 * - im2col path: src = dcol (rows, Cin*K*K), ldo = Cin*K*K, ldc = K*K, ldt = 1, no weight
 *   (the adjoint of im2col);
 * - depthwise path: src = dout (rows, C), ldo = C, ldc = 1, ldt = 0, the weight (C, 1, K, K). */
static __global__ void
dinp_gather_kernel (float *dinp, const float *src, const float *weight, size_t ldo, int ldc,
                    int ldt, int nb, int H, int W, int Cin, int K, int S, int P, int Dl, int Ho,
                    int Wo)
{
  const int KK = K * K;

  VGC_GRID_STRIDE (e, (size_t) nb * H * W * Cin)
    {
      Nhwc x = nhwc_index (e, H, W, Cin);
      int kh0, kh1, sh, kw0, kw1, sw;
      float s = 0.0f;

      vg_conv_taps_dilated (x.y, K, S, P, Dl, Ho, &kh0, &kh1, &sh);
      vg_conv_taps_dilated (x.x, K, S, P, Dl, Wo, &kw0, &kw1, &sw);
      for (int kh = kh0; kh < kh1; kh += sh)
        for (int kw = kw0; kw < kw1; kw += sw)
          {
            int oh = (x.y + P - kh * Dl) / S, ow = (x.x + P - kw * Dl) / S, t = kh * K + kw;
            float v = src[(((size_t) x.b * Ho + oh) * Wo + ow) * ldo + (size_t) x.c * ldc
                          + (size_t) t * ldt];
            s += weight != NULL ? v * weight[x.c * KK + t] : v;
          }
      dinp[e] = s;
    }
}

static __global__ void
conv_fill_rows_kernel (float *out, const float *bias, size_t Nr, int C)
{
  VGC_GRID_STRIDE (i, Nr * (size_t) C)
    out[i] = bias[i % (size_t) C];
}

static void
conv_im2col_forward (float *out, const float *inp, const float *weight, const float *bias,
                     float *col, int B, int H, int W, int Cin, int Cout, int K, int S, int P,
                     int G, int Dl, int Ho, int Wo)
{
  int nb = chunk_images (B, Ho, Wo, Cin, K);
  int CKK = Cin * K * K;
  int CKKg = CKK / G; /* columns of one group */
  int Cog = Cout / G; /* output channels of one group */

  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = B - b0 < nb ? B - b0 : nb;
      int rows = n * Ho * Wo;
      float *o = out + (size_t) b0 * Ho * Wo * Cout;
      float beta = 0.0f;

      im2col_kernel<<<blocks_for ((size_t) rows * CKK), THREADS, 0, g.stream>>> (
        col, inp + (size_t) b0 * H * W * Cin, n, H, W, Cin, K, S, P, Dl, Ho, Wo);
      if (bias != NULL)
        {
          conv_fill_rows_kernel<<<blocks_for ((size_t) rows * Cout), THREADS, 0, g.stream>>> (
            o, bias, (size_t) rows, Cout);
          beta = 1.0f;
        }
      /* out_g (rows, Cog) = col_g (rows, CKKg) @ weight_g^T, group g at column g*Cog */
      gemm_strided (false, true, rows, Cog, CKKg, 1.0f, col, CKK, CKKg, weight, CKKg,
                    (long long) Cog * CKKg, beta, o, Cout, Cog, G);
    }
}

static void
conv_im2col_backward (float *dinp, float *dweight, const float *dout, const float *inp,
                      const float *weight, float *col, int B, int H, int W, int Cin, int Cout,
                      int K, int S, int P, int G, int Dl, int Ho, int Wo)
{
  int nb = chunk_images (B, Ho, Wo, Cin, K);
  int CKK = Cin * K * K;
  int CKKg = CKK / G;
  int Cog = Cout / G;

  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = B - b0 < nb ? B - b0 : nb;
      int rows = n * Ho * Wo;
      const float *g_out = dout + (size_t) b0 * Ho * Wo * Cout;

      /* dweight_g (Cog, CKKg) += dout_g^T (Cog, rows) @ col_g (rows, CKKg) */
      if (dweight != NULL)
        {
          im2col_kernel<<<blocks_for ((size_t) rows * CKK), THREADS, 0, g.stream>>> (
            col, inp + (size_t) b0 * H * W * Cin, n, H, W, Cin, K, S, P, Dl, Ho, Wo);
          gemm_strided (true, false, Cog, CKKg, rows, 1.0f, g_out, Cout, Cog, col, CKK, CKKg,
                        1.0f, dweight, CKKg, (long long) Cog * CKKg, G);
        }
      /* dcol_g (rows, CKKg) = dout_g (rows, Cog) @ weight_g (Cog, CKKg), reusing col */
      if (dinp != NULL)
        {
          gemm_strided (false, false, rows, CKKg, Cog, 1.0f, g_out, Cout, Cog, weight, CKKg,
                        (long long) Cog * CKKg, 0.0f, col, CKK, CKKg, G);
          dinp_gather_kernel<<<blocks_for ((size_t) n * H * W * Cin), THREADS, 0, g.stream>>> (
            dinp + (size_t) b0 * H * W * Cin, col, NULL, (size_t) CKK, K * K, 1, n, H, W, Cin,
            K, S, P, Dl, Ho, Wo);
        }
    }
}

/* ---- depthwise path --------------------------------------------------------------------- */

/* A thread per output element (b, oh, ow, c); taps summed in (kh, kw) order onto the bias. */
static __global__ void
depthwise_forward_kernel (float *out, const float *inp, const float *weight,
                          const float *bias, int B, int H, int W, int C, int K, int S, int P,
                          int Ho, int Wo)
{
  const int KK = K * K;

  VGC_GRID_STRIDE (e, (size_t) B * Ho * Wo * C)
    {
      Nhwc y = nhwc_index (e, Ho, Wo, C);
      int c = y.c, ow = y.x, oh = y.y, b = y.b;
      float o = bias != NULL ? bias[c] : 0.0f;

      for (int kh = 0; kh < K; kh++)
        {
          int ih = oh * S - P + kh;
          if (ih < 0 || ih >= H)
            continue;
          for (int kw = 0; kw < K; kw++)
            {
              int iw = ow * S - P + kw;
              if (iw < 0 || iw >= W)
                continue;
              o += inp[(((size_t) b * H + ih) * W + iw) * C + c] * weight[c * KK + kh * K + kw];
            }
        }
      out[e] = o;
    }
}

namespace
{

/* dweight[c, tap] = sum over output pixels r of dout[r, c] * inp[pixel under tap, c]: one
 * reduction column j = tap * C + c, so neighbouring threads read neighbouring channels. */
struct DepthwiseWeightTerm
{
  const float *dout, *inp;
  int H, W, C, K, S, P, Ho, Wo;
  __device__ void
  operator() (int r, int j, double *acc) const
  {
    int tap = j / C, c = j - tap * C;
    int kh = tap / K, kw = tap - kh * K;
    int ow = r % Wo, t = r / Wo;
    int oh = t % Ho, b = t / Ho;
    int ih = oh * S - P + kh, iw = ow * S - P + kw;

    if (ih < 0 || ih >= H || iw < 0 || iw >= W)
      return;
    acc[0] += (double) (dout[(size_t) r * C + c] * inp[(((size_t) b * H + ih) * W + iw) * C + c]);
  }
};

struct DepthwiseWeightAdd
{
  float *dweight;
  int C, KK;
  __device__ void
  operator() (int j, const double *s) const
  {
    int tap = j / C, c = j - tap * C;

    dweight[(size_t) c * KK + tap] += (float) s[0];
  }
};

} /* namespace */

static void
conv_depthwise_backward (float *dinp, float *dweight, const float *dout, const float *inp,
                         const float *weight, int B, int H, int W, int C, int K, int S, int P,
                         int Ho, int Wo)
{
  if (dweight != NULL)
    {
      int rows = B * Ho * Wo, cols = K * K * C;
      ColsumPlan p = colsum_plan (rows, cols, 1, 0);
      colsum_run<1> (p, DepthwiseWeightTerm { dout, inp, H, W, C, K, S, P, Ho, Wo },
                     DepthwiseWeightAdd { dweight, C, K * K }, rows, cols);
    }
  if (dinp != NULL)
    dinp_gather_kernel<<<blocks_for ((size_t) B * H * W * C), THREADS, 0, g.stream>>> (
      dinp, dout, weight, (size_t) C, 1, 0, B, H, W, C, K, S, P, 1, Ho, Wo);
}

/* ---- public entry points ---------------------------------------------------------------- */

extern "C" void
vg_cuda_conv2d_forward (float *out, const float *inp, const float *weight, const float *bias,
                        float *scratch, int B, int H, int W, int Cin, int Cout, int K, int S,
                        int P, int G)
{
  int Ho = vg_conv_out_size (H, K, S, P);
  int Wo = vg_conv_out_size (W, K, S, P);

  switch (vg_conv_path (Cin, Cout, K, S, P, G))
    {
    case VG_CONV_POINTWISE:
      vg_cuda_linear_forward (out, inp, weight, bias, B * H * W, Cin, Cout);
      return;
    case VG_CONV_DEPTHWISE:
      depthwise_forward_kernel<<<blocks_for ((size_t) B * Ho * Wo * Cin), THREADS, 0,
                                 g.stream>>> (out, inp, weight, bias, B, H, W, Cin, K, S, P,
                                              Ho, Wo);
      break;
    case VG_CONV_IM2COL:
    default:
      conv_im2col_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, S, P, G, 1,
                           Ho, Wo);
      break;
    }
  check_launch ("conv2d_forward");
}

extern "C" void
vg_cuda_conv2d_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, float *scratch, int B, int H,
                         int W, int Cin, int Cout, int K, int S, int P, int G)
{
  int Ho = vg_conv_out_size (H, K, S, P);
  int Wo = vg_conv_out_size (W, K, S, P);

  switch (vg_conv_path (Cin, Cout, K, S, P, G))
    {
    case VG_CONV_POINTWISE:
      vg_cuda_linear_backward (dinp, dweight, dbias, dout, inp, weight, B * H * W, Cin, Cout);
      return;
    case VG_CONV_DEPTHWISE:
      conv_depthwise_backward (dinp, dweight, dout, inp, weight, B, H, W, Cin, K, S, P, Ho,
                               Wo);
      break;
    case VG_CONV_IM2COL:
    default:
      conv_im2col_backward (dinp, dweight, dout, inp, weight, scratch, B, H, W, Cin, Cout, K,
                            S, P, G, 1, Ho, Wo);
      break;
    }
  /* dbias: the column sums of dout over its pixels, as a linear layer's */
  if (dbias != NULL)
    bias_backward (dbias, dout, B * Ho * Wo, Cout);
  check_launch ("conv2d_backward");
}

/* ---- dilated convolution (one group) ------------------------------------------------------
 * As nn/conv2d.c: with Dl == 1 or K == 1 the plain convolution above (a 1x1 one may be
 * pointwise); otherwise the im2col path over taps Dl pixels apart. */

extern "C" size_t
vg_cuda_conv2d_dilated_scratch_floats (int B, int H, int W, int Cin, int Cout, int K, int S,
                                       int P, int Dl)
{
  int Ho = vg_conv_out_size_dilated (H, K, S, P, Dl);
  int Wo = vg_conv_out_size_dilated (W, K, S, P, Dl);

  if (Dl == 1 || K == 1)
    return vg_cuda_conv2d_scratch_floats (B, H, W, Cin, Cout, K, S, P, 1);
  return (size_t) chunk_images (B, Ho, Wo, Cin, K) * Ho * Wo * Cin * K * K;
}

extern "C" void
vg_cuda_conv2d_dilated_forward (float *out, const float *inp, const float *weight,
                                const float *bias, float *scratch, int B, int H, int W, int Cin,
                                int Cout, int K, int S, int P, int Dl)
{
  int Ho = vg_conv_out_size_dilated (H, K, S, P, Dl);
  int Wo = vg_conv_out_size_dilated (W, K, S, P, Dl);

  if (Dl == 1 || K == 1)
    {
      vg_cuda_conv2d_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, S, P, 1);
      return;
    }
  conv_im2col_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, S, P, 1, Dl, Ho,
                       Wo);
  check_launch ("conv2d_dilated_forward");
}

extern "C" void
vg_cuda_conv2d_dilated_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                                 const float *inp, const float *weight, float *scratch, int B,
                                 int H, int W, int Cin, int Cout, int K, int S, int P, int Dl)
{
  int Ho = vg_conv_out_size_dilated (H, K, S, P, Dl);
  int Wo = vg_conv_out_size_dilated (W, K, S, P, Dl);

  if (Dl == 1 || K == 1)
    {
      vg_cuda_conv2d_backward (dinp, dweight, dbias, dout, inp, weight, scratch, B, H, W, Cin,
                               Cout, K, S, P, 1);
      return;
    }
  conv_im2col_backward (dinp, dweight, dout, inp, weight, scratch, B, H, W, Cin, Cout, K, S, P,
                        1, Dl, Ho, Wo);
  if (dbias != NULL)
    bias_backward (dbias, dout, B * Ho * Wo, Cout);
  check_launch ("conv2d_dilated_backward");
}
