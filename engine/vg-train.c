/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The training loop of the report's method (see vg-train.h).
 *
 * Memory: the training model's plan (parameters, gradients, activations for one batch),
 * the optimiser moments m and v (n_params each) and the lowest-loss weights (n_state) are
 * allocated before the first step; a step allocates nothing. Validation runs on a second
 * model (inference activations only) that receives a copy of the weights, so the training
 * activations are planned once for the whole run.
 *
 * n_state counts the floats of the trainable parameters and the BatchNorm running
 * statistics, in state_dict order: what "the weights" means when the pipeline reloads the
 * best ones. */
#define G_LOG_DOMAIN "visage-train"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <glib/gstdio.h>
#include <omp.h>

#include "vg-atomic-file.h"
#include "vg-dist.h"
#include "vg-loader.h"
#include "vg-metrics.h"
#include "vg-model.h"
#include "vg-predict.h"
#include "vg-safetensors.h"
#include "vg-split.h"
#include "vg-stats.h"
#include "vg-known-models.h"
#include "vg-train.h"
#include "vg-train-private.h"

G_DEFINE_QUARK (vg-train-error-quark, vg_train_error)

/* Adam's constants (torch.optim.Adam defaults; the report does not change them). */
#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPS 1e-8f

/* ---- pausing ----------------------------------------------------------------------------- */

struct _VgTrainControl
{
  GMutex lock;
  GCond cond;
  gboolean paused;
};

VgTrainControl *
vg_train_control_new (void)
{
  VgTrainControl *c = g_new0 (VgTrainControl, 1);

  g_mutex_init (&c->lock);
  g_cond_init (&c->cond);
  return c;
}

void
vg_train_control_free (VgTrainControl *c)
{
  if (c == NULL)
    return;
  g_mutex_clear (&c->lock);
  g_cond_clear (&c->cond);
  g_free (c);
}

void
vg_train_control_set_paused (VgTrainControl *c, gboolean paused)
{
  g_mutex_lock (&c->lock);
  c->paused = paused;
  g_cond_broadcast (&c->cond);
  g_mutex_unlock (&c->lock);
}

/* Block while paused, calling cb->paused between waits; returns the seconds spent. A
 * cancel ends the wait (the caller then sees the cancellable). Polls every 100 ms because
 * GCancellable has no GCond to wait on. */
static double
control_wait (VgTrainControl *c, GCancellable *cancellable, const VgTrainCallbacks *cb,
              gpointer user_data)
{
  gint64 start;

  if (c == NULL)
    return 0.0;
  start = g_get_monotonic_time ();
  g_mutex_lock (&c->lock);
  while (c->paused && !g_cancellable_is_cancelled (cancellable))
    {
      g_cond_wait_until (&c->cond, &c->lock, g_get_monotonic_time () + G_TIME_SPAN_SECOND / 10);
      if (c->paused && cb != NULL && cb->paused != NULL)
        {
          g_mutex_unlock (&c->lock);
          cb->paused (user_data);
          g_mutex_lock (&c->lock);
        }
    }
  g_mutex_unlock (&c->lock);
  return (g_get_monotonic_time () - start) / 1e6;
}

/* ---- the loss ------------------------------------------------------------------------ */

/* The model's loss for a loss kind of the options (the class weights are set apart). */
static VgModelLoss
model_loss (VgLossKind kind)
{
  if (kind == VG_LOSS_CE_LOVASZ || kind == VG_LOSS_WEIGHTED_CE_LOVASZ)
    return VG_MODEL_LOSS_CROSS_ENTROPY_LOVASZ;
  if (vg_train_loss_dice_present (kind))
    return VG_MODEL_LOSS_CROSS_ENTROPY_DICE_PRESENT;
  if (vg_train_loss_has_dice (kind))
    return VG_MODEL_LOSS_CROSS_ENTROPY_DICE;
  return VG_MODEL_LOSS_CROSS_ENTROPY;
}

/* ---- the trainer ------------------------------------------------------------------------- */


static void
trainer_clear (Trainer *t)
{
  if (t->cancel_handler != 0)
    g_cancellable_disconnect (t->cancellable, t->cancel_handler);
  g_clear_pointer (&t->loader, vg_loader_free);
  g_clear_pointer (&t->predictor, vg_predictor_free);
  g_clear_pointer (&t->eval_model, vg_model_free);
  g_clear_pointer (&t->model, vg_model_free);
  if (t->be != NULL)
    {
      t->be->free (t->m);
      t->be->free (t->v);
      t->be->free (t->best);
      if (t->ema != NULL)
        t->be->free (t->ema);
      for (int k = 0; k < VG_UPLOAD_SLOTS; k++)
        {
          t->be->free (t->d_images[k]);
          t->be->free (t->d_masks[k]);
          if (t->be->host_free != NULL)
            {
              t->be->host_free (t->h_images[k]);
              t->be->host_free (t->h_masks[k]);
            }
        }
    }
  g_clear_pointer (&t->train, vg_split_free);
  g_clear_pointer (&t->val, vg_split_free);
  g_free (t->specs);
  if (t->log != NULL)
    g_string_free (t->log, TRUE);
  g_free (t->last_path);
  g_free (t->best_path);
  g_free (t->log_path);
  g_free (t->repeats);
  vg_train_options_clear (&t->o);
}

