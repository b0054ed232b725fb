/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The 19 classes as the workbench names and draws them (translated labels, colours). */
#pragma once

#include <gdk/gdk.h>

G_BEGIN_DECLS

/* Translated label of a class ("Left eye" in English); the English text is the engine's
 * vg_class_label(). */
const char *visage_class_display_name (int cls);

/* The palettes the image view draws classes in: the data set's own (what saved masks and
 * exports always use), or one whose colours all differ clearly (CIE76 distance 25 or
 * more between any two) and are light enough to show over dark hair and clothes. */
typedef enum {
  VISAGE_PALETTE_DATA_SET,
  VISAGE_PALETTE_HIGH_CONTRAST,
} VisagePalette;

/* A class's colour (3 bytes, RGB) in a palette. */
const guint8 *visage_palette_rgb (VisagePalette palette, int cls);

/* A swatch of the class's colour in a palette (see visage_class_draw_swatch). */
void visage_class_draw_palette_swatch (cairo_t *cr, VisagePalette palette, int cls, int width,
                                       int height);

/* The class's palette colour, opaque. */
void visage_class_color (int cls, GdkRGBA *color);

/* Paint a swatch of the class's colour over width x height (a GtkDrawingArea's), outlined
 * in grey so that black (background) and dark swatches stay visible on a dark theme. */
void visage_class_draw_swatch (cairo_t *cr, int cls, int width, int height);

G_END_DECLS
