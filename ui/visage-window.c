/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-window"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "visage-annotation.h"
#include "visage-evaluation-view.h"
#include "visage-gallery.h"
#include "visage-image-view.h"
#include "visage-resources.h"
#include "visage-sample.h"
#include "visage-train-dialog.h"
#include "visage-train-view.h"
#include "visage-window.h"
#include "visage-file-chooser.h"

struct _VisageWindow
{
  AdwApplicationWindow parent_instance;

  /* Template widgets */
  AdwToastOverlay *toast_overlay;
  AdwHeaderBar *header_bar;
  AdwViewSwitcherTitle *switcher_title;
  GtkMenuButton *primary_menu_button;
  GtkRevealer *model_revealer;
  GtkRevealer *progress_revealer;
  GtkProgressBar *progress_bar;
  GtkStack *main_stack;
  AdwStatusPage *empty_page;
  AdwViewStack *view_stack;
  VisageGallery *gallery;
  VisageImageView *image_view;
  VisageEvaluationView *evaluation_view;
  VisageTrainView *train_view;

  GSettings *settings;              /* passed in by the application; may be NULL */
  VgService *service;
  VgSplit *split;                   /* the open split, or NULL */
  char *split_dir;
  GListStore *samples;              /* of VisageSample, in the split's order */
  VgEvaluation *evaluation;         /* of split with the loaded model, or NULL */
  VisageSample *shown;              /* whose prediction is shown or on its way */
  GCancellable *open_cancellable;
  GCancellable *predict_cancellable;
  GCancellable *job_cancellable;    /* non-NULL while evaluating or exporting */
  VgServiceJob job_kind;            /* which of the two */
  char *live_path;                  /* an image opened on its own, shown instead of a sample */
  guint n_pending;                  /* operations that will change what is shown */
  VisageTrainDialog *train_dialog;  /* weak: the Train dialog while it is open */
  gboolean evaluate_after_load;     /* win.use-model: evaluate the split with it */
  gboolean close_confirmed;         /* closing stops the training run: asked already */
  gboolean quiet;                   /* notices go to the log, not into toasts */
  guint loads_queued;               /* model loads asked of the service so far */
  guint loads_done;                 /* of them, finished (the service runs them in order) */
  guint prediction_loads;           /* loads_queued when the shown prediction was asked */
  gboolean disposed;

  /* Mask corrections (see visage-window-annotations below) */
  VisageAnnotation *annotation;     /* of the sample shown, or NULL */
  char *annotations_dir;            /* <split>/annotations */
  AdwMessageDialog *dialog;         /* the question asked now, or NULL */
  gboolean unsaved_confirmed;       /* unsaved changes were saved or discarded */
};

G_DEFINE_FINAL_TYPE (VisageWindow, visage_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  PROP_0,
  PROP_BUSY,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
toast (VisageWindow *self, const char *message)
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
enable (VisageWindow *self, const char *name, gboolean enabled)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), name);

  g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}

static void
update_actions (VisageWindow *self)
{
  gboolean has_model = vg_service_get_model_path (self->service) != NULL;
  gboolean working = self->job_cancellable != NULL;
  gboolean has_split = self->split != NULL;
  gboolean has_image = self->shown != NULL || self->live_path != NULL;

  enable (self, "evaluate",
          has_model && has_split && vg_split_has_masks (self->split) && !working);
  enable (self, "cancel", working);
  enable (self, "next-image", has_split);
  enable (self, "previous-image", has_split);
  enable (self, "export-image-mask", has_model && has_image && !working);
  enable (self, "export-image-overlay", has_model && has_image && !working);
  enable (self, "export-split-masks", has_model && has_split && !working);
  enable (self, "export-split-overlays", has_model && has_split && !working);
  enable (self, "export-submission", has_model && has_split && !working);
  enable (self, "save-annotation", self->annotation != NULL);
  enable (self, "save-annotation-over-truth",
          self->annotation != NULL && has_split && vg_split_has_masks (self->split));

  enable (self, "train", !visage_train_view_get_running (self->train_view));
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

static char *shown_truth_path (VisageWindow *self);
static void attach_annotation (VisageWindow *self, const VgPrediction *prediction);
static void leave_annotation (VisageWindow *self);

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
      attach_annotation (self, prediction);
      /* Predicting an image with a mask evaluates it: label it in the gallery too. */
      if (self->shown != NULL && prediction->has_result && self->evaluation == NULL)
        {
          VgImageResult image_result = prediction->result;

          image_result.index = visage_sample_get_index (self->shown);
          visage_sample_set_result (self->shown, &image_result);
        }
    }
  else if (prediction == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
           && !self->disposed)
    toast (self, error->message);
  pending_end (self);
}

