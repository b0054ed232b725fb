/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The layer table of a configuration: each layer's output shape, parameters and forward
 * multiply-accumulates, computed from the configuration alone (no model is allocated).
 * The figures follow the forward of segformer-passes.c (the fuse stage by stage). */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <stdio.h>

#include "segformer-private.h"

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
vg_segformer_describe (const VgConfig *cfg, int H, int W, VgLayerInfo *rows, int max)
{
  VgRows r = { rows, rows != NULL ? max : 0, 0 };
  VgStageSize sizes[VG_STAGES];
  const int D = cfg->decoder_dim, NC = cfg->num_classes;
  char name[64];
  int N0;

  model_stage_sizes (H, W, sizes);
  N0 = sizes[0].H * sizes[0].W;
  for (int s = 0; s < VG_STAGES; s++)
    {
      int C = cfg->widths[s], hC = C * cfg->mlp_ratio, R = cfg->ratios[s];
      int Hs = sizes[s].H, Ws = sizes[s].W;
      double N = (double) Hs * Ws, M = (double) model_reduced (Hs, R) * model_reduced (Ws, R);
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
