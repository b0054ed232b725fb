/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The engine's packed, cache-blocked GEMM (vg-gemm.h): C (M, N) = alpha op(A) op(B) + beta C,
 * row-major, after Goto and van de Geijn (and BLIS's five loops).
 *
 * Loops, outer to inner: columns of C in blocks of NC; the sum over k in blocks of KC; rows
 * of C in blocks of MC; then the NR-column micro-panels of the KC x NC panel of op(B) (each
 * stays in L1 while the A micro-panels stream past it) and the MR-row micro-panels of the
 * MC x KC block of op(A); the micro-kernel multiplies one MR x KC micro-panel by one
 * KC x NR micro-panel in MR x NR registers. What is packed: op(B)'s panel when B is
 * transposed (the kernel loads rows of NR floats, which are then contiguous; otherwise it
 * reads B in place), and op(A)'s block (k-major, MR at a time, transposed as needed) when
 * C has more than two micro-panels of columns; with fewer, packing A would cost about as
 * much as the product (the 8-channel attention tiles), so the kernel broadcasts A's
 * elements where they lie. Ragged edges are packed with zero padding (a last micro-panel
 * of fewer than NR columns, a last micro-panel of fewer than MR rows) so that the kernel
 * always computes a whole tile; an edge tile goes through a scratch tile and only its
 * valid part meets C.
 *
 * Micro-kernels: AVX-512 12 x 32 (24 accumulators of 16 floats; each k loads two vectors of
 * B and broadcasts 12 values of A) and AVX2+FMA 6 x 16 (12 accumulators of 8 floats), one
 * vector wide for narrow products; GCC vector extensions compiled per function for their
 * instruction set, so the binary runs on any x86-64.
 *
 * Threads: the team packs each panel and block together, then shares the block's tiles
 * (contiguous runs of B micro-panels per thread), each thread its static share between
 * barriers. A product run by one thread (small, or called inside a parallel region such as
 * the attention's) executes no OpenMP construct at all. Every element of C is one tile's: its sum
 * runs over k in the same order (KC blocks in turn, k in turn within a block) whatever the
 * thread count, so the result does not depend on it. */
#include "vg-gemm.h"

#include <stddef.h>

#include <omp.h>

#define KC 256
#define MC_TARGET 144     /* rows of the A block: 144 x 256 floats = 144 KiB */
#define NC 4096
#define PAR_MIN (1 << 18) /* multiply-adds below which one thread does it all */
#define MAX_TILE (16 * 32)

/* c (MR, NR; ldc) = alpha a (MR, kc) b (kc, NR) + beta c, with a's element (r, k) at
 * a[r * ars + k * acs] and b's row k at b + k * ldb (NR floats); beta = 0 does not read c. */
typedef void (*MicroKernel) (int kc, const float *a, ptrdiff_t ars, ptrdiff_t acs,
                             const float *b, ptrdiff_t ldb, float *c, int ldc, float alpha,
                             float beta);

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)

typedef float v16 __attribute__ ((vector_size (64)));
typedef float v16u __attribute__ ((vector_size (64), aligned (4)));
typedef float v8 __attribute__ ((vector_size (32)));
typedef float v8u __attribute__ ((vector_size (32), aligned (4)));

/* One micro-kernel body for both instruction sets: MR rows by NV vectors of type V. */
#define MICRO_KERNEL_BODY(V, VU, MR, NV)                                                  \
  V acc[MR][NV];                                                                          \
  const int nr = NV * (int) (sizeof (V) / sizeof (float));                                \
                                                                                          \
  _Pragma ("GCC unroll 16") for (int r = 0; r < MR; r++)                                  \
    _Pragma ("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] = (V) { 0 };          \
  for (int k = 0; k < kc; k++)                                                            \
    {                                                                                     \
      V bv[NV];                                                                           \
                                                                                          \
      _Pragma ("GCC unroll 4") for (int v = 0; v < NV; v++)                               \
        bv[v] = *(const VU *) (b + v * (nr / NV));                                        \
      _Pragma ("GCC unroll 16") for (int r = 0; r < MR; r++)                              \
        {                                                                                 \
          V ar = a[r * ars] - (V) { 0 }; /* x - 0 is x even for -0: a plain broadcast */ \
          _Pragma ("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] += ar * bv[v];  \
        }                                                                                 \
      a += acs;                                                                           \
      b += ldb;                                                                           \
    }                                                                                     \
  _Pragma ("GCC unroll 16") for (int r = 0; r < MR; r++)                                  \
    _Pragma ("GCC unroll 4") for (int v = 0; v < NV; v++)                                 \
    {                                                                                     \
      VU *cp = (VU *) (c + (size_t) r * ldc + v * (int) (sizeof (V) / sizeof (float)));   \
      if (beta == 0.0f)                                                                   \
        *cp = alpha * acc[r][v];                                                          \
      else                                                                                \
        *cp = alpha * acc[r][v] + beta * *cp;                                             \
    }

