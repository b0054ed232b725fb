/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The long-tail workflow on a fixture split of 32 val images (symbolic links into
 * ../shared) with a tiny random-weight model, whose poor predictions leave plenty of
 * confusions and missed classes: the gallery's class filters with their counts, the
 * "worst IoU of a class first" order, the evaluation table's rows and "missed entirely"
 * counts opening exactly those images, a confusion cell narrowing the gallery (which says
 * so) and highlighting the confused pixels, the thumbnails of a cell's images, the matrix's
 * scales, numbers and size, the next/previous keys, and the gallery scrolling to the
 * image shown. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <adwaita.h>

#include "test-fixtures.h"
#include "test-register.h"
#include "vg-classes.h"
#include "visage-class-score.h"
#include "visage-classes.h"
#include "visage-confusion-matrix.h"
#include "visage-evaluation-view.h"
#include "visage-format.h"
#include "visage-gallery.h"
#include "visage-image-view.h"
#include "visage-overlay-area.h"
#include "ui-test-util.h"

#define N_FIXTURE 32
static const char *const fixture_names[N_FIXTURE + 1] = {
  "0", "1", "2", "3", "5", "6", "7", "8", "10", "11", "12", "13", "15", "16", "17", "18",
  "20", "21", "22", "23", "25", "26", "27", "28", "30", "31", "32", "33", "35", "36", "37",
  "38", NULL
};

/* ---- helpers ---------------------------------------------------------------------------- */

/* The window with the fixture split evaluated; NULL when the test skipped. */
static VisageWindow *
open_evaluated (VisageApplication **app)
{
  VisageWindow *window = ui_test_start (app, window_settled);

  if (window == NULL)
    return NULL;
  gtk_window_set_default_size (GTK_WINDOW (window), 1400, 900);
  g_action_group_activate_action (G_ACTION_GROUP (window), "evaluate", NULL);
  g_assert_true (spin_until (window_evaluated, window));
  g_assert_true (spin_until (window_settled, window));
  g_assert_cmpint (visage_window_get_evaluation (window)->metrics.n_images, ==, N_FIXTURE);
  return window;
}

static guint
popcount64 (guint64 x)
{
  return (guint) __builtin_popcountll (x);
}

/* The images where class cls is missed entirely, from the evaluation's own per-image
 * confusions: in the ground truth, not one pixel of it predicted right. */
static guint64
missed_set (const VgEvaluation *evaluation, int cls)
{
  guint64 set = 0;

  for (int i = 0; i < evaluation->metrics.n_images; i++)
    {
      const VgConfusion *cm = &evaluation->images[i].confusion;

      if (vg_confusion_truth_pixels (cm, cls) > 0 && cm->counts[cls][cls] == 0)
        set |= G_GUINT64_CONSTANT (1) << i;
    }
  return set;
}

static guint64
class_set (const VgEvaluation *evaluation, int cls)
{
  guint64 set = 0;

  for (int i = 0; i < evaluation->metrics.n_images; i++)
    if (vg_confusion_truth_pixels (&evaluation->images[i].confusion, cls) > 0)
      set |= G_GUINT64_CONSTANT (1) << i;
  return set;
}

/* "N images", as the gallery writes it. */
static char *
images_text (guint n)
{
  g_autofree char *count = visage_format_count (n);

  return g_strdup_printf (n == 1 ? "%s image" : "%s images", count);
}

/* ---- the class filter: several classes, any or all, with counts ------------------------- */

