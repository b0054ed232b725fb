/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JPEG (libjpeg-turbo) and PNG (libpng) decoding, and the one PNG writer.
 *
 * Both libraries report errors by calling a handler that must not return; their default
 * handlers exit() (libjpeg) or abort. Here each handler copies the message and longjmp()s
 * back to a guarded function. The guarded functions keep everything they need after the
 * jump in a context struct that lives in the caller's frame, so no local variable of the
 * function that called setjmp() is read after a longjmp (C11 7.13.2.1). */
#define G_LOG_DOMAIN "visage-data"

#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "vg-atomic-file.h"
#include "vg-classes.h"
#include "vg-image.h"
#include "vg-input-file.h"

/* Larger pictures are refused before allocating: 2^28 pixels is a 16k x 16k photograph,
 * far beyond this application's needs, and a forged header cannot make us allocate more. */
#define MAX_PIXELS ((size_t) 1 << 28)

G_DEFINE_QUARK (vg-data-error-quark, vg_data_error)

void
vg_image_clear (VgImage *img)
{
  g_free (img->data);
  memset (img, 0, sizeof *img);
}

/* Make room for bytes at img->data, keeping the old buffer when it is large enough. */
static gboolean
image_reserve (VgImage *img, int height, int width, int channels, const char *path,
               GError **error)
{
  size_t pixels = (size_t) height * (size_t) width;
  size_t bytes = pixels * (size_t) channels;

  if (height <= 0 || width <= 0 || pixels > MAX_PIXELS)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_FORMAT,
                   "%s: image size %d x %d is not supported", path, width, height);
      return FALSE;
    }
  if (bytes > img->capacity)
    {
      uint8_t *data = g_try_realloc (img->data, bytes);
      if (data == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                       "%s: out of memory for a %d x %d image", path, width, height);
          return FALSE;
        }
      img->data = data;
      img->capacity = bytes;
    }
  return TRUE;
}

static gboolean
set_errno_error (GError **error, int saved_errno, const char *path, const char *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s: %s", path,
               what, g_strerror (saved_errno));
  return FALSE;
}

/* Open path and read its first bytes to tell the format; leaves fp at offset 0. */
static FILE *
open_and_sniff (const char *path, VgImageFormat *format, GError **error)
{
  uint8_t sig[8];
  size_t got;
  FILE *fp = vg_input_file_fopen (path, error);

  if (fp == NULL)
    return NULL;
  got = fread (sig, 1, sizeof sig, fp);
  if (ferror (fp))
    {
      set_errno_error (error, errno, path, "cannot read");
      fclose (fp);
      return NULL;
    }
  if (got == 0)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_CORRUPT, "%s: empty file", path);
      fclose (fp);
      return NULL;
    }
  if (got >= 3 && sig[0] == 0xff && sig[1] == 0xd8 && sig[2] == 0xff)
    *format = VG_IMAGE_FORMAT_JPEG;
  else if (got == sizeof sig && png_sig_cmp (sig, 0, sizeof sig) == 0)
    *format = VG_IMAGE_FORMAT_PNG;
  else
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_CORRUPT,
                   "%s: not a JPEG or PNG file (starts with %02x %02x %02x)", path, sig[0],
                   got > 1 ? sig[1] : 0, got > 2 ? sig[2] : 0);
      fclose (fp);
      return NULL;
    }
  rewind (fp);
  return fp;
}

/* ---- JPEG ------------------------------------------------------------------------------ */

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  int error_code;                        /* VgDataError of the fatal error */
  char message[JMSG_LENGTH_MAX];
  int damage_code;                       /* first warning that means damaged pixels */
  char damage_message[JMSG_LENGTH_MAX];
} JpegErrorMgr;

typedef struct {
  struct jpeg_decompress_struct cinfo;
  JpegErrorMgr err;
  FILE *fp;
  VgImage *img;      /* NULL: header only */
  VgImageInfo *info;
  const char *path;
  GError **error;
} JpegReadCtx;

