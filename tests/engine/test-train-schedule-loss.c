/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The training schedule and the losses as pure functions (whole runs: test-train.c):
 *
 * - the schedule: cosine values, the pipeline's switch to SGD, its halvings with reloads,
 *   its stop below the minimum rate, early stopping of a single optimiser, selection by
 *   mIoU, NaN losses;
 * - Dice: forward values and gradients by central finite differences; the fused
 *   cross-entropy + Dice backward, in place, equals the sum of the two; the batch losses
 *   (all classes, and the classes present) against a reference. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>

#include "vg-dice.h"
#include "vg-model.h"
#include "vg-nn.h"
#include "vg-train.h"
#include "engine-test-util.h"
#include "test-register.h"

/* ---- the schedule ------------------------------------------------------------------------ */

VG_TEST ("/train/schedule/cosine", test_cosine)
{
  /* exact up to double rounding: cos(0) = 1, cos(pi/2) = 6e-17, cos(pi) = -1 */
  g_assert_cmpfloat_with_epsilon (vg_cosine_lr (1e-3, 5e-4, 0, 50), 1e-3, 1e-15);
  g_assert_cmpfloat_with_epsilon (vg_cosine_lr (1e-3, 5e-4, 25, 50), 7.5e-4, 1e-15);
  g_assert_cmpfloat_with_epsilon (vg_cosine_lr (1e-3, 5e-4, 50, 50), 5e-4, 1e-15);
  /* flat after T, never back up as PyTorch's periodic schedule would */
  g_assert_cmpfloat_with_epsilon (vg_cosine_lr (1e-3, 5e-4, 80, 50), 5e-4, 1e-15);
  /* a quarter: 5e-4 + 5e-4 (1 + cos(pi/4)) / 2 */
  g_assert_cmpfloat_with_epsilon (vg_cosine_lr (1e-3, 5e-4, 10, 40),
                                  5e-4 + 5e-4 * (1 + sqrt (0.5)) / 2, 1e-15);
  g_assert_cmpfloat (vg_cosine_lr (0.02, 0.01, 7, 0), ==, 0.02); /* T = 0: constant */
}

/* The floor: the report's half by default, any fraction of the phase's rate when set. */
VG_TEST ("/train/schedule/cosine-floor", test_cosine_floor)
{
  VgTrainOptions o;
  VgTrainState s;
  GError *error = NULL;

  vg_train_options_init (&o);
  g_assert_cmpfloat (o.cosine_floor, ==, 0.5);
  o.cosine_t = 4;
  o.cosine_floor = 0.0;
  vg_train_state_init (&s, &o);
  g_assert_cmpfloat (vg_train_state_lr (&s, &o), ==, 1e-3);
  s.epoch = 2;
  g_assert_cmpfloat_with_epsilon (vg_train_state_lr (&s, &o), 5e-4, 1e-15);
  s.epoch = 4;
  g_assert_cmpfloat_with_epsilon (vg_train_state_lr (&s, &o), 0.0, 1e-18);
  s.epoch = 9; /* flat after T */
  g_assert_cmpfloat_with_epsilon (vg_train_state_lr (&s, &o), 0.0, 1e-18);
  o.cosine_floor = 0.1;
  g_assert_cmpfloat_with_epsilon (vg_train_state_lr (&s, &o), 1e-4, 1e-15);

  /* outside [0, 1]: refused with a message naming it */
  o.train_dir = g_strdup ("t");
  o.val_dir = g_strdup ("v");
  o.out_dir = g_strdup ("o");
  for (int i = 0; i < 3; i++)
    {
      const double bad[] = { -0.1, 1.5, NAN };

      o.cosine_floor = bad[i];
      g_assert_false (vg_train_options_validate (&o, &error));
      g_assert_nonnull (strstr (error->message, "floor"));
      g_clear_error (&error);
    }
  vg_train_options_clear (&o);
}

/* The number options' ranges, the ones the Train dialog also checks its fields against: each
 * end and just past it, accepted or refused by the validation with a message naming the
 * option; the defaults lie inside. */
