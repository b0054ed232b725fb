/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Normalisation layers on the GPU, mirroring nn/norm.c, over channels-last rows: inp (Nr, C),
 * Nr rows (tokens or pixels of the whole batch), C channels; weight and bias (C). Biased
 * variance with eps inside the square root, as PyTorch.
 *
 * Per-row work (LayerNorm's statistics and its input gradient) takes a warp per row, with
 * butterfly sums. Per-channel sums over the rows (BatchNorm's statistics, every parameter
 * gradient) are the deterministic column reductions of common.cuh, in double like the CPU.
 * No atomics anywhere, so results are reproducible bit for bit.
 *
 * Gradient rule: parameter gradients accumulate (+=), activation gradients overwrite (=). */
#include "common.cuh"
#include "vg-norm-stats.h"

using namespace vgc;

/* ---- LayerNorm ---------------------------------------------------------------------------- */

/* A warp per row; two passes for the variance, as the CPU, so values far from zero keep
 * their digits. mean and rstd (Nr) may be NULL (inference). */
static __global__ void
layernorm_forward_kernel (float *out, float *mean, float *rstd, const float *inp,
                          const float *weight, const float *bias, float eps, int Nr, int C)
{
  int row = (int) ((blockIdx.x * (size_t) blockDim.x + threadIdx.x) / 32);
  int lane = threadIdx.x % 32;

  if (row >= Nr) /* the whole warp leaves together */
    return;
  const float *x = inp + (size_t) row * C;
  float *o = out + (size_t) row * C;
  float m = 0.0f, v = 0.0f;

  for (int c = lane; c < C; c += 32)
    m += x[c];
  m = warp_sum (m) / (float) C;
  for (int c = lane; c < C; c += 32)
    {
      float d = x[c] - m;
      v += d * d;
    }
  v = warp_sum (v) / (float) C;
  float s = 1.0f / sqrtf (v + eps);
  for (int c = lane; c < C; c += 32)
    o[c] = (x[c] - m) * s * weight[c] + bias[c];
  if (lane == 0)
    {
      if (mean != NULL)
        mean[row] = m;
      if (rstd != NULL)
        rstd[row] = s;
    }
}

/* dinp = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dout * weight, a warp per row.
 * Each lane reads back only its own elements after the sums, so dinp may equal dout. */
static __global__ void
layernorm_dinp_kernel (float *dinp, const float *dout, const float *inp, const float *weight,
                       const float *mean, const float *rstd, int Nr, int C)
{
  int row = (int) ((blockIdx.x * (size_t) blockDim.x + threadIdx.x) / 32);
  int lane = threadIdx.x % 32;

  if (row >= Nr)
    return;
  const float *x = inp + (size_t) row * C;
  const float *dy = dout + (size_t) row * C;
  float *dx = dinp + (size_t) row * C;
  float m = mean[row], s = rstd[row];
  float g_mean = 0.0f, gx_mean = 0.0f;

  for (int c = lane; c < C; c += 32)
    {
      float gc = dy[c] * weight[c];
      g_mean += gc;
      gx_mean += gc * (x[c] - m) * s;
    }
  g_mean = warp_sum (g_mean) / (float) C;
  gx_mean = warp_sum (gx_mean) / (float) C;
  for (int c = lane; c < C; c += 32)
    dx[c] = (dy[c] * weight[c] - g_mean - (x[c] - m) * s * gx_mean) * s;
}

namespace
{

/* per element (r, c): dout * xhat (for dweight) and dout (for dbias), xhat from the row's
 * statistics (LayerNorm, PER_ROW) or the channel's batch statistics (BatchNorm) */
template <bool PER_ROW>
struct NormParamTerms
{
  const float *dout, *inp, *mean, *rstd;
  int C;
  __device__ void
  operator() (int r, int c, double *acc) const
  {
    size_t i = (size_t) r * C + c;
    int s = PER_ROW ? r : c;
    float dy = dout[i];

    acc[0] += (double) (dy * ((inp[i] - mean[s]) * rstd[s]));
    acc[1] += (double) dy;
  }
};

struct AddParamGrads
{
  float *dweight, *dbias;
  __device__ void
  operator() (int c, const double *s) const
  {
    if (dweight != NULL)
      dweight[c] += (float) s[0];
    if (dbias != NULL)
      dbias[c] += (float) s[1];
  }
};

} /* namespace */

extern "C" void
vg_cuda_layernorm_forward (float *out, float *mean, float *rstd, const float *inp,
                           const float *weight, const float *bias, float eps, int Nr, int C)
{
  if (Nr > 0)
    layernorm_forward_kernel<<<blocks_for_rows ((size_t) Nr), THREADS, 0, g.stream>>> (
      out, mean, rstd, inp, weight, bias, eps, Nr, C);
  check_launch ("layernorm_forward");
}

extern "C" void
vg_cuda_layernorm_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, const float *mean,
                            const float *rstd, int Nr, int C)
{
  /* the parameter sums read dout, so they go before dinp (which may overwrite it) */
  if (dweight != NULL || dbias != NULL)
    {
      ColsumPlan p = colsum_plan (Nr, C, 2, 0);
      colsum_run<2> (p, NormParamTerms<true> { dout, inp, mean, rstd, C },
                     AddParamGrads { dweight, dbias }, Nr, C);
    }
  if (dinp != NULL && Nr > 0)
    layernorm_dinp_kernel<<<blocks_for_rows ((size_t) Nr), THREADS, 0, g.stream>>> (
      dinp, dout, inp, weight, mean, rstd, Nr, C);
  check_launch ("layernorm_backward");
}

