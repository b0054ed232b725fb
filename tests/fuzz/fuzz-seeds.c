/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Writes the seed corpora of the fuzz targets at run time (nothing here is committed):
 *
 *   fuzz-seeds CORPUS_DIR SPLIT_DIR IMAGE MASK
 *
 * IMAGE and MASK are a photograph and its mask of the data set. CORPUS_DIR/image gets a
 * copy of IMAGE and small re-encodings of it (JPEG baseline, progressive, arithmetic,
 * restart markers, grey, CMYK; PNG of every colour type and bit depth, interlaced too);
 * CORPUS_DIR/mask and CORPUS_DIR/recovery get a copy of MASK and small palette, grey,
 * 16-bit, RGB, out-of-range and odd-sized versions of it; CORPUS_DIR/safetensors a few
 * hand-made files of every dtype; CORPUS_DIR/config the specs of the shipped
 * configurations and of a few custom ones; SPLIT_DIR a two-sample split of small
 * images, and CORPUS_DIR/split_cache its two cache files as the engine writes them.
 * Model files and training checkpoints come from visage-cli (tests/fuzz/run.sh). */
#include "config.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>
#include <jpeglib.h>
#include <png.h>

#include "vg-config.h"
#include "vg-image.h"
#include "vg-safetensors.h"
#include "vg-split.h"
#include "vg-stats.h"

static const char *corpus;

static char *
seed_path (const char *target, const char *name)
{
  g_autofree char *dir = g_build_filename (corpus, target, NULL);

  g_mkdir_with_parents (dir, 0755);
  return g_build_filename (dir, name, NULL);
}

static void
die (const char *what, const GError *error)
{
  fprintf (stderr, "fuzz-seeds: %s: %s\n", what, error != NULL ? error->message : "failed");
  exit (1);
}

static void
copy_file (const char *src, const char *target, const char *name)
{
  g_autofree char *dst = seed_path (target, name);
  g_autofree char *bytes = NULL;
  g_autoptr (GError) error = NULL;
  gsize len;

  if (!g_file_get_contents (src, &bytes, &len, &error)
      || !g_file_set_contents (dst, bytes, (gssize) len, &error))
    die (src, error);
}

/* Nearest-neighbour resize of (H, W, C) bytes to (h, w, C). */
static uint8_t *
resize (const uint8_t *src, int H, int W, int C, int h, int w)
{
  uint8_t *dst = g_malloc ((size_t) h * w * C);

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      memcpy (dst + ((size_t) y * w + x) * C,
              src + ((size_t) (y * H / h) * W + (size_t) (x * W / w)) * C, (size_t) C);
  return dst;
}

/* ---- JPEG ------------------------------------------------------------------------------ */

typedef enum {
  JPEG_BASELINE,
  JPEG_PROGRESSIVE,
  JPEG_ARITHMETIC,
  JPEG_RESTART,
  JPEG_444,
  JPEG_GREY,
  JPEG_CMYK,
} JpegKind;

