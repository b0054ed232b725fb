/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The SegFormer's forward and backward passes through the backend table (shapes and
 * memory: segformer-private.h; the loss around them: vg-model.c).
 *
 * Gradient rule: parameter gradients accumulate (+=); activation gradients overwrite (=),
 * and the model adds residual and multi-consumer paths itself with add_inplace. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include "segformer-private.h"

/* ---- forward --------------------------------------------------------------------------- */

static void
block_forward (VgModel *m, const VgBlockW *w, VgBlockActs *a, const float *x, int B, int Hs,
               int Ws, int C, int NH, int R)
{
  const VgBackend *be = m->be;
  VgSegformer *sf = segformer_of (m);
  const float eps = m->cfg.ln_eps;
  const int hC = C * m->cfg.mlp_ratio, N = Hs * Ws;
  const int M = model_reduced (Hs, R) * model_reduced (Ws, R);
  const float *kv_in = a->ln1;

  a->inp = x;
  be->layernorm_forward (a->ln1, a->ln1_mean, a->ln1_rstd, x, w->norm1.w, w->norm1.b, eps,
                         B * N, C);
  be->linear_forward (a->q, a->ln1, w->q.w, w->q.b, B * N, C, C);
  if (R > 1)
    {
      be->conv2d_forward (a->sr, a->ln1, w->sr.w, w->sr.b, sf->a.scratch, B, Hs, Ws, C, C, R, R,
                          0, 1);
      be->layernorm_forward (a->srn, a->srn_mean, a->srn_rstd, a->sr, w->sr_norm.w,
                             w->sr_norm.b, eps, B * M, C);
      kv_in = a->srn;
    }
  /* kv is one Linear(C, 2C) in PyTorch: its first C output rows are k, the next C are v. */
  be->linear_forward (a->k, kv_in, w->kv.w, w->kv.b, B * M, C, C);
  be->linear_forward (a->v, kv_in, w->kv.w + (size_t) C * C, w->kv.b + C, B * M, C, C);
  be->attention_forward (a->att, a->lse, a->q, a->k, a->v, sf->a.scratch, B, N, M, C, NH);
  be->linear_forward (a->x1, a->att, w->proj.w, w->proj.b, B * N, C, C);
  be->add_inplace (a->x1, x, (size_t) B * N * C);

  be->layernorm_forward (a->ln2, a->ln2_mean, a->ln2_rstd, a->x1, w->norm2.w, w->norm2.b, eps,
                         B * N, C);
  be->linear_forward (a->fc1, a->ln2, w->fc1.w, w->fc1.b, B * N, C, hC);
  be->conv2d_forward (a->dw, a->fc1, w->dwconv.w, w->dwconv.b, sf->a.scratch, B, Hs, Ws, hC, hC,
                      3, 1, 1, hC);
  be->gelu_forward (a->gelu, a->dw, (size_t) B * N * hC);
  be->linear_forward (a->out, a->gelu, w->fc2.w, w->fc2.b, B * N, hC, C);
  be->add_inplace (a->out, a->x1, (size_t) B * N * C);
}

static void
batchnorm_relu_forward (VgModel *m, float *act, float *mean, float *rstd, const float *inp,
                        const VgBatchNormW *bn, int Nr, int C, gboolean training)
{
  vg_model_batchnorm_forward (m, act, mean, rstd, inp, bn, Nr, C, training);
  m->be->relu_forward (act, act, (size_t) Nr * C);
}

