/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The image view: the overlay and its mode, opacity, zoom and pan, the legend, the status
 * line, and the GObject; mask editing is in visage-image-view-edit.c. */
#define G_LOG_DOMAIN "visage-image-view"

#include "config.h"

#include <glib/gi18n.h>

#include "visage-classes.h"
#include "visage-format.h"
#include "visage-image-view-private.h"
#include "visage-resources.h"
#include "visage-wrap-box.h"

/* In the order of VisageOverlayMode. */
static const char *const modes[] = { "truth", "prediction", "errors", "side-by-side" };

static gboolean
mode_needs_truth (VisageOverlayMode mode)
{
  return mode != VISAGE_OVERLAY_PREDICTION;
}

G_DEFINE_FINAL_TYPE (VisageImageView, visage_image_view, ADW_TYPE_BIN)

static GParamSpec *properties[N_PROPS];

void
_visage_image_view_notify (VisageImageView *self, guint prop_id)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

GtkWidget *
visage_image_view_new (void)
{
  return g_object_new (VISAGE_TYPE_IMAGE_VIEW, NULL);
}

VisageOverlayArea *
visage_image_view_get_area (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), NULL);

  return self->overlay_area;
}

const char *
visage_image_view_get_title (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), NULL);

  return self->title;
}

const char *
visage_image_view_get_status (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), NULL);

  return gtk_label_get_label (self->status_label);
}

static void
show_summary (VisageImageView *self)
{
  gtk_label_set_label (self->status_label, self->summary != NULL ? self->summary : "");
}

void
visage_image_view_set_prediction (VisageImageView *self, const VgPrediction *prediction,
                                  const char *title)
{
  g_autoptr (GString) summary = NULL;

  g_return_if_fail (VISAGE_IS_IMAGE_VIEW (self));

  /* The window attaches the annotation of the new image, if any, afterwards. */
  visage_image_view_set_annotation (self, NULL);
  g_clear_pointer (&self->title, g_free);
  g_clear_pointer (&self->summary, g_free);
  if (prediction == NULL)
    {
      visage_overlay_area_set_image (self->overlay_area, NULL, NULL, NULL, 0, 0);
      self->has_image = self->has_truth = self->has_labels = FALSE;
      _visage_image_view_truth_changed (self);
      show_summary (self);
      return;
    }

  self->title = g_strdup (title);
  self->has_image = TRUE;
  self->has_truth = prediction->truth != NULL;
  self->has_labels = prediction->labels != NULL;
  visage_overlay_area_set_image (self->overlay_area, prediction->rgb, prediction->truth,
                                 prediction->labels, prediction->height, prediction->width);
  _visage_image_view_truth_changed (self);

  summary = g_string_new (title);
  /* TRANSLATORS: image size in pixels, width × height */
  g_string_append_printf (summary, _(" · %d × %d"), prediction->width, prediction->height);
  if (prediction->has_result)
    {
      g_autofree char *miou = visage_format_percent (prediction->result.miou, 1);

      /* TRANSLATORS: the image's mean intersection over union; %s is a percentage */
      g_string_append_printf (summary, _(" · mIoU %s"), miou);
    }
  if (prediction->labels == NULL)
    g_string_append (summary, _(" · no model loaded, so no prediction"));
  else if (prediction->cached)
    g_string_append (summary, _(" · prediction from the cache"));
  else
    /* TRANSLATORS: how long decoding and parsing the image took, in milliseconds */
    g_string_append_printf (summary, _(" · parsed in %.0f ms"), 1000.0 * prediction->seconds);
  if (prediction->truth == NULL)
    g_string_append (summary, _(" · no ground truth"));
  self->summary = g_string_free (g_steal_pointer (&summary), FALSE);
  show_summary (self);
}