static void
jpeg_error_exit_cb (j_common_ptr cinfo)
{
  JpegErrorMgr *err = (JpegErrorMgr *) cinfo->err;

  err->pub.format_message (cinfo, err->message);
  err->error_code = err->pub.msg_code == JERR_CONVERSION_NOTIMPL
                      ? VG_DATA_ERROR_FORMAT : VG_DATA_ERROR_CORRUPT;
  longjmp (err->jump, 1);
}

/* libjpeg treats a truncated file as a warning (it inserts a fake end marker and fills the
 * rest with grey), and so are the other "Corrupt JPEG data" findings: a bad Huffman or
 * arithmetic code, or extraneous bytes before a marker (what bytes inserted into the
 * compressed data leave behind; the pixels decoded before them may already be garbage).
 * For training and evaluation that is a damaged sample, so those warnings become errors.
 * Benign warnings (an unknown JFIF revision or Adobe transform code) are ignored. */
static void
jpeg_emit_message_cb (j_common_ptr cinfo, int level)
{
  JpegErrorMgr *err = (JpegErrorMgr *) cinfo->err;
  int code = err->pub.msg_code;
  char message[JMSG_LENGTH_MAX];

  if (level >= 0)
    return;
  err->pub.num_warnings++;
  if (err->damage_code != 0)
    return;
  /* By message as well as by code: JWRN_ARITH_BAD_CODE exists only in some builds. */
  err->pub.format_message (cinfo, message);
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE
      || code == JWRN_EXTRANEOUS_DATA || code == JWRN_MUST_RESYNC
      || code == JWRN_BOGUS_PROGRESSION || code == JWRN_NOT_SEQUENTIAL
      || g_str_has_prefix (message, "Corrupt JPEG data"))
    {
      err->damage_code = code;
      memcpy (err->damage_message, message, sizeof message);
    }
}

/* The only function that calls setjmp() for JPEG; everything it touches is in ctx. */
static gboolean
jpeg_read_guarded (JpegReadCtx *ctx)
{
  struct jpeg_decompress_struct *cinfo = &ctx->cinfo;

  cinfo->err = jpeg_std_error (&ctx->err.pub);
  ctx->err.pub.error_exit = jpeg_error_exit_cb;
  ctx->err.pub.emit_message = jpeg_emit_message_cb;
  ctx->err.damage_code = 0;
  if (setjmp (ctx->err.jump))
    {
      jpeg_destroy_decompress (cinfo);
      g_set_error (ctx->error, VG_DATA_ERROR, ctx->err.error_code, "%s: %s", ctx->path,
                   ctx->err.message);
      return FALSE;
    }
  jpeg_create_decompress (cinfo);
  jpeg_stdio_src (cinfo, ctx->fp);
  jpeg_read_header (cinfo, TRUE);
  if (ctx->info != NULL)
    {
      ctx->info->format = VG_IMAGE_FORMAT_JPEG;
      ctx->info->height = cinfo->image_height;
      ctx->info->width = cinfo->image_width;
      ctx->info->png_color_type = -1;
      ctx->info->bit_depth = cinfo->data_precision;
    }
  if (ctx->img == NULL)
    {
      jpeg_destroy_decompress (cinfo);
      return TRUE;
    }
  if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK)
    {
      jpeg_destroy_decompress (cinfo);
      g_set_error (ctx->error, VG_DATA_ERROR, VG_DATA_ERROR_FORMAT,
                   "%s: CMYK JPEG images are not supported", ctx->path);
      return FALSE;
    }
  cinfo->out_color_space = JCS_RGB;
  jpeg_start_decompress (cinfo);
  if (cinfo->output_components != 3
      || !image_reserve (ctx->img, cinfo->output_height, cinfo->output_width, 3, ctx->path,
                         ctx->error))
    {
      if (cinfo->output_components != 3)
        g_set_error (ctx->error, VG_DATA_ERROR, VG_DATA_ERROR_FORMAT,
                     "%s: JPEG decodes to %d channels, not RGB", ctx->path,
                     cinfo->output_components);
      jpeg_destroy_decompress (cinfo);
      return FALSE;
    }
  /* Stop at the first damage: a header that claims 16000 x 16000 over a few bytes of
   * data would otherwise have libjpeg fill the whole buffer with grey (768 MB) first. */
  while (cinfo->output_scanline < cinfo->output_height && ctx->err.damage_code == 0)
    {
      JSAMPROW row = ctx->img->data + (size_t) cinfo->output_scanline * cinfo->output_width * 3;
      jpeg_read_scanlines (cinfo, &row, 1);
    }
  if (ctx->err.damage_code == 0)
    jpeg_finish_decompress (cinfo);
  ctx->img->height = cinfo->output_height;
  ctx->img->width = cinfo->output_width;
  ctx->img->channels = 3;
  jpeg_destroy_decompress (cinfo);
  if (ctx->err.damage_code != 0)
    {
      g_set_error (ctx->error, VG_DATA_ERROR, VG_DATA_ERROR_CORRUPT,
                   "%s: truncated or corrupt JPEG (%s)", ctx->path, ctx->err.damage_message);
      return FALSE;
    }
  return TRUE;
}