VG_TEST ("/longtail/class-filters-and-counts", test_class_filters)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;
  VisageGallery *gallery;
  const VgEvaluation *evaluation;
  int a = -1, b = -1;
  guint64 set_a, set_b;
  g_autofree char *of = NULL, *shown = NULL, *total = NULL;

  if ((window = open_evaluated (&app)) == NULL)
    return;
  gallery = visage_window_get_gallery (window);
  evaluation = visage_window_get_evaluation (window);

  /* Every class's line in the filter says how many images have it. */
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      g_autofree char *count = visage_format_count (popcount64 (class_set (evaluation, c)));
      g_autofree char *expected = g_strdup_printf ("%s (%s)", visage_class_display_name (c),
                                                   count);

      g_assert_cmpstr (visage_gallery_get_class_label (gallery, c), ==, expected);
    }

  /* Two classes that overlap only partly, so that any and all differ. */
  for (int i = 0; i < VG_NUM_CLASSES && a < 0; i++)
    for (int j = i + 1; j < VG_NUM_CLASSES && a < 0; j++)
      {
        guint64 si = class_set (evaluation, i), sj = class_set (evaluation, j);

        if ((si & sj) != 0 && (si & sj) != (si | sj) && (si & ~sj) != 0 && (sj & ~si) != 0)
          a = i, b = j;
      }
  g_assert_cmpint (a, >=, 0);
  set_a = class_set (evaluation, a);
  set_b = class_set (evaluation, b);

  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.filter-classes", "(ub)",
                              (1u << a) | (1u << b), TRUE);
  g_assert_cmphex (shown_set (gallery), ==, set_a & set_b);
  g_assert_cmpint (visage_gallery_get_filter_class (gallery), ==, -1);
  shown = visage_format_count (popcount64 (set_a & set_b));
  total = visage_format_count (N_FIXTURE);
  of = g_strdup_printf ("%s of %s images", shown, total);
  g_assert_cmpstr (visage_gallery_get_count_text (gallery), ==, of);

  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.filter-classes", "(ub)",
                              (1u << a) | (1u << b), FALSE);
  g_assert_cmphex (shown_set (gallery), ==, set_a | set_b);

  /* One class, as before; then all images again. */
  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.filter-class", "i", a);
  g_assert_cmphex (shown_set (gallery), ==, set_a);
  g_assert_cmpuint (visage_gallery_get_filter_classes (gallery), ==, 1u << a);
  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.show-all", NULL);
  g_assert_cmpuint (g_list_model_get_n_items (visage_gallery_get_shown (gallery)), ==,
                    N_FIXTURE);
  {
    g_autofree char *all = images_text (N_FIXTURE);

    g_assert_cmpstr (visage_gallery_get_count_text (gallery), ==, all);
  }
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- worst IoU of one class first ------------------------------------------------------- */

VG_TEST ("/longtail/sort-by-class-iou", test_sort_by_class_iou)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;
  VisageGallery *gallery;
  GListModel *shown;
  const VgEvaluation *evaluation;
  int cls = -1;
  double previous = -1.0;
  gboolean past_scored = FALSE;

  if ((window = open_evaluated (&app)) == NULL)
    return;
  gallery = visage_window_get_gallery (window);
  evaluation = visage_window_get_evaluation (window);
  shown = visage_gallery_get_shown (gallery);

  /* A class with an IoU in some images and none in others (in neither map). */
  for (int c = 0; c < VG_NUM_CLASSES && cls < 0; c++)
    {
      int with = 0;

      for (int i = 0; i < N_FIXTURE; i++)
        with += vg_confusion_iou (&evaluation->images[i].confusion, c) >= 0;
      if (with >= 2 && with < N_FIXTURE)
        cls = c;
    }
  g_assert_cmpint (cls, >=, 0);

  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.sort-by-class-iou", "i", cls);
  g_assert_cmpstr (visage_gallery_get_sort_by (gallery), ==, "class-iou");
  g_assert_cmpint (visage_gallery_get_sort_class (gallery), ==, cls);
  g_assert_cmpuint (g_list_model_get_n_items (shown), ==, N_FIXTURE);
  for (guint i = 0; i < N_FIXTURE; i++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (shown, i);
      double iou = vg_confusion_iou (&visage_sample_get_result (sample)->confusion, cls);

      /* Ascending among the images with the class's IoU, then those without it. */
      if (iou < 0)
        past_scored = TRUE;
      else
        {
          g_assert_false (past_scored);
          g_assert_cmpfloat (iou, >=, previous);
          previous = iou;
        }
    }
  g_assert_true (past_scored);
  /* Every image has scores: no note. */
  g_assert_null (visage_gallery_get_scores_note (gallery));

  /* The order "miou" afterwards is not the class's any more. */
  visage_gallery_set_sort_by (gallery, "miou");
  g_assert_cmpint (visage_gallery_get_sort_class (gallery), ==, -1);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- a score order before any evaluation says so ---------------------------------------- */

