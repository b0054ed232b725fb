/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What every architecture shares (vg-model-private.h): construction from the parameter
 * table, the memory plan, initialisation, the loss around the architecture's forward and
 * backward, synchronised BatchNorm.
 *
 * Gradient rule: parameter gradients accumulate (+=); activation gradients overwrite (=),
 * and the architectures add residual and multi-consumer paths themselves. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "vg-model-private.h"

G_DEFINE_QUARK (vg-model-error-quark, vg_model_error)

/* ---- the memory plan --------------------------------------------------------------- */

typedef struct {
  float **ptr;
  size_t floats;
} VgPlanEntry;

void
vg_plan_init (VgPlan *plan)
{
  plan->entries = g_array_new (FALSE, FALSE, sizeof (VgPlanEntry));
  plan->total = 0;
}

void
vg_plan_add (VgPlan *plan, float **ptr, size_t n)
{
  VgPlanEntry e = { ptr, (n + 15) & ~(size_t) 15 };

  g_array_append_val (plan->entries, e);
  plan->total += e.floats;
}

float *
vg_plan_commit (VgPlan *plan, const VgBackend *be, GError **error)
{
  float *block = be->alloc (MAX (plan->total, 16) * sizeof (float), error);
  size_t offset = 0;

  if (block != NULL)
    {
      be->zero (block, MAX (plan->total, 16) * sizeof (float));
      for (guint i = 0; i < plan->entries->len; i++)
        {
          VgPlanEntry *e = &g_array_index (plan->entries, VgPlanEntry, i);
          *e->ptr = block + offset;
          offset += e->floats;
        }
    }
  g_array_free (plan->entries, TRUE);
  plan->entries = NULL;
  return block;
}

/* ---- binding ------------------------------------------------------------------------- */

static gboolean
lookup (VgModel *m, const char *name, VgParamSpec **spec, size_t *offset)
{
  gpointer v = g_hash_table_lookup (m->by_name, name);

  if (v == NULL)
    return FALSE;
  *spec = &m->specs[GPOINTER_TO_INT (v) - 1];
  *offset = m->spec_offset[GPOINTER_TO_INT (v) - 1];
  return TRUE;
}

static void
bind_one (VgModel *m, float **w, float **g, const char *prefix, const char *suffix)
{
  g_autofree char *name = g_strdup_printf ("%s.%s", prefix, suffix);
  VgParamSpec *spec;
  size_t offset;

  if (!lookup (m, name, &spec, &offset))
    g_error ("model binding: no tensor %s in the parameter table", name);
  *w = m->params + offset;
  *g = m->grads + offset;
}

void
vg_model_bind_wb (VgModel *m, VgWB *w, VgWB *g, gboolean bias, const char *fmt, ...)
{
  g_autofree char *prefix = NULL;
  va_list ap;

  va_start (ap, fmt);
  prefix = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  bind_one (m, &w->w, &g->w, prefix, "weight");
  w->b = g->b = NULL;
  if (bias)
    bind_one (m, &w->b, &g->b, prefix, "bias");
}

void
vg_model_bind_bn (VgModel *m, VgBatchNormW *w, VgBatchNormW *g, const char *prefix)
{
  const char *stats[2] = { "running_mean", "running_var" };
  float **sp[2] = { &w->running_mean, &w->running_var };
  g_autofree char *count_name = g_strdup_printf ("%s.num_batches_tracked", prefix);
  VgParamSpec *spec;
  size_t offset;

  vg_model_bind_wb (m, &w->affine, &g->affine, TRUE, "%s", prefix);
  for (int i = 0; i < 2; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s.%s", prefix, stats[i]);
      if (!lookup (m, name, &spec, &offset))
        g_error ("model binding: no tensor %s in the parameter table", name);
      *sp[i] = m->buffers + offset;
    }
  if (!lookup (m, count_name, &spec, &offset))
    g_error ("model binding: no tensor %s in the parameter table", count_name);
  w->count = &m->counters[offset];
  g->running_mean = g->running_var = NULL;
  g->count = NULL;
}

/* ---- construction -------------------------------------------------------------------- */

static gboolean init_weights (VgModel *m, uint64_t seed, GError **error);

