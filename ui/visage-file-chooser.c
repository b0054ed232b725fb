/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-file-chooser"

#include "config.h"

#include <glib/gi18n.h>

#include "visage-file-chooser.h"

typedef struct {
  void (*read_choices) (GtkFileChooser *chooser, gpointer user_data);
  VisageChosenFunc chosen;
  gpointer user_data;
  GDestroyNotify destroy;
} Pending;

static void
responded (GtkNativeDialog *dialog, int response, gpointer data)
{
  Pending *pending = data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;

      if (path != NULL && pending->read_choices != NULL)
        pending->read_choices (GTK_FILE_CHOOSER (dialog), pending->user_data);
      if (path != NULL)
        pending->chosen (path, pending->user_data);
    }
  if (pending->destroy != NULL)
    pending->destroy (pending->user_data);
  g_free (pending);
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

void
visage_choose_path (GtkWindow *parent, const VisageChooserSpec *spec, VisageChosenFunc chosen,
                    gpointer user_data, GDestroyNotify destroy)
{
  GtkFileChooserNative *dialog;
  Pending *pending = g_new0 (Pending, 1);

  dialog = gtk_file_chooser_native_new (spec->title, parent, spec->action, spec->accept_label,
                                        _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  for (int i = 0; i < (int) G_N_ELEMENTS (spec->filters) && spec->filters[i] != NULL; i++)
    gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), spec->filters[i]);
  if (spec->folder != NULL)
    gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (dialog), spec->folder, NULL);
  if (spec->current_name != NULL)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), spec->current_name);
  if (spec->add_choices != NULL)
    spec->add_choices (GTK_FILE_CHOOSER (dialog), user_data);
  pending->read_choices = spec->read_choices;
  pending->chosen = chosen;
  pending->user_data = user_data;
  pending->destroy = destroy;
  g_signal_connect (dialog, "response", G_CALLBACK (responded), pending);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

VisageChooserRequest *
visage_chooser_request_new (gpointer owner, const char *what)
{
  VisageChooserRequest *request = g_new0 (VisageChooserRequest, 1);

  request->owner = g_object_ref (owner);
  request->what = g_strdup (what);
  return request;
}

void
visage_chooser_request_free (gpointer data)
{
  VisageChooserRequest *request = data;

  g_object_unref (request->owner);
  g_free (request->what);
  g_free (request);
}