/* ---- BatchNorm2d -------------------------------------------------------------------------- */

namespace
{

/* Statistics in one sweep, as the CPU: sums of x - shift and (x - shift)^2 with shift = the
 * first row (or, synchronised, the running mean), a value near the mean, so the variance
 * keeps its digits even when the mean dwarfs the spread. */
struct ShiftedMoments
{
  const float *inp, *shift;
  int C;
  __device__ void
  operator() (int r, int c, double *acc) const
  {
    float d = inp[(size_t) r * C + c] - shift[c];

    acc[0] += (double) d;
    acc[1] += (double) (d * d);
  }
};

struct BatchStats
{
  float *mean, *rstd, *running_mean, *running_var;
  const float *shift;
  float eps, momentum;
  double Nr;
  __device__ void
  operator() (int c, const double *s) const
  {
    vg_batchnorm_channel_stats (mean, rstd, running_mean, running_var, s[0], s[1], shift[c], Nr,
                                eps, momentum, c);
  }
};

/* Channel c's two sums and the row count into sums (2C + 1), where the dinp pass and the
 * ranks of the synchronised BatchNorm (which add them) read them. */
__device__ static inline void
store_sums (double *sums, int c, double first, double second, int Nr, int C)
{
  sums[c] = first;
  sums[C + c] = second;
  if (c == 0)
    sums[2 * C] = Nr;
}

/* dbias += sum dy, dweight += sum dy xhat; both sums and the row count saved for dinp */
struct BatchNormGradFinish
{
  AddParamGrads add;
  double *sums; /* (2C + 1): sum dy, sum dy xhat, Nr */
  int Nr, C;
  __device__ void
  operator() (int c, const double *s) const
  {
    add (c, s);
    store_sums (sums, c, s[1], s[0], Nr, C);
  }
};

/* the forward's sums and the row count, for the ranks to add (synchronised BatchNorm) */
struct StoreMoments
{
  double *sums; /* (2C + 1): sum d, sum d^2, Nr */
  int Nr, C;
  __device__ void
  operator() (int c, const double *s) const
  {
    store_sums (sums, c, s[0], s[1], Nr, C);
  }
};

} /* namespace */

static __global__ void
batchnorm_apply_kernel (float *out, const float *inp, const float *weight, const float *bias,
                        const float *mean, const float *rstd, size_t Nr, int C)
{
  VGC_GRID_STRIDE (i, Nr * (size_t) C)
    {
      int c = (int) (i % C);
      out[i] = (inp[i] - mean[c]) * rstd[c] * weight[c] + bias[c];
    }
}

