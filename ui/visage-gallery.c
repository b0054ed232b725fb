/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-gallery"

#include "config.h"

#include <glib/gi18n.h>

#include "vg-classes.h"
#include "visage-classes.h"
#include "visage-format.h"
#include "visage-gallery-private.h"
#include "visage-resources.h"

const char *const _visage_gallery_sort_orders[VISAGE_GALLERY_N_ORDERS] = {
  "name", "miou", "confusion"
};

G_DEFINE_FINAL_TYPE (VisageGallery, visage_gallery, ADW_TYPE_BIN)

GParamSpec *_visage_gallery_properties[N_PROPS];

static void update_labels (VisageGallery *self);

static GListModel *
all_samples (VisageGallery *self)
{
  return gtk_filter_list_model_get_model (self->filtered);
}

/* ---- the labels: counts, the focus bar, the missing scores -------------------------------- */

static char *
images_text (guint n)
{
  g_autofree char *count = visage_format_count (n);

  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s image", "%s images", n), count);
}

static char *
focus_text (VisageGallery *self, guint n)
{
  g_autofree char *images = images_text (n);

  if (self->focus == FOCUS_MISSED)
    /* TRANSLATORS: the gallery's focus bar: a class and "N images" */
    return g_strdup_printf (_("Missed entirely: %s, %s"),
                            visage_class_display_name (self->focus_truth), images);
  /* TRANSLATORS: the gallery's focus bar: ground-truth class, predicted class and
   * "N images" */
  return g_strdup_printf (_("Confusion: truth %s → predicted %s, %s"),
                          visage_class_display_name (self->focus_truth),
                          visage_class_display_name (self->focus_predicted), images);
}

/* The filter button's label: the classes chosen. */
static char *
filter_button_text (VisageGallery *self)
{
  int n = __builtin_popcount (self->filter_classes);

  if (n == 0)
    return g_strdup (_("All Classes"));
  if (n == 1)
    return g_strdup (visage_class_display_name (g_bit_nth_lsf (self->filter_classes, -1)));
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d Class", "%d Classes", n), n);
}

static void
update_labels (VisageGallery *self)
{
  GListModel *all = all_samples (self);
  guint n_all = all != NULL ? g_list_model_get_n_items (all) : 0;
  guint n_shown = g_list_model_get_n_items (G_LIST_MODEL (self->selection));
  guint n_scored = 0;
  g_autofree char *button = filter_button_text (self);
  g_autofree char *count = NULL;
  gboolean needs_scores = !g_str_equal (self->sort_by, "name");

  for (guint i = 0; needs_scores && i < n_shown; i++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (G_LIST_MODEL (self->selection),
                                                               i);
      n_scored += visage_sample_get_result (sample) != NULL;
    }

  if (n_shown == n_all)
    count = images_text (n_all);
  else
    {
      g_autofree char *shown = visage_format_count (n_shown);
      g_autofree char *total = visage_format_count (n_all);

      /* TRANSLATORS: images the gallery's filters show, of the split's */
      count = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s of %s image",
                                            "%s of %s images", n_all), shown, total);
    }
  gtk_label_set_label (self->count_label, count);
  gtk_label_set_label (self->filter_label, button);

  if (self->focus != FOCUS_NONE)
    {
      g_autofree char *text = focus_text (self, n_shown);

      gtk_label_set_label (self->focus_label, text);
    }
  gtk_revealer_set_reveal_child (self->focus_revealer, self->focus != FOCUS_NONE);

  /* A score order with images that have no score yet says so (and offers the evaluation)
   * rather than quietly leaving them in the split's order. */
  if (needs_scores && n_scored < n_shown)
    {
      g_autofree char *text = NULL;

      if (n_scored == 0)
        text = g_strdup (_("No image has scores yet: evaluate the split to sort by them."));
      else
        {
          g_autofree char *scored = visage_format_count (n_scored);
          g_autofree char *shown = visage_format_count (n_shown);

          /* TRANSLATORS: the gallery's note on a score order; the images with scores
           * come first */
          text = g_strdup_printf (_("Only %s of %s images have scores (listed first): "
                                    "evaluate the split to sort them all."), scored, shown);
        }
      gtk_label_set_label (self->scores_label, text);
    }
  gtk_revealer_set_reveal_child (self->scores_revealer, needs_scores && n_scored < n_shown);

  /* An empty gallery has nothing to sort or filter. */
  gtk_widget_set_sensitive (GTK_WIDGET (self->sort_dropdown), n_all > 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->filter_button), n_all > 0);
}

