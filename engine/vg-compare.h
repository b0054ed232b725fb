/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Two models' evaluations of the same images, compared: model B against model A, every
 * difference as B - A. One implementation for visage-cli eval --compare and the
 * workbench's compare mode, which both evaluate each model with its own preprocessing
 * (vg-predict.h) and hand the two VgEvalResults here.
 *
 * A class's IoU difference exists where both models have an IoU for it (vg-metrics.h: a
 * class neither in the ground truth nor in a model's prediction has none). The confusion
 * difference is B's pixel counts minus A's, cell by cell: with the same ground truth each
 * row sums to zero, so a positive cell is pixels B puts there that A put elsewhere. */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "vg-metrics.h"
#include "vg-predict.h"

typedef struct {
  int n_images;
  double iou_a[VG_NUM_CLASSES];      /* per class; negative: none (vg_confusion_iou) */
  double iou_b[VG_NUM_CLASSES];
  double iou_delta[VG_NUM_CLASSES];  /* iou_b - iou_a; NAN where either has none */
  double miou_a, miou_b, miou_delta;
  double accuracy_a, accuracy_b, accuracy_delta;
  int64_t confusion_delta[VG_NUM_CLASSES][VG_NUM_CLASSES]; /* [truth][prediction], B - A */
  double *image_delta;  /* (n_images) B's per-image mIoU - A's, in sample order */
  int *order;           /* (n_images) sample indices, B's largest gain first, A's last;
                         * equal differences in sample order */
} VgComparison;

/* Compare two evaluations of the same images (b against a). FALSE with
 * VG_PREDICT_ERROR_INVALID when their image counts differ. comparison is initialised
 * here; clear it with vg_comparison_clear, also after a failure. */
gboolean vg_comparison_init (VgComparison *comparison, const VgEvalResult *a,
                             const VgEvalResult *b, GError **error);
void vg_comparison_clear (VgComparison *comparison);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VgComparison, vg_comparison_clear)

/* Whether the confusion difference is zero in every cell. */
gboolean vg_comparison_confusion_is_zero (const VgComparison *comparison);
/* The largest |cell| of the confusion difference (0 when it is zero everywhere). */
uint64_t vg_comparison_confusion_max_abs (const VgComparison *comparison);
