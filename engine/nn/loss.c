/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Weighted softmax cross-entropy, the mean reduction of
 * torch.nn.CrossEntropyLoss(weight=w, ignore_index=ignore_index):
 *   loss = sum_i w[y_i] * (logsumexp(z_i) - z_i[y_i]) / sum_i w[y_i]
 * over the rows i whose target y_i is neither ignore_index nor out of range (>= NC).
 * logits z (Nr, NC), targets y (Nr), weights w (NC) or NULL for ones.
 *
 * The softmax is never stored: the forward needs only each row's log-sum-exp and the
 * backward recomputes the row's probabilities while it writes dlogits.
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

/* Rows [i0, i1) of the forward: the weighted sum of their losses and of their weights.
 * log-sum-exp as max_j z_j + log sum_j exp(z_j - max): no overflow for any logit. */
static SIMD_CLONES void
forward_rows (const float *logits, const uint8_t *targets, const float *weights,
              int ignore_index, int i0, int i1, int NC, double *num, double *den)
{
  float t[NC * SOFTMAX_BLOCK], m[SOFTMAX_BLOCK], s[SOFTMAX_BLOCK];
  double n = 0.0, d = 0.0;

  for (int b = i0; b < i1; b += SOFTMAX_BLOCK)
    {
      int nb = i1 - b < SOFTMAX_BLOCK ? i1 - b : SOFTMAX_BLOCK;
      const float *z = logits + (size_t) b * NC;

      softmax_block_load (t, z, nb, NC);
      softmax_block_exp (t, m, s, NC);
      /* the log-sum-exp of each row, max + ln(sum), for the whole block at once */
#pragma omp simd
      for (int r = 0; r < SOFTMAX_BLOCK; r++)
        m[r] += log_approx (s[r]);
      for (int r = 0; r < nb; r++)
        {
          int y = targets[b + r];
          if (!is_counted (y, ignore_index, NC))
            continue;
          float w = weights != NULL ? weights[y] : 1.0f;
          n += (double) w * (m[r] - z[(size_t) r * NC + y]);
          d += w;
        }
    }
  *num = n;
  *den = d;
}

/* Rows [i0, i1) of the backward (see vg_cross_entropy_backward), k = dloss / sum w. */
static SIMD_CLONES void
backward_rows (float *dlogits, const float *logits, const uint8_t *targets,
               const float *weights, int ignore_index, float k, int i0, int i1, int NC)
{
  float t[NC * SOFTMAX_BLOCK], m[SOFTMAX_BLOCK], s[SOFTMAX_BLOCK], kw[SOFTMAX_BLOCK];

  for (int b = i0; b < i1; b += SOFTMAX_BLOCK)
    {
      int nb = i1 - b < SOFTMAX_BLOCK ? i1 - b : SOFTMAX_BLOCK;
      float *d = dlogits + (size_t) b * NC;

      softmax_block_load (t, logits + (size_t) b * NC, nb, NC);
      softmax_block_exp (t, m, s, NC);
      for (int r = 0; r < SOFTMAX_BLOCK; r++)
        {
          int y = r < nb ? targets[b + r] : ignore_index;
          kw[r] = is_counted (y, ignore_index, NC) ? k * (weights != NULL ? weights[y] : 1.0f)
                                                   : 0.0f;
          m[r] = kw[r] / s[r];
        }
      for (int j = 0; j < NC; j++)
#pragma omp simd
        for (int r = 0; r < SOFTMAX_BLOCK; r++)
          t[j * SOFTMAX_BLOCK + r] *= m[r];
      softmax_block_store (d, t, nb, NC);
      for (int r = 0; r < nb; r++)
        {
          int y = targets[b + r];
          if (kw[r] == 0.0f) /* ignored, or k = 0: exact zeros whatever the logits */
            memset (d + (size_t) r * NC, 0, sizeof (float) * NC);
          else
            d[(size_t) r * NC + y] -= kw[r];
        }
    }
}

/* Rows [i0, i1) of both passes at once: the forward's sums (*num, *den, as forward_rows) and
 * the backward's dlogits (as backward_rows with k), from one load and one exp of each block;
 * a row's logits are read before its gradient is stored, so dlogits may alias logits. */
static SIMD_CLONES void
forward_backward_rows (float *dlogits, const float *logits, const uint8_t *targets,
                       const float *weights, int ignore_index, float k, int i0, int i1, int NC,
                       double *num, double *den)
{
  float t[NC * SOFTMAX_BLOCK], m[SOFTMAX_BLOCK], s[SOFTMAX_BLOCK], kw[SOFTMAX_BLOCK];
  float lse[SOFTMAX_BLOCK];
  double n = 0.0, d = 0.0;

  for (int b = i0; b < i1; b += SOFTMAX_BLOCK)
    {
      int nb = i1 - b < SOFTMAX_BLOCK ? i1 - b : SOFTMAX_BLOCK;
      const float *z = logits + (size_t) b * NC;
      float *dz = dlogits + (size_t) b * NC;

      softmax_block_load (t, z, nb, NC);
      softmax_block_exp (t, m, s, NC);
#pragma omp simd
      for (int r = 0; r < SOFTMAX_BLOCK; r++)
        lse[r] = m[r] + log_approx (s[r]);
      for (int r = 0; r < nb; r++)
        {
          int y = targets[b + r];
          if (!is_counted (y, ignore_index, NC))
            continue;
          float w = weights != NULL ? weights[y] : 1.0f;
          n += (double) w * (lse[r] - z[(size_t) r * NC + y]);
          d += w;
        }
      for (int r = 0; r < SOFTMAX_BLOCK; r++)
        {
          int y = r < nb ? targets[b + r] : ignore_index;
          kw[r] = is_counted (y, ignore_index, NC) ? k * (weights != NULL ? weights[y] : 1.0f)
                                                   : 0.0f;
          m[r] = kw[r] / s[r];
        }
      for (int j = 0; j < NC; j++)
#pragma omp simd
        for (int r = 0; r < SOFTMAX_BLOCK; r++)
          t[j * SOFTMAX_BLOCK + r] *= m[r];
      softmax_block_store (dz, t, nb, NC);
      for (int r = 0; r < nb; r++)
        {
          int y = targets[b + r];
          if (kw[r] == 0.0f)
            memset (dz + (size_t) r * NC, 0, sizeof (float) * NC);
          else
            dz[(size_t) r * NC + y] -= kw[r];
        }
    }
  *num = n;
  *den = d;
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

      forward_rows (logits, targets, weights, ignore_index, c * CE_CHUNK,
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
    backward_rows (dlogits, logits, targets, weights, ignore_index, k, c * CE_CHUNK,
                   (int) vg_chunk_end (c, CE_CHUNK, Nr), NC);
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

      forward_backward_rows (dlogits, logits, targets, weights, ignore_index, k, c * CE_CHUNK,
                             (int) vg_chunk_end (c, CE_CHUNK, Nr), NC, &n, &d);
      num += n;
      den += d;
    }
  return den > 0.0 ? (float) (num / den) : 0.0f;
}
