/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Lovász-softmax loss (nn/vg-lovasz.h) against an independent double-precision
 * implementation that sorts the errors, as the paper's code does:
 *
 * - where no two errors of a class share a histogram bin, value and gradient equal the
 *   sorted ones (float rounding only);
 * - on a large batch, where bins hold many pixels, the value stays within 1 / bins of the
 *   sorted one;
 * - ignored rows and classes absent from the batch add nothing; a batch with every row
 *   ignored has loss 0 and gradient 0;
 * - cross-entropy + Lovász is the sum of the two, its backward in place (dlogits = logits)
 *   the sum of the two gradients; the same bits for 1 and 3 threads. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <omp.h>

#include "vg-lovasz.h"
#include "vg-nn.h"
#include "engine-test-util.h"
#include "test-register.h"

enum { IGNORE = 255 };

static int
cmp_desc (const void *a, const void *b, void *data)
{
  const double *e = data;
  double x = e[*(const int *) a], y = e[*(const int *) b];

  return x < y ? 1 : x > y ? -1 : 0;
}

/* The sorted Lovász-softmax in double: returns the loss, writes dlogits (Nr, NC) of it. */
static double
lovasz_ref (double *dlogits, const float *logits, const uint8_t *targets, int Nr, int NC)
{
  g_autofree double *p = g_new (double, (size_t) Nr * NC);
  g_autofree double *gp = g_new0 (double, (size_t) Nr * NC);
  g_autofree double *err = g_new (double, Nr);
  g_autofree int *order = g_new (int, Nr);
  double loss = 0.0;
  int K = 0;

  for (int i = 0; i < Nr; i++)
    {
      double mx = -INFINITY, s = 0.0;

      for (int c = 0; c < NC; c++)
        mx = fmax (mx, logits[(size_t) i * NC + c]);
      for (int c = 0; c < NC; c++)
        s += p[(size_t) i * NC + c] = exp (logits[(size_t) i * NC + c] - mx);
      for (int c = 0; c < NC; c++)
        p[(size_t) i * NC + c] /= s;
    }
  for (int c = 0; c < NC; c++)
    {
      int n = 0;
      double G = 0.0, F = 0.0, B = 0.0, J = 0.0, lc = 0.0;

      for (int i = 0; i < Nr; i++)
        if (targets[i] != IGNORE)
          {
            G += targets[i] == c;
            err[i] = targets[i] == c ? 1.0 - p[(size_t) i * NC + c] : p[(size_t) i * NC + c];
            order[n++] = i;
          }
      if (G == 0.0)
        continue;
      K++;
      g_qsort_with_data (order, n, sizeof (int), cmp_desc, err);
      for (int k = 0; k < n; k++)
        {
          int i = order[k];
          double J1, g;

          F += targets[i] == c;
          B += targets[i] != c;
          J1 = 1.0 - (G - F) / (G + B);
          g = J1 - J;
          J = J1;
          lc += err[i] * g;
          /* d err / d p = -1 on the class's own pixels */
          gp[(size_t) i * NC + c] = targets[i] == c ? -g : g;
        }
      loss += lc;
    }
  for (int i = 0; i < Nr; i++)
    for (int j = 0; j < NC; j++)
      {
        double pg = 0.0;

        for (int c = 0; c < NC; c++)
          pg += p[(size_t) i * NC + c] * gp[(size_t) i * NC + c];
        dlogits[(size_t) i * NC + j] =
          K > 0 ? p[(size_t) i * NC + j] * (gp[(size_t) i * NC + j] - pg) / K : 0.0;
      }
  return K > 0 ? loss / K : 0.0;
}

/* Random logits and targets of classes [0, used) (the others absent), some rows ignored. */
static void
make_inputs (float *logits, uint8_t *targets, int Nr, int NC, int used, double scale,
             guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);

  for (size_t i = 0; i < (size_t) Nr * NC; i++)
    logits[i] = (float) g_rand_double_range (r, -scale, scale);
  for (int i = 0; i < Nr; i++)
    targets[i] = g_rand_int_range (r, 0, 10) == 0 ? IGNORE : g_rand_int_range (r, 0, used);
  g_rand_free (r);
}

