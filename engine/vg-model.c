/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SegFormer: hierarchical encoder of efficient-attention blocks, all-MLP decoder, head.
 * This file: construction, the binding of the weight views, initialisation and the
 * activation plan (the other files: vg-model-private.h).
 *
 * Gradient rule: parameter gradients accumulate (+=); activation gradients overwrite (=),
 * and the model adds residual and multi-consumer paths itself with add_inplace. */
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

typedef struct {
  GArray *entries; /* VgPlanEntry */
  size_t total;
} VgPlan;

static void
plan_init (VgPlan *plan)
{
  plan->entries = g_array_new (FALSE, FALSE, sizeof (VgPlanEntry));
  plan->total = 0;
}

/* Request n floats for *ptr; every view is rounded to 16 floats (64 bytes) for alignment. */
static void
plan_add (VgPlan *plan, float **ptr, size_t n)
{
  VgPlanEntry e = { ptr, (n + 15) & ~(size_t) 15 };

  g_array_append_val (plan->entries, e);
  plan->total += e.floats;
}

/* Allocate the plan's block and point every view into it. */
static float *
plan_commit (VgPlan *plan, const VgBackend *be, GError **error)
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

/* ---- construction -------------------------------------------------------------------- */

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

/* Bind a weight/bias pair "<prefix>.weight", "<prefix>.bias" in params and grads. */
static void
bind_wb (VgModel *m, VgWB *w, VgWB *g, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static void
bind_wb (VgModel *m, VgWB *w, VgWB *g, const char *fmt, ...)
{
  g_autofree char *prefix = NULL;
  va_list ap;
  const char *suffixes[2] = { "weight", "bias" };
  float **wp[2] = { &w->w, &w->b }, **gp[2] = { &g->w, &g->b };

  va_start (ap, fmt);
  prefix = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  for (int i = 0; i < 2; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s.%s", prefix, suffixes[i]);
      VgParamSpec *spec;
      size_t offset;

      /* The parameter table and this binding describe the same design: a missing name is
       * a programming error, caught by the tests of both shipped configurations. */
      if (!lookup (m, name, &spec, &offset))
        g_error ("model binding: no tensor %s in the parameter table", name);
      *wp[i] = m->params + offset;
      *gp[i] = m->grads + offset;
    }
}

static void
bind_bn (VgModel *m, VgBatchNormW *w, VgBatchNormW *g, const char *prefix)
{
  const char *stats[2] = { "running_mean", "running_var" };
  float **sp[2] = { &w->running_mean, &w->running_var };
  g_autofree char *count_name = g_strdup_printf ("%s.num_batches_tracked", prefix);
  VgParamSpec *spec;
  size_t offset;

  bind_wb (m, &w->affine, &g->affine, "%s", prefix);
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

#define BLOCK_FMT "encoder.stages.%d.blocks.%d.%s"

static void
bind_weights (VgModel *m)
{
  const VgConfig *cfg = &m->cfg;

  for (int s = 0; s < VG_STAGES; s++)
    {
      VgStageW *ws = &m->w.stages[s], *gs = &m->g.stages[s];

      bind_wb (m, &ws->patch_proj, &gs->patch_proj, "encoder.stages.%d.patch_embed.proj", s);
      bind_wb (m, &ws->patch_norm, &gs->patch_norm, "encoder.stages.%d.patch_embed.norm", s);
      ws->blocks = g_new0 (VgBlockW, cfg->depths[s]);
      gs->blocks = g_new0 (VgBlockW, cfg->depths[s]);
      for (int j = 0; j < cfg->depths[s]; j++)
        {
          VgBlockW *wb = &ws->blocks[j], *gb = &gs->blocks[j];

          bind_wb (m, &wb->norm1, &gb->norm1, BLOCK_FMT, s, j, "norm1");
          bind_wb (m, &wb->q, &gb->q, BLOCK_FMT, s, j, "attn.q");
          bind_wb (m, &wb->kv, &gb->kv, BLOCK_FMT, s, j, "attn.kv");
          if (cfg->ratios[s] > 1)
            {
              bind_wb (m, &wb->sr, &gb->sr, BLOCK_FMT, s, j, "attn.sr");
              bind_wb (m, &wb->sr_norm, &gb->sr_norm, BLOCK_FMT, s, j, "attn.sr_norm");
            }
          bind_wb (m, &wb->proj, &gb->proj, BLOCK_FMT, s, j, "attn.proj");
          bind_wb (m, &wb->norm2, &gb->norm2, BLOCK_FMT, s, j, "norm2");
          bind_wb (m, &wb->fc1, &gb->fc1, BLOCK_FMT, s, j, "mlp.fc1");
          bind_wb (m, &wb->dwconv, &gb->dwconv, BLOCK_FMT, s, j, "mlp.dwconv");
          bind_wb (m, &wb->fc2, &gb->fc2, BLOCK_FMT, s, j, "mlp.fc2");
        }
      bind_wb (m, &ws->norm, &gs->norm, "encoder.stages.%d.norm", s);
    }
  for (int s = 0; s < VG_STAGES; s++)
    {
      g_autofree char *bn = g_strdup_printf ("decoder.linear_c.%d.bn", s);
      bind_wb (m, &m->w.linear_c[s], &m->g.linear_c[s], "decoder.linear_c.%d.conv", s);
      bind_bn (m, &m->w.linear_c_bn[s], &m->g.linear_c_bn[s], bn);
    }
  bind_wb (m, &m->w.fuse, &m->g.fuse, "decoder.fuse.conv");
  bind_bn (m, &m->w.fuse_bn, &m->g.fuse_bn, "decoder.fuse.bn");
  bind_wb (m, &m->w.classifier, &m->g.classifier, "decoder.classifier");
  if (cfg->head == VG_HEAD_TCONV)
    bind_wb (m, &m->w.head, &m->g.head, "head");
}

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
          break;
        case VG_TENSOR_COUNTER:
          if (m->n_counters >= (int) G_N_ELEMENTS (m->counters))
            {
              g_set_error (error, VG_MODEL_ERROR, 0, "too many BatchNorm layers");
              return NULL;
            }
          m->spec_offset[i] = m->n_counters++;
          break;
        }
      g_hash_table_insert (m->by_name, spec->name, GINT_TO_POINTER (i + 1));
    }

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

  bind_weights (m);
  if (!init_weights (m, 0, error))
    return NULL;
  return g_steal_pointer (&m);
}

