/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Data-parallel training on the CUDA backend (engine/README.md, the NCCL path): the
 * synchronised BatchNorm's halves on the device against the CPU's one-process BatchNorm,
 * with the batch cut into two shards whose sums are added as the ranks' all-reduce would
 * add them; and, where NCCL is built and mpirun is present, visage-cli train --distributed
 * --device cuda under mpirun (one rank per GPU, at most 2) against one process on the GPU.
 * Exit 77 (skipped) without a device; VISAGE_CUDA_TEST_BACKEND=cpu runs the CPU backend
 * against itself (the plumbing only).
 *
 * Bound: TOL of test-cuda-ops (1e-4 of the largest reference value): the shards' sums are
 * added in another order than one sweep, and the synchronised forward centres on the
 * running mean instead of the first row; both are double sums of float terms, ~1e-7. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "cuda-test-common.h"
#include "test-common.h"
#include "test-safetensors-util.h"

#define TOL 1e-4

static GRand *rng;

static float *
host_uniform (size_t n, float lo, float hi)
{
  float *x = g_new (float, MAX (n, 1));

  fill_uniform (rng, x, n, lo, hi);
  return x;
}

/* The device's sums of rows [r0, r1) of inp (or of dout and inp), downloaded. */
static double *
shard_sums (gboolean backward, float *d_dw, float *d_db, const float *d_dout,
            const float *d_inp, const float *d_shift_or_mean, const float *d_rstd, int r0,
            int r1, int C)
{
  size_t bytes = (2 * (size_t) C + 1) * sizeof (double);
  double *d_sums = dev_alloc (bytes), *sums = g_malloc (bytes);

  if (backward)
    dev_be->batchnorm_backward_sums (d_sums, d_dw, d_db, d_dout + (size_t) r0 * C,
                                     d_inp + (size_t) r0 * C, d_shift_or_mean, d_rstd, r1 - r0,
                                     C);
  else
    dev_be->batchnorm_sums (d_sums, d_inp + (size_t) r0 * C, d_shift_or_mean, r1 - r0, C);
  dev_be->download (sums, d_sums, bytes);
  dev_be->free (d_sums);
  return sums;
}

/* Two shards' sums added (the all-reduce of two ranks), back on the device. */
static double *
added (double *a, double *b, int C)
{
  size_t n = 2 * (size_t) C + 1;
  double *d = dev_alloc (n * sizeof (double));

  for (size_t i = 0; i < n; i++)
    a[i] += b[i];
  dev_be->upload (d, a, n * sizeof (double));
  g_free (a);
  g_free (b);
  return d;
}

static void
run_shards (int Nr, int C, float offset)
{
  const size_t NC = (size_t) Nr * C;
  const int half = Nr / 3; /* unequal shards: the row count travels with the sums */
  g_autofree float *inp = host_uniform (NC, offset - 2, offset + 2);
  g_autofree float *w = host_uniform (C, 0.5f, 1.5f), *b = host_uniform (C, -1, 1);
  g_autofree float *rm = host_uniform (C, offset - 0.5f, offset + 0.5f);
  g_autofree float *rv = host_uniform (C, 0.5f, 2.0f);
  g_autofree float *dout = host_uniform (NC, -1, 1);
  g_autofree float *dw = host_uniform (C, -1, 1), *db = host_uniform (C, -1, 1);
  g_autofree float *out = g_new (float, NC), *mean = g_new (float, C), *rstd = g_new (float, C);
  g_autofree float *rm_ref = g_memdup2 (rm, C * sizeof (float));
  g_autofree float *rv_ref = g_memdup2 (rv, C * sizeof (float));
  g_autofree float *dinp = g_new (float, NC);
  g_autofree float *dw_ref = g_memdup2 (dw, C * sizeof (float));
  g_autofree float *db_ref = g_memdup2 (db, C * sizeof (float));
  float *d_inp = dev_upload (inp, NC), *d_w = dev_upload (w, C), *d_b = dev_upload (b, C);
  float *d_rm = dev_upload (rm, C), *d_rv = dev_upload (rv, C), *d_out = dev_upload (inp, NC);
  float *d_mean = dev_upload (rm, C), *d_rstd = dev_upload (rv, C);
  float *d_dout = dev_upload (dout, NC), *d_dinp = dev_upload (dout, NC);
  float *d_dw = dev_upload (dw, C), *d_db = dev_upload (db, C);
  double *d_sums;

  /* the reference: one process, the whole batch */
  cpu_be->batchnorm_forward_train (out, mean, rstd, rm_ref, rv_ref, inp, w, b, 1e-5f, 0.1f, Nr,
                                   C);
  cpu_be->batchnorm_backward (dinp, dw_ref, db_ref, dout, inp, w, mean, rstd, Nr, C);

  /* forward: both shards' moments around the running mean, added; statistics; normalised */
  d_sums = added (shard_sums (FALSE, NULL, NULL, NULL, d_inp, d_rm, NULL, 0, half, C),
                  shard_sums (FALSE, NULL, NULL, NULL, d_inp, d_rm, NULL, half, Nr, C), C);
  dev_be->batchnorm_stats (d_mean, d_rstd, d_rm, d_rv, d_sums, d_rm, 1e-5f, 0.1f, C);
  dev_be->batchnorm_normalize (d_out, d_inp, d_mean, d_rstd, d_w, d_b, Nr, C);
  dev_be->free (d_sums);
  check_close ("synchronised mean", d_mean, mean, C, TOL);
  check_close ("synchronised rstd", d_rstd, rstd, C, TOL);
  check_close ("synchronised running_mean", d_rm, rm_ref, C, TOL);
  check_close ("synchronised running_var", d_rv, rv_ref, C, TOL);
  check_close ("synchronised out", d_out, out, NC, TOL);

  /* backward: both shards' sums (each adding its part of dweight and dbias), added; dinp */
  dev_be->upload (d_mean, mean, C * sizeof (float));
  dev_be->upload (d_rstd, rstd, C * sizeof (float));
  d_sums = added (shard_sums (TRUE, d_dw, d_db, d_dout, d_inp, d_mean, d_rstd, 0, half, C),
                  shard_sums (TRUE, d_dw, d_db, d_dout, d_inp, d_mean, d_rstd, half, Nr, C), C);
  dev_be->batchnorm_backward_dinp (d_dinp, d_dout, d_inp, d_w, d_mean, d_rstd, d_sums, half,
                                   C);
  dev_be->batchnorm_backward_dinp (d_dinp + (size_t) half * C, d_dout + (size_t) half * C,
                                   d_inp + (size_t) half * C, d_w, d_mean, d_rstd, d_sums,
                                   Nr - half, C);
  dev_be->free (d_sums);
  check_close ("synchronised dinp", d_dinp, dinp, NC, TOL);
  check_close ("synchronised dweight (+=)", d_dw, dw_ref, C, TOL);
  check_close ("synchronised dbias (+=)", d_db, db_ref, C, TOL);
  assert_no_device_error ();
  for (float **p = (float *[]) { d_inp, d_w, d_b, d_rm, d_rv, d_out, d_mean, d_rstd, d_dout,
                                 d_dinp, d_dw, d_db, NULL }; *p != NULL; p++)
    dev_be->free (*p);
}

