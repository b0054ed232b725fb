/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A second model beside the loaded one: both evaluated on a split image by image (each
 * with its own preprocessing, each cached under its own key), compared by vg-compare.h;
 * and both predictions of one image for the workbench's side-by-side view (see
 * vg-service.h and vg-service-private.h). */
#define G_LOG_DOMAIN "visage-service"

#include "config.h"

#include "vg-service-private.h"

void
vg_service_comparison_free (VgServiceComparison *comparison)
{
  if (comparison == NULL)
    return;
  g_free (comparison->model_a);
  g_free (comparison->model_b);
  vg_evaluation_free (comparison->a);
  vg_evaluation_free (comparison->b);
  vg_comparison_clear (&comparison->comparison);
  g_free (comparison);
}

/* ---- worker ----------------------------------------------------------------------------- */

void
service_compared_model_clear (VgService *self)
{
  /* The predictor refers to the model: free it first. */
  g_clear_pointer (&self->other_predictor, vg_predictor_free);
  g_clear_pointer (&self->other_model, vg_model_free);
  g_clear_pointer (&self->other_key, g_free);
}

/* Open the model to compare with, afresh each time (its file may have been retrained). */
static gboolean
open_compared_model (VgService *self, Job *job, GError **error)
{
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgPredictor) predictor = NULL;
  g_autofree char *key = NULL;
  VgPreprocess pre;

  if (!service_open_model (job->path, job->device, job->flip, job->cancellable, &model,
                           &predictor, &pre, &key, NULL, error))
    {
      g_prefix_error (error, "The model to compare with (%s) cannot be used: ", job->path);
      return FALSE;
    }
  service_compared_model_clear (self);
  self->other_model = g_steal_pointer (&model);
  self->other_predictor = g_steal_pointer (&predictor);
  self->other_key = g_steal_pointer (&key);
  return TRUE;
}

/* Sample i of the split into both evaluations: its mask read once, both models'
 * predictions against it. */
static gboolean
compare_image (VgService *self, const VgSample *sample, int i, VgServiceComparison *c,
               GError **error)
{
  return service_load_truth (self, sample, error)
         && service_evaluate_image (self, self->predictor, self->model_key, sample, i, c->a,
                                    error)
         && service_evaluate_image (self, self->other_predictor, self->other_key, sample, i,
                                    c->b, error);
}

VgServiceComparison *
service_run_compare (VgService *self, Job *job, GError **error)
{
  const VgSplit *split = job->split;
  g_autoptr (VgServiceComparison) c = g_new0 (VgServiceComparison, 1);
  g_autoptr (GTimer) timer = g_timer_new ();

  if (!service_check_evaluable (self, split, error)
      || service_job_should_stop (self, job, error) || !open_compared_model (self, job, error))
    return NULL;

  c->model_a = g_strdup (job->model_path);
  c->model_b = g_strdup (job->path);
  c->a = service_evaluation_new (split->n_samples);
  c->b = service_evaluation_new (split->n_samples);
  service_report (self, job, 0, split->n_samples, NULL);
  for (int i = 0; i < split->n_samples; i++)
    {
      service_serve_queued (self, SERVE_PREDICTIONS);
      if (service_job_should_stop (self, job, error)
          || !compare_image (self, &split->samples[i], i, c, error))
        return NULL;
      service_report (self, job, i + 1, split->n_samples, NULL);
    }
  c->a->metrics.seconds = c->b->metrics.seconds = g_timer_elapsed (timer, NULL);
  if (!vg_comparison_init (&c->comparison, &c->a->metrics, &c->b->metrics, error))
    return NULL;
  return g_steal_pointer (&c);
}

/* For a prediction job whose image is decoded in self->image. */
GBytes *
service_compared_labels (VgService *self, const char *path, int height, int width,
                         GError **error)
{
  gboolean cached;

  if (self->other_predictor == NULL)
    {
      g_set_error_literal (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_NO_MODEL,
                           "No model is being compared with the loaded one");
      return NULL;
    }
  return service_predict_labels_by (self, self->other_predictor, self->other_key, path,
                                    height, width, TRUE, &cached, error);
}

/* ---- public API (main context) ---------------------------------------------------------- */

void
vg_service_compare_async (VgService *self, const char *other_model, const VgSplit *split,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  Job *job;

  g_return_if_fail (VG_IS_SERVICE (self));
  g_return_if_fail (other_model != NULL);
  g_return_if_fail (split != NULL);

  job = service_job_new (self, VG_SERVICE_JOB_COMPARE, cancellable, callback, user_data,
                         vg_service_compare_async);
  job->path = g_strdup (other_model);
  job->model_path = g_strdup (vg_service_get_model_path (self));
  job->device = g_strdup (vg_service_get_device (self));
  job->flip = vg_service_get_model_flip (self);
  job->split = service_split_copy (split);
  service_queue_job (self, job);
}

VgServiceComparison *
vg_service_compare_finish (VgService *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
vg_service_predict_compared_async (VgService *self, const char *image_path,
                                   const char *mask_path, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job;

  g_return_if_fail (VG_IS_SERVICE (self));
  g_return_if_fail (image_path != NULL);

  job = service_job_new (self, VG_SERVICE_JOB_PREDICT, cancellable, callback, user_data,
                         vg_service_predict_compared_async);
  job->path = g_strdup (image_path);
  job->mask_path = g_strdup (mask_path);
  job->compared = TRUE;
  service_queue_job (self, job);
}
