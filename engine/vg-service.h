/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The engine service: the one object through which the workbench uses the engine.
 *
 * It owns the model and runs every job (load a model, open a split, predict one image,
 * evaluate a split) on one worker thread, so the main thread never waits on numerics.
 * Jobs are GIO-style: *_async with a GCancellable, *_finish on the calling thread's main
 * context (the thread-default context of the thread that created the service). A
 * cancelled job finishes with G_IO_ERROR_CANCELLED and its late results are dropped.
 *
 * Progress and per-image results reach the main context through one snapshot guarded by
 * a mutex: the worker overwrites it, and at most one pending main-loop source delivers it,
 * no sooner than 100 ms after the previous delivery (about 10 updates per second however
 * fast the worker goes). A finished job is delivered at once, after the progress it
 * reported.
 *
 * Jobs run one at a time in the order queued, except that predictions queued while an
 * evaluation runs are served between two of its images: browsing stays responsive during
 * a long evaluation; and every job but another training run queued while a training run
 * goes on is served between two of its steps (or validation images): a run's best weights
 * can be loaded and evaluated while it trains on.
 *
 * Predictions are cached in memory (least recently used first out, bounded) and on disk
 * under cache-dir/<model>/<image>.png as palette PNG masks, keyed by a hash of the model
 * file's content and by the image's path, size and modification time: a second pass over
 * a split, even in a later session, predicts nothing. */
#pragma once

#include <glib-object.h>
#include <gio/gio.h>

#include "vg-compare.h"
#include "vg-export.h"
#include "vg-metrics.h"
#include "vg-predict.h"
#include "vg-split.h"
#include "vg-train.h"

G_BEGIN_DECLS

typedef enum {
  VG_SERVICE_JOB_NONE = 0,
  VG_SERVICE_JOB_LOAD_MODEL,
  VG_SERVICE_JOB_OPEN_SPLIT,
  VG_SERVICE_JOB_PREDICT,
  VG_SERVICE_JOB_EVALUATE,
  VG_SERVICE_JOB_EXPORT,
  VG_SERVICE_JOB_TRAIN,
  VG_SERVICE_JOB_COMPARE,
} VgServiceJob;

typedef enum {
  VG_EXPORT_MASKS = 0,   /* destination: a folder of the formats of the export's options
                          * (by default <name>.png palette PNG masks, the data set's
                          * format), through vg-export.h */
  VG_EXPORT_OVERLAYS,    /* destination: a folder of <name>.png RGB pictures: the photo with
                          * the class colours over it at the options' alpha (their class
                          * filter and legend apply, their formats do not) */
  VG_EXPORT_SUBMISSION,  /* destination: a .zip file (vg_export_submission) */
} VgExportKind;

/* What one image contributes to an evaluation. */
typedef struct {
  int index;              /* sample index in the split evaluated; -1 for a single prediction */
  double miou;            /* mean IoU over the classes present in either map (VgEvalResult's) */
  guint32 truth_classes;  /* bit c set: class c occurs in the ground truth */
  guint32 pred_classes;   /* bit c set: class c occurs in the prediction */
  VgConfusion confusion;  /* this image's pixels, [truth][prediction] */
} VgImageResult;

/* Everything the image view shows of one image. */
typedef struct {
  char *image_path;
  int height;
  int width;
  guint8 *rgb;            /* (height, width, 3) */
  guint8 *truth;          /* (height, width) class ids; NULL without a mask */
  guint8 *labels;         /* (height, width) predicted class ids; NULL without a model */
  guint8 *other_labels;   /* (height, width) the compared model's class ids
                           * (vg_service_predict_compared_async); else NULL */
  gboolean cached;        /* labels came from the memory or the disk cache */
  double seconds;         /* decoding, prediction and scoring on the worker thread */
  gboolean has_result;    /* truth and labels both present, so result is filled */
  VgImageResult result;
} VgPrediction;

void vg_prediction_free (VgPrediction *prediction);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgPrediction, vg_prediction_free)

