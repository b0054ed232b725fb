/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Bilinear resize and channel concatenation on the GPU, channels-last, mirroring
 * nn/resize.c.
 *
 * Resize: inp (B, H, W, C) -> out (B, Ho, Wo, C), PyTorch's
 * F.interpolate(mode='bilinear', align_corners=False, size=(Ho, Wo)): output pixel o reads
 * the source coordinate (o + 0.5) * H / Ho - 0.5, clamped below at 0, and blends the two
 * neighbouring rows and columns; the upper neighbour is clamped to the last pixel.
 *
 * The backward is a gather, not a scatter with atomics: a thread per input element visits
 * the few output pixels whose blend can touch it (a window computed from the inverse map,
 * one pixel wider on each side than needed, every candidate checked with the forward's own
 * index function) and sums their gradients in (oh, ow) order, as the CPU. Deterministic,
 * and no float atomics.
 *
 * Gradient rule: activation gradients overwrite (=); these layers have no parameters. */
#include "common.cuh"

using namespace vgc;

/* The two source indices of output index o and their weights (l0 for i0, l1 for i1). */
__device__ static inline void
source_index (int o, float scale, int in_size, int *i0, int *i1, float *l0, float *l1)
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

/* The output indices [*lo, *hi] that may blend input index i: those whose source
 * coordinate lies in [i - 1, i + 1), widened by one on each side against rounding. */
__device__ static inline void
output_window (int i, float scale, int out_size, int *lo, int *hi)
{
  float a = ((float) i - 0.5f) / scale - 0.5f;
  float b = ((float) i + 1.5f) / scale - 0.5f;

  *lo = max (0, (int) floorf (a) - 1);
  *hi = min (out_size - 1, (int) ceilf (b) + 1);
}

static __global__ void
resize_forward_kernel (float *out, const float *inp, int B, int H, int W, int Ho, int Wo, int C,
                       float sh, float sw)
{
  VGC_GRID_STRIDE (e, (size_t) B * Ho * Wo * C)
    {
      int c = (int) (e % C);
      size_t pix = e / C;
      int ow = (int) (pix % Wo);
      size_t t = pix / Wo;
      int oh = (int) (t % Ho), b = (int) (t / Ho);
      int h0, h1, w0, w1;
      float lh0, lh1, lw0, lw1;

      source_index (oh, sh, H, &h0, &h1, &lh0, &lh1);
      source_index (ow, sw, W, &w0, &w1, &lw0, &lw1);
      const float *row0 = inp + ((size_t) b * H + h0) * W * C;
      const float *row1 = inp + ((size_t) b * H + h1) * W * C;
      out[e] = lh0 * (lw0 * row0[(size_t) w0 * C + c] + lw1 * row0[(size_t) w1 * C + c])
               + lh1 * (lw0 * row1[(size_t) w0 * C + c] + lw1 * row1[(size_t) w1 * C + c]);
    }
}

static __global__ void
resize_backward_kernel (float *dinp, const float *dout, int B, int H, int W, int Ho, int Wo,
                        int C, float sh, float sw)
{
  VGC_GRID_STRIDE (e, (size_t) B * H * W * C)
    {
      int c = (int) (e % C);
      size_t pix = e / C;
      int iw = (int) (pix % W);
      size_t t = pix / W;
      int ih = (int) (t % H), b = (int) (t / H);
      int oh_lo, oh_hi, ow_lo, ow_hi;
      float s = 0.0f;

      output_window (ih, sh, Ho, &oh_lo, &oh_hi);
      output_window (iw, sw, Wo, &ow_lo, &ow_hi);
      for (int oh = oh_lo; oh <= oh_hi; oh++)
        {
          int h0, h1;
          float lh0, lh1;
          source_index (oh, sh, H, &h0, &h1, &lh0, &lh1);
          if (h0 != ih && h1 != ih)
            continue;
          /* on the last row h0 == h1 and both weights land on it */
          float lh = (h0 == ih ? lh0 : 0.0f) + (h1 == ih ? lh1 : 0.0f);
          const float *grow = dout + ((size_t) b * Ho + oh) * Wo * C + c;
          for (int ow = ow_lo; ow <= ow_hi; ow++)
            {
              int w0, w1;
              float lw0, lw1;
              source_index (ow, sw, W, &w0, &w1, &lw0, &lw1);
              if (w0 != iw && w1 != iw)
                continue;
              float lw = (w0 == iw ? lw0 : 0.0f) + (w1 == iw ? lw1 : 0.0f);
              s += lh * lw * grow[(size_t) ow * C];
            }
        }
      dinp[e] = s;
    }
}

extern "C" void
vg_cuda_resize_bilinear_forward (float *out, const float *inp, int B, int H, int W, int Ho,
                                 int Wo, int C)
{
  /* the scales are computed here, in float, exactly as the CPU computes them */
  float sh = (float) H / (float) Ho, sw = (float) W / (float) Wo;
  size_t n = (size_t) B * Ho * Wo * C;

  if (n > 0)
    resize_forward_kernel<<<blocks_for (n), THREADS, 0, g.stream>>> (out, inp, B, H, W, Ho, Wo,
                                                                      C, sh, sw);
  check_launch ("resize_bilinear_forward");
}

extern "C" void
vg_cuda_resize_bilinear_backward (float *dinp, const float *dout, int B, int H, int W, int Ho,
                                  int Wo, int C)
{
  float sh = (float) H / (float) Ho, sw = (float) W / (float) Wo;
  size_t n = (size_t) B * H * W * C;

  if (n > 0)
    resize_backward_kernel<<<blocks_for (n), THREADS, 0, g.stream>>> (dinp, dout, B, H, W, Ho,
                                                                       Wo, C, sh, sw);
  check_launch ("resize_bilinear_backward");
}

/* ---- concatenation: strided copies, parts[i] (Nr, Cs[i]) <-> out's columns -------------- */

extern "C" void
vg_cuda_concat_forward (float *out, const float *const *parts, const int *Cs, int n_parts,
                        int Nr)
{
  int Ctot = 0, off = 0;

  for (int i = 0; i < n_parts; i++)
    Ctot += Cs[i];
  for (int i = 0; i < n_parts && Nr > 0; i++)
    {
      if (Cs[i] > 0)
        cudaMemcpy2DAsync (out + off, sizeof (float) * Ctot, parts[i], sizeof (float) * Cs[i],
                           sizeof (float) * Cs[i], (size_t) Nr, cudaMemcpyDeviceToDevice,
                           g.stream);
      off += Cs[i];
    }
  check_launch ("concat_forward");
}

/* A NULL dparts[i] skips that part (a branch that needs no gradient). */
extern "C" void
vg_cuda_concat_backward (float *const *dparts, const float *dout, const int *Cs, int n_parts,
                         int Nr)
{
  int Ctot = 0, off = 0;

  for (int i = 0; i < n_parts; i++)
    Ctot += Cs[i];
  for (int i = 0; i < n_parts && Nr > 0; i++)
    {
      if (dparts[i] != NULL && Cs[i] > 0)
        cudaMemcpy2DAsync (dparts[i], sizeof (float) * Cs[i], dout + off, sizeof (float) * Ctot,
                           sizeof (float) * Cs[i], (size_t) Nr, cudaMemcpyDeviceToDevice,
                           g.stream);
      off += Cs[i];
    }
  check_launch ("concat_backward");
}