/* ---- PNG ------------------------------------------------------------------------------- */

typedef enum {
  PNG_READ_HEADER,
  PNG_READ_RGB,
  PNG_READ_MASK,
} PngReadMode;

typedef struct {
  png_structp png;
  png_infop pinfo;
  png_bytep *rows;      /* (height) row pointers into img->data */
  char message[256];    /* set by the error callback */
  FILE *fp;
  PngReadMode mode;
  VgImage *img;
  VgImageInfo *info;
  const char *path;
  GError **error;
} PngReadCtx;

static void
png_error_cb (png_structp png, png_const_charp msg)
{
  char *message = png_get_error_ptr (png);

  g_strlcpy (message, msg, 256);
  png_longjmp (png, 1);
}

/* Warnings (a bad ancillary chunk, an sRGB profile mismatch) do not affect the pixels. */
static void
png_warning_cb (png_structp png, png_const_charp msg)
{
  g_debug ("libpng: %s", msg);
}

static const char *
png_color_type_name (int color_type)
{
  switch (color_type)
    {
    case PNG_COLOR_TYPE_GRAY: return "greyscale";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "greyscale+alpha";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    default: return "unknown";
    }
}

static gboolean
png_read_guarded (PngReadCtx *ctx)
{
  png_uint_32 width, height;
  int bit_depth, color_type, interlace, channels;

  if (setjmp (png_jmpbuf (ctx->png)))
    {
      g_set_error (ctx->error, VG_DATA_ERROR, VG_DATA_ERROR_CORRUPT,
                   "%s: corrupt or truncated PNG (%s)", ctx->path, ctx->message);
      return FALSE;
    }
  png_init_io (ctx->png, ctx->fp);
  png_read_info (ctx->png, ctx->pinfo);
  png_get_IHDR (ctx->png, ctx->pinfo, &width, &height, &bit_depth, &color_type, &interlace,
                NULL, NULL);
  if (ctx->info != NULL)
    {
      ctx->info->format = VG_IMAGE_FORMAT_PNG;
      ctx->info->height = height;
      ctx->info->width = width;
      ctx->info->png_color_type = color_type;
      ctx->info->bit_depth = bit_depth;
    }
  if (ctx->mode == PNG_READ_HEADER)
    return TRUE;

  if (ctx->mode == PNG_READ_MASK)
    {
      if (color_type == PNG_COLOR_TYPE_PALETTE)
        {
          /* Unpack 1/2/4-bit indices to one byte each, without looking them up. */
          if (bit_depth < 8)
            png_set_packing (ctx->png);
        }
      else if (!(color_type == PNG_COLOR_TYPE_GRAY && bit_depth == 8))
        {
          g_set_error (ctx->error, VG_DATA_ERROR, VG_DATA_ERROR_FORMAT,
                       "%s: a mask must be an 8-bit palette or greyscale PNG of class ids; "
                       "this one is %d-bit %s", ctx->path, bit_depth,
                       png_color_type_name (color_type));
          return FALSE;
        }
      channels = 1;
    }
  else
    {
      if (color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb (ctx->png);
      if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8 (ctx->png);
      if (bit_depth == 16)
        png_set_scale_16 (ctx->png);
      if (color_type & PNG_COLOR_MASK_ALPHA)
        png_set_strip_alpha (ctx->png);
      if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb (ctx->png);
      channels = 3;
    }
  png_set_interlace_handling (ctx->png);
  png_read_update_info (ctx->png, ctx->pinfo);
  if (png_get_rowbytes (ctx->png, ctx->pinfo) != (size_t) width * channels)
    {
      g_set_error (ctx->error, VG_DATA_ERROR, VG_DATA_ERROR_FORMAT,
                   "%s: unexpected PNG row layout (%d-bit %s)", ctx->path, bit_depth,
                   png_color_type_name (color_type));
      return FALSE;
    }
  if (!image_reserve (ctx->img, height, width, channels, ctx->path, ctx->error))
    return FALSE;
  ctx->rows = g_new (png_bytep, height);
  for (png_uint_32 y = 0; y < height; y++)
    ctx->rows[y] = ctx->img->data + (size_t) y * width * channels;
  png_read_image (ctx->png, ctx->rows);
  png_read_end (ctx->png, NULL);
  ctx->img->height = height;
  ctx->img->width = width;
  ctx->img->channels = channels;
  return TRUE;
}

static gboolean
read_png (FILE *fp, PngReadMode mode, VgImage *img, VgImageInfo *info, const char *path,
          GError **error)
{
  PngReadCtx ctx = { .fp = fp, .mode = mode, .img = img, .info = info, .path = path,
                     .error = error };
  gboolean ok;

  ctx.png = png_create_read_struct (PNG_LIBPNG_VER_STRING, ctx.message, png_error_cb,
                                    png_warning_cb);
  if (ctx.png != NULL)
    ctx.pinfo = png_create_info_struct (ctx.png);
  if (ctx.png == NULL || ctx.pinfo == NULL)
    {
      png_destroy_read_struct (&ctx.png, NULL, NULL);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "%s: out of memory", path);
      return FALSE;
    }
  ok = png_read_guarded (&ctx);
  png_destroy_read_struct (&ctx.png, &ctx.pinfo, NULL);
  g_free (ctx.rows);
  return ok;
}

