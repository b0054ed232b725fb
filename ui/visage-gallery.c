/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-gallery"

#include "config.h"

#include <glib/gi18n.h>

#include "vg-classes.h"
#include "visage-classes.h"
#include "visage-gallery.h"
#include "visage-resources.h"

/* Position of each order in the sort drop-down. */
static const char *const sort_orders[] = { "name", "miou", "confusion" };

struct _VisageGallery
{
  AdwBin parent_instance;

  /* Template widgets */
  GtkDropDown *sort_dropdown;
  GtkDropDown *class_dropdown;
  GtkGridView *grid_view;

  GtkFilterListModel *filtered;
  GtkSortListModel *sorted;
  GtkSingleSelection *selection;
  GtkCustomFilter *filter;
  GtkCustomSorter *sorter;

  const char *sort_by;        /* one of sort_orders */
  int filter_class;           /* -1: all */
  int confusion_truth;        /* the cell of the "confusion" order */
  int confusion_predicted;
};

G_DEFINE_FINAL_TYPE (VisageGallery, visage_gallery, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_SORT_BY,
  PROP_FILTER_CLASS,
  PROP_SELECTED_SAMPLE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Evaluated samples before the others; among equals, the split's order. */
static int
compare_samples (gconstpointer a, gconstpointer b, gpointer user_data)
{
  VisageGallery *self = user_data;
  VisageSample *sa = VISAGE_SAMPLE ((gpointer) a), *sb = VISAGE_SAMPLE ((gpointer) b);
  const VgImageResult *ra = visage_sample_get_result (sa);
  const VgImageResult *rb = visage_sample_get_result (sb);
  int ia = visage_sample_get_index (sa), ib = visage_sample_get_index (sb);

  if (g_str_equal (self->sort_by, "name") || (ra == NULL && rb == NULL))
    return (ia > ib) - (ia < ib);
  if (ra == NULL || rb == NULL)
    return ra == NULL ? 1 : -1;
  if (g_str_equal (self->sort_by, "miou"))
    {
      if (ra->miou != rb->miou)
        return ra->miou < rb->miou ? -1 : 1;
    }
  else
    {
      guint64 pa = ra->confusion.counts[self->confusion_truth][self->confusion_predicted];
      guint64 pb = rb->confusion.counts[self->confusion_truth][self->confusion_predicted];

      if (pa != pb)
        return pa > pb ? -1 : 1;
    }
  return (ia > ib) - (ia < ib);
}

static gboolean
filter_sample (gpointer item, gpointer user_data)
{
  VisageGallery *self = user_data;

  if (self->filter_class < 0)
    return TRUE;
  return (visage_sample_get_truth_classes (VISAGE_SAMPLE (item))
          & (1u << self->filter_class)) != 0;
}

static void
selection_changed (VisageGallery *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SELECTED_SAMPLE]);
}

static void
sort_dropdown_changed (VisageGallery *self)
{
  guint selected = gtk_drop_down_get_selected (self->sort_dropdown);

  if (selected < G_N_ELEMENTS (sort_orders))
    visage_gallery_set_sort_by (self, sort_orders[selected]);
}

static void
class_dropdown_changed (VisageGallery *self)
{
  guint selected = gtk_drop_down_get_selected (self->class_dropdown);

  if (selected != GTK_INVALID_LIST_POSITION)
    visage_gallery_set_filter_class (self, (int) selected - 1);
}

GtkWidget *
visage_gallery_new (void)
{
  return g_object_new (VISAGE_TYPE_GALLERY, NULL);
}

void
visage_gallery_set_samples (VisageGallery *self, GListModel *samples)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));
  g_return_if_fail (samples == NULL || G_IS_LIST_MODEL (samples));

  gtk_filter_list_model_set_model (self->filtered, samples);
}

GListModel *
visage_gallery_get_shown (VisageGallery *self)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), NULL);

  return G_LIST_MODEL (self->selection);
}

VisageSample *
visage_gallery_get_selected_sample (VisageGallery *self)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), NULL);

  return gtk_single_selection_get_selected_item (self->selection);
}

void
visage_gallery_select_position (VisageGallery *self, guint position)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));

  gtk_single_selection_set_selected (self->selection, position);
}

void
visage_gallery_select_sample (VisageGallery *self, VisageSample *sample)
{
  GListModel *shown;
  guint n;

  g_return_if_fail (VISAGE_IS_GALLERY (self));
  g_return_if_fail (VISAGE_IS_SAMPLE (sample));

  /* A sample the filter hides is shown by showing all. */
  for (int attempt = 0; attempt < 2; attempt++)
    {
      shown = G_LIST_MODEL (self->selection);
      n = g_list_model_get_n_items (shown);
      for (guint i = 0; i < n; i++)
        {
          g_autoptr (VisageSample) item = g_list_model_get_item (shown, i);

          if (item == sample)
            {
              gtk_single_selection_set_selected (self->selection, i);
              return;
            }
        }
      visage_gallery_set_filter_class (self, -1);
    }
}

void
visage_gallery_set_sort_by (VisageGallery *self, const char *sort_by)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));

  for (guint i = 0; i < G_N_ELEMENTS (sort_orders); i++)
    if (g_strcmp0 (sort_by, sort_orders[i]) == 0)
      {
        if (self->sort_by == sort_orders[i])
          return;
        self->sort_by = sort_orders[i];
        gtk_drop_down_set_selected (self->sort_dropdown, i);
        gtk_sorter_changed (GTK_SORTER (self->sorter), GTK_SORTER_CHANGE_DIFFERENT);
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SORT_BY]);
        return;
      }
  g_warning ("unknown sort order %s", sort_by);
}

