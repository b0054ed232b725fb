/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Soft Dice loss and cross-entropy + Dice (see vg-dice.h for the formula).
 *
 * Shape letters: Nr rows (pixels of the batch), NC classes.
 *
 * Both passes recompute each row's softmax instead of storing it: the forward and the
 * first pass of the backward need only the per-class sums I_c, P_c, Y_c.
 *
 * Gradient rule: dlogits is overwritten (=); it may alias logits. */
#include "vg-dice.h"

#include <math.h>
#include <string.h>

#include "vg-nn.h"
#include "vg-softmax-block.h"

/* Fixed chunking of the rows for the sums: the chunks run in parallel, their partial sums
 * are added in chunk order, so the result is the same for any number of threads. */
#define N_CHUNKS 32

typedef struct {
  double inter; /* I_c */
  double prob;  /* P_c */
  double count; /* Y_c */
} ClassSums;

static inline int
is_counted (int y, int ignore_index, int NC)
{
  return y != ignore_index && y < NC;
}

/* Chunk c's rows [i0, i1): its class sums (part, NC), weight total and counted rows. The
 * probabilities are summed per row lane in float over FLUSH_BLOCKS blocks at a time, then
 * in double. */
enum { FLUSH_BLOCKS = 32 };

static SIMD_CLONES void
chunk_sums (ClassSums *part, double *wsum, double *nsum, const float *logits,
            const uint8_t *targets, const float *weights, int ignore_index, int i0, int i1,
            int NC)
{
  float t[NC * SOFTMAX_BLOCK], acc[NC * SOFTMAX_BLOCK];
  float m[SOFTMAX_BLOCK], s[SOFTMAX_BLOCK];
  double w = 0.0, cnt = 0.0;
  int blocks = 0;

  memset (acc, 0, sizeof acc);
  for (int b = i0; b < i1; b += SOFTMAX_BLOCK)
    {
      int nb = i1 - b < SOFTMAX_BLOCK ? i1 - b : SOFTMAX_BLOCK;

      softmax_block_load (t, logits + (size_t) b * NC, nb, NC);
      softmax_block_exp (t, m, s, NC);
      for (int r = 0; r < SOFTMAX_BLOCK; r++)
        {
          int y = r < nb ? targets[b + r] : ignore_index;
          /* m: 1 / s on counted rows, 0 on the others so they add nothing */
          m[r] = is_counted (y, ignore_index, NC) ? 1.0f / s[r] : 0.0f;
        }
      for (int j = 0; j < NC; j++)
#pragma omp simd
        for (int r = 0; r < SOFTMAX_BLOCK; r++)
          acc[j * SOFTMAX_BLOCK + r] += t[j * SOFTMAX_BLOCK + r] * m[r];
      for (int r = 0; r < nb; r++)
        {
          int y = targets[b + r];
          if (!is_counted (y, ignore_index, NC))
            continue;
          part[y].inter += t[y * SOFTMAX_BLOCK + r] * m[r];
          part[y].count += 1.0;
          w += weights != NULL ? weights[y] : 1.0f;
          cnt += 1.0;
        }
      if (++blocks == FLUSH_BLOCKS || b + SOFTMAX_BLOCK >= i1)
        {
          for (int j = 0; j < NC; j++)
            {
              double p = 0.0;
              for (int r = 0; r < SOFTMAX_BLOCK; r++)
                p += acc[j * SOFTMAX_BLOCK + r];
              part[j].prob += p;
            }
          memset (acc, 0, sizeof acc);
          blocks = 0;
        }
    }
  *wsum = w;
  *nsum = cnt;
}

/* sums (NC): the class sums over the counted rows; *weight_total (may be NULL): sum of
 * the counted rows' weights. Returns the number of counted rows. */