static __global__ void
batchnorm_eval_kernel (float *out, const float *inp, const float *weight, const float *bias,
                       const float *running_mean, const float *running_var, float eps,
                       size_t Nr, int C)
{
  VGC_GRID_STRIDE (i, Nr * (size_t) C)
    {
      int c = (int) (i % C);
      float scale = weight[c] / sqrtf (running_var[c] + eps);
      float shift = bias[c] - running_mean[c] * scale;
      out[i] = inp[i] * scale + shift;
    }
}

/* the convolution (Cout, per) with an evaluation-mode BatchNorm folded in (nn/vg-nn.h) */
static __global__ void
batchnorm_fold_kernel (float *fweight, float *fbias, const float *weight, const float *bias,
                       const float *bn_weight, const float *bn_bias, const float *running_mean,
                       const float *running_var, float eps, int Cout, size_t per)
{
  VGC_GRID_STRIDE (i, (size_t) Cout * per)
    {
      int c = (int) (i / per);
      float scale = bn_weight[c] / sqrtf (running_var[c] + eps);

      float shift = bn_bias[c] - running_mean[c] * scale;

      fweight[i] = weight[i] * scale;
      if (i % per == 0)
        fbias[c] = (bias != NULL ? bias[c] * scale : 0.0f) + shift;
    }
}

/* dinp = weight * rstd * (dout - mean(dout) - xhat * mean(dout * xhat)), means over the
 * sums' rows: sums (2C + 1) = sum dout, sum dout xhat, row count */
static __global__ void
batchnorm_dinp_kernel (float *dinp, const float *dout, const float *inp, const float *weight,
                       const float *mean, const float *rstd, const double *sums, size_t Nr,
                       int C)
{
  VGC_GRID_STRIDE (i, Nr * (size_t) C)
    {
      int c = (int) (i % C);
      float s = rstd[c];
      float k = weight[c] * s;
      float dy_mean = (float) (sums[c] / sums[2 * C]);
      float dyx_mean = (float) (sums[C + c] / sums[2 * C]);
      dinp[i] = k * (dout[i] - dy_mean - (inp[i] - mean[c]) * s * dyx_mean);
    }
}

extern "C" void
vg_cuda_batchnorm_forward_train (float *out, float *mean, float *rstd, float *running_mean,
                                 float *running_var, const float *inp, const float *weight,
                                 const float *bias, float eps, float momentum, int Nr, int C)
{
  ColsumPlan p = colsum_plan (Nr, C, 2, 0);

  if (!p.ok || Nr <= 0)
    return;
  colsum_run<2> (p, ShiftedMoments { inp, inp, C },
                 BatchStats { mean, rstd, running_mean, running_var, inp, eps, momentum,
                              (double) Nr },
                 Nr, C);
  batchnorm_apply_kernel<<<blocks_for ((size_t) Nr * C), THREADS, 0, g.stream>>> (
    out, inp, weight, bias, mean, rstd, (size_t) Nr, C);
  check_launch ("batchnorm_forward_train");
}

extern "C" void
vg_cuda_batchnorm_forward_eval (float *out, const float *inp, const float *weight,
                                const float *bias, const float *running_mean,
                                const float *running_var, float eps, int Nr, int C)
{
  batchnorm_eval_kernel<<<blocks_for ((size_t) Nr * C), THREADS, 0, g.stream>>> (
    out, inp, weight, bias, running_mean, running_var, eps, (size_t) Nr, C);
  check_launch ("batchnorm_forward_eval");
}

extern "C" void
vg_cuda_batchnorm_fold (float *fweight, float *fbias, const float *weight, const float *bias,
                        const float *bn_weight, const float *bn_bias, const float *running_mean,
                        const float *running_var, float eps, int Cout, size_t per)
{
  if (Cout <= 0 || per == 0)
    return;
  batchnorm_fold_kernel<<<blocks_for ((size_t) Cout * per), THREADS, 0, g.stream>>> (
    fweight, fbias, weight, bias, bn_weight, bn_bias, running_mean, running_var, eps, Cout,
    per);
  check_launch ("batchnorm_fold");
}

