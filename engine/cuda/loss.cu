/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Weighted softmax cross-entropy on the GPU, mirroring nn/loss.c, the mean reduction of
 * torch.nn.CrossEntropyLoss(weight=w, ignore_index=ignore_index):
 *   loss = sum_i w[y_i] * (logsumexp(z_i) - z_i[y_i]) / sum_i w[y_i]
 * over the rows i whose target is neither ignore_index nor >= NC. logits z (Nr, NC),
 * targets y (Nr) uint8, weights w (NC) or NULL for ones; all device memory.
 *
 * The two sums are taken on the device in double (a thread per row, grid-stride, then a
 * fixed tree in each block and the blocks' partials added in order by one thread), so the
 * loss is reproducible; the forward downloads just those two numbers. The backward takes
 * the weight total the same way and never leaves the device.
 *
 * Where every target is ignored the loss and its gradient are 0, as on the CPU.
 *
 * Gradient rule: dlogits is overwritten (=); it may be the logits themselves. */
#include "common.cuh"

using namespace vgc;

constexpr int CE_MAX_BLOCKS = 1024;

__device__ static inline bool
is_counted (int y, int ignore_index, int NC)
{
  return y != ignore_index && y < NC;
}

/* max_j z_j + log sum_j exp(z_j - max): no overflow for any logit. */
__device__ static inline float
row_logsumexp (const float *z, int NC)
{
  float m = z[0];
  float s = 0.0f;

  for (int j = 1; j < NC; j++)
    m = z[j] > m ? z[j] : m;
  for (int j = 0; j < NC; j++)
    s += expf (z[j] - m);
  return m + logf (s);
}

__device__ static inline double
warp_sum_double (double v)
{
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync (0xffffffffu, v, o);
  return v;
}

/* part[2 b], part[2 b + 1] = block b's sums of w * (lse - z_y) (unless weights_only) and of
 * w over its rows. */
static __global__ void
ce_partial_kernel (double *part, const float *logits, const uint8_t *targets,
                   const float *weights, int ignore_index, int Nr, int NC, int weights_only)
{
  __shared__ double sh_num[THREADS / 32], sh_den[THREADS / 32];
  double num = 0.0, den = 0.0;
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;

  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < Nr; i += gridDim.x * blockDim.x)
    {
      int y = targets[i];
      if (!is_counted (y, ignore_index, NC))
        continue;
      float w = weights != NULL ? weights[y] : 1.0f;
      den += w;
      if (!weights_only)
        {
          const float *z = logits + (size_t) i * NC;
          num += (double) w * (row_logsumexp (z, NC) - z[y]);
        }
    }
  num = warp_sum_double (num);
  den = warp_sum_double (den);
  if (lane == 0)
    {
      sh_num[warp] = num;
      sh_den[warp] = den;
    }
  __syncthreads ();
  if (threadIdx.x == 0)
    {
      double sn = 0.0, sd = 0.0;
      for (int w = 0; w < THREADS / 32; w++)
        {
          sn += sh_num[w];
          sd += sh_den[w];
        }
      part[2 * blockIdx.x] = sn;
      part[2 * blockIdx.x + 1] = sd;
    }
}

/* total[0], total[1] = the partials added in block order (one thread: at most 1024). */
static __global__ void
ce_total_kernel (double *total, const double *part, int nblocks)
{
  double sn = 0.0, sd = 0.0;

  for (int b = 0; b < nblocks; b++)
    {
      sn += part[2 * b];
      sd += part[2 * b + 1];
    }
  total[0] = sn;
  total[1] = sd;
}

/* dlogits_i = dloss * w[y_i] / sum w * (softmax(z_i) - onehot(y_i)); zero on ignored rows.
 * A thread per row, which reads each logit before it overwrites it. */
static __global__ void
ce_backward_kernel (float *dlogits, const float *logits, const uint8_t *targets,
                    const float *weights, int ignore_index, float dloss, const double *total,
                    int Nr, int NC)
{
  double t = total[1];
  float k = t > 0.0 ? (float) (dloss / t) : 0.0f;

  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < Nr; i += gridDim.x * blockDim.x)
    {
      int y = targets[i];
      float *d = dlogits + (size_t) i * NC;
      if (!is_counted (y, ignore_index, NC) || k == 0.0f)
        {
          for (int j = 0; j < NC; j++)
            d[j] = 0.0f;
          continue;
        }
      const float *z = logits + (size_t) i * NC;
      float kw = k * (weights != NULL ? weights[y] : 1.0f);
      float m = z[0];
      float s = 0.0f;
      for (int j = 1; j < NC; j++)
        m = z[j] > m ? z[j] : m;
      for (int j = 0; j < NC; j++)
        {
          d[j] = expf (z[j] - m);
          s += d[j];
        }
      float kws = kw / s;
      for (int j = 0; j < NC; j++)
        d[j] *= kws;
      d[y] -= kw;
    }
}

/* Sums into the workspace: returns the device address of (num, den). */
static double *
ce_sums (const float *logits, const uint8_t *targets, const float *weights, int ignore_index,
         int Nr, int NC, int weights_only)
{
  int nblocks = (int) ((Nr + THREADS - 1) / THREADS);
  double *part = g.ws, *total = g.ws + 2 * CE_MAX_BLOCKS;

  if (nblocks > CE_MAX_BLOCKS)
    nblocks = CE_MAX_BLOCKS;
  if (nblocks < 1)
    nblocks = 1;
  ce_partial_kernel<<<nblocks, THREADS, 0, g.stream>>> (part, logits, targets, weights,
                                                        ignore_index, Nr, NC, weights_only);
  ce_total_kernel<<<1, 1, 0, g.stream>>> (total, part, nblocks);
  return total;
}

extern "C" float
vg_cuda_cross_entropy_forward (const float *logits, const uint8_t *targets,
                               const float *weights, int ignore_index, int Nr, int NC)
{
  double host[2] = { 0.0, 0.0 };
  double *total = ce_sums (logits, targets, weights, ignore_index, Nr, NC, 0);

  check_launch ("cross_entropy_forward");
  vg_cuda_download (host, total, sizeof host);
  return host[1] > 0.0 ? (float) (host[0] / host[1]) : 0.0f;
}

extern "C" void
vg_cuda_cross_entropy_backward (float *dlogits, const float *logits, const uint8_t *targets,
                                const float *weights, int ignore_index, float dloss, int Nr,
                                int NC)
{
  double *total = ce_sums (logits, targets, weights, ignore_index, Nr, NC, 1);

  ce_backward_kernel<<<blocks_for ((size_t) Nr), THREADS, 0, g.stream>>> (
    dlogits, logits, targets, weights, ignore_index, dloss, total, Nr, NC);
  check_launch ("cross_entropy_backward");
}
