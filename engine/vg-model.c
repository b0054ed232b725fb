/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SegFormer: hierarchical encoder of efficient-attention blocks, all-MLP decoder, head.
 *
 * Shape letters: B batch, H, W input size, Hs, Ws and N = Hs*Ws tokens of a stage, C its
 * width, hC = mlp_ratio * C, M tokens after spatial reduction R, NH heads, D decoder
 * width, NC classes, N0 tokens of stage 0 (H/4 x W/4).
 *
 * Memory: one plan per block of memory. Parameters, gradients, running statistics and
 * activations each live in one allocation of the backend; the structs below hold views
 * into them. Forward and backward never allocate.
 *
 * Gradient rule: parameter gradients accumulate (+=); activation gradients overwrite (=),
 * and the model adds residual and multi-consumer paths itself with add_inplace. */
#define G_LOG_DOMAIN "vg-model"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vg-model.h"
#include "vg-safetensors.h"

G_DEFINE_QUARK (vg-model-error-quark, vg_model_error)

/* ---- weights ------------------------------------------------------------------------- */

typedef struct {
  float *w; /* linear (Cout, Cin), conv (Cout, Cin/G, K, K), norm (C) */
  float *b; /* (Cout) */
} VgWB;

typedef struct {
  VgWB affine;         /* weight, bias (D) */
  float *running_mean; /* (D), no gradient */
  float *running_var;  /* (D), no gradient */
  int64_t *count;      /* num_batches_tracked */
} VgBatchNormW;

typedef struct {
  VgWB norm1, q, kv, sr, sr_norm, proj, norm2, fc1, dwconv, fc2;
} VgBlockW;

typedef struct {
  VgWB patch_proj, patch_norm, norm;
  VgBlockW *blocks; /* depths[s] */
} VgStageW;

typedef struct {
  VgStageW stages[VG_STAGES];
  VgWB linear_c[VG_STAGES];
  VgBatchNormW linear_c_bn[VG_STAGES];
  VgWB fuse;
  VgBatchNormW fuse_bn;
  VgWB classifier;
  VgWB head; /* transposed conv head (VG_HEAD_TCONV only) */
} VgWeights;

/* ---- activations --------------------------------------------------------------------- */

typedef struct {
  const float *inp;                 /* (B, N, C) block input, owned by the previous layer */
  float *ln1, *ln1_mean, *ln1_rstd; /* (B, N, C), (B*N), (B*N) */
  float *q;                         /* (B, N, C) */
  float *sr;                        /* (B, M, C) when R > 1 */
  float *srn, *srn_mean, *srn_rstd; /* (B, M, C), (B*M), (B*M) when R > 1 */
  float *k, *v;                     /* (B, M, C) */
  float *att;                       /* (B, N, C) */
  float *lse;                       /* (B, NH, N) */
  float *x1;                        /* (B, N, C) inp + proj(att) */
  float *ln2, *ln2_mean, *ln2_rstd; /* (B, N, C), (B*N), (B*N) */
  float *fc1;                       /* (B, N, hC) */
  float *dw;                        /* (B, N, hC) */
  float *gelu;                      /* (B, N, hC) */
  float *out;                       /* (B, N, C) x1 + fc2(gelu) */
} VgBlockActs;

typedef struct {
  float *patch;                           /* (B, N, C) patch embedding conv */
  float *patch_ln, *patch_mean, *patch_rstd; /* (B, N, C), (B*N), (B*N) */
  VgBlockActs *blocks;                    /* depths[s] */
  float *out, *out_mean, *out_rstd;       /* (B, N, C) stage output after its LayerNorm */
  float *dout;                            /* (B, N, C) gradient of out (training) */
} VgStageActs;

typedef struct {
  VgStageActs stages[VG_STAGES];
  float *lc_conv[VG_STAGES];                 /* (B, N_s, D) */
  float *lc_mean[VG_STAGES], *lc_rstd[VG_STAGES]; /* (D) batch statistics */
  float *lc_act[VG_STAGES];                  /* (B, N_s, D) BatchNorm + ReLU */
  float *fuse_part;                          /* (B, N1, D) a stage's share of the fuse */
  float *fuse_up;                            /* (B, N0, D) that share at 1/4 scale */
  float *fuse_w;                             /* (4, D, D) the fuse weight's column blocks */
  float *fuse_gw;                            /* (4, D, D) their gradients */
  float *fuse_gpack;                         /* (D, 4D) those packed as the weight */
  float *fuse_conv, *fuse_mean, *fuse_rstd;  /* (B, N0, D), (D), (D) */
  float *fuse_act;                           /* (B, N0, D) */
  float *cls;                                /* (B, N0, NC) */
  float *logits;                             /* (B, H, W, NC) */
  float *tmp[5];                             /* gradient temporaries, max activation size */
  float *stream[2];                          /* (B, N, C) block gradients, ping-pong */
  float *scratch;                            /* conv / attention scratch */
} VgActs;

