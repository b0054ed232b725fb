/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-application"

#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "visage-application.h"
#include "visage-paths.h"
#include "visage-resources.h"
#include "visage-sample.h"
#include "visage-window.h"
#include "vg-device.h"
#include "vg-known-models.h"

/* --screenshot gives up when the window has not settled after this long. */
#define SCREENSHOT_TIMEOUT_S 120

struct _VisageApplication
{
  AdwApplication parent_instance;

  GSettings *settings;        /* NULL when the schema is not installed: defaults, no abort */
  char *split_dir;            /* --split, absolute */
  char *model_path;           /* --model, absolute */
  char *image_path;           /* --image, absolute */
  char *run_dir;              /* --run, absolute */
  gboolean evaluate;          /* --evaluate */
  gulong evaluate_handler;    /* on the window's notify::busy until --evaluate starts */
  char *screenshot_path;      /* --screenshot, absolute */
  gboolean screenshot_done;
  int screenshot_status;
  guint settled_frames;
  guint screenshot_tick;      /* the frame callback, once the window has loaded */
  guint screenshot_timeout;   /* gives up after SCREENSHOT_TIMEOUT_S */
};

G_DEFINE_FINAL_TYPE (VisageApplication, visage_application, ADW_TYPE_APPLICATION)

void
visage_i18n_init (void)
{
  /* `meson devenv` (and the tests) set it to the build tree's compiled translations */
  const char *localedir = g_getenv ("VISAGE_LOCALEDIR");

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL && localedir[0] != '\0' ? localedir
                                                                              : LOCALEDIR);
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

static gboolean
is_split_dir (const char *dir)
{
  g_autofree char *images = g_build_filename (dir, "images", NULL);

  return g_file_test (images, G_FILE_TEST_IS_DIR);
}

/* The split to open without --split: the course's validation split beside the source
 * tree (where the data set is shared with the project) when it exists, else the last
 * split used. */
static char *
default_split (VisageApplication *self)
{
  g_autofree char *shared = g_build_filename (VISAGE_SOURCE_DIR, "..", "shared", "celebamask",
                                              "val", NULL);
  g_autofree char *last = NULL;

  if (is_split_dir (shared))
    return g_canonicalize_filename (shared, NULL);
  if (self->settings != NULL)
    last = g_settings_get_string (self->settings, "last-split");
  if (last != NULL && *last != '\0' && is_split_dir (last))
    return g_steal_pointer (&last);
  return NULL;
}

static gint64
modified_time (const char *path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 ? (gint64) st.st_mtime : G_MININT64;
}

/* The model to load without --model where none ships with the program (the window loads
 * a shipped one by its preference, visage_window_load_bundled_model): the newest of the
 * models trained here (vg_recent_models_newest) and the last model loaded. */
static char *
default_model (VisageApplication *self)
{
  g_autofree char *last = NULL;
  g_autofree char *trained = NULL;

  trained = vg_recent_models_newest ();
  if (self->settings != NULL)
    last = g_settings_get_string (self->settings, "last-model");
  if (last == NULL || *last == '\0' || !g_file_test (last, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&trained);
  if (trained == NULL || modified_time (last) > modified_time (trained))
    return g_steal_pointer (&last);
  return g_steal_pointer (&trained);
}

static void
open_initial_files (VisageApplication *self, VisageWindow *window)
{
  gboolean restore = self->settings == NULL
                     || g_settings_get_boolean (self->settings, "restore-session");
  g_autofree char *split = NULL;
  g_autofree char *model = NULL;

  /* An image given alone is shown alone. */
  split = self->split_dir != NULL ? g_strdup (self->split_dir)
          : restore && self->image_path == NULL ? default_split (self) : NULL;
  /* The model first: the service runs jobs in order, so the first image shown is
   * predicted with it. A shipped one (the preferred of visage-s and visage-fast) before
   * the models of this computer. */
  if (self->model_path != NULL)
    visage_window_load_model (window, self->model_path);
  else if (restore && !visage_window_load_bundled_model (window)
           && (model = default_model (self)) != NULL)
    visage_window_load_model (window, model);
  if (split != NULL)
    visage_window_open_split (window, split);
  if (self->image_path != NULL)
    visage_window_open_image (window, self->image_path);
  if (self->run_dir != NULL)
    visage_window_open_run (window, self->run_dir);
}

/* --evaluate: once the split and the model have loaded (the window is no longer busy),
 * evaluate and show the result. */
static void
evaluate_when_loaded (VisageApplication *self, GParamSpec *pspec, VisageWindow *window)
{
  if (visage_window_get_busy (window))
    return;
  g_clear_signal_handler (&self->evaluate_handler, window);
  if (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "evaluate"))
    {
      visage_window_set_visible_view (window, "evaluation");
      g_action_group_activate_action (G_ACTION_GROUP (window), "evaluate", NULL);
    }
  else
    {
      g_printerr ("visage: --evaluate needs a split with masks and a model\n");
      self->evaluate = FALSE;
      self->screenshot_status = 1; /* a picture is still taken */
    }
}

