/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The main window: the image shown and its prediction, the split and the model, evaluation
 * and export, and the GObject. Its actions, mask corrections and training live in the files
 * visage-window-private.h lists. */
#define G_LOG_DOMAIN "visage-window"

#include "config.h"

#include <glib/gi18n.h>

#include "visage-folder-toast.h"
#include "visage-format.h"
#include "visage-resources.h"
#include "visage-window-private.h"

G_DEFINE_FINAL_TYPE (VisageWindow, visage_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_BUSY,
  PROP_WORKING,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

void
_visage_window_toast (VisageWindow *self, const char *message)
{
  AdwToast *toast;

  if (self->quiet)
    {
      g_message ("%s", message);
      return;
    }
  toast = adw_toast_new (message);
  adw_toast_set_timeout (toast, 6);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

AdwMessageDialog *
_visage_window_new_question (VisageWindow *self, const char *heading, const char *body,
                             const char *close_id, const char *close_label,
                             const char *destructive_id, const char *destructive_label,
                             const char *suggested_id, const char *suggested_label)
{
  AdwMessageDialog *dialog;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self), heading, body));
  adw_message_dialog_add_responses (dialog, close_id, close_label, destructive_id,
                                    destructive_label, suggested_id, suggested_label, NULL);
  adw_message_dialog_set_response_appearance (dialog, destructive_id,
                                              ADW_RESPONSE_DESTRUCTIVE);
  if (suggested_id != NULL)
    adw_message_dialog_set_response_appearance (dialog, suggested_id, ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, suggested_id != NULL ? suggested_id
                                                                        : close_id);
  adw_message_dialog_set_close_response (dialog, close_id);
  return dialog;
}

void
visage_window_set_quiet (VisageWindow *self, gboolean quiet)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));

  self->quiet = quiet;
}

static void
pending_begin (VisageWindow *self)
{
  if (self->n_pending++ == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
pending_end (VisageWindow *self)
{
  g_assert (self->n_pending > 0);
  if (--self->n_pending == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
clear_results (VisageWindow *self)
{
  g_clear_pointer (&self->evaluation, vg_evaluation_free);
  if (self->samples == NULL)
    return;
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->samples)); i++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (G_LIST_MODEL (self->samples), i);
      visage_sample_set_result (sample, NULL);
    }
  visage_gallery_results_changed (self->gallery);
  visage_evaluation_view_set_evaluation (self->evaluation_view, NULL, NULL);
}

/* ---- the shown image -------------------------------------------------------------------- */

static void
prediction_ready (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (VisageWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VgPrediction) prediction = NULL;

  prediction = vg_service_predict_finish (VG_SERVICE (source), result, &error);
  if (prediction != NULL && !self->disposed)
    {
      g_autofree char *base = g_path_get_basename (prediction->image_path);

      /* A result that arrives is the current one: older requests were cancelled. */
      visage_image_view_set_prediction (self->image_view, prediction,
                                        self->shown != NULL
                                        ? visage_sample_get_name (self->shown) : base);
      _visage_window_attach_annotation (self, prediction);
      /* Predicting an image with a mask evaluates it: label it in the gallery too (and
       * after a saved correction, against the new mask). */
      if (self->shown != NULL && prediction->has_result
          && (self->evaluation == NULL || self->rescore))
        {
          VgImageResult image_result = prediction->result;

          image_result.index = visage_sample_get_index (self->shown);
          visage_sample_set_result (self->shown, &image_result);
          visage_gallery_results_changed (self->gallery);
        }
      self->rescore = FALSE;
    }
  else if (prediction == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
           && !self->disposed)
    _visage_window_toast (self, error->message);
  pending_end (self);
}

/* Predict the shown sample; a prediction still on its way for another one is cancelled,
 * so a late result never replaces a newer one. */
void
_visage_window_request_prediction (VisageWindow *self)
{
  if (self->predict_cancellable != NULL)
    g_cancellable_cancel (self->predict_cancellable);
  g_clear_object (&self->predict_cancellable);
  _visage_window_actions_update (self);
  if (self->shown == NULL && self->live_path == NULL)
    {
      visage_image_view_set_prediction (self->image_view, NULL, NULL);
      return;
    }
  self->predict_cancellable = g_cancellable_new ();
  self->prediction_loads = self->loads_queued;
  pending_begin (self);
  if (self->shown != NULL)
    {
      g_autofree char *mask = _visage_window_shown_truth_path (self);

      vg_service_predict_async (self->service, visage_sample_get_image_path (self->shown),
                                mask, self->predict_cancellable, prediction_ready,
                                g_object_ref (self));
    }
  else
    vg_service_predict_async (self->service, self->live_path, NULL, self->predict_cancellable,
                              prediction_ready, g_object_ref (self));
}

void
visage_window_open_image (VisageWindow *self, const char *path)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));
  g_return_if_fail (path != NULL);

  /* Unselecting the gallery's image clears what was shown. */
  visage_gallery_select_position (self->gallery, GTK_INVALID_LIST_POSITION);
  _visage_window_leave_annotation (self);
  g_clear_object (&self->shown);
  g_free (self->live_path);
  self->live_path = g_strdup (path);
  gtk_stack_set_visible_child_name (self->main_stack, "workbench");
  adw_view_stack_set_visible_child_name (self->view_stack, "browse");
  _visage_window_request_prediction (self);
}

