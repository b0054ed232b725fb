/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The loader on a split of 8 real samples (symlinks into ../shared, never copies): every
 * sample once per epoch, a deterministic order and bytes whatever the worker count,
 * evaluation mode, cancelling mid-epoch, a corrupt file found late, and ring misuse. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "vg-classes.h"
#include "vg-loader.h"
#include "test-common.h"
#include "data-test-util.h"
#include "test-register.h"

#define N_REAL 8

/* A split folder of symlinks to the first N_REAL samples of the val split, without its
 * masks folder unless with_masks. NULL (skipped) without ../shared. */
static char *
make_real_split (gboolean with_masks)
{
  g_auto (GStrv) names = val_names (N_REAL);
  char *root;

  if (names == NULL)
    return NULL;
  root = tmp_dir_new ();
  g_assert_true (vg_test_link_split_names (root, "val", (const char *const *) names));
  if (!with_masks)
    {
      g_autofree char *masks = g_build_filename (root, "masks", NULL);
      vg_test_rm_rf (masks);
    }
  return root;
}

static VgSplit *
open_split (const char *root)
{
  GError *error = NULL;
  VgSplit *split = vg_split_open (root, VG_SPLIT_DEFAULT, 2, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (split->n_samples, ==, N_REAL);
  return split;
}

/* The fixture of the tests on real samples: the split of make_real_split(), with its
 * masks where the test data says so, opened. Both NULL (skipped) without ../shared. */
typedef struct {
  char *root;
  VgSplit *split;
} RealSplit;

static void
real_split_set_up (RealSplit *f, gconstpointer with_masks)
{
  f->root = make_real_split (GPOINTER_TO_INT (with_masks));
  f->split = f->root != NULL ? open_split (f->root) : NULL;
}

static void
real_split_tear_down (RealSplit *f, gconstpointer data)
{
  g_clear_pointer (&f->split, vg_split_free);
  if (f->root != NULL)
    vg_test_rm_rf (f->root);
  g_free (f->root);
}

static void
add_real_split_test (const char *path, gboolean with_masks,
                     void (*test) (RealSplit *f, gconstpointer data))
{
  g_test_add (path, RealSplit, GINT_TO_POINTER (with_masks), real_split_set_up, test,
              real_split_tear_down);
}

typedef struct {
  int order[2][N_REAL];   /* sample index of each row, per epoch */
  char *digest[2];        /* SHA-256 of the epoch's images, masks and indices */
} EpochRecord;

static void
epoch_record_clear (EpochRecord *r)
{
  g_free (r->digest[0]);
  g_free (r->digest[1]);
}

/* Run two epochs, checking batch structure; optionally compare each row with a direct
 * vg_augment_sample() of its sample. */
static void
run_two_epochs (EpochRecord *rec, const VgSplit *split, const VgLoaderParams *params,
                gboolean check_rows)
{
  g_autoptr (VgLoader) loader = NULL;
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();
  VgImage image = { 0 }, mask = { 0 };
  GError *error = NULL;
  int H, W;
  double wait_sum = 0.0;

  loader = vg_loader_new (split, params, &error);
  g_assert_no_error (error);
  vg_loader_batch_shape (loader, &H, &W);
  g_assert_cmpint (vg_loader_n_batches (loader), ==, 3);
  for (int epoch = 0; epoch < 2; epoch++)
    {
      g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
      const VgBatch *batch;
      int seen[N_REAL] = { 0 }, rows = 0, number = 0;
      size_t pixels = (size_t) H * W;
      g_autofree float *expect = g_new (float, pixels * 3);
      g_autofree uint8_t *expect_mask = g_new (uint8_t, pixels);

      vg_loader_start_epoch (loader, epoch);
      while ((batch = vg_loader_next (loader, &error)) != NULL)
        {
          g_assert_cmpint (batch->epoch, ==, epoch);
          g_assert_cmpint (batch->number, ==, number++);
          /* 8 samples in batches of 3: 3, 3, 2 (no drop_last). */
          g_assert_cmpint (batch->n, ==, batch->number < 2 ? 3 : 2);
          g_assert_cmpint (batch->height, ==, H);
          g_assert_cmpint (batch->width, ==, W);
          g_assert_cmpfloat (batch->wait_s, >=, 0.0);
          wait_sum += batch->wait_s;
          for (int r = 0; r < batch->n; r++)
            {
              int index = batch->indices[r];
              g_assert_cmpint (index, >=, 0);
              g_assert_cmpint (index, <, N_REAL);
              seen[index]++;
              rec->order[epoch][rows++] = index;
              for (size_t k = 0; k < pixels; k++)
                g_assert_cmpint (batch->masks[r * pixels + k], <, VG_NUM_CLASSES);
              if (check_rows)
                {
                  g_assert_true (vg_split_load_sample (split, index, &image, &mask, &error));
                  vg_augment_sample (expect, expect_mask, image.data, mask.data, &params->aug,
                                     vg_sample_seed (params->seed, epoch, index), scratch,
                                     image.height, image.width);
                  g_assert_cmpmem (batch->images + r * pixels * 3, pixels * 3 * sizeof (float),
                                   expect, pixels * 3 * sizeof (float));
                  g_assert_cmpmem (batch->masks + r * pixels, pixels, expect_mask, pixels);
                }
            }
          g_checksum_update (sum, (const guchar *) batch->images,
                             batch->n * pixels * 3 * sizeof (float));
          g_checksum_update (sum, batch->masks, batch->n * pixels);
          g_checksum_update (sum, (const guchar *) batch->indices, batch->n * sizeof (int));
          vg_loader_release (loader, batch);
        }
      g_assert_no_error (error);
      g_assert_cmpint (rows, ==, N_REAL);
      for (int i = 0; i < N_REAL; i++)
        g_assert_cmpint (seen[i], ==, 1);
      rec->digest[epoch] = g_strdup (g_checksum_get_string (sum));
      /* At the end of the epoch the loader keeps answering NULL without error. */
      g_assert_null (vg_loader_next (loader, &error));
      g_assert_no_error (error);
    }
  /* The loader's total is the sum of the per-batch waits (same microsecond counts). */
  g_assert_cmpfloat_with_epsilon (vg_loader_wait_seconds (loader), wait_sum, 1e-6);
  vg_image_clear (&image);
  vg_image_clear (&mask);
}

static void
test_epochs (RealSplit *f, gconstpointer data)
{
  VgSplit *split = f->split;
  EpochRecord a = { 0 }, b = { 0 }, c = { 0 };
  VgLoaderParams params;

  if (split == NULL)
    return;
  vg_loader_params_init (&params, TRUE);
  params.batch_size = 3;
  params.n_workers = 2;
  params.drop_last = FALSE;
  params.seed = 11;
  params.aug.out_height = params.aug.out_width = 256;
  params.aug.hflip = TRUE;
  run_two_epochs (&a, split, &params, TRUE);
  /* The shuffle changes between epochs (for this seed; fixed, so not flaky). */
  g_assert_true (memcmp (a.order[0], a.order[1], sizeof a.order[0]) != 0);

  /* Same seed, one worker and another ring size: identical orders and bytes. */
  params.n_workers = 1;
  params.n_buffers = 2;
  run_two_epochs (&b, split, &params, FALSE);
  g_assert_cmpmem (a.order, sizeof a.order, b.order, sizeof b.order);
  g_assert_cmpstr (a.digest[0], ==, b.digest[0]);
  g_assert_cmpstr (a.digest[1], ==, b.digest[1]);

  /* Another seed: another order. */
  params.seed = 12;
  run_two_epochs (&c, split, &params, FALSE);
  g_assert_true (memcmp (a.order[0], c.order[0], sizeof a.order[0]) != 0);
  g_assert_cmpstr (a.digest[0], !=, c.digest[0]);
  epoch_record_clear (&a);
  epoch_record_clear (&b);
  epoch_record_clear (&c);
}

/* Repeats: each sample comes as often as asked in every epoch, each copy augmented apart
 * (copy c of sample i as sample i + c N would be), the epoch's length follows; repeats of
 * one each give the batches of no repeats byte for byte; a bad count is refused. */
static void
test_repeats (RealSplit *f, gconstpointer data)
{
  static const int repeats[N_REAL] = { 0, 2, 1, 3, 1, 0, 1, 1 };  /* 9 */
  static const int ones[N_REAL] = { 1, 1, 1, 1, 1, 1, 1, 1 };
  VgSplit *split = f->split;
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();
  EpochRecord plain = { 0 }, once = { 0 };
  VgImage image = { 0 }, mask = { 0 };
  VgLoaderParams params;
  GError *error = NULL;

  if (split == NULL)
    return;
  vg_loader_params_init (&params, TRUE);
  params.batch_size = 3;
  params.drop_last = FALSE;
  params.seed = 5;
  params.aug.out_height = params.aug.out_width = 64;
  params.aug.hflip = TRUE;
  run_two_epochs (&plain, split, &params, FALSE);
  params.repeats = ones;
  run_two_epochs (&once, split, &params, FALSE);
  g_assert_cmpmem (plain.order, sizeof plain.order, once.order, sizeof once.order);
  g_assert_cmpstr (plain.digest[0], ==, once.digest[0]);
  g_assert_cmpstr (plain.digest[1], ==, once.digest[1]);

  params.repeats = repeats;
  {
    g_autoptr (VgLoader) loader = vg_loader_new (split, &params, &error);
    const size_t pixels = 64 * 64;
    g_autofree float *expect = g_new (float, pixels * 3);
    g_autofree uint8_t *expect_mask = g_new (uint8_t, pixels);
    const VgBatch *batch;
    int seen[N_REAL] = { 0 }, rows = 0;
    g_autoptr (GHashTable) drawn = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                          NULL);

    g_assert_no_error (error);
    g_assert_cmpint (vg_loader_n_batches (loader), ==, 3);   /* 9 in batches of 3 */
    vg_loader_start_epoch (loader, 1);
    while ((batch = vg_loader_next (loader, &error)) != NULL)
      {
        for (int r = 0; r < batch->n; r++)
          {
            int index = batch->indices[r];
            gboolean matched = FALSE;

            seen[index]++;
            rows++;
            /* the row is one of the sample's copies, each drawn as its own sample */
            g_assert_true (vg_split_load_sample (split, index, &image, &mask, &error));
            for (int c = 0; c < repeats[index] && !matched; c++)
              {
                vg_augment_sample (expect, expect_mask, image.data, mask.data, &params.aug,
                                   vg_sample_seed (params.seed, 1, index + c * N_REAL),
                                   scratch, image.height, image.width);
                matched = memcmp (batch->images + r * pixels * 3, expect,
                                  pixels * 3 * sizeof (float)) == 0
                          && memcmp (batch->masks + r * pixels, expect_mask, pixels) == 0;
              }
            g_assert_true (matched);
            /* and no two copies alike */
            g_assert_true (g_hash_table_add (drawn, g_compute_checksum_for_data (
                             G_CHECKSUM_SHA256, (const guchar *) (batch->images + r * pixels * 3),
                             pixels * 3 * sizeof (float))));
          }
        vg_loader_release (loader, batch);
      }
    g_assert_no_error (error);
    g_assert_cmpint (rows, ==, 9);
    for (int i = 0; i < N_REAL; i++)
      g_assert_cmpint (seen[i], ==, repeats[i]);
  }

  {
    int bad[N_REAL] = { 1, 1, 1, -1, 1, 1, 1, 1 };
    int none[N_REAL] = { 0 };

    params.repeats = bad;
    g_assert_null (vg_loader_new (split, &params, &error));
    g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID);
    g_clear_error (&error);
    params.repeats = none;
    g_assert_null (vg_loader_new (split, &params, &error));
    g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_EMPTY);
    g_clear_error (&error);
  }
  vg_image_clear (&image);
  vg_image_clear (&mask);
  epoch_record_clear (&plain);
  epoch_record_clear (&once);
}

