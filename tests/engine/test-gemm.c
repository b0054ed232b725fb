/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The engine's matrix products (engine/nn/vg-gemm.h) against a reference summed in double
 * precision here, on every path the processor can run, each forced in turn: OpenBLAS, the
 * packed GEMM with its AVX2 micro-kernel, and with its AVX-512 micro-kernel together with
 * the narrow kernels (vg_sgemm's dispatch), and the packed AVX-512 GEMM called directly (so
 * that it also meets the shapes the narrow kernels take in the dispatch).
 *
 * Shapes: M, N, K of 1, primes and one off the micro-kernels' tiles (12 x 32, 6 x 16) and
 * the blocks (K past one and two blocks of 256, M past the 144-row block, N past the
 * 4096-column panel), all four transposes, alpha 1, -0.5 and 2, beta 0 (C starts as NaN, so
 * it must not be read), 1 and 0.25, and leading dimensions past the matrices' widths, whose
 * padding carries sentinels that must survive.
 *
 * Tolerance: |c - ref| <= (K + 2) u (|alpha| sum_k |a_ik b_kj| + |beta c_ij|) + 1e-30 with
 * u = 2^-24, the worst-case bound of a float sum of K + 2 terms in any order: it cannot fail
 * on rounding, and a wrong element, transpose, alpha, beta or tile edge errs by a sizeable
 * part of the sum of magnitudes itself. Threads: 1 and 2 give the same bits (each element
 * sums in a fixed order), also inside a parallel region.
 *
 * The bfloat16 kernel of inference (vg_gemm_bf16) is checked against the exact product of
 * its rounded operands, and against the float product within the bound of that rounding;
 * the precision setting applies to vg_sgemm_forward only. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>
#include <omp.h>

#include "vg-gemm.h"
#include "vg-gemm-narrow.h"
#include "engine-test-util.h"
#include "test-register.h"

#define SENTINEL 1234.5678f
#define U 5.9604644775390625e-8 /* 2^-24 */

typedef enum
{
  RUN_BLAS,
  RUN_AVX2,
  RUN_AVX512,        /* vg_sgemm forced to AVX-512: narrow kernels where they fit */
  RUN_PACKED_AVX512, /* vg_sgemm_packed (VG_GEMM_AVX512) directly */
} Runner;

/* a (rows x ld) buffer with the rows x cols matrix in it, the padding set to SENTINEL */
static float *
matrix_new (int rows, int cols, int ld, float lo, float hi)
{
  float *m = g_new (float, (size_t) rows * ld + 1);

  for (int i = 0; i < rows; i++)
    for (int j = 0; j < ld; j++)
      m[(size_t) i * ld + j] = j < cols ? (float) (lo + (hi - lo) * rnd ()) : SENTINEL;
  m[(size_t) rows * ld] = SENTINEL;
  return m;
}

/* the runner's path; FALSE (and a skip message) where the processor lacks it */
static gboolean
runner_available (Runner run)
{
  VgGemmPath path = run == RUN_BLAS ? VG_GEMM_BLAS : run == RUN_AVX2 ? VG_GEMM_AVX2
                                                                     : VG_GEMM_AVX512;
  if (!vg_gemm_force_path (path))
    {
      g_test_skip ("this processor lacks the path");
      return FALSE;
    }
  return TRUE;
}

