/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-compare-view"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "vg-classes.h"
#include "vg-predict.h"
#include "visage-classes.h"
#include "visage-compare-view.h"
#include "visage-evaluation-view.h"
#include "visage-format.h"
#include "visage-resources.h"

/* The detail page's panes, left to right. */
enum { PANE_TRUTH, PANE_A, PANE_B, N_PANES };

/* The overlays' opacity: the photo shows through, as in the image view's default. */
#define PANE_ALPHA 0.55f
#define PANE_MIN_SIZE 160

struct _VisageCompareView
{
  GtkWidget parent_instance;

  /* Template widgets */
  GtkStack *stack;
  GtkLabel *summary_label;
  GtkLabel *models_label;
  GtkGrid *class_grid;
  VisageConfusionMatrix *matrix;
  GtkLabel *images_label;
  GtkToggleButton *b_first_button;
  GtkToggleButton *a_first_button;
  GtkListBox *image_list;
  GtkButton *back_button;
  GtkLabel *detail_title;
  GtkBox *panes_box;

  GtkLabel *pane_titles[N_PANES];
  GtkPicture *pane_pictures[N_PANES];
  GtkLabel *pane_scores[N_PANES];

  VgServiceComparison *comparison;  /* owned, or NULL */
  GListModel *samples;              /* of VisageSample, the split's order */
  GListStore *images;               /* listed, in the order shown */
  gboolean b_first;
};

G_DEFINE_FINAL_TYPE (VisageCompareView, visage_compare_view, GTK_TYPE_WIDGET)

enum {
  SIGNAL_OPEN_SAMPLE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

GtkWidget *
visage_compare_view_new (void)
{
  return g_object_new (VISAGE_TYPE_COMPARE_VIEW, NULL);
}

/* ---- numbers ---------------------------------------------------------------------------- */

/* A difference of two fractions in points, signed ("+1.25", "−0.40", "0.00"), or "—" for
 * none; and the CSS class that colours it (NULL: none). */
static char *
format_delta (double delta, const char **css_class)
{
  g_autofree char *size = NULL;

  *css_class = NULL;
  if (isnan (delta))
    return g_strdup ("—");
  if (fabs (delta) < 0.00005)
    return g_strdup ("0.00");
  *css_class = delta > 0 ? "success" : "error";
  size = g_strdup_printf ("%.2f", 100.0 * fabs (delta));
  return g_strconcat (delta > 0 ? "+" : "−", size, NULL);
}

static char *
format_score (double value)
{
  return value < 0 ? g_strdup ("—") : visage_format_percent (value, 2);
}

static GtkWidget *
numeric_label (const char *text, const char *css_class)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 1.f);
  gtk_widget_add_css_class (label, "numeric");
  if (css_class != NULL)
    gtk_widget_add_css_class (label, css_class);
  return label;
}

/* One row of the class table: name, A, B and the coloured difference. */
static void
grid_row (GtkGrid *grid, int row, const char *name, double a, double b, double delta)
{
  g_autofree char *as = format_score (a), *bs = format_score (b);
  const char *css_class;
  g_autofree char *ds = format_delta (delta, &css_class);
  GtkWidget *label = gtk_label_new (name);

  gtk_label_set_xalign (GTK_LABEL (label), 0.f);
  gtk_grid_attach (grid, label, 0, row, 1, 1);
  gtk_grid_attach (grid, numeric_label (as, NULL), 1, row, 1, 1);
  gtk_grid_attach (grid, numeric_label (bs, NULL), 2, row, 1, 1);
  gtk_grid_attach (grid, numeric_label (ds, css_class), 3, row, 1, 1);
}