/* Rows by columns of the micro-kernels: two vectors wide, and one vector wide for products
 * of at most one vector's columns (the attention tiles of 8-channel heads, which would
 * otherwise be three quarters zero padding; with AVX-512, 8 columns take a 256-bit vector
 * and 16 rows, so that the tiles of 64 and 256 rows have no ragged edge). */
enum { MR_512 = 12, MR_512_8 = 16, MR_256 = 6 };

#define MICRO_KERNEL(name, isa, V, VU, MR, NV)                                              \
  static __attribute__ ((target (isa))) void name (                                        \
    int kc, const float *restrict a, ptrdiff_t ars, ptrdiff_t acs, const float *restrict b, \
    ptrdiff_t ldb, float *c, int ldc, float alpha, float beta)                              \
  {                                                                                         \
    MICRO_KERNEL_BODY (V, VU, MR, NV)                                                       \
  }

MICRO_KERNEL (kernel_avx512, "avx512f,fma", v16, v16u, MR_512, 2)
MICRO_KERNEL (kernel_avx512_1, "avx512f,fma", v16, v16u, MR_512, 1)
MICRO_KERNEL (kernel_avx512_8, "avx512f,fma", v8, v8u, MR_512_8, 1)
MICRO_KERNEL (kernel_avx2, "avx2,fma", v8, v8u, MR_256, 2)
MICRO_KERNEL (kernel_avx2_1, "avx2,fma", v8, v8u, MR_256, 1)

/* The micro-kernel for the path and the width of op(B): FALSE if the processor lacks it. */
static gboolean
kernel_for (VgGemmPath isa, int N, MicroKernel *kernel, int *mr, int *nr)
{
  if (isa == VG_GEMM_AVX512 && vg_gemm_cpu_isa () >= VG_ISA_AVX512)
    {
      *kernel = N <= 8 ? kernel_avx512_8 : N <= 16 ? kernel_avx512_1 : kernel_avx512;
      *mr = N <= 8 ? MR_512_8 : MR_512;
      *nr = N <= 8 ? 8 : N <= 16 ? 16 : 32;
      return TRUE;
    }
  if (isa == VG_GEMM_AVX2 && vg_gemm_cpu_isa () >= VG_ISA_AVX2)
    {
      *kernel = N <= 8 ? kernel_avx2_1 : kernel_avx2;
      *mr = MR_256;
      *nr = N <= 8 ? 8 : 16;
      return TRUE;
    }
  return FALSE;
}

#else /* no GCC on x86-64: no micro-kernels, vg_sgemm uses BLAS */

static gboolean
kernel_for (VgGemmPath isa, int N, MicroKernel *kernel, int *mr, int *nr)
{
  return FALSE;
}

#endif

/* A matrix as element (i, j) = p[i * rs + j * cs]: a transpose swaps the strides. */
typedef struct
{
  const float *p;
  size_t rs, cs;
} View;

/* Micro-panels [q0, q1) of the (rows x kc) block of v at (i0, k0) into dst (panel q0 at
 * dst), MR rows each,
 * k-major, rows past `rows` zero. (B's panels are packed the same way from its transpose.) */
static void
pack_panels (float *dst, View v, int i0, int k0, int rows, int kc, int mr, int q0, int q1)
{
  for (int q = q0; q < q1; q++)
    {
      float *d = dst + (size_t) (q - q0) * mr * kc;
      int r0 = q * mr, n = rows - r0 < mr ? rows - r0 : mr;

      if (v.cs == 1) /* rows contiguous in k: walk each row */
        {
          for (int r = 0; r < n; r++)
            {
              const float *src = v.p + (size_t) (i0 + r0 + r) * v.rs + k0;
              for (int k = 0; k < kc; k++)
                d[(size_t) k * mr + r] = src[k];
            }
        }
      else /* columns contiguous: walk k */
        for (int k = 0; k < kc; k++)
          {
            const float *src = v.p + (size_t) (k0 + k) * v.cs + (size_t) (i0 + r0) * v.rs;
            for (int r = 0; r < n; r++)
              d[(size_t) k * mr + r] = src[(size_t) r * v.rs];
          }
      for (int k = 0; k < kc; k++)
        for (int r = n; r < mr; r++)
          d[(size_t) k * mr + r] = 0.0f;
    }
}

