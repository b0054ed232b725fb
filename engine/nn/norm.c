/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Normalisation layers over channels-last rows: inp (Nr, C), Nr rows (tokens or pixels of
 * the whole batch), C channels; weight and bias (C).
 *
 * LayerNorm normalises each row over its C channels; BatchNorm2d normalises each channel
 * over the Nr rows. Both use the biased variance with eps inside the square root, as
 * PyTorch.
 *
 * Per-row work splits the rows among threads. So do LayerNorm's parameter gradients,
 * summed in the same pass as its input gradient: a fixed number of chunks of rows (a
 * function of the row count) each sum their rows, and the chunks' sums are added in chunk
 * order. BatchNorm's per-channel sums over the rows (its statistics and parameter
 * gradients) split the channels instead: each thread takes a
 * contiguous range of channels and walks it in spans of at most CSPAN, so every row yields
 * a contiguous run of floats that the prefetcher can follow (a 16-channel block per row
 * would stride across a page every few rows). Each channel's sum runs over the rows in the
 * same order, float sums of ROW_TILE rows added in double, however the channels are split,
 * so the results do not depend on the thread count.
 *
 * Gradient rule: parameter gradients accumulate (+=), activation gradients overwrite (=). */
#include "vg-nn.h"
#include "vg-norm-stats.h"
#include "vg-simd.h"

#include <glib.h>
#include <math.h>

#include <omp.h>

#define CSPAN 256
#define ROW_TILE 64
#define PAR_MIN 16384 /* below this many floats a thread team costs more than it saves */

static inline int
imin (int a, int b)
{
  return a < b ? a : b;
}

/* This thread's channels [*lo, *hi) of C: a contiguous range, a multiple of 16 wide. */
static inline void
thread_channels (int C, int *lo, int *hi)
{
  int nt = omp_get_num_threads (), t = omp_get_thread_num ();
  int per = ((C + nt - 1) / nt + 15) / 16 * 16;

  *lo = imin (C, t * per);
  *hi = imin (C, *lo + per);
}

/* ---- LayerNorm ---------------------------------------------------------------------------- */

/* Rows [r0, r1) of the LayerNorm forward. */
static SIMD_CLONES void
layernorm_forward_rows (float *out, float *mean, float *rstd, const float *inp,
                        const float *weight, const float *bias, float eps, int r0, int r1,
                        int C)
{
  for (int r = r0; r < r1; r++)
    {
      const float *x = inp + (size_t) r * C;
      float *o = out + (size_t) r * C;
      float m = 0.0f, v = 0.0f;
#pragma omp simd reduction(+ : m)
      for (int c = 0; c < C; c++)
        m += x[c];
      m /= (float) C;
      /* two passes: the variance of values far from zero keeps its digits */
#pragma omp simd reduction(+ : v)
      for (int c = 0; c < C; c++)
        {
          float d = x[c] - m;
          v += d * d;
        }
      v /= (float) C;
      float s = 1.0f / sqrtf (v + eps);
#pragma omp simd
      for (int c = 0; c < C; c++)
        o[c] = (x[c] - m) * s * weight[c] + bias[c];
      if (mean != NULL)
        mean[r] = m;
      if (rstd != NULL)
        rstd[r] = s;
    }
}

/* mean and rstd (Nr) may be NULL in inference, where the backward will not run. */
void
vg_layernorm_forward (float *out, float *mean, float *rstd, const float *inp,
                      const float *weight, const float *bias, float eps, int Nr, int C)
{
#pragma omp parallel for schedule(static) if ((size_t) Nr * C > PAR_MIN)
  for (int r0 = 0; r0 < Nr; r0 += ROW_TILE)
    layernorm_forward_rows (out, mean, rstd, inp, weight, bias, eps, r0, imin (Nr, r0 + ROW_TILE),
                            C);
}

/* Chunks of rows for the LayerNorm backward's parameter sums: each chunk sums its rows, and
 * the chunks' sums are added in chunk order. A function of the row count only. */
static inline int
layernorm_chunks (int Nr)
{
  return imin (Nr, 32);
}

