/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A host emulation of the part of the CUDA runtime that engine/cuda uses, for running the
 * cuda suite on a machine without a GPU (tests/cuda/emu/run.sh). It proves the kernels'
 * index arithmetic, tiling, reductions and cuBLAS argument mapping against the CPU backend;
 * it says nothing about speed, memory coherence or the real compiler, so the device check
 * (tests/cuda/device-check.sh) remains the test that counts.
 *
 * Device memory is host memory. A kernel launch (rewritten from <<<...>>> by emulate.py)
 * runs every block in turn. Kernels without barriers or warp shuffles run their threads as
 * a plain loop; the others run each thread of a block as a fiber (ucontext), switching at
 * __syncthreads and at every __shfl_xor_sync, which is a barrier over the 32 lanes of the
 * warp. A round of the scheduler without progress is a deadlock and aborts. */
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ucontext.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

struct dim3
{
  unsigned x, y, z;
  dim3 (unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x (vx), y (vy), z (vz) {}
};

typedef struct
{
  unsigned x, y, z;
} vgemu_uint3;

extern thread_local vgemu_uint3 threadIdx, blockIdx;
extern thread_local dim3 blockDim, gridDim;

static inline int min (int a, int b) { return a < b ? a : b; }
static inline int max (int a, int b) { return a > b ? a : b; }

/* ---- runtime API -------------------------------------------------------------------------- */

typedef enum
{
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
} cudaError_t;

typedef enum
{
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
} cudaMemcpyKind;

typedef struct vgemu_stream *cudaStream_t;
typedef struct vgemu_event *cudaEvent_t;
#define cudaEventDisableTiming 0x02

cudaError_t cudaGetDeviceCount (int *n);
cudaError_t cudaSetDevice (int device);
const char *cudaGetErrorString (cudaError_t rc);
cudaError_t cudaGetLastError (void);
cudaError_t cudaStreamCreate (cudaStream_t *stream);
cudaError_t cudaStreamDestroy (cudaStream_t stream);
cudaError_t cudaStreamSynchronize (cudaStream_t stream);
cudaError_t cudaMalloc (void **ptr, size_t bytes);
template <class T>
static inline cudaError_t
cudaMalloc (T **ptr, size_t bytes)
{
  return cudaMalloc ((void **) ptr, bytes);
}
cudaError_t cudaFree (void *ptr);
cudaError_t cudaMemGetInfo (size_t *free_b, size_t *total_b);
cudaError_t cudaMemcpy (void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync (void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                             cudaStream_t stream = nullptr);
cudaError_t cudaMemcpy2DAsync (void *dst, size_t dpitch, const void *src, size_t spitch,
                               size_t width, size_t height, cudaMemcpyKind kind,
                               cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync (void *ptr, int value, size_t bytes, cudaStream_t stream = nullptr);
/* Every copy and kernel runs at once, so events and stream waits have nothing to order. */
cudaError_t cudaMallocHost (void **ptr, size_t bytes);
cudaError_t cudaFreeHost (void *ptr);
cudaError_t cudaEventCreateWithFlags (cudaEvent_t *event, unsigned flags);
cudaError_t cudaEventDestroy (cudaEvent_t event);
cudaError_t cudaEventRecord (cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize (cudaEvent_t event);
cudaError_t cudaStreamWaitEvent (cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);

/* ---- kernels ------------------------------------------------------------------------------ */

namespace vgemu
{

struct Body
{
  virtual void run () = 0;
  virtual ~Body () {}
};

template <class F> struct BodyOf : Body
{
  F f;
  BodyOf (F g) : f (g) {}
  void run () override { f (); }
};

void launch_body (dim3 grid, dim3 block, bool fibers, Body *body);

template <class F>
void
launch (dim3 grid, dim3 block, bool fibers, F f)
{
  BodyOf<F> b (f);
  launch_body (grid, block, fibers, &b);
}

void syncthreads ();
double exchange (double v, int lane_mask); /* the partner lane's value; a warp barrier */

} /* namespace vgemu */

static inline void
__syncthreads ()
{
  vgemu::syncthreads ();
}

template <class T>
static inline T
__shfl_xor_sync (unsigned mask, T v, int lane_mask)
{
  (void) mask;
  return (T) vgemu::exchange ((double) v, lane_mask);
}
