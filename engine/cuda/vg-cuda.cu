/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CUDA backend entry points. Every failure is returned as a message, never fatal. */
#include "vg-cuda.h"

#include <cstdio>
#include <cublas_v2.h>
#include <cuda_runtime.h>

static int
fail (char *err, size_t err_len, const char *what, const char *detail)
{
  if (err != NULL && err_len > 0)
    snprintf (err, err_len, "%s: %s", what, detail);
  return -1;
}

extern "C" int
vg_cuda_device_count (char *why, size_t why_len)
{
  int n = 0;
  cudaError_t rc = cudaGetDeviceCount (&n);

  if (rc != cudaSuccess)
    {
      const char *reason = cudaGetErrorString (rc);
      if (rc == cudaErrorInsufficientDriver)
        reason = "no NVIDIA driver, or one older than this CUDA runtime needs";
      else if (rc == cudaErrorNoDevice)
        reason = "no CUDA device found";
      if (why != NULL && why_len > 0)
        snprintf (why, why_len, "%s", reason);
      return 0;
    }
  if (n == 0 && why != NULL && why_len > 0)
    snprintf (why, why_len, "no CUDA device found");
  return n;
}

extern "C" int
vg_cuda_sgemm (float *c, const float *a, const float *b, int m, int n, int k,
               char *err, size_t err_len)
{
  float *da = NULL, *db = NULL, *dc = NULL;
  cublasHandle_t handle = NULL;
  const float one = 1.0f, zero = 0.0f;
  int status = -1;
  cudaError_t rc;

  if ((rc = cudaMalloc (&da, sizeof (float) * (size_t) m * k)) != cudaSuccess ||
      (rc = cudaMalloc (&db, sizeof (float) * (size_t) k * n)) != cudaSuccess ||
      (rc = cudaMalloc (&dc, sizeof (float) * (size_t) m * n)) != cudaSuccess)
    {
      fail (err, err_len, "cudaMalloc", cudaGetErrorString (rc));
      goto out;
    }
  if ((rc = cudaMemcpy (da, a, sizeof (float) * (size_t) m * k, cudaMemcpyHostToDevice)) ||
      (rc = cudaMemcpy (db, b, sizeof (float) * (size_t) k * n, cudaMemcpyHostToDevice)))
    {
      fail (err, err_len, "cudaMemcpy", cudaGetErrorString (rc));
      goto out;
    }
  if (cublasCreate (&handle) != CUBLAS_STATUS_SUCCESS)
    {
      fail (err, err_len, "cublasCreate", "cannot initialise cuBLAS");
      goto out;
    }
  /* Row-major C = A B is column-major C^T = B^T A^T. */
  if (cublasSgemm (handle, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, db, n, da, k, &zero, dc, n)
      != CUBLAS_STATUS_SUCCESS)
    {
      fail (err, err_len, "cublasSgemm", "matrix product failed");
      goto out;
    }
  if ((rc = cudaMemcpy (c, dc, sizeof (float) * (size_t) m * n, cudaMemcpyDeviceToHost)))
    {
      fail (err, err_len, "cudaMemcpy", cudaGetErrorString (rc));
      goto out;
    }
  status = 0;

out:
  if (handle != NULL)
    cublasDestroy (handle);
  cudaFree (da);
  cudaFree (db);
  cudaFree (dc);
  return status;
}
