/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli eval | predict | export-submission | stats as a user runs them: the files they
 * write and the metrics against an independent Python implementation (bad inputs:
 * test-cli-inputs.c).
 *
 * Arguments after the GTest options: PYTHON SCRIPT, the python3 and metrics_reference.py
 * that the metric test runs. Models are freshly initialised (no training): predictions
 * are arbitrary but deterministic, which is all these tests need. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli-model.h"
#include "cli-run.h"
#include "engine/data/data-test-util.h"
#include "test-common.h"
#include "test-safetensors-util.h"
#include "vg-classes.h"
#include "vg-image.h"
#include "vg-predict.h"
#include "vg-safetensors.h"
#include "vg-split.h"
#include "test-register.h"

static const char *python_path;
static const char *reference_script;

/* ---- reading PNG and zip files by hand (independent of the engine's writers) ---------- */

static uint32_t
be32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint32_t
le32 (const uint8_t *p)
{
  return (uint32_t) p[3] << 24 | (uint32_t) p[2] << 16 | (uint32_t) p[1] << 8 | p[0];
}

static uint16_t
le16 (const uint8_t *p)
{
  return (uint16_t) (p[1] << 8 | p[0]);
}

typedef struct {
  uint32_t width, height;
  int depth, color_type;
  uint8_t palette[256 * 3];
  int palette_entries;
} PngHeader;

/* IHDR and PLTE of a PNG in memory; FALSE if it is not a well-formed chunk sequence. */
static gboolean
parse_png (const uint8_t *data, size_t len, PngHeader *h)
{
  static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  size_t pos = 8;

  memset (h, 0, sizeof *h);
  if (len < 8 || memcmp (data, sig, 8) != 0)
    return FALSE;
  while (pos + 12 <= len)
    {
      uint32_t n = be32 (data + pos);
      const uint8_t *type = data + pos + 4, *body = data + pos + 8;

      if (pos + 12 + n > len)
        return FALSE;
      if (memcmp (type, "IHDR", 4) == 0)
        {
          h->width = be32 (body);
          h->height = be32 (body + 4);
          h->depth = body[8];
          h->color_type = body[9];
        }
      else if (memcmp (type, "PLTE", 4) == 0 && n <= sizeof h->palette)
        {
          memcpy (h->palette, body, n);
          h->palette_entries = (int) n / 3;
        }
      else if (memcmp (type, "IEND", 4) == 0)
        return h->width > 0;
      pos += 12 + n;
    }
  return FALSE;
}

static void
parse_png_file (const char *path, PngHeader *h)
{
  g_autofree char *data = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_true (parse_png ((const uint8_t *) data, len, h));
}

