/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the service's files share; nothing outside engine/vg-service*.c includes this.
 *
 *   vg-service.c         the queue, the worker, the delivery of events, the public API
 *   vg-service-cache.c   model and image keys, the memory and disk caches of predictions
 *   vg-service-jobs.c    loading a model, predicting, evaluating (worker only)
 *   vg-service-export.c  exports of masks, overlays and splits (worker only)
 *   vg-service-train.c   training runs, with the other jobs served between their steps
 *   vg-service-compare.c a second model's evaluation beside the loaded one's
 */
#pragma once

#include <glib.h>

#include "vg-predict.h"
#include "vg-service.h"

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
  gboolean flip;             /* load model, compare: test-time flip (vg_predictor_set_flip) */
  gboolean compared;         /* predict: also the compared model's labels */
  char *model_path;          /* compare: the loaded model's file, named in the result */
  char *device_note;         /* load model: why the device is not the one asked for */
  VgConfig config;           /* load model: the configuration of the model loaded */
  VgSplit *split;            /* evaluate, export: the worker's own copy */
  int index;                 /* export: the sample, or -1 for all */
  VgExportKind export_kind;
  VgExportOptions export_options; /* export: formats, classes, legend, overlay alpha */
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
  VgConfig model_config;     /* of the model loaded (valid once model_path is set) */
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
  /* the model compared with the loaded one (vg-service-compare.c), or all NULL */
  VgModel *other_model;
  VgPredictor *other_predictor;
  char *other_key;           /* as model_key */
};

/* ---- vg-service.c ------------------------------------------------------------------------- */

/* One image's scores against its truth, added to the metrics. */
void service_image_result_add (VgEvalResult *metrics, VgImageResult *r, int index,
                               const guint8 *truth, const guint8 *pred, size_t pixels);

/* Worker: news of a running job; result (nullable) is one image's evaluation. */
void service_report (VgService *self, Job *job, int done, int total,
                     const VgImageResult *result);
/* Worker: hand a finished job back to the main context. */
void service_hand_back (VgService *self, Job *job);
/* Worker: whether the job was cancelled or the service is shutting down (error set). */
gboolean service_job_should_stop (VgService *self, Job *job, GError **error);
/* Worker, with the mutex held: the event that collects the job's news not yet delivered,
 * and a delivery made pending (now when urgent). */
Event *service_news_locked (VgService *self, Job *job);
void service_schedule_delivery_locked (VgService *self, gboolean urgent);
/* Worker: run a job of any kind, leaving its result or error in it (the one dispatcher). */
void service_run_job (VgService *self, Job *job);
/* Main context: a new job of a kind, its task on the caller's callback; queue it, starting
 * the worker on first use. A split copied for the worker. */
Job *service_job_new (VgService *self, VgServiceJob kind, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data, gpointer source_tag);
void service_queue_job (VgService *self, Job *job);
VgSplit *service_split_copy (const VgSplit *split);
/* Worker, between two steps of a long job: run now, in order, the queued jobs whose kind
 * is in kinds (bits 1 << VgServiceJob): predictions between two images of an evaluation
 * or export, so the image the user looks at never waits for the whole split; every job
 * but another training run between two steps of a run, which lasts hours. */
#define SERVE_PREDICTIONS (1u << VG_SERVICE_JOB_PREDICT)
#define SERVE_ALL_BUT_TRAINING (~(1u << VG_SERVICE_JOB_TRAIN))
void service_serve_queued (VgService *self, guint kinds);

/* ---- vg-service-cache.c ------------------------------------------------------------------- */

char *service_model_key_for_file (const char *path, GCancellable *cancellable, GError **error);
void service_memory_cache_clear (VgService *self);
/* The labels of an image at height x width by the loaded model: from the memory cache,
 * else the disk cache, else predicted (and cached). */
GBytes *service_predict_labels (VgService *self, const char *path, int height, int width,
                                gboolean image_loaded, gboolean *cached, GError **error);
/* The same by another predictor, cached under its model key. */
GBytes *service_predict_labels_by (VgService *self, VgPredictor *predictor,
                                   const char *model_key, const char *path, int height,
                                   int width, gboolean image_loaded, gboolean *cached,
                                   GError **error);
/* A GDestroyNotify for the memory cache's table. */
void service_cache_entry_free (gpointer entry);

/* ---- vg-service-jobs.c, -export.c, -train.c ----------------------------------------------- */

/* A model file on a device ("auto", "cpu", "cuda"), its predictor (one image at a time,
 * flipped or not) and its cache key; device_note (may be NULL) why the device is not the
 * one asked for. */
gboolean service_open_model (const char *path, const char *device, gboolean flip,
                             GCancellable *cancellable, VgModel **model,
                             VgPredictor **predictor, VgPreprocess *pre, char **key,
                             char **device_note, GError **error);
gboolean service_run_load_model (VgService *self, Job *job, GError **error);
/* An evaluation's steps, for evaluate and compare: a model loaded and masks to evaluate
 * against (else FALSE with an error); a zeroed evaluation of n_images; the sample's mask
 * into self->mask, checked; the sample's labels by predictor (cached under model_key)
 * scored against self->mask into image index of evaluation. */
gboolean service_check_evaluable (VgService *self, const VgSplit *split, GError **error);
VgEvaluation *service_evaluation_new (int n_images);
gboolean service_load_truth (VgService *self, const VgSample *sample, GError **error);
gboolean service_evaluate_image (VgService *self, VgPredictor *predictor,
                                 const char *model_key, const VgSample *sample, int index,
                                 VgEvaluation *evaluation, GError **error);
VgPrediction *service_run_predict (VgService *self, Job *job, GError **error);
VgEvaluation *service_run_evaluate (VgService *self, Job *job, GError **error);
int service_run_export (VgService *self, Job *job, GError **error);
VgTrainState *service_run_train (VgService *self, Job *job, GError **error);
VgServiceComparison *service_run_compare (VgService *self, Job *job, GError **error);
/* The compared model's labels of an image (vg_service_predict_compared_async). */
GBytes *service_compared_labels (VgService *self, const char *path, int height, int width,
                                 GError **error);
/* Free the compared model (finalize). */
void service_compared_model_clear (VgService *self);
