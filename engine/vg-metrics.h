/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Segmentation metrics: confusion matrix, IoU, F-measure, dataset-level mIoU.
 *
 * Dataset-level mIoU (the report's definition): accumulate one confusion matrix over all
 * pixels of all images, then IoU_c = TP / (TP + FP + FN) per class and the mean over the
 * classes (all 19 unless a class never occurs in either ground truth or prediction, in
 * which case it has no IoU and is left out of the mean). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vg-classes.h"

typedef struct {
  uint64_t counts[VG_NUM_CLASSES][VG_NUM_CLASSES]; /* [ground truth][prediction] pixels */
} VgConfusion;

void vg_confusion_reset (VgConfusion *cm);
/* Add n pixels; ground-truth values >= VG_NUM_CLASSES (255 = ignore) are skipped. */
void vg_confusion_add (VgConfusion *cm, const uint8_t *truth, const uint8_t *pred, size_t n);
void vg_confusion_merge (VgConfusion *dst, const VgConfusion *src);

/* IoU and F1 of class c, or a negative value when the class occurs nowhere. */
double vg_confusion_iou (const VgConfusion *cm, int c);
double vg_confusion_f1 (const VgConfusion *cm, int c);
/* Mean over the classes that have an IoU; 0 when none. */
double vg_confusion_miou (const VgConfusion *cm);
double vg_confusion_mean_f1 (const VgConfusion *cm);
/* Pixel accuracy over counted pixels. */
double vg_confusion_accuracy (const VgConfusion *cm);
uint64_t vg_confusion_truth_pixels (const VgConfusion *cm, int c);

/* Per-pixel argmax over classes: logits (Nr, NC) channels-last -> labels (Nr). */
void vg_argmax (uint8_t *labels, const float *logits, size_t Nr, int NC);