/* The filter popover's check buttons: the filter's classes, each with its number of
 * images. */
static void
update_checks (VisageGallery *self)
{
  GListModel *all = all_samples (self);
  guint n_all = all != NULL ? g_list_model_get_n_items (all) : 0;
  guint counts[VG_NUM_CLASSES] = { 0 };

  for (guint i = 0; i < n_all; i++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (all, i);
      guint32 classes = visage_sample_get_truth_classes (sample);

      for (int c = 0; c < VG_NUM_CLASSES; c++)
        counts[c] += (classes >> c) & 1;
    }
  self->updating_checks = TRUE;
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      g_autofree char *count = visage_format_count (counts[c]);
      /* TRANSLATORS: a class in the gallery's filter, with its number of images */
      g_autofree char *label = g_strdup_printf (_("%s (%s)"), visage_class_display_name (c),
                                                count);

      gtk_check_button_set_label (self->class_checks[c], label);
      gtk_check_button_set_active (self->class_checks[c], (self->filter_classes >> c) & 1);
    }
  gtk_check_button_set_active (self->match_all_check, self->match_all);
  self->updating_checks = FALSE;
}

void
_visage_gallery_filter_changed (VisageGallery *self)
{
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  update_checks (self);
  update_labels (self);
}

void
_visage_gallery_sorter_changed (VisageGallery *self)
{
  gtk_sorter_changed (GTK_SORTER (self->sorter), GTK_SORTER_CHANGE_DIFFERENT);
  update_labels (self);
}

/* ---- signal handlers ---------------------------------------------------------------------- */

static void
selection_changed (VisageGallery *self)
{
  guint position = gtk_single_selection_get_selected (self->selection);

  /* The image shown stays in view: opened from the evaluation, stepped to, or moved by a
   * new order. */
  if (position != GTK_INVALID_LIST_POSITION)
    gtk_widget_activate_action (GTK_WIDGET (self->grid_view), "list.scroll-to-item", "u",
                                position);
  g_object_notify_by_pspec (G_OBJECT (self), _visage_gallery_properties[PROP_SELECTED_SAMPLE]);
}

static void
sort_dropdown_changed (VisageGallery *self)
{
  guint selected = gtk_drop_down_get_selected (self->sort_dropdown);

  if (selected < VISAGE_GALLERY_N_ORDERS)
    visage_gallery_set_sort_by (self, _visage_gallery_sort_orders[selected]);
  else if (selected < VISAGE_GALLERY_N_ORDERS + VG_NUM_CLASSES)
    visage_gallery_sort_by_class_iou (self, (int) (selected - VISAGE_GALLERY_N_ORDERS));
}

static void
class_check_toggled (VisageGallery *self)
{
  guint32 classes = 0;

  if (self->updating_checks)
    return;
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    if (gtk_check_button_get_active (self->class_checks[c]))
      classes |= 1u << c;
  visage_gallery_set_filter_classes (self, classes,
                                     gtk_check_button_get_active (self->match_all_check));
}

static void
items_changed (VisageGallery *self)
{
  update_labels (self);
}