static void
fill_class_grid (VisageCompareView *self)
{
  const VgComparison *c = &self->comparison->comparison;
  /* TRANSLATORS: column titles of the comparison's per-class table: class, IoU of model A,
   * IoU of model B, and their difference */
  const char *titles[] = { N_("Class"), N_("IoU A"), N_("IoU B"), N_("B − A") };
  GtkWidget *child;
  int row = 0;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->class_grid))) != NULL)
    gtk_grid_remove (self->class_grid, child);
  for (int i = 0; i < 4; i++)
    {
      GtkWidget *title = gtk_label_new (_(titles[i]));

      gtk_label_set_xalign (GTK_LABEL (title), i == 0 ? 0.f : 1.f);
      gtk_widget_add_css_class (title, "heading");
      gtk_widget_set_tooltip_text (title, i == 1 ? self->comparison->model_a
                                          : i == 2 ? self->comparison->model_b : NULL);
      gtk_grid_attach (self->class_grid, title, i, row, 1, 1);
    }
  for (int k = 0; k < VG_NUM_CLASSES; k++)
    grid_row (self->class_grid, ++row, visage_class_display_name (k), c->iou_a[k], c->iou_b[k],
              c->iou_delta[k]);
  row++;
  grid_row (self->class_grid, ++row, _("mIoU"), c->miou_a, c->miou_b, c->miou_delta);
  grid_row (self->class_grid, ++row, _("Pixel accuracy"), c->accuracy_a, c->accuracy_b,
            c->accuracy_delta);
}

/* ---- the image list --------------------------------------------------------------------- */

static GtkWidget *
create_image_row (gpointer item, gpointer user_data)
{
  VisageCompareView *self = user_data;
  VisageSample *sample = item;
  int i = visage_sample_get_index (sample);
  double a = self->comparison->a->images[i].miou, b = self->comparison->b->images[i].miou;
  g_autofree char *as = visage_format_percent (a, 1), *bs = visage_format_percent (b, 1);
  g_autofree char *scores = NULL, *delta = NULL;
  const char *css_class;
  GtkWidget *score_label;

  delta = format_delta (self->comparison->comparison.image_delta[i], &css_class);
  /* TRANSLATORS: one image's mIoU by model A and by model B (percentages) */
  scores = g_strdup_printf (_("A %s · B %s"), as, bs);
  score_label = gtk_label_new (scores);
  gtk_widget_add_css_class (score_label, "dim-label");
  return visage_sample_row_new (sample, VISAGE_CELL_THUMBNAIL_SIZE, FALSE, score_label,
                                numeric_label (delta, css_class), NULL);
}

static void
fill_images (VisageCompareView *self)
{
  const VgComparison *c;
  g_autoptr (GPtrArray) listed = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *title = NULL;
  int n;

  g_list_store_remove_all (self->images);
  if (self->comparison == NULL || self->samples == NULL)
    return;
  c = &self->comparison->comparison;
  n = MIN (c->n_images, (int) g_list_model_get_n_items (self->samples));
  for (int k = 0; k < n && (int) listed->len < VISAGE_COMPARE_LIST_MAX; k++)
    {
      int i = c->order[self->b_first ? k : c->n_images - 1 - k];

      g_ptr_array_add (listed, g_list_model_get_item (self->samples, (guint) i));
    }
  g_list_store_splice (self->images, 0, 0, listed->pdata, listed->len);
  title = self->b_first
    /* TRANSLATORS: heading of the comparison's image list; %u: images listed, %d: all */
    ? g_strdup_printf (_("Images Where B Does Best: %u of %d"), listed->len, c->n_images)
    /* TRANSLATORS: heading of the comparison's image list; %u: images listed, %d: all */
    : g_strdup_printf (_("Images Where A Does Best: %u of %d"), listed->len, c->n_images);
  gtk_label_set_label (self->images_label, title);
}

static void
image_row_activated (VisageCompareView *self, GtkListBoxRow *row)
{
  visage_compare_view_activate_image (self, (guint) gtk_list_box_row_get_index (row));
}

static void
order_toggled (VisageCompareView *self)
{
  gboolean b_first = gtk_toggle_button_get_active (self->b_first_button);

  if (b_first != self->b_first)
    {
      self->b_first = b_first;
      fill_images (self);
    }
}

