/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The engine service: a job queue served by one worker thread, and a coalescing event
 * queue delivered to the main context by at most one pending source (see vg-service.h).
 *
 * Ownership: the worker alone touches the model, the predictor, the prediction caches and
 * the scratch images; the main context alone completes tasks and emits signals; the
 * mutex guards the two queues between them (jobs in, events out). The worker never holds
 * a reference to the service: every queued job's GTask does, and tasks are completed and
 * released on the main context, so the last reference is never dropped on the worker. */
#define G_LOG_DOMAIN "visage-service"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "vg-backend.h"
#include "vg-device.h"
#include "vg-predict.h"
#include "vg-service.h"
#include "vg-service-private.h"
#include "vg-stats.h"

G_DEFINE_FINAL_TYPE (VgService, vg_service, G_TYPE_OBJECT)

G_DEFINE_QUARK (vg-service-error-quark, vg_service_error)

enum {
  PROP_0,
  PROP_CACHE_DIR,
  PROP_MODEL_PATH,
  PROP_BUSY,
  N_PROPS
};

enum {
  SIGNAL_PROGRESS,
  SIGNAL_IMAGE_RESULTS,
  SIGNAL_TRAIN_STEP,
  SIGNAL_TRAIN_EPOCH,
  SIGNAL_MESSAGE,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* ---- results ---------------------------------------------------------------------------- */

void
vg_prediction_free (VgPrediction *prediction)
{
  if (prediction == NULL)
    return;
  g_free (prediction->image_path);
  g_free (prediction->rgb);
  g_free (prediction->truth);
  g_free (prediction->labels);
  g_free (prediction->other_labels);
  g_free (prediction);
}

void
vg_evaluation_free (VgEvaluation *evaluation)
{
  if (evaluation == NULL)
    return;
  vg_eval_result_clear (&evaluation->metrics);
  g_free (evaluation->images);
  g_free (evaluation);
}

static void
image_result_compute (VgImageResult *r, int index, const guint8 *truth, const guint8 *pred,
                      size_t n)
{
  r->index = index;
  vg_confusion_reset (&r->confusion);
  vg_confusion_add (&r->confusion, truth, pred, n);
  r->truth_classes = 0;
  r->pred_classes = 0;
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int p = 0; p < VG_NUM_CLASSES; p++)
      if (r->confusion.counts[t][p] > 0)
        {
          r->truth_classes |= 1u << t;
          r->pred_classes |= 1u << p;
        }
  r->miou = vg_confusion_miou (&r->confusion);
}

/* One image into an evaluation: its own result, and the metrics shared with visage-cli
 * (whose per-image mIoU is the one shown, so the two programs agree to the last bit). */
void
service_image_result_add (VgEvalResult *metrics, VgImageResult *r, int index, const guint8 *truth,
                          const guint8 *pred, size_t n)
{
  image_result_compute (r, index, truth, pred, n);
  vg_eval_result_add (metrics, index, truth, pred, n);
  r->miou = metrics->image_miou[index];
}

/* ---- jobs and events -------------------------------------------------------------------- */

static void
job_free (Job *job)
{
  g_clear_object (&job->task);
  g_clear_object (&job->cancellable);
  g_free (job->path);
  g_free (job->mask_path);
  g_free (job->device);
  g_free (job->device_note);
  g_free (job->model_path);
  vg_split_free (job->split);
  if (job->train_options != NULL)
    {
      vg_train_options_clear (job->train_options);
      g_free (job->train_options);
    }
  if (job->result != NULL && job->result_free != NULL)
    job->result_free (job->result);
  g_clear_error (&job->error);
  g_free (job);
}

static void
event_free (Event *event)
{
  if (event->finished != NULL)
    job_free (event->finished);
  g_clear_object (&event->cancellable);
  g_clear_pointer (&event->results, g_array_unref);
  g_clear_pointer (&event->epochs, g_array_unref);
  g_clear_pointer (&event->messages, g_ptr_array_unref);
  g_free (event);
}

