/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Training from the window: the Train dialog starts a run on the Training page, Open Run…
 * shows a run trained elsewhere from its folder, and closing the window while a model
 * trains asks first. */
#define G_LOG_DOMAIN "visage-window"

#include "config.h"

#include <glib/gi18n.h>

#include "visage-file-chooser.h"
#include "visage-train-dialog.h"
#include "visage-train-view.h"
#include "visage-window-private.h"

static void
train_dialog_start (VisageWindow *self, const VgTrainOptions *options)
{
  if (!visage_train_view_start (self->train_view, options))
    {
      _visage_window_toast (self, _("A training run is going on already"));
      return;
    }
  gtk_stack_set_visible_child_name (self->main_stack, "workbench");
  adw_view_stack_set_visible_child_name (self->view_stack, "training");
}

void
_visage_window_show_train_dialog (VisageWindow *self)
{
  if (self->train_dialog != NULL)
    {
      gtk_window_present (GTK_WINDOW (self->train_dialog));
      return;
    }
  self->train_dialog = visage_train_dialog_new (GTK_WINDOW (self), self->split_dir);
  g_object_add_weak_pointer (G_OBJECT (self->train_dialog), (gpointer *) &self->train_dialog);
  g_signal_connect_object (self->train_dialog, "start", G_CALLBACK (train_dialog_start), self,
                           G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (self->train_dialog));
}

/* A run's folder on the Training page (read there; a bad one is refused with a notice). */
void
visage_window_open_run (VisageWindow *self, const char *folder)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));
  g_return_if_fail (folder != NULL);

  if (!visage_train_view_open_run (self->train_view, folder))
    return;
  gtk_stack_set_visible_child_name (self->main_stack, "workbench");
  adw_view_stack_set_visible_child_name (self->view_stack, "training");
}

static void
run_folder_chosen (const char *path, gpointer user_data)
{
  visage_window_open_run (VISAGE_WINDOW (user_data), path);
}

/* win.open-run: choose a run's folder (one visage-cli train wrote, on this machine or on a
 * cluster's rank 0) to plot; starting in the opened run's parent folder. */
void
_visage_window_choose_run (VisageWindow *self)
{
  const char *shown = visage_train_view_get_run_folder (self->train_view);
  g_autoptr (GFile) folder = NULL;

  if (shown != NULL)
    {
      g_autofree char *parent = g_path_get_dirname (shown);

      folder = g_file_new_for_path (parent);
    }
  visage_choose_path (GTK_WINDOW (self),
                      &(VisageChooserSpec) { .title = _("Open a Training Run’s Folder"),
                                             .action = GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                             .accept_label = _("_Open"),
                                             .folder = folder },
                      run_folder_chosen, self, NULL);
}

static void
close_dialog_response (VisageWindow *self, const char *response)
{
  if (!g_str_equal (response, "stop"))
    return;
  self->close_confirmed = TRUE;
  visage_train_view_stop (self->train_view);
  _visage_window_close_later (self);
}

/* Closing the window stops a training run: ask first. */
gboolean
_visage_window_ask_stop_training (VisageWindow *self)
{
  AdwMessageDialog *dialog;

  if (self->close_confirmed || !visage_train_view_get_running (self->train_view))
    return FALSE;
  dialog = _visage_window_new_question (
    self, _("Stop Training?"),
    _("A model is training. Closing the window stops the run; last.safetensors keeps it up "
      "to its last checkpoint (at most 10 minutes old), and the Train dialog can resume it "
      "later."),
    "cancel", _("_Keep Training"), "stop", _("_Stop and Close"), NULL, NULL);
  g_signal_connect_object (dialog, "response", G_CALLBACK (close_dialog_response), self,
                           G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
  return TRUE;
}

VisageTrainView *
visage_window_get_train_view (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return self->train_view;
}

VisageTrainDialog *
visage_window_get_train_dialog (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return self->train_dialog;
}
