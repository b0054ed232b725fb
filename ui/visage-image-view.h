/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The image view: the overlay, its mode and opacity, zoom, the class legend with a
 * visibility toggle per class, and a status line naming the classes under the pointer. */
#pragma once

#include <adwaita.h>

#include "vg-service.h"
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

/* Modes: "truth", "prediction", "errors", "side-by-side". */
void visage_image_view_set_mode (VisageImageView *self, const char *mode);
const char *visage_image_view_get_mode (VisageImageView *self);
void visage_image_view_set_opacity (VisageImageView *self, double opacity);
double visage_image_view_get_opacity (VisageImageView *self);
void visage_image_view_set_class_visible (VisageImageView *self, int cls, gboolean visible);
gboolean visage_image_view_get_class_visible (VisageImageView *self, int cls);

/* The status line's text. */
const char *visage_image_view_get_status (VisageImageView *self);
/* Update the status line for the pointer at widget point (x, y) of the overlay area. */
void visage_image_view_hover (VisageImageView *self, double x, double y);

VisageOverlayArea *visage_image_view_get_area (VisageImageView *self);

G_END_DECLS
