/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Training: the report's method (section 2.2) as one loop shared by visage-cli and the
 * workbench. Nothing here prints; progress, epoch results and notices go out through
 * callbacks on the calling thread, a GCancellable stops the run and a VgTrainControl
 * pauses it.
 *
 * The method:
 *  - whitening mean/std and the loss's class weights w_c = (1/ln n_c) / sum_i (1/ln n_i)
 *    from the statistics of the whole training split (vg_split_stats_get; cached), stored
 *    in every checkpoint so prediction reuses them;
 *  - the dynamic optimiser pipeline: Adam (coupled L2 weight decay) until `patience`
 *    epochs pass without a lower validation loss, then the best weights are reloaded and
 *    SGD with momentum starts at sgd_lr; each later patience event reloads the best weights
 *    and halves the SGD rate; the run stops when the rate would fall below sgd_min_lr, or
 *    at the epoch limit. Each patience event starts a fresh optimiser (no momentum carried);
 *  - within each phase, cosine annealing per epoch from the phase's rate lr0 to f lr0
 *    (f = cosine_floor, the report's 1/2 by default):
 *    lr(e) = f lr0 + (1 - f) lr0 (1 + cos(pi min(e, T) / T)) / 2, e epochs since the phase
 *    began.
 *
 * Files in the output folder:
 *   last.safetensors  after every epoch: weights, BatchNorm statistics, optimiser moments
 *                     ("optim.m", "optim.v"), the pipeline's best weights
 *                     ("pipeline.best"), the options, the schedule state and the log in the
 *                     metadata. Written atomically (temporary file, fsync, rename): a kill
 *                     at any moment leaves the previous complete version.
 *   best.safetensors  when the selected criterion improved: weights and preprocessing,
 *                     ready for vg_model_open / visage-cli eval and predict.
 *   log.csv           one row per completed epoch, rewritten from the state in `last`.
 *
 * Randomness: the weights' initialisation comes from the seed, the epoch's sample order
 * and augmentation from (seed, epoch, sample index); there is no other random state, so
 * an epoch number and the seed restore it. Resuming from `last` therefore gives the same
 * weights as a run that was never interrupted (for the same number of OpenMP threads).
 *
 * Cancellation: a cancelled run stops within the current step; the epoch in progress is
 * abandoned and `last` keeps the end of the previous epoch (resume redoes the epoch). */
#pragma once

#include <stdint.h>

#include <glib.h>
#include <gio/gio.h>

#include "vg-backend.h"
#include "vg-config.h"

typedef enum {
  VG_LOSS_WEIGHTED_CE = 0,  /* the report's weighted cross-entropy (default) */
  VG_LOSS_CE,               /* plain cross-entropy */
  VG_LOSS_CE_DICE,          /* plain cross-entropy + soft Dice */
  VG_LOSS_WEIGHTED_CE_DICE, /* weighted cross-entropy + soft Dice */
  VG_LOSS_CE_DICE_PRESENT,  /* plain cross-entropy + soft Dice over the batch's classes */
  VG_LOSS_WEIGHTED_CE_DICE_PRESENT, /* weighted cross-entropy + the same (nn/vg-dice.h) */
  VG_LOSS_CE_LOVASZ,        /* plain cross-entropy + Lovász-softmax over the batch's classes */
  VG_LOSS_WEIGHTED_CE_LOVASZ, /* weighted cross-entropy + the same (nn/vg-lovasz.h) */
} VgLossKind;
#define VG_N_LOSS_KINDS (VG_LOSS_WEIGHTED_CE_LOVASZ + 1)

typedef enum {
  VG_OPTIMIZER_PIPELINE = 0, /* Adam, then SGD with halvings (default) */
  VG_OPTIMIZER_ADAM,         /* Adam throughout; patience stops the run */
  VG_OPTIMIZER_ADAMW,        /* AdamW throughout; patience stops the run */
  VG_OPTIMIZER_SGD,          /* SGD with momentum at sgd_lr throughout; patience stops */
} VgOptimizerKind;
#define VG_N_OPTIMIZER_KINDS (VG_OPTIMIZER_SGD + 1)

typedef enum {
  VG_SELECT_LOSS = 0, /* best = lowest validation loss (default) */
  VG_SELECT_MIOU,     /* best = highest validation mIoU */
} VgSelectKind;
#define VG_N_SELECT_KINDS (VG_SELECT_MIOU + 1)

/* The most epochs a run may have. */
#define VG_TRAIN_MAX_EPOCHS 1000000

typedef struct {
  VgConfig config;          /* the model (default visage-s) */
  char *train_dir;          /* split folder with images/ and masks/ ... */
  char *train_images;       /* ... or explicit folders (used when train_dir is NULL) */
  char *train_masks;
  char *val_dir;            /* likewise for validation */
  char *val_images;
  char *val_masks;
  char *train_annotations;  /* corrected masks overriding the training masks
                             * (vg_split_use_annotations); NULL: none */
  char *val_annotations;    /* likewise for validation */
  char *out_dir;            /* created if missing */
  char *init_from;          /* a new run starts from these weights (same configuration), e.g.
                             * a run at a lower resolution; NULL: vg_model_init */
  gboolean resume;          /* continue the run in out_dir from last.safetensors */
  int epochs;               /* limit on the epochs of the run (100) */
  int batch;                /* 8 */
  int resolution;           /* square training size, multiple of 32; 0: the images' own */
  int workers;              /* decoding threads of the loaders (2) */
  int threads;              /* OpenMP threads of the compute; 0: OpenMP's default */
  double checkpoint_minutes; /* also write last.safetensors mid-epoch this often (10), so
                              * a killed run loses at most that much; 0: at epoch ends only.
                              * Like epochs, workers and threads, not part of the run: a
                              * resume may change it */
  uint64_t seed;            /* 42, as the report */
  gboolean augment;         /* the report's augmentation (TRUE) */
  gboolean hflip;           /* random flip swapping left/right classes (FALSE) */
  gboolean skip_bad;        /* leave bad samples out with a notice instead of failing */
  VgLossKind loss;
  VgOptimizerKind optimizer;
  double lr;                /* Adam / AdamW rate (1e-3) */
  double weight_decay;      /* L2 for Adam and SGD, decoupled for AdamW (1e-7) */
  int patience;             /* epochs without a better val loss (12); 0: never */
  double sgd_lr;            /* 0.02 */
  double sgd_momentum;      /* 0.5 */
  double sgd_min_lr;        /* 0.005 */
  int cosine_t;             /* T in epochs (50); 0: constant rate */
  double cosine_floor;      /* the fraction of the phase's rate the cosine ends at (0.5,
                             * the report's); 0: anneal to zero */
  VgSelectKind select;      /* what makes best.safetensors */
  double ema;               /* decay of the weights' exponential moving average, which
                             * validation, best.safetensors and the schedule see (e.g.
                             * 0.999, an average over about 1,000 steps); 0: none */
  double oversample;        /* repeat-factor sampling: an image holding a class that is in
                             * a fraction f < t of the training images comes sqrt(t / f)
                             * times per epoch (rounded by a fixed draw per image); 0: none */
  int max_train;            /* use only the first N training samples; 0: all */
  int max_val;              /* use only the first N validation samples; 0: all */
  const VgBackend *backend; /* NULL: the CPU backend */
  gboolean distributed;     /* data-parallel over the ranks of MPI (vg-dist.h, which the
                             * caller initialised): each rank trains on batch / ranks samples
                             * of every batch; rank 0 writes the files. Not part of the run:
                             * a resume may change it and the number of ranks */
  /* For fault tests: called after each write of an epoch's end (see VgTrainWrite);
   * returning FALSE ends the run right there, as a kill would. NULL: none. Not saved. */
  gboolean (*write_hook) (int what, int epoch, gpointer data);
  gpointer write_hook_data;
} VgTrainOptions;

/* The writes at an epoch's end, in their order, for VgTrainOptions.write_hook. */
typedef enum {
  VG_TRAIN_WROTE_BEST = 0, /* best.safetensors (only when the selected criterion improved) */
  VG_TRAIN_WROTE_LAST,     /* last.safetensors: the checkpoint, log rows included */
  VG_TRAIN_WROTE_LOG,      /* log.csv */
  VG_TRAIN_WROTE_EPOCH,    /* the epoch callback has returned */
  VG_TRAIN_N_WRITES
} VgTrainWrite;

/* The report's values (see the field comments); no folders. */
void vg_train_options_init (VgTrainOptions *opts);
/* Free the strings. */
void vg_train_options_clear (VgTrainOptions *opts);
/* Deep copy (for a worker thread that must own its inputs). */
void vg_train_options_copy (VgTrainOptions *dst, const VgTrainOptions *src);

/* Check the options as vg_train_run does before it touches any file: FALSE with
 * VG_TRAIN_ERROR_INVALID and a message naming the wrong option. Folders are not looked at. */
gboolean vg_train_options_validate (const VgTrainOptions *opts, GError **error);

/* The range of a number option (a double of VgTrainOptions), each end included or not:
 * vg_train_options_validate checks them, and the Train dialog checks its fields against
 * the same table as they are typed (with reasons of its own, translated). */
typedef struct
{
  const char *key;   /* the option's name, as the CLI's flag (--key) */
  const char *what;  /* the option in the validation's (English) message */
  size_t offset;     /* of the double in VgTrainOptions */
  double lo, hi;
  gboolean lo_open;  /* lo itself is outside */
  gboolean hi_open;  /* hi itself is outside */
} VgTrainRange;

/* The table, *n entries. */
const VgTrainRange *vg_train_ranges (gsize *n);
/* The entry of key, NULL if there is none. */
const VgTrainRange *vg_train_range (const char *key);
/* Whether v lies in the range (never NaN). */
gboolean vg_train_range_holds (const VgTrainRange *range, double v);

/* The options of the run in out_dir, read from its last.safetensors, with resume set;
 * the caller may then change epochs, workers and threads (anything else that differs from
 * the run's options is refused by vg_train_run). */
gboolean vg_train_options_load (VgTrainOptions *opts, const char *out_dir, GError **error);
/* The log of the run in out_dir as log.csv holds it (a header line, then a row per
 * finished epoch), read from last.safetensors: the record a resume continues from, which
 * log.csv lags by a row when a run was killed between the two writes. */
char *vg_train_read_log (const char *out_dir, GError **error);

/* Names for the command line, recipes, checkpoints and the log: "weighted-ce", "ce",
 * "ce-dice", "weighted-ce-dice", "ce-dice-present", "weighted-ce-dice-present", "ce-lovasz",
 * "weighted-ce-lovasz";
 * "pipeline", "adam", "adamw", "sgd"; "loss", "miou". The _names () tables are the only
 * lists of them: indexed by kind, NULL-terminated (VG_N_..._KINDS names), read by the
 * CLI's help and the Train dialog's choices. */
const char *const *vg_loss_kind_names (void);
const char *const *vg_optimizer_kind_names (void);
const char *const *vg_select_kind_names (void);
const char *vg_loss_kind_name (VgLossKind kind);
gboolean vg_loss_kind_from_name (VgLossKind *kind, const char *name, GError **error);
const char *vg_optimizer_kind_name (VgOptimizerKind kind);
gboolean vg_optimizer_kind_from_name (VgOptimizerKind *kind, const char *name,
                                      GError **error);
const char *vg_select_kind_name (VgSelectKind kind);
gboolean vg_select_kind_from_name (VgSelectKind *kind, const char *name, GError **error);

/* ---- the schedule: a pure function of the validation results --------------------------- */

typedef struct {
  int epoch;                 /* epochs completed */
  int phase;                 /* 0: the first optimiser; k >= 1: the pipeline's k-th SGD rate */
  int phase_start;           /* epoch (completed count) at which the phase began */
  double phase_lr;           /* the phase's starting rate lr0 */
  VgOptimizerKind optimizer; /* running now: ADAM, ADAMW or SGD */
  int64_t steps;             /* optimiser steps since the phase began (Adam's t - 1) */
  int bad_epochs;            /* consecutive epochs without a lower validation loss */
  double best_loss;          /* lowest validation loss so far (INFINITY: none) */
  int best_loss_epoch;       /* its epoch (1-based; 0: none) */
  double best_miou;          /* highest validation mIoU so far (-1: none) */
  int best_miou_epoch;
  gboolean finished;         /* the pipeline (or early stopping) ended the run */
  /* A checkpoint taken mid-epoch: the next epoch (index `epoch`) already did this many
   * steps, whose losses sum to epoch_loss_sum; 0 and 0 at an epoch's end. The batches are a
   * pure function of (seed, epoch, step), so resuming there is exact. */
  int epoch_step;
  double epoch_loss_sum;
  /* CPU time, user and system, of the processes that trained this run up to this state
   * (the kernel's accounting, getrusage; all threads of the process, rank 0's in a
   * distributed run; 0 for checkpoints written before it was kept). */
  double cpu_seconds;
} VgTrainState;

typedef enum {
  VG_TRAIN_EVENT_BETTER_LOSS = 1 << 0, /* a new lowest validation loss */
  VG_TRAIN_EVENT_BETTER_MIOU = 1 << 1, /* a new highest validation mIoU */
  VG_TRAIN_EVENT_SAVE_BEST = 1 << 2,   /* the selected criterion improved */
  VG_TRAIN_EVENT_RELOAD_BEST = 1 << 3, /* load the lowest-loss weights, fresh optimiser */
  VG_TRAIN_EVENT_SWITCH_SGD = 1 << 4,  /* Adam -> SGD at sgd_lr */
  VG_TRAIN_EVENT_HALVE_LR = 1 << 5,    /* SGD rate halved */
  VG_TRAIN_EVENT_STOP = 1 << 6,        /* the run is over (rate below the minimum, or
                                          early stopping of a single optimiser) */
} VgTrainEvents;

void vg_train_state_init (VgTrainState *state, const VgTrainOptions *opts);
/* Cosine annealing from lr0 to lr_min over T epochs, then flat: e epochs since the start.
 * T <= 0: lr0. */
double vg_cosine_lr (double lr0, double lr_min, int e, int T);
/* The rate of the next epoch (epoch state->epoch + 1). */
double vg_train_state_lr (const VgTrainState *state, const VgTrainOptions *opts);
/* Account a finished epoch's validation results and move the schedule on. A NaN loss
 * never counts as better. Returns what the caller must do. */
VgTrainEvents vg_train_state_update (VgTrainState *state, const VgTrainOptions *opts,
                                     double val_loss, double val_miou);
/* The state of the run in out_dir (whose options vg_train_options_load gave), read from its
 * last.safetensors: the epochs done, the bests and their epochs, whether the schedule has
 * ended the run. */
gboolean vg_train_state_load (VgTrainState *state, const VgTrainOptions *opts,
                              const char *out_dir, GError **error);

/* ---- running ----------------------------------------------------------------------------- */

typedef struct {
  int epoch;             /* 1-based */
  int epochs;            /* the limit */
  int step;              /* steps done in this epoch */
  int steps;             /* steps per epoch */
  double loss;           /* mean training loss of the epoch so far */
  double images_per_s;   /* this epoch, pauses excluded */
  double loader_share;   /* fraction of the step time spent waiting for data */
  double lr;
  double elapsed_s;      /* of this epoch's training, pauses excluded */
} VgTrainStep;

typedef struct {
  int epoch;             /* 1-based */
  int epochs;            /* the limit */
  int phase;
  const char *optimizer; /* "adam", "adamw", "sgd" */
  double lr;
  double train_loss;
  double val_loss;
  double val_miou;       /* dataset-level mIoU over the 19 classes, 0..1 */
  double seconds;        /* training and validation */
  double images_per_s;   /* training images per second */
  double loader_share;
  double comm_share;     /* distributed: fraction of the training time spent in the ranks'
                          * sums (waiting for the slowest rank included); 0 alone */
  VgTrainEvents events;
  const VgTrainState *state; /* after the update */
} VgTrainEpoch;

typedef struct {
  /* a notice for the user (statistics computed, skipped files, resumed at epoch N ...) */
  void (*message) (const char *text, gpointer user_data);
  /* after every training step */
  void (*step) (const VgTrainStep *step, gpointer user_data);
  /* validation progress: images done of total */
  void (*validate) (int epoch, int done, int total, gpointer user_data);
  /* after an epoch's checkpoints are written */
  void (*epoch) (const VgTrainEpoch *epoch, gpointer user_data);
  /* about every 100 ms while the run is paused (VgTrainControl), for other work the
   * training thread can do meanwhile; the time it takes counts as paused */
  void (*paused) (gpointer user_data);
} VgTrainCallbacks;

/* Pausing from another thread: the run waits between steps while paused (a cancel still
 * stops it). */
typedef struct _VgTrainControl VgTrainControl;
VgTrainControl *vg_train_control_new (void);
void vg_train_control_free (VgTrainControl *control);
void vg_train_control_set_paused (VgTrainControl *control, gboolean paused);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgTrainControl, vg_train_control_free)

