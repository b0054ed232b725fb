/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SegFormer: hierarchical encoder of efficient-attention blocks, all-MLP decoder, head.
 * This file: the parameter table, the binding of the weight views, initialisation and the
 * activation plan (the other files: segformer-private.h). */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "segformer-private.h"
#include "vg-spec-list.h"

/* ---- the parameter table: the state_dict of tests/reference/segformer_ref.py ----------- */

static int
segformer_param_specs (const VgConfig *cfg, VgParamSpec *specs, int max_specs)
{
  VgSpecList l = { specs, max_specs, 0 };
  int D = cfg->decoder_dim;
  char p[VG_PARAM_NAME_MAX];
  char b[VG_PARAM_NAME_MAX];

  for (int s = 0; s < VG_STAGES; s++)
    {
      int cprev = s == 0 ? cfg->in_channels : cfg->widths[s - 1];
      int C = cfg->widths[s];
      int hC = cfg->mlp_ratio * C;
      int R = cfg->ratios[s];

      g_snprintf (p, sizeof p, "encoder.stages.%d.patch_embed.proj", s);
      vg_spec_list_conv (&l, p, C, cprev, s == 0 ? 7 : 3, TRUE);
      g_snprintf (p, sizeof p, "encoder.stages.%d.patch_embed.norm", s);
      vg_spec_list_layernorm (&l, p, C);

      for (int j = 0; j < cfg->depths[s]; j++)
        {
          g_snprintf (b, sizeof b, "encoder.stages.%d.blocks.%d", s, j);
          g_snprintf (p, sizeof p, "%s.norm1", b);
          vg_spec_list_layernorm (&l, p, C);
          g_snprintf (p, sizeof p, "%s.attn.q", b);
          vg_spec_list_linear (&l, p, C, C);
          g_snprintf (p, sizeof p, "%s.attn.kv", b);
          vg_spec_list_linear (&l, p, 2 * C, C);
          if (R > 1)
            {
              g_snprintf (p, sizeof p, "%s.attn.sr", b);
              vg_spec_list_conv (&l, p, C, C, R, TRUE);
              g_snprintf (p, sizeof p, "%s.attn.sr_norm", b);
              vg_spec_list_layernorm (&l, p, C);
            }
          g_snprintf (p, sizeof p, "%s.attn.proj", b);
          vg_spec_list_linear (&l, p, C, C);
          g_snprintf (p, sizeof p, "%s.norm2", b);
          vg_spec_list_layernorm (&l, p, C);
          g_snprintf (p, sizeof p, "%s.mlp.fc1", b);
          vg_spec_list_linear (&l, p, hC, C);
          g_snprintf (p, sizeof p, "%s.mlp.dwconv", b);
          vg_spec_list_conv (&l, p, hC, 1, 3, TRUE);  /* depthwise: Cin/G = 1 */
          g_snprintf (p, sizeof p, "%s.mlp.fc2", b);
          vg_spec_list_linear (&l, p, C, hC);
        }
      g_snprintf (p, sizeof p, "encoder.stages.%d.norm", s);
      vg_spec_list_layernorm (&l, p, C);
    }

  for (int s = 0; s < VG_STAGES; s++)
    {
      g_snprintf (p, sizeof p, "decoder.linear_c.%d.conv", s);
      vg_spec_list_conv (&l, p, D, cfg->widths[s], 1, TRUE);
      g_snprintf (p, sizeof p, "decoder.linear_c.%d.bn", s);
      vg_spec_list_batchnorm (&l, p, D);
    }
  vg_spec_list_conv (&l, "decoder.fuse.conv", D, 4 * D, 1, TRUE);
  vg_spec_list_batchnorm (&l, "decoder.fuse.bn", D);
  vg_spec_list_conv (&l, "decoder.classifier", cfg->num_classes, D, 1, TRUE);

  if (cfg->head == VG_HEAD_TCONV)
    {
      /* ConvTranspose2d weight is (Cin, Cout, K, K). */
      int n = cfg->num_classes;
      int w[4] = { n, n, 4, 4 };

      vg_spec_list_add (&l, VG_TENSOR_PARAM, 4, w, "head.weight");
      vg_spec_list_add (&l, VG_TENSOR_PARAM, 1, &n, "head.bias");
    }
  return l.count;
}

/* ---- binding ------------------------------------------------------------------------- */

#define BLOCK_FMT "encoder.stages.%d.blocks.%d.%s"
/* every SegFormer layer has a bias */
#define BIND(w, g, ...) vg_model_bind_wb (m, w, g, TRUE, __VA_ARGS__)

