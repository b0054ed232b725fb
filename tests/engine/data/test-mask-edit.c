/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The editable mask (vg-mask-edit): each tool changes exactly the pixels it should, strokes
 * are recorded as differences, undo and redo restore exact pixels, protection holds. */
#include "config.h"

#include <string.h>

#include "data-test-util.h"
#include "vg-classes.h"
#include "vg-mask-edit.h"
#include "test-register.h"

#define H 40
#define W 50

static VgMaskEdit *
new_edit (const uint8_t *mask)
{
  g_autoptr (GError) error = NULL;
  VgMaskEdit *edit = vg_mask_edit_new (mask, H, W, &error);

  g_assert_no_error (error);
  g_assert_nonnull (edit);
  return edit;
}

static int
count_class (const VgMaskEdit *edit, int cls)
{
  const uint8_t *d = vg_mask_edit_get_data (edit);
  int n = 0;

  for (int i = 0; i < H * W; i++)
    n += d[i] == cls;
  return n;
}

VG_TEST ("/data/mask-edit/new-and-bad-arguments", test_new_and_bad_arguments)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgMaskEdit) edit = NULL;
  uint8_t bad[H * W] = { 0 };
  double two[] = { 1, 1, 5, 5 };

  /* Sizes and values are checked. */
  g_assert_null (vg_mask_edit_new (NULL, 0, 10, &error));
  g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID);
  g_clear_error (&error);
  bad[123] = 19;
  g_assert_null (vg_mask_edit_new (bad, H, W, &error));
  g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_VALUE);
  g_clear_error (&error);

  edit = new_edit (NULL);
  g_assert_cmpint (count_class (edit, 0), ==, H * W);
  g_assert_false (vg_mask_edit_is_modified (edit));
  g_assert_false (vg_mask_edit_can_undo (edit));
  g_assert_cmpint (vg_mask_edit_brush (edit, 5, 5, 5, 5, 2, 19), ==, -1);
  g_assert_cmpint (vg_mask_edit_brush (edit, 5, 5, 5, 5, -1, 1), ==, -1);
  g_assert_cmpint (vg_mask_edit_flood_fill (edit, 5, 5, -1), ==, -1);
  g_assert_cmpint (vg_mask_edit_polygon_fill (edit, two, 2, 1), ==, -1);
  bad[123] = 40;
  g_assert_cmpint (vg_mask_edit_replace (edit, bad), ==, -1);
  /* Nothing happened, nothing was recorded. */
  g_assert_cmpint (count_class (edit, 0), ==, H * W);
  g_assert_false (vg_mask_edit_can_undo (edit));
  g_assert_cmpint (vg_mask_edit_get (edit, -1, 0), ==, -1);
  g_assert_cmpint (vg_mask_edit_get (edit, W, 0), ==, -1);
}

