/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the predictor's files share; nothing outside engine/vg-predict.c and
 * engine/vg-evaluate.c includes this.
 *
 *   vg-predict.c   the predictor: buffers, the forward (with test-time flip), logits back
 *                  to labels at the image's size, one image at a time
 *   vg-evaluate.c  a whole split through the loader: metrics, predictions, and the metrics
 *                  of predictions already on disk
 *
 * Shape letters as in vg-predict.h: H, W an image's size, Hm, Wm the model input size,
 * B batch, NC classes. Logits are channels-last (B, Hm, Wm, NC). */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "vg-augment.h"
#include "vg-image.h"
#include "vg-predict.h"

struct _VgPredictor
{
  VgModel *model;             /* not owned */
  const VgBackend *be;
  VgPreprocess pre;
  VgPredictorFlags flags;
  int NC;
  int B;                      /* batch capacity */
  int Hm, Wm;                 /* model input size the buffers are planned for (0: none) */
  gboolean reserved;          /* the model is reserved for (B, Hm, Wm) by us */
  VgAugmentParams aug;        /* evaluation: resize to (Hm, Wm) and whitening */
  VgAugmentScratch *scratch;
  float *input;               /* (B, Hm, Wm, 3) host */
  float *d_input;             /* (B, Hm, Wm, 3) device */
  float *logits;              /* (B, Hm, Wm, NC) host */
  gboolean flip;              /* test-time flip (vg_predictor_set_flip) */
  float *flip_input;          /* (B, Hm, Wm, 3) host, the mirrored batch; with flip only */
  float *flip_logits;         /* (B, Hm, Wm, NC) host, its logits */
  uint8_t *labels;            /* (H, W) of the largest image so far */
  size_t labels_cap;
  gboolean probabilities;     /* vg_predictor_set_probabilities */
  float *probs;               /* (NC, H, W) of the image predicted last; with probabilities */
  size_t probs_cap;
  VgImage image;              /* decoding buffers of the single-threaded paths */
  VgImage mask;
};

typedef enum {
  VG_RESERVE_NONE,     /* buffers only: the model is reserved at first use */
  VG_RESERVE_IF_NEEDED,
  VG_RESERVE_ALWAYS,   /* even with unchanged sizes: other code may have re-reserved it */
} VgPredictorReserve;

/* Buffers for model inputs of Hm x Wm, and the model's reservation for them (unless the
 * caller keeps the reservation). */
gboolean vg_predictor_plan (VgPredictor *p, int Hm, int Wm, VgPredictorReserve reserve,
                            GError **error);
/* The model input size for an H x W image; FALSE unless both sides are multiples of 32. */
gboolean vg_predictor_input_size (const VgPredictor *p, int H, int W, int *Hm, int *Wm);
/* p->labels, grown to n bytes at least. */
uint8_t *vg_predictor_labels (VgPredictor *p, size_t n);
/* The labels (H, W) of image r of the batch whose logits are in p->logits, at the image's
 * size, with probs (H, W) (may be NULL) the probability of the chosen class; with
 * probabilities on, p->probs receives every class's (NC, H, W). */
void vg_predictor_reduce (VgPredictor *p, int r, uint8_t *labels, float *probs, int H, int W);
/* Forward n images (n, Hm, Wm, 3) of host memory; logits land in p->logits. With flip,
 * the mirrored images run too and the two are averaged. */
void vg_predictor_forward (VgPredictor *p, const float *host_input, int n);