static void
write_jpeg (const char *name, const uint8_t *rgb, int h, int w, JpegKind kind)
{
  g_autofree char *path = seed_path ("image", name);
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr err;
  int comps = kind == JPEG_GREY ? 1 : kind == JPEG_CMYK ? 4 : 3;
  g_autofree uint8_t *row = g_malloc ((size_t) w * comps);
  FILE *fp = fopen (path, "wb");

  if (fp == NULL)
    die (path, NULL);
  c.err = jpeg_std_error (&err);
  jpeg_create_compress (&c);
  jpeg_stdio_dest (&c, fp);
  c.image_width = w;
  c.image_height = h;
  c.input_components = comps;
  c.in_color_space = kind == JPEG_GREY ? JCS_GRAYSCALE : kind == JPEG_CMYK ? JCS_CMYK : JCS_RGB;
  jpeg_set_defaults (&c);
  jpeg_set_quality (&c, 75, TRUE);
  if (kind == JPEG_PROGRESSIVE)
    jpeg_simple_progression (&c);
  if (kind == JPEG_ARITHMETIC)
    c.arith_code = TRUE;
  if (kind == JPEG_RESTART)
    c.restart_interval = 1;
  if (kind == JPEG_444)
    for (int i = 0; i < 3; i++)
      c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  jpeg_start_compress (&c, TRUE);
  while (c.next_scanline < c.image_height)
    {
      const uint8_t *src = rgb + (size_t) c.next_scanline * w * 3;
      JSAMPROW rows[1] = { row };

      for (int x = 0; x < w; x++)
        {
          const uint8_t *p = src + 3 * x;
          if (kind == JPEG_GREY)
            row[x] = (uint8_t) ((p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8);
          else if (kind == JPEG_CMYK)
            {
              row[4 * x] = 255 - p[0];
              row[4 * x + 1] = 255 - p[1];
              row[4 * x + 2] = 255 - p[2];
              row[4 * x + 3] = 0;
            }
          else
            memcpy (row + 3 * x, p, 3);
        }
      jpeg_write_scanlines (&c, rows, 1);
    }
  jpeg_finish_compress (&c);
  jpeg_destroy_compress (&c);
  fclose (fp);
}

/* ---- PNG ------------------------------------------------------------------------------- */

/* Write (h, w) samples of colour_type and bit_depth; sample (y, x, k) comes from get. */
typedef unsigned (*SampleFunc) (const void *src, int y, int x, int k, int bit_depth);

static void
write_png (const char *target, const char *name, int h, int w, int color_type, int bit_depth,
           gboolean interlaced, SampleFunc get, const void *src)
{
  g_autofree char *path = seed_path (target, name);
  int channels = color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_PALETTE ? 1
                 : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                 : color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
  size_t rowbytes = ((size_t) w * channels * bit_depth + 7) / 8;
  g_autofree uint8_t *pixels = g_malloc0 (rowbytes * h);
  g_autofree png_bytep *rows = g_new (png_bytep, h);
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  FILE *fp = fopen (path, "wb");

  if (fp == NULL || png == NULL || info == NULL || setjmp (png_jmpbuf (png)))
    die (path, NULL);
  for (int y = 0; y < h; y++)
    {
      uint8_t *row = pixels + rowbytes * y;

      rows[y] = row;
      for (int x = 0; x < w; x++)
        for (int k = 0; k < channels; k++)
          {
            unsigned v = get (src, y, x, k, bit_depth);
            size_t bit = ((size_t) x * channels + k) * bit_depth;

            if (bit_depth == 16)
              {
                row[bit / 8] = (uint8_t) (v >> 8);
                row[bit / 8 + 1] = (uint8_t) v;
              }
            else if (bit_depth == 8)
              row[bit / 8] = (uint8_t) v;
            else
              row[bit / 8] |= (uint8_t) (v << (8 - bit_depth - bit % 8));
          }
    }
  png_init_io (png, fp);
  png_set_IHDR (png, info, w, h, bit_depth, color_type,
                interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE)
    {
      png_color palette[256];
      png_byte alpha[4] = { 0, 128, 255, 255 };

      for (int i = 0; i < 256; i++)
        palette[i] = (png_color) { (png_byte) (i * 37), (png_byte) (i * 91), (png_byte) i };
      png_set_PLTE (png, info, palette, 1 << bit_depth);
      png_set_tRNS (png, info, alpha, MIN (4, 1 << bit_depth), NULL);
    }
  png_write_info (png, info);
  png_write_image (png, rows);
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  fclose (fp);
}

typedef struct {
  const uint8_t *data;  /* (h, w, 3) RGB or (h, w) class ids */
  int w;
} Pixels;

static unsigned
rgb_sample (const void *src, int y, int x, int k, int bit_depth)
{
  const Pixels *p = src;
  const uint8_t *px = p->data + ((size_t) y * p->w + x) * 3;
  unsigned v = k < 3 ? px[k] : 200u;  /* alpha */

  return bit_depth == 16 ? v * 257u : v >> (8 - bit_depth);
}

static unsigned
grey_sample (const void *src, int y, int x, int k, int bit_depth)
{
  const Pixels *p = src;
  const uint8_t *px = p->data + ((size_t) y * p->w + x) * 3;
  unsigned v = k == 0 ? (px[0] * 77u + px[1] * 150u + px[2] * 29u) >> 8 : 200u;

  return bit_depth == 16 ? v * 257u : v >> (8 - bit_depth);
}

static unsigned
class_sample (const void *src, int y, int x, int k, int bit_depth)
{
  const Pixels *p = src;
  unsigned v = p->data[(size_t) y * p->w + x];

  if (bit_depth < 8)
    v &= (1u << bit_depth) - 1;
  return v;
}

/* Class ids as RGB: the kind of mask the loader refuses. */
static unsigned
class_rgb_sample (const void *src, int y, int x, int k, int bit_depth)
{
  return class_sample (src, y, x, 0, bit_depth) * (k + 1);
}

static unsigned
out_of_range_sample (const void *src, int y, int x, int k, int bit_depth)
{
  unsigned v = class_sample (src, y, x, k, bit_depth);

  return x == 3 && y == 2 ? 200u : v;
}

static void
image_seeds (const char *image_path)
{
  g_autoptr (GError) error = NULL;
  g_autofree uint8_t *small = NULL;
  VgImage img = { 0 };
  Pixels p;
  static const struct {
    const char *name;
    int color_type, bit_depth;
    gboolean interlaced;
    SampleFunc get;
  } pngs[] = {
    { "rgb8.png", PNG_COLOR_TYPE_RGB, 8, FALSE, rgb_sample },
    { "rgb8-adam7.png", PNG_COLOR_TYPE_RGB, 8, TRUE, rgb_sample },
    { "rgb16.png", PNG_COLOR_TYPE_RGB, 16, FALSE, rgb_sample },
    { "rgba8.png", PNG_COLOR_TYPE_RGB_ALPHA, 8, FALSE, rgb_sample },
    { "rgba16.png", PNG_COLOR_TYPE_RGB_ALPHA, 16, TRUE, rgb_sample },
    { "grey1.png", PNG_COLOR_TYPE_GRAY, 1, FALSE, grey_sample },
    { "grey2.png", PNG_COLOR_TYPE_GRAY, 2, FALSE, grey_sample },
    { "grey4.png", PNG_COLOR_TYPE_GRAY, 4, TRUE, grey_sample },
    { "grey8.png", PNG_COLOR_TYPE_GRAY, 8, FALSE, grey_sample },
    { "grey16.png", PNG_COLOR_TYPE_GRAY, 16, FALSE, grey_sample },
    { "greya8.png", PNG_COLOR_TYPE_GRAY_ALPHA, 8, FALSE, grey_sample },
    { "greya16.png", PNG_COLOR_TYPE_GRAY_ALPHA, 16, FALSE, grey_sample },
    { "palette4.png", PNG_COLOR_TYPE_PALETTE, 4, FALSE, grey_sample },
    { "palette8.png", PNG_COLOR_TYPE_PALETTE, 8, TRUE, grey_sample },
  };

  if (!vg_image_load (&img, image_path, &error))
    die (image_path, error);
  copy_file (image_path, "image", "dataset.jpg");
  small = resize (img.data, img.height, img.width, 3, 24, 24);
  write_jpeg ("baseline.jpg", small, 24, 24, JPEG_BASELINE);
  write_jpeg ("progressive.jpg", small, 24, 24, JPEG_PROGRESSIVE);
  write_jpeg ("arithmetic.jpg", small, 24, 24, JPEG_ARITHMETIC);
  write_jpeg ("restart.jpg", small, 24, 24, JPEG_RESTART);
  write_jpeg ("yuv444.jpg", small, 24, 24, JPEG_444);
  write_jpeg ("grey.jpg", small, 24, 24, JPEG_GREY);
  write_jpeg ("cmyk.jpg", small, 24, 24, JPEG_CMYK);
  p = (Pixels) { small, 24 };
  for (size_t i = 0; i < G_N_ELEMENTS (pngs); i++)
    write_png ("image", pngs[i].name, 24, 24, pngs[i].color_type, pngs[i].bit_depth,
               pngs[i].interlaced, pngs[i].get, &p);
  vg_image_clear (&img);
}

static void
mask_seeds (const char *mask_path, const char *target, int size)
{
  g_autoptr (GError) error = NULL;
  g_autofree uint8_t *small = NULL;
  g_autofree uint8_t *odd = NULL;
  g_autofree char *saved = NULL;
  VgImage mask = { 0 };
  Pixels p, q;

  if (!vg_mask_load (&mask, mask_path, &error))
    die (mask_path, error);
  copy_file (mask_path, target, "dataset.png");
  small = resize (mask.data, mask.height, mask.width, 1, size, size);
  odd = resize (mask.data, mask.height, mask.width, 1, size - 7, size + 5);
  saved = seed_path (target, "vg-mask-save.png");
  if (!vg_mask_save (saved, small, size, size, &error))
    die (saved, error);
  p = (Pixels) { small, size };
  q = (Pixels) { odd, size + 5 };
  write_png (target, "palette8.png", size, size, PNG_COLOR_TYPE_PALETTE, 8, FALSE,
             class_sample, &p);
  write_png (target, "palette4.png", size, size, PNG_COLOR_TYPE_PALETTE, 4, FALSE,
             class_sample, &p);
  write_png (target, "palette2-adam7.png", size, size, PNG_COLOR_TYPE_PALETTE, 2, TRUE,
             class_sample, &p);
  write_png (target, "palette1.png", size, size, PNG_COLOR_TYPE_PALETTE, 1, FALSE,
             class_sample, &p);
  write_png (target, "grey8.png", size, size, PNG_COLOR_TYPE_GRAY, 8, FALSE, class_sample,
             &p);
  write_png (target, "grey16.png", size, size, PNG_COLOR_TYPE_GRAY, 16, FALSE, class_sample,
             &p);
  write_png (target, "grey4.png", size, size, PNG_COLOR_TYPE_GRAY, 4, FALSE, class_sample,
             &p);
  write_png (target, "rgb8.png", size, size, PNG_COLOR_TYPE_RGB, 8, FALSE, class_rgb_sample,
             &p);
  write_png (target, "out-of-range.png", size, size, PNG_COLOR_TYPE_GRAY, 8, FALSE,
             out_of_range_sample, &p);
  write_png (target, "wrong-size.png", size - 7, size + 5, PNG_COLOR_TYPE_PALETTE, 8, FALSE,
             class_sample, &q);
  vg_image_clear (&mask);
}

/* ---- safetensors ----------------------------------------------------------------------- */

static void
safetensors_seeds (void)
{
  static const float f32[6] = { 1.0f, -2.0f, 0.5f, 3.25f, -0.0f, 1e-8f };
  static const uint16_t f16[4] = { 0x3c00, 0xc000, 0x7c00, 0x0001 };
  static const uint16_t bf16[4] = { 0x3f80, 0xc000, 0x7f80, 0x7fc0 };
  static const int64_t i64[1] = { 42 };
  static const uint8_t u8[3] = { 1, 2, 3 };
  const VgTensorView all[] = {
    { "w", VG_DTYPE_F32, 2, { 2, 3 }, 6, f32, sizeof f32 },
    { "h", VG_DTYPE_F16, 1, { 4 }, 4, f16, sizeof f16 },
    { "b", VG_DTYPE_BF16, 2, { 2, 2 }, 4, bf16, sizeof bf16 },
    { "n", VG_DTYPE_I64, 0, { 0 }, 1, i64, sizeof i64 },
    { "u", VG_DTYPE_U8, 1, { 3 }, 3, u8, sizeof u8 },
    { "e", VG_DTYPE_F32, 2, { 0, 5 }, 0, f32, 0 },
  };
  const char *const meta[] = { "visage.config", "widths=8,8,8,8", "note", "\"quoted\" \\ é",
                               NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *a = seed_path ("safetensors", "all-dtypes.safetensors");
  g_autofree char *b = seed_path ("safetensors", "one.safetensors");
  g_autofree char *c = seed_path ("safetensors", "empty.safetensors");

  if (!vg_safetensors_write (a, all, G_N_ELEMENTS (all), meta, &error)
      || !vg_safetensors_write (b, all, 1, NULL, &error)
      || !vg_safetensors_write (c, all, 0, meta, &error))
    die ("safetensors seeds", error);
}

static void
config_seeds (void)
{
  static const char *const custom[] = {
    "widths=8,8,8,8 depths=1,1,1,1 heads=1,1,1,1 ratios=8,4,2,1 mlp=1 dim=8 head=bilinear",
    "widths=16,32,64,64 depths=1,2,1,1 heads=2,2,4,8 ratios=1,2,4,8 mlp=2 dim=32 head=tconv",
    "head=tconv",
    "  mlp=8\tdim=64\n",
  };
  int n = 0;

  for (const char *const *name = vg_config_names (); *name != NULL; name++)
    {
      VgConfig cfg;
      g_autofree char *spec = NULL;
      g_autofree char *path = NULL;

      vg_config_from_name (&cfg, *name, NULL);
      spec = vg_config_to_string (&cfg);
      path = seed_path ("config", *name);
      if (!g_file_set_contents (path, spec, -1, NULL))
        die (path, NULL);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (custom); i++)
    {
      g_autofree char *name = g_strdup_printf ("custom-%d", n++);
      g_autofree char *path = seed_path ("config", name);

      if (!g_file_set_contents (path, custom[i], -1, NULL))
        die (path, NULL);
    }
}

/* A split of a 32 x 32 and a 64 x 64 PNG (downscaled from the data set) and their masks. */
static void
split_seeds (const char *split_dir, const char *image_path, const char *mask_path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *images = g_build_filename (split_dir, "images", NULL);
  g_autofree char *masks = g_build_filename (split_dir, "masks", NULL);
  VgImage img = { 0 }, mask = { 0 };

  g_mkdir_with_parents (images, 0755);
  g_mkdir_with_parents (masks, 0755);
  if (!vg_image_load (&img, image_path, &error) || !vg_mask_load (&mask, mask_path, &error))
    die ("split", error);
  for (int i = 0; i < 2; i++)
    {
      g_autofree char *name = g_strdup_printf ("%d.png", i);
      g_autofree char *ip = g_build_filename (images, name, NULL);
      g_autofree char *mp = g_build_filename (masks, name, NULL);
      g_autofree uint8_t *rgb = resize (img.data, img.height, img.width, 3, 32 + 32 * i,
                                        32 + 32 * i);
      g_autofree uint8_t *m = resize (mask.data, mask.height, mask.width, 1, 32 + 32 * i,
                                      32 + 32 * i);

      if (!vg_image_save_png (ip, rgb, 32 + 32 * i, 32 + 32 * i, &error)
          || !vg_mask_save (mp, m, 32 + 32 * i, 32 + 32 * i, &error))
        die ("split", error);
    }
  vg_image_clear (&img);
  vg_image_clear (&mask);
}

/* The split's two cache files as the engine writes them (XDG_CACHE_HOME is set by main). */
static void
split_cache_seeds (const char *split_dir)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSplit) split = vg_split_open (split_dir, VG_SPLIT_REQUIRE_MASKS, 1, NULL,
                                             &error);
  g_autofree char *stats_path = NULL;
  g_autofree char *classes_path = NULL;
  VgSplitStats stats;

  if (split == NULL || !vg_split_stats_get (&stats, split, 1, NULL, NULL, &error)
      || !vg_split_classes_get (split, 1, NULL, NULL, &error))
    die ("split caches", error);
  stats_path = vg_split_stats_cache_path (split);
  classes_path = vg_split_classes_cache_path (split);
  copy_file (stats_path, "split_cache", "stats.json");
  copy_file (classes_path, "split_cache", "classes.json");
}

int
main (int argc, char **argv)
{
  g_autofree char *cache = NULL;

  if (argc != 5)
    {
      fprintf (stderr, "usage: fuzz-seeds CORPUS_DIR SPLIT_DIR IMAGE MASK\n");
      return 2;
    }
  corpus = argv[1];
  cache = g_build_filename (corpus, ".cache", NULL);
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  image_seeds (argv[3]);
  mask_seeds (argv[4], "mask", 24);
  mask_seeds (argv[4], "recovery", 16);
  safetensors_seeds ();
  config_seeds ();
  split_seeds (argv[2], argv[3], argv[4]);
  split_cache_seeds (argv[2]);
  return 0;
}
