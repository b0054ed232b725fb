/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A whole split through the predictor: the loader decodes and resizes batches on worker
 * threads while the model computes; each image's labels at its own size are counted into
 * the dataset metrics (vg_evaluate) or handed to the caller (vg_predict_split). And the
 * same metrics for predictions already on disk (vg_evaluate_predictions).
 *
 * Shape letters as in vg-predict-private.h. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <string.h>

#include <omp.h>

#include "vg-loader.h"
#include "vg-nn.h"
#include "vg-predict-private.h"

/* ---- metrics over a split -------------------------------------------------------------- */

void
vg_eval_result_init (VgEvalResult *r, int n_images)
{
  memset (r, 0, sizeof *r);
  r->n_images = n_images;
  r->image_miou = g_new0 (double, MAX (n_images, 1));
}

void
vg_eval_result_clear (VgEvalResult *r)
{
  g_free (r->image_miou);
  memset (r, 0, sizeof *r);
}

/* Fold one image's confusion into the result. */
static void
eval_commit (VgEvalResult *r, int index, const VgConfusion *img)
{
  double sum = 0.0;
  int present = 0;

  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      uint64_t inter = img->counts[c][c], truth = 0, pred = 0;

      for (int k = 0; k < VG_NUM_CLASSES; k++)
        {
          truth += img->counts[c][k];
          pred += img->counts[k][c];
        }
      if (truth + pred > 0)
        {
          sum += (double) inter / (double) (truth + pred - inter);
          present++;
        }
      if (truth > 0)
        {
          r->class_images[c]++;
          if (inter == 0)
            r->class_missed[c]++;
        }
    }
  if (index >= 0 && index < r->n_images)
    r->image_miou[index] = present > 0 ? sum / present : 0.0;
  vg_confusion_merge (&r->confusion, img);
}

void
vg_eval_result_add (VgEvalResult *r, int index, const uint8_t *truth, const uint8_t *pred,
                    size_t n)
{
  VgConfusion img;

  vg_confusion_reset (&img);
  vg_confusion_add (&img, truth, pred, n);
  eval_commit (r, index, &img);
}

/* Cancel a loader from the thread that cancels the GCancellable. */
static void
cancel_loader (GCancellable *cancellable, gpointer loader)
{
  vg_loader_cancel (loader);
}

/* What the batch loop does with each batch: the loss (eval) and each image's labels. */
typedef struct {
  const VgSplit *split;
  const float *class_weights;  /* (NC) or NULL */
  VgEvalResult *result;        /* NULL: prediction only */
  VgPredictEachFunc each;
  gpointer each_data;
  double loss_num;             /* sum over batches of loss * weight total */
  double loss_den;
} BatchJob;

static gboolean
eval_batch (VgPredictor *p, BatchJob *job, const VgBatch *batch, gboolean native,
            GError **error)
{
  const size_t px = (size_t) p->Hm * p->Wm;

  vg_predictor_forward (p, batch->images, batch->n);
  if (job->result != NULL)
    {
      /* The batch loss is a weighted mean; weighting it by its weight total makes the
       * split's loss the weighted mean over all its pixels, whatever the batch size. */
      double den = 0.0;
      for (size_t i = 0; i < batch->n * px; i++)
        if (batch->masks[i] < p->NC)
          den += job->class_weights != NULL ? job->class_weights[batch->masks[i]] : 1.0;
      if (den > 0.0)
        {
          float loss = vg_cross_entropy_forward (p->logits, batch->masks, job->class_weights,
                                                 VG_IGNORE_INDEX, (int) (batch->n * px),
                                                 p->NC);
          job->loss_num += (double) loss * den;
          job->loss_den += den;
        }
    }
  for (int r = 0; r < batch->n; r++)
    {
      int index = batch->indices[r];
      const VgSample *s = &job->split->samples[index];
      int H = s->height, W = s->width;
      uint8_t *labels = vg_predictor_labels (p, (size_t) H * W);
      const uint8_t *truth = NULL;

      vg_predictor_reduce (p, r, labels, NULL, H, W);
      if (job->result != NULL)
        {
          if (native)
            truth = batch->masks + r * px;
          else
            {
              /* The loader's masks are at the model resolution; the metrics need them at
               * full size. */
              if (!vg_mask_load (&p->mask, s->mask_path, error))
                return FALSE;
              if (p->mask.height != H || p->mask.width != W)
                {
                  g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_SIZE,
                               "%s: mask is %d x %d but its image %s is %d x %d",
                               s->mask_path, p->mask.width, p->mask.height, s->image_path, W,
                               H);
                  return FALSE;
                }
              if (!vg_mask_check (p->mask.data, (size_t) H * W, W, s->mask_path, error))
                return FALSE;
              truth = p->mask.data;
            }
          vg_eval_result_add (job->result, index, truth, labels, (size_t) H * W);
        }
      if (job->each != NULL && !job->each (index, labels, H, W, job->each_data, error))
        return FALSE;
    }
  return TRUE;
}

