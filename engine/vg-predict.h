/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Prediction and evaluation with a model: one implementation for visage-cli, training's
 * validation and the workbench.
 *
 * A model file carries its preprocessing (vg-model-file.h: the training split's whitening
 * and the training resolution) in its safetensors metadata, so predictions never depend on
 * the caller guessing them. Images are resized to the model resolution (bilinear,
 * antialiased when shrinking), the logits are resized back to the image's own size
 * (bilinear) and the class is their argmax: predictions are always at the input's full
 * size.
 *
 * Shapes: H, W an image's own size; Hm, Wm the model input size (both the model resolution,
 * VgPreprocess.resolution, or the image's own size when that is 0); B batch; NC classes
 * (19). */
#pragma once

#include <stdint.h>

#include <glib.h>
#include <gio/gio.h>

#include "vg-metrics.h"
#include "vg-model.h"
#include "vg-model-file.h"
#include "vg-split.h"

typedef struct _VgPredictor VgPredictor;

typedef enum {
  VG_PREDICTOR_DEFAULT = 0,
  /* The caller has reserved the model for at least `batch` images at the model
   * resolution (training reserves it that way, and validation shares the reservation):
   * the predictor never calls vg_model_reserve, so training activations survive a
   * validation pass. Needs a resolution > 0. Without this flag the predictor reserves the
   * model for inference when created and again at the start of each vg_evaluate /
   * vg_predict_split, so it survives code that re-reserved the model in between. */
  VG_PREDICTOR_KEEP_RESERVATION = 1 << 0,
} VgPredictorFlags;

/* Buffers for batches of up to `batch` images at the model resolution, allocated once;
 * predicting allocates nothing more, except that a model of resolution 0 re-plans when
 * the image size changes and the full-size buffers grow to the largest image seen. */
VgPredictor *vg_predictor_new (VgModel *model, const VgPreprocess *pre, int batch,
                               GError **error);
VgPredictor *vg_predictor_new_full (VgModel *model, const VgPreprocess *pre, int batch,
                                    VgPredictorFlags flags, GError **error);
void vg_predictor_free (VgPredictor *predictor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgPredictor, vg_predictor_free)

/* Test-time flip: every image also runs mirrored left to right, and its logits, mirrored
 * back with the left/right classes swapped back, are averaged with the plain ones before
 * the argmax. Twice the compute; off by default. FALSE (and off) when the mirrored
 * batch's buffers cannot be allocated. */
gboolean vg_predictor_set_flip (VgPredictor *predictor, gboolean flip, GError **error);
gboolean vg_predictor_get_flip (VgPredictor *predictor);

/* Class probabilities beside the labels, for the predictions that follow: the softmax over
 * the classes of the logits at the image's size (the logits the labels are the argmax of).
 * vg_predictor_probabilities gives them, (NC, H, W) planar, for the image predicted last:
 * during a VgPredictEachFunc call, that call's image; NULL while off (the default). They
 * cost NC H W floats (19 MiB at 512 x 512) and NC exponentials per pixel. */
void vg_predictor_set_probabilities (VgPredictor *predictor, gboolean probabilities);
const float *vg_predictor_probabilities (VgPredictor *predictor);

/* Class map (H, W) of one RGB image (H, W, 3). probs, when not NULL, receives the softmax
 * probability of the chosen class per pixel (H, W). */
gboolean vg_predict_image (VgPredictor *predictor, const uint8_t *rgb, int H, int W,
                           uint8_t *labels, float *probs, GError **error);

/* The step after the forward pass, for reuse and tests: logits (Hm, Wm, NC) of one image,
 * host memory, resized bilinearly (align_corners=False, as vg_resize_bilinear_forward)
 * to H x W and reduced to labels (H, W) by argmax, and probs (H, W) (may be NULL) the
 * softmax probability of the chosen class. Separable and fused with the argmax: the
 * (H, W, NC) tensor is never materialised (each thread holds two rows, 2 NC W floats). */
void vg_logits_to_labels (uint8_t *labels, float *probs, const float *logits, int Hm, int Wm,
                          int H, int W, int NC);
/* The same labels, and class_probs (NC, H, W) the softmax of the resized logits: every
 * class's probability, planar. */
void vg_logits_to_probabilities (uint8_t *labels, float *class_probs, const float *logits,
                                 int Hm, int Wm, int H, int W, int NC);

