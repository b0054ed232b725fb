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

/* p (NC) = softmax(z) */
static inline void
row_softmax (float *p, const float *z, int NC)
{
  float m = z[0];
  float s = 0.0f;

  for (int j = 1; j < NC; j++)
    m = z[j] > m ? z[j] : m;
  for (int j = 0; j < NC; j++)
    {
      p[j] = expf (z[j] - m);
      s += p[j];
    }
  for (int j = 0; j < NC; j++)
    p[j] /= s;
}

/* sums (NC): the class sums over the counted rows; *weight_total (may be NULL): sum of
 * w[y_i] over them (1 each without weights). Returns the number of counted rows. */
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
      int i0 = (int) ((long long) Nr * c / N_CHUNKS);
      int i1 = (int) ((long long) Nr * (c + 1) / N_CHUNKS);
      double w = 0.0, cnt = 0.0;
      float p[NC];

      for (int i = i0; i < i1; i++)
        {
          int y = targets[i];
          if (!is_counted (y, ignore_index, NC))
            continue;
          row_softmax (p, logits + (size_t) i * NC, NC);
          for (int j = 0; j < NC; j++)
            part[c][j].prob += p[j];
          part[c][y].inter += p[y];
          part[c][y].count += 1.0;
          w += weights != NULL ? weights[y] : 1.0f;
          cnt += 1.0;
        }
      wpart[c] = w;
      npart[c] = cnt;
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

float
vg_dice_forward (const float *logits, const uint8_t *targets, int ignore_index, int Nr,
                 int NC)
{
  ClassSums sums[NC];
  double score = 0.0;

  if (class_sums (sums, NULL, logits, targets, NULL, ignore_index, Nr, NC) == 0.0)
    return 0.0f;
  for (int c = 0; c < NC; c++)
    score += (2.0 * sums[c].inter + VG_DICE_SMOOTH)
             / (sums[c].prob + sums[c].count + VG_DICE_SMOOTH);
  return (float) (1.0 - score / NC);
}

/* Both gradients in one pass over the rows. ce_scale: dloss / sum w (0: no cross-entropy
 * term); dice_scale: dloss (0: no Dice term). */
static void
combined_backward (float *dlogits, const float *logits, const uint8_t *targets,
                   const float *weights, const ClassSums *sums, float ce_scale,
                   float dice_scale, int ignore_index, int Nr, int NC)
{
  /* dL/dp_ic = a_c - [y_i = c] b_c with a_c = (2 I_c + s) / (NC Den_c^2) and
   * b_c = 2 / (NC Den_c), Den_c = P_c + Y_c + s (the derivative of -(1/NC) sum_c Num/Den). */
  float a[NC], b[NC];

  for (int c = 0; c < NC; c++)
    {
      double den = sums[c].prob + sums[c].count + VG_DICE_SMOOTH;
      a[c] = (float) (dice_scale * (2.0 * sums[c].inter + VG_DICE_SMOOTH) / (NC * den * den));
      b[c] = (float) (dice_scale * 2.0 / (NC * den));
    }

#pragma omp parallel for schedule(static) if (Nr > 4096)
  for (int i = 0; i < Nr; i++)
    {
      int y = targets[i];
      float *d = dlogits + (size_t) i * NC;
      float p[NC];

      if (!is_counted (y, ignore_index, NC))
        {
          memset (d, 0, sizeof (float) * NC);
          continue;
        }
      row_softmax (p, logits + (size_t) i * NC, NC); /* read the row before writing it */

      /* softmax backward of g: dz_j = p_j (g_j - sum_c p_c g_c) */
      float pg = 0.0f;
      for (int c = 0; c < NC; c++)
        pg += p[c] * a[c];
      pg -= p[y] * b[y];
      float kw = ce_scale * (weights != NULL ? weights[y] : 1.0f);
      for (int j = 0; j < NC; j++)
        {
          float g = a[j] - (j == y ? b[j] : 0.0f);
          d[j] = p[j] * (g - pg) + kw * p[j];
        }
      d[y] -= kw;
    }
}

void
vg_dice_backward (float *dlogits, const float *logits, const uint8_t *targets,
                  int ignore_index, float dloss, int Nr, int NC)
{
  ClassSums sums[NC];

  class_sums (sums, NULL, logits, targets, NULL, ignore_index, Nr, NC);
  combined_backward (dlogits, logits, targets, NULL, sums, 0.0f, dloss, ignore_index, Nr,
                     NC);
}

float
vg_cross_entropy_dice_forward (const float *logits, const uint8_t *targets,
                               const float *weights, int ignore_index, int Nr, int NC)
{
  return vg_cross_entropy_forward (logits, targets, weights, ignore_index, Nr, NC)
         + vg_dice_forward (logits, targets, ignore_index, Nr, NC);
}

void
vg_cross_entropy_dice_backward (float *dlogits, const float *logits, const uint8_t *targets,
                                const float *weights, int ignore_index, float dloss, int Nr,
                                int NC)
{
  ClassSums sums[NC];
  double total = 0.0;

  class_sums (sums, &total, logits, targets, weights, ignore_index, Nr, NC);
  combined_backward (dlogits, logits, targets, weights, sums,
                     total > 0.0 ? (float) (dloss / total) : 0.0f, dloss, ignore_index, Nr,
                     NC);
}
