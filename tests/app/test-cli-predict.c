/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli predict as a user runs it: every --format read back by the engine and by an
 * independent reader (tests/png_reference.py: zlib and the PNG filters in Python, and PIL
 * where importable) equals the predicted labels and probabilities; --classes, --legend;
 * bad arguments and a destination inside the data split are refused with clear errors.
 *
 * Arguments after the GTest options: PYTHON SCRIPT, the python3 and png_reference.py. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli-model.h"
#include "cli-run.h"
#include "engine/data/data-test-util.h"
#include "test-common.h"
#include "vg-classes.h"
#include "vg-image.h"
#include "vg-predict.h"
#include "test-register.h"

static const char *python_path;
static const char *reference_script;

/* Entries of a folder (links included). */
static int
count_files (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  int n = 0;

  g_assert_nonnull (d);
  while (g_dir_read_name (d) != NULL)
    n++;
  return n;
}

/* The samples of 8-bit PNGs read by tests/png_reference.py (zlib and the PNG filters in
 * Python, and PIL where importable): "W H COLOUR SHA256" per file. */
static char **
png_reference (const char *const *paths)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_auto (CliRun) run = { 0 };

  g_ptr_array_add (argv, (char *) python_path);
  g_ptr_array_add (argv, (char *) reference_script);
  for (int i = 0; paths[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) paths[i]);
  g_ptr_array_add (argv, NULL);
  vg_test_run_cli_argv (&run, (const char *const *) argv->pdata, NULL);
  if (run.status != 0)
    g_error ("png_reference.py failed (%d): %s", run.status, run.err);
  return g_strsplit (g_strstrip (run.out), "\n", -1);
}

/* png_reference.py reads each of files (NULL-terminated here) as the same line of wanted. */
static void
assert_png_reference (GPtrArray *files, GPtrArray *wanted)
{
  g_auto (GStrv) lines = NULL;

  g_ptr_array_add (files, NULL);
  lines = png_reference ((const char *const *) files->pdata);
  g_assert_cmpuint (g_strv_length (lines), ==, wanted->len);
  for (guint i = 0; i < wanted->len; i++)
    g_assert_cmpstr (lines[i], ==, wanted->pdata[i]);
}

/* A small model written to tmp, the first image of the val split and tmp/out for predict. */
static void
first_image_setup (const char *tmp, const char *val, char **model, char **img, char **out)
{
  *model = write_model (tmp, 64);
  *img = g_build_filename (val, "images", "0.jpg", NULL);
  *out = g_build_filename (tmp, "out", NULL);
}

/* predict IMG --model MODEL --out OUT --batch 1 --format FORMAT [OPTION [VALUE]] (either
 * may be NULL), which must succeed. */
static void
predict_ok (CliRun *run, const char *model, const char *img, const char *out,
            const char *format, const char *option, const char *value)
{
  vg_test_run_cli (run, "predict", img, "--model", model, "--out", out, "--batch", "1",
                   "--format", format, option, value, NULL);
  g_assert_cmpint (run->status, ==, 0);
}

static char *
samples_line (int W, int H, int colour, const uint8_t *samples)
{
  g_autofree char *sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, samples,
                                                       (gsize) W * H);

  return g_strdup_printf ("%d %d %d %s", W, H, colour, sum);
}

/* predict --format: the palette and index PNGs and one 0/255 mask per class present hold
 * the predicted labels (read by the engine and by an independent reader), the overlay is
 * there, --legend writes classes.json and legend.png, --classes keeps only those classes,
 * bad lists are refused. */
