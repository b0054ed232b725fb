/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The finite-difference machinery and the small helpers of the gradient checks
 * (test-gradcheck.c, test-gradcheck-products.c); see test-gradcheck.c for the method and
 * its tolerances. */
#pragma once

#include <math.h>
#include <string.h>

#include <glib.h>

#define GRAD_EPS 1e-2
#define GRAD_TOL 1e-3
/* forwards against the double references: float rounding of sums of at most ~10^3 terms */
#define FWD_TOL 1e-5

/* ---- helpers ------------------------------------------------------------------------------ */

static inline float *
rand_new (size_t n, float lo, float hi)
{
  float *x = g_new (float, n ? n : 1);
  for (size_t i = 0; i < n; i++)
    x[i] = (float) (lo + (hi - lo) * rnd ());
  return x;
}

static inline float *
filled_new (size_t n, float v)
{
  float *x = g_new (float, n ? n : 1);
  for (size_t i = 0; i < n; i++)
    x[i] = v;
  return x;
}

static inline double
dot (const float *a, const float *b, size_t n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double) a[i] * b[i];
  return s;
}

/* max |a - ref| / max(max |ref|, 1) */
static inline double
rel_err (const float *a, const double *ref, size_t n)
{
  double err = 0.0, scale = 1.0;
  for (size_t i = 0; i < n; i++)
    {
      err = MAX (err, fabs (a[i] - ref[i]));
      scale = MAX (scale, fabs (ref[i]));
    }
  return err / scale;
}

static inline double
rel_err_f (const float *a, const float *b, size_t n)
{
  double err = 0.0, scale = 1e-30;
  for (size_t i = 0; i < n; i++)
    {
      err = MAX (err, fabs ((double) a[i] - b[i]));
      scale = MAX (scale, fabs ((double) b[i]));
    }
  return err / scale;
}

/* A pattern of exact small values shared with the PyTorch script that made the pasted
 * references: ((i * 7) mod 11) / 10 - 0.5. */
static inline float
pattern (size_t i)
{
  return (float) ((double) ((i * 7) % 11) / 10.0 - 0.5);
}

typedef double (*LossFn) (void *ctx);

/* Compares grad (n) with central differences of loss() in the elements of x (n), at most
 * about 80 of them spread over the tensor (always the first and the last). */
static inline void
check_grad (const char *what, float *x, const float *grad, size_t n, LossFn loss, void *ctx)
{
  size_t step = n > 80 ? n / 80 : 1;
  double max_err = 0.0, max_num = 0.0;

  for (size_t k = 0; k * step < n + step - 1; k++)
    {
      size_t i = MIN (k * step, n - 1); /* the last step lands on the last element */
      float v = x[i];
      float hi = (float) (v + GRAD_EPS), lo = (float) (v - GRAD_EPS);
      x[i] = hi;
      double lp = loss (ctx);
      x[i] = lo;
      double lm = loss (ctx);
      x[i] = v;
      double num = (lp - lm) / ((double) hi - (double) lo);
      max_err = MAX (max_err, fabs (num - grad[i]));
      max_num = MAX (max_num, fabs (num));
    }
  double rel = max_err / MAX (max_num, 1e-3);
  g_test_message ("%s: max |analytic - numeric| = %.3g, relative %.3g", what, max_err, rel);
  if (!(rel <= GRAD_TOL))
    g_error ("%s: gradient check failed, relative error %g > %g", what, rel, GRAD_TOL);
}

/* The gradient rule on a second backward call: parameter gradients double, activation
 * gradients come out the same (overwritten, not added). */
static inline void
check_accumulates (const char *what, const float *first, const float *second, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (fabsf (second[i] - 2.0f * first[i]) > 1e-5f * (1.0f + fabsf (first[i])))
      g_error ("%s[%zu]: second backward gave %g, expected 2 x %g", what, i, second[i],
               first[i]);
}

static inline void
check_overwrites (const char *what, const float *first, const float *second, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (first[i] != second[i])
      g_error ("%s[%zu]: second backward gave %g, first %g", what, i, second[i], first[i]);
}
