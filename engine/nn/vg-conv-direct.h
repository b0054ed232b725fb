/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The direct kernels of the one-group convolution (nn/conv-direct.c), for conv2d.c's im2col
 * path: shapes as vg_conv2d_dilated_forward's (Dl = 1 for a plain convolution). */
#pragma once

#include <glib.h>
#include <stddef.h>

/* Scratch floats the direct kernels need for this shape (0: they never take it). */
size_t vg_conv_direct_scratch_floats (int B, int H, int W, int Cin, int Cout, int K, int S,
                                      int P, int Dl);
/* out = the convolution, TRUE; FALSE (nothing written) where the kernels do not take the
 * shape on this processor or GEMM choice, and im2col must. */
gboolean vg_conv_direct_forward (float *out, const float *inp, const float *weight,
                                 const float *bias, float *scratch, int B, int H, int W,
                                 int Cin, int Cout, int K, int S, int P, int Dl);
/* The gradients the kernels take: *dweight += (then set to NULL), *dinp = (then NULL); what
 * is left non-NULL is for im2col. dout (B, Ho, Wo, Cout). */
void vg_conv_direct_backward (float **dinp, float **dweight, const float *dout,
                              const float *inp, const float *weight, float *scratch, int B,
                              int H, int W, int Cin, int Cout, int K, int S, int P, int Dl);
/* The direct kernels' vector width in floats for this processor and GEMM choice (16 for
 * AVX-512, 8 for AVX2), 0 where they do not run. */
int vg_conv_direct_vector_floats (void);
/* out (M, N) = a (M, C) @ w (C, N) (+ bias (N) unless NULL), rows ldo, lda, ldw floats apart,
 * with the direct kernels on the calling thread: for the Winograd convolution's products
 * (conv-winograd.c). N a multiple of vg_conv_direct_vector_floats (), which is not 0. */
void vg_conv_direct_gemm (float *out, ptrdiff_t ldo, const float *a, ptrdiff_t lda,
                          const float *w, ptrdiff_t ldw, const float *bias, int M, int N, int C);
/* out (M, N) += a^T b: out[m ldo + n] += sum over k < K of a[k lda + m] b[k ldb + n], with the
 * weight-gradient kernels on the calling thread (the Winograd weight gradient's products).
 * N a multiple of vg_conv_direct_vector_floats (), which is not 0. */
void vg_conv_direct_gemm_at (float *out, ptrdiff_t ldo, const float *a, ptrdiff_t lda,
                             const float *b, ptrdiff_t ldb, int M, int N, int K);
