/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The convergence figure of a training run, drawn with Cairo: training loss, validation
 * loss (left axis) and validation mIoU (right axis) per epoch, with a dashed vertical
 * marker at each optimiser switch labelled with the new learning rate. The same drawing
 * exports as PNG or SVG. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define VISAGE_TYPE_TRAIN_PLOT (visage_train_plot_get_type ())
G_DECLARE_FINAL_TYPE (VisageTrainPlot, visage_train_plot, VISAGE, TRAIN_PLOT, GtkWidget)

GtkWidget *visage_train_plot_new (void);

/* Forget every point and marker. */
void visage_train_plot_clear (VisageTrainPlot *self);
/* The figures of a finished epoch (1-based; epochs come in order, a repeated epoch
 * replaces the points from it on: a resumed run redoes an abandoned epoch). val_miou is
 * 0..1. */
void visage_train_plot_add_epoch (VisageTrainPlot *self, int epoch, double train_loss,
                                  double val_loss, double val_miou);
/* An optimiser switch after epoch `epoch`: the next epochs run with `optimizer` ("sgd",
 * "adam" ...) starting at rate lr. */
void visage_train_plot_add_switch (VisageTrainPlot *self, int epoch, const char *optimizer,
                                   double lr);
/* Replace the contents with a run's log.csv (the columns visage-cli train writes); the
 * switches are where the phase changes. A log that is empty, names other columns, has a
 * row that is no row (or an epoch not after the one before), or a last line without its
 * end (cut short) is an error, and the plot keeps what it showed. */
gboolean visage_train_plot_load_log (VisageTrainPlot *self, const char *path, GError **error);
/* The same from the log's text; path names its source in errors. */
gboolean visage_train_plot_load_log_text (VisageTrainPlot *self, const char *text,
                                          const char *path, GError **error);

/* The number of epochs plotted, and of switch markers. */
guint visage_train_plot_get_n_points (VisageTrainPlot *self);
guint visage_train_plot_get_n_switches (VisageTrainPlot *self);

/* The figures plotted for an epoch: FALSE when it has none. */
gboolean visage_train_plot_get_epoch (VisageTrainPlot *self, int epoch, double *train_loss,
                                      double *val_loss, double *val_miou);
/* What hovering at x (in the widget's width) shows: the nearest epoch's figures
 * ("Epoch 3\nTraining loss 0.8123\n…"), or NULL where no epoch is plotted near. The hovered
 * epoch is marked in the drawing. */
char *visage_train_plot_describe_at (VisageTrainPlot *self, double x);

/* Draw the figure into cr over (0, 0, width, height), text and axes in fg. */
void visage_train_plot_draw (VisageTrainPlot *self, cairo_t *cr, double width, double height,
                             const GdkRGBA *fg);
/* Write the figure, black on white, width x height points: format "png" or "svg". */
gboolean visage_train_plot_export (VisageTrainPlot *self, const char *path, const char *format,
                                   int width, int height, GError **error);

G_END_DECLS
