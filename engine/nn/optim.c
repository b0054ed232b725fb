/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Optimiser steps, written to match PyTorch's single-tensor (foreach=False) updates. */
#include "vg-optim.h"

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
  const float bc1 = 1.0f - powf (beta1, (float) t);
  const float bc2 = 1.0f - powf (beta2, (float) t);
  const float step_size = lr / bc1;
  const float bc2_sqrt = sqrtf (bc2);

#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t i = 0; i < n; i++)
    {
      float g = grad[i];
      float p = param[i];

      if (decoupled)
        p *= 1.0f - lr * weight_decay;
      else
        g += weight_decay * p;
      m[i] = beta1 * m[i] + (1.0f - beta1) * g;
      v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
      param[i] = p - step_size * m[i] / (sqrtf (v[i]) / bc2_sqrt + eps);
    }
}

void
vg_sgd_step (float *param, const float *grad, float *momentum_buf, size_t n, float lr,
             float momentum, float weight_decay, int first_step)
{
#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t i = 0; i < n; i++)
    {
      float g = grad[i] + weight_decay * param[i];

      if (momentum != 0.0f)
        {
          momentum_buf[i] = first_step ? g : momentum * momentum_buf[i] + g;
          g = momentum_buf[i];
        }
      param[i] -= lr * g;
    }
}

void
vg_ema_update (float *avg, const float *x, size_t n, float decay)
{
  const float w = 1.0f - decay;

#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t i = 0; i < n; i++)
    avg[i] += w * (x[i] - avg[i]);
}
