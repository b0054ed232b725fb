/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Correcting masks in the workbench, on a fixture split (symbolic links to a few real val
 * images) with a tiny random-weight model: the tools driven through the paint gesture's
 * signals change exactly the pixels the engine's tool functions change, undo and redo
 * restore exact pixels, saving writes a palette PNG into <split>/annotations that then is
 * the ground truth (shown and evaluated), the autosave writes a recovery file that a new
 * session offers to restore, and closing with unsaved changes asks first. */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <adwaita.h>
#include <png.h>

#include "test-fixtures.h"
#include "vg-classes.h"
#include "vg-mask-edit.h"
#include "visage-annotation.h"
#include "visage-application.h"
#include "visage-image-view.h"
#include "visage-overlay-area.h"
#include "visage-window.h"
#include "ui-test-util.h"
#include "test-register.h"

static const char *const fixture_names[] = { "0", "1", "2", NULL };

/* A copy of the mask being edited, to replay a tool on with the engine's API. */
static VgMaskEdit *
replica (VisageWindow *window)
{
  VgMaskEdit *edit = window_edit (window);
  g_autoptr (GError) error = NULL;
  VgMaskEdit *copy = vg_mask_edit_new (vg_mask_edit_get_data (edit),
                                       vg_mask_edit_get_height (edit),
                                       vg_mask_edit_get_width (edit), &error);

  g_assert_no_error (error);
  vg_mask_edit_set_protect (copy, vg_mask_edit_get_protect (edit));
  return copy;
}

static void
assert_same_mask (VgMaskEdit *a, VgMaskEdit *b)
{
  size_t n = (size_t) vg_mask_edit_get_height (a) * vg_mask_edit_get_width (a);

  g_assert_cmpint (vg_mask_edit_get_height (a), ==, vg_mask_edit_get_height (b));
  g_assert_cmpmem (vg_mask_edit_get_data (a), n, vg_mask_edit_get_data (b), n);
}

/* Pointer events as the drag gesture reports them: press at widget point (x, y), moves to
 * the given offsets, release. */
static void
drag (GtkGesture *gesture, double x, double y, const double *offsets, int n_offsets)
{
  double ox = 0, oy = 0;

  g_signal_emit_by_name (gesture, "drag-begin", x, y);
  for (int k = 0; k < n_offsets; k++)
    {
      ox = offsets[2 * k];
      oy = offsets[2 * k + 1];
      g_signal_emit_by_name (gesture, "drag-update", ox, oy);
    }
  g_signal_emit_by_name (gesture, "drag-end", ox, oy);
}

static void
click (GtkGesture *gesture, double x, double y)
{
  drag (gesture, x, y, NULL, 0);
}

/* The image pixel's centre in widget coordinates. */
static void
widget_point (VisageOverlayArea *area, double ix, double iy, double *x, double *y)
{
  visage_overlay_area_from_image (area, ix, iy, x, y);
}

static void
to_image (VisageOverlayArea *area, double x, double y, double *ix, double *iy)
{
  g_assert_true (visage_overlay_area_to_image (area, x, y, ix, iy));
}

static gboolean
title_modified (VisageWindow *window)
{
  return g_str_has_prefix (gtk_window_get_title (GTK_WINDOW (window)), "• ");
}

/* ---- the tools through the pointer ------------------------------------------------------ */

/* The polygon tool of test_tools: three corners, then a click on the first one fills the
 * outline (even-odd); Escape's action drops an outline without filling. */
static void
check_polygon (VisageWindow *window, VisageImageView *view, GtkGesture *paint)
{
  VisageOverlayArea *area = visage_image_view_get_area (view);
  VgMaskEdit *edit = window_edit (window);
  g_autoptr (VgMaskEdit) expected = NULL;
  const double corners[] = { 20.5, 400.5, 120.5, 410.5, 60.5, 480.5 };
  double points[6], wx[3], wy[3];

  gtk_widget_activate_action (GTK_WIDGET (view), "image.tool", "s", "polygon");
  gtk_widget_activate_action (GTK_WIDGET (view), "image.paint-class", "i", VG_CLASS_NECK_L);
  for (int k = 0; k < 3; k++)
    {
      widget_point (area, corners[2 * k], corners[2 * k + 1], &wx[k], &wy[k]);
      to_image (area, wx[k], wy[k], &points[2 * k], &points[2 * k + 1]);
      click (paint, wx[k], wy[k]);
      g_assert_cmpuint (visage_image_view_get_polygon_size (view), ==, k + 1);
    }
  expected = replica (window);
  g_assert_cmpint (vg_mask_edit_polygon_fill (expected, points, 3, VG_CLASS_NECK_L), >, 100);
  click (paint, wx[0] + 1, wy[0] + 1);
  g_assert_cmpuint (visage_image_view_get_polygon_size (view), ==, 0);
  assert_same_mask (edit, expected);
  g_assert_cmpint (vg_mask_edit_get (edit, 60, 420), ==, VG_CLASS_NECK_L);
  click (paint, wx[0], wy[0]);
  gtk_widget_activate_action (GTK_WIDGET (view), "image.polygon-cancel", NULL);
  g_assert_cmpuint (visage_image_view_get_polygon_size (view), ==, 0);
  assert_same_mask (edit, expected);
}

