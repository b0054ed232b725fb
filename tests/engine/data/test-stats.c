/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Split statistics against hand-computed values, the cache (reused, invalidated by a
 * changed file, robust to a corrupt cache file), and the report's class weights. */
#include "config.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "vg-stats.h"
#include "test-common.h"
#include "data-test-util.h"
#include "test-register.h"

/* Two samples of two pixels each (values / 255 in the comments):
 *   "0" is 1 x 2: (0, 0, 0) (255, 255, 255), mask [0, 1]
 *   "1" is 2 x 1: (51, 102, 153) twice,       mask [1, 18]
 * R: 0, 1, .2, .2 -> mean .35, E[x^2] .27, var .1475, std .384057287
 * G: 0, 1, .4, .4 -> mean .45, E[x^2] .33, var .1275, std .357071421
 * B: 0, 1, .6, .6 -> mean .55, E[x^2] .43, var .1275, std .357071421 */
static char *
make_tiny_split (void)
{
  char *root = tmp_dir_new ();
  g_autofree char *images = make_subdir (root, "images");
  g_autofree char *masks = make_subdir (root, "masks");
  g_autofree char *i0 = g_build_filename (images, "0.png", NULL);
  g_autofree char *i1 = g_build_filename (images, "1.png", NULL);
  g_autofree char *m0 = g_build_filename (masks, "0.png", NULL);
  g_autofree char *m1 = g_build_filename (masks, "1.png", NULL);
  const uint8_t rgb0[6] = { 0, 0, 0, 255, 255, 255 };
  const uint8_t rgb1[6] = { 51, 102, 153, 51, 102, 153 };
  const uint8_t mask0[2] = { 0, 1 };
  const uint8_t mask1[2] = { 1, 18 };
  GError *error = NULL;

  g_assert_true (vg_image_save_png (i0, rgb0, 1, 2, &error));
  g_assert_true (vg_image_save_png (i1, rgb1, 2, 1, &error));
  g_assert_true (vg_mask_save (m0, mask0, 1, 2, &error));
  g_assert_true (vg_mask_save (m1, mask1, 2, 1, &error));
  g_assert_no_error (error);
  return root;
}

static void
assert_tiny_stats (const VgSplitStats *st, int last_class)
{
  const double mean[3] = { 0.35, 0.45, 0.55 };
  const double std[3] = { 0.384057287, 0.357071421, 0.357071421 };

  g_assert_cmpint (st->n_images, ==, 2);
  g_assert_cmpuint (st->n_pixels, ==, 4);
  g_assert_true (st->has_masks);
  for (int c = 0; c < 3; c++)
    {
      /* Exact integer sums; the doubles derived from them to 1e-9. */
      g_assert_cmpfloat_with_epsilon (st->mean[c], mean[c], 1e-9);
      g_assert_cmpfloat_with_epsilon (st->std[c], std[c], 1e-9);
    }
  g_assert_cmpuint (st->channel_sum[0], ==, 0 + 255 + 51 + 51);
  g_assert_cmpuint (st->channel_sum_sq[2], ==, 255 * 255 + 2 * 153 * 153);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      uint64_t pixels = c == 0 ? 1 : c == 1 ? 2 : c == last_class ? 1 : 0;
      int images = c == 1 ? 2 : (c == 0 || c == last_class) ? 1 : 0;
      g_assert_cmpuint (st->class_pixels[c], ==, pixels);
      g_assert_cmpint (st->class_images[c], ==, images);
    }
}

VG_TEST ("/data/stats/tiny-split", test_tiny_split)
{
  g_autofree char *root = make_tiny_split ();
  g_autoptr (VgSplit) split = vg_split_open (root, VG_SPLIT_VERIFY, 2, NULL, NULL);
  VgSplitStats st1, st2;
  GError *error = NULL;

  g_assert_nonnull (split);
  g_assert_true (vg_split_stats_compute (&st1, split, 1, NULL, &error));
  g_assert_no_error (error);
  assert_tiny_stats (&st1, VG_CLASS_CLOTH);
  /* The thread count changes nothing, to the bit. */
  g_assert_true (vg_split_stats_compute (&st2, split, 2, NULL, &error));
  g_assert_cmpmem (&st1, sizeof st1, &st2, sizeof st2);
  vg_test_rm_rf (root);
}

/* Sample 1's mask becomes [1, 17] (neck for cloth), with an mtime surely different from
 * the first. */
static void
change_mask_1 (const char *root)
{
  g_autofree char *m1 = g_build_filename (root, "masks", "1.png", NULL);
  const uint8_t mask1[2] = { 1, 17 };
  GError *error = NULL;
  struct utimbuf times;

  g_assert_true (vg_mask_save (m1, mask1, 2, 1, &error));
  g_assert_no_error (error);
  times.actime = times.modtime = time (NULL) + 100;
  g_assert_cmpint (g_utime (m1, &times), ==, 0);
}

