/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Train dialog: what visage-cli train asks for (configuration, data folders,
 * resolution, batch, epochs, the optimiser pipeline, augmentation, loss, output folder),
 * with the report's defaults (vg_train_options_init). Every change is checked at once: a
 * bad value marks its row and blocks Start with the reason shown. An output folder that
 * holds a run (last.safetensors, read on a worker thread) offers to resume it with its own
 * options, shown in the greyed fields; a run its schedule has finished is not resumed.
 *
 * Start emits ::start (const VgTrainOptions *, valid during the emission) and closes. */
#pragma once

#include <adwaita.h>

#include "vg-train.h"

G_BEGIN_DECLS

#define VISAGE_TYPE_TRAIN_DIALOG (visage_train_dialog_get_type ())
G_DECLARE_FINAL_TYPE (VisageTrainDialog, visage_train_dialog, VISAGE, TRAIN_DIALOG, AdwWindow)

/* Above this many parameters the dialog warns (the report's model budget). */
#define VISAGE_TRAIN_PARAM_BUDGET 2000000

/* val_dir: the split open in the window (the default validation split), or NULL; the
 * training split defaults to its sibling "train" folder, else ../shared/celebamask/train
 * beside the source tree, when either is a split. */
VisageTrainDialog *visage_train_dialog_new (GtkWindow *parent, const char *val_dir);

/* Set a field as the user would (for tests and scripted use). name is the visage-cli train
 * option's ("train", "val", "out", "resume", "config" = visage-s|seed|custom, "widths",
 * "depths", "heads", "ratios", "seed", "resolution", "batch", "epochs", "augment",
 * "hflip", "loss", "optimizer", "lr", "weight-decay", "patience", "sgd-lr",
 * "sgd-momentum", "sgd-min-lr", "cosine-t", "select"); switches take "true" / "false",
 * choices their command-line names. FALSE for an unknown name or choice. */
gboolean visage_train_dialog_set_field (VisageTrainDialog *self, const char *name,
                                        const char *value);
const char *visage_train_dialog_get_field (VisageTrainDialog *self, const char *name);

/* NULL when Start may go, else the reason shown. */
const char *visage_train_dialog_get_problem (VisageTrainDialog *self);
gboolean visage_train_dialog_get_can_start (VisageTrainDialog *self);
/* The configuration's trainable parameters (0 while it is invalid), and whether the
 * budget warning shows. */
gsize visage_train_dialog_get_param_count (VisageTrainDialog *self);
/* The count as the dialog shows it ("1,967,923"; "–" while invalid). */
char *visage_train_dialog_get_param_text (VisageTrainDialog *self);
gboolean visage_train_dialog_get_budget_warning (VisageTrainDialog *self);
/* Whether the output folder's checkpoint is being read (on a worker thread, once per
 * folder and version of last.safetensors): Start waits for it. */
gboolean visage_train_dialog_get_reading_run (VisageTrainDialog *self);
/* Whether the output folder holds a run that can be resumed (the Resume switch shows);
 * switched on, the fields show that run's options. */
gboolean visage_train_dialog_get_resume_offered (VisageTrainDialog *self);
/* The options Start would use (valid only when it may start). */
const VgTrainOptions *visage_train_dialog_get_options (VisageTrainDialog *self);
/* What the Start button does: emit ::start and close; FALSE (nothing done) when blocked. */
gboolean visage_train_dialog_start (VisageTrainDialog *self);

G_END_DECLS
