/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fused attention kernels for heads of 8 and 16 channels (see vg-attention-fused.h).
 *
 * The vectors run across keys: lane j of a vector is key 16 v + j, so a head's keys and
 * values are read packed, (ld / 16, D, 16): block v holds keys 16 v.. 16 v + 15 transposed,
 * contiguous (as (D, ld) rows, a power-of-two stride apart, the D loads of one block met in
 * the same L1 set and evicted each other: 3 to 4x slower at M = 1024 and 4096). A query's D
 * values are broadcast.
 *
 * Forward, one query row at a time: the scores of all keys go to a row buffer (ld floats)
 * while their maximum is taken; a second sweep turns them into exp2(s - max) and sums them
 * and P V into D vectors of lane-wise partial sums, reduced across lanes at the row's end.
 * Two sweeps over an L1- or L2-resident row cost less than the online softmax's rescaling,
 * and the row's sum is then exact up to rounding rather than rescaled per block.
 *
 * Backward, one vector of 16 keys at a time against all the block's query rows: the scores
 * (recomputed), P, dP = dO V^T and dS stay in registers; dV's and dK's sums for the 16 keys
 * over the rows are 2 D vectors of accumulators, added into the caller's partials once per
 * vector. dS is written to the caller's tile, and dQ = dS K is taken from it row by row
 * after the sweep, with K transposed as well.
 *
 * exp2 here: x = n + f with n = rint(x), 2^f by the same Cephes polynomial as vg-simd.h's
 * exp2_approx, 2^n by vscalefps; 0 below 2^-125 (as exp2_approx: no denormals reach the
 * sums), NaN kept. The results match the generic path to float rounding, not to the bit
 * (different summation order). */
#include "vg-attention-fused.h"
#include "vg-gemm.h"
#include "vg-simd.h"

#include <math.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__ ((target ("avx512f,fma")))
#define INLINE static inline __attribute__ ((always_inline)) AVX512

gboolean
vg_attention_fused_enabled (int D)
{
  return (D == 8 || D == 16) && vg_gemm_narrow_enabled ();
}

/* 2^x lane-wise: 0 where x < -125 (-inf included), NaN where x is NaN. */
INLINE __m512
exp2_v (__m512 x)
{
  __mmask16 keep = _mm512_cmp_ps_mask (x, _mm512_set1_ps (-125.0f), _CMP_NLT_UQ);
  __m512 n = _mm512_roundscale_ps (x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 f = _mm512_sub_ps (x, n);
  __m512 p = _mm512_set1_ps (1.535336188319500e-4f);

  p = _mm512_fmadd_ps (p, f, _mm512_set1_ps (1.339887440266574e-3f));
  p = _mm512_fmadd_ps (p, f, _mm512_set1_ps (9.618437357674640e-3f));
  p = _mm512_fmadd_ps (p, f, _mm512_set1_ps (5.550332471162809e-2f));
  p = _mm512_fmadd_ps (p, f, _mm512_set1_ps (2.402264791363012e-1f));
  p = _mm512_fmadd_ps (p, f, _mm512_set1_ps (6.931472028550421e-1f));
  p = _mm512_fmadd_ps (p, f, _mm512_set1_ps (1.0f));
  return _mm512_maskz_scalef_ps (keep, p, n);
}

/* acc[d] = 0 for d < D */
INLINE void
clear (__m512 *acc, const int D)
{
#pragma GCC unroll 16
  for (int d = 0; d < D; d++)
    acc[d] = _mm512_setzero_ps ();
}

/* The lanes of vector v of a row of n keys that are keys: all but in the last vector. */
INLINE __mmask16
lanes (int v, int n)
{
  int left = n - 16 * v;

  return left >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << left) - 1);
}

/* sum over d < D of x[d] * kv[16 d]: a query's scores against the 16 keys of a packed
 * block kv (D, 16) */
INLINE __m512
dot_keys (const float *x, const float *kv, const int D)
{
  __m512 s = _mm512_mul_ps (_mm512_set1_ps (x[0]), _mm512_loadu_ps (kv));

#pragma GCC unroll 16
  for (int d = 1; d < D; d++)
    s = _mm512_fmadd_ps (_mm512_set1_ps (x[d]), _mm512_loadu_ps (kv + 16 * d), s);
  return s;
}

/* R rows from row i0, R of 1 or 2: the second row shares the blocks of K and V as they are
 * read, which halves their traffic from L2 (B8 N = M = 4096 at D = 8: 88 -> 65 ms; N = M =
 * 1024 at D = 16: 22 -> 20, and 18 with P V in two sweeps of 8 channels). row: R ld
 * floats. */