/* C's tile at (i, j), mi x nj of a whole MR x NR tile: through a scratch tile at the edges */
static inline void
run_tile (MicroKernel kernel, int kc, const float *a, ptrdiff_t ars, ptrdiff_t acs,
          const float *b, ptrdiff_t ldb, float *C, int ldc, int mr, int nr, int mi, int nj,
          float alpha, float beta)
{
  float tile[MAX_TILE] __attribute__ ((aligned (64)));

  if (mi == mr && nj == nr)
    {
      kernel (kc, a, ars, acs, b, ldb, C, ldc, alpha, beta);
      return;
    }
  kernel (kc, a, ars, acs, b, ldb, tile, nr, 1.0f, 0.0f);
  for (int i = 0; i < mi; i++)
    for (int j = 0; j < nj; j++)
      {
        float *c = C + (size_t) i * ldc + j;
        *c = beta == 0.0f ? alpha * tile[i * nr + j] : alpha * tile[i * nr + j] + beta * *c;
      }
}

typedef struct
{
  MicroKernel kernel;
  int mr, nr, mc, M, N, K;
  View a, bt;         /* op(A) (M, K) and op(B)^T (N, K) */
  gboolean pack_a;    /* pack A's blocks, or let the micro-kernel read A in place */
  gboolean pack_b;    /* pack all of B's panels (B transposed), or only a ragged last one */
  float alpha, beta;
  float *C;
  int ldc;
  float *apack, *bpack;
} Packed;

/* The share [lo, hi) of n items of thread tid of nth, in order */
static inline void
share (int n, int tid, int nth, int *lo, int *hi)
{
  *lo = (int) ((long) n * tid / nth);
  *hi = (int) ((long) n * (tid + 1) / nth);
}

/* Every thread of the team waits for the others; alone, nothing (and no OpenMP construct,
 * which inside the caller's parallel region would bind to the caller's team). */
static inline void
barrier (int nth)
{
  if (nth > 1)
    {
#pragma omp barrier
    }
}

/* Tile t of the block of rows [ic, ic + mc) and the panel at (jc, pc) of nc x kc: q_packed
 * is the first packed micro-panel of B; own, MR x kc floats of the thread's. */
static void
block_tile (const Packed *g, int t, int ic, int mc, int jc, int nc, int pc, int kc,
            int q_packed, float beta, float *own)
{
  int np = (mc + g->mr - 1) / g->mr;
  int q = t / np, p = t % np;
  int i = p * g->mr, j = q * g->nr;
  const float *a = g->apack + (size_t) p * g->mr * kc, *b;
  ptrdiff_t ars = 1, acs = g->mr, ldb = g->nr;
  int mi = mc - i < g->mr ? mc - i : g->mr;

  /* unpacked A: a ragged last panel of rows would read past A, so it is packed */
  if (!g->pack_a)
    {
      a = g->a.p + (size_t) (ic + i) * g->a.rs + (size_t) pc * g->a.cs;
      ars = g->a.rs;
      acs = g->a.cs;
      if (mi < g->mr)
        {
          pack_panels (own, g->a, ic + i, pc, mi, kc, g->mr, 0, 1);
          a = own;
          ars = 1;
          acs = g->mr;
        }
    }
  if (q < q_packed)
    {
      b = g->bt.p + (size_t) (jc + j) * g->bt.rs + (size_t) pc * g->bt.cs;
      ldb = g->bt.cs;
    }
  else
    b = g->bpack + (size_t) (q - q_packed) * g->nr * kc;
  run_tile (g->kernel, kc, a, ars, acs, b, ldb, g->C + (size_t) (ic + i) * g->ldc + jc + j,
            g->ldc, g->mr, g->nr, mi, nc - j < g->nr ? nc - j : g->nr, g->alpha, beta);
}

