/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Data-parallel training (VgTrainOptions.distributed): the trainer's part that talks to the
 * other ranks through vg-dist.h.
 *
 * The equivalence with one process: a global batch of B = --batch samples is split into
 * n_ranks shards of B / n_ranks consecutive rows (the loader's shards, in the one epoch
 * order and with each sample's own augmentation). The loss of the global batch is the
 * weighted cross-entropy L = sum_i w_i l_i / W over all its pixels, W = sum_i w_i. Rank r
 * computes L_r = sum_{i in r} w_i l_i / W_r, so L = sum_r (W_r / W) L_r: the ranks sum
 * (W_r L_r, W_r), and each runs its backward with the loss's gradient scaled by W_r / W
 * (vg_model_backward_scaled). BatchNorm is synchronised (vg_model_set_sync): its batch
 * statistics and the two sums of its backward are over the global batch, so every
 * activation gradient is that of L, and the parameter gradients, summed over the ranks
 * (vg_dist_sum_floats), are the gradient of L that one process computes on the whole batch,
 * up to the order of the float sums. One identical optimiser step follows on every rank.
 * A Dice term is over the whole batch as well: then the loss itself sums its class sums and
 * the cross-entropy's numerator and weight total over the ranks (vg_model_loss_global), its
 * forward returns L and its backward needs no scaling.
 *
 * Validation: each rank evaluates its contiguous shard of the validation split
 * (vg_split_shard); the confusion matrices (integers: exact) and the loss's numerator and
 * denominator are summed.
 *
 * Only rank 0 writes files (vg-train-checkpoint.c); the checkpoint does not depend on the
 * number of ranks (the batch is the global one), so a run resumes with any number. At the
 * start and after every epoch rank 0's weights, optimiser state, best weights and moving
 * average are broadcast, so that the ranks cannot drift apart even if an all-reduce were
 * to round differently on different ranks.
 *
 * Failures: the ranks agree that each has set up the run before its first collective
 * (vg_dist_all), and a diverged loss is the global batch's, so both end every rank in step;
 * any other failure of one rank is ended by the program (vg_dist_abort). */
#define G_LOG_DOMAIN "visage-train"

#include "config.h"

#include "vg-dist.h"
#include "vg-metrics.h"
#include "vg-nn.h"
#include "vg-train-private.h"

gboolean
vg_train_dist_setup (Trainer *t, GError **error)
{
  t->rank = 0;
  t->n_ranks = 1;
  if (!t->o.distributed)
    return TRUE;
  if (!vg_dist_active ())
    {
      g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID,
                   "distributed training needs MPI started first (vg_dist_init): run "
                   "visage-cli train --distributed under mpirun");
      return FALSE;
    }
  t->rank = vg_dist_rank ();
  t->n_ranks = vg_dist_size ();
  if (t->o.batch % t->n_ranks != 0)
    {
      g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID,
                   "the batch (%d) must be a multiple of the number of ranks (%d): each rank "
                   "takes an equal shard of every batch", t->o.batch, t->n_ranks);
      return FALSE;
    }
  if (t->be->dist_init == NULL || t->be->dist_sum == NULL || t->be->dist_broadcast == NULL)
    {
      g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID,
                   "distributed training on the %s backend needs NCCL, which this build "
                   "lacks: use --device cpu, or build with NCCL", t->be->name);
      return FALSE;
    }
  return TRUE;
}

gboolean
vg_train_dist_setup_model (Trainer *t, GError **error)
{
  return !t->o.distributed || vg_model_set_sync (t->model, TRUE, error);
}

gboolean
vg_train_dist_start (Trainer *t, const VgTrainOptions *opts, gboolean ok, GError **error)
{
  if (!opts->distributed || vg_dist_size () <= 1)
    return ok;
  /* Most set-up errors (options, data, output folder) are met by every rank alike; those
   * that are not would leave the others waiting in the first collective. */
  if (!vg_dist_all (ok))
    {
      if (ok)
        g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID,
                     "another rank could not set up the run (its error says why)");
      return FALSE;
    }
  /* the devices join (NCCL's communicator on CUDA), every rank at once; a failure there is
   * agreed on too */
  ok = t->be->dist_init (error);
  if (!vg_dist_all (ok))
    {
      if (ok)
        g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID,
                     "another rank could not join the run's devices (its error says why)");
      return FALSE;
    }
  vg_train_dist_share (t);
  return TRUE;
}

/* Everything that must be the same on every rank, as rank 0 has it (the preprocessing and
 * the class weights are: they come from the same statistics or checkpoint everywhere). */
void
vg_train_dist_share (Trainer *t)
{
  if (t->n_ranks <= 1)
    return;
  const VgBackend *be = t->be;

  be->dist_broadcast (vg_model_params (t->model), t->n_params * sizeof (float));
  for (int i = 0; i < t->n_specs; i++)
    if (t->specs[i].kind == VG_TENSOR_BUFFER)
      {
        size_t numel = 0;
        float *buffer = vg_model_tensor (t->model, t->specs[i].name, FALSE, &numel);

        be->dist_broadcast (buffer, numel * sizeof (float));
      }
  be->dist_broadcast (t->m, t->n_params * sizeof (float));
  be->dist_broadcast (t->v, t->n_params * sizeof (float));
  be->dist_broadcast (t->best, t->n_state * sizeof (float));
  if (t->ema != NULL)
    be->dist_broadcast (t->ema, t->n_params * sizeof (float));
  vg_dist_broadcast (&t->state, sizeof t->state, 0); /* host memory */
}

double
vg_train_dist_weight (Trainer *t, const uint8_t *masks, int n)
{
  const float *weights = vg_train_loss_is_weighted (t->o.loss) ? t->class_weights : NULL;

  return vg_cross_entropy_weight_total (masks, weights, VG_IGNORE_INDEX,
                                        (int) (n * t->image_pixels), VG_NUM_CLASSES);
}

float
vg_train_dist_loss (Trainer *t, float loss, double w, float *dloss)
{
  double sums[2] = { w * loss, w };

  vg_dist_sum_doubles (sums, 2);
  /* all pixels ignored everywhere: loss and gradient 0, as the loss itself does */
  *dloss = sums[1] > 0.0 ? (float) (w / sums[1]) : 0.0f;
  return sums[1] > 0.0 ? (float) (sums[0] / sums[1]) : 0.0f;
}

void
vg_train_dist_sum_grads (Trainer *t)
{
  t->be->dist_sum (vg_model_grads (t->model), t->n_params, FALSE);
}

void
vg_train_dist_merge_eval (Trainer *t, VgEvalResult *result)
{
  double loss[2] = { result->loss * result->loss_weight, result->loss_weight };

  if (t->n_ranks <= 1)
    return;
  vg_dist_sum_doubles (loss, 2);
  vg_dist_sum_uint64 (&result->confusion.counts[0][0],
                      (size_t) VG_NUM_CLASSES * VG_NUM_CLASSES);
  result->loss = loss[1] > 0.0 ? loss[0] / loss[1] : 0.0;
  result->loss_weight = loss[1];
}
