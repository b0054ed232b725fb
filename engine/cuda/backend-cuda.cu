/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CUDA backend's state and memory: device 0, one stream (which every op and copy is
 * enqueued on, so they run in program order), one cuBLAS handle bound to that stream, and
 * a workspace for the column reductions and the loss. Errors of the ops, which return
 * nothing, are recorded for vg_cuda_take_error rather than aborting.
 *
 * The stream is a blocking stream: it also waits for work on the legacy default stream,
 * so a stray synchronous cudaMemcpy elsewhere cannot race the ops. */
#include "common.cuh"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vgc
{

/* 64 MiB: the column reductions need nchunks * NV * C doubles (1024 chunks of 2 x 4096
 * channels fit), the loss a few thousand. */
constexpr size_t WS_DOUBLES = (size_t) 8 << 20;

/* 32M floats (128 MiB) per attention score tile and per im2col / transposed-conv chunk:
 * large enough that a tile is thousands of rows, small enough for a modest GPU. */
constexpr size_t DEFAULT_ATTENTION_TILE = (size_t) 32 << 20;
constexpr size_t DEFAULT_CONV_CHUNK = (size_t) 32 << 20;

State g = { false, nullptr, nullptr, false, nullptr, 0, DEFAULT_ATTENTION_TILE,
            DEFAULT_CONV_CHUNK, nullptr, { nullptr, nullptr } };

static char first_error[256];
static bool have_error;

void
record_error (const char *what, const char *detail)
{
  if (have_error)
    return;
  have_error = true;
  snprintf (first_error, sizeof first_error, "%s: %s", what, detail);
  fprintf (stderr, "visage: CUDA backend error: %s\n", first_error);
}

void
check_launch (const char *what)
{
  cudaError_t rc = cudaGetLastError ();

  if (rc != cudaSuccess)
    record_error (what, cudaGetErrorString (rc));
}

void
gemm (bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
      const float *B, int ldb, float beta, float *C, int ldc)
{
  if (M <= 0 || N <= 0)
    return;
  check_blas (cublasSgemm (g.blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                           N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc),
              "cublasSgemm");
}

void
gemm_strided (bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
              long long sa, const float *B, int ldb, long long sb, float beta, float *C,
              int ldc, long long sc, int count)
{
  if (M <= 0 || N <= 0 || count <= 0)
    return;
  if (count == 1)
    {
      gemm (ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      return;
    }
  check_blas (cublasSgemmStridedBatched (g.blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                         ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B,
                                         ldb, sb, A, lda, sa, &beta, C, ldc, sc, count),
              "cublasSgemmStridedBatched");
}

} /* namespace vgc */

using namespace vgc;

static int
fail (char *err, size_t err_len, const char *what, const char *detail)
{
  if (err != NULL && err_len > 0)
    snprintf (err, err_len, "%s: %s", what, detail);
  return -1;
}

/* Device 0, or under a launcher (mpirun, srun) the node-local rank's: ranks of one node
 * take a GPU each (data-parallel training, one rank per GPU). */
static int
device_for_rank (void)
{
  static const char *const vars[] = { "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                                      "MPI_LOCALRANKID" };
  int count = 0;

  if (cudaGetDeviceCount (&count) != cudaSuccess || count <= 1)
    return 0;
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    {
      const char *v = getenv (vars[i]);
      if (v != NULL && *v >= '0' && *v <= '9')
        return atoi (v) % count;
    }
  return 0;
}

extern "C" int
vg_cuda_backend_init (char *err, size_t err_len)
{
  const char *tf32 = getenv ("VISAGE_CUDA_TF32");
  cudaError_t rc;
  cublasStatus_t st;

  if (g.ready)
    return 0;
  if ((rc = cudaSetDevice (device_for_rank ())) != cudaSuccess)
    return fail (err, err_len, "cannot use the CUDA device", cudaGetErrorString (rc));
  if ((rc = cudaStreamCreate (&g.stream)) != cudaSuccess)
    return fail (err, err_len, "cannot create a CUDA stream", cudaGetErrorString (rc));
  if ((st = cublasCreate (&g.blas)) != CUBLAS_STATUS_SUCCESS)
    {
      cudaStreamDestroy (g.stream);
      return fail (err, err_len, "cannot initialise cuBLAS", cublasGetStatusString (st));
    }
  g.tf32 = tf32 != NULL && strcmp (tf32, "1") == 0;
  if ((st = cublasSetStream (g.blas, g.stream)) != CUBLAS_STATUS_SUCCESS
      || (st = cublasSetMathMode (g.blas, g.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                 : CUBLAS_DEFAULT_MATH))
           != CUBLAS_STATUS_SUCCESS)
    {
      cublasDestroy (g.blas);
      cudaStreamDestroy (g.stream);
      return fail (err, err_len, "cannot configure cuBLAS", cublasGetStatusString (st));
    }
  if ((rc = cudaMalloc (&g.ws, WS_DOUBLES * sizeof (double))) != cudaSuccess)
    {
      cudaGetLastError ();
      cublasDestroy (g.blas);
      cudaStreamDestroy (g.stream);
      return fail (err, err_len, "cannot allocate the CUDA workspace (64 MiB)",
                   cudaGetErrorString (rc));
    }
  g.ws_doubles = WS_DOUBLES;
  g.ready = true;
  return 0;
}

extern "C" const char *
vg_cuda_math_mode (void)
{
  if (!g.ready)
    return NULL;
  return g.tf32 ? "TF32" : "FP32";
}

extern "C" int
vg_cuda_take_error (char *err, size_t err_len)
{
  int had = have_error;

  if (had && err != NULL && err_len > 0)
    snprintf (err, err_len, "%s", first_error);
  have_error = false;
  first_error[0] = '\0';
  return had;
}

extern "C" void
vg_cuda_set_tile_budgets (size_t attention_floats, size_t conv_floats)
{
  g.attention_tile_floats = attention_floats > 0 ? attention_floats : DEFAULT_ATTENTION_TILE;
  g.conv_chunk_floats = conv_floats > 0 ? conv_floats : DEFAULT_CONV_CHUNK;
}

/* ---- memory ------------------------------------------------------------------------------ */

extern "C" void *
vg_cuda_alloc (size_t bytes, char *err, size_t err_len)
{
  /* 256-byte granules, as cudaMalloc aligns anyway; a zero-byte request still gets one */
  size_t rounded = bytes > 0 ? (bytes + 255) & ~(size_t) 255 : 256;
  void *ptr = NULL;
  cudaError_t rc = cudaMalloc (&ptr, rounded);

  if (rc != cudaSuccess)
    {
      size_t free_b = 0, total_b = 0;

      cudaGetLastError (); /* an allocation failure is not sticky: clear it */
      cudaMemGetInfo (&free_b, &total_b);
      if (err != NULL && err_len > 0)
        {
          if (rc == cudaErrorMemoryAllocation)
            snprintf (err, err_len,
                      "out of GPU memory: needed %.1f MiB, free %.1f MiB (of %.1f MiB)",
                      bytes / 1048576.0, free_b / 1048576.0, total_b / 1048576.0);
          else
            snprintf (err, err_len, "cudaMalloc of %.1f MiB failed: %s", bytes / 1048576.0,
                      cudaGetErrorString (rc));
        }
      return NULL;
    }
  return ptr;
}

extern "C" void
vg_cuda_free (void *ptr)
{
  if (ptr == NULL)
    return;
  /* ops still queued may read the block */
  cudaStreamSynchronize (g.stream);
  cudaFree (ptr);
}

extern "C" void
vg_cuda_zero (void *ptr, size_t bytes)
{
  if (bytes > 0)
    cudaMemsetAsync (ptr, 0, bytes, g.stream);
  check_launch ("zero");
}

/* A copy between host and device that has finished when it returns. */
static void
copy_and_wait (void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, const char *what)
{
  cudaError_t rc = cudaSuccess;

  if (bytes > 0)
    {
      rc = cudaMemcpyAsync (dst, src, bytes, kind, g.stream);
      if (rc == cudaSuccess)
        rc = cudaStreamSynchronize (g.stream);
    }
  if (rc != cudaSuccess)
    record_error (what, cudaGetErrorString (rc));
}

/* The caller may overwrite its buffer when we return (pinned memory would be read
 * asynchronously), hence the wait. */
extern "C" void
vg_cuda_upload (void *dst, const void *host_src, size_t bytes)
{
  copy_and_wait (dst, host_src, bytes, cudaMemcpyHostToDevice, "upload");
}

/* ---- uploads that overlap the compute ------------------------------------------------- */

extern "C" void *
vg_cuda_host_alloc (size_t bytes, char *err, size_t err_len)
{
  void *ptr = NULL;
  cudaError_t rc = cudaMallocHost (&ptr, bytes > 0 ? bytes : 1);

  if (rc != cudaSuccess)
    {
      cudaGetLastError ();
      if (err != NULL && err_len > 0)
        snprintf (err, err_len, "cannot allocate %.1f MiB of page-locked host memory: %s",
                  bytes / 1048576.0, cudaGetErrorString (rc));
      return NULL;
    }
  return ptr;
}

extern "C" void
vg_cuda_host_free (void *ptr)
{
  if (ptr == NULL)
    return;
  /* a copy still queued may read it */
  if (g.copy_stream != nullptr)
    cudaStreamSynchronize (g.copy_stream);
  cudaFreeHost (ptr);
}

static bool
copy_stream_ready (void)
{
  cudaError_t rc;

  if (g.copy_stream != nullptr)
    return true;
  if ((rc = cudaStreamCreate (&g.copy_stream)) != cudaSuccess)
    {
      g.copy_stream = nullptr;
      record_error ("creating the upload stream", cudaGetErrorString (rc));
      return false;
    }
  for (int i = 0; i < 2; i++)
    if ((rc = cudaEventCreateWithFlags (&g.upload_done[i], cudaEventDisableTiming))
        != cudaSuccess)
      {
        record_error ("creating an upload event", cudaGetErrorString (rc));
        return false;
      }
  return true;
}

extern "C" void
vg_cuda_upload_async (void *dst, const void *host_src, size_t bytes, int slot)
{
  cudaError_t rc = cudaSuccess;

  if (slot < 0 || slot > 1)
    {
      record_error ("upload_async", "no such upload slot");
      return;
    }
  if (!copy_stream_ready ())
    return;
  if (bytes > 0)
    rc = cudaMemcpyAsync (dst, host_src, bytes, cudaMemcpyHostToDevice, g.copy_stream);
  /* recorded after this copy, so it also covers the slot's earlier copies (stream order) */
  if (rc == cudaSuccess)
    rc = cudaEventRecord (g.upload_done[slot], g.copy_stream);
  if (rc != cudaSuccess)
    record_error ("upload_async", cudaGetErrorString (rc));
}

extern "C" void
vg_cuda_upload_wait (int slot)
{
  cudaError_t rc;

  if (slot < 0 || slot > 1 || g.copy_stream == nullptr)
    return;
  if ((rc = cudaStreamWaitEvent (g.stream, g.upload_done[slot], 0)) != cudaSuccess)
    record_error ("upload_wait", cudaGetErrorString (rc));
}

extern "C" void
vg_cuda_upload_host_wait (int slot)
{
  cudaError_t rc;

  if (slot < 0 || slot > 1 || g.copy_stream == nullptr)
    return;
  if ((rc = cudaEventSynchronize (g.upload_done[slot])) != cudaSuccess)
    record_error ("upload_host_wait", cudaGetErrorString (rc));
}

extern "C" void
vg_cuda_download (void *host_dst, const void *src, size_t bytes)
{
  copy_and_wait (host_dst, src, bytes, cudaMemcpyDeviceToHost, "download");
}

extern "C" void
vg_cuda_copy (void *dst, const void *src, size_t bytes)
{
  if (bytes > 0)
    cudaMemcpyAsync (dst, src, bytes, cudaMemcpyDeviceToDevice, g.stream);
  check_launch ("copy");
}

extern "C" void
vg_cuda_synchronize (void)
{
  cudaError_t rc = cudaStreamSynchronize (g.stream);

  if (rc != cudaSuccess)
    record_error ("synchronize", cudaGetErrorString (rc));
}