/* ---- the detail page -------------------------------------------------------------------- */

static void
add_pane (VisageCompareView *self, int pane)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *title = gtk_label_new (NULL);
  GtkWidget *picture = gtk_picture_new ();
  GtkWidget *score = gtk_label_new (NULL);

  gtk_label_set_ellipsize (GTK_LABEL (title), PANGO_ELLIPSIZE_MIDDLE);
  gtk_widget_add_css_class (title, "heading");
  gtk_picture_set_can_shrink (GTK_PICTURE (picture), TRUE);
  gtk_widget_set_vexpand (picture, TRUE);
  gtk_widget_set_size_request (picture, PANE_MIN_SIZE, PANE_MIN_SIZE);
  gtk_widget_add_css_class (score, "numeric");
  gtk_box_append (GTK_BOX (box), title);
  gtk_box_append (GTK_BOX (box), score);
  gtk_box_append (GTK_BOX (box), picture);
  gtk_box_append (self->panes_box, box);
  self->pane_titles[pane] = GTK_LABEL (title);
  self->pane_pictures[pane] = GTK_PICTURE (picture);
  self->pane_scores[pane] = GTK_LABEL (score);
}

/* The photo with a class map over it. */
static GdkTexture *
overlay_texture (const VgPrediction *prediction, const guint8 *labels)
{
  gsize stride = (gsize) prediction->width * 3, size = stride * prediction->height;
  guint8 *rgb = g_malloc (size);
  g_autoptr (GBytes) bytes = NULL;

  vg_overlay_render (rgb, prediction->rgb, labels, prediction->height, prediction->width,
                     PANE_ALPHA);
  bytes = g_bytes_new_take (rgb, size);
  return gdk_memory_texture_new (prediction->width, prediction->height, GDK_MEMORY_R8G8B8,
                                 bytes, stride);
}

static void
set_pane (VisageCompareView *self, int pane, const char *title, const VgPrediction *prediction,
          const guint8 *labels, const char *score)
{
  g_autoptr (GdkTexture) texture = labels != NULL ? overlay_texture (prediction, labels) : NULL;

  gtk_label_set_label (self->pane_titles[pane], title);
  gtk_picture_set_paintable (self->pane_pictures[pane], GDK_PAINTABLE (texture));
  gtk_label_set_label (self->pane_scores[pane], score);
}

void
visage_compare_view_show_prediction (VisageCompareView *self, VisageSample *sample,
                                     const VgPrediction *prediction)
{
  g_autofree char *name_a = NULL, *name_b = NULL, *title_a = NULL, *title_b = NULL;
  g_autofree char *score_a = NULL, *score_b = NULL, *miou_a = NULL, *miou_b = NULL;
  g_autofree char *delta = NULL;
  const char *css_class;
  int i;

  g_return_if_fail (VISAGE_IS_COMPARE_VIEW (self));
  g_return_if_fail (prediction != NULL);

  if (self->comparison == NULL)
    return;
  i = visage_sample_get_index (sample);
  name_a = g_path_get_basename (self->comparison->model_a);
  name_b = g_path_get_basename (self->comparison->model_b);
  /* TRANSLATORS: title of a pane: model A's prediction, %s the model file's name */
  title_a = g_strdup_printf (_("A: %s"), name_a);
  /* TRANSLATORS: title of a pane: model B's prediction, %s the model file's name */
  title_b = g_strdup_printf (_("B: %s"), name_b);
  miou_a = visage_format_percent (self->comparison->a->images[i].miou, 2);
  miou_b = visage_format_percent (self->comparison->b->images[i].miou, 2);
  delta = format_delta (self->comparison->comparison.image_delta[i], &css_class);
  /* TRANSLATORS: under a prediction's pane: the image's mIoU (a percentage) */
  score_a = g_strdup_printf (_("mIoU %s"), miou_a);
  /* TRANSLATORS: under model B's pane: the image's mIoU and B − A in points */
  score_b = g_strdup_printf (_("mIoU %s (%s points)"), miou_b, delta);
  set_pane (self, PANE_TRUTH, _("Ground Truth"), prediction, prediction->truth, NULL);
  set_pane (self, PANE_A, title_a, prediction, prediction->labels, score_a);
  set_pane (self, PANE_B, title_b, prediction, prediction->other_labels, score_b);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->pane_titles[PANE_A]),
                               self->comparison->model_a);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->pane_titles[PANE_B]),
                               self->comparison->model_b);
  gtk_label_set_label (self->detail_title, visage_sample_get_name (sample));
  gtk_stack_set_visible_child_name (self->stack, "detail");
}

