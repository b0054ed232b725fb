/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Matrix products for the linear layers' narrow shapes (see vg-gemm-narrow.h), with
 * AVX-512 register tiles written with GCC's vector extensions.
 *
 * NN: C (M, N) = init + alpha A (M, K) @ B (K, N). A tile of MR rows by NV <= 4 vectors of
 * 16 columns (MR * NV <= 16: 4 x 4, or 8 x 2 for narrow outputs) keeps its accumulators in
 * registers; each k loads NV vectors of B's row k and broadcasts MR values of A. Threads
 * take blocks of ROW_BLOCK rows; within a block every column panel of B (K x 64 floats) is
 * reused by all its rows.
 *
 * TN (the weight gradient): W (No, Ni) += D (R, No)^T @ X (R, Ni). A tile of OR outputs by
 * NV vectors of inputs sums one block of SUM_BLOCK rows in registers, then adds into W.
 * Threads take disjoint ranges of outputs, and every element sums its rows in the same
 * order, so the result does not depend on the thread count.
 *
 * A linear layer's backward runs its products in one sweep over blocks of FUSE_BLOCK rows:
 * each thread computes its share of the block's rows of the input gradient (NN), then its
 * outputs' weight gradient (TN) and bias gradient over the whole block, while the block's
 * output gradient is still in cache; read three times from memory otherwise. */
#include "vg-gemm-narrow.h"

#include <omp.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#define ROW_BLOCK 64
#define SUM_BLOCK 256
#define FUSE_BLOCK (2 * SUM_BLOCK) /* rows of a linear backward's sweep (a multiple) */
#define PAR_MIN 65536 /* multiply-adds below which one thread does it all */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)

#define AVX512 __attribute__ ((target ("avx512f,fma")))
#define TILE static inline __attribute__ ((always_inline)) AVX512

typedef float v16 __attribute__ ((vector_size (64)));
/* the same vector at 4-byte alignment: loads and stores of any float address */
typedef float v16u __attribute__ ((vector_size (64), aligned (4)));

#define LOADU(p) (*(const v16u *) (p))
#define STOREU(p, v) (*(v16u *) (p) = (v))

gboolean
vg_gemm_narrow_available (void)
{
  static int have = -1;

  if (have < 0)
    {
      __builtin_cpu_init ();
      have = __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("fma");
    }
  return have;
}

/* acc[r][v] += a[r * stride] * b[v] for r < MR, v < NV: the rank-1 update both tiles are
 * made of */
TILE void
rank1_update (v16 acc[][4], const float *a, size_t stride, const v16 *b, const int MR,
              const int NV)
{
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
    {
      v16 ar = (v16) { 0 } + a[r * stride];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++)
        acc[r][v] += ar * b[v];
    }
}

/* ---- NN ------------------------------------------------------------------------------- */

/* How a tile's result meets C: stored (after the bias, if any), or added to C; with RELU
 * (a bit beside STORE or STORE_BIAS) stored as max(0, x), which is vg_relu_forward's
 * x < 0 ? 0 : x to the bit (NaN and -0 pass). */
enum { STORE, STORE_BIAS, ADD, HOW = 3, RELU = 4 };

/* Vector v of NV at p: the last one only where mask has its bits (the columns past N are
 * neither read nor written; masked loads do not fault there), the others whole. */
#define LOADV(p, v, NV, mask) \
  ((v) == (NV) - 1 ? (v16) _mm512_maskz_loadu_ps ((mask), (p)) : (v16) LOADU (p))
#define STOREV(p, v, NV, mask, x)                               \
  do                                                            \
    {                                                           \
      if ((v) == (NV) - 1)                                      \
        _mm512_mask_storeu_ps ((p), (mask), (__m512) (x));      \
      else                                                      \
        STOREU ((p), (x));                                      \
    }                                                           \
  while (0)

/* rows [0, MR) x columns [0, 16 NV) of C = (C +) alpha A B (+ bias), the last vector's
 * columns those of mask; A, B, C and bias point at the tile's corner. MR * NV <= 16
 * accumulators. */