static void
notify (Trainer *t, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
notify (Trainer *t, const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  if (t->cb == NULL || t->cb->message == NULL)
    return;
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  t->cb->message (text, t->user_data);
}

static char *
absolute (const char *path)
{
  return path != NULL ? g_canonicalize_filename (path, NULL) : NULL;
}

/* Repeat-factor sampling (as LVIS): class c, in a fraction f_c of the training images, has
 * r_c = max (1, sqrt (t / f_c)); image i comes r_i = max of its classes' r_c times an
 * epoch: floor (r_i), and once more when a fixed draw for the image falls under what is
 * left, so that every epoch has the same length. Needs the samples' mask_classes. */
static void
compute_repeats (Trainer *t)
{
  const VgSplit *split = t->train;
  const int N = split->n_samples;
  int counts[VG_NUM_CLASSES] = { 0 }, total = 0;
  double rc[VG_NUM_CLASSES];
  g_autoptr (GString) boosted = g_string_new (NULL);

  for (int i = 0; i < N; i++)
    for (int c = 0; c < VG_NUM_CLASSES; c++)
      counts[c] += (split->samples[i].mask_classes >> c) & 1;
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      rc[c] = counts[c] > 0 ? MAX (1.0, sqrt (t->o.oversample * N / counts[c])) : 1.0;
      if (rc[c] > 1.0)
        g_string_append_printf (boosted, "%s%s x%.2f", boosted->len > 0 ? ", " : "",
                                vg_class_name (c), rc[c]);
    }
  t->repeats = g_new (int, N);
  for (int i = 0; i < N; i++)
    {
      double r = 1.0, u;

      for (int c = 0; c < VG_NUM_CLASSES; c++)
        if ((split->samples[i].mask_classes >> c) & 1)
          r = MAX (r, rc[c]);
      u = (double) (vg_sample_seed (t->o.seed, -1, i) >> 11) * 0x1.0p-53;
      t->repeats[i] = (int) floor (r) + (u < r - floor (r));
      total += t->repeats[i];
    }
  notify (t, "oversampling the images of rare classes (threshold %g): %d images give %d "
          "samples an epoch (%s)", t->o.oversample, N, total,
          boosted->len > 0 ? boosted->str : "no class is that rare");
}

static VgSplit *
open_split (Trainer *t, const char *what, const char *dir, const char *images,
            const char *masks, const char *annotations, GError **error)
{
  VgSplitFlags flags = VG_SPLIT_REQUIRE_MASKS | (t->o.skip_bad ? VG_SPLIT_SKIP_BAD : 0);
  int threads = MAX (t->o.workers, 1);
  VgSplit *split;

  if (dir != NULL)
    split = vg_split_open (dir, flags, threads, t->cancellable, error);
  else
    split = vg_split_open_dirs (images, masks, flags, threads, t->cancellable, error);
  if (split == NULL)
    {
      g_prefix_error (error, "%s split: ", what);
      return NULL;
    }
  if (annotations != NULL && !vg_split_use_annotations (split, annotations, error))
    {
      g_prefix_error (error, "%s split: ", what);
      vg_split_free (split);
      return NULL;
    }
  for (guint i = 0; split->skipped != NULL && i < split->skipped->len; i++)
    notify (t, "%s split: skipped %s", what, (const char *) split->skipped->pdata[i]);
  if (annotations != NULL)
    notify (t, "%s split: %d of %d masks from the annotations in %s", what,
            split->n_annotated, split->n_samples, split->annotations_dir);
  return split;
}

/* Copy the weights (parameters and running statistics) of src into dst, or into/out of a
 * flat (n_state) block when one model is NULL. */
static void
copy_weights (Trainer *t, VgModel *dst, VgModel *src, float *flat_dst, const float *flat_src)
{
  size_t offset = 0;

  for (int i = 0; i < t->n_specs; i++)
    {
      const VgParamSpec *s = &t->specs[i];
      float *to, *from;

      if (s->kind == VG_TENSOR_COUNTER)
        continue;
      to = dst != NULL ? vg_model_tensor (dst, s->name, FALSE, NULL) : flat_dst + offset;
      from = src != NULL ? vg_model_tensor (src, s->name, FALSE, NULL)
                         : (float *) flat_src + offset;
      t->be->copy (to, from, s->numel * sizeof (float));
      offset += s->numel;
    }
}