VgModel *
vg_model_new (const VgConfig *cfg, const VgBackend *be, GError **error)
{
  g_autoptr (VgModel) m = NULL;

  if (!vg_config_validate (cfg, error))
    return NULL;

  m = g_new0 (VgModel, 1);
  m->cfg = *cfg;
  m->be = be;
  m->arch = vg_arch_get (cfg->arch);
  m->n_specs = vg_config_param_specs (cfg, NULL, 0);
  m->specs = g_new0 (VgParamSpec, m->n_specs);
  vg_config_param_specs (cfg, m->specs, m->n_specs);
  m->spec_offset = g_new0 (size_t, m->n_specs);
  m->by_name = g_hash_table_new (g_str_hash, g_str_equal);

  /* Offsets in spec (state_dict) order within each block: the flat parameter block is
   * exactly the concatenation of the trainable tensors. */
  for (int i = 0; i < m->n_specs; i++)
    {
      VgParamSpec *spec = &m->specs[i];
      switch (spec->kind)
        {
        case VG_TENSOR_PARAM:
          m->spec_offset[i] = m->n_params;
          m->n_params += spec->numel;
          break;
        case VG_TENSOR_BUFFER:
          m->spec_offset[i] = m->n_buffers;
          m->n_buffers += spec->numel;
          m->max_bn_channels = MAX (m->max_bn_channels, (int) spec->numel);
          break;
        case VG_TENSOR_COUNTER:
          m->spec_offset[i] = m->n_counters++;
          break;
        }
      g_hash_table_insert (m->by_name, spec->name, GINT_TO_POINTER (i + 1));
    }
  m->counters = g_new0 (int64_t, MAX (m->n_counters, 1));

  m->params = be->alloc (m->n_params * sizeof (float), error);
  if (m->params == NULL)
    return NULL;
  m->grads = be->alloc (m->n_params * sizeof (float), error);
  if (m->grads == NULL)
    return NULL;
  m->buffers = be->alloc (MAX (m->n_buffers, 1) * sizeof (float), error);
  if (m->buffers == NULL)
    return NULL;
  m->class_weights = be->alloc (cfg->num_classes * sizeof (float), error);
  if (m->class_weights == NULL)
    return NULL;
  be->zero (m->grads, m->n_params * sizeof (float));
  m->loss_forward = be->cross_entropy_forward;
  m->loss_backward = be->cross_entropy_backward;
  m->dropout_seed = 0x5eed;

  if (!m->arch->bind (m, error) || !init_weights (m, 0, error))
    return NULL;
  return g_steal_pointer (&m);
}

void
vg_model_free (VgModel *m)
{
  if (m == NULL)
    return;
  if (m->arch != NULL)
    {
      m->arch->unplan (m);
      m->arch->free (m);
    }
  if (m->be != NULL)
    {
      m->be->free (m->params);
      m->be->free (m->grads);
      m->be->free (m->buffers);
      m->be->free (m->class_weights);
      m->be->free (m->act_block);
    }
  if (m->be != NULL && m->sync_sums != NULL)
    m->be->free (m->sync_sums);
  g_clear_pointer (&m->by_name, g_hash_table_unref);
  g_free (m->specs);
  g_free (m->spec_offset);
  g_free (m->counters);
  g_free (m);
}

const VgConfig *
vg_model_config (const VgModel *m)
{
  return &m->cfg;
}

const VgBackend *
vg_model_backend (const VgModel *m)
{
  return m->be;
}

float *
vg_model_params (VgModel *m)
{
  return m->params;
}

float *
vg_model_grads (VgModel *m)
{
  return m->grads;
}

size_t
vg_model_num_params (const VgModel *m)
{
  return m->n_params;
}

const float *
vg_model_logits (const VgModel *m)
{
  return m->logits;
}

void
vg_model_set_dropout_seed (VgModel *m, uint64_t seed)
{
  m->dropout_seed = seed;
}

int64_t
vg_model_batches_tracked (const VgModel *m)
{
  return m->n_counters > 0 ? m->counters[0] : 0;
}

const float *
vg_model_activation (const VgModel *m, const char *name)
{
  if (m->act_block == NULL || name == NULL)
    return NULL;
  return m->arch->activation (m, name);
}