static void
selected_sample_changed (VisageWindow *self)
{
  VisageSample *sample = visage_gallery_get_selected_sample (self->gallery);

  if (sample == self->shown)
    return;
  _visage_window_leave_annotation (self);
  g_set_object (&self->shown, sample);
  if (sample == NULL && self->live_path != NULL)
    return;  /* unselected for an image opened on its own */
  g_clear_pointer (&self->live_path, g_free);
  _visage_window_request_prediction (self);
}

void
_visage_window_step_image (VisageWindow *self, int step)
{
  visage_gallery_step (self->gallery, step);
}

/* From the evaluation view: show this image in the browser. */
static void
open_sample (VisageWindow *self, VisageSample *sample)
{
  visage_gallery_select_sample (self->gallery, sample);
  adw_view_stack_set_visible_child_name (self->view_stack, "browse");
}

/* A confusion cell chosen in the evaluation view narrows the gallery to its images (the
 * gallery says so); cleared, it shows them all again. */
static void
confusion_cell_selected (VisageWindow *self, int truth, int predicted)
{
  visage_gallery_filter_confusion (self->gallery, truth, predicted);
}

/* The confusion the gallery is narrowed to: its pixels stand out in the image. */
static void
gallery_confusion_changed (VisageWindow *self)
{
  int truth, predicted;

  visage_gallery_get_confusion (self->gallery, &truth, &predicted);
  visage_overlay_area_set_highlight (visage_image_view_get_area (self->image_view), truth,
                                     predicted);
}

/* From the evaluation view's table: the images with a class, or where it is missed. */
static void
open_class (VisageWindow *self, int cls, gboolean missed)
{
  if (missed)
    visage_gallery_filter_missed (self->gallery, cls);
  else
    visage_gallery_show_class (self->gallery, cls);
  adw_view_stack_set_visible_child_name (self->view_stack, "browse");
}

/* ---- split and model -------------------------------------------------------------------- */

