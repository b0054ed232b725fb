/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Training runs (engine/vg-train.h; the schedule and the losses alone:
 * test-train-schedule-loss.c):
 *
 * - the model's loss of each kind;
 * - whole runs on 8 real training images (symlinks into ../shared, 64x64, a small model):
 *   2 epochs in one run give bit-identical weights, optimiser moments and schedule to
 *   1 epoch + a cancelled attempt + resume + 1 epoch; pausing holds the steps; best is a
 *   model file vg_model_open reads with its preprocessing; a truncated last checkpoint,
 *   an existing run and changed options are clear errors. */
#include "config.h"

#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "vg-dice.h"
#include "vg-lovasz.h"
#include "vg-model.h"
#include "vg-nn.h"
#include "vg-predict.h"
#include "vg-safetensors.h"
#include "vg-known-models.h"
#include "vg-train.h"
#include "test-common.h"
#include "test-safetensors-util.h"
#include "engine-test-util.h"
#include "test-register.h"

/* A small model so that the runs take seconds on 2 threads. */
#define SMALL_SPEC "widths=8,16,32,32 depths=1,1,1,1 heads=1,1,1,1 ratios=8,4,2,1 mlp=2 dim=32"

/* ---- whole runs -------------------------------------------------------------------------- */

typedef struct {
  char *root;
  char *train;
  char *val;
} Splits;

/* 8 training and 4 validation samples as symlinks; FALSE (skipped) without ../shared. */
static gboolean
splits_make (Splits *s)
{
  g_autofree char *probe = vg_test_shared_path ("celebamask/train");
  GError *error = NULL;

  if (probe == NULL)
    return FALSE;
  s->root = g_dir_make_tmp ("visage-train-XXXXXX", &error);
  g_assert_no_error (error);
  s->train = g_build_filename (s->root, "train", NULL);
  s->val = g_build_filename (s->root, "val", NULL);
  g_assert_true (vg_test_link_split (s->train, "train", 0, 8));
  g_assert_true (vg_test_link_split (s->val, "val", 0, 4));
  return TRUE;
}

static void
splits_free (Splits *s)
{
  if (s->root != NULL)
    vg_test_rm_rf (s->root);
  g_free (s->root);
  g_free (s->train);
  g_free (s->val);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Splits, splits_free)

static void
small_options (VgTrainOptions *o, const Splits *s, const char *out_name)
{
  GError *error = NULL;

  vg_train_options_init (o);
  g_assert_true (vg_config_parse (&o->config, SMALL_SPEC, &error));
  g_assert_no_error (error);
  o->train_dir = g_strdup (s->train);
  o->val_dir = g_strdup (s->val);
  o->out_dir = g_build_filename (s->root, out_name, NULL);
  o->batch = 4;        /* 2 steps per epoch */
  o->resolution = 64;
  o->threads = 2;      /* the same reduction order in every run */
  o->workers = 2;
  o->epochs = 2;
  o->patience = 1;     /* so that epoch 2 may switch to SGD: the state must carry over */
}

/* One model of config (spec on top, NULL for none) with weights from seed 7 on backend be,
 * reserved for training on B pictures of S x S, with loss. */
static VgModel *
fb_model (const char *config, const char *spec, const VgBackend *be, VgModelLoss loss, int B,
          int S)
{
  g_autoptr (GError) error = NULL;
  VgConfig cfg;
  VgModel *model;

  g_assert_true (vg_config_from_name (&cfg, config, &error));
  if (spec != NULL)
    g_assert_true (vg_config_parse (&cfg, spec, &error));
  model = vg_model_new (&cfg, be, &error);
  g_assert_no_error (error);
  vg_model_init (model, 7);
  g_assert_true (vg_model_reserve (model, B, S, S, TRUE, &error));
  g_assert_true (vg_model_set_loss (model, loss, &error));
  g_assert_no_error (error);
  return model;
}

/* vg_model_forward_backward against vg_model_forward then vg_model_backward on a twin (the
 * same weights and dropout draws): the same loss and gradients to the bit, two steps each,
 * for a SegFormer (its loss gradient overwrites the logits) and Fast-SCNN (a graph, with
 * dropout), with the fused cross-entropy, with a Dice term, and on a backend without the
 * fused one. */