/* Protection, in test_tools after the fill made an earring region: a wide stroke "only
 * over earring" changes earring pixels and nothing else. */
static void
check_protection (VisageWindow *window, VisageImageView *view, GtkGesture *paint)
{
  VisageOverlayArea *area = visage_image_view_get_area (view);
  VgMaskEdit *edit = window_edit (window);
  size_t n = (size_t) vg_mask_edit_get_width (edit) * vg_mask_edit_get_height (edit);
  g_autoptr (VgMaskEdit) expected = NULL;
  g_autofree guint8 *before = NULL;
  double x, y, ix, iy;

  gtk_widget_activate_action (GTK_WIDGET (view), "image.protect-class", "i", VG_CLASS_EAR_R);
  g_assert_cmpint (vg_mask_edit_get_protect (edit), ==, VG_CLASS_EAR_R);
  gtk_widget_activate_action (GTK_WIDGET (view), "image.tool", "s", "brush");
  gtk_widget_activate_action (GTK_WIDGET (view), "image.paint-class", "i", VG_CLASS_NECK);
  visage_image_view_set_brush_size (view, 60);
  expected = replica (window);
  widget_point (area, 256.5, 300.5, &x, &y);
  to_image (area, x, y, &ix, &iy);
  g_assert_cmpint (vg_mask_edit_brush (expected, ix, iy, ix, iy, 30, VG_CLASS_NECK), >, 0);
  before = g_memdup2 (vg_mask_edit_get_data (edit), n);
  click (paint, x, y);
  assert_same_mask (edit, expected);
  for (size_t i = 0; i < n; i++)
    if (before[i] != VG_CLASS_EAR_R)
      g_assert_cmpint (vg_mask_edit_get_data (edit)[i], ==, before[i]);
  gtk_widget_activate_action (GTK_WIDGET (view), "image.protect-class", "i", -1);
}

/* Start from the prediction: the mask becomes the predicted one, in one undoable step. */
static void
check_start_from_prediction (VisageWindow *window, VisageImageView *view)
{
  const guint8 *labels = visage_overlay_area_get_labels (visage_image_view_get_area (view));
  VgMaskEdit *edit = window_edit (window);
  size_t n = (size_t) vg_mask_edit_get_width (edit) * vg_mask_edit_get_height (edit);
  g_autoptr (VgMaskEdit) before = replica (window);

  g_assert_nonnull (labels);
  gtk_widget_activate_action (GTK_WIDGET (view), "image.start-from-prediction", NULL);
  g_assert_cmpmem (vg_mask_edit_get_data (edit), n, labels, n);
  gtk_widget_activate_action (GTK_WIDGET (view), "image.undo", NULL);
  assert_same_mask (edit, before);
}