static void
reset_optimizer (Trainer *t)
{
  t->be->zero (t->m, t->n_params * sizeof (float));
  t->be->zero (t->v, t->n_params * sizeof (float));
}

static void
cancel_loader (GCancellable *cancellable, gpointer data)
{
  (void) cancellable;
  vg_loader_cancel (data);
}

typedef struct {
  Trainer *t;
  int epoch;
} ValidateProgress;

static void
validate_progress (int done, int total, gpointer data)
{
  ValidateProgress *p = data;

  if (p->t->cb != NULL && p->t->cb->validate != NULL)
    p->t->cb->validate (p->epoch, done, total, p->t->user_data);
}

/* *field = path made absolute (NULL stays NULL), replacing what it held. */
static void
set_absolute (char **field, const char *path)
{
  g_free (*field);
  *field = absolute (path);
}

/* The options with absolute folders, checked; the backends. */
static gboolean
setup_options (Trainer *t, const VgTrainOptions *opts, GError **error)
{
  gboolean train_split = opts->train_dir != NULL, val_split = opts->val_dir != NULL;

  vg_train_options_copy (&t->o, opts);
  /* a split folder stands for its images and masks folders, which are then dropped */
  set_absolute (&t->o.train_dir, opts->train_dir);
  set_absolute (&t->o.train_images, train_split ? NULL : opts->train_images);
  set_absolute (&t->o.train_masks, train_split ? NULL : opts->train_masks);
  set_absolute (&t->o.val_dir, opts->val_dir);
  set_absolute (&t->o.val_images, val_split ? NULL : opts->val_images);
  set_absolute (&t->o.val_masks, val_split ? NULL : opts->val_masks);
  set_absolute (&t->o.train_annotations, opts->train_annotations);
  set_absolute (&t->o.val_annotations, opts->val_annotations);
  if (!vg_train_options_validate (&t->o, error))
    return FALSE;

  t->be = opts->backend != NULL ? opts->backend : vg_backend_cpu ();
  t->host_memory = t->be->upload == vg_backend_cpu ()->upload;
  if (!vg_model_loss_supported (t->be, model_loss (t->o.loss)))
    {
      g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID,
                   "the Dice loss is implemented on the CPU backend only (backend %s)",
                   t->be->name);
      return FALSE;
    }
  t->log = g_string_new (NULL);
  return vg_train_dist_setup (t, error);
}

/* The output folder: a new run must not overwrite another one, a resumed one must exist,
 * and it must take files. */
static gboolean
setup_output (Trainer *t, GError **error)
{
  gboolean have_last;

  t->last_path = g_build_filename (t->o.out_dir, "last.safetensors", NULL);
  t->best_path = g_build_filename (t->o.out_dir, "best.safetensors", NULL);
  t->log_path = g_build_filename (t->o.out_dir, "log.csv", NULL);
  have_last = g_file_test (t->last_path, G_FILE_TEST_EXISTS);
  if (t->o.resume && !have_last)
    return vg_train_checkpoint_error (error, t->last_path, "there is no training run to "
                                      "resume in %s", t->o.out_dir);
  if (!t->o.resume && have_last)
    {
      g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_EXISTS,
                   "%s already holds a training run (last.safetensors): resume it, or "
                   "choose another output folder", t->o.out_dir);
      return FALSE;
    }
  if (t->rank > 0)
    return TRUE; /* rank 0 makes and checks the folder, and alone writes into it */
  if (g_mkdir_with_parents (t->o.out_dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create the output folder %s: %s", t->o.out_dir,
                   g_strerror (saved));
      return FALSE;
    }
  /* A read-only folder would otherwise show only at the first epoch's end. */
  return vg_check_output_dir (t->o.out_dir, error);
}

/* The two models, the optimiser's moments, the best weights and the moving average. */
static gboolean
setup_models (Trainer *t, GError **error)
{
  if ((t->model = vg_model_new (&t->o.config, t->be, error)) == NULL
      || !vg_model_set_loss (t->model, model_loss (t->o.loss), error)
      || !vg_train_dist_setup_model (t, error)
      || (t->eval_model = vg_model_new (&t->o.config, t->be, error)) == NULL)
    return FALSE;
  t->n_specs = vg_config_param_specs (&t->o.config, NULL, 0);
  t->specs = g_new0 (VgParamSpec, t->n_specs);
  vg_config_param_specs (&t->o.config, t->specs, t->n_specs);
  t->n_params = vg_model_num_params (t->model);
  for (int i = 0; i < t->n_specs; i++)
    if (t->specs[i].kind != VG_TENSOR_COUNTER)
      t->n_state += t->specs[i].numel;
  if ((t->m = t->be->alloc (t->n_params * sizeof (float), error)) == NULL
      || (t->v = t->be->alloc (t->n_params * sizeof (float), error)) == NULL
      || (t->best = t->be->alloc (t->n_state * sizeof (float), error)) == NULL
      || (t->o.ema > 0.0
          && (t->ema = t->be->alloc (t->n_params * sizeof (float), error)) == NULL))
    return FALSE;
  t->pre.resolution = t->o.resolution;
  return TRUE;
}

