/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Optimiser steps and the elementwise sum on the GPU, mirroring nn/optim.c (PyTorch's
 * single-tensor updates). The bias corrections are computed on the host exactly as the CPU
 * computes them, so both backends step with the same constants. */
#include "common.cuh"

#include <cmath>

using namespace vgc;

static __global__ void
add_inplace_kernel (float *acc, const float *x, size_t n)
{
  VGC_GRID_STRIDE (i, n)
    acc[i] += x[i];
}

static __global__ void
ema_kernel (float *avg, const float *x, size_t n, float w)
{
  VGC_GRID_STRIDE (i, n)
    avg[i] += w * (x[i] - avg[i]);
}

static __global__ void
adam_kernel (float *param, const float *grad, float *m, float *v, size_t n, float lr,
             float beta1, float beta2, float eps, float weight_decay, float step_size,
             float bc2_sqrt, int decoupled)
{
  VGC_GRID_STRIDE (i, n)
    {
      float gr = grad[i];
      float p = param[i];

      if (decoupled)
        p *= 1.0f - lr * weight_decay;
      else
        gr += weight_decay * p;
      float mi = beta1 * m[i] + (1.0f - beta1) * gr;
      float vi = beta2 * v[i] + (1.0f - beta2) * gr * gr;
      m[i] = mi;
      v[i] = vi;
      param[i] = p - step_size * mi / (sqrtf (vi) / bc2_sqrt + eps);
    }
}

static __global__ void
sgd_kernel (float *param, const float *grad, float *momentum_buf, size_t n, float lr,
            float momentum, float weight_decay, int first_step)
{
  VGC_GRID_STRIDE (i, n)
    {
      float gr = grad[i] + weight_decay * param[i];

      if (momentum != 0.0f)
        {
          float b = first_step ? gr : momentum * momentum_buf[i] + gr;
          momentum_buf[i] = b;
          gr = b;
        }
      param[i] -= lr * gr;
    }
}

extern "C" void
vg_cuda_add_inplace (float *acc, const float *x, size_t n)
{
  if (n > 0)
    add_inplace_kernel<<<blocks_for (n), THREADS, 0, g.stream>>> (acc, x, n);
  check_launch ("add_inplace");
}

extern "C" void
vg_cuda_adam_step (float *param, const float *grad, float *m, float *v, size_t n, float lr,
                   float beta1, float beta2, float eps, float weight_decay, int t,
                   int decoupled)
{
  const float bc1 = 1.0f - powf (beta1, (float) t);
  const float bc2 = 1.0f - powf (beta2, (float) t);
  const float step_size = lr / bc1;
  const float bc2_sqrt = sqrtf (bc2);

  if (n > 0)
    adam_kernel<<<blocks_for (n), THREADS, 0, g.stream>>> (param, grad, m, v, n, lr, beta1,
                                                            beta2, eps, weight_decay,
                                                            step_size, bc2_sqrt, decoupled);
  check_launch ("adam_step");
}

extern "C" void
vg_cuda_sgd_step (float *param, const float *grad, float *momentum_buf, size_t n, float lr,
                  float momentum, float weight_decay, int first_step)
{
  if (n > 0)
    sgd_kernel<<<blocks_for (n), THREADS, 0, g.stream>>> (param, grad, momentum_buf, n, lr,
                                                           momentum, weight_decay, first_step);
  check_launch ("sgd_step");
}

extern "C" void
vg_cuda_ema_update (float *avg, const float *x, size_t n, float decay)
{
  if (n > 0)
    ema_kernel<<<blocks_for (n), THREADS, 0, g.stream>>> (avg, x, n, 1.0f - decay);
  check_launch ("ema_update");
}
