/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Mask editing in the image view: the tools (brush, eraser, fill, polygon, left/right
 * swap) applied by the primary button, the class painted, the brush size, the protected
 * class, undo and redo, and the actions and keys that drive them. */
#define G_LOG_DOMAIN "visage-image-view"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "visage-classes.h"
#include "visage-image-view-private.h"

/* In the order of Tool (visage-image-view-private.h). */
static const char *const tools[] = { "brush", "eraser", "fill", "polygon", "swap" };

/* Typing "1" then a digit within this time picks classes 10 to 18. */
#define CLASS_DIGIT_USEC (G_USEC_PER_SEC * 6 / 5)
/* A polygon closes on a click within this many widget pixels of its first corner. */
#define CLOSE_DISTANCE 8.0

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
    {
      update_edit_actions (self);
      _visage_image_view_truth_changed (self);
    }
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
  /* The mask being edited is the ground truth: show it (side by side shows it too). */
  if (editing && self->annotation != NULL)
    {
      const char *mode = visage_image_view_get_mode (self);

      if (g_str_equal (mode, "prediction") || g_str_equal (mode, "errors"))
        visage_image_view_set_mode (self, "truth");
    }
  /* While editing the primary button paints and the middle one pans. */
  visage_overlay_area_set_pan_button (self->overlay_area, editing ? GDK_BUTTON_MIDDLE : 0);
  gtk_revealer_set_reveal_child (self->edit_revealer, editing);
  gtk_widget_queue_draw (GTK_WIDGET (self->sketch));
  _visage_image_view_notify (self, PROP_EDITING);
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
        _visage_image_view_notify (self, PROP_TOOL);
        return;
      }
  g_warning ("unknown editing tool %s", tool);
}

static void
draw_paint_swatch (GtkDrawingArea *area, cairo_t *cr, int width, int height,
                   gpointer user_data)
{
  VisageImageView *self = user_data;

  visage_class_draw_palette_swatch (cr, _visage_image_view_get_palette (self),
                                    self->paint_class, width, height);
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
  _visage_image_view_notify (self, PROP_PAINT_CLASS);
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
  _visage_image_view_notify (self, PROP_BRUSH_SIZE);
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
  _visage_image_view_notify (self, PROP_PROTECT_CLASS);
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

void
_visage_image_view_init_edit (VisageImageView *self)
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

const char *
_visage_image_view_get_tool_name (VisageImageView *self)
{
  return tools[self->tool];
}

void
_visage_image_view_class_init_edit (GtkWidgetClass *widget_class)
{
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
}