VG_TEST ("/train/options/ranges", test_option_ranges)
{
  gsize n;
  const VgTrainRange *ranges = vg_train_ranges (&n);
  VgTrainOptions o;

  g_assert_cmpuint (n, >=, 9);
  g_assert_null (vg_train_range ("colour"));
  vg_train_options_init (&o);
  o.train_dir = g_strdup ("t");
  o.val_dir = g_strdup ("v");
  o.out_dir = g_strdup ("o");
  g_assert_true (vg_train_options_validate (&o, NULL));
  for (gsize i = 0; i < n; i++)
    {
      const VgTrainRange *r = &ranges[i];
      double *field = &G_STRUCT_MEMBER (double, &o, r->offset), saved = *field;
      double below = r->lo - 1e-9, above = isinf (r->hi) ? INFINITY : r->hi + 1e-9;
      const struct { double v; gboolean ok; } cases[] = {
        { saved, TRUE }, { r->lo, !r->lo_open }, { below, FALSE }, { r->hi, !r->hi_open },
        { above, FALSE }, { NAN, FALSE },
      };

      g_assert_true (vg_train_range (r->key) == r);
      for (gsize k = 0; k < G_N_ELEMENTS (cases); k++)
        {
          g_autoptr (GError) error = NULL;

          *field = cases[k].v;
          g_assert_cmpint (vg_train_range_holds (r, cases[k].v), ==, cases[k].ok);
          g_assert_cmpint (vg_train_options_validate (&o, &error), ==, cases[k].ok);
          if (!cases[k].ok)
            {
              g_autofree char *named = g_strdup_printf ("(%s)", r->key);

              g_assert_nonnull (strstr (error->message, named));
            }
        }
      *field = saved;
    }
  /* the dialog's fields and the CLI's messages: */
  g_assert_false (vg_train_range_holds (vg_train_range ("sgd-momentum"), 1.0));
  g_assert_true (vg_train_range_holds (vg_train_range ("cosine-floor"), 1.0));
  g_assert_false (vg_train_range_holds (vg_train_range ("lr"), 0.0));
  g_assert_true (vg_train_range_holds (vg_train_range ("weight-decay"), 0.0));
  vg_train_options_clear (&o);
}

/* Feed n validation losses; returns the OR of the events. */
static VgTrainEvents
feed (VgTrainState *s, const VgTrainOptions *o, const double *losses, int n)
{
  VgTrainEvents all = 0;

  for (int i = 0; i < n; i++)
    all |= vg_train_state_update (s, o, losses[i], 0.5);
  return all;
}

