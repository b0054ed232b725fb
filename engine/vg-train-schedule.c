/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The schedule of the report's method (Adam, then SGD at halving rates each time patience
 * runs out, every phase annealed by a cosine to a floor, half its rate by default) and its state in
 * checkpoints (see vg-train.h; vg-train-private.h lists the trainer's files). */
#define G_LOG_DOMAIN "visage-train"

#include "config.h"

#include <math.h>
#include <string.h>

#include "vg-train-private.h"

/* ---- the schedule ------------------------------------------------------------------------ */

void
vg_train_state_init (VgTrainState *s, const VgTrainOptions *o)
{
  memset (s, 0, sizeof *s);
  switch (o->optimizer)
    {
    case VG_OPTIMIZER_ADAMW:
      s->optimizer = VG_OPTIMIZER_ADAMW;
      s->phase_lr = o->lr;
      break;
    case VG_OPTIMIZER_SGD:
      s->optimizer = VG_OPTIMIZER_SGD;
      s->phase_lr = o->sgd_lr;
      break;
    case VG_OPTIMIZER_PIPELINE:
    case VG_OPTIMIZER_ADAM:
    default:
      s->optimizer = VG_OPTIMIZER_ADAM;
      s->phase_lr = o->lr;
      break;
    }
  s->best_loss = INFINITY;
  s->best_miou = -1.0;
}

double
vg_cosine_lr (double lr0, double lr_min, int e, int T)
{
  if (T <= 0)
    return lr0;
  e = CLAMP (e, 0, T);
  return lr_min + (lr0 - lr_min) * (1.0 + cos (G_PI * e / T)) / 2.0;
}

double
vg_train_state_lr (const VgTrainState *s, const VgTrainOptions *o)
{
  /* the report: each phase anneals from its rate to half of it (cosine_floor 0.5) */
  return vg_cosine_lr (s->phase_lr, s->phase_lr * o->cosine_floor, s->epoch - s->phase_start,
                       o->cosine_t);
}

VgTrainEvents
vg_train_state_update (VgTrainState *s, const VgTrainOptions *o, double val_loss,
                       double val_miou)
{
  VgTrainEvents ev = 0;

  s->epoch++;
  if (val_loss < s->best_loss) /* FALSE for NaN */
    {
      s->best_loss = val_loss;
      s->best_loss_epoch = s->epoch;
      s->bad_epochs = 0;
      ev |= VG_TRAIN_EVENT_BETTER_LOSS;
    }
  else
    s->bad_epochs++;
  if (val_miou > s->best_miou)
    {
      s->best_miou = val_miou;
      s->best_miou_epoch = s->epoch;
      ev |= VG_TRAIN_EVENT_BETTER_MIOU;
    }
  if (o->select == VG_SELECT_LOSS ? (ev & VG_TRAIN_EVENT_BETTER_LOSS)
                                  : (ev & VG_TRAIN_EVENT_BETTER_MIOU))
    ev |= VG_TRAIN_EVENT_SAVE_BEST;

  if (o->patience > 0 && s->bad_epochs >= o->patience)
    {
      s->bad_epochs = 0;
      if (o->optimizer != VG_OPTIMIZER_PIPELINE)
        {
          /* a single optimiser: patience is early stopping */
          s->finished = TRUE;
          ev |= VG_TRAIN_EVENT_STOP;
        }
      else
        {
          double next = s->phase == 0 ? o->sgd_lr : s->phase_lr / 2.0;

          if (next < o->sgd_min_lr)
            {
              s->finished = TRUE;
              ev |= VG_TRAIN_EVENT_STOP;
            }
          else
            {
              ev |= VG_TRAIN_EVENT_RELOAD_BEST
                    | (s->phase == 0 ? VG_TRAIN_EVENT_SWITCH_SGD : VG_TRAIN_EVENT_HALVE_LR);
              s->phase++;
              s->phase_lr = next;
              s->phase_start = s->epoch;
              s->optimizer = VG_OPTIMIZER_SGD;
              s->steps = 0;
            }
        }
    }
  return ev;
}

void
vg_train_state_to_pairs (const VgTrainState *s, GPtrArray *pairs)
{
#define ADD(k, v) (g_ptr_array_add (pairs, g_strdup (META_PREFIX k)), g_ptr_array_add (pairs, v))
  ADD ("state.epoch", g_strdup_printf ("%d", s->epoch));
  ADD ("state.phase", g_strdup_printf ("%d", s->phase));
  ADD ("state.phase_start", g_strdup_printf ("%d", s->phase_start));
  ADD ("state.phase_lr", vg_train_format_double (s->phase_lr));
  ADD ("state.optimizer", g_strdup (vg_optimizer_kind_name (s->optimizer)));
  ADD ("state.steps", g_strdup_printf ("%" G_GINT64_FORMAT, s->steps));
  ADD ("state.bad_epochs", g_strdup_printf ("%d", s->bad_epochs));
  ADD ("state.best_loss", vg_train_format_double (s->best_loss));
  ADD ("state.best_loss_epoch", g_strdup_printf ("%d", s->best_loss_epoch));
  ADD ("state.best_miou", vg_train_format_double (s->best_miou));
  ADD ("state.best_miou_epoch", g_strdup_printf ("%d", s->best_miou_epoch));
  ADD ("state.finished", g_strdup (s->finished ? "1" : "0"));
  ADD ("state.epoch_step", g_strdup_printf ("%d", s->epoch_step));
  ADD ("state.epoch_loss_sum", vg_train_format_double (s->epoch_loss_sum));
  ADD ("state.cpu_seconds", vg_train_format_double (s->cpu_seconds));
#undef ADD
}

/* An integer of the metadata within [min, max]. */
static gboolean
meta_int_in (const VgSafetensors *st, const char *path, const char *key, int64_t min,
             int64_t max, int64_t *out, GError **error)
{
  if (!vg_train_meta_int (st, path, key, out, error))
    return FALSE;
  if (*out < min || *out > max)
    return vg_train_checkpoint_error (error, path, "“%s” is %" G_GINT64_FORMAT ", outside %"
                                      G_GINT64_FORMAT "..%" G_GINT64_FORMAT, key, *out, min, max);
  return TRUE;
}

/* The starting rate of the schedule's phase for the run's options; 0 where the options
 * have no such phase. */
static double
phase_rate (const VgTrainOptions *o, int64_t phase)
{
  double rate;

  if (phase == 0)
    return o->optimizer == VG_OPTIMIZER_SGD ? o->sgd_lr : o->lr;
  if (o->optimizer != VG_OPTIMIZER_PIPELINE)
    return 0.0;
  rate = o->sgd_lr;
  for (int64_t k = 1; k < phase && rate >= o->sgd_min_lr; k++)
    rate /= 2.0;
  return rate >= o->sgd_min_lr ? rate : 0.0;
}

/* The schedule's state from a checkpoint of the run with options o: every field within its
 * range and consistent with the options and the others, so that an edited or damaged
 * checkpoint is refused rather than trained on. */
gboolean
vg_train_state_from_metadata (VgTrainState *s, const VgTrainOptions *o, const VgSafetensors *st,
                              const char *path, GError **error)
{
  const char *text;
  int64_t v;
  VgOptimizerKind expected;

  memset (s, 0, sizeof *s);
#define INT(field, min, max)                                                         \
  if (!meta_int_in (st, path, META_PREFIX "state." #field, (min), (max), &v, error)) \
    return FALSE;                                                                    \
  s->field = v;
  INT (epoch, 0, VG_TRAIN_MAX_EPOCHS);
  INT (phase, 0, VG_TRAIN_MAX_EPOCHS);
  INT (phase_start, 0, s->epoch);
  INT (steps, 0, (int64_t) 1 << 52);
  INT (bad_epochs, 0, s->epoch - s->phase_start);
  INT (best_loss_epoch, 0, s->epoch);
  INT (best_miou_epoch, 0, s->epoch);
  INT (finished, 0, 1);
#undef INT
  if (!vg_train_meta_double (st, path, META_PREFIX "state.phase_lr", &s->phase_lr, error)
      || !vg_train_meta_double (st, path, META_PREFIX "state.best_loss", &s->best_loss, error)
      || !vg_train_meta_double (st, path, META_PREFIX "state.best_miou", &s->best_miou, error))
    return FALSE;
  if ((text = vg_train_meta_get (st, path, META_PREFIX "state.optimizer", error)) == NULL)
    return FALSE;
  if (!vg_optimizer_kind_from_name (&s->optimizer, text, error))
    return vg_train_meta_refused (error, path, META_PREFIX "state.optimizer");
  /* Checkpoints from before mid-epoch checkpoints have neither: an epoch's end. */
  if (vg_safetensors_metadata (st, META_PREFIX "state.epoch_step") != NULL)
    {
      if (!meta_int_in (st, path, META_PREFIX "state.epoch_step", 0, G_MAXINT, &v, error)
          || !vg_train_meta_double (st, path, META_PREFIX "state.epoch_loss_sum",
                                    &s->epoch_loss_sum, error))
        return FALSE;
      s->epoch_step = (int) v;
      if (!isfinite (s->epoch_loss_sum) || s->epoch_loss_sum < 0.0
          || (s->epoch_step == 0 && s->epoch_loss_sum != 0.0))
        return vg_train_checkpoint_error (error, path, "“%sstate.epoch_loss_sum” is %g at "
                                          "step %d", META_PREFIX, s->epoch_loss_sum,
                                          s->epoch_step);
    }

  /* Checkpoints from before the CPU time was kept have none: 0. */
  if (vg_safetensors_metadata (st, META_PREFIX "state.cpu_seconds") != NULL)
    {
      if (!vg_train_meta_double (st, path, META_PREFIX "state.cpu_seconds", &s->cpu_seconds,
                                 error))
        return FALSE;
      if (!isfinite (s->cpu_seconds) || s->cpu_seconds < 0.0)
        return vg_train_checkpoint_error (error, path, "“%sstate.cpu_seconds” is %g",
                                          META_PREFIX, s->cpu_seconds);
    }

  /* the phase, its optimiser and its rate follow from the options */
  if (phase_rate (o, s->phase) == 0.0)
    return vg_train_checkpoint_error (error, path, "“%sstate.phase” is %d, which a run with "
                                      "these options never reaches", META_PREFIX, s->phase);
  if (!(fabs (s->phase_lr - phase_rate (o, s->phase)) <= 1e-9 * phase_rate (o, s->phase)))
    return vg_train_checkpoint_error (error, path, "“%sstate.phase_lr” is %g, not the rate "
                                      "%g of phase %d", META_PREFIX, s->phase_lr,
                                      phase_rate (o, s->phase), s->phase);
  expected = o->optimizer != VG_OPTIMIZER_PIPELINE ? o->optimizer
             : s->phase == 0                      ? VG_OPTIMIZER_ADAM
                                                  : VG_OPTIMIZER_SGD;
  if (s->optimizer != expected)
    return vg_train_checkpoint_error (error, path, "“%sstate.optimizer” is %s in phase %d "
                                      "(the run's optimiser: %s)", META_PREFIX,
                                      vg_optimizer_kind_name (s->optimizer), s->phase,
                                      vg_optimizer_kind_name (o->optimizer));

  /* the bests: none yet (infinite loss, mIoU -1) before their first epoch */
  if (s->best_loss_epoch == 0 ? s->best_loss != INFINITY
                              : !(isfinite (s->best_loss) && s->best_loss >= 0.0))
    return vg_train_checkpoint_error (error, path, "“%sstate.best_loss” is %g at epoch %d",
                                      META_PREFIX, s->best_loss, s->best_loss_epoch);
  if (s->best_miou_epoch == 0 ? s->best_miou != -1.0
                              : !(s->best_miou >= 0.0 && s->best_miou <= 1.0))
    return vg_train_checkpoint_error (error, path, "“%sstate.best_miou” is %g at epoch %d",
                                      META_PREFIX, s->best_miou, s->best_miou_epoch);
  return TRUE;
}