void
vg_segformer_forward (VgModel *m, const float *images, int B, gboolean training)
{
  VgSegformer *sf = segformer_of (m);
  const VgConfig *cfg = &m->cfg;
  const VgBackend *be = m->be;
  const int D = cfg->decoder_dim, NC = cfg->num_classes;
  const int H0 = sf->sizes[0].H, W0 = sf->sizes[0].W, N0 = H0 * W0;
  const float *x = images;
  VgActs *a = &sf->a;

  for (int s = 0; s < VG_STAGES; s++)
    {
      const VgStageW *ws = &sf->w.stages[s];
      VgStageActs *sa = &a->stages[s];
      int C = cfg->widths[s], Hs = sf->sizes[s].H, Ws = sf->sizes[s].W, N = Hs * Ws;
      int Cprev = s == 0 ? cfg->in_channels : cfg->widths[s - 1];
      int Hp = s == 0 ? m->H : sf->sizes[s - 1].H, Wp = s == 0 ? m->W : sf->sizes[s - 1].W;

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
    be->concat_backward (wparts, sf->w.fuse.w, Cs, VG_STAGES, D); /* split the columns */
    for (int s = 0; s < VG_STAGES; s++)
      {
        int Ns = sf->sizes[s].H * sf->sizes[s].W;

        be->linear_forward (a->lc_conv[s], a->stages[s].out, sf->w.linear_c[s].w,
                            sf->w.linear_c[s].b, B * Ns, cfg->widths[s], D);
        batchnorm_relu_forward (m, a->lc_act[s], a->lc_mean[s], a->lc_rstd[s], a->lc_conv[s],
                                &sf->w.linear_c_bn[s], B * Ns, D, training);
      }
    be->linear_forward (a->fuse_conv, a->lc_act[0], wparts[VG_STAGES - 1], sf->w.fuse.b,
                        B * N0, D, D);
    for (int s = 1; s < VG_STAGES; s++)
      {
        int Ns = sf->sizes[s].H * sf->sizes[s].W;

        be->linear_forward (a->fuse_part, a->lc_act[s], wparts[VG_STAGES - 1 - s], NULL,
                            B * Ns, D, D);
        be->resize_bilinear_forward (a->fuse_up, a->fuse_part, B, sf->sizes[s].H,
                                     sf->sizes[s].W, H0, W0, D);
        be->add_inplace (a->fuse_conv, a->fuse_up, (size_t) B * N0 * D);
      }
  }
  batchnorm_relu_forward (m, a->fuse_act, a->fuse_mean, a->fuse_rstd, a->fuse_conv,
                          &sf->w.fuse_bn, B * N0, D, training);
  be->linear_forward (a->cls, a->fuse_act, sf->w.classifier.w, sf->w.classifier.b, B * N0, D,
                      NC);
  if (cfg->head == VG_HEAD_TCONV)
    be->conv_transpose_forward (a->logits, a->cls, sf->w.head.w, sf->w.head.b, a->scratch, B, H0,
                                W0, NC, NC, 4);
  else
    be->resize_bilinear_forward (a->logits, a->cls, B, H0, W0, m->H, m->W, NC);
}

/* ---- backward -------------------------------------------------------------------------- */

/* dout: gradient of the block output (B, N, C); writes dinp, the gradient of its input.
 * Uses the five temporaries a.tmp[], none of which alias dout or dinp. */