VG_TEST ("/train/schedule/pipeline", test_schedule_pipeline)
{
  VgTrainOptions o;
  VgTrainState s;
  VgTrainEvents ev;
  const double improving[] = { 1.0, 0.9 }, flat[] = { 0.95, 0.95 };

  vg_train_options_init (&o);
  o.patience = 3;
  vg_train_state_init (&s, &o);
  g_assert_cmpint (s.optimizer, ==, VG_OPTIMIZER_ADAM);
  g_assert_cmpfloat (vg_train_state_lr (&s, &o), ==, 1e-3);

  /* Adam: two better epochs, then three that are not (a tie is not better) */
  ev = feed (&s, &o, improving, 2);
  g_assert_cmpint (ev & VG_TRAIN_EVENT_BETTER_LOSS, !=, 0);
  g_assert_cmpint (s.best_loss_epoch, ==, 2);
  g_assert_cmpfloat_with_epsilon (vg_train_state_lr (&s, &o),
                                  vg_cosine_lr (1e-3, 5e-4, 2, 50), 1e-18);
  ev = feed (&s, &o, flat, 2);
  g_assert_cmpint (ev & (VG_TRAIN_EVENT_SWITCH_SGD | VG_TRAIN_EVENT_BETTER_LOSS), ==, 0);
  g_assert_cmpint (s.bad_epochs, ==, 2);
  ev = vg_train_state_update (&s, &o, 0.9, 0.5); /* equal to the best: not better */
  g_assert_cmpint (ev, ==, VG_TRAIN_EVENT_SWITCH_SGD | VG_TRAIN_EVENT_RELOAD_BEST);
  g_assert_cmpint (s.epoch, ==, 5);
  g_assert_cmpint (s.phase, ==, 1);
  g_assert_cmpint (s.phase_start, ==, 5);
  g_assert_cmpint (s.optimizer, ==, VG_OPTIMIZER_SGD);
  g_assert_cmpint (s.steps, ==, 0);
  g_assert_cmpint (s.bad_epochs, ==, 0);
  g_assert_cmpfloat (vg_train_state_lr (&s, &o), ==, 0.02); /* the scheduler was reset */

  /* SGD 0.02: one better epoch (the patience count restarts), then three bad ones */
  ev = vg_train_state_update (&s, &o, 0.8, 0.5);
  g_assert_cmpint (ev & VG_TRAIN_EVENT_BETTER_LOSS, !=, 0);
  g_assert_cmpfloat_with_epsilon (vg_train_state_lr (&s, &o),
                                  vg_cosine_lr (0.02, 0.01, 1, 50), 1e-18);
  ev = feed (&s, &o, flat, 2);
  ev |= vg_train_state_update (&s, &o, 0.85, 0.5);
  g_assert_cmpint (ev, ==, VG_TRAIN_EVENT_HALVE_LR | VG_TRAIN_EVENT_RELOAD_BEST);
  g_assert_cmpint (s.epoch, ==, 9);
  g_assert_cmpint (s.phase, ==, 2);
  g_assert_cmpfloat (s.phase_lr, ==, 0.01);
  g_assert_cmpfloat (vg_train_state_lr (&s, &o), ==, 0.01);

  /* 0.01 -> 0.005: equal to the minimum, still allowed (l_SGD >= l_SGD_min) */
  ev = feed (&s, &o, flat, 2);
  ev |= vg_train_state_update (&s, &o, 0.85, 0.5);
  g_assert_cmpint (ev, ==, VG_TRAIN_EVENT_HALVE_LR | VG_TRAIN_EVENT_RELOAD_BEST);
  g_assert_cmpfloat (s.phase_lr, ==, 0.005);
  g_assert_false (s.finished);

  /* 0.005 -> 0.0025 < 0.005: the run is over, no reload */
  ev = feed (&s, &o, flat, 2);
  ev |= vg_train_state_update (&s, &o, 0.85, 0.5);
  g_assert_cmpint (ev, ==, VG_TRAIN_EVENT_STOP);
  g_assert_true (s.finished);
  g_assert_cmpint (s.epoch, ==, 15);
  g_assert_cmpint (s.best_loss_epoch, ==, 6);
  g_assert_cmpfloat (s.best_loss, ==, 0.8);
}

VG_TEST ("/train/schedule/single-optimizer", test_schedule_single_optimizer)
{
  const double flat[] = { 1.0, 1.0, 1.0 };
  VgTrainOptions o;
  VgTrainState s;
  VgTrainEvents ev;

  vg_train_options_init (&o);
  o.optimizer = VG_OPTIMIZER_SGD;
  o.patience = 2;
  vg_train_state_init (&s, &o);
  g_assert_cmpint (s.optimizer, ==, VG_OPTIMIZER_SGD);
  g_assert_cmpfloat (vg_train_state_lr (&s, &o), ==, 0.02);
  ev = feed (&s, &o, flat, 3); /* better, then two not better: early stop */
  g_assert_cmpint (ev & VG_TRAIN_EVENT_STOP, !=, 0);
  g_assert_cmpint (ev & (VG_TRAIN_EVENT_RELOAD_BEST | VG_TRAIN_EVENT_HALVE_LR), ==, 0);
  g_assert_true (s.finished);
  g_assert_cmpint (s.optimizer, ==, VG_OPTIMIZER_SGD);

  /* patience 0: never an event, whatever the losses */
  o.optimizer = VG_OPTIMIZER_PIPELINE;
  o.patience = 0;
  vg_train_state_init (&s, &o);
  for (int i = 0; i < 100; i++)
    g_assert_cmpint (vg_train_state_update (&s, &o, 1.0, 0.5) & ~VG_TRAIN_EVENT_BETTER_LOSS
                       & ~VG_TRAIN_EVENT_BETTER_MIOU & ~VG_TRAIN_EVENT_SAVE_BEST, ==, 0);
  g_assert_cmpint (s.optimizer, ==, VG_OPTIMIZER_ADAM);
  g_assert_cmpfloat (vg_train_state_lr (&s, &o), ==, 5e-4); /* past T: half the rate */
}

