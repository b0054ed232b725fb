/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli bench as a user and tests/bench/compare.py run it: the figures it prints and
 * writes, and its usage errors. No timing is asserted (speed belongs in benchmarks): only
 * that every figure is there and is a positive, finite number. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli-run.h"
#include "vg-gemm.h"
#include "test-common.h"
#include "test-register.h"

/* A small model so a training step at 64 x 64 takes milliseconds. */
#define SMALL_SPEC "widths=8,16,32,32 depths=1,1,1,1 heads=1,1,2,2 ratios=8,4,2,1 dim=32"

/* Run visage-cli with args (NULL-terminated, without the program); extra_env ("NAME=value")
 * may be NULL. */
static void
run_cli (CliRun *run, const char *extra_env, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_auto (GStrv) kv = extra_env != NULL ? g_strsplit (extra_env, "=", 2) : NULL;

  g_assert_nonnull (g_getenv ("VISAGE_CLI"));
  g_ptr_array_add (argv, (char *) g_getenv ("VISAGE_CLI"));
  for (int i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  /* the child inherits this process's environment (the tests run one at a time) */
  if (kv != NULL)
    g_setenv (kv[0], kv[1], TRUE);
  vg_test_run_cli_argv (run, (const char *const *) argv->pdata, NULL);
  if (kv != NULL)
    g_unsetenv (kv[0]);
}

/* ---- a strict reader for the flat JSON object bench writes ------------------------------
 * { "key": "string" | number | null, ... } with nothing after the closing brace. Numbers go
 * into the table as doubles, strings as their text; a syntax error fails the test. */

static const char *
skip_space (const char *p)
{
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
    p++;
  return p;
}

static const char *
read_string (const char *p, GString *out)
{
  g_assert_cmpint (*p, ==, '"');
  for (p++; *p != '"'; p++)
    {
      g_assert_cmpint (*p, !=, '\0');
      g_assert_cmpint ((unsigned char) *p, >=, 0x20);
      if (*p == '\\')
        {
          p++;
          g_assert_nonnull (strchr ("\"\\/bfnrt", *p));
        }
      g_string_append_c (out, *p);
    }
  return p + 1;
}

/* key -> double* for numbers, key -> NULL for strings and null */
static GHashTable *
parse_flat_json (const char *text)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *p = skip_space (text);

  g_assert_cmpint (*p, ==, '{');
  p = skip_space (p + 1);
  while (*p != '}')
    {
      g_autoptr (GString) key = g_string_new (NULL);
      g_autoptr (GString) str = g_string_new (NULL);
      double *value = NULL;

      p = skip_space (read_string (p, key));
      g_assert_cmpint (*p, ==, ':');
      p = skip_space (p + 1);
      if (*p == '"')
        p = read_string (p, str);
      else if (g_str_has_prefix (p, "null"))
        p += 4;
      else
        {
          char *end = NULL;
          value = g_new (double, 1);
          *value = g_ascii_strtod (p, &end);
          g_assert_true (end != p);
          g_assert_true (isfinite (*value));
          p = end;
        }
      g_assert_false (g_hash_table_contains (table, key->str));
      g_hash_table_insert (table, g_strdup (key->str), value);
      p = skip_space (p);
      if (*p == ',')
        p = skip_space (p + 1);
      else
        g_assert_cmpint (*p, ==, '}');
    }
  g_assert_cmpint (*skip_space (p + 1), ==, '\0');
  return table;
}

static double
json_positive (GHashTable *table, const char *key)
{
  const double *v = g_hash_table_lookup (table, key);

  if (v == NULL)
    g_error ("JSON has no number \"%s\"", key);
  g_assert_cmpfloat (*v, >, 0);
  return *v;
}

/* visage-cli with args (NULL-terminated) and --json FILE in a temporary folder: the JSON
 * file it wrote, parsed, or NULL where it wrote none; the file and folder removed. */
static GHashTable *
run_bench_json (CliRun *run, const char *const *args)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("visage-bench-XXXXXX", &error);
  g_autofree char *json_path = g_build_filename (dir, "bench.json", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *json = NULL;

  g_assert_no_error (error);
  for (int i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, "--json");
  g_ptr_array_add (argv, json_path);
  g_ptr_array_add (argv, NULL);
  run_cli (run, NULL, (const char *const *) argv->pdata);
  if (!g_file_get_contents (json_path, &json, NULL, NULL))
    json = NULL;
  g_unlink (json_path);
  g_rmdir (dir);
  return json != NULL ? parse_flat_json (json) : NULL;
}

static const char *const train_keys[] = {
  "train_images_per_s", "train_step_ms_median", "train_step_ms_min", "train_gflops",
  "train_loss", "train_peak_rss_bytes", "train_model_bytes", NULL
};
static const char *const infer_keys[] = {
  "infer_latency_ms_median", "infer_latency_ms_min", "infer_gflops", "infer_peak_rss_bytes",
  "infer_model_bytes", NULL
};

