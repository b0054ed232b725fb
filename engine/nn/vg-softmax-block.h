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
#include <stdint.h>

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

/* The start of a loss's pass over the block of rows [i0, i0 + nb) of logits (Nr, NC),
 * nb = min(SOFTMAX_BLOCK, Nr - i0), which it returns: t (NC, SOFTMAX_BLOCK) = the rows'
 * softmax (all read here, so a backward's dlogits may alias logits); ys[r] = the row's
 * target, or -1 where it is not counted (ignore_index, >= NC, or past the block's end);
 * kw[r] = ce_scale weights[y] (weights NULL: ones), 0 where not counted. */
SB_INLINE int
softmax_block_targets (float *restrict t, int *restrict ys, float *restrict kw,
                       const float *logits, const uint8_t *targets, const float *weights,
                       float ce_scale, int ignore_index, int i0, int Nr, int NC)
{
  float m[SOFTMAX_BLOCK], s[SOFTMAX_BLOCK];
  int nb = Nr - i0 < SOFTMAX_BLOCK ? Nr - i0 : SOFTMAX_BLOCK;

  softmax_block_load (t, logits + (size_t) i0 * NC, nb, NC);
  softmax_block_exp (t, m, s, NC);
  for (int r = 0; r < SOFTMAX_BLOCK; r++)
    {
      int y = r < nb ? targets[i0 + r] : ignore_index;
      int counted = y != ignore_index && y < NC;

      ys[r] = counted ? y : -1;
      kw[r] = counted ? ce_scale * (weights != NULL ? weights[y] : 1.0f) : 0.0f;
      m[r] = 1.0f / s[r];
    }
  for (int j = 0; j < NC; j++)
#pragma omp simd
    for (int r = 0; r < SOFTMAX_BLOCK; r++)
      t[j * SOFTMAX_BLOCK + r] *= m[r];
  return nb;
}

/* rows [0, n) of d (n, NC) = t (NC, SOFTMAX_BLOCK) transposed back */
SB_INLINE void
softmax_block_store (float *restrict d, const float *restrict t, int n, int NC)
{
  for (int r = 0; r < n; r++)
    for (int j = 0; j < NC; j++)
      d[(size_t) r * NC + j] = t[j * SOFTMAX_BLOCK + r];
}