TILE void
nn_tile (float *C, int ldc, const float *A, int lda, const float *B, int ldb,
         const float *bias, int K, float alpha, int mode, __mmask16 mask, const int MR,
         const int NV)
{
  v16 acc[8][4];

#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
      acc[r][v] = (mode & HOW) == STORE_BIAS ? LOADV (bias + 16 * v, v, NV, mask) : (v16) { 0 };
  for (int k = 0; k < K; k++)
    {
      v16 b[4];

#pragma GCC unroll 4
      for (int v = 0; v < NV; v++)
        b[v] = LOADV (B + (size_t) k * ldb + 16 * v, v, NV, mask);
      rank1_update (acc, A + k, lda, b, MR, NV);
    }
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
      {
        float *c = C + (size_t) r * ldc + 16 * v;

        if (mode == ADD)
          STOREV (c, v, NV, mask, LOADV (c, v, NV, mask) + alpha * acc[r][v]);
        else if (mode & RELU)
          STOREV (c, v, NV, mask,
                  _mm512_max_ps (_mm512_setzero_ps (), (__m512) (alpha * acc[r][v])));
        else if (alpha != 1.0f)
          STOREV (c, v, NV, mask, alpha * acc[r][v]);
        else
          STOREV (c, v, NV, mask, acc[r][v]);
      }
}

/* rows [r0, r1) of C, every column */
static AVX512 void
nn_rows (float *C, int ldc, const float *A, int lda, const float *B, int ldb,
         const float *bias, int r0, int r1, int K, int N, float alpha, int mode)
{
  for (int j0 = 0; j0 < N; j0 += 64)
    {
      /* whole vectors, and a last one with the columns that are left */
      int nv = N - j0 >= 64 ? 4 : (N - j0 + 15) / 16;
      int rest = N - j0 - 16 * (nv - 1);
      __mmask16 mask = rest >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << rest) - 1);
      const float *bj = B + j0, *biasj = bias != NULL ? bias + j0 : NULL;
      int r = r0;

#define NN_TILE(MR, NV)                                                                   \
  nn_tile (C + (size_t) r * ldc + j0, ldc, A + (size_t) r * lda, lda, bj, ldb, biasj, K, \
           alpha, mode, mask, MR, NV)
#define NN_CASES(MR)                         \
  switch (nv)                                \
    {                                        \
    case 4: NN_TILE (MR, 4); break;          \
    case 3: NN_TILE (MR, 3); break;          \
    case 2: NN_TILE (MR, 2); break;          \
    default: NN_TILE (MR, 1); break;         \
    }
      /* two vectors or fewer: 8 rows per tile keep 16 accumulators busy */
      if (nv <= 2)
        for (; r + 8 <= r1; r += 8)
          {
            if (nv == 2)
              NN_TILE (8, 2);
            else
              NN_TILE (8, 1);
          }
      for (; r + 4 <= r1; r += 4)
        NN_CASES (4)
      for (; r < r1; r++)
        NN_CASES (1)
#undef NN_CASES
#undef NN_TILE
    }
}

/* rows in blocks of ROW_BLOCK over the threads (on the calling thread alone when it is in
 * a parallel region already, or the product is small) */
static void
nn_parallel (float *C, int ldc, const float *A, int lda, const float *B, int ldb,
             const float *bias, int M, int K, int N, float alpha, int mode)
{
  int n_blocks = (M + ROW_BLOCK - 1) / ROW_BLOCK;
  gboolean par = (size_t) M * K * N > PAR_MIN && !omp_in_parallel ();

#pragma omp parallel for schedule(static) if (par)
  for (int b = 0; b < n_blocks; b++)
    nn_rows (C, ldc, A, lda, B, ldb, bias, b * ROW_BLOCK,
             M - b * ROW_BLOCK < ROW_BLOCK ? M : b * ROW_BLOCK + ROW_BLOCK, K, N, alpha, mode);
}

gboolean
vg_gemm_narrow_nn (float *C, const float *A, const float *B, const float *bias, int M, int K,
                   int N)
{
  if (!vg_gemm_narrow_available () || N <= 0 || K <= 0)
    return FALSE;
  nn_parallel (C, N, A, K, B, N, bias, M, K, N, 1.0f, bias != NULL ? STORE_BIAS : STORE);
  return TRUE;
}

gboolean
vg_gemm_narrow_nn_relu (float *C, const float *A, const float *B, const float *bias, int M,
                        int K, int N)
{
  if (!vg_gemm_narrow_available () || N <= 0 || K <= 0)
    return FALSE;
  nn_parallel (C, N, A, K, B, N, bias, M, K, N, 1.0f,
               (bias != NULL ? STORE_BIAS : STORE) | RELU);
  return TRUE;
}

gboolean
vg_gemm_narrow_nn_ld (float *C, int ldc, const float *A, int lda, const float *B, int ldb,
                      int M, int K, int N, float alpha, gboolean add)
{
  if (!vg_gemm_narrow_available () || N % 16 != 0 || N <= 0 || K <= 0)
    return FALSE;
  nn_parallel (C, ldc, A, lda, B, ldb, NULL, M, K, N, alpha, add ? ADD : STORE);
  return TRUE;
}

/* ---- TN ------------------------------------------------------------------------------- */

