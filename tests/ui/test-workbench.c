/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The workbench on a fixture split (symbolic links to a few real val images) with a
 * tiny random-weight model: widgets build and finalize, the gallery lists and sorts,
 * the GL overlay hides a class by redrawing only, evaluation labels the gallery, and
 * --screenshot writes a PNG of the loaded window. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <adwaita.h>

#include "test-fixtures.h"
#include "vg-classes.h"
#include "vg-device.h"
#include "vg-image.h"
#include "vg-split.h"
#include "visage-application.h"
#include "visage-class-score.h"
#include "visage-classes.h"
#include "visage-gallery.h"
#include "visage-image-view.h"
#include "visage-overlay-area.h"
#include "visage-window.h"
#include "ui-test-util.h"
#include "test-register.h"

static const char *const fixture_names[] = { "0", "1", "2", "3", "5", "6", NULL };
#define N_FIXTURE 6

static void
store_result (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static gboolean
is_set (gpointer data)
{
  return *(gpointer *) data != NULL;
}

/* The loaded model's prediction of an image, asked of the window's service as the window
 * asks for the one it shows. */
static VgPrediction *
predict (VisageWindow *window, const char *image)
{
  VgService *service = visage_window_get_service (window);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  VgPrediction *prediction;

  vg_service_predict_async (service, image, NULL, NULL, store_result, &result);
  g_assert_true (spin_until (is_set, &result));
  prediction = vg_service_predict_finish (service, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (prediction->labels);
  return prediction;
}

/* The image shown is image, with mask (NULL: none). For every class that the prediction
 * of the image holds, at its first pixel: the pointer over that pixel picks it, and the
 * view reports the prediction's class there (and the mask's), in its status line too. */
static void
check_classes_under_pointer (VisageWindow *window, const char *image, const VgImage *mask)
{
  VisageImageView *view = visage_window_get_image_view (window);
  VisageOverlayArea *area = visage_image_view_get_area (view);
  g_autoptr (VgPrediction) prediction = predict (window, image);
  gboolean seen[VG_NUM_CLASSES] = { FALSE };
  int n_seen = 0;

  g_assert_true (mask == NULL || (mask->height == prediction->height
                                  && mask->width == prediction->width));
  for (int i = 0; i < prediction->height * prediction->width; i++)
    {
      int c = prediction->labels[i], ix, iy, truth, predicted, expected_truth;
      double x, y;
      const char *status;

      if (seen[c])
        continue;
      expected_truth = mask != NULL && mask->data[i] < VG_NUM_CLASSES ? mask->data[i] : -1;
      seen[c] = TRUE;
      n_seen++;
      visage_overlay_area_from_image (area, i % prediction->width + 0.5,
                                      i / prediction->width + 0.5, &x, &y);
      g_assert_true (visage_overlay_area_pick (area, x, y, &ix, &iy, NULL));
      g_assert_cmpint ((size_t) iy * prediction->width + ix, ==, i);
      visage_overlay_area_classes_at (area, ix, iy, &truth, &predicted);
      g_assert_cmpint (predicted, ==, c);
      g_assert_cmpint (truth, ==, expected_truth);
      visage_image_view_hover (view, x, y);
      status = visage_image_view_get_status (view);
      g_assert_nonnull (strstr (status, visage_class_display_name (c)));
      if (truth >= 0)
        g_assert_nonnull (strstr (status, visage_class_display_name (truth)));
    }
  /* Several classes, so that one answer everywhere cannot pass. */
  g_assert_cmpint (n_seen, >=, 3);
}

/* ---- every templated widget builds and finalizes ---------------------------------------- */

VG_TEST ("/workbench/widgets-finalize", test_widgets_finalize)
{
  g_autoptr (VisageApplication) app = NULL;
  GtkWidget *gallery = NULL, *image_view = NULL, *area = NULL;
  GtkWidget *holder;
  VisageWindow *window;
  gpointer window_ptr, gallery_ptr, view_ptr, area_ptr, service_ptr;

  /* Standalone, realized in a window of their own (the overlay gets a GL context). */
  holder = gtk_window_new ();
  gallery = visage_gallery_new ();
  image_view = visage_image_view_new ();
  {
    GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);

    gtk_box_append (GTK_BOX (box), gallery);
    gtk_box_append (GTK_BOX (box), image_view);
    gtk_window_set_child (GTK_WINDOW (holder), box);
  }
  area = GTK_WIDGET (visage_image_view_get_area (VISAGE_IMAGE_VIEW (image_view)));
  g_object_add_weak_pointer (G_OBJECT (gallery), (gpointer *) &gallery);
  g_object_add_weak_pointer (G_OBJECT (image_view), (gpointer *) &image_view);
  g_object_add_weak_pointer (G_OBJECT (area), (gpointer *) &area);
  gtk_window_present (GTK_WINDOW (holder));
  spin_frames (3);
  g_assert_true (gtk_widget_get_realized (area));
  g_assert_null (gtk_gl_area_get_error (GTK_GL_AREA (area)));
  gtk_window_destroy (GTK_WINDOW (holder));
  g_assert_true (spin_until (is_null, &gallery));
  g_assert_true (spin_until (is_null, &image_view));
  g_assert_true (spin_until (is_null, &area));

  /* The whole window, after it has loaded a split and a model. */
  if ((window = ui_test_start (&app, window_settled)) == NULL)
    return;
  window_ptr = window;
  gallery_ptr = visage_window_get_gallery (window);
  view_ptr = visage_window_get_image_view (window);
  area_ptr = visage_image_view_get_area (visage_window_get_image_view (window));
  service_ptr = visage_window_get_service (window);
  g_object_add_weak_pointer (G_OBJECT (window), &window_ptr);
  g_object_add_weak_pointer (G_OBJECT (gallery_ptr), &gallery_ptr);
  g_object_add_weak_pointer (G_OBJECT (view_ptr), &view_ptr);
  g_object_add_weak_pointer (G_OBJECT (area_ptr), &area_ptr);
  g_object_add_weak_pointer (G_OBJECT (service_ptr), &service_ptr);
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_true (spin_until (is_null, &window_ptr));
  g_assert_true (spin_until (is_null, &gallery_ptr));
  g_assert_true (spin_until (is_null, &view_ptr));
  g_assert_true (spin_until (is_null, &area_ptr));
  g_assert_true (spin_until (is_null, &service_ptr));
}

/* The legend's labels are the engine's, only translated. */
VG_TEST ("/workbench/class-names", test_class_names)
{
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    g_assert_cmpstr (visage_class_display_name (c), ==, vg_class_label (c));
}

/* ---- browsing and the overlay ----------------------------------------------------------- */

typedef struct {
  guint8 *pixels;     /* RGBA, top-down */
  int width;
  int height;
} Frame;

static Frame
read_frame (VisageOverlayArea *area)
{
  Frame f = { 0 };

  f.pixels = visage_overlay_area_read_pixels (area, &f.width, &f.height);
  g_assert_nonnull (f.pixels);
  return f;
}

/* Compare two frames pixel by pixel, split by whether the ground-truth class under the
 * pixel is cls. */
static void
compare_frames (VisageOverlayArea *area, const Frame *a, const Frame *b, int cls,
                guint *inside, guint *inside_changed, guint *outside, guint *outside_changed)
{
  int sf = gtk_widget_get_scale_factor (GTK_WIDGET (area));

  *inside = *inside_changed = *outside = *outside_changed = 0;
  g_assert_cmpint (a->width, ==, b->width);
  g_assert_cmpint (a->height, ==, b->height);
  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < a->width; x++)
      {
        size_t i = ((size_t) y * a->width + x) * 4;
        gboolean changed = memcmp (a->pixels + i, b->pixels + i, 3) != 0;
        int ix, iy, truth, predicted;

        /* The pixel's centre, in widget coordinates. */
        if (!visage_overlay_area_pick (area, (x + 0.5) / sf, (y + 0.5) / sf, &ix, &iy, NULL))
          {
            *outside += 1;
            *outside_changed += changed;
            continue;
          }
        visage_overlay_area_classes_at (area, ix, iy, &truth, &predicted);
        if (truth == cls)
          {
            *inside += 1;
            *inside_changed += changed;
          }
        else
          {
            *outside += 1;
            *outside_changed += changed;
          }
      }
}