VG_TEST ("/data/stats/cache", test_cache)
{
  g_autofree char *root = make_tiny_split ();
  g_autoptr (VgSplit) split = vg_split_open (root, VG_SPLIT_DEFAULT, 2, NULL, NULL);
  g_autofree char *cache = NULL;
  g_autofree char *fingerprint = NULL;
  g_autofree char *fingerprint2 = NULL;
  VgSplitStats st, cached;
  gboolean from_cache = TRUE;
  GError *error = NULL;

  g_assert_nonnull (split);
  cache = vg_split_stats_cache_path (split);
  /* Under the user's cache folder (a private one here, set up by main()). */
  g_assert_true (g_str_has_prefix (cache, g_get_user_cache_dir ()));
  g_assert_false (g_file_test (cache, G_FILE_TEST_EXISTS));

  g_assert_true (vg_split_stats_get (&st, split, 2, &from_cache, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (from_cache);
  assert_tiny_stats (&st, VG_CLASS_CLOTH);
  g_assert_true (g_file_test (cache, G_FILE_TEST_IS_REGULAR));

  g_assert_true (vg_split_stats_get (&cached, split, 2, &from_cache, NULL, &error));
  g_assert_true (from_cache);
  g_assert_cmpmem (&cached, sizeof cached, &st, sizeof st);

  /* Change a mask: new content, and an mtime surely different from the first. */
  fingerprint = vg_split_fingerprint (split, &error);
  change_mask_1 (root);
  fingerprint2 = vg_split_fingerprint (split, &error);
  g_assert_cmpstr (fingerprint, !=, fingerprint2);
  g_assert_true (vg_split_stats_get (&st, split, 2, &from_cache, NULL, &error));
  g_assert_false (from_cache);
  assert_tiny_stats (&st, VG_CLASS_NECK);
  g_assert_true (vg_split_stats_get (&cached, split, 2, &from_cache, NULL, &error));
  g_assert_true (from_cache);
  assert_tiny_stats (&cached, VG_CLASS_NECK);

  /* A damaged cache file only means computing again. */
  write_bytes (cache, "{\"version\": 1, \"fingerprint\": [", 31);
  g_assert_true (vg_split_stats_get (&cached, split, 2, &from_cache, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (from_cache);
  assert_tiny_stats (&cached, VG_CLASS_NECK);
  g_assert_true (vg_split_stats_get (&cached, split, 2, &from_cache, NULL, &error));
  g_assert_true (from_cache);
  vg_test_rm_rf (root);
}

/* A split without masks: its cache holds "masks_dir": null, which reads back without a
 * GLib critical (fatal here) -- found by tests/fuzz (fuzz_split_cache). */
VG_TEST ("/data/stats/cache-no-masks", test_cache_no_masks)
{
  g_autofree char *root = make_tiny_split ();
  g_autofree char *masks = g_build_filename (root, "masks", NULL);
  g_autoptr (VgSplit) split = NULL;
  VgSplitStats st, cached;
  gboolean from_cache = TRUE;
  GError *error = NULL;

  vg_test_rm_rf (masks);
  split = vg_split_open (root, VG_SPLIT_DEFAULT, 2, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (split->masks_dir);
  g_assert_true (vg_split_stats_get (&st, split, 2, &from_cache, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (from_cache);
  g_assert_false (st.has_masks);
  g_assert_true (vg_split_stats_get (&cached, split, 2, &from_cache, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (from_cache);
  g_assert_cmpmem (&cached, sizeof cached, &st, sizeof st);
  vg_test_rm_rf (root);
}

/* The classes of each mask: scanned once, then read back from the cache until a mask
 * changes; a damaged cache file only means scanning again. */
VG_TEST ("/data/stats/classes-cache", test_classes_cache)
{
  g_autofree char *root = make_tiny_split ();
  g_autoptr (VgSplit) split = vg_split_open (root, VG_SPLIT_DEFAULT, 2, NULL, NULL);
  g_autofree char *cache = NULL;
  g_autofree char *stats_cache = NULL;
  const char *damaged = "{\"version\": 1, \"mask_classes\": [";
  const guint32 bits0 = 1u << 0 | 1u << 1;
  gboolean from_cache = TRUE;
  GError *error = NULL;

  g_assert_nonnull (split);
  cache = vg_split_classes_cache_path (split);
  g_assert_true (g_str_has_prefix (cache, g_get_user_cache_dir ()));
  stats_cache = vg_split_stats_cache_path (split);
  g_assert_cmpstr (cache, !=, stats_cache);
  g_assert_false (g_file_test (cache, G_FILE_TEST_EXISTS));

  g_assert_true (vg_split_classes_get (split, 2, &from_cache, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (from_cache);
  g_assert_cmphex (split->samples[0].mask_classes, ==, bits0);
  g_assert_cmphex (split->samples[1].mask_classes, ==, 1u << 1 | 1u << VG_CLASS_CLOTH);
  g_assert_true (g_file_test (cache, G_FILE_TEST_IS_REGULAR));

  split->samples[0].mask_classes = split->samples[1].mask_classes = 0;
  g_assert_true (vg_split_classes_get (split, 2, &from_cache, NULL, &error));
  g_assert_true (from_cache);
  g_assert_cmphex (split->samples[0].mask_classes, ==, bits0);
  g_assert_cmphex (split->samples[1].mask_classes, ==, 1u << 1 | 1u << VG_CLASS_CLOTH);

  /* a changed mask (new content and mtime): scanned again */
  change_mask_1 (root);
  g_assert_true (vg_split_classes_get (split, 2, &from_cache, NULL, &error));
  g_assert_false (from_cache);
  g_assert_cmphex (split->samples[1].mask_classes, ==, 1u << 1 | 1u << VG_CLASS_NECK);

  /* a damaged or foreign cache file: scanned again, then cached */
  write_bytes (cache, damaged, strlen (damaged));
  split->samples[1].mask_classes = 0;
  g_assert_true (vg_split_classes_get (split, 2, &from_cache, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (from_cache);
  g_assert_cmphex (split->samples[1].mask_classes, ==, 1u << 1 | 1u << VG_CLASS_NECK);
  g_assert_true (vg_split_classes_get (split, 2, &from_cache, NULL, &error));
  g_assert_true (from_cache);
  vg_test_rm_rf (root);
}

/* Eight real samples (symlinked): every pixel belongs to a class, means are plausible. */
VG_TEST ("/data/stats/real-samples", test_real_samples)
{
  g_auto (GStrv) names = val_names (8);
  g_autofree char *root = NULL;
  g_autoptr (VgSplit) split = NULL;
  VgSplitStats st;
  GError *error = NULL;
  uint64_t total = 0;

  if (names == NULL)
    return;
  root = tmp_dir_new ();
  g_assert_true (vg_test_link_split_names (root, "val", (const char *const *) names));
  split = vg_split_open (root, VG_SPLIT_REQUIRE_MASKS, 2, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (vg_split_stats_compute (&st, split, 2, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (st.n_pixels, ==, 8 * 512 * 512);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    total += st.class_pixels[c];
  g_assert_cmpuint (total, ==, st.n_pixels);
  g_assert_cmpint (st.class_images[VG_CLASS_SKIN], ==, 8);
  for (int c = 0; c < 3; c++)
    {
      g_assert_cmpfloat (st.mean[c], >, 0.1);
      g_assert_cmpfloat (st.mean[c], <, 0.9);
      g_assert_cmpfloat (st.std[c], >, 0.05);
      g_assert_cmpfloat (st.std[c], <, 0.5);
    }
  vg_test_rm_rf (root);
}

VG_TEST ("/data/stats/class-weights", test_class_weights)
{
  const uint64_t counts[5] = { 100, 10000, 0, 1, 2 };
  /* (1 / ln n) / sum, with n <= 1 taken as 2; values from Python's math.log. */
  const double expect[5] = { 0.046660140, 0.023330070, 0.310003263, 0.310003263,
                             0.310003263 };
  uint64_t real[VG_NUM_CLASSES];
  float w[VG_NUM_CLASSES];
  double sum = 0.0;

  vg_class_weights (w, counts, 5);
  for (int c = 0; c < 5; c++)
    {
      g_assert_cmpfloat_with_epsilon (w[c], expect[c], 1e-6);
      sum += w[c];
    }
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-6);

  /* On counts shaped like the training split, rarer classes weigh more, and the spread
   * stays mild (the reason for the logarithm): the largest weight is under twice the
   * smallest. */
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    real[c] = (uint64_t) (1e6 * pow (10.0, c % 5)) + c;
  vg_class_weights (w, real, VG_NUM_CLASSES);
  for (int c = 0; c + 1 < 5; c++)
    g_assert_cmpfloat (w[c], >, w[c + 1]);
  g_assert_cmpfloat (w[0] / w[4], <, 2.0);
}

int
main (int argc, char **argv)
{
  g_autofree char *cache_home = vg_test_private_xdg_dir ("XDG_CACHE_HOME",
                                                         "visage-data-XXXXXX");

  g_test_init (&argc, &argv, NULL);
  g_assert_cmpstr (g_get_user_cache_dir (), ==, cache_home);
  vg_test_add_registered ();
  return vg_test_run_removing (cache_home);
}