static gboolean
events_have_finished_locked (VgService *self)
{
  for (GList *l = self->events.head; l != NULL; l = l->next)
    if (((Event *) l->data)->finished != NULL)
      return TRUE;
  return FALSE;
}

static void
complete_job (VgService *self, Job *job)
{
  if (job->kind == VG_SERVICE_JOB_LOAD_MODEL && job->error == NULL)
    {
      /* The worker switched models whether or not the caller still cares. */
      g_free (self->model_path);
      self->model_path = g_strdup (job->path);
      g_free (self->device_note);
      self->device_note = g_steal_pointer (&job->device_note);
      self->model_flip = job->flip;
      self->model_config = job->config;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_PATH]);
    }

  if (job->error != NULL)
    g_task_return_error (job->task, g_steal_pointer (&job->error));
  else if (job->kind == VG_SERVICE_JOB_LOAD_MODEL)
    g_task_return_boolean (job->task, TRUE);
  else if (job->kind == VG_SERVICE_JOB_EXPORT)
    {
      g_task_return_int (job->task, GPOINTER_TO_INT (job->result));
      job->result = NULL;
    }
  else
    {
      g_task_return_pointer (job->task, job->result, job->result_free);
      job->result = NULL;
    }

  g_assert (self->n_jobs > 0);
  if (--self->n_jobs == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

/* Emit the epoch records from index `from` on whose epoch is below `before`; returns
 * the index of the first one not emitted. */
static guint
emit_epochs (VgService *self, GArray *epochs, guint from, int before)
{
  guint i;

  for (i = from; i < epochs->len; i++)
    {
      VgServiceEpoch *epoch = &g_array_index (epochs, VgServiceEpoch, i);

      if (epoch->epoch.epoch >= before)
        break;
      epoch->epoch.state = &epoch->state;
      g_signal_emit (self, signals[SIGNAL_TRAIN_EPOCH], 0, epoch);
    }
  return i;
}

static gboolean
deliver_events (gpointer user_data)
{
  VgService *self = user_data;
  GQueue events = G_QUEUE_INIT;
  Event *event;

  g_mutex_lock (&self->mutex);
  events = self->events;
  g_queue_init (&self->events);
  g_clear_pointer (&self->delivery, g_source_unref);
  g_mutex_unlock (&self->mutex);

  g_object_ref (self);
  while ((event = g_queue_pop_head (&events)) != NULL)
    {
      if (event->finished != NULL)
        complete_job (self, event->finished);
      else if (event->cancellable != NULL && g_cancellable_is_cancelled (event->cancellable))
        {
          /* A cancelled job's news is dropped, except its finished epochs: they are on
           * disk (log and checkpoint), and whoever shows the run must count them. */
          emit_epochs (self, event->epochs, 0, G_MAXINT);
        }
      else
        {
          guint e = 0;

          for (guint i = 0; i < event->messages->len; i++)
            g_signal_emit (self, signals[SIGNAL_MESSAGE], 0,
                           g_ptr_array_index (event->messages, i));
          /* In the order they happened: the step (of epoch s) came after the records of
           * the epochs before s and before the record of s itself. */
          if (event->has_step)
            e = emit_epochs (self, event->epochs, 0, event->step.epoch);
          /* Results first, so that a progress handler sees them counted. */
          if (event->results->len > 0)
            g_signal_emit (self, signals[SIGNAL_IMAGE_RESULTS], 0, event->results->data,
                           event->results->len);
          if (event->has_step)
            g_signal_emit (self, signals[SIGNAL_TRAIN_STEP], 0, &event->step);
          emit_epochs (self, event->epochs, e, G_MAXINT);
          if (event->total > 0)
            g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, (int) event->kind, event->done,
                           event->total);
        }
      event_free (event);
    }

  /* The interval counts from the end of this delivery, so handlers see at most ~10
   * deliveries of news per second however long they take. A source the worker created
   * meanwhile was timed from the previous delivery: move it. */
  g_mutex_lock (&self->mutex);
  self->last_delivery = g_get_monotonic_time ();
  if (self->delivery != NULL && !events_have_finished_locked (self))
    g_source_set_ready_time (self->delivery, self->last_delivery + DELIVERY_INTERVAL_US);
  g_mutex_unlock (&self->mutex);
  g_object_unref (self);

  return G_SOURCE_REMOVE;
}

