/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-evaluation-view"

#include "config.h"

#include <glib/gi18n.h>

#include "vg-classes.h"
#include "visage-class-score.h"
#include "visage-classes.h"
#include "visage-evaluation-view.h"
#include "visage-format.h"
#include "visage-resources.h"

/* The table's columns: the score property each shows and sorts by; the image counts are
 * buttons that open those images in the gallery (action: the widget action, with the
 * class). */
typedef struct {
  const char *property;
  const char *title;  /* translated when the table is built */
  gboolean numeric;
  const char *action;
} Column;

static const Column columns[] = {
  { "name", N_("Class"), FALSE, NULL },
  { "iou", N_("IoU"), TRUE, NULL },
  { "f1", N_("F1"), TRUE, NULL },
  { "truth-pixels", N_("Ground-Truth Pixels"), TRUE, NULL },
  /* TRANSLATORS: a column of the per-class table: images with the class */
  { "images", N_("Images"), TRUE, "evaluation.open-class" },
  /* TRANSLATORS: a column of the per-class table: images where the class is missed
   * entirely */
  { "missed", N_("Missed"), TRUE, "evaluation.open-missed" },
};

struct _VisageEvaluationView
{
  GtkWidget parent_instance;

  /* Template widgets */
  GtkStack *stack;
  GtkLabel *summary_label;
  GtkLabel *details_label;
  VisageConfusionMatrix *matrix;
  GtkLabel *cell_label;
  GtkListBox *cell_list;
  GtkColumnView *class_table;
  VisageCompareView *compare_view;

  GListModel *samples;        /* of VisageSample with the evaluation's results */
  GListStore *cell_samples;   /* listed for the selected cell */
  GListStore *scores;         /* of VisageClassScore, class order */
  GtkSortListModel *sorted_scores;
  GtkColumnViewColumn *table_columns[G_N_ELEMENTS (columns)];
  int cell_truth;
  int cell_predicted;
};

/* A plain widget with a bin layout rather than an AdwBin: the template binds its only
 * child (the stack), which gtk_widget_dispose_template unparents, and AdwBin would then
 * unparent it a second time. */
G_DEFINE_FINAL_TYPE (VisageEvaluationView, visage_evaluation_view, GTK_TYPE_WIDGET)