void
vg_model_free (VgModel *m)
{
  if (m == NULL)
    return;
  if (m->specs != NULL)
    for (int s = 0; s < VG_STAGES; s++)
      {
        g_free (m->w.stages[s].blocks);
        g_free (m->g.stages[s].blocks);
        g_free (m->a.stages[s].blocks);
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
  return m->a.logits;
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
  if (g_str_has_prefix (name, "stage") && name[5] >= '0' && name[5] < '0' + VG_STAGES
      && name[6] == '\0')
    return m->a.stages[name[5] - '0'].out;
  if (strcmp (name, "fuse") == 0)
    return m->a.fuse_act;
  if (strcmp (name, "classifier") == 0)
    return m->a.cls;
  return NULL;
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
                   "the backend %s does not implement this loss (cross-entropy + Dice)",
                   be->name);
      return FALSE;
    }
  if (m->sync_sums != NULL && !dist_loss_supported (be, loss))
    {
      g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                   "the backend %s does not implement this loss over several ranks (a Dice "
                   "term is over the whole batch)", be->name);
      return FALSE;
    }
  m->loss = loss;
  pick_loss (m);
  return TRUE;
}

/* ---- initialisation -------------------------------------------------------------------- */

typedef struct {
  uint64_t state;
  gboolean have_spare;
  double spare;
} VgRng;

