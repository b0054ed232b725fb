/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Row softmax over a channels-last (Nr, NC) tensor, SOFTMAX_BLOCK rows at a time, for the
 * losses (loss.c, dice.c). A block is transposed into a local (NC, SOFTMAX_BLOCK) buffer so
 * that every vector operation runs across rows: the 19 classes of one row fill a vector
 * badly, and each row's max and sum would be a horizontal reduction.
 *
 * The helpers are always inlined, so each SIMD_CLONES kernel that calls them gets them
 * compiled for its own instruction set. */
#pragma once

#include "vg-simd.h"

#include <stddef.h>

enum { SOFTMAX_BLOCK = 16 };

#define SB_INLINE static inline __attribute__ ((always_inline))

/* t (NC, SOFTMAX_BLOCK) = rows [0, n) of z (n, NC), transposed; rows n.. of t are 0. */
SB_INLINE void
softmax_block_load (float *restrict t, const float *restrict z, int n, int NC)
{
  for (int r = 0; r < n; r++)
    for (int j = 0; j < NC; j++)
      t[j * SOFTMAX_BLOCK + r] = z[(size_t) r * NC + j];
  for (int r = n; r < SOFTMAX_BLOCK; r++)
    for (int j = 0; j < NC; j++)
      t[j * SOFTMAX_BLOCK + r] = 0.0f;
}

/* In place, per row r of t: t_jr = exp(t_jr - m_r) with m_r the row's max, s_r the row's
 * sum of them (so the softmax is t_jr / s_r and log-sum-exp is m_r + log s_r). */
SB_INLINE void
softmax_block_exp (float *restrict t, float *restrict m, float *restrict s, int NC)
{
#pragma omp simd
  for (int r = 0; r < SOFTMAX_BLOCK; r++)
    {
      m[r] = t[r];
      s[r] = 0.0f;
    }
  for (int j = 1; j < NC; j++)
#pragma omp simd
    for (int r = 0; r < SOFTMAX_BLOCK; r++)
      m[r] = t[j * SOFTMAX_BLOCK + r] > m[r] ? t[j * SOFTMAX_BLOCK + r] : m[r];
  for (int j = 0; j < NC; j++)
#pragma omp simd
    for (int r = 0; r < SOFTMAX_BLOCK; r++)
      {
        float e = exp2_approx ((t[j * SOFTMAX_BLOCK + r] - m[r]) * LOG2E);
        t[j * SOFTMAX_BLOCK + r] = e;
        s[r] += e;
      }
}

/* rows [0, n) of d (n, NC) = t (NC, SOFTMAX_BLOCK) transposed back */
SB_INLINE void
softmax_block_store (float *restrict d, const float *restrict t, int n, int NC)
{
  for (int r = 0; r < n; r++)
    for (int j = 0; j < NC; j++)
      d[(size_t) r * NC + j] = t[j * SOFTMAX_BLOCK + r];
}