VG_TEST ("/longtail/score-order-before-evaluation", test_score_order_before_evaluation)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;
  VisageGallery *gallery;
  const char *note;

  if ((window = ui_test_start (&app, window_settled)) == NULL)
    return;
  gallery = visage_window_get_gallery (window);
  g_assert_null (visage_window_get_evaluation (window));
  g_assert_null (visage_gallery_get_scores_note (gallery));

  /* The shown image was predicted (and, with its mask, scored) on opening: at most that
   * one has a score; the note says how many have none and offers the evaluation. */
  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.sort-by", "s", "miou");
  note = visage_gallery_get_scores_note (gallery);
  g_assert_nonnull (note);
  g_assert_nonnull (strstr (note, "evaluate the split"));
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "evaluate"));

  g_action_group_activate_action (G_ACTION_GROUP (window), "evaluate", NULL);
  g_assert_true (spin_until (window_evaluated, window));
  g_assert_null (visage_gallery_get_scores_note (gallery));

  /* By name needs no scores. */
  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.sort-by", "s", "name");
  g_assert_null (visage_gallery_get_scores_note (gallery));
  gtk_window_destroy (GTK_WINDOW (window));
}

VG_TEST ("/longtail/empty-gallery", test_empty_gallery)
{
  GtkWidget *holder = gtk_window_new ();
  GtkWidget *gallery = visage_gallery_new ();
  g_autoptr (GListStore) none = g_list_store_new (VISAGE_TYPE_SAMPLE);
  GtkWidget *sort, *filter;

  gtk_window_set_child (GTK_WINDOW (holder), gallery);
  visage_gallery_set_samples (VISAGE_GALLERY (gallery), G_LIST_MODEL (none));
  sort = find_widget (gallery, GTK_TYPE_DROP_DOWN, NULL);
  filter = find_widget (gallery, GTK_TYPE_MENU_BUTTON, NULL);
  g_assert_nonnull (sort);
  g_assert_nonnull (filter);
  /* Nothing to sort or filter. */
  g_assert_false (gtk_widget_get_sensitive (sort));
  g_assert_false (gtk_widget_get_sensitive (filter));
  g_assert_cmpstr (visage_gallery_get_count_text (VISAGE_GALLERY (gallery)), ==, "0 images");
  gtk_window_destroy (GTK_WINDOW (holder));
}

/* ---- the table's rows and "missed entirely" open exactly those images ------------------- */

VG_TEST ("/longtail/table-opens-images", test_table_opens_images)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;
  VisageGallery *gallery;
  VisageEvaluationView *view;
  const VgEvaluation *evaluation;
  GtkWidget *table;
  g_autoptr (VisageClassScore) first_row = NULL;
  int cls = -1;
  guint64 expected;
  g_autofree char *images = NULL, *bar = NULL;

  if ((window = open_evaluated (&app)) == NULL)
    return;
  gallery = visage_window_get_gallery (window);
  view = visage_window_get_evaluation_view (window);
  evaluation = visage_window_get_evaluation (window);

  /* A class missed entirely in some of its images but not all. */
  for (int c = 0; c < VG_NUM_CLASSES && cls < 0; c++)
    if (evaluation->metrics.class_missed[c] > 0
        && evaluation->metrics.class_missed[c] < evaluation->metrics.class_images[c])
      cls = c;
  g_assert_cmpint (cls, >=, 0);
  expected = missed_set (evaluation, cls);
  g_assert_cmpuint (popcount64 (expected), ==, evaluation->metrics.class_missed[cls]);

  visage_window_set_visible_view (window, "evaluation");
  gtk_widget_activate_action (GTK_WIDGET (view), "evaluation.open-missed", "i", cls);
  g_assert_cmpstr (visage_window_get_visible_view (window), ==, "browse");
  g_assert_cmphex (shown_set (gallery), ==, expected);
  g_assert_cmpint (visage_gallery_get_filter_missed (gallery), ==, cls);
  images = images_text (popcount64 (expected));
  bar = g_strdup_printf ("Missed entirely: %s, %s", visage_class_display_name (cls), images);
  g_assert_cmpstr (visage_gallery_get_focus_text (gallery), ==, bar);

  /* The bar's button clears the focus. */
  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.clear-focus", NULL);
  g_assert_null (visage_gallery_get_focus_text (gallery));
  g_assert_cmpuint (g_list_model_get_n_items (visage_gallery_get_shown (gallery)), ==,
                    N_FIXTURE);

  /* The images count opens the images with the class, its worst IoU first. */
  visage_window_set_visible_view (window, "evaluation");
  gtk_widget_activate_action (GTK_WIDGET (view), "evaluation.open-class", "i", cls);
  g_assert_cmpstr (visage_window_get_visible_view (window), ==, "browse");
  g_assert_cmphex (shown_set (gallery), ==, class_set (evaluation, cls));
  g_assert_cmpint (visage_gallery_get_filter_class (gallery), ==, cls);
  g_assert_cmpint (visage_gallery_get_sort_class (gallery), ==, cls);

  /* A click on a table row (its activation) does the same for the row's class. */
  visage_window_set_visible_view (window, "evaluation");
  spin_frames (3);
  table = find_widget (GTK_WIDGET (view), GTK_TYPE_COLUMN_VIEW, NULL);
  g_assert_nonnull (table);
  visage_evaluation_view_sort_by (view, "missed", GTK_SORT_DESCENDING);
  first_row = g_list_model_get_item (visage_evaluation_view_get_class_scores (view), 0);
  g_signal_emit_by_name (table, "activate", 0u);
  g_assert_cmpstr (visage_window_get_visible_view (window), ==, "browse");
  g_assert_cmpint (visage_gallery_get_filter_class (gallery), ==,
                   visage_class_score_get_class (first_row));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- a confusion cell: gallery, bar, highlight, list, scroll, size ---------------------- */