/* This thread's outputs [*lo, *hi) of No: whole tiles of 8. */
static void
thread_outputs (int No, int *lo, int *hi)
{
  int nt = omp_get_num_threads (), t = omp_get_thread_num ();
  int tiles = (No + 7) / 8;

  *lo = (int) ((long) tiles * t / nt) * 8;
  *hi = (int) ((long) tiles * (t + 1) / nt) * 8;
  *lo = *lo < No ? *lo : No;
  *hi = *hi < No ? *hi : No;
}

/* W rows [o0, o0 + OR) x columns [i0, i0 + 16 NV) += alpha * the sum over rows [r0, r1) */
TILE void
tn_tile (float *W, int ldw, const float *D, int ldd, const float *X, int ldx, int r0, int r1,
         int o0, int i0, float alpha, const int OR, const int NV)
{
  v16 acc[8][4];

#pragma GCC unroll 8
  for (int o = 0; o < OR; o++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
      acc[o][v] = (v16) { 0 };
  for (int r = r0; r < r1; r++)
    {
      const float *d = D + (size_t) r * ldd + o0;
      const float *x = X + (size_t) r * ldx + i0;
      v16 xv[4];

#pragma GCC unroll 4
      for (int v = 0; v < NV; v++)
        xv[v] = LOADU (x + 16 * v);
      rank1_update (acc, d, 1, xv, OR, NV);
    }
#pragma GCC unroll 8
  for (int o = 0; o < OR; o++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
      {
        float *w = W + (size_t) (o0 + o) * ldw + i0 + 16 * v;
        STOREU (w, (v16) LOADU (w) + alpha * acc[o][v]);
      }
}

/* OR outputs from o0 by all Ni inputs (a multiple of 16): tiles of 4 vectors, then one of
 * the 1 to 3 left */
TILE void
tn_columns (float *W, int ldw, const float *D, int ldd, const float *X, int ldx, int r0,
            int r1, int o0, int Ni, float alpha, const int OR)
{
  int i0 = 0;

  for (; i0 + 64 <= Ni; i0 += 64)
    tn_tile (W, ldw, D, ldd, X, ldx, r0, r1, o0, i0, alpha, OR, 4);
  switch ((Ni - i0) / 16)
    {
    case 3: tn_tile (W, ldw, D, ldd, X, ldx, r0, r1, o0, i0, alpha, OR, 3); break;
    case 2: tn_tile (W, ldw, D, ldd, X, ldx, r0, r1, o0, i0, alpha, OR, 2); break;
    case 1: tn_tile (W, ldw, D, ldd, X, ldx, r0, r1, o0, i0, alpha, OR, 1); break;
    default: break;
    }
}

/* outputs [o_lo, o_hi) of W, all Ni inputs, rows [r_lo, r_hi) in blocks of SUM_BLOCK from
 * r_lo */
static AVX512 void
tn_outputs (float *W, int ldw, const float *D, int ldd, const float *X, int ldx, int r_lo,
            int r_hi, int Ni, int o_lo, int o_hi, float alpha)
{
  for (int r0 = r_lo; r0 < r_hi; r0 += SUM_BLOCK)
    {
      int r1 = r_hi - r0 < SUM_BLOCK ? r_hi : r0 + SUM_BLOCK;

      for (int o0 = o_lo; o0 < o_hi;)
        {
          if (Ni % 64 == 0 && o_hi - o0 >= 4)
            {
              for (int i0 = 0; i0 < Ni; i0 += 64)
                tn_tile (W, ldw, D, ldd, X, ldx, r0, r1, o0, i0, alpha, 4, 4);
              o0 += 4;
            }
          else if (Ni % 32 == 0 && o_hi - o0 >= 8)
            {
              for (int i0 = 0; i0 < Ni; i0 += 32)
                tn_tile (W, ldw, D, ldd, X, ldx, r0, r1, o0, i0, alpha, 8, 2);
              o0 += 8;
            }
          else
            {
              /* groups of up to 4 outputs by 4 vectors, the rest of Ni by 1 to 3 (one
               * output by one vector a tile made seed's head's weight gradient, 19 by 304,
               * take 2.4x OpenBLAS's time) */
              int n = o_hi - o0 < 4 ? o_hi - o0 : 4;

              switch (n)
                {
                case 4: tn_columns (W, ldw, D, ldd, X, ldx, r0, r1, o0, Ni, alpha, 4); break;
                case 3: tn_columns (W, ldw, D, ldd, X, ldx, r0, r1, o0, Ni, alpha, 3); break;
                case 2: tn_columns (W, ldw, D, ldd, X, ldx, r0, r1, o0, Ni, alpha, 2); break;
                default: tn_columns (W, ldw, D, ldd, X, ldx, r0, r1, o0, Ni, alpha, 1); break;
                }
              o0 += n;
            }
        }
    }
}

gboolean
vg_gemm_narrow_tn_ld (float *W, int ldw, const float *D, int ldd, const float *X, int ldx,
                      int R, int No, int Ni, float alpha)
{
  if (!vg_gemm_narrow_available () || Ni % 16 != 0 || Ni <= 0 || No <= 0)
    return FALSE;
  gboolean par = (size_t) R * No * Ni > PAR_MIN && !omp_in_parallel ();

#pragma omp parallel if (par)
  {
    int lo, hi;

    thread_outputs (No, &lo, &hi);
    if (lo < hi)
      tn_outputs (W, ldw, D, ldd, X, ldx, 0, R, Ni, lo, hi, alpha);
  }
  return TRUE;
}

/* ---- a linear layer's backward ---------------------------------------------------------- */

/* db[o - lo] += the sums over rows [r0, r1) of D's columns [lo, hi): float sums of the
 * block, added in double. */
static AVX512 void
bias_block (double *db, const float *D, int ldd, int r0, int r1, int lo, int hi)
{
  int o = lo;

  for (; o + 16 <= hi; o += 16)
    {
      v16 s = { 0 };

      for (int r = r0; r < r1; r++)
        s += LOADU (D + (size_t) r * ldd + o);
      for (int l = 0; l < 16; l++)
        db[o - lo + l] += s[l];
    }
  for (; o < hi; o++)
    {
      float s = 0.0f;

      for (int r = r0; r < r1; r++)
        s += D[(size_t) r * ldd + o];
      db[o - lo] += s;
    }
}

gboolean
vg_gemm_narrow_linear_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                                const float *inp, const float *weight, int Nr, int Cin,
                                int Cout)
{
  if (!vg_gemm_narrow_available () || Cin % 16 != 0 || Cin <= 0 || Cout <= 0 || Nr <= 0)
    return FALSE;
  gboolean par = (size_t) Nr * Cin * Cout > PAR_MIN && !omp_in_parallel ();

#pragma omp parallel if (par)
  {
    int nt = omp_get_num_threads (), t = omp_get_thread_num (), lo, hi;
    double *db = NULL;

    thread_outputs (Cout, &lo, &hi);
    if (dbias != NULL && lo < hi)
      db = g_new0 (double, hi - lo);
    for (int r0 = 0; r0 < Nr; r0 += FUSE_BLOCK)
      {
        int r1 = Nr - r0 < FUSE_BLOCK ? Nr : r0 + FUSE_BLOCK;

        /* dinp (rows, Cin) = dout (rows, Cout) @ weight (Cout, Cin): this thread's share of
         * the block's rows */
        if (dinp != NULL)
          nn_rows (dinp, Cin, dout, Cout, weight, Cin, NULL, r0 + (r1 - r0) * t / nt,
                   r0 + (r1 - r0) * (t + 1) / nt, Cout, Cin, 1.0f, STORE);
        /* dweight (Cout, Cin) += dout^T @ inp and dbias += the column sums: this thread's
         * outputs, over the whole block */
        if (lo < hi && dweight != NULL)
          tn_outputs (dweight, Cin, dout, Cout, inp, Cin, r0, r1, Cin, lo, hi, 1.0f);
        if (db != NULL)
          bias_block (db, dout, Cout, r0, r1, lo, hi);
      }
    if (db != NULL)
      for (int o = lo; o < hi; o++)
        dbias[o] += (float) db[o - lo];
    g_free (db);
  }
  return TRUE;
}

#else /* no GCC on x86-64: the callers use BLAS */

gboolean
vg_gemm_narrow_available (void)
{
  return FALSE;
}

gboolean
vg_gemm_narrow_nn (float *C, const float *A, const float *B, const float *bias, int M, int K,
                   int N)
{
  return FALSE;
}

gboolean
vg_gemm_narrow_nn_relu (float *C, const float *A, const float *B, const float *bias, int M,
                        int K, int N)
{
  return FALSE;
}

gboolean
vg_gemm_narrow_nn_ld (float *C, int ldc, const float *A, int lda, const float *B, int ldb,
                      int M, int K, int N, float alpha, gboolean add)
{
  return FALSE;
}

gboolean
vg_gemm_narrow_tn_ld (float *W, int ldw, const float *D, int ldd, const float *X, int ldx,
                      int R, int No, int Ni, float alpha)
{
  return FALSE;
}

gboolean
vg_gemm_narrow_linear_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                                const float *inp, const float *weight, int Nr, int Cin,
                                int Cout)
{
  return FALSE;
}

#endif