/* A resumed run: everything from its checkpoint, log.csv rewritten from it. */
static gboolean
setup_resumed (Trainer *t, GError **error)
{
  if (!vg_train_load_last (t, error))
    return FALSE;
  /* The checkpoint is the record: log.csv may lack the row of an epoch whose checkpoint
   * was written just before a kill. */
  if (t->rank == 0)
    vg_train_remove_stale_temporaries (t->o.out_dir);
  if (!vg_train_write_log (t, error))
    return FALSE;
  if (t->state.epoch_step > 0)
    notify (t, "resuming %s at step %d of epoch %d (%s, rate %.3g)", t->o.out_dir,
            t->state.epoch_step + 1, t->state.epoch + 1,
            vg_optimizer_kind_name (t->state.optimizer), vg_train_state_lr (&t->state, &t->o));
  else
    notify (t, "resuming %s after epoch %d (%s, rate %.3g)", t->o.out_dir, t->state.epoch,
            vg_optimizer_kind_name (t->state.optimizer), vg_train_state_lr (&t->state, &t->o));
  return TRUE;
}

/* A new run: the training split's statistics (whitening, class weights), the initial
 * weights (or --init's), a fresh optimiser and schedule. */
static gboolean
setup_new (Trainer *t, GError **error)
{
  VgSplitStats stats;
  gboolean from_cache = FALSE;

  notify (t, "statistics of the training split (%d images)...", t->train->n_samples);
  if (!vg_split_stats_get (&stats, t->train, MAX (t->o.workers, t->o.threads), &from_cache,
                           t->cancellable, error))
    return FALSE;
  notify (t, "statistics %s: mean %.4f %.4f %.4f, std %.4f %.4f %.4f",
          from_cache ? "from the cache" : "computed", stats.mean[0], stats.mean[1],
          stats.mean[2], stats.std[0], stats.std[1], stats.std[2]);
  for (int c = 0; c < 3; c++)
    {
      t->pre.mean[c] = stats.mean[c];
      t->pre.std[c] = stats.std[c];
    }
  vg_class_weights (t->class_weights, stats.class_pixels, VG_NUM_CLASSES);
  vg_model_init (t->model, t->o.seed);
  if (t->o.init_from != NULL)
    {
      if (!vg_model_load (t->model, t->o.init_from, error))
        {
          g_prefix_error (error, "cannot start from --init: ");
          return FALSE;
        }
      notify (t, "starting from the weights of %s", t->o.init_from);
    }
  reset_optimizer (t);
  t->be->zero (t->best, t->n_state * sizeof (float));
  if (t->ema != NULL)
    t->be->copy (t->ema, vg_model_params (t->model), t->n_params * sizeof (float));
  vg_train_state_init (&t->state, &t->o);
  return TRUE;
}

/* The loader of the training split (after its limit and repeats), the training model's
 * activations for a batch, the device's batch buffers, the validation predictor. */
static gboolean
setup_loader (Trainer *t, GError **error)
{
  VgLoaderParams lp;
  int H, W;

  vg_loader_params_init (&lp, TRUE);
  lp.batch_size = t->o.batch / t->n_ranks;
  lp.shard = t->rank;
  lp.n_shards = t->n_ranks;
  lp.n_workers = t->o.workers;
  lp.seed = t->o.seed;
  vg_augment_params_init (&lp.aug, t->o.augment);
  lp.aug.out_height = lp.aug.out_width = t->o.resolution;
  lp.aug.hflip = t->o.hflip;
  vg_augment_params_set_whitening (&lp.aug, t->pre.mean, t->pre.std);
  lp.repeats = t->repeats;
  if ((t->loader = vg_loader_new (t->train, &lp, error)) == NULL)
    {
      g_prefix_error (error, "training split: ");
      return FALSE;
    }
  vg_loader_batch_shape (t->loader, &H, &W);
  t->image_pixels = (size_t) H * W;
  if (!vg_model_reserve (t->model, lp.batch_size, H, W, TRUE, error))
    return FALSE;
  if (!t->host_memory)
    {
      size_t pixels = (size_t) t->o.batch * H * W;
      gboolean overlap = t->be->host_alloc != NULL && t->be->upload_async != NULL;

      for (int k = 0; k < (overlap ? VG_UPLOAD_SLOTS : 1); k++)
        if ((t->d_images[k] = t->be->alloc (pixels * 3 * sizeof (float), error)) == NULL
            || (t->d_masks[k] = t->be->alloc (pixels, error)) == NULL
            || (overlap
                && ((t->h_images[k] = t->be->host_alloc (pixels * 3 * sizeof (float), error))
                      == NULL
                    || (t->h_masks[k] = t->be->host_alloc (pixels, error)) == NULL)))
          return FALSE;
    }
  if ((t->predictor = vg_predictor_new (t->eval_model, &t->pre, t->o.batch, error)) == NULL)
    return FALSE;
  if (t->cancellable != NULL)
    t->cancel_handler = g_cancellable_connect (t->cancellable, G_CALLBACK (cancel_loader),
                                               t->loader, NULL);
  return TRUE;
}