/* Run the split through the loader (n_workers decoding threads) and the model. */
static gboolean
run_batches (VgPredictor *p, BatchJob *job, int n_workers, double *wait_s,
             VgProgressFunc progress, gpointer user_data, GCancellable *cancellable,
             GError **error)
{
  const VgSplit *split = job->split;
  VgSplit view = *split;
  g_autoptr (VgLoader) loader = NULL;
  VgLoaderParams lp;
  const VgBatch *batch;
  GError *local = NULL;
  gulong handler = 0;
  gboolean native = p->pre.resolution == 0;
  int Hm, Wm, done = 0;

  if (split->n_samples <= 0)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_EMPTY, "%s: no images",
                   split->images_dir != NULL ? split->images_dir : "split");
      return FALSE;
    }
  if (!vg_predictor_input_size (p, split->samples[0].height, split->samples[0].width, &Hm, &Wm))
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_SIZE,
                   "%s: the image is %d x %d, but this model runs at the image's own size, "
                   "which must then be a multiple of 32", split->samples[0].image_path,
                   split->samples[0].width, split->samples[0].height);
      return FALSE;
    }
  if (!vg_predictor_plan (p, Hm, Wm, VG_RESERVE_ALWAYS, error))
    return FALSE;

  /* Prediction never reads masks: the loader reads them when the split has a mask folder. */
  if (job->result == NULL)
    view.masks_dir = NULL;
  vg_loader_params_init (&lp, FALSE);
  lp.batch_size = p->B;
  lp.n_workers = MAX (n_workers, 1);
  lp.aug = p->aug;
  if (native)
    lp.aug.out_height = lp.aug.out_width = 0;
  loader = vg_loader_new (&view, &lp, error);
  if (loader == NULL)
    return FALSE;
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (cancel_loader), loader, NULL);
  vg_loader_start_epoch (loader, 0);
  if (progress != NULL)
    progress (0, split->n_samples, user_data);
  while ((batch = vg_loader_next (loader, &local)) != NULL)
    {
      gboolean ok = eval_batch (p, job, batch, native, &local);
      int n = batch->n; /* the slot is refilled as soon as it is released */

      vg_loader_release (loader, batch);
      if (!ok)
        break;
      done += n;
      if (progress != NULL)
        progress (done, split->n_samples, user_data);
      if (g_cancellable_set_error_if_cancelled (cancellable, &local))
        break;
    }
  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  *wait_s = vg_loader_wait_seconds (loader);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}

gboolean
vg_evaluate (VgPredictor *p, const VgSplit *split, const float *class_weights, int n_workers,
             VgEvalResult *result, VgProgressFunc progress, gpointer user_data,
             GCancellable *cancellable, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  BatchJob job = { .split = split, .class_weights = class_weights, .result = result };
  double wait_s = 0.0;

  vg_eval_result_init (result, split->n_samples);
  if (!vg_split_has_masks (split))
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_MISSING,
                   "%s: evaluation needs masks, and this split has none", split->images_dir);
      return FALSE;
    }
  if (!run_batches (p, &job, n_workers, &wait_s, progress, user_data, cancellable, error))
    return FALSE;
  result->loss = job.loss_den > 0.0 ? job.loss_num / job.loss_den : 0.0;
  result->loss_weight = job.loss_den;
  result->loader_wait_s = wait_s;
  result->seconds = (g_get_monotonic_time () - start) * 1e-6;
  return TRUE;
}

