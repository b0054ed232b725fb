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
#include "vg-stats.h"

/* At most one delivery of progress per interval: ~10 updates per second. */
#define DELIVERY_INTERVAL_US (100 * G_TIME_SPAN_MILLISECOND)
#define DEFAULT_MEMORY_CACHE_BYTES ((gsize) 128 << 20)
/* Part of every model key: bump it when the same model file would predict differently
 * (preprocessing, resizing), so old cache entries are never read again. */
#define CACHE_FORMAT "visage-predictions-1"
#define KEY_CHARS 32

typedef struct {
  VgServiceJob kind;
  guint serial;
  GTask *task;               /* touched on the main context only */
  GCancellable *cancellable; /* nullable */
  char *path;                /* model file, split folder or image */
  char *mask_path;           /* predict: nullable */
  char *device;              /* load model: "auto", "cpu" or "cuda" */
  gboolean flip;             /* load model: test-time flip (vg_predictor_set_flip) */
  char *device_note;         /* load model: why the device is not the one asked for */
  VgSplit *split;            /* evaluate, export: the worker's own copy */
  int index;                 /* export: the sample, or -1 for all */
  VgExportKind export_kind;
  double opacity;            /* export of overlays */
  VgTrainOptions *train_options; /* train: the worker's own copy */
  /* outcome, written by the worker before the job is handed back */
  gpointer result;
  GDestroyNotify result_free;
  GError *error;
} Job;

/* What the worker hands to the main context: a finished job, or news of a running one.
 * News of the same job coalesces into the newest event until it is delivered. */
typedef struct {
  Job *finished;             /* a finished job to complete, or NULL for news */
  guint serial;              /* news: the job reporting */
  GCancellable *cancellable; /* news: dropped undelivered once this is cancelled */
  VgServiceJob kind;
  int done;
  int total;
  GArray *results;           /* news: of VgImageResult, in the order produced */
  gboolean has_step;
  VgTrainStep step;          /* news: the latest training step */
  GArray *epochs;            /* news: of VgServiceEpoch, every one */
  GPtrArray *messages;       /* news: of char *, every one */
} Event;

typedef struct {
  char *key;                 /* owned here; the LRU queue and the table point to it */
  GBytes *labels;            /* (height, width) */
  int height;
  int width;
  GList *link;               /* in lru */
} CacheEntry;

struct _VgService
{
  GObject parent_instance;

  GMainContext *context;     /* events are delivered here */
  char *cache_dir;

  /* main context only */
  char *model_path;
  char *device;              /* for the next model loaded */
  gboolean flip;             /* for the next model loaded */
  gboolean model_flip;       /* of the model loaded */
  char *device_note;         /* of the model loaded */
  guint n_jobs;              /* queued or running */

  GMutex mutex;              /* guards the fields down to "worker only" */
  GCond cond;
  GThread *thread;
  gboolean quit;
  GQueue queue;              /* of Job *, waiting to run */
  guint next_serial;
  GQueue events;             /* of Event *, waiting for delivery */
  GSource *delivery;         /* the one pending delivery, or NULL */
  gint64 last_delivery;      /* monotonic time the previous delivery ended */
  gsize memory_cache_limit;