static void
test_eval_mode (RealSplit *f, gconstpointer data)
{
  VgSplit *split = f->split;
  g_autoptr (VgLoader) loader = NULL;
  const double mean[3] = { 0.52, 0.42, 0.36 }, std[3] = { 0.30, 0.27, 0.27 };
  VgLoaderParams params;
  VgImage image = { 0 }, mask = { 0 };
  const VgBatch *batch;
  GError *error = NULL;
  const size_t pixels = 512 * 512;
  int next_index = 0;

  if (split == NULL)
    return;
  vg_loader_params_init (&params, FALSE);
  params.batch_size = 3;
  vg_augment_params_set_whitening (&params.aug, mean, std);
  loader = vg_loader_new (split, &params, &error);
  g_assert_no_error (error);
  vg_loader_start_epoch (loader, 0);
  while ((batch = vg_loader_next (loader, &error)) != NULL)
    {
      /* Full images, fixed order, no augmentation: whitened pixels and the file's mask. */
      g_assert_cmpint (batch->height, ==, 512);
      for (int r = 0; r < batch->n; r++)
        {
          const float *x = batch->images + r * pixels * 3;
          g_assert_cmpint (batch->indices[r], ==, next_index);
          g_assert_true (vg_split_load_sample (split, next_index, &image, &mask, &error));
          g_assert_cmpmem (batch->masks + r * pixels, pixels, mask.data, pixels);
          for (size_t k = 0; k < pixels * 3; k += 997)
            g_assert_cmpfloat_with_epsilon (x[k], (image.data[k] / 255.0 - mean[k % 3])
                                                    / std[k % 3], 1e-5);
          next_index++;
        }
      vg_loader_release (loader, batch);
    }
  g_assert_no_error (error);
  g_assert_cmpint (next_index, ==, N_REAL);
  vg_image_clear (&image);
  vg_image_clear (&mask);
}

