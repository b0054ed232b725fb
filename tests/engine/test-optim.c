/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The optimiser steps of nn/optim.c against the same updates in double, on ordinary values
 * and on gradients small enough that the second moment would be a denormal float (the steps
 * flush those to zero), and the caller's floating-point mode left as it was. */
#include "config.h"

#include <math.h>

#include <glib.h>
#include <omp.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "vg-optim.h"
#include "test-register.h"

/* The control bits of x86's MXCSR (rounding, masks, FTZ, DAZ), not the exception flags that
 * any arithmetic sets (bits 0-5). */
static unsigned int
csr_now (void)
{
#if defined(__SSE__) || defined(__x86_64__)
  return _mm_getcsr () & ~0x3fu;
#else
  return 0;
#endif
}

/* n elements, gradients of magnitude up to g_scale, 3 steps of Adam (lr 1e-3, betas 0.9
 * and 0.999, eps 1e-8, L2 weight decay wd) against double arithmetic. */
static void
adam_check (size_t n, double g_scale, double wd, int threads)
{
  float *p = g_new (float, n), *g = g_new (float, n), *m = g_new0 (float, n);
  float *v = g_new0 (float, n);
  double *rp = g_new (double, n), *rm = g_new0 (double, n), *rv = g_new0 (double, n);
  /* the step's constants as the float arithmetic has them: 1 - 0.999f is 0.00099998713 */
  const double lr = 1e-3, b1 = 0.9f, b2 = 0.999f, eps = 1e-8;
  const double ob1 = 1.0f - 0.9f, ob2 = 1.0f - 0.999f;
  GRand *rand = g_rand_new_with_seed (3);
  int saved = omp_get_max_threads ();
  unsigned int before = csr_now ();

  for (size_t i = 0; i < n; i++)
    {
      p[i] = (float) g_rand_double_range (rand, -1, 1);
      rp[i] = p[i];
    }
  omp_set_num_threads (threads);
  for (int t = 1; t <= 3; t++)
    {
      for (size_t i = 0; i < n; i++)
        g[i] = (float) (g_scale * g_rand_double_range (rand, -1, 1));
      vg_adam_step (p, g, m, v, n, (float) lr, (float) b1, (float) b2, (float) eps,
                    (float) wd, t, FALSE);
      for (size_t i = 0; i < n; i++)
        {
          double gi = g[i] + wd * rp[i];

          rm[i] = b1 * rm[i] + ob1 * gi;
          rv[i] = b2 * rv[i] + ob2 * gi * gi;
          rp[i] -= lr / (1 - pow (b1, t)) * rm[i] / (sqrt (rv[i]) / sqrt (1 - pow (b2, t)) + eps);
        }
    }
  omp_set_num_threads (saved);
  g_assert_cmpuint (csr_now (), ==, before);
  for (size_t i = 0; i < n; i++)
    {
      /* float rounding of p (its ulp) and of each step (lr * 1e-5) */
      g_assert_cmpfloat (fabs (p[i] - rp[i]), <=, 1e-6 * fabs (rp[i]) + 1e-8);
      /* a second moment below the smallest normal float is flushed to zero */
      if (rv[i] < 1.1754943508222875e-38)
        g_assert_cmpfloat (v[i], ==, 0.0f);
      else
        g_assert_cmpfloat (fabs (v[i] - rv[i]), <=, 1e-5 * rv[i]);
    }
  g_rand_free (rand);
  g_free (p), g_free (g), g_free (m), g_free (v), g_free (rp), g_free (rm), g_free (rv);
}

VG_TEST ("/optim/adam", test_adam)
{
  adam_check (1000, 1e-2, 1e-4, 1);
  adam_check (200000, 1e-2, 1e-4, 2); /* threads: each sets and restores its own mode */
}

VG_TEST ("/optim/adam-denormal", test_adam_denormal)
{
  /* gradients up to 1e-19, no weight decay: second moments about 1e-41, denormal without
   * the flush */
  adam_check (1000, 1e-19, 0.0, 1);
  adam_check (200000, 1e-19, 0.0, 2);
}

VG_TEST_MAIN ()
