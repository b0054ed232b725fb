/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli as a user runs it: exit codes and what it prints. */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "cli-run.h"

static void
test_version (void)
{
  g_auto (CliRun) run = { 0 };

  vg_test_run_cli (&run, "--version", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_true (g_str_has_prefix (run.out, "visage-cli " PACKAGE_VERSION "\n"));
  g_assert_nonnull (strstr (run.out, "CUDA backend compiled: "));
}

static void
test_help (void)
{
  g_auto (CliRun) run = { 0 };

  vg_test_run_cli (&run, "--help", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_true (g_str_has_prefix (run.out, "Usage: visage-cli"));
  g_assert_nonnull (strstr (run.out, "devices"));
  g_assert_cmpstr (run.err, ==, "");
}

static void
test_no_arguments_is_usage_error (void)
{
  g_auto (CliRun) run = { 0 };

  vg_test_run_cli (&run, NULL, NULL);
  g_assert_cmpint (run.status, ==, 2);
  g_assert_true (g_str_has_prefix (run.err, "Usage: visage-cli"));
}

static void
test_unknown_command (void)
{
  g_auto (CliRun) run = { 0 };

  vg_test_run_cli (&run, "frobnicate", NULL);
  g_assert_cmpint (run.status, ==, 2);
  g_assert_nonnull (strstr (run.err, "unknown command 'frobnicate'"));
  g_assert_cmpstr (run.out, ==, "");
}

static void
test_devices (void)
{
  g_auto (CliRun) run = { 0 };
  g_auto (CliRun) bad = { 0 };

  vg_test_run_cli (&run, "devices", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_true (g_str_has_prefix (run.out, "cpu: "));
  g_assert_nonnull (strstr (run.out, "\ncuda: "));

  vg_test_run_cli (&bad, "devices", "--no-such-option", NULL);
  g_assert_cmpint (bad.status, ==, 2);
  g_assert_nonnull (strstr (bad.err, "--no-such-option"));
}

static void
test_info (void)
{
  g_auto (CliRun) seed = { 0 };
  g_auto (CliRun) dflt = { 0 };
  g_auto (CliRun) bad_config = { 0 };
  g_auto (CliRun) bad_size = { 0 };
  g_auto (CliRun) bad_spec = { 0 };

  vg_test_run_cli (&seed, "info", "--config", "seed", NULL);
  g_assert_cmpint (seed.status, ==, 0);
  g_assert_nonnull (strstr (seed.out, "trainable parameters: 1981478\n"));
  g_assert_nonnull (strstr (seed.out, "stage1.block1.attention (R=1)"));
  g_assert_nonnull (strstr (seed.out, "multiply-accumulates for a 512x512 input: "));
  g_assert_nonnull (strstr (seed.out, "head (transposed conv 4x4/4)"));

  /* the default configuration is visage-s, under the 2,000,000 budget */
  vg_test_run_cli (&dflt, "info", "--size", "256", NULL);
  g_assert_cmpint (dflt.status, ==, 0);
  g_assert_true (g_str_has_prefix (dflt.out, "configuration: visage-s\n"));
  g_assert_nonnull (strstr (dflt.out, "trainable parameters: 1967923\n"));
  g_assert_nonnull (strstr (dflt.out, "for a 256x256 input"));

  vg_test_run_cli (&bad_config, "info", "--config", "nonesuch", NULL);
  g_assert_cmpint (bad_config.status, ==, 2);
  g_assert_nonnull (strstr (bad_config.err, "nonesuch"));
  vg_test_run_cli (&bad_size, "info", "--size", "100", NULL);
  g_assert_cmpint (bad_size.status, ==, 2);
  g_assert_nonnull (strstr (bad_size.err, "multiple of 32"));
  vg_test_run_cli (&bad_spec, "info", "--spec", "ratios=3,3,3,3", NULL);
  g_assert_cmpint (bad_spec.status, ==, 2);
  g_assert_cmpstr (bad_spec.out, ==, "");
}

static void
test_device_option (void)
{
  /* An unknown device is a usage error before anything is read. */
  const char *cases[][8] = {
    { "train", "--train", "t", "--val", "v", "--out", "o", NULL },
    { "eval", "--model", "m.safetensors", "--data", "d", NULL },
    { "predict", "x.jpg", "--model", "m.safetensors", "--out", "o", NULL },
    { "export-submission", "--model", "m.safetensors", "--images", "i", "--out", "o.zip", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (CliRun) run = { 0 };
      const char *argv[12] = { g_getenv ("VISAGE_CLI") };
      int n = 1;

      for (int k = 0; cases[i][k] != NULL; k++)
        argv[n++] = cases[i][k];
      argv[n++] = "--device";
      argv[n++] = "tpu";
      vg_test_run_cli_argv (&run, argv, NULL);
      g_assert_cmpint (run.status, ==, 2);
      g_assert_nonnull (strstr (run.err, "unknown device 'tpu'"));
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/version", test_version);
  g_test_add_func ("/cli/help", test_help);
  g_test_add_func ("/cli/no-arguments", test_no_arguments_is_usage_error);
  g_test_add_func ("/cli/unknown-command", test_unknown_command);
  g_test_add_func ("/cli/devices", test_devices);
  g_test_add_func ("/cli/info", test_info);
  g_test_add_func ("/cli/device-option", test_device_option);
  return g_test_run ();
}
