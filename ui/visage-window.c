/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-window"

#include "config.h"

#include <glib/gi18n.h>

#include "visage-resources.h"
#include "visage-window.h"

struct _VisageWindow
{
  AdwApplicationWindow parent_instance;

  /* Template widgets */
  AdwHeaderBar *header_bar;
  GtkMenuButton *primary_menu_button;
  GtkStack *main_stack;
  AdwStatusPage *empty_page;
};

G_DEFINE_FINAL_TYPE (VisageWindow, visage_window, ADW_TYPE_APPLICATION_WINDOW)

static void
visage_window_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), VISAGE_TYPE_WINDOW);
  G_OBJECT_CLASS (visage_window_parent_class)->dispose (object);
}

static void
visage_window_class_init (VisageWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = visage_window_dispose;

  visage_resources_ensure ();

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/visage/Visage/visage-window.ui");
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, header_bar);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, primary_menu_button);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, empty_page);
}

static void
visage_window_init (VisageWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

VisageWindow *
visage_window_new (GtkApplication *application)
{
  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);

  return g_object_new (VISAGE_TYPE_WINDOW, "application", application, NULL);
}

const char *
visage_window_get_visible_page (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return gtk_stack_get_visible_child_name (self->main_stack);
}
