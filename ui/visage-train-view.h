/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Training page: a run on the engine service's worker (vg_service_train_async, the
 * code of visage-cli train) with its epoch and run progress, ETA and images per second,
 * the live convergence plot, the optimiser phase and the best checkpoint so far; Pause,
 * Resume and Stop (which asks first), and the plot's export (the widget actions
 * training.pause, training.resume, training.stop and training.export-plot("png" | "svg")).
 *
 * "Best" is the engine's rule for best.safetensors (the run's options.select), named in
 * the header and in the notice of a new best. Its buttons stay on the page:
 * training.use-best activates win.browse-model and training.evaluate-best win.use-model,
 * with the checkpoint's path. Paused, the page gives no time left; ended, it says how
 * (finished, stopped, failed, or finished already when resumed) with no step or rate that
 * no longer holds. Notices go to the window's toast overlay.
 *
 * A run trained elsewhere (visage-cli train, also under mpirun, where rank 0 writes the
 * files) opens from its folder (training.open-run(folder), visage_train_view_open_run):
 * its log.csv's curves, its best checkpoint with the same buttons, and its state from
 * last.safetensors: finished, stopped after epoch N, or written to now (then the page
 * follows the log as it grows). Nothing trains or resumes; a bad folder is refused with
 * its reason in a notice (visage_train_view_get_open_error) and the page keeps what it
 * showed. */
#pragma once

#include <adwaita.h>

#include "vg-service.h"
#include "visage-train-plot.h"

G_BEGIN_DECLS

#define VISAGE_TYPE_TRAIN_VIEW (visage_train_view_get_type ())
G_DECLARE_FINAL_TYPE (VisageTrainView, visage_train_view, VISAGE, TRAIN_VIEW, GtkWidget)

GtkWidget *visage_train_view_new (void);

/* The service that trains (the window's); set once, before a start. */
void visage_train_view_set_service (VisageTrainView *self, VgService *service);

/* Start (or resume, opts->resume) a run with a copy of the options. FALSE while another
 * run goes on. */
gboolean visage_train_view_start (VisageTrainView *self, const VgTrainOptions *opts);
/* Ask the run to stop: it ends within the current step, last.safetensors keeping the run
 * up to its last checkpoint (an epoch's end, or a mid-epoch one). */
void visage_train_view_stop (VisageTrainView *self);
void visage_train_view_set_paused (VisageTrainView *self, gboolean paused);

/* Show the run in folder (read on a worker): FALSE while a run trains here. */
gboolean visage_train_view_open_run (VisageTrainView *self, const char *folder);
/* TRUE while a folder is read ("reading" is notified at the start and end of a read). */
gboolean visage_train_view_get_reading (VisageTrainView *self);
/* The opened run's folder (followed while shown), or NULL. */
const char *visage_train_view_get_run_folder (VisageTrainView *self);
/* Why the last open (or re-read) of a folder failed; NULL after one that did not. */
const char *visage_train_view_get_open_error (VisageTrainView *self);

/* TRUE from a start until the run's end is delivered ("running" is notified). */
gboolean visage_train_view_get_running (VisageTrainView *self);
gboolean visage_train_view_get_paused (VisageTrainView *self);
/* The best.safetensors of the run shown (trained here or opened) once there is one, else
 * NULL. */
const char *visage_train_view_get_best_path (VisageTrainView *self);
/* The texts shown: the phase line, the best-mIoU line, the epoch and run progress bars,
 * and the last notice (how the run ended, once it has). */
const char *visage_train_view_get_phase_text (VisageTrainView *self);
const char *visage_train_view_get_best_text (VisageTrainView *self);
const char *visage_train_view_get_epoch_text (VisageTrainView *self);
const char *visage_train_view_get_run_text (VisageTrainView *self);
const char *visage_train_view_get_message (VisageTrainView *self);
VisageTrainPlot *visage_train_view_get_plot (VisageTrainView *self);

G_END_DECLS
