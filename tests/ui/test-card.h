/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Synthetic face-like test cards: a stylised 512x512 face drawn with Cairo (skin, hair,
 * brows, eyes, nose, lips, ears, neck, clothes and, by card, a mouth, eyeglasses, a hat,
 * earrings and a necklace) and its ground truth in the data set's format (an 8-bit palette
 * PNG, index = class, written by the engine's own vg_mask_save). Every part is filled in
 * the picture and, with the same path and no antialiasing, in the mask, so the truth is
 * exact. The cards are wholly synthetic: the README's pictures of the browse view show
 * them instead of the data set's faces, which may not be committed.
 *
 * vg_test_cards_write_split () lays n cards out as a split (images/card-N.png,
 * masks/card-N.png); vg_test_card_classes () says which classes card N holds by design,
 * so a test can check that the workbench reads back what was drawn. Used by
 * test-test-cards.c and the make-test-card tool (tests/ui/screenshots.sh). */
#pragma once

#include <errno.h>
#include <math.h>

#include <cairo.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "vg-classes.h"
#include "vg-image.h"

#define VG_TEST_CARD_SIZE 512

/* How card N looks: where the face is, its colours, what it wears. */
typedef struct
{
  double cx, cy, rx, ry;      /* the face's ellipse: centre and half-axes, pixels */
  double back[2][3];          /* the background's gradient, top and bottom, RGB 0-1 */
  double skin[3], hair[3], cloth[3], lips[3], iris[3], metal[3];
  gboolean long_hair, mouth_open, glasses, hat, earrings, necklace;
} VgTestCardLook;

/* The two canvases: the picture (antialiased) and the class ids (red channel, aliased). */
typedef struct
{
  cairo_t *photo;
  cairo_t *labels;
} VgTestCardCanvas;

static inline void
vg_test_card_look (VgTestCardLook *look, int index)
{
  static const double skins[][3] = {
    { 0.93, 0.76, 0.64 }, { 0.78, 0.57, 0.42 }, { 0.55, 0.37, 0.26 }, { 0.98, 0.84, 0.74 },
  };
  static const double hairs[][3] = {
    { 0.16, 0.11, 0.08 }, { 0.45, 0.28, 0.13 }, { 0.82, 0.67, 0.38 }, { 0.05, 0.05, 0.06 },
    { 0.55, 0.22, 0.10 },
  };
  static const double cloths[][3] = {
    { 0.20, 0.33, 0.58 }, { 0.62, 0.16, 0.20 }, { 0.25, 0.45, 0.30 }, { 0.85, 0.85, 0.82 },
    { 0.35, 0.30, 0.40 },
  };
  static const double backs[][3] = {
    { 0.72, 0.80, 0.88 }, { 0.85, 0.82, 0.74 }, { 0.62, 0.70, 0.64 }, { 0.80, 0.76, 0.82 },
  };
  g_autoptr (GRand) rand = g_rand_new_with_seed (7919u * (guint32) (index + 1));
  const double *back = backs[index % G_N_ELEMENTS (backs)];

  look->rx = g_rand_double_range (rand, 84, 100);
  look->ry = look->rx * g_rand_double_range (rand, 1.25, 1.38);
  look->cx = 256 + g_rand_double_range (rand, -34, 34);
  look->cy = 214 + g_rand_double_range (rand, -12, 18);
  for (int k = 0; k < 3; k++)
    {
      look->back[0][k] = back[k];
      look->back[1][k] = back[k] * 0.78;
      look->skin[k] = skins[index % G_N_ELEMENTS (skins)][k];
      look->hair[k] = hairs[(index * 3 + 1) % G_N_ELEMENTS (hairs)][k];
      look->cloth[k] = cloths[(index * 2 + 1) % G_N_ELEMENTS (cloths)][k];
      look->lips[k] = look->skin[k] * (k == 0 ? 0.86 : 0.58);
    }
  look->iris[0] = 0.20 + 0.25 * (index % 3), look->iris[1] = 0.30, look->iris[2] = 0.25;
  if (index % 2 == 0)
    look->metal[0] = 0.90, look->metal[1] = 0.75, look->metal[2] = 0.30;  /* gold */
  else
    look->metal[0] = 0.86, look->metal[1] = 0.87, look->metal[2] = 0.90;  /* silver */
  look->long_hair = index % 2 == 0;
  look->mouth_open = index % 3 == 1;
  look->glasses = index % 2 == 1;
  look->hat = index % 4 == 2;
  look->earrings = index % 3 == 0;
  look->necklace = index % 4 == 0 || index % 4 == 3;
}

