/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Host emulation of the cuBLAS calls engine/cuda makes (see cuda_runtime.h beside it): a
 * plain column-major SGEMM in double that checks its arguments as cuBLAS documents them
 * (dimensions, leading dimensions) and never reads C when beta is 0. */
#pragma once

#include "cuda_runtime.h"

typedef enum
{
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_INVALID_VALUE = 7,
} cublasStatus_t;

typedef enum
{
  CUBLAS_OP_N = 0,
  CUBLAS_OP_T = 1,
} cublasOperation_t;

typedef enum
{
  CUBLAS_DEFAULT_MATH = 0,
  CUBLAS_TF32_TENSOR_OP_MATH = 3,
} cublasMath_t;

typedef struct vgemu_blas *cublasHandle_t;

cublasStatus_t cublasCreate (cublasHandle_t *handle);
cublasStatus_t cublasDestroy (cublasHandle_t handle);
cublasStatus_t cublasSetStream (cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t cublasSetMathMode (cublasHandle_t handle, cublasMath_t mode);
const char *cublasGetStatusString (cublasStatus_t status);
cublasStatus_t cublasSgemm (cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb,
                            int m, int n, int k, const float *alpha, const float *A, int lda,
                            const float *B, int ldb, const float *beta, float *C, int ldc);
cublasStatus_t cublasSgemmStridedBatched (cublasHandle_t handle, cublasOperation_t ta,
                                          cublasOperation_t tb, int m, int n, int k,
                                          const float *alpha, const float *A, int lda,
                                          long long sa, const float *B, int ldb, long long sb,
                                          const float *beta, float *C, int ldc, long long sc,
                                          int count);
