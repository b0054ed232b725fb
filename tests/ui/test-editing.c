/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Editing you can see, on a fixture split (symbolic links to a few real val images) with
 * a tiny random-weight model: E from anywhere in the window enters edit mode and shows the
 * mask being edited; Undo, Redo and Save follow the edits' state; the header bar marks
 * unsaved changes; the gallery marks unsaved and corrected images and scores a saved
 * correction; the high-contrast palette tells every class apart (and never reaches the
 * saved file), the outline mode draws only the regions' edges; the recovery question says
 * how old the changes are; an image without ground truth offers only its prediction, which
 * is not saved as the user's mode; the side by side panes are named. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <utime.h>

#include <adwaita.h>
#include <glib/gstdio.h>
#include <png.h>

#include "test-fixtures.h"
#include "vg-classes.h"
#include "vg-mask-edit.h"
#include "visage-annotation.h"
#include "visage-application.h"
#include "visage-classes.h"
#include "visage-gallery.h"
#include "visage-image-view.h"
#include "visage-overlay-area.h"
#include "visage-sample.h"
#include "visage-window.h"
#include "ui-test-util.h"
#include "test-register.h"

static const char *const fixture_names[] = { "0", "1", NULL };

/* The first widget under root offering action (with target, unless NULL). */
static GtkWidget *
find_actionable (GtkWidget *root, const char *action, GVariant *target)
{
  g_autoptr (GVariant) owned = target != NULL ? g_variant_ref_sink (target) : NULL;

  if (GTK_IS_ACTIONABLE (root)
      && g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (root)), action) == 0
      && (owned == NULL
          || g_variant_equal (owned, gtk_actionable_get_action_target_value (
                                       GTK_ACTIONABLE (root)))))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_actionable (child, action, owned != NULL ? g_variant_ref (owned)
                                                                       : NULL);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
find_button (VisageWindow *window, const char *action)
{
  GtkWidget *button = find_actionable (GTK_WIDGET (window), action, NULL);

  g_assert_nonnull (button);
  return button;
}

static GtkWidget *
find_mode_button (VisageWindow *window, const char *mode)
{
  GtkWidget *button = find_actionable (GTK_WIDGET (window), "image.mode",
                                       g_variant_new_string (mode));

  g_assert_nonnull (button);
  return button;
}

/* A label shown under root whose text begins with prefix, or NULL. */
static GtkWidget *
find_mapped_label (GtkWidget *root, const char *prefix)
{
  if (GTK_IS_LABEL (root) && gtk_widget_get_mapped (root)
      && g_str_has_prefix (gtk_label_get_label (GTK_LABEL (root)), prefix))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_mapped_label (child, prefix);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The gallery shows a label with this text (the first image's marks). */
static gboolean
gallery_shows (VisageWindow *window, const char *text)
{
  GtkWidget *label;

  spin_frames (2);
  label = find_mapped_label (GTK_WIDGET (visage_window_get_gallery (window)), text);
  return label != NULL && g_str_equal (gtk_label_get_label (GTK_LABEL (label)), text);
}

/* The header bar shows the unsaved mark. */
static gboolean
header_marked (VisageWindow *window)
{
  GtkWidget *header_bar;

  spin_frames (2);
  header_bar = find_widget (GTK_WIDGET (window), ADW_TYPE_HEADER_BAR, NULL);
  return find_mapped_label (header_bar, "•") != NULL;
}

/* The marks of the image's correction where a person sees them: while it is unsaved the
 * header's dot and the gallery's "• Unsaved", once saved the gallery's "✓ Corrected". */
static void
assert_marks (VisageWindow *window, VisageSample *sample, gboolean unsaved)
{
  g_assert_cmpint (header_marked (window), ==, unsaved);
  g_assert_cmpint (visage_sample_get_unsaved (sample), ==, unsaved);
  g_assert_cmpint (visage_sample_get_corrected (sample), ==, !unsaved);
  g_assert_cmpint (gallery_shows (window, "• Unsaved"), ==, unsaved);
  g_assert_cmpint (gallery_shows (window, "✓ Corrected"), ==, !unsaved);
}

/* The window's own shortcut for keyval with modifiers, activated as a key press that no
 * focused widget took would activate it (the controller runs in the bubble phase). */
static void
press_window_key (VisageWindow *window, guint keyval, GdkModifierType modifiers)
{
  g_autoptr (GListModel) controllers = gtk_widget_observe_controllers (GTK_WIDGET (window));

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GtkEventController) controller = g_list_model_get_item (controllers, i);

      if (!GTK_IS_SHORTCUT_CONTROLLER (controller)
          || g_strcmp0 (gtk_event_controller_get_name (controller), "visage-window-shortcuts"))
        continue;
      g_assert_cmpint (gtk_event_controller_get_propagation_phase (controller), ==,
                       GTK_PHASE_BUBBLE);
      for (guint k = 0; k < g_list_model_get_n_items (G_LIST_MODEL (controller)); k++)
        {
          g_autoptr (GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (controller), k);
          GtkShortcutTrigger *trigger = gtk_shortcut_get_trigger (shortcut);

          if (GTK_IS_KEYVAL_TRIGGER (trigger)
              && gtk_keyval_trigger_get_keyval (GTK_KEYVAL_TRIGGER (trigger)) == keyval
              && gtk_keyval_trigger_get_modifiers (GTK_KEYVAL_TRIGGER (trigger)) == modifiers)
            {
              g_assert_true (gtk_shortcut_action_activate (gtk_shortcut_get_action (shortcut), 0,
                                                           GTK_WIDGET (window), NULL));
              return;
            }
        }
    }
  g_assert_not_reached ();
}