VG_TEST ("/train/schedule/select-and-nan", test_schedule_select_and_nan)
{
  VgTrainOptions o;
  VgTrainState s;
  VgTrainEvents ev;

  vg_train_options_init (&o);
  o.select = VG_SELECT_MIOU;
  vg_train_state_init (&s, &o);
  ev = vg_train_state_update (&s, &o, 1.0, 0.30);
  g_assert_cmpint (ev & VG_TRAIN_EVENT_SAVE_BEST, !=, 0);
  /* lower loss, lower mIoU: best by mIoU is not saved */
  ev = vg_train_state_update (&s, &o, 0.5, 0.20);
  g_assert_cmpint (ev, ==, VG_TRAIN_EVENT_BETTER_LOSS);
  /* higher loss, higher mIoU: saved, and the loss patience counts one bad epoch */
  ev = vg_train_state_update (&s, &o, 0.7, 0.40);
  g_assert_cmpint (ev, ==, VG_TRAIN_EVENT_BETTER_MIOU | VG_TRAIN_EVENT_SAVE_BEST);
  g_assert_cmpint (s.bad_epochs, ==, 1);
  g_assert_cmpint (s.best_miou_epoch, ==, 3);
  /* a NaN loss is never better */
  ev = vg_train_state_update (&s, &o, NAN, 0.1);
  g_assert_cmpint (ev, ==, 0);
  g_assert_cmpfloat (s.best_loss, ==, 0.5);
  g_assert_cmpint (s.bad_epochs, ==, 2);
}

/* ---- Dice -------------------------------------------------------------------------------- */

enum { DNR = 12, DNC = 5 };

static void
dice_inputs (float *logits, uint8_t *targets)
{
  for (int i = 0; i < DNR * DNC; i++)
    logits[i] = (float) (4.0 * rnd () - 2.0);
  for (int i = 0; i < DNR; i++)
    targets[i] = (uint8_t) (i % 4); /* class 4 never occurs */
  targets[3] = VG_IGNORE_INDEX;
  targets[7] = 200; /* >= NC: ignored too */
}

VG_TEST ("/train/dice/forward", test_dice_forward)
{
  float logits[DNR * DNC];
  uint8_t targets[DNR];
  double inter[DNC] = { 0 }, p_sum[DNC] = { 0 }, y_sum[DNC] = { 0 }, expect = 0;

  dice_inputs (logits, targets);
  /* an independent double-precision evaluation of the formula in vg-dice.h */
  for (int i = 0; i < DNR; i++)
    {
      double p[DNC], s = 0;
      if (targets[i] >= DNC)
        continue;
      for (int c = 0; c < DNC; c++)
        s += p[c] = exp (logits[i * DNC + c]);
      for (int c = 0; c < DNC; c++)
        p_sum[c] += p[c] / s;
      inter[targets[i]] += p[targets[i]] / s;
      y_sum[targets[i]] += 1;
    }
  for (int c = 0; c < DNC; c++)
    expect += (2 * inter[c] + VG_DICE_SMOOTH) / (p_sum[c] + y_sum[c] + VG_DICE_SMOOTH);
  expect = 1 - expect / DNC;
  /* float softmax against double: 1e-6 */
  g_assert_cmpfloat_with_epsilon (vg_dice_forward (logits, targets, VG_IGNORE_INDEX, DNR, DNC),
                                  expect, 1e-6);

  /* a confident perfect prediction scores ~0 (each class: (2n + 1) / (2n + 1)) */
  for (int i = 0; i < DNR; i++)
    for (int c = 0; c < DNC; c++)
      logits[i * DNC + c] = c == targets[i] ? 30.0f : -30.0f;
  g_assert_cmpfloat (vg_dice_forward (logits, targets, VG_IGNORE_INDEX, DNR, DNC), <, 1e-6);
  /* everything ignored: 0, no NaN */
  memset (targets, VG_IGNORE_INDEX, sizeof targets);
  g_assert_cmpfloat (vg_dice_forward (logits, targets, VG_IGNORE_INDEX, DNR, DNC), ==, 0.0f);
}