/* ---- API ---------------------------------------------------------------------------------- */

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

  /* A focus belongs to the previous split's evaluation. */
  _visage_gallery_clear_focus (self);
  gtk_filter_list_model_set_model (self->filtered, samples);
  _visage_gallery_filter_changed (self);
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
visage_gallery_step (VisageGallery *self, int step)
{
  guint n, position;

  g_return_if_fail (VISAGE_IS_GALLERY (self));

  n = g_list_model_get_n_items (G_LIST_MODEL (self->selection));
  position = gtk_single_selection_get_selected (self->selection);
  if (n == 0)
    return;
  if (position == GTK_INVALID_LIST_POSITION)
    position = 0;
  else
    position = (guint) (((gint64) position + n + step % (gint64) n) % n);
  gtk_single_selection_set_selected (self->selection, position);
}

void
visage_gallery_select_sample (VisageGallery *self, VisageSample *sample)
{
  guint n;

  g_return_if_fail (VISAGE_IS_GALLERY (self));
  g_return_if_fail (VISAGE_IS_SAMPLE (sample));

  /* A sample the filters hide is shown by showing all. */
  for (int attempt = 0; attempt < 2; attempt++)
    {
      n = g_list_model_get_n_items (G_LIST_MODEL (self->selection));
      for (guint i = 0; i < n; i++)
        {
          g_autoptr (VisageSample) item = g_list_model_get_item (G_LIST_MODEL (self->selection),
                                                                 i);

          if (item == sample)
            {
              gtk_single_selection_set_selected (self->selection, i);
              return;
            }
        }
      visage_gallery_show_all (self);
    }
}

const char *
visage_gallery_get_focus_text (VisageGallery *self)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), NULL);

  return self->focus != FOCUS_NONE ? gtk_label_get_label (self->focus_label) : NULL;
}

const char *
visage_gallery_get_count_text (VisageGallery *self)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), NULL);

  return gtk_label_get_label (self->count_label);
}

const char *
visage_gallery_get_scores_note (VisageGallery *self)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), NULL);

  return gtk_revealer_get_reveal_child (self->scores_revealer)
         ? gtk_label_get_label (self->scores_label) : NULL;
}

const char *
visage_gallery_get_class_label (VisageGallery *self, int cls)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), NULL);
  g_return_val_if_fail (cls >= 0 && cls < VG_NUM_CLASSES, NULL);

  return gtk_check_button_get_label (self->class_checks[cls]);
}

void
visage_gallery_results_changed (VisageGallery *self)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));

  /* Without any result (another model) a focus on them would show nothing. */
  if (self->focus != FOCUS_NONE)
    {
      GListModel *all = all_samples (self);
      guint n = all != NULL ? g_list_model_get_n_items (all) : 0;
      gboolean any = FALSE;

      for (guint i = 0; i < n && !any; i++)
        {
          g_autoptr (VisageSample) sample = g_list_model_get_item (all, i);

          any = visage_sample_get_result (sample) != NULL;
        }
      if (!any)
        _visage_gallery_clear_focus (self);
    }
  gtk_sorter_changed (GTK_SORTER (self->sorter), GTK_SORTER_CHANGE_DIFFERENT);
  _visage_gallery_filter_changed (self);
}

/* ---- GObject ------------------------------------------------------------------------------ */

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
      g_value_set_int (value, visage_gallery_get_filter_class (self));
      break;
    case PROP_SELECTED_SAMPLE:
      g_value_set_object (value, visage_gallery_get_selected_sample (self));
      break;
    case PROP_CONFUSION_TRUTH:
      g_value_set_int (value, self->focus == FOCUS_CONFUSION ? self->focus_truth : -1);
      break;
    case PROP_CONFUSION_PREDICTED:
      g_value_set_int (value, self->focus == FOCUS_CONFUSION ? self->focus_predicted : -1);
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
step_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  visage_gallery_step (VISAGE_GALLERY (widget), g_str_equal (action_name, "gallery.next")
                                                ? 1 : -1);
}

static void
show_all_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  visage_gallery_show_all (VISAGE_GALLERY (widget));
}