/* Rows [r0, r1): dinp (if wanted), and the sums over these rows of dout * xhat into pw and
 * of dout into pb (C each; float sums of ROW_TILE rows added in double), in one pass. No
 * multiply-adds: dout * weight - mean(dout * weight) must cancel to 0 where it should (one
 * channel), not leave the rounding of the product that a fused multiply-add keeps. */
static SIMD_CLONES NO_FP_CONTRACT void
layernorm_backward_rows (float *dinp, double *pw, double *pb, float *tw, float *tb,
                         const float *dout, const float *inp, const float *weight,
                         const float *mean, const float *rstd, int r0, int r1, int C)
{
  for (int c = 0; c < C; c++)
    pw[c] = pb[c] = 0.0;
  for (int t0 = r0; t0 < r1; t0 += ROW_TILE)
    {
      for (int c = 0; c < C; c++)
        tw[c] = tb[c] = 0.0f;
      for (int r = t0; r < imin (r1, t0 + ROW_TILE); r++)
        {
          const float *x = inp + (size_t) r * C;
          const float *dy = dout + (size_t) r * C;
          float m = mean[r], s = rstd[r];
          float g_mean = 0.0f, gx_mean = 0.0f;
#pragma omp simd reduction(+ : g_mean, gx_mean)
          for (int c = 0; c < C; c++)
            {
              float xhat = (x[c] - m) * s, g = dy[c] * weight[c];
              g_mean += g;
              gx_mean += g * xhat;
              tw[c] += dy[c] * xhat;
              tb[c] += dy[c];
            }
          if (dinp == NULL)
            continue;
          float *dx = dinp + (size_t) r * C;
          g_mean /= (float) C;
          gx_mean /= (float) C;
#pragma omp simd
          for (int c = 0; c < C; c++)
            dx[c] = (dy[c] * weight[c] - g_mean - (x[c] - m) * s * gx_mean) * s;
        }
      for (int c = 0; c < C; c++)
        {
          pw[c] += tw[c];
          pb[c] += tb[c];
        }
    }
}

void
vg_layernorm_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                       const float *inp, const float *weight, const float *mean,
                       const float *rstd, int Nr, int C)
{
  /* dinp = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dout * weight */
  if (dweight == NULL && dbias == NULL)
    {
      if (dinp == NULL)
        return;
#pragma omp parallel for schedule(static) if ((size_t) Nr * C > PAR_MIN)
      for (int r = 0; r < Nr; r++)
        {
          const float *x = inp + (size_t) r * C;
          const float *dy = dout + (size_t) r * C;
          float *dx = dinp + (size_t) r * C;
          float m = mean[r], s = rstd[r];
          float g_mean = 0.0f, gx_mean = 0.0f;
#pragma omp simd reduction(+ : g_mean, gx_mean)
          for (int c = 0; c < C; c++)
            {
              float g = dy[c] * weight[c];
              g_mean += g;
              gx_mean += g * (x[c] - m) * s;
            }
          g_mean /= (float) C;
          gx_mean /= (float) C;
#pragma omp simd
          for (int c = 0; c < C; c++)
            dx[c] = (dy[c] * weight[c] - g_mean - (x[c] - m) * s * gx_mean) * s;
        }
      return;
    }
  /* dweight += sum_r dout * xhat, dbias += sum_r dout: each chunk of rows computes its dinp
   * rows and its partial sums in the same pass over dout and inp */
  int nch = layernorm_chunks (Nr);
  double *part = g_new (double, (size_t) nch * 2 * C);
  float *tiles = g_new (float, (size_t) nch * 2 * C);

#pragma omp parallel for schedule(static) if ((size_t) Nr * C > PAR_MIN)
  for (int ch = 0; ch < nch; ch++)
    layernorm_backward_rows (dinp, part + (size_t) ch * 2 * C, part + ((size_t) ch * 2 + 1) * C,
                             tiles + (size_t) ch * 2 * C, tiles + ((size_t) ch * 2 + 1) * C,
                             dout, inp, weight, mean, rstd, (int) ((long) Nr * ch / nch),
                             (int) ((long) Nr * (ch + 1) / nch), C);
  for (int c = 0; c < C; c++)
    {
      double sw = 0.0, sb = 0.0;

      for (int ch = 0; ch < nch; ch++)
        {
          sw += part[(size_t) ch * 2 * C + c];
          sb += part[((size_t) ch * 2 + 1) * C + c];
        }
      if (dweight != NULL)
        dweight[c] += (float) sw;
      if (dbias != NULL)
        dbias[c] += (float) sb;
    }
  g_free (part);
  g_free (tiles);
}