VG_TEST ("/workbench/browse-and-overlay", test_browse_and_overlay)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autoptr (GError) error = NULL;
  VisageWindow *window;
  VisageGallery *gallery;
  VisageImageView *view;
  VisageOverlayArea *area;
  GListModel *shown;
  Frame before, hidden, again, faded;
  guint inside, inside_changed, outside, outside_changed;
  guint renders0, uploads0, renders1, uploads1;
  VgImage mask = { 0 };
  g_autofree char *mask_path = NULL, *image_path = NULL;

  if ((window = ui_test_start (&app, window_settled)) == NULL)
    return;
  gallery = visage_window_get_gallery (window);
  view = visage_window_get_image_view (window);
  area = visage_image_view_get_area (view);

  /* The split is listed in natural order and its first image is shown, predicted. */
  g_assert_cmpstr (visage_window_get_visible_page (window), ==, "workbench");
  shown = visage_gallery_get_shown (gallery);
  g_assert_cmpuint (g_list_model_get_n_items (shown), ==, N_FIXTURE);
  for (guint i = 0; i < N_FIXTURE; i++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (shown, i);
      g_assert_cmpstr (visage_sample_get_name (sample), ==, fixture_names[i]);
    }
  g_assert_cmpstr (visage_image_view_get_title (view), ==, "0");
  g_assert_cmpstr (vg_service_get_model_path (visage_window_get_service (window)), ==,
                   ui_fixture.model_path);

  /* Selecting another image shows it. */
  visage_gallery_select_position (gallery, 3);
  g_assert_true (spin_until (window_settled, window));
  g_assert_cmpstr (visage_image_view_get_title (view), ==, "3");
  spin_frames (2);

  /* The status line names the classes under the pointer: the mask file's and the
   * prediction's. */
  mask_path = g_build_filename (ui_fixture.split_dir, "masks", "3.png", NULL);
  image_path = g_build_filename (ui_fixture.split_dir, "images", "3.jpg", NULL);
  g_assert_true (vg_mask_load (&mask, mask_path, &error));
  check_classes_under_pointer (window, image_path, &mask);
  vg_image_clear (&mask);

  /* Ground truth at full opacity: skin pixels are drawn in skin's palette colour. */
  gtk_widget_activate_action (GTK_WIDGET (view), "image.mode", "s", "truth");
  g_assert_cmpstr (visage_image_view_get_mode (view), ==, "truth");
  visage_image_view_set_opacity (view, 1.0);
  before = read_frame (area);
  visage_overlay_area_get_counters (area, &renders0, &uploads0);

  /* Hiding skin (the legend's action) changes exactly the skin pixels, with no upload. */
  gtk_widget_activate_action (GTK_WIDGET (view), "image.toggle-class", "i", VG_CLASS_SKIN);
  g_assert_false (visage_image_view_get_class_visible (view, VG_CLASS_SKIN));
  hidden = read_frame (area);
  visage_overlay_area_get_counters (area, &renders1, &uploads1);
  g_assert_cmpuint (uploads1, ==, uploads0);
  g_assert_cmpuint (renders1, >, renders0);
  compare_frames (area, &before, &hidden, VG_CLASS_SKIN, &inside, &inside_changed, &outside,
                  &outside_changed);
  g_test_message ("skin: %u of %u pixels changed; others: %u of %u", inside_changed, inside,
                  outside_changed, outside);
  g_assert_cmpuint (inside, >, 1000);
  /* A photo pixel may equal skin's colour (204, 0, 0) by chance: allow 1%. */
  g_assert_cmpuint (inside_changed, >=, inside * 99 / 100);
  g_assert_cmpuint (outside_changed, ==, 0);

  /* Showing skin again draws the first frame again, exactly, with no upload. */
  gtk_widget_activate_action (GTK_WIDGET (view), "image.toggle-class", "i", VG_CLASS_SKIN);
  g_assert_true (visage_image_view_get_class_visible (view, VG_CLASS_SKIN));
  again = read_frame (area);
  compare_frames (area, &before, &again, VG_CLASS_SKIN, &inside, &inside_changed, &outside,
                  &outside_changed);
  g_assert_cmpuint (inside_changed, ==, 0);
  g_assert_cmpuint (outside_changed, ==, 0);

  /* The opacity too only redraws: skin, shown, is blended anew, neither its colour at full
   * opacity nor the photo that the frame with skin hidden has there. */
  visage_image_view_set_opacity (view, 0.3);
  faded = read_frame (area);
  visage_overlay_area_get_counters (area, &renders1, &uploads1);
  g_assert_cmpuint (uploads1, ==, uploads0);
  compare_frames (area, &before, &faded, VG_CLASS_SKIN, &inside, &inside_changed, &outside,
                  &outside_changed);
  g_assert_cmpuint (inside_changed, >=, inside * 99 / 100);
  compare_frames (area, &hidden, &faded, VG_CLASS_SKIN, &inside, &inside_changed, &outside,
                  &outside_changed);
  g_assert_cmpuint (inside_changed, >=, inside * 99 / 100);
  g_free (before.pixels);
  g_free (hidden.pixels);
  g_free (again.pixels);
  g_free (faded.pixels);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* The evaluation view: a confusion cell lists its images, most pixels first, and opens
 * them; the per-class table sorts. */