static void
clear_focus_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  _visage_gallery_clear_focus (VISAGE_GALLERY (widget));
}

static void
filter_classes_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  guint32 classes;
  gboolean match_all;

  g_variant_get (parameter, "(ub)", &classes, &match_all);
  if (classes >= (1u << VG_NUM_CLASSES))
    {
      g_warning ("no such classes: 0x%x", classes);
      return;
    }
  visage_gallery_set_filter_classes (VISAGE_GALLERY (widget), classes, match_all);
}

static void
class_iou_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  int cls = g_variant_get_int32 (parameter);

  if (cls < 0 || cls >= VG_NUM_CLASSES)
    {
      g_warning ("no class %d", cls);
      return;
    }
  visage_gallery_sort_by_class_iou (VISAGE_GALLERY (widget), cls);
}

static void
install_actions (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_property_action (widget_class, "gallery.sort-by", "sort-by");
  gtk_widget_class_install_property_action (widget_class, "gallery.filter-class",
                                            "filter-class");
  gtk_widget_class_install_action (widget_class, "gallery.sort-by-class-iou", "i",
                                   class_iou_action);
  gtk_widget_class_install_action (widget_class, "gallery.filter-classes", "(ub)",
                                   filter_classes_action);
  gtk_widget_class_install_action (widget_class, "gallery.show-all", NULL, show_all_action);
  gtk_widget_class_install_action (widget_class, "gallery.clear-focus", NULL,
                                   clear_focus_action);
  gtk_widget_class_install_action (widget_class, "gallery.next", NULL, step_action);
  gtk_widget_class_install_action (widget_class, "gallery.previous", NULL, step_action);
}

static void
visage_gallery_class_init (VisageGalleryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GParamFlags readable = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = visage_gallery_dispose;
  object_class->get_property = visage_gallery_get_property;
  object_class->set_property = visage_gallery_set_property;

  _visage_gallery_properties[PROP_SORT_BY] =
    g_param_spec_string ("sort-by", NULL, NULL, "name",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  _visage_gallery_properties[PROP_FILTER_CLASS] =
    g_param_spec_int ("filter-class", NULL, NULL, -1, VG_NUM_CLASSES - 1, -1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  _visage_gallery_properties[PROP_SELECTED_SAMPLE] =
    g_param_spec_object ("selected-sample", NULL, NULL, VISAGE_TYPE_SAMPLE, readable);
  /* The confusion cell the gallery is narrowed to (-1 for none): the image view
   * highlights its pixels. */
  _visage_gallery_properties[PROP_CONFUSION_TRUTH] =
    g_param_spec_int ("confusion-truth", NULL, NULL, -1, VG_NUM_CLASSES - 1, -1, readable);
  _visage_gallery_properties[PROP_CONFUSION_PREDICTED] =
    g_param_spec_int ("confusion-predicted", NULL, NULL, -1, VG_NUM_CLASSES - 1, -1,
                      readable);
  g_object_class_install_properties (object_class, N_PROPS, _visage_gallery_properties);

  /* The sample type must exist before the item template's expressions are parsed. */
  g_type_ensure (VISAGE_TYPE_SAMPLE);
  visage_resources_ensure ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/visage/Visage/visage-gallery.ui");
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, sort_dropdown);
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, filter_button);
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, filter_label);
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, class_box);
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, match_all_check);
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, count_label);
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, focus_revealer);
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, focus_label);
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, scores_revealer);
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, scores_label);
  gtk_widget_class_bind_template_child (widget_class, VisageGallery, grid_view);
  install_actions (widget_class);
}

/* Labelme's keys for the next and previous image (D and A), and Page Down and Up, through
 * the gallery as filtered and sorted. Handled at the window after the focused widget had
 * its turn (managed scope, bubble phase), so typing in an entry is left alone. */
