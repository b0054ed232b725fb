/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The source arithmetic of the bilinear resize (PyTorch's align_corners=False) that the
 * layer (nn/resize.c), its GPU mirror (cuda/resize.cu) and prediction's fused
 * resize-and-argmax (vg-predict.c) share, so that all give the same values to the bit; and
 * the align_corners=True variant of the baselines (U-Net, DeepLabV3+, Fast-SCNN). */
#pragma once

#include "vg-host-device.h"

/* The two source indices of output index o and their weights (l0 for i0, l1 for i1), for a
 * resize whose scale is in_size / out_size (align_corners false) or vg_resize_ac_scale
 * (align_corners true: the source is scale * o, so the first and last pixels meet). */
static inline VG_HOST_DEVICE void
vg_resize_index (int o, float scale, int in_size, int align_corners, int *i0, int *i1,
                 float *l0, float *l1)
{
  float src = align_corners ? scale * (float) o : scale * ((float) o + 0.5f) - 0.5f;

  if (src < 0.0f)
    src = 0.0f;
  *i0 = (int) src;
  if (*i0 > in_size - 1)
    *i0 = in_size - 1;
  *i1 = *i0 < in_size - 1 ? *i0 + 1 : *i0;
  *l1 = src - (float) *i0;
  *l0 = 1.0f - *l1;
}

/* align_corners true: (in_size - 1) / (out_size - 1) in float as PyTorch, 0 for one output
 * (which then samples the first input pixel). */
static inline VG_HOST_DEVICE float
vg_resize_ac_scale (int in_size, int out_size)
{
  return out_size > 1 ? (float) (in_size - 1) / (float) (out_size - 1) : 0.0f;
}

/* align_corners false, PyTorch's F.interpolate(size=) default. */
static inline VG_HOST_DEVICE void
vg_resize_source_index (int o, float scale, int in_size, int *i0, int *i1, float *l0,
                        float *l1)
{
  vg_resize_index (o, scale, in_size, 0, i0, i1, l0, l1);
}

/* Whether output index o blends input index i, and with which weight (*l): on the last
 * index i0 == i1 and both weights land on it. For the backward passes, which gather into i. */
static inline VG_HOST_DEVICE int
vg_resize_blend (int o, float scale, int in_size, int align_corners, int i, float *l)
{
  int i0, i1;
  float l0, l1;

  vg_resize_index (o, scale, in_size, align_corners, &i0, &i1, &l0, &l1);
  if (i0 != i && i1 != i)
    return 0;
  *l = (i0 == i ? l0 : 0.0f) + (i1 == i ? l1 : 0.0f);
  return 1;
}

static inline VG_HOST_DEVICE int
vg_resize_blend_weight (int o, float scale, int in_size, int i, float *l)
{
  return vg_resize_blend (o, scale, in_size, 0, i, l);
}