static void
split_opened (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (VisageWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSplit) split = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *base = NULL;

  split = vg_service_open_split_finish (VG_SERVICE (source), result, &error);
  if (self->disposed || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      pending_end (self);
      return;
    }
  if (split == NULL)
    {
      _visage_window_toast (self, error->message);
      pending_end (self);
      return;
    }

  /* Results and an evaluation in progress belong to the previous split. */
  if (self->job_cancellable != NULL)
    g_cancellable_cancel (self->job_cancellable);
  g_clear_pointer (&self->evaluation, vg_evaluation_free);
  g_clear_pointer (&self->split, vg_split_free);
  self->split = g_steal_pointer (&split);
  g_free (self->split_dir);
  self->split_dir = g_path_get_dirname (self->split->images_dir);
  if (self->settings != NULL)
    g_settings_set_string (self->settings, "last-split", self->split_dir);

  _visage_window_leave_annotation (self);
  g_clear_object (&self->shown);
  g_clear_object (&self->samples);
  _visage_window_use_annotations (self);
  self->samples = g_list_store_new (VISAGE_TYPE_SAMPLE);
  for (int i = 0; i < self->split->n_samples; i++)
    {
      const VgSample *s = &self->split->samples[i];
      g_autoptr (VisageSample) sample = visage_sample_new (i, s->name, s->image_path,
                                                           s->mask_path);
      visage_sample_set_truth_classes (sample, s->mask_classes);
      g_list_store_append (self->samples, sample);
    }
  clear_results (self);
  /* The gallery selects its first image, which shows it. */
  visage_gallery_set_samples (self->gallery, G_LIST_MODEL (self->samples));
  /* An empty gallery offers no sorting or filtering. */
  gtk_widget_set_sensitive (GTK_WIDGET (self->gallery), self->split->n_samples > 0);
  gtk_stack_set_visible_child_name (self->main_stack, "workbench");

  base = g_path_get_basename (self->split_dir);
  subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s · %d image", "%s · %d images",
                                           self->split->n_samples),
                              base, self->split->n_samples);
  adw_view_switcher_title_set_subtitle (self->switcher_title, subtitle);
  if (self->split->skipped != NULL && self->split->skipped->len > 0)
    {
      g_autofree char *message =
        g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                      "%u unusable sample was left out: %s",
                                      "%u unusable samples were left out, the first: %s",
                                      self->split->skipped->len),
                         self->split->skipped->len,
                         (const char *) g_ptr_array_index (self->split->skipped, 0));
      _visage_window_toast (self, message);
    }
  _visage_window_announce_recoveries (self);
  _visage_window_actions_update (self);
  pending_end (self);
}

void
visage_window_open_split (VisageWindow *self, const char *dir)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));
  g_return_if_fail (dir != NULL);

  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
  g_clear_object (&self->open_cancellable);
  self->open_cancellable = g_cancellable_new ();
  pending_begin (self);
  vg_service_open_split_async (self->service, dir, self->open_cancellable, split_opened,
                               g_object_ref (self));
}

static void
model_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (VisageWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean evaluate = self->evaluate_after_load;

  self->evaluate_after_load = FALSE;
  self->loads_done++;
  if (!vg_service_load_model_finish (VG_SERVICE (source), result, &error))
    {
      if (!self->disposed)
        _visage_window_toast (self, error->message);
      pending_end (self);
      return;
    }
  if (!self->disposed)
    {
      if (self->settings != NULL)
        g_settings_set_string (self->settings, "last-model",
                               vg_service_get_model_path (self->service));
      /* Asked for the GPU and not given it: say so (with "auto" the tooltip tells). */
      if (g_strcmp0 (vg_service_get_device (self->service), "cuda") == 0
          && *vg_service_get_device_note (self->service) != '\0')
        _visage_window_toast (self, vg_service_get_device_note (self->service));
      /* Every result so far came from the previous model. */
      clear_results (self);
      /* The image shown was asked for after this load was queued: the service, which
       * runs jobs in order, predicts it with this model already. */
      if (self->prediction_loads < self->loads_done)
        _visage_window_request_prediction (self);
      /* win.use-model: the new model's per-class figures on the open split. */
      if (evaluate && self->split != NULL && vg_split_has_masks (self->split)
          && self->job_cancellable == NULL)
        {
          visage_window_evaluate (self);
          adw_view_stack_set_visible_child_name (self->view_stack, "evaluation");
        }
    }
  pending_end (self);
}

void
visage_window_load_model (VisageWindow *self, const char *path)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));
  g_return_if_fail (path != NULL);

  /* An evaluation with the previous model would finish with stale numbers. */
  if (self->job_cancellable != NULL)
    g_cancellable_cancel (self->job_cancellable);
  pending_begin (self);
  self->bundled_model = FALSE;
  self->loads_queued++;
  vg_service_load_model_async (self->service, path, NULL, model_loaded, g_object_ref (self));
}

