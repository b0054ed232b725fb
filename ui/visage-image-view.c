/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-image-view"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "vg-classes.h"
#include "visage-classes.h"
#include "visage-image-view.h"
#include "visage-resources.h"

/* In the order of VisageOverlayMode. */
static const char *const modes[] = { "truth", "prediction", "errors", "side-by-side" };

typedef enum {
  TOOL_BRUSH,
  TOOL_ERASER,
  TOOL_FILL,
  TOOL_POLYGON,
  TOOL_SWAP,
} Tool;

static const char *const tools[] = { "brush", "eraser", "fill", "polygon", "swap" };

/* Typing "1" then a digit within this time picks classes 10 to 18. */
#define CLASS_DIGIT_USEC (G_USEC_PER_SEC * 6 / 5)
/* A polygon closes on a click within this many widget pixels of its first corner. */
#define CLOSE_DISTANCE 8.0

struct _VisageImageView
{
  AdwBin parent_instance;

  /* Template widgets */
  VisageOverlayArea *overlay_area;
  GtkScale *opacity_scale;
  GtkBox *legend_box;
  GtkLabel *status_label;
  GtkRevealer *edit_revealer;
  GtkWidget *edit_toolbar;
  GtkSpinButton *brush_spin;
  GtkDropDown *protect_dropdown;
  GtkDrawingArea *paint_swatch;
  GtkLabel *paint_label;
  GtkDrawingArea *sketch;

  GtkCheckButton *legend_checks[VG_NUM_CLASSES];
  GtkWidget *legend_labels[VG_NUM_CLASSES];

  /* Mask editing */
  VisageAnnotation *annotation;   /* the mask being corrected, or NULL */
  gboolean editing;               /* the primary button paints (the middle one pans) */
  Tool tool;
  int paint_class;
  int brush_size;                 /* diameter in image pixels */
  int protect_class;              /* -1, or the only class painted over */
  GtkGesture *paint;
  gboolean stroking;              /* a brush or eraser stroke is under way */
  double start_x;                 /* where the drag began, widget coordinates */
  double start_y;
  double last_x;                  /* the stroke's last point, image pixels */
  double last_y;
  GArray *polygon;                /* of double: x, y of each corner, image pixels */
  double pointer_x;               /* widget coordinates, for the brush outline */
  double pointer_y;
  gboolean has_pointer;
  int last_digit;                 /* the class digit typed last, and when */
  gint64 last_digit_time;

  char *title;
  char *summary;          /* status line while the pointer is elsewhere */
  gboolean has_truth;
  gboolean has_labels;
};

G_DEFINE_FINAL_TYPE (VisageImageView, visage_image_view, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_MODE,
  PROP_OPACITY,
  PROP_EDITING,
  PROP_TOOL,
  PROP_PAINT_CLASS,
  PROP_BRUSH_SIZE,
  PROP_PROTECT_CLASS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

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
      self->has_truth = self->has_labels = FALSE;
      show_summary (self);
      return;
    }

  self->title = g_strdup (title);
  self->has_truth = prediction->truth != NULL;
  self->has_labels = prediction->labels != NULL;
  visage_overlay_area_set_image (self->overlay_area, prediction->rgb, prediction->truth,
                                 prediction->labels, prediction->height, prediction->width);

  summary = g_string_new (title);
  /* TRANSLATORS: image size in pixels, width × height */
  g_string_append_printf (summary, _(" · %d × %d"), prediction->width, prediction->height);
  if (prediction->has_result)
    /* TRANSLATORS: the image's mean intersection over union */
    g_string_append_printf (summary, _(" · mIoU %.1f%%"), 100.0 * prediction->result.miou);
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

void
visage_image_view_set_mode (VisageImageView *self, const char *mode)
{
  g_return_if_fail (VISAGE_IS_IMAGE_VIEW (self));

  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    if (g_strcmp0 (mode, modes[i]) == 0)
      {
        if (visage_overlay_area_get_mode (self->overlay_area) == (VisageOverlayMode) i)
          return;
        visage_overlay_area_set_mode (self->overlay_area, (VisageOverlayMode) i);
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODE]);
        return;
      }
  g_warning ("unknown overlay mode %s", mode);
}