static void
bind_weights (VgModel *m, VgSegformer *sf)
{
  const VgConfig *cfg = &m->cfg;

  for (int s = 0; s < VG_STAGES; s++)
    {
      VgStageW *ws = &sf->w.stages[s], *gs = &sf->g.stages[s];

      BIND (&ws->patch_proj, &gs->patch_proj, "encoder.stages.%d.patch_embed.proj", s);
      BIND (&ws->patch_norm, &gs->patch_norm, "encoder.stages.%d.patch_embed.norm", s);
      ws->blocks = g_new0 (VgBlockW, cfg->depths[s]);
      gs->blocks = g_new0 (VgBlockW, cfg->depths[s]);
      for (int j = 0; j < cfg->depths[s]; j++)
        {
          VgBlockW *wb = &ws->blocks[j], *gb = &gs->blocks[j];

          BIND (&wb->norm1, &gb->norm1, BLOCK_FMT, s, j, "norm1");
          BIND (&wb->q, &gb->q, BLOCK_FMT, s, j, "attn.q");
          BIND (&wb->kv, &gb->kv, BLOCK_FMT, s, j, "attn.kv");
          if (cfg->ratios[s] > 1)
            {
              BIND (&wb->sr, &gb->sr, BLOCK_FMT, s, j, "attn.sr");
              BIND (&wb->sr_norm, &gb->sr_norm, BLOCK_FMT, s, j, "attn.sr_norm");
            }
          BIND (&wb->proj, &gb->proj, BLOCK_FMT, s, j, "attn.proj");
          BIND (&wb->norm2, &gb->norm2, BLOCK_FMT, s, j, "norm2");
          BIND (&wb->fc1, &gb->fc1, BLOCK_FMT, s, j, "mlp.fc1");
          BIND (&wb->dwconv, &gb->dwconv, BLOCK_FMT, s, j, "mlp.dwconv");
          BIND (&wb->fc2, &gb->fc2, BLOCK_FMT, s, j, "mlp.fc2");
        }
      BIND (&ws->norm, &gs->norm, "encoder.stages.%d.norm", s);
    }
  for (int s = 0; s < VG_STAGES; s++)
    {
      g_autofree char *bn = g_strdup_printf ("decoder.linear_c.%d.bn", s);
      BIND (&sf->w.linear_c[s], &sf->g.linear_c[s], "decoder.linear_c.%d.conv", s);
      vg_model_bind_bn (m, &sf->w.linear_c_bn[s], &sf->g.linear_c_bn[s], bn);
    }
  BIND (&sf->w.fuse, &sf->g.fuse, "decoder.fuse.conv");
  vg_model_bind_bn (m, &sf->w.fuse_bn, &sf->g.fuse_bn, "decoder.fuse.bn");
  BIND (&sf->w.classifier, &sf->g.classifier, "decoder.classifier");
  if (cfg->head == VG_HEAD_TCONV)
    BIND (&sf->w.head, &sf->g.head, "head");
}

#undef BIND

static gboolean
segformer_bind (VgModel *m, GError **error)
{
  VgSegformer *sf = g_new0 (VgSegformer, 1);

  m->arch_state = sf;
  bind_weights (m, sf);
  return TRUE;
}

static void
segformer_free (VgModel *m)
{
  VgSegformer *sf = segformer_of (m);

  if (sf == NULL)
    return;
  for (int s = 0; s < VG_STAGES; s++)
    {
      g_free (sf->w.stages[s].blocks);
      g_free (sf->g.stages[s].blocks);
    }
  g_clear_pointer (&m->arch_state, g_free);
}

/* ---- initialisation -------------------------------------------------------------------- */