static gboolean
trainer_setup (Trainer *t, const VgTrainOptions *opts, GError **error)
{
  if (!setup_options (t, opts, error) || !setup_output (t, error))
    return FALSE;
  if ((t->train = open_split (t, "training", t->o.train_dir, t->o.train_images,
                              t->o.train_masks, t->o.train_annotations, error)) == NULL
      || (t->val = open_split (t, "validation", t->o.val_dir, t->o.val_images, t->o.val_masks,
                               t->o.val_annotations, error)) == NULL)
    return FALSE;
  if (!setup_models (t, error)
      || !(t->o.resume ? setup_resumed (t, error) : setup_new (t, error)))
    return FALSE;
  vg_model_set_class_weights (t->model, vg_train_loss_is_weighted (t->o.loss)
                                          ? t->class_weights : NULL);

  /* The limits apply after the statistics: whitening and weights describe the split. */
  if (t->o.oversample > 0.0)
    {
      gboolean from_cache;

      if (!vg_split_classes_get (t->train, MAX (t->o.workers, t->o.threads), &from_cache,
                                 t->cancellable, error))
        return FALSE;
    }
  if (t->o.max_train > 0)
    vg_split_keep (t->train, 0, t->o.max_train);
  if (t->o.max_val > 0)
    vg_split_keep (t->val, 0, t->o.max_val);
  if (t->n_ranks > 1)
    vg_split_shard (t->val, t->rank, t->n_ranks);
  if (t->o.oversample > 0.0)
    compute_repeats (t);
  return setup_loader (t, error);
}

static void
optimizer_step (Trainer *t, float lr)
{
  VgTrainState *s = &t->state;
  float *params = vg_model_params (t->model);
  const float *grads = vg_model_grads (t->model);
  const float wd = (float) t->o.weight_decay;

  switch (s->optimizer)
    {
    case VG_OPTIMIZER_SGD:
      t->be->sgd_step (params, grads, t->m, t->n_params, lr, (float) t->o.sgd_momentum, wd,
                       s->steps == 0);
      break;
    case VG_OPTIMIZER_ADAMW:
      t->be->adam_step (params, grads, t->m, t->v, t->n_params, lr, ADAM_BETA1, ADAM_BETA2,
                        ADAM_EPS, wd, (int) (s->steps + 1), 1);
      break;
    case VG_OPTIMIZER_ADAM:
    case VG_OPTIMIZER_PIPELINE:
    default:
      t->be->adam_step (params, grads, t->m, t->v, t->n_params, lr, ADAM_BETA1, ADAM_BETA2,
                        ADAM_EPS, wd, (int) (s->steps + 1), 0);
      break;
    }
  s->steps++;
}

/* What one training step computes on: device (or host) pointers to a batch. */
typedef struct {
  const float *images;
  const uint8_t *masks;
  int n;             /* rows; 0: none */
  int slot;          /* upload slot */
  double weight;     /* distributed: the loss's weight total of these rows */
} StepInput;

static void
release_batch (Trainer *t, const VgBatch **batch)
{
  if (*batch != NULL)
    vg_loader_release (t->loader, *batch);
  *batch = NULL;
}

/* Make *batch available to the compute as *in. On the CPU the batch itself is used (and
 * kept until the step is done); on a device it is uploaded into slot (asynchronously from
 * a staging area when the backend can) and given back to the loader at once. */