static VisageSample *
sample_at (VisageWindow *window, guint position)
{
  GListModel *shown = visage_gallery_get_shown (visage_window_get_gallery (window));
  VisageSample *sample = g_list_model_get_item (shown, position);

  g_object_unref (sample);  /* the gallery keeps it */
  return sample;
}

static gboolean
sample_has_hat (gpointer data)
{
  const VgImageResult *result = visage_sample_get_result (VISAGE_SAMPLE (data));

  return result != NULL && (result->truth_classes & (1u << VG_CLASS_HAT)) != 0;
}

/* E with the focus on a header button, Undo/Redo/Save and their state, the header's mark,
 * the gallery's marks and the score of a saved correction. */
VG_TEST ("/editing/visible-editing", test_visible_editing)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autofree char *target = NULL;
  VisageWindow *window;
  VisageImageView *view;
  VisageSample *sample;
  GtkWidget *undo, *redo, *save;

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  target = g_build_filename (ui_fixture.split_dir, "annotations", "0.png", NULL);
  view = visage_window_get_image_view (window);
  /* The evaluation's scores are what a saved correction must replace. */
  visage_window_evaluate (window);
  g_assert_true (spin_until (window_evaluated, window));
  sample = sample_at (window, 0);
  g_assert_cmpstr (visage_sample_get_name (sample), ==, "0");
  g_assert_false (sample_has_hat (sample));
  undo = find_button (window, "image.undo");
  redo = find_button (window, "image.redo");
  save = find_button (window, "win.save-annotation");
  g_assert_false (gtk_widget_get_sensitive (undo));
  g_assert_false (gtk_widget_get_sensitive (redo));
  g_assert_false (gtk_widget_get_sensitive (save));
  g_assert_false (header_marked (window));

  /* E with the focus away from the image: edit mode, showing the mask being edited. */
  visage_image_view_set_mode (view, "prediction");
  gtk_widget_grab_focus (find_button (window, "win.evaluate"));
  press_window_key (window, GDK_KEY_e, 0);
  g_assert_true (visage_image_view_get_editing (view));
  g_assert_cmpstr (visage_image_view_get_mode (view), ==, "truth");

  /* An edit: Undo and Save become available, the header and the gallery mark it. */
  g_assert_cmpint (vg_mask_edit_brush (window_edit (window), 40, 40, 200, 40, 12, VG_CLASS_HAT),
                   >, 0);
  visage_annotation_changed (visage_window_get_annotation (window));
  g_assert_true (gtk_widget_get_sensitive (undo));
  g_assert_false (gtk_widget_get_sensitive (redo));
  g_assert_true (gtk_widget_get_sensitive (save));
  assert_marks (window, sample, TRUE);

  /* Ctrl+Z and Shift+Ctrl+Z from the window, focus elsewhere. */
  press_window_key (window, GDK_KEY_z, GDK_CONTROL_MASK);
  g_assert_false (visage_window_get_modified (window));
  g_assert_false (gtk_widget_get_sensitive (save));
  g_assert_true (gtk_widget_get_sensitive (redo));
  g_assert_false (header_marked (window));
  g_assert_false (visage_sample_get_unsaved (sample));
  press_window_key (window, GDK_KEY_z, GDK_CONTROL_MASK | GDK_SHIFT_MASK);
  g_assert_true (visage_window_get_modified (window));

  /* Saved: corrected in the gallery, and scored against the saved mask (with the hat). */
  g_signal_emit_by_name (save, "clicked");
  g_assert_true (g_file_test (target, G_FILE_TEST_IS_REGULAR));
  g_assert_false (gtk_widget_get_sensitive (save));
  assert_marks (window, sample, FALSE);
  g_assert_true (spin_until (sample_has_hat, sample));
  g_assert_true (spin_until (window_settled, window));

  /* E again leaves edit mode. */
  press_window_key (window, GDK_KEY_e, 0);
  g_assert_false (visage_image_view_get_editing (view));
  ui_destroy_window (window);

  /* The next session marks the corrected image from the start. */
  {
    g_autoptr (VisageApplication) app2 = new_app ();

    window = ui_fixture_open_workbench (app2, window_annotation_ready);
    g_assert_true (visage_sample_get_corrected (sample_at (window, 0)));
    g_assert_false (visage_sample_get_corrected (sample_at (window, 1)));
    ui_destroy_window (window);
  }
  g_assert_cmpint (g_unlink (target), ==, 0);
}