VG_TEST ("/annotation/tools", test_tools)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autoptr (VgMaskEdit) initial = NULL, expected = NULL, painted = NULL;
  VisageWindow *window;
  VisageImageView *view;
  VisageOverlayArea *area;
  GtkGesture *paint;
  VgMaskEdit *edit;
  double x, y, ix, iy, jx, jy;
  const double path[] = { 30, 0, 60, 25 };
  const int brush_sizes[] = { 8, 17 };
  int truth, predicted;

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  view = visage_window_get_image_view (window);
  area = visage_image_view_get_area (view);
  paint = visage_image_view_get_paint_gesture (view);
  edit = window_edit (window);
  initial = replica (window);
  g_assert_false (visage_window_get_modified (window));
  g_assert_false (title_modified (window));

  /* Outside edit mode the pointer does not paint. */
  widget_point (area, 100.5, 100.5, &x, &y);
  drag (paint, x, y, path, 2);
  assert_same_mask (edit, initial);

  /* Edit mode, the brush, hat (rare: not in the mask yet) picked by typing "1" "4", size 9. */
  gtk_widget_activate_action (GTK_WIDGET (view), "image.editing", NULL);
  g_assert_true (visage_image_view_get_editing (view));
  gtk_widget_activate_action (GTK_WIDGET (view), "image.tool", "s", "brush");
  gtk_widget_activate_action (GTK_WIDGET (view), "image.class-digit", "i", 1);
  g_assert_cmpint (visage_image_view_get_paint_class (view), ==, VG_CLASS_SKIN);
  gtk_widget_activate_action (GTK_WIDGET (view), "image.class-digit", "i", 4);
  g_assert_cmpint (visage_image_view_get_paint_class (view), ==, VG_CLASS_HAT);
  /* ] and [ step by about a fifth (at least a pixel), [ undoing ]; never below 1. */
  for (guint i = 0; i < G_N_ELEMENTS (brush_sizes); i++)
    {
      int size = brush_sizes[i];

      visage_image_view_set_brush_size (view, size);
      gtk_widget_activate_action (GTK_WIDGET (view), "image.brush-bigger", NULL);
      g_assert_cmpint (visage_image_view_get_brush_size (view), ==, size + MAX (1, size / 5));
      gtk_widget_activate_action (GTK_WIDGET (view), "image.brush-smaller", NULL);
      g_assert_cmpint (visage_image_view_get_brush_size (view), ==, size);
    }
  visage_image_view_set_brush_size (view, 1);
  gtk_widget_activate_action (GTK_WIDGET (view), "image.brush-smaller", NULL);
  g_assert_cmpint (visage_image_view_get_brush_size (view), ==, 1);
  visage_image_view_set_brush_size (view, 9);

  /* A stroke through the gesture paints what the engine's brush paints along the same
   * points: a dab, then two segments. */
  expected = replica (window);
  to_image (area, x, y, &ix, &iy);
  vg_mask_edit_brush (expected, ix, iy, ix, iy, 4.5, VG_CLASS_HAT);
  to_image (area, x + path[0], y + path[1], &jx, &jy);
  vg_mask_edit_brush (expected, ix, iy, jx, jy, 4.5, VG_CLASS_HAT);
  to_image (area, x + path[2], y + path[3], &ix, &iy);
  vg_mask_edit_brush (expected, jx, jy, ix, iy, 4.5, VG_CLASS_HAT);
  drag (paint, x, y, path, 2);
  assert_same_mask (edit, expected);
  g_assert_cmpint (vg_mask_edit_get (edit, 100, 100), ==, VG_CLASS_HAT);
  /* One stroke, shown as the ground truth; the window says there are unsaved changes. */
  visage_overlay_area_classes_at (area, 100, 100, &truth, &predicted);
  g_assert_cmpint (truth, ==, VG_CLASS_HAT);
  g_assert_true (visage_window_get_modified (window));
  g_assert_true (title_modified (window));
  painted = replica (window);

  /* Undo and redo, stroke by stroke, with exact pixels. */
  gtk_widget_activate_action (GTK_WIDGET (view), "image.undo", NULL);
  assert_same_mask (edit, initial);
  visage_overlay_area_classes_at (area, 100, 100, &truth, &predicted);
  g_assert_cmpint (truth, ==, vg_mask_edit_get (initial, 100, 100));
  g_assert_false (visage_window_get_modified (window));
  g_assert_false (title_modified (window));
  gtk_widget_activate_action (GTK_WIDGET (view), "image.redo", NULL);
  assert_same_mask (edit, painted);

  /* The eraser paints background. */
  gtk_widget_activate_action (GTK_WIDGET (view), "image.tool", "s", "eraser");
  g_clear_pointer (&expected, vg_mask_edit_free);
  expected = replica (window);
  to_image (area, x, y, &ix, &iy);
  vg_mask_edit_erase (expected, ix, iy, ix, iy, 4.5);
  click (paint, x, y);
  assert_same_mask (edit, expected);
  g_assert_cmpint (vg_mask_edit_get (edit, 100, 100), ==, VG_CLASS_BACKGROUND);

  /* Flood fill of the region under the pointer, with the class picked in the legend. */
  gtk_widget_activate_action (GTK_WIDGET (view), "image.tool", "s", "fill");
  gtk_widget_activate_action (GTK_WIDGET (view), "image.paint-class", "i", VG_CLASS_EAR_R);
  widget_point (area, 256.5, 300.5, &x, &y);
  to_image (area, x, y, &ix, &iy);
  g_clear_pointer (&expected, vg_mask_edit_free);
  expected = replica (window);
  g_assert_cmpint (vg_mask_edit_flood_fill (expected, (int) ix, (int) iy, VG_CLASS_EAR_R), >, 0);
  click (paint, x, y);
  assert_same_mask (edit, expected);

  check_polygon (window, view, paint);

  /* Left/right swap of the clicked region: paint a left eye, swap it. */
  gtk_widget_activate_action (GTK_WIDGET (view), "image.tool", "s", "brush");
  gtk_widget_activate_action (GTK_WIDGET (view), "image.paint-class", "i", VG_CLASS_L_EYE);
  widget_point (area, 300.5, 60.5, &x, &y);
  click (paint, x, y);
  g_assert_cmpint (vg_mask_edit_get (edit, 300, 60), ==, VG_CLASS_L_EYE);
  gtk_widget_activate_action (GTK_WIDGET (view), "image.tool", "s", "swap");
  g_clear_pointer (&expected, vg_mask_edit_free);
  expected = replica (window);
  g_assert_cmpint (vg_mask_edit_swap_region (expected, 300, 60), >, 0);
  click (paint, x, y);
  assert_same_mask (edit, expected);
  g_assert_cmpint (vg_mask_edit_get (edit, 300, 60), ==, VG_CLASS_R_EYE);

  check_protection (window, view, paint);
  check_start_from_prediction (window, view);

  /* Undo all the way back restores the file's mask exactly. */
  while (vg_mask_edit_can_undo (edit))
    gtk_widget_activate_action (GTK_WIDGET (view), "image.undo", NULL);
  assert_same_mask (edit, initial);
  g_assert_false (visage_window_get_modified (window));

  ui_destroy_window (window);
}

