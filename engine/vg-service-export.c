/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The service's exports (worker only): masks, overlays and split copies, never over the
 * split's own files (see vg-service-private.h). */
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

/* ---- export ---------------------------------------------------------------------------- */

static char *
file_identity (const char *path)
{
  struct stat st;

  /* stat follows symbolic links: a link to a mask is that mask. */
  if (g_stat (path, &st) != 0)
    return NULL;
  return g_strdup_printf ("%ju:%ju", (uintmax_t) st.st_dev, (uintmax_t) st.st_ino);
}

/* The files an export must never write over: the split's images and masks. */
static GHashTable *
protected_files (const VgSplit *split)
{
  GHashTable *files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (int i = 0; i < split->n_samples; i++)
    {
      const char *paths[] = { split->samples[i].image_path, split->samples[i].mask_path };

      for (int k = 0; k < 2; k++)
        {
          char *id = paths[k] != NULL ? file_identity (paths[k]) : NULL;

          if (id != NULL)
            g_hash_table_add (files, id);
        }
    }
  return files;
}

static gboolean
check_not_protected (GHashTable *protected, const char *path, GError **error)
{
  g_autofree char *id = file_identity (path);

  if (id != NULL && g_hash_table_contains (protected, id))
    {
      g_set_error (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_PROTECTED,
                   "%s: refusing to write over a file of the data split", path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
same_folder (const char *a, const char *b)
{
  g_autofree char *ia = a != NULL ? file_identity (a) : NULL;
  g_autofree char *ib = b != NULL ? file_identity (b) : NULL;

  return ia != NULL && ib != NULL && g_str_equal (ia, ib);
}

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

int
service_run_export (VgService *self, Job *job, GError **error)
{
  const VgSplit *split = job->split;
  g_autoptr (GHashTable) protected = NULL;
  g_autofree guint8 *overlay = NULL;
  int first = job->index >= 0 ? job->index : 0;
  int last = job->index >= 0 ? job->index + 1 : split->n_samples;
  int written = 0;

  if (self->predictor == NULL)
    {
      g_set_error_literal (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_NO_MODEL,
                           "No model is loaded");
      return -1;
    }
  if (job->index >= split->n_samples)
    {
      g_set_error (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_NO_SAMPLE,
                   "sample %d is outside the split (%d samples)", job->index,
                   split->n_samples);
      return -1;
    }

  protected = protected_files (split);
  if (job->export_kind == VG_EXPORT_SUBMISSION)
    {
      g_autoptr (VgSplit) subset = NULL;
      ExportProgress progress = { self, job };

      if (!check_not_protected (protected, job->path, error))
        return -1;
      if (job->index >= 0)
        {
          /* A split of the one sample: the zip holds just its entry. */
          subset = g_new0 (VgSplit, 1);
          subset->images_dir = g_strdup (split->images_dir);
          subset->n_samples = 1;
          subset->samples = g_new0 (VgSample, 1);
          subset->samples[0] = split->samples[job->index];
          subset->samples[0].name = g_strdup (split->samples[job->index].name);
          subset->samples[0].image_path = g_strdup (split->samples[job->index].image_path);
          subset->samples[0].mask_path = NULL;
        }
      if (!vg_export_submission (self->predictor, subset != NULL ? subset : split, job->path,
                                 1, export_progress, &progress, job->cancellable, error))
        return -1;
      return 1;
    }

  /* A data split's folders are off limits as a whole; beside images opened on their own
   * (no masks folder) the file check below is enough. */
  if (same_folder (job->path, split->masks_dir)
      || same_folder (job->path, split->annotations_dir)
      || (split->masks_dir != NULL && same_folder (job->path, split->images_dir)))
    {
      g_set_error (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_PROTECTED,
                   "%s: refusing to export into a folder of the data split", job->path);
      return -1;
    }
  if (g_mkdir_with_parents (job->path, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", job->path,
                   g_strerror (saved));
      return -1;
    }
  /* Check every destination before writing any, so a refusal leaves nothing half done. */
  for (int i = first; i < last; i++)
    {
      g_autofree char *file_name = g_strdup_printf ("%s.png", split->samples[i].name);
      g_autofree char *out = g_build_filename (job->path, file_name, NULL);

      if (!check_not_protected (protected, out, error))
        return -1;
    }

  service_report (self, job, 0, last - first, NULL);
  for (int i = first; i < last; i++)
    {
      const VgSample *sample = &split->samples[i];
      g_autofree char *file_name = g_strdup_printf ("%s.png", sample->name);
      g_autofree char *out = g_build_filename (job->path, file_name, NULL);
      g_autoptr (GBytes) labels = NULL;
      gboolean cached, loaded = FALSE;
      int H, W;

      service_serve_queued (self, SERVE_PREDICTIONS);
      if (service_job_should_stop (self, job, error))
        return -1;
      if (job->export_kind == VG_EXPORT_OVERLAYS)
        {
          /* The photo is needed anyway: decode it first, so a miss predicts from it. */
          if (!vg_image_load (&self->image, sample->image_path, error))
            return -1;
          loaded = TRUE;
        }
      H = loaded ? self->image.height : sample->height;
      W = loaded ? self->image.width : sample->width;
      labels = service_predict_labels (self, sample->image_path, H, W, loaded, &cached, error);
      if (labels == NULL)
        return -1;
      if (job->export_kind == VG_EXPORT_MASKS)
        {
          if (!vg_mask_save (out, g_bytes_get_data (labels, NULL), H, W, error))
            return -1;
        }
      else
        {
          if (!loaded && !vg_image_load (&self->image, sample->image_path, error))
            return -1;
          overlay = g_realloc (overlay, (gsize) H * W * 3);
          vg_overlay_render (overlay, self->image.data, g_bytes_get_data (labels, NULL), H, W,
                             (float) job->opacity);
          if (!vg_image_save_png (out, overlay, H, W, error))
            return -1;
        }
      written++;
      service_report (self, job, i - first + 1, last - first, NULL);
    }
  return written;
}
