/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The engine's one entry point for matrix products, and the choice of the kernels that
 * compute them.
 *
 * vg_sgemm is cblas_sgemm's row-major contract: C (M, N) = alpha op(A) op(B) + beta C, with
 * op(A) (M, K) and op(B) (K, N); beta = 0 never reads C. It takes, from what the processor
 * reports (cpuid features, never model numbers):
 *
 *   - the narrow kernels of gemm-narrow.c (AVX-512) for the shapes they fit: many rows by
 *     few channels, the linear layers' and the attention tiles' products;
 *   - for the other shapes, the engine's own packed, cache-blocked GEMM with an AVX-512 or an
 *     AVX2+FMA micro-kernel (gemm-packed.c) when the processor has vector units that the core
 *     OpenBLAS chose for it does not use (an OpenBLAS older than the processor falls back to
 *     its SSE3 "Prescott" kernels, 5x slower than it could be); OpenBLAS otherwise, and on
 *     processors with neither AVX2 nor AVX-512.
 *
 * Every output element of the engine's kernels sums in a fixed order whatever the thread
 * count. Called inside an OpenMP parallel region, vg_sgemm runs on the calling thread only. */
#pragma once

#include <glib.h>

typedef enum
{
  VG_GEMM_AUTO,   /* the choice above */
  VG_GEMM_BLAS,   /* OpenBLAS for every product */
  VG_GEMM_AVX2,   /* the packed GEMM with its AVX2 micro-kernel (no narrow kernels) */
  VG_GEMM_AVX512, /* the packed GEMM with its AVX-512 micro-kernel, and the narrow kernels */
} VgGemmPath;

void vg_sgemm (gboolean trans_a, gboolean trans_b, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The same for the forward products of the linear and convolution layers (the bulk of
 * inference), which run in bfloat16 when the precision is VG_PRECISION_BF16 (below). The
 * attention's products call vg_sgemm and stay in float, where the softmax would amplify
 * the rounding of the scores; so do all backward products. */
void vg_sgemm_forward (gboolean trans_a, gboolean trans_b, int M, int N, int K, float alpha,
                       const float *A, int lda, const float *B, int ldb, float beta,
                       float *C, int ldc);

/* The vector instruction sets, in order: what the processor offers and what OpenBLAS's
 * chosen core uses are compared on this scale. */
typedef enum
{
  VG_ISA_SSE,
  VG_ISA_AVX,
  VG_ISA_AVX2,
  VG_ISA_AVX512,
} VgIsa;

VgIsa vg_gemm_cpu_isa (void);
/* openblas_get_corename (): the core OpenBLAS chose for this processor */
const char *vg_gemm_blas_corename (void);
/* The instruction set of an OpenBLAS core name (openblas_get_corename ()); an unknown name
 * counts as SSE, so that the engine's kernels are used when the processor has better. */
VgIsa vg_gemm_blas_core_isa (const char *corename);
const char *vg_gemm_isa_name (VgIsa isa);

/* Which path large products take: the forced one (vg_gemm_force_path, or the environment
 * variable VISAGE_GEMM=avx512|avx2|blas at the first call) if any and supported, else the
 * automatic choice resolved to BLAS, AVX2 or AVX512. */
VgGemmPath vg_gemm_large_path (void);
const char *vg_gemm_path_name (VgGemmPath path);
/* FALSE if the processor cannot run that path (nothing changes). VG_GEMM_AUTO restores the
 * automatic choice. For tests and benchmarks: not thread-safe against running products. */
gboolean vg_gemm_force_path (VgGemmPath path);
/* Whether vg_sgemm uses the narrow kernels (AVX-512, unless the AVX2 or the BLAS path was
 * forced): for callers that prepare an operand for them (a transposed copy). */
gboolean vg_gemm_narrow_enabled (void);
/* One line for `visage-cli bench`: the processor's features, OpenBLAS's core and the
 * instruction set it uses, the large-product path and the narrow kernels. Free with g_free. */
char *vg_gemm_describe (void);
/* The instruction-set level of the element-wise kernels' clones (vg-simd.h's SIMD_CLONES)
 * that the loader picks on this processor: "x86-64-v4 (AVX-512)", "x86-64-v3 (AVX2)",
 * "x86-64 baseline", or "not cloned" (another compiler or architecture). */
const char *vg_simd_describe (void);
/* Which kernels the one-group convolutions take on this processor and GEMM choice
 * (nn/conv2d.c): the direct AVX-512 or AVX2 kernels and the Winograd inference on them, or
 * im2col. */
const char *vg_conv_describe (void);
/* Which kernels the attention core takes (nn/attention.c): the fused AVX-512 ones for heads
 * of 8 and 16 channels (vg-attention-fused.h) and the tiles' products for the others, or
 * the tiles' products for all. */
const char *vg_attention_describe (void);

/* The packed GEMM on a given micro-kernel (VG_GEMM_AVX2 or VG_GEMM_AVX512), whatever the
 * automatic choice: for tests and benchmarks. FALSE if the processor lacks it. */
gboolean vg_sgemm_packed (VgGemmPath isa, gboolean trans_a, gboolean trans_b, int M, int N,
                          int K, float alpha, const float *A, int lda, const float *B, int ldb,
                          float beta, float *C, int ldc);

/* ---- reduced precision, for inference only ---------------------------------------------- */

typedef enum
{
  VG_PRECISION_FP32, /* the default, and always for training and the reference tests */
  VG_PRECISION_BF16, /* operands rounded to bfloat16, sums in float (AVX512_BF16) */
} VgPrecision;

/* The precision of the layers' products from now on, process-wide: FALSE (nothing changes)
 * if the processor lacks it. In BF16, vg_sgemm_forward rounds its operands to bfloat16 and
 * sums in float; vg_sgemm stays in float. For prediction and evaluation only (visage-cli
 * --precision bf16): never during training. */
gboolean vg_gemm_set_precision (VgPrecision precision);
VgPrecision vg_gemm_precision (void);
gboolean vg_gemm_bf16_available (void);

/* C (M, N) = alpha A (M, K) op(B) (K, N) + beta C with A and op(B) rounded to bfloat16 and
 * float sums (nn/gemm-bf16.c), whatever the precision setting: for vg_sgemm and the tests.
 * FALSE (nothing written) if the processor lacks AVX512_BF16. */
gboolean vg_gemm_bf16 (gboolean trans_b, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc);