/* Bit-by-bit CRC-32, deliberately not the engine's table version. */
static uint32_t
crc32_bitwise (const uint8_t *p, size_t n)
{
  uint32_t crc = 0xFFFFFFFFu;

  for (size_t i = 0; i < n; i++)
    {
      crc ^= p[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
  return ~crc;
}

/* ---- tests ---------------------------------------------------------------------------- */

/* Synthetic predictions from the truth: shifted by a few pixels, some classes swapped or
 * removed, 2% noise; deterministic per image index k. */
static void
perturb (uint8_t *pred, const uint8_t *truth, int H, int W, int k)
{
  int dx = k % 5 - 2, dy = k % 3 - 1;
  uint32_t state = 7919u * (uint32_t) k + 1u;

  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      {
        int sy = CLAMP (y - dy, 0, H - 1), sx = CLAMP (x - dx, 0, W - 1);
        uint8_t v = truth[(size_t) sy * W + sx];

        if (k % 4 == 0 && (v == 4 || v == 5))
          v = 9 - v;                             /* l_eye <-> r_eye */
        if (k % 4 == 1 && v == 13 && x < W / 2)
          v = 14;                                /* hair -> hat on the left half */
        if (k % 7 == 3 && v == 2)
          v = 1;                                 /* nose missed entirely */
        state = state * 1103515245u + 12345u;
        if ((state >> 16) % 50 == 0)
          v = (uint8_t) ((state >> 8) % 19);
        pred[(size_t) y * W + x] = v;
      }
}

static void
run_reference (const char *python, const char *json, const char *masks, const char *pred,
               char **names)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_auto (CliRun) run = { 0 };

  g_ptr_array_add (argv, (char *) python);
  g_ptr_array_add (argv, (char *) reference_script);
  g_ptr_array_add (argv, (char *) "--check");
  g_ptr_array_add (argv, (char *) json);
  g_ptr_array_add (argv, (char *) masks);
  g_ptr_array_add (argv, (char *) pred);
  for (int i = 0; names[i] != NULL; i++)
    g_ptr_array_add (argv, names[i]);
  g_ptr_array_add (argv, NULL);
  vg_test_run_cli_argv (&run, (const char *const *) argv->pdata, NULL);
  if (run.status != 0)
    g_error ("%s %s disagrees (status %d):\n%s%s", python, reference_script, run.status,
             run.out, run.err);
  g_test_message ("%s: %s", python, run.out);
}

VG_TEST ("/cli-eval/metrics-reference", test_metrics_reference)
{
  g_auto (GStrv) names = val_names (20);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *data = NULL, *pred = NULL, *masks = NULL;
  g_autofree char *json = g_build_filename (tmp, "eval.json", NULL);
  g_autofree char *csv = g_build_filename (tmp, "eval.csv", NULL);
  g_autofree char *csv_text = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (CliRun) run = { 0 };
  VgImage truth = { 0 };

  if (names == NULL)
    return;
  g_assert_nonnull (python_path);
  data = vg_test_link_val_split (tmp, "data", names);
  masks = g_build_filename (data, "masks", NULL);
  pred = make_subdir (tmp, "pred");
  for (int k = 0; names[k] != NULL; k++)
    {
      g_autofree char *file = g_strconcat (names[k], ".png", NULL);
      g_autofree char *src = g_build_filename (masks, file, NULL);
      g_autofree char *dst = g_build_filename (pred, file, NULL);
      g_autofree uint8_t *p = NULL;

      g_assert_true (vg_mask_load (&truth, src, &error));
      p = g_new (uint8_t, (size_t) truth.height * truth.width);
      perturb (p, truth.data, truth.height, truth.width, k);
      /* Both kinds of index PNG: palette (as predict writes) and grey (as submissions). */
      if (k % 2 == 0)
        g_assert_true (vg_mask_save (dst, p, truth.height, truth.width, &error));
      else
        g_assert_true (vg_mask_save_grey (dst, p, truth.height, truth.width, &error));
      g_assert_no_error (error);
    }
  vg_image_clear (&truth);

  vg_test_run_cli (&run, "eval", "--predictions", pred, "--data", data, "--json", json, "--csv",
                   csv, NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (strstr (run.out, "dataset-level mIoU: intersections and unions summed over "
                                     "all 20 images"));
  g_assert_nonnull (strstr (run.out, "mIoU "));

  /* Under the python3 of the build, and under the system's one when that is another. */
  run_reference (python_path, json, masks, pred, names);
  if (g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE)
      && g_strcmp0 (python_path, "/usr/bin/python3") != 0)
    run_reference ("/usr/bin/python3", json, masks, pred, names);

  /* CSV: a header, one row per class, a row of means. */
  g_assert_true (g_file_get_contents (csv, &csv_text, NULL, NULL));
  {
    g_auto (GStrv) lines = g_strsplit (g_strstrip (csv_text), "\n", -1);
    g_assert_cmpint (g_strv_length (lines), ==, 1 + 19 + 1);
    g_assert_true (g_str_has_prefix (lines[0], "id,class,iou,f1,"));
    g_assert_true (g_str_has_prefix (lines[1], "0,background,"));
    /* 8 metric columns + 19 confusion columns */
    g_auto (GStrv) fields = g_strsplit (lines[5], ",", -1);
    g_assert_cmpint (g_strv_length (fields), ==, 8 + 19);
  }
  vg_test_rm_rf (tmp);
}

VG_TEST ("/cli-eval/predict", test_predict)
{
  g_autofree char *val = vg_test_shared_path ("celebamask/val");
  g_autofree char *dataset_mask = vg_test_shared_path ("celebamask/val/masks/0.png");
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *model = NULL, *out = NULL, *out_dir = NULL;
  char *img[3] = { NULL };
  g_autoptr (GError) error = NULL;
  g_auto (CliRun) run = { 0 };
  g_auto (CliRun) run_dir = { 0 };
  g_auto (GStrv) names = val_names (3);
  PngHeader dataset;
  VgImage mask = { 0 };

  if (val == NULL)
    return;
  parse_png_file (dataset_mask, &dataset);
  g_assert_cmpint (dataset.palette_entries, >=, 19);
  model = write_model (tmp, 64);
  out = g_build_filename (tmp, "out", NULL);
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *file = g_strconcat (names[i], ".jpg", NULL);
      img[i] = g_build_filename (val, "images", file, NULL);
    }

  /* One image per batch, so that the forward passes are those of the in-process check
   * below (a batch of 3 takes other matrix-product paths: near-tied pixels may flip). */
  vg_test_run_cli (&run, "predict", img[0], img[1], img[2], "--model", model, "--out", out,
           "--overlay", "--batch", "1", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (strstr (run.err, "predict: 3/3 images"));
  {
    /* Exactly the masks and overlays: no temporary files left behind. */
    g_autoptr (GDir) d = g_dir_open (out, 0, NULL);
    int n = 0;
    while (g_dir_read_name (d) != NULL)
      n++;
    g_assert_cmpint (n, ==, 6);
  }
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *file = g_strconcat (names[i], ".png", NULL);
      g_autofree char *ofile = g_strconcat (names[i], "-overlay.png", NULL);
      g_autofree char *path = g_build_filename (out, file, NULL);
      g_autofree char *opath = g_build_filename (out, ofile, NULL);
      g_autofree uint8_t *expect = NULL;
      PngHeader h, oh;
      int H, W;

      /* An 8-bit palette PNG of the input's size with the data set's palette. */
      parse_png_file (path, &h);
      g_assert_cmpuint (h.width, ==, 512);
      g_assert_cmpuint (h.height, ==, 512);
      g_assert_cmpint (h.depth, ==, 8);
      g_assert_cmpint (h.color_type, ==, 3);
      g_assert_cmpint (h.palette_entries, >=, 19);
      g_assert_cmpmem (h.palette, 19 * 3, dataset.palette, 19 * 3);
      /* Indices are classes, and they are the predictor's labels. */
      g_assert_true (vg_mask_load (&mask, path, &error));
      g_assert_no_error (error);
      for (size_t p = 0; p < 512 * 512; p++)
        g_assert_cmpuint (mask.data[p], <, 19);
      expect = predict_here (model, img[i], &H, &W);
      g_assert_cmpmem (mask.data, 512 * 512, expect, (size_t) H * W);

      parse_png_file (opath, &oh);
      g_assert_cmpuint (oh.width, ==, 512);
      g_assert_cmpuint (oh.height, ==, 512);
      g_assert_cmpint (oh.color_type, ==, 2);  /* RGB */
    }

  /* A folder argument: a split folder's images, named after them. */
  {
    g_autofree char *data = vg_test_link_val_split (tmp, "data", names);
    out_dir = g_build_filename (tmp, "out-dir", NULL);
    vg_test_run_cli (&run_dir, "predict", data, "--model", model, "--out", out_dir, "--batch",
                     "1", NULL);
    g_assert_cmpint (run_dir.status, ==, 0);
    for (int i = 0; i < 3; i++)
      {
        g_autofree char *file = g_strconcat (names[i], ".png", NULL);
        g_autofree char *a = g_build_filename (out, file, NULL);
        g_autofree char *b = g_build_filename (out_dir, file, NULL);
        g_autofree char *da = NULL, *db = NULL;
        gsize la, lb;

        g_assert_true (g_file_get_contents (a, &da, &la, NULL));
        g_assert_true (g_file_get_contents (b, &db, &lb, NULL));
        g_assert_cmpmem (da, la, db, lb);
      }
  }
  vg_image_clear (&mask);
  for (int i = 0; i < 3; i++)
    g_free (img[i]);
  vg_test_rm_rf (tmp);
}