const char *
visage_image_view_get_mode (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), NULL);

  return modes[visage_overlay_area_get_mode (self->overlay_area)];
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

/* ---- mask editing ----------------------------------------------------------------------- */

static VgMaskEdit *
current_edit (VisageImageView *self)
{
  return self->annotation != NULL ? visage_annotation_get_edit (self->annotation) : NULL;
}

static void
update_edit_actions (VisageImageView *self)
{
  VgMaskEdit *edit = current_edit (self);
  GtkWidget *widget = GTK_WIDGET (self);

  gtk_widget_action_set_enabled (widget, "image.undo",
                                 edit != NULL && vg_mask_edit_can_undo (edit));
  gtk_widget_action_set_enabled (widget, "image.redo",
                                 edit != NULL && vg_mask_edit_can_redo (edit));
  gtk_widget_action_set_enabled (widget, "image.start-from-prediction",
                                 edit != NULL
                                 && visage_overlay_area_get_labels (self->overlay_area) != NULL);
  gtk_widget_action_set_enabled (widget, "image.swap-all", edit != NULL);
  gtk_widget_action_set_enabled (widget, "image.polygon-fill",
                                 edit != NULL && self->polygon->len >= 6);
  gtk_widget_action_set_enabled (widget, "image.polygon-cancel", self->polygon->len > 0);
  gtk_widget_set_sensitive (self->edit_toolbar, edit != NULL);
}

/* Show the mask being edited as the ground truth. */
static void
show_edited_mask (VisageImageView *self)
{
  VgMaskEdit *edit = current_edit (self);

  if (edit != NULL)
    visage_overlay_area_set_truth (self->overlay_area, vg_mask_edit_get_data (edit));
}

static void
annotation_changed (VisageImageView *self)
{
  show_edited_mask (self);
  update_edit_actions (self);
  if (self->has_pointer)
    visage_image_view_hover (self, self->pointer_x, self->pointer_y);
}

static void
clear_polygon (VisageImageView *self)
{
  g_array_set_size (self->polygon, 0);
  gtk_widget_queue_draw (GTK_WIDGET (self->sketch));
  update_edit_actions (self);
}

void
visage_image_view_set_annotation (VisageImageView *self, VisageAnnotation *annotation)
{
  g_return_if_fail (VISAGE_IS_IMAGE_VIEW (self));
  g_return_if_fail (annotation == NULL || VISAGE_IS_ANNOTATION (annotation));

  if (self->annotation == annotation)
    return;
  if (self->annotation != NULL)
    {
      vg_mask_edit_end (visage_annotation_get_edit (self->annotation));
      g_signal_handlers_disconnect_by_data (self->annotation, self);
    }
  self->stroking = FALSE;
  g_set_object (&self->annotation, annotation);
  if (self->polygon != NULL)
    g_array_set_size (self->polygon, 0);
  if (annotation != NULL)
    {
      VgMaskEdit *edit = visage_annotation_get_edit (annotation);

      g_return_if_fail (vg_mask_edit_get_height (edit) > 0);
      vg_mask_edit_set_protect (edit, self->protect_class);
      g_signal_connect_swapped (annotation, "changed", G_CALLBACK (annotation_changed), self);
      show_edited_mask (self);
      self->has_truth = TRUE;
    }
  if (self->edit_toolbar != NULL)
    update_edit_actions (self);
}

VisageAnnotation *
visage_image_view_get_annotation (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), NULL);

  return self->annotation;
}