static void
run_product (Runner run, gboolean ta, gboolean tb, int M, int N, int K, float alpha,
             const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
  if (run == RUN_PACKED_AVX512)
    g_assert_true (vg_sgemm_packed (VG_GEMM_AVX512, ta, tb, M, N, K, alpha, A, lda, B, ldb,
                                    beta, C, ldc));
  else
    vg_sgemm (ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* One product on the runner against the double reference; C's padding must survive. */
static void
check_product (Runner run, gboolean ta, gboolean tb, int M, int N, int K, float alpha,
               float beta)
{
  int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
  int lda = ac + 3, ldb = bc + 5, ldc = N + 2;
  float *A = matrix_new (ar, ac, lda, -1, 1), *B = matrix_new (br, bc, ldb, -1, 1);
  float *C = matrix_new (M, N, ldc, -1, 1);
  float *C0 = g_memdup2 (C, sizeof (float) * ((size_t) M * ldc + 1));

  if (beta == 0.0f) /* must not be read */
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++)
        C[(size_t) i * ldc + j] = NAN;
  run_product (run, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);

  for (int i = 0; i < M; i++)
    {
      for (int j = 0; j < N; j++)
        {
          double sum = 0.0, mag = 0.0, c0 = beta == 0.0f ? 0.0 : C0[(size_t) i * ldc + j];

          for (int k = 0; k < K; k++)
            {
              double a = ta ? A[(size_t) k * lda + i] : A[(size_t) i * lda + k];
              double b = tb ? B[(size_t) j * ldb + k] : B[(size_t) k * ldb + j];
              sum += a * b;
              mag += fabs (a * b);
            }
          double ref = alpha * sum + beta * c0;
          double tol = (K + 2) * U * (fabs (alpha) * mag + fabs (beta * c0)) + 1e-30;
          double got = C[(size_t) i * ldc + j];

          if (!(fabs (got - ref) <= tol))
            g_error ("runner %d, %c%c M %d N %d K %d alpha %g beta %g: C[%d, %d] = %.9g, "
                     "reference %.9g (tolerance %.3g)", run, ta ? 'T' : 'N', tb ? 'T' : 'N',
                     M, N, K, alpha, beta, i, j, got, ref, tol);
        }
      for (int j = N; j < ldc; j++)
        g_assert_cmpfloat (C[(size_t) i * ldc + j], ==, SENTINEL);
    }
  g_assert_cmpfloat (C[(size_t) M * ldc], ==, SENTINEL);
  g_free (A);
  g_free (B);
  g_free (C);
  g_free (C0);
}

static void
check_runner (Runner run)
{
  static const int Ms[] = { 1, 7, 13, 64, 97, 150 };
  static const int Ns[] = { 1, 8, 9, 16, 17, 33, 48, 100 };
  static const int Ks[] = { 1, 5, 31, 257 };
  static const float alphas[] = { 1.0f, -0.5f, 2.0f };
  static const float betas[] = { 0.0f, 1.0f, 0.25f };
  int n = 0;

  if (!runner_available (run))
    return;
  for (guint m = 0; m < G_N_ELEMENTS (Ms); m++)
    for (guint nn = 0; nn < G_N_ELEMENTS (Ns); nn++)
      for (guint k = 0; k < G_N_ELEMENTS (Ks); k++)
        for (int t = 0; t < 4; t++, n++)
          check_product (run, t & 1, t >> 1, Ms[m], Ns[nn], Ks[k], alphas[n % 3],
                         betas[(n / 3) % 3]);
  /* the blocks' far edges: M past 144 rows, N past the 4096-column panel, K past 2 x 256 */
  for (int t = 0; t < 4; t++)
    {
      check_product (run, t & 1, t >> 1, 291, 40, 530, 1.0f, t == 2 ? 1.0f : 0.0f);
      check_product (run, t & 1, t >> 1, 13, 4100, 19, 0.5f, 0.25f);
    }
  /* TN with beta 1 (the narrow weight gradient) where the inputs are no multiple of 32:
   * groups of 4 outputs and a rest of 3, 2 or 1, by tiles of 4 vectors and a rest of 3 or 1
   * (seed's head: 19 by 304) */
  check_product (run, TRUE, FALSE, 19, 304, 300, 1.0f, 1.0f);
  check_product (run, TRUE, FALSE, 6, 80, 33, -0.5f, 1.0f);
  check_product (run, TRUE, FALSE, 5, 112, 70, 2.0f, 1.0f);
  vg_gemm_force_path (VG_GEMM_AUTO);
}

VG_TEST ("/gemm/blas", test_blas)
{
  check_runner (RUN_BLAS);
}

VG_TEST ("/gemm/avx2", test_avx2)
{
  check_runner (RUN_AVX2);
}

VG_TEST ("/gemm/avx512-narrow", test_avx512)
{
  check_runner (RUN_AVX512);
}

VG_TEST ("/gemm/packed-avx512", test_packed_avx512)
{
  check_runner (RUN_PACKED_AVX512);
}

/* The narrow NN kernel at widths that are not whole vectors (a classifier's 19 outputs):
 * the last vector of columns is masked, so C's sentinel past the end survives; with and
 * without a bias; 1 and 2 threads give the same bits. */
static void
check_narrow_width (int M, int N, int K, gboolean with_bias)
{
  float *A = matrix_new (M, K, K, -1, 1), *B = matrix_new (K, N, N, -1, 1);
  float *bias = matrix_new (1, N, N, -1, 1), *C = matrix_new (M, N, N, -1, 1);
  float *C1 = matrix_new (M, N, N, -1, 1);
  int saved = omp_get_max_threads ();

  for (size_t i = 0; i < (size_t) M * N; i++)
    C[i] = C1[i] = NAN;
  omp_set_num_threads (2);
  g_assert_true (vg_gemm_narrow_nn (C, A, B, with_bias ? bias : NULL, M, K, N));
  omp_set_num_threads (1);
  g_assert_true (vg_gemm_narrow_nn (C1, A, B, with_bias ? bias : NULL, M, K, N));
  omp_set_num_threads (saved);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++)
      {
        double sum = with_bias ? bias[j] : 0.0, mag = fabs (sum);

        for (int k = 0; k < K; k++)
          {
            sum += (double) A[(size_t) i * K + k] * B[(size_t) k * N + j];
            mag += fabs ((double) A[(size_t) i * K + k] * B[(size_t) k * N + j]);
          }
        if (!(fabs (C[(size_t) i * N + j] - sum) <= (K + 2) * U * mag + 1e-30))
          g_error ("narrow M %d N %d K %d: C[%d, %d] = %.9g, reference %.9g", M, N, K, i, j,
                   C[(size_t) i * N + j], sum);
      }
  g_assert_cmpfloat (C[(size_t) M * N], ==, SENTINEL);
  g_assert_cmpmem (C, sizeof (float) * M * N, C1, sizeof (float) * M * N);
  g_free (A);
  g_free (B);
  g_free (bias);
  g_free (C);
  g_free (C1);
}

