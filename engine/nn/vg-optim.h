/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Optimiser steps and elementwise helpers over flat float arrays (CPU reference). */
#pragma once

#include <stddef.h>

/* acc += x */
void vg_add_inplace (float *acc, const float *x, size_t n);

/* torch.optim.Adam (decoupled = 0: weight decay added to the gradient) or
 * torch.optim.AdamW (decoupled = 1: param *= 1 - lr * wd). t is the 1-based step. */
void vg_adam_step (float *param, const float *grad, float *m, float *v, size_t n, float lr,
                   float beta1, float beta2, float eps, float weight_decay, int t,
                   int decoupled);

/* torch.optim.SGD with momentum, dampening 0, no Nesterov; L2 weight decay. On the first
 * step the momentum buffer is set to the gradient, as torch does. */
void vg_sgd_step (float *param, const float *grad, float *momentum_buf, size_t n, float lr,
                  float momentum, float weight_decay, int first_step);

/* An exponential moving average of the weights: avg = decay * avg + (1 - decay) * x,
 * computed as avg + (1 - decay) * (x - avg) (as torch's lerp_). */
void vg_ema_update (float *avg, const float *x, size_t n, float decay);