  /* worker only */
  VgModel *model;
  VgPredictor *predictor;
  VgPreprocess pre;
  char *model_key;           /* of the model's content, KEY_CHARS hex digits */
  GHashTable *memory_cache;  /* "<model key>/<image key>" -> CacheEntry */
  GQueue lru;                /* of CacheEntry *, least recently used first */
  gsize memory_cache_bytes;
  VgTrainControl *train_control; /* thread-safe by design */
  VgImage image;             /* scratch, reused across jobs */
  VgImage mask;
  VgImage cached_mask;
};

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
static void
image_result_add (VgEvalResult *metrics, VgImageResult *r, int index, const guint8 *truth,
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
static void
schedule_delivery_locked (VgService *self, gboolean urgent)
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
static Event *
news_locked (VgService *self, Job *job)
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
static void
report (VgService *self, Job *job, int done, int total, const VgImageResult *result)
{
  Event *news;

  g_mutex_lock (&self->mutex);
  news = news_locked (self, job);
  news->done = done;
  news->total = total;
  if (result != NULL)
    g_array_append_vals (news->results, result, 1);
  schedule_delivery_locked (self, FALSE);
  g_mutex_unlock (&self->mutex);
}

/* Worker: hand a finished job back to the main context. */
static void
hand_back (VgService *self, Job *job)
{
  Event *event = g_new0 (Event, 1);

  event->finished = job;
  g_mutex_lock (&self->mutex);
  g_queue_push_tail (&self->events, event);
  schedule_delivery_locked (self, TRUE);
  g_mutex_unlock (&self->mutex);
}

static gboolean
job_should_stop (VgService *self, Job *job, GError **error)
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

/* ---- keys and caches (worker only) ------------------------------------------------------ */

/* Hash of a model file's content: a model retrained into the same file name gets a new
 * key, and a copied model keeps its cache. */
static char *
model_key_for_file (const char *path, GCancellable *cancellable, GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) stream = NULL;
  g_autofree guint8 *buffer = g_malloc (1 << 20);
  gssize got;

  stream = g_file_read (file, cancellable, error);
  if (stream == NULL)
    return NULL;
  g_checksum_update (sum, (const guchar *) CACHE_FORMAT, -1);
  while ((got = g_input_stream_read (G_INPUT_STREAM (stream), buffer, 1 << 20, cancellable,
                                     error)) > 0)
    g_checksum_update (sum, buffer, got);
  if (got < 0)
    return NULL;
  return g_strndup (g_checksum_get_string (sum), KEY_CHARS);
}

/* An image is known by its absolute path, size and modification time: an edited or
 * replaced file gets a new key without anyone hashing its pixels. */
static char *
image_key_for_file (const char *path, GError **error)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInfo) info = NULL;
  g_autoptr (GDateTime) mtime = NULL;
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autofree char *text = NULL;

  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                            G_FILE_ATTRIBUTE_TIME_MODIFIED ","
                            G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC,
                            G_FILE_QUERY_INFO_NONE, NULL, error);
  if (info == NULL)
    return NULL;
  mtime = g_file_info_get_modification_date_time (info);
  text = g_strdup_printf ("%s\n%" G_GOFFSET_FORMAT "\n%" G_GINT64_FORMAT, absolute,
                          g_file_info_get_size (info),
                          mtime != NULL ? g_date_time_to_unix (mtime) * G_USEC_PER_SEC
                                          + g_date_time_get_microsecond (mtime) : 0);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);
}

static void
cache_entry_free (gpointer data)
{
  CacheEntry *entry = data;

  g_bytes_unref (entry->labels);
  g_free (entry->key);
  g_free (entry);
}

static GBytes *
memory_cache_lookup (VgService *self, const char *key, int height, int width)
{
  CacheEntry *entry = g_hash_table_lookup (self->memory_cache, key);

  if (entry == NULL || entry->height != height || entry->width != width)
    return NULL;
  g_queue_unlink (&self->lru, entry->link);
  g_queue_push_tail_link (&self->lru, entry->link);
  return g_bytes_ref (entry->labels);
}

static void
memory_cache_remove (VgService *self, CacheEntry *entry)
{
  self->memory_cache_bytes -= g_bytes_get_size (entry->labels);
  g_queue_delete_link (&self->lru, entry->link);
  g_hash_table_remove (self->memory_cache, entry->key);  /* frees entry */
}

