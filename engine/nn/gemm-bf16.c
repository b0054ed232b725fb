/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reduced-precision matrix products for inference (vg-gemm.h, VG_PRECISION_BF16): the
 * operands rounded to bfloat16 (8 bits of mantissa, float's range), products summed in
 * float by AVX512_BF16's vdpbf16ps, which multiplies pairs of bf16 and adds both products
 * to a float lane: two k per instruction, twice the float FMA's rate.
 *
 * C (M, N) = alpha A (M, K) op(B) (K, N) + beta C. op(B) is converted once per product into
 * pairs along k, 16 columns per vector: Bp[kp][j][t] = bf16 (op(B)(2 kp + t, j)), columns
 * padded to a multiple of 16 and k to a multiple of 2 with zeros. A is converted block by
 * block of ROW_BLOCK rows into a per-thread buffer (32 floats per conversion instruction),
 * then a tile of MR rows by NV vectors of 16 columns keeps its accumulators in registers:
 * each pair of k broadcasts MR pairs of A and loads NV vectors of Bp. Threads take blocks
 * of rows; every element sums its pairs in order, whatever the thread count.
 *
 * Rounding: round to nearest even (vcvtne2ps2bf16 for A; the same in integer arithmetic
 * for B). */
#include "vg-gemm.h"

#include <stdint.h>
#include <string.h>

#include <omp.h>

#define ROW_BLOCK 64
#define PAR_MIN 65536

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)

#include <immintrin.h>

#define BF16 __attribute__ ((target ("avx512f,avx512bw,avx512bf16")))
#define TILE static inline __attribute__ ((always_inline)) BF16

gboolean
vg_gemm_bf16_available (void)
{
  static int have = -1;

  if (have < 0)
    {
      __builtin_cpu_init ();
      have = __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
             && __builtin_cpu_supports ("avx512bf16");
    }
  return have;
}

