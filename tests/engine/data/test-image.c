/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Image and mask files: real data set files, every PNG colour type, the mask writer, and
 * broken files that must give an error naming the file instead of exiting. */
#include "config.h"

#include <malloc.h>
#include <png.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "vg-classes.h"
#include "vg-image.h"
#include "test-common.h"
#include "data-test-util.h"
#include "test-register.h"

VG_TEST ("/data/image/real-image-and-mask", test_real_image_and_mask)
{
  g_autofree char *image_path = vg_test_shared_path ("celebamask/val/images/0.jpg");
  g_autofree char *mask_path = vg_test_shared_path ("celebamask/val/masks/0.png");
  VgImage image = { 0 }, mask = { 0 };
  VgImageInfo info;
  GError *error = NULL;
  uint64_t hist[256] = { 0 };
  double sum = 0.0;

  if (image_path == NULL)
    return;
  g_assert_true (vg_image_probe (&info, image_path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (info.format, ==, VG_IMAGE_FORMAT_JPEG);
  g_assert_true (vg_image_load (&image, image_path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (image.height, ==, 512);
  g_assert_cmpint (image.width, ==, 512);
  g_assert_cmpint (image.channels, ==, 3);
  for (size_t i = 0; i < 512 * 512 * 3; i++)
    sum += image.data[i];
  /* A photograph: neither black nor white on average. */
  g_assert_cmpfloat (sum / (512 * 512 * 3), >, 20.0);
  g_assert_cmpfloat (sum / (512 * 512 * 3), <, 235.0);

  g_assert_true (vg_mask_probe (&info, mask_path, &error));
  g_assert_cmpint (info.png_color_type, ==, PNG_COLOR_TYPE_PALETTE);
  g_assert_true (vg_mask_load (&mask, mask_path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mask.height, ==, 512);
  g_assert_cmpint (mask.width, ==, 512);
  g_assert_cmpint (mask.channels, ==, 1);
  for (size_t i = 0; i < 512 * 512; i++)
    hist[mask.data[i]]++;
  /* Indices, not colours: every value is a class id, and a face has skin and nose. */
  for (int v = VG_NUM_CLASSES; v < 256; v++)
    g_assert_cmpuint (hist[v], ==, 0);
  g_assert_cmpuint (hist[VG_CLASS_SKIN], >, 10000);
  g_assert_cmpuint (hist[VG_CLASS_NOSE], >, 100);
  g_assert_true (vg_mask_check (mask.data, 512 * 512, 512, mask_path, &error));

  /* Loading again into the same buffers reuses them. */
  {
    uint8_t *before = image.data;
    g_assert_true (vg_image_load (&image, image_path, &error));
    g_assert_true (image.data == before);
  }
  vg_image_clear (&image);
  vg_image_clear (&mask);
}

static int
count_entries (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  int n = 0;

  while (g_dir_read_name (dir) != NULL)
    n++;
  g_dir_close (dir);
  return n;
}

VG_TEST ("/data/image/mask-round-trip", test_mask_round_trip)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *path = g_build_filename (dir, "m.png", NULL);
  const int h = 37, w = 53;
  g_autofree uint8_t *mask = g_new (uint8_t, h * w);
  VgImage back = { 0 };
  VgImageInfo info;
  GError *error = NULL;
  png_structp png;
  png_infop pinfo;
  png_colorp palette;
  int n_palette;
  FILE *fp;

  for (int i = 0; i < h * w; i++)
    mask[i] = (uint8_t) ((i * 7 + i / w) % VG_NUM_CLASSES);
  g_assert_true (vg_mask_save (path, mask, h, w, &error));
  g_assert_no_error (error);
  /* Atomic write: no temporary file is left beside the result. */
  g_assert_cmpint (count_entries (dir), ==, 1);
  g_assert_true (vg_mask_load (&back, path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (back.height, ==, h);
  g_assert_cmpint (back.width, ==, w);
  g_assert_cmpmem (back.data, h * w, mask, h * w);

  /* The file is an 8-bit palette PNG with the data set's 19 colours. */
  g_assert_true (vg_image_probe (&info, path, &error));
  g_assert_cmpint (info.png_color_type, ==, PNG_COLOR_TYPE_PALETTE);
  g_assert_cmpint (info.bit_depth, ==, 8);
  fp = g_fopen (path, "rb");
  png = png_create_read_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  pinfo = png_create_info_struct (png);
  png_init_io (png, fp);
  png_read_info (png, pinfo);
  g_assert_true (png_get_PLTE (png, pinfo, &palette, &n_palette) != 0);
  g_assert_cmpint (n_palette, ==, VG_NUM_CLASSES);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      const uint8_t *rgb = vg_class_rgb (c);
      g_assert_cmpint (palette[c].red, ==, rgb[0]);
      g_assert_cmpint (palette[c].green, ==, rgb[1]);
      g_assert_cmpint (palette[c].blue, ==, rgb[2]);
    }
  png_destroy_read_struct (&png, &pinfo, NULL);
  fclose (fp);

  /* Overwriting an existing mask replaces it. */
  memset (mask, VG_CLASS_HAIR, h * w);
  g_assert_true (vg_mask_save (path, mask, h, w, &error));
  g_assert_true (vg_mask_load (&back, path, &error));
  g_assert_cmpmem (back.data, h * w, mask, h * w);
  g_assert_cmpint (count_entries (dir), ==, 1);

  vg_image_clear (&back);
  vg_test_rm_rf (dir);
}

VG_TEST ("/data/image/mask-save-errors", test_mask_save_errors)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *missing = g_build_filename (dir, "no-such-folder", "m.png", NULL);
  g_autofree char *path = g_build_filename (dir, "m.png", NULL);
  uint8_t mask[4] = { 0, 1, 2, 19 };
  GError *error = NULL;

  vg_test_assert_fails (vg_mask_save (missing, mask, 1, 3, &error), error, G_IO_ERROR,
                        G_IO_ERROR_NOT_FOUND, missing);

  /* 19 is not a class: the palette has no colour for it. */
  vg_test_assert_fails (vg_mask_save (path, mask, 2, 2, &error), error, VG_DATA_ERROR,
                        VG_DATA_ERROR_VALUE, path);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (count_entries (dir), ==, 0);

  vg_test_assert_fails (vg_mask_save (path, mask, 0, 3, &error), error, VG_DATA_ERROR,
                        VG_DATA_ERROR_INVALID, NULL);
  vg_test_rm_rf (dir);
}

/* Photographs in every PNG colour type decode to the same 8-bit RGB. */
VG_TEST ("/data/image/png-color-types", test_png_color_types)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *path = g_build_filename (dir, "p.png", NULL);
  VgImage img = { 0 };
  GError *error = NULL;
  /* Two pixels: RGB (10, 20, 30) and (200, 150, 100). */
  const uint8_t rgb[6] = { 10, 20, 30, 200, 150, 100 };
  const uint8_t rgba[8] = { 10, 20, 30, 255, 200, 150, 100, 0 };
  const uint8_t rgb16[12] = { 10, 10, 20, 20, 30, 30, 200, 200, 150, 150, 100, 100 };
  const uint8_t grey[2] = { 77, 240 };
  const uint8_t palette_idx[2] = { 3, 5 };  /* palette entry i is grey i * 7 */
  const uint8_t grey_rgb[6] = { 77, 77, 77, 240, 240, 240 };
  const uint8_t palette_rgb[6] = { 21, 21, 21, 35, 35, 35 };
  const struct {
    const uint8_t *data;  /* 1 x 2 pixels */
    int color_type, depth, n_palette;
    const uint8_t *expect;
  } cases[] = {
    { rgb, PNG_COLOR_TYPE_RGB, 8, 0, rgb },
    /* Alpha is dropped, not composited: the colour stays. */
    { rgba, PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, rgb },
    /* 16-bit samples v * 257 (the exact 16-bit form of 8-bit v) scale to v. */
    { rgb16, PNG_COLOR_TYPE_RGB, 16, 0, rgb },
    { grey, PNG_COLOR_TYPE_GRAY, 8, 0, grey_rgb },
    /* A palette photograph is expanded to its colours. */
    { palette_idx, PNG_COLOR_TYPE_PALETTE, 8, 16, palette_rgb },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      write_png_raw (path, cases[i].data, 1, 2, cases[i].color_type, cases[i].depth,
                     cases[i].n_palette);
      g_assert_true (vg_image_load (&img, path, &error));
      g_assert_no_error (error);
      g_assert_cmpint (img.channels, ==, 3);
      g_assert_cmpmem (img.data, 6, cases[i].expect, 6);
    }
  vg_image_clear (&img);
  vg_test_rm_rf (dir);
}

VG_TEST ("/data/image/mask-formats", test_mask_formats)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *path = g_build_filename (dir, "m.png", NULL);
  g_autofree char *jpg = g_build_filename (dir, "m.jpg", NULL);
  g_autofree uint8_t *rgb = synthetic_rgb (8, 8, 0);
  VgImage mask = { 0 };
  VgImageInfo info;
  GError *error = NULL;
  const uint8_t grey[4] = { 0, 1, 13, 18 };
  const uint8_t packed4[2] = { 0x1d, 0x2f };  /* 4-bit indices 1, 13, 2, 15 */
  const uint8_t grey16[4] = { 0, 1, 0, 2 };

  /* An 8-bit greyscale mask is read as values. */
  write_png_raw (path, grey, 2, 2, PNG_COLOR_TYPE_GRAY, 8, 0);
  g_assert_true (vg_mask_load (&mask, path, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (mask.data, 4, grey, 4);

  /* A 4-bit palette mask is read as indices, unpacked and not looked up. */
  write_png_raw (path, packed4, 1, 4, PNG_COLOR_TYPE_PALETTE, 4, 16);
  g_assert_true (vg_mask_load (&mask, path, &error));
  g_assert_no_error (error);
  {
    const uint8_t expect[4] = { 1, 13, 2, 15 };
    g_assert_cmpmem (mask.data, 4, expect, 4);
  }

  /* An RGB file given as a mask: a clear error naming the file and what it is. */
  write_png_raw (path, rgb, 8, 8, PNG_COLOR_TYPE_RGB, 8, 0);
  vg_test_assert_fails (vg_mask_load (&mask, path, &error), error, VG_DATA_ERROR,
                        VG_DATA_ERROR_FORMAT, path, "RGB");
  vg_test_assert_fails (vg_mask_probe (&info, path, &error), error, VG_DATA_ERROR,
                        VG_DATA_ERROR_FORMAT, NULL);

  write_png_raw (path, grey16, 1, 2, PNG_COLOR_TYPE_GRAY, 16, 0);
  vg_test_assert_fails (vg_mask_load (&mask, path, &error), error, VG_DATA_ERROR,
                        VG_DATA_ERROR_FORMAT, "16-bit");

  write_jpeg (jpg, rgb, 8, 8, 90);
  vg_test_assert_fails (vg_mask_load (&mask, jpg, &error), error, VG_DATA_ERROR,
                        VG_DATA_ERROR_FORMAT, jpg);

  /* Values are only range-checked on request. */
  {
    uint8_t bad[6] = { 0, 1, 2, 3, 19, 5 };
    vg_test_assert_fails (vg_mask_check (bad, 6, 3, "x.png", &error), error, VG_DATA_ERROR,
                          VG_DATA_ERROR_VALUE, "(1, 1)");
  }
  vg_image_clear (&mask);
  vg_test_rm_rf (dir);
}

/* A JPEG the test encodes itself decodes with the right size and channel order. */
VG_TEST ("/data/image/jpeg-synthetic", test_jpeg_synthetic)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *path = g_build_filename (dir, "a.jpg", NULL);
  const int h = 24, w = 40;
  g_autofree uint8_t *rgb = g_new (uint8_t, h * w * 3);
  VgImage img = { 0 };
  GError *error = NULL;
  int max_diff = 0;

  for (int i = 0; i < h * w; i++)
    {
      rgb[3 * i] = 200;
      rgb[3 * i + 1] = 60;
      rgb[3 * i + 2] = 20;
    }
  write_jpeg (path, rgb, h, w, 100);
  g_assert_true (vg_image_load (&img, path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (img.height, ==, h);
  g_assert_cmpint (img.width, ==, w);
  for (int i = 0; i < h * w * 3; i++)
    max_diff = MAX (max_diff, ABS ((int) img.data[i] - (int) rgb[i]));
  /* Quality 100 on a flat colour: only YCbCr rounding (a few levels). */
  g_assert_cmpint (max_diff, <=, 3);
  vg_image_clear (&img);
  vg_test_rm_rf (dir);
}

static void
assert_corrupt (const char *path, gboolean as_mask)
{
  VgImage img = { 0 };
  GError *error = NULL;
  gboolean ok = as_mask ? vg_mask_load (&img, path, &error) : vg_image_load (&img, path, &error);

  g_assert_false (ok);
  g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_CORRUPT);
  g_assert_true (str_contains (error->message, path));
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  vg_image_clear (&img);
}

VG_TEST ("/data/image/broken-files", test_broken_files)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *full = g_build_filename (dir, "full.jpg", NULL);
  g_autofree char *truncated = g_build_filename (dir, "truncated.jpg", NULL);
  g_autofree char *header_only = g_build_filename (dir, "header.jpg", NULL);
  g_autofree char *garbage = g_build_filename (dir, "garbage.jpg", NULL);
  g_autofree char *empty = g_build_filename (dir, "empty.jpg", NULL);
  g_autofree char *png = g_build_filename (dir, "full.png", NULL);
  g_autofree char *png_cut = g_build_filename (dir, "cut.png", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.jpg", NULL);
  g_autofree uint8_t *rgb = synthetic_rgb (256, 256, 1);
  g_autofree uint8_t *mask = synthetic_mask (64, 64, 3);
  const char noise[] = "this is not an image, just some bytes named .jpg";
  VgImage img = { 0 };
  GError *error = NULL;
  gsize size;
  char *data;

  write_jpeg (full, rgb, 256, 256, 90);
  g_assert_true (vg_image_load (&img, full, &error));
  g_assert_true (g_file_get_contents (full, &data, &size, NULL));
  g_free (data);
  /* Cut in the entropy-coded data: libjpeg alone would pad it with grey and only warn. */
  write_truncated_copy (truncated, full, size / 2);
  vg_test_assert_fails (vg_image_load (&img, truncated, &error), error, VG_DATA_ERROR,
                        VG_DATA_ERROR_CORRUPT, "truncated");
  assert_corrupt (truncated, FALSE);
  write_truncated_copy (header_only, full, 100);
  assert_corrupt (header_only, FALSE);
  write_bytes (garbage, noise, sizeof noise);
  assert_corrupt (garbage, FALSE);
  write_bytes (empty, "", 0);
  assert_corrupt (empty, FALSE);

  g_assert_true (vg_mask_save (png, mask, 64, 64, &error));
  g_assert_true (g_file_get_contents (png, &data, &size, NULL));
  g_free (data);
  write_truncated_copy (png_cut, png, size - 20);
  assert_corrupt (png_cut, TRUE);
  assert_corrupt (png_cut, FALSE);

  vg_test_assert_fails (vg_image_load (&img, missing, &error), error, G_IO_ERROR,
                        G_IO_ERROR_NOT_FOUND, missing);
  vg_image_clear (&img);
  vg_test_rm_rf (dir);
}

/* A copy of a real data set JPEG at dst with extra bytes inserted at offset (from the
 * end when negative). FALSE (test skipped) without ../shared. */
static gboolean
write_jpeg_with_insert (const char *dst, gssize offset, const void *extra, gsize n_extra)
{
  g_autofree char *src = vg_test_shared_path ("celebamask/val/images/0.jpg");
  g_autofree char *data = NULL;
  g_autoptr (GByteArray) out = g_byte_array_new ();
  gsize size, at;

  if (src == NULL)
    return FALSE;
  g_assert_true (g_file_get_contents (src, &data, &size, NULL));
  at = offset >= 0 ? (gsize) offset : size - (gsize) -offset;
  g_byte_array_append (out, (const guint8 *) data, at);
  g_byte_array_append (out, extra, n_extra);
  g_byte_array_append (out, (const guint8 *) data + at, size - at);
  write_bytes (dst, out->data, out->len);
  return TRUE;
}

/* libjpeg only warns about damaged compressed data and decodes on (garbage where the data
 * is wrong): those warnings are errors naming the file. Bytes inserted just before the
 * end-of-image marker leave only "N extraneous bytes before marker 0xd9"; bytes inserted
 * in the middle of the compressed data also give a bad Huffman code. */
VG_TEST ("/data/image/damaged-jpeg", test_damaged_jpeg)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *tail = g_build_filename (dir, "extra-before-eoi.jpg", NULL);
  g_autofree char *middle = g_build_filename (dir, "extra-in-the-middle.jpg", NULL);
  const guint8 zeros[10] = { 0 };
  guint8 ramp[100];
  VgImage img = { 0 };
  GError *error = NULL;

  for (int i = 0; i < 100; i++)
    ramp[i] = (guint8) (i + 1);
  if (!write_jpeg_with_insert (tail, -2, zeros, sizeof zeros))
    {
      vg_test_rm_rf (dir);
      return;
    }
  vg_test_assert_fails (vg_image_load (&img, tail, &error), error, VG_DATA_ERROR,
                        VG_DATA_ERROR_CORRUPT, tail, "extraneous bytes");

  g_assert_true (write_jpeg_with_insert (middle, 20000, ramp, sizeof ramp));
  assert_corrupt (middle, FALSE);
  vg_image_clear (&img);
  vg_test_rm_rf (dir);
}

static long
peak_rss_kb (void)
{
  struct rusage usage;

  g_assert_cmpint (getrusage (RUSAGE_SELF, &usage), ==, 0);
  return usage.ru_maxrss;
}

/* A header that claims 16000 x 16000 pixels over the few bytes of data of a 16 x 16
 * picture: the load fails at the first damaged row instead of having libjpeg fill the
 * whole 768 MB buffer with grey (which took 1.7 s, 11-16 s under ASan, and 755 MB of
 * memory). The buffer is reserved but its pages stay untouched, so the peak resident size
 * grows by far less than the image would take (in this test: 750 MB before the fix). */
VG_TEST ("/data/image/jpeg-size-beyond-data", test_jpeg_size_beyond_data)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *path = g_build_filename (dir, "huge.jpg", NULL);
  g_autofree uint8_t *rgb = synthetic_rgb (16, 16, 2);
  g_autofree guint8 *data = NULL;
  VgImageInfo info;
  VgImage img = { 0 };
  GError *error = NULL;
  gsize size, sof = 0;
  long before;

  write_jpeg (path, rgb, 16, 16, 90);
  g_assert_true (g_file_get_contents (path, (char **) &data, &size, NULL));
  for (gsize i = 2; i + 9 < size && sof == 0; i++)
    if (data[i] == 0xff && data[i + 1] == 0xc0)
      sof = i;
  g_assert_cmpuint (sof, >, 0);
  /* SOF0: marker, length (2), precision (1), height (2), width (2). */
  data[sof + 5] = 16000 >> 8;
  data[sof + 6] = 16000 & 0xff;
  data[sof + 7] = 16000 >> 8;
  data[sof + 8] = 16000 & 0xff;
  write_bytes (path, data, size);
  g_assert_true (vg_image_probe (&info, path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (info.height, ==, 16000);
  g_assert_cmpint (info.width, ==, 16000);

  /* meson test sets MALLOC_PERTURB_, with which glibc fills every allocation (and so
   * would touch the whole reserved buffer): off for this load. */
  mallopt (M_PERTURB, 0);
  before = peak_rss_kb ();
  vg_test_assert_fails (vg_image_load (&img, path, &error), error, VG_DATA_ERROR,
                        VG_DATA_ERROR_CORRUPT, path);
  g_assert_cmpint (peak_rss_kb () - before, <, 100 * 1024);
  vg_image_clear (&img);
  vg_test_rm_rf (dir);
}

/* Only regular files are opened: a FIFO would block open() until a writer came (an
 * evaluation hung forever on one), a device could be read forever. Each is an error naming
 * the file, and comes back at once. */
VG_TEST ("/data/image/not-regular-files", test_not_regular_files)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *fifo = g_build_filename (dir, "fifo.png", NULL);
  g_autofree char *folder = g_build_filename (dir, "folder.jpg", NULL);
  g_autofree char *device = g_build_filename (dir, "device.png", NULL);
  g_autofree char *broken = g_build_filename (dir, "broken.jpg", NULL);
  g_autofree char *target = g_build_filename (dir, "gone.jpg", NULL);
  const struct {
    const char *path;
    int code;
    const char *says;
  } cases[] = {
    { fifo, G_IO_ERROR_NOT_REGULAR_FILE, "named pipe" },
    { folder, G_IO_ERROR_IS_DIRECTORY, "folder" },
    { device, G_IO_ERROR_NOT_REGULAR_FILE, "device" },
    { broken, G_IO_ERROR_NOT_FOUND, "broken symbolic link" },
  };

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  g_assert_cmpint (symlink ("/dev/zero", device), ==, 0);
  g_assert_cmpint (symlink (target, broken), ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    for (int reader = 0; reader < 4; reader++)
      {
        VgImage img = { 0 };
        VgImageInfo info;
        GError *error = NULL;
        gboolean ok;

        switch (reader)
          {
          case 0: ok = vg_image_load (&img, cases[i].path, &error); break;
          case 1: ok = vg_mask_load (&img, cases[i].path, &error); break;
          case 2: ok = vg_image_probe (&info, cases[i].path, &error); break;
          default: ok = vg_mask_probe (&info, cases[i].path, &error); break;
          }
        g_assert_false (ok);
        g_assert_error (error, G_IO_ERROR, cases[i].code);
        g_assert_true (g_str_has_prefix (error->message, cases[i].path));
        g_assert_true (str_contains (error->message, cases[i].says));
        g_clear_error (&error);
        vg_image_clear (&img);
      }
  vg_test_rm_rf (dir);
}

VG_TEST_MAIN ()
