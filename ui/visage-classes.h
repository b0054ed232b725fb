/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The 19 classes as the workbench names and draws them (translated labels, colours). */
#pragma once

#include <gdk/gdk.h>

G_BEGIN_DECLS

/* Translated label of a class ("Left eye" in English); the English text is the engine's
 * vg_class_label(). */
const char *visage_class_display_name (int cls);

/* The class's palette colour, opaque. */
void visage_class_color (int cls, GdkRGBA *color);

/* Paint a swatch of the class's colour over width x height (a GtkDrawingArea's), outlined
 * in grey so that black (background) and dark swatches stay visible on a dark theme. */
void visage_class_draw_swatch (cairo_t *cr, int cls, int width, int height);

G_END_DECLS
