/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Mask corrections in the window: the annotation of the image shown is saved into
 * <split>/annotations, recovered after a crash, and never lost without a question (another
 * image, closing the window, writing over the data set's own mask). */
#define G_LOG_DOMAIN "visage-window"

#include "config.h"

#include <glib/gi18n.h>

#include "visage-image-view.h"
#include "visage-window-private.h"

static void
update_title (VisageWindow *self)
{
  g_autofree char *title = NULL;

  /* A dot before the name marks unsaved changes, as GNOME's editors do. */
  if (visage_window_get_modified (self))
    title = g_strdup_printf ("• %s", _("Visage"));
  else
    title = g_strdup (_("Visage"));
  gtk_window_set_title (GTK_WINDOW (self), title);
  adw_view_switcher_title_set_title (self->switcher_title, title);
  /* The header bar shows its view switcher rather than the title: the mark is in it too. */
  gtk_widget_set_visible (self->unsaved_label, visage_window_get_modified (self));
  gtk_widget_set_visible (self->unsaved_label_narrow, visage_window_get_modified (self));
}

/* The annotation's unsaved state changed: the title, Save, and the gallery's mark. */
static void
annotation_modified (VisageWindow *self)
{
  update_title (self);
  _visage_window_actions_update (self);
  if (self->shown != NULL)
    visage_sample_set_unsaved (self->shown, visage_window_get_modified (self)
                                            || visage_annotation_has_recovery (self->annotation));
}

char *
_visage_window_shown_truth_path (VisageWindow *self)
{
  if (self->shown == NULL)
    return NULL;
  if (self->annotations_dir != NULL)
    {
      g_autofree char *name = g_strconcat (visage_sample_get_name (self->shown), ".png", NULL);
      g_autofree char *path = g_build_filename (self->annotations_dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }
  return g_strdup (visage_sample_get_mask_path (self->shown));
}

/* Saved annotations override the split's masks, for the evaluation too. */
void
_visage_window_use_annotations (VisageWindow *self)
{
  g_autoptr (GError) error = NULL;

  g_free (self->annotations_dir);
  self->annotations_dir = g_build_filename (self->split_dir, "annotations", NULL);
  if (!vg_split_has_masks (self->split)
      || !g_file_test (self->annotations_dir, G_FILE_TEST_IS_DIR))
    return;
  if (!vg_split_use_annotations (self->split, self->annotations_dir, &error))
    _visage_window_toast (self, error->message);
}

static void
present_dialog (VisageWindow *self, AdwMessageDialog *dialog)
{
  if (self->dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->dialog));
  self->dialog = dialog;
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Images of the split whose unsaved changes a crash left behind. */
void
_visage_window_announce_recoveries (VisageWindow *self)
{
  g_autofree char *message = NULL;
  guint n = 0;

  for (int i = 0; i < self->split->n_samples; i++)
    {
      const VgSample *s = &self->split->samples[i];
      g_autofree char *path = visage_annotation_recovery_path (s->image_path);
      g_autoptr (VisageSample) sample =
        g_list_model_get_item (G_LIST_MODEL (self->samples), (guint) i);
      gboolean unsaved = g_file_test (path, G_FILE_TEST_IS_REGULAR);

      n += unsaved;
      /* The gallery marks the corrected images and those with unsaved changes. */
      visage_sample_set_unsaved (sample, unsaved);
      visage_sample_set_corrected (sample, s->mask_path != NULL
                                           && g_str_has_prefix (s->mask_path,
                                                                self->annotations_dir));
    }
  if (n == 0)
    return;
  message = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                          "%u image has unsaved mask changes: open it to "
                                          "recover them",
                                          "%u images have unsaved mask changes: open them to "
                                          "recover them", n), n);
  _visage_window_toast (self, message);
}

static void
recover_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  g_autoptr (VisageAnnotation) annotation = user_data;
  VisageWindow *self = VISAGE_WINDOW (gtk_window_get_transient_for (GTK_WINDOW (dialog)));
  g_autoptr (GError) error = NULL;

  if (self->annotation != annotation)
    return;  /* another image is shown by now: its file stays for later */
  if (g_strcmp0 (response, "recover") == 0)
    {
      if (!visage_annotation_recover (annotation, &error))
        _visage_window_toast (self, error->message);
    }
  else if (g_strcmp0 (response, "discard") == 0)
    visage_annotation_discard_recovery (annotation);
}