/* The classes card index holds (bit c: class c). */
static inline guint32
vg_test_card_classes (int index)
{
  static const int always[] = {
    VG_CLASS_BACKGROUND, VG_CLASS_SKIN, VG_CLASS_NOSE, VG_CLASS_L_EYE, VG_CLASS_R_EYE,
    VG_CLASS_L_BROW, VG_CLASS_R_BROW, VG_CLASS_L_EAR, VG_CLASS_R_EAR, VG_CLASS_U_LIP,
    VG_CLASS_L_LIP, VG_CLASS_HAIR, VG_CLASS_NECK, VG_CLASS_CLOTH,
  };
  VgTestCardLook look;
  guint32 classes = 0;

  vg_test_card_look (&look, index);
  for (guint i = 0; i < G_N_ELEMENTS (always); i++)
    classes |= 1u << always[i];
  classes |= (look.mouth_open ? 1u << VG_CLASS_MOUTH : 0) | (look.hat ? 1u << VG_CLASS_HAT : 0)
             | (look.glasses ? 1u << VG_CLASS_EYE_G : 0)
             | (look.earrings ? 1u << VG_CLASS_EAR_R : 0)
             | (look.necklace ? 1u << VG_CLASS_NECK_L : 0);
  return classes;
}

/* ---- drawing ---------------------------------------------------------------------------- */

/* The colour scaled by f (clamped), as a source of the picture. */
static inline void
vg_test_card_rgb (cairo_t *cr, const double rgb[3], double f, double alpha)
{
  cairo_set_source_rgba (cr, MIN (rgb[0] * f, 1), MIN (rgb[1] * f, 1), MIN (rgb[2] * f, 1),
                         alpha);
}

/* Fills (or, with width > 0, strokes) the photo's current path with its current source and
 * the same path in the labels with class cls; clears both paths. */
static inline void
vg_test_card_paint (VgTestCardCanvas *canvas, int cls, double width)
{
  cairo_path_t *path = cairo_copy_path (canvas->photo);

  cairo_new_path (canvas->labels);
  cairo_append_path (canvas->labels, path);
  cairo_path_destroy (path);
  cairo_set_source_rgb (canvas->labels, cls / 255.0, 0, 0);
  if (width > 0)
    {
      cairo_set_line_width (canvas->photo, width);
      cairo_set_line_width (canvas->labels, width);
      cairo_set_line_cap (canvas->photo, CAIRO_LINE_CAP_ROUND);
      cairo_set_line_cap (canvas->labels, CAIRO_LINE_CAP_ROUND);
      cairo_stroke (canvas->photo);
      cairo_stroke (canvas->labels);
    }
  else
    {
      cairo_fill (canvas->photo);
      cairo_fill (canvas->labels);
    }
}

/* A part shaded as if lit from the upper left: a radial gradient over the path's extent. */
static inline void
vg_test_card_fill_shaded (VgTestCardCanvas *canvas, int cls, const double rgb[3])
{
  double x0, y0, x1, y1, r;
  cairo_pattern_t *shade;

  cairo_path_extents (canvas->photo, &x0, &y0, &x1, &y1);
  r = MAX (x1 - x0, y1 - y0);
  shade = cairo_pattern_create_radial (x0 + 0.4 * (x1 - x0), y0 + 0.35 * (y1 - y0), 0,
                                       (x0 + x1) / 2, (y0 + y1) / 2, 0.75 * r);
  cairo_pattern_add_color_stop_rgb (shade, 0, MIN (rgb[0] * 1.1, 1), MIN (rgb[1] * 1.1, 1),
                                    MIN (rgb[2] * 1.1, 1));
  cairo_pattern_add_color_stop_rgb (shade, 1, rgb[0] * 0.72, rgb[1] * 0.72, rgb[2] * 0.72);
  cairo_set_source (canvas->photo, shade);
  cairo_pattern_destroy (shade);
  vg_test_card_paint (canvas, cls, 0);
}