/* Predict the shown sample; a prediction still on its way for another one is cancelled,
 * so a late result never replaces a newer one. */
static void
request_prediction (VisageWindow *self)
{
  if (self->predict_cancellable != NULL)
    g_cancellable_cancel (self->predict_cancellable);
  g_clear_object (&self->predict_cancellable);
  update_actions (self);
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
      g_autofree char *mask = shown_truth_path (self);

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
  leave_annotation (self);
  g_clear_object (&self->shown);
  g_free (self->live_path);
  self->live_path = g_strdup (path);
  gtk_stack_set_visible_child_name (self->main_stack, "workbench");
  adw_view_stack_set_visible_child_name (self->view_stack, "browse");
  request_prediction (self);
}

static void
selected_sample_changed (VisageWindow *self)
{
  VisageSample *sample = visage_gallery_get_selected_sample (self->gallery);

  if (sample == self->shown)
    return;
  leave_annotation (self);
  g_set_object (&self->shown, sample);
  if (sample == NULL && self->live_path != NULL)
    return;  /* unselected for an image opened on its own */
  g_clear_pointer (&self->live_path, g_free);
  request_prediction (self);
}

static void
step_image (VisageWindow *self, int step)
{
  GListModel *shown = visage_gallery_get_shown (self->gallery);
  guint n = g_list_model_get_n_items (shown);
  guint position = gtk_single_selection_get_selected (GTK_SINGLE_SELECTION (shown));

  if (n == 0)
    return;
  if (position == GTK_INVALID_LIST_POSITION)
    position = 0;
  else
    position = (position + n + step) % n;
  visage_gallery_select_position (self->gallery, position);
}

/* From the evaluation view: show this image in the browser. */
static void
open_sample (VisageWindow *self, VisageSample *sample)
{
  visage_gallery_select_sample (self->gallery, sample);
  adw_view_stack_set_visible_child_name (self->view_stack, "browse");
}

/* A confusion cell chosen in the evaluation view orders the gallery by it too. */
static void
confusion_cell_selected (VisageWindow *self, int truth, int predicted)
{
  if (truth >= 0 && predicted >= 0)
    visage_gallery_sort_by_confusion (self->gallery, truth, predicted);
}

/* ---- split and model -------------------------------------------------------------------- */

static void use_annotations (VisageWindow *self);
static void announce_recoveries (VisageWindow *self);

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
      toast (self, error->message);
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

  leave_annotation (self);
  g_clear_object (&self->shown);
  g_clear_object (&self->samples);
  use_annotations (self);
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
      toast (self, message);
    }
  announce_recoveries (self);
  update_actions (self);
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
        toast (self, error->message);
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
        toast (self, vg_service_get_device_note (self->service));
      /* Every result so far came from the previous model. */
      clear_results (self);
      /* The image shown was asked for after this load was queued: the service, which
       * runs jobs in order, predicts it with this model already. */
      if (self->prediction_loads < self->loads_done)
        request_prediction (self);
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
  self->loads_queued++;
  vg_service_load_model_async (self->service, path, NULL, model_loaded, g_object_ref (self));
}

