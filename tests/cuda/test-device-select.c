/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Choosing the compute backend by name (the engine suite: runs on every machine, with or
 * without CUDA in the build or a GPU in the machine): "cuda" without a usable device falls
 * back to the CPU and says why; "cpu" is the CPU with nothing to explain; "auto" picks CUDA
 * exactly when it is usable; an unknown name is refused with the choices. */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib.h>

#include "vg-device.h"

static void
test_cpu (void)
{
  char why[512] = "stale";

  g_assert_true (vg_backend_for_device ("cpu", why, sizeof why) == vg_backend_cpu ());
  g_assert_cmpstr (why, ==, "");
}

static void
test_cuda (void)
{
  g_autoptr (GError) error = NULL;
  char why[512] = "stale", count_why[256] = "";
  int n = vg_device_cuda_count (count_why, sizeof count_why);
  const VgBackend *cuda = vg_backend_cuda (&error);
  const VgBackend *be = vg_backend_for_device ("cuda", why, sizeof why);

  g_test_message ("devices: %d (%s); cuda: %s; choice: %s (%s)", n, count_why,
                  cuda != NULL ? cuda->name : error->message, be->name, why);
  if (cuda == NULL)
    {
      /* no build, driver or device: the CPU, and a reason that says CUDA was asked for and
       * repeats the cause (the same one the device count gives when there is no device) */
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      g_assert_true (be == vg_backend_cpu ());
      g_assert_cmpstr (be->name, ==, "cpu");
      g_assert_true (g_str_has_prefix (why, "CUDA was requested but is unavailable ("));
      g_assert_true (g_str_has_suffix (why, "); using the CPU"));
      if (n == 0)
        g_assert_nonnull (strstr (why, count_why));
      g_assert_null (vg_backend_cuda_math_mode ());
    }
  else
    {
      g_assert_cmpint (n, >, 0);
      g_assert_true (be == cuda);
      g_assert_cmpstr (be->name, ==, "cuda");
      g_assert_cmpstr (why, ==, "");
      g_assert_nonnull (vg_backend_cuda_math_mode ());
    }
}

static void
test_auto (void)
{
  g_autoptr (GError) error = NULL;
  char why[512] = "stale";
  const VgBackend *cuda = vg_backend_cuda (&error);
  const VgBackend *be = vg_backend_for_device ("auto", why, sizeof why);

  g_assert_true (vg_backend_for_device (NULL, NULL, 0) == be);
  if (cuda == NULL)
    {
      g_assert_true (be == vg_backend_cpu ());
      g_assert_true (g_str_has_prefix (why, "no usable CUDA device ("));
    }
  else
    {
      g_assert_true (be == cuda);
      g_assert_cmpstr (why, ==, "");
    }
}

static void
test_unknown (void)
{
  char why[512] = "";

  g_assert_null (vg_backend_for_device ("tpu", why, sizeof why));
  g_assert_cmpstr (why, ==, "unknown device 'tpu' (choices: auto, cpu, cuda)");
  g_assert_null (vg_backend_for_device ("CUDA", NULL, 0));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/device/select/cpu", test_cpu);
  g_test_add_func ("/device/select/cuda", test_cuda);
  g_test_add_func ("/device/select/auto", test_auto);
  g_test_add_func ("/device/select/unknown", test_unknown);
  return g_test_run ();
}