INLINE void
forward_rows (float *out, int ldo, float *lse, const float *q, int ldq, const float *kt,
              const float *vt, int M, float *row, int i0, const int D, const int R,
              float scale)
{
  const int nv = (M + 15) / 16, ld = 16 * nv;
  float qs[2][16], m[2];
  __m512 mx[2], l[2], mv[2], acc[2][16];

  for (int r = 0; r < R; r++)
    {
      for (int d = 0; d < D; d++)
        qs[r][d] = q[(size_t) (i0 + r) * ldq + d] * scale;
      mx[r] = _mm512_set1_ps (-INFINITY);
      l[r] = _mm512_setzero_ps ();
      clear (acc[r], D);
    }
  for (int v = 0; v < nv; v++)
    for (int r = 0; r < R; r++)
      {
        __m512 s = dot_keys (qs[r], kt + (size_t) v * D * 16, D);

        s = _mm512_mask_mov_ps (_mm512_set1_ps (-INFINITY), lanes (v, M), s);
        mx[r] = _mm512_max_ps (mx[r], s);
        _mm512_storeu_ps (row + (size_t) r * ld + 16 * v, s);
      }
  for (int r = 0; r < R; r++)
    {
      m[r] = _mm512_reduce_max_ps (mx[r]);
      mv[r] = _mm512_set1_ps (m[r]);
    }
  /* P V in sweeps of 8 channels, R x 8 accumulators each: the first turns the scores into
   * P in the row buffer and sums them, the second (D = 16) reads P back (in one sweep the
   * 32 accumulators of D = 16 went to the stack) */
  for (int d0 = 0; d0 < D; d0 += 8)
    {
      for (int v = 0; v < nv; v++)
        for (int r = 0; r < R; r++)
          {
            float *pr = row + (size_t) r * ld + 16 * v;
            __m512 p = _mm512_loadu_ps (pr);

            if (d0 == 0)
              {
                p = exp2_v (_mm512_sub_ps (p, mv[r]));
                l[r] = _mm512_add_ps (l[r], p);
                if (D > 8)
                  _mm512_storeu_ps (pr, p);
              }
#pragma GCC unroll 8
            for (int d = 0; d < 8; d++)
              acc[r][d0 + d] = _mm512_fmadd_ps (
                p, _mm512_loadu_ps (vt + ((size_t) v * D + d0 + d) * 16), acc[r][d0 + d]);
          }
    }
  for (int r = 0; r < R; r++)
    {
      float sum = _mm512_reduce_add_ps (l[r]);

      for (int d = 0; d < D; d++)
        out[(size_t) (i0 + r) * ldo + d] = _mm512_reduce_add_ps (acc[r][d]) / sum;
      lse[i0 + r] = (m[r] + log2f (sum)) * LN2;
    }
}

/* The sweeps of one vector of 16 keys over the rows: P and dS to the tiles pt and ds, then
 * dV's sums from P, then dK's from dS, each sweep with no more than D accumulators and
 * the broadcasts it needs (D = 16 with all sums in one sweep spilled half of them). */
INLINE void
backward_block (float *pdk, float *pdv, float *pt, float *ds, int ldds, const float *qb,
                const float *dob, const float *lse2, const float *delta, const float *kt,
                const float *vt, int j0, int nk, int nq, const int D, float scale,
                float kscale)
{
  const int nv = (nk + 15) / 16;
  const __m512 sc = _mm512_set1_ps (scale);

  for (int v = 0; v < nv; v++)
    {
      const size_t at = ((size_t) j0 / 16 + v) * D * 16; /* the block's (D, 16) */
      const __mmask16 keys = lanes (v, nk);
      __m512 acc[16];

      for (int i = 0; i < nq; i++)
        {
          __m512 s = dot_keys (qb + (size_t) i * D, kt + at, D);
          __m512 dp = dot_keys (dob + (size_t) i * D, vt + at, D);
          __m512 p = exp2_v (_mm512_fmsub_ps (s, sc, _mm512_set1_ps (lse2[i])));

          p = _mm512_maskz_mov_ps (keys, p);
          _mm512_storeu_ps (pt + (size_t) i * ldds + 16 * v, p);
          _mm512_storeu_ps (ds + (size_t) i * ldds + 16 * v,
                            _mm512_mul_ps (p, _mm512_sub_ps (dp, _mm512_set1_ps (delta[i]))));
        }
      /* dV += P^T dO, then dK += kscale dS^T Q */
      for (int g = 0; g < 2; g++)
        {
          const float *x = g == 0 ? dob : qb, *w = g == 0 ? pt : ds;
          float *part = (g == 0 ? pdv : pdk) + at;

          clear (acc, D);
          for (int i = 0; i < nq; i++)
            {
              __m512 y = _mm512_loadu_ps (w + (size_t) i * ldds + 16 * v);

#pragma GCC unroll 16
              for (int d = 0; d < D; d++)
                acc[d] = _mm512_fmadd_ps (y, _mm512_set1_ps (x[(size_t) i * D + d]), acc[d]);
            }
#pragma GCC unroll 16
          for (int d = 0; d < D; d++)
            _mm512_storeu_ps (part + 16 * d,
                              _mm512_fmadd_ps (acc[d], _mm512_set1_ps (g == 0 ? 1.0f : kscale),
                                               _mm512_loadu_ps (part + 16 * d)));
        }
    }
}