VG_TEST ("/cuda/dist/batchnorm-shards", test_batchnorm_shards)
{
  run_shards (517, 19, 0.0f);
  run_shards (8 * 64, 128, 0.0f);   /* visage-s's D at the last stage, batch 8 at 256 */
  run_shards (20000, 48, 5.0f);     /* many rows, a mean far from zero */
}

/* ---- the whole path under mpirun -------------------------------------------------------- */

static void
run (const char *const *argv, int *status, char **err)
{
  g_autoptr (GError) error = NULL;
  int wait_status = 0;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                NULL, NULL, NULL, err, &wait_status, &error);
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait_status));
  *status = WEXITSTATUS (wait_status);
  if (*status != 0)
    g_test_message ("exit %d: %s", *status, *err);
}

#define SMALL "widths=8,16,32,32 depths=1,1,1,1 heads=1,1,1,1 ratios=8,4,2,1 mlp=2 dim=32"

VG_TEST ("/cuda/dist/nccl-training", test_nccl_training)
{
  char err[256] = "";
  const char *cli = g_getenv ("VISAGE_CLI");
  g_autofree char *mpirun = g_find_program_in_path ("mpirun");
  g_autofree char *root = NULL, *train = NULL, *val = NULL, *one = NULL, *many = NULL;
  g_autofree char *np = NULL, *a = NULL, *b = NULL, *probe = vg_test_shared_path ("celebamask");
  int gpus = vg_cuda_device_count (err, sizeof err), status;

  if (self_check || !VG_HAVE_NCCL || mpirun == NULL || cli == NULL || probe == NULL)
    {
      g_test_skip ("needs a GPU, NCCL, mpirun, visage-cli and ../shared");
      return;
    }
  root = g_dir_make_tmp ("visage-cuda-dist-XXXXXX", NULL);
  train = g_build_filename (root, "train", NULL);
  val = g_build_filename (root, "val", NULL);
  g_assert_true (vg_test_link_split (train, "train", 0, 16));
  g_assert_true (vg_test_link_split (val, "val", 0, 4));
  one = g_build_filename (root, "one", NULL);
  many = g_build_filename (root, "many", NULL);
  np = g_strdup_printf ("%d", MIN (gpus, 2));
  {
    const char *single[] = { cli, "train", "--device", "cuda", "--train", train, "--val", val,
                             "--out", one, "--spec", SMALL, "--resolution", "64", "--batch",
                             "8", "--epochs", "2", "--optimizer", "sgd", "--sgd-lr", "0.05",
                             "--patience", "0", NULL };
    const char *dist[] = { mpirun, "--oversubscribe", "-np", np, cli, "train", "--distributed",
                           "--device", "cuda", "--train", train, "--val", val, "--out", many,
                           "--spec", SMALL, "--resolution", "64", "--batch", "8", "--epochs",
                           "2", "--optimizer", "sgd", "--sgd-lr", "0.05", "--patience", "0",
                           NULL };
    g_autofree char *e1 = NULL, *e2 = NULL;

    run (single, &status, &e1);
    g_assert_cmpint (status, ==, 0);
    run (dist, &status, &e2);
    g_assert_cmpint (status, ==, 0);
  }
  /* the weights as the CPU's dist suite bounds them (tests/dist/test-dist.c) */
  a = g_build_filename (one, "last.safetensors", NULL);
  b = g_build_filename (many, "last.safetensors", NULL);
  vg_test_assert_close_tensors (a, b, 1e-5, 1e-5);
  vg_test_rm_rf (root);
}

int
main (int argc, char *argv[])
{
  int status;

  if ((status = cuda_test_init (&argc, &argv)) != 0)
    return status;
  rng = g_rand_new_with_seed (21);
  g_setenv ("OMPI_MCA_btl", "self,vader", FALSE);
  g_setenv ("OMPI_ALLOW_RUN_AS_ROOT", "1", FALSE);
  g_setenv ("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", FALSE);
  status = g_test_run ();
  g_rand_free (rng);
  return status;
}