/* ---- display palette and outlines ------------------------------------------------------- */

static void
lab (const guint8 *rgb, double out[3])
{
  double c[3], xyz[3], f[3];
  static const double white[3] = { 0.95047, 1.0, 1.08883 };

  for (int k = 0; k < 3; k++)
    {
      double u = rgb[k] / 255.0;

      c[k] = u <= 0.04045 ? u / 12.92 : pow ((u + 0.055) / 1.055, 2.4);
    }
  xyz[0] = 0.4124 * c[0] + 0.3576 * c[1] + 0.1805 * c[2];
  xyz[1] = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  xyz[2] = 0.0193 * c[0] + 0.1192 * c[1] + 0.9505 * c[2];
  for (int k = 0; k < 3; k++)
    {
      double t = xyz[k] / white[k];

      f[k] = t > 0.008856 ? cbrt (t) : 7.787 * t + 16.0 / 116.0;
    }
  out[0] = 116 * f[1] - 16;
  out[1] = 500 * (f[0] - f[1]);
  out[2] = 200 * (f[1] - f[2]);
}

/* CIE76 colour difference between two classes' colours in a palette. */
static double
delta_e (VisagePalette palette, int a, int b)
{
  double la[3], lb[3];

  lab (visage_palette_rgb (palette, a), la);
  lab (visage_palette_rgb (palette, b), lb);
  return sqrt ((la[0] - lb[0]) * (la[0] - lb[0]) + (la[1] - lb[1]) * (la[1] - lb[1])
               + (la[2] - lb[2]) * (la[2] - lb[2]));
}

