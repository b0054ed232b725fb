/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Max pooling and adaptive average pooling on the GPU, channels-last, mirroring nn/pool.c:
 * inp (B, H, W, C) -> out (B, Ho, Wo, C).
 *
 * Max pooling: K x K windows at stride S, no padding, Ho = (H - K) / S + 1; each output is its
 * window's maximum. The backward finds each window's first maximum again (row-major order,
 * the first input equal to the output), so nothing is saved.
 * Adaptive average pooling: PyTorch's bins, output row i averaging input rows
 * floor(i H / Ho) .. ceil((i + 1) H / Ho) - 1, likewise columns; bins may overlap.
 *
 * Both backwards are gathers: a thread per input element sums, in (oh, ow) order, over the
 * few outputs whose window or bin holds it (the CPU's own index arithmetic,
 * vg-pool-shape.h). Deterministic, no atomics.
 *
 * Gradient rule: activation gradients overwrite (=); these layers have no parameters. */
#include "common.cuh"
#include "vg-pool-shape.h"

using namespace vgc;

struct PoolShape
{
  int B, H, W, C, Ho, Wo, K, S; /* K, S: max pooling only */
};

/* ---- max pooling ------------------------------------------------------------------------ */

static __global__ void
maxpool_forward_kernel (float *out, const float *inp, PoolShape z)
{
  VGC_GRID_STRIDE (e, (size_t) z.B * z.Ho * z.Wo * z.C)
    {
      Nhwc o = nhwc_index (e, z.Ho, z.Wo, z.C);
      const float *win = inp + (((size_t) o.b * z.H + o.y * z.S) * z.W + o.x * z.S) * z.C + o.c;
      float m = win[0];

      for (int kh = 0; kh < z.K; kh++)
        for (int kw = 0; kw < z.K; kw++)
          {
            float v = win[((size_t) kh * z.W + kw) * z.C];
            if (v > m || v != v) /* a NaN wins, as on the CPU */
              m = v;
          }
      out[e] = m;
    }
}

/* The window position (kh * K + kw) of the first input of output o's window equal to the
 * output m (a NaN matching a NaN), -1 when none is. */
__device__ static inline int
first_max (const float *inp, float m, Nhwc o, const PoolShape &z)
{
  const float *win = inp + (((size_t) o.b * z.H + o.y * z.S) * z.W + o.x * z.S) * z.C + o.c;

  for (int kh = 0; kh < z.K; kh++)
    for (int kw = 0; kw < z.K; kw++)
      {
        float v = win[((size_t) kh * z.W + kw) * z.C];
        if (v == m || (v != v && m != m))
          return kh * z.K + kw;
      }
  return -1;
}

static __global__ void
maxpool_backward_kernel (float *dinp, const float *dout, const float *inp, const float *out,
                         PoolShape z)
{
  VGC_GRID_STRIDE (e, (size_t) z.B * z.H * z.W * z.C)
    {
      Nhwc i = nhwc_index (e, z.H, z.W, z.C);
      int oh_lo, oh_hi, ow_lo, ow_hi;
      float s = 0.0f;

      vg_maxpool_windows (i.y, z.K, z.S, z.Ho, &oh_lo, &oh_hi);
      vg_maxpool_windows (i.x, z.K, z.S, z.Wo, &ow_lo, &ow_hi);
      for (int oh = oh_lo; oh <= oh_hi; oh++)
        for (int ow = ow_lo; ow <= ow_hi; ow++)
          {
            size_t oe = (((size_t) i.b * z.Ho + oh) * z.Wo + ow) * z.C + i.c;
            Nhwc o = { i.b, oh, ow, i.c };
            if (first_max (inp, out[oe], o, z) == (i.y - oh * z.S) * z.K + (i.x - ow * z.S))
              s += dout[oe];
          }
      dinp[e] = s;
    }
}

