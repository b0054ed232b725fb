/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The report's convolutional baselines (U-Net, DeepLabV3+, Fast-SCNN) through every command
 * of visage-cli, as a user runs them, on 8 training and 4 validation images (symlinks into
 * ../shared) at 64x64: info prints the report's parameter count, train writes a model of the
 * architecture that eval, predict, export-submission and bench take, a resumed run goes on,
 * export-onnx refuses it with its reason, and a Fast-SCNN shipped as visage-fast is what
 * --model visage-fast names. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli-run.h"
#include "test-common.h"
#include "test-register.h"
#include "vg-onnx.h"

static char *root;        /* temporary folder of the splits and outputs */
static char *train_split; /* root/train: 8 linked training samples; NULL without ../shared */
static char *val_split;   /* root/val: 4 linked validation samples */

/* The splits, made by main; FALSE (test skipped) without ../shared. */
static gboolean
have_splits (void)
{
  if (train_split == NULL)
    g_test_skip ("no ../shared/celebamask");
  return train_split != NULL;
}

/* info --config NAME prints the parameter count of the report's model. */
static void
check_info (const char *name, const char *params)
{
  g_auto (CliRun) info = { 0 };
  g_autofree char *line = g_strdup_printf ("trainable parameters: %s\n", params);
  g_autofree char *arch = g_strdup_printf ("arch=%s\n", name);

  vg_test_run_cli (&info, "info", "--config", name, "--size", "256", NULL);
  g_assert_cmpint (info.status, ==, 0);
  g_assert_nonnull (strstr (info.out, line));
  g_assert_nonnull (strstr (info.out, arch));
}

/* One epoch of NAME on the splits into root/NAME, then a resume to two epochs: the model
 * file written. */