/* ---- BatchNorm2d -------------------------------------------------------------------------- */

/* Channels [c0, c0 + cn) of the statistics' sums: sum of x - shift and of (x - shift)^2
 * over the Nr rows, float sums of ROW_TILE rows added in double. */
static SIMD_CLONES void
span_sums (double *sum, double *sq, const float *inp, const float *shift, int c0, int cn,
           int Nr, int C)
{
  for (int c = 0; c < cn; c++)
    sum[c] = sq[c] = 0.0;
  for (int r0 = 0; r0 < Nr; r0 += ROW_TILE)
    {
      float ts[CSPAN], tq[CSPAN];
      for (int c = 0; c < cn; c++)
        ts[c] = tq[c] = 0.0f;
      for (int r = r0; r < imin (Nr, r0 + ROW_TILE); r++)
        {
          const float *x = inp + (size_t) r * C + c0;
#pragma omp simd
          for (int c = 0; c < cn; c++)
            {
              float d = x[c] - shift[c];
              ts[c] += d;
              tq[c] += d * d;
            }
        }
      for (int c = 0; c < cn; c++)
        {
          sum[c] += ts[c];
          sq[c] += tq[c];
        }
    }
}

static SIMD_CLONES void
normalize_rows (float *out, const float *inp, const float *mean, const float *rstd,
                const float *weight, const float *bias, int r0, int r1, int C)
{
  for (int r = r0; r < r1; r++)
    {
      const float *x = inp + (size_t) r * C;
      float *o = out + (size_t) r * C;
#pragma omp simd
      for (int c = 0; c < C; c++)
        o[c] = (x[c] - mean[c]) * rstd[c] * weight[c] + bias[c];
    }
}

void
vg_batchnorm_normalize (float *out, const float *inp, const float *mean, const float *rstd,
                        const float *weight, const float *bias, int Nr, int C)
{
#pragma omp parallel for schedule(static) if ((size_t) Nr * C > PAR_MIN)
  for (int r0 = 0; r0 < Nr; r0 += ROW_TILE)
    normalize_rows (out, inp, mean, rstd, weight, bias, r0, imin (Nr, r0 + ROW_TILE), C);
}

void
vg_batchnorm_forward_train (float *out, float *mean, float *rstd, float *running_mean,
                            float *running_var, const float *inp, const float *weight,
                            const float *bias, float eps, float momentum, int Nr, int C)
{
  /* Statistics in one sweep: sums of x - shift and (x - shift)^2 with shift = the first
   * row, a value near the mean, so the variance keeps its digits even when the mean dwarfs
   * the spread. */
#pragma omp parallel if ((size_t) Nr * C > PAR_MIN)
  {
    int lo, hi;
    thread_channels (C, &lo, &hi);
    for (int c0 = lo; c0 < hi; c0 += CSPAN)
      {
        int cn = imin (CSPAN, hi - c0);
        double sum[CSPAN], sq[CSPAN];

        span_sums (sum, sq, inp, inp + c0, c0, cn, Nr, C);
        for (int c = 0; c < cn; c++)
          vg_batchnorm_channel_stats (mean, rstd, running_mean, running_var, sum[c], sq[c],
                                      inp[c0 + c], Nr, eps, momentum, c0 + c);
      }
  }
  vg_batchnorm_normalize (out, inp, mean, rstd, weight, bias, Nr, C);
}