/* How long ago a change was made, for a sentence such as "changes from %s". */
static char *
describe_age (gint64 seconds)
{
  gint64 minutes = seconds / 60, hours = seconds / 3600, days = seconds / 86400;

  if (seconds < 60)
    /* TRANSLATORS: how old unsaved changes are: "changes from less than a minute ago" */
    return g_strdup (_("less than a minute ago"));
  if (minutes < 60)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d minute ago", "%d minutes ago",
                                         (gulong) minutes), (int) minutes);
  if (hours < 48)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d hour ago", "%d hours ago",
                                         (gulong) hours), (int) hours);
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d day ago", "%d days ago",
                                       (gulong) days), (int) days);
}

static void
ask_recover (VisageWindow *self)
{
  g_autofree char *age = describe_age (visage_annotation_get_recovery_age (self->annotation));
  /* TRANSLATORS: %s is the name of an image, then how long ago the changes were made
   * ("5 minutes ago") */
  g_autofree char *body = g_strdup_printf (_("The mask of %s has changes from %s that were "
                                             "never saved."),
                                           visage_sample_get_name (self->shown), age);
  AdwMessageDialog *dialog;

  dialog = _visage_window_new_question (self, _("Recover Unsaved Changes?"), body, "later",
                                        _("_Later"), "discard", _("_Discard"), "recover",
                                        _("_Recover"));
  g_signal_connect (dialog, "response", G_CALLBACK (recover_response),
                    g_object_ref (self->annotation));
  present_dialog (self, dialog);
}

void
_visage_window_leave_annotation (VisageWindow *self)
{
  g_autoptr (GError) error = NULL;

  if (self->annotation == NULL)
    return;
  if (visage_annotation_get_modified (self->annotation))
    {
      if (!visage_annotation_write_recovery (self->annotation, &error))
        g_warning ("%s", error->message);
      else if (!self->disposed)
        {
          g_autofree char *base = g_path_get_basename (
            visage_annotation_get_image_path (self->annotation));
          /* TRANSLATORS: %s is the name of an image file */
          g_autofree char *message = g_strdup_printf (_("The unsaved mask changes of %s are "
                                                        "kept: open it again to recover "
                                                        "them"), base);
          _visage_window_toast (self, message);
        }
    }
  g_signal_handlers_disconnect_by_data (self->annotation, self);
  if (visage_image_view_get_annotation (self->image_view) == self->annotation)
    visage_image_view_set_annotation (self->image_view, NULL);
  g_clear_object (&self->annotation);
  if (!self->disposed)
    {
      update_title (self);
      _visage_window_actions_update (self);
    }
}

void
_visage_window_attach_annotation (VisageWindow *self, const VgPrediction *prediction)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL, *target = NULL;

  if (self->annotation != NULL
      && g_strcmp0 (visage_annotation_get_image_path (self->annotation),
                    prediction->image_path) == 0)
    {
      /* The same image again (another model): the edits go on. */
      visage_image_view_set_annotation (self->image_view, self->annotation);
      return;
    }
  _visage_window_leave_annotation (self);
  if (self->shown == NULL || self->annotations_dir == NULL)
    return;  /* an image opened on its own has no annotations folder */
  name = g_strconcat (visage_sample_get_name (self->shown), ".png", NULL);
  target = g_build_filename (self->annotations_dir, name, NULL);
  self->annotation = visage_annotation_new (prediction->image_path, target, prediction->truth,
                                            prediction->height, prediction->width, &error);
  if (self->annotation == NULL)
    {
      _visage_window_toast (self, error->message);
      return;
    }
  g_signal_connect_swapped (self->annotation, "notify::modified",
                            G_CALLBACK (annotation_modified), self);
  visage_image_view_set_annotation (self->image_view, self->annotation);
  _visage_window_actions_update (self);
  update_title (self);
  if (visage_annotation_has_recovery (self->annotation))
    ask_recover (self);
}

