/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The host emulation of the CUDA runtime and cuBLAS declared in cuda_runtime.h and
 * cublas_v2.h beside this file. */
/* fibers switch with _setjmp/_longjmp (no signal-mask syscall, unlike swapcontext), which
 * the fortified longjmp would refuse across stacks */
#undef _FORTIFY_SOURCE
#include "cublas_v2.h"

#include <csetjmp>
#include <vector>

thread_local vgemu_uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;

/* ---- runtime ------------------------------------------------------------------------------ */

static cudaError_t last_error = cudaSuccess;

static cudaError_t
set_error (cudaError_t rc)
{
  if (rc != cudaSuccess)
    last_error = rc;
  return rc;
}

cudaError_t
cudaGetDeviceCount (int *n)
{
  *n = 1;
  return cudaSuccess;
}

cudaError_t
cudaSetDevice (int device)
{
  return device == 0 ? cudaSuccess : set_error (cudaErrorInvalidValue);
}

const char *
cudaGetErrorString (cudaError_t rc)
{
  switch (rc)
    {
    case cudaSuccess:
      return "no error";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorInsufficientDriver:
      return "insufficient driver";
    case cudaErrorNoDevice:
      return "no device";
    default:
      return "unknown error";
    }
}

cudaError_t
cudaGetLastError (void)
{
  cudaError_t rc = last_error;

  last_error = cudaSuccess;
  return rc;
}

cudaError_t
cudaStreamCreate (cudaStream_t *stream)
{
  *stream = (cudaStream_t) 0x1;
  return cudaSuccess;
}

cudaError_t
cudaStreamDestroy (cudaStream_t)
{
  return cudaSuccess;
}

cudaError_t
cudaStreamSynchronize (cudaStream_t)
{
  return cudaSuccess;
}

/* 64 GiB of "device memory": larger requests fail as cudaMalloc would. */
static const size_t TOTAL = (size_t) 64 << 30;

cudaError_t
cudaMalloc (void **ptr, size_t bytes)
{
  *ptr = NULL;
  if (bytes > TOTAL)
    return set_error (cudaErrorMemoryAllocation);
  *ptr = malloc (bytes > 0 ? bytes : 1); /* exact size, so sanitizers see overruns */
  return *ptr != NULL ? cudaSuccess : set_error (cudaErrorMemoryAllocation);
}

cudaError_t
cudaFree (void *ptr)
{
  free (ptr);
  return cudaSuccess;
}

cudaError_t
cudaMallocHost (void **ptr, size_t bytes)
{
  *ptr = malloc (bytes > 0 ? bytes : 1);
  return *ptr != NULL ? cudaSuccess : set_error (cudaErrorMemoryAllocation);
}

/* page-locked host memory is plain memory here, as device memory is */
cudaError_t
cudaFreeHost (void *ptr)
{
  return cudaFree (ptr);
}

cudaError_t
cudaEventCreateWithFlags (cudaEvent_t *event, unsigned)
{
  *event = (cudaEvent_t) 0x1;
  return cudaSuccess;
}

cudaError_t
cudaEventDestroy (cudaEvent_t)
{
  return cudaSuccess;
}

cudaError_t
cudaEventRecord (cudaEvent_t, cudaStream_t)
{
  return cudaSuccess;
}

cudaError_t
cudaEventSynchronize (cudaEvent_t)
{
  return cudaSuccess;
}

cudaError_t
cudaStreamWaitEvent (cudaStream_t, cudaEvent_t, unsigned)
{
  return cudaSuccess;
}

cudaError_t
cudaMemGetInfo (size_t *free_b, size_t *total_b)
{
  *free_b = TOTAL / 2;
  *total_b = TOTAL;
  return cudaSuccess;
}

cudaError_t
cudaMemcpy (void *dst, const void *src, size_t bytes, cudaMemcpyKind)
{
  memmove (dst, src, bytes);
  return cudaSuccess;
}

cudaError_t
cudaMemcpyAsync (void *dst, const void *src, size_t bytes, cudaMemcpyKind, cudaStream_t)
{
  memmove (dst, src, bytes);
  return cudaSuccess;
}

