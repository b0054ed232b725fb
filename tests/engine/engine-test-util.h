/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers shared by the engine's numeric tests (tests/engine/test-*.c). */
#pragma once

#include <math.h>

#include <glib.h>

/* Uniform in [0, 1) by xorshift64*: the same numbers on every run and platform
 * (g_test_rand's seed varies). One sequence per test program, from a fixed seed. */
static inline double
rnd (void)
{
  static guint64 rng_state = 0x9E3779B97F4A7C15u;

  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double) ((rng_state * 0x2545F4914F6CDD1Du) >> 11) / 9007199254740992.0;
}

/* max |x| over n floats (0 for none). */
static inline double
max_abs (const float *x, size_t n)
{
  double m = 0.0;

  for (size_t i = 0; i < n; i++)
    m = fmax (m, fabs (x[i]));
  return m;
}
