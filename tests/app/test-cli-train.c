/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli train as a user runs it, on 8 real training and 4 validation images
 * (symlinks into ../shared) at 64x64 with a small model: the files it writes, --resume,
 * the Dice loss, and clear errors with the right exit codes for bad input. */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli-run.h"
#include "test-common.h"
#include "test-register.h"

#define SMALL_SPEC "widths=8,16,32,32 depths=1,1,1,1 heads=1,1,1,1 ratios=8,4,2,1 mlp=2 dim=32"

static char *root;        /* temporary folder of the splits and outputs */
static char *train_split; /* root/train: 8 linked training samples */
static char *val_split;   /* root/val: 4 linked validation samples */

/* The splits, made once; FALSE (test skipped) without ../shared. */
static gboolean
have_splits (void)
{
  g_autofree char *probe = NULL;

  if (root != NULL)
    return TRUE;
  probe = vg_test_shared_path ("celebamask/train");
  if (probe == NULL)
    return FALSE;
  root = g_dir_make_tmp ("visage-cli-train-XXXXXX", NULL);
  g_assert_nonnull (root);
  train_split = g_build_filename (root, "train", NULL);
  val_split = g_build_filename (root, "val", NULL);
  g_assert_true (vg_test_link_split (train_split, "train", 0, 8));
  g_assert_true (vg_test_link_split (val_split, "val", 0, 4));
  return TRUE;
}

static char *
under_root (const char *name)
{
  return g_build_filename (root, name, NULL);
}

/* visage-cli train of SMALL_SPEC on the splits TRAIN and VAL into OUT, one epoch at 64 x 64
 * in batches of BATCH on 2 threads, then the further options (NULL-terminated). */
