/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Splits: natural order, image/mask matching, and each kind of bad sample giving an error
 * that names the file, or being skipped and reported under VG_SPLIT_SKIP_BAD. */
#include "config.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "vg-split.h"
#include "test-common.h"
#include "data-test-util.h"
#include "test-register.h"

VG_TEST ("/data/split/natural-order", test_natural_order)
{
  const char *sorted[] = {
    "", "0", "00", "01", "1", "2", "9", "10", "11", "99", "100", "998", "999", "1000",
    "12345678901234567890", "12345678901234567891", "a", "a1", "a2", "a10", "a10b", "a11",
    "b", "img2", "img10",
  };
  const int n = G_N_ELEMENTS (sorted);

  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      {
        int c = vg_natural_compare (sorted[i], sorted[j]);
        if (i < j)
          g_assert_cmpint (c, <, 0);
        else if (i > j)
          g_assert_cmpint (c, >, 0);
        else
          g_assert_cmpint (c, ==, 0);
      }
}

/* A good 8 x 8 sample: images/<name>.png (RGB) and masks/<name>.png. */
static void
add_good (const char *root, const char *name, int tag)
{
  g_autofree char *image = g_strdup_printf ("%s/images/%s.png", root, name);
  g_autofree char *mask = g_strdup_printf ("%s/masks/%s.png", root, name);
  g_autofree uint8_t *rgb = synthetic_rgb (8, 8, tag);
  g_autofree uint8_t *m = synthetic_mask (8, 8, tag);
  GError *error = NULL;

  g_assert_true (vg_image_save_png (image, rgb, 8, 8, &error));
  g_assert_true (vg_mask_save (mask, m, 8, 8, &error));
  g_assert_no_error (error);
}

static char *
new_split_dir (void)
{
  char *root = tmp_dir_new ();

  g_free (make_subdir (root, "images"));
  g_free (make_subdir (root, "masks"));
  return root;
}

typedef enum {
  BAD_TRUNCATED_JPEG,
  BAD_GARBAGE_JPEG,
  BAD_RGB_MASK,
  BAD_MASK_SIZE,
  BAD_MASK_VALUE,
  BAD_MISSING_MASK,
  N_BAD,
} BadKind;

static const char *const bad_names[N_BAD] = {
  "bad-truncated", "bad-garbage", "bad-rgb-mask", "bad-size", "bad-value", "bad-missing",
};

/* Write one bad sample; returns the path the error must name. */
static char *
add_bad (const char *root, BadKind kind)
{
  const char *name = bad_names[kind];
  g_autofree char *jpg = g_strdup_printf ("%s/images/%s.jpg", root, name);
  g_autofree char *png = g_strdup_printf ("%s/images/%s.png", root, name);
  g_autofree char *mask = g_strdup_printf ("%s/masks/%s.png", root, name);
  g_autofree char *full = g_strdup_printf ("%s/full.tmp", root);
  g_autofree uint8_t *rgb = synthetic_rgb (128, 128, 5);
  g_autofree uint8_t *m = synthetic_mask (128, 128, 5);
  const char garbage[] = "GIF89a? no: just bytes";
  GError *error = NULL;
  gsize size;
  char *data;

  switch (kind)
    {
    case BAD_TRUNCATED_JPEG:
      write_jpeg (full, rgb, 128, 128, 90);
      g_assert_true (g_file_get_contents (full, &data, &size, NULL));
      g_free (data);
      write_truncated_copy (jpg, full, size * 2 / 3);
      g_unlink (full);
      g_assert_true (vg_mask_save (mask, m, 128, 128, &error));
      return g_steal_pointer (&jpg);
    case BAD_GARBAGE_JPEG:
      write_bytes (jpg, garbage, sizeof garbage);
      g_assert_true (vg_mask_save (mask, m, 8, 8, &error));
      return g_steal_pointer (&jpg);
    case BAD_RGB_MASK:
      g_assert_true (vg_image_save_png (png, rgb, 8, 8, &error));
      g_assert_true (vg_image_save_png (mask, rgb, 8, 8, &error));
      return g_steal_pointer (&mask);
    case BAD_MASK_SIZE:
      g_assert_true (vg_image_save_png (png, rgb, 8, 8, &error));
      g_assert_true (vg_mask_save (mask, m, 8, 7, &error));
      return g_steal_pointer (&mask);
    case BAD_MASK_VALUE:
      /* Greyscale masks carry raw values; vg_mask_save() would refuse 19. */
      m[8 * 3 + 5] = 19;
      g_assert_true (vg_image_save_png (png, rgb, 8, 8, &error));
      write_png_raw (mask, m, 8, 8, PNG_COLOR_TYPE_GRAY, 8, 0);
      return g_steal_pointer (&mask);
    case BAD_MISSING_MASK:
    default:
      g_assert_true (vg_image_save_png (png, rgb, 8, 8, &error));
      return g_steal_pointer (&png);
    }
}