VG_TEST ("/gemm/narrow-any-width", test_narrow_any_width)
{
  static const int widths[] = { 1, 3, 15, 17, 19, 35, 64, 83, 131 };

  if (!vg_gemm_narrow_available ())
    {
      g_test_skip ("no AVX-512 on this processor");
      return;
    }
  for (guint w = 0; w < G_N_ELEMENTS (widths); w++)
    {
      check_narrow_width (517, widths[w], 37, w % 2 == 0);
      check_narrow_width (9, widths[w], 1, w % 2 == 1);
      check_narrow_width (1, widths[w], 128, TRUE);
    }
}

/* The runner's result with 1 thread, with 2, and from inside a parallel region of 2 (each
 * thread its own product) must be the same bits. */
static void
check_threads (Runner run, gboolean ta, gboolean tb, int M, int N, int K, float beta)
{
  int ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
  float *A = matrix_new (ar, ac, ac, -1, 1), *B = matrix_new (br, bc, bc, -1, 1);
  float *C = matrix_new (M, N, N, -1, 1);
  size_t bytes = sizeof (float) * M * N;
  float *c1 = g_memdup2 (C, bytes), *c2 = g_memdup2 (C, bytes);
  float *inner[2] = { g_memdup2 (C, bytes), g_memdup2 (C, bytes) };
  int saved = omp_get_max_threads ();

  omp_set_num_threads (1);
  run_product (run, ta, tb, M, N, K, 0.75f, A, ac, B, bc, beta, c1, N);
  omp_set_num_threads (2);
  run_product (run, ta, tb, M, N, K, 0.75f, A, ac, B, bc, beta, c2, N);
#pragma omp parallel num_threads(2)
  {
    int t = omp_get_thread_num ();
    run_product (run, ta, tb, M, N, K, 0.75f, A, ac, B, bc, beta, inner[t], N);
  }
  omp_set_num_threads (saved);
  g_assert_cmpmem (c1, bytes, c2, bytes);
  g_assert_cmpmem (c1, bytes, inner[0], bytes);
  g_assert_cmpmem (c1, bytes, inner[1], bytes);
  g_free (A);
  g_free (B);
  g_free (C);
  g_free (c1);
  g_free (c2);
  g_free (inner[0]);
  g_free (inner[1]);
}

VG_TEST ("/gemm/threads", test_threads)
{
  static const Runner runs[] = { RUN_AVX2, RUN_AVX512, RUN_PACKED_AVX512 };

  for (guint r = 0; r < G_N_ELEMENTS (runs); r++)
    {
      if (!runner_available (runs[r]))
        continue;
      for (int t = 0; t < 4; t++)
        {
          /* large enough for the team: square-ish, narrow (N = 64, the narrow kernels' NN),
           * and the weight gradient's TN with K the long side */
          check_threads (runs[r], t & 1, t >> 1, 301, 203, 517, 0.0f);
          check_threads (runs[r], t & 1, t >> 1, 4099, 64, 48, t == 0 ? 1.0f : 0.0f);
          check_threads (runs[r], t & 1, t >> 1, 48, 96, 5003, 1.0f);
        }
      vg_gemm_force_path (VG_GEMM_AUTO);
    }
}

/* OpenBLAS's core names by the instruction set they use, and the automatic choice: the
 * engine's kernels exactly when the processor has AVX2 or better and more than the core. */