cudaError_t
cudaMemcpy2DAsync (void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                   size_t height, cudaMemcpyKind, cudaStream_t)
{
  if (width > dpitch || width > spitch)
    return set_error (cudaErrorInvalidValue);
  for (size_t r = 0; r < height; r++)
    memcpy ((char *) dst + r * dpitch, (const char *) src + r * spitch, width);
  return cudaSuccess;
}

cudaError_t
cudaMemsetAsync (void *ptr, int value, size_t bytes, cudaStream_t)
{
  memset (ptr, value, bytes);
  return cudaSuccess;
}

/* ---- kernels ------------------------------------------------------------------------------ */

namespace vgemu
{

enum { STACK_BYTES = 256 << 10 };

struct Barrier
{
  int size, count, gen;
};

struct Fiber
{
  ucontext_t start;  /* the first entry, into trampoline on the fiber's own stack */
  jmp_buf env;       /* where a suspended fiber resumes */
  vgemu_uint3 tid;
  int linear;
  bool started, done;
};

static jmp_buf scheduler;
static ucontext_t start_template, start_scratch;
static std::vector<Fiber> fibers;
static std::vector<char *> stacks;
static Fiber *current;
static Body *current_body;
static Barrier block_barrier;
static std::vector<Barrier> warp_barriers;
static std::vector<double> warp_slots;
static bool in_fibers;

static void
trampoline ()
{
  current_body->run ();
  current->done = true;
  _longjmp (scheduler, 1);
}

static void
yield ()
{
  if (_setjmp (current->env) == 0)
    _longjmp (scheduler, 1);
}

/* Run fiber f until it yields or finishes. */
static void
resume (Fiber *f)
{
  current = f;
  threadIdx = f->tid;
  if (_setjmp (scheduler) != 0)
    return;
  if (!f->started)
    {
      f->started = true;
      swapcontext (&start_scratch, &f->start); /* comes back by _longjmp (scheduler) */
    }
  else
    _longjmp (f->env, 1);
}

static void
barrier_wait (Barrier *b)
{
  int gen = b->gen;

  if (++b->count == b->size)
    {
      b->count = 0;
      b->gen++;
      return;
    }
  while (b->gen == gen)
    yield ();
}

void
syncthreads ()
{
  if (!in_fibers)
    {
      fprintf (stderr, "emu: __syncthreads in a kernel launched without fibers\n");
      abort ();
    }
  barrier_wait (&block_barrier);
}

double
exchange (double v, int lane_mask)
{
  if (!in_fibers)
    {
      fprintf (stderr, "emu: warp shuffle in a kernel launched without fibers\n");
      abort ();
    }
  int lane = current->linear % 32, warp = current->linear / 32;
  double *slots = &warp_slots[(size_t) warp * 32];
  double r;

  slots[lane] = v;
  barrier_wait (&warp_barriers[warp]);
  r = slots[lane ^ lane_mask];
  barrier_wait (&warp_barriers[warp]);
  return r;
}

static void
run_block_fibers (Body *body, int nthreads)
{
  int nwarps = (nthreads + 31) / 32;

  if (nthreads % 32 != 0)
    {
      fprintf (stderr, "emu: block of %d threads is not whole warps\n", nthreads);
      abort ();
    }
  while ((int) stacks.size () < nthreads)
    stacks.push_back ((char *) malloc (STACK_BYTES));
  fibers.assign (nthreads, Fiber ());
  warp_barriers.assign (nwarps, Barrier { 32, 0, 0 });
  warp_slots.assign ((size_t) nwarps * 32, 0.0);
  block_barrier = Barrier { nthreads, 0, 0 };
  current_body = body;
  static bool have_template;
  if (!have_template)
    {
      getcontext (&start_template);
      have_template = true;
    }
  for (int t = 0; t < nthreads; t++)
    {
      Fiber *f = &fibers[t];
      f->linear = t;
      f->tid.x = t % blockDim.x;
      f->tid.y = (t / blockDim.x) % blockDim.y;
      f->tid.z = t / (blockDim.x * blockDim.y);
      f->started = f->done = false;
      f->start = start_template;
      f->start.uc_stack.ss_sp = stacks[t];
      f->start.uc_stack.ss_size = STACK_BYTES;
      f->start.uc_link = NULL;
      makecontext (&f->start, trampoline, 0);
    }
  for (;;)
    {
      int alive = 0;
      for (int t = 0; t < nthreads; t++)
        {
          Fiber *f = &fibers[t];
          if (f->done)
            continue;
          alive++;
          resume (f);
        }
      if (alive == 0)
        break;
      /* a fiber that waits on a barrier nobody else can reach never finishes: the fibers
       * still alive after many rounds without any finishing are deadlocked */
      static int stalled;
      int still = 0;
      for (int t = 0; t < nthreads; t++)
        still += !fibers[t].done;
      stalled = still == alive ? stalled + 1 : 0;
      if (stalled > 1000000)
        {
          fprintf (stderr, "emu: deadlock: %d threads wait at barriers\n", still);
          abort ();
        }
    }
}

void
launch_body (dim3 grid, dim3 block, bool use_fibers, Body *body)
{
  int nthreads = (int) (block.x * block.y * block.z);

  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || nthreads == 0 || nthreads > 1024
      || grid.y > 65535 || grid.z > 65535)
    {
      set_error (cudaErrorInvalidValue);
      return;
    }
  gridDim = grid;
  blockDim = block;
  for (unsigned bz = 0; bz < grid.z; bz++)
    for (unsigned by = 0; by < grid.y; by++)
      for (unsigned bx = 0; bx < grid.x; bx++)
        {
          blockIdx = { bx, by, bz };
          if (use_fibers)
            {
              in_fibers = true;
              run_block_fibers (body, nthreads);
              in_fibers = false;
            }
          else
            for (int t = 0; t < nthreads; t++)
              {
                threadIdx = { t % block.x, (t / block.x) % block.y, t / (block.x * block.y) };
                body->run ();
              }
        }
}

} /* namespace vgemu */