/* A dab covers the pixels whose centres are within the radius; a segment sweeps it. */
VG_TEST ("/data/mask-edit/brush", test_brush)
{
  g_autoptr (VgMaskEdit) edit = new_edit (NULL);
  int expected = 0;

  /* Radius 0.5 at a pixel centre: that pixel only. */
  g_assert_cmpint (vg_mask_edit_brush (edit, 10.5, 10.5, 10.5, 10.5, 0.5, VG_CLASS_SKIN), ==,
                   1);
  g_assert_cmpint (vg_mask_edit_get (edit, 10, 10), ==, VG_CLASS_SKIN);
  g_assert_true (vg_mask_edit_undo (edit));

  /* Radius 3 at (20, 20): the pixels with (x + 0.5 - 20)^2 + (y + 0.5 - 20)^2 <= 9. */
  g_assert_cmpint (vg_mask_edit_brush (edit, 20, 20, 20, 20, 3, VG_CLASS_HAIR), >, 0);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      {
        double dx = x + 0.5 - 20, dy = y + 0.5 - 20;
        gboolean inside = dx * dx + dy * dy <= 9;

        g_assert_cmpint (vg_mask_edit_get (edit, x, y), ==, inside ? VG_CLASS_HAIR : 0);
        expected += inside;
      }
  g_assert_cmpint (count_class (edit, VG_CLASS_HAIR), ==, expected);
  g_assert_true (vg_mask_edit_undo (edit));

  /* A horizontal segment of radius 1.0: rows 9 and 10 (centres 9.5, 10.5 are 0.5 away)
   * over x in [5, 15), plus the rounded caps' centres within 1 of the end points. */
  g_assert_cmpint (vg_mask_edit_brush (edit, 5.5, 10, 14.5, 10, 1.0, VG_CLASS_NOSE), >, 0);
  for (int x = 5; x <= 14; x++)
    {
      g_assert_cmpint (vg_mask_edit_get (edit, x, 9), ==, VG_CLASS_NOSE);
      g_assert_cmpint (vg_mask_edit_get (edit, x, 10), ==, VG_CLASS_NOSE);
      g_assert_cmpint (vg_mask_edit_get (edit, x, 8), ==, 0);
      g_assert_cmpint (vg_mask_edit_get (edit, x, 11), ==, 0);
    }
  g_assert_cmpint (vg_mask_edit_get (edit, 4, 10), ==, 0);
  g_assert_cmpint (vg_mask_edit_get (edit, 15, 10), ==, 0);
  g_assert_cmpint (count_class (edit, VG_CLASS_NOSE), ==, 20);

  /* Beyond the edges: clipped, no crash; the eraser paints background. */
  g_assert_cmpint (vg_mask_edit_brush (edit, -100, -100, 1000, 1000, 2, VG_CLASS_CLOTH), >, 0);
  g_assert_cmpint (vg_mask_edit_get (edit, 0, 0), ==, VG_CLASS_CLOTH);
  g_assert_cmpint (vg_mask_edit_erase (edit, 0, 0, 0, 0, 1.5), >, 0);
  g_assert_cmpint (vg_mask_edit_get (edit, 0, 0), ==, 0);
  g_assert_cmpint (vg_mask_edit_brush (edit, -50, -50, -40, -40, 2, 1), ==, 0);
}

/* Flood fill changes the 4-connected region only: a diagonal neighbour is another region. */
VG_TEST ("/data/mask-edit/flood-fill", test_flood_fill)
{
  uint8_t mask[H * W] = { 0 };
  g_autoptr (VgMaskEdit) edit = NULL;

  /* A 3 x 3 square of skin at (10..12, 10..12), and a skin pixel touching it diagonally. */
  for (int y = 10; y < 13; y++)
    for (int x = 10; x < 13; x++)
      mask[y * W + x] = VG_CLASS_SKIN;
  mask[13 * W + 13] = VG_CLASS_SKIN;
  edit = new_edit (mask);

  g_assert_cmpint (vg_mask_edit_flood_fill (edit, 11, 11, VG_CLASS_NECK), ==, 9);
  g_assert_cmpint (count_class (edit, VG_CLASS_NECK), ==, 9);
  g_assert_cmpint (vg_mask_edit_get (edit, 13, 13), ==, VG_CLASS_SKIN);
  /* The background around is one region (the square does not split it). */
  g_assert_cmpint (vg_mask_edit_flood_fill (edit, 0, 0, VG_CLASS_HAIR), ==, H * W - 10);
  /* Filling with the region's own class, or outside, changes nothing. */
  g_assert_cmpint (vg_mask_edit_flood_fill (edit, 0, 0, VG_CLASS_HAIR), ==, 0);
  g_assert_cmpint (vg_mask_edit_flood_fill (edit, -1, 0, VG_CLASS_SKIN), ==, 0);

  /* Undo restores the exact pixels, redo the filled ones. */
  g_assert_true (vg_mask_edit_undo (edit));
  g_assert_true (vg_mask_edit_undo (edit));
  g_assert_cmpmem (vg_mask_edit_get_data (edit), H * W, mask, H * W);
  g_assert_true (vg_mask_edit_redo (edit));
  g_assert_cmpint (count_class (edit, VG_CLASS_NECK), ==, 9);
}