static uint64_t
rng_next (VgRng *r)
{
  uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double
rng_uniform (VgRng *r) /* in (0, 1) */
{
  return ((rng_next (r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double
rng_normal (VgRng *r)
{
  double u, v;

  if (r->have_spare)
    {
      r->have_spare = FALSE;
      return r->spare;
    }
  u = rng_uniform (r);
  v = rng_uniform (r);
  r->spare = sqrt (-2 * log (u)) * sin (2 * G_PI * v);
  r->have_spare = TRUE;
  return sqrt (-2 * log (u)) * cos (2 * G_PI * v);
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
      /* A seed per tensor, so adding a layer does not shift every other tensor. */
      VgRng rng = { seed ^ g_str_hash (spec->name) * 0x2545f4914f6cdd1dull, FALSE, 0 };

      if (spec->kind == VG_TENSOR_COUNTER)
        {
          m->counters[m->spec_offset[i]] = 0;
          continue;
        }
      if (spec->kind == VG_TENSOR_BUFFER)
        {
          float value = strcmp (leaf, "running_var") == 0 ? 1.0f : 0.0f;
          for (size_t k = 0; k < spec->numel; k++)
            host_buf[m->spec_offset[i] + k] = value;
          continue;
        }

      float *dst = host + m->spec_offset[i];
      if (strcmp (leaf, "bias") == 0)
        memset (dst, 0, spec->numel * sizeof (float));
      else if (spec->ndim == 1) /* LayerNorm / BatchNorm weight */
        for (size_t k = 0; k < spec->numel; k++)
          dst[k] = 1.0f;
      else if (spec->ndim == 2) /* Linear: truncated normal, std 0.02, cut at 2 std */
        for (size_t k = 0; k < spec->numel; k++)
          {
            double x;
            do
              x = rng_normal (&rng);
            while (fabs (x) > 2.0);
            dst[k] = (float) (0.02 * x);
          }
      else if (g_str_has_prefix (spec->name, "head."))
        {
          /* ConvTranspose2d default: U(-b, b), b = 1 / sqrt(fan_in), fan_in = Cout*K*K. */
          double bound = 1.0 / sqrt ((double) spec->shape[1] * spec->shape[2] * spec->shape[3]);
          for (size_t k = 0; k < spec->numel; k++)
            dst[k] = (float) (bound * (2 * rng_uniform (&rng) - 1));
        }
      else
        {
          /* Conv2d: normal(0, sqrt(2 / fan_out)), fan_out = K*K*Cout / groups. */
          int cout = spec->shape[0], cin_g = spec->shape[1];
          int k2 = spec->shape[2] * spec->shape[3];
          int groups = strstr (spec->name, "dwconv") != NULL ? cout / MAX (cin_g, 1) : 1;
          double std = sqrt (2.0 / ((double) k2 * cout / groups));
          for (size_t k = 0; k < spec->numel; k++)
            dst[k] = (float) (std * rng_normal (&rng));
        }
    }
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

static void
free_act_views (VgModel *m)
{
  for (int s = 0; s < VG_STAGES; s++)
    g_clear_pointer (&m->a.stages[s].blocks, g_free);
  memset (&m->a, 0, sizeof m->a);
}

gboolean
vg_model_reserve (VgModel *m, int B, int H, int W, gboolean training, GError **error)
{
  const VgConfig *cfg = &m->cfg;
  const VgBackend *be = m->be;
  const int D = cfg->decoder_dim, NC = cfg->num_classes;
  VgPlan plan;
  size_t max_act = 0, max_stream = 0, scratch = 0;
  int N0;

  if (B <= 0 || H <= 0 || W <= 0 || H % 32 != 0 || W % 32 != 0)
    {
      g_set_error (error, VG_MODEL_ERROR, 0,
                   "input size %dx%d (batch %d) is not supported: height and width must be "
                   "positive multiples of 32", W, H, B);
      return FALSE;
    }

  be->free (m->act_block);
  m->act_block = NULL;
  free_act_views (m);
  m->B = B;
  m->H = H;
  m->W = W;
  m->training_reserved = training;
  model_stage_sizes (H, W, m->sizes);
  N0 = m->sizes[0].H * m->sizes[0].W;

#define TRACK(n) (max_act = MAX (max_act, (size_t) (n)))
  plan_init (&plan);
  for (int s = 0; s < VG_STAGES; s++)
    {
      VgStageActs *sa = &m->a.stages[s];
      int C = cfg->widths[s], hC = C * cfg->mlp_ratio, NH = cfg->heads[s], R = cfg->ratios[s];
      int Hs = m->sizes[s].H, Ws = m->sizes[s].W, N = Hs * Ws;
      int M = model_reduced (Hs, R) * model_reduced (Ws, R);
      int Cprev = s == 0 ? cfg->in_channels : cfg->widths[s - 1];
      int Hp = s == 0 ? H : m->sizes[s - 1].H, Wp = s == 0 ? W : m->sizes[s - 1].W;
      size_t BN = (size_t) B * N, BM = (size_t) B * M;

      plan_add (&plan, &sa->patch, BN * C);
      plan_add (&plan, &sa->patch_ln, BN * C);
      plan_add (&plan, &sa->patch_mean, BN);
      plan_add (&plan, &sa->patch_rstd, BN);
      scratch = MAX (scratch, be->conv2d_scratch_floats (B, Hp, Wp, Cprev, C, s == 0 ? 7 : 3,
                                                         s == 0 ? 4 : 2, s == 0 ? 3 : 1, 1));
      sa->blocks = g_new0 (VgBlockActs, cfg->depths[s]);
      for (int j = 0; j < cfg->depths[s]; j++)
        {
          VgBlockActs *ba = &sa->blocks[j];
          plan_add (&plan, &ba->ln1, BN * C);
          plan_add (&plan, &ba->ln1_mean, BN);
          plan_add (&plan, &ba->ln1_rstd, BN);
          plan_add (&plan, &ba->q, BN * C);
          if (R > 1)
            {
              plan_add (&plan, &ba->sr, BM * C);
              plan_add (&plan, &ba->srn, BM * C);
              plan_add (&plan, &ba->srn_mean, BM);
              plan_add (&plan, &ba->srn_rstd, BM);
              scratch = MAX (scratch, be->conv2d_scratch_floats (B, Hs, Ws, C, C, R, R, 0, 1));
            }
          plan_add (&plan, &ba->k, BM * C);
          plan_add (&plan, &ba->v, BM * C);
          plan_add (&plan, &ba->att, BN * C);
          plan_add (&plan, &ba->lse, (size_t) B * NH * N);
          plan_add (&plan, &ba->x1, BN * C);
          plan_add (&plan, &ba->ln2, BN * C);
          plan_add (&plan, &ba->ln2_mean, BN);
          plan_add (&plan, &ba->ln2_rstd, BN);
          plan_add (&plan, &ba->fc1, BN * hC);
          plan_add (&plan, &ba->dw, BN * hC);
          plan_add (&plan, &ba->gelu, BN * hC);
          plan_add (&plan, &ba->out, BN * C);
          scratch = MAX (scratch, be->conv2d_scratch_floats (B, Hs, Ws, hC, hC, 3, 1, 1, hC));
          scratch = MAX (scratch, be->attention_scratch_floats (B, N, M, C, NH));
          TRACK (BN * hC);
        }
      plan_add (&plan, &sa->out, BN * C);
      plan_add (&plan, &sa->out_mean, BN);
      plan_add (&plan, &sa->out_rstd, BN);
      if (training)
        plan_add (&plan, &sa->dout, BN * C);
      max_stream = MAX (max_stream, BN * C);
      TRACK (BN * C);
      TRACK ((size_t) B * Hp * Wp * Cprev);
    }
  for (int s = 0; s < VG_STAGES; s++)
    {
      size_t BNs = (size_t) B * m->sizes[s].H * m->sizes[s].W;
      plan_add (&plan, &m->a.lc_conv[s], BNs * D);
      plan_add (&plan, &m->a.lc_mean[s], D);
      plan_add (&plan, &m->a.lc_rstd[s], D);
      plan_add (&plan, &m->a.lc_act[s], BNs * D);
    }
  plan_add (&plan, &m->a.fuse_part, (size_t) B * m->sizes[1].H * m->sizes[1].W * D);
  plan_add (&plan, &m->a.fuse_up, (size_t) B * N0 * D);
  plan_add (&plan, &m->a.fuse_w, (size_t) 4 * D * D);
  if (training)
    {
      plan_add (&plan, &m->a.fuse_gw, (size_t) 4 * D * D);
      plan_add (&plan, &m->a.fuse_gpack, (size_t) 4 * D * D);
    }
  plan_add (&plan, &m->a.fuse_conv, (size_t) B * N0 * D);
  plan_add (&plan, &m->a.fuse_mean, D);
  plan_add (&plan, &m->a.fuse_rstd, D);
  plan_add (&plan, &m->a.fuse_act, (size_t) B * N0 * D);
  plan_add (&plan, &m->a.cls, (size_t) B * N0 * NC);
  plan_add (&plan, &m->a.logits, (size_t) B * H * W * NC);
  TRACK ((size_t) B * N0 * D);
  TRACK ((size_t) B * N0 * NC);
  if (cfg->head == VG_HEAD_TCONV)
    scratch = MAX (scratch, be->conv_transpose_scratch_floats (B, m->sizes[0].H,
                                                                m->sizes[0].W, NC, NC, 4));
  if (training)
    {
      for (int i = 0; i < 5; i++)
        plan_add (&plan, &m->a.tmp[i], max_act);
      for (int i = 0; i < 2; i++)
        plan_add (&plan, &m->a.stream[i], max_stream);
    }
  plan_add (&plan, &m->a.scratch, MAX (scratch, 1));
#undef TRACK

  m->act_floats = plan.total;
  m->act_block = plan_commit (&plan, be, error);
  if (m->act_block == NULL)
    {
      free_act_views (m);
      m->B = 0;
      g_prefix_error (error, "cannot reserve activations for batch %d at %dx%d: ", B, W, H);
      return FALSE;
    }
  return TRUE;
}

size_t
vg_model_memory_bytes (const VgModel *m)
{
  return (2 * m->n_params + m->n_buffers + m->act_floats + m->cfg.num_classes) * sizeof (float);
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
                   "term is over the whole batch)", be->name);
      return FALSE;
    }
  m->sync_sums = be->alloc ((2 * (size_t) m->cfg.decoder_dim + 1) * sizeof (double), error);
  pick_loss (m);
  return m->sync_sums != NULL;
}
