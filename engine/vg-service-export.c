/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The service's exports (worker only): masks in the formats asked for and overlays through
 * the one export of vg-export.h (shared with visage-cli predict), and the submission zip;
 * never over the split's own files. */
#define G_LOG_DOMAIN "visage-service"

#include "config.h"

#include "vg-export.h"
#include "vg-service-private.h"

/* ---- export ---------------------------------------------------------------------------- */

typedef struct {
  VgService *self;
  Job *job;
} ExportProgress;

static void
export_progress (int done, int total, gpointer user_data)
{
  ExportProgress *progress = user_data;

  service_report (progress->self, progress->job, done, total, NULL);
}

/* A split of the one sample, for a zip that holds just its entry. */
static VgSplit *
one_sample_split (const VgSplit *split, int index)
{
  VgSplit *subset = g_new0 (VgSplit, 1);

  subset->images_dir = g_strdup (split->images_dir);
  subset->n_samples = 1;
  subset->samples = g_new0 (VgSample, 1);
  subset->samples[0] = split->samples[index];
  subset->samples[0].name = g_strdup (split->samples[index].name);
  subset->samples[0].image_path = g_strdup (split->samples[index].image_path);
  subset->samples[0].mask_path = NULL;
  return subset;
}

/* The submission zip, never over a file of the split. */
static int
export_submission (VgService *self, Job *job, GError **error)
{
  const VgSplit *split = job->split;
  g_autoptr (VgSplit) subset = job->index >= 0 ? one_sample_split (split, job->index) : NULL;
  ExportProgress progress = { self, job };

  if (!vg_export_check_file (split, job->path, error))
    return -1;
  if (!vg_export_submission (self->predictor, subset != NULL ? subset : split, job->path, 1,
                             export_progress, &progress, job->cancellable, error))
    return -1;
  return 1;
}

/* The labels (from the cache when it can) or, for the probabilities format, a fresh
 * prediction with the class probabilities (self->image holds the photo then). */
static GBytes *
export_predict (VgService *self, const VgSample *sample, gboolean probabilities,
                gboolean need_image, int *H, int *W, GError **error)
{
  gboolean cached, loaded = FALSE;

  if (probabilities || need_image)
    {
      /* The photo is needed anyway: decode it first, so a miss predicts from it. */
      if (!vg_image_load (&self->image, sample->image_path, error))
        return NULL;
      loaded = TRUE;
    }
  *H = loaded ? self->image.height : sample->height;
  *W = loaded ? self->image.width : sample->width;
  if (probabilities)
    {
      guint8 *labels = g_malloc ((gsize) *H * *W);

      if (!vg_predict_image (self->predictor, self->image.data, *H, *W, labels, NULL, error))
        {
          g_free (labels);
          g_prefix_error (error, "%s: ", sample->image_path);
          return NULL;
        }
      return g_bytes_new_take (labels, (gsize) *H * *W);
    }
  return service_predict_labels (self, sample->image_path, *H, *W, loaded, &cached, error);
}

/* Masks (the job's formats) or overlays of one sample or of the whole split, through the
 * one export of vg-export.h. */
static int
export_files (VgService *self, Job *job, GError **error)
{
  const VgSplit *split = job->split;
  int first = job->index >= 0 ? job->index : 0;
  int last = job->index >= 0 ? job->index + 1 : split->n_samples;
  VgExportOptions options = job->export_options;
  g_autoptr (VgExporter) exporter = NULL;
  gboolean probabilities;
  gboolean ok = TRUE;

  if (job->export_kind == VG_EXPORT_OVERLAYS)
    options.formats = VG_EXPORT_FORMAT_OVERLAY;
  exporter = vg_exporter_new (split, first, last, job->path, &options, error);
  if (exporter == NULL)
    return -1;
  probabilities = vg_exporter_needs_probabilities (exporter);
  vg_predictor_set_probabilities (self->predictor, probabilities);
  service_report (self, job, 0, last - first, NULL);
  for (int i = first; i < last && ok; i++)
    {
      const VgSample *sample = &split->samples[i];
      gboolean need_image = vg_exporter_needs_image (exporter);
      g_autoptr (GBytes) labels = NULL;
      int H, W;

      service_serve_queued (self, SERVE_PREDICTIONS);
      if (service_job_should_stop (self, job, error))
        ok = FALSE;
      else if ((labels = export_predict (self, sample, probabilities, need_image, &H, &W,
                                         error)) == NULL
               || !vg_exporter_write (exporter, sample, g_bytes_get_data (labels, NULL),
                                      vg_predictor_probabilities (self->predictor),
                                      need_image ? self->image.data : NULL, H, W, error))
        ok = FALSE;
      else
        service_report (self, job, i - first + 1, last - first, NULL);
    }
  /* The predictions served between two images need no probabilities: free them. */
  vg_predictor_set_probabilities (self->predictor, FALSE);
  return ok ? vg_exporter_get_n_files (exporter) : -1;
}

int
service_run_export (VgService *self, Job *job, GError **error)
{
  if (self->predictor == NULL)
    {
      g_set_error_literal (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_NO_MODEL,
                           "No model is loaded");
      return -1;
    }
  if (job->index >= job->split->n_samples)
    {
      g_set_error (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_NO_SAMPLE,
                   "sample %d is outside the split (%d samples)", job->index,
                   job->split->n_samples);
      return -1;
    }
  if (job->export_kind == VG_EXPORT_SUBMISSION)
    return export_submission (self, job, error);
  return export_files (self, job, error);
}
