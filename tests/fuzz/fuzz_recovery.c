/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The workbench's annotation recovery file (~/.local/share/visage/recovery/<hash>.png,
 * read back by visage_annotation_recover in ui/visage-annotation.c): the same engine calls
 * in the same order, without GTK -- vg_mask_load, the size check against the image being
 * edited, vg_mask_check, then vg_mask_edit_replace as one undoable stroke.
 *
 * The image being edited is as large as the recovery file says when that is at most
 * 512 x 512 (so that the replace path is reached), else 32 x 32 (the size check refuses).
 * Invariants: a refusal names the file; a replaced mask equals the file's, undo gives the
 * previous mask back and redo the recovered one. */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "vg-image.h"
#include "vg-mask-edit.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *path = fuzz_write ("recovery.png", data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (VgMaskEdit) edit = NULL;
  g_autofree uint8_t *before = NULL;
  VgImageInfo info = { 0 };
  VgImage mask = { 0 };
  int height = 32, width = 32;
  size_t n;

  if (vg_mask_probe (&info, path, NULL) && info.height > 0 && info.height <= 512
      && info.width > 0 && info.width <= 512)
    {
      height = info.height;
      width = info.width;
    }
  n = (size_t) height * width;
  before = g_malloc0 (n);
  before[0] = 1;  /* a mask the file is unlikely to repeat, so that undo is seen */
  edit = vg_mask_edit_new (before, height, width, &error);
  if (edit == NULL)
    fuzz_fail ("cannot make a %d x %d mask: %s", width, height, error->message);

  /* visage_annotation_recover */
  if (!vg_mask_load (&mask, path, &error))
    goto refused;
  if (mask.height != height || mask.width != width)
    goto out;
  if (!vg_mask_check (mask.data, n, width, path, &error))
    goto refused;
  vg_mask_edit_end (edit);
  if (vg_mask_edit_replace (edit, mask.data) < 0)
    fuzz_fail ("replace refused a checked mask");

  if (memcmp (vg_mask_edit_get_data (edit), mask.data, n) != 0)
    fuzz_fail ("the recovered mask differs from the file");
  if (memcmp (before, mask.data, n) != 0)
    {
      if (!vg_mask_edit_undo (edit) || memcmp (vg_mask_edit_get_data (edit), before, n) != 0)
        fuzz_fail ("undo does not restore the mask before recovery");
      if (!vg_mask_edit_redo (edit)
          || memcmp (vg_mask_edit_get_data (edit), mask.data, n) != 0)
        fuzz_fail ("redo does not restore the recovered mask");
    }
  goto out;

refused:
  fuzz_check_error (error, path);
out:
  vg_image_clear (&mask);
  return 0;
}