VG_TEST ("/editing/palette-distances", test_palette_distances)
{
  /* The data set's own colours lose these pairs over a photo. */
  g_assert_cmpfloat (delta_e (VISAGE_PALETTE_DATA_SET, VG_CLASS_L_LIP, VG_CLASS_HAIR), <, 30);
  g_assert_cmpfloat (delta_e (VISAGE_PALETTE_DATA_SET, VG_CLASS_NECK_L, VG_CLASS_BACKGROUND),
                     <, 50);
  /* High contrast: every pair clearly apart, those two far apart, all but the background
   * light enough to show over dark hair (L* 30 or more). */
  for (int a = 0; a < VG_NUM_CLASSES; a++)
    {
      double l[3];

      for (int b = a + 1; b < VG_NUM_CLASSES; b++)
        g_assert_cmpfloat (delta_e (VISAGE_PALETTE_HIGH_CONTRAST, a, b), >=, 25);
      lab (visage_palette_rgb (VISAGE_PALETTE_HIGH_CONTRAST, a), l);
      if (a != VG_CLASS_BACKGROUND)
        g_assert_cmpfloat (l[0], >=, 30);
    }
  g_assert_cmpfloat (delta_e (VISAGE_PALETTE_HIGH_CONTRAST, VG_CLASS_L_LIP, VG_CLASS_HAIR), >,
                     80);
  g_assert_cmpfloat (delta_e (VISAGE_PALETTE_HIGH_CONTRAST, VG_CLASS_NECK_L,
                              VG_CLASS_BACKGROUND), >, 80);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    g_assert_cmpmem (visage_palette_rgb (VISAGE_PALETTE_DATA_SET, c), 3, vg_class_rgb (c), 3);
}

/* An image pixel deep inside a region of one class (9x9 the same), near the centre. */
static void
find_inner_pixel (VgMaskEdit *edit, int *px, int *py)
{
  int w = vg_mask_edit_get_width (edit), h = vg_mask_edit_get_height (edit);

  for (int r = 0; r < MIN (w, h) / 2; r += 4)
    for (int y = h / 2 - r; y <= h / 2 + r; y += 4)
      for (int x = w / 2 - r; x <= w / 2 + r; x += 4)
        {
          gboolean uniform = x >= 4 && y >= 4 && x < w - 4 && y < h - 4;
          int c = uniform ? vg_mask_edit_get (edit, x, y) : -1;

          for (int dy = -4; uniform && dy <= 4; dy++)
            for (int dx = -4; uniform && dx <= 4; dx++)
              uniform = vg_mask_edit_get (edit, x + dx, y + dy) == c;
          if (uniform && c != VG_CLASS_BACKGROUND)
            {
              *px = x;
              *py = y;
              return;
            }
        }
  g_assert_not_reached ();
}

static guint8 *
render (VisageOverlayArea *area, int *width, int *height)
{
  guint8 *pixels = visage_overlay_area_read_pixels (area, width, height);

  g_assert_nonnull (pixels);
  return pixels;
}

/* The palette of a PNG file is the data set's. */
static void
assert_data_set_palette (const char *path)
{
  FILE *f = fopen (path, "rb");
  png_structp png = png_create_read_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  png_colorp palette = NULL;
  int n = 0;

  g_assert_nonnull (f);
  g_assert_nonnull (info);
  if (setjmp (png_jmpbuf (png)))
    g_assert_not_reached ();
  png_init_io (png, f);
  png_read_info (png, info);
  g_assert_cmpint (png_get_color_type (png, info), ==, PNG_COLOR_TYPE_PALETTE);
  g_assert_true (png_get_PLTE (png, info, &palette, &n));
  g_assert_cmpint (n, >=, VG_NUM_CLASSES);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      const guint8 rgb[3] = { palette[c].red, palette[c].green, palette[c].blue };

      g_assert_cmpmem (rgb, 3, vg_class_rgb (c), 3);
    }
  png_destroy_read_struct (&png, &info, NULL);
  fclose (f);
}