static void
model_path_changed (VisageWindow *self)
{
  const char *path = vg_service_get_model_path (self->service);
  g_autofree char *tooltip = NULL;

  gtk_revealer_set_reveal_child (self->model_revealer, path == NULL);
  if (path != NULL)
    {
      const char *note = vg_service_get_device_note (self->service);

      /* TRANSLATORS: tooltip of the window title, naming the model file loaded and, on a
       * second line, why it does not run on a GPU (or nothing) */
      tooltip = g_strdup_printf (_("Model: %s%s%s"), path, *note != '\0' ? "\n" : "", note);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->switcher_title), tooltip);
    }
  update_actions (self);
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

static void
evaluated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (VisageWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VgEvaluation) evaluation = NULL;
  g_autofree char *message = NULL;

  evaluation = vg_service_evaluate_finish (VG_SERVICE (source), result, &error);
  if (self->disposed)
    return;
  g_clear_object (&self->job_cancellable);
  gtk_revealer_set_reveal_child (self->progress_revealer, FALSE);
  update_actions (self);
  if (evaluation == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        toast (self, _("Evaluation cancelled"));
      else
        toast (self, error->message);
      return;
    }

  g_clear_pointer (&self->evaluation, vg_evaluation_free);
  self->evaluation = g_steal_pointer (&evaluation);
  /* TRANSLATORS: dataset-level mean IoU over the split's images */
  message = g_strdup_printf (_("mIoU %.2f%% over %d images (dataset level: one confusion "
                               "matrix over all pixels)"),
                             100.0 * vg_confusion_miou (&self->evaluation->metrics.confusion),
                             self->evaluation->metrics.n_images);
  toast (self, message);
  visage_evaluation_view_set_evaluation (self->evaluation_view, self->evaluation,
                                         G_LIST_MODEL (self->samples));
}

void
visage_window_evaluate (VisageWindow *self)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));

  if (self->split == NULL || self->job_cancellable != NULL
      || vg_service_get_model_path (self->service) == NULL)
    return;
  clear_results (self);
  self->job_cancellable = g_cancellable_new ();
  self->job_kind = VG_SERVICE_JOB_EVALUATE;
  gtk_progress_bar_set_fraction (self->progress_bar, 0.0);
  gtk_progress_bar_set_text (self->progress_bar, _("Evaluating…"));
  gtk_revealer_set_reveal_child (self->progress_revealer, TRUE);
  update_actions (self);
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
  g_clear_object (&self->job_cancellable);
  gtk_revealer_set_reveal_child (self->progress_revealer, FALSE);
  update_actions (self);
  if (written < 0)
    {
      toast (self, g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                   ? _("Export cancelled") : error->message);
      return;
    }
  message = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Exported %d file",
                                          "Exported %d files", written), written);
  toast (self, message);
}

void
visage_window_export (VisageWindow *self, const char *what, const char *destination)
{
  g_autoptr (VgSplit) live = NULL;
  g_autoptr (GError) error = NULL;
  const VgSplit *split = self->split;
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
              toast (self, error->message);
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

  self->job_cancellable = g_cancellable_new ();
  self->job_kind = VG_SERVICE_JOB_EXPORT;
  gtk_progress_bar_set_fraction (self->progress_bar, 0.0);
  gtk_progress_bar_set_text (self->progress_bar, _("Exporting…"));
  gtk_revealer_set_reveal_child (self->progress_revealer, TRUE);
  update_actions (self);
  /* Overlays as the image view shows them. */
  vg_service_export_async (self->service, split, index, kind, destination,
                           visage_image_view_get_opacity (self->image_view),
                           self->job_cancellable, exported, g_object_ref (self));
}

gboolean
visage_window_get_working (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), FALSE);

  return self->job_cancellable != NULL;
}

/* ---- actions ---------------------------------------------------------------------------- */

static void
split_chosen (const char *path, gpointer user_data)
{
  visage_window_open_split (VISAGE_WINDOW (user_data), path);
}