/* Whether two counted errors of some present class fall in one bin (the sorted and the
 * binned gradients then differ by design). */
static gboolean
bins_shared (const float *logits, const uint8_t *targets, int Nr, int NC)
{
  g_autofree guint8 *seen = g_new (guint8, VG_LOVASZ_BINS);

  for (int c = 0; c < NC; c++)
    {
      memset (seen, 0, VG_LOVASZ_BINS);
      for (int i = 0; i < Nr; i++)
        {
          double mx = -INFINITY, s = 0.0, p, e;
          int b;

          if (targets[i] == IGNORE)
            continue;
          for (int j = 0; j < NC; j++)
            mx = fmax (mx, logits[(size_t) i * NC + j]);
          for (int j = 0; j < NC; j++)
            s += exp (logits[(size_t) i * NC + j] - mx);
          p = exp (logits[(size_t) i * NC + c] - mx) / s;
          e = targets[i] == c ? 1.0 - p : p;
          b = (int) (e * VG_LOVASZ_BINS);
          b = b >= VG_LOVASZ_BINS ? VG_LOVASZ_BINS - 1 : b;
          /* a neighbour counts too: float rounding may move an error across a boundary */
          if (seen[b] || (b > 0 && seen[b - 1]) || (b + 1 < VG_LOVASZ_BINS && seen[b + 1]))
            return TRUE;
          seen[b] = 1;
        }
    }
  return FALSE;
}

VG_TEST ("/lovasz/exact-without-ties", test_exact)
{
  enum { NR = 12, NC = 5 };
  float logits[NR * NC], grad[NR * NC];
  uint8_t targets[NR];
  double ref[NR * NC], worst = 0.0, gmax = 0.0, want;
  guint32 seed = 1;

  /* inputs whose errors all lie in different bins (few rows, spread logits) */
  do
    make_inputs (logits, targets, NR, NC, 4, 1.5, seed++);
  while (bins_shared (logits, targets, NR, NC) && seed < 10000);
  g_assert_false (bins_shared (logits, targets, NR, NC));
  g_test_message ("seed %u", seed - 1);

  want = lovasz_ref (ref, logits, targets, NR, NC);
  g_assert_cmpfloat (want, >, 0.05);
  g_assert_cmpfloat_with_epsilon (vg_lovasz_forward (logits, targets, IGNORE, NR, NC), want,
                                  1e-5);
  vg_lovasz_backward (grad, logits, targets, IGNORE, 1.0f, NR, NC);
  for (int i = 0; i < NR * NC; i++)
    {
      worst = fmax (worst, fabs (grad[i] - ref[i]));
      gmax = fmax (gmax, fabs (ref[i]));
    }
  g_test_message ("value %.6f, gradient max |diff| %.3g of max %.3g", want, worst, gmax);
  g_assert_cmpfloat (gmax, >, 1e-3);
  g_assert_cmpfloat (worst, <=, 1e-5 * gmax + 1e-7);
  /* class 4 is absent and the ignored rows are left out: their gradients are 0 */
  for (int i = 0; i < NR; i++)
    if (targets[i] == IGNORE)
      for (int j = 0; j < NC; j++)
        g_assert_cmpfloat (grad[i * NC + j], ==, 0.0f);
}

VG_TEST ("/lovasz/binned-value", test_binned_value)
{
  enum { NR = 20000, NC = 7 };
  g_autofree float *logits = g_new (float, NR * NC);
  g_autofree double *ref = g_new (double, NR * NC);
  g_autofree uint8_t *targets = g_new (uint8_t, NR);
  double want, got;

  make_inputs (logits, targets, NR, NC, NC, 3.0, 7);
  want = lovasz_ref (ref, logits, targets, NR, NC);
  got = vg_lovasz_forward (logits, targets, IGNORE, NR, NC);
  g_test_message ("sorted %.6f, binned %.6f", want, got);
  g_assert_cmpfloat (fabs (got - want), <=, 1.0 / VG_LOVASZ_BINS + 1e-5);
}

