/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Linear layer on the GPU, mirroring nn/linear.c: out (Nr, Cout) = inp (Nr, Cin) @ weight^T
 * + bias, weight (Cout, Cin) as in PyTorch. Products through cuBLAS; the bias gradient is a
 * deterministic column reduction (common.cuh).
 *
 * Gradient rule: parameter gradients accumulate (+=), activation gradients overwrite (=). */
#include "common.cuh"

using namespace vgc;

/* out (Nr, C) rows = bias (C) */
static __global__ void
fill_rows_kernel (float *out, const float *bias, size_t Nr, int C)
{
  VGC_GRID_STRIDE (i, Nr * (size_t) C)
    out[i] = bias[i % (size_t) C];
}

namespace
{

struct LinearColumn
{
  const float *x;
  int C;
  __device__ void
  operator() (int r, int c, double *acc) const
  {
    acc[0] += x[(size_t) r * C + c];
  }
};

struct LinearAddTo
{
  float *dst;
  __device__ void
  operator() (int c, const double *s) const
  {
    dst[c] += (float) s[0];
  }
};

} /* namespace */

void
vgc::bias_backward (float *dbias, const float *dout, int Nr, int C)
{
  ColsumPlan p = colsum_plan (Nr, C, 1, 0);

  colsum_run<1> (p, LinearColumn { dout, C }, LinearAddTo { dbias }, Nr, C);
}

extern "C" void
vg_cuda_linear_forward (float *out, const float *inp, const float *weight, const float *bias,
                        int Nr, int Cin, int Cout)
{
  float beta = 0.0f;

  /* the bias goes in first and the product adds onto it (beta = 1), as on the CPU */
  if (bias != NULL)
    {
      fill_rows_kernel<<<blocks_for ((size_t) Nr * Cout), THREADS, 0, g.stream>>> (
        out, bias, (size_t) Nr, Cout);
      beta = 1.0f;
    }
  gemm (false, true, Nr, Cout, Cin, 1.0f, inp, Cin, weight, Cin, beta, out, Cout);
  check_launch ("linear_forward");
}

/* Any of dinp, dweight, dbias may be NULL; with only dbias, inp and weight are not read. */
extern "C" void
vg_cuda_linear_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, int Nr, int Cin, int Cout)
{
  /* dinp (Nr, Cin) = dout (Nr, Cout) @ weight (Cout, Cin) */
  if (dinp != NULL)
    gemm (false, false, Nr, Cin, Cout, 1.0f, dout, Cout, weight, Cin, 0.0f, dinp, Cin);
  /* dweight (Cout, Cin) += dout^T (Cout, Nr) @ inp (Nr, Cin) */
  if (dweight != NULL)
    gemm (true, false, Cout, Cin, Nr, 1.0f, dout, Cout, inp, Cin, 1.0f, dweight, Cin);
  if (dbias != NULL)
    bias_backward (dbias, dout, Nr, Cout);
  check_launch ("linear_backward");
}