static void
model_path_changed (VisageWindow *self)
{
  const char *path = vg_service_get_model_path (self->service);
  g_autofree char *tooltip = NULL;

  gtk_revealer_set_reveal_child (self->model_revealer, path == NULL);
  _visage_window_compare_model_changed (self);
  if (path != NULL)
    {
      const char *note = vg_service_get_device_note (self->service);
      g_autofree char *config = visage_format_config (vg_service_get_model_config (self->service));

      /* TRANSLATORS: tooltip of the window title, naming the model file loaded, on a second
       * line its configuration ("fastscnn (Fast-SCNN), 1,154,435 parameters") and, on a
       * third, why it does not run on a GPU (or nothing) */
      tooltip = g_strdup_printf (_("Model: %s\n%s%s%s"), path, config,
                                 *note != '\0' ? "\n" : "", note);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->switcher_title), tooltip);
    }
  _visage_window_actions_update (self);
}

/* ---- evaluation ------------------------------------------------------------------------- */

static void
service_progress (VisageWindow *self, int job, int done, int total)
{
  g_autofree char *text = NULL;

  if ((VgServiceJob) job != self->job_kind || self->job_cancellable == NULL || total <= 0)
    return;
  gtk_progress_bar_set_fraction (self->progress_bar, (double) done / total);
  if (job == VG_SERVICE_JOB_EVALUATE)
    /* TRANSLATORS: evaluation progress, images done of all images */
    text = g_strdup_printf (_("Evaluating: %d of %d images"), done, total);
  else if (job == VG_SERVICE_JOB_COMPARE)
    /* TRANSLATORS: progress of a comparison of two models, images done of all images */
    text = g_strdup_printf (_("Comparing: %d of %d images"), done, total);
  else
    /* TRANSLATORS: export progress, images done of all images */
    text = g_strdup_printf (_("Exporting: %d of %d images"), done, total);
  gtk_progress_bar_set_text (self->progress_bar, text);
}

static void
service_image_results (VisageWindow *self, const VgImageResult *results, guint n)
{
  if (self->job_kind != VG_SERVICE_JOB_EVALUATE || self->job_cancellable == NULL
      || self->samples == NULL)
    return;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (VisageSample) sample =
        g_list_model_get_item (G_LIST_MODEL (self->samples), results[i].index);

      if (sample != NULL)
        visage_sample_set_result (sample, &results[i]);
    }
  /* At most ~10 times a second: the service coalesces results. */
  visage_gallery_results_changed (self->gallery);
}

void
_visage_window_job_begin (VisageWindow *self, VgServiceJob kind, const char *text)
{
  self->job_cancellable = g_cancellable_new ();
  self->job_kind = kind;
  gtk_progress_bar_set_fraction (self->progress_bar, 0.0);
  gtk_progress_bar_set_text (self->progress_bar, text);
  gtk_revealer_set_reveal_child (self->progress_revealer, TRUE);
  _visage_window_actions_update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WORKING]);
}

void
_visage_window_job_end (VisageWindow *self)
{
  g_clear_object (&self->job_cancellable);
  gtk_revealer_set_reveal_child (self->progress_revealer, FALSE);
  _visage_window_actions_update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WORKING]);
}

static void
evaluated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (VisageWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VgEvaluation) evaluation = NULL;
  g_autofree char *message = NULL, *miou = NULL;

  evaluation = vg_service_evaluate_finish (VG_SERVICE (source), result, &error);
  if (self->disposed)
    return;
  if (evaluation == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        _visage_window_toast (self, _("Evaluation cancelled"));
      else
        _visage_window_toast (self, error->message);
      _visage_window_job_end (self);
      return;
    }

  g_clear_pointer (&self->evaluation, vg_evaluation_free);
  self->evaluation = g_steal_pointer (&evaluation);
  miou = visage_format_percent (vg_confusion_miou (&self->evaluation->metrics.confusion), 2);
  /* TRANSLATORS: dataset-level mean IoU (a percentage) over the split's images */
  message = g_strdup_printf (_("mIoU %s over %d images (dataset level: one confusion "
                               "matrix over all pixels)"),
                             miou, self->evaluation->metrics.n_images);
  _visage_window_toast (self, message);
  visage_evaluation_view_set_evaluation (self->evaluation_view, self->evaluation,
                                         G_LIST_MODEL (self->samples));
  _visage_window_job_end (self);
}