void
visage_image_view_set_editing (VisageImageView *self, gboolean editing)
{
  g_return_if_fail (VISAGE_IS_IMAGE_VIEW (self));

  editing = !!editing;
  if (self->editing == editing)
    return;
  self->editing = editing;
  if (!editing)
    {
      VgMaskEdit *edit = current_edit (self);

      if (self->stroking && edit != NULL)
        {
          vg_mask_edit_end (edit);
          visage_annotation_changed (self->annotation);
        }
      self->stroking = FALSE;
      clear_polygon (self);
    }
  /* While editing the primary button paints and the middle one pans. */
  visage_overlay_area_set_pan_button (self->overlay_area, editing ? GDK_BUTTON_MIDDLE : 0);
  gtk_revealer_set_reveal_child (self->edit_revealer, editing);
  gtk_widget_queue_draw (GTK_WIDGET (self->sketch));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EDITING]);
}

gboolean
visage_image_view_get_editing (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), FALSE);

  return self->editing;
}

void
visage_image_view_set_tool (VisageImageView *self, const char *tool)
{
  g_return_if_fail (VISAGE_IS_IMAGE_VIEW (self));

  for (guint i = 0; i < G_N_ELEMENTS (tools); i++)
    if (g_strcmp0 (tool, tools[i]) == 0)
      {
        if (self->tool == (Tool) i)
          return;
        self->tool = (Tool) i;
        clear_polygon (self);
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOL]);
        return;
      }
  g_warning ("unknown editing tool %s", tool);
}

static void
draw_paint_swatch (GtkDrawingArea *area, cairo_t *cr, int width, int height,
                   gpointer user_data)
{
  VisageImageView *self = user_data;

  visage_class_draw_swatch (cr, self->paint_class, width, height);
}

void
visage_image_view_set_paint_class (VisageImageView *self, int cls)
{
  g_autofree char *text = NULL;

  g_return_if_fail (VISAGE_IS_IMAGE_VIEW (self));
  g_return_if_fail (cls >= 0 && cls < VG_NUM_CLASSES);

  if (self->legend_labels[self->paint_class] != NULL)
    gtk_widget_remove_css_class (self->legend_labels[self->paint_class], "heading");
  self->paint_class = cls;
  if (self->legend_labels[cls] != NULL)
    gtk_widget_add_css_class (self->legend_labels[cls], "heading");
  /* TRANSLATORS: the class the brush paints: its number and name */
  text = g_strdup_printf (_("%d %s"), cls, visage_class_display_name (cls));
  gtk_label_set_label (self->paint_label, text);
  gtk_widget_queue_draw (GTK_WIDGET (self->paint_swatch));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAINT_CLASS]);
}

int
visage_image_view_get_paint_class (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), 0);

  return self->paint_class;
}

void
visage_image_view_set_brush_size (VisageImageView *self, int size)
{
  g_return_if_fail (VISAGE_IS_IMAGE_VIEW (self));

  size = CLAMP (size, 1, 128);
  if (self->brush_size == size)
    return;
  self->brush_size = size;
  gtk_spin_button_set_value (self->brush_spin, size);
  gtk_widget_queue_draw (GTK_WIDGET (self->sketch));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BRUSH_SIZE]);
}

int
visage_image_view_get_brush_size (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), 1);

  return self->brush_size;
}

void
visage_image_view_set_protect_class (VisageImageView *self, int cls)
{
  VgMaskEdit *edit;

  g_return_if_fail (VISAGE_IS_IMAGE_VIEW (self));

  cls = cls >= 0 && cls < VG_NUM_CLASSES ? cls : -1;
  if (self->protect_class == cls)
    return;
  self->protect_class = cls;
  if ((edit = current_edit (self)) != NULL)
    vg_mask_edit_set_protect (edit, cls);
  gtk_drop_down_set_selected (self->protect_dropdown, (guint) (cls + 1));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROTECT_CLASS]);
}

guint
visage_image_view_get_polygon_size (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), 0);

  return self->polygon->len / 2;
}

GtkGesture *
visage_image_view_get_paint_gesture (VisageImageView *self)
{
  g_return_val_if_fail (VISAGE_IS_IMAGE_VIEW (self), NULL);

  return self->paint;
}

static void
fill_polygon (VisageImageView *self)
{
  VgMaskEdit *edit = current_edit (self);

  if (edit != NULL && self->polygon->len >= 6)
    {
      vg_mask_edit_polygon_fill (edit, (const double *) self->polygon->data,
                                 (int) self->polygon->len / 2, self->paint_class);
      visage_annotation_changed (self->annotation);
    }
  clear_polygon (self);
}