static void
segformer_init (VgModel *m, float *host, uint64_t seed)
{
  for (int i = 0; i < m->n_specs; i++)
    {
      const VgParamSpec *spec = &m->specs[i];
      const char *leaf = strrchr (spec->name, '.') + 1;
      VgInitRng rng = vg_init_rng_for (seed, spec->name);

      if (spec->kind != VG_TENSOR_PARAM)
        continue;

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
              x = vg_init_rng_normal (&rng);
            while (fabs (x) > 2.0);
            dst[k] = (float) (0.02 * x);
          }
      else if (g_str_has_prefix (spec->name, "head."))
        {
          /* ConvTranspose2d default: U(-b, b), b = 1 / sqrt(fan_in), fan_in = Cout*K*K. */
          double bound = 1.0 / sqrt ((double) spec->shape[1] * spec->shape[2] * spec->shape[3]);
          for (size_t k = 0; k < spec->numel; k++)
            dst[k] = (float) (bound * (2 * vg_init_rng_uniform (&rng) - 1));
        }
      else
        {
          /* Conv2d: normal(0, sqrt(2 / fan_out)), fan_out = K*K*Cout / groups. */
          int cout = spec->shape[0], cin_g = spec->shape[1];
          int k2 = spec->shape[2] * spec->shape[3];
          int groups = strstr (spec->name, "dwconv") != NULL ? cout / MAX (cin_g, 1) : 1;
          double std = sqrt (2.0 / ((double) k2 * cout / groups));
          for (size_t k = 0; k < spec->numel; k++)
            dst[k] = (float) (std * vg_init_rng_normal (&rng));
        }
    }
}

/* ---- activation plan ----------------------------------------------------------------- */

static void
segformer_unplan (VgModel *m)
{
  VgSegformer *sf = segformer_of (m);

  if (sf == NULL)
    return;
  for (int s = 0; s < VG_STAGES; s++)
    g_clear_pointer (&sf->a.stages[s].blocks, g_free);
  memset (&sf->a, 0, sizeof sf->a);
}