enum {
  SIGNAL_OPEN_SAMPLE,
  SIGNAL_OPEN_CLASS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

GtkWidget *
visage_evaluation_view_new (void)
{
  return g_object_new (VISAGE_TYPE_EVALUATION_VIEW, NULL);
}

VisageConfusionMatrix *
visage_evaluation_view_get_matrix (VisageEvaluationView *self)
{
  g_return_val_if_fail (VISAGE_IS_EVALUATION_VIEW (self), NULL);

  return self->matrix;
}

GListModel *
visage_evaluation_view_get_cell_samples (VisageEvaluationView *self)
{
  g_return_val_if_fail (VISAGE_IS_EVALUATION_VIEW (self), NULL);

  return G_LIST_MODEL (self->cell_samples);
}

GListModel *
visage_evaluation_view_get_class_scores (VisageEvaluationView *self)
{
  g_return_val_if_fail (VISAGE_IS_EVALUATION_VIEW (self), NULL);

  return G_LIST_MODEL (self->sorted_scores);
}

void
visage_evaluation_view_sort_by (VisageEvaluationView *self, const char *column,
                                GtkSortType order)
{
  g_return_if_fail (VISAGE_IS_EVALUATION_VIEW (self));

  for (guint i = 0; i < G_N_ELEMENTS (columns); i++)
    if (g_str_equal (column, columns[i].property))
      {
        gtk_column_view_sort_by_column (self->class_table, self->table_columns[i], order);
        return;
      }
  g_warning ("no column %s", column);
}

/* ---- the images of a confusion cell ----------------------------------------------------- */

static guint64
cell_pixels (VisageSample *sample, int truth, int predicted)
{
  const VgImageResult *result = visage_sample_get_result (sample);

  return result != NULL ? result->confusion.counts[truth][predicted] : 0;
}

static int
compare_by_cell (gconstpointer a, gconstpointer b, gpointer user_data)
{
  VisageEvaluationView *self = user_data;
  VisageSample *sa = *(VisageSample **) a, *sb = *(VisageSample **) b;
  guint64 pa = cell_pixels (sa, self->cell_truth, self->cell_predicted);
  guint64 pb = cell_pixels (sb, self->cell_truth, self->cell_predicted);
  int ia = visage_sample_get_index (sa), ib = visage_sample_get_index (sb);

  if (pa != pb)
    return pa > pb ? -1 : 1;
  return (ia > ib) - (ia < ib);
}

static void
cell_selected (VisageEvaluationView *self, int truth, int predicted)
{
  g_autoptr (GPtrArray) ranked = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *title = NULL;
  guint n, n_with;

  self->cell_truth = truth;
  self->cell_predicted = predicted;
  g_list_store_remove_all (self->cell_samples);
  if (truth < 0 || self->samples == NULL)
    {
      gtk_label_set_label (self->cell_label, "");
      return;
    }

  n = g_list_model_get_n_items (self->samples);
  for (guint i = 0; i < n; i++)
    {
      VisageSample *sample = g_list_model_get_item (self->samples, i);

      if (cell_pixels (sample, truth, predicted) > 0)
        g_ptr_array_add (ranked, sample);
      else
        g_object_unref (sample);
    }
  g_ptr_array_sort_with_data (ranked, compare_by_cell, self);
  n_with = ranked->len;
  if (ranked->len > VISAGE_CELL_LIST_MAX)
    g_ptr_array_set_size (ranked, VISAGE_CELL_LIST_MAX);
  g_list_store_splice (self->cell_samples, 0, 0, ranked->pdata, ranked->len);

  if (truth == predicted)
    /* TRANSLATORS: heading of the image list of a diagonal confusion cell: the class, the
     * images listed and the images with such pixels */
    title = g_strdup_printf (_("%s predicted right: the %u of %u images with the most such "
                               "pixels; the gallery shows them all"),
                             visage_class_display_name (truth), ranked->len, n_with);
  else
    /* TRANSLATORS: heading of the image list of a confusion cell: truth, prediction, the
     * images listed and the images with such pixels */
    title = g_strdup_printf (_("%s predicted as %s: the %u of %u images with the most such "
                               "pixels; the gallery shows them all"),
                             visage_class_display_name (truth),
                             visage_class_display_name (predicted), ranked->len, n_with);
  if (ranked->len == 0)
    {
      g_free (title);
      title = g_strdup (_("No image has pixels in this cell"));
    }
  gtk_label_set_label (self->cell_label, title);
}

static GtkWidget *
create_cell_row (gpointer item, gpointer user_data)
{
  VisageEvaluationView *self = user_data;
  VisageSample *sample = item;
  guint64 pixels = cell_pixels (sample, self->cell_truth, self->cell_predicted);
  g_autofree char *number = visage_format_count (pixels);
  g_autofree char *count_text = NULL;

  /* TRANSLATORS: pixels of the chosen confusion in one image; %s is the count */
  count_text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s pixel", "%s pixels", pixels),
                                number);
  return visage_sample_row_new (sample, VISAGE_CELL_THUMBNAIL_SIZE, TRUE,
                                gtk_label_new (count_text), NULL);
}

static void
cell_row_activated (VisageEvaluationView *self, GtkListBoxRow *row)
{
  g_autoptr (VisageSample) sample =
    g_list_model_get_item (G_LIST_MODEL (self->cell_samples), gtk_list_box_row_get_index (row));

  if (sample != NULL)
    g_signal_emit (self, signals[SIGNAL_OPEN_SAMPLE], 0, sample);
}

/* ---- the per-class table ---------------------------------------------------------------- */

