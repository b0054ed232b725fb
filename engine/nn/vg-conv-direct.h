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