VG_TEST ("/cli-bench/all-modes", test_all_modes)
{
  g_autoptr (GHashTable) table = NULL;
  g_auto (CliRun) run = { 0 };
  const char *args[] = { "bench", "--mode", "all", "--steps", "1", "--warmup", "0", "--size",
                         "64", "--batch", "2", "--threads", "2", "--spec", SMALL_SPEC, NULL };
  const double *loss;

  table = run_bench_json (&run, args);
  g_assert_cmpstr (run.err, ==, "");
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (table);
  for (const char *const *s = (const char *const[]) {
         "training, data loading excluded", "training GFLOP/s", "inference latency",
         "inference GFLOP/s", "peak RSS (VmHWM)", "model memory (planned)",
         "GFLOP/s convention: training step = 3 x forward MACs x 2", "OPENBLAS_CORETYPE=",
         "convolutions: ", "attention: ",
         "batch 2 at 64x64", NULL };
       *s != NULL; s++)
    if (strstr (run.out, *s) == NULL)
      g_error ("bench output lacks \"%s\":\n%s", *s, run.out);
  /* no --data: the loader figure is not claimed */
  g_assert_null (strstr (run.out, "data loading included"));

  for (int i = 0; train_keys[i] != NULL; i++)
    json_positive (table, train_keys[i]);
  for (int i = 0; infer_keys[i] != NULL; i++)
    json_positive (table, infer_keys[i]);
  json_positive (table, "peak_rss_bytes");
  json_positive (table, "forward_gmacs_per_image");
  /* present; 0 where the kernel gives no huge pages (transparent_hugepage never) */
  g_assert_true (g_hash_table_contains (table, "train_huge_pages_bytes"));
  g_assert_cmpfloat (json_positive (table, "batch"), ==, 2);
  g_assert_cmpfloat (json_positive (table, "height"), ==, 64);
  g_assert_cmpfloat (json_positive (table, "width"), ==, 64);
  g_assert_cmpfloat (json_positive (table, "threads"), ==, 2);
  g_assert_cmpfloat (json_positive (table, "steps"), ==, 1);
  g_assert_false (g_hash_table_contains (table, "data_images_per_s"));
  /* the figures are consistent: one step of 2 images at the measured step time (equal
   * when there is a single timed step, up to the printed precision) */
  g_assert_cmpfloat_with_epsilon (json_positive (table, "train_images_per_s"),
                                  2e3 / json_positive (table, "train_step_ms_median"),
                                  1e-3 * json_positive (table, "train_images_per_s"));
  /* an untrained model on 19 classes: the weighted cross-entropy is near ln 19 = 2.94,
   * certainly between 1 and 10 (a step that skipped the loss would give 0 or NaN) */
  loss = g_hash_table_lookup (table, "train_loss");
  g_assert_cmpfloat (*loss, >, 1.0);
  g_assert_cmpfloat (*loss, <, 10.0);
  /* training plans gradients and saved activations, inference does not */
  g_assert_cmpfloat (json_positive (table, "train_model_bytes"), >,
                     json_positive (table, "infer_model_bytes"));
}

VG_TEST ("/cli-bench/infer-only-and-sgemm", test_infer_only_and_sgemm)
{
  g_autoptr (GHashTable) table = NULL;
  g_auto (CliRun) run = { 0 };
  const char *args[] = { "bench", "--mode", "infer", "--runs", "2", "--warmup", "0", "--size",
                         "96x64", "--threads", "1", "--spec", SMALL_SPEC, "--sgemm",
                         "--sgemm-size", "128", NULL };
  double best;

  table = run_bench_json (&run, args);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (table);
  g_assert_nonnull (strstr (run.out, "sgemm GFLOP/s"));
  g_assert_null (strstr (run.out, "training, data loading excluded"));
  for (int i = 0; infer_keys[i] != NULL; i++)
    json_positive (table, infer_keys[i]);
  for (int i = 0; train_keys[i] != NULL; i++)
    g_assert_false (g_hash_table_contains (table, train_keys[i]));
  /* --size W x H */
  g_assert_cmpfloat (json_positive (table, "width"), ==, 96);
  g_assert_cmpfloat (json_positive (table, "height"), ==, 64);
  g_assert_cmpfloat (json_positive (table, "threads"), ==, 1);
  g_assert_cmpfloat (json_positive (table, "infer_runs"), ==, 2);
  g_assert_cmpfloat (json_positive (table, "sgemm_n"), ==, 128);
  /* every path the processor has is timed, OpenBLAS always; the reference is the best */
  g_assert_nonnull (strstr (run.out, "matrix products: cpu"));
  g_assert_nonnull (strstr (run.out, "sgemm GFLOP/s, OpenBLAS"));
  best = json_positive (table, "sgemm_openblas_gflops");
  for (const char *const *k = (const char *const[]) { "sgemm_engine_avx2_gflops",
                                                      "sgemm_engine_avx512_gflops", NULL };
       *k != NULL; k++)
    if (g_hash_table_contains (table, *k))
      best = MAX (best, json_positive (table, *k));
  g_assert_cmpfloat (json_positive (table, "sgemm_gflops"), ==, best);
}