VG_TEST ("/gemm/choice", test_choice)
{
  VgIsa cpu = vg_gemm_cpu_isa ();
  VgIsa core = vg_gemm_blas_core_isa (NULL);
  VgGemmPath expect;
  g_autofree char *line = NULL;

  g_assert_cmpint (vg_gemm_blas_core_isa ("Prescott"), ==, VG_ISA_SSE);
  g_assert_cmpint (vg_gemm_blas_core_isa ("Nehalem"), ==, VG_ISA_SSE);
  g_assert_cmpint (vg_gemm_blas_core_isa ("Sandybridge"), ==, VG_ISA_AVX);
  g_assert_cmpint (vg_gemm_blas_core_isa ("Haswell"), ==, VG_ISA_AVX2);
  g_assert_cmpint (vg_gemm_blas_core_isa ("Zen"), ==, VG_ISA_AVX2);
  g_assert_cmpint (vg_gemm_blas_core_isa ("SkylakeX"), ==, VG_ISA_AVX512);
  g_assert_cmpint (vg_gemm_blas_core_isa ("cooperlake"), ==, VG_ISA_AVX512);
  g_assert_cmpint (vg_gemm_blas_core_isa ("SapphireRapids"), ==, VG_ISA_AVX512);
  g_assert_cmpint (vg_gemm_blas_core_isa ("some future core"), ==, VG_ISA_SSE);
  g_assert_cmpint (core, ==, VG_ISA_SSE);

  g_assert_true (vg_gemm_force_path (VG_GEMM_AUTO));
  g_assert_true (vg_gemm_force_path (VG_GEMM_BLAS));
  g_assert_cmpint (vg_gemm_large_path (), ==, VG_GEMM_BLAS);
  g_assert_cmpint (vg_gemm_force_path (VG_GEMM_AVX512), ==, cpu >= VG_ISA_AVX512);
  g_assert_cmpint (vg_gemm_force_path (VG_GEMM_AVX2), ==, cpu >= VG_ISA_AVX2);
  g_assert_true (vg_gemm_force_path (VG_GEMM_AUTO));

  core = vg_gemm_blas_core_isa (vg_gemm_blas_corename ());
  expect = cpu > core && cpu >= VG_ISA_AVX2
               ? (cpu == VG_ISA_AVX512 ? VG_GEMM_AVX512 : VG_GEMM_AVX2)
               : VG_GEMM_BLAS;
  g_assert_cmpint (vg_gemm_large_path (), ==, expect);
  line = vg_gemm_describe ();
  g_assert_nonnull (strstr (line, vg_gemm_blas_corename ()));
  g_assert_nonnull (strstr (line, vg_gemm_path_name (expect)));
}

/* ---- bfloat16 ---------------------------------------------------------------------------- */

/* round to nearest even, as the kernel does (written here independently) */
static double
bf16_round (float x)
{
  guint32 u;
  float r;

  memcpy (&u, &x, sizeof u);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  memcpy (&r, &u, sizeof r);
  return r;
}

/* vg_gemm_bf16 against two references: the exact product of the bf16-rounded operands,
 * which it must meet to float summation (bf16 products are exact in float), and the exact
 * product of the float operands, within the rounding of both operands to 8 significant
 * bits (unit roundoff 2^-8): |a b - bf16(a) bf16(b)| <= (2 2^-8 + 2^-16) |a b|. */