VG_TEST ("/model/forward-backward", test_model_forward_backward)
{
  const int B = 2, S = 64, n = B * S * S;
  g_autofree float *images = g_new (float, (size_t) n * 3);
  g_autofree uint8_t *targets = g_new (uint8_t, n);
  VgBackend unfused = *vg_backend_cpu ();
  const struct { const char *config, *spec; } nets[] = { { "seed", SMALL_SPEC },
                                                          { "fastscnn", NULL } };
  const VgModelLoss losses[] = { VG_MODEL_LOSS_CROSS_ENTROPY,
                                 VG_MODEL_LOSS_CROSS_ENTROPY_DICE };

  unfused.cross_entropy_forward_backward = NULL;
  for (int i = 0; i < n * 3; i++)
    images[i] = (float) (2 * rnd () - 1);
  for (int i = 0; i < n; i++)
    targets[i] = i % 97 == 0 ? VG_IGNORE_INDEX : (uint8_t) ((i / S + i / 4) % 7);
  for (gsize k = 0; k < G_N_ELEMENTS (nets); k++)
    for (gsize l = 0; l < G_N_ELEMENTS (losses); l++)
      for (int u = 0; u < 2; u++)
        {
          const VgBackend *be = u == 0 ? vg_backend_cpu () : &unfused;
          g_autoptr (VgModel) a = fb_model (nets[k].config, nets[k].spec, be, losses[l], B, S);
          g_autoptr (VgModel) b = fb_model (nets[k].config, nets[k].spec, be, losses[l], B, S);
          size_t np = vg_model_num_params (a);

          for (int step = 0; step < 2; step++)
            {
              float la, lb;

              vg_model_zero_grad (a);
              la = vg_model_forward (a, images, targets, B, TRUE);
              vg_model_backward (a);
              vg_model_zero_grad (b);
              lb = vg_model_forward_backward (b, images, targets, B);
              g_assert_true (isfinite (la));
              g_assert_cmpfloat (la, ==, lb);
              g_assert_cmpmem (vg_model_grads (a), np * 4, vg_model_grads (b), np * 4);
            }
        }
}

/* The model's loss (vg_model_set_loss): a forward with targets returns what the backend
 * table's entry for that loss computes on the logits; a backend without the Dice entries
 * refuses the Dice losses, and a training run on it stops before its output folder. */
VG_TEST ("/train/losses/model-loss", test_model_loss)
{
  typedef float (*LossFunc) (const float *, const uint8_t *, const float *, int, int, int);
  const VgModelLoss losses[4] = { VG_MODEL_LOSS_CROSS_ENTROPY, VG_MODEL_LOSS_CROSS_ENTROPY_DICE,
                                  VG_MODEL_LOSS_CROSS_ENTROPY_DICE_PRESENT,
                                  VG_MODEL_LOSS_CROSS_ENTROPY_LOVASZ };
  const LossFunc expected[4] = { vg_cross_entropy_forward, vg_cross_entropy_dice_forward,
                                 vg_cross_entropy_dice_present_forward,
                                 vg_cross_entropy_lovasz_forward };
  const int B = 2, S = 64, n = B * S * S;
  g_autofree float *images = g_new (float, (size_t) n * 3);
  g_autofree uint8_t *targets = g_new (uint8_t, n);
  g_autoptr (GError) error = NULL;
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgModel) cuda_like = NULL;
  g_auto (Splits) s = { 0 };
  VgTrainOptions o = { 0 };
  VgTrainState state;
  VgBackend no_dice = *vg_backend_cpu ();
  VgConfig cfg;
  float loss[4];

  g_assert_true (vg_config_from_name (&cfg, "seed", &error));
  g_assert_true (vg_config_parse (&cfg, SMALL_SPEC, &error));
  model = vg_model_new (&cfg, vg_backend_cpu (), &error);
  g_assert_no_error (error);
  g_assert_true (vg_model_reserve (model, B, S, S, TRUE, &error));
  for (int i = 0; i < n * 3; i++)
    images[i] = (float) (2 * rnd () - 1);
  for (int i = 0; i < n; i++)
    targets[i] = i % 97 == 0 ? VG_IGNORE_INDEX : (uint8_t) ((i / S + i / 4) % 5);
  for (int k = 0; k < 4; k++)
    {
      g_assert_true (vg_model_set_loss (model, losses[k], &error));
      g_assert_no_error (error);
      loss[k] = vg_model_forward (model, images, targets, B, FALSE);
      g_assert_cmpfloat (loss[k], ==, expected[k] (vg_model_logits (model), targets, NULL,
                                                    VG_IGNORE_INDEX, n, cfg.num_classes));
    }
  g_assert_cmpfloat (loss[1], >, loss[0]);
  g_assert_cmpfloat (loss[2], >, loss[0]);
  g_assert_cmpfloat (loss[3], >, loss[0]);

  no_dice.cross_entropy_dice_forward = NULL;
  no_dice.cross_entropy_dice_backward = NULL;
  no_dice.cross_entropy_dice_present_forward = NULL;
  no_dice.cross_entropy_dice_present_backward = NULL;
  no_dice.cross_entropy_lovasz_forward = NULL;
  no_dice.cross_entropy_lovasz_backward = NULL;
  g_assert_true (vg_model_loss_supported (&no_dice, VG_MODEL_LOSS_CROSS_ENTROPY));
  g_assert_false (vg_model_loss_supported (&no_dice, VG_MODEL_LOSS_CROSS_ENTROPY_DICE));
  g_assert_false (vg_model_loss_supported (&no_dice, VG_MODEL_LOSS_CROSS_ENTROPY_DICE_PRESENT));
  g_assert_false (vg_model_loss_supported (&no_dice, VG_MODEL_LOSS_CROSS_ENTROPY_LOVASZ));
  cuda_like = vg_model_new (&cfg, &no_dice, &error);
  g_assert_no_error (error);
  vg_test_assert_fails (vg_model_set_loss (cuda_like, VG_MODEL_LOSS_CROSS_ENTROPY_DICE, &error),
                        error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED, NULL);

  if (!splits_make (&s))
    return;
  small_options (&o, &s, "no-dice");
  o.loss = VG_LOSS_CE_DICE_PRESENT;
  o.backend = &no_dice;
  g_assert_false (vg_train_run (&o, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID);
  g_assert_false (g_file_test (o.out_dir, G_FILE_TEST_EXISTS));
  vg_train_options_clear (&o);
}