/* Train (or resume) as the options say, until the schedule ends or the epoch limit. On a
 * cancel returns FALSE with G_IO_ERROR_CANCELLED; `last` then holds the last checkpoint:
 * the state final_state receives (epoch_step > 0: a mid-epoch one). final_state (may be
 * NULL) receives the schedule state at the end. callbacks,
 * control and cancellable may be NULL. */
gboolean vg_train_run (const VgTrainOptions *opts, const VgTrainCallbacks *callbacks,
                       gpointer user_data, VgTrainControl *control,
                       GCancellable *cancellable, VgTrainState *final_state, GError **error);

#define VG_TRAIN_ERROR (vg_train_error_quark ())
GQuark vg_train_error_quark (void);

typedef enum {
  VG_TRAIN_ERROR_INVALID = 1, /* bad options */
  VG_TRAIN_ERROR_EXISTS,      /* out_dir already holds a run (and resume was not asked) */
  VG_TRAIN_ERROR_CHECKPOINT,  /* last.safetensors is missing, not a training checkpoint,
                                 or belongs to a run with other options */
  VG_TRAIN_ERROR_DIVERGED,    /* the training loss became NaN or infinite */
  VG_TRAIN_ERROR_INTERRUPTED, /* the write hook ended the run */
} VgTrainError;