static void
memory_cache_store (VgService *self, const char *key, GBytes *labels, int height, int width)
{
  CacheEntry *entry, *old;
  gsize limit;

  g_mutex_lock (&self->mutex);
  limit = self->memory_cache_limit;
  g_mutex_unlock (&self->mutex);

  old = g_hash_table_lookup (self->memory_cache, key);
  if (old != NULL)
    memory_cache_remove (self, old);
  if (g_bytes_get_size (labels) > limit)
    return;
  while (self->memory_cache_bytes + g_bytes_get_size (labels) > limit)
    memory_cache_remove (self, g_queue_peek_head (&self->lru));

  entry = g_new0 (CacheEntry, 1);
  entry->key = g_strdup (key);
  entry->labels = g_bytes_ref (labels);
  entry->height = height;
  entry->width = width;
  g_queue_push_tail (&self->lru, entry);
  entry->link = self->lru.tail;
  g_hash_table_insert (self->memory_cache, entry->key, entry);
  self->memory_cache_bytes += g_bytes_get_size (labels);
}

static void
memory_cache_clear (VgService *self)
{
  g_queue_clear (&self->lru);
  g_hash_table_remove_all (self->memory_cache);
  self->memory_cache_bytes = 0;
}

static char *
disk_cache_path (VgService *self, const char *image_key)
{
  g_autofree char *file_name = g_strdup_printf ("%.*s.png", KEY_CHARS, image_key);

  return g_build_filename (self->cache_dir, self->model_key, file_name, NULL);
}

/* A cache file that is unreadable, of another size or out of range is a miss: the cache
 * is only ever a shortcut. */
static GBytes *
disk_cache_lookup (VgService *self, const char *path, int height, int width)
{
  g_autoptr (GError) error = NULL;
  size_t n = (size_t) height * width;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return NULL;
  if (!vg_mask_load (&self->cached_mask, path, &error)
      || self->cached_mask.height != height || self->cached_mask.width != width
      || !vg_mask_check (self->cached_mask.data, n, width, path, &error))
    {
      g_debug ("ignoring cached prediction %s: %s", path,
               error != NULL ? error->message : "its size differs from the image's");
      return NULL;
    }
  return g_bytes_new (self->cached_mask.data, n);
}

static void
disk_cache_store (VgService *self, const char *path, GBytes *labels, int height, int width)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_debug ("cannot create the prediction cache %s: %s", dir, g_strerror (errno));
      return;
    }
  if (!vg_mask_save (path, g_bytes_get_data (labels, NULL), height, width, &error))
    g_debug ("cannot cache a prediction: %s", error->message);
}

/* The loaded model's class map (height, width) of the image at path: from the memory
 * cache, the disk cache, or predicted and stored in both. When image_loaded is FALSE the
 * image is decoded into self->image only if it must be predicted. */
static GBytes *
predict_labels (VgService *self, const char *path, int height, int width,
                gboolean image_loaded, gboolean *cached, GError **error)
{
  g_autofree char *image_key = NULL;
  g_autofree char *key = NULL;
  g_autofree char *cache_path = NULL;
  g_autofree guint8 *labels = NULL;
  GBytes *bytes;
  size_t n = (size_t) height * width;

  image_key = image_key_for_file (path, error);
  if (image_key == NULL)
    return NULL;
  key = g_strdup_printf ("%s/%.*s", self->model_key, KEY_CHARS, image_key);
  *cached = TRUE;
  bytes = memory_cache_lookup (self, key, height, width);
  if (bytes != NULL)
    return bytes;

  cache_path = disk_cache_path (self, image_key);
  bytes = disk_cache_lookup (self, cache_path, height, width);
  if (bytes != NULL)
    {
      memory_cache_store (self, key, bytes, height, width);
      return bytes;
    }

  *cached = FALSE;
  if (!image_loaded)
    {
      if (!vg_image_load (&self->image, path, error))
        return NULL;
      if (self->image.height != height || self->image.width != width)
        {
          g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_SIZE,
                       "%s: the image is %dx%d but its mask is %dx%d", path,
                       self->image.width, self->image.height, width, height);
          return NULL;
        }
    }
  labels = g_malloc (n);
  if (!vg_predict_image (self->predictor, self->image.data, height, width, labels, NULL,
                         error))
    return NULL;
  bytes = g_bytes_new_take (g_steal_pointer (&labels), n);
  memory_cache_store (self, key, bytes, height, width);
  disk_cache_store (self, cache_path, bytes, height, width);
  return bytes;
}