static void
check_evaluation_view (VisageWindow *window, const VgEvaluation *evaluation)
{
  VisageEvaluationView *view = visage_window_get_evaluation_view (window);
  VisageConfusionMatrix *matrix = visage_evaluation_view_get_matrix (view);
  GListModel *cell_samples = visage_evaluation_view_get_cell_samples (view);
  GListModel *scores = visage_evaluation_view_get_class_scores (view);
  g_autoptr (VisageSample) first = NULL;
  int truth = -1, predicted = -1, expected = 0, t, p;
  double x, y, previous;
  guint64 last = G_MAXUINT64;

  visage_window_set_visible_view (window, "evaluation");
  spin_frames (5);
  keep_screenshot (window, "evaluation.png");

  /* The off-diagonal cell found in the most images. */
  for (int tt = 0; tt < VG_NUM_CLASSES; tt++)
    for (int pp = 0; pp < VG_NUM_CLASSES; pp++)
      {
        int n = 0;

        if (tt == pp)
          continue;
        for (int i = 0; i < N_FIXTURE; i++)
          n += evaluation->images[i].confusion.counts[tt][pp] > 0;
        if (n > expected)
          {
            truth = tt;
            predicted = pp;
            expected = n;
          }
      }
  g_assert_cmpint (expected, >=, 2);

  /* The cell under its centre is itself; selecting it (what a click does) lists exactly
   * the images with pixels in it, most first, and orders the gallery by it. */
  visage_confusion_matrix_cell_center (matrix, truth, predicted, &x, &y);
  g_assert_true (visage_confusion_matrix_cell_at (matrix, x, y, &t, &p));
  g_assert_cmpint (t, ==, truth);
  g_assert_cmpint (p, ==, predicted);
  visage_confusion_matrix_select (matrix, truth, predicted);
  g_assert_cmpuint (g_list_model_get_n_items (cell_samples), ==, expected);
  for (int i = 0; i < expected; i++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (cell_samples, i);
      guint64 n = visage_sample_get_result (sample)->confusion.counts[truth][predicted];

      g_assert_cmpuint (n, >, 0);
      g_assert_cmpuint (n, <=, last);
      g_assert_cmpuint (n, ==, evaluation->images[visage_sample_get_index (sample)]
                                 .confusion.counts[truth][predicted]);
      last = n;
    }
  g_assert_cmpstr (visage_gallery_get_sort_by (visage_window_get_gallery (window)), ==,
                   "confusion");
  keep_screenshot (window, "evaluation-cell.png");

  /* Opening the first lists it in the browser. */
  first = g_list_model_get_item (cell_samples, 0);
  g_signal_emit_by_name (view, "open-sample", first);
  g_assert_cmpstr (visage_window_get_visible_view (window), ==, "browse");
  g_assert_true (visage_window_get_gallery (window) != NULL);
  g_assert_true (visage_gallery_get_selected_sample (visage_window_get_gallery (window))
                 == first);
  g_assert_true (spin_until (window_settled, window));
  g_assert_cmpstr (visage_image_view_get_title (visage_window_get_image_view (window)), ==,
                   visage_sample_get_name (first));

  /* The table: all 19 classes, sortable by IoU. */
  g_assert_cmpuint (g_list_model_get_n_items (scores), ==, VG_NUM_CLASSES);
  visage_evaluation_view_sort_by (view, "iou", GTK_SORT_ASCENDING);
  previous = -2.0;
  for (guint i = 0; i < VG_NUM_CLASSES; i++)
    {
      g_autoptr (VisageClassScore) score = g_list_model_get_item (scores, i);
      double iou;

      g_object_get (score, "iou", &iou, NULL);
      g_assert_cmpfloat (iou, >=, previous);
      g_assert_cmpfloat (iou, ==,
                         vg_confusion_iou (&evaluation->metrics.confusion,
                                           visage_class_score_get_class (score)));
      previous = iou;
    }
  visage_evaluation_view_sort_by (view, "missed", GTK_SORT_DESCENDING);
  {
    g_autoptr (VisageClassScore) top = g_list_model_get_item (scores, 0);
    int missed, most = 0;

    g_object_get (top, "missed", &missed, NULL);
    for (int c = 0; c < VG_NUM_CLASSES; c++)
      most = MAX (most, evaluation->metrics.class_missed[c]);
    g_assert_cmpint (missed, ==, most);
  }
}