/* An evaluation of a split: the metrics visage-cli eval reports (vg_eval_result_add per
 * image: the dataset-level confusion with the report's mIoU definition, see vg-metrics.h;
 * per-image mIoU; per-class image counts; no loss) and every image's own confusion. */
typedef struct {
  VgEvalResult metrics;   /* n_images, confusion, image_miou, class_images, class_missed */
  VgImageResult *images;  /* (metrics.n_images) in sample order; images[i].index == i */
  int n_cached;           /* predictions that came from the cache */
} VgEvaluation;

void vg_evaluation_free (VgEvaluation *evaluation);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgEvaluation, vg_evaluation_free)

/* Two models evaluated on the same split, each with its own preprocessing: A the loaded
 * model, B the other; the comparison (vg-compare.h) is B against A. */
typedef struct {
  char *model_a;          /* the two model files */
  char *model_b;
  VgEvaluation *a;
  VgEvaluation *b;
  VgComparison comparison;
} VgServiceComparison;

void vg_service_comparison_free (VgServiceComparison *comparison);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgServiceComparison, vg_service_comparison_free)

#define VG_TYPE_SERVICE (vg_service_get_type ())
G_DECLARE_FINAL_TYPE (VgService, vg_service, VG, SERVICE, GObject)

/* cache_dir: where predictions are kept on disk; NULL for
 * g_get_user_cache_dir()/visage/predictions. */
VgService *vg_service_new (const char *cache_dir);

/* The model file loaded, as of the last finished load; NULL before. Main context only. */
const char *vg_service_get_model_path (VgService *self);
/* The configuration (architecture and sizes) of the model loaded, as of the last finished
 * load; NULL before. Main context only. */
const VgConfig *vg_service_get_model_config (VgService *self);
/* TRUE while a job is queued or running. Main context only. */
gboolean vg_service_get_busy (VgService *self);
/* Bound of the in-memory prediction cache in bytes (default 128 MiB). */
void vg_service_set_memory_cache_limit (VgService *self, gsize bytes);

/* The compute device for the models loaded from now on: "auto" (the default: the GPU when
 * one is usable, else the CPU), "cpu" or "cuda" (vg_backend_for_device). Main context. */
void vg_service_set_device (VgService *self, const char *device);
const char *vg_service_get_device (VgService *self);
/* Test-time flip (vg_predictor_set_flip) for the models loaded from now on: twice the
 * compute per image; their predictions are cached apart from the plain ones. Main
 * context. vg_service_get_model_flip: whether the loaded model predicts that way. */
void vg_service_set_flip (VgService *self, gboolean flip);
gboolean vg_service_get_flip (VgService *self);
gboolean vg_service_get_model_flip (VgService *self);
/* Why the loaded model does not run on a GPU ("CUDA was requested but is unavailable
 * (...); using the CPU", or for "auto" "no usable CUDA device (...); using the CPU"), or ""
 * when it does or the CPU was asked for. Main context only. */
const char *vg_service_get_device_note (VgService *self);

/* Load a model file (vg_model_open) on the device set. On failure (a file that is not a
 * model, too little GPU memory) the previous model stays loaded. */