/* ---- the jobs (worker only) ------------------------------------------------------------- */

static gboolean
run_load_model (VgService *self, Job *job, GError **error)
{
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgPredictor) predictor = NULL;
  g_autofree char *key = NULL;
  VgPreprocess pre;

  key = model_key_for_file (job->path, job->cancellable, error);
  if (key == NULL)
    return FALSE;
  {
    char why[512] = "";
    const VgBackend *backend = vg_backend_for_device (job->device, why, sizeof why);

    if (backend == NULL)
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s", why);
        return FALSE;
      }
    model = vg_model_open (job->path, backend, &pre, error);
    job->device_note = g_strdup (why);
  }
  if (model == NULL)
    return FALSE;
  predictor = vg_predictor_new (model, &pre, 1, error);
  if (predictor == NULL || !vg_predictor_set_flip (predictor, job->flip, error))
    return FALSE;
  if (job->flip)
    {
      /* flipped predictions are other predictions: cached apart */
      char *flipped = g_strconcat (key, "-flip", NULL);

      g_free (key);
      key = flipped;
    }

  /* The predictor refers to the model: free it first. */
  g_clear_pointer (&self->predictor, vg_predictor_free);
  g_clear_pointer (&self->model, vg_model_free);
  self->model = g_steal_pointer (&model);
  self->predictor = g_steal_pointer (&predictor);
  self->pre = pre;
  g_free (self->model_key);
  self->model_key = g_steal_pointer (&key);
  memory_cache_clear (self);
  return TRUE;
}

