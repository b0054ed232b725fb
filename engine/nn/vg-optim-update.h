/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The per-element updates of the optimisers (PyTorch's single-tensor forms), shared by
 * nn/optim.c and cuda/optim.cu so that both backends step with the same arithmetic. The
 * bias corrections are computed once per step on the host (vg_adam_constants). */
#pragma once

#include <math.h>
#include <stddef.h>

#include "vg-host-device.h"

typedef struct
{
  float lr, beta1, beta2, eps, weight_decay;
  float step_size; /* lr / (1 - beta1^t) */
  float bc2_sqrt;  /* sqrt (1 - beta2^t) */
  int decoupled;   /* AdamW: param *= 1 - lr * wd; else wd * param joins the gradient */
} VgAdamConstants;

static inline VgAdamConstants
vg_adam_constants (float lr, float beta1, float beta2, float eps, float weight_decay, int t,
                   int decoupled)
{
  VgAdamConstants k;

  k.lr = lr;
  k.beta1 = beta1;
  k.beta2 = beta2;
  k.eps = eps;
  k.weight_decay = weight_decay;
  k.step_size = lr / (1.0f - powf (beta1, (float) t));
  k.bc2_sqrt = sqrtf (1.0f - powf (beta2, (float) t));
  k.decoupled = decoupled;
  return k;
}

/* Element i of Adam (or AdamW): param, m and v updated in place from grad. */
static inline VG_HOST_DEVICE void
vg_adam_update (float *param, const float *grad, float *m, float *v, size_t i,
                const VgAdamConstants *k)
{
  float g = grad[i];
  float p = param[i];

  if (k->decoupled)
    p *= 1.0f - k->lr * k->weight_decay;
  else
    g += k->weight_decay * p;
  m[i] = k->beta1 * m[i] + (1.0f - k->beta1) * g;
  v[i] = k->beta2 * v[i] + (1.0f - k->beta2) * g * g;
  param[i] = p - k->step_size * m[i] / (sqrtf (v[i]) / k->bc2_sqrt + k->eps);
}

/* Element i of SGD with momentum (dampening 0, no Nesterov) and L2 weight decay; on the
 * first step the momentum buffer is set to the gradient, as torch does. Without momentum
 * the buffer is not read (it may be NULL). */
static inline VG_HOST_DEVICE void
vg_sgd_update (float *param, const float *grad, float *momentum_buf, size_t i, float lr,
               float momentum, float weight_decay, int first_step)
{
  float g = grad[i] + weight_decay * param[i];

  if (momentum != 0.0f)
    {
      momentum_buf[i] = first_step ? g : momentum * momentum_buf[i] + g;
      g = momentum_buf[i];
    }
  param[i] -= lr * g;
}
