/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Matrix products for the narrow shapes of the linear layers: many rows (tokens) and few
 * channels (16 to a few hundred). BLAS tunes for large square blocks and packs both
 * operands; here the few channels stay in vector registers and the rows stream once. Used
 * on processors with AVX-512 (and FMA); elsewhere each call returns FALSE and the caller
 * uses another kernel. vg_sgemm (vg-gemm.h) calls them for the shapes they fit. All
 * matrices are row-major.
 *
 * Every output element is a sum in a fixed order whatever the thread count. Called inside
 * an OpenMP parallel region, they run on the calling thread only. */
#pragma once

#include <glib.h>

gboolean vg_gemm_narrow_available (void);

/* C (M, N) = bias (N, broadcast over the rows; NULL: 0) + A (M, K) @ B (K, N), any N (the
 * last vector of columns masked: the classifiers' 19). FALSE (nothing written) unless
 * available. */
gboolean vg_gemm_narrow_nn (float *C, const float *A, const float *B, const float *bias, int M,
                            int K, int N);

/* The same, stored as its ReLU: C = max(0, bias + A @ B), vg_relu_forward's values to the
 * bit. */
gboolean vg_gemm_narrow_nn_relu (float *C, const float *A, const float *B, const float *bias,
                                 int M, int K, int N);

/* With leading dimensions: C (M, N) = alpha A (M, K) @ B (K, N), or C += that when add.
 * FALSE (nothing written) unless available and N is a multiple of 16. */
gboolean vg_gemm_narrow_nn_ld (float *C, int ldc, const float *A, int lda, const float *B,
                               int ldb, int M, int K, int N, float alpha, gboolean add);

/* W (No, Ni) += alpha D (R, No)^T @ X (R, Ni): the weight gradient of a linear layer (D the
 * output gradient, X the input). FALSE (nothing written) unless available and Ni is a
 * multiple of 16. */
gboolean vg_gemm_narrow_tn_ld (float *W, int ldw, const float *D, int ldd, const float *X,
                               int ldx, int R, int No, int Ni, float alpha);

/* A linear layer's backward (vg_linear_backward) in one sweep over blocks of rows, each
 * block's dout read once for all three products while it is in cache: dinp (Nr, Cin) =
 * dout (Nr, Cout) @ weight (Cout, Cin); dweight (Cout, Cin) += dout^T @ inp (Nr, Cin);
 * dbias (Cout) += dout's column sums. Any of dinp, dweight, dbias may be NULL. The weight
 * gradient's sums run in vg_gemm_narrow_tn_ld's order. FALSE (nothing written) unless
 * available and Cin is a multiple of 16. */
gboolean vg_gemm_narrow_linear_backward (float *dinp, float *dweight, float *dbias,
                                         const float *dout, const float *inp,
                                         const float *weight, int Nr, int Cin, int Cout);