VG_TEST ("/train/dice/gradcheck", test_dice_gradcheck)
{
  float logits[DNR * DNC], grad[DNR * DNC], ce[DNR * DNC], fused[DNR * DNC];
  const float weights[DNC] = { 0.1f, 0.3f, 0.2f, 0.25f, 0.15f };
  uint8_t targets[DNR];
  const float dloss = 1.7f;
  /* Central differences of the float forward with eps 1e-2: the loss's float rounding
   * (~1e-7) and the O(eps^2) truncation together measured 1.3e-4 of the largest derivative,
   * so tol = 1e-3 of it leaves a margin of ~8; a missing term errs by > 10%. */
  const double eps = 1e-2, tol = 1e-3;
  double max_num = 0, max_err = 0;

  dice_inputs (logits, targets);
  vg_dice_backward (grad, logits, targets, VG_IGNORE_INDEX, dloss, DNR, DNC);
  for (int k = 0; k < DNR * DNC; k++)
    {
      float keep = logits[k];
      double up, down, num;

      logits[k] = keep + (float) eps;
      up = vg_dice_forward (logits, targets, VG_IGNORE_INDEX, DNR, DNC);
      logits[k] = keep - (float) eps;
      down = vg_dice_forward (logits, targets, VG_IGNORE_INDEX, DNR, DNC);
      logits[k] = keep;
      num = dloss * (up - down) / (2 * eps);
      max_num = MAX (max_num, fabs (num));
      max_err = MAX (max_err, fabs (num - grad[k]));
    }
  g_test_message ("dice gradient: max |numeric| %.3g, max error %.3g", max_num, max_err);
  g_assert_cmpfloat (max_num, >, 1e-3);
  g_assert_cmpfloat (max_err, <=, tol * max_num);
  for (int c = 0; c < DNC; c++) /* ignored rows have no gradient */
    {
      g_assert_cmpfloat (grad[3 * DNC + c], ==, 0.0f);
      g_assert_cmpfloat (grad[7 * DNC + c], ==, 0.0f);
    }

  /* fused, in place over the logits (as the model calls it) = CE + Dice; the two paths
   * round differently only in float sums of 5 terms: 1e-6 */
  vg_cross_entropy_backward (ce, logits, targets, weights, VG_IGNORE_INDEX, dloss, DNR, DNC);
  memcpy (fused, logits, sizeof fused);
  vg_cross_entropy_dice_backward (fused, fused, targets, weights, VG_IGNORE_INDEX, dloss, DNR,
                                  DNC);
  for (int k = 0; k < DNR * DNC; k++)
    g_assert_cmpfloat_with_epsilon (fused[k], ce[k] + grad[k], 1e-6);
  g_assert_cmpfloat_with_epsilon (
    vg_cross_entropy_dice_forward (logits, targets, weights, VG_IGNORE_INDEX, DNR, DNC),
    vg_cross_entropy_forward (logits, targets, weights, VG_IGNORE_INDEX, DNR, DNC)
      + vg_dice_forward (logits, targets, VG_IGNORE_INDEX, DNR, DNC), 1e-6);
}

/* Batch-sized inputs (several row blocks and chunks, a ragged end, threads on): the
 * cross-entropy, Dice and fused kernels against a double-precision evaluation of their
 * formulas (loss.c, vg-dice.h), forward and backward. present: the Dice over the classes
 * present in the batch, with two classes left out of the targets. */
