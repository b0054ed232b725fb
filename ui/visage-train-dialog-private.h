/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Train dialog's instance, shared by its files:
 *   visage-train-dialog.c      the fields, their checks, Start, and the GObject
 *   visage-train-dialog-run.c  the run in the output folder: its checkpoint read on a
 *                              worker thread, the resume row's line, its options shown */
#pragma once

#include "visage-train-dialog.h"

G_BEGIN_DECLS

struct _VisageTrainDialog
{
  AdwWindow parent_instance;

  /* Template widgets */
  GtkButton *start_button;
  GtkRevealer *problem_revealer;
  GtkLabel *problem_label;
  AdwEntryRow *out_row;
  AdwActionRow *resume_row;
  GtkSwitch *resume_switch;
  AdwEntryRow *train_row;
  AdwEntryRow *val_row;
  AdwComboRow *config_row;
  AdwEntryRow *widths_row;
  AdwEntryRow *depths_row;
  AdwEntryRow *heads_row;
  AdwEntryRow *ratios_row;
  AdwActionRow *params_row;
  AdwActionRow *budget_row;
  GtkSpinButton *seed_spin;
  GtkSpinButton *resolution_spin;
  GtkSpinButton *batch_spin;
  GtkSpinButton *epochs_spin;
  GtkSwitch *augment_switch;
  GtkSwitch *hflip_switch;
  AdwComboRow *loss_row;
  AdwComboRow *optimizer_row;
  AdwEntryRow *lr_row;
  AdwEntryRow *weight_decay_row;
  GtkSpinButton *patience_spin;
  AdwEntryRow *sgd_lr_row;
  AdwEntryRow *sgd_momentum_row;
  AdwEntryRow *sgd_min_lr_row;
  GtkSpinButton *cosine_t_spin;
  AdwEntryRow *cosine_floor_row;
  AdwEntryRow *ema_row;
  AdwEntryRow *oversample_row;
  AdwComboRow *select_row;
  AdwPreferencesGroup *data_group;
  AdwPreferencesGroup *model_group;
  AdwPreferencesGroup *optimizer_group;
  AdwActionRow *resolution_row;
  AdwActionRow *batch_row;
  AdwActionRow *augment_row;
  AdwActionRow *hflip_row;

  VgTrainOptions options;    /* what Start uses, when problem is NULL */
  char *problem;
  gsize param_count;
  char *resume_dir;          /* the output folder resume_options were read from */
  gint64 resume_mtime;       /* and its last.safetensors' modification time (0: none) */
  GCancellable *reading;     /* while its checkpoint is read, on a worker thread */
  VgTrainOptions resume_options;
  gboolean has_resume_options;
  VgTrainState resume_state; /* where the run there stands (with resume_options) */
  char *resume_error;        /* why the run there cannot be resumed */
  gboolean filling;          /* showing the run's options in the fields: no checks */
  char *field_text;          /* visage_train_dialog_get_field's answer */
};

/* visage-train-dialog.c */
void _visage_train_dialog_check (VisageTrainDialog *self);
void _visage_train_dialog_set_double (AdwEntryRow *row, double value);
void _visage_train_dialog_set_stages (AdwEntryRow *row, const int *v);

/* visage-train-dialog-run.c */
/* Read the run in out (once per folder and version of its last.safetensors). */
void _visage_train_dialog_refresh_run (VisageTrainDialog *self, const char *out);
/* The resume row's line. */
char *_visage_train_dialog_run_subtitle (VisageTrainDialog *self);
/* The run's options in the fields (without checking each). */
void _visage_train_dialog_fill_from_run (VisageTrainDialog *self);

G_END_DECLS
