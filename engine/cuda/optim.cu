/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Optimiser steps and the elementwise sum on the GPU, mirroring nn/optim.c (PyTorch's
 * single-tensor updates): the per-element arithmetic and the host-side bias corrections are
 * vg-optim-update.h, shared with the CPU, so both backends step with the same constants. */
#include "common.cuh"
#include "vg-optim-update.h"

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
adam_kernel (float *param, const float *grad, float *m, float *v, size_t n, VgAdamConstants k)
{
  VGC_GRID_STRIDE (i, n)
    vg_adam_update (param, grad, m, v, i, &k);
}

static __global__ void
sgd_kernel (float *param, const float *grad, float *momentum_buf, size_t n, float lr,
            float momentum, float weight_decay, int first_step)
{
  VGC_GRID_STRIDE (i, n)
    vg_sgd_update (param, grad, momentum_buf, i, lr, momentum, weight_decay, first_step);
}

extern "C" void
vg_cuda_add_inplace (float *acc, const float *x, size_t n)
{
  elementwise_run ("add_inplace", add_inplace_kernel, n, acc, x, n);
}

extern "C" void
vg_cuda_adam_step (float *param, const float *grad, float *m, float *v, size_t n, float lr,
                   float beta1, float beta2, float eps, float weight_decay, int t,
                   int decoupled)
{
  VgAdamConstants k = vg_adam_constants (lr, beta1, beta2, eps, weight_decay, t, decoupled);

  elementwise_run ("adam_step", adam_kernel, n, param, grad, m, v, n, k);
}

extern "C" void
vg_cuda_sgd_step (float *param, const float *grad, float *momentum_buf, size_t n, float lr,
                  float momentum, float weight_decay, int first_step)
{
  elementwise_run ("sgd_step", sgd_kernel, n, param, grad, momentum_buf, n, lr, momentum,
                   weight_decay, first_step);
}

extern "C" void
vg_cuda_ema_update (float *avg, const float *x, size_t n, float decay)
{
  elementwise_run ("ema_update", ema_kernel, n, avg, x, n, 1.0f - decay);
}