void
vg_batchnorm_sums (double *sums, const float *inp, const float *shift, int Nr, int C)
{
#pragma omp parallel if ((size_t) Nr * C > PAR_MIN)
  {
    int lo, hi;
    thread_channels (C, &lo, &hi);
    for (int c0 = lo; c0 < hi; c0 += CSPAN)
      span_sums (sums + c0, sums + C + c0, inp, shift + c0, c0, imin (CSPAN, hi - c0), Nr, C);
  }
  sums[2 * C] = Nr;
}

void
vg_batchnorm_stats (float *mean, float *rstd, float *running_mean, float *running_var,
                    const double *sums, const float *shift, float eps, float momentum, int C)
{
  for (int c = 0; c < C; c++)
    vg_batchnorm_channel_stats (mean, rstd, running_mean, running_var, sums[c], sums[C + c],
                                shift[c], sums[2 * C], eps, momentum, c);
}

/* Channels [c0, c0 + cn) of the inference BatchNorm, x * scale + shift, over all rows. */
static SIMD_CLONES void
eval_span (float *out, const float *inp, const float *scale, const float *shift, int c0, int cn,
           int Nr, int C)
{
  for (int r = 0; r < Nr; r++)
    {
      const float *x = inp + (size_t) r * C + c0;
      float *o = out + (size_t) r * C + c0;
#pragma omp simd
      for (int c = 0; c < cn; c++)
        o[c] = x[c] * scale[c] + shift[c];
    }
}

void
vg_batchnorm_forward_eval (float *out, const float *inp, const float *weight,
                           const float *bias, const float *running_mean,
                           const float *running_var, float eps, int Nr, int C)
{
#pragma omp parallel if ((size_t) Nr * C > PAR_MIN)
  {
    int lo, hi;
    thread_channels (C, &lo, &hi);
    for (int c0 = lo; c0 < hi; c0 += CSPAN)
      {
        int cn = imin (CSPAN, hi - c0);
        float scale[CSPAN], shift[CSPAN];
        for (int c = 0; c < cn; c++)
          {
            scale[c] = weight[c0 + c] / sqrtf (running_var[c0 + c] + eps);
            shift[c] = bias[c0 + c] - running_mean[c0 + c] * scale[c];
          }
        eval_span (out, inp, scale, shift, c0, cn, Nr, C);
      }
  }
}

void
vg_batchnorm_fold (float *fweight, float *fbias, const float *weight, const float *bias,
                   const float *bn_weight, const float *bn_bias, const float *running_mean,
                   const float *running_var, float eps, int Cout, size_t per)
{
#pragma omp parallel for schedule(static) if ((size_t) Cout * per > PAR_MIN)
  for (int c = 0; c < Cout; c++)
    {
      /* the scale and shift of vg_batchnorm_forward_eval, in the same arithmetic */
      float scale = bn_weight[c] / sqrtf (running_var[c] + eps);
      float shift = bn_bias[c] - running_mean[c] * scale;
      const float *w = weight + (size_t) c * per;
      float *f = fweight + (size_t) c * per;

#pragma omp simd
      for (size_t k = 0; k < per; k++)
        f[k] = w[k] * scale;
      fbias[c] = (bias != NULL ? bias[c] * scale : 0.0f) + shift;
    }
}

/* The training-mode backward: the batch statistics depend on every input, hence
 * dinp = weight * rstd * (dout - mean(dout) - xhat * mean(dout * xhat)), means over rows.
 * Each channel span first sums over the rows, then writes its part of dinp. */

/* Channels [c0, c0 + cn): sum of dout and of dout * xhat over the rows. */
static SIMD_CLONES void
span_backward_sums (double *sum_dy, double *sum_dyx, const float *dout, const float *inp,
                    const float *m, const float *s, int c0, int cn, int Nr, int C)
{
  for (int c = 0; c < cn; c++)
    sum_dy[c] = sum_dyx[c] = 0.0;
  for (int r0 = 0; r0 < Nr; r0 += ROW_TILE)
    {
      float ta[CSPAN], tb[CSPAN];
      for (int c = 0; c < cn; c++)
        ta[c] = tb[c] = 0.0f;
      for (int r = r0; r < imin (Nr, r0 + ROW_TILE); r++)
        {
          const float *x = inp + (size_t) r * C + c0;
          const float *dy = dout + (size_t) r * C + c0;
#pragma omp simd
          for (int c = 0; c < cn; c++)
            {
              ta[c] += dy[c];
              tb[c] += dy[c] * ((x[c] - m[c]) * s[c]);
            }
        }
      for (int c = 0; c < cn; c++)
        {
          sum_dy[c] += ta[c];
          sum_dyx[c] += tb[c];
        }
    }
}