void vg_service_load_model_async (VgService *self, const char *path, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean vg_service_load_model_finish (VgService *self, GAsyncResult *result, GError **error);

/* Open a split folder (vg_split_open with VG_SPLIT_SKIP_BAD): returns it, transfer full. */
void vg_service_open_split_async (VgService *self, const char *dir, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
VgSplit *vg_service_open_split_finish (VgService *self, GAsyncResult *result, GError **error);

/* Decode an image (any JPEG or PNG), its mask when mask_path is not NULL, and predict it
 * with the loaded model (labels NULL without one). */
void vg_service_predict_async (VgService *self, const char *image_path, const char *mask_path,
                               GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data);
VgPrediction *vg_service_predict_finish (VgService *self, GAsyncResult *result,
                                         GError **error);

/* Evaluate every sample of a split with masks (the split is copied: the caller may free
 * it at once). Emits ::progress and ::image-results while it runs. Fails without a model. */
void vg_service_evaluate_async (VgService *self, const VgSplit *split,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data);
VgEvaluation *vg_service_evaluate_finish (VgService *self, GAsyncResult *result,
                                          GError **error);

/* Evaluate every sample of a split with masks with the loaded model and with the model
 * file other_model (loaded beside it on the same device, with the same test-time flip, and
 * kept for vg_service_predict_compared_async until the next comparison), each with its
 * own preprocessing; both models' predictions are cached. Emits ::progress (no
 * ::image-results). Fails without a loaded model, for a split without masks, or for an
 * other_model that cannot be opened (the error names it). */
void vg_service_compare_async (VgService *self, const char *other_model, const VgSplit *split,
                               GCancellable *cancellable, GAsyncReadyCallback callback,
                               gpointer user_data);
VgServiceComparison *vg_service_compare_finish (VgService *self, GAsyncResult *result,
                                                GError **error);
/* vg_service_predict_async with other_labels as well: the prediction of the model of the
 * last comparison. Finish with vg_service_predict_finish. Fails when no comparison has
 * loaded one. */
void vg_service_predict_compared_async (VgService *self, const char *image_path,
                                        const char *mask_path, GCancellable *cancellable,
                                        GAsyncReadyCallback callback, gpointer user_data);

/* Predict (from the cache when it can; the probabilities format predicts afresh) and write
 * sample `index` of a split, or all of its samples when index is -1 (the split is copied),
 * through the one export of vg-export.h. Nothing of the split is ever written over: a
 * destination inside the split's folders, or an output file that is one of its images or
 * masks, fails with VG_EXPORT_ERROR_PROTECTED before anything is written. Files are
 * written atomically. Emits ::progress. Fails without a model. options: the formats, class
 * filter, legend and overlay alpha (copied; NULL: vg_export_options_init's), as
 * visage-cli predict takes them from --format, --classes, --legend and --alpha. */
void vg_service_export_async (VgService *self, const VgSplit *split, int index,
                              VgExportKind kind, const char *destination,
                              const VgExportOptions *options,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data);
/* The number of files written (every format's, the legend's included), or -1 with error
 * set. */
int vg_service_export_finish (VgService *self, GAsyncResult *result, GError **error);

/* One finished epoch of a training run, for ::train-epoch: epoch.state points at state. */
typedef struct {
  VgTrainEpoch epoch;
  VgTrainState state;
} VgServiceEpoch;

/* Train (vg_train_run) with a copy of the options (options->backend NULL: the backend of
 * the service's device, with a ::message when that is not the device asked for; "auto"
 * without a GPU says nothing); the service's loaded model is not involved, and the other
 * jobs queued meanwhile are served between two training steps.
 * Emits ::progress (the epoch's steps, then its validation images), ::train-step (the
 * latest step, coalesced), ::train-epoch (every epoch) and ::message (every notice), in
 * the order they happened. ::train-epoch is emitted for every epoch the run saved, even
 * after the run was cancelled. */
void vg_service_train_async (VgService *self, const VgTrainOptions *options,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data);
/* final_state (may be NULL) receives the schedule's state at the end. */
gboolean vg_service_train_finish (VgService *self, GAsyncResult *result,
                                  VgTrainState *final_state, GError **error);
/* Pause or resume a training run between two steps (a cancel still stops it). */
void vg_service_set_training_paused (VgService *self, gboolean paused);

#define VG_SERVICE_ERROR (vg_service_error_quark ())
GQuark vg_service_error_quark (void);

typedef enum {
  VG_SERVICE_ERROR_NO_MODEL,  /* the job needs a model and none is loaded */
  VG_SERVICE_ERROR_NO_MASKS,  /* evaluation of a split without masks */
  VG_SERVICE_ERROR_NO_SAMPLE, /* the sample asked for is not in the split */
} VgServiceError;

G_END_DECLS