/* The pointer went down at image point (x, y). */
static void
tool_press (VisageImageView *self, double x, double y, double widget_x, double widget_y)
{
  VgMaskEdit *edit = current_edit (self);
  double radius = self->brush_size / 2.0;
  int cls = self->tool == TOOL_ERASER ? VG_CLASS_BACKGROUND : self->paint_class;

  switch (self->tool)
    {
    case TOOL_BRUSH:
    case TOOL_ERASER:
      vg_mask_edit_begin (edit);
      vg_mask_edit_brush (edit, x, y, x, y, radius, cls);
      self->stroking = TRUE;
      self->last_x = x;
      self->last_y = y;
      show_edited_mask (self);
      break;
    case TOOL_FILL:
      vg_mask_edit_flood_fill (edit, (int) floor (x), (int) floor (y), cls);
      visage_annotation_changed (self->annotation);
      break;
    case TOOL_SWAP:
      vg_mask_edit_swap_region (edit, (int) floor (x), (int) floor (y));
      visage_annotation_changed (self->annotation);
      break;
    case TOOL_POLYGON:
    default:
      if (self->polygon->len >= 6)
        {
          const double *p = (const double *) self->polygon->data;
          double fx, fy;

          /* A click on the first corner closes the outline. */
          visage_overlay_area_from_image (self->overlay_area, p[0], p[1], &fx, &fy);
          if (hypot (fx - widget_x, fy - widget_y) <= CLOSE_DISTANCE)
            {
              fill_polygon (self);
              return;
            }
        }
      g_array_append_val (self->polygon, x);
      g_array_append_val (self->polygon, y);
      gtk_widget_queue_draw (GTK_WIDGET (self->sketch));
      update_edit_actions (self);
      break;
    }
}

static void
paint_begin (GtkGestureDrag *gesture, double x, double y, gpointer user_data)
{
  VisageImageView *self = user_data;
  double ix, iy;

  if (!self->editing || self->annotation == NULL
      || !visage_overlay_area_to_image (self->overlay_area, x, y, &ix, &iy))
    return;
  gtk_widget_grab_focus (GTK_WIDGET (self->overlay_area));
  self->start_x = x;
  self->start_y = y;
  tool_press (self, ix, iy, x, y);
}

static void
paint_update (GtkGestureDrag *gesture, double offset_x, double offset_y, gpointer user_data)
{
  VisageImageView *self = user_data;
  VgMaskEdit *edit = current_edit (self);
  double ix, iy;
  int cls = self->tool == TOOL_ERASER ? VG_CLASS_BACKGROUND : self->paint_class;

  if (!self->stroking || edit == NULL
      || !visage_overlay_area_to_image (self->overlay_area, self->start_x + offset_x,
                                        self->start_y + offset_y, &ix, &iy))
    return;
  vg_mask_edit_brush (edit, self->last_x, self->last_y, ix, iy, self->brush_size / 2.0, cls);
  self->last_x = ix;
  self->last_y = iy;
  show_edited_mask (self);
}

static void
paint_end (GtkGestureDrag *gesture, double offset_x, double offset_y, gpointer user_data)
{
  VisageImageView *self = user_data;
  VgMaskEdit *edit = current_edit (self);

  if (!self->stroking || edit == NULL)
    return;
  self->stroking = FALSE;
  vg_mask_edit_end (edit);
  visage_annotation_changed (self->annotation);
}