void
visage_image_view_hover (VisageImageView *self, double x, double y)
{
  g_autoptr (GString) text = NULL;
  int ix, iy, panel, truth, predicted;

  g_return_if_fail (VISAGE_IS_IMAGE_VIEW (self));

  if (!visage_overlay_area_pick (self->overlay_area, x, y, &ix, &iy, &panel))
    {
      show_summary (self);
      return;
    }
  visage_overlay_area_classes_at (self->overlay_area, ix, iy, &truth, &predicted);
  text = g_string_new (NULL);
  /* TRANSLATORS: pixel position in the image */
  g_string_append_printf (text, _("x %d, y %d"), ix, iy);
  if (self->has_truth)
    /* TRANSLATORS: the ground-truth class of the pixel under the pointer */
    g_string_append_printf (text, _(" · ground truth: %s"),
                            truth >= 0 ? visage_class_display_name (truth) : _("ignored"));
  if (self->has_labels)
    /* TRANSLATORS: the predicted class of the pixel under the pointer */
    g_string_append_printf (text, _(" · prediction: %s"),
                            visage_class_display_name (predicted));
  if (self->has_truth && self->has_labels && truth >= 0 && truth != predicted)
    g_string_append (text, _(" · wrong"));
  gtk_label_set_label (self->status_label, text->str);
}

static void
on_motion (GtkEventControllerMotion *controller, double x, double y, gpointer user_data)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (user_data);

  self->pointer_x = x;
  self->pointer_y = y;
  self->has_pointer = TRUE;
  visage_image_view_hover (self, x, y);
  if (self->editing)
    gtk_widget_queue_draw (GTK_WIDGET (self->sketch));
}

static void
on_leave (GtkEventControllerMotion *controller, gpointer user_data)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (user_data);

  self->has_pointer = FALSE;
  gtk_widget_queue_draw (GTK_WIDGET (self->sketch));
  show_summary (self);
}

static void
show_mode (VisageImageView *self, VisageOverlayMode mode)
{
  gboolean side = mode == VISAGE_OVERLAY_SIDE_BY_SIDE && self->has_image;

  gtk_widget_set_visible (self->side_truth_label, side);
  gtk_widget_set_visible (self->side_prediction_label, side);
  if (visage_overlay_area_get_mode (self->overlay_area) == mode)
    return;
  visage_overlay_area_set_mode (self->overlay_area, mode);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODE]);
}

/* The mode the user chose: the one shown, unless an image without ground truth shows its
 * prediction in its place for now. Only this one is kept in the preferences. */
static VisageOverlayMode
chosen_mode (VisageImageView *self)
{
  return self->mode_before >= 0 ? (VisageOverlayMode) self->mode_before
                                : visage_overlay_area_get_mode (self->overlay_area);
}

static int
mode_from_name (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    if (g_strcmp0 (name, modes[i]) == 0)
      return (int) i;
  g_warning ("unknown overlay mode %s", name);
  return -1;
}

/* The user chooses mode. While an image without ground truth is shown, a mode that needs
 * one is refused (the action's buttons are off), or with remember, e.g. from the
 * preferences, kept for the next image that has one. */
static void
choose_mode (VisageImageView *self, VisageOverlayMode mode, gboolean remember)
{
  VisageOverlayMode before = chosen_mode (self);

  if (self->has_image && !self->has_truth && mode_needs_truth (mode))
    {
      if (!remember)
        return;
      self->mode_before = (int) mode;
    }
  else
    {
      self->mode_before = -1;
      show_mode (self, mode);
    }
  if (chosen_mode (self) != before)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CHOSEN_MODE]);
}

void
visage_image_view_set_mode (VisageImageView *self, const char *mode)
{
  int i;

  g_return_if_fail (VISAGE_IS_IMAGE_VIEW (self));

  if ((i = mode_from_name (mode)) >= 0)
    choose_mode (self, (VisageOverlayMode) i, FALSE);
}

/* Side by side names each pane over it: centred over the pane's part in view, above the
 * pane where the view has room for that, else inside it at its top. */