static void
open_split_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;
  g_autoptr (GFile) folder = NULL;

  if (self->split_dir != NULL)
    {
      g_autofree char *parent = g_path_get_dirname (self->split_dir);

      folder = g_file_new_for_path (parent);
    }
  visage_choose_path (GTK_WINDOW (self),
                      &(VisageChooserSpec) { .title = _("Open Split"),
                                             .action = GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                             .accept_label = _("_Open"),
                                             .folder = folder },
                      split_chosen, self, NULL);
}

static void
model_chosen (const char *path, gpointer user_data)
{
  visage_window_load_model (VISAGE_WINDOW (user_data), path);
}

static void
open_model_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;
  g_autoptr (GtkFileFilter) weights = gtk_file_filter_new ();
  g_autoptr (GtkFileFilter) all = gtk_file_filter_new ();

  gtk_file_filter_set_name (weights, _("Model Weights (safetensors)"));
  gtk_file_filter_add_suffix (weights, "safetensors");
  gtk_file_filter_set_name (all, _("All Files"));
  gtk_file_filter_add_pattern (all, "*");
  visage_choose_path (GTK_WINDOW (self),
                      &(VisageChooserSpec) { .title = _("Open Model"),
                                             .action = GTK_FILE_CHOOSER_ACTION_OPEN,
                                             .accept_label = _("_Open"),
                                             .filters = { weights, all } },
                      model_chosen, self, NULL);
}

static void
evaluate_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  visage_window_evaluate (VISAGE_WINDOW (user_data));
}

static void
cancel_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;

  if (self->job_cancellable != NULL)
    g_cancellable_cancel (self->job_cancellable);
}

static void
next_image_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  step_image (VISAGE_WINDOW (user_data), 1);
}

static void
previous_image_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  step_image (VISAGE_WINDOW (user_data), -1);
}

static void
export_destination_chosen (const char *path, gpointer user_data)
{
  VisageChooserRequest *request = user_data;

  visage_window_export (VISAGE_WINDOW (request->owner), request->what, path);
}

static void
export_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;
  const char *name = g_action_get_name (G_ACTION (action));
  const char *what = name + strlen ("export-");
  VisageChooserSpec spec = { .title = _("Export the Submission"),
                             .action = GTK_FILE_CHOOSER_ACTION_SAVE,
                             .accept_label = _("_Export"),
                             .current_name = "submission.zip" };

  if (g_str_equal (what, "split-masks") || g_str_equal (what, "split-overlays")
      || g_str_equal (what, "image-mask") || g_str_equal (what, "image-overlay"))
    spec = (VisageChooserSpec) { .title = _("Export into a Folder"),
                                 .action = GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                 .accept_label = _("_Export") };
  visage_choose_path (GTK_WINDOW (self), &spec, export_destination_chosen,
                      visage_chooser_request_new (self, what), visage_chooser_request_free);
}

static void
image_chosen (const char *path, gpointer user_data)
{
  visage_window_open_image (VISAGE_WINDOW (user_data), path);
}

static void
open_image_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;
  g_autoptr (GtkFileFilter) images = gtk_file_filter_new ();

  gtk_file_filter_set_name (images, _("JPEG and PNG Images"));
  gtk_file_filter_add_mime_type (images, "image/jpeg");
  gtk_file_filter_add_mime_type (images, "image/png");
  visage_choose_path (GTK_WINDOW (self),
                      &(VisageChooserSpec) { .title = _("Open Image"),
                                             .action = GTK_FILE_CHOOSER_ACTION_OPEN,
                                             .accept_label = _("_Open"),
                                             .filters = { images } },
                      image_chosen, self, NULL);
}

/* ---- mask corrections ------------------------------------------------------------------- */

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
}

