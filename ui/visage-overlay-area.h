/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The image with its class overlay, drawn by a fragment shader (GtkGLArea + libepoxy).
 *
 * The photo and the two class maps (ground truth, prediction) are uploaded once per
 * image as textures; the palette, the per-class visibility, the opacity, the mode and
 * the view transform are uniforms, so changing any of them only redraws. */
#pragma once

#include <gtk/gtk.h>

#include "visage-classes.h"

G_BEGIN_DECLS

typedef enum {
  VISAGE_OVERLAY_TRUTH = 0,      /* ground truth over the photo */
  VISAGE_OVERLAY_PREDICTION,     /* prediction over the photo */
  VISAGE_OVERLAY_ERRORS,         /* pixels whose prediction differs from the ground truth,
                                  * in the predicted class's colour */
  VISAGE_OVERLAY_SIDE_BY_SIDE,   /* ground truth left, prediction right; or ground truth
                                  * above, prediction below where the view is tall enough
                                  * for that to show them larger */
} VisageOverlayMode;

#define VISAGE_TYPE_OVERLAY_AREA (visage_overlay_area_get_type ())
G_DECLARE_FINAL_TYPE (VisageOverlayArea, visage_overlay_area, VISAGE, OVERLAY_AREA, GtkGLArea)

GtkWidget *visage_overlay_area_new (void);

/* Show an image (H, W, 3) with its ground truth and prediction (H, W) class maps, either
 * of which may be NULL. The data are copied. rgb NULL clears the view. */
void visage_overlay_area_set_image (VisageOverlayArea *self, const guint8 *rgb,
                                    const guint8 *truth, const guint8 *labels, int height,
                                    int width);

void visage_overlay_area_set_mode (VisageOverlayArea *self, VisageOverlayMode mode);
VisageOverlayMode visage_overlay_area_get_mode (VisageOverlayArea *self);
void visage_overlay_area_set_opacity (VisageOverlayArea *self, double opacity);
double visage_overlay_area_get_opacity (VisageOverlayArea *self);
/* The display's colours (visage-classes.h), and whether only the regions' edges are drawn
 * (over ground truth or prediction; errors stay filled). */
void visage_overlay_area_set_palette (VisageOverlayArea *self, VisagePalette palette);
VisagePalette visage_overlay_area_get_palette (VisageOverlayArea *self);
void visage_overlay_area_set_outline (VisageOverlayArea *self, gboolean outline);
gboolean visage_overlay_area_get_outline (VisageOverlayArea *self);
void visage_overlay_area_set_class_visible (VisageOverlayArea *self, int cls,
                                            gboolean visible);
gboolean visage_overlay_area_get_class_visible (VisageOverlayArea *self, int cls);
/* Make the pixels whose ground truth is `truth` and prediction `predicted` stand out (in
 * magenta, every other pixel dimmed), in any mode: a confusion being looked into. -1, -1
 * (either negative) turns it off; redraws only. */
void visage_overlay_area_set_highlight (VisageOverlayArea *self, int truth, int predicted);
void visage_overlay_area_get_highlight (VisageOverlayArea *self, int *truth, int *predicted);

/* Zoom by a factor, keeping the image point under (x, y) (widget coordinates) in place;
 * zoom_fit fits the whole image in the widget. */
void visage_overlay_area_zoom_at (VisageOverlayArea *self, double factor, double x, double y);
void visage_overlay_area_zoom_fit (VisageOverlayArea *self);
/* Move the image by (dx, dy) widget pixels. */
void visage_overlay_area_pan (VisageOverlayArea *self, double dx, double dy);

/* The image pixel under widget point (x, y): FALSE outside the image. panel is 0, or 1
 * for the prediction's pane in side-by-side mode. */
gboolean visage_overlay_area_pick (VisageOverlayArea *self, double x, double y, int *image_x,
                                   int *image_y, int *panel);
/* Widget point (x, y) in image pixels, continuous and not clamped to the image (either
 * pane of side by side maps to the same pixels); FALSE without an image. */
gboolean visage_overlay_area_to_image (VisageOverlayArea *self, double x, double y,
                                       double *image_x, double *image_y);
/* The widget point of image point (image_x, image_y) (in side by side, the ground truth's
 * pane). */
void visage_overlay_area_from_image (VisageOverlayArea *self, double image_x, double image_y,
                                     double *x, double *y);
/* The widget rectangle pane is drawn in (0: the image, or the ground truth's pane of side
 * by side; 1: the prediction's), which may reach past the widget: FALSE without an image
 * or that pane. Where it moves, "view-changed" is emitted, except when the widget is
 * allocated (a parent placing labels over the panes places them after allocating it). */
gboolean visage_overlay_area_get_pane (VisageOverlayArea *self, int pane,
                                       graphene_rect_t *rect);
/* Which mouse button's drag moves the image (default 0: any; the mask editor paints with
 * the primary button and pans with the middle one). */
void visage_overlay_area_set_pan_button (VisageOverlayArea *self, guint button);
/* Replace the ground truth map (H, W) of the image shown, e.g. with a mask being edited;
 * copied and uploaded again. NULL shows none. */
void visage_overlay_area_set_truth (VisageOverlayArea *self, const guint8 *truth);
/* The prediction shown (H, W), or NULL. */
const guint8 *visage_overlay_area_get_labels (VisageOverlayArea *self);

/* The class maps' values at an image pixel: -1 where there is no map. */
void visage_overlay_area_classes_at (VisageOverlayArea *self, int image_x, int image_y,
                                     int *truth, int *predicted);

/* Render now and read the pixels back: RGBA rows top-down, framebuffer size (the widget
 * size times its scale factor). NULL if the area has no GL context. For tests. */
guint8 *visage_overlay_area_read_pixels (VisageOverlayArea *self, int *width, int *height);

/* How many frames were drawn and how many times textures were uploaded: redrawing for a
 * new opacity or class visibility must not upload. For tests. */
void visage_overlay_area_get_counters (VisageOverlayArea *self, guint *n_renders,
                                       guint *n_uploads);

G_END_DECLS