/* The view's palette and outline options on screen; saving keeps the data set's palette. */
VG_TEST ("/editing/display-options", test_display_options)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autofree char *target = NULL;
  g_autofree guint8 *photo = NULL, *filled = NULL, *outlined = NULL, *dataset = NULL;
  VisageWindow *window;
  VisageImageView *view;
  VisageOverlayArea *area;
  const guint8 *expected;
  double x, y;
  int ix, iy, w, h, cls, n_filled = 0, n_outlined = 0;
  size_t at;

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  target = g_build_filename (ui_fixture.split_dir, "annotations", "0.png", NULL);
  view = visage_window_get_image_view (window);
  area = visage_image_view_get_area (view);
  visage_image_view_set_mode (view, "truth");
  find_inner_pixel (window_edit (window), &ix, &iy);
  cls = vg_mask_edit_get (window_edit (window), ix, iy);
  visage_overlay_area_from_image (area, ix + 0.5, iy + 0.5, &x, &y);

  visage_image_view_set_opacity (view, 0.0);
  photo = render (area, &w, &h);
  visage_image_view_set_opacity (view, 1.0);
  dataset = render (area, &w, &h);
  at = ((size_t) floor (y) * w + (size_t) floor (x)) * 4;
  g_assert_cmpmem (dataset + at, 3, vg_class_rgb (cls), 3);

  /* High contrast, through the display menu's action. */
  gtk_widget_activate_action (GTK_WIDGET (view), "image.high-contrast", NULL);
  filled = render (area, &w, &h);
  expected = visage_palette_rgb (VISAGE_PALETTE_HIGH_CONTRAST, cls);
  for (int k = 0; k < 3; k++)
    g_assert_cmpint (ABS ((int) filled[at + k] - (int) expected[k]), <=, 1);

  /* Outlines only: the photo inside the regions, colour on far fewer pixels. */
  gtk_widget_activate_action (GTK_WIDGET (view), "image.outline", NULL);
  outlined = render (area, &w, &h);
  g_test_message ("at %d,%d class %d: photo %d %d %d filled %d %d %d outlined %d %d %d", ix, iy,
                  cls, photo[at], photo[at + 1], photo[at + 2], filled[at], filled[at + 1],
                  filled[at + 2], outlined[at], outlined[at + 1], outlined[at + 2]);
  g_assert_cmpmem (outlined + at, 3, photo + at, 3);
  for (size_t i = 0; i < (size_t) w * h * 4; i += 4)
    {
      n_filled += memcmp (filled + i, photo + i, 3) != 0;
      n_outlined += memcmp (outlined + i, photo + i, 3) != 0;
    }
  g_assert_cmpint (n_outlined, >, 0);
  g_assert_cmpint (n_outlined, <, n_filled / 3);
  keep_screenshot (window, "editing-outline.png");
  gtk_widget_activate_action (GTK_WIDGET (view), "image.outline", NULL);
  keep_screenshot (window, "editing-high-contrast.png");

  /* A correction saved meanwhile is a palette PNG with the data set's colours. */
  g_assert_cmpint (vg_mask_edit_brush (window_edit (window), 40, 40, 60, 40, 6, VG_CLASS_HAT),
                   >, 0);
  visage_annotation_changed (visage_window_get_annotation (window));
  g_action_group_activate_action (G_ACTION_GROUP (window), "save-annotation", NULL);
  assert_data_set_palette (target);
  ui_destroy_window (window);
  g_assert_cmpint (g_unlink (target), ==, 0);
}

/* ---- the recovery question -------------------------------------------------------------- */

static char *
recovery_body (VisageApplication **app)
{
  VisageWindow *window;
  AdwMessageDialog *dialog;
  char *body;

  *app = new_app ();
  window = ui_fixture_open_workbench (*app, window_annotation_ready);
  dialog = visage_window_get_message_dialog (window);
  g_assert_nonnull (dialog);
  body = g_strdup (adw_message_dialog_get_body (dialog));
  adw_message_dialog_response (dialog, "later");
  ui_destroy_window (window);
  return body;
}

VG_TEST ("/editing/recovery-age", test_recovery_age)
{
  g_autoptr (VisageApplication) app = NULL, app2 = NULL, app3 = NULL;
  g_autofree char *recovery = NULL, *fresh = NULL, *old = NULL;
  VisageWindow *window;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  struct utimbuf times = { .actime = now - 3 * 3600 - 60, .modtime = now - 3 * 3600 - 60 };

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  recovery = visage_annotation_recovery_path (
    visage_annotation_get_image_path (visage_window_get_annotation (window)));
  g_assert_cmpint (vg_mask_edit_erase (window_edit (window), 100, 100, 120, 100, 8), >, 0);
  visage_annotation_changed (visage_window_get_annotation (window));
  /* The window goes without saving: the changes are kept in the recovery file. */
  ui_destroy_window (window);
  g_assert_true (g_file_test (recovery, G_FILE_TEST_IS_REGULAR));

  fresh = recovery_body (&app2);
  g_assert_null (strstr (fresh, "earlier session"));
  g_assert_nonnull (strstr (fresh, "less than a minute ago"));
  g_assert_cmpint (g_utime (recovery, &times), ==, 0);
  old = recovery_body (&app3);
  g_assert_nonnull (strstr (old, "3 hours ago"));
  g_unlink (recovery);
}