void
visage_compare_view_show_overview (VisageCompareView *self)
{
  g_return_if_fail (VISAGE_IS_COMPARE_VIEW (self));

  gtk_stack_set_visible_child_name (self->stack, "overview");
  for (int pane = 0; pane < N_PANES; pane++)
    gtk_picture_set_paintable (self->pane_pictures[pane], NULL);
}

const char *
visage_compare_view_get_page (VisageCompareView *self)
{
  g_return_val_if_fail (VISAGE_IS_COMPARE_VIEW (self), NULL);

  return gtk_stack_get_visible_child_name (self->stack);
}

/* ---- API -------------------------------------------------------------------------------- */

void
visage_compare_view_set_comparison (VisageCompareView *self, VgServiceComparison *comparison,
                                    GListModel *samples)
{
  g_autofree char *miou_a = NULL, *miou_b = NULL, *summary = NULL, *models = NULL;
  const char *css_class;
  g_autofree char *delta = NULL;

  g_return_if_fail (VISAGE_IS_COMPARE_VIEW (self));

  visage_compare_view_show_overview (self);
  g_list_store_remove_all (self->images);
  g_clear_pointer (&self->comparison, vg_service_comparison_free);
  g_clear_object (&self->samples);
  if (comparison == NULL)
    return;
  self->comparison = comparison;
  self->samples = samples != NULL ? g_object_ref (samples) : NULL;

  miou_a = visage_format_percent (comparison->comparison.miou_a, 2);
  miou_b = visage_format_percent (comparison->comparison.miou_b, 2);
  delta = format_delta (comparison->comparison.miou_delta, &css_class);
  /* TRANSLATORS: the comparison's headline: mIoU of model A, of model B, and B − A in
   * points */
  summary = g_strdup_printf (_("mIoU %s → %s (%s points)"), miou_a, miou_b, delta);
  /* TRANSLATORS: the two models compared (file paths) and the number of images */
  models = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "A: %s\nB: %s\nover %d image",
                                         "A: %s\nB: %s\nover %d images",
                                         comparison->comparison.n_images),
                            comparison->model_a, comparison->model_b,
                            comparison->comparison.n_images);
  gtk_label_set_label (self->summary_label, summary);
  gtk_label_set_label (self->models_label, models);
  fill_class_grid (self);
  visage_confusion_matrix_set_difference (self->matrix, &comparison->a->metrics.confusion,
                                          &comparison->b->metrics.confusion);
  fill_images (self);
}

const VgServiceComparison *
visage_compare_view_get_comparison (VisageCompareView *self)
{
  g_return_val_if_fail (VISAGE_IS_COMPARE_VIEW (self), NULL);

  return self->comparison;
}

void
visage_compare_view_set_b_better_first (VisageCompareView *self, gboolean b_first)
{
  g_return_if_fail (VISAGE_IS_COMPARE_VIEW (self));

  /* The buttons are a group: activating one releases the other, and order_toggled
   * refills the list. */
  gtk_toggle_button_set_active (b_first ? self->b_first_button : self->a_first_button, TRUE);
}

