/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The evaluation view: the split's scores, the confusion matrix (a click lists the images
 * with the most pixels of that cell, with thumbnails) and the per-class table (a row, or
 * its image counts, open those images: ::open-class). */
#pragma once

#include <adwaita.h>

#include "vg-service.h"
#include "visage-compare-view.h"
#include "visage-confusion-matrix.h"
#include "visage-sample.h"

G_BEGIN_DECLS

#define VISAGE_TYPE_EVALUATION_VIEW (visage_evaluation_view_get_type ())
G_DECLARE_FINAL_TYPE (VisageEvaluationView, visage_evaluation_view, VISAGE, EVALUATION_VIEW,
                      GtkWidget)

/* At most this many images are listed for a confusion cell, with thumbnails this large. */
#define VISAGE_CELL_LIST_MAX 50
#define VISAGE_CELL_THUMBNAIL_SIZE 48

GtkWidget *visage_evaluation_view_new (void);

/* Show an evaluation (its numbers are copied) of the samples (a GListModel of
 * VisageSample whose results are the evaluation's), or NULL for the empty state. */
void visage_evaluation_view_set_evaluation (VisageEvaluationView *self,
                                            const VgEvaluation *evaluation,
                                            GListModel *samples);

/* Compare mode: show a comparison of two models (transfer full) instead of the
 * evaluation; NULL leaves it, back to the evaluation shown before (or the empty state). */
void visage_evaluation_view_set_comparison (VisageEvaluationView *self,
                                            VgServiceComparison *comparison,
                                            GListModel *samples);
VisageCompareView *visage_evaluation_view_get_compare_view (VisageEvaluationView *self);

VisageConfusionMatrix *visage_evaluation_view_get_matrix (VisageEvaluationView *self);
/* The images listed for the selected cell, most pixels of it first. */
GListModel *visage_evaluation_view_get_cell_samples (VisageEvaluationView *self);
/* The per-class table's rows (VisageClassScore) in the order shown. */
GListModel *visage_evaluation_view_get_class_scores (VisageEvaluationView *self);
/* Sort the table by a column ("name", "iou", "f1", "truth-pixels", "images", "missed"). */
void visage_evaluation_view_sort_by (VisageEvaluationView *self, const char *column,
                                     GtkSortType order);

G_END_DECLS