static double
class_sums (ClassSums *sums, double *weight_total, const float *logits,
            const uint8_t *targets, const float *weights, int ignore_index, int Nr, int NC)
{
  ClassSums part[N_CHUNKS][NC];
  double wpart[N_CHUNKS], npart[N_CHUNKS];
  double n = 0.0, wtotal = 0.0;

  memset (part, 0, sizeof part);
#pragma omp parallel for schedule(static) if (Nr > 4096)
  for (int c = 0; c < N_CHUNKS; c++)
    {
      /* chunk bounds on block boundaries, so a block never straddles two chunks */
      int nblk = (Nr + SOFTMAX_BLOCK - 1) / SOFTMAX_BLOCK;
      int i0 = (int) ((long long) nblk * c / N_CHUNKS) * SOFTMAX_BLOCK;
      int i1 = (int) ((long long) nblk * (c + 1) / N_CHUNKS) * SOFTMAX_BLOCK;

      i0 = i0 < Nr ? i0 : Nr;
      i1 = i1 < Nr ? i1 : Nr;
      chunk_sums (part[c], &wpart[c], &npart[c], logits, targets, weights, ignore_index, i0,
                  i1, NC);
    }

  memset (sums, 0, sizeof (ClassSums) * NC);
  for (int c = 0; c < N_CHUNKS; c++)
    {
      for (int j = 0; j < NC; j++)
        {
          sums[j].inter += part[c][j].inter;
          sums[j].prob += part[c][j].prob;
          sums[j].count += part[c][j].count;
        }
      wtotal += wpart[c];
      n += npart[c];
    }
  if (weight_total != NULL)
    *weight_total = wtotal;
  return n;
}

/* The classes that count: all NC, or (present) those with a pixel in the batch. Returns
 * their number K; counts[c] says whether class c is one. */
static int
counted_classes (int *counts, const ClassSums *sums, int present, int NC)
{
  int k = 0;

  for (int c = 0; c < NC; c++)
    k += counts[c] = !present || sums[c].count > 0.0;
  return k;
}

static float
dice_forward (const float *logits, const uint8_t *targets, int present, int ignore_index,
              int Nr, int NC)
{
  ClassSums sums[NC];
  int counts[NC];
  double score = 0.0;

  if (class_sums (sums, NULL, logits, targets, NULL, ignore_index, Nr, NC) == 0.0)
    return 0.0f;
  /* some row is counted, so at least one class is */
  int k = counted_classes (counts, sums, present, NC);
  for (int c = 0; c < NC; c++)
    if (counts[c])
      score += (2.0 * sums[c].inter + VG_DICE_SMOOTH)
               / (sums[c].prob + sums[c].count + VG_DICE_SMOOTH);
  return (float) (1.0 - score / k);
}

float
vg_dice_forward (const float *logits, const uint8_t *targets, int ignore_index, int Nr,
                 int NC)
{
  return dice_forward (logits, targets, 0, ignore_index, Nr, NC);
}

float
vg_dice_present_forward (const float *logits, const uint8_t *targets, int ignore_index,
                         int Nr, int NC)
{
  return dice_forward (logits, targets, 1, ignore_index, Nr, NC);
}

/* Rows [i0, min(i0 + SOFTMAX_BLOCK, Nr)) of combined_backward. With p the row's softmax
 * and g_c = a_c - [y = c] b_c the gradient of the Dice term in p, the softmax backward
 * gives dz_j = p_j (g_j - sum_c p_c g_c), and the cross-entropy adds kw (p_j - [y = j]). */