static gboolean
place_pane_label (GtkOverlay *overlay, GtkWidget *label, GdkRectangle *allocation,
                  VisageImageView *self)
{
  const int gap = 6;
  int view_w = gtk_widget_get_width (GTK_WIDGET (overlay));
  int view_h = gtk_widget_get_height (GTK_WIDGET (overlay));
  int pane = label == self->side_prediction_label ? 1 : 0;
  graphene_rect_t r;
  double left, right;

  if ((label != self->side_truth_label && label != self->side_prediction_label)
      || !visage_overlay_area_get_pane (self->overlay_area, pane, &r))
    return FALSE;
  gtk_widget_measure (label, GTK_ORIENTATION_HORIZONTAL, -1, NULL, &allocation->width, NULL,
                      NULL);
  gtk_widget_measure (label, GTK_ORIENTATION_VERTICAL, allocation->width, NULL,
                      &allocation->height, NULL, NULL);
  left = MAX (r.origin.x, 0.0);
  right = MIN (r.origin.x + r.size.width, (double) view_w);
  allocation->x = (int) CLAMP ((left + right - allocation->width) / 2, 0.0,
                               (double) MAX (view_w - allocation->width, 0));
  if (r.origin.y >= allocation->height + 2 * gap)
    allocation->y = (int) r.origin.y - allocation->height - gap;
  else
    allocation->y = (int) MAX (r.origin.y, 0.0) + gap;
  allocation->y = MIN (allocation->y, MAX (view_h - allocation->height, 0));
  return TRUE;
}

static void
place_pane_labels (VisageImageView *self)
{
  if (gtk_widget_get_visible (self->side_truth_label))
    gtk_widget_queue_allocate (GTK_WIDGET (self->pane_overlay));
}

/* The image shown, or its ground truth, came or went: the modes that need a ground truth
 * are offered only with one; an image without replaces such a mode by the prediction
 * until an image with one is shown again. */
void
_visage_image_view_truth_changed (VisageImageView *self)
{
  VisageOverlayMode mode = visage_overlay_area_get_mode (self->overlay_area);
  gboolean truth = !self->has_image || self->has_truth;

  gtk_widget_set_sensitive (self->truth_button, truth);
  gtk_widget_set_sensitive (self->errors_button, truth);
  gtk_widget_set_sensitive (self->side_button, truth);
  if (!truth && mode_needs_truth (mode))
    {
      self->mode_before = (int) mode;
      show_mode (self, VISAGE_OVERLAY_PREDICTION);
    }
  else if (truth && self->mode_before >= 0)
    {
      mode = (VisageOverlayMode) self->mode_before;
      self->mode_before = -1;
      show_mode (self, mode);
    }
  else
    show_mode (self, mode);
}

const char *
visage_image_view_get_mode (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), NULL);

  return modes[visage_overlay_area_get_mode (self->overlay_area)];
}

const char *
visage_image_view_get_chosen_mode (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), NULL);

  return modes[chosen_mode (self)];
}

void
visage_image_view_set_opacity (VisageImageView *self, double opacity)
{
  g_return_if_fail (VISAGE_IS_IMAGE_VIEW (self));

  opacity = CLAMP (opacity, 0.0, 1.0);
  if (visage_overlay_area_get_opacity (self->overlay_area) == (float) opacity)
    return;
  visage_overlay_area_set_opacity (self->overlay_area, opacity);
  gtk_range_set_value (GTK_RANGE (self->opacity_scale), opacity);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OPACITY]);
}

double
visage_image_view_get_opacity (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), 0.0);

  return visage_overlay_area_get_opacity (self->overlay_area);
}

void
visage_image_view_set_class_visible (VisageImageView *self, int cls, gboolean visible)
{
  g_return_if_fail (VISAGE_IS_IMAGE_VIEW (self));
  g_return_if_fail (cls >= 0 && cls < VG_NUM_CLASSES);

  visage_overlay_area_set_class_visible (self->overlay_area, cls, visible);
  /* The check button's handler calls back here with the same value: a no-op. */
  gtk_check_button_set_active (self->legend_checks[cls], visible);
}

gboolean
visage_image_view_get_class_visible (VisageImageView *self, int cls)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), FALSE);

  return visage_overlay_area_get_class_visible (self->overlay_area, cls);
}

/* A click on a class's row (its colour or name) picks the class to paint. */
static void
legend_clicked (GtkGestureClick *gesture, int n_press, double x, double y, gpointer user_data)
{
  GtkWidget *row = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (gesture));
  VisageImageView *self = user_data;

  for (int c = 0; c < VG_NUM_CLASSES; c++)
    if (gtk_widget_get_parent (self->legend_labels[c]) == row)
      gtk_widget_activate_action (GTK_WIDGET (self), "image.paint-class", "i", c);
}