typedef struct {
  int H, W; /* spatial size of the stage */
} VgStageSize;

struct _VgModel
{
  VgConfig cfg;
  const VgBackend *be;

  int n_specs;
  VgParamSpec *specs;
  size_t *spec_offset;  /* offset of each spec in its block (floats, or counters) */
  GHashTable *by_name;  /* name -> spec index + 1 */

  /* parameters, gradients, running statistics: one allocation each */
  float *params;        /* (n_params) */
  float *grads;         /* (n_params) */
  float *buffers;       /* (n_buffers) running_mean / running_var */
  int64_t counters[VG_STAGES + 1]; /* num_batches_tracked, host memory */
  size_t n_params, n_buffers;
  int n_counters;
  VgWeights w, g;       /* views into params / grads */

  /* activations for (B, H, W), one allocation */
  float *act_block;
  size_t act_floats;
  int B, H, W;
  gboolean training_reserved;
  VgStageSize sizes[VG_STAGES];
  VgActs a;

  float *class_weights; /* (NC) device memory */
  gboolean have_class_weights;
  const uint8_t *last_targets;
  const float *last_images;
  int last_B;
  float last_loss;
};

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

/* ---- sizes ----------------------------------------------------------------------------- */

static int
conv_out (int size, int k, int s, int p)
{
  return (size + 2 * p - k) / s + 1;
}

static void
stage_sizes (const VgConfig *cfg, int H, int W, VgStageSize sizes[VG_STAGES])
{
  for (int s = 0; s < VG_STAGES; s++)
    {
      int k = s == 0 ? 7 : 3, st = s == 0 ? 4 : 2, p = s == 0 ? 3 : 1;
      H = conv_out (H, k, st, p);
      W = conv_out (W, k, st, p);
      sizes[s].H = H;
      sizes[s].W = W;
    }
  (void) cfg;
}