static gboolean
delivery_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  return callback (user_data);
}

static GSourceFuncs delivery_funcs = {
  .dispatch = delivery_dispatch,
};

/* Make sure one delivery is pending: now when urgent (a job finished), else no sooner
 * than the interval after the previous delivery. Called with the mutex held. */
void
service_schedule_delivery_locked (VgService *self, gboolean urgent)
{
  if (self->delivery == NULL)
    {
      self->delivery = g_source_new (&delivery_funcs, sizeof (GSource));
      g_source_set_name (self->delivery, "[visage] service delivery");
      g_source_set_callback (self->delivery, deliver_events, self, NULL);
      g_source_set_ready_time (self->delivery,
                               urgent ? 0 : self->last_delivery + DELIVERY_INTERVAL_US);
      g_source_attach (self->delivery, self->context);
    }
  else if (urgent)
    g_source_set_ready_time (self->delivery, 0);
}

/* Worker, with the mutex held: the event that collects the job's news not yet delivered. */
Event *
service_news_locked (VgService *self, Job *job)
{
  Event *tail = g_queue_peek_tail (&self->events);

  if (tail == NULL || tail->finished != NULL || tail->serial != job->serial)
    {
      tail = g_new0 (Event, 1);
      tail->serial = job->serial;
      tail->kind = job->kind;
      tail->cancellable = job->cancellable != NULL ? g_object_ref (job->cancellable) : NULL;
      tail->results = g_array_new (FALSE, FALSE, sizeof (VgImageResult));
      tail->epochs = g_array_new (FALSE, FALSE, sizeof (VgServiceEpoch));
      tail->messages = g_ptr_array_new_with_free_func (g_free);
      g_queue_push_tail (&self->events, tail);
    }
  return tail;
}

/* Worker: news of a running job; result (nullable) is one image's evaluation. */
void
service_report (VgService *self, Job *job, int done, int total, const VgImageResult *result)
{
  Event *news;

  g_mutex_lock (&self->mutex);
  news = service_news_locked (self, job);
  news->done = done;
  news->total = total;
  if (result != NULL)
    g_array_append_vals (news->results, result, 1);
  service_schedule_delivery_locked (self, FALSE);
  g_mutex_unlock (&self->mutex);
}

/* Worker: hand a finished job back to the main context. */
void
service_hand_back (VgService *self, Job *job)
{
  Event *event = g_new0 (Event, 1);

  event->finished = job;
  g_mutex_lock (&self->mutex);
  g_queue_push_tail (&self->events, event);
  service_schedule_delivery_locked (self, TRUE);
  g_mutex_unlock (&self->mutex);
}

gboolean
service_job_should_stop (VgService *self, Job *job, GError **error)
{
  if (g_cancellable_set_error_if_cancelled (job->cancellable, error))
    return TRUE;
  if (g_atomic_int_get (&self->quit))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           "The engine service is shutting down");
      return TRUE;
    }
  return FALSE;
}

/* ---- running jobs (worker only) ------------------------------------------------------- */

/* A split, with the classes each mask holds, for the gallery's filter before any
 * evaluation. A mask that fails to decode only leaves its bits unknown (it would fail
 * again, with its name, when shown or evaluated). */
