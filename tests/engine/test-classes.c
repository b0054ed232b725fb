/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The class table must agree with the data set: names, palette, left/right pairs. */
#include "config.h"

#include <png.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "vg-classes.h"
#include "test-common.h"
#include "test-register.h"

VG_TEST ("/classes/names-round-trip", test_names_round_trip)
{
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    g_assert_cmpint (vg_class_from_name (vg_class_name (c)), ==, c);
  g_assert_cmpint (vg_class_from_name ("neck_l"), ==, VG_CLASS_NECK_L);
  g_assert_cmpint (vg_class_from_name ("nonsense"), ==, -1);
  g_assert_cmpint (vg_class_from_name (NULL), ==, -1);
  g_assert_cmpstr (vg_class_name (VG_NUM_CLASSES), ==, "invalid");
  g_assert_cmpstr (vg_class_name (-1), ==, "invalid");
}

VG_TEST ("/classes/mirror-pairs", test_mirror_pairs)
{
  static const int pairs[][2] = {
    { VG_CLASS_L_EYE, VG_CLASS_R_EYE },
    { VG_CLASS_L_BROW, VG_CLASS_R_BROW },
    { VG_CLASS_L_EAR, VG_CLASS_R_EAR },
  };
  int swapped = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      g_assert_cmpint (vg_class_mirror (pairs[i][0]), ==, pairs[i][1]);
      g_assert_cmpint (vg_class_mirror (pairs[i][1]), ==, pairs[i][0]);
    }
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      g_assert_cmpint (vg_class_mirror (vg_class_mirror (c)), ==, c);
      swapped += vg_class_mirror (c) != c;
    }
  /* Only the three pairs swap: the earring (ear_r) is not a right ear. */
  g_assert_cmpint (swapped, ==, 6);
  g_assert_cmpint (vg_class_mirror (VG_CLASS_EAR_R), ==, VG_CLASS_EAR_R);
}

VG_TEST ("/classes/long-tail", test_long_tail)
{
  int n = 0;

  for (int c = 0; c < VG_NUM_CLASSES; c++)
    n += vg_class_is_long_tail (c);
  g_assert_cmpint (n, ==, 4);
  g_assert_true (vg_class_is_long_tail (VG_CLASS_NECK_L));
  g_assert_true (vg_class_is_long_tail (VG_CLASS_EAR_R));
  g_assert_true (vg_class_is_long_tail (VG_CLASS_HAT));
  g_assert_true (vg_class_is_long_tail (VG_CLASS_EYE_G));
}

/* Read the palette of a real mask and compare it with the class table. */
VG_TEST ("/classes/palette-matches-dataset", test_palette_matches_dataset)
{
  g_autofree char *path = vg_test_shared_path ("celebamask/val/masks/0.png");
  png_structp png;
  png_infop info;
  png_colorp palette = NULL;
  int n_palette = 0;
  FILE *f;

  if (path == NULL)
    return;
  f = fopen (path, "rb");
  g_assert_nonnull (f);
  png = png_create_read_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  info = png_create_info_struct (png);
  g_assert_nonnull (png);
  g_assert_nonnull (info);
  if (setjmp (png_jmpbuf (png)))
    g_error ("libpng failed reading %s", path);
  png_init_io (png, f);
  png_read_info (png, info);
  g_assert_cmpint (png_get_color_type (png, info), ==, PNG_COLOR_TYPE_PALETTE);
  g_assert_cmpint (png_get_PLTE (png, info, &palette, &n_palette), !=, 0);
  g_assert_cmpint (n_palette, >=, VG_NUM_CLASSES);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      const uint8_t *rgb = vg_class_rgb (c);
      g_test_message ("class %d %s", c, vg_class_name (c));
      g_assert_cmpint (palette[c].red, ==, rgb[0]);
      g_assert_cmpint (palette[c].green, ==, rgb[1]);
      g_assert_cmpint (palette[c].blue, ==, rgb[2]);
    }
  png_destroy_read_struct (&png, &info, NULL);
  fclose (f);
}

VG_TEST_MAIN ()
