/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "vg-device.h"

#include <stdio.h>
#include <string.h>

#include <gio/gio.h>

/* The single place where the build's CUDA choice is looked at: the CUDA code lives in
 * cuda/ and is only linked when nvcc was found. */
#if VG_HAVE_CUDA
#include "cuda/vg-backend-cuda.h"
#include "cuda/vg-cuda.h"
#else
#define NO_CUDA_BUILD \
  "this build has no CUDA backend (nvcc was not found at build time, or it was built with " \
  "-Dcuda=disabled)"
#endif

/* vg_backend_cuda's errors start with this; vg_backend_for_device quotes the rest */
#define UNAVAILABLE "CUDA is unavailable: "

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
    snprintf (why, why_len, "%s", NO_CUDA_BUILD);
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

const VgBackend *
vg_backend_cuda (GError **error)
{
#if VG_HAVE_CUDA
  return vg_cuda_backend_get (error);
#else
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       UNAVAILABLE NO_CUDA_BUILD);
  return NULL;
#endif
}

const char *
vg_backend_cuda_math_mode (void)
{
#if VG_HAVE_CUDA
  return vg_cuda_math_mode ();
#else
  return NULL;
#endif
}

static void
set_why (char *why, size_t why_len, const char *text)
{
  if (why != NULL && why_len > 0)
    snprintf (why, why_len, "%s", text);
}

const VgBackend *
vg_backend_for_device (const char *name, char *why, size_t why_len)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  gboolean automatic = name == NULL || strcmp (name, "auto") == 0;
  const char *reason;
  const VgBackend *be;

  set_why (why, why_len, "");
  if (name != NULL && strcmp (name, "cpu") == 0)
    return vg_backend_cpu ();
  if (!automatic && strcmp (name, "cuda") != 0)
    {
      text = g_strdup_printf ("unknown device '%s' (choices: auto, cpu, cuda)", name);
      set_why (why, why_len, text);
      return NULL;
    }
  be = vg_backend_cuda (&error);
  if (be != NULL)
    return be;
  /* the message reads "CUDA is unavailable: <reason>"; keep the reason */
  reason = error->message;
  if (g_str_has_prefix (reason, UNAVAILABLE))
    reason += strlen (UNAVAILABLE);
  if (automatic)
    text = g_strdup_printf ("no usable CUDA device (%s); using the CPU", reason);
  else
    text = g_strdup_printf ("CUDA was requested but is unavailable (%s); using the CPU",
                            reason);
  set_why (why, why_len, text);
  return vg_backend_cpu ();
}
