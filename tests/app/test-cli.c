/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli as a user runs it: exit codes and what it prints; train takes every name of
 * the engine's tables (the ones the Train dialog offers). */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "cli-run.h"
#include "test-common.h"
#include "vg-train.h"
#include "test-register.h"

VG_TEST ("/cli/version", test_version)
{
  g_auto (CliRun) run = { 0 };

  vg_test_run_cli (&run, "--version", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_true (g_str_has_prefix (run.out, "visage-cli " PACKAGE_VERSION "\n"));
  g_assert_nonnull (strstr (run.out, "CUDA backend compiled: "));
}

VG_TEST ("/cli/help", test_help)
{
  g_auto (CliRun) run = { 0 };

  vg_test_run_cli (&run, "--help", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_true (g_str_has_prefix (run.out, "Usage: visage-cli"));
  g_assert_nonnull (strstr (run.out, "devices"));
  g_assert_cmpstr (run.err, ==, "");
}

VG_TEST ("/cli/no-arguments", test_no_arguments_is_usage_error)
{
  g_auto (CliRun) run = { 0 };

  vg_test_run_cli (&run, NULL, NULL);
  g_assert_cmpint (run.status, ==, 2);
  g_assert_true (g_str_has_prefix (run.err, "Usage: visage-cli"));
}

VG_TEST ("/cli/unknown-command", test_unknown_command)
{
  g_auto (CliRun) run = { 0 };

  vg_test_run_cli (&run, "frobnicate", NULL);
  g_assert_cmpint (run.status, ==, 2);
  g_assert_nonnull (strstr (run.err, "unknown command 'frobnicate'"));
  g_assert_cmpstr (run.out, ==, "");
}

VG_TEST ("/cli/devices", test_devices)
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

VG_TEST ("/cli/info", test_info)
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

VG_TEST ("/cli/device-option", test_device_option)
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

/* The words of train's --help line for --option (split at spaces and punctuation). */
static char **
help_words (const char *help, const char *option)
{
  g_autofree char *start = g_strdup_printf ("\n  --%s=", option);
  const char *line = strstr (help, start);
  g_autofree char *text = NULL;

  g_assert_nonnull (line);
  line += strlen (start);
  text = g_strndup (line, strcspn (line, "\n"));
  return g_regex_split_simple ("[ ,:;()|]+", text, 0, 0);
}

/* train's --help lists each name of the engine's table for --option (n names: no hole), and
 * train takes each: the run goes on to the data (a missing folder: status 1, not the usage
 * error 2 of an unknown name). */
static void
check_train_names (const char *option, const char *const *names, guint n)
{
  g_autofree char *dir = g_dir_make_tmp ("visage-cli-names-XXXXXX", NULL);
  g_autofree char *missing = g_build_filename (dir, "no-such-split", NULL);
  g_autofree char *out = g_build_filename (dir, "out", NULL);
  g_autofree char *flag = g_strdup_printf ("--%s", option);
  g_auto (CliRun) help = { 0 };
  g_auto (CliRun) bad = { 0 };
  g_auto (GStrv) words = NULL;

  g_assert_nonnull (dir);
  g_assert_cmpuint (g_strv_length ((char **) names), ==, n);
  vg_test_run_cli (&help, "train", "--help", NULL);
  g_assert_cmpint (help.status, ==, 0);
  words = help_words (help.out, option);
  for (guint k = 0; k < n; k++)
    {
      g_auto (CliRun) run = { 0 };

      g_assert_true (g_strv_contains ((const char *const *) words, names[k]));
      vg_test_run_cli (&run, "train", flag, names[k], "--train", missing, "--val", missing,
                       "--out", out, NULL);
      g_assert_cmpint (run.status, ==, 1);
      g_assert_null (strstr (run.err, "unknown"));
      g_assert_nonnull (strstr (run.err, "no-such-split"));
    }
  vg_test_run_cli (&bad, "train", flag, "no-such-name", "--train", missing, "--val", missing,
                   "--out", out, NULL);
  g_assert_cmpint (bad.status, ==, 2);
  g_assert_nonnull (strstr (bad.err, "unknown"));
  vg_test_rm_rf (dir);
}

VG_TEST ("/cli/train-names", test_train_names)
{
  check_train_names ("loss", vg_loss_kind_names (), VG_N_LOSS_KINDS);
  check_train_names ("optimizer", vg_optimizer_kind_names (), VG_N_OPTIMIZER_KINDS);
  check_train_names ("select", vg_select_kind_names (), VG_N_SELECT_KINDS);
}

VG_TEST_MAIN ()
