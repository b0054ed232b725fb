/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Mask loading (engine/data/vg-image.c): palette PNGs of 1, 2, 4 or 8 bits read as
 * indices, 8-bit grey read as values, every other kind refused (RGB, grey+alpha, 16-bit,
 * JPEG), then the class-id check of vg_mask_check (values above 18).
 *
 * Invariants: a refusal is a GError naming the file; a loaded mask has one channel and the
 * size the probe reports; vg_mask_probe accepts every mask vg_mask_load decodes; the
 * class check names the first bad value, and a mask that passes it writes (vg_mask_save)
 * and reads back unchanged. */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "fuzz-common.h"
#include "vg-classes.h"
#include "vg-image.h"

static void
check_roundtrip (const VgImage *mask)
{
  g_autofree char *path = g_build_filename (fuzz_dir (), "saved.png", NULL);
  g_autoptr (GError) error = NULL;
  VgImage back = { 0 };

  if (!vg_mask_save (path, mask->data, mask->height, mask->width, &error))
    fuzz_fail ("a valid mask cannot be saved: %s", error->message);
  if (!vg_mask_load (&back, path, &error))
    fuzz_fail ("a saved mask cannot be loaded: %s", error->message);
  if (back.height != mask->height || back.width != mask->width
      || memcmp (back.data, mask->data, (size_t) mask->height * mask->width) != 0)
    fuzz_fail ("a saved mask reads back changed");
  vg_image_clear (&back);
  g_unlink (path);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *path = fuzz_write ("input.png", data, size);
  g_autoptr (GError) error = NULL;
  VgImageInfo info = { 0 };
  VgImage mask = { 0 };
  gboolean probed;
  size_t n;

  probed = vg_mask_probe (&info, path, &error);
  if (!probed)
    fuzz_check_error (error, path);
  g_clear_error (&error);

  if (!vg_mask_load (&mask, path, &error))
    {
      fuzz_check_error (error, path);
      vg_image_clear (&mask);
      return 0;
    }
  n = (size_t) mask.height * mask.width;
  if (mask.channels != 1 || mask.height <= 0 || mask.width <= 0 || n > mask.capacity)
    fuzz_fail ("decoded a mask of %d x %d x %d into %zu bytes", mask.width, mask.height,
               mask.channels, mask.capacity);
  if (!probed || info.height != mask.height || info.width != mask.width)
    fuzz_fail ("the mask probe says %d x %d (%s), the decoder %d x %d", info.width,
               info.height, probed ? "ok" : "failed", mask.width, mask.height);
  if (vg_mask_check (mask.data, n, mask.width, path, &error))
    {
      for (size_t i = 0; i < n; i++)
        if (mask.data[i] >= VG_NUM_CLASSES)
          fuzz_fail ("value %d passed the class check", mask.data[i]);
      /* Round trips only for small masks: the writer compresses, which is slow. */
      if (n <= 256 * 256)
        check_roundtrip (&mask);
    }
  else
    fuzz_check_error (error, path);
  vg_image_clear (&mask);
  return 0;
}
