/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The evaluation page's compare mode: two models on the same split (A the loaded model, B
 * the other). The per-class IoU of both with B - A coloured, the difference of their
 * confusion matrices on a diverging scale, and the images sorted by how much one beats
 * the other; activating an image (::open-sample) asks for both predictions, which
 * visage_compare_view_show_prediction then shows beside the ground truth, each pane
 * labelled. */
#pragma once

#include <adwaita.h>

#include "vg-service.h"
#include "visage-confusion-matrix.h"
#include "visage-sample.h"

G_BEGIN_DECLS

#define VISAGE_TYPE_COMPARE_VIEW (visage_compare_view_get_type ())
G_DECLARE_FINAL_TYPE (VisageCompareView, visage_compare_view, VISAGE, COMPARE_VIEW, GtkWidget)

/* At most this many images are listed, from either end of the order. */
#define VISAGE_COMPARE_LIST_MAX 50

GtkWidget *visage_compare_view_new (void);

/* Show a comparison (transfer full; NULL frees the one shown) of the samples (a GListModel
 * of VisageSample in the split's order). Shows the overview. */
void visage_compare_view_set_comparison (VisageCompareView *self,
                                         VgServiceComparison *comparison,
                                         GListModel *samples);
const VgServiceComparison *visage_compare_view_get_comparison (VisageCompareView *self);

/* The image list's order: B's largest gain first (the default) or A's. */
void visage_compare_view_set_b_better_first (VisageCompareView *self, gboolean b_first);
/* The images listed (VisageSample), in the order shown. */
GListModel *visage_compare_view_get_images (VisageCompareView *self);
/* Activate the image listed at position (as a click does): emits ::open-sample. */
void visage_compare_view_activate_image (VisageCompareView *self, guint position);

/* Show a sample's ground truth and both predictions (prediction: truth, labels and
 * other_labels filled) side by side; the detail page until visage_compare_view_show_overview
 * or its Back button. */
void visage_compare_view_show_prediction (VisageCompareView *self, VisageSample *sample,
                                          const VgPrediction *prediction);
void visage_compare_view_show_overview (VisageCompareView *self);
/* "overview" or "detail". */
const char *visage_compare_view_get_page (VisageCompareView *self);

VisageConfusionMatrix *visage_compare_view_get_matrix (VisageCompareView *self);

G_END_DECLS
