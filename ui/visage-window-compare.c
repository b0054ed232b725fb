/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The window's compare mode: the loaded model (A) and a second one (B) evaluated on the
 * open split by the service's worker (cancellable like an evaluation, with the same
 * progress bar), shown by the evaluation page's compare view; an image chosen there is
 * predicted by both for the side-by-side panes. */
#define G_LOG_DOMAIN "visage-window"

#include "config.h"

#include <glib/gi18n.h>

#include "visage-file-chooser.h"
#include "visage-format.h"
#include "visage-window-private.h"

static VisageCompareView *
compare_view (VisageWindow *self)
{
  return visage_evaluation_view_get_compare_view (self->evaluation_view);
}

const VgServiceComparison *
visage_window_get_comparison (VisageWindow *self)
{
  g_return_val_if_fail (VISAGE_IS_WINDOW (self), NULL);

  return visage_compare_view_get_comparison (compare_view (self));
}

static void
compared (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (VisageWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VgServiceComparison) comparison = NULL;
  g_autofree char *message = NULL, *delta = NULL;

  comparison = vg_service_compare_finish (VG_SERVICE (source), result, &error);
  if (self->disposed)
    return;
  if (comparison == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        _visage_window_toast (self, _("Comparison cancelled"));
      else
        _visage_window_toast (self, error->message);
      _visage_window_job_end (self);
      return;
    }
  delta = g_strdup_printf ("%+.2f", 100.0 * comparison->comparison.miou_delta);
  /* TRANSLATORS: the comparison's result: mIoU of B minus mIoU of A, in points */
  message = g_strdup_printf (_("Compared: B − A is %s mIoU points"), delta);
  _visage_window_toast (self, message);
  visage_evaluation_view_set_comparison (self->evaluation_view, g_steal_pointer (&comparison),
                                         G_LIST_MODEL (self->samples));
  visage_window_set_visible_view (self, "evaluation");
  _visage_window_job_end (self);
}

void
visage_window_compare (VisageWindow *self, const char *model_path)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));
  g_return_if_fail (model_path != NULL);

  if (self->split == NULL || self->job_cancellable != NULL
      || vg_service_get_model_path (self->service) == NULL)
    return;
  if (!vg_split_has_masks (self->split))
    {
      _visage_window_toast (self, _("The split has no masks: there is nothing to compare "
                                    "the models against"));
      return;
    }
  _visage_window_job_begin (self, VG_SERVICE_JOB_COMPARE, _("Comparing…"));
  vg_service_compare_async (self->service, model_path, self->split, self->job_cancellable,
                            compared, g_object_ref (self));
}

void
visage_window_leave_compare (VisageWindow *self)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));

  if (self->compare_cancellable != NULL)
    g_cancellable_cancel (self->compare_cancellable);
  g_clear_object (&self->compare_cancellable);
  visage_evaluation_view_set_comparison (self->evaluation_view, NULL, NULL);
  _visage_window_actions_update (self);
}

/* Another model loaded: the comparison's A is no longer the model that predicts. */
void
_visage_window_compare_model_changed (VisageWindow *self)
{
  const VgServiceComparison *comparison = visage_window_get_comparison (self);

  if (comparison != NULL
      && g_strcmp0 (comparison->model_a, vg_service_get_model_path (self->service)) != 0)
    visage_window_leave_compare (self);
}

/* ---- an image's three panes ------------------------------------------------------------- */

typedef struct {
  VisageWindow *self;
  VisageSample *sample;
} PaneRequest;

static void
pane_request_free (PaneRequest *request)
{
  g_object_unref (request->self);
  g_object_unref (request->sample);
  g_free (request);
}

static void
both_predicted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  PaneRequest *request = user_data;
  VisageWindow *self = request->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (VgPrediction) prediction = NULL;

  prediction = vg_service_predict_finish (VG_SERVICE (source), result, &error);
  if (!self->disposed && prediction != NULL)
    visage_compare_view_show_prediction (compare_view (self), request->sample, prediction);
  else if (!self->disposed && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    _visage_window_toast (self, error->message);
  pane_request_free (request);
}

/* From the compare view: both predictions of an image beside its ground truth (the split's
 * mask, or its saved correction, as the comparison used). */
static void
open_compared_sample (VisageWindow *self, VisageSample *sample)
{
  int index = visage_sample_get_index (sample);
  PaneRequest *request;

  if (self->split == NULL || index < 0 || index >= self->split->n_samples)
    return;
  if (self->compare_cancellable != NULL)
    g_cancellable_cancel (self->compare_cancellable);
  g_clear_object (&self->compare_cancellable);
  self->compare_cancellable = g_cancellable_new ();
  request = g_new0 (PaneRequest, 1);
  request->self = g_object_ref (self);
  request->sample = g_object_ref (sample);
  vg_service_predict_compared_async (self->service, self->split->samples[index].image_path,
                                     self->split->samples[index].mask_path,
                                     self->compare_cancellable, both_predicted, request);
}

/* ---- actions ---------------------------------------------------------------------------- */

static void
compare_model_chosen (const char *path, gpointer user_data)
{
  visage_window_compare (VISAGE_WINDOW (user_data), path);
}

static void
compare_with_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  _visage_window_choose_model (VISAGE_WINDOW (user_data), _("Compare With a Second Model"),
                               _("_Compare"), compare_model_chosen);
}

static void
compare_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  visage_window_compare (VISAGE_WINDOW (user_data), g_variant_get_string (parameter, NULL));
}

static void
leave_compare_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  visage_window_leave_compare (VISAGE_WINDOW (user_data));
}

static const GActionEntry compare_actions[] = {
  { .name = "compare-with", .activate = compare_with_action },
  { .name = "compare", .activate = compare_action, .parameter_type = "s" },
  { .name = "leave-compare", .activate = leave_compare_action },
};

void
_visage_window_compare_actions_init (VisageWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), compare_actions,
                                   G_N_ELEMENTS (compare_actions), self);
  g_signal_connect_swapped (compare_view (self), "open-sample",
                            G_CALLBACK (open_compared_sample), self);
}

void
_visage_window_compare_actions_update (VisageWindow *self)
{
  gboolean can = self->service != NULL && vg_service_get_model_path (self->service) != NULL
                 && self->split != NULL && vg_split_has_masks (self->split)
                 && self->job_cancellable == NULL;

  for (guint i = 0; i < 2; i++)
    g_simple_action_set_enabled (
      G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (self),
                                                   compare_actions[i].name)), can);
  g_simple_action_set_enabled (
    G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (self), "leave-compare")),
    visage_window_get_comparison (self) != NULL);
}
