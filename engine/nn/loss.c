/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Weighted softmax cross-entropy, the mean reduction of
 * torch.nn.CrossEntropyLoss(weight=w, ignore_index=ignore_index):
 *   loss = sum_i w[y_i] * (logsumexp(z_i) - z_i[y_i]) / sum_i w[y_i]
 * over the rows i whose target y_i is neither ignore_index nor out of range (>= NC).
 * logits z (Nr, NC), targets y (Nr), weights w (NC) or NULL for ones.
 *
 * The softmax is never stored: the forward needs only each row's log-sum-exp and the
 * backward recomputes the row's probabilities while it writes dlogits; a training step's
 * vg_cross_entropy_forward_backward does both from one read of the logits (one routine,
 * ce_rows, for the three).
 *
 * Where every target is ignored PyTorch returns 0/0 = NaN; here the loss and its gradient
 * are 0, so one fully ignored batch cannot poison the weights.
 *
 * Gradient rule: dlogits is overwritten (=). */
#include "vg-nn.h"
#include "vg-softmax-block.h"

#include <math.h>
#include <string.h>

static inline int
is_counted (int y, int ignore_index, int NC)
{
  return y != ignore_index && y < NC;
}

/* Rows are handed to the vectorised kernels in chunks of this many (a multiple of
 * SOFTMAX_BLOCK); the chunks, not the threads, fix the order of the sums. */
enum { CE_CHUNK = 1024 };

/* The forward's part of a block of nb rows from row b, exp'd (softmax_block_exp: m the rows'
 * maxima, s their sums) from logits z: adds the rows' weighted losses to *n and their weights
 * to *d. log-sum-exp as max_j z_j + log sum_j exp(z_j - max): no overflow for any logit. */
SB_INLINE void
block_loss (double *n, double *d, const float *m, const float *s, const float *z,
            const uint8_t *targets, const float *weights, int ignore_index, int b, int nb,
            int NC)
{
  float lse[SOFTMAX_BLOCK];

  /* the log-sum-exp of each row, max + ln(sum), for the whole block at once */
#pragma omp simd
  for (int r = 0; r < SOFTMAX_BLOCK; r++)
    lse[r] = m[r] + log_approx (s[r]);
  for (int r = 0; r < nb; r++)
    {
      int y = targets[b + r];
      if (!is_counted (y, ignore_index, NC))
        continue;
      float w = weights != NULL ? weights[y] : 1.0f;
      *n += (double) w * (lse[r] - z[(size_t) r * NC + y]);
      *d += w;
    }
}

/* The backward's part of the same block, t its exp'd logits and s their sums (t is
 * scaled here): writes its rows of dlogits at dz, k = dloss / sum w. */
SB_INLINE void
block_gradient (float *dz, float *t, const float *s, const uint8_t *targets,
                const float *weights, int ignore_index, float k, int b, int nb, int NC)
{
  float kw[SOFTMAX_BLOCK], scale[SOFTMAX_BLOCK];

  for (int r = 0; r < SOFTMAX_BLOCK; r++)
    {
      int y = r < nb ? targets[b + r] : ignore_index;
      kw[r] = is_counted (y, ignore_index, NC) ? k * (weights != NULL ? weights[y] : 1.0f)
                                               : 0.0f;
      scale[r] = kw[r] / s[r];
    }
  for (int j = 0; j < NC; j++)
#pragma omp simd
    for (int r = 0; r < SOFTMAX_BLOCK; r++)
      t[j * SOFTMAX_BLOCK + r] *= scale[r];
  softmax_block_store (dz, t, nb, NC);
  for (int r = 0; r < nb; r++)
    {
      int y = targets[b + r];
      if (kw[r] == 0.0f) /* ignored, or k = 0: exact zeros whatever the logits */
        memset (dz + (size_t) r * NC, 0, sizeof (float) * NC);
      else
        dz[(size_t) r * NC + y] -= kw[r];
    }
}

/* Rows [i0, i1) of the forward, the backward or both, from one load and one exp of each
 * block: with num and den, the weighted sum of the rows' losses and of their weights; with
 * dlogits, the backward's gradient (see vg_cross_entropy_backward), k = dloss / sum w. A
 * block's logits are read (its loss included) before its gradient is stored, so dlogits may
 * alias logits. */
