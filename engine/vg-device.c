/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "vg-device.h"

#include <stdio.h>

/* The single place where the build's CUDA choice is looked at: the CUDA code lives in
 * cuda/ and is only linked when nvcc was found. */
#if VG_HAVE_CUDA
#include "cuda/vg-cuda.h"
#endif

int
vg_device_cuda_compiled (void)
{
  return VG_HAVE_CUDA;
}

int
vg_device_cuda_count (char *why, size_t why_len)
{
#if VG_HAVE_CUDA
  return vg_cuda_device_count (why, why_len);
#else
  if (why != NULL && why_len > 0)
    snprintf (why, why_len, "this build has no CUDA backend (nvcc was not found at build time)");
  return 0;
#endif
}

void
vg_device_describe (char *out, size_t out_len)
{
  char why[256] = "";
  int n = vg_device_cuda_count (why, sizeof why);

  if (n > 0)
    snprintf (out, out_len, "CPU (OpenBLAS), %d CUDA device%s", n, n == 1 ? "" : "s");
  else
    snprintf (out, out_len, "CPU (OpenBLAS); no CUDA: %s", why);
}
