/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Optimiser steps, written to match PyTorch's single-tensor (foreach=False) updates; the
 * per-element arithmetic is in vg-optim-update.h, shared with cuda/optim.cu.
 *
 * The steps and the moving average run with denormal floats flushed to zero (x86's FTZ and
 * DAZ, set on each thread for the loop and restored after it): the second moment of a
 * gradient below 1e-19 is a denormal, and x86 takes a slow path for every operation on one
 * (an Adam step over Fast-SCNN's parameters 3.6 times slower). What a flush drops is below
 * 1.2e-38: in Adam a second moment whose square root (< 1.1e-19) meets eps (1e-8) in the
 * denominator, or a first moment worth step_size * 1e-30; in SGD and the average, lr or
 * 1 - decay times that. */
#include "vg-optim.h"
#include "vg-optim-update.h"

#include <math.h>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define CSR_FTZ_DAZ 0x8040u /* MXCSR: flush to zero (bit 15), denormals are zero (bit 6) */

static inline unsigned int
flush_denormals (void)
{
  unsigned int old = _mm_getcsr ();

  _mm_setcsr (old | CSR_FTZ_DAZ);
  return old;
}

static inline void
restore_denormals (unsigned int old)
{
  _mm_setcsr (old);
}
#else
static inline unsigned int
flush_denormals (void)
{
  return 0;
}

static inline void
restore_denormals (unsigned int old)
{
}
#endif

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

#pragma omp parallel if (n > 65536)
  {
    unsigned int csr = flush_denormals ();

#pragma omp for schedule(static)
    for (size_t i = 0; i < n; i++)
      vg_adam_update (param, grad, m, v, i, &k);
    restore_denormals (csr);
  }
}

void
vg_sgd_step (float *param, const float *grad, float *momentum_buf, size_t n, float lr,
             float momentum, float weight_decay, int first_step)
{
#pragma omp parallel if (n > 65536)
  {
    unsigned int csr = flush_denormals ();

#pragma omp for schedule(static)
    for (size_t i = 0; i < n; i++)
      vg_sgd_update (param, grad, momentum_buf, i, lr, momentum, weight_decay, first_step);
    restore_denormals (csr);
  }
}

void
vg_ema_update (float *avg, const float *x, size_t n, float decay)
{
  const float w = 1.0f - decay;

#pragma omp parallel if (n > 65536)
  {
    unsigned int csr = flush_denormals ();

#pragma omp for schedule(static)
    for (size_t i = 0; i < n; i++)
      avg[i] += w * (x[i] - avg[i]);
    restore_denormals (csr);
  }
}