static SIMD_CLONES void
ce_rows (float *dlogits, const float *logits, const uint8_t *targets, const float *weights,
         int ignore_index, float k, int i0, int i1, int NC, double *num, double *den)
{
  float t[NC * SOFTMAX_BLOCK], m[SOFTMAX_BLOCK], s[SOFTMAX_BLOCK];
  double n = 0.0, d = 0.0;

  for (int b = i0; b < i1; b += SOFTMAX_BLOCK)
    {
      int nb = i1 - b < SOFTMAX_BLOCK ? i1 - b : SOFTMAX_BLOCK;
      const float *z = logits + (size_t) b * NC;

      softmax_block_load (t, z, nb, NC);
      softmax_block_exp (t, m, s, NC);
      if (num != NULL)
        block_loss (&n, &d, m, s, z, targets, weights, ignore_index, b, nb, NC);
      if (dlogits != NULL)
        block_gradient (dlogits + (size_t) b * NC, t, s, targets, weights, ignore_index, k, b,
                        nb, NC);
    }
  if (num != NULL)
    *num = n, *den = d;
}

/* sum_i w[y_i] over the counted rows, in double: a 512x512 batch has 10^6 of them. */
double
vg_cross_entropy_weight_total (const uint8_t *targets, const float *weights, int ignore_index,
                               int Nr, int NC)
{
  double total = 0.0;

#pragma omp parallel for simd reduction(+ : total) schedule(static) if (Nr > 65536)
  for (int i = 0; i < Nr; i++)
    {
      int y = targets[i];
      if (is_counted (y, ignore_index, NC))
        total += weights != NULL ? weights[y] : 1.0f;
    }
  return total;
}

float
vg_cross_entropy_forward (const float *logits, const uint8_t *targets, const float *weights,
                          int ignore_index, int Nr, int NC)
{
  int n_chunks = (Nr + CE_CHUNK - 1) / CE_CHUNK;
  double num = 0.0, den = 0.0;

#pragma omp parallel for reduction(+ : num, den) schedule(static) if (Nr > 4096)
  for (int c = 0; c < n_chunks; c++)
    {
      double n, d;

      ce_rows (NULL, logits, targets, weights, ignore_index, 0.0f, c * CE_CHUNK,
               (int) vg_chunk_end (c, CE_CHUNK, Nr), NC, &n, &d);
      num += n;
      den += d;
    }
  return den > 0.0 ? (float) (num / den) : 0.0f;
}

/* dlogits_i = dloss * w[y_i] / sum w * (softmax(z_i) - onehot(y_i)); zero on ignored rows. */
void
vg_cross_entropy_backward (float *dlogits, const float *logits, const uint8_t *targets,
                           const float *weights, int ignore_index, float dloss, int Nr, int NC)
{
  double total = vg_cross_entropy_weight_total (targets, weights, ignore_index, Nr, NC);
  float k = total > 0.0 ? (float) (dloss / total) : 0.0f;
  int n_chunks = (Nr + CE_CHUNK - 1) / CE_CHUNK;

#pragma omp parallel for schedule(static) if (Nr > 4096)
  for (int c = 0; c < n_chunks; c++)
    ce_rows (dlogits, logits, targets, weights, ignore_index, k, c * CE_CHUNK,
             (int) vg_chunk_end (c, CE_CHUNK, Nr), NC, NULL, NULL);
}

/* Both at once (one read of the logits): returns vg_cross_entropy_forward's loss and writes
 * vg_cross_entropy_backward's dlogits, the same floats; dlogits may alias logits. */
float
vg_cross_entropy_forward_backward (float *dlogits, const float *logits, const uint8_t *targets,
                                   const float *weights, int ignore_index, float dloss, int Nr,
                                   int NC)
{
  double total = vg_cross_entropy_weight_total (targets, weights, ignore_index, Nr, NC);
  float k = total > 0.0 ? (float) (dloss / total) : 0.0f;
  int n_chunks = (Nr + CE_CHUNK - 1) / CE_CHUNK;
  double num = 0.0, den = 0.0;

#pragma omp parallel for reduction(+ : num, den) schedule(static) if (Nr > 4096)
  for (int c = 0; c < n_chunks; c++)
    {
      double n, d;

      ce_rows (dlogits, logits, targets, weights, ignore_index, k, c * CE_CHUNK,
               (int) vg_chunk_end (c, CE_CHUNK, Nr), NC, &n, &d);
      num += n;
      den += d;
    }
  return den > 0.0 ? (float) (num / den) : 0.0f;
}
