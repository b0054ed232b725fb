/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The attention core's fused kernels for small heads (D = 8 and 16: the report's SegFormer
 * has them in its first two stages, at N = M = 4096 for a 256x256 image). At such sizes
 * the tiles' matrix products have an inner dimension of 8 or 16, so their loads and stores
 * cost more than their multiply-adds, and the exps between them pass the score tile through
 * memory once more. Here one loop over a vector of 16 keys does it all in registers: the
 * scores, their exp2, the output or the gradients' sums (AVX-512, engine/nn/attention.c
 * calls them where vg_attention_fused_enabled says so).
 *
 * Layout: kt and vt are a head's keys and values packed, (ld / 16, D, 16) with ld = M
 * rounded up to 16: block v holds keys 16 v .. 16 v + 15, transposed, and the keys from M
 * on are zero; q rows have leading dimension ldq. */
#pragma once

#include <glib.h>

/* The processor has AVX-512, the engine's narrow kernels are not switched off
 * (VISAGE_GEMM, vg_gemm_force_path) and D is 8 or 16. */
gboolean vg_attention_fused_enabled (int D);

/* For nq query rows q (ldq), scaled by scale (base-2 scores): out (ldo) = softmax(scores) V,
 * lse = the natural log-sum-exp of the scores divided by log2(e). row: 2 ld floats of
 * scratch. */
void vg_attention_fused_forward (float *out, int ldo, float *lse, const float *q, int ldq,
                                 const float *kt, const float *vt, int M, float *row, int nq,
                                 int D, float scale);

/* One block of the backward: the keys [j0, j0 + nk) of kt, vt against nq query rows held
 * contiguous, qb (nq, D) and dob (nq, D), with lse2 (base-2 log-sum-exp) and delta
 * (rowsum(dO * O)) per row. P = exp2(scale q.k - lse2), dS = P (dO.v - delta);
 * pdv += P^T dO and pdk += kscale dS^T Q for those keys, packed like kt (j0: a multiple
 * of 16);
 * dq (nq, D) += kscale dS K; pt and ds (nq, ldds), ldds >= nk rounded up to 16, are
 * scratch. */
void vg_attention_fused_backward (float *pdk, float *pdv, float *dq, float *pt, float *ds,
                                  int ldds,
                                  const float *qb, const float *dob, const float *lse2,
                                  const float *delta, const float *kt, const float *vt, int j0,
                                  int nk, int nq, int D, float scale, float kscale);