static gboolean
step_key (GtkWidget *widget, GVariant *args, gpointer user_data)
{
  visage_gallery_step (VISAGE_GALLERY (user_data), g_variant_get_int32 (args));
  return TRUE;
}

static void
add_step_keys (VisageGallery *self)
{
  GtkEventController *keys = gtk_shortcut_controller_new ();
  static const struct { const char *trigger; int step; } bindings[] = {
    { "d|Page_Down", 1 },
    { "a|Page_Up", -1 },
  };

  gtk_shortcut_controller_set_scope (GTK_SHORTCUT_CONTROLLER (keys),
                                     GTK_SHORTCUT_SCOPE_MANAGED);
  for (guint i = 0; i < G_N_ELEMENTS (bindings); i++)
    {
      GtkShortcut *shortcut =
        gtk_shortcut_new (gtk_shortcut_trigger_parse_string (bindings[i].trigger),
                          gtk_callback_action_new (step_key, self, NULL));

      gtk_shortcut_set_arguments (shortcut, g_variant_new_int32 (bindings[i].step));
      gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (keys), shortcut);
    }
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
}

/* The sort drop-down's choices: the fixed orders, then each class's worst IoU first. */
static void
fill_sort_orders (VisageGallery *self)
{
  g_autoptr (GtkStringList) orders = gtk_string_list_new (NULL);

  gtk_string_list_append (orders, _("By Name"));
  gtk_string_list_append (orders, _("Worst mIoU First"));
  gtk_string_list_append (orders, _("Most Pixels of the Chosen Confusion"));
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      /* TRANSLATORS: a gallery order: the images where this class is segmented worst
       * first, e.g. "Worst Necklace IoU First" */
      g_autofree char *label = g_strdup_printf (_("Worst %s IoU First"),
                                                visage_class_display_name (c));

      gtk_string_list_append (orders, label);
    }
  gtk_drop_down_set_model (self->sort_dropdown, G_LIST_MODEL (orders));
  gtk_drop_down_set_selected (self->sort_dropdown, 0);
}

static void
add_class_checks (VisageGallery *self)
{
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      self->class_checks[c] = GTK_CHECK_BUTTON (gtk_check_button_new ());
      gtk_box_append (self->class_box, GTK_WIDGET (self->class_checks[c]));
      g_signal_connect_swapped (self->class_checks[c], "toggled",
                                G_CALLBACK (class_check_toggled), self);
    }
}

static void
visage_gallery_init (VisageGallery *self)
{
  self->sort_by = _visage_gallery_sort_orders[0];
  self->focus = FOCUS_NONE;
  self->focus_truth = self->focus_predicted = -1;

  gtk_widget_init_template (GTK_WIDGET (self));
  fill_sort_orders (self);
  add_class_checks (self);
  add_step_keys (self);

  self->filter = gtk_custom_filter_new (_visage_gallery_filter_sample, self, NULL);
  self->sorter = gtk_custom_sorter_new (_visage_gallery_compare_samples, self, NULL);
  self->filtered = gtk_filter_list_model_new (NULL, GTK_FILTER (self->filter));
  self->sorted = gtk_sort_list_model_new (G_LIST_MODEL (self->filtered),
                                          GTK_SORTER (self->sorter));
  self->selection = gtk_single_selection_new (G_LIST_MODEL (self->sorted));
  gtk_grid_view_set_model (self->grid_view, GTK_SELECTION_MODEL (self->selection));

  g_signal_connect_swapped (self->selection, "notify::selected-item",
                            G_CALLBACK (selection_changed), self);
  g_signal_connect_swapped (self->selection, "items-changed", G_CALLBACK (items_changed),
                            self);
  g_signal_connect_swapped (self->sort_dropdown, "notify::selected",
                            G_CALLBACK (sort_dropdown_changed), self);
  g_signal_connect_swapped (self->match_all_check, "toggled",
                            G_CALLBACK (class_check_toggled), self);
  update_checks (self);
  update_labels (self);
}
