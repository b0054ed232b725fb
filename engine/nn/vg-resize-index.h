/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The source arithmetic of the bilinear resize (PyTorch's align_corners=False) that the
 * layer (nn/resize.c) and prediction's fused resize-and-argmax (vg-predict.c) share, so
 * that both give the same values to the bit. */
#pragma once

/* The two source indices of output index o and their weights (l0 for i0, l1 for i1), for a
 * resize whose scale is in_size / out_size. */
static inline void
vg_resize_source_index (int o, float scale, int in_size, int *i0, int *i1, float *l0,
                        float *l1)
{
  float src = scale * ((float) o + 0.5f) - 0.5f;

  if (src < 0.0f)
    src = 0.0f;
  *i0 = (int) src;
  if (*i0 > in_size - 1)
    *i0 = in_size - 1;
  *i1 = *i0 < in_size - 1 ? *i0 + 1 : *i0;
  *l1 = src - (float) *i0;
  *l0 = 1.0f - *l1;
}