/* The frame drawn at the first image pixel whose (truth, prediction) is (or, with `same`
 * FALSE, is not) the pair: its RGBA. */
static void
pixel_of_pair (VisageOverlayArea *area, const guint8 *frame, int frame_width, int truth,
               int predicted, gboolean same, guint8 rgba[4])
{
  int scale = frame_width / gtk_widget_get_width (GTK_WIDGET (area));

  for (int iy = 0; iy < 4096; iy++)
    for (int ix = 0; ix < 4096; ix++)
      {
        int t, p;
        double x, y;

        visage_overlay_area_classes_at (area, ix, iy, &t, &p);
        if (t < 0 && p < 0 && ix == 0)
          g_assert_not_reached ();  /* past the image: no such pixel */
        if (t < 0 && p < 0)
          break;
        if ((t == truth && p == predicted) != same)
          continue;
        visage_overlay_area_from_image (area, ix + 0.5, iy + 0.5, &x, &y);
        memcpy (rgba, frame + ((size_t) (y * scale) * frame_width + (size_t) (x * scale)) * 4, 4);
        return;
      }
}

/* With the highlight on (frame `on`) and off (`off`): the pair's pixels are magenta, the
 * others dimmed. */
static void
check_highlight (VisageOverlayArea *area, const guint8 *on, const guint8 *off, int width,
                 int truth, int predicted)
{
  guint8 hit_on[4], hit_off[4], other_on[4], other_off[4];

  pixel_of_pair (area, on, width, truth, predicted, TRUE, hit_on);
  pixel_of_pair (area, off, width, truth, predicted, TRUE, hit_off);
  pixel_of_pair (area, on, width, truth, predicted, FALSE, other_on);
  pixel_of_pair (area, off, width, truth, predicted, FALSE, other_off);
  g_assert_cmpint (hit_on[0], >, hit_on[1] + 90);
  g_assert_cmpint (hit_on[2], >, hit_on[1] + 90);
  g_assert_true (memcmp (hit_on, hit_off, 3) != 0);
  for (int k = 0; k < 3; k++)
    g_assert_cmpint (other_on[k], <=, other_off[k] / 2 + 2);
}

static gboolean
thumbnail_shown (gpointer data)
{
  return gtk_picture_get_paintable (GTK_PICTURE (data)) != NULL;
}

/* The cell's image list: a thumbnail per row, and the count of pixels in words. */
static void
check_cell_rows (VisageEvaluationView *view, int truth, int predicted)
{
  GListModel *cell_samples = visage_evaluation_view_get_cell_samples (view);
  GtkWidget *list = find_widget (GTK_WIDGET (view), GTK_TYPE_LIST_BOX, NULL);
  guint n = g_list_model_get_n_items (cell_samples);

  g_assert_nonnull (list);
  g_assert_cmpuint (n, >, 0);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (cell_samples, i);
      GtkListBoxRow *row = gtk_list_box_get_row_at_index (GTK_LIST_BOX (list), (int) i);
      GtkWidget *picture = find_widget (GTK_WIDGET (row), GTK_TYPE_PICTURE, NULL);
      guint64 pixels = visage_sample_get_result (sample)->confusion.counts[truth][predicted];
      g_autofree char *count = visage_format_count (pixels);
      g_autofree char *text = g_strdup_printf (pixels == 1 ? "%s pixel" : "%s pixels", count);

      g_assert_nonnull (picture);
      g_assert_true (spin_until (thumbnail_shown, picture));
      g_assert_nonnull (find_widget (GTK_WIDGET (row), GTK_TYPE_LABEL, text));
    }
}