extern "C" void
vg_cuda_batchnorm_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, const float *mean,
                            const float *rstd, int Nr, int C)
{
  ColsumPlan p = colsum_plan (Nr, C, 2, 2 * (size_t) C + 1);

  if (!p.ok || Nr <= 0)
    return;
  colsum_run<2> (p, NormParamTerms<false> { dout, inp, mean, rstd, C },
                 BatchNormGradFinish { { dweight, dbias }, p.extra, Nr, C }, Nr, C);
  if (dinp != NULL)
    batchnorm_dinp_kernel<<<blocks_for ((size_t) Nr * C), THREADS, 0, g.stream>>> (
      dinp, dout, inp, weight, mean, rstd, p.extra, (size_t) Nr, C);
  check_launch ("batchnorm_backward");
}

/* ---- synchronised BatchNorm (data-parallel training): the halves around the ranks' sums - */

/* the statistics of the summed moments: sums (2C + 1) on the device, the count last */
static __global__ void
batchnorm_stats_kernel (float *mean, float *rstd, float *running_mean, float *running_var,
                        const double *sums, const float *shift, float eps, float momentum,
                        int C)
{
  int c = (int) (blockIdx.x * (size_t) blockDim.x + threadIdx.x);

  if (c < C)
    {
      const double s[2] = { sums[c], sums[C + c] };
      BatchStats { mean, rstd, running_mean, running_var, shift, eps, momentum,
                   sums[2 * C] } (c, s);
    }
}

extern "C" void
vg_cuda_batchnorm_sums (double *sums, const float *inp, const float *shift, int Nr, int C)
{
  ColsumPlan p = colsum_plan (Nr, C, 2, 0);

  if (!p.ok || Nr <= 0)
    return;
  colsum_run<2> (p, ShiftedMoments { inp, shift, C }, StoreMoments { sums, Nr, C }, Nr, C);
  check_launch ("batchnorm_sums");
}

extern "C" void
vg_cuda_batchnorm_stats (float *mean, float *rstd, float *running_mean, float *running_var,
                         const double *sums, const float *shift, float eps, float momentum,
                         int C)
{
  batchnorm_stats_kernel<<<(C + THREADS - 1) / THREADS, THREADS, 0, g.stream>>> (
    mean, rstd, running_mean, running_var, sums, shift, eps, momentum, C);
  check_launch ("batchnorm_stats");
}

extern "C" void
vg_cuda_batchnorm_normalize (float *out, const float *inp, const float *mean,
                             const float *rstd, const float *weight, const float *bias, int Nr,
                             int C)
{
  batchnorm_apply_kernel<<<blocks_for ((size_t) Nr * C), THREADS, 0, g.stream>>> (
    out, inp, weight, bias, mean, rstd, (size_t) Nr, C);
  check_launch ("batchnorm_normalize");
}

extern "C" void
vg_cuda_batchnorm_backward_sums (double *sums, float *dweight, float *dbias, const float *dout,
                                 const float *inp, const float *mean, const float *rstd,
                                 int Nr, int C)
{
  ColsumPlan p = colsum_plan (Nr, C, 2, 0);

  if (!p.ok || Nr <= 0)
    return;
  colsum_run<2> (p, NormParamTerms<false> { dout, inp, mean, rstd, C },
                 BatchNormGradFinish { { dweight, dbias }, sums, Nr, C }, Nr, C);
  check_launch ("batchnorm_backward_sums");
}

extern "C" void
vg_cuda_batchnorm_backward_dinp (float *dinp, const float *dout, const float *inp,
                                 const float *weight, const float *mean, const float *rstd,
                                 const double *sums, int Nr, int C)
{
  batchnorm_dinp_kernel<<<blocks_for ((size_t) Nr * C), THREADS, 0, g.stream>>> (
    dinp, dout, inp, weight, mean, rstd, sums, (size_t) Nr, C);
  check_launch ("batchnorm_backward_dinp");
}