/* ---- saving ----------------------------------------------------------------------------- */

static int
png_color_type (const char *path)
{
  FILE *f = fopen (path, "rb");
  guint8 header[26];
  size_t got;

  g_assert_nonnull (f);
  got = fread (header, 1, sizeof header, f);
  fclose (f);
  g_assert_cmpuint (got, ==, sizeof header);
  /* IHDR: bit depth at byte 24, colour type at 25. */
  g_assert_cmpint (header[24], ==, 8);
  return header[25];
}

VG_TEST ("/annotation/save-and-evaluate", test_save_and_evaluate)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (VgMaskEdit) saved = NULL;
  g_autofree char *target = NULL, *original = NULL;
  VisageWindow *window;
  VisageImageView *view;
  VisageOverlayArea *area;
  VgMaskEdit *edit;
  VgImage mask = { 0 };
  const VgEvaluation *evaluation;
  const VgSplit *split;
  int truth, predicted;
  size_t n;

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  view = visage_window_get_image_view (window);
  area = visage_image_view_get_area (view);
  edit = window_edit (window);
  n = (size_t) vg_mask_edit_get_height (edit) * vg_mask_edit_get_width (edit);
  target = g_build_filename (ui_fixture.split_dir, "annotations", "0.png", NULL);
  original = g_build_filename (ui_fixture.split_dir, "masks", "0.png", NULL);
  g_assert_cmpstr (visage_annotation_get_target_path (visage_window_get_annotation (window)),
                   ==, target);
  g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));

  /* An edit, saved with the window's action. */
  g_assert_cmpint (vg_mask_edit_brush (edit, 40, 40, 200, 40, 12, VG_CLASS_HAT), >, 0);
  visage_annotation_changed (visage_window_get_annotation (window));
  g_assert_true (title_modified (window));
  g_action_group_activate_action (G_ACTION_GROUP (window), "save-annotation", NULL);
  g_assert_false (visage_window_get_modified (window));
  g_assert_false (title_modified (window));

  /* The file: an 8-bit palette PNG (colour type 3) with exactly the edited indices; the
   * split's own mask is untouched (still the link into ../shared). */
  g_assert_true (g_file_test (target, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (png_color_type (target), ==, PNG_COLOR_TYPE_PALETTE);
  g_assert_true (vg_mask_load (&mask, target, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (mask.data, n, vg_mask_edit_get_data (edit), n);
  g_assert_true (g_file_test (original, G_FILE_TEST_IS_SYMLINK));
  saved = replica (window);

  /* The split now takes the annotation as sample 0's ground truth. */
  split = visage_window_get_split (window);
  g_assert_cmpint (split->n_annotated, ==, 1);
  g_assert_cmpstr (split->samples[0].mask_path, ==, target);

  /* Another image, and back: the saved annotation is what is shown and edited. */
  visage_gallery_select_position (visage_window_get_gallery (window), 1);
  g_assert_true (spin_until (window_annotation_ready, window));
  g_assert_cmpstr (visage_image_view_get_title (view), ==, "1");
  visage_gallery_select_position (visage_window_get_gallery (window), 0);
  g_assert_true (spin_until (window_annotation_ready, window));
  g_assert_cmpstr (visage_image_view_get_title (view), ==, "0");
  assert_same_mask (window_edit (window), saved);
  visage_overlay_area_classes_at (area, 100, 40, &truth, &predicted);
  g_assert_cmpint (truth, ==, VG_CLASS_HAT);

  /* The evaluation measures against the annotation: sample 0's ground-truth pixel counts
   * per class (rows of its confusion matrix) are those of the saved file. */
  visage_window_evaluate (window);
  g_assert_true (spin_until (window_evaluated, window));
  evaluation = visage_window_get_evaluation (window);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      guint64 row = 0, expected = 0;

      for (int p = 0; p < VG_NUM_CLASSES; p++)
        row += evaluation->images[0].confusion.counts[c][p];
      for (size_t i = 0; i < n; i++)
        expected += mask.data[i] == c;
      g_assert_cmpuint (row, ==, expected);
    }
  vg_image_clear (&mask);
  ui_destroy_window (window);
  /* The next test starts from the split's own masks. */
  g_assert_cmpint (g_unlink (target), ==, 0);
}

/* Writing over the split's own mask takes an explicit confirmation. */
VG_TEST ("/annotation/save-over-truth", test_save_over_truth)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *original = NULL, *shared = NULL;
  VisageWindow *window;
  VgMaskEdit *edit;
  VgImage mask = { 0 };
  struct stat before, after;
  size_t n;

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  visage_gallery_select_position (visage_window_get_gallery (window), 2);
  g_assert_true (spin_until (window_annotation_ready, window));
  edit = window_edit (window);
  n = (size_t) vg_mask_edit_get_height (edit) * vg_mask_edit_get_width (edit);
  original = g_build_filename (ui_fixture.split_dir, "masks", "2.png", NULL);
  shared = g_file_read_link (original, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stat (shared, &before), ==, 0);
  g_assert_cmpint (vg_mask_edit_flood_fill (edit, 0, 0, VG_CLASS_CLOTH), >, 0);
  visage_annotation_changed (visage_window_get_annotation (window));

  /* Cancel leaves everything as it was. */
  g_action_group_activate_action (G_ACTION_GROUP (window), "save-annotation-over-truth", NULL);
  g_assert_nonnull (visage_window_get_message_dialog (window));
  adw_message_dialog_response (visage_window_get_message_dialog (window), "cancel");
  g_assert_true (g_file_test (original, G_FILE_TEST_IS_SYMLINK));
  g_assert_true (visage_window_get_modified (window));

  /* Replace: the split's file (here a link, replaced by the file itself; the data set's
   * file it pointed to stays untouched) holds the corrected mask. */
  g_action_group_activate_action (G_ACTION_GROUP (window), "save-annotation-over-truth", NULL);
  adw_message_dialog_response (visage_window_get_message_dialog (window), "replace");
  g_assert_false (visage_window_get_modified (window));
  g_assert_false (g_file_test (original, G_FILE_TEST_IS_SYMLINK));
  g_assert_true (vg_mask_load (&mask, original, &error));
  g_assert_cmpmem (mask.data, n, vg_mask_edit_get_data (edit), n);
  g_assert_cmpint (stat (shared, &after), ==, 0);
  g_assert_cmpint (after.st_size, ==, before.st_size);
  g_assert_cmpint (after.st_mtime, ==, before.st_mtime);
  vg_image_clear (&mask);
  ui_destroy_window (window);

  /* Put the fixture's link back for the other tests. */
  g_assert_cmpint (g_unlink (original), ==, 0);
  g_assert_cmpint (symlink (shared, original), ==, 0);
}

/* ---- autosave and recovery -------------------------------------------------------------- */

static gboolean
file_exists (gpointer data)
{
  return g_file_test (data, G_FILE_TEST_IS_REGULAR);
}

VG_TEST ("/annotation/recovery", test_recovery)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autoptr (VisageApplication) app2 = NULL;
  g_autoptr (VgMaskEdit) unsaved = NULL;
  g_autofree char *recovery = NULL, *image = NULL;
  VisageWindow *window;
  VisageAnnotation *annotation;
  AdwMessageDialog *dialog;
  VgMaskEdit *edit;

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  annotation = visage_window_get_annotation (window);
  edit = window_edit (window);
  image = g_build_filename (ui_fixture.split_dir, "images", "0.jpg", NULL);
  recovery = visage_annotation_recovery_path (image);
  g_assert_true (g_str_has_prefix (recovery, ui_fixture.scratch_dir));
  g_assert_false (g_file_test (recovery, G_FILE_TEST_EXISTS));

  /* A change is autosaved after the interval (1 s here, 30 s by default). */
  visage_annotation_set_autosave_interval (annotation, 1);
  g_assert_cmpint (vg_mask_edit_polygon_fill (edit, (const double[]) { 10, 10, 300, 30, 150, 250 },
                                              3, VG_CLASS_NOSE), >, 0);
  visage_annotation_changed (annotation);
  g_assert_true (spin_until (file_exists, recovery));
  unsaved = replica (window);

  /* Undoing back to the saved state removes it; redoing writes it again. */
  g_assert_true (vg_mask_edit_undo (edit));
  visage_annotation_changed (annotation);
  g_assert_false (g_file_test (recovery, G_FILE_TEST_EXISTS));
  g_assert_true (vg_mask_edit_redo (edit));
  visage_annotation_changed (annotation);
  g_assert_true (visage_annotation_write_recovery (annotation, NULL));

  /* A crash: the window goes away without saving or asking. */
  ui_destroy_window (window);
  g_assert_true (g_file_test (recovery, G_FILE_TEST_IS_REGULAR));

  /* The next session, opening that image, offers the changes back. */
  app2 = new_app ();
  window = ui_fixture_open_workbench (app2, window_annotation_ready);
  dialog = visage_window_get_message_dialog (window);
  g_assert_nonnull (dialog);
  g_assert_false (visage_window_get_modified (window));
  adw_message_dialog_response (dialog, "recover");
  assert_same_mask (window_edit (window), unsaved);
  g_assert_true (visage_window_get_modified (window));
  g_assert_true (title_modified (window));
  /* Recovering is one undoable step. */
  g_assert_true (vg_mask_edit_can_undo (window_edit (window)));

  /* Closing asks; Cancel keeps the window, Discard closes it and drops the file. */
  {
    gpointer ptr = window;

    g_object_add_weak_pointer (G_OBJECT (window), &ptr);
    gtk_window_close (GTK_WINDOW (window));
    spin_frames (2);
    g_assert_nonnull (ptr);
    dialog = visage_window_get_message_dialog (window);
    g_assert_nonnull (dialog);
    adw_message_dialog_response (dialog, "cancel");
    spin_frames (2);
    g_assert_nonnull (ptr);
    g_action_group_activate_action (G_ACTION_GROUP (app2), "quit", NULL);
    spin_frames (2);
    g_assert_nonnull (ptr);
    dialog = visage_window_get_message_dialog (window);
    g_assert_nonnull (dialog);
    adw_message_dialog_response (dialog, "discard");
    g_assert_true (spin_until (is_null, &ptr));
  }
  g_assert_false (g_file_test (recovery, G_FILE_TEST_EXISTS));
}

/* Closing with unsaved changes and answering Save writes the annotation. */
VG_TEST ("/annotation/close-and-save", test_close_and_save)
{
  g_autoptr (VisageApplication) app = NULL;
  const char *split_dir = ui_fixture.split_dir != NULL ? ui_fixture.split_dir : "";
  g_autofree char *target = g_build_filename (split_dir, "annotations", "0.png", NULL);
  VisageWindow *window;
  gpointer ptr;

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  g_assert_cmpint (vg_mask_edit_erase (window_edit (window), 256, 256, 256, 256, 20), >, 0);
  visage_annotation_changed (visage_window_get_annotation (window));
  ptr = window;
  g_object_add_weak_pointer (G_OBJECT (window), &ptr);
  gtk_window_close (GTK_WINDOW (window));
  g_assert_nonnull (ptr);
  adw_message_dialog_response (visage_window_get_message_dialog (window), "save");
  g_assert_true (spin_until (is_null, &ptr));
  g_assert_true (g_file_test (target, G_FILE_TEST_IS_REGULAR));
  g_unlink (target);
}

int
main (int argc, char *argv[])
{
  return ui_test_main (argc, argv, "annotation", fixture_names, "split", FALSE);
}