/* ---- cuBLAS --------------------------------------------------------------------------------- */

cublasStatus_t
cublasCreate (cublasHandle_t *handle)
{
  *handle = (cublasHandle_t) 0x1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t
cublasDestroy (cublasHandle_t)
{
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t
cublasSetStream (cublasHandle_t, cudaStream_t)
{
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t
cublasSetMathMode (cublasHandle_t, cublasMath_t)
{
  return CUBLAS_STATUS_SUCCESS;
}

const char *
cublasGetStatusString (cublasStatus_t status)
{
  return status == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS"
                                         : "CUBLAS_STATUS_INVALID_VALUE";
}

/* C (m, n) = alpha op(A) op(B) + beta C, column-major, as the cuBLAS reference. */
static cublasStatus_t
sgemm (cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
       const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
  if (m < 0 || n < 0 || k < 0 || lda < max (1, ta == CUBLAS_OP_N ? m : k)
      || ldb < max (1, tb == CUBLAS_OP_N ? k : n) || ldc < max (1, m))
    {
      fprintf (stderr, "emu: cublasSgemm invalid: ta %d tb %d m %d n %d k %d lda %d ldb %d "
               "ldc %d\n", ta, tb, m, n, k, lda, ldb, ldc);
      return CUBLAS_STATUS_INVALID_VALUE;
    }
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++)
      {
        double s = 0.0;
        for (int p = 0; p < k; p++)
          {
            float a = ta == CUBLAS_OP_N ? A[i + (size_t) p * lda] : A[p + (size_t) i * lda];
            float b = tb == CUBLAS_OP_N ? B[p + (size_t) j * ldb] : B[j + (size_t) p * ldb];
            s += (double) a * b;
          }
        float *c = &C[i + (size_t) j * ldc];
        *c = (float) (alpha * s + (beta == 0.0f ? 0.0 : (double) beta * *c));
      }
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t
cublasSgemm (cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
             const float *alpha, const float *A, int lda, const float *B, int ldb,
             const float *beta, float *C, int ldc)
{
  return sgemm (ta, tb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
}

cublasStatus_t
cublasSgemmStridedBatched (cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, const float *alpha, const float *A, int lda,
                           long long sa, const float *B, int ldb, long long sb,
                           const float *beta, float *C, int ldc, long long sc, int count)
{
  if (count < 0)
    return CUBLAS_STATUS_INVALID_VALUE;
  for (int z = 0; z < count; z++)
    {
      cublasStatus_t st = sgemm (ta, tb, m, n, k, *alpha, A + z * sa, lda, B + z * sb, ldb,
                                 *beta, C + z * sc, ldc);
      if (st != CUBLAS_STATUS_SUCCESS)
        return st;
    }
  return CUBLAS_STATUS_SUCCESS;
}