void
visage_window_evaluate (VisageWindow *self)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));

  if (self->split == NULL || self->job_cancellable != NULL
      || vg_service_get_model_path (self->service) == NULL)
    return;
  clear_results (self);
  _visage_window_job_begin (self, VG_SERVICE_JOB_EVALUATE, _("Evaluating…"));
  vg_service_evaluate_async (self->service, self->split, self->job_cancellable, evaluated,
                             g_object_ref (self));
}

/* ---- export ---------------------------------------------------------------------------- */

static void
exported (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (VisageWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *message = NULL;
  int written;

  written = vg_service_export_finish (VG_SERVICE (source), result, &error);
  if (self->disposed)
    return;
  if (written < 0)
    _visage_window_toast (self, g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                                ? _("Export cancelled") : error->message);
  else
    {
      /* TRANSLATORS: the number of files written and where (a file or a folder) */
      message = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Exported %d file to %s",
                                              "Exported %d files to %s", written), written,
                                 self->export_destination);
      if (self->quiet)
        _visage_window_toast (self, message);
      else
        visage_folder_toast_show (self->toast_overlay, message, self->export_destination);
    }
  _visage_window_job_end (self);
}

void
visage_window_export (VisageWindow *self, const char *what, const char *destination)
{
  g_autoptr (VgSplit) live = NULL;
  g_autoptr (GError) error = NULL;
  const VgSplit *split = self->split;
  VgExportOptions options;
  VgExportKind kind;
  int index = -1;

  g_return_if_fail (VISAGE_IS_WINDOW (self));
  g_return_if_fail (destination != NULL);

  if (self->job_cancellable != NULL)
    return;
  if (g_str_equal (what, "image-mask") || g_str_equal (what, "image-overlay"))
    {
      kind = g_str_equal (what, "image-mask") ? VG_EXPORT_MASKS : VG_EXPORT_OVERLAYS;
      if (self->shown != NULL)
        index = visage_sample_get_index (self->shown);
      else if (self->live_path != NULL)
        {
          const char *paths[] = { self->live_path };

          live = vg_split_from_files (paths, 1, &error);
          if (live == NULL)
            {
              _visage_window_toast (self, error->message);
              return;
            }
          split = live;
          index = 0;
        }
      else
        return;
    }
  else if (g_str_equal (what, "split-masks"))
    kind = VG_EXPORT_MASKS;
  else if (g_str_equal (what, "split-overlays"))
    kind = VG_EXPORT_OVERLAYS;
  else if (g_str_equal (what, "submission"))
    kind = VG_EXPORT_SUBMISSION;
  else
    g_return_if_reached ();
  if (split == NULL)
    return;

  _visage_window_job_begin (self, VG_SERVICE_JOB_EXPORT, _("Exporting…"));
  g_free (self->export_destination);
  self->export_destination = g_strdup (destination);
  /* Overlays as the image view shows them. */
  options = self->export_options;
  options.alpha = visage_image_view_get_opacity (self->image_view);
  vg_service_export_async (self->service, split, index, kind, destination, &options,
                           self->job_cancellable, exported, g_object_ref (self));
}

gboolean
visage_window_get_working (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), FALSE);

  return self->job_cancellable != NULL;
}

/* ---- closing ---------------------------------------------------------------------------- */

static gboolean
close_later (gpointer user_data)
{
  gtk_window_close (GTK_WINDOW (user_data));
  return G_SOURCE_REMOVE;
}

void
_visage_window_close_later (VisageWindow *self)
{
  g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, close_later, g_object_ref (self), g_object_unref);
}

static gboolean
visage_window_close_request (GtkWindow *window)
{
  /* Unsaved mask changes: ask to save them first (visage-window-annotations.c). */
  if (_visage_window_ask_save_changes (VISAGE_WINDOW (window)))
    return TRUE;
  return GTK_WINDOW_CLASS (visage_window_parent_class)->close_request (window);
}

/* ---- screenshot ------------------------------------------------------------------------- */

