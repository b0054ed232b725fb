/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Winograd F(4x4, 3x3) forward and gradients of the 3x3, stride-1, one-group convolution
 * (nn/conv-winograd.c), for conv2d.c: shapes as vg_conv2d_forward's. */
#pragma once

#include <glib.h>
#include <stddef.h>

/* Where Winograd runs: everywhere it takes the shape (the default), for the gradients only,
 * or nowhere. VISAGE_CONV=direct in the environment, read at the first convolution, starts
 * at VG_WINOGRAD_NONE (to tell a rounding difference of Winograd's from anything else);
 * vg_conv_winograd_set_use wins over it. */
typedef enum {
  VG_WINOGRAD_ALL,
  VG_WINOGRAD_GRADIENTS,
  VG_WINOGRAD_NONE,
} VgWinogradUse;

void vg_conv_winograd_set_use (VgWinogradUse use);
VgWinogradUse vg_conv_winograd_use (void);

/* Whether the shape is one the Winograd forward takes (on a processor with the direct
 * kernels): 3x3, stride 1, one group, no dilation, at least 16 input channels and output
 * channels a multiple of 8. */
gboolean vg_conv_winograd_shape (int Cin, int Cout, int K, int S, int G, int Dl);
/* Scratch floats it needs for this shape (0: it never takes it). */
size_t vg_conv_winograd_scratch_floats (int B, int H, int W, int Cin, int Cout, int K, int S,
                                        int P, int G);
/* out = the convolution (with relu its ReLU, as vg_relu_forward), TRUE; FALSE (nothing
 * written) where it does not take the shape on this processor or GEMM choice (then the
 * caller's other paths run). */
gboolean vg_conv_winograd_forward (float *out, const float *inp, const float *weight,
                                   const float *bias, float *scratch, int B, int H, int W,
                                   int Cin, int Cout, int K, int S, int P, int G, int relu);
/* Up to these products Cin x Cout a call's threads take tiles of their own rather than
 * share each chunk's points: the forward (and the input gradient, Cout x Cin), and the
 * weight gradient (conv-winograd.c; bench prints them). */
#define VG_WINOGRAD_TILE_CIN 192
#define VG_WINOGRAD_TILE_COUT 256
#define VG_WINOGRAD_DW_TILE_CIN 64
#define VG_WINOGRAD_DW_TILE_COUT 128

/* The gradients it takes (the processor's direct kernels; 3x3 stride 1, one group): the
 * input gradient wherever the forward would take its shape (the output gradient's Cout
 * channels in, Cin out), the weight gradient where the forward would and Cout fills vectors,
 * but for shapes both wider than VG_WINOGRAD_DW_TILE_* and of Cin Cout / (Cin + Cout) below
 * 20 (left to the direct kernels: conv-winograd.c):
 * *dweight += (then set to NULL) and *dinp = (then NULL); what is left non-NULL is for the
 * caller's other paths. dout (B, Ho, Wo, Cout). */
void vg_conv_winograd_backward (float **dinp, float **dweight, const float *dout,
                                const float *inp, const float *weight, float *scratch, int B,
                                int H, int W, int Cin, int Cout, int K, int S, int P, int G);