/* The polygon's corners and the brush's outline over the image. */
static void
draw_sketch (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer user_data)
{
  VisageImageView *self = user_data;

  if (!self->editing)
    return;
  cairo_set_line_width (cr, 1.5);
  if (self->polygon->len >= 2)
    {
      const double *p = (const double *) self->polygon->data;
      guint n = self->polygon->len / 2;
      double x, y;

      for (guint k = 0; k < n; k++)
        {
          visage_overlay_area_from_image (self->overlay_area, p[2 * k], p[2 * k + 1], &x, &y);
          if (k == 0)
            cairo_move_to (cr, x, y);
          else
            cairo_line_to (cr, x, y);
        }
      if (self->has_pointer)
        cairo_line_to (cr, self->pointer_x, self->pointer_y);
      cairo_set_source_rgba (cr, 1, 1, 1, 0.9);
      cairo_stroke_preserve (cr);
      cairo_set_dash (cr, (const double[]) { 4, 4 }, 2, 0);
      cairo_set_source_rgba (cr, 0, 0, 0, 0.9);
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
      visage_overlay_area_from_image (self->overlay_area, p[0], p[1], &x, &y);
      cairo_arc (cr, x, y, CLOSE_DISTANCE / 2, 0, 2 * G_PI);
      cairo_set_source_rgba (cr, 1, 1, 1, 0.9);
      cairo_fill (cr);
    }
  if (self->has_pointer && (self->tool == TOOL_BRUSH || self->tool == TOOL_ERASER))
    {
      double ix, iy, x0, y0, x1, y1;

      /* The brush's outline at the scale of the image. */
      if (!visage_overlay_area_to_image (self->overlay_area, self->pointer_x, self->pointer_y,
                                         &ix, &iy))
        return;
      visage_overlay_area_from_image (self->overlay_area, 0, 0, &x0, &y0);
      visage_overlay_area_from_image (self->overlay_area, self->brush_size / 2.0, 0, &x1, &y1);
      cairo_arc (cr, self->pointer_x, self->pointer_y, MAX (x1 - x0, 1.0), 0, 2 * G_PI);
      cairo_set_source_rgba (cr, 1, 1, 1, 0.9);
      cairo_stroke (cr);
    }
}

/* Typing a class number: a digit picks that class; "1" and a second digit within a moment
 * pick 10 to 18. */
static void
class_digit_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (widget);
  int digit = g_variant_get_int32 (parameter);
  gint64 now = g_get_monotonic_time ();
  int cls = digit;

  if (digit < 0 || digit > 9)
    return;
  if (self->last_digit == 1 && now - self->last_digit_time < CLASS_DIGIT_USEC
      && digit < VG_NUM_CLASSES - 10)
    {
      cls = 10 + digit;
      self->last_digit = -1;  /* a third digit starts over */
    }
  else
    self->last_digit = digit;
  self->last_digit_time = now;
  visage_image_view_set_paint_class (self, cls);
}

/* While editing, digits pick the class (the view's modes stay on 1 to 4 otherwise). */
static gboolean
on_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode,
                GdkModifierType state, gpointer user_data)
{
  VisageImageView *self = user_data;
  int digit = -1;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *focus = root != NULL ? gtk_root_get_focus (root) : NULL;

  if (!self->editing || (state & (GDK_CONTROL_MASK | GDK_ALT_MASK | GDK_SUPER_MASK)) != 0)
    return FALSE;
  /* Numbers typed into the brush size stay there. */
  if (focus != NULL && GTK_IS_EDITABLE (focus))
    return FALSE;
  if (keyval >= GDK_KEY_0 && keyval <= GDK_KEY_9)
    digit = (int) (keyval - GDK_KEY_0);
  else if (keyval >= GDK_KEY_KP_0 && keyval <= GDK_KEY_KP_9)
    digit = (int) (keyval - GDK_KEY_KP_0);
  if (digit < 0)
    return FALSE;
  gtk_widget_activate_action (GTK_WIDGET (self), "image.class-digit", "i", digit);
  return TRUE;
}

static void
brush_size_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (widget);
  int size = self->brush_size, step = MAX (1, size / 5);

  if (g_str_equal (action_name, "image.brush-bigger"))
    visage_image_view_set_brush_size (self, size + step);
  else
    visage_image_view_set_brush_size (self, size - MAX (1, (size - step) / 5));
}

