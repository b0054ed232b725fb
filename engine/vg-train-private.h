/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the trainer's files share; nothing outside engine/vg-train*.c includes this.
 *
 *   vg-train.c             the run: set-up, steps, epochs, validation, pausing
 *   vg-train-options.c     options, their names and checks, and their metadata pairs
 *   vg-train-schedule.c    the schedule (Adam then SGD, cosine annealing) and its state
 *   vg-train-checkpoint.c  last.safetensors, best.safetensors, log.csv and resuming
 *   vg-train-dist.c        data-parallel training: what the ranks sum and share
 */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "vg-error.h"
#include "vg-loader.h"
#include "vg-model.h"
#include "vg-predict.h"
#include "vg-safetensors.h"
#include "vg-split.h"
#include "vg-train.h"

#define META_PREFIX "visage.train."
#define LOG_HEADER \
  "epoch,phase,optimizer,lr,train_loss,val_loss,val_miou,seconds,images_per_s,cpu_seconds\n"

typedef struct {
  VgTrainOptions o;                 /* working copy with absolute folders */
  const VgTrainCallbacks *cb;
  gpointer user_data;
  VgTrainControl *control;
  GCancellable *cancellable;

  const VgBackend *be;              /* the models', the data's and the optimiser's backend */
  gboolean host_memory;             /* be uses host memory: batches need no upload */
  int rank;                         /* data-parallel: this process (0 writes the files) ... */
  int n_ranks;                      /* ... of this many; 0 of 1 alone */
  size_t image_pixels;              /* H * W of a training batch's images */
  double comm_share;                /* of the last epoch's training time, in the ranks' sums */

  VgSplit *train;
  VgSplit *val;
  VgPreprocess pre;                 /* whitening and resolution, saved in every checkpoint */
  float class_weights[VG_NUM_CLASSES];

  VgModel *model;                   /* training */
  VgModel *eval_model;              /* validation: inference activations only */
  VgPredictor *predictor;
  VgLoader *loader;
  gulong cancel_handler;

  int n_specs;
  VgParamSpec *specs;               /* (n_specs) state_dict order */
  size_t n_params;                  /* trainable floats */
  size_t n_state;                   /* trainable + running statistics floats */
  float *m;                         /* (n_params) Adam's first moment / SGD momentum */
  float *v;                         /* (n_params) Adam's second moment */
  float *best;                      /* (n_state) the lowest-validation-loss weights */
  float *ema;                       /* (n_params) the parameters' moving average, or NULL */
  int *repeats;                     /* (training samples) copies per epoch, or NULL */
  /* A device backend: batch k is uploaded into slot k % VG_UPLOAD_SLOTS while step k - 1
   * computes (from page-locked staging areas when the backend has them). */
  float *d_images[VG_UPLOAD_SLOTS]; /* (B, H, W, 3) device copies of a batch, or NULL */
  uint8_t *d_masks[VG_UPLOAD_SLOTS]; /* (B, H, W) */
  float *h_images[VG_UPLOAD_SLOTS]; /* staging areas, or NULL: synchronous uploads */
  uint8_t *h_masks[VG_UPLOAD_SLOTS];

  VgTrainState state;
  VgTrainState checkpointed;        /* the state last.safetensors holds */
  double cpu_mark;                  /* the process's CPU seconds when state.cpu_seconds was
                                     * last brought up to date (vg_train_account_cpu) */
  GString *log;                     /* CSV rows of the completed epochs, no header */
  char *last_path;
  char *best_path;
  char *log_path;
} Trainer;

/* ---- vg-train-options.c ------------------------------------------------------------------ */

gboolean vg_train_loss_is_weighted (VgLossKind kind);
gboolean vg_train_loss_dice_present (VgLossKind kind);
gboolean vg_train_loss_has_dice (VgLossKind kind);
/* %.17g in ASCII: round-trips every double. */
char *vg_train_format_double (double v);
/* The options that define a run (must match to resume), and those a resume may change,
 * as metadata pairs (key, value, ...) appended to pairs. */