/* ---- modes without ground truth --------------------------------------------------------- */

static gboolean
label_shown (VisageWindow *window, const char *text)
{
  GtkWidget *label = find_mapped_label (GTK_WIDGET (visage_window_get_image_view (window)),
                                        text);

  return label != NULL && g_str_equal (gtk_label_get_label (GTK_LABEL (label)), text);
}

/* An image of the split on its own, without its ground truth (as --image opens it), opened
 * in window and shown; its path, to unlink. */
static char *
open_lone_image (VisageWindow *window)
{
  g_autofree char *source = g_build_filename (ui_fixture.split_dir, "images", "1.jpg", NULL);
  char *lone = g_build_filename (ui_fixture.scratch_dir, "lone.jpg", NULL);

  g_assert_cmpint (symlink (source, lone), ==, 0);
  visage_window_open_image (window, lone);
  g_assert_true (spin_until (window_settled, window));
  return lone;
}

VG_TEST ("/editing/image-without-truth", test_image_without_truth)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autofree char *lone = NULL;
  VisageWindow *window;
  VisageImageView *view;
  const char *const truth_modes[] = { "truth", "errors", "side-by-side" };

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  view = visage_window_get_image_view (window);
  visage_image_view_set_mode (view, "errors");
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (visage_window_get_gallery (window))));

  /* An image on its own (as --image opens it): its prediction, the other modes off. */
  lone = open_lone_image (window);
  g_assert_cmpstr (visage_image_view_get_mode (view), ==, "prediction");
  for (guint i = 0; i < G_N_ELEMENTS (truth_modes); i++)
    {
      g_assert_false (gtk_widget_get_sensitive (find_mode_button (window, truth_modes[i])));
      visage_image_view_set_mode (view, truth_modes[i]);
      g_assert_cmpstr (visage_image_view_get_mode (view), ==, "prediction");
    }
  g_assert_true (gtk_widget_get_sensitive (find_mode_button (window, "prediction")));

  /* Back to an image of the split: its ground truth, and the mode chosen before. */
  visage_gallery_select_position (visage_window_get_gallery (window), 0);
  g_assert_true (spin_until (window_annotation_ready, window));
  g_assert_cmpstr (visage_image_view_get_mode (view), ==, "errors");
  for (guint i = 0; i < G_N_ELEMENTS (truth_modes); i++)
    g_assert_true (gtk_widget_get_sensitive (find_mode_button (window, truth_modes[i])));

  /* Side by side names its panes. */
  spin_frames (2);
  g_assert_false (label_shown (window, "Ground Truth"));
  visage_image_view_set_mode (view, "side-by-side");
  spin_frames (3);
  g_assert_true (label_shown (window, "Ground Truth"));
  g_assert_true (label_shown (window, "Prediction"));
  ui_destroy_window (window);
  g_unlink (lone);
}

/* ---- side by side ----------------------------------------------------------------------- */

static GtkWidget *
find_css_class (GtkWidget *root, const char *name, int nth)
{
  int seen = 0;

  for (GtkWidget *w = root; w != NULL;)
    {
      if (gtk_widget_has_css_class (w, name) && seen++ == nth)
        return w;
      /* Depth first, without recursion: down, else on, else up and on. */
      if (gtk_widget_get_first_child (w) != NULL)
        w = gtk_widget_get_first_child (w);
      else
        {
          while (w != root && gtk_widget_get_next_sibling (w) == NULL)
            w = gtk_widget_get_parent (w);
          w = w == root ? NULL : gtk_widget_get_next_sibling (w);
        }
    }
  return NULL;
}