const char *
visage_gallery_get_sort_by (VisageGallery *self)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), NULL);

  return self->sort_by;
}

void
visage_gallery_sort_by_confusion (VisageGallery *self, int truth, int predicted)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));
  g_return_if_fail (truth >= 0 && truth < VG_NUM_CLASSES);
  g_return_if_fail (predicted >= 0 && predicted < VG_NUM_CLASSES);

  self->confusion_truth = truth;
  self->confusion_predicted = predicted;
  if (g_str_equal (self->sort_by, "confusion"))
    gtk_sorter_changed (GTK_SORTER (self->sorter), GTK_SORTER_CHANGE_DIFFERENT);
  else
    visage_gallery_set_sort_by (self, "confusion");
}

void
visage_gallery_set_filter_class (VisageGallery *self, int cls)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));
  g_return_if_fail (cls >= -1 && cls < VG_NUM_CLASSES);

  if (self->filter_class == cls)
    return;
  self->filter_class = cls;
  gtk_drop_down_set_selected (self->class_dropdown, cls + 1);
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FILTER_CLASS]);
}

int
visage_gallery_get_filter_class (VisageGallery *self)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), -1);

  return self->filter_class;
}

void
visage_gallery_results_changed (VisageGallery *self)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));

  if (!g_str_equal (self->sort_by, "name"))
    gtk_sorter_changed (GTK_SORTER (self->sorter), GTK_SORTER_CHANGE_DIFFERENT);
  if (self->filter_class >= 0)
    gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
}

static void
visage_gallery_dispose (GObject *object)
{
  VisageGallery *self = VISAGE_GALLERY (object);

  gtk_widget_dispose_template (GTK_WIDGET (object), VISAGE_TYPE_GALLERY);
  g_clear_object (&self->selection);
  G_OBJECT_CLASS (visage_gallery_parent_class)->dispose (object);
}

static void
visage_gallery_get_property (GObject *object, guint prop_id, GValue *value,
                             GParamSpec *pspec)
{
  VisageGallery *self = VISAGE_GALLERY (object);

  switch (prop_id)
    {
    case PROP_SORT_BY:
      g_value_set_string (value, self->sort_by);
      break;
    case PROP_FILTER_CLASS:
      g_value_set_int (value, self->filter_class);
      break;
    case PROP_SELECTED_SAMPLE:
      g_value_set_object (value, visage_gallery_get_selected_sample (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_gallery_set_property (GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
  VisageGallery *self = VISAGE_GALLERY (object);

  switch (prop_id)
    {
    case PROP_SORT_BY:
      visage_gallery_set_sort_by (self, g_value_get_string (value));
      break;
    case PROP_FILTER_CLASS:
      visage_gallery_set_filter_class (self, g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_gallery_class_init (VisageGalleryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = visage_gallery_dispose;
  object_class->get_property = visage_gallery_get_property;
  object_class->set_property = visage_gallery_set_property;

  properties[PROP_SORT_BY] =
    g_param_spec_string ("sort-by", NULL, NULL, "name",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_FILTER_CLASS] =
    g_param_spec_int ("filter-class", NULL, NULL, -1, VG_NUM_CLASSES - 1, -1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SELECTED_SAMPLE] =
    g_param_spec_object ("selected-sample", NULL, NULL, VISAGE_TYPE_SAMPLE,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The sample type must exist before the item template's expressions are parsed. */
  g_type_ensure (VISAGE_TYPE_SAMPLE);
  visage_resources_ensure ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/visage/Visage/visage-gallery.ui");
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, sort_dropdown);
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, class_dropdown);
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, grid_view);

  gtk_widget_class_install_property_action (widget_class, "gallery.sort-by", "sort-by");
  gtk_widget_class_install_property_action (widget_class, "gallery.filter-class",
                                            "filter-class");
}

static void
visage_gallery_init (VisageGallery *self)
{
  g_autoptr (GtkStringList) classes = gtk_string_list_new (NULL);

  self->sort_by = sort_orders[0];
  self->filter_class = -1;

  gtk_widget_init_template (GTK_WIDGET (self));

  gtk_string_list_append (classes, _("All Classes"));
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    gtk_string_list_append (classes, visage_class_display_name (c));
  gtk_drop_down_set_model (self->class_dropdown, G_LIST_MODEL (classes));
  gtk_drop_down_set_selected (self->class_dropdown, 0);

  self->filter = gtk_custom_filter_new (filter_sample, self, NULL);
  self->sorter = gtk_custom_sorter_new (compare_samples, self, NULL);
  self->filtered = gtk_filter_list_model_new (NULL, GTK_FILTER (self->filter));
  self->sorted = gtk_sort_list_model_new (G_LIST_MODEL (self->filtered),
                                          GTK_SORTER (self->sorter));
  self->selection = gtk_single_selection_new (G_LIST_MODEL (self->sorted));
  gtk_grid_view_set_model (self->grid_view, GTK_SELECTION_MODEL (self->selection));

  g_signal_connect_swapped (self->selection, "notify::selected-item",
                            G_CALLBACK (selection_changed), self);
  g_signal_connect_swapped (self->sort_dropdown, "notify::selected",
                            G_CALLBACK (sort_dropdown_changed), self);
  g_signal_connect_swapped (self->class_dropdown, "notify::selected",
                            G_CALLBACK (class_dropdown_changed), self);
}
