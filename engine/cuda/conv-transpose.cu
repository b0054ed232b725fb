/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Transposed convolution with kernel == stride K and no padding on the GPU, mirroring
 * nn/conv-transpose.c: inp (B, H, W, Cin) -> out (B, H*K, W*K, Cout), weight (Cin, Cout, K, K)
 * as in PyTorch, bias (Cout). The K x K output blocks do not overlap, so the layer is one
 * product Y (rows, Cout*K*K) = inp (rows, Cin) @ weight viewed as (Cin, Cout*K*K), whose
 * columns (co, kh, kw) a kernel then scatters to their output pixels; the backward gathers
 * dY the same way and runs the two transposed products. Chunks of images keep Y under the
 * conv budget.
 *
 * Gradient rule: parameter gradients accumulate (+=), activation gradients overwrite (=). */
#include "common.cuh"

using namespace vgc;

/* Images per chunk: the chunk's Y stays under the budget. Depends on the shape only. */
static int
chunk_images (int B, int H, int W, int Cout, int K)
{
  size_t per_image = (size_t) H * W * Cout * K * K;
  size_t nb = per_image > 0 ? g.conv_chunk_floats / per_image : (size_t) B;

  if (nb < 1)
    nb = 1;
  if (nb > (size_t) B)
    nb = (size_t) B;
  return (int) nb;
}

extern "C" size_t
vg_cuda_conv_transpose_scratch_floats (int B, int H, int W, int Cin, int Cout, int K)
{
  return (size_t) chunk_images (B, H, W, Cout, K) * H * W * Cout * K * K;
}

/* out rows of the chunk (n, Ho, Wo, Cout) from Y (n*H*W, Cout*K*K): a thread per output
 * element, so the writes are contiguous. */
static __global__ void
scatter_kernel (float *out, const float *Y, const float *bias, int n, int H, int W, int Cout,
                int K)
{
  const int KK = K * K, Ho = H * K, Wo = W * K;
  const size_t CKK = (size_t) Cout * KK;

  VGC_GRID_STRIDE (e, (size_t) n * Ho * Wo * Cout)
    {
      Nhwc y = nhwc_index (e, Ho, Wo, Cout);
      int co = y.c, ow = y.x, oh = y.y, b = y.b;
      int h = oh / K, kh = oh - h * K, w = ow / K, kw = ow - w * K;

      out[e] = Y[(((size_t) b * H + h) * W + w) * CKK + (size_t) co * KK + kh * K + kw]
               + (bias != NULL ? bias[co] : 0.0f);
    }
}

/* dY (n*H*W, Cout*K*K) of the chunk from dout: the gather that inverts the scatter. */
static __global__ void
gather_kernel (float *dY, const float *dout, int n, int H, int W, int Cout, int K)
{
  const int KK = K * K, Ho = H * K, Wo = W * K;
  const size_t CKK = (size_t) Cout * KK;

  VGC_GRID_STRIDE (e, (size_t) n * H * W * CKK)
    {
      /* e = ((b, h, w) row, (co, kh, kw) column): a channels-last index with CKK channels */
      Nhwc x = nhwc_index (e, H, W, (int) CKK);
      int co = x.c / KK, k = x.c - co * KK, kh = k / K, kw = k - kh * K;
      int w = x.x, h = x.y, b = x.b;

      dY[e] = dout[(((size_t) b * Ho + h * K + kh) * Wo + w * K + kw) * Cout + co];
    }
}

extern "C" void
vg_cuda_conv_transpose_forward (float *out, const float *inp, const float *weight,
                                const float *bias, float *scratch, int B, int H, int W,
                                int Cin, int Cout, int K)
{
  int nb = chunk_images (B, H, W, Cout, K);
  int CKK = Cout * K * K;

  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = B - b0 < nb ? B - b0 : nb;
      int rows = n * H * W;
      float *Y = scratch; /* (rows, Cout*K*K) */

      gemm (false, false, rows, CKK, Cin, 1.0f, inp + (size_t) b0 * H * W * Cin, Cin, weight,
            CKK, 0.0f, Y, CKK);
      scatter_kernel<<<blocks_for ((size_t) rows * CKK), THREADS, 0, g.stream>>> (
        out + (size_t) b0 * H * K * W * K * Cout, Y, bias, n, H, W, Cout, K);
    }
  check_launch ("conv_transpose_forward");
}

extern "C" void
vg_cuda_conv_transpose_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                                 const float *inp, const float *weight, float *scratch, int B,
                                 int H, int W, int Cin, int Cout, int K)
{
  int nb = chunk_images (B, H, W, Cout, K);
  int CKK = Cout * K * K;

  /* dbias: the column sums of dout over its pixels, as a linear layer's */
  if (dbias != NULL)
    bias_backward (dbias, dout, B * H * K * W * K, Cout);

  if (dinp != NULL || dweight != NULL)
    for (int b0 = 0; b0 < B; b0 += nb)
      {
        int n = B - b0 < nb ? B - b0 : nb;
        int rows = n * H * W;
        float *dY = scratch; /* (rows, Cout*K*K) */

        gather_kernel<<<blocks_for ((size_t) rows * CKK), THREADS, 0, g.stream>>> (
          dY, dout + (size_t) b0 * H * K * W * K * Cout, n, H, W, Cout, K);
        /* dinp (rows, Cin) = dY (rows, CKK) @ weight^T (CKK, Cin) */
        if (dinp != NULL)
          gemm (false, true, rows, Cin, CKK, 1.0f, dY, CKK, weight, CKK, 0.0f,
                dinp + (size_t) b0 * H * W * Cin, Cin);
        /* dweight (Cin, CKK) += inp^T (Cin, rows) @ dY (rows, CKK) */
        if (dweight != NULL)
          gemm (true, false, Cin, CKK, rows, 1.0f, inp + (size_t) b0 * H * W * Cin, Cin, dY,
                CKK, 1.0f, dweight, CKK);
      }
  check_launch ("conv_transpose_backward");
}