static void
setup_cell (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  const Column *column = user_data;
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), column->numeric ? 1.f : 0.f);
  if (column->numeric)
    gtk_widget_add_css_class (label, "numeric");
  if (column->action != NULL)
    {
      GtkWidget *button = gtk_button_new ();

      gtk_button_set_child (GTK_BUTTON (button), label);
      gtk_widget_add_css_class (button, "flat");
      gtk_widget_set_tooltip_text (button, g_str_equal (column->property, "missed")
                                           ? _("Show These Images in the Gallery")
                                           : _("Show the Images with the Class in the "
                                               "Gallery, Worst First"));
      gtk_list_item_set_child (item, button);
    }
  else
    gtk_list_item_set_child (item, label);
}

static char *
format_score (double value)
{
  /* A class that occurs nowhere has no score. */
  return value < 0 ? g_strdup ("—") : visage_format_percent (value, 2);
}

static void
bind_cell (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  const Column *column = user_data;
  VisageClassScore *score = gtk_list_item_get_item (item);
  GtkWidget *child = gtk_list_item_get_child (item);
  GtkLabel *label = GTK_LABEL (GTK_IS_BUTTON (child) ? gtk_button_get_child (GTK_BUTTON (child))
                                                     : child);
  g_autofree char *text = NULL;
  g_auto (GValue) value = G_VALUE_INIT;

  g_object_get_property (G_OBJECT (score), column->property, &value);
  if (g_str_equal (column->property, "name"))
    {
      gboolean long_tail;

      g_object_get (score, "long-tail", &long_tail, NULL);
      /* TRANSLATORS: a class name in the table, marked as a rare (long-tail) class */
      text = long_tail ? g_strdup_printf (_("%s (long tail)"), g_value_get_string (&value))
                       : g_value_dup_string (&value);
      if (long_tail)
        gtk_widget_add_css_class (GTK_WIDGET (label), "accent");
      else
        gtk_widget_remove_css_class (GTK_WIDGET (label), "accent");
    }
  else if (G_VALUE_HOLDS_DOUBLE (&value))
    text = format_score (g_value_get_double (&value));
  else if (G_VALUE_HOLDS_UINT64 (&value))
    text = visage_format_count (g_value_get_uint64 (&value));
  else
    text = visage_format_count ((guint64) MAX (g_value_get_int (&value), 0));
  gtk_label_set_label (label, text);
  if (GTK_IS_BUTTON (child))
    {
      /* The target first: an action name without it would not match the action's type. */
      gtk_actionable_set_action_target_value (
        GTK_ACTIONABLE (child), g_variant_new_int32 (visage_class_score_get_class (score)));
      gtk_actionable_set_action_name (GTK_ACTIONABLE (child), column->action);
      /* Nothing to open where there are no such images. */
      gtk_widget_set_sensitive (child, g_value_get_int (&value) > 0);
    }
}

/* A click on a row (anywhere but its buttons) shows the images with its class. */
static void
table_row_activated (VisageEvaluationView *self, guint position)
{
  g_autoptr (VisageClassScore) score =
    g_list_model_get_item (G_LIST_MODEL (self->sorted_scores), position);

  if (score != NULL)
    g_signal_emit (self, signals[SIGNAL_OPEN_CLASS], 0, visage_class_score_get_class (score),
                   FALSE);
}

static void
build_table (VisageEvaluationView *self)
{
  GtkNoSelection *selection;

  self->scores = g_list_store_new (VISAGE_TYPE_CLASS_SCORE);
  self->sorted_scores = gtk_sort_list_model_new (G_LIST_MODEL (g_object_ref (self->scores)),
                                                 g_object_ref (
                                                   gtk_column_view_get_sorter (
                                                     self->class_table)));
  selection = gtk_no_selection_new (G_LIST_MODEL (g_object_ref (self->sorted_scores)));
  gtk_column_view_set_model (self->class_table, GTK_SELECTION_MODEL (selection));
  g_object_unref (selection);

  for (guint i = 0; i < G_N_ELEMENTS (columns); i++)
    {
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      GtkExpression *expression =
        gtk_property_expression_new (VISAGE_TYPE_CLASS_SCORE, NULL, columns[i].property);
      GtkSorter *sorter;
      GtkColumnViewColumn *column;

      g_signal_connect (factory, "setup", G_CALLBACK (setup_cell), (gpointer) &columns[i]);
      g_signal_connect (factory, "bind", G_CALLBACK (bind_cell), (gpointer) &columns[i]);
      if (columns[i].numeric)
        sorter = GTK_SORTER (gtk_numeric_sorter_new (expression));
      else
        sorter = GTK_SORTER (gtk_string_sorter_new (expression));
      column = gtk_column_view_column_new (_(columns[i].title), factory);
      gtk_column_view_column_set_sorter (column, sorter);
      /* No column takes the spare width (the class names stay by their numbers): the
       * table is as wide as its contents. */
      gtk_column_view_column_set_expand (column, FALSE);
      gtk_column_view_append_column (self->class_table, column);
      self->table_columns[i] = column;
      g_object_unref (sorter);
      g_object_unref (column);
    }
}