/* ---- test-time flip ----------------------------------------------------------------------- */

VG_TEST ("/workbench/flip-preference", test_flip_preference)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autoptr (GSettings) settings = NULL;
  g_autoptr (GVariant) state = NULL;
  VisageWindow *window;
  VgService *service;

  if ((window = ui_test_start (&app, window_settled)) == NULL)
    return;
  service = visage_window_get_service (window);
  settings = g_settings_new (APP_ID);
  g_assert_false (vg_service_get_model_flip (service));

  /* On: the model reloads to predict with the flip, the choice is kept, and the image is
   * predicted afresh (flipped predictions are cached apart from the plain ones). */
  visage_window_set_flip (window, TRUE);
  g_assert_true (vg_service_get_flip (service));
  g_assert_true (visage_window_get_busy (window)); /* reloading */
  g_assert_true (spin_until (window_settled, window));
  g_assert_true (vg_service_get_model_flip (service));
  g_assert_cmpstr (vg_service_get_model_path (service), ==, ui_fixture.model_path);
  g_assert_true (g_settings_get_boolean (settings, "flip"));
  state = g_action_group_get_action_state (G_ACTION_GROUP (window), "flip");
  g_assert_true (g_variant_get_boolean (state));
  {
    const char *status = visage_image_view_get_status (visage_window_get_image_view (window));

    g_assert_nonnull (strstr (status, " ms"));
  }

  /* Off again through the action, as the menu item does. */
  g_action_group_activate_action (G_ACTION_GROUP (window), "flip", NULL);
  g_assert_true (spin_until (window_settled, window));
  g_assert_false (vg_service_get_model_flip (service));
  g_assert_false (g_settings_get_boolean (settings, "flip"));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- the compute device preference ---------------------------------------------------- */