static int
reduced (int size, int R)
{
  return R > 1 ? conv_out (size, R, R, 0) : size;
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
  stage_sizes (cfg, H, W, m->sizes);
  N0 = m->sizes[0].H * m->sizes[0].W;

#define TRACK(n) (max_act = MAX (max_act, (size_t) (n)))
  plan_init (&plan);
  for (int s = 0; s < VG_STAGES; s++)
    {
      VgStageActs *sa = &m->a.stages[s];
      int C = cfg->widths[s], hC = C * cfg->mlp_ratio, NH = cfg->heads[s], R = cfg->ratios[s];
      int Hs = m->sizes[s].H, Ws = m->sizes[s].W, N = Hs * Ws;
      int M = reduced (Hs, R) * reduced (Ws, R);
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

/* ---- forward --------------------------------------------------------------------------- */

static void
block_forward (VgModel *m, const VgBlockW *w, VgBlockActs *a, const float *x, int B, int Hs,
               int Ws, int C, int NH, int R)
{
  const VgBackend *be = m->be;
  const float eps = m->cfg.ln_eps;
  const int hC = C * m->cfg.mlp_ratio, N = Hs * Ws;
  const int M = reduced (Hs, R) * reduced (Ws, R);
  const float *kv_in = a->ln1;

  a->inp = x;
  be->layernorm_forward (a->ln1, a->ln1_mean, a->ln1_rstd, x, w->norm1.w, w->norm1.b, eps,
                         B * N, C);
  be->linear_forward (a->q, a->ln1, w->q.w, w->q.b, B * N, C, C);
  if (R > 1)
    {
      be->conv2d_forward (a->sr, a->ln1, w->sr.w, w->sr.b, m->a.scratch, B, Hs, Ws, C, C, R, R,
                          0, 1);
      be->layernorm_forward (a->srn, a->srn_mean, a->srn_rstd, a->sr, w->sr_norm.w,
                             w->sr_norm.b, eps, B * M, C);
      kv_in = a->srn;
    }
  /* kv is one Linear(C, 2C) in PyTorch: its first C output rows are k, the next C are v. */
  be->linear_forward (a->k, kv_in, w->kv.w, w->kv.b, B * M, C, C);
  be->linear_forward (a->v, kv_in, w->kv.w + (size_t) C * C, w->kv.b + C, B * M, C, C);
  be->attention_forward (a->att, a->lse, a->q, a->k, a->v, m->a.scratch, B, N, M, C, NH);
  be->linear_forward (a->x1, a->att, w->proj.w, w->proj.b, B * N, C, C);
  be->add_inplace (a->x1, x, (size_t) B * N * C);

  be->layernorm_forward (a->ln2, a->ln2_mean, a->ln2_rstd, a->x1, w->norm2.w, w->norm2.b, eps,
                         B * N, C);
  be->linear_forward (a->fc1, a->ln2, w->fc1.w, w->fc1.b, B * N, C, hC);
  be->conv2d_forward (a->dw, a->fc1, w->dwconv.w, w->dwconv.b, m->a.scratch, B, Hs, Ws, hC, hC,
                      3, 1, 1, hC);
  be->gelu_forward (a->gelu, a->dw, (size_t) B * N * hC);
  be->linear_forward (a->out, a->gelu, w->fc2.w, w->fc2.b, B * N, hC, C);
  be->add_inplace (a->out, a->x1, (size_t) B * N * C);
}

static void
batchnorm_relu_forward (VgModel *m, float *act, float *mean, float *rstd, const float *inp,
                        const VgBatchNormW *bn, int Nr, int C, gboolean training)
{
  const VgBackend *be = m->be;

  if (training)
    {
      be->batchnorm_forward_train (act, mean, rstd, bn->running_mean, bn->running_var, inp,
                                   bn->affine.w, bn->affine.b, m->cfg.bn_eps,
                                   m->cfg.bn_momentum, Nr, C);
      (*bn->count)++;
    }
  else
    be->batchnorm_forward_eval (act, inp, bn->affine.w, bn->affine.b, bn->running_mean,
                                bn->running_var, m->cfg.bn_eps, Nr, C);
  be->relu_forward (act, act, (size_t) Nr * C);
}

float
vg_model_forward (VgModel *m, const float *images, const uint8_t *targets, int B,
                  gboolean training)
{
  const VgConfig *cfg = &m->cfg;
  const VgBackend *be = m->be;
  const int D = cfg->decoder_dim, NC = cfg->num_classes;
  const int H0 = m->sizes[0].H, W0 = m->sizes[0].W, N0 = H0 * W0;
  const float *x = images;
  VgActs *a = &m->a;

  g_return_val_if_fail (B > 0 && B <= m->B, 0.0f);
  g_return_val_if_fail (!training || m->training_reserved, 0.0f);

  for (int s = 0; s < VG_STAGES; s++)
    {
      const VgStageW *ws = &m->w.stages[s];
      VgStageActs *sa = &a->stages[s];
      int C = cfg->widths[s], Hs = m->sizes[s].H, Ws = m->sizes[s].W, N = Hs * Ws;
      int Cprev = s == 0 ? cfg->in_channels : cfg->widths[s - 1];
      int Hp = s == 0 ? m->H : m->sizes[s - 1].H, Wp = s == 0 ? m->W : m->sizes[s - 1].W;

      be->conv2d_forward (sa->patch, x, ws->patch_proj.w, ws->patch_proj.b, a->scratch, B, Hp,
                          Wp, Cprev, C, s == 0 ? 7 : 3, s == 0 ? 4 : 2, s == 0 ? 3 : 1, 1);
      be->layernorm_forward (sa->patch_ln, sa->patch_mean, sa->patch_rstd, sa->patch,
                             ws->patch_norm.w, ws->patch_norm.b, cfg->ln_eps, B * N, C);
      x = sa->patch_ln;
      for (int j = 0; j < cfg->depths[s]; j++)
        {
          block_forward (m, &ws->blocks[j], &sa->blocks[j], x, B, Hs, Ws, C, cfg->heads[s],
                         cfg->ratios[s]);
          x = sa->blocks[j].out;
        }
      be->layernorm_forward (sa->out, sa->out_mean, sa->out_rstd, x, ws->norm.w, ws->norm.b,
                             cfg->ln_eps, B * N, C);
      x = sa->out;
    }

  /* Decoder: per stage 1x1 conv + BN + ReLU to D; then the fuse, a 1x1 conv of the four
   * stages resized to 1/4 scale and concatenated [3, 2, 1, 0]. Resizing is linear and acts
   * on each channel alike, so it commutes with the fuse's per-pixel matrix: the fuse is
   * applied to each stage at its own scale, column block k of its weight to stage 3 - k,
   * and the results are resized and summed (the bias once). The same function as the
   * concatenation, at a quarter of its multiply-adds and without the (B, N0, 4D) tensor. */
  {
    float *wparts[VG_STAGES];
    int Cs[VG_STAGES] = { D, D, D, D };

    for (int k = 0; k < VG_STAGES; k++)
      wparts[k] = a->fuse_w + (size_t) k * D * D;
    be->concat_backward (wparts, m->w.fuse.w, Cs, VG_STAGES, D); /* split the columns */
    for (int s = 0; s < VG_STAGES; s++)
      {
        int Ns = m->sizes[s].H * m->sizes[s].W;

        be->linear_forward (a->lc_conv[s], a->stages[s].out, m->w.linear_c[s].w,
                            m->w.linear_c[s].b, B * Ns, cfg->widths[s], D);
        batchnorm_relu_forward (m, a->lc_act[s], a->lc_mean[s], a->lc_rstd[s], a->lc_conv[s],
                                &m->w.linear_c_bn[s], B * Ns, D, training);
      }
    be->linear_forward (a->fuse_conv, a->lc_act[0], wparts[VG_STAGES - 1], m->w.fuse.b,
                        B * N0, D, D);
    for (int s = 1; s < VG_STAGES; s++)
      {
        int Ns = m->sizes[s].H * m->sizes[s].W;

        be->linear_forward (a->fuse_part, a->lc_act[s], wparts[VG_STAGES - 1 - s], NULL,
                            B * Ns, D, D);
        be->resize_bilinear_forward (a->fuse_up, a->fuse_part, B, m->sizes[s].H,
                                     m->sizes[s].W, H0, W0, D);
        be->add_inplace (a->fuse_conv, a->fuse_up, (size_t) B * N0 * D);
      }
  }
  batchnorm_relu_forward (m, a->fuse_act, a->fuse_mean, a->fuse_rstd, a->fuse_conv,
                          &m->w.fuse_bn, B * N0, D, training);
  be->linear_forward (a->cls, a->fuse_act, m->w.classifier.w, m->w.classifier.b, B * N0, D,
                      NC);
  if (cfg->head == VG_HEAD_TCONV)
    be->conv_transpose_forward (a->logits, a->cls, m->w.head.w, m->w.head.b, a->scratch, B, H0,
                                W0, NC, NC, 4);
  else
    be->resize_bilinear_forward (a->logits, a->cls, B, H0, W0, m->H, m->W, NC);

  m->last_B = B;
  m->last_images = images;
  m->last_targets = training ? targets : NULL;
  m->last_loss = 0.0f;
  if (targets != NULL)
    m->last_loss = be->cross_entropy_forward (a->logits, targets,
                                              m->have_class_weights ? m->class_weights : NULL,
                                              VG_IGNORE_INDEX, B * m->H * m->W, NC);
  return m->last_loss;
}

/* ---- backward -------------------------------------------------------------------------- */

/* dout: gradient of the block output (B, N, C); writes dinp, the gradient of its input.
 * Uses the five temporaries a.tmp[], none of which alias dout or dinp. */
static void
block_backward (VgModel *m, const VgBlockW *w, const VgBlockW *g, const VgBlockActs *a,
                float *dinp, const float *dout, int B, int Hs, int Ws, int C, int NH, int R)
{
  const VgBackend *be = m->be;
  float *const *t = m->a.tmp;
  const int hC = C * m->cfg.mlp_ratio, N = Hs * Ws;
  const int M = reduced (Hs, R) * reduced (Ws, R);
  const size_t BNC = (size_t) B * N * C, BMC = (size_t) B * M * C;
  const float *kv_in = R > 1 ? a->srn : a->ln1;

  /* Mix-FFN: out = x1 + fc2(gelu(dwconv(fc1(ln2(x1))))) */
  be->linear_backward (t[0], g->fc2.w, g->fc2.b, dout, a->gelu, w->fc2.w, B * N, hC, C);
  be->gelu_backward (t[0], t[0], a->dw, (size_t) B * N * hC);
  be->conv2d_backward (t[1], g->dwconv.w, g->dwconv.b, t[0], a->fc1, w->dwconv.w,
                       m->a.scratch, B, Hs, Ws, hC, hC, 3, 1, 1, hC);
  be->linear_backward (t[2], g->fc1.w, g->fc1.b, t[1], a->ln2, w->fc1.w, B * N, C, hC);
  be->layernorm_backward (t[3], g->norm2.w, g->norm2.b, t[2], a->x1, w->norm2.w, a->ln2_mean,
                          a->ln2_rstd, B * N, C);
  be->add_inplace (t[3], dout, BNC); /* t3 = d x1 (residual) */

  /* attention: x1 = inp + proj(attn(q(ln1), kv(sr(ln1)))) */
  be->linear_backward (t[2], g->proj.w, g->proj.b, t[3], a->att, w->proj.w, B * N, C, C);
  be->attention_backward (t[0], t[1], t[4], t[2], a->att, a->lse, a->q, a->k, a->v,
                          m->a.scratch, B, N, M, C, NH);
  be->linear_backward (t[2], g->q.w, g->q.b, t[0], a->ln1, w->q.w, B * N, C, C);
  be->linear_backward (t[0], g->kv.w, g->kv.b, t[1], kv_in, w->kv.w, B * M, C, C);
  be->linear_backward (t[1], g->kv.w + (size_t) C * C, g->kv.b + C, t[4], kv_in,
                       w->kv.w + (size_t) C * C, B * M, C, C);
  be->add_inplace (t[0], t[1], BMC); /* t0 = d kv_in */
  if (R > 1)
    {
      be->layernorm_backward (t[1], g->sr_norm.w, g->sr_norm.b, t[0], a->sr, w->sr_norm.w,
                              a->srn_mean, a->srn_rstd, B * M, C);
      be->conv2d_backward (t[4], g->sr.w, g->sr.b, t[1], a->ln1, w->sr.w, m->a.scratch, B, Hs,
                           Ws, C, C, R, R, 0, 1);
      be->add_inplace (t[2], t[4], BNC);
    }
  else
    be->add_inplace (t[2], t[0], BNC); /* t2 = d ln1 */
  be->layernorm_backward (dinp, g->norm1.w, g->norm1.b, t[2], a->inp, w->norm1.w,
                          a->ln1_mean, a->ln1_rstd, B * N, C);
  be->add_inplace (dinp, t[3], BNC);
}

static void
batchnorm_relu_backward (VgModel *m, float *dinp, float *dact, const float *act,
                         const float *inp, const float *mean, const float *rstd,
                         const VgBatchNormW *w, const VgBatchNormW *g, int Nr, int C)
{
  m->be->relu_backward (dact, dact, act, (size_t) Nr * C);
  m->be->batchnorm_backward (dinp, g->affine.w, g->affine.b, dact, inp, w->affine.w, mean,
                             rstd, Nr, C);
}

void
vg_model_backward (VgModel *m)
{
  const VgConfig *cfg = &m->cfg;
  const VgBackend *be = m->be;
  const int D = cfg->decoder_dim, NC = cfg->num_classes, B = m->last_B;
  const int H0 = m->sizes[0].H, W0 = m->sizes[0].W, N0 = H0 * W0;
  VgActs *a = &m->a;
  float *const *t = a->tmp;

  g_return_if_fail (m->training_reserved && m->last_targets != NULL);

  /* loss -> logits: the gradient overwrites the logits, which are not needed any more */
  be->cross_entropy_backward (a->logits, a->logits, m->last_targets,
                              m->have_class_weights ? m->class_weights : NULL, VG_IGNORE_INDEX,
                              1.0f, B * m->H * m->W, NC);
  if (cfg->head == VG_HEAD_TCONV)
    be->conv_transpose_backward (t[0], m->g.head.w, m->g.head.b, a->logits, a->cls,
                                 m->w.head.w, a->scratch, B, H0, W0, NC, NC, 4);
  else
    be->resize_bilinear_backward (t[0], a->logits, B, H0, W0, m->H, m->W, NC);
  be->linear_backward (t[1], m->g.classifier.w, m->g.classifier.b, t[0], a->fuse_act,
                       m->w.classifier.w, B * N0, D, NC);
  batchnorm_relu_backward (m, t[2], t[1], a->fuse_act, a->fuse_conv, a->fuse_mean,
                           a->fuse_rstd, &m->w.fuse_bn, &m->g.fuse_bn, B * N0, D);
  /* The fuse, stage by stage as in the forward: d fuse_conv (t2) resized down to each
   * stage's scale (t3) meets that stage's column block of the weight; the block gradients
   * are packed back into the weight's layout and added to its gradient. */
  {
    float *gparts[VG_STAGES];
    const float *wparts[VG_STAGES];
    int Cs[VG_STAGES] = { D, D, D, D };

    for (int k = 0; k < VG_STAGES; k++)
      {
        gparts[k] = a->fuse_gw + (size_t) k * D * D;
        wparts[k] = a->fuse_w + (size_t) k * D * D;
      }
    be->zero (a->fuse_gw, sizeof (float) * 4 * D * D);
    for (int s = 0; s < VG_STAGES; s++)
      {
        int k = VG_STAGES - 1 - s;
        int Hs = m->sizes[s].H, Ws = m->sizes[s].W, Ns = Hs * Ws;
        const float *dy = t[2];
        float *dact = t[0], *dconv = t[1];

        if (s > 0)
          {
            be->resize_bilinear_backward (t[3], t[2], B, Hs, Ws, H0, W0, D);
            dy = t[3];
          }
        /* the bias joins once, at 1/4 scale: its gradient is the sum of d fuse_conv */
        be->linear_backward (dact, gparts[k], s == 0 ? m->g.fuse.b : NULL, dy, a->lc_act[s],
                             wparts[k], B * Ns, D, D);
        batchnorm_relu_backward (m, dconv, dact, a->lc_act[s], a->lc_conv[s], a->lc_mean[s],
                                 a->lc_rstd[s], &m->w.linear_c_bn[s], &m->g.linear_c_bn[s],
                                 B * Ns, D);
        be->linear_backward (a->stages[s].dout, m->g.linear_c[s].w, m->g.linear_c[s].b,
                             dconv, a->stages[s].out, m->w.linear_c[s].w, B * Ns,
                             cfg->widths[s], D);
      }
    be->concat_forward (a->fuse_gpack, (const float *const *) gparts, Cs, VG_STAGES, D);
    be->add_inplace (m->g.fuse.w, a->fuse_gpack, (size_t) 4 * D * D);
  }

  /* encoder, last stage first; each stage's input gradient adds to the previous stage's */
  for (int s = VG_STAGES - 1; s >= 0; s--)
    {
      const VgStageW *ws = &m->w.stages[s], *gs = &m->g.stages[s];
      VgStageActs *sa = &a->stages[s];
      int C = cfg->widths[s], Hs = m->sizes[s].H, Ws = m->sizes[s].W, N = Hs * Ws;
      int Cprev = s == 0 ? cfg->in_channels : cfg->widths[s - 1];
      int Hp = s == 0 ? m->H : m->sizes[s - 1].H, Wp = s == 0 ? m->W : m->sizes[s - 1].W;
      int depth = cfg->depths[s];
      const float *last = depth > 0 ? sa->blocks[depth - 1].out : sa->patch_ln;
      float *d = a->stream[0], *dnext = a->stream[1];

      be->layernorm_backward (d, gs->norm.w, gs->norm.b, sa->dout, last, ws->norm.w,
                              sa->out_mean, sa->out_rstd, B * N, C);
      for (int j = depth - 1; j >= 0; j--)
        {
          float *swap;
          block_backward (m, &ws->blocks[j], &gs->blocks[j], &sa->blocks[j], dnext, d, B, Hs,
                          Ws, C, cfg->heads[s], cfg->ratios[s]);
          swap = d;
          d = dnext;
          dnext = swap;
        }
      be->layernorm_backward (dnext, gs->patch_norm.w, gs->patch_norm.b, d, sa->patch,
                              ws->patch_norm.w, sa->patch_mean, sa->patch_rstd, B * N, C);
      if (s > 0)
        {
          be->conv2d_backward (t[0], gs->patch_proj.w, gs->patch_proj.b, dnext,
                               a->stages[s - 1].out, ws->patch_proj.w, a->scratch, B, Hp, Wp,
                               Cprev, C, 3, 2, 1, 1);
          be->add_inplace (a->stages[s - 1].dout, t[0], (size_t) B * Hp * Wp * Cprev);
        }
      else
        be->conv2d_backward (NULL, gs->patch_proj.w, gs->patch_proj.b, dnext, m->last_images,
                             ws->patch_proj.w, a->scratch, B, Hp, Wp, Cprev, C, 7, 4, 3, 1);
    }
}

/* ---- checkpoints ----------------------------------------------------------------------- */

gboolean
vg_model_save (VgModel *m, const char *path, const char *const *metadata, GError **error)
{
  g_autofree float *host = g_new (float, m->n_params);
  g_autofree float *host_buf = g_new (float, MAX (m->n_buffers, 1));
  g_autofree VgTensorView *views = g_new0 (VgTensorView, m->n_specs);
  g_autofree char *spec = vg_config_to_string (&m->cfg);
  g_autoptr (GPtrArray) meta = g_ptr_array_new ();

  m->be->download (host, m->params, m->n_params * sizeof (float));
  m->be->download (host_buf, m->buffers, MAX (m->n_buffers, 1) * sizeof (float));
  for (int i = 0; i < m->n_specs; i++)
    {
      const VgParamSpec *s = &m->specs[i];
      VgTensorView *v = &views[i];

      v->name = s->name;
      v->ndim = s->ndim;
      for (int d = 0; d < s->ndim; d++)
        v->shape[d] = s->shape[d];
      v->numel = s->numel;
      switch (s->kind)
        {
        case VG_TENSOR_PARAM:
          v->dtype = VG_DTYPE_F32;
          v->data = host + m->spec_offset[i];
          v->nbytes = s->numel * sizeof (float);
          break;
        case VG_TENSOR_BUFFER:
          v->dtype = VG_DTYPE_F32;
          v->data = host_buf + m->spec_offset[i];
          v->nbytes = s->numel * sizeof (float);
          break;
        case VG_TENSOR_COUNTER:
          v->dtype = VG_DTYPE_I64;
          v->data = &m->counters[m->spec_offset[i]];
          v->nbytes = sizeof (int64_t);
          break;
        }
    }
  g_ptr_array_add (meta, (char *) "format");
  g_ptr_array_add (meta, (char *) "pt");
  g_ptr_array_add (meta, (char *) "visage.config");
  g_ptr_array_add (meta, spec);
  g_ptr_array_add (meta, (char *) "visage.config_name");
  g_ptr_array_add (meta, m->cfg.name);
  for (int i = 0; metadata != NULL && metadata[i] != NULL && metadata[i + 1] != NULL; i += 2)
    {
      g_ptr_array_add (meta, (char *) metadata[i]);
      g_ptr_array_add (meta, (char *) metadata[i + 1]);
    }
  g_ptr_array_add (meta, NULL);
  return vg_safetensors_write (path, views, m->n_specs, (const char *const *) meta->pdata,
                               error);
}

/* "(2, 3)" */
static char *
shape_text (const int64_t *shape, int ndim)
{
  GString *text = g_string_new ("(");

  for (int d = 0; d < ndim; d++)
    g_string_append_printf (text, d ? ", %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT, shape[d]);
  g_string_append_c (text, ')');
  return g_string_free (text, FALSE);
}

/* Training state that a checkpoint (vg-train.c's last.safetensors) carries beside the
 * weights: not part of the model, and not an unused tensor either. */
static gboolean
is_training_state (const char *name)
{
  return g_str_has_prefix (name, "optim.") || g_str_has_prefix (name, "pipeline.");
}

gboolean
vg_model_check_file (const VgConfig *cfg, const VgSafetensors *st, const char *path,
                     GError **error)
{
  g_autofree VgParamSpec *specs = NULL;
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GString) unused = g_string_new (NULL);
  int n_specs = vg_config_param_specs (cfg, NULL, 0), n_unused = 0;

  specs = g_new0 (VgParamSpec, n_specs);
  vg_config_param_specs (cfg, specs, n_specs);
  for (int i = 0; i < n_specs; i++)
    {
      const VgParamSpec *s = &specs[i];
      const VgTensorView *v = vg_safetensors_find (st, s->name);
      int64_t want[4];
      gboolean same;

      g_hash_table_add (names, (char *) s->name);
      if (v == NULL)
        {
          g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                       "%s: no tensor %s: the file does not hold a %s model", path, s->name,
                       cfg->name);
          return FALSE;
        }
      if (s->kind == VG_TENSOR_COUNTER)
        {
          if (v->dtype != VG_DTYPE_I64 || v->numel != 1)
            {
              g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                           "%s: %s should be one int64", path, s->name);
              return FALSE;
            }
          continue;
        }
      if (v->dtype != VG_DTYPE_F32 && v->dtype != VG_DTYPE_F16 && v->dtype != VG_DTYPE_BF16)
        {
          g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                       "%s: tensor %s is not a floating-point tensor", path, s->name);
          return FALSE;
        }
      same = v->ndim == s->ndim;
      for (int d = 0; d < s->ndim; d++)
        {
          want[d] = s->shape[d];
          same = same && v->shape[d] == want[d];
        }
      if (!same)
        {
          g_autofree char *got_text = shape_text (v->shape, v->ndim);
          g_autofree char *want_text = shape_text (want, s->ndim);

          g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                       "%s: tensor %s has shape %s, expected %s", path, s->name, got_text,
                       want_text);
          return FALSE;
        }
    }
  /* A tensor the configuration does not use (a file of a deeper model under the metadata
   * of a shallower one) would be dropped without a word: refuse it, by name. */
  for (int i = 0; i < vg_safetensors_n_tensors (st); i++)
    {
      const char *name = vg_safetensors_get (st, i)->name;

      if (g_hash_table_contains (names, name) || is_training_state (name))
        continue;
      if (n_unused < 3)
        g_string_append_printf (unused, "%s%s", n_unused ? ", " : "", name);
      n_unused++;
    }
  if (n_unused > 0)
    {
      g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                   "%s: %d tensor%s that a %s model does not use: %s%s", path, n_unused,
                   n_unused == 1 ? "" : "s", cfg->name, unused->str,
                   n_unused > 3 ? ", ..." : "");
      return FALSE;
    }
  return TRUE;
}