static void
stage_batch (Trainer *t, const VgBatch **batch, int slot, StepInput *in)
{
  const VgBatch *b = *batch;
  size_t pixels = (size_t) b->n * b->height * b->width;

  in->n = b->n;
  in->slot = slot;
  if (t->n_ranks > 1)
    in->weight = vg_train_dist_weight (t, b->masks, b->n); /* from the host copy */
  if (t->host_memory)
    {
      in->images = b->images;
      in->masks = b->masks;
      return;
    }
  if (t->h_images[slot] == NULL)
    {
      /* no staging areas: one device buffer, synchronous copies */
      t->be->upload (t->d_images[0], b->images, pixels * 3 * sizeof (float));
      t->be->upload (t->d_masks[0], b->masks, pixels);
      in->images = t->d_images[0];
      in->masks = t->d_masks[0];
      in->slot = 0;
    }
  else
    {
      /* The slot's previous copy (two steps ago) must be done before its staging area is
       * written; its device buffer was last read by the step before the one just queued,
       * which the forward pass's loss readback has already waited for. */
      t->be->upload_host_wait (slot);
      memcpy (t->h_images[slot], b->images, pixels * 3 * sizeof (float));
      memcpy (t->h_masks[slot], b->masks, pixels);
      t->be->upload_async (t->d_images[slot], t->h_images[slot], pixels * 3 * sizeof (float),
                           slot);
      t->be->upload_async (t->d_masks[slot], t->h_masks[slot], pixels, slot);
      in->images = t->d_images[slot];
      in->masks = t->d_masks[slot];
    }
  release_batch (t, batch);
}

/* One step's forward and backward on batch in: returns the loss of the batch (the global
 * one: every rank's shard) and leaves its gradients in the model (summed over the ranks).
 * A NaN or infinite loss returns before the backward. */
static float
forward_backward (Trainer *t, const StepInput *in)
{
  float loss, dloss = 1.0f;

  vg_model_zero_grad (t->model);
  if (t->n_ranks == 1) /* the loss's forward and backward in one pass where they can be */
    return vg_model_forward_backward (t->model, in->images, in->masks, in->n);
  loss = vg_model_forward (t->model, in->images, in->masks, in->n, TRUE);
  if (!vg_model_loss_global (t->model))
    loss = vg_train_dist_loss (t, loss, in->weight, &dloss);
  if (!isfinite (loss))
    return loss;
  vg_model_backward_scaled (t->model, dloss);
  vg_train_dist_sum_grads (t);
  return loss;
}

double
vg_train_process_cpu_seconds (void)
{
  struct rusage ru;

  if (getrusage (RUSAGE_SELF, &ru) != 0)
    return 0.0;
  return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec
         + ru.ru_stime.tv_usec / 1e6;
}

/* state.cpu_seconds += the process's CPU time since the last call (or the run's start):
 * called before each write of last.safetensors. */
static void
account_cpu (Trainer *t)
{
  double now = vg_train_process_cpu_seconds ();

  t->state.cpu_seconds += MAX (0.0, now - t->cpu_mark);
  t->cpu_mark = now;
}