static void
undo_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (widget);
  VgMaskEdit *edit = current_edit (self);
  gboolean done;

  if (edit == NULL)
    return;
  self->stroking = FALSE;
  if (g_str_equal (action_name, "image.undo"))
    done = vg_mask_edit_undo (edit);
  else
    done = vg_mask_edit_redo (edit);
  if (done)
    visage_annotation_changed (self->annotation);
}

static void
from_prediction_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (widget);
  VgMaskEdit *edit = current_edit (self);
  const guint8 *labels = visage_overlay_area_get_labels (self->overlay_area);

  if (edit == NULL || labels == NULL)
    return;
  vg_mask_edit_end (edit);
  self->stroking = FALSE;
  vg_mask_edit_replace (edit, labels);
  visage_annotation_changed (self->annotation);
}

static void
swap_all_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (widget);
  VgMaskEdit *edit = current_edit (self);

  if (edit == NULL)
    return;
  vg_mask_edit_end (edit);
  self->stroking = FALSE;
  vg_mask_edit_swap_all (edit);
  visage_annotation_changed (self->annotation);
}

static void
polygon_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VisageImageView *self = VISAGE_IMAGE_VIEW (widget);

  if (g_str_equal (action_name, "image.polygon-fill"))
    fill_polygon (self);
  else
    clear_polygon (self);
}

static void
legend_clicked (GtkGestureClick *gesture, int n_press, double x, double y, gpointer user_data)
{
  VisageImageView *self = user_data;
  int cls = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (gesture), "visage-class"));

  visage_image_view_set_paint_class (self, cls);
}

static void
brush_spin_changed (GtkSpinButton *spin, gpointer user_data)
{
  visage_image_view_set_brush_size (VISAGE_IMAGE_VIEW (user_data),
                                    gtk_spin_button_get_value_as_int (spin));
}

static void
protect_selected (GtkDropDown *dropdown, GParamSpec *pspec, gpointer user_data)
{
  guint selected = gtk_drop_down_get_selected (dropdown);

  if (selected != GTK_INVALID_LIST_POSITION)
    visage_image_view_set_protect_class (VISAGE_IMAGE_VIEW (user_data), (int) selected - 1);
}