typedef struct {
  VgConfusion confusion;  /* dataset level over all pixels at full resolution */
  double loss;            /* mean loss at the model resolution (class weights as given):
                           * sum over pixels of w_y * nll / sum of w_y over the split,
                           * independent of the batch size; 0 for vg_evaluate_predictions */
  double loss_weight;     /* that sum of w_y, which shards' losses are weighted by to merge */
  int n_images;
  double *image_miou;     /* (n_images) mean IoU over the classes present in either map */
  int class_images[VG_NUM_CLASSES];  /* images whose ground truth contains the class */
  int class_missed[VG_NUM_CLASSES];  /* of those, images with no pixel of it predicted right */
  double seconds;
  double loader_wait_s;   /* of seconds, time spent waiting for decoded images */
} VgEvalResult;

/* Zero the result and make room for n_images per-image values. */
void vg_eval_result_init (VgEvalResult *result, int n_images);
void vg_eval_result_clear (VgEvalResult *result);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VgEvalResult, vg_eval_result_clear)
/* Count image `index` (truth and prediction of n pixels) into the result: the dataset
 * confusion, the image's mIoU, the class image counts. Ground truth >= NC is ignored. */
void vg_eval_result_add (VgEvalResult *result, int index, const uint8_t *truth,
                         const uint8_t *pred, size_t n);

typedef void (*VgProgressFunc) (int done, int total, gpointer user_data);

/* Evaluate a split with masks. class_weights (NC) or NULL for the loss. Cancellable: a
 * cancelled evaluation returns FALSE with G_IO_ERROR_CANCELLED. n_workers threads decode
 * images while the model computes. result is initialised here (whatever it held is
 * overwritten, not freed); free it with vg_eval_result_clear, also after a failure. A
 * predictor serves one thread at a time. */
gboolean vg_evaluate (VgPredictor *predictor, const VgSplit *split, const float *class_weights,
                      int n_workers, VgEvalResult *result, VgProgressFunc progress,
                      gpointer user_data, GCancellable *cancellable, GError **error);

/* The same metrics for predictions already on disk: pred_dir/<sample name>.png (palette or
 * grey index PNGs) against the split's masks. No model, no loss. */
gboolean vg_evaluate_predictions (const VgSplit *split, const char *pred_dir, int n_threads,
                                  VgEvalResult *result, VgProgressFunc progress,
                                  gpointer user_data, GCancellable *cancellable,
                                  GError **error);

/* Called for each image of vg_predict_split, in split order, with its labels at the
 * image's own size (valid during the call). Returning FALSE (with an error) stops. */
typedef gboolean (*VgPredictEachFunc) (int index, const uint8_t *labels, int H, int W,
                                       gpointer user_data, GError **error);

/* Predict every image of a split (masks, if any, are not read). */
gboolean vg_predict_split (VgPredictor *predictor, const VgSplit *split, int n_workers,
                           VgPredictEachFunc each, gpointer each_data, VgProgressFunc progress,
                           gpointer user_data, GCancellable *cancellable, GError **error);

/* ---- output files ---------------------------------------------------------------------- */

/* Colour overlay: out (H, W, 3) = (1 - alpha) * rgb + alpha * palette[labels]. */
void vg_overlay_render (uint8_t *out, const uint8_t *rgb, const uint8_t *labels, int H, int W,
                        float alpha);

/* Predict every image of the split and write zip_path (vg-submission.c): one stored
 * (uncompressed; PNG is compressed already) entry "<name>.png" per image, an 8-bit grey
 * index PNG at the image's size (the course's submission format). Atomic like the other
 * writers; an unwritable zip_path fails before any work. */
gboolean vg_export_submission (VgPredictor *predictor, const VgSplit *split,
                               const char *zip_path, int n_workers, VgProgressFunc progress,
                               gpointer user_data, GCancellable *cancellable, GError **error);

#define VG_PREDICT_ERROR (vg_predict_error_quark ())
GQuark vg_predict_error_quark (void);

typedef enum {
  VG_PREDICT_ERROR_METADATA = 1,  /* model file without usable visage metadata */
  VG_PREDICT_ERROR_SIZE,          /* image size unusable at this model's resolution */
  VG_PREDICT_ERROR_MISSING,       /* a prediction file is absent */
  VG_PREDICT_ERROR_INVALID,       /* bad arguments */
  VG_PREDICT_ERROR_IO,            /* cannot write an output */
} VgPredictError;