/* One epoch of training; *train_loss, *images_per_s and *loader_share describe it. */
static gboolean
train_epoch (Trainer *t, double lr, double *train_loss, double *images_per_s,
             double *loader_share, GError **error)
{
  const int epoch = t->state.epoch; /* 0-based index of this epoch */
  const int steps = vg_loader_n_batches (t->loader);
  const int first = t->state.epoch_step; /* > 0: resumed from a mid-epoch checkpoint */
  const double wait0 = vg_loader_wait_seconds (t->loader), comm0 = vg_dist_seconds ();
  const gint64 start = g_get_monotonic_time ();
  const gint64 interval = t->o.checkpoint_minutes > 0.0
                            ? MAX ((gint64) (t->o.checkpoint_minutes * 60.0 * G_USEC_PER_SEC), 1)
                            : 0;
  gint64 last_checkpoint = start;
  double loss_sum = t->state.epoch_loss_sum, paused = 0.0, elapsed = 0.0;
  int images = 0;
  VgTrainStep info = { 0 };
  const VgBatch *batch = NULL;
  StepInput in = { 0 };
  GError *local = NULL;

  if (first < 0 || first >= steps)
    {
      g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_CHECKPOINT,
                   "%s: the checkpoint is at step %d of epoch %d, which has %d steps",
                   t->last_path, first, epoch + 1, steps);
      return FALSE;
    }
  vg_loader_start_epoch_at (t->loader, epoch, first);
  /* Step k computes on batch k while batch k + 1 is fetched and, on a device, uploaded. */
  batch = vg_loader_next (t->loader, &local);
  if (batch != NULL)
    stage_batch (t, &batch, first % VG_UPLOAD_SLOTS, &in);
  for (int step = first; batch != NULL || in.n > 0; step++)
    {
      float loss;
      StepInput next = { 0 };

      paused += control_wait (t->control, t->cancellable, t->cb, t->user_data);
      if (g_cancellable_set_error_if_cancelled (t->cancellable, error))
        {
          release_batch (t, &batch);
          return FALSE;
        }
      if (!t->host_memory && t->be->upload_wait != NULL)
        t->be->upload_wait (in.slot);
      loss = forward_backward (t, &in);
      if (!isfinite (loss))
        {
          vg_dist_all (FALSE); /* the global batch's loss: every rank is here too */
          release_batch (t, &batch);
          g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_DIVERGED,
                       "the training loss became %f at epoch %d, step %d (rate %g): lower "
                       "the learning rate; %s still holds the previous epoch", loss,
                       epoch + 1, step + 1, lr, t->last_path);
          return FALSE;
        }
      optimizer_step (t, (float) lr);
      if (t->ema != NULL)
        t->be->ema_update (t->ema, vg_model_params (t->model), t->n_params, (float) t->o.ema);
      images += in.n * t->n_ranks; /* the ranks' shards are equal */
      loss_sum += loss;

      /* The next batch: on a device its upload overlaps the backward pass just queued. */
      release_batch (t, &batch);
      batch = vg_loader_next (t->loader, &local);
      if (batch != NULL)
        stage_batch (t, &batch, (step + 1) % VG_UPLOAD_SLOTS, &next);
      in = next;

      /* A mid-epoch checkpoint (never after the last step: the epoch's end writes one). */
      if (interval > 0 && step + 1 < steps
          && g_get_monotonic_time () - last_checkpoint >= interval)
        {
          t->state.epoch_step = step + 1;
          t->state.epoch_loss_sum = loss_sum;
          account_cpu (t);
          if (!vg_train_save_last (t, error))
            return FALSE;
          t->checkpointed = t->state;
          last_checkpoint = g_get_monotonic_time ();
        }

      elapsed = (g_get_monotonic_time () - start) / 1e6 - paused;
      if (t->cb != NULL && t->cb->step != NULL)
        {
          info.epoch = epoch + 1;
          info.epochs = t->o.epochs;
          info.step = step + 1;
          info.steps = steps;
          info.loss = loss_sum / (step + 1);
          info.images_per_s = elapsed > 0 ? images / elapsed : 0.0;
          info.loader_share = elapsed > 0
                                ? (vg_loader_wait_seconds (t->loader) - wait0) / elapsed : 0.0;
          info.lr = lr;
          info.elapsed_s = elapsed;
          t->cb->step (&info, t->user_data);
        }
    }
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  elapsed = (g_get_monotonic_time () - start) / 1e6 - paused;
  t->state.epoch_step = 0;
  t->state.epoch_loss_sum = 0.0;
  *train_loss = steps > 0 ? loss_sum / steps : NAN;
  *images_per_s = elapsed > 0 ? images / elapsed : 0.0;
  *loader_share = elapsed > 0 ? (vg_loader_wait_seconds (t->loader) - wait0) / elapsed : 0.0;
  t->comm_share = elapsed > 0 ? (vg_dist_seconds () - comm0) / elapsed : 0.0;
  return TRUE;
}

static gboolean
validate (Trainer *t, double *val_loss, double *val_miou, GError **error)
{
  VgEvalResult result = { 0 };
  ValidateProgress progress = { t, t->state.epoch + 1 };
  gboolean weighted = vg_train_loss_is_weighted (t->o.loss);

  copy_weights (t, t->eval_model, t->model, NULL, NULL);
  if (t->ema != NULL)
    t->be->copy (vg_model_params (t->eval_model), t->ema, t->n_params * sizeof (float));
  /* a rank's shard of the validation split is empty when there are more ranks than images */
  if (t->val->n_samples > 0
      && !vg_evaluate (t->predictor, t->val, weighted ? t->class_weights : NULL, t->o.workers,
                       &result, validate_progress, &progress, t->cancellable, error))
    {
      vg_eval_result_clear (&result);
      return FALSE;
    }
  vg_train_dist_merge_eval (t, &result);
  *val_loss = result.loss;
  *val_miou = vg_confusion_miou (&result.confusion);
  vg_eval_result_clear (&result);
  return TRUE;
}

