/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Transposed convolution with kernel == stride K and no padding, channels-last:
 * inp (B, H, W, Cin) -> out (B, H*K, W*K, Cout), weight (Cin, Cout, K, K) as in PyTorch,
 * bias (Cout). With kernel == stride the K x K output blocks of the input pixels do not
 * overlap, so the layer is one GEMM, Y (rows, K*K*Cout) = inp (rows, Cin) @ Wp (Cin,
 * K*K*Cout), whose rows are then scattered to their output pixels. Wp is the weight with
 * its columns in the order (kh, kw, co): a row of Y is then K runs of K*Cout floats, each
 * one contiguous run of an output row (h*K + kh, from column w*K), so the scatter and the
 * backward's gather copy runs. In PyTorch's order (co, kh, kw) they moved one float at a
 * time: seed's head (19 -> 19, K = 4, 64x64 -> 256x256, batch 8) took 6 ms forward and
 * 23 backward, of which the matrix products were under half. Y's rows are padded to a
 * multiple of 16 floats with zero columns of Wp (DeepLabV3+'s 19 -> 19, K = 2: 76 -> 80),
 * the widths the narrow kernels take.
 *
 * Gradient rule: parameter gradients accumulate (+=), activation gradients overwrite (=). */
#include "vg-nn.h"
#include "vg-gemm.h"
#include "vg-gemm-narrow.h"

#include <string.h>

/* Below this many floats of work a thread team costs more than it saves. */
#define PAR_MIN 16384

/* Images per chunk: the chunk's Y stays near 4M floats (16 MiB). Depends on the shape only. */
static int
chunk_images (int B, int H, int W, int Cout, int K)
{
  size_t per_image = (size_t) H * W * Cout * K * K;
  size_t nb = per_image > 0 ? ((size_t) 4 << 20) / per_image : (size_t) B;

  if (nb < 1)
    nb = 1;
  if (nb > (size_t) B)
    nb = (size_t) B;
  return (int) nb;
}

/* Y's row length: Cout K K rounded up to 16 */
static inline int
y_ld (int Cout, int K)
{
  return (Cout * K * K + 15) & ~15;
}

/* Scratch: the chunk's Y, then the reordered weight and the bias of a run (forward) or its
 * gradient (backward). */
size_t
vg_conv_transpose_scratch_floats (int B, int H, int W, int Cin, int Cout, int K)
{
  size_t ld = (size_t) y_ld (Cout, K);

  return (size_t) chunk_images (B, H, W, Cout, K) * H * W * ld + 2 * (size_t) Cin * ld;
}

/* PyTorch's weight index of (ci, co, kh, kw) */
static inline size_t
w_at (int ci, int co, int kh, int kw, int Cout, int K)
{
  return (((size_t) ci * Cout + co) * K + kh) * K + kw;
}

void
vg_conv_transpose_forward (float *out, const float *inp, const float *weight,
                           const float *bias, float *scratch, int B, int H, int W, int Cin,
                           int Cout, int K)
{
  int nb = chunk_images (B, H, W, Cout, K);
  int KC = K * Cout, LD = y_ld (Cout, K);
  int Ho = H * K, Wo = W * K;
  float *Y = scratch;                                        /* (rows, LD) */
  float *wp = scratch + (size_t) nb * H * W * LD;            /* (Cin, LD): (K, K, Cout) */
  float *brun = wp + (size_t) Cin * LD;                      /* (K, Cout): a run's bias */

  for (int ci = 0; ci < Cin; ci++)
    for (int kh = 0; kh < K; kh++)
      for (int kw = 0; kw < K; kw++)
        for (int co = 0; co < Cout; co++)
          wp[(size_t) ci * LD + kh * KC + kw * Cout + co] = weight[w_at (ci, co, kh, kw, Cout,
                                                                        K)];
  for (int ci = 0; ci < Cin; ci++)
    for (int t = K * KC; t < LD; t++)
      wp[(size_t) ci * LD + t] = 0.0f;

  for (int t = 0; t < KC; t++)
    brun[t] = bias != NULL ? bias[t % Cout] : 0.0f;

  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = B - b0 < nb ? B - b0 : nb;
      int rows = n * H * W;

      vg_sgemm_forward (FALSE, FALSE, rows, LD, Cin, 1.0f, inp + (size_t) b0 * H * W * Cin,
                        Cin, wp, LD, 0.0f, Y, LD);

      /* Each thread writes whole output rows: (image, h, kh). */
#pragma omp parallel for collapse(3) schedule(static) if ((size_t) rows * LD > PAR_MIN)
      for (int b = 0; b < n; b++)
        for (int h = 0; h < H; h++)
          for (int kh = 0; kh < K; kh++)
            {
              float *orow = out + ((size_t) (b0 + b) * Ho + h * K + kh) * Wo * Cout;

              for (int w = 0; w < W; w++)
                {
                  const float *y = Y + ((size_t) (b * H + h) * W + w) * LD + kh * KC;
                  float *o = orow + (size_t) w * KC;

#pragma omp simd
                  for (int t = 0; t < KC; t++)
                    o[t] = y[t] + brun[t];
                }
            }
    }
}