static void
legend_toggled (GtkCheckButton *check, gpointer user_data)
{
  VisageImageView *self = user_data;

  for (int c = 0; c < VG_NUM_CLASSES; c++)
    if (self->legend_checks[c] == check)
      visage_overlay_area_set_class_visible (self->overlay_area, c,
                                             gtk_check_button_get_active (check));
}

static void
draw_swatch (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer user_data)
{
  VisageImageView *self = user_data;

  for (int c = 0; c < VG_NUM_CLASSES; c++)
    if (self->legend_swatches[c] == GTK_WIDGET (area))
      visage_class_draw_palette_swatch (cr, _visage_image_view_get_palette (self), c, width,
                                        height);
}

VisagePalette
_visage_image_view_get_palette (VisageImageView *self)
{
  /* NULL once the template is disposed (property actions may still be asked). */
  if (self->overlay_area == NULL)
    return VISAGE_PALETTE_DATA_SET;
  return visage_overlay_area_get_palette (self->overlay_area);
}

static void
set_high_contrast (VisageImageView *self, gboolean high_contrast)
{
  VisagePalette palette = high_contrast ? VISAGE_PALETTE_HIGH_CONTRAST
                                        : VISAGE_PALETTE_DATA_SET;

  if (visage_overlay_area_get_palette (self->overlay_area) == palette)
    return;
  visage_overlay_area_set_palette (self->overlay_area, palette);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    gtk_widget_queue_draw (self->legend_swatches[c]);
  gtk_widget_queue_draw (GTK_WIDGET (self->paint_swatch));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HIGH_CONTRAST]);
}

static void
set_outline (VisageImageView *self, gboolean outline)
{
  if (visage_overlay_area_get_outline (self->overlay_area) == !!outline)
    return;
  visage_overlay_area_set_outline (self->overlay_area, outline);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OUTLINE]);
}

static void
build_legend (VisageImageView *self)
{
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
      GtkWidget *check = gtk_check_button_new ();
      GtkWidget *swatch = gtk_drawing_area_new ();
      GtkWidget *label = gtk_label_new (visage_class_display_name (c));
      GtkGesture *click;

      gtk_check_button_set_active (GTK_CHECK_BUTTON (check), TRUE);
      gtk_widget_set_tooltip_text (check, _("Show or Hide This Class"));
      gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (swatch), 16);
      gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (swatch), 16);
      gtk_widget_set_valign (swatch, GTK_ALIGN_CENTER);
      gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (swatch), draw_swatch, self, NULL);
      self->legend_swatches[c] = swatch;
      gtk_label_set_xalign (GTK_LABEL (label), 0.f);
      if (vg_class_is_long_tail (c))
        {
          gtk_widget_add_css_class (label, "accent");
          gtk_widget_set_tooltip_text (label, _("A rare (long-tail) class"));
        }
      gtk_box_append (GTK_BOX (row), check);
      gtk_box_append (GTK_BOX (row), swatch);
      gtk_box_append (GTK_BOX (row), label);
      gtk_box_append (self->legend_box, row);
      self->legend_checks[c] = GTK_CHECK_BUTTON (check);
      self->legend_labels[c] = label;
      /* A click on the colour or the name picks the class to paint (the check button
       * claims its own clicks). */
      click = gtk_gesture_click_new ();
      g_signal_connect (click, "released", G_CALLBACK (legend_clicked), self);
      gtk_widget_add_controller (row, GTK_EVENT_CONTROLLER (click));
      if (!vg_class_is_long_tail (c))
        gtk_widget_set_tooltip_text (label, _("Click to paint with this class"));
      g_signal_connect (check, "toggled", G_CALLBACK (legend_toggled), self);
    }
}

static void
opacity_changed (GtkRange *range, gpointer user_data)
{
  visage_image_view_set_opacity (VISAGE_IMAGE_VIEW (user_data), gtk_range_get_value (range));
}

/* ---- actions ---------------------------------------------------------------------------- */

static void
zoom_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (widget);
  GtkWidget *area = GTK_WIDGET (self->overlay_area);
  double x = gtk_widget_get_width (area) / 2.0, y = gtk_widget_get_height (area) / 2.0;

  if (g_str_equal (action_name, "image.zoom-in"))
    visage_overlay_area_zoom_at (self->overlay_area, 1.25, x, y);
  else if (g_str_equal (action_name, "image.zoom-out"))
    visage_overlay_area_zoom_at (self->overlay_area, 1 / 1.25, x, y);
  else
    visage_overlay_area_zoom_fit (self->overlay_area);
}

