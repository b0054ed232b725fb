/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The legend of an export: classes.json (the table of `visage-cli classes --json`) and
 * legend.png, a row per class with its colour swatch, id, name and label, drawn with Cairo
 * and Pango (the text stack GTK draws with, without GTK) and written by the engine's PNG
 * writer. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <string.h>

#include <cairo.h>
#include <pango/pangocairo.h>

#include "vg-atomic-file.h"
#include "vg-export.h"
#include "vg-image.h"

/* Layout of legend.png, in pixels. */
#define ROW_HEIGHT 28
#define MARGIN 12
#define SWATCH 20
#define GAP 10
#define FONT "Sans 11"

/* Names and labels are fixed ASCII words: nothing to escape. */
GString *
vg_export_classes_json (void)
{
  GString *out = g_string_new ("[\n");

  for (int i = 0; i < VG_NUM_CLASSES; i++)
    {
      const uint8_t *rgb = vg_class_rgb (i);
      char p_text[16] = "null";
      int p = vg_class_mirror (i);

      if (p != i)
        g_snprintf (p_text, sizeof p_text, "%d", p);
      g_string_append_printf (out, "  {\"id\": %d, \"name\": \"%s\", \"label\": \"%s\", "
                              "\"colour\": \"#%02x%02x%02x\", \"rgb\": [%d, %d, %d], "
                              "\"partner\": %s}%s\n",
                              i, vg_class_name (i), vg_class_label (i), rgb[0], rgb[1], rgb[2],
                              rgb[0], rgb[1], rgb[2], p_text,
                              i + 1 < VG_NUM_CLASSES ? "," : "");
    }
  g_string_append (out, "]\n");
  return out;
}

static PangoLayout *
row_text (cairo_t *cr, int cls)
{
  PangoLayout *layout = pango_cairo_create_layout (cr);
  g_autoptr (PangoFontDescription) font = pango_font_description_from_string (FONT);
  g_autofree char *text = g_strdup_printf ("%2d  %s (%s)", cls, vg_class_name (cls),
                                           vg_class_label (cls));

  pango_layout_set_font_description (layout, font);
  pango_layout_set_text (layout, text, -1);
  return layout;
}

/* The widest row's text, measured on a scratch surface. */
static int
text_width (void)
{
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 1, 1);
  cairo_t *cr = cairo_create (surface);
  int widest = 0;

  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      g_autoptr (PangoLayout) layout = row_text (cr, c);
      int w, h;

      pango_layout_get_pixel_size (layout, &w, &h);
      widest = MAX (widest, w);
    }
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  return widest;
}

uint8_t *
vg_export_render_legend (int *H, int *W, GError **error)
{
  const int width = 2 * MARGIN + SWATCH + GAP + text_width ();
  const int height = 2 * MARGIN + VG_NUM_CLASSES * ROW_HEIGHT;
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
  cairo_t *cr = cairo_create (surface);
  uint8_t *rgb = NULL;

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      const uint8_t *col = vg_class_rgb (c);
      g_autoptr (PangoLayout) layout = row_text (cr, c);
      double y = MARGIN + c * ROW_HEIGHT + (ROW_HEIGHT - SWATCH) / 2;
      int tw, th;

      /* The swatch, outlined so that black and white classes show on white. */
      cairo_rectangle (cr, MARGIN + 0.5, y + 0.5, SWATCH - 1, SWATCH - 1);
      cairo_set_source_rgb (cr, col[0] / 255.0, col[1] / 255.0, col[2] / 255.0);
      cairo_fill_preserve (cr);
      cairo_set_source_rgb (cr, 0.5, 0.5, 0.5);
      cairo_set_line_width (cr, 1.0);
      cairo_stroke (cr);
      pango_layout_get_pixel_size (layout, &tw, &th);
      cairo_set_source_rgb (cr, 0, 0, 0);
      cairo_move_to (cr, MARGIN + SWATCH + GAP, MARGIN + c * ROW_HEIGHT + (ROW_HEIGHT - th) / 2);
      pango_cairo_show_layout (cr, layout);
    }
  cairo_destroy (cr);
  cairo_surface_flush (surface);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot draw the legend: %s",
                 cairo_status_to_string (cairo_surface_status (surface)));
  else
    {
      const uint8_t *data = cairo_image_surface_get_data (surface);
      int stride = cairo_image_surface_get_stride (surface);

      /* RGB24 is a native-endian 32-bit 0x00RRGGBB per pixel. */
      rgb = g_new (uint8_t, (size_t) width * height * 3);
      for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
          {
            guint32 px;

            memcpy (&px, data + (size_t) y * stride + 4 * x, 4);
            rgb[((size_t) y * width + x) * 3 + 0] = (px >> 16) & 0xff;
            rgb[((size_t) y * width + x) * 3 + 1] = (px >> 8) & 0xff;
            rgb[((size_t) y * width + x) * 3 + 2] = px & 0xff;
          }
      *H = height;
      *W = width;
    }
  cairo_surface_destroy (surface);
  return rgb;
}

gboolean
vg_export_write_legend (const char *dir, GError **error)
{
  g_autoptr (GString) json = vg_export_classes_json ();
  g_autofree char *json_path = g_build_filename (dir, "classes.json", NULL);
  g_autofree char *png_path = g_build_filename (dir, "legend.png", NULL);
  g_autofree uint8_t *rgb = NULL;
  int H, W;

  if (!vg_atomic_file_set_contents (json_path, json->str, json->len, error))
    return FALSE;
  rgb = vg_export_render_legend (&H, &W, error);
  return rgb != NULL && vg_image_save_png (png_path, rgb, H, W, error);
}
