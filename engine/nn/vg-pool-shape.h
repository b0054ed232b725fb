/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The index arithmetic of the pooling layers that the CPU (nn/pool.c) and the GPU
 * (cuda/pool.cu) can share: which inputs an output reads, and which outputs read an input
 * (the backward passes gather over those). Pure functions, valid C, C++ and CUDA. */
#pragma once

#include "vg-host-device.h"

/* Adaptive average pooling, PyTorch's bins: output index o of n_out averages the input
 * indices [*lo, *hi) = [floor(o n_in / n_out), ceil((o + 1) n_in / n_out)). */
static inline VG_HOST_DEVICE void
vg_adaptive_bin (int o, int n_in, int n_out, int *lo, int *hi)
{
  *lo = (int) ((long) o * n_in / n_out);
  *hi = (int) (((long) (o + 1) * n_in + n_out - 1) / n_out);
}

/* The outputs [*lo, *hi] whose bins hold input index i: floor(i n_out / n_in) up to
 * ceil((i + 1) n_out / n_in) - 1 (never empty: every input is in some bin). */
static inline VG_HOST_DEVICE void
vg_adaptive_outputs (int i, int n_in, int n_out, int *lo, int *hi)
{
  *lo = (int) ((long) i * n_out / n_in);
  *hi = (int) (((long) (i + 1) * n_out + n_in - 1) / n_in) - 1;
}

/* Max pooling (K, stride S, no padding, n_out windows): the windows [*lo, *hi] that hold
 * input index i, o S <= i < o S + K; empty (*lo > *hi) for the inputs that floor leaves
 * out. */
static inline VG_HOST_DEVICE void
vg_maxpool_windows (int i, int K, int S, int n_out, int *lo, int *hi)
{
  *lo = i < K ? 0 : (i - K) / S + 1;
  *hi = i / S < n_out - 1 ? i / S : n_out - 1;
}
