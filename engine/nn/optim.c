/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Optimiser steps, written to match PyTorch's single-tensor (foreach=False) updates; the
 * per-element arithmetic is in vg-optim-update.h, shared with cuda/optim.cu. */
#include "vg-optim.h"
#include "vg-optim-update.h"

#include <math.h>

void
vg_add_inplace (float *acc, const float *x, size_t n)
{
#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t i = 0; i < n; i++)
    acc[i] += x[i];
}

void
vg_adam_step (float *param, const float *grad, float *m, float *v, size_t n, float lr,
              float beta1, float beta2, float eps, float weight_decay, int t, int decoupled)
{
  const VgAdamConstants k = vg_adam_constants (lr, beta1, beta2, eps, weight_decay, t,
                                               decoupled);

#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t i = 0; i < n; i++)
    vg_adam_update (param, grad, m, v, i, &k);
}

void
vg_sgd_step (float *param, const float *grad, float *momentum_buf, size_t n, float lr,
             float momentum, float weight_decay, int first_step)
{
#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t i = 0; i < n; i++)
    vg_sgd_update (param, grad, momentum_buf, i, lr, momentum, weight_decay, first_step);
}

void
vg_ema_update (float *avg, const float *x, size_t n, float decay)
{
  const float w = 1.0f - decay;

#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t i = 0; i < n; i++)
    avg[i] += w * (x[i] - avg[i]);
}
