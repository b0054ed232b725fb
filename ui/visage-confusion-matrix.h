/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A 19x19 confusion matrix drawn with Cairo: rows are the ground truth, columns the
 * prediction, each row normalised to rates on a linear or logarithmic colour scale, with a
 * colour bar under it and, optionally, each rate written in its cell; the count and rate
 * under the pointer show in a tooltip, and clicking a cell selects it. Or the difference
 * of two such matrices on a diverging scale (visage_confusion_matrix_set_difference). */
#pragma once

#include <gtk/gtk.h>

#include "vg-metrics.h"

G_BEGIN_DECLS

#define VISAGE_TYPE_CONFUSION_MATRIX (visage_confusion_matrix_get_type ())
G_DECLARE_FINAL_TYPE (VisageConfusionMatrix, visage_confusion_matrix, VISAGE,
                      CONFUSION_MATRIX, GtkWidget)

/* Rates below this are drawn as the lowest colour of the scale (counts of 0 not at all). */
#define VISAGE_CONFUSION_MIN_RATE 1e-4

GtkWidget *visage_confusion_matrix_new (void);

/* The matrix to draw (copied), or NULL to draw nothing. Clears the selection. */
void visage_confusion_matrix_set_confusion (VisageConfusionMatrix *self,
                                            const VgConfusion *confusion);

/* Difference mode: the rates of b minus those of a (both row-normalised by the ground
 * truth's pixels, the same in both for two models on the same images), on a diverging
 * colour scale from the largest decrease (blue) through 0 (grey) to the largest increase
 * (orange), with that scale as the bar under the matrix, signed points in the cells, and
 * both counts in the tooltip. Cells where the counts are equal stay empty. Clears the
 * selection; set_confusion leaves the mode. */
void visage_confusion_matrix_set_difference (VisageConfusionMatrix *self, const VgConfusion *a,
                                             const VgConfusion *b);
gboolean visage_confusion_matrix_get_difference (VisageConfusionMatrix *self);
/* In difference mode, a cell's rate in b minus its rate in a; else 0. */
double visage_confusion_matrix_delta (VisageConfusionMatrix *self, int truth, int predicted);

/* The cell under widget point (x, y): FALSE outside the cells. */
gboolean visage_confusion_matrix_cell_at (VisageConfusionMatrix *self, double x, double y,
                                          int *truth, int *predicted);
/* The centre of a cell in widget coordinates (for tests and keyboard focus). */
void visage_confusion_matrix_cell_center (VisageConfusionMatrix *self, int truth,
                                          int predicted, double *x, double *y);

/* Select a cell (emits ::cell-selected), as a click on it does; -1, -1 clears. */
void visage_confusion_matrix_select (VisageConfusionMatrix *self, int truth, int predicted);

/* The row-normalised rate of a cell: counts[t][p] / (pixels of class t), or 0. */
double visage_confusion_matrix_rate (const VgConfusion *confusion, int truth, int predicted);

/* Where a rate falls on the colour scale: linear, the rate itself (0 to 1); logarithmic, 0
 * at VISAGE_CONFUSION_MIN_RATE and below, 1 at 1, logarithmic in between. */
double visage_confusion_matrix_scale (gboolean logarithmic, double rate);
/* What a cell shows of its rate: per cent without a sign, "30" for 0.298, "2.5" for
 * 0.025, "<0.1" under 0.1%, "" for 0. */
char *visage_confusion_matrix_cell_text (double rate);

/* The colour scale (property "logarithmic"; default linear) and the numbers in the cells
 * (property "show-numbers"; default on). */
void visage_confusion_matrix_set_logarithmic (VisageConfusionMatrix *self,
                                              gboolean logarithmic);
gboolean visage_confusion_matrix_get_logarithmic (VisageConfusionMatrix *self);
void visage_confusion_matrix_set_show_numbers (VisageConfusionMatrix *self,
                                               gboolean show_numbers);
gboolean visage_confusion_matrix_get_show_numbers (VisageConfusionMatrix *self);

G_END_DECLS
