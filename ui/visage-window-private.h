/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VisageWindow is one type in several files around this instance struct:
 *   visage-window.c              the image shown, the split and the model, evaluation and
 *                                export, the accessors and the GObject
 *   visage-window-actions.c      the win.* actions, and which of them are enabled
 *   visage-window-annotations.c  mask corrections: saving, recovering, asking before a loss
 *   visage-window-training.c     the Train dialog, and the question before closing on a run
 *   visage-window-parsing.c      the shipped model that parses when none was named, and the
 *                                Preferences window that chooses it
 * The functions named _visage_window_* below are what the files call of each other. */
#pragma once

#include "visage-annotation.h"
#include "visage-file-chooser.h"
#include "visage-sample.h"
#include "visage-window.h"

G_BEGIN_DECLS

struct _VisageWindow
{
  AdwApplicationWindow parent_instance;

  /* Template widgets */
  AdwToastOverlay *toast_overlay;
  AdwHeaderBar *header_bar;
  AdwViewSwitcherTitle *switcher_title;
  AdwViewSwitcherBar *switcher_bar;
  GtkWidget *unsaved_label;          /* the header's mark, beside both Open buttons */
  GtkWidget *unsaved_label_narrow;   /* or beside Open Split… alone */
  GtkMenuButton *primary_menu_button;
  GtkRevealer *model_revealer;
  GtkRevealer *progress_revealer;
  GtkProgressBar *progress_bar;
  GtkStack *main_stack;
  AdwStatusPage *empty_page;
  AdwViewStack *view_stack;
  VisageGallery *gallery;
  VisageImageView *image_view;
  VisageEvaluationView *evaluation_view;
  VisageTrainView *train_view;

  GSettings *settings;              /* passed in by the application; may be NULL */
  VgService *service;
  VgSplit *split;                   /* the open split, or NULL */
  char *split_dir;
  GListStore *samples;              /* of VisageSample, in the split's order */
  VgEvaluation *evaluation;         /* of split with the loaded model, or NULL */
  VisageSample *shown;              /* whose prediction is shown or on its way */
  GCancellable *open_cancellable;
  GCancellable *predict_cancellable;
  GCancellable *job_cancellable;    /* non-NULL while evaluating, comparing or exporting */
  GCancellable *compare_cancellable; /* the side-by-side prediction asked for last */
  VgExportOptions export_options;   /* the last export's formats, class and legend */
  char *export_destination;         /* the last export's file or folder, for its notice */
  VgServiceJob job_kind;            /* which of the two */
  char *live_path;                  /* an image opened on its own, shown instead of a sample */
  guint n_pending;                  /* operations that will change what is shown */
  VisageTrainDialog *train_dialog;  /* weak: the Train dialog while it is open */
  gboolean evaluate_after_load;     /* win.use-model: evaluate the split with it */
  gboolean bundled_model;           /* the model loaded last is a shipped one, loaded for want
                                     * of one named (visage-window-parsing.c) */
  gboolean close_confirmed;         /* closing stops the training run: asked already */
  gboolean quiet;                   /* notices go to the log, not into toasts */
  guint loads_queued;               /* model loads asked of the service so far */
  guint loads_done;                 /* of them, finished (the service runs them in order) */
  guint prediction_loads;           /* loads_queued when the shown prediction was asked */
  gboolean rescore;                 /* a correction was saved: the next prediction's score
                                     * replaces the shown sample's */
  gboolean disposed;

  /* Mask corrections (visage-window-annotations.c) */
  VisageAnnotation *annotation;     /* of the sample shown, or NULL */
  char *annotations_dir;            /* <split>/annotations */
  AdwMessageDialog *dialog;         /* the question asked now, or NULL */
  gboolean unsaved_confirmed;       /* unsaved changes were saved or discarded */
};

/* visage-window.c */
/* A notice over the window (to the log when quiet). */
void _visage_window_toast (VisageWindow *self, const char *message);

/* A question over the window: dismissing it answers close_id; destructive_id shows in red;
 * suggested_id (NULL: none) in the accent colour and is the default, else close_id is. */
AdwMessageDialog *_visage_window_new_question (VisageWindow *self, const char *heading,
                                               const char *body, const char *close_id,
                                               const char *close_label,
                                               const char *destructive_id,
                                               const char *destructive_label,
                                               const char *suggested_id,
                                               const char *suggested_label);
/* Select the image step places after (step < 0: before) the one shown, wrapping around. */
void _visage_window_step_image (VisageWindow *self, int step);
/* Close the window from an idle, once the question transient for it has gone. */
void _visage_window_close_later (VisageWindow *self);
/* Predict the shown image again (its ground truth changed). */
void _visage_window_request_prediction (VisageWindow *self);

/* An evaluation or an export starts (the progress bar shows, win.cancel stops it); it has
 * finished (called last, so that who waits on "working" finds its result). */
void _visage_window_job_begin (VisageWindow *self, VgServiceJob kind, const char *text);
void _visage_window_job_end (VisageWindow *self);

/* visage-window-actions.c */
void _visage_window_actions_init (VisageWindow *self);
/* Enable the actions from the window's state. */
void _visage_window_actions_update (VisageWindow *self);
/* A model file chooser (safetensors, or any file) whose accepted path goes to chosen (with
 * the window). */
void _visage_window_choose_model (VisageWindow *self, const char *title,
                                  const char *accept_label, VisageChosenFunc chosen);

/* visage-window-compare.c */
/* win.compare-with (a chooser), win.compare (a model file) and win.leave-compare. */
void _visage_window_compare_actions_init (VisageWindow *self);
void _visage_window_compare_actions_update (VisageWindow *self);
/* The loaded model changed: leave compare mode if A is no longer the model loaded. */
void _visage_window_compare_model_changed (VisageWindow *self);

/* visage-window-parsing.c */
/* win.parsing-model and win.preferences; the preference read from the settings (once the
 * window has them, before any model loads). */
void _visage_window_parsing_init (VisageWindow *self);
void _visage_window_parsing_settings_init (VisageWindow *self);

/* visage-window-annotations.c */
/* The ground truth shown for the sample shown: its saved annotation if there is one. */
char *_visage_window_shown_truth_path (VisageWindow *self);
/* A split opened: its annotations folder overrides its masks; say which of its images
 * have unsaved changes from an earlier session. */
void _visage_window_use_annotations (VisageWindow *self);
void _visage_window_announce_recoveries (VisageWindow *self);
/* A prediction of the image shown arrived: edit its ground truth (or a new mask). */
void _visage_window_attach_annotation (VisageWindow *self, const VgPrediction *prediction);
/* The image shown is about to change: unsaved changes go to the recovery file. */
void _visage_window_leave_annotation (VisageWindow *self);
/* win.save-annotation-over-truth: ask, then write over the split's own mask. */
void _visage_window_ask_replace_truth (VisageWindow *self);
/* Closing with unsaved changes: ask to save or discard them first. TRUE when it asked
 * (the window stays open until the answer). */
gboolean _visage_window_ask_save_changes (VisageWindow *self);

/* visage-window-training.c */
/* win.train: the Train dialog (presented again if open). */
void _visage_window_show_train_dialog (VisageWindow *self);
/* win.open-run: a folder chooser for a run's folder, shown on the Training page. */
void _visage_window_choose_run (VisageWindow *self);
/* The window's ::close-request while a model trains: ask first. TRUE when it asked. */
gboolean _visage_window_ask_stop_training (VisageWindow *self);

G_END_DECLS