/* Starts epoch and takes its batches to the end or to an error (in *error); the rows. */
static int
epoch_rows (VgLoader *loader, int epoch, GError **error)
{
  const VgBatch *batch;
  int rows = 0;

  vg_loader_start_epoch (loader, epoch);
  while ((batch = vg_loader_next (loader, error)) != NULL)
    {
      rows += batch->n;
      vg_loader_release (loader, batch);
    }
  return rows;
}

static gpointer
cancel_soon (gpointer data)
{
  g_usleep (2000);
  vg_loader_cancel (data);
  return NULL;
}

static void
test_cancel (RealSplit *f, gconstpointer data)
{
  VgSplit *split = f->split;
  VgLoader *loader;
  VgLoaderParams params;
  const VgBatch *batch;
  GError *error = NULL;
  GThread *thread;

  if (split == NULL)
    return;
  vg_loader_params_init (&params, TRUE);
  params.batch_size = 3;
  params.drop_last = FALSE;
  loader = vg_loader_new (split, &params, &error);
  g_assert_no_error (error);

  /* Cancel with a batch held and workers busy: the next call says so. */
  vg_loader_start_epoch (loader, 0);
  batch = vg_loader_next (loader, &error);
  g_assert_nonnull (batch);
  vg_loader_cancel (loader);
  g_assert_null (vg_loader_next (loader, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  /* Releasing after cancel is harmless. */
  vg_loader_release (loader, batch);

  /* A new epoch after a cancel runs in full. */
  g_assert_cmpint (epoch_rows (loader, 1, &error), ==, N_REAL);
  g_assert_no_error (error);

  /* Restarting mid-epoch while holding a batch reclaims it. */
  vg_loader_start_epoch (loader, 2);
  g_assert_nonnull (vg_loader_next (loader, &error));
  g_assert_cmpint (epoch_rows (loader, 2, &error), ==, N_REAL);

  /* Cancel from another thread while this one waits: returns, never hangs. */
  vg_loader_start_epoch (loader, 3);
  thread = g_thread_new ("cancel", cancel_soon, loader);
  while ((batch = vg_loader_next (loader, &error)) != NULL)
    vg_loader_release (loader, batch);
  g_thread_join (thread);
  if (error != NULL)
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* Free while the workers are mid-sample. */
  vg_loader_start_epoch (loader, 4);
  vg_loader_free (loader);
}

static void
test_late_error (RealSplit *f, gconstpointer data)
{
  VgSplit *split = f->split;
  g_autoptr (VgLoader) loader = NULL;
  g_autofree char *victim = NULL;
  g_autofree char *target = NULL;
  VgLoaderParams params;
  GError *error = NULL;
  int rows = 0;

  if (split == NULL)
    return;
  /* After opening (headers were fine), sample 5's image becomes a truncated file. */
  victim = g_strdup (split->samples[5].image_path);
  target = g_file_read_link (victim, NULL);
  g_assert_nonnull (target);
  g_assert_cmpint (g_unlink (victim), ==, 0);
  write_truncated_copy (victim, target, 20000);

  vg_loader_params_init (&params, FALSE);
  params.batch_size = 2;
  params.aug.out_height = params.aug.out_width = 128;
  loader = vg_loader_new (split, &params, &error);
  g_assert_no_error (error);
  for (int round = 0; round < 2; round++)
    {
      rows += epoch_rows (loader, round, &error);
      /* Batches before the bad sample arrive; then the error, naming the file. */
      g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_CORRUPT);
      g_assert_true (str_contains (error->message, victim));
      g_clear_error (&error);
      g_assert_null (vg_loader_next (loader, &error));
      g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_CORRUPT);
      g_clear_error (&error);
    }
  g_assert_cmpint (rows, <=, 2 * 4);
}

