/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The shape arithmetic of the 2-D convolution that the CPU (nn/conv2d.c) and the GPU
 * (cuda/conv2d.cu) share: output sizes, which path a shape takes, and how many images an
 * im2col chunk holds, and which taps reach an input pixel. Pure functions of the shape,
 * valid C, C++ and CUDA. */
#pragma once

#include <stddef.h>

#include "vg-host-device.h"

typedef enum {
  VG_CONV_POINTWISE, /* 1x1, stride 1, no padding, one group: a linear layer over the pixels */
  VG_CONV_DEPTHWISE, /* G == Cin == Cout: direct kernels over the channels */
  VG_CONV_IM2COL,    /* everything else: im2col then a matrix product */
} VgConvPath;

/* Output size of one dimension: (H + 2P - K) / S + 1. */
static inline int
vg_conv_out_size (int H, int K, int S, int P)
{
  return (H + 2 * P - K) / S + 1;
}

/* With dilation Dl (taps Dl pixels apart): (H + 2P - Dl (K - 1) - 1) / S + 1. */
static inline int
vg_conv_out_size_dilated (int H, int K, int S, int P, int Dl)
{
  return (H + 2 * P - Dl * (K - 1) - 1) / S + 1;
}

static inline VgConvPath
vg_conv_path (int Cin, int Cout, int K, int S, int P, int G)
{
  if (K == 1 && S == 1 && P == 0 && G == 1)
    return VG_CONV_POINTWISE;
  if (G == Cin && G == Cout)
    return VG_CONV_DEPTHWISE;
  return VG_CONV_IM2COL;
}

/* Images per im2col chunk: as many as keep the chunk's column matrix (nb*Ho*Wo rows of
 * Cin*K*K) within budget_floats, at least one and at most B. */
static inline int
vg_conv_chunk_images (int B, int Ho, int Wo, int Cin, int K, size_t budget_floats)
{
  size_t per_image = (size_t) Ho * Wo * Cin * K * K;
  size_t nb = per_image > 0 ? budget_floats / per_image : (size_t) B;

  if (nb < 1)
    nb = 1;
  if (nb > (size_t) B)
    nb = (size_t) B;
  return (int) nb;
}

/* The kernel taps k through which input index i reaches an output index o = (i + P - k) / S
 * along one dimension: k = i + P (mod S), k <= i + P, k < K and o < No. They run from *k0,
 * while below *k1, in steps of S (o falls by one each step): the gathers of the input
 * gradient (col2im, depthwise) sum over them in this order. */
static inline VG_HOST_DEVICE void
vg_conv_taps (int i, int K, int S, int P, int No, int *k0, int *k1)
{
  int q = (i + P) / S; /* the output index of the smallest tap */

  *k0 = (i + P) % S + (q >= No ? (q - No + 1) * S : 0);
  *k1 = K < i + P + 1 ? K : i + P + 1;
}

/* The same with dilation Dl: the taps k through which input index i reaches an output index
 * o = (i + P - k Dl) / S (exact division, o < No) run from *k0, while below *k1, in steps of
 * *step = S / gcd(S, Dl), o falling each step. Dl == 1 gives vg_conv_taps with step S. */
static inline VG_HOST_DEVICE void
vg_conv_taps_dilated (int i, int K, int S, int P, int Dl, int No, int *k0, int *k1,
                      int *step)
{
  int t = i + P, a = S, b = Dl;

  if (Dl == 1)
    {
      vg_conv_taps (i, K, S, P, No, k0, k1);
      *step = S;
      return;
    }
  while (b != 0) /* gcd (S, Dl) */
    {
      int r = a % b;
      a = b;
      b = r;
    }
  *step = S / a;
  /* k Dl <= t, and t - k Dl <= (No - 1) S */
  *k1 = K < t / Dl + 1 ? K : t / Dl + 1;
  int need = t - (No - 1) * S;
  int k = need <= 0 ? 0 : (need + Dl - 1) / Dl;
  /* the first k from there with S dividing t - k Dl; one exists within a step if any */
  for (int j = 0; j < *step && k < *k1 && (t - k * Dl) % S != 0; j++)
    k++;
  *k0 = k < *k1 && (t - k * Dl) % S == 0 ? k : *k1;
}
