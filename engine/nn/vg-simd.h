/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the element-wise CPU kernels share to vectorise: function multiversioning for the
 * wider vector units, and an exp2 the vectoriser can use (libm's expf is a call it cannot
 * vectorise without -ffast-math). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The end of chunk c when n items are cut into chunks of `chunk`: min((c + 1) chunk, n).
 * The element-wise kernels hand fixed chunks to the threads (the chunks, not the thread
 * count, fix the order of any sum). */
static inline size_t
vg_chunk_end (size_t c, size_t chunk, size_t n)
{
  return (c + 1) * chunk < n ? (c + 1) * chunk : n;
}

#define LOG2E 1.44269504088896340736f
#define LN2 0.69314718055994530942f

/* The element-wise kernels are compiled for AVX-512 and AVX2 beside the baseline and the
 * loader picks one (GCC's function multiversioning): the build targets plain x86-64. In
 * attention the exp2 of N * M scores is the bulk of the work at N = M = 16384 with D = 8;
 * in the cross-entropy, the exps of 19 logits per pixel. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define SIMD_CLONES \
  __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SIMD_CLONES
#endif

/* A function whose products must not fuse into multiply-adds, where another computation of
 * the same values must match it to the bit (GCC contracts across statements in the clones
 * that have FMA; without SIMD_CLONES the baseline has no FMA to contract into). */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_FP_CONTRACT __attribute__ ((optimize ("fp-contract=off")))
#else
#define NO_FP_CONTRACT
#endif

/* 2^x to about 1e-7 relative, vectorisable: x = n + f with n = rint(x), f in [-0.5, 0.5],
 * 2^f by Cephes' exp2f polynomial (degree 6), 2^n built in the exponent bits. Results below
 * 2^-125 are flushed to 0 so no denormal reaches the GEMMs; x is clamped to [-127, 127]
 * first, which keeps the rounding trick and the exponent in range; NaN passes through.
 * Every select is written as integer masks: a float ?: stops GCC's if-conversion under
 * -ftrapping-math and with it the vectoriser. */
static inline float
exp2_approx (float x)
{
  const float round_magic = 12582912.0f;  /* 1.5 * 2^23: adding it rounds to an integer */
  uint32_t u, lo, hi, bits;
  int32_t e;
  float t, n, f, p, scale;

  memcpy (&u, &x, sizeof u);
  /* -inf <= x < -127 and 127 < x <= inf, compared on the bit patterns */
  lo = -(uint32_t) (u - 0xc2fe0001u < 0x3c820000u);
  hi = -(uint32_t) (u - 0x42fe0001u < 0x3c820000u);
  u = (u & ~(lo | hi)) | (0xc2fe0000u & lo) | (0x42fe0000u & hi);
  memcpy (&x, &u, sizeof x);

  t = x + round_magic;
  n = t - round_magic;
  f = x - n;
  p = 1.535336188319500e-4f;
  p = p * f + 1.339887440266574e-3f;
  p = p * f + 9.618437357674640e-3f;
  p = p * f + 5.550332471162809e-2f;
  p = p * f + 2.402264791363012e-1f;
  p = p * f + 6.931472028550421e-1f;
  p = p * f + 1.0f;

  /* the low mantissa bits of t hold n; the biased exponent n + 127 goes to bits 23.. */
  memcpy (&e, &t, sizeof e);
  e = e - 0x4b400000 + 127;
  e &= -(int32_t) (e > 1);
  bits = (uint32_t) e << 23;
  memcpy (&scale, &bits, sizeof scale);
  return p * scale;
}

/* ln x for positive normal x, to about 2e-7 relative where |ln x| > 0.1 and 1e-7 absolute
 * near 1, vectorisable (libm's logf is a call): x = 2^e m with m in [sqrt 1/2, sqrt 2),
 * ln m by Cephes' logf polynomial in f = m - 1, ln 2 split in two parts so e ln 2 keeps
 * its digits. The caller keeps x positive and finite (the cross-entropy's softmax
 * denominators, 1 to the class count). */
static inline float
log_approx (float x)
{
  uint32_t u, big;
  int32_t e;
  float m, f, z, y;

  memcpy (&u, &x, sizeof u);
  e = (int32_t) (u >> 23) - 127;
  u = (u & 0x007fffffu) | 0x3f800000u; /* m in [1, 2) */
  big = -(uint32_t) (u > 0x3fb504f3u); /* m > sqrt 2: halve it, one more power of two */
  u -= big & 0x00800000u;
  e += (int32_t) (big & 1u);
  memcpy (&m, &u, sizeof m);
  f = m - 1.0f;
  z = f * f;
  y = 7.0376836292e-2f;
  y = y * f - 1.1514610310e-1f;
  y = y * f + 1.1676998740e-1f;
  y = y * f - 1.2420140846e-1f;
  y = y * f + 1.4249322787e-1f;
  y = y * f - 1.6668057665e-1f;
  y = y * f + 2.0000714765e-1f;
  y = y * f - 2.4999993993e-1f;
  y = y * f + 3.3333331174e-1f;
  y = y * f * z;
  y += -2.12194440e-4f * (float) e;
  y += -0.5f * z;
  return f + y + 0.693359375f * (float) e;
}