/* Polygon fill by the even-odd rule over pixel centres. */
VG_TEST ("/data/mask-edit/polygon-fill", test_polygon_fill)
{
  g_autoptr (VgMaskEdit) edit = new_edit (NULL);
  /* The rectangle x in [10, 20), y in [5, 9): 10 x 4 pixel centres inside. */
  const double rect[] = { 10, 5, 20, 5, 20, 9, 10, 9 };
  /* A right triangle (0,0) (8,0) (0,8): centres with x + y + 1 < 8. */
  const double tri[] = { 0, 20, 8, 20, 0, 28 };
  /* A bow tie (self-intersecting) and a star whose middle the even-odd rule leaves out. */
  const double star[] = { 30.5, 20, 36.5, 38, 21, 27, 40, 27, 24.5, 38 };
  int n_tri = 0;

  g_assert_cmpint (vg_mask_edit_polygon_fill (edit, rect, 4, VG_CLASS_U_LIP), ==, 40);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      g_assert_cmpint (vg_mask_edit_get (edit, x, y) == VG_CLASS_U_LIP, ==,
                       x >= 10 && x < 20 && y >= 5 && y < 9);

  g_assert_cmpint (vg_mask_edit_polygon_fill (edit, tri, 3, VG_CLASS_L_LIP), >, 0);
  for (int y = 20; y < 28; y++)
    for (int x = 0; x < 8; x++)
      {
        /* Inside when the centre (x + .5, y - 20 + .5) is below the hypotenuse. */
        gboolean inside = (x + 0.5) + (y - 20 + 0.5) < 8;

        g_assert_cmpint (vg_mask_edit_get (edit, x, y) == VG_CLASS_L_LIP, ==, inside);
        n_tri += inside;
      }
  g_assert_cmpint (count_class (edit, VG_CLASS_L_LIP), ==, n_tri);

  /* The pentagram: the tips are filled, the central pentagon (crossed twice) is not. */
  g_assert_cmpint (vg_mask_edit_polygon_fill (edit, star, 5, VG_CLASS_HAT), >, 0);
  g_assert_cmpint (vg_mask_edit_get (edit, 30, 29), ==, 0);        /* the middle */
  g_assert_cmpint (vg_mask_edit_get (edit, 30, 22), ==, VG_CLASS_HAT); /* the top tip */
  g_assert_cmpint (vg_mask_edit_get (edit, 22, 27), ==, VG_CLASS_HAT); /* the left tip */
}

/* "Paint only over X": every tool leaves the other classes alone. */
VG_TEST ("/data/mask-edit/protection", test_protection)
{
  uint8_t mask[H * W] = { 0 };
  g_autoptr (VgMaskEdit) edit = NULL;
  const double all[] = { -1, -1, W + 1, -1, W + 1, H + 1, -1, H + 1 };

  /* Left half skin, right half hair. */
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      mask[y * W + x] = x < W / 2 ? VG_CLASS_SKIN : VG_CLASS_HAIR;
  edit = new_edit (mask);
  vg_mask_edit_set_protect (edit, VG_CLASS_SKIN);
  g_assert_cmpint (vg_mask_edit_get_protect (edit), ==, VG_CLASS_SKIN);

  g_assert_cmpint (vg_mask_edit_brush (edit, 0, 20, W, 20, 3, VG_CLASS_NOSE), >, 0);
  for (int x = 0; x < W; x++)
    g_assert_cmpint (vg_mask_edit_get (edit, x, 20), ==,
                     x < W / 2 ? VG_CLASS_NOSE : VG_CLASS_HAIR);
  g_assert_cmpint (vg_mask_edit_flood_fill (edit, W - 1, 0, VG_CLASS_HAT), ==, 0);
  g_assert_cmpint (vg_mask_edit_polygon_fill (edit, all, 4, VG_CLASS_NECK), >, 0);
  g_assert_cmpint (count_class (edit, VG_CLASS_HAIR), ==, H * W / 2);
  g_assert_cmpint (count_class (edit, VG_CLASS_SKIN), ==, 0);
  g_assert_cmpint (vg_mask_edit_erase (edit, W - 3, 3, W - 3, 3, 2), ==, 0);

  /* Without protection the hair is painted too; replace ignores protection. */
  vg_mask_edit_set_protect (edit, -1);
  g_assert_cmpint (vg_mask_edit_flood_fill (edit, W - 1, 0, VG_CLASS_HAT), ==, H * W / 2);
  vg_mask_edit_set_protect (edit, VG_CLASS_SKIN);
  g_assert_cmpint (vg_mask_edit_replace (edit, mask), ==, H * W);
  g_assert_cmpmem (vg_mask_edit_get_data (edit), H * W, mask, H * W);
}

