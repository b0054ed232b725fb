/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The evaluation page's compare mode, driven through win.compare and win.leave-compare:
 * a second model (a U-Net beside the tiny SegFormer, another seed and resolution)
 * evaluated beside the loaded one shows both IoU columns and their coloured difference,
 * the difference of the confusion matrices and the images in order of the difference
 * (either way); the top image opens three labelled panes; leaving shows the evaluation
 * again. A model against itself differs nowhere, and a model file that is missing, or a
 * comparison cancelled, leaves the page as it was. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <adwaita.h>

#include "test-fixtures.h"
#include "test-register.h"
#include "vg-classes.h"
#include "visage-compare-view.h"
#include "visage-confusion-matrix.h"
#include "visage-evaluation-view.h"
#include "ui-test-util.h"

static const char *const fixture_names[] = { "0", "1", "2", "3", "5", "6", NULL };
#define N_IMAGES 6

/* For spin_until: nothing under way, the progress bar's job included. */
static gboolean
window_idle (gpointer data)
{
  return window_settled (data) && !visage_window_get_working (VISAGE_WINDOW (data));
}

static gboolean
window_compared (gpointer data)
{
  return window_idle (data) && visage_window_get_comparison (VISAGE_WINDOW (data)) != NULL;
}

static VisageCompareView *
compare_view (VisageWindow *window)
{
  return visage_evaluation_view_get_compare_view (visage_window_get_evaluation_view (window));
}

static gboolean
detail_shown (gpointer data)
{
  return g_strcmp0 (visage_compare_view_get_page (compare_view (data)), "detail") == 0;
}

/* The evaluation page's own stack: "empty", "results" or "compare". */
static const char *
evaluation_page (VisageWindow *window)
{
  GObject *stack = gtk_widget_get_template_child (
    GTK_WIDGET (visage_window_get_evaluation_view (window)), VISAGE_TYPE_EVALUATION_VIEW,
    "stack");

  return gtk_stack_get_visible_child_name (GTK_STACK (stack));
}

static void
compare_with (VisageWindow *window, const char *path)
{
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "compare"));
  g_action_group_activate_action (G_ACTION_GROUP (window), "compare",
                                  g_variant_new_string (path));
}

static const char *
grid_text (GtkGrid *grid, int column, int row)
{
  GtkWidget *label = gtk_grid_get_child_at (grid, column, row);

  g_assert_true (GTK_IS_LABEL (label));
  return gtk_label_get_label (GTK_LABEL (label));
}

/* The per-class table: titles, and each class's difference in points with its colour. */
static void
check_class_table (VisageCompareView *view, const VgComparison *c)
{
  GtkGrid *grid = GTK_GRID (find_widget (GTK_WIDGET (view), GTK_TYPE_GRID, NULL));

  g_assert_nonnull (grid);
  g_assert_cmpstr (grid_text (grid, 1, 0), ==, "IoU A");
  g_assert_cmpstr (grid_text (grid, 2, 0), ==, "IoU B");
  g_assert_cmpstr (grid_text (grid, 3, 0), ==, "B − A");
  for (int k = 0; k < VG_NUM_CLASSES; k++)
    {
      GtkWidget *delta = gtk_grid_get_child_at (grid, 3, k + 1);
      const char *text = gtk_label_get_label (GTK_LABEL (delta));
      g_autofree char *points = g_strdup_printf ("%.2f", 100 * fabs (c->iou_delta[k]));

      if (isnan (c->iou_delta[k]))
        g_assert_cmpstr (text, ==, "—");
      else if (fabs (c->iou_delta[k]) < 0.00005)
        g_assert_cmpstr (text, ==, "0.00");
      else
        {
          g_assert_true (g_str_has_suffix (text, points));
          g_assert_true (g_str_has_prefix (text, c->iou_delta[k] > 0 ? "+" : "−"));
          g_assert_true (gtk_widget_has_css_class (delta, c->iou_delta[k] > 0 ? "success"
                                                                               : "error"));
        }
    }
}

