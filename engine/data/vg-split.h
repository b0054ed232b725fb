/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Splits: the list of (image, mask) samples of a data set folder.
 *
 * A split folder holds images/ (*.jpg, *.jpeg, *.png) and, except for a test split,
 * masks/ (*.png): image images/17.jpg goes with mask masks/17.png. Samples are sorted
 * naturally by name (2 before 10), so sample indices are stable across machines.
 *
 * Opening checks every sample cheaply from the file headers: the mask exists, both files
 * are JPEG/PNG, the mask is a palette or 8-bit grey PNG, and both have the same size. Every
 * entry of images/ named like an image is a sample: one that is not a regular file (a
 * folder, a FIFO, a device, a broken link) is a bad sample, never silently left out.
 * VG_SPLIT_VERIFY also decodes every file (in parallel), which finds truncated or corrupt
 * files and mask values above 18. A bad sample is an error naming the file, or under
 * VG_SPLIT_SKIP_BAD is left out and described in skipped[] for the caller to print. */
#pragma once

#include <glib.h>
#include <gio/gio.h>

#include "vg-image.h"

typedef enum {
  VG_SPLIT_DEFAULT = 0,
  VG_SPLIT_SKIP_BAD = 1 << 0,       /* leave bad samples out (see skipped) instead of failing */
  VG_SPLIT_VERIFY = 1 << 1,         /* decode every image and mask, check mask values */
  VG_SPLIT_REQUIRE_MASKS = 1 << 2,  /* a split without masks is an error (training) */
} VgSplitFlags;

typedef struct {
  char *name;        /* file name without extension: "17" */
  char *image_path;  /* absolute */
  char *mask_path;   /* absolute; NULL when the split has no masks */
  int height;        /* of the image (and its mask), from the header */
  int width;
  guint32 mask_classes; /* bit c set: class c occurs in the mask; 0 until
                         * vg_split_scan_classes() (a real mask always has a class) */
} VgSample;

typedef struct {
  char *images_dir;   /* absolute */
  char *masks_dir;    /* absolute; NULL for a split without masks (prediction only) */
  VgSample *samples;  /* (n_samples) in natural order of name */
  int n_samples;
  GPtrArray *skipped; /* of char *: "<path>: <reason>" for each sample left out */
  char *annotations_dir; /* absolute; set by vg_split_use_annotations(), else NULL */
  int n_annotated;    /* samples whose mask_path is in annotations_dir */
} VgSplit;

/* Open a split folder (dir/images, dir/masks). Without dir/masks the split has no masks
 * (an error under VG_SPLIT_REQUIRE_MASKS). n_threads (<= 0: all processors) is used by
 * the checks. */
VgSplit *vg_split_open (const char *dir, VgSplitFlags flags, int n_threads,
                        GCancellable *cancellable, GError **error);

/* Open a split from an images folder and a masks folder (NULL: no masks). */
VgSplit *vg_split_open_dirs (const char *images_dir, const char *masks_dir,
                             VgSplitFlags flags, int n_threads, GCancellable *cancellable,
                             GError **error);

/* A split of explicit image files (no masks), named by their base names, in the given
 * order; each file's header is read for its size. */
VgSplit *vg_split_from_files (const char *const *paths, int n_paths, GError **error);

/* Corrected ground truth: every sample named N whose annotations_dir/N.png exists takes
 * that file as its mask (mask_path), overriding masks/N.png; the others keep their masks.
 * Annotation files are checked like masks (header: palette or 8-bit grey PNG of the
 * image's size); a bad one is an error naming it, and the split is left unchanged. Calling
 * it again re-reads the folder (edits saved since are picked up); annotations_dir NULL
 * restores the original masks. The split must have masks: annotations correct a ground
 * truth, they do not stand in for a missing one (VG_DATA_ERROR_MISSING). */
gboolean vg_split_use_annotations (VgSplit *split, const char *annotations_dir,
                                   GError **error);

/* The file an annotation of sample i is saved to and read from: annotations_dir/<name>.png
 * (newly allocated). */
char *vg_split_annotation_path (const VgSplit *split, int i, const char *annotations_dir);

/* Keep only samples [first, first + count) (clamped to the split), in their order; the
 * others are freed. n_annotated is left as it was (it describes the opened split). */
void vg_split_keep (VgSplit *split, int first, int count);
/* Keep shard index of n (0 <= index < n): the contiguous block of samples
 * [floor (index N / n), floor ((index + 1) N / n)) of the N in split order, so that the n
 * shards hold every sample exactly once and differ in size by one at most (some may be
 * empty when n > N). */
void vg_split_shard (VgSplit *split, int index, int n);
/* The block of shard index of n over N samples: *first and *size. */
void vg_shard_range (int N, int index, int n, int *first, int *size);

void vg_split_free (VgSplit *split);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgSplit, vg_split_free)

static inline gboolean
vg_split_has_masks (const VgSplit *split)
{
  return split->masks_dir != NULL;
}

/* Decode sample i's image (H, W, 3) and, when mask is not NULL and the split has masks,
 * its mask (H, W) with every value checked to be a class id; the sizes must agree. */
gboolean vg_split_load_sample (const VgSplit *split, int i, VgImage *image, VgImage *mask,
                               GError **error);

/* Natural order of file names: runs of digits compare as numbers ("2" < "10"), the rest
 * byte by byte; ties (as "01" and "1") fall back to strcmp so the order is total. */
/* Decode every mask (n_threads, <= 0: all processors) and fill each sample's
 * mask_classes, so the classes present are known before any evaluation. Does nothing for
 * a split without masks. A mask that cannot be decoded is an error naming it; the samples
 * scanned before keep their bits. */
gboolean vg_split_scan_classes (VgSplit *split, int n_threads, GCancellable *cancellable,
                                GError **error);

int vg_natural_compare (const char *a, const char *b);
