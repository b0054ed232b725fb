/* SPDX-License-Identifier: GPL-3.0-or-later */
/* An editable class mask with painting tools and per-stroke undo (no GTK).
 *
 * Coordinates are image pixels, continuous: pixel (i, j) covers [i, i+1) x [j, j+1) and
 * its centre is (i + 0.5, j + 0.5). A tool changes the pixels whose centre it covers.
 *
 * Every change belongs to a stroke: vg_mask_edit_begin() opens one, the tools add to it,
 * vg_mask_edit_end() closes it and records it on the undo stack as a difference -- the
 * list of (pixel index, old class, new class) for each pixel it changed, in increasing
 * index order -- never as a copy of the mask. A tool called with no stroke open is a stroke
 * of its own. Recording a stroke drops whatever could be redone.
 *
 * Protection: with a protected class X set (vg_mask_edit_set_protect), the painting tools
 * (brush, erase, flood fill, polygon fill, swaps) change only pixels whose class is X now:
 * "paint only over X". vg_mask_edit_replace() (start from the prediction, recovery) ignores
 * protection: it sets every pixel. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

typedef struct _VgMaskEdit VgMaskEdit;

/* One changed pixel of a stroke. */
typedef struct {
  uint32_t index;  /* y * width + x */
  uint8_t before;
  uint8_t after;
} VgMaskChange;

/* A new editable mask (height, width), a copy of mask, or all background (class 0) when
 * mask is NULL. NULL with VG_DATA_ERROR_INVALID for a bad size or a value above 18. */
VgMaskEdit *vg_mask_edit_new (const uint8_t *mask, int height, int width, GError **error);
void vg_mask_edit_free (VgMaskEdit *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgMaskEdit, vg_mask_edit_free)

const uint8_t *vg_mask_edit_get_data (const VgMaskEdit *self);  /* (height, width) */
int vg_mask_edit_get_height (const VgMaskEdit *self);
int vg_mask_edit_get_width (const VgMaskEdit *self);
/* The class at (x, y), or -1 outside the mask. */
int vg_mask_edit_get (const VgMaskEdit *self, int x, int y);

/* Protected class: -1 (default) for none, else only pixels of this class are painted. */
void vg_mask_edit_set_protect (VgMaskEdit *self, int cls);
int vg_mask_edit_get_protect (const VgMaskEdit *self);

/* Strokes. begin while a stroke is open, or end without one, does nothing. end returns
 * TRUE when the stroke changed a pixel and was recorded (an empty stroke is dropped). */
void vg_mask_edit_begin (VgMaskEdit *self);
gboolean vg_mask_edit_end (VgMaskEdit *self);
gboolean vg_mask_edit_in_stroke (const VgMaskEdit *self);

/* The tools. Each returns how many pixels it changed, or -1 for a bad argument (a class
 * outside 0..18, a negative radius, fewer than 3 polygon points), changing nothing. */

/* A round brush of the given radius swept from (x0, y0) to (x1, y1): every pixel whose
 * centre lies within radius of the segment. A single dab is a segment of length 0. */
int vg_mask_edit_brush (VgMaskEdit *self, double x0, double y0, double x1, double y1,
                        double radius, int cls);
/* The brush painting background (class 0). */
int vg_mask_edit_erase (VgMaskEdit *self, double x0, double y0, double x1, double y1,
                        double radius);
/* The 4-connected region of the class of pixel (x, y) becomes cls (0 outside the mask). */
int vg_mask_edit_flood_fill (VgMaskEdit *self, int x, int y, int cls);
/* Fill the polygon of n points xy = (x0, y0, x1, y1, ...) (closed implicitly) by the
 * even-odd rule: a pixel is inside when a ray from its centre crosses the outline an odd
 * number of times (a self-intersecting outline leaves its doubly covered parts out). */
int vg_mask_edit_polygon_fill (VgMaskEdit *self, const double *xy, int n, int cls);
/* Left/right swap (l_brow <-> r_brow, l_eye <-> r_eye, l_ear <-> r_ear, vg_class_mirror)
 * of the 4-connected region of pixel (x, y); 0 when its class has no mirror. */
int vg_mask_edit_swap_region (VgMaskEdit *self, int x, int y);
/* Left/right swap of every pixel of the mask. */
int vg_mask_edit_swap_all (VgMaskEdit *self);
/* Set every pixel from mask (height * width class ids, e.g. the prediction), ignoring
 * protection. -1 if a value is above 18. */
int vg_mask_edit_replace (VgMaskEdit *self, const uint8_t *mask);

/* Undo and redo whole strokes (a stroke still open is ended first). FALSE when there is
 * nothing to undo / redo. */
gboolean vg_mask_edit_undo (VgMaskEdit *self);
gboolean vg_mask_edit_redo (VgMaskEdit *self);
gboolean vg_mask_edit_can_undo (const VgMaskEdit *self);
gboolean vg_mask_edit_can_redo (const VgMaskEdit *self);
/* The recorded difference of the stroke that undo would revert (n changes), or NULL. */
const VgMaskChange *vg_mask_edit_last_stroke (const VgMaskEdit *self, size_t *n);
/* Bytes held by the undo and redo stacks. */
size_t vg_mask_edit_history_bytes (const VgMaskEdit *self);

/* Saved state: mark_saved remembers the present state; is_modified says whether the mask
 * differs in history from that state (undoing back to it is unmodified again). A new mask
 * is unmodified. */
void vg_mask_edit_mark_saved (VgMaskEdit *self);
gboolean vg_mask_edit_is_modified (const VgMaskEdit *self);