static void
train_small (CliRun *run, const char *train, const char *val, const char *out,
             const char *batch, ...)
{
  const char *common[] = { "train", "--train", train, "--val", val, "--out", out, "--spec",
                           SMALL_SPEC, "--resolution", "64", "--batch", batch, "--epochs", "1",
                           "--threads", "2" };
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  va_list ap;

  g_ptr_array_add (argv, (char *) g_getenv ("VISAGE_CLI"));
  g_assert_nonnull (argv->pdata[0]);
  for (gsize i = 0; i < G_N_ELEMENTS (common); i++)
    g_ptr_array_add (argv, (char *) common[i]);
  va_start (ap, batch);
  for (const char *arg = va_arg (ap, const char *); arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  vg_test_run_cli_argv (run, (const char *const *) argv->pdata, NULL);
}

VG_TEST ("/cli-train/train-and-resume", test_train_and_resume)
{
  g_auto (CliRun) run = { 0 }, refused = { 0 };
  g_autofree char *out = NULL;
  g_autofree char *log = NULL, *last = NULL, *best = NULL, *log_text = NULL;

  if (!have_splits ())
    return;
  out = under_root ("run");
  train_small (&run, train_split, val_split, out, "4", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (strstr (run.out, "epoch 1/1"));
  g_assert_nonnull (strstr (run.out, "val mIoU"));
  log = g_build_filename (out, "log.csv", NULL);
  last = g_build_filename (out, "last.safetensors", NULL);
  best = g_build_filename (out, "best.safetensors", NULL);
  g_assert_true (g_file_test (last, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (best, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_get_contents (log, &log_text, NULL, NULL));
  g_assert_true (g_str_has_prefix (log_text, "epoch,phase,optimizer,lr,train_loss,val_loss,"
                                             "val_miou,seconds,images_per_s,cpu_seconds\n"
                                             "1,0,adam,0.001,"));
  g_assert_nonnull (strstr (run.out, "run CPU "));
  g_assert_cmpint (vg_test_count_lines (log), ==, 2);

  /* the same folder without --resume is refused, and the run is left alone */
  vg_test_run_cli (&refused, "train", "--train", train_split, "--val", val_split, "--out", out,
                   NULL);
  g_assert_cmpint (refused.status, ==, 1);
  g_assert_nonnull (strstr (refused.err, "already holds a training run"));
  g_assert_cmpint (vg_test_count_lines (log), ==, 2);

  /* --resume continues with the run's own options to the new limit */
  vg_test_resume_second_epoch (out);
}

/* --init starts a new run from another run's weights (a resolution curriculum); weights of
 * another configuration are refused with the file named. */
VG_TEST ("/cli-train/init-from-weights", test_init_from_weights)
{
  g_auto (CliRun) first = { 0 }, second = { 0 }, mismatch = { 0 }, with_resume = { 0 };
  g_autofree char *out = NULL, *out2 = NULL, *out3 = NULL;
  g_autofree char *best = NULL;

  if (!have_splits ())
    return;
  out = under_root ("init-a");
  out2 = under_root ("init-b");
  out3 = under_root ("init-c");
  train_small (&first, train_split, val_split, out, "4", NULL);
  g_assert_cmpint (first.status, ==, 0);
  best = g_build_filename (out, "best.safetensors", NULL);

  vg_test_run_cli (&second, "train", "--train", train_split, "--val", val_split, "--out", out2,
                   "--spec", SMALL_SPEC, "--init", best, "--resolution", "96", "--batch", "4",
                   "--epochs", "1", "--threads", "2", NULL);
  g_assert_cmpint (second.status, ==, 0);
  g_assert_nonnull (strstr (second.err, "starting from the weights of"));
  g_assert_nonnull (strstr (second.out, "epoch 1/1"));

  vg_test_run_cli (&mismatch, "train", "--train", train_split, "--val", val_split, "--out", out3,
                   "--init", best, "--resolution", "64", "--batch", "4", "--epochs", "1",
                   "--threads", "2", NULL);
  g_assert_cmpint (mismatch.status, ==, 1);
  g_assert_nonnull (strstr (mismatch.err, "best.safetensors"));

  vg_test_run_cli (&with_resume, "train", "--resume", out2, "--init", best, NULL);
  g_assert_cmpint (with_resume.status, ==, 2);
}

VG_TEST ("/cli-train/resume-refuses-options", test_resume_refuses_options)
{
  g_auto (CliRun) run = { 0 };

  vg_test_run_cli (&run, "train", "--resume", "/nonexistent", "--batch", "16", NULL);
  g_assert_cmpint (run.status, ==, 2);
  g_assert_nonnull (strstr (run.err, "--batch cannot be given with --resume"));
}

VG_TEST ("/cli-train/dice-loss", test_dice_loss)
{
  g_auto (CliRun) run = { 0 };
  g_autofree char *out = NULL;

  if (!have_splits ())
    return;
  out = under_root ("dice");
  train_small (&run, train_split, val_split, out, "8", "--loss", "ce-dice", "--optimizer", "adamw",
               NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (strstr (run.out, "epoch 1/1  phase 0 adamw"));
}

VG_TEST ("/cli-train/bad-input", test_bad_input)
{
  g_auto (CliRun) missing = { 0 }, usage = { 0 }, trunc = { 0 }, resolution = { 0 };
  g_auto (CliRun) first = { 0 };
  g_autofree char *out = NULL, *gone = NULL, *source = NULL, *last = NULL;
  g_autofree char *data = NULL;
  g_autofree char *trunc_dir = NULL, *trunc_last = NULL;
  gsize len = 0;

  if (!have_splits ())
    return;
  out = under_root ("bad");
  gone = under_root ("no-such-split");

  /* a missing folder: a message naming it, exit 1 */
  vg_test_run_cli (&missing, "train", "--train", gone, "--val", val_split, "--out", out, NULL);
  g_assert_cmpint (missing.status, ==, 1);
  g_assert_nonnull (strstr (missing.err, "no-such-split"));

  /* no validation data: a usage error */
  vg_test_run_cli (&usage, "train", "--train", val_split, "--out", out, NULL);
  g_assert_cmpint (usage.status, ==, 2);
  g_assert_nonnull (strstr (usage.err, "--val"));

  /* a resolution that is not a multiple of 32 */
  vg_test_run_cli (&resolution, "train", "--train", val_split, "--val", val_split, "--out", out,
                   "--resolution", "100", NULL);
  g_assert_cmpint (resolution.status, ==, 2);
  g_assert_nonnull (strstr (resolution.err, "multiple of 32"));

  /* a truncated last checkpoint: a clear error, no crash (from a run of this test's own,
   * so that it runs alone too: -p /cli-train/bad-input) */
  source = under_root ("truncated-source");
  train_small (&first, val_split, val_split, source, "4", NULL);
  g_assert_cmpint (first.status, ==, 0);
  last = g_build_filename (source, "last.safetensors", NULL);
  trunc_dir = under_root ("truncated");
  trunc_last = g_build_filename (trunc_dir, "last.safetensors", NULL);
  g_assert_cmpint (g_mkdir_with_parents (trunc_dir, 0755), ==, 0);
  g_assert_true (g_file_get_contents (last, &data, &len, NULL));
  g_assert_true (g_file_set_contents (trunc_last, data, len - 1000, NULL));
  vg_test_run_cli (&trunc, "train", "--resume", trunc_dir, NULL);
  g_assert_cmpint (trunc.status, ==, 1);
  g_assert_nonnull (strstr (trunc.err, "last.safetensors is not a valid safetensors file"));
}

/* --annotations / --val-annotations: corrected masks override the splits' (here copies of
 * the originals, one per split), a resumed run keeps them, a missing folder is an error. */
VG_TEST ("/cli-train/annotations", test_annotations)
{
  g_auto (CliRun) run = { 0 }, again = { 0 }, missing = { 0 };
  g_autofree char *out = NULL, *notes = NULL, *val_notes = NULL;
  g_autofree char *gone = NULL;

  if (!have_splits ())
    return;
  out = under_root ("annotated-run");
  notes = under_root ("train-annotations");
  val_notes = under_root ("val-annotations");
  gone = under_root ("no-such-annotations");
  for (int k = 0; k < 2; k++)
    {
      g_autofree char *src = g_build_filename (k == 0 ? train_split : val_split, "masks", "1.png",
                                               NULL);
      g_autofree char *dst = g_build_filename (k == 0 ? notes : val_notes, "1.png", NULL);
      g_autofree char *data = NULL;
      gsize len = 0;

      g_assert_cmpint (g_mkdir_with_parents (k == 0 ? notes : val_notes, 0755), ==, 0);
      g_assert_true (g_file_get_contents (src, &data, &len, NULL));
      g_assert_true (g_file_set_contents (dst, data, len, NULL));
    }

  train_small (&run, train_split, val_split, out, "4", "--annotations", notes, "--val-annotations",
               val_notes, NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (strstr (run.err, "training split: 1 of 8 masks from the annotations"));
  g_assert_nonnull (strstr (run.err, "validation split: 1 of 4 masks from the annotations"));

  vg_test_run_cli (&again, "train", "--resume", out, "--epochs", "2", NULL);
  g_assert_cmpint (again.status, ==, 0);
  g_assert_nonnull (strstr (again.err, "training split: 1 of 8 masks from the annotations"));

  /* (A new output folder: the run above holds out.) */
  g_free (out);
  out = under_root ("annotated-run-2");
  vg_test_run_cli (&missing, "train", "--train", train_split, "--val", val_split, "--out", out,
                   "--annotations", gone, NULL);
  g_assert_cmpint (missing.status, ==, 1);
  g_assert_nonnull (strstr (missing.err, "no such annotations folder"));
}

/* --recipe runs a recipe's stages in one folder; options the recipe sets are refused; the
 * run resumes as a whole with --resume, also after a stop, and a finished one says so. */
VG_TEST ("/cli-train/recipe", test_recipe)
{
  g_auto (CliRun) run = { 0 }, refused = { 0 }, missing = { 0 }, again = { 0 };
  g_auto (CliRun) done = { 0 }, epochs = { 0 };
  g_autofree char *out = NULL, *recipe = NULL;
  g_autofree char *b_log = NULL;
  const char *text =
    "[recipe]\nname=tiny\nconfig=visage-s\nspec=" SMALL_SPEC "\n"
    "[stage a]\nresolution=64\nbatch=4\nepochs=1\n"
    "[stage b]\nresolution=64\nbatch=4\nepochs=2\nlr=5e-4\nloss=weighted-ce-dice\n";

  if (!have_splits ())
    return;
  out = under_root ("recipe-run");
  recipe = under_root ("tiny.recipe");
  g_assert_true (g_file_set_contents (recipe, text, -1, NULL));

  vg_test_run_cli (&refused, "train", "--recipe", recipe, "--train", train_split, "--val",
                   val_split, "--out", out, "--lr", "0.1", NULL);
  g_assert_cmpint (refused.status, ==, 2);
  g_assert_nonnull (strstr (refused.err, "--lr cannot be given with --recipe"));
  vg_test_run_cli (&missing, "train", "--recipe", "no-such-recipe", "--train", train_split, "--val",
                   val_split, "--out", out, NULL);
  g_assert_cmpint (missing.status, ==, 2);
  g_assert_nonnull (strstr (missing.err, "no-such-recipe"));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));

  vg_test_run_cli (&run, "train", "--recipe", recipe, "--train", train_split, "--val", val_split,
                   "--out", out, "--threads", "2", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (strstr (run.err, "stage 1 of 2 of recipe tiny"));
  g_assert_nonnull (strstr (run.err, "stage 2 of 2 of recipe tiny"));
  g_assert_nonnull (strstr (run.err, "recipe tiny done"));
  b_log = g_build_filename (out, "b", "log.csv", NULL);
  g_assert_cmpint (vg_test_count_lines (b_log), ==, 3);

  /* resumed as a whole: nothing left to do; its options stay the recipe's */
  vg_test_run_cli (&epochs, "train", "--resume", out, "--epochs", "5", NULL);
  g_assert_cmpint (epochs.status, ==, 2);
  g_assert_nonnull (strstr (epochs.err, "--epochs cannot be given"));
  vg_test_run_cli (&done, "train", "--resume", out, NULL);
  g_assert_cmpint (done.status, ==, 0);
  g_assert_nonnull (strstr (done.err, "has done 2 epochs"));
  g_assert_cmpint (vg_test_count_lines (b_log), ==, 3);

  /* a new recipe run into the same folder is refused */
  vg_test_run_cli (&again, "train", "--recipe", recipe, "--train", train_split, "--val", val_split,
                   "--out", out, NULL);
  g_assert_cmpint (again.status, ==, 1);
  g_assert_nonnull (strstr (again.err, "already holds a recipe run"));
}

int
main (int argc, char *argv[])
{
  /* the statistics cache of the temporary splits stays out of the user's cache */
  g_autofree char *cache = vg_test_private_xdg_dir ("XDG_CACHE_HOME",
                                                    "visage-cli-train-cache-XXXXXX");
  int status;

  g_test_init (&argc, &argv, NULL);
  vg_test_add_registered ();
  status = g_test_run ();
  if (root != NULL)
    vg_test_rm_rf (root);
  g_free (root);
  g_free (train_split);
  g_free (val_split);
  vg_test_rm_rf (cache);
  return status;
}