static VgPrediction *
run_predict (VgService *self, Job *job, GError **error)
{
  g_autoptr (VgPrediction) prediction = g_new0 (VgPrediction, 1);
  gint64 start = g_get_monotonic_time ();
  int H, W;

  if (job_should_stop (self, job, error))
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
      g_autoptr (GBytes) labels = predict_labels (self, job->path, H, W, TRUE,
                                                  &prediction->cached, error);
      if (labels == NULL)
        return NULL;
      prediction->labels = g_bytes_unref_to_data (g_steal_pointer (&labels), &(gsize) { 0 });
    }

  if (prediction->truth != NULL && prediction->labels != NULL)
    {
      g_auto (VgEvalResult) metrics = { 0 };

      vg_eval_result_init (&metrics, 1);
      image_result_add (&metrics, &prediction->result, 0, prediction->truth,
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

static void
run_job (VgService *self, Job *job)
{
  switch (job->kind)
    {
    case VG_SERVICE_JOB_PREDICT:
      job->result = run_predict (self, job, &job->error);
      job->result_free = (GDestroyNotify) vg_prediction_free;
      break;
    case VG_SERVICE_JOB_LOAD_MODEL:
      if (!job_should_stop (self, job, &job->error))
        run_load_model (self, job, &job->error);
      break;
    case VG_SERVICE_JOB_OPEN_SPLIT:
      if (!job_should_stop (self, job, &job->error))
        {
          VgSplit *split = vg_split_open (job->path, VG_SPLIT_SKIP_BAD, 0, job->cancellable,
                                          &job->error);
          g_autoptr (GError) scan_error = NULL;

          /* The classes each mask holds, for the gallery's filter before any evaluation.
           * A mask that fails to decode only leaves its bits unknown (it would fail
           * again, with its name, when shown or evaluated). */
          if (split != NULL
              && !vg_split_classes_get (split, 0, NULL, job->cancellable, &scan_error)
              && g_error_matches (scan_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              vg_split_free (split);
              job->error = g_steal_pointer (&scan_error);
              split = NULL;
            }
          job->result = split;
        }
      job->result_free = (GDestroyNotify) vg_split_free;
      break;
    case VG_SERVICE_JOB_EVALUATE:
    case VG_SERVICE_JOB_NONE:
    default:
      g_assert_not_reached ();
    }
}

/* Between two images of an evaluation: serve the predictions queued meanwhile, so the
 * image the user is looking at never waits for the whole split. */
static void
run_queued_predictions (VgService *self)
{
  GQueue predictions = G_QUEUE_INIT;
  Job *job;

  g_mutex_lock (&self->mutex);
  for (GList *l = self->queue.head, *next; l != NULL; l = next)
    {
      next = l->next;
      if (((Job *) l->data)->kind == VG_SERVICE_JOB_PREDICT)
        {
          g_queue_push_tail (&predictions, l->data);
          g_queue_delete_link (&self->queue, l);
        }
    }
  g_mutex_unlock (&self->mutex);

  while ((job = g_queue_pop_head (&predictions)) != NULL)
    {
      run_job (self, job);
      hand_back (self, job);
    }
}

static VgEvaluation *
run_evaluate (VgService *self, Job *job, GError **error)
{
  const VgSplit *split = job->split;
  g_autoptr (VgEvaluation) evaluation = g_new0 (VgEvaluation, 1);
  g_autoptr (GTimer) timer = g_timer_new ();

  if (self->predictor == NULL)
    {
      g_set_error_literal (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_NO_MODEL,
                           "No model is loaded");
      return NULL;
    }
  if (!vg_split_has_masks (split))
    {
      g_set_error (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_NO_MASKS,
                   "%s: the split has no masks to evaluate against", split->images_dir);
      return NULL;
    }

  vg_eval_result_init (&evaluation->metrics, split->n_samples);
  evaluation->images = g_new0 (VgImageResult, split->n_samples);
  report (self, job, 0, split->n_samples, NULL);

  for (int i = 0; i < split->n_samples; i++)
    {
      const VgSample *sample = &split->samples[i];
      VgImageResult *result = &evaluation->images[i];
      g_autoptr (GBytes) labels = NULL;
      size_t n;
      gboolean cached;

      run_queued_predictions (self);
      if (job_should_stop (self, job, error))
        return NULL;
      if (!vg_mask_load (&self->mask, sample->mask_path, error))
        return NULL;
      n = (size_t) self->mask.height * self->mask.width;
      if (!vg_mask_check (self->mask.data, n, self->mask.width, sample->mask_path, error))
        return NULL;
      labels = predict_labels (self, sample->image_path, self->mask.height, self->mask.width,
                               FALSE, &cached, error);
      if (labels == NULL)
        return NULL;
      evaluation->n_cached += cached;
      image_result_add (&evaluation->metrics, result, i, self->mask.data,
                        g_bytes_get_data (labels, NULL), n);
      report (self, job, i + 1, split->n_samples, result);
    }
  evaluation->metrics.seconds = g_timer_elapsed (timer, NULL);
  return g_steal_pointer (&evaluation);
}

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

  report (progress->self, progress->job, done, total, NULL);
}

static int
run_export (VgService *self, Job *job, GError **error)
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
      g_set_error (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_NO_MASKS,
                   "sample %d is outside the split", job->index);
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

  report (self, job, 0, last - first, NULL);
  for (int i = first; i < last; i++)
    {
      const VgSample *sample = &split->samples[i];
      g_autofree char *file_name = g_strdup_printf ("%s.png", sample->name);
      g_autofree char *out = g_build_filename (job->path, file_name, NULL);
      g_autoptr (GBytes) labels = NULL;
      gboolean cached, loaded = FALSE;
      int H, W;

      run_queued_predictions (self);
      if (job_should_stop (self, job, error))
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
      labels = predict_labels (self, sample->image_path, H, W, loaded, &cached, error);
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
      report (self, job, i - first + 1, last - first, NULL);
    }
  return written;
}

/* ---- training ---------------------------------------------------------------------------- */

static void run_any_job (VgService *self, Job *job);

/* Between two steps of a training run: serve every other job queued meanwhile, in order
 * (a second training run waits for the first). A run lasts hours; loading its newest best
 * weights and evaluating them must not wait for its end. */
static void
run_queued_jobs_while_training (VgService *self)
{
  GQueue jobs = G_QUEUE_INIT;
  Job *job;

  g_mutex_lock (&self->mutex);
  for (GList *l = self->queue.head, *next; l != NULL; l = next)
    {
      next = l->next;
      if (((Job *) l->data)->kind != VG_SERVICE_JOB_TRAIN)
        {
          g_queue_push_tail (&jobs, l->data);
          g_queue_delete_link (&self->queue, l);
        }
    }
  g_mutex_unlock (&self->mutex);

  while ((job = g_queue_pop_head (&jobs)) != NULL)
    {
      run_any_job (self, job);
      hand_back (self, job);
    }
}

typedef struct {
  VgService *self;
  Job *job;
  GCancellable *stop;  /* what vg_train_run watches: the caller's cancel or a shutdown */
} TrainRun;

static void
train_message (const char *text, gpointer user_data)
{
  TrainRun *run = user_data;

  g_mutex_lock (&run->self->mutex);
  g_ptr_array_add (news_locked (run->self, run->job)->messages, g_strdup (text));
  schedule_delivery_locked (run->self, FALSE);
  g_mutex_unlock (&run->self->mutex);
}

static void
train_step (const VgTrainStep *step, gpointer user_data)
{
  TrainRun *run = user_data;
  Event *news;

  g_mutex_lock (&run->self->mutex);
  news = news_locked (run->self, run->job);
  news->has_step = TRUE;
  news->step = *step;
  news->done = step->step;
  news->total = step->steps;
  schedule_delivery_locked (run->self, FALSE);
  g_mutex_unlock (&run->self->mutex);

  if (job_should_stop (run->self, run->job, NULL))
    g_cancellable_cancel (run->stop);
  else
    run_queued_jobs_while_training (run->self);
}

static void
train_validate (int epoch, int done, int total, gpointer user_data)
{
  TrainRun *run = user_data;

  report (run->self, run->job, done, total, NULL);
  if (job_should_stop (run->self, run->job, NULL))
    g_cancellable_cancel (run->stop);
  else
    run_queued_jobs_while_training (run->self);
}

static void
train_epoch (const VgTrainEpoch *epoch, gpointer user_data)
{
  TrainRun *run = user_data;
  VgServiceEpoch copy = { .epoch = *epoch };

  /* The state is copied by value; ::train-epoch points epoch.state at the copy. */
  if (epoch->state != NULL)
    copy.state = *epoch->state;
  copy.epoch.state = NULL;
  g_mutex_lock (&run->self->mutex);
  g_array_append_val (news_locked (run->self, run->job)->epochs, copy);
  schedule_delivery_locked (run->self, TRUE);
  g_mutex_unlock (&run->self->mutex);
}

/* A paused run still serves the other jobs. */
static void
train_paused (gpointer user_data)
{
  TrainRun *run = user_data;

  if (!job_should_stop (run->self, run->job, NULL))
    run_queued_jobs_while_training (run->self);
}

static VgTrainState *
run_train (VgService *self, Job *job, GError **error)
{
  static const VgTrainCallbacks callbacks = {
    .message = train_message,
    .step = train_step,
    .validate = train_validate,
    .epoch = train_epoch,
    .paused = train_paused,
  };
  g_autoptr (GCancellable) stop = g_cancellable_new ();
  g_autofree VgTrainState *state = g_new0 (VgTrainState, 1);
  TrainRun run = { self, job, stop };

  if (job_should_stop (self, job, error))
    return NULL;
  if (job->train_options->backend == NULL)
    {
      char why[512] = "";

      /* The service's device, as for the models it loads. */
      job->train_options->backend = vg_backend_for_device (job->device, why, sizeof why);
      if (why[0] != '\0' && g_strcmp0 (job->device, "cuda") == 0)
        train_message (why, &run);
    }
  if (!vg_train_run (job->train_options, &callbacks, &run, self->train_control, stop, state,
                     error))
    {
      /* Report the caller's cancel as such, not as the internal one. */
      if (error != NULL && *error != NULL && job_should_stop (self, job, NULL))
        {
          g_clear_error (error);
          job_should_stop (self, job, error);
        }
      return NULL;
    }
  return g_steal_pointer (&state);
}

static void
run_any_job (VgService *self, Job *job)
{
  if (job->kind == VG_SERVICE_JOB_EVALUATE)
    {
      job->result = run_evaluate (self, job, &job->error);
      job->result_free = (GDestroyNotify) vg_evaluation_free;
    }
  else if (job->kind == VG_SERVICE_JOB_EXPORT)
    job->result = GINT_TO_POINTER (run_export (self, job, &job->error));
  else if (job->kind == VG_SERVICE_JOB_TRAIN)
    {
      job->result = run_train (self, job, &job->error);
      job->result_free = g_free;
    }
  else
    run_job (self, job);
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

      run_any_job (self, job);
      hand_back (self, job);
    }
  return NULL;
}