/* Left/right swaps use the class table's pairs. */
VG_TEST ("/data/mask-edit/swap", test_swap)
{
  uint8_t mask[H * W] = { 0 };
  g_autoptr (VgMaskEdit) edit = NULL;
  static const int pairs[][2] = {
    { VG_CLASS_L_BROW, VG_CLASS_R_BROW }, { VG_CLASS_L_EYE, VG_CLASS_R_EYE },
    { VG_CLASS_L_EAR, VG_CLASS_R_EAR },
  };

  /* The class ids of the data set's README. */
  g_assert_cmpint (VG_CLASS_L_EYE, ==, 4);
  g_assert_cmpint (VG_CLASS_R_EYE, ==, 5);
  g_assert_cmpint (VG_CLASS_L_BROW, ==, 6);
  g_assert_cmpint (VG_CLASS_R_BROW, ==, 7);
  g_assert_cmpint (VG_CLASS_L_EAR, ==, 8);
  g_assert_cmpint (VG_CLASS_R_EAR, ==, 9);

  /* Two left eyes (blobs apart), a left brow, a right ear, some skin. */
  for (int x = 5; x < 10; x++)
    {
      mask[5 * W + x] = VG_CLASS_L_EYE;
      mask[5 * W + x + 20] = VG_CLASS_L_EYE;
      mask[10 * W + x] = VG_CLASS_L_BROW;
      mask[15 * W + x] = VG_CLASS_R_EAR;
      mask[20 * W + x] = VG_CLASS_SKIN;
    }
  edit = new_edit (mask);

  /* The region under the point: one eye only. */
  g_assert_cmpint (vg_mask_edit_swap_region (edit, 7, 5), ==, 5);
  g_assert_cmpint (vg_mask_edit_get (edit, 7, 5), ==, VG_CLASS_R_EYE);
  g_assert_cmpint (vg_mask_edit_get (edit, 27, 5), ==, VG_CLASS_L_EYE);
  /* Skin has no mirror. */
  g_assert_cmpint (vg_mask_edit_swap_region (edit, 7, 20), ==, 0);

  /* Everything: each pair swaps both ways. */
  g_assert_cmpint (vg_mask_edit_swap_all (edit), ==, 20);
  g_assert_cmpint (vg_mask_edit_get (edit, 7, 5), ==, VG_CLASS_L_EYE);
  g_assert_cmpint (vg_mask_edit_get (edit, 27, 5), ==, VG_CLASS_R_EYE);
  g_assert_cmpint (vg_mask_edit_get (edit, 7, 10), ==, VG_CLASS_R_BROW);
  g_assert_cmpint (vg_mask_edit_get (edit, 7, 15), ==, VG_CLASS_L_EAR);
  g_assert_cmpint (vg_mask_edit_get (edit, 7, 20), ==, VG_CLASS_SKIN);
  for (gsize k = 0; k < G_N_ELEMENTS (pairs); k++)
    {
      g_assert_cmpint (vg_class_mirror (pairs[k][0]), ==, pairs[k][1]);
      g_assert_cmpint (vg_class_mirror (pairs[k][1]), ==, pairs[k][0]);
    }
  g_assert_true (vg_mask_edit_undo (edit));
  g_assert_true (vg_mask_edit_undo (edit));
  g_assert_cmpmem (vg_mask_edit_get_data (edit), H * W, mask, H * W);
}

/* Strokes: one difference per stroke, listing each changed pixel once with its old and
 * new class; undo and redo step through them and restore exact pixels. */