static void
assert_names (const VgSplit *split, const char *const *names, int n)
{
  g_assert_cmpint (split->n_samples, ==, n);
  for (int i = 0; i < n; i++)
    g_assert_cmpstr (split->samples[i].name, ==, names[i]);
}

VG_TEST ("/data/split/listing-order", test_listing_order)
{
  g_autofree char *root = new_split_dir ();
  g_autofree char *notes = g_build_filename (root, "images", "notes.txt", NULL);
  g_autofree char *hidden = g_build_filename (root, "images", ".hidden.png", NULL);
  g_autofree char *upper = g_build_filename (root, "images", "B.JPG", NULL);
  g_autofree char *upper_mask = g_build_filename (root, "masks", "B.png", NULL);
  g_autofree uint8_t *rgb = synthetic_rgb (8, 8, 0);
  g_autofree uint8_t *m = synthetic_mask (8, 8, 0);
  const int order[] = { 7, 11, 0, 3, 10, 1, 9, 2, 8, 5, 4, 6 };
  const char *expect[] = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11",
                           "B", "a" };
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgSplit) split2 = NULL;
  g_autofree char *images = g_build_filename (root, "images", NULL);
  g_autofree char *masks = g_build_filename (root, "masks", NULL);
  GError *error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (order); i++)
    {
      g_autofree char *name = g_strdup_printf ("%d", order[i]);
      add_good (root, name, order[i]);
    }
  add_good (root, "a", 1);
  write_jpeg (upper, rgb, 8, 8, 90);
  g_assert_true (vg_mask_save (upper_mask, m, 8, 8, &error));
  write_bytes (notes, "not an image", 12);
  write_bytes (hidden, "editor backup", 13);

  split = vg_split_open (root, VG_SPLIT_VERIFY, 2, NULL, &error);
  g_assert_no_error (error);
  assert_names (split, expect, G_N_ELEMENTS (expect));
  g_assert_cmpuint (split->skipped->len, ==, 0);
  g_assert_true (vg_split_has_masks (split));
  g_assert_true (g_path_is_absolute (split->samples[0].image_path));
  g_assert_true (g_str_has_suffix (split->samples[12].image_path, "/images/B.JPG"));
  g_assert_true (g_str_has_suffix (split->samples[12].mask_path, "/masks/B.png"));
  g_assert_cmpint (split->samples[3].height, ==, 8);
  g_assert_cmpint (split->samples[3].width, ==, 8);

  /* The same split named by its two folders. */
  split2 = vg_split_open_dirs (images, masks, VG_SPLIT_DEFAULT, 1, NULL, &error);
  g_assert_no_error (error);
  assert_names (split2, expect, G_N_ELEMENTS (expect));
  vg_test_rm_rf (root);
}