VG_TEST ("/cli-predict/formats", test_predict_formats)
{
  g_autofree char *val = vg_test_shared_path ("celebamask/val");
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *model = NULL, *out = NULL, *img = NULL, *kept_dir = NULL;
  g_autofree uint8_t *expect = NULL;
  g_auto (CliRun) run = { 0 }, kept = { 0 }, bad_format = { 0 }, bad_class = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) wanted = g_ptr_array_new_with_free_func (g_free);
  VgImage mask = { 0 };
  guint32 present = 0;
  int H, W, n_files = 0;

  if (val == NULL)
    return;
  first_image_setup (tmp, val, &model, &img, &out);
  predict_ok (&run, model, img, out, "palette,index,classes,overlay", "--legend", NULL);
  expect = predict_here (model, img, &H, &W);
  for (size_t p = 0; p < (size_t) H * W; p++)
    present |= 1u << expect[p];

  /* the palette and index PNGs: the labels, by the engine and by png_reference.py */
  g_ptr_array_add (files, g_build_filename (out, "0.png", NULL));
  g_ptr_array_add (files, g_build_filename (out, "0-index.png", NULL));
  g_ptr_array_add (wanted, samples_line (W, H, 3, expect));
  g_ptr_array_add (wanted, samples_line (W, H, 0, expect));
  g_assert_true (vg_mask_load (&mask, files->pdata[1], &error));
  g_assert_no_error (error);
  g_assert_cmpmem (mask.data, (size_t) H * W, expect, (size_t) H * W);
  /* one mask per class present, none for the others */
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      g_autofree char *file = g_strconcat (vg_class_name (c), ".png", NULL);
      g_autofree char *path = g_build_filename (out, "0", file, NULL);
      g_autofree uint8_t *binary = g_new (uint8_t, (size_t) H * W);

      g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS) == (gboolean) ((present >> c) & 1));
      if (!((present >> c) & 1))
        continue;
      for (size_t p = 0; p < (size_t) H * W; p++)
        binary[p] = expect[p] == c ? 255 : 0;
      g_ptr_array_add (files, g_steal_pointer (&path));
      g_ptr_array_add (wanted, samples_line (W, H, 0, binary));
      n_files++;
    }
  g_test_message ("%d classes present, each in its own mask", n_files);
  g_assert_cmpint (n_files, >=, 2);
  assert_png_reference (files, wanted);
  {
    g_autofree char *overlay = g_build_filename (out, "0-overlay.png", NULL);
    g_autofree char *legend = g_build_filename (out, "classes.json", NULL);
    g_autofree char *picture = g_build_filename (out, "legend.png", NULL);
    g_autofree char *json = NULL;
    VgImageInfo info;

    g_assert_true (g_file_test (overlay, G_FILE_TEST_IS_REGULAR));
    /* a row of 28 pixels per class, RGB */
    g_assert_true (vg_image_probe (&info, picture, &error));
    g_assert_cmpint (info.height, ==, 2 * 12 + VG_NUM_CLASSES * 28);
    g_assert_cmpint (info.png_color_type, ==, 2);  /* PNG_COLOR_TYPE_RGB */
    g_assert_nonnull (strstr (run.err, "files written to"));
    g_assert_true (g_file_get_contents (legend, &json, NULL, NULL));
    for (int c = 0; c < VG_NUM_CLASSES; c++)
      {
        g_autofree char *name = g_strdup_printf ("\"name\": \"%s\"", vg_class_name (c));
        g_assert_nonnull (strstr (json, name));
      }
  }

  /* --classes: the others become background */
  kept_dir = g_build_filename (tmp, "kept", NULL);
  predict_ok (&kept, model, img, kept_dir, "index", "--classes", "skin,hair");
  {
    g_autofree char *path = g_build_filename (kept_dir, "0-index.png", NULL);
    int skin = vg_class_from_name ("skin"), hair = vg_class_from_name ("hair");

    g_assert_true (vg_mask_load (&mask, path, &error));
    g_assert_no_error (error);
    for (size_t p = 0; p < (size_t) H * W; p++)
      g_assert_cmpint (mask.data[p], ==,
                       expect[p] == skin || expect[p] == hair ? expect[p] : 0);
  }

  vg_test_run_cli (&bad_format, "predict", img, "--model", model, "--out", kept_dir,
                   "--format", "palette,jpeg", NULL);
  g_assert_cmpint (bad_format.status, ==, 2);
  g_assert_nonnull (strstr (bad_format.err, "--format: unknown format “jpeg”"));
  vg_test_run_cli (&bad_class, "predict", img, "--model", model, "--out", kept_dir,
                   "--classes", "hair,beard", NULL);
  g_assert_cmpint (bad_class.status, ==, 2);
  g_assert_nonnull (strstr (bad_class.err, "--classes: unknown class “beard”"));
  vg_image_clear (&mask);
  vg_test_rm_rf (tmp);
}