VG_TEST ("/workbench/device-preference", test_device_preference)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autoptr (GSettings) settings = NULL;
  g_autoptr (GVariant) state = NULL;
  g_autofree char *stored = NULL;
  VisageWindow *window;
  VgService *service;
  char why[256];
  gboolean gpu;

  if (ui_test_skip_without (ui_fixture.split_dir))
    return;
  gpu = vg_device_cuda_count (why, sizeof why) > 0;
  app = new_app ();
  window = ui_fixture_open_workbench (app, window_settled);
  service = visage_window_get_service (window);
  settings = g_settings_new (APP_ID);

  /* Asking for the GPU reloads the model; without one it still loads, on the CPU, and
   * the window says why. */
  visage_window_set_device (window, "cuda");
  g_assert_cmpstr (vg_service_get_device (service), ==, "cuda");
  g_assert_true (visage_window_get_busy (window)); /* reloading */
  g_assert_true (spin_until (window_settled, window));
  g_assert_cmpstr (vg_service_get_model_path (service), ==, ui_fixture.model_path);
  if (gpu)
    g_assert_cmpstr (vg_service_get_device_note (service), ==, "");
  else
    g_assert_nonnull (strstr (vg_service_get_device_note (service), "using the CPU"));
  stored = g_settings_get_string (settings, "device");
  g_assert_cmpstr (stored, ==, "cuda");
  state = g_action_group_get_action_state (G_ACTION_GROUP (window), "device");
  g_assert_cmpstr (g_variant_get_string (state, NULL), ==, "cuda");

  /* The CPU, asked for, needs no explanation. */
  visage_window_set_device (window, "cpu");
  g_assert_true (spin_until (window_settled, window));
  g_assert_cmpstr (vg_service_get_device_note (service), ==, "");
  {
    /* the image is shown again, predicted (same model content: from the cache) */
    const char *status = visage_image_view_get_status (visage_window_get_image_view (window));

    g_assert_true (strstr (status, " ms") != NULL || strstr (status, "cache") != NULL);
  }

  /* An unknown name changes nothing. */
  visage_window_set_device (window, "tpu");
  g_assert_cmpstr (vg_service_get_device (service), ==, "cpu");
  g_settings_set_string (settings, "device", "auto");
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- the class filter works before any evaluation --------------------------------------- */

static int
compare_file_names (gconstpointer a, gconstpointer b)
{
  return vg_natural_compare (*(const char *const *) a, *(const char *const *) b);
}