/* The ground truth shown for the sample: its saved annotation if there is one. */
static char *
shown_truth_path (VisageWindow *self)
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
static void
use_annotations (VisageWindow *self)
{
  g_autoptr (GError) error = NULL;

  g_free (self->annotations_dir);
  self->annotations_dir = g_build_filename (self->split_dir, "annotations", NULL);
  if (!vg_split_has_masks (self->split)
      || !g_file_test (self->annotations_dir, G_FILE_TEST_IS_DIR))
    return;
  if (!vg_split_use_annotations (self->split, self->annotations_dir, &error))
    toast (self, error->message);
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
static void
announce_recoveries (VisageWindow *self)
{
  g_autofree char *message = NULL;
  guint n = 0;

  for (int i = 0; i < self->split->n_samples; i++)
    {
      g_autofree char *path =
        visage_annotation_recovery_path (self->split->samples[i].image_path);

      n += g_file_test (path, G_FILE_TEST_IS_REGULAR);
    }
  if (n == 0)
    return;
  message = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                          "%u image has unsaved mask changes from an earlier "
                                          "session: open it to recover them",
                                          "%u images have unsaved mask changes from an earlier "
                                          "session: open them to recover them", n), n);
  toast (self, message);
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
        toast (self, error->message);
    }
  else if (g_strcmp0 (response, "discard") == 0)
    visage_annotation_discard_recovery (annotation);
}

static void
ask_recover (VisageWindow *self)
{
  AdwMessageDialog *dialog;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self),
                                                       _("Recover Unsaved Changes?"), NULL));
  /* TRANSLATORS: %s is the name of an image */
  adw_message_dialog_format_body (dialog, _("The mask of %s has changes from an earlier "
                                            "session that were never saved."),
                                  visage_sample_get_name (self->shown));
  adw_message_dialog_add_responses (dialog, "later", _("_Later"), "discard", _("_Discard"),
                                    "recover", _("_Recover"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "discard", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_response_appearance (dialog, "recover", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "recover");
  adw_message_dialog_set_close_response (dialog, "later");
  g_signal_connect (dialog, "response", G_CALLBACK (recover_response),
                    g_object_ref (self->annotation));
  present_dialog (self, dialog);
}

/* The shown image is about to change: unsaved changes go to the recovery file. */
static void
leave_annotation (VisageWindow *self)
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
          toast (self, message);
        }
    }
  g_signal_handlers_disconnect_by_data (self->annotation, self);
  if (visage_image_view_get_annotation (self->image_view) == self->annotation)
    visage_image_view_set_annotation (self->image_view, NULL);
  g_clear_object (&self->annotation);
  if (!self->disposed)
    {
      update_title (self);
      update_actions (self);
    }
}

/* A prediction of the shown image arrived: edit its ground truth (or a new mask). */
static void
attach_annotation (VisageWindow *self, const VgPrediction *prediction)
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
  leave_annotation (self);
  if (self->shown == NULL || self->annotations_dir == NULL)
    return;  /* an image opened on its own has no annotations folder */
  name = g_strconcat (visage_sample_get_name (self->shown), ".png", NULL);
  target = g_build_filename (self->annotations_dir, name, NULL);
  self->annotation = visage_annotation_new (prediction->image_path, target, prediction->truth,
                                            prediction->height, prediction->width, &error);
  if (self->annotation == NULL)
    {
      toast (self, error->message);
      return;
    }
  g_signal_connect_swapped (self->annotation, "notify::modified", G_CALLBACK (update_title),
                            self);
  visage_image_view_set_annotation (self->image_view, self->annotation);
  update_actions (self);
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
    toast (self, local->message);
  base = g_path_get_basename (visage_annotation_get_target_path (self->annotation));
  /* TRANSLATORS: %s is a mask file name, e.g. 17.png */
  message = g_strdup_printf (_("Saved %s into the annotations folder"), base);
  toast (self, message);
  return TRUE;
}

static void
save_annotation_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;
  g_autoptr (GError) error = NULL;

  if (!visage_window_save_annotation (self, &error))
    toast (self, error->message);
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
    toast (self, error->message);
  else
    toast (self, _("The original mask was replaced"));
}

