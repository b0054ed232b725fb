/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The gallery: thumbnails of the open split, sorted and filtered, one selected.
 *
 * Filters, all applied together: the classes in the ground truth (any or all of those
 * chosen, each with its number of images), and a focus that a bar above the thumbnails
 * names with a button to clear it: the images where a class is missed entirely, or those
 * with pixels of one confusion cell. D / Page Down and A / Page Up step through the images
 * shown (from anywhere in the window that does not use the key itself). */
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
/* Select the sample at this position of the shown list (scrolled into view). */
void visage_gallery_select_position (VisageGallery *self, guint position);
/* Select the image `step` places on in the shown list, wrapping around (the first one
 * when none is selected). */
void visage_gallery_step (VisageGallery *self, int step);

/* Select a sample (showing all samples if the filters hide it). */
void visage_gallery_select_sample (VisageGallery *self, VisageSample *sample);

/* Sort orders: "name", "miou" (worst first), "confusion" (most pixels of the chosen
 * confusion cell first), "class-iou" (the worst IoU of one class first). Images without
 * the score come last; the note under the bar says how many have none. */
void visage_gallery_set_sort_by (VisageGallery *self, const char *sort_by);
const char *visage_gallery_get_sort_by (VisageGallery *self);
/* Choose the confusion cell (ground truth class, predicted class) and sort by it. */
void visage_gallery_sort_by_confusion (VisageGallery *self, int truth, int predicted);
/* Sort by class cls's IoU in each image, worst first ("worst necklace first"); images
 * where the class is in neither map come after those where it is. */
void visage_gallery_sort_by_class_iou (VisageGallery *self, int cls);
/* The class of the "class-iou" order, or -1 under another order. */
int visage_gallery_get_sort_class (VisageGallery *self);

/* Show only the images whose ground truth contains the classes (bit c: class c): all of
 * them (match_all), or any; 0 shows all images. */
void visage_gallery_set_filter_classes (VisageGallery *self, guint32 classes,
                                        gboolean match_all);
guint32 visage_gallery_get_filter_classes (VisageGallery *self);
/* The same for one class (-1: all images); get returns -1 unless exactly one is chosen. */
void visage_gallery_set_filter_class (VisageGallery *self, int cls);
int visage_gallery_get_filter_class (VisageGallery *self);

/* Focus on the images with pixels of truth `truth` predicted as `predicted`, most first
 * (the class filter is cleared); -1, -1 clears such a focus. */
void visage_gallery_filter_confusion (VisageGallery *self, int truth, int predicted);
/* The confusion focused on (-1, -1 for none); also the properties confusion-truth and
 * confusion-predicted. */
void visage_gallery_get_confusion (VisageGallery *self, int *truth, int *predicted);
/* Focus on the images where class cls is missed entirely: in the ground truth, and not one
 * pixel of it predicted right (IoU 0); -1 clears such a focus. */
void visage_gallery_filter_missed (VisageGallery *self, int cls);
int visage_gallery_get_filter_missed (VisageGallery *self);
/* The images with class cls, its worst IoU first (no focus). */
void visage_gallery_show_class (VisageGallery *self, int cls);
/* Clear the class filter and the focus. */
void visage_gallery_show_all (VisageGallery *self);

/* What the gallery says, for tests: the focus bar (NULL when hidden), the count of images
 * shown, the note on missing scores (NULL when hidden), and a class's line in the filter
 * with its number of images. */
const char *visage_gallery_get_focus_text (VisageGallery *self);
const char *visage_gallery_get_count_text (VisageGallery *self);
const char *visage_gallery_get_scores_note (VisageGallery *self);
const char *visage_gallery_get_class_label (VisageGallery *self, int cls);

/* The samples' evaluations changed: sort and filter again. */
void visage_gallery_results_changed (VisageGallery *self);

G_END_DECLS