/* FALSE with an error naming the tensor unless its n values are all finite. */
static gboolean
check_finite (const float *x, size_t n, const char *name, const char *path, GError **error)
{
  for (size_t k = 0; k < n; k++)
    if (!isfinite (x[k]))
      {
        g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_NOT_FINITE,
                     "%s: tensor %s holds %s values (element %zu): the weights are unusable",
                     path, name, isnan (x[k]) ? "NaN" : "infinite", k);
        return FALSE;
      }
  return TRUE;
}

gboolean
vg_model_load_from (VgModel *m, const VgSafetensors *st, const char *path, GError **error)
{
  g_autofree float *host = NULL;
  g_autofree float *host_buf = NULL;
  int64_t counters[G_N_ELEMENTS (m->counters)] = { 0 };

  if (!vg_model_check_file (&m->cfg, st, path, error))
    return FALSE;
  host = g_try_new (float, MAX (m->n_params, 1));
  host_buf = g_try_new (float, MAX (m->n_buffers, 1));
  if (host == NULL || host_buf == NULL)
    {
      g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                   "%s: out of memory loading %zu parameters", path, m->n_params);
      return FALSE;
    }
  for (int i = 0; i < m->n_specs; i++)
    {
      const VgParamSpec *s = &m->specs[i];
      const VgTensorView *v = vg_safetensors_find (st, s->name);
      float *dst;

      if (s->kind == VG_TENSOR_COUNTER)
        {
          memcpy (&counters[m->spec_offset[i]], v->data, sizeof (int64_t));
          counters[m->spec_offset[i]] = GINT64_FROM_LE (counters[m->spec_offset[i]]);
          continue;
        }
      dst = (s->kind == VG_TENSOR_PARAM ? host : host_buf) + m->spec_offset[i];
      if (!vg_safetensors_read_f32 (st, s->name, dst, s->shape, s->ndim, error)
          || !check_finite (dst, s->numel, s->name, path, error))
        return FALSE;
    }
  m->be->upload (m->params, host, m->n_params * sizeof (float));
  m->be->upload (m->buffers, host_buf, MAX (m->n_buffers, 1) * sizeof (float));
  memcpy (m->counters, counters, sizeof counters);
  return TRUE;
}

