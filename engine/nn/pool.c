/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Pooling, channels-last: inp (B, H, W, C) -> out (B, Ho, Wo, C).
 *
 * Max pooling: K x K windows, stride S, no padding, floor (Ho = (H - K) / S + 1), as
 * torch.nn.MaxPool2d(K, S). A window's maximum is its first largest value in row-major order
 * (later equal values do not replace it) and a NaN wins, as PyTorch's CPU kernel. The
 * backward sends each output's gradient to that first maximum, found again from inp and out.
 *
 * Adaptive average pooling, as torch.nn.AdaptiveAvgPool2d((Ho, Wo)): output row i averages
 * input rows floor(i H / Ho) .. ceil((i + 1) H / Ho) - 1, likewise columns; bins overlap
 * where the sizes do not divide (always when Ho > H).
 *
 * Backward passes gather rather than scatter: a thread owns input rows (b, ih), visits the
 * output rows whose windows or bins cover ih, and adds into its own row in (oh, ow) order,
 * so no two threads write one float and the sums do not depend on the thread count.
 *
 * Gradient rule: activation gradients overwrite (=); these layers have no parameters. */
#include "vg-nn.h"

#include <string.h>

#include "vg-pool-shape.h"

/* Below this many floats of work a thread team costs more than it saves. */
#define PAR_MIN 16384

/* Channels are handled in blocks of this many, so that a window's per-channel state (whether
 * its first maximum has been met) lives in a small array on the stack. */
#define CBLOCK 64

/* ---- max pooling ------------------------------------------------------------------------ */

void
vg_maxpool2d_forward (float *out, const float *inp, int B, int H, int W, int C, int K, int S)
{
  int Ho = (H - K) / S + 1, Wo = (W - K) / S + 1;

  if (H < K || W < K)
    return;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t) B * Ho * Wo * C > PAR_MIN)
  for (int b = 0; b < B; b++)
    for (int oh = 0; oh < Ho; oh++)
      for (int ow = 0; ow < Wo; ow++)
        {
          float *o = out + ((size_t) (b * Ho + oh) * Wo + ow) * C;
          const float *x0 = inp + ((size_t) (b * H + oh * S) * W + ow * S) * C;
          memcpy (o, x0, sizeof (float) * C);
          for (int kh = 0; kh < K; kh++)
            for (int kw = kh == 0; kw < K; kw++)
              {
                const float *x = x0 + ((size_t) kh * W + kw) * C;
#pragma omp simd
                for (int c = 0; c < C; c++)
                  o[c] = x[c] > o[c] || x[c] != x[c] ? x[c] : o[c];
              }
        }
}

/* The gradient that row ih (window row kh_ih = ih - oh S) of window (b, oh, ow) receives, for
 * the channels [c0, c0 + n): each channel's first maximum is looked for in the window's rows
 * up to kh_ih; found in row kh_ih, its gradient is added to that input pixel. */
static void
maxpool_window_row (float *drow, const float *dout, const float *inp, const float *out, int b,
                    int oh, int ow, int kh_ih, int c0, int n, int H, int W, int C, int K, int S,
                    int Ho, int Wo)
{
  size_t oi = ((size_t) (b * Ho + oh) * Wo + ow) * C + c0;
  const float *o = out + oi, *g = dout + oi;
  const float *x0 = inp + ((size_t) (b * H + oh * S) * W + ow * S) * C + c0;
  int pending[CBLOCK];

  for (int c = 0; c < n; c++)
    pending[c] = 1;
  for (int kh = 0; kh <= kh_ih; kh++)
    for (int kw = 0; kw < K; kw++)
      {
        const float *x = x0 + ((size_t) kh * W + kw) * C;
        if (kh < kh_ih)
          {
#pragma omp simd
            for (int c = 0; c < n; c++)
              pending[c] &= !(x[c] == o[c] || (x[c] != x[c] && o[c] != o[c]));
            continue;
          }
        float *d = drow + (size_t) (ow * S + kw) * C + c0;
#pragma omp simd
        for (int c = 0; c < n; c++)
          {
            int hit = pending[c] & (x[c] == o[c] || (x[c] != x[c] && o[c] != o[c]));
            /* d += hit ? g : 0 as an integer mask, which vectorises where a float ?: does not */
            uint32_t bits;
            float add;
            memcpy (&bits, &g[c], sizeof bits);
            bits &= -(uint32_t) hit;
            memcpy (&add, &bits, sizeof add);
            d[c] += add;
            pending[c] &= !hit;
          }
      }
}