static void
test_ring_and_params (RealSplit *f, gconstpointer data)
{
  VgSplit *split = f->split;
  g_autoptr (VgLoader) loader = NULL;
  VgLoaderParams params;
  const VgBatch *b1, *b2, *b3;
  GError *error = NULL;

  if (split == NULL)
    return;
  g_assert_false (vg_split_has_masks (split));
  vg_loader_params_init (&params, TRUE);
  params.batch_size = 2;
  params.n_workers = 1;
  params.n_buffers = 2;
  params.aug.out_height = params.aug.out_width = 64;

  /* Asking before an epoch started is a usage error, not a hang. */
  loader = vg_loader_new (split, &params, &error);
  g_assert_no_error (error);
  g_assert_null (vg_loader_next (loader, &error));
  g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID);
  g_clear_error (&error);

  vg_loader_start_epoch (loader, 0);
  b1 = vg_loader_next (loader, &error);
  b2 = vg_loader_next (loader, &error);
  g_assert_nonnull (b1);
  g_assert_nonnull (b2);
  /* A prediction split: no masks. */
  g_assert_null (b1->masks);
  /* Both slots held: the third request fails instead of deadlocking. */
  g_assert_null (vg_loader_next (loader, &error));
  g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID);
  g_clear_error (&error);
  vg_loader_release (loader, b1);
  b3 = vg_loader_next (loader, &error);
  g_assert_no_error (error);
  g_assert_nonnull (b3);
  g_assert_cmpint (b3->number, ==, 2);
  vg_loader_release (loader, b2);
  vg_loader_release (loader, b3);
  g_clear_pointer (&loader, vg_loader_free);

  /* drop_last with fewer samples than a batch is refused up front. */
  params.batch_size = 16;
  loader = vg_loader_new (split, &params, &error);
  g_assert_null (loader);
  g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_EMPTY);
  g_clear_error (&error);
}