/* float to bfloat16, round to nearest even; NaN stays NaN */
static uint16_t
to_bf16 (float x)
{
  uint32_t u;

  memcpy (&u, &x, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (uint16_t) ((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t) (u >> 16);
}

/* rows [r0, r1) of A into a16 (ROW_BLOCK x lda16 bf16), k past K zero */
static BF16 void
convert_rows (uint16_t *a16, int lda16, const float *A, int lda, int r0, int r1, int K)
{
  for (int r = r0; r < r1; r++)
    {
      const float *src = A + (size_t) r * lda;
      uint16_t *dst = a16 + (size_t) (r - r0) * lda16;

      for (int k = 0; k < lda16; k += 32)
        {
          int lo_n = K - k < 0 ? 0 : K - k > 16 ? 16 : K - k;
          int hi_n = K - k - 16 < 0 ? 0 : K - k - 16 > 16 ? 16 : K - k - 16;
          __m512 lo = _mm512_maskz_loadu_ps ((__mmask16) ((1u << lo_n) - 1u), src + k);
          __m512 hi = _mm512_maskz_loadu_ps ((__mmask16) ((1u << hi_n) - 1u), src + k + 16);

          _mm512_storeu_si512 (dst + k, (__m512i) _mm512_cvtne2ps_pbh (hi, lo));
        }
    }
}

/* C's rows [0, MR) x columns [0, ncols <= 16 NV) = alpha A16 Bp + beta C */
TILE void
bf16_tile (float *C, int ldc, const uint16_t *a16, int lda16, const uint16_t *bp, int ldbp,
           int K2, float alpha, float beta, int ncols, const int MR, const int NV)
{
  __m512 acc[8][4];

#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
      acc[r][v] = _mm512_setzero_ps ();
  for (int kp = 0; kp < K2; kp++)
    {
      __m512bh b[4];

#pragma GCC unroll 4
      for (int v = 0; v < NV; v++)
        b[v] = (__m512bh) _mm512_loadu_si512 (bp + (size_t) kp * ldbp + 32 * v);
#pragma GCC unroll 8
      for (int r = 0; r < MR; r++)
        {
          int32_t pair;

          memcpy (&pair, a16 + (size_t) r * lda16 + 2 * kp, sizeof pair);
          __m512bh ar = (__m512bh) _mm512_set1_epi32 (pair);
#pragma GCC unroll 4
          for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_dpbf16_ps (acc[r][v], ar, b[v]);
        }
    }
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
      {
        int n = ncols - 16 * v > 16 ? 16 : ncols - 16 * v;
        __mmask16 m = (__mmask16) ((1u << n) - 1u);
        float *c = C + (size_t) r * ldc + 16 * v;
        __m512 out = _mm512_mul_ps (_mm512_set1_ps (alpha), acc[r][v]);

        if (beta != 0.0f)
          out = _mm512_fmadd_ps (_mm512_set1_ps (beta), _mm512_maskz_loadu_ps (m, c), out);
        _mm512_mask_storeu_ps (c, m, out);
      }
}

/* rows [r0, r1) of C, every column: tiles of 4 rows by up to 4 vectors, then single rows */
static BF16 void
bf16_rows (float *C, int ldc, const uint16_t *a16, int lda16, const uint16_t *bp, int ldbp,
           int r0, int r1, int K2, int N, float alpha, float beta)
{
  for (int j0 = 0; j0 < N; j0 += 64)
    {
      int ncols = N - j0 < 64 ? N - j0 : 64, nv = (ncols + 15) / 16;
      int r = r0;

#define BF16_TILE(MR, NV)                                                                  \
  bf16_tile (C + (size_t) r * ldc + j0, ldc, a16 + (size_t) (r - r0) * lda16, lda16,      \
             bp + 2 * j0, ldbp, K2, alpha, beta, ncols, MR, NV)
#define BF16_CASES(MR)                       \
  switch (nv)                                \
    {                                        \
    case 4: BF16_TILE (MR, 4); break;        \
    case 3: BF16_TILE (MR, 3); break;        \
    case 2: BF16_TILE (MR, 2); break;        \
    default: BF16_TILE (MR, 1); break;       \
    }
      for (; r + 4 <= r1; r += 4)
        BF16_CASES (4)
      for (; r < r1; r++)
        BF16_CASES (1)
#undef BF16_CASES
#undef BF16_TILE
    }
}

gboolean
vg_gemm_bf16 (gboolean trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
  int K2 = (K + 1) / 2, Np = (N + 15) / 16 * 16, ldbp = 2 * Np;
  int lda16 = (K + 31) / 32 * 32, n_blocks = (M + ROW_BLOCK - 1) / ROW_BLOCK;
  uint16_t *bp;
  gboolean par = (size_t) M * N * K > PAR_MIN && !omp_in_parallel ();

  if (!vg_gemm_bf16_available () || M <= 0 || N <= 0 || K <= 0)
    return FALSE;
  bp = g_new0 (uint16_t, (size_t) K2 * ldbp);
  for (int k = 0; k < K; k++)
    for (int j = 0; j < N; j++)
      bp[(size_t) (k / 2) * ldbp + 2 * j + k % 2]
        = to_bf16 (trans_b ? B[(size_t) j * ldb + k] : B[(size_t) k * ldb + j]);

#pragma omp parallel if (par)
  {
    uint16_t *a16 = g_new (uint16_t, (size_t) ROW_BLOCK * lda16);

#pragma omp for schedule(static)
    for (int b = 0; b < n_blocks; b++)
      {
        int r0 = b * ROW_BLOCK, r1 = M - r0 < ROW_BLOCK ? M : r0 + ROW_BLOCK;

        convert_rows (a16, lda16, A, lda, r0, r1, K);
        bf16_rows (C + (size_t) r0 * ldc, ldc, a16, lda16, bp, ldbp, 0, r1 - r0, K2, N, alpha,
                   beta);
      }
    g_free (a16);
  }
  g_free (bp);
  return TRUE;
}

#else /* no GCC on x86-64 */

gboolean
vg_gemm_bf16_available (void)
{
  return FALSE;
}

gboolean
vg_gemm_bf16 (gboolean trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
  return FALSE;
}

#endif
