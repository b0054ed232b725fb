/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers of the cuda suite: the backend under test, device buffers paired with their CPU
 * reference, and the normalised comparison every test states its bound with.
 *
 * The backend under test is CUDA. Without a device the tests exit 77 (skipped). With
 * VISAGE_CUDA_TEST_BACKEND=cpu they run the CPU backend against itself instead: that checks
 * the tests' own plumbing on a machine without a GPU (every bound then holds exactly) and
 * proves nothing about the CUDA code. */
#pragma once

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "vg-backend.h"
#include "vg-device.h"
#include "cuda/vg-cuda.h"
#include "cuda-backend.h"
#include "test-register.h"

static const VgBackend *cpu_be; /* the reference */
static const VgBackend *dev_be; /* the backend under test */
static gboolean self_check;     /* dev_be is the CPU backend (VISAGE_CUDA_TEST_BACKEND=cpu) */

/* Pick the backends; returns 77 to skip, 1 on a broken CUDA setup, 0 to run. */
static inline int
cuda_test_setup (void)
{
  int status;

  /* the bounds below are for FP32 products: never let a TF32 setting leak in */
  g_unsetenv ("VISAGE_CUDA_TF32");
  cpu_be = vg_backend_cpu ();
  if (g_strcmp0 (g_getenv ("VISAGE_CUDA_TEST_BACKEND"), "cpu") == 0)
    {
      self_check = TRUE;
      dev_be = cpu_be;
      printf ("# self-check: the CPU backend against itself (VISAGE_CUDA_TEST_BACKEND=cpu)\n");
      return 0;
    }
  dev_be = cuda_backend_or_status (&status);
  if (dev_be == NULL)
    return status;
  printf ("# CUDA backend, matrix products in %s\n", vg_backend_cuda_math_mode ());
  return 0;
}

/* The start of a cuda test program: GLib's tests initialised, the backends picked and the
 * file's VG_TESTs added; returns 0 to go on, else the exit status (77: skipped). */
static inline int
cuda_test_init (int *argc, char ***argv)
{
  int status;

  g_test_init (argc, argv, NULL);
  if ((status = cuda_test_setup ()) != 0)
    return status;
  vg_test_add_registered ();
  return 0;
}

/* Wait for the device and fail on any error the ops recorded. */
static inline void
assert_no_device_error (void)
{
  char err[256] = "";

  dev_be->synchronize ();
  if (!self_check && vg_cuda_take_error (err, sizeof err))
    g_error ("CUDA backend error: %s", err);
}

/* Uniform in [lo, hi). */
static inline void
fill_uniform (GRand *rng, float *x, size_t n, float lo, float hi)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rng, lo, hi);
}

/* Standard normal (Box-Muller). */
static inline void
fill_normal (GRand *rng, float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      double u = g_rand_double_range (rng, 1e-12, 1.0), v = g_rand_double (rng);
      x[i] = (float) (sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v));
    }
}

static inline void *
dev_alloc (size_t bytes)
{
  g_autoptr (GError) error = NULL;
  void *d = dev_be->alloc (bytes > 0 ? bytes : 4, &error);

  g_assert_no_error (error);
  g_assert_nonnull (d);
  return d;
}

static inline float *
dev_upload (const float *host, size_t n)
{
  float *d = dev_alloc (n * sizeof (float));

  if (n > 0)
    dev_be->upload (d, host, n * sizeof (float));
  return d;
}

static inline float *
dev_download (const float *d, size_t n)
{
  float *h = g_new (float, MAX (n, 1));

  if (n > 0)
    dev_be->download (h, d, n * sizeof (float));
  return h;
}

/* max |got - ref| / max |ref| over n floats, with got in device memory; every value must be
 * finite (outputs are pre-filled with NaN, so a skipped element shows). The ratio is
 * reported as a test message and must not exceed tol. Returns it. */
static inline double
check_close (const char *what, const float *dev_got, const float *ref, size_t n, double tol)
{
  g_autofree float *got = dev_download (dev_got, n);
  double max_ref = 0.0, max_diff = 0.0, err;
  size_t worst = 0;

  for (size_t i = 0; i < n; i++)
    {
      double d = fabs ((double) got[i] - ref[i]);
      if (!isfinite (got[i]))
        g_error ("%s: element %zu is %g (reference %g): not written, or overflowed", what, i,
                 got[i], ref[i]);
      if (d > max_diff)
        {
          max_diff = d;
          worst = i;
        }
      max_ref = fmax (max_ref, fabs (ref[i]));
    }
  err = max_diff / fmax (max_ref, 1e-30);
  g_test_message ("%s: n %zu, max |dev - cpu| / max |cpu| = %.3g (worst at %zu: %g vs %g)",
                  what, n, err, worst, n > 0 ? got[worst] : 0.0f, n > 0 ? ref[worst] : 0.0f);
  if (err > tol)
    g_error ("%s: normalised error %.3g exceeds %.1g (worst element %zu: %g, cpu %g)", what,
             err, tol, worst, got[worst], ref[worst]);
  return err;
}