static inline void
vg_test_card_ellipse (cairo_t *cr, double cx, double cy, double rx, double ry)
{
  cairo_save (cr);
  cairo_translate (cr, cx, cy);
  cairo_scale (cr, rx, ry);
  cairo_new_sub_path (cr);
  cairo_arc (cr, 0, 0, 1, 0, 2 * G_PI);
  cairo_restore (cr);
}

/* An almond (an eye, a lip) from (x0, y) to (x1, y), bulging up by up and down by down. */
static inline void
vg_test_card_almond (cairo_t *cr, double x0, double x1, double y, double up, double down)
{
  double w = x1 - x0;

  cairo_move_to (cr, x0, y);
  cairo_curve_to (cr, x0 + 0.25 * w, y - up, x1 - 0.25 * w, y - up, x1, y);
  cairo_curve_to (cr, x1 - 0.25 * w, y + down, x0 + 0.25 * w, y + down, x0, y);
  cairo_close_path (cr);
}

/* Behind the face: hair (long hair down to the shoulders), neck, clothes, a necklace. */
static inline void
vg_test_card_draw_body (VgTestCardCanvas *canvas, const VgTestCardLook *l)
{
  cairo_t *cr = canvas->photo;
  double cx = l->cx, cy = l->cy, rx = l->rx, ry = l->ry;

  vg_test_card_ellipse (cr, cx, cy - 0.12 * ry, 1.3 * rx, 1.08 * ry);
  if (l->long_hair)
    {
      cairo_rectangle (cr, cx - 1.3 * rx, cy - 0.12 * ry, 2.6 * rx, 1.35 * ry);
      vg_test_card_ellipse (cr, cx, cy + 1.2 * ry, 1.3 * rx, 0.25 * ry);
    }
  vg_test_card_fill_shaded (canvas, VG_CLASS_HAIR, l->hair);

  cairo_rectangle (cr, cx - 0.42 * rx, cy + 0.5 * ry, 0.84 * rx, 1.4 * ry);
  vg_test_card_rgb (cr, l->skin, 0.88, 1);
  vg_test_card_paint (canvas, VG_CLASS_NECK, 0);

  /* Shoulders with a round neckline. */
  cairo_move_to (cr, cx - 2.6 * rx, VG_TEST_CARD_SIZE);
  cairo_curve_to (cr, cx - 2.5 * rx, cy + 1.45 * ry, cx - 1.6 * rx, cy + 1.3 * ry,
                  cx - 0.5 * rx, cy + 1.3 * ry);
  cairo_curve_to (cr, cx - 0.45 * rx, cy + 1.85 * ry, cx + 0.45 * rx, cy + 1.85 * ry,
                  cx + 0.5 * rx, cy + 1.3 * ry);
  cairo_curve_to (cr, cx + 1.6 * rx, cy + 1.3 * ry, cx + 2.5 * rx, cy + 1.45 * ry,
                  cx + 2.6 * rx, VG_TEST_CARD_SIZE);
  cairo_close_path (cr);
  vg_test_card_fill_shaded (canvas, VG_CLASS_CLOTH, l->cloth);

  if (l->necklace)
    for (int i = 0; i <= 16; i++)
      {
        double t = i / 16.0 * G_PI;

        vg_test_card_ellipse (cr, cx - 0.4 * rx * cos (t), cy + 1.22 * ry + 0.36 * ry * sin (t),
                              5, 5);
        vg_test_card_fill_shaded (canvas, VG_CLASS_NECK_L, l->metal);
      }
}

