/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Lovász-softmax loss over a batch (Berman, Rannen Triki and Blaschko, CVPR 2018), the
 * convex surrogate of 1 - IoU, and cross-entropy + Lovász with the signature of the backend
 * table's cross_entropy_forward/backward, so training can put it in place of the plain loss.
 *
 * Shapes: logits (Nr, NC) channels-last, targets (Nr) class ids; rows whose target is
 * ignore_index or >= NC are left out of every sum.
 *
 * For each class c present in the batch (the paper's classes='present'), with p_ic the
 * softmax and e_ic = |[y_i = c] - p_ic| the errors sorted in decreasing order,
 *
 *   loss_c = sum_k e_(k) (J_k - J_(k-1)),  J_k = 1 - (G - F_k) / (G + B_k),
 *
 * G the class's pixels in the batch, F_k and B_k the foreground and background pixels among
 * the k largest errors; the loss is the mean of loss_c over the K present classes. The sums
 * run over the whole batch (one IoU per class, as the dataset-level mIoU it stands for).
 *
 * Sorting 19 x 2M errors a step would cost more than the network's backward, so the errors
 * are ordered by a histogram of VG_LOVASZ_BINS equal bins of [0, 1]: the pixels of one bin
 * count as tied, and a tie's share of the sum telescopes to (mean error of the bin) x (J
 * after the bin - J before it), whatever its order. The value is within 1 / VG_LOVASZ_BINS
 * of the sorted one (J rises from 0 to at most 1 and each error moves less than a bin), and
 * where no two errors of a class share a bin, value and gradient are the sorted ones. Each
 * pixel's gradient in its error is its bin's mean increment of J (the centre of the tie's
 * subgradients).
 *
 * The histograms are integer counts and error sums in fixed point (2^-24), so the result
 * does not depend on the thread count or timing.
 *
 * Gradient rule: dlogits is overwritten (=); dlogits may be the logits themselves (each row
 * is read before it is written), as the model's backward passes them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define VG_LOVASZ_BINS 1024

float vg_lovasz_forward (const float *logits, const uint8_t *targets, int ignore_index, int Nr,
                         int NC);
void vg_lovasz_backward (float *dlogits, const float *logits, const uint8_t *targets,
                         int ignore_index, float dloss, int Nr, int NC);

/* (Weighted) cross-entropy (nn/vg-nn.h) + Lovász, both with weight 1. */
float vg_cross_entropy_lovasz_forward (const float *logits, const uint8_t *targets,
                                       const float *weights, int ignore_index, int Nr, int NC);
void vg_cross_entropy_lovasz_backward (float *dlogits, const float *logits,
                                       const uint8_t *targets, const float *weights,
                                       int ignore_index, float dloss, int Nr, int NC);

/* Data-parallel: each process holds its shard of one batch, and sum adds n doubles in place
 * over the processes. The same loss of the whole batch: the class counts and histograms
 * (integers, exact in doubles, so summed in any order) and the cross-entropy's numerator are
 * summed,
 * every process returns the global loss, and the backward writes its rows' part of the
 * global loss's gradient. */
typedef void (*VgLovaszSum) (double *values, size_t n);
float vg_cross_entropy_lovasz_dist_forward (const float *logits, const uint8_t *targets,
                                            const float *weights, int ignore_index, int Nr,
                                            int NC, VgLovaszSum sum);
void vg_cross_entropy_lovasz_dist_backward (float *dlogits, const float *logits,
                                            const uint8_t *targets, const float *weights,
                                            int ignore_index, float dloss, int Nr, int NC,
                                            VgLovaszSum sum);