VG_TEST ("/longtail/confusion-cell", test_confusion_cell)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;
  VisageGallery *gallery;
  VisageEvaluationView *view;
  VisageConfusionMatrix *matrix;
  VisageOverlayArea *area;
  const VgEvaluation *evaluation;
  g_autoptr (VisageSample) last = NULL;
  int truth = -1, predicted = -1, t, p, width_before;
  guint best = 0;
  guint64 expected;
  g_autofree char *bar = NULL, *images = NULL;
  g_autofree guint8 *on = NULL, *off = NULL;
  int width, height;

  if ((window = open_evaluated (&app)) == NULL)
    return;
  gallery = visage_window_get_gallery (window);
  view = visage_window_get_evaluation_view (window);
  matrix = visage_evaluation_view_get_matrix (view);
  area = visage_image_view_get_area (visage_window_get_image_view (window));
  evaluation = visage_window_get_evaluation (window);

  /* The off-diagonal cell in the most images, but not in all. */
  for (int tt = 0; tt < VG_NUM_CLASSES; tt++)
    for (int pp = 0; pp < VG_NUM_CLASSES; pp++)
      {
        guint n = popcount64 (cell_set (evaluation, tt, pp));

        if (tt != pp && n > best && n < N_FIXTURE)
          truth = tt, predicted = pp, best = n;
      }
  g_assert_cmpuint (best, >=, 2);
  expected = cell_set (evaluation, truth, predicted);

  visage_window_set_visible_view (window, "evaluation");
  spin_frames (5);
  width_before = gtk_widget_get_width (GTK_WIDGET (matrix));
  g_assert_cmpint (width_before, >, 0);
  visage_confusion_matrix_select (matrix, truth, predicted);
  spin_frames (5);
  /* Listing the cell's images leaves the matrix as large as it was. */
  g_assert_cmpint (gtk_widget_get_width (GTK_WIDGET (matrix)), ==, width_before);
  check_cell_rows (view, truth, predicted);
  keep_screenshot (window, "longtail-cell.png");
  g_assert_cmpint (gtk_widget_get_width (GTK_WIDGET (matrix)), ==, width_before);

  /* The gallery shows exactly the cell's images, most pixels first, and says so. */
  g_assert_cmphex (shown_set (gallery), ==, expected);
  g_assert_cmpstr (visage_gallery_get_sort_by (gallery), ==, "confusion");
  visage_gallery_get_confusion (gallery, &t, &p);
  g_assert_cmpint (t, ==, truth);
  g_assert_cmpint (p, ==, predicted);
  images = images_text (best);
  bar = g_strdup_printf ("Confusion: truth %s → predicted %s, %s",
                         visage_class_display_name (truth),
                         visage_class_display_name (predicted), images);
  g_assert_cmpstr (visage_gallery_get_focus_text (gallery), ==, bar);

  /* The image view highlights the cell's pixels. */
  visage_overlay_area_get_highlight (area, &t, &p);
  g_assert_cmpint (t, ==, truth);
  g_assert_cmpint (p, ==, predicted);

  /* Opening the cell's last-listed image shows it in Browse, the gallery scrolled to it and
   * its confused pixels in magenta; without the focus, none. */
  last = g_list_model_get_item (visage_evaluation_view_get_cell_samples (view),
                                g_list_model_get_n_items (
                                  visage_evaluation_view_get_cell_samples (view)) - 1);
  g_signal_emit_by_name (view, "open-sample", last);
  g_assert_cmpstr (visage_window_get_visible_view (window), ==, "browse");
  g_assert_true (visage_gallery_get_selected_sample (gallery) == last);
  g_assert_true (spin_until (window_settled, window));
  spin_frames (5);
  keep_screenshot (window, "longtail-confusion.png");
  on = visage_overlay_area_read_pixels (area, &width, &height);
  g_assert_nonnull (on);
  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.clear-focus", NULL);
  g_assert_null (visage_gallery_get_focus_text (gallery));
  visage_overlay_area_get_highlight (area, &t, &p);
  g_assert_cmpint (t, ==, -1);
  g_assert_cmpint (p, ==, -1);
  off = visage_overlay_area_read_pixels (area, &width, &height);
  check_highlight (area, on, off, width, truth, predicted);
  g_assert_cmpuint (g_list_model_get_n_items (visage_gallery_get_shown (gallery)), ==,
                    N_FIXTURE);

  /* Clearing the matrix's selection clears the gallery's focus too. */
  visage_confusion_matrix_select (matrix, truth, predicted);
  g_assert_nonnull (visage_gallery_get_focus_text (gallery));
  visage_confusion_matrix_select (matrix, -1, -1);
  g_assert_null (visage_gallery_get_focus_text (gallery));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- the gallery keeps the selected image in view --------------------------------------- */

