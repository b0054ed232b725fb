/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-evaluation-view"

#include "config.h"

#include <glib/gi18n.h>

#include "vg-classes.h"
#include "visage-class-score.h"
#include "visage-classes.h"
#include "visage-evaluation-view.h"
#include "visage-resources.h"

/* The table's columns: the score property each shows and sorts by. */
typedef struct {
  const char *property;
  const char *title;  /* translated when the table is built */
  gboolean numeric;
} Column;

static const Column columns[] = {
  { "name", N_("Class"), FALSE },
  { "iou", N_("IoU"), TRUE },
  { "f1", N_("F1"), TRUE },
  { "truth-pixels", N_("Ground-Truth Pixels"), TRUE },
  { "images", N_("Images with the Class"), TRUE },
  { "missed", N_("Images Where It Is Missed Entirely"), TRUE },
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
  guint n;

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
  if (ranked->len > VISAGE_CELL_LIST_MAX)
    g_ptr_array_set_size (ranked, VISAGE_CELL_LIST_MAX);
  g_list_store_splice (self->cell_samples, 0, 0, ranked->pdata, ranked->len);

  if (truth == predicted)
    /* TRANSLATORS: heading of the image list of a diagonal confusion cell */
    title = g_strdup_printf (_("%s predicted right: %u images with the most such pixels"),
                             visage_class_display_name (truth), ranked->len);
  else
    /* TRANSLATORS: heading of the image list of a confusion cell: truth, prediction */
    title = g_strdup_printf (_("%s predicted as %s: %u images with the most such pixels"),
                             visage_class_display_name (truth),
                             visage_class_display_name (predicted), ranked->len);
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
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *name = gtk_label_new (visage_sample_get_name (sample));
  g_autofree char *number = g_strdup_printf ("%'" G_GUINT64_FORMAT, pixels);
  g_autofree char *count_text = NULL;
  GtkWidget *count;

  /* TRANSLATORS: pixels of the chosen confusion in one image; %s is the count */
  count_text = g_strdup_printf (_("%s pixels"), number);
  count = gtk_label_new (count_text);
  gtk_widget_set_hexpand (name, TRUE);
  gtk_label_set_xalign (GTK_LABEL (name), 0.f);
  gtk_widget_add_css_class (count, "numeric");
  gtk_widget_add_css_class (count, "dim-label");
  gtk_widget_set_margin_top (row, 6);
  gtk_widget_set_margin_bottom (row, 6);
  gtk_widget_set_margin_start (row, 12);
  gtk_widget_set_margin_end (row, 12);
  gtk_box_append (GTK_BOX (row), name);
  gtk_box_append (GTK_BOX (row), count);
  return row;
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
  gtk_list_item_set_child (item, label);
}

static char *
format_score (double value)
{
  /* A class that occurs nowhere has no score. */
  return value < 0 ? g_strdup ("—") : g_strdup_printf ("%.2f%%", 100.0 * value);
}

static void
bind_cell (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
  const Column *column = user_data;
  VisageClassScore *score = gtk_list_item_get_item (item);
  GtkLabel *label = GTK_LABEL (gtk_list_item_get_child (item));
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
    text = g_strdup_printf ("%'" G_GUINT64_FORMAT, g_value_get_uint64 (&value));
  else
    text = g_strdup_printf ("%d", g_value_get_int (&value));
  gtk_label_set_label (label, text);
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
      gtk_column_view_column_set_expand (column, i == 0);
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
  GPtrArray *rows;

  g_return_if_fail (VISAGE_IS_EVALUATION_VIEW (self));

  g_list_store_remove_all (self->scores);
  g_clear_object (&self->samples);
  if (evaluation != NULL && samples != NULL)
    self->samples = g_object_ref (samples);
  visage_confusion_matrix_set_confusion (self->matrix, NULL);
  cell_selected (self, -1, -1);
  if (evaluation == NULL)
    {
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }

  cm = &evaluation->metrics.confusion;
  /* TRANSLATORS: the split's dataset-level mean IoU, as a percentage */
  summary = g_strdup_printf (_("mIoU %.2f%%"), 100.0 * vg_confusion_miou (cm));
  images = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d image", "%d images",
                                         evaluation->metrics.n_images),
                            evaluation->metrics.n_images);
  cached = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d prediction from the cache",
                                         "%d predictions from the cache", evaluation->n_cached),
                            evaluation->n_cached);
  /* TRANSLATORS: the evaluation's other numbers; the first %s is "N images", the second
   * "N predictions from the cache" */
  details = g_strdup_printf (_("Mean F1 %.2f%% · pixel accuracy %.2f%% · %s · %.1f s (%s)"),
                             100.0 * vg_confusion_mean_f1 (cm),
                             100.0 * vg_confusion_accuracy (cm), images,
                             evaluation->metrics.seconds, cached);
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
visage_evaluation_view_class_init (VisageEvaluationViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = visage_evaluation_view_dispose;

  /* ::open-sample (VisageSample): the user asked to see this image. */
  signals[SIGNAL_OPEN_SAMPLE] =
    g_signal_new ("open-sample", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, VISAGE_TYPE_SAMPLE);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  g_type_ensure (VISAGE_TYPE_CONFUSION_MATRIX);
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
  build_table (self);
}