/* --format probabilities: one grey PNG per class whose values are round(255 p) (within 1,
 * read by the engine; the very bytes, read by png_reference.py), whose argmax is the
 * label wherever the top probability is clear of the second; --classes writes only
 * those. */
VG_TEST ("/cli-predict/probabilities", test_predict_probabilities)
{
  g_autofree char *val = vg_test_shared_path ("celebamask/val");
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *model = NULL, *out = NULL, *img = NULL, *kept_dir = NULL;
  g_autofree uint8_t *labels = NULL, *argmax = NULL, *top = NULL, *second = NULL;
  g_autofree float *probs = NULL;
  g_auto (CliRun) run = { 0 }, kept = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) wanted = g_ptr_array_new_with_free_func (g_free);
  VgImage plane = { 0 };
  size_t n, clear = 0;
  int H, W;

  if (val == NULL)
    return;
  first_image_setup (tmp, val, &model, &img, &out);
  predict_ok (&run, model, img, out, "probabilities", NULL, NULL);
  labels = predict_here_full (model, img, &H, &W, &probs);
  n = (size_t) H * W;
  argmax = g_new0 (uint8_t, n);
  top = g_new0 (uint8_t, n);
  second = g_new0 (uint8_t, n);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      g_autofree char *file = g_strconcat (vg_class_name (c), ".png", NULL);
      g_autofree char *path = g_build_filename (out, "0", "probabilities", file, NULL);
      g_autofree uint8_t *expect = g_new (uint8_t, n);
      int worst = 0;

      for (size_t i = 0; i < n; i++)
        expect[i] = (uint8_t) lrint (255.0 * probs[(size_t) c * n + i]);
      g_assert_true (vg_mask_load (&plane, path, &error));
      g_assert_no_error (error);
      g_assert_cmpint (plane.height, ==, H);
      g_assert_cmpint (plane.width, ==, W);
      for (size_t i = 0; i < n; i++)
        {
          uint8_t v = plane.data[i];

          worst = MAX (worst, abs ((int) v - (int) expect[i]));
          if (v > top[i])
            {
              second[i] = top[i];
              top[i] = v;
              argmax[i] = (uint8_t) c;
            }
          else if (v > second[i])
            second[i] = v;
        }
      g_assert_cmpint (worst, <=, 1);
      g_ptr_array_add (files, g_steal_pointer (&path));
      g_ptr_array_add (wanted, samples_line (W, H, 0, plane.data));
    }
  for (size_t i = 0; i < n; i++)
    if (top[i] > second[i] + 1)
      {
        g_assert_cmpint (argmax[i], ==, labels[i]);
        clear++;
      }
  g_test_message ("argmax = label at %zu of %zu pixels with a clear top", clear, n);
  g_assert_cmpuint (clear, >, n / 2);
  /* The independent reader sees the same samples as the engine. */
  assert_png_reference (files, wanted);

  /* --classes: those classes' files only. */
  kept_dir = g_build_filename (tmp, "kept", NULL);
  predict_ok (&kept, model, img, kept_dir, "probabilities", "--classes", "hair,1");
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      g_autofree char *file = g_strconcat (vg_class_name (c), ".png", NULL);
      g_autofree char *path = g_build_filename (kept_dir, "0", "probabilities", file, NULL);

      g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS)
                     == (c == VG_CLASS_HAIR || c == VG_CLASS_SKIN));
    }
  vg_image_clear (&plane);
  vg_test_rm_rf (tmp);
}

/* Bad arguments: exit status 2, a message naming the option and what is wrong, nothing
 * written. */
