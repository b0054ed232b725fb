/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The service's jobs on the loaded model (worker only): loading it, predicting one
 * image, evaluating a split (see vg-service-private.h). */
#define G_LOG_DOMAIN "visage-service"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "vg-backend.h"
#include "vg-device.h"
#include "vg-stats.h"
#include "vg-service-private.h"

/* ---- the jobs (worker only) ------------------------------------------------------------- */

gboolean
service_open_model (const char *path, const char *device, gboolean flip,
                    GCancellable *cancellable, VgModel **model_out, VgPredictor **predictor_out,
                    VgPreprocess *pre, char **key_out, char **device_note, GError **error)
{
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgPredictor) predictor = NULL;
  g_autofree char *key = NULL;
  char why[512] = "";
  const VgBackend *backend;

  key = service_model_key_for_file (path, cancellable, error);
  if (key == NULL)
    return FALSE;
  backend = vg_backend_for_device (device, why, sizeof why);
  if (backend == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s", why);
      return FALSE;
    }
  model = vg_model_open (path, backend, pre, error);
  if (device_note != NULL)
    *device_note = g_strdup (why);
  if (model == NULL)
    return FALSE;
  predictor = vg_predictor_new (model, pre, 1, error);
  if (predictor == NULL || !vg_predictor_set_flip (predictor, flip, error))
    return FALSE;
  if (flip)
    {
      /* flipped predictions are other predictions: cached apart */
      char *flipped = g_strconcat (key, "-flip", NULL);

      g_free (key);
      key = flipped;
    }
  *model_out = g_steal_pointer (&model);
  *predictor_out = g_steal_pointer (&predictor);
  *key_out = g_steal_pointer (&key);
  return TRUE;
}

gboolean
service_run_load_model (VgService *self, Job *job, GError **error)
{
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgPredictor) predictor = NULL;
  g_autofree char *key = NULL;
  VgPreprocess pre;

  if (!service_open_model (job->path, job->device, job->flip, job->cancellable, &model,
                           &predictor, &pre, &key, &job->device_note, error))
    return FALSE;

  /* The predictor refers to the model: free it first. */
  g_clear_pointer (&self->predictor, vg_predictor_free);
  g_clear_pointer (&self->model, vg_model_free);
  self->model = g_steal_pointer (&model);
  self->predictor = g_steal_pointer (&predictor);
  self->pre = pre;
  job->config = *vg_model_config (self->model);
  g_free (self->model_key);
  self->model_key = g_steal_pointer (&key);
  service_memory_cache_clear (self);
  return TRUE;
}

VgPrediction *
service_run_predict (VgService *self, Job *job, GError **error)
{
  g_autoptr (VgPrediction) prediction = g_new0 (VgPrediction, 1);
  gint64 start = g_get_monotonic_time ();
  int H, W;

  if (service_job_should_stop (self, job, error))
    return NULL;
  if (!vg_image_load (&self->image, job->path, error))
    return NULL;
  H = self->image.height;
  W = self->image.width;
  prediction->image_path = g_strdup (job->path);
  prediction->height = H;
  prediction->width = W;
  prediction->result.index = -1;
  prediction->rgb = g_memdup2 (self->image.data, (gsize) H * W * 3);

  if (job->mask_path != NULL)
    {
      if (!vg_mask_load (&self->mask, job->mask_path, error))
        return NULL;
      if (self->mask.height != H || self->mask.width != W)
        {
          g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_SIZE,
                       "%s: the mask is %dx%d but its image is %dx%d", job->mask_path,
                       self->mask.width, self->mask.height, W, H);
          return NULL;
        }
      if (!vg_mask_check (self->mask.data, (size_t) H * W, W, job->mask_path, error))
        return NULL;
      prediction->truth = g_memdup2 (self->mask.data, (gsize) H * W);
    }

  if (self->predictor != NULL)
    {
      g_autoptr (GBytes) labels = service_predict_labels (self, job->path, H, W, TRUE,
                                                          &prediction->cached, error);
      if (labels == NULL)
        return NULL;
      prediction->labels = g_bytes_unref_to_data (g_steal_pointer (&labels), &(gsize) { 0 });
    }
  if (job->compared)
    {
      g_autoptr (GBytes) other = service_compared_labels (self, job->path, H, W, error);

      if (other == NULL)
        return NULL;
      prediction->other_labels = g_bytes_unref_to_data (g_steal_pointer (&other),
                                                        &(gsize) { 0 });
    }

  if (prediction->truth != NULL && prediction->labels != NULL)
    {
      g_auto (VgEvalResult) metrics = { 0 };

      vg_eval_result_init (&metrics, 1);
      service_image_result_add (&metrics, &prediction->result, 0, prediction->truth,
                                prediction->labels, (size_t) H * W);
      prediction->result.index = -1;
      prediction->has_result = TRUE;
    }
  prediction->seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_debug ("%s: %dx%d, %s in %.3f s", job->path, W, H,
           prediction->labels == NULL ? "decoded" : prediction->cached ? "cached" : "predicted",
           prediction->seconds);
  return g_steal_pointer (&prediction);
}