static void
init_editing (VisageImageView *self)
{
  g_autoptr (GtkStringList) protect_names = gtk_string_list_new (NULL);
  GtkEventController *keys;

  self->polygon = g_array_new (FALSE, FALSE, sizeof (double));
  self->protect_class = -1;
  self->brush_size = 8;
  self->last_digit = -1;

  /* TRANSLATORS: "paint only over" menu: no protection */
  gtk_string_list_append (protect_names, _("Any Class"));
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    gtk_string_list_append (protect_names, visage_class_display_name (c));
  gtk_drop_down_set_model (self->protect_dropdown, G_LIST_MODEL (protect_names));
  gtk_drop_down_set_selected (self->protect_dropdown, 0);
  g_signal_connect (self->protect_dropdown, "notify::selected", G_CALLBACK (protect_selected),
                    self);
  gtk_spin_button_set_value (self->brush_spin, self->brush_size);
  g_signal_connect (self->brush_spin, "value-changed", G_CALLBACK (brush_spin_changed), self);
  gtk_drawing_area_set_draw_func (self->paint_swatch, draw_paint_swatch, self, NULL);
  gtk_drawing_area_set_draw_func (self->sketch, draw_sketch, self, NULL);
  visage_image_view_set_paint_class (self, VG_CLASS_SKIN);

  self->paint = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (self->paint), GDK_BUTTON_PRIMARY);
  g_signal_connect (self->paint, "drag-begin", G_CALLBACK (paint_begin), self);
  g_signal_connect (self->paint, "drag-update", G_CALLBACK (paint_update), self);
  g_signal_connect (self->paint, "drag-end", G_CALLBACK (paint_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self->overlay_area),
                             GTK_EVENT_CONTROLLER (self->paint));

  keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
  update_edit_actions (self);
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
  visage_class_draw_swatch (cr, GPOINTER_TO_INT (user_data), width, height);
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

      gtk_check_button_set_active (GTK_CHECK_BUTTON (check), TRUE);
      gtk_widget_set_tooltip_text (check, _("Show or Hide This Class"));
      gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (swatch), 16);
      gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (swatch), 16);
      gtk_widget_set_valign (swatch, GTK_ALIGN_CENTER);
      gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (swatch), draw_swatch,
                                      GINT_TO_POINTER (c), NULL);
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
      {
        GtkGesture *click = gtk_gesture_click_new ();

        g_object_set_data (G_OBJECT (click), "visage-class", GINT_TO_POINTER (c));
        g_signal_connect (click, "released", G_CALLBACK (legend_clicked), self);
        gtk_widget_add_controller (row, GTK_EVENT_CONTROLLER (click));
        if (!vg_class_is_long_tail (c))
          gtk_widget_set_tooltip_text (label, _("Click to paint with this class"));
      }
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
    case PROP_OPACITY:
      g_value_set_double (value, visage_image_view_get_opacity (self));
      break;
    case PROP_EDITING:
      g_value_set_boolean (value, self->editing);
      break;
    case PROP_TOOL:
      g_value_set_string (value, tools[self->tool]);
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
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (VISAGE_TYPE_OVERLAY_AREA);
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

  gtk_widget_class_install_property_action (widget_class, "image.mode", "mode");
  gtk_widget_class_install_action (widget_class, "image.zoom-in", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "image.zoom-out", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "image.zoom-fit", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "image.pan", "(ii)", pan_action);
  gtk_widget_class_install_action (widget_class, "image.toggle-class", "i",
                                   toggle_class_action);
  gtk_widget_class_install_action (widget_class, "image.show-all-classes", NULL,
                                   show_all_action);

  gtk_widget_class_install_property_action (widget_class, "image.editing", "editing");
  gtk_widget_class_install_property_action (widget_class, "image.tool", "tool");
  gtk_widget_class_install_property_action (widget_class, "image.paint-class", "paint-class");
  gtk_widget_class_install_property_action (widget_class, "image.protect-class",
                                            "protect-class");
  gtk_widget_class_install_action (widget_class, "image.class-digit", "i", class_digit_action);
  gtk_widget_class_install_action (widget_class, "image.brush-bigger", NULL, brush_size_action);
  gtk_widget_class_install_action (widget_class, "image.brush-smaller", NULL,
                                   brush_size_action);
  gtk_widget_class_install_action (widget_class, "image.undo", NULL, undo_action);
  gtk_widget_class_install_action (widget_class, "image.redo", NULL, undo_action);
  gtk_widget_class_install_action (widget_class, "image.start-from-prediction", NULL,
                                   from_prediction_action);
  gtk_widget_class_install_action (widget_class, "image.swap-all", NULL, swap_all_action);
  gtk_widget_class_install_action (widget_class, "image.polygon-fill", NULL, polygon_action);
  gtk_widget_class_install_action (widget_class, "image.polygon-cancel", NULL, polygon_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_e, 0, "image.editing", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_b, 0, "image.tool", "s", "brush");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_x, 0, "image.tool", "s",
                                       "eraser");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, 0, "image.tool", "s", "fill");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_p, 0, "image.tool", "s",
                                       "polygon");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_m, 0, "image.tool", "s", "swap");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_bracketright, 0,
                                       "image.brush-bigger", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_bracketleft, 0,
                                       "image.brush-smaller", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z, GDK_CONTROL_MASK, "image.undo",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z,
                                       GDK_CONTROL_MASK | GDK_SHIFT_MASK, "image.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Z,
                                       GDK_CONTROL_MASK | GDK_SHIFT_MASK, "image.redo", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Return, 0, "image.polygon-fill",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Enter, 0,
                                       "image.polygon-fill", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "image.polygon-cancel",
                                       NULL);

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
  build_legend (self);
  gtk_range_set_value (GTK_RANGE (self->opacity_scale),
                       visage_overlay_area_get_opacity (self->overlay_area));
  g_signal_connect (self->opacity_scale, "value-changed", G_CALLBACK (opacity_changed), self);

  motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self->overlay_area), motion);

  init_editing (self);
}