VG_TEST ("/cli-eval/export-submission", test_export_submission)
{
  g_auto (GStrv) names = val_names (3);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *data = NULL, *model = NULL, *images = NULL;
  g_autofree char *zip = g_build_filename (tmp, "submission.zip", NULL);
  g_autofree char *png_path = g_build_filename (tmp, "entry.png", NULL);
  g_autofree uint8_t *bytes = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (CliRun) run = { 0 };
  VgImage mask = { 0 };
  gsize len;
  size_t eocd, cd;
  int entries;

  if (names == NULL)
    return;
  data = vg_test_link_val_split (tmp, "data", names);
  images = g_build_filename (data, "images", NULL);
  model = write_model (tmp, 64);
  vg_test_run_cli (&run, "export-submission", "--model", model, "--images", images, "--out", zip,
           "--batch", "1", NULL);
  g_assert_cmpint (run.status, ==, 0);

  g_assert_true (g_file_get_contents (zip, (char **) &bytes, &len, NULL));
  /* The end of central directory record: 22 bytes at the end (no comment). */
  g_assert_cmpuint (len, >, 22);
  eocd = len - 22;
  g_assert_cmphex (le32 (bytes + eocd), ==, 0x06054b50);
  entries = le16 (bytes + eocd + 10);
  g_assert_cmpint (entries, ==, 3);
  cd = le32 (bytes + eocd + 16);
  g_assert_cmpuint (cd + le32 (bytes + eocd + 12), ==, eocd);
  for (int i = 0; i < entries; i++)
    {
      const uint8_t *c = bytes + cd;
      uint16_t name_len = le16 (c + 28);
      g_autofree char *name = g_strndup ((const char *) c + 46, name_len);
      g_autofree char *expect_name = g_strconcat (names[i], ".png", NULL);
      g_autofree char *image = NULL;
      g_autofree uint8_t *expect = NULL;
      uint32_t crc = le32 (c + 16), size = le32 (c + 20), offset = le32 (c + 42);
      const uint8_t *local = bytes + offset, *payload;
      PngHeader h;
      int H, W;

      g_assert_cmphex (le32 (c), ==, 0x02014b50);
      g_assert_cmpuint (le16 (c + 10), ==, 0);           /* stored */
      g_assert_cmpuint (le32 (c + 24), ==, size);        /* uncompressed == compressed */
      g_assert_cmpstr (name, ==, expect_name);
      g_assert_cmphex (le32 (local), ==, 0x04034b50);
      g_assert_cmpuint (le16 (local + 26), ==, name_len);
      payload = local + 30 + name_len + le16 (local + 28);
      g_assert_cmpuint (payload + size - bytes, <=, cd);
      g_assert_cmphex (crc32_bitwise (payload, size), ==, crc);

      /* An 8-bit grey index PNG at the image's size, holding the predictor's labels. */
      g_assert_true (parse_png (payload, size, &h));
      g_assert_cmpuint (h.width, ==, 512);
      g_assert_cmpuint (h.height, ==, 512);
      g_assert_cmpint (h.depth, ==, 8);
      g_assert_cmpint (h.color_type, ==, 0);
      write_bytes (png_path, payload, size);
      g_assert_true (vg_mask_load (&mask, png_path, &error));
      g_assert_no_error (error);
      image = g_strconcat (images, G_DIR_SEPARATOR_S, names[i], ".jpg", NULL);
      expect = predict_here (model, image, &H, &W);
      g_assert_cmpmem (mask.data, (size_t) mask.height * mask.width, expect, (size_t) H * W);
      cd += 46 + name_len + le16 (c + 30) + le16 (c + 32);
    }
  vg_image_clear (&mask);

  /* An existing zip is refused before any work (left as it was) unless --force. */
  {
    g_auto (CliRun) again = { 0 };
    g_auto (CliRun) forced = { 0 };
    g_autofree char *after = NULL;
    gsize after_len;

    vg_test_run_cli (&again, "export-submission", "--model", model, "--images", images,
                     "--out", zip, NULL);
    g_assert_cmpint (again.status, ==, 1);
    g_assert_nonnull (strstr (again.err, zip));
    g_assert_nonnull (strstr (again.err, "--force"));
    g_assert_null (strstr (again.err, "model:"));
    g_assert_true (g_file_get_contents (zip, &after, &after_len, NULL));
    g_assert_cmpmem (after, after_len, bytes, len);
    vg_test_run_cli (&forced, "export-submission", "--model", model, "--images", images,
                     "--out", zip, "--force", NULL);
    g_assert_cmpint (forced.status, ==, 0);
  }
  vg_test_rm_rf (tmp);
}