VG_TEST ("/workbench/filter-before-evaluation", test_filter_before_evaluation)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;
  VisageGallery *gallery;
  GListModel *shown;
  guint32 classes[N_FIXTURE] = { 0 };
  int filter_class = -1, expected = 0;

  if (ui_test_skip_without (ui_fixture.split_dir))
    return;
  /* The classes of each fixture mask, read here independently of the split's scan. */
  for (int i = 0; i < N_FIXTURE; i++)
    {
      g_autofree char *path = NULL;
      VgImage mask = { 0 };
      g_autoptr (GError) error = NULL;
      g_autoptr (GDir) dir = NULL;
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *entry;
      g_autofree char *masks = g_build_filename (ui_fixture.split_dir, "masks", NULL);

      dir = g_dir_open (masks, 0, &error);
      g_assert_no_error (error);
      while ((entry = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (names, g_strdup (entry));
      g_ptr_array_sort (names, compare_file_names);
      g_assert_cmpuint (names->len, ==, N_FIXTURE);
      path = g_build_filename (masks, (const char *) g_ptr_array_index (names, i), NULL);
      g_assert_true (vg_mask_load (&mask, path, &error));
      g_assert_no_error (error);
      for (size_t k = 0; k < (size_t) mask.height * mask.width; k++)
        classes[i] |= 1u << mask.data[k];
      vg_image_clear (&mask);
    }
  for (int c = 0; c < VG_NUM_CLASSES && filter_class < 0; c++)
    {
      int n = 0;

      for (int i = 0; i < N_FIXTURE; i++)
        n += (classes[i] >> c) & 1;
      if (n > 0 && n < N_FIXTURE)
        {
          filter_class = c;
          expected = n;
        }
    }
  g_assert_cmpint (filter_class, >=, 0);

  app = new_app ();
  window = ui_fixture_open_workbench (app, window_settled);
  g_assert_null (visage_window_get_evaluation (window));
  gallery = visage_window_get_gallery (window);
  shown = visage_gallery_get_shown (gallery);
  for (guint i = 0; i < N_FIXTURE; i++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (shown, i);

      g_assert_cmphex (visage_sample_get_truth_classes (sample), ==,
                       classes[visage_sample_get_index (sample)]);
    }
  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.filter-class", "i", filter_class);
  g_assert_cmpuint (g_list_model_get_n_items (shown), ==, expected);
  visage_gallery_set_filter_class (gallery, -1);
  g_assert_cmpuint (g_list_model_get_n_items (shown), ==, N_FIXTURE);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- evaluation labels, sorts and filters the gallery ----------------------------------- */

VG_TEST ("/workbench/evaluate-and-sort", test_evaluate_and_sort)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;
  VisageGallery *gallery;
  GListModel *shown;
  const VgEvaluation *evaluation;
  double previous = -1.0;
  int filter_class = -1, expected = 0;

  if ((window = ui_test_start (&app, window_settled)) == NULL)
    return;
  gallery = visage_window_get_gallery (window);
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "evaluate"));
  g_action_group_activate_action (G_ACTION_GROUP (window), "evaluate", NULL);
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "cancel"));
  g_assert_true (spin_until (window_evaluated, window));
  evaluation = visage_window_get_evaluation (window);
  g_assert_cmpint (evaluation->metrics.n_images, ==, N_FIXTURE);
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "cancel"));

  /* Every thumbnail is labelled with its image's mIoU. */
  shown = visage_gallery_get_shown (gallery);
  for (guint i = 0; i < N_FIXTURE; i++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (shown, i);
      g_autofree char *label = NULL;
      int index = visage_sample_get_index (sample);

      g_assert_cmpfloat (visage_sample_get_miou (sample), ==,
                         evaluation->metrics.image_miou[index]);
      g_object_get (sample, "miou-label", &label, NULL);
      g_assert_true (g_str_has_prefix (label, "mIoU "));
    }

  /* Worst first. */
  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.sort-by", "s", "miou");
  g_assert_cmpstr (visage_gallery_get_sort_by (gallery), ==, "miou");
  for (guint i = 0; i < N_FIXTURE; i++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (shown, i);

      g_assert_cmpfloat (visage_sample_get_miou (sample), >=, previous);
      previous = visage_sample_get_miou (sample);
    }

  /* Most pixels of a confusion first: skin predicted as background here. */
  visage_gallery_sort_by_confusion (gallery, VG_CLASS_SKIN, VG_CLASS_BACKGROUND);
  {
    guint64 last = G_MAXUINT64;

    for (guint i = 0; i < N_FIXTURE; i++)
      {
        g_autoptr (VisageSample) sample = g_list_model_get_item (shown, i);
        guint64 n = visage_sample_get_result (sample)->confusion
                      .counts[VG_CLASS_SKIN][VG_CLASS_BACKGROUND];

        g_assert_cmpuint (n, <=, last);
        last = n;
      }
  }

  /* Filter by a class that some images have and some do not. */
  for (int c = 0; c < VG_NUM_CLASSES && filter_class < 0; c++)
    {
      int n = 0;

      for (int i = 0; i < N_FIXTURE; i++)
        n += (evaluation->images[i].truth_classes >> c) & 1;
      if (n > 0 && n < N_FIXTURE)
        {
          filter_class = c;
          expected = n;
        }
    }
  g_assert_cmpint (filter_class, >=, 0);
  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.filter-class", "i", filter_class);
  g_assert_cmpuint (g_list_model_get_n_items (shown), ==, expected);
  for (int i = 0; i < expected; i++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (shown, i);
      g_assert_true (visage_sample_get_result (sample)->truth_classes & (1u << filter_class));
    }
  visage_gallery_set_filter_class (gallery, -1);
  g_assert_cmpuint (g_list_model_get_n_items (shown), ==, N_FIXTURE);
  keep_screenshot (window, "browse.png");

  check_evaluation_view (window, evaluation);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- Open Image and export ------------------------------------------------------------- */