gboolean
visage_window_save_screenshot (VisageWindow *self, const char *path, GError **error)
{
  GtkWidget *widget = GTK_WIDGET (self);
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (self));
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  g_autoptr (GdkPaintable) paintable = NULL;
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autoptr (GBytes) png = NULL;
  GtkSnapshot *snapshot;

  g_return_val_if_fail (VISAGE_IS_WINDOW (self), FALSE);

  if (renderer == NULL || width <= 0 || height <= 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                           "The window is not shown yet");
      return FALSE;
    }
  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "The window drew nothing (%dx%d, mapped %d, visible %d, view %s)", width,
                   height, gtk_widget_get_mapped (widget), gtk_widget_get_visible (widget),
                   visage_window_get_visible_view (self));
      return FALSE;
    }
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  png = gdk_texture_save_to_png_bytes (texture);
  return g_file_set_contents (path, g_bytes_get_data (png, NULL), g_bytes_get_size (png),
                              error);
}

/* ---- accessors -------------------------------------------------------------------------- */

const char *
visage_window_get_visible_page (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return gtk_stack_get_visible_child_name (self->main_stack);
}

gboolean
visage_window_get_busy (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), FALSE);

  return self->n_pending > 0;
}

const VgSplit *
visage_window_get_split (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return self->split;
}

const VgEvaluation *
visage_window_get_evaluation (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return self->evaluation;
}

VgService *
visage_window_get_service (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return self->service;
}

VisageGallery *
visage_window_get_gallery (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return self->gallery;
}

VisageEvaluationView *
visage_window_get_evaluation_view (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return self->evaluation_view;
}

void
visage_window_set_visible_view (VisageWindow *self, const char *name)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));

  adw_view_stack_set_visible_child_name (self->view_stack, name);
}

const char *
visage_window_get_visible_view (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return adw_view_stack_get_visible_child_name (self->view_stack);
}

VisageImageView *
visage_window_get_image_view (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return self->image_view;
}

/* ---- GObject ---------------------------------------------------------------------------- */

VisageWindow *
visage_window_new (GtkApplication *application, GSettings *settings)
{
  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (settings == NULL || G_IS_SETTINGS (settings), NULL);

  return g_object_new (VISAGE_TYPE_WINDOW, "application", application, "settings", settings,
                       NULL);
}

/* The preferences the window keeps: bound once the template's widgets exist. */
static void
visage_window_constructed (GObject *object)
{
  VisageWindow *self = VISAGE_WINDOW (object);
  g_autofree char *device = NULL;

  G_OBJECT_CLASS (visage_window_parent_class)->constructed (object);

  if (self->settings == NULL)
    return;
  /* The mode the user chose, not the prediction an image without ground truth shows. */
  g_settings_bind (self->settings, "overlay-mode", self->image_view, "chosen-mode",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "overlay-opacity", self->image_view, "opacity",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "brush-size", self->image_view, "brush-size",
                   G_SETTINGS_BIND_DEFAULT);
  /* Before any model loads. */
  device = g_settings_get_string (self->settings, "device");
  visage_window_set_device (self, device);
  visage_window_set_flip (self, g_settings_get_boolean (self->settings, "flip"));
  _visage_window_parsing_settings_init (self);
}

static void
visage_window_dispose (GObject *object)
{
  VisageWindow *self = VISAGE_WINDOW (object);

  /* Callbacks still on their way hold a reference and see this flag. */
  self->disposed = TRUE;
  if (self->open_cancellable != NULL)
    g_cancellable_cancel (self->open_cancellable);
  if (self->predict_cancellable != NULL)
    g_cancellable_cancel (self->predict_cancellable);
  if (self->job_cancellable != NULL)
    g_cancellable_cancel (self->job_cancellable);
  if (self->compare_cancellable != NULL)
    g_cancellable_cancel (self->compare_cancellable);
  if (self->service != NULL)
    g_signal_handlers_disconnect_by_data (self->service, self);
  /* Unsaved changes of a window destroyed without asking are kept for recovery. */
  _visage_window_leave_annotation (self);
  if (self->dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->dialog));

  if (self->train_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->train_dialog));

  gtk_widget_dispose_template (GTK_WIDGET (object), VISAGE_TYPE_WINDOW);
  g_clear_object (&self->open_cancellable);
  g_clear_object (&self->predict_cancellable);
  g_clear_object (&self->job_cancellable);
  g_clear_object (&self->compare_cancellable);
  g_clear_object (&self->shown);
  g_clear_object (&self->samples);
  g_clear_object (&self->settings);
  g_clear_object (&self->service);
  G_OBJECT_CLASS (visage_window_parent_class)->dispose (object);
}