/* Every tensor of two safetensors files is byte for byte the same, and so are the
 * schedule's metadata. */
static void
assert_same_checkpoints (const char *a_path, const char *b_path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSafetensors) a = NULL, b = NULL;
  const char *keys[] = { "visage.train.state.epoch", "visage.train.state.phase",
                         "visage.train.state.phase_lr", "visage.train.state.optimizer",
                         "visage.train.state.steps", "visage.train.state.best_loss",
                         "visage.train.state.best_miou", "visage.train.state.bad_epochs" };

  vg_test_assert_same_tensors (a_path, b_path);
  a = vg_safetensors_open (a_path, &error);
  g_assert_no_error (error);
  b = vg_safetensors_open (b_path, &error);
  g_assert_no_error (error);
  for (gsize k = 0; k < G_N_ELEMENTS (keys); k++)
    g_assert_cmpstr (vg_safetensors_metadata (a, keys[k]), ==,
                     vg_safetensors_metadata (b, keys[k]));
}

static void
cancel_on_step (const VgTrainStep *step, gpointer data)
{
  (void) step;
  g_cancellable_cancel (data);
}

VG_TEST ("/train/run/resume-equivalence", test_resume_equivalence)
{
  g_auto (Splits) s = { 0 };
  VgTrainOptions one = { 0 }, split = { 0 }, resumed = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autofree char *one_last = NULL, *split_last = NULL, *split_best = NULL;
  g_autofree char *before = NULL, *after = NULL, *log = NULL;
  gsize before_len = 0, after_len = 0;
  VgTrainCallbacks cancelling = { NULL, cancel_on_step, NULL, NULL, NULL };
  VgTrainState state;
  VgPreprocess pre;
  g_autoptr (VgModel) model = NULL;

  if (!splits_make (&s))
    return;

  /* 2 epochs in one run */
  small_options (&one, &s, "one");
  g_assert_true (vg_train_run (&one, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state.epoch, ==, 2);
  one_last = g_build_filename (one.out_dir, "last.safetensors", NULL);

  /* 1 epoch, stop */
  small_options (&split, &s, "split");
  split.epochs = 1;
  g_assert_true (vg_train_run (&split, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state.epoch, ==, 1);
  split_last = g_build_filename (split.out_dir, "last.safetensors", NULL);
  log = g_build_filename (split.out_dir, "log.csv", NULL);
  g_assert_cmpint (vg_test_count_lines (log), ==, 2); /* header + epoch 1 */

  /* resume, cancelled during the first step of epoch 2: last must not move */
  g_assert_true (g_file_get_contents (split_last, &before, &before_len, NULL));
  g_assert_true (vg_train_options_load (&resumed, split.out_dir, &error));
  g_assert_no_error (error);
  resumed.epochs = 2;
  vg_test_assert_fails (vg_train_run (&resumed, &cancelling, cancel, NULL, cancel, &state, &error),
                        error, G_IO_ERROR, G_IO_ERROR_CANCELLED, NULL);
  g_assert_cmpint (state.epoch, ==, 1);
  g_assert_true (g_file_get_contents (split_last, &after, &after_len, NULL));
  g_assert_cmpuint (before_len, ==, after_len);
  g_assert_true (memcmp (before, after, before_len) == 0);

  /* resume again to the end: the same weights, moments, pipeline state as in one run */
  g_assert_true (vg_train_run (&resumed, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state.epoch, ==, 2);
  assert_same_checkpoints (one_last, split_last);
  g_assert_cmpint (vg_test_count_lines (log), ==, 3);

  /* best is a model file with the training split's whitening */
  split_best = g_build_filename (split.out_dir, "best.safetensors", NULL);
  model = vg_model_open (split_best, vg_backend_cpu (), &pre, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  g_assert_cmpint (pre.resolution, ==, 64);
  g_assert_cmpfloat (pre.mean[0], >, 0.2);
  g_assert_cmpfloat (pre.mean[0], <, 0.8);
  g_assert_cmpfloat (pre.std[2], >, 0.05);

  /* a finished run resumed with the same limit does nothing and succeeds */
  g_assert_true (vg_train_run (&resumed, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state.epoch, ==, 2);

  vg_train_options_clear (&one);
  vg_train_options_clear (&split);
  vg_train_options_clear (&resumed);
}

/* The moving average of the weights: after one step from the initial weights w0 to w1,
 * the average is d w0 + (1 - d) w1; best.safetensors holds the average, which is what was
 * validated; a resumed run carries it (the same bits as one run). */
VG_TEST ("/train/run/ema", test_ema)
{
  g_auto (Splits) s = { 0 };
  VgTrainOptions o = { 0 }, two = { 0 }, resumed = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VgModel) init = NULL;
  g_autoptr (VgSafetensors) last = NULL, best = NULL;
  g_autofree char *last_path = NULL, *best_path = NULL, *two_last = NULL;
  g_autofree float *ema = NULL, *w1 = NULL;
  const float d = 0.75f;
  const float *w0;
  double worst = 0.0;
  size_t n;
  VgTrainState state;

  if (!splits_make (&s))
    return;
  small_options (&o, &s, "ema");
  o.ema = d;
  o.max_train = 4;     /* one step an epoch */
  o.epochs = 1;
  g_assert_true (vg_train_run (&o, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);

  init = vg_model_new (&o.config, vg_backend_cpu (), &error);
  g_assert_no_error (error);
  vg_model_init (init, o.seed);
  w0 = vg_model_params (init);
  n = vg_model_num_params (init);
  last_path = g_build_filename (o.out_dir, "last.safetensors", NULL);
  best_path = g_build_filename (o.out_dir, "best.safetensors", NULL);
  {
    g_autoptr (VgModel) after = vg_model_new (&o.config, vg_backend_cpu (), &error);
    int shape[1] = { (int) n };

    g_assert_true (vg_model_load (after, last_path, &error));
    w1 = g_memdup2 (vg_model_params (after), n * sizeof (float));
    last = vg_safetensors_open (last_path, &error);
    g_assert_no_error (error);
    ema = g_new (float, n);
    g_assert_true (vg_safetensors_read_f32 (last, "optim.ema", ema, shape, 1, &error));
    g_assert_no_error (error);
  }
  for (size_t i = 0; i < n; i++)
    {
      double want = (double) d * w0[i] + (1.0 - d) * w1[i];

      worst = MAX (worst, fabs (ema[i] - want));
    }
  g_test_message ("ema: max |avg - (d w0 + (1 - d) w1)| = %g over %zu parameters", worst, n);
  g_assert_cmpfloat (worst, <, 1e-6);
  {
    /* the step moved the weights, so the average is neither end */
    double moved = 0.0;

    for (size_t i = 0; i < n; i++)
      moved = MAX (moved, fabs (w1[i] - w0[i]));
    g_assert_cmpfloat (moved, >, 1e-4);
  }
  {
    g_autoptr (VgModel) b = vg_model_new (&o.config, vg_backend_cpu (), &error);

    g_assert_true (vg_model_load (b, best_path, &error));
    g_assert_no_error (error);
    g_assert_cmpmem (vg_model_params (b), n * sizeof (float), ema, n * sizeof (float));
  }

  /* 2 epochs in one run, and 1 + 1 resumed: the same bits, the average included */
  small_options (&two, &s, "ema-two");
  two.ema = d;
  g_assert_true (vg_train_run (&two, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  two_last = g_build_filename (two.out_dir, "last.safetensors", NULL);
  g_free (o.out_dir);
  o.out_dir = g_build_filename (s.root, "ema-split", NULL);
  o.max_train = 0;
  g_assert_true (vg_train_run (&o, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  g_assert_true (vg_train_options_load (&resumed, o.out_dir, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (resumed.ema, ==, d);
  resumed.epochs = 2;
  g_assert_true (vg_train_run (&resumed, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  {
    g_autofree char *split_last = g_build_filename (o.out_dir, "last.safetensors", NULL);

    assert_same_checkpoints (two_last, split_last);
  }
  vg_train_options_clear (&o);
  vg_train_options_clear (&two);
  vg_train_options_clear (&resumed);
}

static void
count_steps (const VgTrainStep *step, gpointer data)
{
  *(int *) data = step->steps;
}

/* Oversampling: an epoch holds each image floor (r) or floor (r) + 1 times, r the largest
 * repeat factor of its classes (computed here from the masks), and the run says so. */
VG_TEST ("/train/run/oversample", test_oversample)
{
  g_auto (Splits) s = { 0 };
  VgTrainOptions o = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSplit) split = NULL;
  VgTrainCallbacks cb = { NULL, count_steps, NULL, NULL, NULL };
  int steps = 0, counts[VG_NUM_CLASSES] = { 0 }, lo = 0, hi = 0;
  VgTrainState state;

  if (!splits_make (&s))
    return;
  split = vg_split_open (s.train, VG_SPLIT_DEFAULT, 2, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (vg_split_scan_classes (split, 2, NULL, &error));
  g_assert_no_error (error);
  for (int i = 0; i < split->n_samples; i++)
    for (int c = 0; c < VG_NUM_CLASSES; c++)
      counts[c] += (split->samples[i].mask_classes >> c) & 1;
  for (int i = 0; i < split->n_samples; i++)
    {
      double r = 1.0;

      for (int c = 0; c < VG_NUM_CLASSES; c++)
        if ((split->samples[i].mask_classes >> c) & 1)
          r = MAX (r, sqrt (0.5 * split->n_samples / counts[c]));
      lo += (int) floor (r);
      hi += (int) ceil (r);
    }
  g_test_message ("oversample 0.5 on 8 images: between %d and %d samples", lo, hi);
  g_assert_cmpint (hi, >, 8);   /* some class of these 8 images is rare enough */

  small_options (&o, &s, "oversample");
  o.oversample = 0.5;
  o.batch = 1;
  o.epochs = 1;
  g_assert_true (vg_train_run (&o, &cb, &steps, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  g_assert_cmpint (steps, >=, lo);
  g_assert_cmpint (steps, <=, hi);
  g_assert_cmpint (steps, >, 8);
  vg_train_options_clear (&o);
}

/* The train loss column (5th) of each epoch line of a log.csv. */
static GStrv
log_train_losses (const char *path)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  GStrvBuilder *builder = g_strv_builder_new ();
  GStrv losses;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (int i = 1; lines[i] != NULL; i++)
    {
      g_auto (GStrv) fields = g_strsplit (lines[i], ",", -1);

      if (g_strv_length (fields) >= 5)
        g_strv_builder_add (builder, fields[4]);
    }
  losses = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return losses;
}

/* A run killed mid-epoch resumes from its mid-epoch checkpoint and ends exactly as a run
 * never stopped. */
VG_TEST ("/train/run/resume-mid-epoch", test_resume_mid_epoch)
{
  g_auto (Splits) s = { 0 };
  VgTrainOptions one = { 0 }, mid = { 0 }, resumed = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autofree char *one_last = NULL, *mid_last = NULL, *one_log = NULL, *mid_log = NULL;
  g_autoptr (VgSafetensors) st = NULL;
  g_auto (GStrv) one_losses = NULL;
  g_auto (GStrv) mid_losses = NULL;
  VgTrainCallbacks cancelling = { NULL, cancel_on_step, NULL, NULL };
  VgTrainState state;

  if (!splits_make (&s))
    return;

  small_options (&one, &s, "mid-one");
  one.checkpoint_minutes = 0.0;
  g_assert_true (vg_train_run (&one, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  one_last = g_build_filename (one.out_dir, "last.safetensors", NULL);

  /* A checkpoint after every step; cancelled after the first step of epoch 1. */
  small_options (&mid, &s, "mid");
  mid.checkpoint_minutes = 1e-9;
  vg_test_assert_fails (vg_train_run (&mid, &cancelling, cancel, NULL, cancel, &state, &error),
                        error, G_IO_ERROR, G_IO_ERROR_CANCELLED, NULL);
  mid_last = g_build_filename (mid.out_dir, "last.safetensors", NULL);
  st = vg_safetensors_open (mid_last, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vg_safetensors_metadata (st, "visage.train.state.epoch"), ==, "0");
  g_assert_cmpstr (vg_safetensors_metadata (st, "visage.train.state.epoch_step"), ==, "1");
  g_clear_pointer (&st, vg_safetensors_free);
  /* the final state tells what last.safetensors holds (the CLI's message says it) */
  g_assert_cmpint (state.epoch, ==, 0);
  g_assert_cmpint (state.epoch_step, ==, 1);

  /* Resumed from step 2 of epoch 1, to the end (with checkpoints all along). */
  g_assert_true (vg_train_options_load (&resumed, mid.out_dir, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (resumed.checkpoint_minutes, ==, 10.0); /* not part of the run */
  resumed.checkpoint_minutes = 1e-9;
  g_assert_true (vg_train_run (&resumed, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state.epoch, ==, 2);
  g_assert_cmpint (state.epoch_step, ==, 0);
  assert_same_checkpoints (one_last, mid_last);

  /* The epochs' mean training losses count the steps before the stop too. */
  one_log = g_build_filename (one.out_dir, "log.csv", NULL);
  mid_log = g_build_filename (mid.out_dir, "log.csv", NULL);
  one_losses = log_train_losses (one_log);
  mid_losses = log_train_losses (mid_log);
  g_assert_cmpuint (g_strv_length (one_losses), ==, 2);
  g_assert_cmpstrv (one_losses, mid_losses);

  vg_train_options_clear (&one);
  vg_train_options_clear (&mid);
  vg_train_options_clear (&resumed);
}

/* This process's CPU seconds, user and system (the trainer's accounting, independently). */
static double
cpu_now (void)
{
  struct rusage ru;

  g_assert_cmpint (getrusage (RUSAGE_SELF, &ru), ==, 0);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec
         + ru.ru_stime.tv_usec / 1e6;
}

/* The last column (cpu_seconds) of each epoch line of a log.csv. */
static GArray *
log_cpu_seconds (const char *path)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  GArray *values = g_array_new (FALSE, FALSE, sizeof (double));

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  g_assert_true (g_str_has_suffix (lines[0], ",cpu_seconds"));
  for (int i = 1; lines[i] != NULL && *lines[i] != '\0'; i++)
    {
      g_auto (GStrv) fields = g_strsplit (lines[i], ",", -1);
      double v = g_ascii_strtod (fields[g_strv_length (fields) - 1], NULL);

      g_array_append_val (values, v);
    }
  return values;
}

/* The run's CPU time (the kernel's accounting): kept in the checkpoint, carried on by a
 * resume, in log.csv's last column, never more than the process used while training. */
VG_TEST ("/train/run/cpu-time", test_cpu_time)
{
  g_auto (Splits) s = { 0 };
  VgTrainOptions o = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSafetensors) st = NULL;
  g_autofree char *last = NULL, *log = NULL;
  g_autoptr (GArray) rows = NULL;
  VgTrainState state;
  double before, used, first;

  if (!splits_make (&s))
    return;
  small_options (&o, &s, "cpu");
  before = cpu_now ();
  g_assert_true (vg_train_run (&o, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  used = cpu_now () - before;
  g_test_message ("2 epochs: %.3f CPU s kept, %.3f used by the process", state.cpu_seconds,
                  used);
  g_assert_cmpfloat (state.cpu_seconds, >, 0.0);
  g_assert_cmpfloat (state.cpu_seconds, <=, used + 1e-3);
  last = g_build_filename (o.out_dir, "last.safetensors", NULL);
  st = vg_safetensors_open (last, &error);
  g_assert_no_error (error);
  g_assert_nonnull (vg_safetensors_metadata (st, "visage.train.state.cpu_seconds"));
  g_assert_cmpfloat (fabs (g_ascii_strtod (vg_safetensors_metadata (
                       st, "visage.train.state.cpu_seconds"), NULL) - state.cpu_seconds),
                     <, 1e-9);
  log = g_build_filename (o.out_dir, "log.csv", NULL);
  rows = log_cpu_seconds (log);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpfloat (g_array_index (rows, double, 0), <=, g_array_index (rows, double, 1));
  g_assert_cmpfloat (fabs (g_array_index (rows, double, 1) - state.cpu_seconds), <=, 0.05);

  /* one more epoch, resumed: the time carries on from the checkpoint's */
  first = state.cpu_seconds;
  o.resume = TRUE;
  o.epochs = 3;
  before = cpu_now ();
  g_assert_true (vg_train_run (&o, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  used = cpu_now () - before;
  g_assert_cmpfloat (state.cpu_seconds, >, first);
  g_assert_cmpfloat (state.cpu_seconds - first, <=, used + 1e-3);
  g_clear_pointer (&rows, g_array_unref);
  rows = log_cpu_seconds (log);
  g_assert_cmpuint (rows->len, ==, 3);
  g_assert_cmpfloat (g_array_index (rows, double, 1), <=, g_array_index (rows, double, 2));
  vg_train_options_clear (&o);
}

typedef struct {
  VgTrainControl *control;
  gboolean released;     /* set by the thread just before it unpauses */
  int steps_seen;
  GThread *thread;
} PauseTest;

static gpointer
unpause_later (gpointer data)
{
  PauseTest *p = data;

  /* far longer than a step of the small model (~20 ms): a run that ignored the pause would
   * reach step 2 before this */
  g_usleep (G_USEC_PER_SEC / 2);
  g_atomic_int_set (&p->released, TRUE);
  vg_train_control_set_paused (p->control, FALSE);
  return NULL;
}

static void
pause_on_first_step (const VgTrainStep *step, gpointer data)
{
  PauseTest *p = data;

  p->steps_seen++;
  if (step->epoch == 1 && step->step == 1)
    {
      vg_train_control_set_paused (p->control, TRUE);
      p->thread = g_thread_new ("unpause", unpause_later, p);
    }
  else
    g_assert_true (g_atomic_int_get (&p->released));
}

VG_TEST ("/train/run/pause", test_pause)
{
  g_auto (Splits) s = { 0 };
  VgTrainOptions o = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VgTrainControl) control = vg_train_control_new ();
  PauseTest p = { control, FALSE, 0, NULL };
  VgTrainCallbacks cb = { NULL, pause_on_first_step, NULL, NULL, NULL };

  if (!splits_make (&s))
    return;
  small_options (&o, &s, "paused");
  o.epochs = 1;
  g_assert_true (vg_train_run (&o, &cb, &p, control, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (p.steps_seen, ==, 2);
  g_thread_join (p.thread);
  vg_train_options_clear (&o);
}

VG_TEST ("/train/run/older-checkpoint", test_older_checkpoint)
{
  g_auto (Splits) s = { 0 };
  VgTrainOptions o = { 0 }, loaded = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *last = NULL;
  const char *const newer[] = { "visage.train.train_annotations",
                                "visage.train.val_annotations", "visage.train.init_from",
                                "visage.train.state.epoch_step",
                                "visage.train.state.epoch_loss_sum", NULL };
  VgTrainState state;

  if (!splits_make (&s))
    return;
  small_options (&o, &s, "older");
  o.epochs = 1;
  g_assert_true (vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  /* the same file without the newer keys */
  last = g_build_filename (o.out_dir, "last.safetensors", NULL);
  vg_test_rewrite_safetensors (last, last, newer, NULL, NULL);

  g_assert_true (vg_train_options_load (&loaded, o.out_dir, &error));
  g_assert_no_error (error);
  g_assert_null (loaded.train_annotations);
  g_assert_null (loaded.init_from);
  loaded.epochs = 2;
  g_assert_true (vg_train_run (&loaded, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state.epoch, ==, 2);
  vg_train_options_clear (&o);
  vg_train_options_clear (&loaded);
}

/* The schedule state of a checkpoint is range-checked on resume: each damaged field is
 * refused with a message naming it, and the intact checkpoint still resumes. */
VG_TEST ("/train/run/damaged-state", test_damaged_state)
{
  static const struct {
    const char *key;
    const char *value;
    const char *named;      /* in the message */
  } cases[] = {
    { "visage.train.state.epoch", "-2147483649", "state.epoch" },
    { "visage.train.state.epoch", "2147483647", "state.epoch" },
    { "visage.train.state.epoch", "2", "log holds 1 row" },
    { "visage.train.state.phase", "7", "state.phase" },
    { "visage.train.state.phase", "1", "state.phase" },  /* adam: no SGD phase */
    { "visage.train.state.phase_lr", "0.5", "state.phase_lr" },
    { "visage.train.state.optimizer", "sgd", "state.optimizer" },
    { "visage.train.state.best_loss", "nan", "state.best_loss" },
    { "visage.train.state.best_loss", "-1", "state.best_loss" },
    { "visage.train.state.best_miou", "1.5", "state.best_miou" },
    { "visage.train.state.best_miou_epoch", "3", "state.best_miou_epoch" },
    { "visage.train.state.finished", "2", "state.finished" },
    { "visage.train.state.bad_epochs", "-1", "state.bad_epochs" },
    { "visage.train.state.steps", "-5", "state.steps" },
    { "visage.train.state.epoch_step", "-1", "state.epoch_step" },
    { "visage.train.state.epoch_loss_sum", "inf", "epoch_loss_sum" },
    { "visage.train.state.cpu_seconds", "nan", "state.cpu_seconds" },
    { "visage.train.state.cpu_seconds", "-1", "state.cpu_seconds" },
    { "visage.train.std", "0,1,1", "whitening" },
    { "visage.train.class_weights",
      "nan,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1", "class weights" },
  };
  g_auto (Splits) s = { 0 };
  VgTrainOptions o = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *last = NULL, *saved = NULL, *copy = NULL;
  gsize len;
  VgTrainState state;

  if (!splits_make (&s))
    return;
  small_options (&o, &s, "damaged");
  o.optimizer = VG_OPTIMIZER_ADAM;
  o.epochs = 1;
  g_assert_true (vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  last = g_build_filename (o.out_dir, "last.safetensors", NULL);
  g_assert_true (g_file_get_contents (last, &saved, &len, NULL));
  o.resume = TRUE;
  o.epochs = 2;
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      vg_test_rewrite_safetensors (last, last, NULL, cases[i].key, cases[i].value);
      g_assert_false (vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error));
      g_test_message ("%s = %s: %s", cases[i].key, cases[i].value,
                      error != NULL ? error->message : "(accepted)");
      g_assert_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_CHECKPOINT);
      g_assert_nonnull (strstr (error->message, cases[i].named));
      g_clear_error (&error);
      /* refused before anything was written */
      g_assert_true (g_file_get_contents (last, &copy, NULL, NULL));
      g_clear_pointer (&copy, g_free);
      g_assert_true (g_file_set_contents (last, saved, len, NULL));
    }
  g_assert_true (vg_train_run (&o, NULL, NULL, NULL, NULL, &state, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state.epoch, ==, 2);
  vg_train_options_clear (&o);
}

VG_TEST ("/train/run/bad-checkpoints", test_bad_checkpoints)
{
  g_auto (Splits) s = { 0 };
  VgTrainOptions o = { 0 }, loaded = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *last = NULL, *data = NULL, *best = NULL;
  gsize len = 0;

  if (!splits_make (&s))
    return;
  small_options (&o, &s, "bad");
  o.epochs = 1;
  g_assert_true (vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  /* the run's best model is listed among the models trained here */
  {
    g_autofree char *list_path = vg_recent_models_path ();
    g_autofree char *list = NULL;
    g_autofree char *best_path = g_build_filename (o.out_dir, "best.safetensors", NULL);
    g_autofree char *line = NULL;

    g_assert_true (g_file_get_contents (list_path, &list, NULL, NULL));
    line = g_strdup_printf ("%s\n", best_path);
    g_assert_nonnull (strstr (list, line));
  }

  /* the same folder again without resume: refused, nothing overwritten */
  vg_test_assert_fails (vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error), error,
                        VG_TRAIN_ERROR, VG_TRAIN_ERROR_EXISTS, NULL);

  /* resuming with another batch size: refused, naming the option */
  o.resume = TRUE;
  o.epochs = 2;
  o.batch = 2;
  vg_test_assert_fails (vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error), error,
                        VG_TRAIN_ERROR, VG_TRAIN_ERROR_CHECKPOINT, "batch");
  o.batch = 4;

  /* best.safetensors is not a training checkpoint */
  last = g_build_filename (o.out_dir, "last.safetensors", NULL);
  best = g_build_filename (o.out_dir, "best.safetensors", NULL);
  g_assert_true (g_file_get_contents (last, &data, &len, NULL));
  g_assert_true (g_file_set_contents (last, data, len / 2, NULL)); /* truncated */
  vg_test_assert_fails (vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error), error,
                        VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_INVALID, "last.safetensors");
  vg_test_assert_fails (vg_train_options_load (&loaded, o.out_dir, &error), error,
                        VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_INVALID, NULL);

  g_clear_pointer (&data, g_free);
  g_assert_true (g_file_get_contents (best, &data, &len, NULL));
  g_assert_true (g_file_set_contents (last, data, len, NULL));
  vg_test_assert_fails (vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error), error,
                        VG_TRAIN_ERROR, VG_TRAIN_ERROR_CHECKPOINT, "not a training checkpoint");

  /* nothing to resume in an empty folder */
  g_free (o.out_dir);
  o.out_dir = g_build_filename (s.root, "empty", NULL);
  vg_test_assert_fails (vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error), error,
                        VG_TRAIN_ERROR, VG_TRAIN_ERROR_CHECKPOINT, NULL);

  /* a missing training folder names it */
  o.resume = FALSE;
  g_free (o.train_dir);
  o.train_dir = g_build_filename (s.root, "no-such-split", NULL);
  g_assert_false (vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "no-such-split"));
  vg_train_options_clear (&o);
}

int
main (int argc, char *argv[])
{
  /* the statistics cache of the temporary splits stays out of the user's cache */
  g_autofree char *cache = vg_test_private_xdg_dir ("XDG_CACHE_HOME",
                                                    "visage-train-cache-XXXXXX");

  g_test_init (&argc, &argv, NULL);
  vg_test_add_registered ();
  return vg_test_run_removing (cache);
}