static gboolean
window_idle (gpointer data)
{
  return window_settled (data) && !visage_window_get_working (VISAGE_WINDOW (data));
}

/* A PNG file: its size and whether it is a palette mask. */
static void
check_png (const char *path, int height, int width, gboolean palette)
{
  g_autoptr (GError) error = NULL;
  VgImageInfo info;

  g_assert_true (vg_image_probe (&info, path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (info.format, ==, VG_IMAGE_FORMAT_PNG);
  g_assert_cmpint (info.height, ==, height);
  g_assert_cmpint (info.width, ==, width);
  g_assert_cmpint (info.png_color_type == 3 /* PNG_COLOR_TYPE_PALETTE */, ==, palette);
}

VG_TEST ("/workbench/open-image-and-export", test_open_image_and_export)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *masks = g_build_filename (ui_fixture.scratch_dir, "export-masks", NULL);
  g_autofree char *overlays = g_build_filename (ui_fixture.scratch_dir, "export-overlays", NULL);
  g_autofree char *live_dir = g_build_filename (ui_fixture.scratch_dir, "export-live", NULL);
  g_autofree char *zip = g_build_filename (ui_fixture.scratch_dir, "submission.zip", NULL);
  g_autofree char *photo = g_build_filename (ui_fixture.scratch_dir, "synthetic.png", NULL);
  g_autofree char *file = NULL;
  g_autofree guint8 *rgb = g_malloc (120 * 200 * 3);
  VisageWindow *window;
  VisageImageView *view;

  if ((window = ui_test_start (&app, window_settled)) == NULL)
    return;
  view = visage_window_get_image_view (window);

  /* The whole split as palette masks, named as the data set's. */
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window),
                                                    "export-split-masks"));
  visage_window_export (window, "split-masks", masks);
  g_assert_true (visage_window_get_working (window));
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "evaluate"));
  g_assert_true (spin_until (window_idle, window));
  for (int i = 0; fixture_names[i] != NULL; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s.png", fixture_names[i]);
      g_autofree char *path = g_build_filename (masks, name, NULL);

      check_png (path, 512, 512, TRUE);
    }

  /* The image shown, as an overlay. */
  visage_window_export (window, "image-overlay", overlays);
  g_assert_true (spin_until (window_idle, window));
  file = g_build_filename (overlays, "0.png", NULL);
  check_png (file, 512, 512, FALSE);
  g_clear_pointer (&file, g_free);

  /* The submission zip. */
  visage_window_export (window, "submission", zip);
  g_assert_true (spin_until (window_idle, window));
  g_assert_true (g_file_test (zip, G_FILE_TEST_IS_REGULAR));

  /* Any image of any size, on its own: predicted at its size, exportable. */
  for (int i = 0; i < 120 * 200 * 3; i++)
    rgb[i] = (guint8) (i % 251);
  g_assert_true (vg_image_save_png (photo, rgb, 120, 200, &error));
  visage_window_open_image (window, photo);
  g_assert_true (spin_until (window_settled, window));
  g_assert_cmpstr (visage_image_view_get_title (view), ==, "synthetic.png");
  g_assert_null (visage_gallery_get_selected_sample (visage_window_get_gallery (window)));
  g_assert_nonnull (strstr (visage_image_view_get_status (view), "200 × 120"));
  spin_frames (2);
  check_classes_under_pointer (window, photo, NULL);
  visage_window_export (window, "image-mask", live_dir);
  g_assert_true (spin_until (window_idle, window));
  file = g_build_filename (live_dir, "synthetic.png", NULL);
  check_png (file, 120, 200, TRUE);

  /* Selecting a sample of the split again leaves the image opened on its own. */
  visage_gallery_select_position (visage_window_get_gallery (window), 1);
  g_assert_true (spin_until (window_settled, window));
  g_assert_cmpstr (visage_image_view_get_title (view), ==, fixture_names[1]);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- visage --screenshot ---------------------------------------------------------------- */

