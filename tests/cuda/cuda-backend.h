/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CUDA backend for the cuda suite's programs, or the exit status that says why not. */
#pragma once

#include <stdio.h>

#include <glib.h>

#include "vg-backend.h"
#include "vg-device.h"

/* The CUDA backend, or NULL after saying why, with the exit status in *status: 77
 * (skipped) without a device, 1 when a device is present but the backend fails. */
static inline const VgBackend *
cuda_backend_or_status (int *status)
{
  g_autoptr (GError) error = NULL;
  char why[256] = "";
  const VgBackend *be;

  if (vg_device_cuda_count (why, sizeof why) == 0)
    {
      printf ("SKIP: no CUDA device: %s\n", why);
      *status = 77;
      return NULL;
    }
  be = vg_backend_cuda (&error);
  if (be == NULL)
    {
      fprintf (stderr, "a CUDA device is present but the backend failed: %s\n", error->message);
      *status = 1;
    }
  return be;
}
