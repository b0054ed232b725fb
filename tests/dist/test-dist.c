/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli train --distributed under mpirun: 2 ranks on this machine (loopback) against one
 * process, on 16 real training and 5 validation images (links into ../shared) at 64 x 64
 * with a small model (a run is about a second). Exit 77 (skipped) in a build without MPI or
 * where mpirun is missing.
 *
 * Equivalence. 2 ranks with --batch 8 (4 images each) must give the weights of one process
 * with --batch 8 after 6 steps (3 epochs of 2), with the weighted cross-entropy and with
 * the Dice term added (its class sums over the global batch). Both compute the same
 * real-number function and differ only in the order of float additions: each weight's
 * gradient is a sum over the 32,768 pixels of the global batch, which one process adds as
 * one blocked sum and two ranks as two sums of 16,384 then added by the all-reduce;
 * BatchNorm's batch sums likewise (and are taken around the running mean rather than the
 * first row). A reordered float sum of n terms in blocks (the engine adds float tiles in
 * double) differs by about log2(n) u sum|t_i|, u = 2^-24: ~1e-6 of the terms' size. SGD
 * turns a gradient error dg into a weight error of lr dg / (1 - momentum) per step: after 6
 * steps at lr 0.05 and momentum 0.5, at most 6 x 0.1 x |dg| plus its propagation through
 * the next steps' gradients (small at this rate); with gradients of order 1 here, |dw| ~
 * 1e-6. Measured: 7.2e-7 at most (a BatchNorm running variance of order 1). The bound used,
 * 1e-5 + 1e-5 |w| per weight, is ten times that; the weights themselves move by up to 0.8
 * over these steps, and an error in the sharding, the loss's normalisation or BatchNorm's
 * synchronisation changes gradients by a sizeable fraction, i.e. weights by 1e-3 or more,
 * so any of them fails the test. Adam is not used: it divides by the root of the squared
 * gradients, so a bias whose exact gradient is 0 (a convolution's before BatchNorm) moves
 * by +-lr on float noise alone. The tensors compared are all of last.safetensors: weights,
 * running statistics, the momentum and the best weights.
 *
 * Validation is exact: the mIoU that 2 ranks compute from their shards of the validation
 * split (confusion matrices summed) must equal, to the last bit, the mIoU of visage-cli eval
 * of the saved weights over the whole split in one process.
 *
 * A recipe of two stages runs distributed stage by stage to the same weights.
 *
 * Failures: rank 1 killed (SIGKILL) after the first checkpoint (an epoch's end; and, with a
 * checkpoint after every step, mid-epoch) ends the run, which one process then resumes to
 * the reference's weights; a 1-process run resumed by 2 ranks
 * likewise; a corrupt image in rank 1's validation shard ends both ranks with rank 1's
 * error; --distributed outside mpirun and a batch 2 ranks cannot share are refused. Every
 * run is under `timeout`, so a hang fails instead of blocking. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "test-common.h"
#include "test-register.h"
#include "test-safetensors-util.h"

#define SMALL_SPEC "widths=8,16,32,32 depths=1,1,1,1 heads=1,1,1,1 ratios=8,4,2,1 mlp=2 dim=32"
#define ATOL 1e-5
#define RTOL 1e-5
/* Any run longer than this has hung (a run here takes a few seconds). */
#define RUN_TIMEOUT "50"

static char *root;          /* temporary folder of the splits and the runs */
static char *train_split;   /* 16 linked training samples */
static char *val_split;     /* 5 linked validation samples */
static char *mpirun;

typedef struct {
  int status;
  char *out;
  char *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

/* argv (NULL-terminated) under `timeout`, so that a hang fails instead of blocking. */
static void
run_argv (Run *r, GPtrArray *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  int wait_status = 0;

  g_ptr_array_add (argv, "timeout");
  g_ptr_array_add (argv, "-k");
  g_ptr_array_add (argv, "5");
  g_ptr_array_add (argv, RUN_TIMEOUT);
  for (guint i = 0; i < args->len; i++)
    g_ptr_array_add (argv, args->pdata[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &r->out,
                &r->err, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  r->status = WEXITSTATUS (wait_status);
  g_assert_cmpint (r->status, !=, 124); /* timed out: a hang */
  if (r->status != 0)
    g_test_message ("exit %d; stderr:\n%s", r->status, r->err);
}

/* visage-cli train, under `mpirun -np ranks` with --distributed when ranks > 0, with the
 * arguments (NULL-terminated); a wrapper (may be NULL) runs the program. */
static void
train (Run *r, int ranks, const char *wrapper, const char *first, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  va_list ap;

  if (ranks > 0)
    {
      g_ptr_array_add (args, g_strdup (mpirun));
      g_ptr_array_add (args, g_strdup ("--oversubscribe"));
      g_ptr_array_add (args, g_strdup ("-np"));
      g_ptr_array_add (args, g_strdup_printf ("%d", ranks));
    }
  if (wrapper != NULL)
    g_ptr_array_add (args, g_strdup (wrapper));
  g_ptr_array_add (args, g_strdup (g_getenv ("VISAGE_CLI")));
  g_ptr_array_add (args, g_strdup ("train"));
  if (ranks > 0)
    g_ptr_array_add (args, g_strdup ("--distributed"));
  va_start (ap, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, g_strdup (arg));
  va_end (ap);
  run_argv (r, args);
}

/* A new run of the small model into root/name: SGD (see above), --batch 8, 1 thread. */
#define NEW_RUN(run, ranks, wrapper, out, epochs, ...)                                       \
  train (run, ranks, wrapper, "--train", train_split, "--val", val_split, "--out", out,      \
         "--spec", SMALL_SPEC, "--resolution", "64", "--batch", "8", "--epochs", epochs,     \
         "--threads", "1", "--workers", "1", "--checkpoint-minutes", "0", "--optimizer",     \
         "sgd", "--sgd-lr", "0.05", "--patience", "0", __VA_ARGS__)

static char *
under_root (const char *name)
{
  return g_build_filename (root, name, NULL);
}

/* The reference: one process, 3 epochs; made once. */
static const char *
single_run (void)
{
  static char *out;

  if (out == NULL)
    {
      g_auto (Run) r = { 0 };

      out = under_root ("single");
      NEW_RUN (&r, 0, NULL, out, "3", NULL);
      g_assert_cmpint (r.status, ==, 0);
    }
  return out;
}

/* Every F32 tensor of a's and b's last.safetensors agrees within ATOL + RTOL |a|. */
static void
assert_same_weights (const char *run_a, const char *run_b)
{
  g_autofree char *path_a = g_build_filename (run_a, "last.safetensors", NULL);
  g_autofree char *path_b = g_build_filename (run_b, "last.safetensors", NULL);

  g_assert_cmpint (vg_test_assert_close_tensors (path_a, path_b, ATOL, RTOL), >, 10);
}

VG_TEST ("/dist/equivalence", test_equivalence)
{
  g_auto (Run) r = { 0 };
  g_autofree char *out = under_root ("ranks2");

  NEW_RUN (&r, 2, NULL, out, "3", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.err, "distributed over 2 ranks: 4 images of every batch each"));
  /* rank 0 alone reports: one summary line per epoch */
  g_assert_nonnull (strstr (r.out, "epoch 3/3"));
  g_assert_null (strstr (strstr (r.out, "epoch 3/3") + 1, "epoch 3/3"));
  assert_same_weights (single_run (), out);
}

/* The Dice term over the classes present in the batch (the recipe's last stages): its class
 * sums are the global batch's on every rank. */
VG_TEST ("/dist/equivalence-dice", test_equivalence_dice)
{
  g_auto (Run) one = { 0 }, two = { 0 };
  g_autofree char *out1 = under_root ("dice-1"), *out2 = under_root ("dice-2");

  NEW_RUN (&one, 0, NULL, out1, "3", "--loss", "weighted-ce-dice-present", NULL);
  g_assert_cmpint (one.status, ==, 0);
  NEW_RUN (&two, 2, NULL, out2, "3", "--loss", "weighted-ce-dice-present", NULL);
  g_assert_cmpint (two.status, ==, 0);
  assert_same_weights (out1, out2);
}

/* The Lovász term: its histograms are the global batch's on every rank. One epoch, not 3:
 * an error that crosses a bin boundary moves its gradient by a step, so the ranks' float
 * rounding (BatchNorm and cross-entropy sums in another order) grows faster than with the
 * smooth losses (after 3 epochs the Adam moments differed by 1.1e-5, at the tolerance). */
VG_TEST ("/dist/equivalence-lovasz", test_equivalence_lovasz)
{
  g_auto (Run) one = { 0 }, two = { 0 };
  g_autofree char *out1 = under_root ("lovasz-1"), *out2 = under_root ("lovasz-2");

  NEW_RUN (&one, 0, NULL, out1, "1", "--loss", "weighted-ce-lovasz", NULL);
  g_assert_cmpint (one.status, ==, 0);
  NEW_RUN (&two, 2, NULL, out2, "1", "--loss", "weighted-ce-lovasz", NULL);
  g_assert_cmpint (two.status, ==, 0);
  assert_same_weights (out1, out2);
}

VG_TEST ("/dist/validation-exact", test_validation_exact)
{
  g_auto (Run) r = { 0 };
  g_autofree char *out = under_root ("ranks2-val");
  g_autofree char *best = g_build_filename (out, "best.safetensors", NULL);
  g_autofree char *json = under_root ("ranks2-val.json");
  g_autoptr (GPtrArray) eval = g_ptr_array_new ();
  g_autoptr (VgSafetensors) st = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *miou = NULL;

  NEW_RUN (&r, 2, NULL, out, "1", NULL);
  g_assert_cmpint (r.status, ==, 0);
  st = vg_safetensors_open (best, &error);
  g_assert_no_error (error);
  g_ptr_array_add (eval, (char *) g_getenv ("VISAGE_CLI"));
  g_ptr_array_add (eval, "eval");
  g_ptr_array_add (eval, "--model");
  g_ptr_array_add (eval, best);
  g_ptr_array_add (eval, "--data");
  g_ptr_array_add (eval, val_split);
  g_ptr_array_add (eval, "--json");
  g_ptr_array_add (eval, json);
  run_clear (&r);
  r = (Run) { 0 };
  run_argv (&r, eval);
  g_assert_cmpint (r.status, ==, 0);
  miou = vg_test_json_value (json, "miou");
  /* both in the shortest round-trip form of the double */
  g_assert_cmpstr (vg_safetensors_metadata (st, "visage.val_miou"), ==, miou);
  g_assert_cmpfloat (g_ascii_strtod (miou, NULL), >, 0.0);
}

/* A wrapper that runs the program, and on rank 1 kills it (SIGKILL) as soon as the run's
 * first checkpoint exists: a node lost mid-run. */
static char *
write_killer (const char *out)
{
  g_autofree char *script = g_strdup_printf (
    "#!/bin/sh\n"
    "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then\n"
    "  ( while [ ! -e '%s/last.safetensors' ]; do sleep 0.02; done; kill -9 $$ ) &\n"
    "fi\n"
    "exec \"$@\"\n", out);
  char *path = under_root ("kill-rank-1.sh");

  g_assert_true (g_file_set_contents (path, script, -1, NULL));
  g_assert_cmpint (g_chmod (path, 0755), ==, 0);
  return path;
}

VG_TEST ("/dist/dying-rank-then-resume-alone", test_dying_rank)
{
  g_auto (Run) r = { 0 }, resumed = { 0 };
  g_autofree char *out = under_root ("killed");
  g_autofree char *killer = write_killer (out);
  g_autofree char *log_path = g_build_filename (out, "log.csv", NULL);
  g_autofree char *log = NULL;

  /* 50 epochs would take a minute: the run must end when rank 1 dies, not go on */
  NEW_RUN (&r, 2, killer, out, "50", NULL);
  g_assert_cmpint (r.status, !=, 0);
  g_assert_nonnull (strstr (r.err, "rank 1"));
  g_assert_nonnull (strstr (r.err, "signal 9"));
  g_assert_true (g_file_get_contents (log_path, &log, NULL, NULL));
  g_assert_nonnull (strstr (log, "\n1,0,sgd,"));
  g_assert_null (strstr (log, "\n50,"));

  /* resumed by one process from rank 0's checkpoint, to the reference's 3 epochs */
  train (&resumed, 0, NULL, "--resume", out, "--epochs", "3", "--threads", "1", NULL);
  g_assert_cmpint (resumed.status, ==, 0);
  g_assert_nonnull (strstr (resumed.err, "resuming"));
  assert_same_weights (single_run (), out);
}

/* The same with a checkpoint after every step: rank 1 dies mid-epoch, and one process
 * resumes from the step rank 0 saved (its batches are the global ones). */
VG_TEST ("/dist/dying-rank-mid-epoch", test_dying_rank_mid_epoch)
{
  g_auto (Run) r = { 0 }, resumed = { 0 };
  g_autofree char *out = under_root ("killed-mid-epoch");
  g_autofree char *killer = write_killer (out);

  NEW_RUN (&r, 2, killer, out, "50", "--checkpoint-minutes", "0.00001", NULL);
  g_assert_cmpint (r.status, !=, 0);
  g_assert_nonnull (strstr (r.err, "signal 9"));
  train (&resumed, 0, NULL, "--resume", out, "--epochs", "3", "--threads", "1", NULL);
  g_assert_cmpint (resumed.status, ==, 0);
  assert_same_weights (single_run (), out);
}

VG_TEST ("/dist/resume-with-more-ranks", test_resume_more_ranks)
{
  g_auto (Run) first = { 0 }, resumed = { 0 };
  g_autofree char *out = under_root ("grown");

  NEW_RUN (&first, 0, NULL, out, "1", NULL);
  g_assert_cmpint (first.status, ==, 0);
  train (&resumed, 2, NULL, "--resume", out, "--epochs", "3", "--threads", "1", NULL);
  g_assert_cmpint (resumed.status, ==, 0);
  assert_same_weights (single_run (), out);
}

/* A recipe of two stages of one epoch (SGD), the second starting from the first's best. */
static char *
write_recipe (void)
{
  static const char text[] =
    "[recipe]\nname=tiny\nconfig=seed\nspec=" SMALL_SPEC "\n\n"
    "[stage a]\nresolution=64\nbatch=8\nepochs=1\noptimizer=sgd\nsgd-lr=0.05\n"
    "patience=0\n\n"
    "[stage b]\nresolution=64\nbatch=8\nepochs=1\noptimizer=sgd\nsgd-lr=0.02\n"
    "patience=0\n";
  char *path = under_root ("tiny.recipe");

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

VG_TEST ("/dist/recipe", test_recipe)
{
  g_auto (Run) one = { 0 }, two = { 0 };
  g_autofree char *recipe = write_recipe ();
  g_autofree char *out1 = under_root ("recipe-1"), *out2 = under_root ("recipe-2");
  g_autofree char *b1 = g_build_filename (out1, "b", NULL);
  g_autofree char *b2 = g_build_filename (out2, "b", NULL);

  train (&one, 0, NULL, "--recipe", recipe, "--train", train_split, "--val", val_split,
         "--out", out1, "--threads", "1", "--checkpoint-minutes", "0", NULL);
  g_assert_cmpint (one.status, ==, 0);
  train (&two, 2, NULL, "--recipe", recipe, "--train", train_split, "--val", val_split,
         "--out", out2, "--threads", "1", "--checkpoint-minutes", "0", NULL);
  g_assert_cmpint (two.status, ==, 0);
  /* every stage distributed, rank 0 alone reporting the end */
  g_assert_nonnull (strstr (strstr (two.err, "stage 2 of 2"), "distributed over 2 ranks"));
  g_assert_null (strstr (strstr (two.err, "recipe tiny done") + 1, "recipe tiny done"));
  assert_same_weights (b1, b2);
}

/* A validation split whose last image (in rank 1's shard) is a truncated JPEG: its header
 * passes the split's checks, its decoding fails on rank 1 alone, at the end of epoch 1. */
static char *
broken_val_split (void)
{
  static const char *const names[] = { "0", "1", "2", "3", NULL };
  g_autofree char *shared = NULL, *image = NULL, *bytes = NULL, *bad = NULL, *mask = NULL;
  g_autofree char *mask_link = NULL;
  char *dir = under_root ("val-broken");
  gsize n;

  g_assert_true (vg_test_link_split_names (dir, "val", names));
  shared = g_build_filename (g_getenv ("VISAGE_SHARED_DIR"), "celebamask", "val", NULL);
  image = g_build_filename (shared, "images", "5.jpg", NULL);
  mask = g_build_filename (shared, "masks", "5.png", NULL);
  g_assert_true (g_file_get_contents (image, &bytes, &n, NULL));
  bad = g_build_filename (dir, "images", "5.jpg", NULL);
  g_assert_true (g_file_set_contents (bad, bytes, MIN (n, 4096), NULL));
  mask_link = g_build_filename (dir, "masks", "5.png", NULL);
  g_assert_cmpint (symlink (mask, mask_link), ==, 0);
  return dir;
}

VG_TEST ("/dist/failing-rank-ends-the-run", test_failing_rank)
{
  g_auto (Run) r = { 0 };
  g_autofree char *out = under_root ("failing");
  g_autofree char *val = broken_val_split ();

  train (&r, 2, NULL, "--train", train_split, "--val", val, "--out", out, "--spec", SMALL_SPEC,
         "--resolution", "64", "--batch", "8", "--epochs", "1", "--threads", "1", NULL);
  g_assert_cmpint (r.status, !=, 0);
  /* rank 1's own error, then its abort that ended rank 0, waiting for it in a sum */
  g_assert_nonnull (strstr (r.err, "5.jpg"));
  g_assert_nonnull (strstr (r.err, "rank 1 of 2: this rank failed"));
  g_assert_null (strstr (r.err, "rank 0 of 2: this rank failed"));
}

VG_TEST ("/dist/refusals", test_refusals)
{
  g_auto (Run) alone = { 0 }, odd = { 0 };
  g_autofree char *out = under_root ("refused");
  g_autofree char *last = g_build_filename (out, "last.safetensors", NULL);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();

  /* --distributed outside a launcher: a usage error, before anything is read */
  g_ptr_array_add (args, (char *) g_getenv ("VISAGE_CLI"));
  g_ptr_array_add (args, "train");
  g_ptr_array_add (args, "--distributed");
  g_ptr_array_add (args, "--resume");
  g_ptr_array_add (args, out);
  run_argv (&alone, args);
  g_assert_cmpint (alone.status, ==, 2);
  g_assert_nonnull (strstr (alone.err, "mpirun -np N"));

  /* a batch that 2 ranks cannot share: every rank stops, none hangs */
  train (&odd, 2, NULL, "--train", train_split, "--val", val_split, "--out", out, "--spec",
         SMALL_SPEC, "--resolution", "64", "--batch", "3", "--epochs", "1", NULL);
  g_assert_cmpint (odd.status, !=, 0);
  g_assert_nonnull (strstr (odd.err, "must be a multiple of the number of ranks (2)"));
  g_assert_false (g_file_test (last, G_FILE_TEST_EXISTS));
}

int
main (int argc, char *argv[])
{
  static const char *const val_names[] = { "0", "1", "2", "3", "5", NULL };
  g_autofree char *probe = NULL;

  g_test_init (&argc, &argv, NULL);
  if (!VG_HAVE_MPI)
    {
      printf ("skipped: this build has no MPI (libopenmpi-dev)\n");
      return 77;
    }
  if ((mpirun = g_find_program_in_path ("mpirun")) == NULL)
    {
      printf ("skipped: mpirun is not installed (openmpi-bin)\n");
      return 77;
    }
  /* loopback only, and root allowed (CI runs as root); meson sets the same */
  g_setenv ("OMPI_MCA_btl", "self,vader", FALSE);
  g_setenv ("OMPI_ALLOW_RUN_AS_ROOT", "1", FALSE);
  g_setenv ("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", FALSE);
  probe = g_build_filename (g_getenv ("VISAGE_SHARED_DIR") ? g_getenv ("VISAGE_SHARED_DIR")
                                                           : "../shared", "celebamask", NULL);
  if (!g_file_test (probe, G_FILE_TEST_IS_DIR))
    {
      if (g_getenv ("CI") != NULL)
        g_error ("%s is missing under CI", probe);
      printf ("skipped: %s is not present\n", probe);
      return 77;
    }
  root = g_dir_make_tmp ("visage-dist-XXXXXX", NULL);
  g_assert_nonnull (root);
  train_split = g_build_filename (root, "train", NULL);
  val_split = g_build_filename (root, "val", NULL);
  g_assert_true (vg_test_link_split (train_split, "train", 0, 16));
  g_assert_true (vg_test_link_split_names (val_split, "val", val_names));
  vg_test_add_registered ();
  return vg_test_run_removing (root);
}