gboolean
visage_window_save_annotation (VisageWindow *self, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *message = NULL;
  g_autofree char *base = NULL;

  g_return_val_if_fail (VISAGE_IS_WINDOW (self), FALSE);

  if (self->annotation == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _("No mask of a split’s image is shown"));
      return FALSE;
    }
  if (!visage_annotation_save (self->annotation, NULL, error))
    return FALSE;
  /* The evaluation takes the saved file as ground truth from now on. */
  if (self->split != NULL && vg_split_has_masks (self->split)
      && !vg_split_use_annotations (self->split, self->annotations_dir, &local))
    _visage_window_toast (self, local->message);
  /* The gallery marks the image corrected, and scores it against the saved mask. */
  if (self->shown != NULL)
    {
      visage_sample_set_corrected (self->shown, TRUE);
      visage_sample_set_unsaved (self->shown, FALSE);
      self->rescore = TRUE;
      _visage_window_request_prediction (self);
    }
  base = g_path_get_basename (visage_annotation_get_target_path (self->annotation));
  /* TRANSLATORS: %s is a mask file name, e.g. 17.png */
  message = g_strdup_printf (_("Saved %s into the annotations folder"), base);
  _visage_window_toast (self, message);
  return TRUE;
}

/* The split's own mask of the sample shown (not its annotation). */
static char *
original_mask_path (VisageWindow *self)
{
  g_autofree char *name = NULL;

  if (self->shown == NULL || self->split == NULL || !vg_split_has_masks (self->split))
    return NULL;
  name = g_strconcat (visage_sample_get_name (self->shown), ".png", NULL);
  return g_build_filename (self->split->masks_dir, name, NULL);
}

static void
over_truth_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  g_autoptr (VisageAnnotation) annotation = user_data;
  VisageWindow *self = VISAGE_WINDOW (gtk_window_get_transient_for (GTK_WINDOW (dialog)));
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;

  if (g_strcmp0 (response, "replace") != 0 || self->annotation != annotation
      || (path = original_mask_path (self)) == NULL)
    return;
  if (!visage_annotation_save (annotation, path, &error))
    _visage_window_toast (self, error->message);
  else
    _visage_window_toast (self, _("The original mask was replaced"));
}

void
_visage_window_ask_replace_truth (VisageWindow *self)
{
  g_autofree char *path = original_mask_path (self);
  g_autofree char *body = NULL;
  AdwMessageDialog *dialog;

  if (path == NULL || self->annotation == NULL)
    return;
  /* TRANSLATORS: %s is the path of a mask file of the data set */
  body = g_strdup_printf (_("%s will be overwritten with the corrected mask. The data set’s "
                            "own ground truth is then lost."), path);
  dialog = _visage_window_new_question (self, _("Replace the Original Mask?"), body, "cancel",
                                        _("_Cancel"), "replace", _("_Replace"), NULL, NULL);
  g_signal_connect (dialog, "response", G_CALLBACK (over_truth_response),
                    g_object_ref (self->annotation));
  present_dialog (self, dialog);
}

static void
close_response (AdwMessageDialog *dialog, const char *response, gpointer user_data)
{
  VisageWindow *self = VISAGE_WINDOW (gtk_window_get_transient_for (GTK_WINDOW (dialog)));
  g_autoptr (GError) error = NULL;

  if (g_strcmp0 (response, "save") == 0)
    {
      if (!visage_window_save_annotation (self, &error))
        {
          _visage_window_toast (self, error->message);
          return;
        }
    }
  else if (g_strcmp0 (response, "discard") == 0)
    {
      if (self->annotation != NULL)
        {
          visage_annotation_discard_recovery (self->annotation);
          g_signal_handlers_disconnect_by_data (self->annotation, self);
          visage_image_view_set_annotation (self->image_view, NULL);
          g_clear_object (&self->annotation);
        }
    }
  else
    return;
  self->unsaved_confirmed = TRUE;
  _visage_window_close_later (self);
}

gboolean
_visage_window_ask_save_changes (VisageWindow *self)
{
  g_autofree char *body = NULL;
  AdwMessageDialog *dialog;

  if (self->unsaved_confirmed || !visage_window_get_modified (self))
    return FALSE;
  /* TRANSLATORS: %s is the name of an image */
  body = g_strdup_printf (_("The mask of %s has unsaved changes. Changes that are not saved "
                            "are lost."), visage_sample_get_name (self->shown));
  dialog = _visage_window_new_question (self, _("Save Changes?"), body, "cancel",
                                        _("_Cancel"), "discard", _("_Discard"), "save",
                                        _("_Save"));
  g_signal_connect (dialog, "response", G_CALLBACK (close_response), NULL);
  present_dialog (self, dialog);
  return TRUE;
}

VisageAnnotation *
visage_window_get_annotation (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return self->annotation;
}

gboolean
visage_window_get_modified (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), FALSE);

  return self->annotation != NULL && visage_annotation_get_modified (self->annotation);
}

AdwMessageDialog *
visage_window_get_message_dialog (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return self->dialog;
}
