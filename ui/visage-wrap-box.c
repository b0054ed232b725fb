/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A box whose children wrap onto further rows. Children are laid out in order with their
 * natural widths; a child that does not fit in the rest of a row starts the next one. The
 * "spacing" between children in a row and "row-spacing" between rows are properties. */
#define G_LOG_DOMAIN "visage-wrap-box"

#include "config.h"

#include "visage-wrap-box.h"

struct _VisageWrapBox
{
  GtkWidget parent_instance;

  int spacing;      /* between children in a row */
  int row_spacing;  /* between rows */
};

static void visage_wrap_box_buildable_init (GtkBuildableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (VisageWrapBox, visage_wrap_box, GTK_TYPE_WIDGET,
                               G_IMPLEMENT_INTERFACE (GTK_TYPE_BUILDABLE,
                                                      visage_wrap_box_buildable_init))

enum {
  PROP_0,
  PROP_SPACING,
  PROP_ROW_SPACING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

GtkWidget *
visage_wrap_box_new (void)
{
  return g_object_new (VISAGE_TYPE_WRAP_BOX, NULL);
}

void
visage_wrap_box_append (VisageWrapBox *self, GtkWidget *child)
{
  g_return_if_fail (VISAGE_IS_WRAP_BOX (self));
  g_return_if_fail (GTK_IS_WIDGET (child) && gtk_widget_get_parent (child) == NULL);

  gtk_widget_set_parent (child, GTK_WIDGET (self));
}

/* The width a child takes in a row of the given width. */
static int
child_width (GtkWidget *child, int width)
{
  int min, nat;

  gtk_widget_measure (child, GTK_ORIENTATION_HORIZONTAL, -1, &min, &nat, NULL, NULL);
  return MAX (min, MIN (nat, width));
}

static int
child_height (GtkWidget *child, int width)
{
  int min, nat;

  gtk_widget_measure (child, GTK_ORIENTATION_VERTICAL, width, &min, &nat, NULL, NULL);
  return nat;
}

/* Give the children of one row (width, in rows[]) their places, centred in its height. */
static void
allocate_row (GPtrArray *row, const int *widths, int y, int height, int spacing)
{
  int x = 0;

  for (guint i = 0; i < row->len; i++)
    {
      gtk_widget_size_allocate (g_ptr_array_index (row, i),
                                &(GtkAllocation) { x, y, widths[i], height }, -1);
      x += widths[i] + spacing;
    }
}

/* Lay the children out in rows of the given width, allocating them when allocate is set;
 * returns the height the rows take. */
static int
layout (VisageWrapBox *self, int width, gboolean allocate)
{
  g_autoptr (GPtrArray) row = g_ptr_array_new ();
  g_autoptr (GArray) widths = g_array_new (FALSE, FALSE, sizeof (int));
  int x = 0, y = 0, row_height = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      int w;

      if (!gtk_widget_should_layout (child))
        continue;
      w = child_width (child, width);
      if (row->len > 0 && x + self->spacing + w > width)
        {
          if (allocate)
            allocate_row (row, (const int *) widths->data, y, row_height, self->spacing);
          y += row_height + self->row_spacing;
          x = row_height = 0;
          g_ptr_array_set_size (row, 0);
          g_array_set_size (widths, 0);
        }
      x += (row->len > 0 ? self->spacing : 0) + w;
      row_height = MAX (row_height, child_height (child, w));
      g_ptr_array_add (row, child);
      g_array_append_val (widths, w);
    }
  if (row->len == 0)
    return 0;
  if (allocate)
    allocate_row (row, (const int *) widths->data, y, row_height, self->spacing);
  return y + row_height;
}

static GtkSizeRequestMode
visage_wrap_box_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static void
visage_wrap_box_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                         int *minimum, int *natural, int *minimum_baseline,
                         int *natural_baseline)
{
  VisageWrapBox *self = VISAGE_WRAP_BOX (widget);

  *minimum = *natural = 0;
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      /* At least the widest child; at best all of them in one row. */
      int n = 0;

      for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
           child = gtk_widget_get_next_sibling (child))
        {
          int min, nat;

          if (!gtk_widget_should_layout (child))
            continue;
          gtk_widget_measure (child, orientation, -1, &min, &nat, NULL, NULL);
          *minimum = MAX (*minimum, min);
          *natural += nat + (n++ > 0 ? self->spacing : 0);
        }
      return;
    }
  if (for_size < 0)
    {
      int min, nat;

      gtk_widget_measure (widget, GTK_ORIENTATION_HORIZONTAL, -1, &min, &nat, NULL, NULL);
      for_size = nat;
    }
  *minimum = *natural = layout (self, for_size, FALSE);
}

static void
visage_wrap_box_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  layout (VISAGE_WRAP_BOX (widget), width, TRUE);
}

static void
visage_wrap_box_dispose (GObject *object)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (object))) != NULL)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (visage_wrap_box_parent_class)->dispose (object);
}

static void
visage_wrap_box_get_property (GObject *object, guint prop_id, GValue *value,
                              GParamSpec *pspec)
{
  VisageWrapBox *self = VISAGE_WRAP_BOX (object);

  switch (prop_id)
    {
    case PROP_SPACING:
      g_value_set_int (value, self->spacing);
      break;
    case PROP_ROW_SPACING:
      g_value_set_int (value, self->row_spacing);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_wrap_box_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  VisageWrapBox *self = VISAGE_WRAP_BOX (object);

  switch (prop_id)
    {
    case PROP_SPACING:
      self->spacing = g_value_get_int (value);
      break;
    case PROP_ROW_SPACING:
      self->row_spacing = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      return;
    }
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

static void
visage_wrap_box_add_child (GtkBuildable *buildable, GtkBuilder *builder, GObject *child,
                           const char *type)
{
  if (GTK_IS_WIDGET (child))
    visage_wrap_box_append (VISAGE_WRAP_BOX (buildable), GTK_WIDGET (child));
  else
    g_warning ("A VisageWrapBox holds widgets, not a %s", G_OBJECT_TYPE_NAME (child));
}

static void
visage_wrap_box_buildable_init (GtkBuildableIface *iface)
{
  iface->add_child = visage_wrap_box_add_child;
}

static void
visage_wrap_box_class_init (VisageWrapBoxClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = visage_wrap_box_dispose;
  object_class->get_property = visage_wrap_box_get_property;
  object_class->set_property = visage_wrap_box_set_property;
  widget_class->get_request_mode = visage_wrap_box_get_request_mode;
  widget_class->measure = visage_wrap_box_measure;
  widget_class->size_allocate = visage_wrap_box_size_allocate;

  properties[PROP_SPACING] =
    g_param_spec_int ("spacing", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_ROW_SPACING] =
    g_param_spec_int ("row-spacing", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  gtk_widget_class_set_css_name (widget_class, "wrapbox");
}

static void
visage_wrap_box_init (VisageWrapBox *self)
{
}