void
vg_maxpool2d_backward (float *dinp, const float *dout, const float *inp, const float *out,
                       int B, int H, int W, int C, int K, int S)
{
  int Ho = H < K ? 0 : (H - K) / S + 1, Wo = W < K ? 0 : (W - K) / S + 1;

#pragma omp parallel for collapse(2) schedule(static) if ((size_t) B * H * W * C > PAR_MIN)
  for (int b = 0; b < B; b++)
    for (int ih = 0; ih < H; ih++)
      {
        float *drow = dinp + (size_t) (b * H + ih) * W * C;
        int oh0, oh1;

        vg_maxpool_windows (ih, K, S, Ho, &oh0, &oh1);
        memset (drow, 0, sizeof (float) * W * C);
        for (int oh = oh0; oh <= oh1; oh++)
          for (int ow = 0; ow < Wo; ow++)
            for (int c0 = 0; c0 < C; c0 += CBLOCK)
              maxpool_window_row (drow, dout, inp, out, b, oh, ow, ih - oh * S, c0,
                                  C - c0 < CBLOCK ? C - c0 : CBLOCK, H, W, C, K, S, Ho, Wo);
      }
}

/* ---- adaptive average pooling ----------------------------------------------------------- */

void
vg_adaptive_avgpool_forward (float *out, const float *inp, int B, int H, int W, int C, int Ho,
                             int Wo)
{
#pragma omp parallel for collapse(2) schedule(static) if ((size_t) B * H * W * C > PAR_MIN)
  for (int b = 0; b < B; b++)
    for (int oh = 0; oh < Ho; oh++)
      {
        int h0, h1;
        vg_adaptive_bin (oh, H, Ho, &h0, &h1);
        for (int ow = 0; ow < Wo; ow++)
          {
            int w0, w1;
            vg_adaptive_bin (ow, W, Wo, &w0, &w1);
            float *o = out + ((size_t) (b * Ho + oh) * Wo + ow) * C;
            float count = (float) ((h1 - h0) * (w1 - w0));
            memset (o, 0, sizeof (float) * C);
            for (int ih = h0; ih < h1; ih++)
              for (int iw = w0; iw < w1; iw++)
                {
                  const float *x = inp + ((size_t) (b * H + ih) * W + iw) * C;
#pragma omp simd
                  for (int c = 0; c < C; c++)
                    o[c] += x[c];
                }
#pragma omp simd
            for (int c = 0; c < C; c++)
              o[c] /= count;
          }
      }
}

void
vg_adaptive_avgpool_backward (float *dinp, const float *dout, int B, int H, int W, int C,
                              int Ho, int Wo)
{
#pragma omp parallel for collapse(2) schedule(static) if ((size_t) B * H * W * C > PAR_MIN)
  for (int b = 0; b < B; b++)
    for (int ih = 0; ih < H; ih++)
      {
        float *drow = dinp + (size_t) (b * H + ih) * W * C;
        int oh0, oh1;

        vg_adaptive_outputs (ih, H, Ho, &oh0, &oh1);
        memset (drow, 0, sizeof (float) * W * C);
        for (int oh = oh0; oh <= oh1; oh++)
          {
            int h0, h1;
            vg_adaptive_bin (oh, H, Ho, &h0, &h1);
            for (int ow = 0; ow < Wo; ow++)
              {
                int w0, w1;
                vg_adaptive_bin (ow, W, Wo, &w0, &w1);
                const float *g = dout + ((size_t) (b * Ho + oh) * Wo + ow) * C;
                float count = (float) ((h1 - h0) * (w1 - w0));
                for (int iw = w0; iw < w1; iw++)
                  {
                    float *d = drow + (size_t) iw * C;
#pragma omp simd
                    for (int c = 0; c < C; c++)
                      d[c] += g[c] / count;
                  }
              }
          }
      }
}