/* Both panes shown, the prediction's across from the ground truth's or below it; at zoom 1
 * as large as fits, and larger than the other arrangement could show them; each pane's
 * name over its pane (centred over its part in view, at its top edge); a point in each
 * pane is that pane's pixel. */
static void
check_panes (VisageImageView *view, gboolean stacked, gboolean fitted)
{
  VisageOverlayArea *area = visage_image_view_get_area (view);
  GtkWidget *widget = GTK_WIDGET (area);
  double w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  graphene_rect_t pane[2], name;
  int ix, iy, panel;

  for (int p = 0; p < 2; p++)
    g_assert_true (visage_overlay_area_get_pane (area, p, &pane[p]));
  g_test_message ("view %.0fx%.0f, panes %.0fx%.0f at %.0f,%.0f and %.0f,%.0f", w, h,
                  pane[0].size.width, pane[0].size.height, pane[0].origin.x, pane[0].origin.y,
                  pane[1].origin.x, pane[1].origin.y);
  if (stacked)
    {
      g_assert_cmpfloat (fabs (pane[1].origin.x - pane[0].origin.x), <, 0.5);
      g_assert_cmpfloat (pane[1].origin.y, >, pane[0].origin.y + pane[0].size.height);
    }
  else
    {
      g_assert_cmpfloat (fabs (pane[1].origin.y - pane[0].origin.y), <, 0.5);
      g_assert_cmpfloat (pane[1].origin.x, >, pane[0].origin.x + pane[0].size.width);
    }
  if (fitted)
    {
      double aspect = pane[0].size.width / pane[0].size.height;
      /* At most this large the other way (ignoring the gap between the panes). */
      double other = stacked ? MIN (w / 2, h * aspect) : MIN (w, h / 2 * aspect);

      g_assert_true (fabs (pane[1].origin.x + pane[1].size.width - pane[0].origin.x - w) < 1
                     || fabs (pane[1].origin.y + pane[1].size.height - pane[0].origin.y - h)
                          < 1);
      g_assert_cmpfloat (pane[0].size.width, >, other);
    }
  for (int p = 0; p < 2; p++)
    {
      GtkWidget *label = find_css_class (GTK_WIDGET (view), "visage-pane-label", p);
      double left = MAX (pane[p].origin.x, 0), right = MIN (pane[p].origin.x
                                                             + pane[p].size.width, w);
      double top = MAX (pane[p].origin.y, 0), centre;

      g_assert_true (gtk_widget_get_mapped (label));
      g_assert_true (gtk_widget_compute_bounds (label, widget, &name));
      centre = name.origin.x + name.size.width / 2;
      g_assert_cmpfloat (fabs (centre - (left + right) / 2), <, 1.5);
      g_assert_cmpfloat (name.origin.y + name.size.height, >=, top - 8);
      g_assert_cmpfloat (name.origin.y, <=, top + 8);
      g_assert_cmpfloat (name.origin.y, >=, 0);
      g_assert_true (visage_overlay_area_pick (area, (left + right) / 2,
                                               (top + MIN (pane[p].origin.y
                                                           + pane[p].size.height, h)) / 2,
                                               &ix, &iy, &panel));
      g_assert_cmpint (panel, ==, p);
    }
  /* Between the panes: neither. */
  g_assert_false (visage_overlay_area_pick (
    area, stacked ? pane[0].origin.x + 1 : pane[0].origin.x + pane[0].size.width + 0.5,
    stacked ? pane[0].origin.y + pane[0].size.height + 0.5 : pane[0].origin.y + 1, &ix, &iy,
    NULL));
}

/* Side by side uses the view: the panes across in a wide view, one above the other in a
 * tall one, each as large as fits; each named over itself, also zoomed and moved. */