/* The head: ears (and earrings), the face, hair over the forehead, a hat. */
static inline void
vg_test_card_draw_head (VgTestCardCanvas *canvas, const VgTestCardLook *l)
{
  cairo_t *cr = canvas->photo;
  double cx = l->cx, cy = l->cy, rx = l->rx, ry = l->ry;

  /* The subject's right ear is on the picture's left, as the data set annotates. */
  vg_test_card_ellipse (cr, cx - 1.0 * rx, cy + 0.05 * ry, 0.2 * rx, 0.27 * ry);
  vg_test_card_fill_shaded (canvas, VG_CLASS_R_EAR, l->skin);
  vg_test_card_ellipse (cr, cx + 1.0 * rx, cy + 0.05 * ry, 0.2 * rx, 0.27 * ry);
  vg_test_card_fill_shaded (canvas, VG_CLASS_L_EAR, l->skin);

  /* The face: an egg, wider at the temples than at the chin. */
  cairo_move_to (cr, cx, cy - ry);
  cairo_curve_to (cr, cx + 0.58 * rx, cy - ry, cx + rx, cy - 0.6 * ry, cx + rx, cy - 0.05 * ry);
  cairo_curve_to (cr, cx + rx, cy + 0.55 * ry, cx + 0.5 * rx, cy + ry, cx, cy + ry);
  cairo_curve_to (cr, cx - 0.5 * rx, cy + ry, cx - rx, cy + 0.55 * ry, cx - rx, cy - 0.05 * ry);
  cairo_curve_to (cr, cx - rx, cy - 0.6 * ry, cx - 0.58 * rx, cy - ry, cx, cy - ry);
  cairo_close_path (cr);
  vg_test_card_fill_shaded (canvas, VG_CLASS_SKIN, l->skin);

  if (l->earrings)
    for (int side = -1; side <= 1; side += 2)
      {
        vg_test_card_ellipse (cr, cx + side * 1.0 * rx, cy + 0.4 * ry, 6, 9);
        vg_test_card_fill_shaded (canvas, VG_CLASS_EAR_R, l->metal);
      }

  /* Hair over the forehead, parted off centre. */
  cairo_move_to (cr, cx - 1.08 * rx, cy - 0.05 * ry);
  cairo_curve_to (cr, cx - 1.15 * rx, cy - 1.45 * ry, cx + 1.15 * rx, cy - 1.45 * ry,
                  cx + 1.08 * rx, cy - 0.05 * ry);
  cairo_curve_to (cr, cx + 0.9 * rx, cy - 0.5 * ry, cx + 0.5 * rx, cy - 0.72 * ry,
                  cx - 0.2 * rx, cy - 0.62 * ry);
  cairo_curve_to (cr, cx - 0.6 * rx, cy - 0.58 * ry, cx - 0.9 * rx, cy - 0.45 * ry,
                  cx - 1.08 * rx, cy - 0.05 * ry);
  cairo_close_path (cr);
  vg_test_card_fill_shaded (canvas, VG_CLASS_HAIR, l->hair);

  if (l->hat)
    {
      double hat[3] = { l->cloth[2], l->cloth[0], l->cloth[1] };

      vg_test_card_almond (cr, cx - 0.8 * rx, cx + 0.8 * rx, cy - 0.82 * ry, 0.95 * ry, 0);
      vg_test_card_ellipse (cr, cx, cy - 0.8 * ry, 1.45 * rx, 0.15 * ry);
      vg_test_card_fill_shaded (canvas, VG_CLASS_HAT, hat);
    }
}

/* An eye at (x, y): the white and the iris in the picture, one class in the truth. */
static inline void
vg_test_card_draw_eye (VgTestCardCanvas *canvas, const VgTestCardLook *l, double x, double y,
                       int cls)
{
  cairo_t *cr = canvas->photo;
  double w = 0.2 * l->rx;
  const double white[3] = { 0.95, 0.94, 0.92 }, pupil[3] = { 0.04, 0.04, 0.05 };

  vg_test_card_almond (cr, x - w, x + w, y, 0.17 * l->ry, 0.1 * l->ry);
  vg_test_card_rgb (cr, white, 1, 1);
  vg_test_card_paint (canvas, cls, 0);
  cairo_save (cr);
  vg_test_card_almond (cr, x - w, x + w, y, 0.17 * l->ry, 0.1 * l->ry);
  cairo_clip (cr);
  vg_test_card_ellipse (cr, x, y - 0.01 * l->ry, 0.45 * w, 0.45 * w);
  vg_test_card_rgb (cr, l->iris, 1, 1);
  cairo_fill (cr);
  vg_test_card_ellipse (cr, x, y - 0.01 * l->ry, 0.2 * w, 0.2 * w);
  vg_test_card_rgb (cr, pupil, 1, 1);
  cairo_fill (cr);
  cairo_restore (cr);
}

