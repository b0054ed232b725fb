/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Training page's parts, around one instance struct:
 *   visage-train-view.c       a run trained here: the service's news, the texts, actions
 *   visage-train-view-open.c  a run opened from its folder (training.open-run): its log.csv
 *                             plotted and followed, its state from last.safetensors */
#pragma once

#include "visage-train-view.h"

/* How the run shown ended, once it has. */
typedef enum {
  OUTCOME_NONE,      /* running, or nothing shown */
  OUTCOME_FINISHED,  /* the schedule or the epoch limit ended it */
  OUTCOME_DONE_BEFORE, /* resumed, but it had finished already: nothing was trained */
  OUTCOME_STOPPED,
  OUTCOME_FAILED,
  OUTCOME_WRITING,   /* an opened run's folder is being written (a run elsewhere) */
  OUTCOME_UNKNOWN,   /* an opened run without last.safetensors: its log only */
} RunOutcome;

struct _VisageTrainView
{
  GtkWidget parent_instance;

  /* Template widgets */
  GtkStack *stack;
  GtkLabel *title_label;
  GtkLabel *folder_label;
  GtkLabel *phase_label;
  GtkLabel *best_label;
  GtkProgressBar *epoch_bar;
  GtkProgressBar *run_bar;
  GtkLabel *message_label;
  GtkWidget *best_buttons;
  GtkWidget *pause_button;    /* with resume and stop: hidden for an opened run */
  GtkWidget *resume_button;
  GtkWidget *stop_button;
  VisageTrainPlot *plot;

  VgService *service;
  GCancellable *cancellable;  /* non-NULL while a run goes on */
  VgTrainOptions options;     /* of the run shown */
  gboolean has_options;
  gboolean paused;
  gboolean disposed;

  VgTrainStep step;           /* the latest step */
  gboolean has_step;
  gboolean validating;
  int val_done;
  int val_total;
  double epoch_seconds;       /* sum over the epochs finished in this session */
  int n_epoch_seconds;
  char *optimizer;            /* running now: "adam", "adamw", "sgd" */
  double lr;                  /* the current rate; 0: unknown */
  /* The best checkpoint by the run's own rule (options.select): best.safetensors */
  int best_epoch;             /* 0: none yet */
  double best_val_loss;       /* its validation figures */
  double best_val_miou;
  char *best_path;            /* its file, once there is one */
  AdwToast *best_toast;       /* the newest best-checkpoint notice, weak */
  AdwMessageDialog *stop_question;  /* weak */
  RunOutcome outcome;
  int epochs_done;            /* at the end of the run */

  /* A run opened from its folder (visage-train-view-open.c): shown, never trained here */
  char *run_folder;           /* NULL: none opened */
  GFileMonitor *run_monitor;  /* the folder, for a log that grows */
  GCancellable *run_reading;  /* the read under way; a newer read cancels it */
  guint reread_source;        /* a re-read soon after the folder changed */
  guint age_source;           /* while it is written: re-judging that every 30 s */
  gint64 run_written;         /* the newest write of log.csv or last.safetensors (µs) */
  char *open_error;           /* why the last open failed; NULL after one that did not */
};

/* visage-train-view.c */
void _visage_train_view_update_labels (VisageTrainView *self);
void _visage_train_view_notice (VisageTrainView *self, const char *text);
char *_visage_train_view_format_duration (double seconds);

/* visage-train-view-open.c */
/* Forget the opened run (its monitor and reads): a start, or the widget's end. */
void _visage_train_view_close_run (VisageTrainView *self);
void _visage_train_view_open_run_action (GtkWidget *widget, const char *name,
                                         GVariant *parameter);