void
vg_conv_transpose_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, float *scratch, int B,
                            int H, int W, int Cin, int Cout, int K)
{
  int nb = chunk_images (B, H, W, Cout, K);
  int KC = K * Cout, CKK = K * KC, LD = y_ld (Cout, K);
  int Ho = H * K, Wo = W * K;
  float *dY = scratch;                                  /* (rows, LD): the gathered dout */
  float *wpt = scratch + (size_t) nb * H * W * LD;      /* (LD, Cin): Wp transposed */
  float *dwp = wpt + (size_t) Cin * LD;                 /* (Cin, LD), like Wp */

  /* dbias: the column sums of dout over its pixels, as a linear layer's */
  if (dbias != NULL)
    vg_bias_backward (dbias, dout, B * Ho * Wo, Cout);
  if (dinp == NULL && dweight == NULL)
    return;

  for (int ci = 0; ci < Cin; ci++)
    for (int kh = 0; kh < K; kh++)
      for (int kw = 0; kw < K; kw++)
        for (int co = 0; co < Cout; co++)
          wpt[((size_t) kh * KC + kw * Cout + co) * Cin + ci] = weight[w_at (ci, co, kh, kw,
                                                                             Cout, K)];
  memset (wpt + (size_t) CKK * Cin, 0, sizeof (float) * (LD - CKK) * Cin);
  if (dweight != NULL)
    memset (dwp, 0, sizeof (float) * Cin * LD);

  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = B - b0 < nb ? B - b0 : nb;
      int rows = n * H * W;
      float *dinp_chunk = dinp != NULL ? dinp + (size_t) b0 * H * W * Cin : NULL;

#pragma omp parallel for collapse(2) schedule(static) if ((size_t) rows * LD > PAR_MIN)
      for (int b = 0; b < n; b++)
        for (int h = 0; h < H; h++)
          for (int w = 0; w < W; w++)
            {
              float *dy = dY + ((size_t) (b * H + h) * W + w) * LD;

              for (int kh = 0; kh < K; kh++)
                memcpy (dy + kh * KC,
                        dout + ((size_t) ((b0 + b) * Ho + h * K + kh) * Wo + w * K) * Cout,
                        sizeof (float) * KC);
              for (int t = CKK; t < LD; t++)
                dy[t] = 0.0f;
            }

      /* dinp (rows, Cin) = dY (rows, LD) @ Wp^T (LD, Cin); the narrow kernels take any
       * Cin when every operand is contiguous (vg_sgemm's take multiples of 16) */
      if (dinp_chunk != NULL
          && !(vg_gemm_narrow_enabled ()
               && vg_gemm_narrow_nn (dinp_chunk, dY, wpt, NULL, rows, LD, Cin)))
        vg_sgemm (FALSE, FALSE, rows, Cin, LD, 1.0f, dY, LD, wpt, Cin, 0.0f, dinp_chunk, Cin);
      /* dWp (Cin, LD) += inp^T (Cin, rows) @ dY (rows, LD) */
      if (dweight != NULL)
        vg_sgemm (TRUE, FALSE, Cin, LD, rows, 1.0f, inp + (size_t) b0 * H * W * Cin, Cin, dY,
                  LD, 1.0f, dwp, LD);
    }

  if (dweight != NULL)
    for (int ci = 0; ci < Cin; ci++)
      for (int kh = 0; kh < K; kh++)
        for (int kw = 0; kw < K; kw++)
          for (int co = 0; co < Cout; co++)
            dweight[w_at (ci, co, kh, kw, Cout, K)] += dwp[(size_t) ci * LD + kh * KC
                                                           + kw * Cout + co];
}