static void
save_over_truth_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;
  g_autofree char *path = original_mask_path (self);
  AdwMessageDialog *dialog;

  if (path == NULL || self->annotation == NULL)
    return;
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (self),
                                                       _("Replace the Original Mask?"), NULL));
  /* TRANSLATORS: %s is the path of a mask file of the data set */
  adw_message_dialog_format_body (dialog, _("%s will be overwritten with the corrected mask. "
                                            "The data set’s own ground truth is then lost."),
                                  path);
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "replace", _("_Replace"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "replace", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect (dialog, "response", G_CALLBACK (over_truth_response),
                    g_object_ref (self->annotation));
  present_dialog (self, dialog);
}

/* Load the loaded model again (after a change of device or flip), if there is one. */
static void
reload_model (VisageWindow *self)
{
  const char *path = vg_service_get_model_path (self->service);

  if (path != NULL)
    {
      g_autofree char *reload = g_strdup (path);

      visage_window_load_model (self, reload);
    }
}

void
visage_window_set_device (VisageWindow *self, const char *device)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));
  g_return_if_fail (device != NULL);

  g_action_group_change_action_state (G_ACTION_GROUP (self), "device",
                                      g_variant_new_string (device));
}

/* The compute device: kept in GSettings, and the loaded model moves to it. */
static void
device_change_state (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  VisageWindow *self = user_data;
  const char *device = g_variant_get_string (state, NULL);

  if (!g_str_equal (device, "auto") && !g_str_equal (device, "cpu")
      && !g_str_equal (device, "cuda"))
    return;
  g_simple_action_set_state (action, state);
  if (g_strcmp0 (vg_service_get_device (self->service), device) == 0)
    return;
  vg_service_set_device (self->service, device);
  if (self->settings != NULL)
    g_settings_set_string (self->settings, "device", device);
  reload_model (self);
}

void
visage_window_set_flip (VisageWindow *self, gboolean flip)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));

  g_action_group_change_action_state (G_ACTION_GROUP (self), "flip",
                                      g_variant_new_boolean (flip));
}

/* Test-time flip: kept in GSettings, and the loaded model is reloaded to predict so. */
static void
flip_change_state (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  VisageWindow *self = user_data;
  gboolean flip = g_variant_get_boolean (state);

  g_simple_action_set_state (action, state);
  if (vg_service_get_flip (self->service) == flip)
    return;
  vg_service_set_flip (self->service, flip);
  if (self->settings != NULL)
    g_settings_set_boolean (self->settings, "flip", flip);
  reload_model (self);
}

/* ---- training --------------------------------------------------------------------------- */

static void
train_dialog_start (VisageWindow *self, const VgTrainOptions *options)
{
  if (!visage_train_view_start (self->train_view, options))
    {
      toast (self, _("A training run is going on already"));
      return;
    }
  gtk_stack_set_visible_child_name (self->main_stack, "workbench");
  adw_view_stack_set_visible_child_name (self->view_stack, "training");
}

static void
train_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;

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

/* A training run's best checkpoint (its toast's button): browse and evaluate with it. */
static void
use_model_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;

  visage_window_load_model (self, g_variant_get_string (parameter, NULL));
  self->evaluate_after_load = TRUE;
}

static gboolean
close_later (gpointer user_data)
{
  gtk_window_close (GTK_WINDOW (user_data));
  return G_SOURCE_REMOVE;
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
          toast (self, error->message);
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
  /* Once the dialog, transient for this window, is gone. */
  g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, close_later, g_object_ref (self), g_object_unref);
}

static gboolean
visage_window_close_request (GtkWindow *window)
{
  VisageWindow *self = VISAGE_WINDOW (window);
  AdwMessageDialog *dialog;

  if (self->unsaved_confirmed || !visage_window_get_modified (self))
    return GTK_WINDOW_CLASS (visage_window_parent_class)->close_request (window);
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (window, _("Save Changes?"), NULL));
  /* TRANSLATORS: %s is the name of an image */
  adw_message_dialog_format_body (dialog, _("The mask of %s has unsaved changes. Changes "
                                            "that are not saved are lost."),
                                  visage_sample_get_name (self->shown));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "discard", _("_Discard"),
                                    "save", _("_Save"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "discard", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_response_appearance (dialog, "save", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "save");
  adw_message_dialog_set_close_response (dialog, "cancel");
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

static void
close_dialog_response (VisageWindow *self, const char *response)
{
  if (!g_str_equal (response, "stop"))
    return;
  self->close_confirmed = TRUE;
  visage_train_view_stop (self->train_view);
  /* Once the question, transient for this window, has gone. */
  g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, close_later, g_object_ref (self), g_object_unref);
}