float *
vg_model_tensor (VgModel *m, const char *name, gboolean grad, size_t *numel)
{
  VgParamSpec *spec;
  size_t offset;

  if (!lookup (m, name, &spec, &offset))
    return NULL;
  if (numel != NULL)
    *numel = spec->numel;
  switch (spec->kind)
    {
    case VG_TENSOR_PARAM:
      return (grad ? m->grads : m->params) + offset;
    case VG_TENSOR_BUFFER:
      return grad ? NULL : m->buffers + offset;
    case VG_TENSOR_COUNTER:
    default:
      return NULL;
    }
}

void
vg_model_zero_grad (VgModel *m)
{
  m->be->zero (m->grads, m->n_params * sizeof (float));
}

void
vg_model_set_class_weights (VgModel *m, const float *weights)
{
  m->have_class_weights = weights != NULL;
  if (weights != NULL)
    m->be->upload (m->class_weights, weights, m->cfg.num_classes * sizeof (float));
}

gboolean
vg_model_loss_supported (const VgBackend *be, VgModelLoss loss)
{
  switch (loss)
    {
    case VG_MODEL_LOSS_CROSS_ENTROPY:
      return TRUE;
    case VG_MODEL_LOSS_CROSS_ENTROPY_DICE:
      return be->cross_entropy_dice_forward != NULL && be->cross_entropy_dice_backward != NULL;
    case VG_MODEL_LOSS_CROSS_ENTROPY_DICE_PRESENT:
      return be->cross_entropy_dice_present_forward != NULL
             && be->cross_entropy_dice_present_backward != NULL;
    case VG_MODEL_LOSS_CROSS_ENTROPY_LOVASZ:
      return be->cross_entropy_lovasz_forward != NULL
             && be->cross_entropy_lovasz_backward != NULL;
    default:
      return FALSE;
    }
}

/* Whether be has loss for a batch split over the ranks. */
static gboolean
dist_loss_supported (const VgBackend *be, VgModelLoss loss)
{
  switch (loss)
    {
    case VG_MODEL_LOSS_CROSS_ENTROPY:
      return TRUE; /* the trainer weights each rank's part (vg_model_backward_scaled) */
    case VG_MODEL_LOSS_CROSS_ENTROPY_DICE:
      return be->cross_entropy_dice_dist_forward != NULL
             && be->cross_entropy_dice_dist_backward != NULL;
    case VG_MODEL_LOSS_CROSS_ENTROPY_DICE_PRESENT:
      return be->cross_entropy_dice_present_dist_forward != NULL
             && be->cross_entropy_dice_present_dist_backward != NULL;
    case VG_MODEL_LOSS_CROSS_ENTROPY_LOVASZ:
      return be->cross_entropy_lovasz_dist_forward != NULL
             && be->cross_entropy_lovasz_dist_backward != NULL;
    default:
      return FALSE;
    }
}

/* The backend's entries for the model's loss, the Dice terms' global-batch ones when
 * synchronised. */
static void
pick_loss (VgModel *m)
{
  const VgBackend *be = m->be;
  gboolean dist = m->sync_sums != NULL;

  switch (m->loss)
    {
    case VG_MODEL_LOSS_CROSS_ENTROPY_DICE:
      m->loss_forward = dist ? be->cross_entropy_dice_dist_forward
                             : be->cross_entropy_dice_forward;
      m->loss_backward = dist ? be->cross_entropy_dice_dist_backward
                              : be->cross_entropy_dice_backward;
      break;
    case VG_MODEL_LOSS_CROSS_ENTROPY_DICE_PRESENT:
      m->loss_forward = dist ? be->cross_entropy_dice_present_dist_forward
                             : be->cross_entropy_dice_present_forward;
      m->loss_backward = dist ? be->cross_entropy_dice_present_dist_backward
                              : be->cross_entropy_dice_present_backward;
      break;
    case VG_MODEL_LOSS_CROSS_ENTROPY_LOVASZ:
      m->loss_forward = dist ? be->cross_entropy_lovasz_dist_forward
                             : be->cross_entropy_lovasz_forward;
      m->loss_backward = dist ? be->cross_entropy_lovasz_dist_backward
                              : be->cross_entropy_lovasz_backward;
      break;
    case VG_MODEL_LOSS_CROSS_ENTROPY:
    default:
      m->loss_forward = be->cross_entropy_forward;
      m->loss_backward = be->cross_entropy_backward;
      break;
    }
}