/* Channels [c0, c0 + cn) of dinp from the sums over n rows (of all processes). */
static SIMD_CLONES void
span_dinp (float *dinp, const float *dout, const float *inp, const float *weight,
           const float *m, const float *s, const double *sum_dy, const double *sum_dyx,
           double n, int c0, int cn, int Nr, int C)
{
  float k[CSPAN], dy_mean[CSPAN], dyx_mean[CSPAN];

  for (int c = 0; c < cn; c++)
    {
      k[c] = weight[c0 + c] * s[c];
      dy_mean[c] = (float) (sum_dy[c] / n);
      dyx_mean[c] = (float) (sum_dyx[c] / n);
    }
  for (int r = 0; r < Nr; r++)
    {
      const float *x = inp + (size_t) r * C + c0;
      const float *dy = dout + (size_t) r * C + c0;
      float *dx = dinp + (size_t) r * C + c0;
#pragma omp simd
      for (int c = 0; c < cn; c++)
        dx[c] = k[c] * (dy[c] - dy_mean[c] - (x[c] - m[c]) * s[c] * dyx_mean[c]);
    }
}

void
vg_batchnorm_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                       const float *inp, const float *weight, const float *mean,
                       const float *rstd, int Nr, int C)
{
#pragma omp parallel if ((size_t) Nr * C > PAR_MIN)
  {
    int lo, hi;
    thread_channels (C, &lo, &hi);
    for (int c0 = lo; c0 < hi; c0 += CSPAN)
      {
        int cn = imin (CSPAN, hi - c0);
        double sum_dy[CSPAN], sum_dyx[CSPAN];

        span_backward_sums (sum_dy, sum_dyx, dout, inp, mean + c0, rstd + c0, c0, cn, Nr, C);
        for (int c = 0; c < cn; c++)
          {
            if (dbias != NULL)
              dbias[c0 + c] += (float) sum_dy[c];
            if (dweight != NULL)
              dweight[c0 + c] += (float) sum_dyx[c];
          }
        if (dinp != NULL)
          span_dinp (dinp, dout, inp, weight, mean + c0, rstd + c0, sum_dy, sum_dyx, Nr, c0,
                     cn, Nr, C);
      }
  }
}

void
vg_batchnorm_backward_sums (double *sums, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *mean, const float *rstd, int Nr,
                            int C)
{
#pragma omp parallel if ((size_t) Nr * C > PAR_MIN)
  {
    int lo, hi;
    thread_channels (C, &lo, &hi);
    for (int c0 = lo; c0 < hi; c0 += CSPAN)
      span_backward_sums (sums + c0, sums + C + c0, dout, inp, mean + c0, rstd + c0, c0,
                          imin (CSPAN, hi - c0), Nr, C);
  }
  for (int c = 0; c < C; c++)
    {
      dbias[c] += (float) sums[c];
      dweight[c] += (float) sums[C + c];
    }
  sums[2 * C] = Nr;
}

void
vg_batchnorm_backward_dinp (float *dinp, const float *dout, const float *inp,
                            const float *weight, const float *mean, const float *rstd,
                            const double *sums, int Nr, int C)
{
#pragma omp parallel if ((size_t) Nr * C > PAR_MIN)
  {
    int lo, hi;
    thread_channels (C, &lo, &hi);
    for (int c0 = lo; c0 < hi; c0 += CSPAN)
      span_dinp (dinp, dout, inp, weight, mean + c0, rstd + c0, sums + c0, sums + C + c0,
                 sums[2 * C], c0, imin (CSPAN, hi - c0), Nr, C);
  }
}