static void
visage_application_activate (GApplication *app)
{
  VisageApplication *self = VISAGE_APPLICATION (app);
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    {
      window = GTK_WINDOW (visage_window_new (GTK_APPLICATION (app), self->settings));
      restore_window_state (self, window);
      open_initial_files (self, VISAGE_WINDOW (window));
      if (self->evaluate)
        {
          self->evaluate_handler = g_signal_connect_swapped (window, "notify::busy",
                                                             G_CALLBACK (evaluate_when_loaded),
                                                             self);
          evaluate_when_loaded (self, NULL, VISAGE_WINDOW (window));
        }
    }

  gtk_window_present (window);
}

/* ---- --screenshot ----------------------------------------------------------------------- */

/* Whether what --evaluate waits for (if anything) has happened: an evaluation finished. */
static gboolean
evaluation_done (VisageApplication *self, VisageWindow *window)
{
  return !self->evaluate
         || (visage_window_get_evaluation (window) != NULL && !visage_window_get_working (window));
}

/* Every frame once the window has loaded, until it settles (the visible thumbnails
 * decoded, nothing loading again), then a few more so that all of it is drawn, then the
 * picture. */
static gboolean
screenshot_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
{
  VisageApplication *self = user_data;
  VisageWindow *window = VISAGE_WINDOW (widget);
  g_autoptr (GError) error = NULL;

  if (self->screenshot_done)
    return G_SOURCE_REMOVE;  /* timed out */
  if (visage_window_get_busy (window) || visage_sample_get_n_loading () > 0
      || !evaluation_done (self, window))
    {
      self->settled_frames = 0;
      return G_SOURCE_CONTINUE;
    }
  if (++self->settled_frames < 3)
    return G_SOURCE_CONTINUE;

  if (!visage_window_save_screenshot (window, self->screenshot_path, &error))
    {
      /* A frame that rendered nothing (the view was rebuilt just then): try the next. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_FAILED))
        {
          g_debug ("no picture yet: %s", error->message);
          self->settled_frames = 0;
          return G_SOURCE_CONTINUE;
        }
      g_printerr ("visage: %s\n", error->message);
      self->screenshot_status = 1;
    }
  self->screenshot_done = TRUE;
  return G_SOURCE_REMOVE;
}

/* The window has loaded (split open, model loaded, the first image predicted) and, with
 * --evaluate, evaluated: count frames from now. Called on its notify::busy and
 * notify::working, so nothing runs each frame while it works. */
static void
screenshot_when_loaded (VisageApplication *self, GParamSpec *pspec, VisageWindow *window)
{
  if (self->screenshot_tick != 0 || visage_window_get_busy (window)
      || !evaluation_done (self, window))
    return;
  self->screenshot_tick = gtk_widget_add_tick_callback (GTK_WIDGET (window), screenshot_tick,
                                                        self, NULL);
}

static gboolean
screenshot_timed_out (gpointer user_data)
{
  VisageApplication *self = user_data;

  g_printerr ("visage: the window did not finish loading within %d s\n",
              SCREENSHOT_TIMEOUT_S);
  self->screenshot_status = 1;
  self->screenshot_done = TRUE;
  self->screenshot_timeout = 0;
  return G_SOURCE_REMOVE;
}

/* Run the window until the screenshot is written; returns the exit status. */
static int
take_screenshot (VisageApplication *self)
{
  g_autoptr (GError) error = NULL;
  GtkWindow *window;

  /* Another instance running must not receive this command line instead. */
  g_application_set_flags (G_APPLICATION (self),
                           g_application_get_flags (G_APPLICATION (self))
                           | G_APPLICATION_NON_UNIQUE);
  if (!g_application_register (G_APPLICATION (self), NULL, &error))
    {
      g_printerr ("visage: %s\n", error->message);
      return 1;
    }
  g_application_activate (G_APPLICATION (self));
  window = gtk_application_get_active_window (GTK_APPLICATION (self));
  /* The picture shows the window, not notices over it. */
  visage_window_set_quiet (VISAGE_WINDOW (window), TRUE);
  self->screenshot_timeout = g_timeout_add_seconds (SCREENSHOT_TIMEOUT_S, screenshot_timed_out,
                                                    self);
  g_signal_connect_swapped (window, "notify::busy", G_CALLBACK (screenshot_when_loaded), self);
  g_signal_connect_swapped (window, "notify::working", G_CALLBACK (screenshot_when_loaded),
                            self);
  screenshot_when_loaded (self, NULL, VISAGE_WINDOW (window));
  while (!self->screenshot_done)
    g_main_context_iteration (NULL, TRUE);
  g_clear_handle_id (&self->screenshot_timeout, g_source_remove);
  g_signal_handlers_disconnect_by_data (window, self);
  gtk_window_destroy (window);
  return self->screenshot_status;
}

static char *
absolute_option (GVariantDict *options, const char *name)
{
  const char *value = NULL;

  if (!g_variant_dict_lookup (options, name, "^&ay", &value) || value == NULL)
    return NULL;
  return g_canonicalize_filename (value, NULL);
}

static int
visage_application_handle_local_options (GApplication *app, GVariantDict *options)
{
  VisageApplication *self = VISAGE_APPLICATION (app);

  self->split_dir = absolute_option (options, "split");
  self->model_path = absolute_option (options, "model");
  self->image_path = absolute_option (options, "image");
  self->run_dir = absolute_option (options, "run");
  self->evaluate = g_variant_dict_contains (options, "evaluate");
  self->screenshot_path = absolute_option (options, "screenshot");
  if (self->screenshot_path != NULL)
    return take_screenshot (self);
  return -1;
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
  g_clear_pointer (&self->split_dir, g_free);
  g_clear_pointer (&self->model_path, g_free);
  g_clear_pointer (&self->image_path, g_free);
  g_clear_pointer (&self->run_dir, g_free);
  g_clear_pointer (&self->screenshot_path, g_free);
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
  app_class->handle_local_options = visage_application_handle_local_options;
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
  GList *windows = g_list_copy (gtk_application_get_windows (GTK_APPLICATION (user_data)));

  /* Closing a window asks about unsaved mask changes first; the application ends with its
   * last window. */
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (GTK_WINDOW (l->data));
  g_list_free (windows);
}

static const GOptionEntry options[] = {
  { "split", 0, 0, G_OPTION_ARG_FILENAME, NULL,
    N_("Open this data split (a folder with images/ and masks/)"), N_("FOLDER") },
  { "model", 0, 0, G_OPTION_ARG_FILENAME, NULL,
    N_("Load this model (a .safetensors file)"), N_("FILE") },
  { "image", 0, 0, G_OPTION_ARG_FILENAME, NULL,
    N_("Parse this image (any JPEG or PNG) and show it on its own"), N_("FILE") },
  { "run", 0, 0, G_OPTION_ARG_FILENAME, NULL,
    N_("Show this training run’s folder (its log.csv) on the Training page"), N_("FOLDER") },
  { "evaluate", 0, 0, G_OPTION_ARG_NONE, NULL,
    N_("Evaluate the split once it and the model have loaded"), NULL },
  { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, NULL,
    N_("Once the window has loaded, save it as a PNG image and quit"), N_("FILE") },
  { NULL }
};

static const GActionEntry app_actions[] = {
  { .name = "quit", .activate = visage_application_quit_action },
  { .name = "about", .activate = visage_application_about_action },
};

static void
visage_application_init (VisageApplication *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions),
                                   self);
  g_application_add_main_option_entries (G_APPLICATION (self), options);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit",
                                         (const char *[]) { "<primary>q", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.open-split",
                                         (const char *[]) { "<primary>o", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.open-model",
                                         (const char *[]) { "<primary><shift>o", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.open-image",
                                         (const char *[]) { "<primary>i", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.save-annotation",
                                         (const char *[]) { "<primary>s", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.evaluate",
                                         (const char *[]) { "<primary>e", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.preferences",
                                         (const char *[]) { "<primary>comma", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.train",
                                         (const char *[]) { "<primary>t", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.next-image",
                                         (const char *[]) { "<alt>Right", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.previous-image",
                                         (const char *[]) { "<alt>Left", NULL });
}