VG_TEST ("/data/split/real-split-order", test_real_split_order)
{
  g_autofree char *val = vg_test_shared_path ("celebamask/val");
  g_autoptr (VgSplit) split = NULL;
  GError *error = NULL;

  if (val == NULL)
    return;
  /* Header checks only: fast even for 800 samples. */
  split = vg_split_open (val, VG_SPLIT_REQUIRE_MASKS, 2, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (split->n_samples, ==, 800);
  for (int i = 1; i < split->n_samples; i++)
    g_assert_cmpint (atoi (split->samples[i - 1].name), <, atoi (split->samples[i].name));
  g_assert_cmpint (split->samples[0].height, ==, 512);
}

VG_TEST ("/data/split/bad-samples", test_bad_samples)
{
  for (int kind = 0; kind < N_BAD; kind++)
    {
      g_autofree char *root = new_split_dir ();
      g_autofree char *bad_path = NULL;
      g_autoptr (VgSplit) split = NULL;
      const char *good[] = { "0", "1", "2" };
      GError *error = NULL;
      gboolean header_visible = kind != BAD_TRUNCATED_JPEG && kind != BAD_MASK_VALUE;

      for (int i = 0; i < 3; i++)
        add_good (root, good[i], i);
      bad_path = add_bad (root, kind);
      g_test_message ("bad sample: %s", bad_names[kind]);

      /* Without skipping: an error naming the file. */
      split = vg_split_open (root, VG_SPLIT_VERIFY, 2, NULL, &error);
      g_assert_null (split);
      g_assert_nonnull (error);
      g_assert_true (error->domain == VG_DATA_ERROR);
      g_test_message ("%s", error->message);
      g_assert_true (str_contains (error->message, bad_path));
      g_clear_error (&error);

      /* Skipping: the good samples remain and the bad one is reported. */
      split = vg_split_open (root, VG_SPLIT_VERIFY | VG_SPLIT_SKIP_BAD, 2, NULL, &error);
      g_assert_no_error (error);
      assert_names (split, good, 3);
      g_assert_cmpuint (split->skipped->len, ==, 1);
      g_assert_true (str_contains (split->skipped->pdata[0], bad_path));
      g_clear_pointer (&split, vg_split_free);

      /* The cheap header checks find what headers show; the rest fails on loading. */
      split = vg_split_open (root, VG_SPLIT_DEFAULT, 1, NULL, &error);
      if (header_visible)
        {
          g_assert_null (split);
          g_assert_true (str_contains (error->message, bad_path));
          g_clear_error (&error);
        }
      else
        {
          VgImage image = { 0 }, mask = { 0 };
          int i;

          g_assert_no_error (error);
          g_assert_cmpint (split->n_samples, ==, 4);
          for (i = 0; i < 4 && !g_str_has_prefix (split->samples[i].name, "bad"); i++)
            ;
          g_assert_cmpint (i, <, 4);
          g_assert_false (vg_split_load_sample (split, i, &image, &mask, &error));
          g_assert_true (str_contains (error->message, bad_path));
          g_assert_cmpint (error->code, ==,
                           kind == BAD_MASK_VALUE ? VG_DATA_ERROR_VALUE
                                                  : VG_DATA_ERROR_CORRUPT);
          g_clear_error (&error);
          g_assert_true (vg_split_load_sample (split, 0, &image, &mask, &error));
          vg_image_clear (&image);
          vg_image_clear (&mask);
        }
      vg_test_rm_rf (root);
    }
}

VG_TEST ("/data/split/all-bad-at-once", test_all_bad_at_once)
{
  g_autofree char *root = new_split_dir ();
  g_autoptr (VgSplit) split = NULL;
  char *paths[N_BAD] = { 0 };
  const char *good[] = { "1", "2", "10" };
  GError *error = NULL;

  for (int i = 0; i < 3; i++)
    add_good (root, good[i], i);
  for (int kind = 0; kind < N_BAD; kind++)
    paths[kind] = add_bad (root, kind);
  split = vg_split_open (root, VG_SPLIT_VERIFY | VG_SPLIT_SKIP_BAD, 2, NULL, &error);
  g_assert_no_error (error);
  assert_names (split, good, 3);
  g_assert_cmpuint (split->skipped->len, ==, N_BAD);
  for (int kind = 0; kind < N_BAD; kind++)
    {
      gboolean found = FALSE;
      for (guint j = 0; j < split->skipped->len; j++)
        found |= str_contains (split->skipped->pdata[j], paths[kind]);
      g_assert_true (found);
      g_free (paths[kind]);
    }
  vg_test_rm_rf (root);
}

/* Entries named like images that are not regular files (a folder, a FIFO, a device, a
 * broken link) used to vanish from the split without a word (the image count fell). Each
 * is a bad sample now: an error naming it, or under VG_SPLIT_SKIP_BAD a notice naming it,
 * at header-check speed (never blocked on the FIFO); a FIFO as a mask too. */
VG_TEST ("/data/split/not-regular-entries", test_not_regular_entries)
{
  g_autofree char *root = new_split_dir ();
  g_autofree char *folder = g_build_filename (root, "images", "d.jpg", NULL);
  g_autofree char *fifo = g_build_filename (root, "images", "f.png", NULL);
  g_autofree char *device = g_build_filename (root, "images", "n.png", NULL);
  g_autofree char *broken = g_build_filename (root, "images", "l.jpg", NULL);
  g_autofree char *gone = g_build_filename (root, "gone.jpg", NULL);
  g_autofree char *fifo_mask = g_build_filename (root, "masks", "2.png", NULL);
  const char *bad[] = { folder, fifo, device, broken, fifo_mask };
  const char *good[] = { "0", "1" };
  g_autoptr (VgSplit) split = NULL;
  GError *error = NULL;

  for (int i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("%d", i);
      add_good (root, name, i);
    }
  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (symlink ("/dev/zero", device), ==, 0);
  g_assert_cmpint (symlink (gone, broken), ==, 0);
  g_unlink (fifo_mask);
  g_assert_cmpint (mkfifo (fifo_mask, 0600), ==, 0);

  for (int verify = 0; verify < 2; verify++)
    {
      VgSplitFlags flags = verify ? VG_SPLIT_VERIFY : VG_SPLIT_DEFAULT;

      split = vg_split_open (root, flags, 2, NULL, &error);
      g_assert_null (split);
      g_assert_true (error->domain == G_IO_ERROR);
      g_test_message ("%s", error->message);
      /* The first bad sample in the split's order: 2 (its mask), d, f, l, n. */
      g_assert_true (str_contains (error->message, fifo_mask));
      g_clear_error (&error);

      split = vg_split_open (root, flags | VG_SPLIT_SKIP_BAD, 2, NULL, &error);
      g_assert_no_error (error);
      assert_names (split, good, 2);
      g_assert_cmpuint (split->skipped->len, ==, G_N_ELEMENTS (bad));
      for (gsize k = 0; k < G_N_ELEMENTS (bad); k++)
        {
          gboolean found = FALSE;
          for (guint j = 0; j < split->skipped->len; j++)
            found |= str_contains (split->skipped->pdata[j], bad[k]);
          g_assert_true (found);
        }
      g_clear_pointer (&split, vg_split_free);
    }
  vg_test_rm_rf (root);
}

VG_TEST ("/data/split/without-masks", test_without_masks)
{
  g_autofree char *root = tmp_dir_new ();
  g_autofree char *images = make_subdir (root, "images");
  g_autofree uint8_t *rgb = synthetic_rgb (8, 8, 0);
  g_autoptr (VgSplit) split = NULL;
  VgImage image = { 0 }, mask = { 0 };
  GError *error = NULL;

  for (int i = 0; i < 3; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%d.jpg", images, i);
      write_jpeg (path, rgb, 8, 8, 90);
    }
  /* A test split: images only, fine for prediction. */
  split = vg_split_open (root, VG_SPLIT_VERIFY, 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (split->n_samples, ==, 3);
  g_assert_false (vg_split_has_masks (split));
  g_assert_null (split->samples[0].mask_path);
  g_assert_true (vg_split_load_sample (split, 2, &image, &mask, &error));
  g_assert_cmpint (image.width, ==, 8);
  g_clear_pointer (&split, vg_split_free);

  /* Training asks for masks. */
  split = vg_split_open (root, VG_SPLIT_REQUIRE_MASKS, 1, NULL, &error);
  g_assert_null (split);
  g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_MISSING);
  g_clear_error (&error);
  vg_image_clear (&image);
  vg_image_clear (&mask);
  vg_test_rm_rf (root);
}

VG_TEST ("/data/split/empty-and-duplicates", test_empty_and_duplicates)
{
  g_autofree char *root = new_split_dir ();
  g_autofree char *jpg = g_build_filename (root, "images", "3.jpg", NULL);
  g_autofree uint8_t *rgb = synthetic_rgb (8, 8, 0);
  g_autoptr (VgSplit) split = NULL;
  GError *error = NULL;

  split = vg_split_open (root, VG_SPLIT_DEFAULT, 1, NULL, &error);
  g_assert_null (split);
  g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_EMPTY);
  g_clear_error (&error);

  split = vg_split_open ("/nonexistent/visage/split", VG_SPLIT_DEFAULT, 1, NULL, &error);
  g_assert_null (split);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* 3.jpg and 3.png would share masks/3.png: the second is a bad sample. */
  add_good (root, "3", 3);
  write_jpeg (jpg, rgb, 8, 8, 90);
  split = vg_split_open (root, VG_SPLIT_DEFAULT, 1, NULL, &error);
  g_assert_null (split);
  g_assert_true (str_contains (error->message, "3.png"));
  g_clear_error (&error);
  split = vg_split_open (root, VG_SPLIT_SKIP_BAD, 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (split->n_samples, ==, 1);
  g_assert_true (g_str_has_suffix (split->samples[0].image_path, "3.jpg"));
  g_assert_cmpuint (split->skipped->len, ==, 1);
  vg_test_rm_rf (root);
}

/* Annotations override the masks of the samples they name, and only those; a bad
 * annotation is an error naming it and leaves the split as it was. */
VG_TEST ("/data/split/annotations", test_annotations)
{
  g_autofree char *root = new_split_dir ();
  g_autofree char *notes = make_subdir (root, "annotations");
  g_autofree char *note1 = NULL, *bad = NULL, *original1 = NULL;
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgSplit) bare = NULL;
  uint8_t edited[64];
  VgImage image = { 0 }, mask = { 0 };
  GError *error = NULL;

  for (int i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("%d", i);
      add_good (root, name, i);
    }
  for (int i = 0; i < 64; i++)
    edited[i] = (uint8_t) (i % 19);
  note1 = g_build_filename (notes, "1.png", NULL);
  g_assert_true (vg_mask_save (note1, edited, 8, 8, &error));
  g_assert_no_error (error);
  /* The split itself does not list annotations/ as anything. */
  split = vg_split_open (root, VG_SPLIT_VERIFY, 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (split->n_samples, ==, 3);
  original1 = g_strdup (split->samples[1].mask_path);
  g_assert_null (split->annotations_dir);

  g_assert_true (vg_split_use_annotations (split, notes, &error));
  g_assert_no_error (error);
  g_assert_cmpint (split->n_annotated, ==, 1);
  g_assert_nonnull (split->annotations_dir);
  g_assert_true (g_str_has_suffix (split->annotations_dir, "annotations"));
  g_assert_cmpstr (split->samples[1].mask_path, ==, note1);
  g_assert_true (g_str_has_suffix (split->samples[0].mask_path, "masks/0.png"));
  g_assert_true (g_str_has_suffix (split->samples[2].mask_path, "masks/2.png"));
  /* Loading sample 1 reads the edited mask. */
  g_assert_true (vg_split_load_sample (split, 1, &image, &mask, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (mask.data, 64, edited, 64);
  {
    g_autofree char *path = vg_split_annotation_path (split, 2, notes);
    g_autofree char *expected = g_build_filename (notes, "2.png", NULL);
    g_assert_cmpstr (path, ==, expected);
  }

  /* A bad annotation (wrong size) fails, naming it, and changes nothing. */
  bad = g_build_filename (notes, "2.png", NULL);
  g_assert_true (vg_mask_save (bad, edited, 4, 16, &error));
  vg_test_assert_fails (vg_split_use_annotations (split, notes, &error), error, VG_DATA_ERROR,
                        VG_DATA_ERROR_SIZE, bad);
  g_assert_cmpstr (split->samples[1].mask_path, ==, note1);
  g_assert_true (g_str_has_suffix (split->samples[2].mask_path, "masks/2.png"));
  g_unlink (bad);

  /* No folder; NULL restores the originals; a split without masks refuses. */
  {
    g_autofree char *missing = g_build_filename (root, "nowhere", NULL);
    vg_test_assert_fails (vg_split_use_annotations (split, missing, &error), error, G_IO_ERROR,
                          G_IO_ERROR_NOT_FOUND, NULL);
  }
  g_assert_true (vg_split_use_annotations (split, NULL, &error));
  g_assert_cmpstr (split->samples[1].mask_path, ==, original1);
  g_assert_cmpint (split->n_annotated, ==, 0);
  g_assert_null (split->annotations_dir);
  {
    g_autofree char *images = g_build_filename (root, "images", NULL);
    bare = vg_split_open_dirs (images, NULL, VG_SPLIT_DEFAULT, 1, NULL, &error);
    g_assert_no_error (error);
    vg_test_assert_fails (vg_split_use_annotations (bare, notes, &error), error, VG_DATA_ERROR,
                          VG_DATA_ERROR_MISSING, NULL);
  }
  vg_image_clear (&image);
  vg_image_clear (&mask);
  vg_test_rm_rf (root);
}

VG_TEST_MAIN ()
