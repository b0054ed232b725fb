/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The vectorisable approximations of nn/vg-simd.h against libm in double: exp2_approx (the
 * attention's and the losses' exponentials) and log_approx (the cross-entropy's
 * log-sum-exp), over the ranges their callers use and beyond. */
#include "config.h"

#include <math.h>

#include <glib.h>

#include "vg-simd.h"
#include "test-register.h"

/* The largest relative error of log_approx over n points spread evenly in log between lo
 * and hi, and the largest absolute error. */
static void
log_errors (double lo, double hi, int n, double *rel, double *abs_err)
{
  *rel = *abs_err = 0.0;
  for (int i = 0; i <= n; i++)
    {
      float x = (float) (lo * pow (hi / lo, (double) i / n));
      double want = log ((double) x), got = log_approx (x);
      double err = fabs (got - want);

      *abs_err = MAX (*abs_err, err);
      if (fabs (want) > 0.1)
        *rel = MAX (*rel, err / fabs (want));
    }
}

VG_TEST ("/simd/log", test_log)
{
  double rel, abs_err;

  /* the softmax denominators: 1 to 19 (or any class count) */
  log_errors (1.0, 64.0, 200000, &rel, &abs_err);
  g_test_message ("log_approx on [1, 64]: relative %.3g, absolute %.3g", rel, abs_err);
  g_assert_cmpfloat (rel, <, 2e-7);
  /* the whole normal range, each side of 1 and around sqrt 2, where the mantissa is split */
  log_errors (1.2e-38, 3.4e38, 400000, &rel, &abs_err);
  g_assert_cmpfloat (rel, <, 2e-7);
  log_errors (0.9, 1.1, 100000, &rel, &abs_err);
  g_assert_cmpfloat (abs_err, <, 1e-7);
  log_errors (1.40, 1.43, 100000, &rel, &abs_err);
  g_assert_cmpfloat (abs_err, <, 1e-7);
  g_assert_cmpfloat (log_approx (1.0f), ==, 0.0f);
}

VG_TEST ("/simd/exp2", test_exp2)
{
  double worst = 0.0;

  for (int i = 0; i <= 400000; i++)
    {
      float x = (float) (-120.0 + 240.0 * i / 400000);
      double want = exp2 ((double) x), got = exp2_approx (x);

      worst = MAX (worst, fabs (got - want) / want);
    }
  g_test_message ("exp2_approx on [-120, 120]: relative %.3g", worst);
  g_assert_cmpfloat (worst, <, 2e-7);
  /* flushed below 2^-125, clamped and finite past 127 */
  g_assert_cmpfloat (exp2_approx (-126.5f), ==, 0.0f);
  g_assert_cmpfloat (exp2_approx (-1000.0f), ==, 0.0f);
  g_assert_true (isfinite (exp2_approx (1000.0f)));
}

VG_TEST_MAIN ()
