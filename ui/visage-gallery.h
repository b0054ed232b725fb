/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The gallery: thumbnails of the open split, sorted and filtered, one selected. */
#pragma once

#include <adwaita.h>

#include "visage-sample.h"

G_BEGIN_DECLS

#define VISAGE_TYPE_GALLERY (visage_gallery_get_type ())
G_DECLARE_FINAL_TYPE (VisageGallery, visage_gallery, VISAGE, GALLERY, AdwBin)

GtkWidget *visage_gallery_new (void);

/* The samples to show (a GListModel of VisageSample), or NULL. */
void visage_gallery_set_samples (VisageGallery *self, GListModel *samples);

/* The list as shown (sorted and filtered), for tests and keyboard navigation. */
GListModel *visage_gallery_get_shown (VisageGallery *self);

VisageSample *visage_gallery_get_selected_sample (VisageGallery *self);
/* Select the sample at this position of the shown list. */
void visage_gallery_select_position (VisageGallery *self, guint position);

/* Select a sample (showing all samples if the filter hides it). */
void visage_gallery_select_sample (VisageGallery *self, VisageSample *sample);

/* Sort orders: "name", "miou" (worst first), "confusion" (most pixels of the chosen
 * confusion cell first). */
void visage_gallery_set_sort_by (VisageGallery *self, const char *sort_by);
const char *visage_gallery_get_sort_by (VisageGallery *self);
/* Choose the confusion cell (ground truth class, predicted class) and sort by it. */
void visage_gallery_sort_by_confusion (VisageGallery *self, int truth, int predicted);

/* Show only the samples whose ground truth contains cls (-1: all samples). */
void visage_gallery_set_filter_class (VisageGallery *self, int cls);
int visage_gallery_get_filter_class (VisageGallery *self);

/* The samples' evaluations changed: sort and filter again. */
void visage_gallery_results_changed (VisageGallery *self);

G_END_DECLS