/* ---- API -------------------------------------------------------------------------------- */

void
visage_evaluation_view_set_evaluation (VisageEvaluationView *self,
                                       const VgEvaluation *evaluation, GListModel *samples)
{
  const VgConfusion *cm;
  g_autofree char *summary = NULL;
  g_autofree char *details = NULL;
  g_autofree char *images = NULL;
  g_autofree char *cached = NULL;
  g_autofree char *miou = NULL, *mean_f1 = NULL, *accuracy = NULL;
  g_autofree char *n_images = NULL, *n_cached = NULL;
  GPtrArray *rows;

  g_return_if_fail (VISAGE_IS_EVALUATION_VIEW (self));

  g_list_store_remove_all (self->scores);
  g_clear_object (&self->samples);
  if (evaluation != NULL && samples != NULL)
    self->samples = g_object_ref (samples);
  visage_confusion_matrix_set_confusion (self->matrix, NULL);
  cell_selected (self, -1, -1);
  visage_compare_view_set_comparison (self->compare_view, NULL, NULL);
  if (evaluation == NULL)
    {
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }

  cm = &evaluation->metrics.confusion;
  miou = visage_format_percent (vg_confusion_miou (cm), 2);
  mean_f1 = visage_format_percent (vg_confusion_mean_f1 (cm), 2);
  accuracy = visage_format_percent (vg_confusion_accuracy (cm), 2);
  n_images = visage_format_count ((guint64) MAX (evaluation->metrics.n_images, 0));
  n_cached = visage_format_count ((guint64) MAX (evaluation->n_cached, 0));
  /* TRANSLATORS: the split's dataset-level mean IoU; %s is a percentage */
  summary = g_strdup_printf (_("mIoU %s"), miou);
  /* TRANSLATORS: %s is a number of images */
  images = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s image", "%s images",
                                         evaluation->metrics.n_images), n_images);
  /* TRANSLATORS: %s is a number of predictions */
  cached = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s prediction from the cache",
                                         "%s predictions from the cache", evaluation->n_cached),
                            n_cached);
  /* TRANSLATORS: the evaluation's other numbers: mean F1 and pixel accuracy (percentages),
   * "N images", seconds, "N predictions from the cache" */
  details = g_strdup_printf (_("Mean F1 %s · pixel accuracy %s · %s · %.1f s (%s)"), mean_f1,
                             accuracy, images, evaluation->metrics.seconds, cached);
  gtk_label_set_label (self->summary_label, summary);
  gtk_label_set_label (self->details_label, details);
  visage_confusion_matrix_set_confusion (self->matrix, cm);

  rows = g_ptr_array_new_with_free_func (g_object_unref);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    g_ptr_array_add (rows, visage_class_score_new (&evaluation->metrics, c));
  g_list_store_splice (self->scores, 0, 0, rows->pdata, rows->len);
  g_ptr_array_unref (rows);
  gtk_stack_set_visible_child_name (self->stack, "results");
}

void
visage_evaluation_view_set_comparison (VisageEvaluationView *self,
                                       VgServiceComparison *comparison, GListModel *samples)
{
  g_return_if_fail (VISAGE_IS_EVALUATION_VIEW (self));

  visage_compare_view_set_comparison (self->compare_view, comparison, samples);
  if (comparison != NULL)
    gtk_stack_set_visible_child_name (self->stack, "compare");
  else
    /* back to the loaded model's evaluation, if there is one */
    gtk_stack_set_visible_child_name (self->stack,
                                      g_list_model_get_n_items (G_LIST_MODEL (self->scores)) > 0
                                      ? "results" : "empty");
}