static gboolean
scrolled_to_end (gpointer data)
{
  GtkAdjustment *adj = data;

  return gtk_adjustment_get_value (adj) > 0
         && gtk_adjustment_get_value (adj) + gtk_adjustment_get_page_size (adj)
              >= gtk_adjustment_get_upper (adj) - 1;
}

static gboolean
scrolled_to_top (gpointer data)
{
  return gtk_adjustment_get_value (GTK_ADJUSTMENT (data)) == 0;
}

VG_TEST ("/longtail/scroll-and-step-keys", test_scroll_and_step_keys)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;
  VisageGallery *gallery;
  GListModel *shown;
  GtkWidget *grid;
  GtkAdjustment *adj;
  GtkShortcutController *keys = NULL;
  g_autoptr (GListModel) controllers = NULL;

  if ((window = ui_test_start (&app, window_settled)) == NULL)
    return;
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 700);
  spin_frames (10);
  gallery = visage_window_get_gallery (window);
  shown = visage_gallery_get_shown (gallery);
  grid = find_widget (GTK_WIDGET (gallery), GTK_TYPE_GRID_VIEW, NULL);
  adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (grid));
  /* 32 thumbnails do not fit: the grid scrolls. */
  g_assert_cmpfloat (gtk_adjustment_get_upper (adj), >, gtk_adjustment_get_page_size (adj));

  visage_gallery_select_position (gallery, N_FIXTURE - 1);
  g_assert_true (ui_spin_until_timeout (scrolled_to_end, adj, 10));
  visage_gallery_select_position (gallery, 0);
  g_assert_true (ui_spin_until_timeout (scrolled_to_top, adj, 10));

  /* The step keys: D and Page Down forward, A and Page Up back, wrapping around. */
  controllers = gtk_widget_observe_controllers (GTK_WIDGET (gallery));
  for (guint i = 0; i < g_list_model_get_n_items (controllers) && keys == NULL; i++)
    {
      g_autoptr (GObject) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_SHORTCUT_CONTROLLER (controller))
        keys = GTK_SHORTCUT_CONTROLLER (controller);
    }
  g_assert_nonnull (keys);
  {
    static const struct { guint keyval; int step; } presses[] = {
      { GDK_KEY_d, 1 }, { GDK_KEY_Page_Down, 1 }, { GDK_KEY_a, -1 }, { GDK_KEY_a, -1 },
      { GDK_KEY_Page_Up, -1 },
    };
    int position = 0;

    for (guint k = 0; k < G_N_ELEMENTS (presses); k++)
      {
        g_autoptr (GtkShortcutTrigger) trigger = gtk_keyval_trigger_new (presses[k].keyval, 0);
        gboolean done = FALSE;

        for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (keys)) && !done; i++)
          {
            g_autoptr (GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (keys), i);
            GtkShortcutTrigger *bound = gtk_shortcut_get_trigger (shortcut);

            if (GTK_IS_ALTERNATIVE_TRIGGER (bound)
                && (gtk_shortcut_trigger_equal (
                      gtk_alternative_trigger_get_first (GTK_ALTERNATIVE_TRIGGER (bound)), trigger)
                    || gtk_shortcut_trigger_equal (
                      gtk_alternative_trigger_get_second (GTK_ALTERNATIVE_TRIGGER (bound)),
                      trigger)))
              done = gtk_shortcut_action_activate (gtk_shortcut_get_action (shortcut), 0,
                                                   GTK_WIDGET (gallery),
                                                   gtk_shortcut_get_arguments (shortcut));
          }
        g_assert_true (done);
        position = (position + N_FIXTURE + presses[k].step) % N_FIXTURE;
        g_assert_cmpuint (gtk_single_selection_get_selected (GTK_SINGLE_SELECTION (shown)), ==,
                          (guint) position);
      }
  }

  /* Stepping goes through the filtered gallery only. */
  gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.filter-class", "i",
                              VG_CLASS_HAT);
  if (g_list_model_get_n_items (shown) >= 2)
    {
      g_autoptr (VisageSample) second = g_list_model_get_item (shown, 1);

      visage_gallery_select_position (gallery, 0);
      gtk_widget_activate_action (GTK_WIDGET (gallery), "gallery.next", NULL);
      g_assert_true (visage_gallery_get_selected_sample (gallery) == second);
      g_assert_true (visage_sample_get_truth_classes (second) & (1u << VG_CLASS_HAT));
    }
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- the matrix: scales, numbers, colour bar -------------------------------------------- */