/* Brows, eyeglasses (frame and lenses), eyes, nose, lips and mouth. */
static inline void
vg_test_card_draw_features (VgTestCardCanvas *canvas, const VgTestCardLook *l)
{
  cairo_t *cr = canvas->photo;
  double cx = l->cx, cy = l->cy, rx = l->rx, ry = l->ry, ex = 0.4 * rx, ey = cy - 0.1 * ry;
  const double dark[3] = { 0.12, 0.12, 0.14 }, lens[3] = { 0.55, 0.65, 0.75 };

  for (int side = -1; side <= 1; side += 2)
    {
      cairo_move_to (cr, cx + side * 0.62 * rx, ey - 0.15 * ry);
      cairo_curve_to (cr, cx + side * 0.5 * rx, ey - 0.3 * ry, cx + side * 0.3 * rx,
                      ey - 0.3 * ry, cx + side * 0.17 * rx, ey - 0.24 * ry);
      vg_test_card_rgb (cr, l->hair, 0.8, 1);
      vg_test_card_paint (canvas, side < 0 ? VG_CLASS_R_BROW : VG_CLASS_L_BROW, 0.09 * ry);
    }
  if (l->glasses)
    {
      for (int side = -1; side <= 1; side += 2)
        {
          vg_test_card_ellipse (cr, cx + side * ex, ey, 0.3 * rx, 0.2 * ry);
          vg_test_card_rgb (cr, lens, 1, 0.3);
          vg_test_card_paint (canvas, VG_CLASS_EYE_G, 0);
          vg_test_card_ellipse (cr, cx + side * ex, ey, 0.3 * rx, 0.2 * ry);
          vg_test_card_rgb (cr, dark, 1, 1);
          vg_test_card_paint (canvas, VG_CLASS_EYE_G, 5);
        }
      cairo_move_to (cr, cx - ex + 0.3 * rx, ey);
      cairo_curve_to (cr, cx - 0.05 * rx, ey - 0.08 * ry, cx + 0.05 * rx, ey - 0.08 * ry,
                      cx + ex - 0.3 * rx, ey);
      vg_test_card_paint (canvas, VG_CLASS_EYE_G, 5);
    }
  vg_test_card_draw_eye (canvas, l, cx - ex, ey, VG_CLASS_R_EYE);
  vg_test_card_draw_eye (canvas, l, cx + ex, ey, VG_CLASS_L_EYE);

  cairo_move_to (cr, cx - 0.06 * rx, ey + 0.05 * ry);
  cairo_curve_to (cr, cx - 0.1 * rx, cy + 0.15 * ry, cx - 0.2 * rx, cy + 0.22 * ry,
                  cx - 0.16 * rx, cy + 0.3 * ry);
  cairo_curve_to (cr, cx - 0.05 * rx, cy + 0.36 * ry, cx + 0.05 * rx, cy + 0.36 * ry,
                  cx + 0.16 * rx, cy + 0.3 * ry);
  cairo_curve_to (cr, cx + 0.2 * rx, cy + 0.22 * ry, cx + 0.1 * rx, cy + 0.15 * ry,
                  cx + 0.06 * rx, ey + 0.05 * ry);
  cairo_close_path (cr);
  vg_test_card_fill_shaded (canvas, VG_CLASS_NOSE, l->skin);

  /* Lips around a mouth line (an open mouth shows a dark gap between them). */
  double my = cy + 0.55 * ry, gap = l->mouth_open ? 0.05 * ry : 0;

  vg_test_card_almond (cr, cx - 0.33 * rx, cx + 0.33 * rx, my, 0.16 * ry, 0);
  vg_test_card_fill_shaded (canvas, VG_CLASS_U_LIP, l->lips);
  vg_test_card_almond (cr, cx - 0.31 * rx, cx + 0.31 * rx, my + gap, 0, 0.2 * ry);
  vg_test_card_fill_shaded (canvas, VG_CLASS_L_LIP, l->lips);
  if (l->mouth_open)
    {
      vg_test_card_almond (cr, cx - 0.3 * rx, cx + 0.3 * rx, my + gap / 2, gap, gap);
      vg_test_card_rgb (cr, dark, 1, 1);
      vg_test_card_paint (canvas, VG_CLASS_MOUTH, 0);
    }
}

