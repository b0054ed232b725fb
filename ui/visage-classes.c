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

/* Mostly Kelly's colours of maximum contrast, checked pairwise in CIE L*a*b* (the ui tests
 * recompute the distances); background stays black. */
static const guint8 high_contrast[VG_NUM_CLASSES][3] = {
  { 0x00, 0x00, 0x00 },  /* background */
  { 0xc2, 0xb2, 0x80 },  /* skin */
  { 0x8d, 0xb6, 0x00 },  /* nose */
  { 0xf2, 0xf3, 0xf4 },  /* eyeglasses */
  { 0x00, 0x67, 0xa5 },  /* left eye */
  { 0xbe, 0x00, 0x32 },  /* right eye */
  { 0xa1, 0xca, 0xf1 },  /* left brow */
  { 0xe2, 0x58, 0x22 },  /* right brow */
  { 0xff, 0x00, 0xff },  /* left ear */
  { 0x00, 0x88, 0x56 },  /* right ear */
  { 0xf6, 0xa6, 0x00 },  /* mouth */
  { 0xe6, 0x8f, 0xac },  /* upper lip */
  { 0xdc, 0xd3, 0x00 },  /* lower lip */
  { 0x60, 0x4e, 0x97 },  /* hair */
  { 0xb3, 0x44, 0x6c },  /* hat */
  { 0x00, 0xff, 0x80 },  /* earring */
  { 0x00, 0xd5, 0xff },  /* necklace */
  { 0x88, 0x2d, 0x17 },  /* neck */
  { 0x84, 0x84, 0x82 },  /* clothes */
};

const guint8 *
visage_palette_rgb (VisagePalette palette, int cls)
{
  g_return_val_if_fail (cls >= 0 && cls < VG_NUM_CLASSES, vg_class_rgb (-1));

  return palette == VISAGE_PALETTE_HIGH_CONTRAST ? high_contrast[cls] : vg_class_rgb (cls);
}

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
visage_class_draw_palette_swatch (cairo_t *cr, VisagePalette palette, int cls, int width,
                                  int height)
{
  const guint8 *rgb;

  g_return_if_fail (cls >= 0 && cls < VG_NUM_CLASSES);

  rgb = visage_palette_rgb (palette, cls);
  cairo_set_source_rgb (cr, rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0);
  cairo_rectangle (cr, 0.5, 0.5, width - 1, height - 1);
  cairo_fill_preserve (cr);
  cairo_set_source_rgba (cr, 0.5, 0.5, 0.5, 0.8);
  cairo_set_line_width (cr, 1.0);
  cairo_stroke (cr);
}

void
visage_class_draw_swatch (cairo_t *cr, int cls, int width, int height)
{
  visage_class_draw_palette_swatch (cr, VISAGE_PALETTE_DATA_SET, cls, width, height);
}
