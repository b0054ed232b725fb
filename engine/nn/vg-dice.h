/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Soft Dice loss over a batch, and cross-entropy + Dice with the signature of the backend
 * table's cross_entropy_forward/backward, so training can put it in place of the plain loss.
 *
 * Shapes: logits (Nr, NC) channels-last, targets (Nr) class ids; rows whose target is
 * ignore_index or >= NC are left out of every sum.
 *
 *   p_ic = softmax(z_i)_c,  I_c = sum_i p_ic [y_i = c],  P_c = sum_i p_ic,
 *   Y_c = sum_i [y_i = c],  dice = 1 - (1 / NC) sum_c (2 I_c + s) / (P_c + Y_c + s)
 *
 * with s = VG_DICE_SMOOTH. The sums run over all Nr rows of the batch (one Dice per class
 * for the whole batch, not per image), so a class absent from an image does not count as
 * a perfect or a failed score by itself.
 *
 * The "present" variants average over the K classes with at least one counted row in the
 * batch instead of all NC: a class absent from the whole batch adds nothing, where the
 * all-class form rewards driving its probabilities to zero everywhere (with s = 1 the term
 * s / (P_c + s) has its steepest slope near P_c = 0), which starves the rare classes
 * (necklace) of positive predictions. An all-absent batch has a Dice of 0.
 *
 * Sums are taken in a fixed number of chunks added in a fixed order, so the result does
 * not depend on the thread count or timing (training must be reproducible bit for bit).
 *
 * Gradient rule: dlogits is overwritten (=); dlogits may be the logits themselves (each row
 * is read before it is written), as the model's backward passes them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define VG_DICE_SMOOTH 1.0f

float vg_dice_forward (const float *logits, const uint8_t *targets, int ignore_index, int Nr,
                       int NC);
void vg_dice_backward (float *dlogits, const float *logits, const uint8_t *targets,
                       int ignore_index, float dloss, int Nr, int NC);
float vg_dice_present_forward (const float *logits, const uint8_t *targets, int ignore_index,
                               int Nr, int NC);

/* (Weighted) cross-entropy (nn/vg-nn.h) + Dice, both with weight 1. */
float vg_cross_entropy_dice_forward (const float *logits, const uint8_t *targets,
                                     const float *weights, int ignore_index, int Nr, int NC);
void vg_cross_entropy_dice_backward (float *dlogits, const float *logits,
                                     const uint8_t *targets, const float *weights,
                                     int ignore_index, float dloss, int Nr, int NC);

/* Data-parallel: each process holds its shard of one batch, and sum adds n doubles in place
 * over the processes. The same loss of the whole batch (present: over the classes present in
 * it): the class sums and the cross-entropy's numerator and weight total are summed, so
 * every process returns the global loss, and the backward writes its rows' part of the
 * global loss's gradient (dloss unscaled: no process weighting is needed). */
typedef void (*VgDiceSum) (double *values, size_t n);
float vg_cross_entropy_dice_dist_forward (const float *logits, const uint8_t *targets,
                                          const float *weights, int present, int ignore_index,
                                          int Nr, int NC, VgDiceSum sum);
void vg_cross_entropy_dice_dist_backward (float *dlogits, const float *logits,
                                          const uint8_t *targets, const float *weights,
                                          int present, int ignore_index, float dloss, int Nr,
                                          int NC, VgDiceSum sum);

/* The same over the classes present in the batch. */
float vg_cross_entropy_dice_present_forward (const float *logits, const uint8_t *targets,
                                             const float *weights, int ignore_index, int Nr,
                                             int NC);
void vg_cross_entropy_dice_present_backward (float *dlogits, const float *logits,
                                             const uint8_t *targets, const float *weights,
                                             int ignore_index, float dloss, int Nr, int NC);