void vg_train_options_to_pairs (const VgTrainOptions *o, GPtrArray *pairs);
void vg_train_options_to_pairs_mutable (const VgTrainOptions *o, GPtrArray *pairs);
/* FALSE with an error naming the first option of the run in st that differs from o's. */
gboolean vg_train_options_check_same (const VgTrainOptions *o, const VgSafetensors *st,
                                      const char *path, GError **error);
/* FALSE with VG_TRAIN_ERROR_CHECKPOINT: "path: message". */
#define vg_train_checkpoint_error(error, path, format, ...) \
  vg_fail (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_CHECKPOINT, "%s: " format, path, \
           ##__VA_ARGS__)
/* A metadata value of a checkpoint; NULL (and an error) when absent or malformed. */
const char *vg_train_meta_get (const VgSafetensors *st, const char *path, const char *key,
                               GError **error);
gboolean vg_train_meta_int (const VgSafetensors *st, const char *path, const char *key,
                            int64_t *out, GError **error);
gboolean vg_train_meta_double (const VgSafetensors *st, const char *path, const char *key,
                               double *out, GError **error);
/* A value that its own parser refused: prefixes the error with the file and key; FALSE. */
gboolean vg_train_meta_refused (GError **error, const char *path, const char *key);
/* A comma-separated list of exactly n numbers. */
gboolean vg_train_meta_doubles (const VgSafetensors *st, const char *path, const char *key,
                                double *out, int n, GError **error);

/* ---- vg-train-schedule.c ----------------------------------------------------------------- */

void vg_train_state_to_pairs (const VgTrainState *s, GPtrArray *pairs);
/* The state of a checkpoint of the run with options o, every field checked. */
gboolean vg_train_state_from_metadata (VgTrainState *s, const VgTrainOptions *o,
                                       const VgSafetensors *st, const char *path,
                                       GError **error);

/* ---- vg-train-checkpoint.c --------------------------------------------------------------- */

gboolean vg_train_save_best (Trainer *t, double val_loss, double val_miou, GError **error);
gboolean vg_train_save_last (Trainer *t, GError **error);
/* The process's CPU time so far, user and system, all threads (getrusage). */
double vg_train_process_cpu_seconds (void);
gboolean vg_train_write_log (Trainer *t, GError **error);
/* The write hook of the options (fault tests): FALSE ends the run as a kill would. */
gboolean vg_train_wrote (Trainer *t, VgTrainWrite what, GError **error);
void vg_train_remove_stale_temporaries (const char *out_dir);
/* Restore the run from last.safetensors (already checked to exist). */
gboolean vg_train_load_last (Trainer *t, GError **error);

/* ---- vg-train-dist.c --------------------------------------------------------------------- */

/* rank and n_ranks, and the checks of a distributed run (after the backend is known). */
gboolean vg_train_dist_setup (Trainer *t, GError **error);
/* Synchronised BatchNorm for the training model of a distributed run. */
gboolean vg_train_dist_setup_model (Trainer *t, GError **error);
/* After the set-up (ok: this rank's went well): FALSE unless every rank's did (an error
 * saying so where this one did), then vg_train_dist_share. Returns ok alone. */
gboolean vg_train_dist_start (Trainer *t, const VgTrainOptions *opts, gboolean ok,
                              GError **error);
/* Rank 0's weights, optimiser state, best weights, moving average and schedule state to
 * every rank. */
void vg_train_dist_share (Trainer *t);
/* The loss's weight total W_r of a batch of n images (masks in host memory). */
double vg_train_dist_weight (Trainer *t, const uint8_t *masks, int n);
/* The global batch's loss from this rank's and its weight total w; *dloss: the scale of
 * this rank's backward, W_r / W. */
float vg_train_dist_loss (Trainer *t, float loss, double w, float *dloss);
/* The parameter gradients summed over the ranks. */
void vg_train_dist_sum_grads (Trainer *t);
/* The validation shards' results summed: confusion matrix and loss. */
void vg_train_dist_merge_eval (Trainer *t, VgEvalResult *result);