/* Closing the window stops a training run: ask first. */
static gboolean
close_request (VisageWindow *self)
{
  AdwMessageDialog *dialog;

  if (self->close_confirmed || !visage_train_view_get_running (self->train_view))
    return FALSE;
  dialog = ADW_MESSAGE_DIALOG (
    adw_message_dialog_new (GTK_WINDOW (self), _("Stop Training?"),
                            _("A model is training. Closing the window stops the run; "
                              "last.safetensors keeps it up to its last checkpoint (at most "
                              "10 minutes old), and the Train dialog can resume it later.")));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Keep Training"),
                                    "stop", _("_Stop and Close"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "stop", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (close_dialog_response), self,
                           G_CONNECT_SWAPPED);
  gtk_window_present (GTK_WINDOW (dialog));
  return TRUE;
}

static const GActionEntry win_actions[] = {
  { .name = "open-split", .activate = open_split_action },
  { .name = "open-model", .activate = open_model_action },
  { .name = "evaluate", .activate = evaluate_action },
  { .name = "cancel", .activate = cancel_action },
  { .name = "next-image", .activate = next_image_action },
  { .name = "previous-image", .activate = previous_image_action },
  { .name = "open-image", .activate = open_image_action },
  { .name = "device", .parameter_type = "s", .state = "'auto'",
    .change_state = device_change_state },
  { .name = "flip", .state = "false", .change_state = flip_change_state },
  { .name = "export-image-mask", .activate = export_action },
  { .name = "export-image-overlay", .activate = export_action },
  { .name = "export-split-masks", .activate = export_action },
  { .name = "export-split-overlays", .activate = export_action },
  { .name = "export-submission", .activate = export_action },
  { .name = "save-annotation", .activate = save_annotation_action },
  { .name = "save-annotation-over-truth", .activate = save_over_truth_action },

  { .name = "train", .activate = train_action },
  { .name = "use-model", .activate = use_model_action, .parameter_type = "s" },
};

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
  g_settings_bind (self->settings, "overlay-mode", self->image_view, "mode",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "overlay-opacity", self->image_view, "opacity",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "brush-size", self->image_view, "brush-size",
                   G_SETTINGS_BIND_DEFAULT);
  /* Before any model loads. */
  device = g_settings_get_string (self->settings, "device");
  visage_window_set_device (self, device);
  visage_window_set_flip (self, g_settings_get_boolean (self->settings, "flip"));
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
  if (self->service != NULL)
    g_signal_handlers_disconnect_by_data (self->service, self);
  /* Unsaved changes of a window destroyed without asking are kept for recovery. */
  leave_annotation (self);
  if (self->dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->dialog));

  if (self->train_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->train_dialog));

  gtk_widget_dispose_template (GTK_WIDGET (object), VISAGE_TYPE_WINDOW);
  g_clear_object (&self->open_cancellable);
  g_clear_object (&self->predict_cancellable);
  g_clear_object (&self->job_cancellable);
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

  g_action_map_add_action_entries (G_ACTION_MAP (self), win_actions, G_N_ELEMENTS (win_actions),
                                   self);
  self->service = vg_service_new (NULL);
  visage_train_view_set_service (self->train_view, self->service);
  g_signal_connect_swapped (self->train_view, "notify::running", G_CALLBACK (update_actions),
                            self);
  g_signal_connect (self, "close-request", G_CALLBACK (close_request), NULL);
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
  model_path_changed (self);
  update_actions (self);
}