VG_TEST ("/workbench/screenshot", test_screenshot)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkPixbuf) png = NULL;
  g_autofree char *path = NULL;
  int status;

  if (ui_test_skip_without (ui_fixture.split_dir))
    return;
  path = g_build_filename (ui_fixture.scratch_dir, "screenshot.png", NULL);
  {
    char *argv[] = { "visage", "--split", ui_fixture.split_dir, "--model", ui_fixture.model_path,
                     "--screenshot", path, NULL };
    g_autoptr (GSettings) settings = g_settings_new (APP_ID);

    g_settings_set_boolean (settings, "restore-session", FALSE);
    app = visage_application_new (G_APPLICATION_DEFAULT_FLAGS);
    status = g_application_run (G_APPLICATION (app), G_N_ELEMENTS (argv) - 1, argv);
  }
  g_assert_cmpint (status, ==, 0);
  png = gdk_pixbuf_new_from_file (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (png), >=, 600);
  g_assert_cmpint (gdk_pixbuf_get_height (png), >=, 400);
}

/* The command line of a screenshot; returns its exit status. */
static int
run_app (char **argv)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);

  g_settings_set_boolean (settings, "restore-session", FALSE);
  app = visage_application_new (G_APPLICATION_DEFAULT_FLAGS);
  return g_application_run (G_APPLICATION (app), (int) g_strv_length (argv), argv);
}

VG_TEST ("/workbench/screenshot-evaluate-and-image", test_screenshot_evaluate_and_image)
{
  g_autofree char *evaluated = NULL;
  g_autofree char *live = NULL;
  g_autofree char *image = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkPixbuf) png = NULL;

  if (ui_test_skip_without (ui_fixture.split_dir))
    return;
  evaluated = g_build_filename (ui_fixture.scratch_dir, "evaluated.png", NULL);
  live = g_build_filename (ui_fixture.scratch_dir, "live.png", NULL);
  image = g_build_filename (ui_fixture.split_dir, "images", "3.jpg", NULL);
  if (!g_file_test (image, G_FILE_TEST_EXISTS))
    {
      g_autofree char *images = g_build_filename (ui_fixture.split_dir, "images", NULL);
      g_autoptr (GDir) dir = g_dir_open (images, 0, &error);

      g_assert_no_error (error);
      g_free (image);
      image = g_build_filename (images, g_dir_read_name (dir), NULL);
    }

  /* --evaluate waits for the evaluation before the picture. */
  {
    char *argv[] = { "visage", "--split", ui_fixture.split_dir, "--model",
                     ui_fixture.model_path, "--evaluate", "--screenshot", evaluated, NULL };
    g_assert_cmpint (run_app (argv), ==, 0);
    png = gdk_pixbuf_new_from_file (evaluated, &error);
    g_assert_no_error (error);
    g_clear_object (&png);
  }
  /* An image alone: nothing to evaluate, which --evaluate reports by its exit status. */
  {
    char *argv[] = { "visage", "--model", ui_fixture.model_path, "--image", image, "--evaluate",
                     "--screenshot", live, NULL };
    g_assert_cmpint (run_app (argv), ==, 1);
    png = gdk_pixbuf_new_from_file (live, &error);
    g_assert_no_error (error);
  }
}

int
main (int argc, char *argv[])
{
  return ui_test_main (argc, argv, "workbench", fixture_names, "split", FALSE);
}
