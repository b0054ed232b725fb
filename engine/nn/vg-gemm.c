/* SPDX-License-Identifier: GPL-3.0-or-later */
/* vg_sgemm and the choice of its kernels (vg-gemm.h): what the processor reports against
 * what the OpenBLAS core chosen for it uses. */
#include "vg-gemm.h"
#include "vg-gemm-narrow.h"

#include <string.h>

#include <cblas.h>

/* The forced path (VG_GEMM_AUTO: none); -1 until the environment has been read. */
/* -1 until VISAGE_GEMM is read (atomic: the first product may run on any thread) */
static gint forced_path = -1;
static VgPrecision precision = VG_PRECISION_FP32;

gboolean
vg_gemm_set_precision (VgPrecision p)
{
  if (p == VG_PRECISION_BF16 && !vg_gemm_bf16_available ())
    return FALSE;
  precision = p;
  return TRUE;
}

VgPrecision
vg_gemm_precision (void)
{
  return precision;
}

VgIsa
vg_gemm_cpu_isa (void)
{
  static gsize isa = 0; /* the ISA + 1, once found */

  if (g_once_init_enter (&isa))
    {
      int found = VG_ISA_SSE;
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
      /* libgcc's cpuid also checks that the system saves the vector registers (XCR0) */
      __builtin_cpu_init ();
      if (__builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("fma"))
        found = VG_ISA_AVX512;
      else if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
        found = VG_ISA_AVX2;
      else if (__builtin_cpu_supports ("avx"))
        found = VG_ISA_AVX;
#endif
      g_once_init_leave (&isa, (gsize) found + 1);
    }
  return (VgIsa) (isa - 1);
}

const char *
vg_gemm_blas_corename (void)
{
  return openblas_get_corename ();
}

VgIsa
vg_gemm_blas_core_isa (const char *corename)
{
  /* OpenBLAS's x86-64 cores (its dynamic.c) by the widest vector unit their sgemm uses */
  static const char *const avx512[] = { "SkylakeX", "Cooperlake", "SapphireRapids", NULL };
  static const char *const avx2[] = { "Haswell", "Zen", "SkylakeX_AVX2", NULL };
  static const char *const avx[] = { "Sandybridge", "Bulldozer", "Piledriver", "Steamroller",
                                     "Excavator", NULL };
  static const char *const *const tables[] = { avx512, avx2, avx };
  static const VgIsa isas[] = { VG_ISA_AVX512, VG_ISA_AVX2, VG_ISA_AVX };

  for (int t = 0; corename != NULL && t < 3; t++)
    for (int i = 0; tables[t][i] != NULL; i++)
      if (g_ascii_strcasecmp (corename, tables[t][i]) == 0)
        return isas[t];
  return VG_ISA_SSE; /* Prescott, Core2, Nehalem, Atom, Barcelona, ... and unknown names */
}

const char *
vg_gemm_isa_name (VgIsa isa)
{
  static const char *const names[] = { "SSE", "AVX", "AVX2", "AVX-512" };
  return names[isa];
}

const char *
vg_gemm_path_name (VgGemmPath path)
{
  static const char *const names[] = { "auto", "OpenBLAS", "engine AVX2", "engine AVX-512" };
  return names[path];
}

static gboolean
path_supported (VgGemmPath path)
{
  return path == VG_GEMM_AUTO || path == VG_GEMM_BLAS
         || (path == VG_GEMM_AVX2 && vg_gemm_cpu_isa () >= VG_ISA_AVX2)
         || (path == VG_GEMM_AVX512 && vg_gemm_cpu_isa () >= VG_ISA_AVX512);
}

gboolean
vg_gemm_force_path (VgGemmPath path)
{
  if (!path_supported (path))
    return FALSE;
  g_atomic_int_set (&forced_path, path);
  return TRUE;
}

/* VISAGE_GEMM=avx512|avx2|blas, read at the first product; anything else (or a path this
 * processor lacks) leaves the automatic choice */
static VgGemmPath
forced (void)
{
  if (g_atomic_int_get (&forced_path) < 0)
    {
      const char *env = g_getenv ("VISAGE_GEMM");
      VgGemmPath path = VG_GEMM_AUTO;

      if (g_strcmp0 (env, "avx512") == 0)
        path = VG_GEMM_AVX512;
      else if (g_strcmp0 (env, "avx2") == 0)
        path = VG_GEMM_AVX2;
      else if (g_strcmp0 (env, "blas") == 0)
        path = VG_GEMM_BLAS;
      /* a path forced meanwhile (vg_gemm_force_path) wins over the environment */
      g_atomic_int_compare_and_exchange (&forced_path, -1,
                                         path_supported (path) ? path : VG_GEMM_AUTO);
    }
  return (VgGemmPath) g_atomic_int_get (&forced_path);
}