VG_TEST ("/cli-eval/eval-model", test_eval_model)
{
  g_auto (GStrv) names = val_names (3);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *data = NULL, *model = NULL, *json_text = NULL, *flip_text = NULL;
  g_autofree char *json = g_build_filename (tmp, "e.json", NULL);
  g_auto (CliRun) run = { 0 };
  g_auto (CliRun) flipped = { 0 };
  g_auto (CliRun) usage = { 0 };

  if (names == NULL)
    return;
  data = vg_test_link_val_split (tmp, "data", names);
  model = write_model (tmp, 64);
  vg_test_run_cli (&run, "eval", "--model", model, "--data", data, "--json", json, "--batch", "2",
           NULL);
  g_assert_cmpint (run.status, ==, 0);
  /* The table, the definition line, and a final progress line (stderr is not a tty). */
  g_assert_nonnull (strstr (run.out, "background "));
  g_assert_nonnull (strstr (run.out, "cloth "));
  g_assert_nonnull (strstr (run.out, "pixel accuracy"));
  g_assert_nonnull (strstr (run.out, "loss "));
  g_assert_nonnull (strstr (run.out, "dataset-level mIoU: intersections and unions summed over "
                                     "all 3 images"));
  g_assert_nonnull (strstr (run.err, "eval: 3/3 images in "));
  g_assert_true (g_file_get_contents (json, &json_text, NULL, NULL));
  g_assert_nonnull (strstr (json_text, "\"n_images\": 3,"));
  g_assert_nonnull (strstr (json_text, "\"resolution\": 64,"));
  g_assert_nonnull (strstr (json_text, "\"flip\": false,"));
  g_assert_nonnull (strstr (json_text, "\"confusion\": ["));
  g_assert_nonnull (strstr (json_text, "\"images\": ["));

  /* --flip: recorded, and a different evaluation of the same images */
  vg_test_run_cli (&flipped, "eval", "--model", model, "--data", data, "--json", json,
                   "--flip", NULL);
  g_assert_cmpint (flipped.status, ==, 0);
  g_assert_true (g_file_get_contents (json, &flip_text, NULL, NULL));
  g_assert_nonnull (strstr (flip_text, "\"flip\": true,"));
  g_assert_nonnull (strstr (flip_text, "\"n_images\": 3,"));
  g_assert_cmpstr (strstr (flip_text, "\"confusion\": ["), !=,
                   strstr (json_text, "\"confusion\": ["));

  vg_test_run_cli (&usage, "eval", "--data", data, NULL);
  g_assert_cmpint (usage.status, ==, 2);
  vg_test_rm_rf (tmp);
}