static VgSplit *
run_open_split (VgService *self, Job *job, GError **error)
{
  VgSplit *split = vg_split_open (job->path, VG_SPLIT_SKIP_BAD, 0, job->cancellable, error);
  g_autoptr (GError) scan_error = NULL;

  if (split != NULL && !vg_split_classes_get (split, 0, NULL, job->cancellable, &scan_error)
      && g_error_matches (scan_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      vg_split_free (split);
      g_propagate_error (error, g_steal_pointer (&scan_error));
      return NULL;
    }
  return split;
}

void
service_run_job (VgService *self, Job *job)
{
  switch (job->kind)
    {
    case VG_SERVICE_JOB_PREDICT:
      job->result = service_run_predict (self, job, &job->error);
      job->result_free = (GDestroyNotify) vg_prediction_free;
      break;
    case VG_SERVICE_JOB_LOAD_MODEL:
      if (!service_job_should_stop (self, job, &job->error))
        service_run_load_model (self, job, &job->error);
      break;
    case VG_SERVICE_JOB_OPEN_SPLIT:
      if (!service_job_should_stop (self, job, &job->error))
        job->result = run_open_split (self, job, &job->error);
      job->result_free = (GDestroyNotify) vg_split_free;
      break;
    case VG_SERVICE_JOB_EVALUATE:
      job->result = service_run_evaluate (self, job, &job->error);
      job->result_free = (GDestroyNotify) vg_evaluation_free;
      break;
    case VG_SERVICE_JOB_EXPORT:
      job->result = GINT_TO_POINTER (service_run_export (self, job, &job->error));
      break;
    case VG_SERVICE_JOB_TRAIN:
      job->result = service_run_train (self, job, &job->error);
      job->result_free = g_free;
      break;
    case VG_SERVICE_JOB_COMPARE:
      job->result = service_run_compare (self, job, &job->error);
      job->result_free = (GDestroyNotify) vg_service_comparison_free;
      break;
    case VG_SERVICE_JOB_NONE:
    default:
      g_assert_not_reached ();
    }
}

void
service_serve_queued (VgService *self, guint kinds)
{
  GQueue jobs = G_QUEUE_INIT;
  Job *job;

  g_mutex_lock (&self->mutex);
  for (GList *l = self->queue.head, *next; l != NULL; l = next)
    {
      next = l->next;
      if (kinds & (1u << ((Job *) l->data)->kind))
        {
          g_queue_push_tail (&jobs, l->data);
          g_queue_delete_link (&self->queue, l);
        }
    }
  g_mutex_unlock (&self->mutex);

  while ((job = g_queue_pop_head (&jobs)) != NULL)
    {
      service_run_job (self, job);
      service_hand_back (self, job);
    }
}

static gpointer
worker_main (gpointer data)
{
  VgService *self = data;

  for (;;)
    {
      Job *job;

      g_mutex_lock (&self->mutex);
      while (!self->quit && g_queue_is_empty (&self->queue))
        g_cond_wait (&self->cond, &self->mutex);
      if (self->quit)
        {
          g_mutex_unlock (&self->mutex);
          break;
        }
      job = g_queue_pop_head (&self->queue);
      g_mutex_unlock (&self->mutex);

      service_run_job (self, job);
      service_hand_back (self, job);
    }
  return NULL;
}

/* Main context: queue a job, starting the worker on first use. */
void
service_queue_job (VgService *self, Job *job)
{
  g_autoptr (GError) error = NULL;

  g_mutex_lock (&self->mutex);
  if (self->thread == NULL)
    self->thread = g_thread_try_new ("visage-service", worker_main, self, &error);
  if (self->thread == NULL)
    {
      g_mutex_unlock (&self->mutex);
      g_task_return_new_error (job->task, G_IO_ERROR, G_IO_ERROR_FAILED,
                               "Cannot start the engine's worker thread: %s", error->message);
      job_free (job);
      return;
    }
  job->serial = ++self->next_serial;
  g_queue_push_tail (&self->queue, job);
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->mutex);

  if (self->n_jobs++ == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

Job *
service_job_new (VgService *self, VgServiceJob kind, GCancellable *cancellable,
         GAsyncReadyCallback callback, gpointer user_data, gpointer source_tag)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  job->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (job->task, source_tag);
  job->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  return job;
}

/* ---- public API ------------------------------------------------------------------------- */

VgService *
vg_service_new (const char *cache_dir)
{
  return g_object_new (VG_TYPE_SERVICE, "cache-dir", cache_dir, NULL);
}

const char *
vg_service_get_model_path (VgService *self)
{
  g_return_val_if_fail (VG_IS_SERVICE (self), NULL);

  return self->model_path;
}

gboolean
vg_service_get_busy (VgService *self)
{
  g_return_val_if_fail (VG_IS_SERVICE (self), FALSE);

  return self->n_jobs > 0;
}

void
vg_service_set_memory_cache_limit (VgService *self, gsize bytes)
{
  g_return_if_fail (VG_IS_SERVICE (self));

  g_mutex_lock (&self->mutex);
  self->memory_cache_limit = bytes;
  g_mutex_unlock (&self->mutex);
}

void
vg_service_load_model_async (VgService *self, const char *path, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job;

  g_return_if_fail (VG_IS_SERVICE (self));
  g_return_if_fail (path != NULL);

  job = service_job_new (self, VG_SERVICE_JOB_LOAD_MODEL, cancellable, callback, user_data,
                 vg_service_load_model_async);
  job->path = g_strdup (path);
  job->device = g_strdup (self->device);
  job->flip = self->flip;
  service_queue_job (self, job);
}

void
vg_service_set_device (VgService *self, const char *device)
{
  g_return_if_fail (VG_IS_SERVICE (self));
  g_return_if_fail (g_strcmp0 (device, "auto") == 0 || g_strcmp0 (device, "cpu") == 0
                    || g_strcmp0 (device, "cuda") == 0);

  g_free (self->device);
  self->device = g_strdup (device);
}

const char *
vg_service_get_device (VgService *self)
{
  g_return_val_if_fail (VG_IS_SERVICE (self), NULL);

  return self->device;
}

void
vg_service_set_flip (VgService *self, gboolean flip)
{
  g_return_if_fail (VG_IS_SERVICE (self));

  self->flip = flip;
}

gboolean
vg_service_get_flip (VgService *self)
{
  g_return_val_if_fail (VG_IS_SERVICE (self), FALSE);

  return self->flip;
}

gboolean
vg_service_get_model_flip (VgService *self)
{
  g_return_val_if_fail (VG_IS_SERVICE (self), FALSE);

  return self->model_flip;
}

const VgConfig *
vg_service_get_model_config (VgService *self)
{
  g_return_val_if_fail (VG_IS_SERVICE (self), NULL);

  return self->model_path != NULL ? &self->model_config : NULL;
}

const char *
vg_service_get_device_note (VgService *self)
{
  g_return_val_if_fail (VG_IS_SERVICE (self), NULL);

  return self->device_note != NULL ? self->device_note : "";
}

gboolean
vg_service_load_model_finish (VgService *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
vg_service_open_split_async (VgService *self, const char *dir, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job;

  g_return_if_fail (VG_IS_SERVICE (self));
  g_return_if_fail (dir != NULL);

  job = service_job_new (self, VG_SERVICE_JOB_OPEN_SPLIT, cancellable, callback, user_data,
                 vg_service_open_split_async);
  job->path = g_strdup (dir);
  service_queue_job (self, job);
}

VgSplit *
vg_service_open_split_finish (VgService *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
vg_service_predict_async (VgService *self, const char *image_path, const char *mask_path,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  Job *job;

  g_return_if_fail (VG_IS_SERVICE (self));
  g_return_if_fail (image_path != NULL);

  job = service_job_new (self, VG_SERVICE_JOB_PREDICT, cancellable, callback, user_data,
                 vg_service_predict_async);
  job->path = g_strdup (image_path);
  job->mask_path = g_strdup (mask_path);
  service_queue_job (self, job);
}

VgPrediction *
vg_service_predict_finish (VgService *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

VgSplit *
service_split_copy (const VgSplit *split)
{
  VgSplit *copy = g_new0 (VgSplit, 1);

  copy->images_dir = g_strdup (split->images_dir);
  copy->masks_dir = g_strdup (split->masks_dir);
  copy->annotations_dir = g_strdup (split->annotations_dir);
  copy->n_annotated = split->n_annotated;
  copy->n_samples = split->n_samples;
  copy->samples = g_new0 (VgSample, split->n_samples);
  for (int i = 0; i < split->n_samples; i++)
    {
      copy->samples[i] = split->samples[i];
      copy->samples[i].name = g_strdup (split->samples[i].name);
      copy->samples[i].image_path = g_strdup (split->samples[i].image_path);
      copy->samples[i].mask_path = g_strdup (split->samples[i].mask_path);
    }
  return copy;
}

void
vg_service_evaluate_async (VgService *self, const VgSplit *split, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job;

  g_return_if_fail (VG_IS_SERVICE (self));
  g_return_if_fail (split != NULL);

  job = service_job_new (self, VG_SERVICE_JOB_EVALUATE, cancellable, callback, user_data,
                 vg_service_evaluate_async);
  job->split = service_split_copy (split);
  service_queue_job (self, job);
}

VgEvaluation *
vg_service_evaluate_finish (VgService *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
vg_service_export_async (VgService *self, const VgSplit *split, int index, VgExportKind kind,
                         const char *destination, const VgExportOptions *options,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job;

  g_return_if_fail (VG_IS_SERVICE (self));
  g_return_if_fail (split != NULL);
  g_return_if_fail (index >= -1);
  g_return_if_fail (destination != NULL);

  job = service_job_new (self, VG_SERVICE_JOB_EXPORT, cancellable, callback, user_data,
                 vg_service_export_async);
  job->split = service_split_copy (split);
  job->index = index;
  job->export_kind = kind;
  job->path = g_canonicalize_filename (destination, NULL);
  if (options != NULL)
    job->export_options = *options;
  else
    vg_export_options_init (&job->export_options);
  job->export_options.alpha = CLAMP (job->export_options.alpha, 0.0, 1.0);
  service_queue_job (self, job);
}

int
vg_service_export_finish (VgService *self, GAsyncResult *result, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  gssize written;

  g_return_val_if_fail (g_task_is_valid (result, self), -1);

  written = g_task_propagate_int (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return -1;
    }
  return (int) written;
}

void
vg_service_train_async (VgService *self, const VgTrainOptions *options,
                        GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data)
{
  Job *job;

  g_return_if_fail (VG_IS_SERVICE (self));
  g_return_if_fail (options != NULL);

  job = service_job_new (self, VG_SERVICE_JOB_TRAIN, cancellable, callback, user_data,
                 vg_service_train_async);
  job->train_options = g_new0 (VgTrainOptions, 1);
  vg_train_options_copy (job->train_options, options);
  job->device = g_strdup (self->device);
  service_queue_job (self, job);
}

gboolean
vg_service_train_finish (VgService *self, GAsyncResult *result, VgTrainState *final_state,
                         GError **error)
{
  g_autofree VgTrainState *state = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  state = g_task_propagate_pointer (G_TASK (result), error);
  if (state == NULL)
    return FALSE;
  if (final_state != NULL)
    *final_state = *state;
  return TRUE;
}

void
vg_service_set_training_paused (VgService *self, gboolean paused)
{
  g_return_if_fail (VG_IS_SERVICE (self));

  vg_train_control_set_paused (self->train_control, paused);
}

/* ---- GObject ---------------------------------------------------------------------------- */

static void
vg_service_dispose (GObject *object)
{
  VgService *self = VG_SERVICE (object);
  GQueue queued = G_QUEUE_INIT, events = G_QUEUE_INIT;
  Job *job;
  Event *event;

  /* Queued jobs hold references to the service, so this runs with jobs left only when
   * someone forces it (g_object_run_dispose): stop the worker after its current image. */
  g_mutex_lock (&self->mutex);
  g_atomic_int_set (&self->quit, TRUE);
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->mutex);
  /* A paused training run must see the shutdown. */
  vg_train_control_set_paused (self->train_control, FALSE);
  if (self->thread != NULL)
    g_thread_join (g_steal_pointer (&self->thread));

  g_mutex_lock (&self->mutex);
  queued = self->queue;
  g_queue_init (&self->queue);
  events = self->events;
  g_queue_init (&self->events);
  if (self->delivery != NULL)
    {
      g_source_destroy (self->delivery);
      g_clear_pointer (&self->delivery, g_source_unref);
    }
  g_mutex_unlock (&self->mutex);

  while ((event = g_queue_pop_head (&events)) != NULL)
    {
      if (event->finished != NULL)
        complete_job (self, event->finished);
      event_free (event);
    }
  while ((job = g_queue_pop_head (&queued)) != NULL)
    {
      job->error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                        "The engine service was shut down");
      complete_job (self, job);
      job_free (job);
    }

  G_OBJECT_CLASS (vg_service_parent_class)->dispose (object);
}

static void
vg_service_finalize (GObject *object)
{
  VgService *self = VG_SERVICE (object);

  g_clear_pointer (&self->predictor, vg_predictor_free);
  g_clear_pointer (&self->model, vg_model_free);
  service_compared_model_clear (self);
  service_memory_cache_clear (self);
  g_hash_table_unref (self->memory_cache);
  vg_train_control_free (self->train_control);
  vg_image_clear (&self->image);
  vg_image_clear (&self->mask);
  vg_image_clear (&self->cached_mask);
  g_free (self->model_key);
  g_free (self->model_path);
  g_free (self->device);
  g_free (self->device_note);
  g_free (self->cache_dir);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->mutex);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (vg_service_parent_class)->finalize (object);
}

static void
vg_service_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VgService *self = VG_SERVICE (object);

  switch (prop_id)
    {
    case PROP_CACHE_DIR:
      g_value_set_string (value, self->cache_dir);
      break;
    case PROP_MODEL_PATH:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, vg_service_get_busy (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vg_service_set_property (GObject *object, guint prop_id, const GValue *value,
                         GParamSpec *pspec)
{
  VgService *self = VG_SERVICE (object);

  switch (prop_id)
    {
    case PROP_CACHE_DIR:
      g_free (self->cache_dir);
      self->cache_dir = g_value_dup_string (value);
      if (self->cache_dir == NULL)
        self->cache_dir = g_build_filename (g_get_user_cache_dir (), "visage", "predictions",
                                            NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vg_service_class_init (VgServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vg_service_dispose;
  object_class->finalize = vg_service_finalize;
  object_class->get_property = vg_service_get_property;
  object_class->set_property = vg_service_set_property;

  properties[PROP_CACHE_DIR] =
    g_param_spec_string ("cache-dir", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MODEL_PATH] =
    g_param_spec_string ("model-path", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* ::progress (job, done, total): news of the running job, at most ~10 times a second. */
  signals[SIGNAL_PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 3, G_TYPE_INT, G_TYPE_INT, G_TYPE_INT);
  /* ::image-results (const VgImageResult *results, guint n): images an evaluation
   * finished since the previous emission, in order. Valid during the emission only. */
  signals[SIGNAL_IMAGE_RESULTS] =
    g_signal_new ("image-results", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_UINT);
  /* ::train-step (const VgTrainStep *): the latest step of a training run. */
  signals[SIGNAL_TRAIN_STEP] =
    g_signal_new ("train-step", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  /* ::train-epoch (const VgServiceEpoch *): each finished epoch, in order. */
  signals[SIGNAL_TRAIN_EPOCH] =
    g_signal_new ("train-epoch", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  /* ::message (const char *): a notice of a running job for the user. */
  signals[SIGNAL_MESSAGE] =
    g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
vg_service_init (VgService *self)
{
  self->context = g_main_context_ref_thread_default ();
  g_mutex_init (&self->mutex);
  g_cond_init (&self->cond);
  self->memory_cache_limit = DEFAULT_MEMORY_CACHE_BYTES;
  self->device = g_strdup ("auto");
  self->train_control = vg_train_control_new ();
  self->memory_cache = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                              service_cache_entry_free);
  self->last_delivery = g_get_monotonic_time () - DELIVERY_INTERVAL_US;
}
