/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The image view: the overlay, its mode and opacity, zoom, the class legend with a
 * visibility toggle per class, and a status line naming the classes under the pointer. */
#pragma once

#include <adwaita.h>

#include "vg-service.h"
#include "visage-annotation.h"
#include "visage-overlay-area.h"

G_BEGIN_DECLS

#define VISAGE_TYPE_IMAGE_VIEW (visage_image_view_get_type ())
G_DECLARE_FINAL_TYPE (VisageImageView, visage_image_view, VISAGE, IMAGE_VIEW, AdwBin)

GtkWidget *visage_image_view_new (void);

/* Show a prediction (the data are copied) under a title such as the sample's name;
 * NULL clears the view. */
void visage_image_view_set_prediction (VisageImageView *self, const VgPrediction *prediction,
                                       const char *title);
/* The title of the image shown, or NULL. */
const char *visage_image_view_get_title (VisageImageView *self);

/* Modes: "truth", "prediction", "errors", "side-by-side". get_mode is the mode shown;
 * get_chosen_mode the user's ("chosen-mode", kept in the preferences), which differs while
 * an image without ground truth shows its prediction in place of a mode that needs one. */
void visage_image_view_set_mode (VisageImageView *self, const char *mode);
const char *visage_image_view_get_mode (VisageImageView *self);
const char *visage_image_view_get_chosen_mode (VisageImageView *self);
void visage_image_view_set_opacity (VisageImageView *self, double opacity);
double visage_image_view_get_opacity (VisageImageView *self);
void visage_image_view_set_class_visible (VisageImageView *self, int cls, gboolean visible);
gboolean visage_image_view_get_class_visible (VisageImageView *self, int cls);

/* The status line's text. */
const char *visage_image_view_get_status (VisageImageView *self);
/* Update the status line for the pointer at widget point (x, y) of the overlay area. */
void visage_image_view_hover (VisageImageView *self, double x, double y);

VisageOverlayArea *visage_image_view_get_area (VisageImageView *self);

/* Mask editing. The annotation's mask is shown as the ground truth (call it after
 * set_prediction, which shows the file's); NULL: nothing to edit. In edit mode ("editing",
 * action image.editing; the window's E toggles it) the primary button applies the tool and
 * the middle button pans. Tools ("tool"): "brush", "eraser" (paints background), "fill" (the
 * 4-connected region under the pointer), "polygon" (click corners; a click on the first
 * one, Enter or image.polygon-fill fills by the even-odd rule; Escape cancels), "swap"
 * (left/right classes of the region under the pointer). The class painted ("paint-class")
 * is picked in the legend or by typing its number (1 then 3 within a second: 13);
 * "brush-size" is a diameter in image pixels ([ and ]); "protect-class" (-1: none) paints
 * only over that class. The display options "high-contrast" and "outline" (actions
 * image.high-contrast, image.outline) change the colours and the fill on screen only.
 * Undo and redo (Ctrl+Z, Shift+Ctrl+Z) go stroke by stroke. */
void visage_image_view_set_annotation (VisageImageView *self, VisageAnnotation *annotation);
VisageAnnotation *visage_image_view_get_annotation (VisageImageView *self);
void visage_image_view_set_editing (VisageImageView *self, gboolean editing);
gboolean visage_image_view_get_editing (VisageImageView *self);
void visage_image_view_set_tool (VisageImageView *self, const char *tool);
void visage_image_view_set_paint_class (VisageImageView *self, int cls);
int visage_image_view_get_paint_class (VisageImageView *self);
void visage_image_view_set_brush_size (VisageImageView *self, int size);
int visage_image_view_get_brush_size (VisageImageView *self);
void visage_image_view_set_protect_class (VisageImageView *self, int cls);
/* Corners of the polygon being drawn. */
guint visage_image_view_get_polygon_size (VisageImageView *self);
/* The drag gesture that applies the tools (for tests that drive it). */
GtkGesture *visage_image_view_get_paint_gesture (VisageImageView *self);

G_END_DECLS