gboolean
vg_model_load (VgModel *m, const char *path, GError **error)
{
  g_autoptr (VgSafetensors) st = vg_safetensors_open (path, error);

  return st != NULL && vg_model_load_from (m, st, path, error);
}

/* ---- description ----------------------------------------------------------------------- */

typedef struct {
  VgLayerInfo *rows;
  int max, n;
} VgRows;

static void
add_row (VgRows *r, const char *name, int h, int w, int c, size_t params, double macs)
{
  if (r->n < r->max)
    {
      VgLayerInfo *row = &r->rows[r->n];
      g_strlcpy (row->name, name, sizeof row->name);
      row->shape[0] = 1;
      row->shape[1] = h;
      row->shape[2] = w;
      row->shape[3] = c;
      row->params = params;
      row->macs = macs;
    }
  r->n++;
}

int
vg_model_describe (const VgConfig *cfg, int H, int W, VgLayerInfo *rows, int max)
{
  VgRows r = { rows, rows != NULL ? max : 0, 0 };
  VgStageSize sizes[VG_STAGES];
  const int D = cfg->decoder_dim, NC = cfg->num_classes;
  char name[64];
  int N0;

  stage_sizes (cfg, H, W, sizes);
  N0 = sizes[0].H * sizes[0].W;
  for (int s = 0; s < VG_STAGES; s++)
    {
      int C = cfg->widths[s], hC = C * cfg->mlp_ratio, R = cfg->ratios[s];
      int Hs = sizes[s].H, Ws = sizes[s].W;
      double N = (double) Hs * Ws, M = (double) reduced (Hs, R) * reduced (Ws, R);
      int Cprev = s == 0 ? cfg->in_channels : cfg->widths[s - 1], K = s == 0 ? 7 : 3;

      snprintf (name, sizeof name, "stage%d.patch_embed (%dx%d/%d)", s + 1, K, K,
                s == 0 ? 4 : 2);
      add_row (&r, name, Hs, Ws, C, (size_t) C * Cprev * K * K + C + 2 * C,
               N * C * Cprev * K * K);
      for (int j = 0; j < cfg->depths[s]; j++)
        {
          size_t sr_params = R > 1 ? (size_t) C * C * R * R + C + 2 * C : 0;
          snprintf (name, sizeof name, "stage%d.block%d.attention (R=%d)", s + 1, j + 1, R);
          add_row (&r, name, Hs, Ws, C,
                   2 * (size_t) C + 4 * (size_t) C * C + 4 * C + sr_params,
                   N * C * C                               /* q */
                   + (R > 1 ? M * C * C * R * R : 0)       /* spatial reduction */
                   + M * 2.0 * C * C                       /* kv */
                   + 2.0 * N * M * C                       /* scores and weighted sum */
                   + N * C * C);                           /* proj */
          snprintf (name, sizeof name, "stage%d.block%d.mix_ffn", s + 1, j + 1);
          add_row (&r, name, Hs, Ws, C,
                   2 * (size_t) C + 2 * (size_t) C * hC + hC + C + 10 * (size_t) hC,
                   2.0 * N * C * hC + 9.0 * N * hC);
        }
      snprintf (name, sizeof name, "stage%d.norm", s + 1);
      add_row (&r, name, Hs, Ws, C, 2 * (size_t) C, 0);
    }
  for (int s = 0; s < VG_STAGES; s++)
    {
      snprintf (name, sizeof name, "decoder.linear_c%d (+BN, ReLU, resize)", s + 1);
      add_row (&r, name, sizes[0].H, sizes[0].W, D, (size_t) cfg->widths[s] * D + 3 * D,
               (double) sizes[s].H * sizes[s].W * cfg->widths[s] * D);
    }
  {
    /* applied to each stage at its own scale before the resize (see the forward) */
    double fuse_macs = 0.0;

    for (int s = 0; s < VG_STAGES; s++)
      fuse_macs += (double) sizes[s].H * sizes[s].W * D * D;
    add_row (&r, "decoder.fuse (+BN, ReLU)", sizes[0].H, sizes[0].W, D,
             (size_t) 4 * D * D + 3 * D, fuse_macs);
  }
  add_row (&r, "decoder.classifier", sizes[0].H, sizes[0].W, NC, (size_t) D * NC + NC,
           (double) N0 * D * NC);
  if (cfg->head == VG_HEAD_TCONV)
    add_row (&r, "head (transposed conv 4x4/4)", H, W, NC, (size_t) NC * NC * 16 + NC,
             (double) N0 * NC * NC * 16);
  else
    add_row (&r, "head (bilinear x4)", H, W, NC, 0, 0);
  return r.n;
}

double
vg_model_forward_macs (const VgConfig *cfg, int H, int W)
{
  int n = vg_model_describe (cfg, H, W, NULL, 0);
  g_autofree VgLayerInfo *rows = g_new0 (VgLayerInfo, n);
  double total = 0;

  vg_model_describe (cfg, H, W, rows, n);
  for (int i = 0; i < n; i++)
    total += rows[i].macs;
  return total;
}