VG_TEST ("/longtail/matrix-scales", test_matrix_scales)
{
  GtkWidget *matrix = visage_confusion_matrix_new ();
  g_autofree char *big = visage_confusion_matrix_cell_text (0.298);
  g_autofree char *small = visage_confusion_matrix_cell_text (0.025);
  g_autofree char *tiny = visage_confusion_matrix_cell_text (0.0004);
  g_autofree char *none = visage_confusion_matrix_cell_text (0.0);

  g_object_ref_sink (matrix);
  /* Linear by default, numbers on: 29.8% is 0.298 of the way, not 0.87 as on the log
   * scale, where it looked as dark as 95%. */
  g_assert_false (visage_confusion_matrix_get_logarithmic (VISAGE_CONFUSION_MATRIX (matrix)));
  g_assert_true (visage_confusion_matrix_get_show_numbers (VISAGE_CONFUSION_MATRIX (matrix)));
  g_assert_cmpfloat_with_epsilon (visage_confusion_matrix_scale (FALSE, 0.298), 0.298, 1e-12);
  g_assert_cmpfloat_with_epsilon (visage_confusion_matrix_scale (TRUE, 0.298),
                                  (log10 (0.298) + 4.0) / 4.0, 1e-12);
  g_assert_cmpfloat (visage_confusion_matrix_scale (TRUE, 0.298), >, 0.85);
  g_assert_cmpfloat (visage_confusion_matrix_scale (FALSE, 0.0), ==, 0.0);
  g_assert_cmpfloat (visage_confusion_matrix_scale (TRUE, 1e-6), ==, 0.0);
  g_assert_cmpfloat (visage_confusion_matrix_scale (FALSE, 1.0), ==, 1.0);
  g_assert_cmpstr (big, ==, "30");
  g_assert_cmpstr (small, ==, "2.5");
  g_assert_cmpstr (tiny, ==, "<0.1");
  g_assert_cmpstr (none, ==, "");

  g_object_set (matrix, "logarithmic", TRUE, "show-numbers", FALSE, NULL);
  g_assert_true (visage_confusion_matrix_get_logarithmic (VISAGE_CONFUSION_MATRIX (matrix)));
  g_assert_false (visage_confusion_matrix_get_show_numbers (VISAGE_CONFUSION_MATRIX (matrix)));
  g_object_unref (matrix);
}

/* For spin_until: the widget (data) is mapped and has a size. */
static gboolean
widget_drawn (gpointer data)
{
  return gtk_widget_get_mapped (data) && gtk_widget_get_width (data) > 0;
}

/* The matrix drawn (as a texture): the colour bar makes it taller than wide, and the
 * numbers put light pixels into the dark cells. */
static GdkTexture *
render (GtkWidget *widget)
{
  g_autoptr (GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr (GskRenderNode) node = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));

  /* The widget's own drawing, as a frame would have it. */
  GTK_WIDGET_GET_CLASS (widget)->snapshot (widget, snapshot);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (renderer, node,
                                      &GRAPHENE_RECT_INIT (0, 0, gtk_widget_get_width (widget),
                                                           gtk_widget_get_height (widget)));
}

