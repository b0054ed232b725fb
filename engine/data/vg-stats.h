/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Statistics of a split: the whitening mean/std and the class frequencies behind the
 * weighted loss (report sections 2.2.1 and 2.2.2), cached between runs.
 *
 * The sums are exact integers, so the result does not depend on the thread count or the
 * order the samples were read in. The cache is a small JSON file under
 * $XDG_CACHE_HOME/visage/ (the data folders may be read-only), named after the split's
 * absolute paths and holding a fingerprint of its file list (names, sizes and
 * modification times): a changed, added or removed file recomputes the statistics. */
#pragma once

#include <stdint.h>

#include <glib.h>
#include <gio/gio.h>

#include "vg-classes.h"
#include "vg-split.h"

typedef struct {
  int n_images;
  uint64_t n_pixels;                        /* sum of H * W over the images */
  uint64_t channel_sum[3];                  /* sum of the 8-bit R, G, B values */
  uint64_t channel_sum_sq[3];               /* sum of their squares */
  double mean[3];                           /* per channel, of values / 255 */
  double std[3];                            /* population std (ddof 0), of values / 255 */
  gboolean has_masks;                       /* FALSE: the class counts are all 0 */
  uint64_t class_pixels[VG_NUM_CLASSES];    /* pixels of each class over the split */
  int class_images[VG_NUM_CLASSES];         /* images that contain each class */
} VgSplitStats;

/* Decode every sample (n_threads, <= 0: all processors) and count. A bad file is an error
 * naming it. */
gboolean vg_split_stats_compute (VgSplitStats *stats, const VgSplit *split, int n_threads,
                                 GCancellable *cancellable, GError **error);

/* The cached statistics when the split's fingerprint matches, otherwise computed and
 * cached. from_cache (may be NULL) tells which. Failing to write the cache is not an
 * error (a read-only home still trains). */
gboolean vg_split_stats_get (VgSplitStats *stats, const VgSplit *split, int n_threads,
                             gboolean *from_cache, GCancellable *cancellable, GError **error);

/* Where vg_split_stats_get() keeps this split's statistics. */
char *vg_split_stats_cache_path (const VgSplit *split);

/* Each sample's mask_classes (vg_split_scan_classes) from the cache when the split's
 * fingerprint matches, otherwise scanned and cached; does nothing without masks. */
gboolean vg_split_classes_get (VgSplit *split, int n_threads, gboolean *from_cache,
                               GCancellable *cancellable, GError **error);

/* Where vg_split_classes_get() keeps them. */
char *vg_split_classes_cache_path (const VgSplit *split);

/* Hex SHA-256 of the split's folders and of each sample's names, sizes and mtimes. */
char *vg_split_fingerprint (const VgSplit *split, GError **error);

/* The report's class weights: w_c = (1 / ln n_c) / sum_i (1 / ln n_i) over n_classes
 * pixel counts. A count of 0 or 1 (ln <= 0) is taken as 2, which gives the rarest class
 * the largest finite weight. The weights sum to 1. */
void vg_class_weights (float *weights, const uint64_t *class_pixels, int n_classes);