static SIMD_CLONES void
backward_block (float *dlogits, const float *logits, const uint8_t *targets,
                const float *weights, const float *a, const float *bc, float ce_scale,
                int ignore_index, int i0, int Nr, int NC)
{
  float t[NC * SOFTMAX_BLOCK];
  float kw[SOFTMAX_BLOCK], pg[SOFTMAX_BLOCK], py[SOFTMAX_BLOCK];
  int ys[SOFTMAX_BLOCK];
  float *d = dlogits + (size_t) i0 * NC;
  int nb = softmax_block_targets (t, ys, kw, logits, targets, weights, ce_scale, ignore_index,
                                  i0, Nr, NC);

  /* t is the softmax p; pg_r = sum_c p_c a_c - p_y b_y */
  for (int r = 0; r < SOFTMAX_BLOCK; r++)
    pg[r] = 0.0f;
  for (int j = 0; j < NC; j++)
#pragma omp simd
    for (int r = 0; r < SOFTMAX_BLOCK; r++)
      pg[r] += t[j * SOFTMAX_BLOCK + r] * a[j];
  for (int r = 0; r < nb; r++)
    if (ys[r] >= 0)
      {
        py[r] = t[ys[r] * SOFTMAX_BLOCK + r];
        pg[r] -= py[r] * bc[ys[r]];
      }
  /* every j as if j != y; the target's entry is mended below */
  for (int j = 0; j < NC; j++)
#pragma omp simd
    for (int r = 0; r < SOFTMAX_BLOCK; r++)
      t[j * SOFTMAX_BLOCK + r] *= a[j] - pg[r] + kw[r];
  softmax_block_store (d, t, nb, NC);
  for (int r = 0; r < nb; r++)
    {
      if (ys[r] < 0)
        memset (d + (size_t) r * NC, 0, sizeof (float) * NC);
      else
        d[(size_t) r * NC + ys[r]] -= py[r] * bc[ys[r]] + kw[r];
    }
}

/* Both gradients in one pass over the rows. ce_scale: dloss / sum w (0: no cross-entropy
 * term); dice_scale: dloss (0: no Dice term). */
static void
combined_backward (float *dlogits, const float *logits, const uint8_t *targets,
                   const float *weights, const ClassSums *sums, int present, float ce_scale,
                   float dice_scale, int ignore_index, int Nr, int NC)
{
  /* dL/dp_ic = a_c - [y_i = c] b_c with a_c = (2 I_c + s) / (K Den_c^2) and
   * b_c = 2 / (K Den_c), Den_c = P_c + Y_c + s (the derivative of -(1/K) sum_c Num/Den over
   * the K counted classes; a_c = b_c = 0 for the others). */
  float a[NC], b[NC];
  int counts[NC];
  int k = counted_classes (counts, sums, present, NC);

  for (int c = 0; c < NC; c++)
    {
      double den = sums[c].prob + sums[c].count + VG_DICE_SMOOTH;
      a[c] = counts[c] ? (float) (dice_scale * (2.0 * sums[c].inter + VG_DICE_SMOOTH)
                                  / (k * den * den))
                       : 0.0f;
      b[c] = counts[c] ? (float) (dice_scale * 2.0 / (k * den)) : 0.0f;
    }

  int n_blocks = (Nr + SOFTMAX_BLOCK - 1) / SOFTMAX_BLOCK;

#pragma omp parallel for schedule(static) if (Nr > 4096)
  for (int blk = 0; blk < n_blocks; blk++)
    backward_block (dlogits, logits, targets, weights, a, b, ce_scale, ignore_index,
                    blk * SOFTMAX_BLOCK, Nr, NC);
}

void
vg_dice_backward (float *dlogits, const float *logits, const uint8_t *targets,
                  int ignore_index, float dloss, int Nr, int NC)
{
  ClassSums sums[NC];

  class_sums (sums, NULL, logits, targets, NULL, ignore_index, Nr, NC);
  combined_backward (dlogits, logits, targets, NULL, sums, 0, 0.0f, dloss, ignore_index, Nr,
                     NC);
}

static float
ce_dice_forward (const float *logits, const uint8_t *targets, const float *weights,
                 int present, int ignore_index, int Nr, int NC)
{
  return vg_cross_entropy_forward (logits, targets, weights, ignore_index, Nr, NC)
         + dice_forward (logits, targets, present, ignore_index, Nr, NC);
}

static void
ce_dice_backward (float *dlogits, const float *logits, const uint8_t *targets,
                  const float *weights, int present, int ignore_index, float dloss, int Nr,
                  int NC)
{
  ClassSums sums[NC];
  double total = 0.0;

  class_sums (sums, &total, logits, targets, weights, ignore_index, Nr, NC);
  combined_backward (dlogits, logits, targets, weights, sums, present,
                     total > 0.0 ? (float) (dloss / total) : 0.0f, dloss, ignore_index, Nr,
                     NC);
}

