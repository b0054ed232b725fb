/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared by the CUDA backend's .cu files: the backend state (one stream, one cuBLAS handle,
 * one workspace), error recording, launch helpers, row-major GEMM wrappers and the
 * deterministic column reduction that the bias, norm and depthwise gradients use.
 *
 * Shape letters and layouts are those of nn/vg-nn.h; every .cu file mirrors the .c file of
 * the same name in nn/ and is tested against it (tests/cuda/test-cuda-ops.c).
 *
 * Every op is enqueued on the backend's stream and returns without waiting; only the ops
 * that hand a value to the host (cross_entropy_forward, download) wait for the stream. */
#pragma once

#include <cstddef>
#include <cstdint>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "vg-cuda.h"

namespace vgc
{

/* ---- state ------------------------------------------------------------------------------ */

struct State
{
  bool ready;
  cudaStream_t stream;
  cublasHandle_t blas;
  bool tf32;            /* cuBLAS may use TF32 tensor cores (VISAGE_CUDA_TF32=1) */
  double *ws;           /* workspace for reductions: ws_doubles doubles */
  size_t ws_doubles;
  /* tile budgets in floats: attention score tiles, im2col and transposed-conv chunks */
  size_t attention_tile_floats;
  size_t conv_chunk_floats;
  /* batch uploads overlapping the compute: a second stream, one event per slot; created
   * on the first asynchronous upload */
  cudaStream_t copy_stream;
  cudaEvent_t upload_done[2];
};

extern State g;

/* Record the first failure (kept until vg_cuda_take_error) and print it once. */
void record_error (const char *what, const char *detail);

/* After a batch of kernel launches: a launch or an earlier asynchronous fault is recorded. */
void check_launch (const char *what);

static inline void
check_blas (cublasStatus_t st, const char *what)
{
  if (st != CUBLAS_STATUS_SUCCESS)
    record_error (what, cublasGetStatusString (st));
}

/* ---- launch helpers --------------------------------------------------------------------- */

constexpr int THREADS = 256;

/* Blocks for n elements at THREADS per block; kernels loop with a grid stride, so the grid is
 * capped (a few waves over 132 SMs are plenty) and any n is covered. */
static inline unsigned
blocks_for (size_t n)
{
  size_t b = (n + THREADS - 1) / THREADS;

  if (b < 1)
    b = 1;
  if (b > 65536)
    b = 65536;
  return (unsigned) b;
}

/* Grid of warps, one per row: WARPS_PER_BLOCK rows per block. */
constexpr int WARPS_PER_BLOCK = THREADS / 32;

static inline unsigned
blocks_for_rows (size_t rows)
{
  size_t b = (rows + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK;

  return (unsigned) (b < 1 ? 1 : b);
}

#define VGC_GRID_STRIDE(i, n)                                                           \
  for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < (size_t) (n);      \
       i += (size_t) gridDim.x * blockDim.x)

/* The launch of an op whose kernel covers n elements with a grid stride: on the stream, none
 * when n is 0, then the launch checked under the op's name. The whole body of most entry
 * points. (The host emulation runs such kernels without fibers: see tests/cuda/emu.) */
template <class... Params, class... Args>
static void
elementwise_run (const char *what, void (*kernel) (Params...), size_t n, Args... args)
{
  if (n > 0)
    kernel<<<blocks_for (n), THREADS, 0, g.stream>>> (args...);
  check_launch (what);
}

/* Channels-last index e of a (B, H, W, C) tensor as (b, y, x, c). */
struct Nhwc
{
  int b, y, x, c;
};

__device__ __forceinline__ Nhwc
nhwc_index (size_t e, int H, int W, int C)
{
  Nhwc p;
  size_t pix = e / C, t = pix / W;

  p.c = (int) (e % C);
  p.x = (int) (pix % W);
  p.y = (int) (t % H);
  p.b = (int) (t / H);
  return p;
}

/* Butterfly sums and maxima over a warp: every lane ends with the same bits (each step adds
 * the same two values in either order), so the result does not depend on the lane. */
__device__ __forceinline__ float
warp_sum (float v)
{
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync (0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float
warp_max (float v)
{
  for (int o = 16; o > 0; o >>= 1)
    v = fmaxf (v, __shfl_xor_sync (0xffffffffu, v, o));
  return v;
}

/* ---- matrix products -------------------------------------------------------------------- */

/* Row-major C (M, N) = alpha op(A) op(B) + beta C, leading dimensions as cblas_sgemm with
 * CblasRowMajor. cuBLAS is column-major, where row-major C is C^T = op(B)^T op(A)^T: the
 * operands swap and keep their transpose flags. */
void gemm (bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
           const float *B, int ldb, float beta, float *C, int ldc);

/* The same over `count` independent products, operand z at A + z sa, B + z sb, C + z sc. */
void gemm_strided (bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                   long long sa, const float *B, int ldb, long long sb, float beta, float *C,
                   int ldc, long long sc, int count);

/* dbias (C) += column sums of dout (Nr, C): the bias gradient of linear and conv layers. */
void bias_backward (float *dbias, const float *dout, int Nr, int C);

/* ---- deterministic column reductions ------------------------------------------------------
 * Sums over the Nr rows of NV quantities per column c < C, e.g. sum_r dout[r, c] and
 * sum_r dout[r, c] * xhat[r, c]. The rows are split into chunks fixed by the shape alone;
 * a block of 32 x 8 threads sums one chunk of 32 columns (each thread every 8th row, in
 * double), folds its 8 partial sums in order, and writes them to the workspace; a second
 * kernel adds the chunks in order and hands each column's NV sums to a finisher. No
 * atomics, so every run gives the same bits.
 *
 * F: __device__ void operator() (int r, int c, double *acc) const   adds row r's NV values
 * Fin: __device__ void operator() (int c, const double *sums) const  consumes the sums */

constexpr int CS_TX = 32, CS_TY = 8;
constexpr int CS_MAX_CHUNKS = 1024;
constexpr int CS_MIN_ROWS = 64; /* rows per chunk at least: fewer is all launch overhead */

struct ColsumPlan
{
  int nchunks;
  int rows_per_chunk;
  double *part;   /* nchunks * NV * C partial sums */
  double *extra;  /* extra_doubles after them, for the caller (e.g. saved means) */
  bool ok;
};

static inline ColsumPlan
colsum_plan (int Nr, int C, int NV, size_t extra_doubles)
{
  ColsumPlan p = { 0, 0, nullptr, nullptr, false };
  size_t per_chunk = (size_t) NV * (size_t) (C > 0 ? C : 1);
  size_t room;
  long want;

  if (g.ws_doubles < extra_doubles + per_chunk)
    {
      record_error ("column reduction", "too many columns for the reduction workspace");
      return p;
    }
  room = (g.ws_doubles - extra_doubles) / per_chunk;
  want = Nr > 0 ? ((long) Nr + CS_MIN_ROWS - 1) / CS_MIN_ROWS : 1;
  if (want > CS_MAX_CHUNKS)
    want = CS_MAX_CHUNKS;
  if ((size_t) want > room)
    want = (long) room;
  p.nchunks = (int) want;
  p.rows_per_chunk = Nr > 0 ? (int) ((Nr + want - 1) / want) : 0;
  p.part = g.ws;
  p.extra = g.ws + (size_t) p.nchunks * per_chunk;
  p.ok = true;
  return p;
}

template <int NV, class F>
__global__ void
colsum_partial_kernel (double *part, F f, int Nr, int C, int rows_per_chunk)
{
  __shared__ double sh[NV][CS_TY][CS_TX];
  int tx = threadIdx.x, ty = threadIdx.y;
  int c = blockIdx.x * CS_TX + tx;
  int chunk = blockIdx.y;
  int r0 = chunk * rows_per_chunk;
  int r1 = r0 + rows_per_chunk < Nr ? r0 + rows_per_chunk : Nr;
  double acc[NV];

  for (int v = 0; v < NV; v++)
    acc[v] = 0.0;
  if (c < C)
    for (int r = r0 + ty; r < r1; r += CS_TY)
      f (r, c, acc);
  for (int v = 0; v < NV; v++)
    sh[v][ty][tx] = acc[v];
  __syncthreads ();
  if (ty == 0 && c < C)
    for (int v = 0; v < NV; v++)
      {
        double s = 0.0;
        for (int t = 0; t < CS_TY; t++)
          s += sh[v][t][tx];
        part[((size_t) chunk * NV + v) * C + c] = s;
      }
}

template <int NV, class Fin>
__global__ void
colsum_finish_kernel (const double *part, Fin fin, int C, int nchunks)
{
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  double s[NV];

  if (c >= C)
    return;
  for (int v = 0; v < NV; v++)
    s[v] = 0.0;
  for (int ch = 0; ch < nchunks; ch++)
    for (int v = 0; v < NV; v++)
      s[v] += part[((size_t) ch * NV + v) * C + c];
  fin (c, s);
}

template <int NV, class F, class Fin>
static void
colsum_run (const ColsumPlan &p, F f, Fin fin, int Nr, int C)
{
  if (!p.ok || C <= 0)
    return;
  if (Nr > 0)
    {
      dim3 grid ((unsigned) ((C + CS_TX - 1) / CS_TX), (unsigned) p.nchunks);
      dim3 block (CS_TX, CS_TY);
      colsum_partial_kernel<NV, F><<<grid, block, 0, g.stream>>> (p.part, f, Nr, C,
                                                                    p.rows_per_chunk);
      colsum_finish_kernel<NV, Fin><<<(C + THREADS - 1) / THREADS, THREADS, 0, g.stream>>> (
        p.part, fin, C, p.nchunks);
    }
  else
    {
      /* no rows: the sums are zero, and the finisher still runs (means of nothing are 0) */
      colsum_finish_kernel<NV, Fin><<<(C + THREADS - 1) / THREADS, THREADS, 0, g.stream>>> (
        p.part, fin, C, 0);
    }
}

} /* namespace vgc */