/* White pixels inside the diagonal cells' area (the numbers on the dark cells). */
static guint
count_white (GdkTexture *texture, int x0, int y0, int size)
{
  int w = gdk_texture_get_width (texture), h = gdk_texture_get_height (texture);
  g_autofree guint8 *pixels = g_malloc ((size_t) w * h * 4);
  guint n = 0;

  gdk_texture_download (texture, pixels, (size_t) w * 4);
  for (int y = y0; y < MIN (y0 + size, h); y++)
    for (int x = x0; x < MIN (x0 + size, w); x++)
      {
        const guint8 *p = pixels + ((size_t) y * w + x) * 4;  /* B G R A */

        n += p[0] > 200 && p[1] > 200 && p[2] > 200;
      }
  return n;
}

VG_TEST ("/longtail/matrix-drawn", test_matrix_drawn)
{
  GtkWidget *holder = gtk_window_new ();
  GtkWidget *matrix = visage_confusion_matrix_new ();
  VgConfusion confusion = { 0 };
  g_autoptr (GdkTexture) with_numbers = NULL, without = NULL;
  double x, y, x1, y1;
  int cell;

  /* Every row 70% right, 30% as the next class: dark diagonal cells. */
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      confusion.counts[c][c] = 70000;
      confusion.counts[c][(c + 1) % VG_NUM_CLASSES] = 30000;
    }
  gtk_window_set_child (GTK_WINDOW (holder), matrix);
  gtk_window_set_default_size (GTK_WINDOW (holder), 800, 900);
  visage_confusion_matrix_set_confusion (VISAGE_CONFUSION_MATRIX (matrix), &confusion);
  gtk_window_present (GTK_WINDOW (holder));
  g_assert_true (spin_until (widget_drawn, matrix));
  /* The geometry that held over both renders: on a loaded machine a late size or style
   * change (the labels' font measured again) can move the cells between frames. */
  for (int attempt = 0;; attempt++)
    {
      double xa, ya;

      g_assert_cmpint (attempt, <, 20);
      spin_frames (10);
      visage_confusion_matrix_cell_center (VISAGE_CONFUSION_MATRIX (matrix), 0, 0, &x, &y);
      visage_confusion_matrix_cell_center (VISAGE_CONFUSION_MATRIX (matrix), 1, 1, &x1, &y1);
      g_clear_object (&with_numbers);
      g_clear_object (&without);
      visage_confusion_matrix_set_show_numbers (VISAGE_CONFUSION_MATRIX (matrix), TRUE);
      with_numbers = render (matrix);
      visage_confusion_matrix_set_show_numbers (VISAGE_CONFUSION_MATRIX (matrix), FALSE);
      without = render (matrix);
      visage_confusion_matrix_cell_center (VISAGE_CONFUSION_MATRIX (matrix), 0, 0, &xa, &ya);
      if (xa == x && ya == y)
        break;
    }
  cell = (int) (x1 - x);
  g_assert_cmpint (cell, >=, 20);
  /* The central half of the cell: the number stands there, and the light grid lines between
   * cells stay outside it whatever the rounding of the cell's position. */
  g_assert_cmpuint (count_white (with_numbers, (int) (x - cell / 4.0), (int) (y - cell / 4.0),
                                 cell / 2), >, 5);
  g_assert_cmpuint (count_white (without, (int) (x - cell / 4.0), (int) (y - cell / 4.0),
                                 cell / 2), ==, 0);
  gtk_window_destroy (GTK_WINDOW (holder));
}

/* ---- the per-class table fits its contents ---------------------------------------------- */

VG_TEST ("/longtail/class-column-width", test_class_column_width)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;
  GtkWidget *view, *name;

  if ((window = open_evaluated (&app)) == NULL)
    return;
  gtk_window_set_default_size (GTK_WINDOW (window), 1800, 1000);
  visage_window_set_visible_view (window, "evaluation");
  view = GTK_WIDGET (visage_window_get_evaluation_view (window));
  spin_frames (10);
  name = find_widget (view, GTK_TYPE_LABEL, visage_class_display_name (VG_CLASS_SKIN));
  g_assert_nonnull (name);
  g_assert_cmpint (gtk_widget_get_width (gtk_widget_get_parent (name)), <, 300);
  keep_screenshot (window, "longtail-evaluation.png");
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char *argv[])
{
  return ui_test_main (argc, argv, "longtail", fixture_names, "split", FALSE);
}
