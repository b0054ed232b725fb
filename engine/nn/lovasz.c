/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Lovász-softmax loss and cross-entropy + Lovász (see vg-lovasz.h for the formula and the
 * histogram that stands for the sort).
 *
 * Shape letters: Nr rows (pixels of the batch), NC classes, NB = VG_LOVASZ_BINS.
 *
 * Both passes recompute each row's softmax instead of storing it: the forward and the
 * first pass of the backward need only the histograms, the second pass each class's
 * increment of J per bin.
 *
 * Gradient rule: dlogits is overwritten (=); it may alias logits. */
#include "vg-lovasz.h"

#include <math.h>
#include <string.h>

#include <glib.h>
#include <omp.h>

#include "vg-nn.h"
#include "vg-softmax-block.h"

#define NB VG_LOVASZ_BINS
#define FIXED_ONE 16777216.0 /* errors are summed in units of 2^-24 */

static inline int
is_counted (int y, int ignore_index, int NC)
{
  return y != ignore_index && y < NC;
}

/* The bin of error e in [0, 1], highest errors in the highest bins. */
static inline int
bin_of (float e)
{
  int b = (int) (e * (float) NB);

  return b < 0 ? 0 : b >= NB ? NB - 1 : b;
}

/* One class's histogram over the batch: pixels of the class (fg) and of the others (bg)
 * per bin, and the bins' summed errors. */
typedef struct {
  uint32_t fg[NB], bg[NB];
  uint64_t err[NB];
} ClassHist;

/* Rows [i0, i1) (on block boundaries but the last) into hist (NC), present classes only;
 * the errors' sums only when with_err (the value needs them, the gradient does not). The
 * bins of a block's 16 rows are computed as vectors, then counted one by one. */
static SIMD_CLONES void
chunk_hist (ClassHist *hist, const int *present, gboolean with_err, const float *logits,
            const uint8_t *targets, int ignore_index, int i0, int i1, int NC)
{
  float t[NC * SOFTMAX_BLOCK], kw[SOFTMAX_BLOCK];
  int ys[SOFTMAX_BLOCK], kb[SOFTMAX_BLOCK];
  uint32_t ef[SOFTMAX_BLOCK];

  for (int b = i0; b < i1; b += SOFTMAX_BLOCK)
    {
      /* the same softmax, bit for bit, as the backward's blocks */
      int nb = softmax_block_targets (t, ys, kw, logits, targets, NULL, 0.0f, ignore_index, b,
                                      i1, NC);

      for (int c = 0; c < NC; c++)
        {
          if (!present[c])
            continue;
#pragma omp simd
          for (int r = 0; r < SOFTMAX_BLOCK; r++)
            {
              float p = t[c * SOFTMAX_BLOCK + r];
              float e = ys[r] == c ? 1.0f - p : p;

              e = e < 0.0f ? 0.0f : e > 1.0f ? 1.0f : e;
              kb[r] = bin_of (e);
              ef[r] = (uint32_t) (e * (float) FIXED_ONE + 0.5f);
            }
          for (int r = 0; r < nb; r++)
            {
              if (ys[r] < 0)
                continue;
              if (ys[r] == c)
                hist[c].fg[kb[r]]++;
              else
                hist[c].bg[kb[r]]++;
              if (with_err)
                hist[c].err[kb[r]] += ef[r];
            }
        }
    }
}

/* The batch's histograms (NC, zeroed here): one private set per thread, added at the end.
 * Integer sums, so any split of the rows gives the same bits. */
