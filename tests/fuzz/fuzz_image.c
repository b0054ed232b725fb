/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Photograph loading (engine/data/vg-image.c): format sniffing, libjpeg-turbo and libpng
 * behind their longjmp error handlers, every PNG colour type and bit depth, the size limit.
 *
 * Invariants: a refusal is a GError naming the file; a decoded image is RGB, fits its
 * buffer and has the size the header probe reports; loading again into the same VgImage
 * (the workers' reuse of buffers) gives the same pixels. */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "vg-image.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *path = fuzz_write ("input.img", data, size);
  g_autoptr (GError) error = NULL;
  g_autofree uint8_t *first = NULL;
  VgImageInfo info = { 0 };
  VgImage img = { 0 };
  gboolean probed, loaded;
  size_t bytes;

  probed = vg_image_probe (&info, path, &error);
  if (!probed)
    fuzz_check_error (error, path);
  g_clear_error (&error);

  loaded = vg_image_load (&img, path, &error);
  if (!loaded)
    {
      fuzz_check_error (error, path);
      vg_image_clear (&img);
      return 0;
    }
  bytes = (size_t) img.height * img.width * 3;
  if (img.channels != 3 || img.height <= 0 || img.width <= 0 || bytes > img.capacity)
    fuzz_fail ("decoded %d x %d x %d into %zu bytes", img.width, img.height, img.channels,
               img.capacity);
  if (!probed || info.height != img.height || info.width != img.width)
    fuzz_fail ("the probe says %d x %d (%s), the decoder %d x %d", info.width, info.height,
               probed ? "ok" : "failed", img.width, img.height);
  first = g_memdup2 (img.data, bytes);
  if (!vg_image_load (&img, path, &error))
    fuzz_fail ("a second load fails: %s", error->message);
  if (memcmp (first, img.data, bytes) != 0)
    fuzz_fail ("a second load decodes other pixels");
  vg_image_clear (&img);
  return 0;
}
