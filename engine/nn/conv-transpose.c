/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Transposed convolution with kernel == stride K and no padding, channels-last:
 * inp (B, H, W, Cin) -> out (B, H*K, W*K, Cout), weight (Cin, Cout, K, K) as in PyTorch,
 * bias (Cout). With kernel == stride the K x K output blocks of the input pixels do not
 * overlap, so the layer is one GEMM, Y (rows, Cout*K*K) = inp (rows, Cin) @ weight viewed as
 * (Cin, Cout*K*K), whose columns (co, kh, kw) are then scattered to their output pixels.
 *
 * Gradient rule: parameter gradients accumulate (+=), activation gradients overwrite (=). */
#include "vg-nn.h"
#include "vg-gemm.h"


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

size_t
vg_conv_transpose_scratch_floats (int B, int H, int W, int Cin, int Cout, int K)
{
  return (size_t) chunk_images (B, H, W, Cout, K) * H * W * Cout * K * K;
}

void
vg_conv_transpose_forward (float *out, const float *inp, const float *weight,
                           const float *bias, float *scratch, int B, int H, int W, int Cin,
                           int Cout, int K)
{
  int nb = chunk_images (B, H, W, Cout, K);
  int KK = K * K;
  int CKK = Cout * KK;
  int Ho = H * K, Wo = W * K;

  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = B - b0 < nb ? B - b0 : nb;
      int rows = n * H * W;
      float *Y = scratch; /* (rows, Cout*K*K) */

      vg_sgemm_forward (FALSE, FALSE, rows, CKK, Cin, 1.0f, inp + (size_t) b0 * H * W * Cin,
                        Cin, weight, CKK, 0.0f, Y, CKK);

      /* Each thread writes whole output rows: (image, h, kh). */
#pragma omp parallel for collapse(3) schedule(static) if ((size_t) rows * CKK > PAR_MIN)
      for (int b = 0; b < n; b++)
        for (int h = 0; h < H; h++)
          for (int kh = 0; kh < K; kh++)
            {
              float *orow = out + ((size_t) (b0 + b) * Ho + h * K + kh) * Wo * Cout;
              for (int w = 0; w < W; w++)
                {
                  const float *y = Y + ((size_t) (b * H + h) * W + w) * CKK + kh * K;
                  for (int kw = 0; kw < K; kw++)
                    {
                      float *o = orow + (size_t) (w * K + kw) * Cout;
                      for (int co = 0; co < Cout; co++)
                        o[co] = y[(size_t) co * KK + kw] + (bias != NULL ? bias[co] : 0.0f);
                    }
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
  int KK = K * K;
  int CKK = Cout * KK;
  int Ho = H * K, Wo = W * K;

  /* dbias: the column sums of dout over its pixels, as a linear layer's */
  if (dbias != NULL)
    vg_bias_backward (dbias, dout, B * Ho * Wo, Cout);
  if (dinp == NULL && dweight == NULL)
    return;

  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = B - b0 < nb ? B - b0 : nb;
      int rows = n * H * W;
      float *dY = scratch; /* (rows, Cout*K*K): the gather that inverts the forward scatter */

#pragma omp parallel for collapse(2) schedule(static) if ((size_t) rows * CKK > PAR_MIN)
      for (int b = 0; b < n; b++)
        for (int h = 0; h < H; h++)
          for (int w = 0; w < W; w++)
            {
              float *dy = dY + ((size_t) (b * H + h) * W + w) * CKK;
              for (int kh = 0; kh < K; kh++)
                for (int kw = 0; kw < K; kw++)
                  {
                    const float *g = dout
                                     + ((size_t) ((b0 + b) * Ho + h * K + kh) * Wo + w * K + kw)
                                         * Cout;
                    for (int co = 0; co < Cout; co++)
                      dy[(size_t) co * KK + kh * K + kw] = g[co];
                  }
            }

      /* dinp (rows, Cin) = dY (rows, CKK) @ weight^T (CKK, Cin) */
      if (dinp != NULL)
        vg_sgemm (FALSE, TRUE, rows, Cin, CKK, 1.0f, dY, CKK, weight, CKK, 0.0f,
                  dinp + (size_t) b0 * H * W * Cin, Cin);
      /* dweight (Cin, CKK) += inp^T (Cin, rows) @ dY (rows, CKK) */
      if (dweight != NULL)
        vg_sgemm (TRUE, FALSE, Cin, CKK, rows, 1.0f, inp + (size_t) b0 * H * W * Cin, Cin, dY,
                  CKK, 1.0f, dweight, CKK);
    }
}
