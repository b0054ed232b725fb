/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The deterministic generator of the reference fixtures, in C.
 *
 * Mirrors gen_uniform / gen_tensor / gen_labels of tests/reference/segformer_ref.py bit for
 * bit, so a C test rebuilds the fixtures' model (weights, input, labels) without storing
 * them:
 *
 *   r(name, i) = splitmix64 (fnv1a64 (name) + i)          64-bit wrapping arithmetic
 *   u(name, i) = ((r >> 40) - 2^23) * 2^-23               exact float in [-1, 1)
 *
 * Tensor values by name and kind (VgParamSpec):
 *   weight, ndim >= 2 (conv, linear, transposed conv): a * u with
 *       a = (float) (1 / sqrt ((double) fan_in)), fan_in = numel / shape[0]
 *       (Cin/G*K*K for a conv, Cin for a linear, Cout*K*K for the transposed conv);
 *   weight, ndim 1 (LayerNorm, BatchNorm): 1 + u/8;   bias: u/8;
 *   running_mean: u/8;   running_var: 1 + |u|/8;   num_batches_tracked: 0.
 * The scales are powers of two, so each product is exact and every value is rounded once:
 * a fused multiply-add cannot change a bit. The input image is u("input", i) in NCHW order;
 * labels are vg_ref_label (i) over (B, H, W). */
#pragma once

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vg-config.h"

#define VG_REF_IGNORE_INDEX 255

static inline uint64_t
vg_ref_fnv1a64 (const char *name)
{
  uint64_t h = 0xcbf29ce484222325ull;

  for (const unsigned char *p = (const unsigned char *) name; *p != '\0'; p++)
    {
      h ^= *p;
      h *= 0x100000001b3ull;
    }
  return h;
}

static inline uint64_t
vg_ref_splitmix64 (uint64_t x)
{
  uint64_t z = x + 0x9e3779b97f4a7c15ull;

  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* u from the raw 64 bits: the top 24 bits as a signed fraction, exact in a float. */
static inline float
vg_ref_bits_to_uniform (uint64_t r)
{
  int32_t top = (int32_t) (r >> 40) - (1 << 23);

  return (float) top * (1.0f / 8388608.0f);
}

/* u(name, i) for i = 0..n-1 into dst. */
static inline void
vg_ref_fill_uniform (float *dst, const char *name, size_t n)
{
  uint64_t seed = vg_ref_fnv1a64 (name);

  for (size_t i = 0; i < n; i++)
    dst[i] = vg_ref_bits_to_uniform (vg_ref_splitmix64 (seed + (uint64_t) i));
}

static inline int
vg_ref_ends_with (const char *s, const char *suffix)
{
  size_t ls = strlen (s), lx = strlen (suffix);

  return ls >= lx && strcmp (s + ls - lx, suffix) == 0;
}

/* The initial value of a parameter or buffer (spec->numel floats into dst). The I64 counter
 * num_batches_tracked is 0, written here as one 0.0f. */
static inline void
vg_ref_init_tensor (float *dst, const VgParamSpec *spec)
{
  const float eighth = 0.125f;
  size_t n = spec->numel;

  if (spec->kind == VG_TENSOR_COUNTER)
    {
      for (size_t i = 0; i < n; i++)
        dst[i] = 0.0f;
      return;
    }
  vg_ref_fill_uniform (dst, spec->name, n);
  if (vg_ref_ends_with (spec->name, "running_mean") || vg_ref_ends_with (spec->name, ".bias"))
    {
      for (size_t i = 0; i < n; i++)
        dst[i] = dst[i] * eighth;
    }
  else if (vg_ref_ends_with (spec->name, "running_var"))
    {
      for (size_t i = 0; i < n; i++)
        dst[i] = 1.0f + fabsf (dst[i]) * eighth;
    }
  else if (spec->ndim == 1)  /* LayerNorm / BatchNorm weight */
    {
      for (size_t i = 0; i < n; i++)
        dst[i] = 1.0f + dst[i] * eighth;
    }
  else  /* conv, linear or transposed-conv weight */
    {
      size_t fan_in = n / (size_t) spec->shape[0];
      float a = (float) (1.0 / sqrt ((double) fan_in));

      for (size_t i = 0; i < n; i++)
        dst[i] = dst[i] * a;
    }
}

/* Label of pixel i (flat over B, H, W): ignore (255) where (r >> 8) % 97 == 0, else r % 19
 * with r = r("labels", i). */
static inline uint8_t
vg_ref_label (size_t i, int num_classes)
{
  uint64_t r = vg_ref_splitmix64 (vg_ref_fnv1a64 ("labels") + (uint64_t) i);

  if ((r >> 8) % 97 == 0)
    return VG_REF_IGNORE_INDEX;
  return (uint8_t) (r % (uint64_t) num_classes);
}