static void
check_bf16 (gboolean tb, int M, int N, int K, float alpha, float beta)
{
  int br = tb ? N : K, bc = tb ? K : N, lda = K + 1, ldb = bc + 2, ldc = N + 3;
  float *A = matrix_new (M, K, lda, -1, 1), *B = matrix_new (br, bc, ldb, -1, 1);
  float *C = matrix_new (M, N, ldc, -1, 1);
  float *C0 = g_memdup2 (C, sizeof (float) * ((size_t) M * ldc + 1));

  g_assert_true (vg_gemm_bf16 (tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
  for (int i = 0; i < M; i++)
    {
      for (int j = 0; j < N; j++)
        {
          double sum = 0.0, sum16 = 0.0, mag = 0.0, c0 = C0[(size_t) i * ldc + j];
          double got = C[(size_t) i * ldc + j];

          for (int k = 0; k < K; k++)
            {
              float a = A[(size_t) i * lda + k];
              float b = tb ? B[(size_t) j * ldb + k] : B[(size_t) k * ldb + j];
              sum += (double) a * b;
              sum16 += bf16_round (a) * bf16_round (b);
              mag += fabs ((double) a * b);
            }
          double ref16 = alpha * sum16 + beta * c0, ref = alpha * sum + beta * c0;
          double tol16 = (K + 2) * 1.01 * U * (fabs (alpha) * mag + fabs (beta * c0)) + 1e-30;
          double tol = (2.0 / 256 + 1.0 / 65536) * fabs (alpha) * mag + tol16;

          if (!(fabs (got - ref16) <= tol16) || !(fabs (got - ref) <= tol))
            g_error ("bf16 %c M %d N %d K %d: C[%d, %d] = %.9g, reference of the rounded "
                     "operands %.9g (tolerance %.3g), of the float ones %.9g (%.3g)",
                     tb ? 'T' : 'N', M, N, K, i, j, got, ref16, tol16, ref, tol);
        }
      for (int j = N; j < ldc; j++)
        g_assert_cmpfloat (C[(size_t) i * ldc + j], ==, SENTINEL);
    }
  g_free (A);
  g_free (B);
  g_free (C);
  g_free (C0);
}

VG_TEST ("/gemm/bf16", test_bf16)
{
  static const int Ms[] = { 1, 5, 64, 67, 130 };
  static const int Ns[] = { 1, 15, 16, 19, 64, 80, 147 };
  static const int Ks[] = { 1, 2, 3, 31, 32, 33, 200 };
  int n = 0;

  if (!vg_gemm_bf16_available ())
    {
      g_test_skip ("this processor lacks AVX512_BF16");
      return;
    }
  for (guint m = 0; m < G_N_ELEMENTS (Ms); m++)
    for (guint nn = 0; nn < G_N_ELEMENTS (Ns); nn++)
      for (guint k = 0; k < G_N_ELEMENTS (Ks); k++, n++)
        check_bf16 (n & 1, Ms[m], Ns[nn], Ks[k], n % 3 == 0 ? 1.0f : -0.5f,
                    n % 4 == 0 ? 0.0f : 1.0f);
}

/* In BF16, vg_sgemm_forward (the layers' forward products) rounds, also on one thread and
 * inside a parallel region, while vg_sgemm (the attention's and the backward products)
 * stays in float; 1 and 2 threads give the same bits. */
VG_TEST ("/gemm/bf16-precision", test_bf16_precision)
{
  int M = 300, N = 64, K = 96;
  size_t bytes = sizeof (float) * M * N;
  float *A = matrix_new (M, K, K, -1, 1), *B = matrix_new (K, N, N, -1, 1);
  float *f32 = g_new (float, M * N), *f32_b = g_new (float, M * N);
  float *b16 = g_new (float, M * N), *b16_1 = g_new (float, M * N);
  float *direct = g_new (float, M * N), *inner = g_new (float, M * N);
  int saved = omp_get_max_threads ();

  if (!vg_gemm_bf16_available ())
    {
      g_assert_false (vg_gemm_set_precision (VG_PRECISION_BF16));
      g_assert_cmpint (vg_gemm_precision (), ==, VG_PRECISION_FP32);
      g_test_skip ("this processor lacks AVX512_BF16");
      goto out;
    }
  vg_sgemm_forward (FALSE, FALSE, M, N, K, 1.0f, A, K, B, N, 0.0f, f32, N);
  g_assert_true (vg_gemm_set_precision (VG_PRECISION_BF16));
  vg_sgemm (FALSE, FALSE, M, N, K, 1.0f, A, K, B, N, 0.0f, f32_b, N);
  vg_sgemm_forward (FALSE, FALSE, M, N, K, 1.0f, A, K, B, N, 0.0f, b16, N);
  omp_set_num_threads (1);
  vg_sgemm_forward (FALSE, FALSE, M, N, K, 1.0f, A, K, B, N, 0.0f, b16_1, N);
  omp_set_num_threads (saved);
#pragma omp parallel num_threads(2)
  if (omp_get_thread_num () == 0)
    vg_sgemm_forward (FALSE, FALSE, M, N, K, 1.0f, A, K, B, N, 0.0f, inner, N);
  g_assert_true (vg_gemm_set_precision (VG_PRECISION_FP32));
  vg_gemm_bf16 (FALSE, M, N, K, 1.0f, A, K, B, N, 0.0f, direct, N);

  g_assert_cmpmem (b16, bytes, direct, bytes);
  g_assert_cmpmem (b16, bytes, b16_1, bytes);
  g_assert_cmpmem (b16, bytes, inner, bytes);
  g_assert_cmpmem (f32, bytes, f32_b, bytes);
  g_assert_true (memcmp (b16, f32, bytes) != 0);
out:
  g_free (A), g_free (B), g_free (f32), g_free (f32_b), g_free (b16), g_free (b16_1);
  g_free (direct), g_free (inner);
}

VG_TEST_MAIN ()