static gboolean
run_epoch (Trainer *t, GError **error)
{
  VgTrainState before = t->state;
  double lr = vg_train_state_lr (&t->state, &t->o);
  double train_loss = 0, images_per_s = 0, loader_share = 0;
  double val_loss = 0, val_miou = 0;
  gint64 start = g_get_monotonic_time ();
  VgTrainEvents ev;
  VgTrainEpoch info = { 0 };
  char buf[7][G_ASCII_DTOSTR_BUF_SIZE];
  double seconds;

  t->checkpointed = t->state;
  if (!train_epoch (t, lr, &train_loss, &images_per_s, &loader_share, error)
      || !validate (t, &val_loss, &val_miou, error))
    {
      /* the epoch did not happen: back to the state `last` holds (the epoch's start, or
       * its latest mid-epoch checkpoint) */
      t->state = t->checkpointed;
      return FALSE;
    }

  ev = vg_train_state_update (&t->state, &t->o, val_loss, val_miou);
  if (ev & VG_TRAIN_EVENT_BETTER_LOSS)
    copy_weights (t, NULL, t->eval_model, t->best, NULL);  /* the weights validated */
  if ((ev & VG_TRAIN_EVENT_SAVE_BEST)
      && (!vg_train_save_best (t, val_loss, val_miou, error)
          || !vg_train_wrote (t, VG_TRAIN_WROTE_BEST, error)))
    return FALSE;
  if (ev & VG_TRAIN_EVENT_RELOAD_BEST)
    {
      /* the patience event: back to the lowest-loss weights with a fresh optimiser */
      if (t->state.best_loss_epoch > 0)
        copy_weights (t, t->model, NULL, NULL, t->best);
      reset_optimizer (t);
      if (t->ema != NULL)
        t->be->copy (t->ema, vg_model_params (t->model), t->n_params * sizeof (float));
    }

  seconds = (g_get_monotonic_time () - start) / 1e6;
  account_cpu (t);
  g_string_append_printf (t->log, "%d,%d,%s,%s,%s,%s,%s,%s,%s,%s\n", before.epoch + 1,
                          before.phase, vg_optimizer_kind_name (before.optimizer),
                          g_ascii_formatd (buf[0], sizeof buf[0], "%.6g", lr),
                          g_ascii_formatd (buf[1], sizeof buf[1], "%.6f", train_loss),
                          g_ascii_formatd (buf[2], sizeof buf[2], "%.6f", val_loss),
                          g_ascii_formatd (buf[3], sizeof buf[3], "%.6f", val_miou),
                          g_ascii_formatd (buf[4], sizeof buf[4], "%.1f", seconds),
                          g_ascii_formatd (buf[5], sizeof buf[5], "%.2f", images_per_s),
                          g_ascii_formatd (buf[6], sizeof buf[6], "%.1f",
                                           t->state.cpu_seconds));
  /* last.safetensors first: it holds the log too, and a resume rewrites log.csv from it,
   * so a kill between the two writes loses no row. */
  if (!vg_train_save_last (t, error) || !vg_train_wrote (t, VG_TRAIN_WROTE_LAST, error)
      || !vg_train_write_log (t, error) || !vg_train_wrote (t, VG_TRAIN_WROTE_LOG, error))
    return FALSE;

  vg_train_dist_share (t); /* the ranks cannot drift apart */
  if (t->cb != NULL && t->cb->epoch != NULL)
    {
      info.epoch = t->state.epoch;
      info.epochs = t->o.epochs;
      info.phase = before.phase;
      info.optimizer = vg_optimizer_kind_name (before.optimizer);
      info.lr = lr;
      info.train_loss = train_loss;
      info.val_loss = val_loss;
      info.val_miou = val_miou;
      info.seconds = seconds;
      info.images_per_s = images_per_s;
      info.loader_share = loader_share;
      info.comm_share = t->comm_share;
      info.events = ev;
      info.state = &t->state;
      t->cb->epoch (&info, t->user_data);
    }
  return vg_train_wrote (t, VG_TRAIN_WROTE_EPOCH, error);
}

gboolean
vg_train_run (const VgTrainOptions *opts, const VgTrainCallbacks *callbacks,
              gpointer user_data, VgTrainControl *control, GCancellable *cancellable,
              VgTrainState *final_state, GError **error)
{
  Trainer t = { 0 };
  int saved_threads = omp_get_max_threads ();
  gboolean ok = FALSE;

  t.cpu_mark = vg_train_process_cpu_seconds ();
  t.cb = callbacks;
  t.user_data = user_data;
  t.control = control;
  t.cancellable = cancellable;
  /* omp_set_num_threads sets the calling thread's default only: the workbench's worker
   * thread can train with n threads without touching the rest of the program. */
  if (opts->threads > 0)
    omp_set_num_threads (opts->threads);

  if (!vg_train_dist_start (&t, opts, trainer_setup (&t, opts, error), error))
    goto out;
  if (t.state.finished)
    notify (&t, "the run in %s finished at epoch %d (the pipeline's last rate was reached)",
            t.o.out_dir, t.state.epoch);
  else if (t.state.epoch >= t.o.epochs)
    notify (&t, "the run in %s has done %d epochs, the limit: raise the epoch limit to go on",
            t.o.out_dir, t.state.epoch);
  while (!t.state.finished && t.state.epoch < t.o.epochs)
    if (!run_epoch (&t, error))
      goto out;
  ok = TRUE;
  if (t.rank == 0)
    vg_train_remove_stale_temporaries (t.o.out_dir);

out:
  if (final_state != NULL)
    *final_state = t.state;
  trainer_clear (&t);
  omp_set_num_threads (saved_threads);
  return ok;
}