gboolean
service_check_evaluable (VgService *self, const VgSplit *split, GError **error)
{
  if (self->predictor == NULL)
    {
      g_set_error_literal (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_NO_MODEL,
                           "No model is loaded");
      return FALSE;
    }
  if (!vg_split_has_masks (split))
    {
      g_set_error (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_NO_MASKS,
                   "%s: the split has no masks to evaluate against", split->images_dir);
      return FALSE;
    }
  return TRUE;
}

VgEvaluation *
service_evaluation_new (int n_images)
{
  VgEvaluation *evaluation = g_new0 (VgEvaluation, 1);

  vg_eval_result_init (&evaluation->metrics, n_images);
  evaluation->images = g_new0 (VgImageResult, MAX (n_images, 1));
  return evaluation;
}

gboolean
service_load_truth (VgService *self, const VgSample *sample, GError **error)
{
  return vg_mask_load (&self->mask, sample->mask_path, error)
         && vg_mask_check (self->mask.data, (size_t) self->mask.height * self->mask.width,
                           self->mask.width, sample->mask_path, error);
}

gboolean
service_evaluate_image (VgService *self, VgPredictor *predictor, const char *model_key,
                        const VgSample *sample, int index, VgEvaluation *evaluation,
                        GError **error)
{
  g_autoptr (GBytes) labels = NULL;
  gboolean cached;

  labels = service_predict_labels_by (self, predictor, model_key, sample->image_path,
                                      self->mask.height, self->mask.width, FALSE, &cached,
                                      error);
  if (labels == NULL)
    return FALSE;
  evaluation->n_cached += cached;
  service_image_result_add (&evaluation->metrics, &evaluation->images[index], index,
                            self->mask.data, g_bytes_get_data (labels, NULL),
                            (size_t) self->mask.height * self->mask.width);
  return TRUE;
}

VgEvaluation *
service_run_evaluate (VgService *self, Job *job, GError **error)
{
  const VgSplit *split = job->split;
  g_autoptr (VgEvaluation) evaluation = NULL;
  g_autoptr (GTimer) timer = g_timer_new ();

  if (!service_check_evaluable (self, split, error))
    return NULL;
  evaluation = service_evaluation_new (split->n_samples);
  service_report (self, job, 0, split->n_samples, NULL);
  for (int i = 0; i < split->n_samples; i++)
    {
      service_serve_queued (self, SERVE_PREDICTIONS);
      if (service_job_should_stop (self, job, error)
          || !service_load_truth (self, &split->samples[i], error)
          || !service_evaluate_image (self, self->predictor, self->model_key,
                                      &split->samples[i], i, evaluation, error))
        return NULL;
      service_report (self, job, i + 1, split->n_samples, &evaluation->images[i]);
    }
  evaluation->metrics.seconds = g_timer_elapsed (timer, NULL);
  return g_steal_pointer (&evaluation);
}
