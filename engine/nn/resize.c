/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Bilinear resize and channel concatenation, channels-last.
 *
 * Resize: inp (B, H, W, C) -> out (B, Ho, Wo, C), PyTorch's
 * F.interpolate(mode='bilinear', align_corners=False, size=(Ho, Wo)): output pixel o reads
 * the source coordinate (o + 0.5) * H / Ho - 0.5, clamped below at 0 (PyTorch clamps
 * negative coordinates rather than weighting a mirrored pixel), and blends the two
 * neighbouring rows and columns; the upper neighbour is clamped to the last pixel. With
 * align_corners=True (the baselines' F.interpolate) output pixel o reads o (H - 1) / (Ho - 1)
 * instead, so the corner pixels of input and output coincide (0 when Ho == 1; H == 1
 * broadcasts the one row). Both share one pair of loops below; `ac` picks the rule.
 *
 * Gradient rule: activation gradients overwrite (=); these layers have no parameters. */
#include "vg-nn.h"

#include <string.h>

#include <glib.h>
#include <omp.h>

#include "vg-resize-index.h"
#include "vg-simd.h"

/* The scale of one axis under either rule. */
static float
resize_scale (int in, int out, int ac)
{
  return ac ? vg_resize_ac_scale (in, out) : (float) in / (float) out;
}

/* The forward is separable: row (b, h) of the input resized along its width, t (Wo, C),
 * then each output row a blend of two such rows. Its products are not fused into
 * multiply-adds (the clones for processors with FMA would): the expression is
 * lh0 * (lw0 x00 + lw1 x01) + lh1 * (lw0 x10 + lw1 x11) in that order, as prediction's fused
 * resize-and-argmax (vg-predict.c) computes it, to the bit. */
static SIMD_CLONES NO_FP_CONTRACT void
resize_width (float *t, const float *row, float sw, int W, int Wo, int C, int ac)
{
  for (int ow = 0; ow < Wo; ow++)
    {
      int w0, w1;
      float lw0, lw1;
      vg_resize_index (ow, sw, W, ac, &w0, &w1, &lw0, &lw1);
      const float *x0 = row + (size_t) w0 * C, *x1 = row + (size_t) w1 * C;
      float *o = t + (size_t) ow * C;
#pragma omp simd
      for (int c = 0; c < C; c++)
        o[c] = lw0 * x0[c] + lw1 * x1[c];
    }
}

static SIMD_CLONES NO_FP_CONTRACT void
blend_rows (float *out, const float *t0, const float *t1, float lh0, float lh1, size_t n)
{
#pragma omp simd
  for (size_t i = 0; i < n; i++)
    out[i] = lh0 * t0[i] + lh1 * t1[i];
}

/* Each thread takes a band of output rows and keeps the two width-resized input rows it
 * used last (an upscale by k reuses them for k output rows): 64x64 -> 512x512 with 19
 * channels took 1.1-1.7 ms a pixel at a time, 0.6 so. */
static void
resize_forward (float *out, const float *inp, int B, int H, int W, int Ho, int Wo, int C,
                int ac)
{
  float sh = resize_scale (H, Ho, ac), sw = resize_scale (W, Wo, ac);
  size_t row_floats = (size_t) Wo * C;

#pragma omp parallel if ((size_t) B * Ho * Wo * C > 16384)
  {
    int nt = omp_get_num_threads (), th = omp_get_thread_num ();
    long first = (long) B * Ho * th / nt, last = (long) B * Ho * (th + 1) / nt;
    float *t[2] = { g_new (float, row_floats), g_new (float, row_floats) };
    long have[2] = { -1, -1 }; /* the input rows (b H + h) that t[0], t[1] hold */

    for (long r = first; r < last; r++)
      {
        int b = (int) (r / Ho), oh = (int) (r % Ho), h[2];
        float lh0, lh1;
        const float *rows[2];

        vg_resize_index (oh, sh, H, ac, &h[0], &h[1], &lh0, &lh1);
        for (int k = 0; k < 2; k++)
          {
            long want = (long) b * H + h[k];
            int slot = have[0] == want ? 0 : have[1] == want ? 1 : -1;

            if (slot < 0)
              {
                /* the slot the other row does not need */
                long other = (long) b * H + h[1 - k];
                slot = have[0] == other ? 1 : 0;
                resize_width (t[slot], inp + (size_t) want * W * C, sw, W, Wo, C, ac);
                have[slot] = want;
              }
            rows[k] = t[slot];
          }
        blend_rows (out + (size_t) r * row_floats, rows[0], rows[1], lh0, lh1, row_floats);
      }
    g_free (t[0]);
    g_free (t[1]);
  }
}

/* acc (Wo, C) += lh * grow (Wo, C): one output row's share of an input row, before the
 * width's adjoint. */
static SIMD_CLONES void
accumulate_row (float *acc, const float *grow, float lh, size_t n)
{
#pragma omp simd
  for (size_t i = 0; i < n; i++)
    acc[i] += lh * grow[i];
}

/* drow (W, C) = the adjoint of resize_width applied to acc (Wo, C). */
static SIMD_CLONES void
unresize_width (float *drow, const float *acc, float sw, int W, int Wo, int C, int ac)
{
  memset (drow, 0, sizeof (float) * W * C);
  for (int ow = 0; ow < Wo; ow++)
    {
      int w0, w1;
      float lw0, lw1;
      vg_resize_index (ow, sw, W, ac, &w0, &w1, &lw0, &lw1);
      const float *g = acc + (size_t) ow * C;
      float *d0 = drow + (size_t) w0 * C, *d1 = drow + (size_t) w1 * C;
      /* d0 and d1 coincide on the last column: two loops keep that correct */
#pragma omp simd
      for (int c = 0; c < C; c++)
        d0[c] += lw0 * g[c];
#pragma omp simd
      for (int c = 0; c < C; c++)
        d1[c] += lw1 * g[c];
    }
}

/* The adjoint of the forward, separable as it is. Output pixels scatter into up to four
 * input pixels, so rather than split the output (threads would collide on shared input
 * pixels) each thread owns input rows (b, ih): it sums the output rows whose blend touches ih,
 * each weighted (whole rows, one vector loop), then takes the sum through the width's
 * adjoint once. The sums run in (oh, ow) order for any thread count, so results do not
 * depend on it at all. An upscale by 8 with 19 channels (32x32 -> 256x256, batch 8) took
 * 4.6 ms scattering every output pixel into its input rows, 1.9-2.1 ms so. */
static void
resize_backward (float *dinp, const float *dout, int B, int H, int W, int Ho, int Wo, int C,
                 int ac)
{
  float sh = resize_scale (H, Ho, ac), sw = resize_scale (W, Wo, ac);
  size_t row_floats = (size_t) Wo * C;

#pragma omp parallel if ((size_t) B * Ho * Wo * C > 16384)
  {
    int nt = omp_get_num_threads (), th = omp_get_thread_num ();
    long first = (long) B * H * th / nt, last = (long) B * H * (th + 1) / nt;
    float *acc = g_new (float, row_floats);

    for (long r = first; r < last; r++)
      {
        int b = (int) (r / H), ih = (int) (r % H);

        memset (acc, 0, sizeof (float) * row_floats);
        for (int oh = 0; oh < Ho; oh++)
          {
            float lh;
            if (vg_resize_blend (oh, sh, H, ac, ih, &lh))
              accumulate_row (acc, dout + ((size_t) b * Ho + oh) * row_floats, lh, row_floats);
          }
        unresize_width (dinp + (size_t) r * W * C, acc, sw, W, Wo, C, ac);
      }
    g_free (acc);
  }
}

void
vg_resize_bilinear_forward (float *out, const float *inp, int B, int H, int W, int Ho, int Wo,
                            int C)
{
  resize_forward (out, inp, B, H, W, Ho, Wo, C, 0);
}

void
vg_resize_bilinear_backward (float *dinp, const float *dout, int B, int H, int W, int Ho,
                             int Wo, int C)
{
  resize_backward (dinp, dout, B, H, W, Ho, Wo, C, 0);
}

void
vg_resize_bilinear_ac_forward (float *out, const float *inp, int B, int H, int W, int Ho,
                               int Wo, int C)
{
  resize_forward (out, inp, B, H, W, Ho, Wo, C, 1);
}

void
vg_resize_bilinear_ac_backward (float *dinp, const float *dout, int B, int H, int W, int Ho,
                                int Wo, int C)
{
  resize_backward (dinp, dout, B, H, W, Ho, Wo, C, 1);
}

void
vg_concat_forward (float *out, const float *const *parts, const int *Cs, int n_parts, int Nr)
{
  int Ctot = 0;

  for (int i = 0; i < n_parts; i++)
    Ctot += Cs[i];
#pragma omp parallel for schedule(static) if ((size_t) Nr * Ctot > 65536)
  for (int r = 0; r < Nr; r++)
    {
      float *o = out + (size_t) r * Ctot;
      for (int i = 0; i < n_parts; i++)
        {
          memcpy (o, parts[i] + (size_t) r * Cs[i], sizeof (float) * Cs[i]);
          o += Cs[i];
        }
    }
}

/* A NULL dparts[i] skips that part (a branch that needs no gradient). */
void
vg_concat_backward (float *const *dparts, const float *dout, const int *Cs, int n_parts,
                    int Nr)
{
  int Ctot = 0;

  for (int i = 0; i < n_parts; i++)
    Ctot += Cs[i];
#pragma omp parallel for schedule(static) if ((size_t) Nr * Ctot > 65536)
  for (int r = 0; r < Nr; r++)
    {
      const float *g = dout + (size_t) r * Ctot;
      for (int i = 0; i < n_parts; i++)
        {
          if (dparts[i] != NULL)
            memcpy (dparts[i] + (size_t) r * Cs[i], g, sizeof (float) * Cs[i]);
          g += Cs[i];
        }
    }
}
