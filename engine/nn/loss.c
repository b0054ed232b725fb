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
#include "vg-simd.h"

#include <math.h>
#include <string.h>

static inline int
is_counted (int y, int ignore_index, int NC)
{
  return y != ignore_index && y < NC;
}

/* Rows are handed to the vectorised kernels in chunks of this many. */
enum { CE_CHUNK = 1024 };

static inline int
chunk_end (int c, int Nr)
{
  return (c + 1) * CE_CHUNK < Nr ? (c + 1) * CE_CHUNK : Nr;
}

/* max_j z_j over one row. */
static inline float
row_max (const float *z, int NC)
{
  float m = z[0];

#pragma omp simd reduction(max : m)
  for (int j = 1; j < NC; j++)
    m = z[j] > m ? z[j] : m;
  return m;
}

/* Rows [i0, i1) of the forward: the weighted sum of their losses and of their weights.
 * log-sum-exp as max_j z_j + log sum_j exp(z_j - max): no overflow for any logit. */
static SIMD_CLONES void
forward_rows (const float *logits, const uint8_t *targets, const float *weights,
              int ignore_index, int i0, int i1, int NC, double *num, double *den)
{
  double n = 0.0, d = 0.0;

  for (int i = i0; i < i1; i++)
    {
      int y = targets[i];
      if (!is_counted (y, ignore_index, NC))
        continue;
      const float *z = logits + (size_t) i * NC;
      float w = weights != NULL ? weights[y] : 1.0f;
      float m = row_max (z, NC);
      float s = 0.0f;

#pragma omp simd reduction(+ : s)
      for (int j = 0; j < NC; j++)
        s += exp2_approx ((z[j] - m) * LOG2E);
      n += (double) w * (m + logf (s) - z[y]);
      d += w;
    }
  *num = n;
  *den = d;
}

/* Rows [i0, i1) of the backward (see vg_cross_entropy_backward), k = dloss / sum w. */
static SIMD_CLONES void
backward_rows (float *dlogits, const float *logits, const uint8_t *targets,
               const float *weights, int ignore_index, float k, int i0, int i1, int NC)
{
  for (int i = i0; i < i1; i++)
    {
      int y = targets[i];
      float *d = dlogits + (size_t) i * NC;
      if (!is_counted (y, ignore_index, NC) || k == 0.0f)
        {
          memset (d, 0, sizeof (float) * NC);
          continue;
        }
      const float *z = logits + (size_t) i * NC;
      float kw = k * (weights != NULL ? weights[y] : 1.0f);
      float m = row_max (z, NC);
      float s = 0.0f;

#pragma omp simd reduction(+ : s)
      for (int j = 0; j < NC; j++)
        {
          d[j] = exp2_approx ((z[j] - m) * LOG2E);
          s += d[j];
        }
      float kws = kw / s;
#pragma omp simd
      for (int j = 0; j < NC; j++)
        d[j] *= kws;
      d[y] -= kw;
    }
}

/* sum_i w[y_i] over the counted rows, in double: a 512x512 batch has 10^6 of them. */
static double
weight_total (const uint8_t *targets, const float *weights, int ignore_index, int Nr, int NC)
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
                    chunk_end (c, Nr), NC, &n, &d);
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
  double total = weight_total (targets, weights, ignore_index, Nr, NC);
  float k = total > 0.0 ? (float) (dloss / total) : 0.0f;
  int n_chunks = (Nr + CE_CHUNK - 1) / CE_CHUNK;

#pragma omp parallel for schedule(static) if (Nr > 4096)
  for (int c = 0; c < n_chunks; c++)
    backward_rows (dlogits, logits, targets, weights, ignore_index, k, c * CE_CHUNK,
                   chunk_end (c, Nr), NC);
}