static gboolean
read_jpeg (FILE *fp, VgImage *img, VgImageInfo *info, const char *path, GError **error)
{
  /* Large (libjpeg's state is over 600 bytes) and only used here: keep it off callers. */
  JpegReadCtx *ctx = g_new0 (JpegReadCtx, 1);
  gboolean ok;

  ctx->fp = fp;
  ctx->img = img;
  ctx->info = info;
  ctx->path = path;
  ctx->error = error;
  ok = jpeg_read_guarded (ctx);
  g_free (ctx);
  return ok;
}

/* ---- public readers -------------------------------------------------------------------- */

static gboolean
mask_refuse_jpeg (const char *path, GError **error)
{
  g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_FORMAT,
               "%s: a mask must be a PNG of class ids; this is a JPEG, whose lossy "
               "compression changes the ids", path);
  return FALSE;
}

/* Opens path, reads what mode says from the PNG or JPEG it is (the header into info, or
 * the pixels into img; a JPEG is refused as a mask), and closes it. */
static gboolean
read_file (const char *path, PngReadMode mode, VgImage *img, VgImageInfo *info,
           GError **error)
{
  VgImageFormat format;
  gboolean ok;
  FILE *fp = open_and_sniff (path, &format, error);

  if (fp == NULL)
    return FALSE;
  if (format != VG_IMAGE_FORMAT_JPEG)
    ok = read_png (fp, mode, img, info, path, error);
  else if (mode == PNG_READ_MASK)
    ok = mask_refuse_jpeg (path, error);
  else
    ok = read_jpeg (fp, img, info, path, error);
  fclose (fp);
  return ok;
}

