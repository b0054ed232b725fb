/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Pointwise activations over n floats: GELU in its erf form, 0.5 x (1 + erf(x / sqrt 2)),
 * and ReLU. Activation gradients overwrite (=); these layers have no parameters.
 *
 * libm's erff and expf are calls the compiler cannot vectorise (glibc's vector variants
 * need -ffast-math), so GELU uses its own inline exp and erf, written with plain float
 * arithmetic and bit casts that vectorise under `omp simd`. erf is Abramowitz & Stegun
 * 7.1.26 (absolute error below 1.5e-7), the same formula as PyTorch's vectorised CPU erf. */
#include "vg-nn.h"
#include "vg-simd.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define PAR_MIN 32768 /* below this many floats a thread team costs more than it saves */

/* exp(x) for x <= 0, relative error about 1e-7 (Cephes expf): x = n ln2 + r with
 * |r| <= ln2 / 2, e^r by a polynomial, 2^n written into the exponent bits. The callers need
 * exp only of -x^2 and -x^2 / 2. Inputs below -87 are clamped there so 2^n stays a normal
 * float; the clamp compares the bits as unsigned integers (for negative floats a larger
 * pattern is a more negative number) because a float compare-and-select is a branch the
 * vectoriser refuses under the default -ftrapping-math. */
static inline float
fast_exp_neg (float x)
{
  const float lowest = -87.0f;
  uint32_t ux, ulow;
  memcpy (&ux, &x, sizeof ux);
  memcpy (&ulow, &lowest, sizeof ulow);
  ux = ux > ulow ? ulow : ux;
  memcpy (&x, &ux, sizeof x);
  /* round x / ln2 to the nearest integer: adding 1.5 * 2^23 leaves it in the low bits */
  float t = x * 1.44269504088896341f + 12582912.0f;
  float n = t - 12582912.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t ti, e;
  float scale;
  memcpy (&ti, &t, sizeof ti);
  e = (ti - 0x4B400000 + 127) * (1 << 23); /* ti - bits(1.5 * 2^23) = n */
  memcpy (&scale, &e, sizeof scale);
  return p * scale;
}

static inline float
fast_erff (float x)
{
  float ax = fabsf (x);
  float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  return copysignf (1.0f - p * t * fast_exp_neg (-ax * ax), x);
}

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

/* GELU runs over every hidden activation of every MLP: its kernels are multiversioned
 * (vg-simd.h) and handed chunks, so the AVX-512 or AVX2 clone does the work. */
enum { GELU_CHUNK = 16384 };

static SIMD_CLONES void
gelu_forward_range (float *out, const float *inp, size_t i0, size_t i1)
{
#pragma omp simd
  for (size_t i = i0; i < i1; i++)
    {
      float x = inp[i];
      out[i] = 0.5f * x * (1.0f + fast_erff (x * INV_SQRT2));
    }
}

/* d/dx [x Phi(x)] = Phi(x) + x phi(x), Phi and phi the normal CDF and density. */
static SIMD_CLONES void
gelu_backward_range (float *dinp, const float *dout, const float *inp, size_t i0, size_t i1)
{
#pragma omp simd
  for (size_t i = i0; i < i1; i++)
    {
      float x = inp[i];
      float cdf = 0.5f * (1.0f + fast_erff (x * INV_SQRT2));
      float pdf = INV_SQRT_2PI * fast_exp_neg (-0.5f * x * x);
      dinp[i] = dout[i] * (cdf + x * pdf);
    }
}

void
vg_gelu_forward (float *out, const float *inp, size_t n)
{
  size_t n_chunks = (n + GELU_CHUNK - 1) / GELU_CHUNK;

#pragma omp parallel for schedule(static) if (n > PAR_MIN)
  for (size_t c = 0; c < n_chunks; c++)
    gelu_forward_range (out, inp, c * GELU_CHUNK, vg_chunk_end (c, GELU_CHUNK, n));
}

void
vg_gelu_backward (float *dinp, const float *dout, const float *inp, size_t n)
{
  size_t n_chunks = (n + GELU_CHUNK - 1) / GELU_CHUNK;

#pragma omp parallel for schedule(static) if (n > PAR_MIN)
  for (size_t c = 0; c < n_chunks; c++)
    gelu_backward_range (dinp, dout, inp, c * GELU_CHUNK, vg_chunk_end (c, GELU_CHUNK, n));
}

void
vg_relu_forward (float *out, const float *inp, size_t n)
{
  /* written so that NaN passes through, as torch.relu does */
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
  for (size_t i = 0; i < n; i++)
    out[i] = inp[i] < 0.0f ? 0.0f : inp[i];
}

void
vg_relu_backward (float *dinp, const float *dout, const float *out, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
  for (size_t i = 0; i < n; i++)
    {
      float g = dout[i]; /* loaded unconditionally so the select vectorises */
      dinp[i] = out[i] > 0.0f ? g : 0.0f;
    }
}