static void
block_backward (VgModel *m, const VgBlockW *w, const VgBlockW *g, const VgBlockActs *a,
                float *dinp, const float *dout, int B, int Hs, int Ws, int C, int NH, int R)
{
  const VgBackend *be = m->be;
  VgSegformer *sf = segformer_of (m);
  float *const *t = sf->a.tmp;
  const int hC = C * m->cfg.mlp_ratio, N = Hs * Ws;
  const int M = model_reduced (Hs, R) * model_reduced (Ws, R);
  const size_t BNC = (size_t) B * N * C, BMC = (size_t) B * M * C;
  const float *kv_in = R > 1 ? a->srn : a->ln1;

  /* Mix-FFN: out = x1 + fc2(gelu(dwconv(fc1(ln2(x1))))) */
  be->linear_backward (t[0], g->fc2.w, g->fc2.b, dout, a->gelu, w->fc2.w, B * N, hC, C);
  be->gelu_backward (t[0], t[0], a->dw, (size_t) B * N * hC);
  be->conv2d_backward (t[1], g->dwconv.w, g->dwconv.b, t[0], a->fc1, w->dwconv.w,
                       sf->a.scratch, B, Hs, Ws, hC, hC, 3, 1, 1, hC);
  be->linear_backward (t[2], g->fc1.w, g->fc1.b, t[1], a->ln2, w->fc1.w, B * N, C, hC);
  be->layernorm_backward (t[3], g->norm2.w, g->norm2.b, t[2], a->x1, w->norm2.w, a->ln2_mean,
                          a->ln2_rstd, B * N, C);
  be->add_inplace (t[3], dout, BNC); /* t3 = d x1 (residual) */

  /* attention: x1 = inp + proj(attn(q(ln1), kv(sr(ln1)))) */
  be->linear_backward (t[2], g->proj.w, g->proj.b, t[3], a->att, w->proj.w, B * N, C, C);
  be->attention_backward (t[0], t[1], t[4], t[2], a->att, a->lse, a->q, a->k, a->v,
                          sf->a.scratch, B, N, M, C, NH);
  be->linear_backward (t[2], g->q.w, g->q.b, t[0], a->ln1, w->q.w, B * N, C, C);
  be->linear_backward (t[0], g->kv.w, g->kv.b, t[1], kv_in, w->kv.w, B * M, C, C);
  be->linear_backward (t[1], g->kv.w + (size_t) C * C, g->kv.b + C, t[4], kv_in,
                       w->kv.w + (size_t) C * C, B * M, C, C);
  be->add_inplace (t[0], t[1], BMC); /* t0 = d kv_in */
  if (R > 1)
    {
      be->layernorm_backward (t[1], g->sr_norm.w, g->sr_norm.b, t[0], a->sr, w->sr_norm.w,
                              a->srn_mean, a->srn_rstd, B * M, C);
      be->conv2d_backward (t[4], g->sr.w, g->sr.b, t[1], a->ln1, w->sr.w, sf->a.scratch, B, Hs,
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
  vg_model_batchnorm_backward (m, dinp, dact, inp, mean, rstd, w, g, Nr, C);
}

void
vg_segformer_backward (VgModel *m, int B)
{
  VgSegformer *sf = segformer_of (m);
  const VgConfig *cfg = &m->cfg;
  const VgBackend *be = m->be;
  const int D = cfg->decoder_dim, NC = cfg->num_classes;
  const int H0 = sf->sizes[0].H, W0 = sf->sizes[0].W, N0 = H0 * W0;
  VgActs *a = &sf->a;
  float *const *t = a->tmp;

  /* the logits hold the loss's gradient (vg_model_backward_scaled) */
  if (cfg->head == VG_HEAD_TCONV)
    be->conv_transpose_backward (t[0], sf->g.head.w, sf->g.head.b, a->logits, a->cls,
                                 sf->w.head.w, a->scratch, B, H0, W0, NC, NC, 4);
  else
    be->resize_bilinear_backward (t[0], a->logits, B, H0, W0, m->H, m->W, NC);
  be->linear_backward (t[1], sf->g.classifier.w, sf->g.classifier.b, t[0], a->fuse_act,
                       sf->w.classifier.w, B * N0, D, NC);
  batchnorm_relu_backward (m, t[2], t[1], a->fuse_act, a->fuse_conv, a->fuse_mean,
                           a->fuse_rstd, &sf->w.fuse_bn, &sf->g.fuse_bn, B * N0, D);
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
        int Hs = sf->sizes[s].H, Ws = sf->sizes[s].W, Ns = Hs * Ws;
        const float *dy = t[2];
        float *dact = t[0], *dconv = t[1];

        if (s > 0)
          {
            be->resize_bilinear_backward (t[3], t[2], B, Hs, Ws, H0, W0, D);
            dy = t[3];
          }
        /* the bias joins once, at 1/4 scale: its gradient is the sum of d fuse_conv */
        be->linear_backward (dact, gparts[k], s == 0 ? sf->g.fuse.b : NULL, dy, a->lc_act[s],
                             wparts[k], B * Ns, D, D);
        batchnorm_relu_backward (m, dconv, dact, a->lc_act[s], a->lc_conv[s], a->lc_mean[s],
                                 a->lc_rstd[s], &sf->w.linear_c_bn[s], &sf->g.linear_c_bn[s],
                                 B * Ns, D);
        be->linear_backward (a->stages[s].dout, sf->g.linear_c[s].w, sf->g.linear_c[s].b,
                             dconv, a->stages[s].out, sf->w.linear_c[s].w, B * Ns,
                             cfg->widths[s], D);
      }
    be->concat_forward (a->fuse_gpack, (const float *const *) gparts, Cs, VG_STAGES, D);
    be->add_inplace (sf->g.fuse.w, a->fuse_gpack, (size_t) 4 * D * D);
  }

  /* encoder, last stage first; each stage's input gradient adds to the previous stage's */
  for (int s = VG_STAGES - 1; s >= 0; s--)
    {
      const VgStageW *ws = &sf->w.stages[s], *gs = &sf->g.stages[s];
      VgStageActs *sa = &a->stages[s];
      int C = cfg->widths[s], Hs = sf->sizes[s].H, Ws = sf->sizes[s].W, N = Hs * Ws;
      int Cprev = s == 0 ? cfg->in_channels : cfg->widths[s - 1];
      int Hp = s == 0 ? m->H : sf->sizes[s - 1].H, Wp = s == 0 ? m->W : sf->sizes[s - 1].W;
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