VG_TEST ("/editing/side-by-side", test_side_by_side)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;
  GtkWidget *view;

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  view = GTK_WIDGET (visage_window_get_image_view (window));
  ui_resize_window (window, 1100, 760);
  gtk_widget_activate_action (view, "image.mode", "s", "side-by-side");
  spin_frames (3);
  check_panes (VISAGE_IMAGE_VIEW (view), FALSE, TRUE);
  keep_screenshot (window, "editing-side-by-side-1100x760.png");

  gtk_widget_activate_action (view, "image.zoom-in", NULL);
  gtk_widget_activate_action (view, "image.zoom-in", NULL);
  gtk_widget_activate_action (view, "image.pan", "(ii)", 48, 48);
  spin_frames (3);
  check_panes (VISAGE_IMAGE_VIEW (view), FALSE, FALSE);

  ui_resize_window (window, 800, 600);
  gtk_widget_activate_action (view, "image.zoom-fit", NULL);
  spin_frames (3);
  check_panes (VISAGE_IMAGE_VIEW (view), FALSE, TRUE);
  keep_screenshot (window, "editing-side-by-side-800x600.png");

  /* Tall: one above the other, arranged again by the resize alone. */
  ui_resize_window (window, 800, 1000);
  check_panes (VISAGE_IMAGE_VIEW (view), TRUE, TRUE);
  keep_screenshot (window, "editing-side-by-side-800x1000.png");
  gtk_widget_activate_action (view, "image.mode", "s", "truth");
  ui_destroy_window (window);
}

static char *
saved_mode (void)
{
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);  /* the memory backend's */

  return g_settings_get_string (settings, "overlay-mode");
}

/* The prediction that an image without ground truth shows in place of the user's mode is
 * not saved: a session closed then starts the next one on the user's mode. */
VG_TEST ("/editing/forced-mode-not-saved", test_forced_mode_not_saved)
{
  g_autoptr (VisageApplication) app = NULL, app2 = NULL;
  g_autofree char *lone = NULL, *mode = NULL, *after = NULL, *chosen = NULL;
  VisageWindow *window;
  VisageImageView *view;

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  view = visage_window_get_image_view (window);
  gtk_widget_activate_action (GTK_WIDGET (view), "image.mode", "s", "errors");
  mode = saved_mode ();
  g_assert_cmpstr (mode, ==, "errors");
  lone = open_lone_image (window);
  g_assert_cmpstr (visage_image_view_get_mode (view), ==, "prediction");
  g_assert_cmpstr (visage_image_view_get_chosen_mode (view), ==, "errors");
  g_clear_pointer (&mode, g_free);
  mode = saved_mode ();
  g_assert_cmpstr (mode, ==, "errors");
  ui_destroy_window (window);
  g_clear_pointer (&mode, g_free);
  mode = saved_mode ();
  g_assert_cmpstr (mode, ==, "errors");
  g_unlink (lone);
  g_clear_pointer (&lone, g_free);

  /* The next session starts on the user's mode; choosing the prediction while an image
   * without ground truth shows it is the user's choice, saved and kept for the next image. */
  app2 = new_app ();
  window = ui_fixture_open_workbench (app2, window_annotation_ready);
  view = visage_window_get_image_view (window);
  g_assert_cmpstr (visage_image_view_get_mode (view), ==, "errors");
  lone = open_lone_image (window);
  gtk_widget_activate_action (GTK_WIDGET (view), "image.mode", "s", "prediction");
  after = saved_mode ();
  g_assert_cmpstr (after, ==, "prediction");
  g_object_get (view, "chosen-mode", &chosen, NULL);
  g_assert_cmpstr (chosen, ==, "prediction");
  visage_gallery_select_position (visage_window_get_gallery (window), 0);
  g_assert_true (spin_until (window_annotation_ready, window));
  g_assert_cmpstr (visage_image_view_get_mode (view), ==, "prediction");
  gtk_widget_activate_action (GTK_WIDGET (view), "image.mode", "s", "truth");
  ui_destroy_window (window);
  g_unlink (lone);
}

/* Before a split is open the gallery is empty: no sorting or filtering. */
VG_TEST ("/editing/empty-gallery", test_empty_gallery)
{
  g_autoptr (VisageApplication) app = new_app ();
  VisageWindow *window;

  g_application_activate (G_APPLICATION (app));
  window = VISAGE_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (visage_window_get_gallery (window))));
  ui_destroy_window (window);
}

int
main (int argc, char *argv[])
{
  return ui_test_main (argc, argv, "editing", fixture_names, "split", FALSE);
}