VisageCompareView *
visage_evaluation_view_get_compare_view (VisageEvaluationView *self)
{
  g_return_val_if_fail (VISAGE_IS_EVALUATION_VIEW (self), NULL);

  return self->compare_view;
}

/* ---- GObject ---------------------------------------------------------------------------- */

static void
visage_evaluation_view_dispose (GObject *object)
{
  VisageEvaluationView *self = VISAGE_EVALUATION_VIEW (object);

  gtk_widget_dispose_template (GTK_WIDGET (object), VISAGE_TYPE_EVALUATION_VIEW);
  g_clear_object (&self->samples);
  g_clear_object (&self->cell_samples);
  g_clear_object (&self->scores);
  g_clear_object (&self->sorted_scores);
  G_OBJECT_CLASS (visage_evaluation_view_parent_class)->dispose (object);
}

static void
open_class_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  int cls = g_variant_get_int32 (parameter);

  if (cls < 0 || cls >= VG_NUM_CLASSES)
    {
      g_warning ("no class %d", cls);
      return;
    }
  g_signal_emit (widget, signals[SIGNAL_OPEN_CLASS], 0, cls,
                 g_str_equal (action_name, "evaluation.open-missed"));
}

static void
visage_evaluation_view_class_init (VisageEvaluationViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = visage_evaluation_view_dispose;

  /* ::open-sample (VisageSample): the user asked to see this image. */
  signals[SIGNAL_OPEN_SAMPLE] =
    g_signal_new ("open-sample", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, VISAGE_TYPE_SAMPLE);
  /* ::open-class (int cls, gboolean missed): the user asked to see the images with class
   * cls (its table row or image count), or (missed) those where it is missed entirely. */
  signals[SIGNAL_OPEN_CLASS] =
    g_signal_new ("open-class", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_BOOLEAN);
  gtk_widget_class_install_action (widget_class, "evaluation.open-class", "i",
                                   open_class_action);
  gtk_widget_class_install_action (widget_class, "evaluation.open-missed", "i",
                                   open_class_action);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  g_type_ensure (VISAGE_TYPE_CONFUSION_MATRIX);
  g_type_ensure (VISAGE_TYPE_COMPARE_VIEW);
  visage_resources_ensure ();
  gtk_widget_class_set_template_from_resource (
    widget_class, "/io/github/visage/Visage/visage-evaluation-view.ui");
  gtk_widget_class_bind_template_child (widget_class, VisageEvaluationView, stack);
  gtk_widget_class_bind_template_child (widget_class, VisageEvaluationView, summary_label);
  gtk_widget_class_bind_template_child (widget_class, VisageEvaluationView, details_label);
  gtk_widget_class_bind_template_child (widget_class, VisageEvaluationView, matrix);
  gtk_widget_class_bind_template_child (widget_class, VisageEvaluationView, cell_label);
  gtk_widget_class_bind_template_child (widget_class, VisageEvaluationView, cell_list);
  gtk_widget_class_bind_template_child (widget_class, VisageEvaluationView, class_table);
  gtk_widget_class_bind_template_child (widget_class, VisageEvaluationView, compare_view);
}

static void
visage_evaluation_view_init (VisageEvaluationView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->cell_truth = self->cell_predicted = -1;
  self->cell_samples = g_list_store_new (VISAGE_TYPE_SAMPLE);
  gtk_list_box_bind_model (self->cell_list, G_LIST_MODEL (self->cell_samples),
                           create_cell_row, self, NULL);
  gtk_list_box_set_activate_on_single_click (self->cell_list, TRUE);
  g_signal_connect_swapped (self->cell_list, "row-activated", G_CALLBACK (cell_row_activated),
                            self);
  g_signal_connect_swapped (self->matrix, "cell-selected", G_CALLBACK (cell_selected), self);
  g_signal_connect_swapped (self->class_table, "activate", G_CALLBACK (table_row_activated),
                            self);
  build_table (self);
}