VG_TEST ("/data/loader/native-size-mismatch", test_native_size_mismatch)
{
  g_autofree char *root = tmp_dir_new ();
  g_autofree char *images = make_subdir (root, "images");
  g_autofree char *a = g_build_filename (images, "a.jpg", NULL);
  g_autofree char *b = g_build_filename (images, "b.jpg", NULL);
  g_autofree uint8_t *rgb = synthetic_rgb (16, 16, 0);
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgLoader) loader = NULL;
  VgLoaderParams params;
  const VgBatch *batch;
  GError *error = NULL;

  write_jpeg (a, rgb, 8, 8, 90);
  write_jpeg (b, rgb, 16, 16, 90);
  split = vg_split_open (root, VG_SPLIT_DEFAULT, 1, NULL, &error);
  g_assert_no_error (error);
  vg_loader_params_init (&params, FALSE);
  params.batch_size = 2;
  loader = vg_loader_new (split, &params, &error);
  g_assert_null (loader);
  g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_SIZE);
  g_assert_true (str_contains (error->message, b));
  g_clear_error (&error);

  /* With a resolution both fit. */
  params.aug.out_height = params.aug.out_width = 12;
  loader = vg_loader_new (split, &params, &error);
  g_assert_no_error (error);
  vg_loader_start_epoch (loader, 0);
  batch = vg_loader_next (loader, &error);
  g_assert_nonnull (batch);
  g_assert_cmpint (batch->n, ==, 2);
  g_assert_cmpint (batch->width, ==, 12);
  vg_loader_release (loader, batch);
  g_assert_null (vg_loader_next (loader, &error));
  g_assert_no_error (error);
  vg_test_rm_rf (root);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  add_real_split_test ("/data/loader/epochs", TRUE, test_epochs);
  add_real_split_test ("/data/loader/repeats", TRUE, test_repeats);
  add_real_split_test ("/data/loader/eval-mode", TRUE, test_eval_mode);
  add_real_split_test ("/data/loader/cancel", TRUE, test_cancel);
  add_real_split_test ("/data/loader/late-error", TRUE, test_late_error);
  add_real_split_test ("/data/loader/ring-and-params", FALSE, test_ring_and_params);
  vg_test_add_registered ();
  return g_test_run ();
}