static char *
train_and_resume (const char *name)
{
  g_auto (CliRun) run = { 0 };
  g_autofree char *out = g_build_filename (root, name, NULL);
  g_autofree char *log = g_build_filename (out, "log.csv", NULL);
  g_autofree char *model = NULL;
  char *best = g_build_filename (out, "best.safetensors", NULL);

  vg_test_run_cli (&run, "train", "--config", name, "--train", train_split, "--val", val_split,
                   "--out", out, "--resolution", "64", "--batch", "2", "--epochs", "1",
                   "--max-train", "8", "--threads", "2", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (strstr (run.out, "epoch 1/1"));
  g_assert_true (g_file_test (best, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (vg_test_count_lines (log), ==, 2);
  vg_test_resume_second_epoch (out);
  return best;
}

/* eval, predict and export-submission with the trained model: each names its architecture
 * (the configuration read back from the file) and writes what it should. */
static void
check_inference (const char *name, const char *model)
{
  g_auto (CliRun) eval = { 0 }, predict = { 0 }, submission = { 0 };
  g_autofree char *images = g_build_filename (val_split, "images", NULL);
  g_autofree char *dir = g_strdup_printf ("%s/%s-pred", root, name);
  g_autofree char *zip = g_strdup_printf ("%s/%s.zip", root, name);
  g_autofree char *named = g_strdup_printf ("(%s, resolution 64)", name);

  vg_test_run_cli (&eval, "eval", "--model", model, "--data", val_split, NULL);
  g_assert_cmpint (eval.status, ==, 0);
  g_assert_nonnull (strstr (eval.err, named));
  g_assert_nonnull (strstr (eval.out, "mIoU"));

  vg_test_run_cli (&predict, "predict", images, "--model", model, "--out", dir, NULL);
  g_assert_cmpint (predict.status, ==, 0);
  g_assert_nonnull (strstr (predict.err, named));
  g_assert_cmpint (vg_test_count_files (dir, ".png"), ==, 4);

  vg_test_run_cli (&submission, "export-submission", "--model", model, "--images", images,
                   "--out", zip, NULL);
  g_assert_cmpint (submission.status, ==, 0);
  g_assert_true (g_file_test (zip, G_FILE_TEST_IS_REGULAR));
}

/* bench times the architecture's training step and inference; export-onnx refuses it. */
static void
check_bench_and_onnx (const char *name, const char *model)
{
  g_auto (CliRun) bench = { 0 }, onnx = { 0 };
  g_autofree char *onnx_path = g_strdup_printf ("%s/%s.onnx", root, name);
  g_autofree char *reason = g_strdup_printf ("this is a %s model", name);

  vg_test_run_cli (&bench, "bench", "--config", name, "--mode", "all", "--steps", "1",
                   "--warmup", "0", "--runs", "1", "--size", "64", "--batch", "2",
                   "--threads", "2", NULL);
  g_assert_cmpint (bench.status, ==, 0);
  g_assert_nonnull (strstr (bench.out, "training GFLOP/s"));
  g_assert_nonnull (strstr (bench.out, "inference latency"));

  vg_test_run_cli (&onnx, "export-onnx", "--model", model, "--out", onnx_path, NULL);
  g_assert_cmpint (onnx.status, ==, 1);
  g_assert_false (g_file_test (onnx_path, G_FILE_TEST_EXISTS));
  if (vg_onnx_supported ())
    {
      g_assert_nonnull (strstr (onnx.err, "ONNX export covers SegFormer models"));
      g_assert_nonnull (strstr (onnx.err, reason));
    }
  else
    g_test_message ("built without ONNX export: %s", onnx.err);
}

static void
check_baseline (const char *name, const char *params)
{
  g_autofree char *model = NULL;

  check_info (name, params);
  if (!have_splits ())
    return;
  model = train_and_resume (name);
  check_inference (name, model);
  check_bench_and_onnx (name, model);
}

VG_TEST ("/cli-baselines/unet", test_unet)
{
  check_baseline ("unet", "1941411");
}

VG_TEST ("/cli-baselines/deeplabv3plus", test_deeplabv3plus)
{
  check_baseline ("deeplabv3plus", "1964394");
}

VG_TEST ("/cli-baselines/fastscnn", test_fastscnn)
{
  check_baseline ("fastscnn", "1154435");
}

/* A Fast-SCNN shipped as visage-fast.safetensors: --model visage-fast takes it, while the
 * default stays the accurate model (here not shipped, which is said); without the fast
 * model, --model visage-fast says it does not ship. */
VG_TEST ("/cli-baselines/shipped-fast-model", test_shipped_fast_model)
{
  g_autofree char *models = g_build_filename (root, "models", NULL);
  g_autofree char *shipped = g_build_filename (models, "visage-fast.safetensors", NULL);
  g_autofree char *images = NULL, *out = NULL, *model = NULL, *contents = NULL;
  g_autofree char *saved = g_strdup (g_getenv ("VISAGE_MODELS_DIR"));
  g_auto (CliRun) fast = { 0 }, fallback = { 0 }, missing = { 0 };
  gsize length;

  if (!have_splits ())
    return;
  images = g_build_filename (val_split, "images", NULL);
  out = g_build_filename (root, "fast-pred", NULL);
  model = g_build_filename (root, "fastscnn", "best.safetensors", NULL);
  if (!g_file_test (model, G_FILE_TEST_IS_REGULAR))
    g_free (train_and_resume ("fastscnn"));
  g_assert_cmpint (g_mkdir_with_parents (models, 0755), ==, 0);
  g_assert_true (g_file_get_contents (model, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (shipped, contents, (gssize) length, NULL));

  g_setenv ("VISAGE_MODELS_DIR", models, TRUE);
  vg_test_run_cli (&fast, "predict", images, "--model", "visage-fast", "--out", out, NULL);
  vg_test_run_cli (&fallback, "eval", "--data", val_split, NULL);
  g_assert_cmpint (g_unlink (shipped), ==, 0);
  vg_test_run_cli (&missing, "eval", "--model", "visage-fast", "--data", val_split, NULL);
  if (saved != NULL)
    g_setenv ("VISAGE_MODELS_DIR", saved, TRUE);
  else
    g_unsetenv ("VISAGE_MODELS_DIR");

  g_assert_cmpint (fast.status, ==, 0);
  g_assert_nonnull (strstr (fast.err, shipped));
  g_assert_nonnull (strstr (fast.err, "(fastscnn, resolution 64)"));
  g_assert_cmpint (vg_test_count_files (out, ".png"), ==, 4);
  g_assert_cmpint (fallback.status, ==, 2);
  g_assert_nonnull (strstr (fallback.err, "no model ships with this build"));
  g_assert_cmpint (missing.status, ==, 2);
  g_assert_nonnull (strstr (missing.err, "the model visage-fast does not ship"));
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  root = g_dir_make_tmp ("visage-cli-baselines-XXXXXX", &error);
  g_assert_no_error (error);
  train_split = g_build_filename (root, "train", NULL);
  val_split = g_build_filename (root, "val", NULL);
  if (!vg_test_link_split (train_split, "train", 0, 8)
      || !vg_test_link_split (val_split, "val", 0, 4))
    g_clear_pointer (&train_split, g_free);
  vg_test_add_registered ();
  status = vg_test_run_removing (root);
  g_free (root);
  g_free (train_split);
  g_free (val_split);
  return status;
}