GListModel *
visage_compare_view_get_images (VisageCompareView *self)
{
  g_return_val_if_fail (VISAGE_IS_COMPARE_VIEW (self), NULL);

  return G_LIST_MODEL (self->images);
}

void
visage_compare_view_activate_image (VisageCompareView *self, guint position)
{
  g_autoptr (VisageSample) sample = NULL;

  g_return_if_fail (VISAGE_IS_COMPARE_VIEW (self));

  sample = g_list_model_get_item (G_LIST_MODEL (self->images), position);
  if (sample != NULL)
    g_signal_emit (self, signals[SIGNAL_OPEN_SAMPLE], 0, sample);
}

VisageConfusionMatrix *
visage_compare_view_get_matrix (VisageCompareView *self)
{
  g_return_val_if_fail (VISAGE_IS_COMPARE_VIEW (self), NULL);

  return self->matrix;
}

/* ---- GObject ---------------------------------------------------------------------------- */

static void
visage_compare_view_dispose (GObject *object)
{
  VisageCompareView *self = VISAGE_COMPARE_VIEW (object);

  gtk_widget_dispose_template (GTK_WIDGET (object), VISAGE_TYPE_COMPARE_VIEW);
  g_clear_pointer (&self->comparison, vg_service_comparison_free);
  g_clear_object (&self->samples);
  g_clear_object (&self->images);
  G_OBJECT_CLASS (visage_compare_view_parent_class)->dispose (object);
}

static void
visage_compare_view_class_init (VisageCompareViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = visage_compare_view_dispose;

  /* ::open-sample (VisageSample): the user asked to see both predictions of this image. */
  signals[SIGNAL_OPEN_SAMPLE] =
    g_signal_new ("open-sample", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, VISAGE_TYPE_SAMPLE);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  g_type_ensure (VISAGE_TYPE_CONFUSION_MATRIX);
  visage_resources_ensure ();
  gtk_widget_class_set_template_from_resource (
    widget_class, "/io/github/visage/Visage/visage-compare-view.ui");
  gtk_widget_class_bind_template_child (widget_class, VisageCompareView, stack);
  gtk_widget_class_bind_template_child (widget_class, VisageCompareView, summary_label);
  gtk_widget_class_bind_template_child (widget_class, VisageCompareView, models_label);
  gtk_widget_class_bind_template_child (widget_class, VisageCompareView, class_grid);
  gtk_widget_class_bind_template_child (widget_class, VisageCompareView, matrix);
  gtk_widget_class_bind_template_child (widget_class, VisageCompareView, images_label);
  gtk_widget_class_bind_template_child (widget_class, VisageCompareView, b_first_button);
  gtk_widget_class_bind_template_child (widget_class, VisageCompareView, a_first_button);
  gtk_widget_class_bind_template_child (widget_class, VisageCompareView, image_list);
  gtk_widget_class_bind_template_child (widget_class, VisageCompareView, back_button);
  gtk_widget_class_bind_template_child (widget_class, VisageCompareView, detail_title);
  gtk_widget_class_bind_template_child (widget_class, VisageCompareView, panes_box);
}

static void
visage_compare_view_init (VisageCompareView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->b_first = TRUE;
  self->images = g_list_store_new (VISAGE_TYPE_SAMPLE);
  for (int pane = 0; pane < N_PANES; pane++)
    add_pane (self, pane);
  gtk_list_box_bind_model (self->image_list, G_LIST_MODEL (self->images), create_image_row,
                           self, NULL);
  gtk_list_box_set_activate_on_single_click (self->image_list, TRUE);
  g_signal_connect_swapped (self->image_list, "row-activated",
                            G_CALLBACK (image_row_activated), self);
  g_signal_connect_swapped (self->b_first_button, "toggled", G_CALLBACK (order_toggled), self);
  g_signal_connect_swapped (self->back_button, "clicked",
                            G_CALLBACK (visage_compare_view_show_overview), self);
}
