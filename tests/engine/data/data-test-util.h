/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers for the engine/data tests: temporary folders and files the tests write
 * themselves (synthetic JPEGs and PNGs of any colour type, broken files), and the names
 * of the first real val samples. */
#pragma once

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <jpeglib.h>
#include <png.h>

#include "test-common.h"
#include "vg-split.h"

/* A fresh folder under the temporary directory; remove with vg_test_rm_rf(). */
static inline char *
tmp_dir_new (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("visage-data-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

/* Kept for the callers outside tests/engine/data and tests/app (test-predict.c); new code
 * calls vg_test_rm_rf() directly. */
static inline void
tmp_dir_remove (const char *path)
{
  vg_test_rm_rf (path);
}

/* The names of the first n samples of the real val split, in its natural order (not
 * 0 .. n - 1: the data set skips some numbers). NULL (test skipped) without ../shared. */
static inline GStrv
val_names (int n)
{
  g_autofree char *dir = vg_test_shared_path ("celebamask/val");
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSplit) split = NULL;
  GStrv names;

  if (dir == NULL)
    return NULL;
  split = vg_split_open (dir, VG_SPLIT_REQUIRE_MASKS, 2, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (split->n_samples, >=, n);
  names = g_new0 (char *, n + 1);
  for (int i = 0; i < n; i++)
    names[i] = g_strdup (split->samples[i].name);
  return names;
}

static inline char *
make_subdir (const char *parent, const char *name)
{
  char *path = g_build_filename (parent, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (path, 0755), ==, 0);
  return path;
}

static inline void
write_bytes (const char *path, const void *data, gsize len)
{
  GError *error = NULL;

  g_file_set_contents (path, data, (gssize) len, &error);
  g_assert_no_error (error);
}

/* Encode rgb (h, w, 3) as a baseline JPEG. */
static inline void
write_jpeg (const char *path, const uint8_t *rgb, int h, int w, int quality)
{
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr jerr;
  FILE *fp = g_fopen (path, "wb");

  g_assert_nonnull (fp);
  cinfo.err = jpeg_std_error (&jerr);
  jpeg_create_compress (&cinfo);
  jpeg_stdio_dest (&cinfo, fp);
  cinfo.image_width = w;
  cinfo.image_height = h;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults (&cinfo);
  jpeg_set_quality (&cinfo, quality, TRUE);
  jpeg_start_compress (&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height)
    {
      JSAMPROW row = (JSAMPROW) rgb + (size_t) cinfo.next_scanline * w * 3;
      jpeg_write_scanlines (&cinfo, &row, 1);
    }
  jpeg_finish_compress (&cinfo);
  jpeg_destroy_compress (&cinfo);
  fclose (fp);
}

/* Write a PNG of any colour type and bit depth; data holds packed rows as libpng expects
 * them (16-bit samples big-endian). n_palette entries of grey levels for palette files. */
static inline void
write_png_raw (const char *path, const uint8_t *data, int h, int w, int color_type,
               int bit_depth, int n_palette)
{
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  FILE *fp = g_fopen (path, "wb");
  int channels = color_type == PNG_COLOR_TYPE_RGB ? 3
                 : color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                 : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
  size_t rowbytes = ((size_t) w * channels * bit_depth + 7) / 8;

  g_assert_nonnull (fp);
  if (setjmp (png_jmpbuf (png)))
    g_error ("libpng failed writing %s", path);
  png_init_io (png, fp);
  png_set_IHDR (png, info, w, h, bit_depth, color_type, PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE)
    {
      png_color palette[256];
      for (int i = 0; i < n_palette; i++)
        palette[i].red = palette[i].green = palette[i].blue = (png_byte) (i * 7);
      png_set_PLTE (png, info, palette, n_palette);
    }
  png_write_info (png, info);
  for (int y = 0; y < h; y++)
    png_write_row (png, (png_const_bytep) data + y * rowbytes);
  png_write_end (png, info);
  png_destroy_write_struct (&png, &info);
  fclose (fp);
}

/* Copy the first len bytes of src to dst (a truncated file). */
static inline void
write_truncated_copy (const char *dst, const char *src, gsize len)
{
  GError *error = NULL;
  char *data = NULL;
  gsize size = 0;

  g_file_get_contents (src, &data, &size, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len, <, size);
  write_bytes (dst, data, len);
  g_free (data);
}

/* A smooth synthetic photograph (h, w, 3), different for each tag. */
static inline uint8_t *
synthetic_rgb (int h, int w, int tag)
{
  uint8_t *rgb = g_new (uint8_t, (size_t) h * w * 3);

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        uint8_t *px = rgb + ((size_t) y * w + x) * 3;
        px[0] = (uint8_t) ((x * 255) / MAX (w - 1, 1));
        px[1] = (uint8_t) ((y * 255) / MAX (h - 1, 1));
        px[2] = (uint8_t) ((tag * 40 + x + y) & 0xff);
      }
  return rgb;
}

/* A synthetic mask (h, w): skin with a left eye in the top-left corner, and class tag. */
static inline uint8_t *
synthetic_mask (int h, int w, int tag)
{
  uint8_t *mask = g_new (uint8_t, (size_t) h * w);

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      mask[(size_t) y * w + x] = (uint8_t) (y < h / 2 ? (x < w / 2 ? 4 : 1) : tag % 19);
  return mask;
}

static inline gboolean
str_contains (const char *haystack, const char *needle)
{
  return haystack != NULL && strstr (haystack, needle) != NULL;
}
