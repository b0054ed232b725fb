/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Pointwise activations on the GPU, mirroring nn/activation.c: GELU in its erf form,
 * 0.5 x (1 + erf(x / sqrt 2)), and ReLU, over n floats (out may equal inp). CUDA's erff and
 * expf are accurate to a few ulp, closer to the exact function than the CPU's vectorised
 * approximations (1.5e-7 absolute), which is well inside the tests' tolerance.
 *
 * Gradient rule: activation gradients overwrite (=); these layers have no parameters. */
#include "common.cuh"

using namespace vgc;

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

static __global__ void
gelu_forward_kernel (float *out, const float *inp, size_t n)
{
  VGC_GRID_STRIDE (i, n)
    {
      float x = inp[i];
      out[i] = 0.5f * x * (1.0f + erff (x * INV_SQRT2));
    }
}

/* d/dx [x Phi(x)] = Phi(x) + x phi(x), Phi and phi the normal CDF and density. */
static __global__ void
gelu_backward_kernel (float *dinp, const float *dout, const float *inp, size_t n)
{
  VGC_GRID_STRIDE (i, n)
    {
      float x = inp[i];
      float cdf = 0.5f * (1.0f + erff (x * INV_SQRT2));
      float pdf = INV_SQRT_2PI * expf (-0.5f * x * x);
      dinp[i] = dout[i] * (cdf + x * pdf);
    }
}

static __global__ void
relu_forward_kernel (float *out, const float *inp, size_t n)
{
  /* written so that NaN passes through, as torch.relu does */
  VGC_GRID_STRIDE (i, n)
    out[i] = inp[i] < 0.0f ? 0.0f : inp[i];
}

static __global__ void
relu_backward_kernel (float *dinp, const float *dout, const float *out, size_t n)
{
  VGC_GRID_STRIDE (i, n)
    dinp[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

extern "C" void
vg_cuda_gelu_forward (float *out, const float *inp, size_t n)
{
  elementwise_run ("gelu_forward", gelu_forward_kernel, n, out, inp, n);
}

extern "C" void
vg_cuda_gelu_backward (float *dinp, const float *dout, const float *inp, size_t n)
{
  elementwise_run ("gelu_backward", gelu_backward_kernel, n, dinp, dout, inp, n);
}

extern "C" void
vg_cuda_relu_forward (float *out, const float *inp, size_t n)
{
  elementwise_run ("relu_forward", relu_forward_kernel, n, out, inp, n);
}

extern "C" void
vg_cuda_relu_backward (float *dinp, const float *dout, const float *out, size_t n)
{
  elementwise_run ("relu_backward", relu_backward_kernel, n, dinp, dout, out, n);
}