/* Draws card index into rgb (512, 512, 3) and mask (512, 512). */
static inline void
vg_test_card_draw (int index, guint8 *rgb, guint8 *mask)
{
  enum { S = VG_TEST_CARD_SIZE };
  cairo_surface_t *photo = cairo_image_surface_create (CAIRO_FORMAT_RGB24, S, S);
  cairo_surface_t *labels = cairo_image_surface_create (CAIRO_FORMAT_RGB24, S, S);
  VgTestCardCanvas canvas = { cairo_create (photo), cairo_create (labels) };
  cairo_pattern_t *back;
  VgTestCardLook look;

  vg_test_card_look (&look, index);
  cairo_set_antialias (canvas.labels, CAIRO_ANTIALIAS_NONE);
  back = cairo_pattern_create_linear (0, 0, 0, S);
  cairo_pattern_add_color_stop_rgb (back, 0, look.back[0][0], look.back[0][1], look.back[0][2]);
  cairo_pattern_add_color_stop_rgb (back, 1, look.back[1][0], look.back[1][1], look.back[1][2]);
  cairo_rectangle (canvas.photo, 0, 0, S, S);
  cairo_set_source (canvas.photo, back);
  cairo_pattern_destroy (back);
  vg_test_card_paint (&canvas, VG_CLASS_BACKGROUND, 0);
  vg_test_card_draw_body (&canvas, &look);
  vg_test_card_draw_head (&canvas, &look);
  vg_test_card_draw_features (&canvas, &look);
  cairo_surface_flush (photo);
  cairo_surface_flush (labels);

  /* RGB24 pixels are native-endian 0x00RRGGBB words. (No grain as in a photograph: it
   * would make the README's pictures of the cards several times larger.) */
  for (int y = 0; y < S; y++)
    {
      const guint32 *p = (const guint32 *) (cairo_image_surface_get_data (photo)
                                            + y * cairo_image_surface_get_stride (photo));
      const guint32 *q = (const guint32 *) (cairo_image_surface_get_data (labels)
                                            + y * cairo_image_surface_get_stride (labels));

      for (int x = 0; x < S; x++)
        {
          for (int k = 0; k < 3; k++)
            rgb[(y * S + x) * 3 + k] = (guint8) ((p[x] >> (16 - 8 * k)) & 0xff);
          mask[y * S + x] = (guint8) ((q[x] >> 16) & 0xff);
        }
    }
  cairo_destroy (canvas.photo);
  cairo_destroy (canvas.labels);
  cairo_surface_destroy (photo);
  cairo_surface_destroy (labels);
}

/* Writes n cards as a split in dir: images/card-1.png ... and masks/card-1.png ... */
static inline gboolean
vg_test_cards_write_split (const char *dir, int n, GError **error)
{
  enum { S = VG_TEST_CARD_SIZE };
  g_autofree char *images = g_build_filename (dir, "images", NULL);
  g_autofree char *masks = g_build_filename (dir, "masks", NULL);
  g_autofree guint8 *rgb = g_malloc ((size_t) S * S * 3);
  g_autofree guint8 *mask = g_malloc ((size_t) S * S);

  if (g_mkdir_with_parents (images, 0755) != 0 || g_mkdir_with_parents (masks, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "%s: cannot make the split's folders: %s", dir, g_strerror (saved));
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("card-%d.png", i + 1);
      g_autofree char *image_path = g_build_filename (images, name, NULL);
      g_autofree char *mask_path = g_build_filename (masks, name, NULL);

      vg_test_card_draw (i, rgb, mask);
      if (!vg_image_save_png (image_path, rgb, S, S, error)
          || !vg_mask_save (mask_path, mask, S, S, error))
        return FALSE;
    }
  return TRUE;
}