/* The images listed, in order of the difference one way or the other. */
static void
check_image_order (VisageCompareView *view, const VgComparison *c, gboolean b_first)
{
  GListModel *images = visage_compare_view_get_images (view);
  double previous = b_first ? INFINITY : -INFINITY;

  visage_compare_view_set_b_better_first (view, b_first);
  g_assert_cmpuint (g_list_model_get_n_items (images), ==, N_IMAGES);
  for (guint k = 0; k < N_IMAGES; k++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (images, k);
      double delta = c->image_delta[visage_sample_get_index (sample)];

      if (b_first)
        g_assert_cmpfloat (delta, <=, previous);
      else
        g_assert_cmpfloat (delta, >=, previous);
      previous = delta;
    }
}

/* The detail page: three panes, each titled, each with the image's picture. */
static void
check_panes (VisageWindow *window, VisageCompareView *view, const char *other)
{
  const VgSplit *split = visage_window_get_split (window);
  g_autofree char *other_name = g_path_get_basename (other);
  g_autofree char *a_title = NULL, *b_title = NULL, *a_name = NULL;
  const char *titles[3];

  a_name = g_path_get_basename (ui_fixture.model_path);
  a_title = g_strconcat ("A: ", a_name, NULL);
  b_title = g_strconcat ("B: ", other_name, NULL);
  titles[0] = "Ground Truth";
  titles[1] = a_title;
  titles[2] = b_title;
  for (int pane = 0; pane < 3; pane++)
    {
      GtkWidget *title = find_widget (GTK_WIDGET (view), GTK_TYPE_LABEL, titles[pane]);
      GtkWidget *picture;
      GdkPaintable *paintable;

      g_assert_nonnull (title);
      g_assert_true (gtk_widget_is_drawable (title));
      /* the title, the score, the picture */
      picture = gtk_widget_get_next_sibling (gtk_widget_get_next_sibling (title));
      g_assert_true (GTK_IS_PICTURE (picture));
      paintable = gtk_picture_get_paintable (GTK_PICTURE (picture));
      g_assert_nonnull (paintable);
      g_assert_cmpint (gdk_paintable_get_intrinsic_width (paintable), ==,
                       split->samples[0].width);
    }
}