gboolean
vg_model_loss_global (const VgModel *m)
{
  return m->sync_sums != NULL && m->loss != VG_MODEL_LOSS_CROSS_ENTROPY;
}

gboolean
vg_model_set_loss (VgModel *m, VgModelLoss loss, GError **error)
{
  const VgBackend *be = m->be;

  if (!vg_model_loss_supported (be, loss))
    {
      g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                   "the backend %s does not implement this loss (cross-entropy + %s)",
                   be->name, loss == VG_MODEL_LOSS_CROSS_ENTROPY_LOVASZ ? "Lovász" : "Dice");
      return FALSE;
    }
  if (m->sync_sums != NULL && !dist_loss_supported (be, loss))
    {
      g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                   "the backend %s does not implement this loss over several ranks (a Dice "
                   "or Lovász term is over the whole batch)", be->name);
      return FALSE;
    }
  m->loss = loss;
  pick_loss (m);
  return TRUE;
}

/* ---- initialisation -------------------------------------------------------------------- */

static uint64_t
rng_next (VgInitRng *r)
{
  uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double
vg_init_rng_uniform (VgInitRng *r)
{
  return ((rng_next (r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double
vg_init_rng_normal (VgInitRng *r)
{
  double u, v;

  if (r->have_spare)
    {
      r->have_spare = FALSE;
      return r->spare;
    }
  u = vg_init_rng_uniform (r);
  v = vg_init_rng_uniform (r);
  r->spare = sqrt (-2 * log (u)) * sin (2 * G_PI * v);
  r->have_spare = TRUE;
  return sqrt (-2 * log (u)) * cos (2 * G_PI * v);
}

VgInitRng
vg_init_rng_for (uint64_t seed, const char *tensor_name)
{
  VgInitRng rng = { seed ^ g_str_hash (tensor_name) * 0x2545f4914f6cdd1dull, FALSE, 0 };

  return rng;
}

/* vg_model_init, with an error when there is no memory for the host copy. */
static gboolean
init_weights (VgModel *m, uint64_t seed, GError **error)
{
  g_autofree float *host = g_try_new0 (float, MAX (m->n_params, 1));
  g_autofree float *host_buf = g_try_new0 (float, MAX (m->n_buffers, 1));

  if (host == NULL || host_buf == NULL)
    {
      g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                   "out of memory initialising %zu parameters", m->n_params);
      return FALSE;
    }
  for (int i = 0; i < m->n_specs; i++)
    {
      const VgParamSpec *spec = &m->specs[i];
      const char *leaf = strrchr (spec->name, '.') + 1;
      float value = strcmp (leaf, "running_var") == 0 ? 1.0f : 0.0f;

      if (spec->kind == VG_TENSOR_COUNTER)
        m->counters[m->spec_offset[i]] = 0;
      else if (spec->kind == VG_TENSOR_BUFFER)
        for (size_t k = 0; k < spec->numel; k++)
          host_buf[m->spec_offset[i] + k] = value;
    }
  m->arch->init (m, host, seed);
  m->be->upload (m->params, host, m->n_params * sizeof (float));
  m->be->upload (m->buffers, host_buf, MAX (m->n_buffers, 1) * sizeof (float));
  return TRUE;
}

void
vg_model_init (VgModel *m, uint64_t seed)
{
  g_autoptr (GError) error = NULL;

  /* After vg_model_new succeeded (which initialised once already), this fails only when
   * memory ran out since; the weights then stay as they were. */
  if (!init_weights (m, seed, &error))
    g_critical ("%s", error->message);
}

/* ---- activation plan ----------------------------------------------------------------- */

gboolean
vg_model_reserve (VgModel *m, int B, int H, int W, gboolean training, GError **error)
{
  VgPlan plan;

  if (B <= 0 || H <= 0 || W <= 0 || H % 32 != 0 || W % 32 != 0)
    {
      g_set_error (error, VG_MODEL_ERROR, 0,
                   "input size %dx%d (batch %d) is not supported: height and width must be "
                   "positive multiples of 32", W, H, B);
      return FALSE;
    }

  m->be->free (m->act_block);
  m->act_block = NULL;
  m->arch->unplan (m);
  m->logits = m->dlogits = NULL;
  m->B = B;
  m->H = H;
  m->W = W;
  m->training_reserved = training;
  vg_plan_init (&plan);
  m->arch->plan (m, &plan, training);
  m->act_floats = plan.total;
  m->act_block = vg_plan_commit (&plan, m->be, error);
  if (m->act_block == NULL)
    {
      m->arch->unplan (m);
      m->logits = m->dlogits = NULL;
      m->B = 0;
      g_prefix_error (error, "cannot reserve activations for batch %d at %dx%d: ", B, W, H);
      return FALSE;
    }
  m->arch->planned (m);
  return TRUE;
}

size_t
vg_model_memory_bytes (const VgModel *m)
{
  return (2 * m->n_params + m->n_buffers + m->act_floats + m->cfg.num_classes) * sizeof (float);
}

/* ---- the passes around the architecture's ------------------------------------------- */

/* The architecture's forward and what the backward needs to know of it. */
static void
arch_forward (VgModel *m, const float *images, const uint8_t *targets, int B,
              gboolean training)
{
  m->arch->forward (m, images, B, training);
  if (training)
    {
      /* the next seed: splitmix64's step, so that every forward draws a new mask */
      VgInitRng r = { m->dropout_seed, FALSE, 0 };

      m->dropout_seed = rng_next (&r);
    }
  m->last_B = B;
  m->last_images = images;
  m->last_targets = training ? targets : NULL;
  m->last_loss = 0.0f;
}

float
vg_model_forward (VgModel *m, const float *images, const uint8_t *targets, int B,
                  gboolean training)
{
  g_return_val_if_fail (B > 0 && B <= m->B, 0.0f);
  g_return_val_if_fail (!training || m->training_reserved, 0.0f);

  arch_forward (m, images, targets, B, training);
  if (targets != NULL)
    m->last_loss = m->loss_forward (m->logits, targets,
                                    m->have_class_weights ? m->class_weights : NULL,
                                    VG_IGNORE_INDEX, B * m->H * m->W, m->cfg.num_classes);
  return m->last_loss;
}

float
vg_model_forward_backward (VgModel *m, const float *images, const uint8_t *targets, int B)
{
  const VgBackend *be = m->be;
  float loss;

  g_return_val_if_fail (B > 0 && B <= m->B && targets != NULL, 0.0f);
  g_return_val_if_fail (m->training_reserved, 0.0f);

  if (m->loss != VG_MODEL_LOSS_CROSS_ENTROPY || be->cross_entropy_forward_backward == NULL)
    {
      loss = vg_model_forward (m, images, targets, B, TRUE);
      if (isfinite (loss))
        vg_model_backward (m);
      return loss;
    }
  arch_forward (m, images, targets, B, TRUE);
  loss = be->cross_entropy_forward_backward (m->dlogits, m->logits, targets,
                                             m->have_class_weights ? m->class_weights : NULL,
                                             VG_IGNORE_INDEX, 1.0f, B * m->H * m->W,
                                             m->cfg.num_classes);
  m->last_loss = loss;
  if (isfinite (loss))
    m->arch->backward (m, B);
  return loss;
}

void
vg_model_backward (VgModel *m)
{
  vg_model_backward_scaled (m, 1.0f);
}

void
vg_model_backward_scaled (VgModel *m, float dloss)
{
  const int B = m->last_B;

  g_return_if_fail (m->training_reserved && m->last_targets != NULL);
  m->loss_backward (m->dlogits, m->logits, m->last_targets,
                    m->have_class_weights ? m->class_weights : NULL, VG_IGNORE_INDEX, dloss,
                    B * m->H * m->W, m->cfg.num_classes);
  m->arch->backward (m, B);
}

/* ---- BatchNorm, synchronised over the processes when the model is --------------------- */

void
vg_model_batchnorm_forward (VgModel *m, float *out, float *mean, float *rstd,
                            const float *inp, const VgBatchNormW *bn, int Nr, int C,
                            gboolean training)
{
  const VgBackend *be = m->be;

  if (training && m->sync_sums != NULL)
    {
      /* synchronised: the global batch's statistics, around the running mean (the same on
       * every process, and near the batch mean once training has begun) */
      be->batchnorm_sums (m->sync_sums, inp, bn->running_mean, Nr, C);
      be->dist_sum (m->sync_sums, 2 * (size_t) C + 1, TRUE);
      be->batchnorm_stats (mean, rstd, bn->running_mean, bn->running_var, m->sync_sums,
                           bn->running_mean, m->cfg.bn_eps, m->cfg.bn_momentum, C);
      be->batchnorm_normalize (out, inp, mean, rstd, bn->affine.w, bn->affine.b, Nr, C);
      (*bn->count)++;
    }
  else if (training)
    {
      be->batchnorm_forward_train (out, mean, rstd, bn->running_mean, bn->running_var, inp,
                                   bn->affine.w, bn->affine.b, m->cfg.bn_eps,
                                   m->cfg.bn_momentum, Nr, C);
      (*bn->count)++;
    }
  else
    be->batchnorm_forward_eval (out, inp, bn->affine.w, bn->affine.b, bn->running_mean,
                                bn->running_var, m->cfg.bn_eps, Nr, C);
}

void
vg_model_batchnorm_backward (VgModel *m, float *dinp, const float *dout, const float *inp,
                             const float *mean, const float *rstd, const VgBatchNormW *w,
                             const VgBatchNormW *g, int Nr, int C)
{
  const VgBackend *be = m->be;

  if (m->sync_sums == NULL)
    {
      be->batchnorm_backward (dinp, g->affine.w, g->affine.b, dout, inp, w->affine.w, mean,
                              rstd, Nr, C);
      return;
    }
  /* synchronised: this process's part of the parameter gradients (the trainer sums those
   * over the processes), the global batch's sums for the input gradient */
  be->batchnorm_backward_sums (m->sync_sums, g->affine.w, g->affine.b, dout, inp, mean, rstd,
                               Nr, C);
  be->dist_sum (m->sync_sums, 2 * (size_t) C + 1, TRUE);
  be->batchnorm_backward_dinp (dinp, dout, inp, w->affine.w, mean, rstd, m->sync_sums, Nr, C);
}

gboolean
vg_model_set_sync (VgModel *m, gboolean sync, GError **error)
{
  const VgBackend *be = m->be;

  if (m->sync_sums != NULL)
    be->free (m->sync_sums);
  m->sync_sums = NULL;
  pick_loss (m);
  if (!sync)
    return TRUE;
  if (be->batchnorm_sums == NULL || be->batchnorm_stats == NULL
      || be->batchnorm_normalize == NULL || be->batchnorm_backward_sums == NULL
      || be->batchnorm_backward_dinp == NULL || be->dist_sum == NULL)
    {
      g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                   "data-parallel training needs synchronised BatchNorm and sums over the "
                   "ranks, which the %s backend does not have in this build", be->name);
      return FALSE;
    }
  if (!dist_loss_supported (be, m->loss))
    {
      g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                   "the backend %s does not implement this loss over several ranks (a Dice "
                   "or Lovász term is over the whole batch)", be->name);
      return FALSE;
    }
  m->sync_sums = be->alloc ((2 * (size_t) MAX (m->max_bn_channels, 1) + 1) * sizeof (double),
                           error);
  pick_loss (m);
  return m->sync_sums != NULL;
}

/* ---- description ----------------------------------------------------------------------- */

int
vg_model_describe (const VgConfig *cfg, int H, int W, VgLayerInfo *rows, int max)
{
  return vg_arch_get (cfg->arch)->describe (cfg, H, W, rows, rows != NULL ? max : 0);
}

double
vg_model_forward_macs (const VgConfig *cfg, int H, int W)
{
  int n = vg_model_describe (cfg, H, W, NULL, 0);
  g_autofree VgLayerInfo *rows = g_new0 (VgLayerInfo, MAX (n, 1));
  double total = 0;

  vg_model_describe (cfg, H, W, rows, n);
  for (int i = 0; i < n; i++)
    total += rows[i].macs;
  return total;
}