gboolean
vg_image_probe (VgImageInfo *info, const char *path, GError **error)
{
  return read_file (path, PNG_READ_HEADER, NULL, info, error);
}

gboolean
vg_image_load (VgImage *img, const char *path, GError **error)
{
  return read_file (path, PNG_READ_RGB, img, NULL, error);
}

gboolean
vg_mask_load (VgImage *mask, const char *path, GError **error)
{
  return read_file (path, PNG_READ_MASK, mask, NULL, error);
}

gboolean
vg_mask_probe (VgImageInfo *info, const char *path, GError **error)
{
  if (!vg_image_probe (info, path, error))
    return FALSE;
  if (info->format == VG_IMAGE_FORMAT_JPEG)
    return mask_refuse_jpeg (path, error);
  if (info->png_color_type == PNG_COLOR_TYPE_PALETTE
      || (info->png_color_type == PNG_COLOR_TYPE_GRAY && info->bit_depth == 8))
    return TRUE;
  g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_FORMAT,
               "%s: a mask must be an 8-bit palette or greyscale PNG of class ids; "
               "this one is %d-bit %s", path, info->bit_depth,
               png_color_type_name (info->png_color_type));
  return FALSE;
}

gboolean
vg_mask_check (const uint8_t *mask, size_t n, int width, const char *path, GError **error)
{
  for (size_t i = 0; i < n; i++)
    if (mask[i] >= VG_NUM_CLASSES)
      {
        g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_VALUE,
                     "%s: value %d at (%d, %d) is not a class id (0..%d)", path, mask[i],
                     (int) (i % width), (int) (i / width), VG_NUM_CLASSES - 1);
        return FALSE;
      }
  return TRUE;
}

/* ---- PNG writer ------------------------------------------------------------------------ */

/* The one PNG encoder of the engine: masks (palette of the classes), grey index maps and
 * RGB pictures, into memory; the files are written from there by the one atomic write. */

typedef enum {
  PNG_PIXELS_CLASSES,  /* (H, W) class ids, with the data set's 19-colour palette */
  PNG_PIXELS_GREY,     /* (H, W) 8-bit grey, value = class */
  PNG_PIXELS_RGB,      /* (H, W, 3) */
} PngPixels;

typedef struct {
  png_structp png;
  png_infop pinfo;
  char message[256];
  GByteArray *out;
  const uint8_t *pixels; /* (height, width, 1 or 3) */
  int height;
  int width;
  PngPixels kind;
} PngWriteCtx;

static void
png_write_cb (png_structp png, png_bytep data, size_t length)
{
  PngWriteCtx *ctx = png_get_io_ptr (png);

  g_byte_array_append (ctx->out, data, (guint) length);
}

/* Memory: nothing to flush. */
static void
png_flush_cb (png_structp png)
{
}