VG_TEST ("/compare/two-models", test_two_models)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window = ui_test_start (&app, window_settled);
  g_autofree char *other = NULL;
  const VgServiceComparison *comparison;
  const VgEvaluation *evaluation;
  VisageCompareView *view;
  VisageConfusionMatrix *matrix;

  if (window == NULL)
    return;
  visage_window_set_quiet (window, TRUE);
  g_action_group_activate_action (G_ACTION_GROUP (window), "evaluate", NULL);
  g_assert_true (spin_until (window_evaluated, window));
  g_assert_true (spin_until (window_idle, window));
  evaluation = visage_window_get_evaluation (window);
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "leave-compare"));

  other = vg_test_write_model_of (ui_fixture.scratch_dir, "other.safetensors", "unet", NULL, 5,
                                  96);
  compare_with (window, other);
  g_assert_true (visage_window_get_working (window));
  g_assert_true (spin_until (window_compared, window));
  comparison = visage_window_get_comparison (window);
  g_assert_cmpstr (comparison->model_a, ==, ui_fixture.model_path);
  g_assert_cmpstr (comparison->model_b, ==, other);
  g_assert_cmpint (comparison->comparison.n_images, ==, N_IMAGES);
  /* A is the loaded model on the same images: its evaluation's figures */
  for (int k = 0; k < VG_NUM_CLASSES; k++)
    g_assert_cmpfloat (comparison->comparison.iou_a[k], ==,
                       vg_confusion_iou (&evaluation->metrics.confusion, k));
  g_assert_cmpstr (visage_window_get_visible_view (window), ==, "evaluation");
  g_assert_cmpstr (evaluation_page (window), ==, "compare");

  view = compare_view (window);
  check_class_table (view, &comparison->comparison);
  matrix = visage_compare_view_get_matrix (view);
  g_assert_true (visage_confusion_matrix_get_difference (matrix));
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int p = 0; p < VG_NUM_CLASSES; p++)
      g_assert_cmpfloat_with_epsilon (
        visage_confusion_matrix_delta (matrix, t, p),
        visage_confusion_matrix_rate (&comparison->b->metrics.confusion, t, p)
        - visage_confusion_matrix_rate (&comparison->a->metrics.confusion, t, p), 1e-12);
  check_image_order (view, &comparison->comparison, FALSE);
  check_image_order (view, &comparison->comparison, TRUE);
  keep_screenshot (window, "compare-overview.png");

  /* the top image: ground truth and both predictions, labelled */
  visage_compare_view_activate_image (view, 0);
  g_assert_true (spin_until (detail_shown, window));
  spin_frames (3);
  check_panes (window, view, other);
  keep_screenshot (window, "compare-detail.png");

  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "leave-compare"));
  g_action_group_activate_action (G_ACTION_GROUP (window), "leave-compare", NULL);
  g_assert_null (visage_window_get_comparison (window));
  g_assert_cmpstr (evaluation_page (window), ==, "results");
  g_assert_true (visage_window_get_evaluation (window) == evaluation);
  g_assert_false (visage_confusion_matrix_get_difference (
    visage_evaluation_view_get_matrix (visage_window_get_evaluation_view (window))));
  gtk_window_destroy (GTK_WINDOW (window));
}

VG_TEST ("/compare/itself-missing-cancelled", test_itself_missing_cancelled)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window = ui_test_start (&app, window_settled);
  g_autofree char *missing = NULL;
  const VgServiceComparison *comparison;

  if (window == NULL)
    return;
  visage_window_set_quiet (window, TRUE);
  compare_with (window, ui_fixture.model_path);
  g_assert_true (spin_until (window_compared, window));
  comparison = visage_window_get_comparison (window);
  for (int k = 0; k < VG_NUM_CLASSES; k++)
    g_assert_true (isnan (comparison->comparison.iou_delta[k])
                   || comparison->comparison.iou_delta[k] == 0.0);
  g_assert_cmpfloat (comparison->comparison.miou_delta, ==, 0.0);
  g_assert_true (vg_comparison_confusion_is_zero (&comparison->comparison));
  for (int i = 0; i < N_IMAGES; i++)
    g_assert_cmpfloat (comparison->comparison.image_delta[i], ==, 0.0);

  /* leaving without an evaluation: the empty state again */
  visage_window_leave_compare (window);
  g_assert_cmpstr (evaluation_page (window), ==, "empty");

  missing = g_build_filename (ui_fixture.scratch_dir, "no-such-model.safetensors", NULL);
  compare_with (window, missing);
  g_assert_true (spin_until (window_idle, window));
  g_assert_null (visage_window_get_comparison (window));
  g_assert_cmpstr (evaluation_page (window), ==, "empty");
  /* win.cancel stops a comparison on the worker: nothing shown, the window idle again */
  compare_with (window, ui_fixture.model_path);
  g_assert_true (visage_window_get_working (window));
  g_action_group_activate_action (G_ACTION_GROUP (window), "cancel", NULL);
  g_assert_true (spin_until (window_idle, window));
  g_assert_null (visage_window_get_comparison (window));
  g_assert_cmpstr (evaluation_page (window), ==, "empty");
  /* and the window goes on: a real comparison still works */
  compare_with (window, ui_fixture.model_path);
  g_assert_true (spin_until (window_compared, window));
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char *argv[])
{
  return ui_test_main (argc, argv, "compare", fixture_names, "split", FALSE);
}
