/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The end of BatchNorm's statistics pass, shared by nn/norm.c and cuda/norm.cu so that both
 * backends (and both, synchronised over ranks) turn the same sums into the same bits. */
#pragma once

#include <math.h>
#include <stddef.h>

#include "vg-host-device.h"

/* Channel c's mean and rstd from the sums around shift over n rows, and its running
 * statistics' update. */
static inline VG_HOST_DEVICE void
vg_batchnorm_channel_stats (float *mean, float *rstd, float *running_mean, float *running_var,
                            double sum, double sq, float shift, double n, float eps,
                            float momentum, int c)
{
  double d = sum / n;
  double var = sq / n - d * d; /* biased: used to normalise */
  if (var < 0.0)
    var = 0.0;
  /* PyTorch feeds the unbiased variance to the running estimate. */
  double unbiased = n > 1 ? var * n / (n - 1) : var;
  double mu = shift + d;
  mean[c] = (float) mu;
  rstd[c] = (float) (1.0 / sqrt (var + eps));
  if (running_mean != NULL)
    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float) mu;
  if (running_var != NULL)
    running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float) unbiased;
}