static gboolean
png_write_guarded (PngWriteCtx *ctx)
{
  int channels = ctx->kind == PNG_PIXELS_RGB ? 3 : 1;

  if (setjmp (png_jmpbuf (ctx->png)))
    return FALSE;
  png_set_write_fn (ctx->png, ctx, png_write_cb, png_flush_cb);
  png_set_IHDR (ctx->png, ctx->pinfo, ctx->width, ctx->height, 8,
                ctx->kind == PNG_PIXELS_RGB ? PNG_COLOR_TYPE_RGB
                : ctx->kind == PNG_PIXELS_GREY ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_PALETTE,
                PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (ctx->kind == PNG_PIXELS_CLASSES)
    {
      png_color palette[VG_NUM_CLASSES];
      for (int c = 0; c < VG_NUM_CLASSES; c++)
        {
          const uint8_t *rgb = vg_class_rgb (c);
          palette[c].red = rgb[0];
          palette[c].green = rgb[1];
          palette[c].blue = rgb[2];
        }
      png_set_PLTE (ctx->png, ctx->pinfo, palette, VG_NUM_CLASSES);
    }
  /* Filters do not help index images (the PNG spec's advice) and cost time. */
  if (ctx->kind != PNG_PIXELS_RGB)
    png_set_filter (ctx->png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
  png_write_info (ctx->png, ctx->pinfo);
  for (int y = 0; y < ctx->height; y++)
    png_write_row (ctx->png, (png_const_bytep) ctx->pixels + (size_t) y * ctx->width * channels);
  png_write_end (ctx->png, ctx->pinfo);
  return TRUE;
}

/* Everything after the jump lives in ctx, never in the guarded function's frame. */
static GBytes *
png_encode (const uint8_t *pixels, int height, int width, PngPixels kind, GError **error)
{
  PngWriteCtx ctx = { .pixels = pixels, .height = height, .width = width, .kind = kind };
  gboolean ok;

  if (height <= 0 || width <= 0 || (size_t) height * width > MAX_PIXELS)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID,
                   "cannot encode a %d x %d image", width, height);
      return NULL;
    }
  ctx.out = g_byte_array_new ();
  ctx.png = png_create_write_struct (PNG_LIBPNG_VER_STRING, ctx.message, png_error_cb,
                                     png_warning_cb);
  if (ctx.png != NULL)
    ctx.pinfo = png_create_info_struct (ctx.png);
  ok = ctx.png != NULL && ctx.pinfo != NULL && png_write_guarded (&ctx);
  png_destroy_write_struct (&ctx.png, &ctx.pinfo);
  if (!ok)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID, "PNG encoder: %s",
                   ctx.message[0] ? ctx.message : "out of memory");
      g_byte_array_unref (ctx.out);
      return NULL;
    }
  return g_byte_array_free_to_bytes (ctx.out);
}

/* Encode and write path through the one atomic write; errors name path. */
static gboolean
save_png (const char *path, const uint8_t *pixels, int height, int width, PngPixels kind,
          GError **error)
{
  g_autoptr (GBytes) png = png_encode (pixels, height, width, kind, error);
  const char *data;
  gsize len;

  if (png == NULL)
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  data = g_bytes_get_data (png, &len);
  return vg_atomic_file_set_contents (path, data, len, error);
}

GBytes *
vg_mask_encode_png (const uint8_t *mask, int height, int width, gboolean palette,
                    GError **error)
{
  if (palette && height > 0 && width > 0
      && !vg_mask_check (mask, (size_t) height * width, width, "mask", error))
    return NULL;
  return png_encode (mask, height, width, palette ? PNG_PIXELS_CLASSES : PNG_PIXELS_GREY,
                     error);
}

gboolean
vg_mask_save (const char *path, const uint8_t *mask, int height, int width, GError **error)
{
  if (height > 0 && width > 0
      && !vg_mask_check (mask, (size_t) height * width, width, path, error))
    return FALSE;
  return save_png (path, mask, height, width, PNG_PIXELS_CLASSES, error);
}

gboolean
vg_mask_save_grey (const char *path, const uint8_t *mask, int height, int width,
                   GError **error)
{
  return save_png (path, mask, height, width, PNG_PIXELS_GREY, error);
}

gboolean
vg_image_save_png (const char *path, const uint8_t *rgb, int height, int width, GError **error)
{
  return save_png (path, rgb, height, width, PNG_PIXELS_RGB, error);
}
