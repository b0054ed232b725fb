/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One image of the open split, as the gallery lists it: name, files, lazily loaded
 * thumbnail, and its evaluation once there is one. */
#pragma once

#include <gtk/gtk.h>

#include "vg-service.h"

G_BEGIN_DECLS

#define VISAGE_TYPE_SAMPLE (visage_sample_get_type ())
G_DECLARE_FINAL_TYPE (VisageSample, visage_sample, VISAGE, SAMPLE, GObject)

/* Thumbnails fit in a square of this many pixels. */
#define VISAGE_THUMBNAIL_SIZE 112

VisageSample *visage_sample_new (int index, const char *name, const char *image_path,
                                 const char *mask_path);

int visage_sample_get_index (VisageSample *self);
const char *visage_sample_get_name (VisageSample *self);
const char *visage_sample_get_image_path (VisageSample *self);
/* NULL in a split without masks. */
const char *visage_sample_get_mask_path (VisageSample *self);

/* The thumbnail, or NULL while it loads: the first call starts loading it on a worker
 * thread and ::notify::thumbnail announces it. */
GdkPaintable *visage_sample_get_thumbnail (VisageSample *self);

/* How many thumbnails (of all samples) are being decoded now. */
guint visage_sample_get_n_loading (void);

/* The image's evaluation (NULL clears it, as when another model is loaded). */
void visage_sample_set_result (VisageSample *self, const VgImageResult *result);
const VgImageResult *visage_sample_get_result (VisageSample *self);
/* The classes in the ground truth (bit c: class c): the evaluation's when there is one,
 * else those the split's scan found (vg_split_scan_classes); 0 when unknown. */
void visage_sample_set_truth_classes (VisageSample *self, guint32 classes);
guint32 visage_sample_get_truth_classes (VisageSample *self);
/* Whether its mask is a saved correction ("corrected"), and whether it has mask changes
 * not saved yet ("unsaved"): the gallery marks both. */
void visage_sample_set_corrected (VisageSample *self, gboolean corrected);
gboolean visage_sample_get_corrected (VisageSample *self);
void visage_sample_set_unsaved (VisageSample *self, gboolean unsaved);
gboolean visage_sample_get_unsaved (VisageSample *self);
/* Per-image mIoU, or a negative value before an evaluation. */
double visage_sample_get_miou (VisageSample *self);

/* A row of a list of images: the sample's thumbnail in a square of thumbnail_size pixels
 * (shown once decoded) and its name, then the labels of trailing (NULL-terminated), each
 * right-aligned in the numeric font and dimmed when dim. For the evaluation page's lists. */
GtkWidget *visage_sample_row_new (VisageSample *sample, int thumbnail_size, gboolean dim,
                                  GtkWidget *first_trailing, ...) G_GNUC_NULL_TERMINATED;

G_END_DECLS