VG_TEST ("/cli-predict/bad-arguments", test_predict_bad_arguments)
{
  g_autofree char *val = vg_test_shared_path ("celebamask/val");
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *model = NULL, *out = NULL, *img = NULL;
  const struct {
    const char *option, *value, *message;
  } cases[] = {
    { "--format", "palette,npy", "--format: unknown format “npy” (choose among palette, "
      "index, classes, overlay, probabilities)" },
    { "--format", ",", "--format: the list of formats names no format" },
    { "--format", "", "--format: the list of formats names no format" },
    { "--classes", "hair,beard", "--classes: unknown class “beard” (see visage-cli classes)" },
    { "--classes", "19", "--classes: unknown class “19”" },
    { "--classes", "", "--classes: the list of classes names no class" },
    { "--alpha", "1.5", "--alpha must be between 0 and 1" },
  };

  if (val == NULL)
    return;
  model = write_model (tmp, 64);
  out = g_build_filename (tmp, "out", NULL);
  img = g_build_filename (val, "images", "0.jpg", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (CliRun) run = { 0 };

      vg_test_run_cli (&run, "predict", img, "--model", model, "--out", out, cases[i].option,
                       cases[i].value, NULL);
      g_assert_cmpint (run.status, ==, 2);
      g_assert_nonnull (strstr (run.err, cases[i].message));
      g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
    }
  vg_test_rm_rf (tmp);
}

/* The data split's own folders and files are never written into: its masks, images and
 * annotations folders are refused as a whole (exit 1, the folder named), and so is an
 * output file that is a link to one of its masks; nothing is written either way. */
VG_TEST ("/cli-predict/protects-split", test_predict_protects_split)
{
  const char *names[] = { "0", "1", NULL };
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *split = g_build_filename (tmp, "val", NULL);
  g_autofree char *images = g_build_filename (split, "images", NULL);
  g_autofree char *masks = g_build_filename (split, "masks", NULL);
  g_autofree char *notes = g_build_filename (split, "annotations", NULL);
  g_autofree char *trap = g_build_filename (tmp, "trap", NULL);
  g_autofree char *trap_link = g_build_filename (trap, "1.png", NULL);
  g_autofree char *mask1 = g_build_filename (masks, "1.png", NULL);
  g_autofree char *model = NULL;
  const char *refused[] = { masks, images, notes };

  if (!vg_test_link_split_names (split, "val", names))
    return;
  model = write_model (tmp, 64);
  g_assert_cmpint (g_mkdir (notes, 0755), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_auto (CliRun) run = { 0 };
      g_autofree char *expect = g_strdup_printf ("%s: refusing to export into a folder of the "
                                                 "data split", refused[i]);

      /* the split folder, its images folder, or an image of it as the input */
      vg_test_run_cli (&run, "predict", i == 1 ? images : split, "--model", model, "--out",
                       refused[i], "--format", "palette,classes", "--legend", NULL);
      g_assert_cmpint (run.status, ==, 1);
      g_assert_nonnull (strstr (run.err, expect));
      g_assert_cmpint (count_files (refused[i]), ==, i == 2 ? 0 : 2);
    }
  {
    g_auto (CliRun) run = { 0 };
    g_autofree char *image1 = g_build_filename (images, "1.jpg", NULL);

    g_assert_cmpint (g_mkdir (trap, 0755), ==, 0);
    g_assert_cmpint (symlink (mask1, trap_link), ==, 0);
    vg_test_run_cli (&run, "predict", image1, "--model", model, "--out", trap, NULL);
    g_assert_cmpint (run.status, ==, 1);
    g_assert_nonnull (strstr (run.err, "refusing to write over a file of the data split"));
    g_assert_true (g_file_test (trap_link, G_FILE_TEST_IS_SYMLINK));
    g_assert_cmpint (count_files (trap), ==, 1);
  }
  vg_test_rm_rf (tmp);
}

VG_TEST_MAIN_WITH_REFERENCE (python_path, reference_script)