float
vg_cross_entropy_dice_forward (const float *logits, const uint8_t *targets,
                               const float *weights, int ignore_index, int Nr, int NC)
{
  return ce_dice_forward (logits, targets, weights, 0, ignore_index, Nr, NC);
}

void
vg_cross_entropy_dice_backward (float *dlogits, const float *logits, const uint8_t *targets,
                                const float *weights, int ignore_index, float dloss, int Nr,
                                int NC)
{
  ce_dice_backward (dlogits, logits, targets, weights, 0, ignore_index, dloss, Nr, NC);
}

float
vg_cross_entropy_dice_present_forward (const float *logits, const uint8_t *targets,
                                       const float *weights, int ignore_index, int Nr, int NC)
{
  return ce_dice_forward (logits, targets, weights, 1, ignore_index, Nr, NC);
}

void
vg_cross_entropy_dice_present_backward (float *dlogits, const float *logits,
                                        const uint8_t *targets, const float *weights,
                                        int ignore_index, float dloss, int Nr, int NC)
{
  ce_dice_backward (dlogits, logits, targets, weights, 1, ignore_index, dloss, Nr, NC);
}

/* ---- data-parallel: the batch's sums added over the processes ------------------------- */

/* This process's class sums (3 NC doubles: I, P, Y per class), then the cross-entropy's
 * numerator and weight total, in buf (3 NC + 2); sum adds buf over the processes. */
static void
global_sums (double *buf, ClassSums *sums, const float *logits, const uint8_t *targets,
             const float *weights, int ignore_index, int Nr, int NC, VgDiceSum sum)
{
  double total = 0.0;
  float ce = vg_cross_entropy_forward (logits, targets, weights, ignore_index, Nr, NC);

  class_sums (sums, &total, logits, targets, weights, ignore_index, Nr, NC);
  for (int c = 0; c < NC; c++)
    {
      buf[3 * c] = sums[c].inter;
      buf[3 * c + 1] = sums[c].prob;
      buf[3 * c + 2] = sums[c].count;
    }
  buf[3 * NC] = (double) ce * total;
  buf[3 * NC + 1] = total;
  sum (buf, 3 * (size_t) NC + 2);
  for (int c = 0; c < NC; c++)
    {
      sums[c].inter = buf[3 * c];
      sums[c].prob = buf[3 * c + 1];
      sums[c].count = buf[3 * c + 2];
    }
}

float
vg_cross_entropy_dice_dist_forward (const float *logits, const uint8_t *targets,
                                    const float *weights, int present, int ignore_index,
                                    int Nr, int NC, VgDiceSum sum)
{
  ClassSums sums[NC];
  double buf[3 * NC + 2], score = 0.0, ce, rows = 0.0;
  int counts[NC], k;

  global_sums (buf, sums, logits, targets, weights, ignore_index, Nr, NC, sum);
  ce = buf[3 * NC + 1] > 0.0 ? buf[3 * NC] / buf[3 * NC + 1] : 0.0;
  for (int c = 0; c < NC; c++)
    rows += sums[c].count;
  if (rows == 0.0) /* every pixel of the batch ignored: no Dice, as dice_forward */
    return (float) ce;
  k = counted_classes (counts, sums, present, NC);
  for (int c = 0; c < NC; c++)
    if (counts[c])
      score += (2.0 * sums[c].inter + VG_DICE_SMOOTH)
               / (sums[c].prob + sums[c].count + VG_DICE_SMOOTH);
  return (float) (ce + 1.0 - score / k);
}

void
vg_cross_entropy_dice_dist_backward (float *dlogits, const float *logits,
                                     const uint8_t *targets, const float *weights, int present,
                                     int ignore_index, float dloss, int Nr, int NC,
                                     VgDiceSum sum)
{
  ClassSums sums[NC];
  double buf[3 * NC + 2];

  global_sums (buf, sums, logits, targets, weights, ignore_index, Nr, NC, sum);
  combined_backward (dlogits, logits, targets, weights, sums, present,
                     buf[3 * NC + 1] > 0.0 ? (float) (dloss / buf[3 * NC + 1]) : 0.0f, dloss,
                     ignore_index, Nr, NC);
}