/* --precision bf16 times inference in bfloat16 where the processor has AVX512_BF16 and is
 * refused elsewhere; an unknown precision is a usage error. */
VG_TEST ("/cli-bench/precision", test_precision)
{
  g_auto (CliRun) run = { 0 };
  g_auto (CliRun) bad = { 0 };
  const char *args[] = { "bench", "--mode", "infer", "--runs", "1", "--warmup", "0", "--size",
                         "64", "--threads", "1", "--spec", SMALL_SPEC, "--precision", "bf16",
                         NULL };
  const char *bad_args[] = { "bench", "--mode", "infer", "--precision", "fp8", NULL };

  run_cli (&run, NULL, args);
  if (vg_gemm_bf16_available ())
    {
      g_assert_cmpint (run.status, ==, 0);
      g_assert_nonnull (strstr (run.out, "eval mode, bf16"));
      g_assert_nonnull (strstr (run.err, "precision: bf16"));
    }
  else
    {
      g_assert_cmpint (run.status, ==, 2);
      g_assert_nonnull (strstr (run.err, "AVX512_BF16"));
    }
  run_cli (&bad, NULL, bad_args);
  g_assert_cmpint (bad.status, ==, 2);
  g_assert_nonnull (strstr (bad.err, "unknown --precision 'fp8' (fp32 or bf16)"));
}

/* The per-op profile accounts for the ops a training step runs. */
VG_TEST ("/cli-bench/profile", test_profile)
{
  g_auto (CliRun) run = { 0 };
  const char *args[] = { "bench", "--mode", "train", "--steps", "1", "--warmup", "0", "--size",
                         "64", "--batch", "1", "--spec", SMALL_SPEC, NULL };

  run_cli (&run, "VISAGE_BENCH_PROFILE=1", args);
  g_assert_cmpint (run.status, ==, 0);
  for (const char *const *s = (const char *const[]) {
         "profile: training, batch 1 at 64x64", "linear_fwd", "linear_bwd", "attention_fwd",
         "attention_bwd", "layernorm_bwd", "adam_step", "xent_fwd", NULL };
       *s != NULL; s++)
    if (strstr (run.out, *s) == NULL)
      g_error ("profile lacks \"%s\":\n%s", *s, run.out);
}

/* Training from a real split through the loader (the "data loading included" figure). */
VG_TEST ("/cli-bench/data-loading", test_data_loading)
{
  g_autofree char *split = vg_test_shared_path ("celebamask/val");
  g_autoptr (GHashTable) table = NULL;
  g_auto (CliRun) run = { 0 };

  if (split == NULL)
    return;
  {
    const char *args[] = { "bench", "--mode", "train", "--steps", "1", "--warmup", "0",
                           "--size", "64", "--batch", "2", "--spec", SMALL_SPEC, "--data",
                           split, "--workers", "1", NULL };
    table = run_bench_json (&run, args);
  }
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (table);
  g_assert_nonnull (strstr (run.out, "training, data loading included"));
  json_positive (table, "data_images_per_s");
  json_positive (table, "data_step_ms_median");
  json_positive (table, "data_peak_rss_bytes");
  g_assert_cmpfloat (json_positive (table, "data_workers"), ==, 1);
  {
    const double *share = g_hash_table_lookup (table, "data_wait_share");
    g_assert_nonnull (share);
    g_assert_cmpfloat (*share, >=, 0);
    g_assert_cmpfloat (*share, <=, 1);
  }
}

static void
expect_usage_error (const char *const *args, const char *message)
{
  g_auto (CliRun) run = { 0 };

  run_cli (&run, NULL, args);
  g_assert_cmpint (run.status, ==, 2);
  if (strstr (run.err, message) == NULL)
    g_error ("expected \"%s\" in the error, got:\n%s", message, run.err);
  g_assert_cmpstr (run.out, ==, "");
}

VG_TEST ("/cli-bench/bad-options", test_bad_options)
{
  expect_usage_error ((const char *const[]) { "bench", "--size", "100", NULL },
                      "multiple of 32");
  expect_usage_error ((const char *const[]) { "bench", "--size", "256x90", NULL },
                      "multiple of 32");
  expect_usage_error ((const char *const[]) { "bench", "--size", "big", NULL }, "--size");
  expect_usage_error ((const char *const[]) { "bench", "--config", "no-such-model", NULL },
                      "no-such-model");
  expect_usage_error ((const char *const[]) { "bench", "--spec", "widths=8", NULL },
                      "widths");
  expect_usage_error ((const char *const[]) { "bench", "--mode", "fast", NULL }, "--mode");
  expect_usage_error ((const char *const[]) { "bench", "--batch", "0", NULL }, "--batch");
  expect_usage_error ((const char *const[]) { "bench", "--threads", "0", NULL }, "--threads");
  expect_usage_error ((const char *const[]) { "bench", "--mode", "infer", "--data", "/tmp",
                                              NULL }, "--data");
  expect_usage_error ((const char *const[]) { "bench", "--frobnicate", NULL }, "--frobnicate");
  expect_usage_error ((const char *const[]) { "bench", "extra", NULL }, "extra");
}

VG_TEST_MAIN ()