static void
batch_hist (ClassHist *hist, const int *present, gboolean with_err, const float *logits,
            const uint8_t *targets, int ignore_index, int Nr, int NC)
{
  int n_threads = Nr > 4096 ? omp_get_max_threads () : 1;
  ClassHist *own;

  if (n_threads < 1)
    n_threads = 1;
  own = g_new0 (ClassHist, (size_t) n_threads * NC);
#pragma omp parallel num_threads (n_threads)
  {
    int id = omp_get_thread_num (), nt = omp_get_num_threads ();
    int nblk = (Nr + SOFTMAX_BLOCK - 1) / SOFTMAX_BLOCK;
    int i0 = (int) ((long long) nblk * id / nt) * SOFTMAX_BLOCK;
    int i1 = (int) ((long long) nblk * (id + 1) / nt) * SOFTMAX_BLOCK;

    i0 = i0 < Nr ? i0 : Nr;
    i1 = i1 < Nr ? i1 : Nr;
    chunk_hist (own + (size_t) id * NC, present, with_err, logits, targets, ignore_index, i0, i1,
                NC);
  }
  memset (hist, 0, sizeof (ClassHist) * NC);
  for (int id = 0; id < n_threads; id++)
    for (int c = 0; c < NC; c++)
      {
        const ClassHist *h = own + (size_t) id * NC + c;

        if (!present[c])
          continue;
        for (int k = 0; k < NB; k++)
          {
            hist[c].fg[k] += h->fg[k];
            hist[c].bg[k] += h->bg[k];
            hist[c].err[k] += h->err[k];
          }
      }
  g_free (own);
}

/* One class: walking its bins from the largest errors down, the increment of J over each
 * bin; coef (NB, may be NULL) = that increment per pixel of the bin, times scale. Returns
 * loss_c. G: the class's pixels in the batch. */
static double
class_lovasz (float *coef, const ClassHist *h, double G, double scale)
{
  double F = 0.0, Bk = 0.0, J = 0.0, loss = 0.0;

  for (int k = NB - 1; k >= 0; k--)
    {
      double n = (double) h->fg[k] + (double) h->bg[k], J1, dJ;

      if (n == 0.0)
        {
          if (coef != NULL)
            coef[k] = 0.0f;
          continue;
        }
      F += h->fg[k];
      Bk += h->bg[k];
      J1 = 1.0 - (G - F) / (G + Bk);
      dJ = J1 - J;
      J = J1;
      loss += (double) h->err[k] / FIXED_ONE / n * dJ;
      if (coef != NULL)
        coef[k] = (float) (dJ / n * scale);
    }
  return loss;
}

/* What both passes need of the batch (over the ranks when sum is given): which classes are
 * present, their pixel counts, their histograms, and the cross-entropy's numerator. */
typedef struct {
  int K;              /* present classes */
  int *present;       /* (NC) */
  double *count;      /* (NC) counted pixels of each class */
  ClassHist *hist;    /* (NC), filled for the present classes; NULL when K = 0 */
  double ce_num;      /* sum_i w[y_i] (-log p_iy) when asked for, else 0 */
} Batch;

static void
batch_clear (Batch *b)
{
  g_free (b->present);
  g_free (b->count);
  g_free (b->hist);
}

/* value: for the loss's value (the errors' sums too), not only its gradient; ce: with the
 * cross-entropy's numerator. sum (may be NULL): adds n doubles in place over the ranks
 * (data-parallel training). */
static void
batch_init (Batch *b, const float *logits, const uint8_t *targets, const float *weights,
            gboolean value, gboolean ce, int ignore_index, int Nr, int NC, VgLovaszSum sum)
{
  double *buf = g_new0 (double, NC + 1);

  b->present = g_new0 (int, NC);
  b->count = g_new0 (double, NC);
  b->hist = NULL;
  b->K = 0;
  for (int i = 0; i < Nr; i++)
    if (is_counted (targets[i], ignore_index, NC))
      buf[targets[i]] += 1.0;
  if (ce)
    buf[NC] = vg_cross_entropy_forward (logits, targets, weights, ignore_index, Nr, NC)
              * vg_cross_entropy_weight_total (targets, weights, ignore_index, Nr, NC);
  if (sum != NULL)
    sum (buf, (size_t) NC + 1);
  for (int c = 0; c < NC; c++)
    {
      b->count[c] = buf[c];
      b->K += b->present[c] = buf[c] > 0.0;
    }
  b->ce_num = buf[NC];
  g_free (buf);
  if (b->K == 0)
    return;
  b->hist = g_new (ClassHist, NC);
  batch_hist (b->hist, b->present, value, logits, targets, ignore_index, Nr, NC);
  if (sum != NULL)
    {
      /* integers below 2^53: exact in doubles, so the sum is the same in any order */
      size_t n = (size_t) NC * NB * 3;
      double *h = g_new (double, n);

      for (int c = 0; c < NC; c++)
        for (int k = 0; k < NB; k++)
          {
            h[((size_t) c * NB + k) * 3] = b->hist[c].fg[k];
            h[((size_t) c * NB + k) * 3 + 1] = b->hist[c].bg[k];
            h[((size_t) c * NB + k) * 3 + 2] = (double) b->hist[c].err[k];
          }
      sum (h, n);
      for (int c = 0; c < NC; c++)
        for (int k = 0; k < NB; k++)
          {
            b->hist[c].fg[k] = (uint32_t) h[((size_t) c * NB + k) * 3];
            b->hist[c].bg[k] = (uint32_t) h[((size_t) c * NB + k) * 3 + 1];
            b->hist[c].err[k] = (uint64_t) h[((size_t) c * NB + k) * 3 + 2];
          }
      g_free (h);
    }
}