/* dQ's part from this block: dq (nq, D) += kscale * ds (nq, nk) @ K, K packed (kt's
 * blocks from j0; ds's padding lanes are 0, kt's beyond M too) */
INLINE void
backward_dq (float *dq, const float *ds, int ldds, const float *kt, int j0, int nk, int nq,
             const int D, float kscale)
{
  const int nv = (nk + 15) / 16;

  for (int i = 0; i < nq; i++)
    {
      __m512 acc[16];

      clear (acc, D);
      for (int v = 0; v < nv; v++)
        {
          __m512 x = _mm512_loadu_ps (ds + (size_t) i * ldds + 16 * v);

#pragma GCC unroll 16
          for (int d = 0; d < D; d++)
            acc[d] = _mm512_fmadd_ps (
              x, _mm512_loadu_ps (kt + (((size_t) j0 / 16 + v) * D + d) * 16), acc[d]);
        }
      for (int d = 0; d < D; d++)
        dq[(size_t) i * D + d] += kscale * _mm512_reduce_add_ps (acc[d]);
    }
}

AVX512 void
vg_attention_fused_forward (float *out, int ldo, float *lse, const float *q, int ldq,
                            const float *kt, const float *vt, int M, float *row, int nq,
                            int D, float scale)
{
  int i = 0;

  for (; i + 2 <= nq; i += 2)
    if (D == 8)
      forward_rows (out, ldo, lse, q, ldq, kt, vt, M, row, i, 8, 2, scale);
    else
      forward_rows (out, ldo, lse, q, ldq, kt, vt, M, row, i, 16, 2, scale);
  if (i < nq && D == 8)
    forward_rows (out, ldo, lse, q, ldq, kt, vt, M, row, i, 8, 1, scale);
  else if (i < nq)
    forward_rows (out, ldo, lse, q, ldq, kt, vt, M, row, i, 16, 1, scale);
}

AVX512 void
vg_attention_fused_backward (float *pdk, float *pdv, float *dq, float *pt, float *ds,
                             int ldds,
                             const float *qb, const float *dob, const float *lse2,
                             const float *delta, const float *kt, const float *vt, int j0,
                             int nk, int nq, int D, float scale, float kscale)
{
  if (D == 8)
    {
      backward_block (pdk, pdv, pt, ds, ldds, qb, dob, lse2, delta, kt, vt, j0, nk, nq, 8,
                      scale, kscale);
      backward_dq (dq, ds, ldds, kt, j0, nk, nq, 8, kscale);
    }
  else
    {
      backward_block (pdk, pdv, pt, ds, ldds, qb, dob, lse2, delta, kt, vt, j0, nk, nq, 16,
                      scale, kscale);
      backward_dq (dq, ds, ldds, kt, j0, nk, nq, 16, kscale);
    }
}

#else

gboolean
vg_attention_fused_enabled (int D)
{
  (void) D;
  return FALSE;
}

void
vg_attention_fused_forward (float *out, int ldo, float *lse, const float *q, int ldq,
                            const float *kt, const float *vt, int M, float *row, int nq,
                            int D, float scale)
{
  g_assert_not_reached ();
}

void
vg_attention_fused_backward (float *pdk, float *pdv, float *dq, float *pt, float *ds,
                             int ldds,
                             const float *qb, const float *dob, const float *lse2,
                             const float *delta, const float *kt, const float *vt, int j0,
                             int nk, int nq, int D, float scale, float kscale)
{
  g_assert_not_reached ();
}

#endif
