/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CUDA build links and runs cuBLAS: a product on the GPU matches the CPU. */
#include "config.h"

#include <math.h>
#include <stdio.h>

#include <glib.h>

#include "vg-device.h"
#include "cuda/vg-cuda.h"

int
main (void)
{
  enum { M = 37, N = 53, K = 71 };
  float a[M * K], b[K * N], c[M * N];
  char why[256] = "", err[256] = "";
  double max_rel = 0;
  GRand *rng;

  if (vg_device_cuda_count (why, sizeof why) == 0)
    {
      printf ("SKIP: no CUDA device: %s\n", why);
      return 77;
    }

  rng = g_rand_new_with_seed (7);
  for (int i = 0; i < M * K; i++)
    a[i] = (float) g_rand_double_range (rng, -1, 1);
  for (int i = 0; i < K * N; i++)
    b[i] = (float) g_rand_double_range (rng, -1, 1);
  g_rand_free (rng);

  if (vg_cuda_sgemm (c, a, b, M, N, K, err, sizeof err) != 0)
    {
      fprintf (stderr, "vg_cuda_sgemm failed: %s\n", err);
      return 1;
    }
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++)
      {
        double ref = 0, scale = 0;
        for (int k = 0; k < K; k++)
          {
            ref += (double) a[i * K + k] * b[k * N + j];
            scale += fabs ((double) a[i * K + k] * b[k * N + j]);
          }
        max_rel = fmax (max_rel, fabs (c[i * N + j] - ref) / (scale + 1e-30));
      }
  /* FP32 accumulation over K = 71 terms: relative to the sum of |terms|, 1e-5 is ample. */
  printf ("max relative error %.3g\n", max_rel);
  return max_rel < 1e-5 ? 0 : 1;
}
