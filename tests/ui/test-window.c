/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The workbench window: opens with its empty state, menu and actions wired. */
#include "config.h"

#include <stdio.h>

#include <adwaita.h>

#include "visage-application.h"
#include "visage-window.h"
#include "ui-test-util.h"
#include "test-register.h"

static GtkWindow *
find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* transfer none */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GtkWindow) window = g_list_model_get_item (toplevels, i);
      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type))
        return window;
    }
  return NULL;
}

static gboolean
about_shown (gpointer data)
{
  return find_toplevel (ADW_TYPE_ABOUT_WINDOW) != NULL;
}

static gboolean
window_mapped (gpointer data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (data));
}

VG_TEST ("/window/empty-state", test_window_empty_state)
{
  g_autoptr (VisageApplication) app = visage_application_new (G_APPLICATION_NON_UNIQUE);
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);  /* the memory backend's */
  g_autoptr (GError) error = NULL;
  VisageWindow *window;
  GtkWindow *about;

  /* Without files to open at start-up, the window opens empty. */
  g_settings_set_boolean (settings, "restore-session", FALSE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_activate (G_APPLICATION (app));

  window = VISAGE_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  g_assert_nonnull (window);
  spin_until (window_mapped, window);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (window)));
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "Visage");
  g_assert_cmpstr (visage_window_get_visible_page (window), ==, "empty");

  /* The primary menu's commands exist as actions, with the usual accelerator. */
  g_assert_true (g_action_group_has_action (G_ACTION_GROUP (app), "about"));
  g_assert_true (g_action_group_has_action (G_ACTION_GROUP (app), "quit"));
  {
    g_auto (GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app),
                                                                   "app.quit");
    g_assert_cmpstr (accels[0], ==, "<Control>q");
  }

  /* About opens a real about window over the main window. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  spin_until (about_shown, NULL);
  about = find_toplevel (ADW_TYPE_ABOUT_WINDOW);
  g_assert_nonnull (about);
  g_assert_true (gtk_window_get_transient_for (about) == GTK_WINDOW (window));
  g_assert_cmpstr (adw_about_window_get_version (ADW_ABOUT_WINDOW (about)), ==,
                   PACKAGE_VERSION);
  gtk_window_destroy (about);

  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char *argv[])
{
  char *scratch_dir = NULL;
  int status;

  if ((status = ui_test_init (&argc, &argv, "window", &scratch_dir)) >= 0)
    return status;
  vg_test_add_registered ();
  return ui_test_run (&scratch_dir, NULL);
}