VgGemmPath
vg_gemm_large_path (void)
{
  static gsize automatic = 0; /* the path + 1, once chosen */
  VgGemmPath path = forced ();

  if (path != VG_GEMM_AUTO)
    return path;
  if (g_once_init_enter (&automatic))
    {
      VgIsa cpu = vg_gemm_cpu_isa ();
      VgIsa blas = vg_gemm_blas_core_isa (openblas_get_corename ());
      VgGemmPath chosen = VG_GEMM_BLAS;

      if (cpu > blas && cpu >= VG_ISA_AVX2)
        chosen = cpu == VG_ISA_AVX512 ? VG_GEMM_AVX512 : VG_GEMM_AVX2;
      g_once_init_leave (&automatic, (gsize) chosen + 1);
    }
  return (VgGemmPath) (automatic - 1);
}

/* The narrow kernels run unless a path without them was forced. */
static gboolean
narrow_enabled (void)
{
  VgGemmPath path = forced ();

  return vg_gemm_narrow_available () && path != VG_GEMM_BLAS && path != VG_GEMM_AVX2;
}

gboolean
vg_gemm_narrow_enabled (void)
{
  return narrow_enabled ();
}

void
vg_sgemm (gboolean trans_a, gboolean trans_b, int M, int N, int K, float alpha,
          const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
  VgGemmPath path = vg_gemm_large_path ();

  if (narrow_enabled ())
    {
      /* many rows by few channels: the linear layers' products and the attention tiles */
      if (!trans_a && !trans_b && (beta == 0.0f || beta == 1.0f)
          && vg_gemm_narrow_nn_ld (C, ldc, A, lda, B, ldb, M, K, N, alpha, beta == 1.0f))
        return;
      if (trans_a && !trans_b && beta == 1.0f
          && vg_gemm_narrow_tn_ld (C, ldc, A, lda, B, ldb, K, M, N, alpha))
        return;
    }
  if (path != VG_GEMM_BLAS
      && vg_sgemm_packed (path, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C,
                          ldc))
    return;
  cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
               trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
               ldc);
}

void
vg_sgemm_forward (gboolean trans_a, gboolean trans_b, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C,
                  int ldc)
{
  if (precision == VG_PRECISION_BF16 && !trans_a
      && vg_gemm_bf16 (trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
    return;
  vg_sgemm (trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char *
vg_simd_describe (void)
{
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
  /* the same tests, in the same order, as GCC's resolver of target_clones */
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("x86-64-v4"))
    return "x86-64-v4 (AVX-512)";
  if (__builtin_cpu_supports ("x86-64-v3"))
    return "x86-64-v3 (AVX2)";
  return "x86-64 baseline";
#else
  return "not cloned";
#endif
}

char *
vg_gemm_describe (void)
{
  GString *s = g_string_new ("cpu");
  const char *core = openblas_get_corename ();
  VgGemmPath path = vg_gemm_large_path ();

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  gboolean any = FALSE;

  __builtin_cpu_init ();
  /* __builtin_cpu_supports takes a string literal only: one test per name */
#define FEATURE(name)                                             \
  if (__builtin_cpu_supports (name))                              \
    {                                                             \
      g_string_append_printf (s, "%s%s", any ? "," : " ", name);  \
      any = TRUE;                                                 \
    }
  FEATURE ("avx") FEATURE ("fma") FEATURE ("avx2") FEATURE ("avx512f") FEATURE ("avx512bw")
  FEATURE ("avx512vl") FEATURE ("avx512vnni") FEATURE ("avx512bf16") FEATURE ("avx512fp16")
  FEATURE ("amx-tile")
#undef FEATURE
  if (!any)
    g_string_append (s, " sse");
#else
  g_string_append (s, " (not x86-64)");
#endif
  g_string_append_printf (s, "; OpenBLAS core %s (%s); large products: %s%s; narrow "
                          "products: %s", core,
                          vg_gemm_isa_name (vg_gemm_blas_core_isa (core)),
                          vg_gemm_path_name (path), forced () != VG_GEMM_AUTO ? " (forced)" : "",
                          narrow_enabled () ? "engine AVX-512" : "as large products");
  if (precision == VG_PRECISION_BF16)
    g_string_append (s, "; layers in bfloat16 (AVX512_BF16), attention in float");
  return g_string_free (s, FALSE);
}