/* The loss's value: the Lovász term, plus the cross-entropy when ce. */
static float
loss_value (const float *logits, const uint8_t *targets, const float *weights, gboolean ce,
            int ignore_index, int Nr, int NC, VgLovaszSum sum)
{
  Batch b;
  double lovasz = 0.0, wtotal = 0.0, value;

  batch_init (&b, logits, targets, weights, TRUE, ce, ignore_index, Nr, NC, sum);
  for (int c = 0; c < NC; c++)
    {
      if (b.present[c])
        lovasz += class_lovasz (NULL, &b.hist[c], b.count[c], 1.0);
      wtotal += b.count[c] * (weights != NULL ? weights[c] : 1.0f);
    }
  value = (b.K > 0 ? lovasz / b.K : 0.0) + (wtotal > 0.0 ? b.ce_num / wtotal : 0.0);
  batch_clear (&b);
  return (float) value;
}

float
vg_lovasz_forward (const float *logits, const uint8_t *targets, int ignore_index, int Nr,
                   int NC)
{
  return loss_value (logits, targets, NULL, FALSE, ignore_index, Nr, NC, NULL);
}

float
vg_cross_entropy_lovasz_forward (const float *logits, const uint8_t *targets,
                                 const float *weights, int ignore_index, int Nr, int NC)
{
  return vg_cross_entropy_forward (logits, targets, weights, ignore_index, Nr, NC)
         + loss_value (logits, targets, NULL, FALSE, ignore_index, Nr, NC, NULL);
}

float
vg_cross_entropy_lovasz_dist_forward (const float *logits, const uint8_t *targets,
                                      const float *weights, int ignore_index, int Nr, int NC,
                                      VgLovaszSum sum)
{
  return loss_value (logits, targets, weights, TRUE, ignore_index, Nr, NC, sum);
}

/* Rows [i0, min(i0 + SOFTMAX_BLOCK, Nr)). With p the row's softmax and g_c the Lovász
 * gradient in p_c (coef of the bin of e_c, negated for the row's own class, 0 for classes
 * absent from the batch), dz_j = p_j (g_j - sum_c p_c g_c); the cross-entropy adds
 * kw (p_j - [y = j]). */
