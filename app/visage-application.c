/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-application"

#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "visage-application.h"
#include "visage-resources.h"
#include "visage-window.h"
#include "vg-device.h"

struct _VisageApplication
{
  AdwApplication parent_instance;

  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (VisageApplication, visage_application, ADW_TYPE_APPLICATION)

void
visage_i18n_init (void)
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

VisageApplication *
visage_application_new (GApplicationFlags flags)
{
  return g_object_new (VISAGE_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", flags,
                       "resource-base-path", "/io/github/visage/Visage",
                       NULL);
}

GSettings *
visage_application_get_settings (VisageApplication *self)
{
  g_return_val_if_fail (VISAGE_IS_APPLICATION (self), NULL);

  return self->settings;
}

static void
restore_window_state (VisageApplication *self, GtkWindow *window)
{
  if (self->settings == NULL)
    return;

  gtk_window_set_default_size (window,
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (window);

  g_settings_bind (self->settings, "window-width", window, "default-width",
                   G_SETTINGS_BIND_SET);
  g_settings_bind (self->settings, "window-height", window, "default-height",
                   G_SETTINGS_BIND_SET);
  g_settings_bind (self->settings, "window-maximized", window, "maximized",
                   G_SETTINGS_BIND_SET);
}

static void
visage_application_activate (GApplication *app)
{
  VisageApplication *self = VISAGE_APPLICATION (app);
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    {
      window = GTK_WINDOW (visage_window_new (GTK_APPLICATION (app)));
      restore_window_state (self, window);
    }

  gtk_window_present (window);
}

static void
visage_application_startup (GApplication *app)
{
  VisageApplication *self = VISAGE_APPLICATION (app);
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = NULL;

  G_APPLICATION_CLASS (visage_application_parent_class)->startup (app);

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, APP_ID, TRUE);
  if (schema != NULL)
    self->settings = g_settings_new (APP_ID);
  else
    g_warning ("GSettings schema %s is not installed; preferences will not be kept", APP_ID);
}

static void
visage_application_dispose (GObject *object)
{
  VisageApplication *self = VISAGE_APPLICATION (object);

  g_clear_object (&self->settings);
  G_OBJECT_CLASS (visage_application_parent_class)->dispose (object);
}

static void
visage_application_class_init (VisageApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = visage_application_dispose;

  visage_resources_ensure ();
  app_class->activate = visage_application_activate;
  app_class->startup = visage_application_startup;
}

static void
visage_application_about_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  static const char *developers[] = { "The Visage developers", NULL };
  VisageApplication *self = user_data;
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));
  char devices[512];
  g_autofree char *debug_info = NULL;

  vg_device_describe (devices, sizeof devices);
  debug_info = g_strdup_printf ("Visage %s\nCompute: %s\n", PACKAGE_VERSION, devices);

  adw_show_about_window (window,
                         "application-name", _("Visage"),
                         "application-icon", APP_ID,
                         "developer-name", _("The Visage developers"),
                         "version", PACKAGE_VERSION,
                         "comments", _("Face parsing workbench: inspect, train and correct "
                                       "19-class face segmentation models"),
                         "developers", developers,
                         "copyright", "© 2026 The Visage developers",
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "debug-info", debug_info,
                         "translator-credits", _("translator-credits"),
                         NULL);
}

static void
visage_application_quit_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static const GActionEntry app_actions[] = {
  { .name = "quit", .activate = visage_application_quit_action },
  { .name = "about", .activate = visage_application_about_action },
};

static void
visage_application_init (VisageApplication *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions),
                                   self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit",
                                         (const char *[]) { "<primary>q", NULL });
}