static void
pan_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (widget);
  int dx, dy;

  g_variant_get (parameter, "(ii)", &dx, &dy);
  visage_overlay_area_pan (self->overlay_area, dx, dy);
}

static void
toggle_class_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (widget);
  int cls = g_variant_get_int32 (parameter);

  if (cls >= 0 && cls < VG_NUM_CLASSES)
    visage_image_view_set_class_visible (self, cls,
                                         !visage_image_view_get_class_visible (self, cls));
}

static void
show_all_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (widget);

  for (int c = 0; c < VG_NUM_CLASSES; c++)
    visage_image_view_set_class_visible (self, c, TRUE);
}

/* ---- GObject ---------------------------------------------------------------------------- */

static void
visage_image_view_dispose (GObject *object)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (object);

  visage_image_view_set_annotation (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (object), VISAGE_TYPE_IMAGE_VIEW);
  G_OBJECT_CLASS (visage_image_view_parent_class)->dispose (object);
}

static void
visage_image_view_finalize (GObject *object)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (object);

  g_free (self->title);
  g_free (self->summary);
  g_array_unref (self->polygon);
  G_OBJECT_CLASS (visage_image_view_parent_class)->finalize (object);
}

static void
visage_image_view_get_property (GObject *object, guint prop_id, GValue *value,
                                GParamSpec *pspec)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (object);

  switch (prop_id)
    {
    case PROP_MODE:
      g_value_set_string (value, visage_image_view_get_mode (self));
      break;
    case PROP_CHOSEN_MODE:
      g_value_set_string (value, visage_image_view_get_chosen_mode (self));
      break;
    case PROP_OPACITY:
      g_value_set_double (value, visage_image_view_get_opacity (self));
      break;
    case PROP_EDITING:
      g_value_set_boolean (value, self->editing);
      break;
    case PROP_TOOL:
      g_value_set_string (value, _visage_image_view_get_tool_name (self));
      break;
    case PROP_PAINT_CLASS:
      g_value_set_int (value, self->paint_class);
      break;
    case PROP_BRUSH_SIZE:
      g_value_set_int (value, self->brush_size);
      break;
    case PROP_PROTECT_CLASS:
      g_value_set_int (value, self->protect_class);
      break;
    case PROP_HIGH_CONTRAST:
      g_value_set_boolean (value, _visage_image_view_get_palette (self)
                                  == VISAGE_PALETTE_HIGH_CONTRAST);
      break;
    case PROP_OUTLINE:
      g_value_set_boolean (value, self->overlay_area != NULL
                                  && visage_overlay_area_get_outline (self->overlay_area));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_image_view_set_property (GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (object);

  switch (prop_id)
    {
    case PROP_MODE:
      visage_image_view_set_mode (self, g_value_get_string (value));
      break;
    case PROP_CHOSEN_MODE:
      {
        int mode = mode_from_name (g_value_get_string (value));

        if (mode >= 0)
          choose_mode (self, (VisageOverlayMode) mode, TRUE);
      }
      break;
    case PROP_OPACITY:
      visage_image_view_set_opacity (self, g_value_get_double (value));
      break;
    case PROP_EDITING:
      visage_image_view_set_editing (self, g_value_get_boolean (value));
      break;
    case PROP_TOOL:
      visage_image_view_set_tool (self, g_value_get_string (value));
      break;
    case PROP_PAINT_CLASS:
      visage_image_view_set_paint_class (self, g_value_get_int (value));
      break;
    case PROP_BRUSH_SIZE:
      visage_image_view_set_brush_size (self, g_value_get_int (value));
      break;
    case PROP_PROTECT_CLASS:
      visage_image_view_set_protect_class (self, g_value_get_int (value));
      break;
    case PROP_HIGH_CONTRAST:
      set_high_contrast (self, g_value_get_boolean (value));
      break;
    case PROP_OUTLINE:
      set_outline (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_image_view_class_init (VisageImageViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = visage_image_view_dispose;
  object_class->finalize = visage_image_view_finalize;
  object_class->get_property = visage_image_view_get_property;
  object_class->set_property = visage_image_view_set_property;

  properties[PROP_MODE] =
    g_param_spec_string ("mode", NULL, NULL, "truth",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* The user's mode, which "mode" differs from while an image without ground truth shows
   * its prediction instead: the one to keep in the preferences. */
  properties[PROP_CHOSEN_MODE] =
    g_param_spec_string ("chosen-mode", NULL, NULL, "truth",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_OPACITY] =
    g_param_spec_double ("opacity", NULL, NULL, 0.0, 1.0, 0.6,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_EDITING] =
    g_param_spec_boolean ("editing", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TOOL] =
    g_param_spec_string ("tool", NULL, NULL, "brush",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PAINT_CLASS] =
    g_param_spec_int ("paint-class", NULL, NULL, 0, VG_NUM_CLASSES - 1, VG_CLASS_SKIN,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BRUSH_SIZE] =
    g_param_spec_int ("brush-size", NULL, NULL, 1, 128, 8,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PROTECT_CLASS] =
    g_param_spec_int ("protect-class", NULL, NULL, -1, VG_NUM_CLASSES - 1, -1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* Display options: the saved masks and exports keep the data set's palette. */
  properties[PROP_HIGH_CONTRAST] =
    g_param_spec_boolean ("high-contrast", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_OUTLINE] =
    g_param_spec_boolean ("outline", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (VISAGE_TYPE_OVERLAY_AREA);
  g_type_ensure (VISAGE_TYPE_WRAP_BOX);
  visage_resources_ensure ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/visage/Visage/visage-image-view.ui");
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, overlay_area);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, opacity_scale);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, legend_box);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, status_label);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, edit_revealer);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, edit_toolbar);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, brush_spin);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, protect_dropdown);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, paint_swatch);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, paint_label);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, sketch);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, pane_overlay);
  gtk_widget_class_bind_template_callback (widget_class, place_pane_label);
  gtk_widget_class_bind_template_callback (widget_class, place_pane_labels);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, truth_button);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, errors_button);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, side_button);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView, side_truth_label);
  gtk_widget_class_bind_template_child (widget_class, VisageImageView,
                                        side_prediction_label);

  gtk_widget_class_install_property_action (widget_class, "image.mode", "mode");
  gtk_widget_class_install_property_action (widget_class, "image.high-contrast",
                                            "high-contrast");
  gtk_widget_class_install_property_action (widget_class, "image.outline", "outline");
  gtk_widget_class_install_action (widget_class, "image.zoom-in", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "image.zoom-out", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "image.zoom-fit", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "image.pan", "(ii)", pan_action);
  gtk_widget_class_install_action (widget_class, "image.toggle-class", "i",
                                   toggle_class_action);
  gtk_widget_class_install_action (widget_class, "image.show-all-classes", NULL,
                                   show_all_action);

  _visage_image_view_class_init_edit (widget_class);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_plus, 0, "image.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_equal, 0, "image.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Add, 0, "image.zoom-in", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_minus, 0, "image.zoom-out", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Subtract, 0, "image.zoom-out",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_0, 0, "image.zoom-fit", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_1, 0, "image.mode", "s", "truth");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_2, 0, "image.mode", "s",
                                       "prediction");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_3, 0, "image.mode", "s",
                                       "errors");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_4, 0, "image.mode", "s",
                                       "side-by-side");
  /* Arrow keys move the view by 48 pixels, as a scroll step would. */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Left, 0, "image.pan", "(ii)",
                                       48, 0);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Right, 0, "image.pan", "(ii)",
                                       -48, 0);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Up, 0, "image.pan", "(ii)",
                                       0, 48);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Down, 0, "image.pan", "(ii)",
                                       0, -48);
}

static void
visage_image_view_init (VisageImageView *self)
{
  GtkEventController *motion;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->mode_before = -1;
  build_legend (self);
  gtk_range_set_value (GTK_RANGE (self->opacity_scale),
                       visage_overlay_area_get_opacity (self->overlay_area));
  g_signal_connect (self->opacity_scale, "value-changed", G_CALLBACK (opacity_changed), self);

  motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self->overlay_area), motion);

  _visage_image_view_init_edit (self);
}