VG_TEST ("/data/mask-edit/strokes-undo-redo", test_strokes_undo_redo)
{
  g_autoptr (VgMaskEdit) edit = new_edit (NULL);
  g_autofree uint8_t *state0 = NULL, *state1 = NULL, *state2 = NULL;
  const VgMaskChange *changes;
  size_t n;

  state0 = g_memdup2 (vg_mask_edit_get_data (edit), H * W);

  /* One stroke of three segments that overlap. */
  vg_mask_edit_begin (edit);
  g_assert_true (vg_mask_edit_in_stroke (edit));
  vg_mask_edit_brush (edit, 5, 5, 15, 5, 2, VG_CLASS_SKIN);
  vg_mask_edit_brush (edit, 15, 5, 15, 15, 2, VG_CLASS_SKIN);
  vg_mask_edit_brush (edit, 15, 15, 5, 5, 2, VG_CLASS_SKIN);
  g_assert_true (vg_mask_edit_is_modified (edit));
  g_assert_true (vg_mask_edit_end (edit));
  state1 = g_memdup2 (vg_mask_edit_get_data (edit), H * W);
  changes = vg_mask_edit_last_stroke (edit, &n);
  g_assert_cmpuint (n, ==, (size_t) count_class (edit, VG_CLASS_SKIN));
  for (size_t k = 0; k < n; k++)
    {
      g_assert_cmpuint (changes[k].before, ==, 0);
      g_assert_cmpuint (changes[k].after, ==, VG_CLASS_SKIN);
      if (k > 0)
        g_assert_cmpuint (changes[k].index, >, changes[k - 1].index);
    }
  /* A difference, not a copy of the mask. */
  g_assert_cmpuint (vg_mask_edit_history_bytes (edit), ==, n * sizeof (VgMaskChange));

  /* A second stroke painting some pixels over and back: only the net change is kept. */
  vg_mask_edit_begin (edit);
  vg_mask_edit_brush (edit, 30, 30, 30, 30, 3, VG_CLASS_HAIR);
  vg_mask_edit_brush (edit, 30, 30, 30, 30, 1.5, 0);
  vg_mask_edit_brush (edit, 5, 5, 5, 5, 1, VG_CLASS_NOSE);
  g_assert_true (vg_mask_edit_end (edit));
  state2 = g_memdup2 (vg_mask_edit_get_data (edit), H * W);
  changes = vg_mask_edit_last_stroke (edit, &n);
  for (size_t k = 0; k < n; k++)
    g_assert_cmpuint (changes[k].before, !=, changes[k].after);
  g_assert_cmpuint (n, ==, (size_t) (count_class (edit, VG_CLASS_HAIR)
                                     + count_class (edit, VG_CLASS_NOSE)));

  /* An empty stroke is not recorded. */
  vg_mask_edit_begin (edit);
  vg_mask_edit_brush (edit, 100, 100, 100, 100, 1, VG_CLASS_HAIR);
  g_assert_false (vg_mask_edit_end (edit));

  /* Undo steps back through state1 to state0, redo forward again to state2. */
  {
    const uint8_t *const states[] = { state0, state1, state2 };

    for (int k = 1; k >= 0; k--)
      {
        g_assert_true (vg_mask_edit_undo (edit));
        g_assert_cmpmem (vg_mask_edit_get_data (edit), H * W, states[k], H * W);
      }
    g_assert_false (vg_mask_edit_undo (edit));
    g_assert_false (vg_mask_edit_is_modified (edit));
    for (int k = 1; k <= 2; k++)
      {
        g_assert_true (vg_mask_edit_redo (edit));
        g_assert_cmpmem (vg_mask_edit_get_data (edit), H * W, states[k], H * W);
      }
    g_assert_false (vg_mask_edit_redo (edit));
  }

  /* Saved state: undoing away from it is modified, coming back is not. */
  vg_mask_edit_mark_saved (edit);
  g_assert_false (vg_mask_edit_is_modified (edit));
  g_assert_true (vg_mask_edit_undo (edit));
  g_assert_true (vg_mask_edit_is_modified (edit));
  g_assert_true (vg_mask_edit_redo (edit));
  g_assert_false (vg_mask_edit_is_modified (edit));

  /* A new stroke after an undo drops the redo; the saved state is then unreachable. */
  g_assert_true (vg_mask_edit_undo (edit));
  g_assert_cmpint (vg_mask_edit_flood_fill (edit, 45, 35, VG_CLASS_CLOTH), >, 0);
  g_assert_false (vg_mask_edit_can_redo (edit));
  g_assert_true (vg_mask_edit_is_modified (edit));
  g_assert_true (vg_mask_edit_undo (edit));
  g_assert_cmpmem (vg_mask_edit_get_data (edit), H * W, state1, H * W);
  g_assert_true (vg_mask_edit_is_modified (edit));
}

/* Many strokes: the oldest are dropped beyond the limit, the mask keeps their changes. */
VG_TEST ("/data/mask-edit/history-limit", test_history_limit)
{
  g_autoptr (VgMaskEdit) edit = new_edit (NULL);
  int undone = 0;

  for (int k = 0; k < 300; k++)
    g_assert_cmpint (vg_mask_edit_brush (edit, k % W + 0.5, (k / W) + 0.5, k % W + 0.5,
                                         (k / W) + 0.5, 0.5, 1 + k % 18), ==, 1);
  while (vg_mask_edit_undo (edit))
    undone++;
  g_assert_cmpint (undone, ==, 256);
  g_assert_cmpint (W * H - count_class (edit, 0), ==, 300 - 256);
  g_assert_true (vg_mask_edit_is_modified (edit));
}

VG_TEST_MAIN ()
