/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-classes"

#include "config.h"

#include <glib/gi18n.h>

#include "vg-classes.h"
#include "visage-classes.h"

/* The engine's English labels, repeated here so that xgettext sees them; the ui tests
 * check that the two tables agree. */
static const char *const class_labels[VG_NUM_CLASSES] = {
  N_("Background"),
  N_("Skin"),
  N_("Nose"),
  N_("Eyeglasses"),
  N_("Left eye"),
  N_("Right eye"),
  N_("Left brow"),
  N_("Right brow"),
  N_("Left ear"),
  N_("Right ear"),
  N_("Mouth"),
  N_("Upper lip"),
  N_("Lower lip"),
  N_("Hair"),
  N_("Hat"),
  N_("Earring"),
  N_("Necklace"),
  N_("Neck"),
  N_("Clothes"),
};

const char *
visage_class_display_name (int cls)
{
  g_return_val_if_fail (cls >= 0 && cls < VG_NUM_CLASSES, "");

  return _(class_labels[cls]);
}

void
visage_class_color (int cls, GdkRGBA *color)
{
  const uint8_t *rgb;

  g_return_if_fail (cls >= 0 && cls < VG_NUM_CLASSES);

  rgb = vg_class_rgb (cls);
  color->red = rgb[0] / 255.f;
  color->green = rgb[1] / 255.f;
  color->blue = rgb[2] / 255.f;
  color->alpha = 1.f;
}

void
visage_class_draw_swatch (cairo_t *cr, int cls, int width, int height)
{
  GdkRGBA color;

  visage_class_color (cls, &color);
  gdk_cairo_set_source_rgba (cr, &color);
  cairo_rectangle (cr, 0.5, 0.5, width - 1, height - 1);
  cairo_fill_preserve (cr);
  cairo_set_source_rgba (cr, 0.5, 0.5, 0.5, 0.8);
  cairo_set_line_width (cr, 1.0);
  cairo_stroke (cr);
}