static void
segformer_plan (VgModel *m, VgPlan *plan, gboolean training)
{
  VgSegformer *sf = segformer_of (m);
  const VgConfig *cfg = &m->cfg;
  const VgBackend *be = m->be;
  const int D = cfg->decoder_dim, NC = cfg->num_classes, B = m->B, H = m->H, W = m->W;
  size_t max_act = 0, max_stream = 0, scratch = 0;
  int N0;

  model_stage_sizes (H, W, sf->sizes);
  N0 = sf->sizes[0].H * sf->sizes[0].W;

#define TRACK(n) (max_act = MAX (max_act, (size_t) (n)))
  for (int s = 0; s < VG_STAGES; s++)
    {
      VgStageActs *sa = &sf->a.stages[s];
      int C = cfg->widths[s], hC = C * cfg->mlp_ratio, NH = cfg->heads[s], R = cfg->ratios[s];
      int Hs = sf->sizes[s].H, Ws = sf->sizes[s].W, N = Hs * Ws;
      int M = model_reduced (Hs, R) * model_reduced (Ws, R);
      int Cprev = s == 0 ? cfg->in_channels : cfg->widths[s - 1];
      int Hp = s == 0 ? H : sf->sizes[s - 1].H, Wp = s == 0 ? W : sf->sizes[s - 1].W;
      size_t BN = (size_t) B * N, BM = (size_t) B * M;

      vg_plan_add (plan, &sa->patch, BN * C);
      vg_plan_add (plan, &sa->patch_ln, BN * C);
      vg_plan_add (plan, &sa->patch_mean, BN);
      vg_plan_add (plan, &sa->patch_rstd, BN);
      scratch = MAX (scratch, be->conv2d_scratch_floats (B, Hp, Wp, Cprev, C, s == 0 ? 7 : 3,
                                                         s == 0 ? 4 : 2, s == 0 ? 3 : 1, 1));
      sa->blocks = g_new0 (VgBlockActs, cfg->depths[s]);
      for (int j = 0; j < cfg->depths[s]; j++)
        {
          VgBlockActs *ba = &sa->blocks[j];
          vg_plan_add (plan, &ba->ln1, BN * C);
          vg_plan_add (plan, &ba->ln1_mean, BN);
          vg_plan_add (plan, &ba->ln1_rstd, BN);
          vg_plan_add (plan, &ba->q, BN * C);
          if (R > 1)
            {
              vg_plan_add (plan, &ba->sr, BM * C);
              vg_plan_add (plan, &ba->srn, BM * C);
              vg_plan_add (plan, &ba->srn_mean, BM);
              vg_plan_add (plan, &ba->srn_rstd, BM);
              scratch = MAX (scratch, be->conv2d_scratch_floats (B, Hs, Ws, C, C, R, R, 0, 1));
            }
          vg_plan_add (plan, &ba->k, BM * C);
          vg_plan_add (plan, &ba->v, BM * C);
          vg_plan_add (plan, &ba->att, BN * C);
          vg_plan_add (plan, &ba->lse, (size_t) B * NH * N);
          vg_plan_add (plan, &ba->x1, BN * C);
          vg_plan_add (plan, &ba->ln2, BN * C);
          vg_plan_add (plan, &ba->ln2_mean, BN);
          vg_plan_add (plan, &ba->ln2_rstd, BN);
          vg_plan_add (plan, &ba->fc1, BN * hC);
          vg_plan_add (plan, &ba->dw, BN * hC);
          vg_plan_add (plan, &ba->gelu, BN * hC);
          vg_plan_add (plan, &ba->out, BN * C);
          scratch = MAX (scratch, be->conv2d_scratch_floats (B, Hs, Ws, hC, hC, 3, 1, 1, hC));
          scratch = MAX (scratch, be->attention_scratch_floats (B, N, M, C, NH));
          TRACK (BN * hC);
        }
      vg_plan_add (plan, &sa->out, BN * C);
      vg_plan_add (plan, &sa->out_mean, BN);
      vg_plan_add (plan, &sa->out_rstd, BN);
      if (training)
        vg_plan_add (plan, &sa->dout, BN * C);
      max_stream = MAX (max_stream, BN * C);
      TRACK (BN * C);
      TRACK ((size_t) B * Hp * Wp * Cprev);
    }
  for (int s = 0; s < VG_STAGES; s++)
    {
      size_t BNs = (size_t) B * sf->sizes[s].H * sf->sizes[s].W;
      vg_plan_add (plan, &sf->a.lc_conv[s], BNs * D);
      vg_plan_add (plan, &sf->a.lc_mean[s], D);
      vg_plan_add (plan, &sf->a.lc_rstd[s], D);
      vg_plan_add (plan, &sf->a.lc_act[s], BNs * D);
    }
  vg_plan_add (plan, &sf->a.fuse_part, (size_t) B * sf->sizes[1].H * sf->sizes[1].W * D);
  vg_plan_add (plan, &sf->a.fuse_up, (size_t) B * N0 * D);
  vg_plan_add (plan, &sf->a.fuse_w, (size_t) 4 * D * D);
  if (training)
    {
      vg_plan_add (plan, &sf->a.fuse_gw, (size_t) 4 * D * D);
      vg_plan_add (plan, &sf->a.fuse_gpack, (size_t) 4 * D * D);
    }
  vg_plan_add (plan, &sf->a.fuse_conv, (size_t) B * N0 * D);
  vg_plan_add (plan, &sf->a.fuse_mean, D);
  vg_plan_add (plan, &sf->a.fuse_rstd, D);
  vg_plan_add (plan, &sf->a.fuse_act, (size_t) B * N0 * D);
  vg_plan_add (plan, &sf->a.cls, (size_t) B * N0 * NC);
  vg_plan_add (plan, &sf->a.logits, (size_t) B * H * W * NC);
  TRACK ((size_t) B * N0 * D);
  TRACK ((size_t) B * N0 * NC);
  if (cfg->head == VG_HEAD_TCONV)
    scratch = MAX (scratch, be->conv_transpose_scratch_floats (B, sf->sizes[0].H,
                                                                sf->sizes[0].W, NC, NC, 4));
  if (training)
    {
      for (int i = 0; i < 5; i++)
        vg_plan_add (plan, &sf->a.tmp[i], max_act);
      for (int i = 0; i < 2; i++)
        vg_plan_add (plan, &sf->a.stream[i], max_stream);
    }
  vg_plan_add (plan, &sf->a.scratch, MAX (scratch, 1));
#undef TRACK

}

static void
segformer_planned (VgModel *m)
{
  VgSegformer *sf = segformer_of (m);

  m->logits = sf->a.logits;
  m->dlogits = sf->a.logits; /* the loss's gradient overwrites the logits */
}

static const float *
segformer_activation (const VgModel *m, const char *name)
{
  const VgSegformer *sf = segformer_of (m);

  if (g_str_has_prefix (name, "stage") && name[5] >= '0' && name[5] < '0' + VG_STAGES
      && name[6] == '\0')
    return sf->a.stages[name[5] - '0'].out;
  if (strcmp (name, "fuse") == 0)
    return sf->a.fuse_act;
  if (strcmp (name, "classifier") == 0)
    return sf->a.cls;
  return NULL;
}

const VgArch vg_arch_segformer = {
  .name = "segformer",
  .param_specs = segformer_param_specs,
  .describe = vg_segformer_describe,
  .bind = segformer_bind,
  .init = segformer_init,
  .plan = segformer_plan,
  .planned = segformer_planned,
  .unplan = segformer_unplan,
  .forward = vg_segformer_forward,
  .backward = vg_segformer_backward,
  .activation = segformer_activation,
  .free = segformer_free,
};
