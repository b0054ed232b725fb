/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Linear layer: out (Nr, Cout) = inp (Nr, Cin) @ weight^T + bias, weight (Cout, Cin) as in
 * PyTorch. Nr rows (tokens of a batch), Cin and Cout channels.
 *
 * Gradient rule: parameter gradients accumulate (+=), activation gradients overwrite (=). */
#include "vg-nn.h"
#include "vg-gemm.h"
#include "vg-gemm-narrow.h"

#include <omp.h>

#define CSPAN 256
#define ROW_TILE 64

/* dbias (C) += column sums of dout (Nr, C): the bias gradient (vg-nn.h). Each thread
 * takes a contiguous range of channels and walks it in spans of at most CSPAN, so every row
 * yields a contiguous run the prefetcher can follow; each column's sum runs over the rows
 * in the same order (float sums of ROW_TILE rows, added in double) however the channels
 * are split, so the result does not depend on the thread count. */
void
vg_bias_backward (float *dbias, const float *dout, int Nr, int C)
{
#pragma omp parallel if ((size_t) Nr * C > 65536)
  {
    int nt = omp_get_num_threads (), t = omp_get_thread_num ();
    int per = ((C + nt - 1) / nt + 15) / 16 * 16;
    int lo = t * per < C ? t * per : C;
    int hi = C - lo < per ? C : lo + per;

    for (int c0 = lo; c0 < hi; c0 += CSPAN)
      {
        int cn = hi - c0 < CSPAN ? hi - c0 : CSPAN;
        double acc[CSPAN];
        for (int c = 0; c < cn; c++)
          acc[c] = 0.0;
        for (int r0 = 0; r0 < Nr; r0 += ROW_TILE)
          {
            int r1 = Nr - r0 < ROW_TILE ? Nr : r0 + ROW_TILE;
            float tile[CSPAN];
            for (int c = 0; c < cn; c++)
              tile[c] = 0.0f;
            for (int r = r0; r < r1; r++)
              {
                const float *row = dout + (size_t) r * C + c0;
#pragma omp simd
                for (int c = 0; c < cn; c++)
                  tile[c] += row[c];
              }
            for (int c = 0; c < cn; c++)
              acc[c] += tile[c];
          }
        for (int c = 0; c < cn; c++)
          dbias[c0 + c] += (float) acc[c];
      }
  }
}

/* Above this many weights the transposed copy for the narrow path is not worth making. */
#define NARROW_MAX_WEIGHTS (1 << 20)

/* out = inp weight^T + bias, then with relu its ReLU: in the narrow kernels' stores, else
 * in a pass of its own */
static void
linear_forward (float *out, const float *inp, const float *weight, const float *bias, int Nr,
                int Cin, int Cout, int relu)
{
  float beta = 0.0f;

  /* The narrow kernels want the weight as (Cin, Cout): a copy of a few hundred KiB at most. */
  if (vg_gemm_narrow_enabled () && vg_gemm_precision () == VG_PRECISION_FP32
      && (size_t) Cin * Cout <= NARROW_MAX_WEIGHTS)
    {
      float *wt = g_malloc (sizeof (float) * Cin * Cout);

      for (int o = 0; o < Cout; o++)
        for (int i = 0; i < Cin; i++)
          wt[(size_t) i * Cout + o] = weight[(size_t) o * Cin + i];
      if (relu)
        vg_gemm_narrow_nn_relu (out, inp, wt, bias, Nr, Cin, Cout);
      else
        vg_gemm_narrow_nn (out, inp, wt, bias, Nr, Cin, Cout);
      g_free (wt);
      return;
    }

  /* The bias goes in first so the product adds onto it (beta = 1): one pass over out. */
  if (bias != NULL)
    {
#pragma omp parallel for schedule(static) if ((size_t) Nr * Cout > 65536)
      for (int r = 0; r < Nr; r++)
        {
          float *row = out + (size_t) r * Cout;
          for (int o = 0; o < Cout; o++)
            row[o] = bias[o];
        }
      beta = 1.0f;
    }
  vg_sgemm_forward (FALSE, TRUE, Nr, Cout, Cin, 1.0f, inp, Cin, weight, Cin, beta, out, Cout);
  if (relu)
    vg_relu_forward (out, out, (size_t) Nr * Cout);
}

void
vg_linear_forward (float *out, const float *inp, const float *weight, const float *bias,
                   int Nr, int Cin, int Cout)
{
  linear_forward (out, inp, weight, bias, Nr, Cin, Cout, FALSE);
}

void
vg_linear_relu_forward (float *out, const float *inp, const float *weight, const float *bias,
                        int Nr, int Cin, int Cout)
{
  linear_forward (out, inp, weight, bias, Nr, Cin, Cout, TRUE);
}

/* Any of dinp, dweight, dbias may be NULL when that gradient is not wanted. */
void
vg_linear_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                    const float *inp, const float *weight, int Nr, int Cin, int Cout)
{
  /* two products or more: one sweep (a single one runs alone below), where Cout is a
   * multiple of 16: a classifier's 19 ran slower in it (U-Net's 16 -> 19 at 256x256, batch
   * 8: 10.5-11.1 ms against 7.8-8.1 for the products one by one; seed's 256 -> 19 at 64x64
   * the same either way) */
  if (vg_gemm_narrow_enabled () && dweight != NULL && (dinp != NULL || dbias != NULL)
      && Cout % 16 == 0
      && vg_gemm_narrow_linear_backward (dinp, dweight, dbias, dout, inp, weight, Nr, Cin,
                                         Cout))
    return;
  /* dinp (Nr, Cin) = dout (Nr, Cout) @ weight (Cout, Cin) */
  if (dinp != NULL)
    vg_sgemm (FALSE, FALSE, Nr, Cin, Cout, 1.0f, dout, Cout, weight, Cin, 0.0f, dinp, Cin);
  /* dweight (Cout, Cin) += dout^T (Cout, Nr) @ inp (Nr, Cin) */
  if (dweight != NULL)
    vg_sgemm (TRUE, FALSE, Cout, Cin, Nr, 1.0f, dout, Cout, inp, Cin, 1.0f, dweight, Cin);
  if (dbias != NULL)
    vg_bias_backward (dbias, dout, Nr, Cout);
}