/* visage-cli convert --f16: half the bytes, nearly the same labels. */
VG_TEST ("/cli-eval/convert", test_convert)
{
  g_auto (GStrv) names = val_names (1);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *data = NULL, *model = NULL, *image = NULL;
  g_autofree char *half = g_build_filename (tmp, "half.safetensors", NULL);
  g_autofree char *text = g_build_filename (tmp, "notes.safetensors", NULL);
  g_autofree uint8_t *a = NULL, *b = NULL;
  g_auto (CliRun) run = { 0 };
  g_auto (CliRun) bad = { 0 };
  g_auto (CliRun) usage = { 0 };
  GStatBuf st_full, st_half;
  size_t same = 0;
  int H, W, H2, W2;

  if (names == NULL)
    return;
  data = vg_test_link_val_split (tmp, "data", names);
  model = write_model (tmp, 64);
  vg_test_run_cli (&run, "convert", "--model", model, "--out", half, "--f16", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (strstr (run.out, "weight tensors in F16"));
  g_assert_cmpint (g_stat (model, &st_full), ==, 0);
  g_assert_cmpint (g_stat (half, &st_half), ==, 0);
  g_assert_cmpint (st_half.st_size, <, st_full.st_size * 6 / 10);

  image = g_build_filename (data, "images", NULL);
  {
    g_autoptr (GDir) dir = g_dir_open (image, 0, NULL);
    char *first = g_build_filename (image, g_dir_read_name (dir), NULL);

    g_free (image);
    image = first;
  }
  a = predict_here (model, image, &H, &W);
  b = predict_here (half, image, &H2, &W2);
  g_assert_cmpint (H, ==, H2);
  g_assert_cmpint (W, ==, W2);
  for (size_t i = 0; i < (size_t) H * W; i++)
    same += a[i] == b[i];
  g_assert_cmpuint (same, >=, (size_t) H * W * 99 / 100);

  /* Not a model file: refused, nothing written. */
  g_assert_true (g_file_set_contents (text, "not a model", -1, NULL));
  g_unlink (half);
  vg_test_run_cli (&bad, "convert", "--model", text, "--out", half, "--f16", NULL);
  g_assert_cmpint (bad.status, ==, 1);
  g_assert_nonnull (strstr (bad.err, "notes.safetensors"));
  g_assert_false (g_file_test (half, G_FILE_TEST_EXISTS));
  vg_test_run_cli (&usage, "convert", "--model", model, "--out", half, NULL);
  g_assert_cmpint (usage.status, ==, 2);
  vg_test_rm_rf (tmp);
}

/* Without --model, eval, predict and export-submission use the model shipped with the
 * program (here a folder named by VISAGE_MODELS_DIR), and say so when none ships. */
VG_TEST ("/cli-eval/default-model", test_default_model)
{
  g_auto (GStrv) names = val_names (2);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *models = g_build_filename (tmp, "models", NULL);
  g_autofree char *empty = g_build_filename (tmp, "empty", NULL);
  g_autofree char *data = NULL, *model = NULL, *shipped = NULL, *images = NULL;
  g_autofree char *out = g_build_filename (tmp, "pred", NULL);
  g_autofree char *saved = g_strdup (g_getenv ("VISAGE_MODELS_DIR"));
  g_auto (CliRun) eval = { 0 };
  g_auto (CliRun) predict = { 0 };
  g_auto (CliRun) none = { 0 };

  if (names == NULL)
    return;
  data = vg_test_link_val_split (tmp, "data", names);
  images = g_build_filename (data, "images", NULL);
  model = write_model (tmp, 64);
  g_assert_cmpint (g_mkdir_with_parents (models, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (empty, 0755), ==, 0);
  shipped = g_build_filename (models, "visage-s.safetensors", NULL);
  g_assert_cmpint (g_rename (model, shipped), ==, 0);

  g_setenv ("VISAGE_MODELS_DIR", models, TRUE);
  vg_test_run_cli (&eval, "eval", "--data", data, NULL);
  vg_test_run_cli (&predict, "predict", images, "--out", out, NULL);
  g_setenv ("VISAGE_MODELS_DIR", empty, TRUE);
  vg_test_run_cli (&none, "eval", "--data", data, NULL);
  if (saved != NULL)
    g_setenv ("VISAGE_MODELS_DIR", saved, TRUE);
  else
    g_unsetenv ("VISAGE_MODELS_DIR");

  g_assert_cmpint (eval.status, ==, 0);
  g_assert_nonnull (strstr (eval.err, shipped));
  g_assert_nonnull (strstr (eval.out, "mIoU"));
  g_assert_cmpint (predict.status, ==, 0);
  g_assert_nonnull (strstr (predict.err, shipped));
  g_assert_cmpint (none.status, ==, 2);
  g_assert_nonnull (strstr (none.err, "no model ships"));
  vg_test_rm_rf (tmp);
}

VG_TEST ("/cli-eval/stats", test_stats)
{
  g_auto (GStrv) names = val_names (3);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *data = NULL, *cache = NULL;
  g_autoptr (GRegex) weight = g_regex_new ("\"weight\": ([0-9.e+-]+)", 0, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;
  const char *cli = g_getenv ("VISAGE_CLI");
  g_auto (CliRun) first = { 0 };
  g_auto (CliRun) second = { 0 };
  g_auto (CliRun) table = { 0 };
  double sum = 0;
  int n = 0;

  if (names == NULL)
    return;
  data = vg_test_link_val_split (tmp, "data", names);
  cache = make_subdir (tmp, "cache");
  {
    const char *argv[] = { cli, "stats", data, "--json", NULL };
    vg_test_run_cli_argv (&first, argv, cache);
    vg_test_run_cli_argv (&second, argv, cache);
  }
  g_assert_cmpint (first.status, ==, 0);
  g_assert_cmpint (second.status, ==, 0);
  g_assert_nonnull (strstr (first.out, "\"from_cache\": false"));
  g_assert_nonnull (strstr (second.out, "\"from_cache\": true"));
  g_assert_nonnull (strstr (first.out, "\"n_images\": 3,"));
  /* The report's class weights sum to 1. */
  g_regex_match (weight, first.out, 0, &match);
  while (g_match_info_matches (match))
    {
      g_autofree char *v = g_match_info_fetch (match, 1);
      sum += g_ascii_strtod (v, NULL);
      n++;
      g_match_info_next (match, NULL);
    }
  g_assert_cmpint (n, ==, 19);
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-6);
  {
    const char *argv[] = { cli, "stats", data, NULL };
    vg_test_run_cli_argv (&table, argv, cache);
  }
  g_assert_cmpint (table.status, ==, 0);
  g_assert_nonnull (strstr (table.out, "read from the cache"));
  g_assert_nonnull (strstr (table.out, "mean (R, G, B)"));
  vg_test_rm_rf (tmp);
}

/* The "miou" of an eval JSON file. */
static double
json_miou (const char *path)
{
  g_autofree char *text = vg_test_json_value (path, "miou");

  return g_ascii_strtod (text, NULL);
}

/* --annotations: corrected masks override the split's as ground truth. The predictions
 * are the true masks except for one image, whose prediction is the corrected mask: the
 * score is perfect exactly when the correction is the ground truth. */
VG_TEST ("/cli-eval/eval-annotations", test_eval_annotations)
{
  g_auto (GStrv) names = val_names (3);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *data = NULL, *masks = NULL, *pred = NULL, *notes = NULL;
  g_autofree char *json = g_build_filename (tmp, "eval.json", NULL);
  g_autofree char *json_plain = g_build_filename (tmp, "plain.json", NULL);
  g_autofree char *missing = g_build_filename (tmp, "missing", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_auto (CliRun) plain = { 0 };
  g_auto (CliRun) run = { 0 };
  g_auto (CliRun) bad = { 0 };
  VgImage truth = { 0 };

  if (names == NULL)
    return;
  data = vg_test_link_val_split (tmp, "data", names);
  masks = g_build_filename (data, "masks", NULL);
  pred = make_subdir (tmp, "pred");
  notes = make_subdir (tmp, "annotations");
  for (int k = 0; names[k] != NULL; k++)
    {
      g_autofree char *file = g_strconcat (names[k], ".png", NULL);
      g_autofree char *src = g_build_filename (masks, file, NULL);
      g_autofree char *dst = g_build_filename (pred, file, NULL);

      g_assert_true (vg_mask_load (&truth, src, &error));
      if (k == 1)
        {
          g_autofree char *note = g_build_filename (notes, file, NULL);

          /* The correction: a block of hair where the top left was. */
          for (int y = 0; y < 100; y++)
            memset (truth.data + (size_t) y * truth.width, VG_CLASS_HAIR, 100);
          g_assert_true (vg_mask_save (note, truth.data, truth.height, truth.width, &error));
        }
      g_assert_true (vg_mask_save (dst, truth.data, truth.height, truth.width, &error));
      g_assert_no_error (error);
    }
  vg_image_clear (&truth);

  vg_test_run_cli (&plain, "eval", "--predictions", pred, "--data", data, "--json", json_plain,
                   NULL);
  g_assert_cmpint (plain.status, ==, 0);
  g_assert_cmpfloat (json_miou (json_plain), <, 0.999);

  vg_test_run_cli (&run, "eval", "--predictions", pred, "--data", data, "--annotations", notes,
                   "--json", json, NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (strstr (run.err, "1 of 3 masks corrected"));
  g_assert_cmpfloat (json_miou (json), ==, 1.0);
  g_assert_true (g_file_get_contents (json, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "\"n_annotated\": 1"));
  g_assert_nonnull (strstr (text, "\"annotations_dir\": \""));

  /* A folder that is not there is a clear error. */
  vg_test_run_cli (&bad, "eval", "--predictions", pred, "--data", data, "--annotations",
                   missing, NULL);
  g_assert_cmpint (bad.status, !=, 0);
  g_assert_nonnull (strstr (bad.err, "no such annotations folder"));
  vg_test_rm_rf (tmp);
}

VG_TEST_MAIN_WITH_REFERENCE (python_path, reference_script)
