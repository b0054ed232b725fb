/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Bilinear resize and channel concatenation on the GPU, channels-last, mirroring
 * nn/resize.c.
 *
 * Resize: inp (B, H, W, C) -> out (B, Ho, Wo, C), PyTorch's
 * F.interpolate(mode='bilinear', size=(Ho, Wo)) in both its modes:
 * - align_corners=False: output pixel o reads the source coordinate (o + 0.5) * H / Ho - 0.5,
 *   clamped below at 0;
 * - align_corners=True: output pixel o reads o * (H - 1) / (Ho - 1) (0 when Ho == 1), so the
 *   corners meet;
 * and blends the two neighbouring rows and columns; the upper neighbour is clamped to the
 * last pixel.
 *
 * The backward is a gather, not a scatter with atomics: a thread per input element visits
 * the few output pixels whose blend can touch it (a window computed from the inverse map,
 * one pixel wider on each side than needed, every candidate checked with the forward's own
 * index function) and sums their gradients in (oh, ow) order, as the CPU. Deterministic,
 * and no float atomics.
 *
 * Gradient rule: activation gradients overwrite (=); these layers have no parameters. */
#include "common.cuh"
#include "vg-resize-index.h"

using namespace vgc;

/* Sizes, the rule, and the scales along H and W: computed on the host, in float, exactly as
 * the CPU computes them (H / Ho, or vg_resize_ac_scale with align_corners). */
struct ResizeShape
{
  int B, H, W, Ho, Wo, C;
  float sh, sw;
  int ac; /* align_corners=True */
};

static ResizeShape
resize_shape (int B, int H, int W, int Ho, int Wo, int C, int ac)
{
  if (ac)
    return ResizeShape { B, H, W, Ho, Wo, C, vg_resize_ac_scale (H, Ho),
                         vg_resize_ac_scale (W, Wo), 1 };
  return ResizeShape { B, H, W, Ho, Wo, C, (float) H / (float) Ho, (float) W / (float) Wo, 0 };
}

/* The output indices [*lo, *hi] that may blend input index i: those whose source
 * coordinate lies in (i - 1, i + 1), widened by one on each side against rounding. With
 * align_corners the coordinate is o * scale; a zero scale (one output, or one input) sends
 * every output to input 0. */
__device__ static inline void
output_window (int ac, int i, float scale, int out_size, int *lo, int *hi)
{
  float a, b;

  if (ac && scale <= 0.0f)
    {
      *lo = 0;
      *hi = out_size - 1;
      return;
    }
  a = ac ? ((float) i - 1.0f) / scale : ((float) i - 0.5f) / scale - 0.5f;
  b = ac ? ((float) i + 1.0f) / scale : ((float) i + 1.5f) / scale - 0.5f;
  *lo = max (0, (int) floorf (a) - 1);
  *hi = min (out_size - 1, (int) ceilf (b) + 1);
}

static __global__ void
resize_forward_kernel (float *out, const float *inp, ResizeShape z)
{
  VGC_GRID_STRIDE (e, (size_t) z.B * z.Ho * z.Wo * z.C)
    {
      Nhwc o = nhwc_index (e, z.Ho, z.Wo, z.C);
      int h0, h1, w0, w1;
      float lh0, lh1, lw0, lw1;

      vg_resize_index (o.y, z.sh, z.H, z.ac, &h0, &h1, &lh0, &lh1);
      vg_resize_index (o.x, z.sw, z.W, z.ac, &w0, &w1, &lw0, &lw1);
      const float *row0 = inp + ((size_t) o.b * z.H + h0) * z.W * z.C + o.c;
      const float *row1 = inp + ((size_t) o.b * z.H + h1) * z.W * z.C + o.c;
      out[e] = lh0 * (lw0 * row0[(size_t) w0 * z.C] + lw1 * row0[(size_t) w1 * z.C])
               + lh1 * (lw0 * row1[(size_t) w0 * z.C] + lw1 * row1[(size_t) w1 * z.C]);
    }
}

/* A thread per input element: it gathers from the output pixels whose blend touches it. */
static __global__ void
resize_backward_kernel (float *dinp, const float *dout, ResizeShape z)
{
  VGC_GRID_STRIDE (e, (size_t) z.B * z.H * z.W * z.C)
    {
      Nhwc i = nhwc_index (e, z.H, z.W, z.C);
      int oh_lo, oh_hi, ow_lo, ow_hi;
      float s = 0.0f;

      output_window (z.ac, i.y, z.sh, z.Ho, &oh_lo, &oh_hi);
      output_window (z.ac, i.x, z.sw, z.Wo, &ow_lo, &ow_hi);
      for (int oh = oh_lo; oh <= oh_hi; oh++)
        {
          float lh, lw;
          if (!vg_resize_blend (oh, z.sh, z.H, z.ac, i.y, &lh))
            continue;
          const float *grow = dout + ((size_t) i.b * z.Ho + oh) * z.Wo * z.C + i.c;
          for (int ow = ow_lo; ow <= ow_hi; ow++)
            if (vg_resize_blend (ow, z.sw, z.W, z.ac, i.x, &lw))
              s += lh * lw * grow[(size_t) ow * z.C];
        }
      dinp[e] = s;
    }
}

extern "C" void
vg_cuda_resize_bilinear_forward (float *out, const float *inp, int B, int H, int W, int Ho,
                                 int Wo, int C)
{
  elementwise_run ("resize_bilinear_forward", resize_forward_kernel, (size_t) B * Ho * Wo * C,
                   out, inp, resize_shape (B, H, W, Ho, Wo, C, 0));
}

extern "C" void
vg_cuda_resize_bilinear_backward (float *dinp, const float *dout, int B, int H, int W, int Ho,
                                  int Wo, int C)
{
  elementwise_run ("resize_bilinear_backward", resize_backward_kernel, (size_t) B * H * W * C,
                   dinp, dout, resize_shape (B, H, W, Ho, Wo, C, 0));
}

extern "C" void
vg_cuda_resize_bilinear_ac_forward (float *out, const float *inp, int B, int H, int W, int Ho,
                                    int Wo, int C)
{
  elementwise_run ("resize_bilinear_ac_forward", resize_forward_kernel,
                   (size_t) B * Ho * Wo * C, out, inp, resize_shape (B, H, W, Ho, Wo, C, 1));
}

extern "C" void
vg_cuda_resize_bilinear_ac_backward (float *dinp, const float *dout, int B, int H, int W,
                                     int Ho, int Wo, int C)
{
  elementwise_run ("resize_bilinear_ac_backward", resize_backward_kernel,
                   (size_t) B * H * W * C, dinp, dout, resize_shape (B, H, W, Ho, Wo, C, 1));
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
