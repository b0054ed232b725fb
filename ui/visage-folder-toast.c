/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-folder-toast"

#include "config.h"

#include <glib/gi18n.h>

#include "visage-folder-toast.h"

#define FOLDER_KEY "visage-folder-toast-folder"

/* A press of the button, until the folder is open (or not: then a notice says why). */
typedef struct {
  GWeakRef overlay;
  char *folder;
} OpenRequest;

static void
open_request_free (OpenRequest *request)
{
  g_weak_ref_clear (&request->overlay);
  g_free (request->folder);
  g_free (request);
}

static void
folder_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  OpenRequest *request = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GtkWidget) overlay = NULL;

  if (!g_app_info_launch_default_for_uri_finish (result, &error)
      && (overlay = g_weak_ref_get (&request->overlay)) != NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Cannot open %s: %s"), request->folder,
                                               error->message);

      adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (text));
    }
  open_request_free (request);
}

static void
open_folder (AdwToast *toast, AdwToastOverlay *overlay)
{
  OpenRequest *request = g_new0 (OpenRequest, 1);
  g_autoptr (GFile) file = NULL;
  g_autofree char *uri = NULL;
  GdkAppLaunchContext *context = gdk_display_get_app_launch_context (gdk_display_get_default ());

  request->folder = g_strdup (visage_folder_toast_get_folder (toast));
  g_weak_ref_init (&request->overlay, overlay);
  file = g_file_new_for_path (request->folder);
  uri = g_file_get_uri (file);
  g_app_info_launch_default_for_uri_async (uri, G_APP_LAUNCH_CONTEXT (context), NULL,
                                           folder_opened, request);
  g_object_unref (context);
}

AdwToast *
visage_folder_toast_show (AdwToastOverlay *overlay, const char *title, const char *path)
{
  AdwToast *toast;
  char *folder;

  g_return_val_if_fail (ADW_IS_TOAST_OVERLAY (overlay), NULL);
  g_return_val_if_fail (title != NULL && path != NULL, NULL);

  folder = g_file_test (path, G_FILE_TEST_IS_DIR) ? g_strdup (path) : g_path_get_dirname (path);
  toast = adw_toast_new (title);
  adw_toast_set_timeout (toast, 10);
  adw_toast_set_button_label (toast, _("Open _Folder"));
  g_object_set_data_full (G_OBJECT (toast), FOLDER_KEY, folder, g_free);
  /* the overlay outlives its toasts */
  g_signal_connect (toast, "button-clicked", G_CALLBACK (open_folder), overlay);
  adw_toast_overlay_add_toast (overlay, toast);
  return toast;
}

const char *
visage_folder_toast_get_folder (AdwToast *toast)
{
  g_return_val_if_fail (ADW_IS_TOAST (toast), NULL);

  return g_object_get_data (G_OBJECT (toast), FOLDER_KEY);
}