static void
losses_batch (gboolean present)
{
  enum { NR = 5003, NC = 19 };
  float *logits = g_new (float, NR * NC), *grad = g_new (float, NR * NC);
  float weights[NC];
  uint8_t *targets = g_new (uint8_t, NR);
  double *p = g_new (double, NR * NC);
  double inter[NC] = { 0 }, psum[NC] = { 0 }, ysum[NC] = { 0 }, wsum = 0, ce = 0, dice = 0;
  const double dloss = 1.3;

  for (int i = 0; i < NR * NC; i++)
    logits[i] = (float) (12.0 * rnd () - 6.0);
  for (int c = 0; c < NC; c++)
    weights[c] = (float) (0.05 + rnd ());
  for (int i = 0; i < NR; i++)
    {
      targets[i] = i % 11 == 5 ? VG_IGNORE_INDEX : (uint8_t) (rnd () * NC);
      if (present && (targets[i] == 4 || targets[i] == 13))
        targets[i] = 5;
    }
  targets[NR - 1] = 40; /* >= NC: ignored */
  for (int i = 0; i < NR; i++)
    {
      double s = 0;
      int y = targets[i];
      for (int c = 0; c < NC; c++)
        s += p[i * NC + c] = exp (logits[i * NC + c]);
      for (int c = 0; c < NC; c++)
        p[i * NC + c] /= s;
      if (y >= NC)
        continue;
      for (int c = 0; c < NC; c++)
        psum[c] += p[i * NC + c];
      inter[y] += p[i * NC + y];
      ysum[y] += 1;
      wsum += weights[y];
      ce += weights[y] * (log (s) - logits[i * NC + y]);
    }
  ce /= wsum;
  int k = 0;
  for (int c = 0; c < NC; c++)
    if (!present || ysum[c] > 0)
      {
        dice += (2 * inter[c] + VG_DICE_SMOOTH) / (psum[c] + ysum[c] + VG_DICE_SMOOTH);
        k++;
      }
  g_assert_cmpint (k, ==, present ? NC - 2 : NC);
  dice = 1 - dice / k;

  g_assert_cmpfloat (fabs (vg_cross_entropy_forward (logits, targets, weights, VG_IGNORE_INDEX,
                                                     NR, NC) - ce), <, 1e-5 * ce);
  g_assert_cmpfloat_with_epsilon (
    (present ? vg_dice_present_forward : vg_dice_forward) (logits, targets, VG_IGNORE_INDEX,
                                                           NR, NC),
    dice, 1e-6);

  g_assert_cmpfloat_with_epsilon (
    (present ? vg_cross_entropy_dice_present_forward : vg_cross_entropy_dice_forward) (
      logits, targets, weights, VG_IGNORE_INDEX, NR, NC),
    ce + dice, 1e-5);

  /* the fused backward, in place as the model calls it */
  memcpy (grad, logits, sizeof (float) * NR * NC);
  (present ? vg_cross_entropy_dice_present_backward : vg_cross_entropy_dice_backward) (
    grad, grad, targets, weights, VG_IGNORE_INDEX, (float) dloss, NR, NC);
  double max_ref = 0, max_err = 0;
  for (int i = 0; i < NR; i++)
    {
      int y = targets[i];
      double pg = 0;
      if (y >= NC)
        {
          for (int c = 0; c < NC; c++)
            g_assert_cmpfloat (grad[i * NC + c], ==, 0.0f);
          continue;
        }
      double a[NC], b[NC];
      for (int c = 0; c < NC; c++)
        {
          double den = psum[c] + ysum[c] + VG_DICE_SMOOTH;
          int counted = !present || ysum[c] > 0;
          a[c] = counted ? dloss * (2 * inter[c] + VG_DICE_SMOOTH) / (k * den * den) : 0;
          b[c] = counted ? dloss * 2 / (k * den) : 0;
          pg += p[i * NC + c] * (a[c] - (c == y ? b[c] : 0));
        }
      for (int c = 0; c < NC; c++)
        {
          double pc = p[i * NC + c];
          double ref = pc * (a[c] - (c == y ? b[c] : 0) - pg)
                       + dloss * weights[y] / wsum * (pc - (c == y));
          max_ref = MAX (max_ref, fabs (ref));
          max_err = MAX (max_err, fabs (ref - grad[i * NC + c]));
        }
    }
  g_test_message ("fused loss gradient: max |ref| %.3g, max error %.3g", max_ref, max_err);
  g_assert_cmpfloat (max_err, <, 1e-5 * max_ref);

  /* the plain cross-entropy backward */
  vg_cross_entropy_backward (grad, logits, targets, weights, VG_IGNORE_INDEX, (float) dloss, NR,
                             NC);
  max_ref = max_err = 0;
  for (int i = 0; i < NR; i++)
    for (int c = 0; c < NC; c++)
      {
        int y = targets[i];
        double ref = y >= NC ? 0 : dloss * weights[y] / wsum * (p[i * NC + c] - (c == y));
        max_ref = MAX (max_ref, fabs (ref));
        max_err = MAX (max_err, fabs (ref - grad[i * NC + c]));
      }
  g_assert_cmpfloat (max_err, <, 1e-5 * max_ref);

  g_free (logits), g_free (grad), g_free (targets), g_free (p);
}

VG_TEST ("/train/losses/batch", test_losses_batch)
{
  losses_batch (FALSE);
}

VG_TEST ("/train/losses/batch-present", test_losses_batch_present)
{
  losses_batch (TRUE);
}

VG_TEST_MAIN ()