VG_TEST ("/lovasz/ignored", test_ignored)
{
  enum { NR = 33, NC = 4 };
  float logits[NR * NC], grad[NR * NC];
  uint8_t targets[NR];

  make_inputs (logits, targets, NR, NC, NC, 2.0, 3);
  memset (targets, IGNORE, sizeof targets);
  g_assert_cmpfloat (vg_lovasz_forward (logits, targets, IGNORE, NR, NC), ==, 0.0f);
  g_assert_cmpfloat (vg_cross_entropy_lovasz_forward (logits, targets, NULL, IGNORE, NR, NC),
                     ==, 0.0f);
  vg_cross_entropy_lovasz_backward (grad, logits, targets, NULL, IGNORE, 1.0f, NR, NC);
  for (int i = 0; i < NR * NC; i++)
    g_assert_cmpfloat (grad[i], ==, 0.0f);

  /* a perfect prediction: every error near 0, so the loss is near 0 */
  for (int i = 0; i < NR; i++)
    {
      targets[i] = i % NC;
      for (int j = 0; j < NC; j++)
        logits[i * NC + j] = j == targets[i] ? 20.0f : -20.0f;
    }
  g_assert_cmpfloat (vg_lovasz_forward (logits, targets, IGNORE, NR, NC), <, 1e-5);
}

VG_TEST ("/lovasz/with-cross-entropy", test_with_ce)
{
  enum { NR = 5000, NC = 6 };
  const float weights[NC] = { 0.5f, 1.0f, 2.0f, 0.25f, 1.5f, 3.0f };
  g_autofree float *logits = g_new (float, NR * NC);
  g_autofree float *inplace = g_new (float, NR * NC);
  g_autofree float *again = g_new (float, NR * NC);
  g_autofree float *ce = g_new (float, NR * NC);
  g_autofree float *lv = g_new (float, NR * NC);
  g_autofree uint8_t *targets = g_new (uint8_t, NR);
  int threads = omp_get_max_threads ();
  double worst = 0.0;

  make_inputs (logits, targets, NR, NC, NC - 1, 3.0, 11);
  g_assert_cmpfloat_with_epsilon (
    vg_cross_entropy_lovasz_forward (logits, targets, weights, IGNORE, NR, NC),
    vg_cross_entropy_forward (logits, targets, weights, IGNORE, NR, NC)
      + vg_lovasz_forward (logits, targets, IGNORE, NR, NC),
    1e-6);

  vg_cross_entropy_backward (ce, logits, targets, weights, IGNORE, 0.5f, NR, NC);
  vg_lovasz_backward (lv, logits, targets, IGNORE, 0.5f, NR, NC);
  memcpy (inplace, logits, sizeof (float) * NR * NC);
  omp_set_num_threads (1);
  vg_cross_entropy_lovasz_backward (inplace, inplace, targets, weights, IGNORE, 0.5f, NR, NC);
  omp_set_num_threads (3);
  vg_cross_entropy_lovasz_backward (again, logits, targets, weights, IGNORE, 0.5f, NR, NC);
  omp_set_num_threads (threads);
  g_assert_cmpmem (inplace, sizeof (float) * NR * NC, again, sizeof (float) * NR * NC);
  for (int i = 0; i < NR * NC; i++)
    worst = fmax (worst, fabs (inplace[i] - (ce[i] + lv[i])));
  g_test_message ("fused - (CE + Lovasz) max |diff| %.3g", worst);
  g_assert_cmpfloat (worst, <=, 1e-7);
}

VG_TEST_MAIN ()