static void
visage_window_finalize (GObject *object)
{
  VisageWindow *self = VISAGE_WINDOW (object);

  vg_split_free (self->split);
  vg_evaluation_free (self->evaluation);
  g_free (self->split_dir);
  g_free (self->live_path);
  g_free (self->annotations_dir);
  g_free (self->export_destination);
  G_OBJECT_CLASS (visage_window_parent_class)->finalize (object);
}

static void
visage_window_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VisageWindow *self = VISAGE_WINDOW (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, visage_window_get_busy (self));
      break;
    case PROP_WORKING:
      g_value_set_boolean (value, visage_window_get_working (self));
      break;
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_window_set_property (GObject *object, guint prop_id, const GValue *value,
                            GParamSpec *pspec)
{
  VisageWindow *self = VISAGE_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_set_object (&self->settings, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_window_class_init (VisageWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = visage_window_dispose;
  object_class->finalize = visage_window_finalize;
  object_class->constructed = visage_window_constructed;
  object_class->get_property = visage_window_get_property;
  object_class->set_property = visage_window_set_property;
  GTK_WINDOW_CLASS (klass)->close_request = visage_window_close_request;

  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_WORKING] =
    g_param_spec_boolean ("working", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* The application's preferences (device, flip, last split and model, the overlay's
   * mode and opacity, the brush size), or NULL to keep none. */
  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (VISAGE_TYPE_GALLERY);
  g_type_ensure (VISAGE_TYPE_IMAGE_VIEW);
  g_type_ensure (VISAGE_TYPE_EVALUATION_VIEW);
  g_type_ensure (VISAGE_TYPE_TRAIN_VIEW);
  visage_resources_ensure ();

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/visage/Visage/visage-window.ui");
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, header_bar);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, switcher_title);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, switcher_bar);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, unsaved_label);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, unsaved_label_narrow);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, primary_menu_button);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, model_revealer);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, progress_revealer);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, empty_page);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, gallery);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, image_view);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, evaluation_view);
  gtk_widget_class_bind_template_child (widget_class, VisageWindow, train_view);
}

static void
visage_window_init (VisageWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  _visage_window_actions_init (self);
  vg_export_options_init (&self->export_options);
  self->service = vg_service_new (NULL);
  visage_train_view_set_service (self->train_view, self->service);
  g_signal_connect_swapped (self->train_view, "notify::running",
                            G_CALLBACK (_visage_window_actions_update), self);
  g_signal_connect (self, "close-request", G_CALLBACK (_visage_window_ask_stop_training), NULL);
  g_signal_connect_swapped (self->service, "notify::model-path",
                            G_CALLBACK (model_path_changed), self);
  g_signal_connect_swapped (self->service, "progress", G_CALLBACK (service_progress), self);
  g_signal_connect_swapped (self->service, "image-results",
                            G_CALLBACK (service_image_results), self);
  g_signal_connect_swapped (self->gallery, "notify::selected-sample",
                            G_CALLBACK (selected_sample_changed), self);
  g_signal_connect_swapped (self->evaluation_view, "open-sample", G_CALLBACK (open_sample),
                            self);
  g_signal_connect_swapped (visage_evaluation_view_get_matrix (self->evaluation_view),
                            "cell-selected", G_CALLBACK (confusion_cell_selected), self);
  g_signal_connect_swapped (self->evaluation_view, "open-class", G_CALLBACK (open_class), self);
  g_signal_connect_swapped (self->gallery, "notify::confusion-truth",
                            G_CALLBACK (gallery_confusion_changed), self);
  g_signal_connect_swapped (self->gallery, "notify::confusion-predicted",
                            G_CALLBACK (gallery_confusion_changed), self);
  /* Nothing to sort or filter before a split is open. */
  gtk_widget_set_sensitive (GTK_WIDGET (self->gallery), FALSE);
  model_path_changed (self);
  _visage_window_actions_update (self);
}