gboolean
vg_predict_split (VgPredictor *p, const VgSplit *split, int n_workers, VgPredictEachFunc each,
                  gpointer each_data, VgProgressFunc progress, gpointer user_data,
                  GCancellable *cancellable, GError **error)
{
  BatchJob job = { .split = split, .each = each, .each_data = each_data };
  double wait_s = 0.0;

  if (p->pre.resolution > 0 || split->n_samples <= 0)
    return run_batches (p, &job, n_workers, &wait_s, progress, user_data, cancellable, error);

  /* At the images' own sizes, which may differ from image to image, batches cannot be
   * formed: one image at a time, decoded here. */
  if (progress != NULL)
    progress (0, split->n_samples, user_data);
  for (int i = 0; i < split->n_samples; i++)
    {
      const VgSample *s = &split->samples[i];
      uint8_t *labels;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (!vg_image_load (&p->image, s->image_path, error))
        return FALSE;
      labels = vg_predictor_labels (p, (size_t) p->image.height * p->image.width);
      if (!vg_predict_image (p, p->image.data, p->image.height, p->image.width, labels, NULL,
                             error))
        {
          g_prefix_error (error, "%s: ", s->image_path);
          return FALSE;
        }
      if (each != NULL
          && !each (i, labels, p->image.height, p->image.width, each_data, error))
        return FALSE;
      if (progress != NULL)
        progress (i + 1, split->n_samples, user_data);
    }
  return TRUE;
}

gboolean
vg_evaluate_predictions (const VgSplit *split, const char *pred_dir, int n_threads,
                         VgEvalResult *r, VgProgressFunc progress, gpointer user_data,
                         GCancellable *cancellable, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  GError *first = NULL;
  int done = 0, failed = 0, N = split->n_samples;

  vg_eval_result_init (r, N);
  if (!vg_split_has_masks (split))
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_MISSING,
                   "%s: evaluation needs masks, and this split has none", split->images_dir);
      return FALSE;
    }
  if (progress != NULL)
    progress (0, N, user_data);

  /* Sums of integers: the result does not depend on the thread count or the order. */
#pragma omp parallel num_threads (MAX (n_threads, 1))
  {
    VgImage truth = { 0 }, pred = { 0 };

#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < N; i++)
      {
        const VgSample *s = &split->samples[i];
        g_autofree char *file = g_strconcat (s->name, ".png", NULL);
        g_autofree char *path = g_build_filename (pred_dir, file, NULL);
        GError *local = NULL;
        VgConfusion img;
        int stop;

#pragma omp atomic read
        stop = failed;
        if (stop || g_cancellable_is_cancelled (cancellable))
          continue;
        if (!g_file_test (path, G_FILE_TEST_EXISTS))
          g_set_error (&local, VG_PREDICT_ERROR, VG_PREDICT_ERROR_MISSING,
                       "%s: no prediction for %s", path, s->image_path);
        else if (vg_mask_load (&truth, s->mask_path, &local)
                 && vg_mask_check (truth.data, (size_t) truth.height * truth.width,
                                   truth.width, s->mask_path, &local)
                 && vg_mask_load (&pred, path, &local)
                 && vg_mask_check (pred.data, (size_t) pred.height * pred.width, pred.width,
                                   path, &local))
          {
            if (pred.height != truth.height || pred.width != truth.width)
              g_set_error (&local, VG_DATA_ERROR, VG_DATA_ERROR_SIZE,
                           "%s: prediction is %d x %d but the mask %s is %d x %d", path,
                           pred.width, pred.height, s->mask_path, truth.width, truth.height);
          }
        if (local != NULL)
          {
#pragma omp critical (vg_eval_predictions)
            {
              if (first == NULL)
                first = local;
              else
                g_error_free (local);
#pragma omp atomic write
              failed = 1;
            }
            continue;
          }
        vg_confusion_reset (&img);
        vg_confusion_add (&img, truth.data, pred.data, (size_t) truth.height * truth.width);
#pragma omp critical (vg_eval_predictions)
        {
          eval_commit (r, i, &img);
          done++;
          /* Callbacks from the calling thread only. */
          if (progress != NULL && omp_get_thread_num () == 0)
            progress (done, N, user_data);
        }
      }
    vg_image_clear (&truth);
    vg_image_clear (&pred);
  }
  if (first != NULL)
    {
      g_propagate_error (error, first);
      return FALSE;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (progress != NULL)
    progress (N, N, user_data);
  r->seconds = (g_get_monotonic_time () - start) * 1e-6;
  return TRUE;
}