/* Main context: queue a job, starting the worker on first use. */
static void
queue_job (VgService *self, Job *job)
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

static Job *
job_new (VgService *self, VgServiceJob kind, GCancellable *cancellable,
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
vg_service_get_cache_dir (VgService *self)
{
  g_return_val_if_fail (VG_IS_SERVICE (self), NULL);

  return self->cache_dir;
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

  job = job_new (self, VG_SERVICE_JOB_LOAD_MODEL, cancellable, callback, user_data,
                 vg_service_load_model_async);
  job->path = g_strdup (path);
  job->device = g_strdup (self->device);
  job->flip = self->flip;
  queue_job (self, job);
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

  job = job_new (self, VG_SERVICE_JOB_OPEN_SPLIT, cancellable, callback, user_data,
                 vg_service_open_split_async);
  job->path = g_strdup (dir);
  queue_job (self, job);
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

  job = job_new (self, VG_SERVICE_JOB_PREDICT, cancellable, callback, user_data,
                 vg_service_predict_async);
  job->path = g_strdup (image_path);
  job->mask_path = g_strdup (mask_path);
  queue_job (self, job);
}

VgPrediction *
vg_service_predict_finish (VgService *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static VgSplit *
split_copy (const VgSplit *split)
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

  job = job_new (self, VG_SERVICE_JOB_EVALUATE, cancellable, callback, user_data,
                 vg_service_evaluate_async);
  job->split = split_copy (split);
  queue_job (self, job);
}

VgEvaluation *
vg_service_evaluate_finish (VgService *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

void
vg_service_export_async (VgService *self, const VgSplit *split, int index, VgExportKind kind,
                         const char *destination, double opacity, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  Job *job;

  g_return_if_fail (VG_IS_SERVICE (self));
  g_return_if_fail (split != NULL);
  g_return_if_fail (index >= -1);
  g_return_if_fail (destination != NULL);

  job = job_new (self, VG_SERVICE_JOB_EXPORT, cancellable, callback, user_data,
                 vg_service_export_async);
  job->split = split_copy (split);
  job->index = index;
  job->export_kind = kind;
  job->path = g_canonicalize_filename (destination, NULL);
  job->opacity = CLAMP (opacity, 0.0, 1.0);
  queue_job (self, job);
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

  job = job_new (self, VG_SERVICE_JOB_TRAIN, cancellable, callback, user_data,
                 vg_service_train_async);
  job->train_options = g_new0 (VgTrainOptions, 1);
  vg_train_options_copy (job->train_options, options);
  job->device = g_strdup (self->device);
  queue_job (self, job);
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
  memory_cache_clear (self);
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
  self->memory_cache = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, cache_entry_free);
  self->last_delivery = g_get_monotonic_time () - DELIVERY_INTERVAL_US;
}