/* Everything for one KC x NC panel of B, by thread tid of nth (each its static share of the
 * packing and of the tiles, B micro-panel outer so that a thread's run of tiles keeps its
 * B micro-panel in L1). */
static void
panel (const Packed *g, int jc, int nc, int pc, int kc, int tid, int nth)
{
  int nq = (nc + g->nr - 1) / g->nr;
  int q_packed = g->pack_b ? 0 : nc / g->nr; /* micro-panels from q_packed on are packed */
  float beta = pc == 0 ? g->beta : 1.0f;
  float *own = g->apack + (g->pack_a ? 0 : (size_t) tid * g->mr * kc);
  int lo, hi;

  share (nq - q_packed, tid, nth, &lo, &hi);
  for (int q = q_packed + lo; q < q_packed + hi; q++)
    pack_panels (g->bpack + (size_t) (q - q_packed) * g->nr * kc, g->bt, jc, pc, nc, kc, g->nr,
                 q, q + 1);
  barrier (nth);
  for (int ic = 0; ic < g->M; ic += g->mc)
    {
      int mc = g->M - ic < g->mc ? g->M - ic : g->mc;
      int np = (mc + g->mr - 1) / g->mr;

      if (g->pack_a)
        {
          share (np, tid, nth, &lo, &hi);
          for (int p = lo; p < hi; p++)
            pack_panels (g->apack + (size_t) p * g->mr * kc, g->a, ic, pc, mc, kc, g->mr, p,
                         p + 1);
          barrier (nth);
        }
      share (nq * np, tid, nth, &lo, &hi);
      for (int t = lo; t < hi; t++)
        block_tile (g, t, ic, mc, jc, nc, pc, kc, q_packed, beta, own);
      barrier (nth); /* before the A block or the B panel is packed again */
    }
}

static void
run_panels (const Packed *g, int tid, int nth)
{
  for (int jc = 0; jc < g->N; jc += NC)
    for (int pc = 0; pc < g->K; pc += KC)
      panel (g, jc, g->N - jc < NC ? g->N - jc : NC, pc, g->K - pc < KC ? g->K - pc : KC, tid,
             nth);
}

/* C = beta C when there is nothing to multiply */
static void
scale_c (float *C, int ldc, int M, int N, float beta)
{
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++)
      C[(size_t) i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t) i * ldc + j];
}

gboolean
vg_sgemm_packed (VgGemmPath isa, gboolean trans_a, gboolean trans_b, int M, int N, int K,
                 float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                 float *C, int ldc)
{
  Packed g = { .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta, .C = C, .ldc = ldc };
  int kc_max, nc_max, threads;

  if (!kernel_for (isa, N, &g.kernel, &g.mr, &g.nr))
    return FALSE;
  if (M <= 0 || N <= 0)
    return TRUE;
  if (K <= 0 || alpha == 0.0f)
    {
      scale_c (C, ldc, M, N, beta);
      return TRUE;
    }
  g.a = trans_a ? (View) { A, 1, (size_t) lda } : (View) { A, (size_t) lda, 1 };
  g.bt = trans_b ? (View) { B, (size_t) ldb, 1 } : (View) { B, 1, (size_t) ldb };
  g.mc = MC_TARGET / g.mr * g.mr;
  kc_max = K < KC ? K : KC;
  nc_max = N < NC ? N : NC;
  threads = omp_in_parallel () || (double) M * N * K < PAR_MIN ? 1 : omp_get_max_threads ();
  /* B is read in place unless transposed; A is packed when its blocks meet several B
   * micro-panels (else packing costs as much as the product) */
  g.pack_b = trans_b;
  g.pack_a = N > 2 * g.nr;
  g.bpack = g_aligned_alloc ((size_t) (g.pack_b ? nc_max + g.nr : g.nr) * kc_max,
                             sizeof (float), 64);
  g.apack = g_aligned_alloc ((size_t) (g.pack_a ? g.mc + g.mr : g.mr * threads) * kc_max,
                             sizeof (float), 64);

  if (threads == 1)
    run_panels (&g, 0, 1);
  else
    {
#pragma omp parallel num_threads(threads)
      run_panels (&g, omp_get_thread_num (), omp_get_num_threads ());
    }

  g_aligned_free (g.bpack);
  g_aligned_free (g.apack);
  return TRUE;
}
