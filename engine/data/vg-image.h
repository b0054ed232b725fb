/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Image and mask files: JPEG and PNG photographs in, palette PNG masks in and out.
 *
 * Photographs decode to 8-bit RGB, channels-last (H, W, 3), whatever the file's colour
 * type. Masks are 8-bit palette PNGs read as palette *indices* (the class ids of the data
 * set, never the palette colours) or 8-bit greyscale PNGs read as values; other mask
 * files are refused with an error saying what was found. The format is taken from the
 * file's first bytes, not from its name.
 *
 * Every failure is a GError whose message starts with the file's path: system errors
 * (open, read, write, rename) in G_IO_ERROR, bad content in VG_DATA_ERROR. A corrupt or
 * truncated file never exits the process (libjpeg's and libpng's default handlers would). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <gio/gio.h>

#define VG_DATA_ERROR (vg_data_error_quark ())
GQuark vg_data_error_quark (void);

typedef enum {
  VG_DATA_ERROR_CORRUPT,   /* not a JPEG/PNG, truncated or damaged data */
  VG_DATA_ERROR_FORMAT,    /* readable but unsupported here (RGB or 16-bit mask, CMYK) */
  VG_DATA_ERROR_SIZE,      /* mask and image sizes differ, or a batch needs another size */
  VG_DATA_ERROR_VALUE,     /* mask value above the last class (18) */
  VG_DATA_ERROR_MISSING,   /* an image has no mask of the same name */
  VG_DATA_ERROR_EMPTY,     /* a split without usable samples */
  VG_DATA_ERROR_INVALID,   /* a bad argument from the caller (sizes, batch use) */
} VgDataError;

typedef enum {
  VG_IMAGE_FORMAT_UNKNOWN = 0,
  VG_IMAGE_FORMAT_JPEG,
  VG_IMAGE_FORMAT_PNG,
} VgImageFormat;

/* A decoded picture. Zero-initialise it; the load functions reuse data when capacity is
 * enough, so a worker that loads many files into one VgImage allocates only when a larger
 * file comes along. */
typedef struct {
  uint8_t *data;    /* (height, width, channels) */
  int height;
  int width;
  int channels;     /* 3 for photographs, 1 for masks */
  size_t capacity;  /* bytes allocated at data */
} VgImage;

/* What the header says, without decoding pixels. */
typedef struct {
  VgImageFormat format;
  int height;
  int width;
  int png_color_type;  /* PNG_COLOR_TYPE_*; -1 for JPEG */
  int bit_depth;       /* bits per sample */
} VgImageInfo;

void vg_image_clear (VgImage *img);

/* Read the header only (JPEG markers up to the frame header, PNG IHDR). */
gboolean vg_image_probe (VgImageInfo *info, const char *path, GError **error);

/* Decode a JPEG or PNG file into 8-bit RGB (H, W, 3). PNG palettes are expanded, grey is
 * replicated, 16-bit samples scaled to 8 bits and alpha dropped. */
gboolean vg_image_load (VgImage *img, const char *path, GError **error);

/* Decode a mask PNG into (H, W, 1): palette indices of a palette PNG (1, 2, 4 or 8 bits),
 * values of an 8-bit greyscale PNG. RGB, grey+alpha or 16-bit files are refused
 * (VG_DATA_ERROR_FORMAT). Values are not range-checked here: see vg_mask_check(). */
gboolean vg_mask_load (VgImage *mask, const char *path, GError **error);

/* VG_DATA_ERROR_FORMAT unless the header describes a mask vg_mask_load() accepts. */
gboolean vg_mask_probe (VgImageInfo *info, const char *path, GError **error);

/* Check that every value of mask (n) is a class id (< VG_NUM_CLASSES); the error names
 * path, the first bad value and its position (x, y) in a mask of the given width. */
gboolean vg_mask_check (const uint8_t *mask, size_t n, int width, const char *path,
                        GError **error);

/* Write mask (H, W) of class ids as an 8-bit palette PNG with the data set's 19-colour
 * palette. Atomic: written to a temporary file beside path, synced, then renamed over it,
 * so a full disk or a crash never leaves a partial file under the final name. */
gboolean vg_mask_save (const char *path, const uint8_t *mask, int height, int width,
                       GError **error);

/* Write rgb (H, W, 3) as an 8-bit RGB PNG, atomically like vg_mask_save(). */
gboolean vg_image_save_png (const char *path, const uint8_t *rgb, int height, int width,
                            GError **error);

/* Write an 8-bit grey index PNG (value = class), atomically like vg_mask_save(). */
gboolean vg_mask_save_grey (const char *path, const uint8_t *mask, int height, int width,
                            GError **error);

/* Encode a class map (H, W) as an 8-bit PNG in memory: with palette the data set's
 * 19-colour palette (what vg_mask_save writes; every value must be a class), otherwise
 * 8-bit grey, value = class. */
GBytes *vg_mask_encode_png (const uint8_t *mask, int height, int width, gboolean palette,
                            GError **error);