/* Max pooling's shape; no outputs along a dimension shorter than the window. */
static PoolShape
maxpool_shape (int B, int H, int W, int C, int K, int S)
{
  return PoolShape { B, H, W, C, H < K ? 0 : (H - K) / S + 1, W < K ? 0 : (W - K) / S + 1, K, S };
}

extern "C" void
vg_cuda_maxpool2d_forward (float *out, const float *inp, int B, int H, int W, int C, int K,
                           int S)
{
  PoolShape z = maxpool_shape (B, H, W, C, K, S);

  elementwise_run ("maxpool2d_forward", maxpool_forward_kernel, (size_t) B * z.Ho * z.Wo * C,
                   out, inp, z);
}

extern "C" void
vg_cuda_maxpool2d_backward (float *dinp, const float *dout, const float *inp, const float *out,
                            int B, int H, int W, int C, int K, int S)
{
  PoolShape z = maxpool_shape (B, H, W, C, K, S);

  elementwise_run ("maxpool2d_backward", maxpool_backward_kernel, (size_t) B * H * W * C, dinp,
                   dout, inp, out, z);
}

/* ---- adaptive average pooling ------------------------------------------------------------ */

static __global__ void
avgpool_forward_kernel (float *out, const float *inp, PoolShape z)
{
  VGC_GRID_STRIDE (e, (size_t) z.B * z.Ho * z.Wo * z.C)
    {
      Nhwc o = nhwc_index (e, z.Ho, z.Wo, z.C);
      int h0, h1, w0, w1;
      float s = 0.0f;

      vg_adaptive_bin (o.y, z.H, z.Ho, &h0, &h1);
      vg_adaptive_bin (o.x, z.W, z.Wo, &w0, &w1);
      for (int ih = h0; ih < h1; ih++)
        for (int iw = w0; iw < w1; iw++)
          s += inp[(((size_t) o.b * z.H + ih) * z.W + iw) * z.C + o.c];
      out[e] = s / (float) ((h1 - h0) * (w1 - w0));
    }
}

static __global__ void
avgpool_backward_kernel (float *dinp, const float *dout, PoolShape z)
{
  VGC_GRID_STRIDE (e, (size_t) z.B * z.H * z.W * z.C)
    {
      Nhwc i = nhwc_index (e, z.H, z.W, z.C);
      int oh_lo, oh_hi, ow_lo, ow_hi;
      float s = 0.0f;

      vg_adaptive_outputs (i.y, z.H, z.Ho, &oh_lo, &oh_hi);
      vg_adaptive_outputs (i.x, z.W, z.Wo, &ow_lo, &ow_hi);
      for (int oh = oh_lo; oh <= oh_hi; oh++)
        for (int ow = ow_lo; ow <= ow_hi; ow++)
          {
            int h0, h1, w0, w1;
            vg_adaptive_bin (oh, z.H, z.Ho, &h0, &h1);
            vg_adaptive_bin (ow, z.W, z.Wo, &w0, &w1);
            s += dout[(((size_t) i.b * z.Ho + oh) * z.Wo + ow) * z.C + i.c]
                 / (float) ((h1 - h0) * (w1 - w0));
          }
      dinp[e] = s;
    }
}

extern "C" void
vg_cuda_adaptive_avgpool_forward (float *out, const float *inp, int B, int H, int W, int C,
                                  int Ho, int Wo)
{
  PoolShape z = { B, H, W, C, Ho, Wo, 0, 0 };

  elementwise_run ("adaptive_avgpool_forward", avgpool_forward_kernel,
                   (size_t) B * Ho * Wo * C, out, inp, z);
}

extern "C" void
vg_cuda_adaptive_avgpool_backward (float *dinp, const float *dout, int B, int H, int W, int C,
                                   int Ho, int Wo)
{
  PoolShape z = { B, H, W, C, Ho, Wo, 0, 0 };

  elementwise_run ("adaptive_avgpool_backward", avgpool_backward_kernel,
                   (size_t) B * H * W * C, dinp, dout, z);
}