static SIMD_CLONES void
backward_block (float *dlogits, const float *logits, const uint8_t *targets,
                const float *weights, const float *coef, const int *present, float ce_scale,
                int ignore_index, int i0, int Nr, int NC)
{
  float t[NC * SOFTMAX_BLOCK], g[NC * SOFTMAX_BLOCK];
  float kw[SOFTMAX_BLOCK], pg[SOFTMAX_BLOCK];
  int ys[SOFTMAX_BLOCK];
  float *d = dlogits + (size_t) i0 * NC;
  int nb = softmax_block_targets (t, ys, kw, logits, targets, weights, ce_scale, ignore_index,
                                  i0, Nr, NC);

  for (int r = 0; r < SOFTMAX_BLOCK; r++)
    pg[r] = 0.0f;
  /* the Lovász gradient in p: a bin lookup per (row, present class), 16 rows a vector */
  for (int j = 0; j < NC; j++)
    {
      const float *cj = coef + (size_t) j * NB;

      if (!present[j])
        {
          for (int r = 0; r < SOFTMAX_BLOCK; r++)
            g[j * SOFTMAX_BLOCK + r] = 0.0f;
          continue;
        }
#pragma omp simd
      for (int r = 0; r < SOFTMAX_BLOCK; r++)
        {
          float p = t[j * SOFTMAX_BLOCK + r];
          float e = ys[r] == j ? 1.0f - p : p, gv;

          e = e < 0.0f ? 0.0f : e > 1.0f ? 1.0f : e;
          gv = cj[bin_of (e)];
          g[j * SOFTMAX_BLOCK + r] = ys[r] < 0 ? 0.0f : ys[r] == j ? -gv : gv;
        }
    }
  for (int j = 0; j < NC; j++)
#pragma omp simd
    for (int r = 0; r < SOFTMAX_BLOCK; r++)
      pg[r] += t[j * SOFTMAX_BLOCK + r] * g[j * SOFTMAX_BLOCK + r];
  /* every j as if j != y; the target's entry is mended below */
  for (int j = 0; j < NC; j++)
#pragma omp simd
    for (int r = 0; r < SOFTMAX_BLOCK; r++)
      t[j * SOFTMAX_BLOCK + r] *= g[j * SOFTMAX_BLOCK + r] - pg[r] + kw[r];
  softmax_block_store (d, t, nb, NC);
  for (int r = 0; r < nb; r++)
    {
      if (ys[r] < 0)
        memset (d + (size_t) r * NC, 0, sizeof (float) * NC);
      else
        d[(size_t) r * NC + ys[r]] -= kw[r];
    }
}

/* Both gradients in one pass over the rows: the cross-entropy's when with_ce (scaled by
 * dloss / sum w over the batch), the Lovász term's scaled by dloss. */
static void
combined_backward (float *dlogits, const float *logits, const uint8_t *targets,
                   const float *weights, gboolean with_ce, int ignore_index, float dloss,
                   int Nr, int NC, VgLovaszSum sum)
{
  Batch b;
  float *coef = g_new0 (float, (size_t) NC * NB);
  double wtotal = 0.0;
  float ce_scale = 0.0f;
  int n_blocks = (Nr + SOFTMAX_BLOCK - 1) / SOFTMAX_BLOCK;

  batch_init (&b, logits, targets, weights, FALSE, FALSE, ignore_index, Nr, NC, sum);
  for (int c = 0; c < NC; c++)
    {
      if (b.present[c])
        class_lovasz (coef + (size_t) c * NB, &b.hist[c], b.count[c], (double) dloss / b.K);
      /* the cross-entropy's denominator from the class counts: exact in any order */
      wtotal += b.count[c] * (weights != NULL ? weights[c] : 1.0f);
    }
  if (with_ce && wtotal > 0.0)
    ce_scale = (float) (dloss / wtotal);

#pragma omp parallel for schedule(static) if (Nr > 4096)
  for (int blk = 0; blk < n_blocks; blk++)
    backward_block (dlogits, logits, targets, weights, coef, b.present, ce_scale,
                    ignore_index, blk * SOFTMAX_BLOCK, Nr, NC);
  g_free (coef);
  batch_clear (&b);
}

void
vg_lovasz_backward (float *dlogits, const float *logits, const uint8_t *targets,
                    int ignore_index, float dloss, int Nr, int NC)
{
  combined_backward (dlogits, logits, targets, NULL, FALSE, ignore_index, dloss, Nr, NC, NULL);
}

void
vg_cross_entropy_lovasz_backward (float *dlogits, const float *logits, const uint8_t *targets,
                                  const float *weights, int ignore_index, float dloss, int Nr,
                                  int NC)
{
  combined_backward (dlogits, logits, targets, weights, TRUE, ignore_index, dloss, Nr, NC,
                     NULL);
}

void
vg_cross_entropy_lovasz_dist_backward (float *dlogits, const float *logits,
                                       const uint8_t *targets, const float *weights,
                                       int ignore_index, float dloss, int Nr, int NC,
                                       VgLovaszSum sum)
{
  combined_backward (dlogits, logits, targets, weights, TRUE, ignore_index, dloss, Nr, NC, sum);
}
