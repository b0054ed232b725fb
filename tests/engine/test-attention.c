/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The attention core (engine/nn/attention.c) against a naive reference written here in
 * double precision, which materialises each head's small N x M probability matrix:
 *
 * - forward out and lse for several shapes: NH 1, 2, 5, head sizes 8, 16 and 32, N = M (odd)
 *   and M = N/4, N/16, N/64, N not a multiple of the 64-row tile, M above and below the
 *   256-key block, and a peaked softmax (scores up to ~20) spread over three key blocks,
 *   which exercises the online rescaling; head sizes 8 and 16 through the fused kernels
 *   (AVX-512) and again through the tiles' products, with M off the 16-key vectors;
 * - lse against the log-sum-exp of the scaled scores, also for scores up to ~300 where
 *   exp overflows float unless shifted by the row maximum;
 * - dq, dk, dv against the reference's analytic gradients, and by central differences;
 * - scratch linear in N and M, and N = M = 4096 run in exactly that scratch, checked on
 *   sampled rows against the reference;
 * - 1 and 2 OpenMP threads agree.
 * Every buffer the op writes (out, lse, dq, dk, dv, scratch) carries a tail of sentinels
 * that must survive, and dq, dk, dv start as NaN, so they must be overwritten.
 *
 * Tolerances: |x - ref| <= atol + rtol * |ref| element-wise. q and k are uniform in
 * [-2, 2] and v, dout in [-1, 1], so out and the gradients are O(1). The op computes in
 * float with an exp2 polynomial of ~1e-7 relative error; the worst errors measured were
 * 1.9e-6 for out (a peaked case, whose larger scores carry larger rounding), 1.6e-5 for
 * an lse of ~300 (5e-8 relative) and 2.5e-6 for the gradients, at most 0.2 of the
 * tolerances below (both paths: every check passes at half the forward's tolerances and a
 * fifth of the backward's), while a wrong scale, head slot, rescaling, partial sum or missing term
 * errs by 1e-2 or more. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>
#include <omp.h>

#include "vg-nn.h"
#include "vg-attention-fused.h"
#include "vg-gemm.h"
#include "vg-gemm-narrow.h"
#include "engine-test-util.h"
#include "test-register.h"

#define FWD_ATOL 1e-5
#define FWD_RTOL 1e-5
#define BWD_ATOL 2e-5
#define BWD_RTOL 1e-4
/* central differences: eps = 1e-2 on the inputs, loss summed in double from the float
 * forward; truncation O(eps^2) and float rounding give ~1e-4, a missing term O(1e-1) */
#define GRAD_EPS 1e-2
#define GRAD_TOL 2e-3
/* 1 versus 2 threads: the same arithmetic but a different dK/dV summation order */
#define THREAD_TOL 1e-5

#define SENTINEL 1234.5678f
#define N_SENTINEL 64

/* ---- helpers ------------------------------------------------------------------------------ */

/* n floats followed by N_SENTINEL sentinels, filled with uniform values in [lo, hi] */
static float *
buf_new (size_t n, float lo, float hi)
{
  float *x = g_new (float, n + N_SENTINEL);

  for (size_t i = 0; i < n; i++)
    x[i] = (float) (lo + (hi - lo) * rnd ());
  for (size_t i = 0; i < N_SENTINEL; i++)
    x[n + i] = SENTINEL;
  return x;
}

static float *
buf_filled (size_t n, float value)
{
  float *x = buf_new (n, 0.0f, 0.0f);

  for (size_t i = 0; i < n; i++)
    x[i] = value;
  return x;
}

static void
assert_sentinels (const char *what, const float *x, size_t n)
{
  for (size_t i = 0; i < N_SENTINEL; i++)
    if (x[n + i] != SENTINEL)
      {
        g_test_message ("%s: written past its %zu floats (at +%zu)", what, n, i);
        g_assert_not_reached ();
      }
}

/* Fails unless |x - ref| <= atol + rtol * |ref| for all n values (NaN fails). */
static void
assert_close (const char *what, const float *x, const double *ref, size_t n, double atol,
              double rtol)
{
  double worst = 0.0, worst_err = 0.0;
  size_t at = 0;

  for (size_t i = 0; i < n; i++)
    {
      double err = fabs ((double) x[i] - ref[i]);
      double ratio = err / (atol + rtol * fabs (ref[i]));

      if (!(ratio <= worst))
        {
          worst = ratio;
          worst_err = err;
          at = i;
          if (isnan (ratio))
            break;
        }
    }
  if (!(worst <= 1.0))
    g_test_message ("%s: element %zu is %.9g, expected %.9g (|error| %.3g)", what, at,
                    (double) x[at], ref[at], worst_err);
  g_assert_cmpfloat (worst, <=, 1.0);
}

/* ---- a problem and its buffers ------------------------------------------------------------ */

typedef struct
{
  int B, N, M, C, NH;
  size_t nq, nkv, nlse, nscratch;
  float *q, *k, *v;    /* (B, N, C), (B, M, C), (B, M, C) */
  float *dout;         /* (B, N, C) */
  float *out, *lse;    /* (B, N, C), (B, NH, N) */
  float *dq, *dk, *dv; /* like q, k, v */
  float *scratch;      /* (nscratch) */
} Problem;

/* q and k uniform in [-qk, qk], v and dout in [-1, 1]; scratch sized for the thread count
 * in force now. */
static Problem *
problem_new (int B, int N, int M, int C, int NH, float qk)
{
  Problem *p = g_new0 (Problem, 1);

  p->B = B, p->N = N, p->M = M, p->C = C, p->NH = NH;
  p->nq = (size_t) B * N * C;
  p->nkv = (size_t) B * M * C;
  p->nlse = (size_t) B * NH * N;
  p->nscratch = vg_attention_scratch_floats (B, N, M, C, NH);
  p->q = buf_new (p->nq, -qk, qk);
  p->k = buf_new (p->nkv, -qk, qk);
  p->v = buf_new (p->nkv, -1.0f, 1.0f);
  p->dout = buf_new (p->nq, -1.0f, 1.0f);
  p->out = buf_filled (p->nq, NAN);
  p->lse = buf_filled (p->nlse, NAN);
  p->dq = buf_filled (p->nq, NAN);
  p->dk = buf_filled (p->nkv, NAN);
  p->dv = buf_filled (p->nkv, NAN);
  p->scratch = buf_filled (p->nscratch, NAN);
  return p;
}

static void
problem_free (Problem *p)
{
  g_free (p->q), g_free (p->k), g_free (p->v), g_free (p->dout);
  g_free (p->out), g_free (p->lse);
  g_free (p->dq), g_free (p->dk), g_free (p->dv);
  g_free (p->scratch);
  g_free (p);
}

static void
problem_forward (Problem *p)
{
  vg_attention_forward (p->out, p->lse, p->q, p->k, p->v, p->scratch, p->B, p->N, p->M, p->C,
                        p->NH);
  assert_sentinels ("out", p->out, p->nq);
  assert_sentinels ("lse", p->lse, p->nlse);
  assert_sentinels ("scratch", p->scratch, p->nscratch);
}

static void
problem_backward (Problem *p)
{
  vg_attention_backward (p->dq, p->dk, p->dv, p->dout, p->out, p->lse, p->q, p->k, p->v,
                         p->scratch, p->B, p->N, p->M, p->C, p->NH);
  assert_sentinels ("dq", p->dq, p->nq);
  assert_sentinels ("dk", p->dk, p->nkv);
  assert_sentinels ("dv", p->dv, p->nkv);
  assert_sentinels ("scratch", p->scratch, p->nscratch);
}

/* ---- the naive reference, in double -------------------------------------------------------- */

typedef struct
{
  double *out, *lse;    /* (B, N, C), (B, NH, N) */
  double *dq, *dk, *dv; /* like q, k, v */
} Reference;

/* Per head: S = Q K^T / sqrt(D) and P = softmax(S), materialised (N, M); O = P V;
 * dV = P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dP * P)), dQ = dS K / sqrt(D),
 * dK = dS^T Q / sqrt(D). */
static Reference
reference_new (const Problem *pr)
{
  int B = pr->B, N = pr->N, M = pr->M, C = pr->C, NH = pr->NH, D = C / NH;
  double scale = 1.0 / sqrt ((double) D);
  Reference r;
  double *p = g_new (double, (size_t) N * M);
  double *ds = g_new (double, (size_t) N * M);

  r.out = g_new0 (double, pr->nq);
  r.lse = g_new0 (double, pr->nlse);
  r.dq = g_new0 (double, pr->nq);
  r.dk = g_new0 (double, pr->nkv);
  r.dv = g_new0 (double, pr->nkv);

  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      {
#define Q(i, c) ((double) pr->q[((size_t) b * N + (i)) * C + (size_t) h * D + (c)])
#define K(j, c) ((double) pr->k[((size_t) b * M + (j)) * C + (size_t) h * D + (c)])
#define V(j, c) ((double) pr->v[((size_t) b * M + (j)) * C + (size_t) h * D + (c)])
#define DO(i, c) ((double) pr->dout[((size_t) b * N + (i)) * C + (size_t) h * D + (c)])
#define AT(x, rows, i, c) ((x)[((size_t) b * (rows) + (i)) * C + (size_t) h * D + (c)])
        for (int i = 0; i < N; i++)
          {
            double *row = p + (size_t) i * M;
            double mx = -INFINITY, sum = 0.0;

            for (int j = 0; j < M; j++)
              {
                double s = 0.0;

                for (int c = 0; c < D; c++)
                  s += Q (i, c) * K (j, c);
                row[j] = s * scale;
                mx = fmax (mx, row[j]);
              }
            for (int j = 0; j < M; j++)
              sum += exp (row[j] - mx);
            r.lse[((size_t) b * NH + h) * N + i] = mx + log (sum);
            for (int j = 0; j < M; j++)
              row[j] = exp (row[j] - mx) / sum;
            for (int c = 0; c < D; c++)
              {
                double o = 0.0;

                for (int j = 0; j < M; j++)
                  o += row[j] * V (j, c);
                AT (r.out, N, i, c) = o;
              }
          }

        for (int i = 0; i < N; i++)
          {
            double delta = 0.0;

            for (int j = 0; j < M; j++)
              {
                double dp = 0.0;

                for (int c = 0; c < D; c++)
                  dp += DO (i, c) * V (j, c);
                ds[(size_t) i * M + j] = dp;
                delta += dp * p[(size_t) i * M + j];
              }
            for (int j = 0; j < M; j++)
              ds[(size_t) i * M + j] = p[(size_t) i * M + j] * (ds[(size_t) i * M + j] - delta);
          }

        for (int i = 0; i < N; i++)
          for (int c = 0; c < D; c++)
            {
              double acc = 0.0;

              for (int j = 0; j < M; j++)
                acc += ds[(size_t) i * M + j] * K (j, c);
              AT (r.dq, N, i, c) = acc * scale;
            }
        for (int j = 0; j < M; j++)
          for (int c = 0; c < D; c++)
            {
              double acc_k = 0.0, acc_v = 0.0;

              for (int i = 0; i < N; i++)
                {
                  acc_k += ds[(size_t) i * M + j] * Q (i, c);
                  acc_v += p[(size_t) i * M + j] * DO (i, c);
                }
              AT (r.dk, M, j, c) = acc_k * scale;
              AT (r.dv, M, j, c) = acc_v;
            }
#undef Q
#undef K
#undef V
#undef DO
#undef AT
      }

  g_free (p);
  g_free (ds);
  return r;
}

static void
reference_clear (Reference *r)
{
  g_free (r->out), g_free (r->lse);
  g_free (r->dq), g_free (r->dk), g_free (r->dv);
}

/* ---- tests ---------------------------------------------------------------------------------- */

typedef struct
{
  int B, N, M, NH, D;
  float qk; /* range of q and k */
} Shape;

/* N = M odd and below / above the tiles, M = N/4, N/16, N/64, N off the 64-row tile, M off
 * the 256-key block; qk = 4 with D = 32 gives scores with a standard deviation of ~5. */
static const Shape forward_shapes[] = {
  { 2, 37, 37, 1, 8, 2.0f },     { 2, 37, 37, 2, 32, 2.0f },   { 2, 37, 37, 5, 8, 2.0f },
  { 2, 301, 301, 2, 8, 2.0f },   { 2, 301, 301, 5, 32, 2.0f }, { 2, 200, 50, 1, 32, 2.0f },
  { 2, 400, 100, 5, 8, 2.0f },   { 2, 512, 32, 2, 8, 2.0f },   { 2, 1024, 64, 1, 32, 2.0f },
  { 2, 1024, 16, 5, 8, 2.0f },   { 2, 1000, 256, 2, 8, 2.0f }, { 2, 130, 520, 1, 8, 2.0f },
  { 2, 150, 600, 2, 32, 4.0f },  { 1, 300, 300, 1, 8, 2.0f },   { 2, 301, 301, 2, 16, 2.0f },
  { 2, 37, 5, 2, 16, 2.0f },     { 2, 130, 520, 1, 16, 2.0f },  { 2, 150, 600, 2, 16, 3.0f },
  { 2, 64, 16, 3, 16, 2.0f },
};

/* The kernels against the double reference on each of n shapes: the forward's out and
 * lse, or with backward the gradients. */
static void
check_shapes (const Shape *shapes, size_t n, gboolean backward)
{
  for (size_t t = 0; t < n; t++)
    {
      const Shape *s = &shapes[t];
      Problem *p = problem_new (s->B, s->N, s->M, s->NH * s->D, s->NH, s->qk);
      Reference r = reference_new (p);

      g_test_message ("B %d N %d M %d NH %d D %d", s->B, s->N, s->M, s->NH, s->D);
      problem_forward (p);
      if (!backward)
        {
          assert_close ("out", p->out, r.out, p->nq, FWD_ATOL, FWD_RTOL);
          assert_close ("lse", p->lse, r.lse, p->nlse, FWD_ATOL, FWD_RTOL);
        }
      else
        {
          problem_backward (p);
          assert_close ("dq", p->dq, r.dq, p->nq, BWD_ATOL, BWD_RTOL);
          assert_close ("dk", p->dk, r.dk, p->nkv, BWD_ATOL, BWD_RTOL);
          assert_close ("dv", p->dv, r.dv, p->nkv, BWD_ATOL, BWD_RTOL);
        }
      reference_clear (&r);
      problem_free (p);
    }
}

VG_TEST ("/attention/forward-reference", test_forward_reference)
{
  check_shapes (forward_shapes, G_N_ELEMENTS (forward_shapes), FALSE);
}

/* lse is the natural log-sum-exp of the scaled scores q.k / sqrt(D), computed here
 * directly and independently of the reference, for ordinary and for large scores (q, k in
 * [-16, 16]: scores up to ~300, where exp overflows float unless shifted by the row
 * maximum). */
VG_TEST ("/attention/lse", test_lse)
{
  const float ranges[] = { 1.0f, 16.0f };

  for (size_t t = 0; t < G_N_ELEMENTS (ranges); t++)
    {
      int B = 2, N = 70, M = 300, NH = 2, D = 16, C = NH * D;
      Problem *p = problem_new (B, N, M, C, NH, ranges[t]);
      double *want = g_new (double, p->nlse);

      problem_forward (p);
      for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
          for (int i = 0; i < N; i++)
            {
              double mx = -INFINITY, sum = 0.0;
              double *sc = g_new (double, M);

              for (int j = 0; j < M; j++)
                {
                  double dotp = 0.0;

                  for (int c = 0; c < D; c++)
                    dotp += (double) p->q[((size_t) b * N + i) * C + h * D + c]
                            * p->k[((size_t) b * M + j) * C + h * D + c];
                  sc[j] = dotp / sqrt ((double) D);
                  mx = fmax (mx, sc[j]);
                }
              for (int j = 0; j < M; j++)
                sum += exp (sc[j] - mx);
              want[((size_t) b * NH + h) * N + i] = mx + log (sum);
              g_free (sc);
            }
      assert_close ("lse", p->lse, want, p->nlse, FWD_ATOL, FWD_RTOL);
      g_free (want);
      problem_free (p);
    }
}

/* B = 1 and NH = 1 splits each pair's queries over the threads (separate dK/dV partials);
 * the others give each thread whole (batch, head) pairs. */
static const Shape backward_shapes[] = {
  { 2, 37, 37, 1, 8, 2.0f },   { 2, 37, 37, 5, 32, 2.0f }, { 2, 301, 301, 2, 8, 2.0f },
  { 2, 200, 50, 5, 8, 2.0f },  { 2, 512, 32, 1, 32, 2.0f }, { 2, 640, 10, 2, 8, 2.0f },
  { 1, 300, 300, 1, 8, 2.0f }, { 1, 700, 520, 1, 32, 2.0f }, { 2, 150, 600, 2, 32, 4.0f },
  { 2, 301, 301, 2, 16, 2.0f }, { 2, 37, 5, 2, 16, 2.0f },   { 1, 700, 520, 1, 16, 2.0f },
  { 2, 150, 600, 2, 16, 3.0f }, { 2, 129, 33, 1, 8, 2.0f },
};

VG_TEST ("/attention/backward-reference", test_backward_reference)
{
  check_shapes (backward_shapes, G_N_ELEMENTS (backward_shapes), TRUE);
}

/* Heads of 8 and 16 take the fused kernels where the processor has AVX-512 (the tests above
 * ran them there); with the narrow kernels switched off the same shapes take the tiles'
 * matrix products, and both paths meet the reference. */
VG_TEST ("/attention/fused-and-generic", test_fused_and_generic)
{
  gboolean avx512 = vg_gemm_narrow_available ();

  g_assert_cmpint (vg_attention_fused_enabled (8), ==, avx512);
  g_assert_cmpint (vg_attention_fused_enabled (16), ==, avx512);
  g_assert_false (vg_attention_fused_enabled (32));
  g_assert_false (vg_attention_fused_enabled (24));
  g_assert_true (vg_gemm_force_path (VG_GEMM_BLAS));
  g_assert_false (vg_attention_fused_enabled (8));
  check_shapes (forward_shapes, G_N_ELEMENTS (forward_shapes), FALSE);
  check_shapes (backward_shapes, G_N_ELEMENTS (backward_shapes), TRUE);
  g_assert_true (vg_gemm_force_path (VG_GEMM_AUTO));
  g_assert_cmpint (vg_attention_fused_enabled (8), ==, avx512);
}

static double
loss (Problem *p)
{
  double l = 0.0;

  problem_forward (p);
  for (size_t i = 0; i < p->nq; i++)
    l += (double) p->out[i] * p->dout[i];
  return l;
}

/* Central differences of L = sum(out * R), R = dout fixed, against the backward. The
 * divisor is the perturbation actually stored in the float. */
static void
check_numeric (Problem *p, float *x, const float *grad, size_t n, const char *what)
{
  double worst = 0.0, scale = 1e-3;
  double *numeric = g_new (double, n);

  for (size_t i = 0; i < n; i++)
    {
      float keep = x[i];
      float up = (float) (keep + GRAD_EPS), down = (float) (keep - GRAD_EPS);
      double lu, ld;

      x[i] = up;
      lu = loss (p);
      x[i] = down;
      ld = loss (p);
      x[i] = keep;
      numeric[i] = (lu - ld) / ((double) up - down);
      scale = fmax (scale, fabs (numeric[i]));
    }
  for (size_t i = 0; i < n; i++)
    worst = fmax (worst, fabs (grad[i] - numeric[i]));
  g_test_message ("%s: max |analytic - numeric| %.3g, max |numeric| %.3g", what, worst, scale);
  g_assert_cmpfloat (worst, <=, GRAD_TOL * scale);
  g_free (numeric);
}

VG_TEST ("/attention/gradcheck", test_gradcheck)
{
  /* B = 2, N = 13 queries, M = 7 keys, NH = 2 heads of 4: every element is checked */
  Problem *p = problem_new (2, 13, 7, 8, 2, 2.0f);
  float *dq = g_new (float, p->nq), *dk = g_new (float, p->nkv), *dv = g_new (float, p->nkv);

  problem_forward (p);
  problem_backward (p);
  memcpy (dq, p->dq, sizeof (float) * p->nq);
  memcpy (dk, p->dk, sizeof (float) * p->nkv);
  memcpy (dv, p->dv, sizeof (float) * p->nkv);
  check_numeric (p, p->q, dq, p->nq, "dq");
  check_numeric (p, p->k, dk, p->nkv, "dk");
  check_numeric (p, p->v, dv, p->nkv, "dv");
  g_free (dq), g_free (dk), g_free (dv);
  problem_free (p);
}

/* The double reference's attention weight P_ij = exp (q_i . k_j / sqrt (D) - lse_i) of query
 * i on key j in head h, and in ds the gradient of its score, P_ij (dO_i . v_j - delta_i);
 * lse and delta are the rows' statistics, (NH, N). Batch 0. */
static double
ref_weight (const Problem *p, int h, int i, int j, const double *lse, const double *delta,
            double *ds)
{
  int C = p->C, D = C / p->NH;
  double s = 0.0, dp = 0.0, pij;

  for (int c = 0; c < D; c++)
    {
      s += (double) p->q[(size_t) i * C + h * D + c] * p->k[(size_t) j * C + h * D + c];
      dp += (double) p->dout[(size_t) i * C + h * D + c] * p->v[(size_t) j * C + h * D + c];
    }
  pij = exp (s * (1.0 / sqrt ((double) D)) - lse[(size_t) h * p->N + i]);
  *ds = pij * (dp - delta[(size_t) h * p->N + i]);
  return pij;
}

/* Scratch grows linearly: from N = M = 4096 to 16384 it grows at most ~4x (a materialised
 * N x M matrix would grow 16x), and it stays far below one N x M matrix. Then N = M = 4096,
 * B = 1, NH = 2, C = 16 runs forward and backward in exactly that scratch (the sentinels
 * after it must survive) and is checked on sampled query and key rows against a double
 * reference computed row by row. */
VG_TEST ("/attention/linear-memory", test_linear_memory)
{
  enum { B = 1, N = 4096, M = 4096, C = 16, NH = 2, D = C / NH };
  static const int rows[] = { 0, 1, 63, 64, 65, 127, 128, 129, 1000, 2047, 2048, 4031, 4095 };
  size_t s4 = vg_attention_scratch_floats (1, 4096, 4096, C, NH);
  size_t s16 = vg_attention_scratch_floats (1, 16384, 16384, C, NH);
  Problem *p;
  double *lse, *delta, *want;
  double scale = 1.0 / sqrt ((double) D);

  g_test_message ("scratch floats: %zu at N = M = 4096, %zu at 16384", s4, s16);
  g_assert_cmpuint (s4, >, 0);
  g_assert_cmpfloat ((double) s16 / s4, <=, 4.5);
  g_assert_cmpuint (s16, <, (size_t) 16384 * 16384 / 64);

  p = problem_new (B, N, M, C, NH, 2.0f);
  g_assert_cmpuint (p->nscratch, ==, s4);
  problem_forward (p);
  problem_backward (p);

  /* the whole reference's row statistics: lse and delta = rowsum(dO * O) per (h, i) */
  lse = g_new (double, (size_t) NH * N);
  delta = g_new (double, (size_t) NH * N);
  want = g_new (double, 3 * D);
  for (int h = 0; h < NH; h++)
    for (int i = 0; i < N; i++)
      {
        double mx = -INFINITY, sum = 0.0, o[D] = { 0 }, dd = 0.0;
        double *sc = g_new (double, M);

        for (int j = 0; j < M; j++)
          {
            double s = 0.0;

            for (int c = 0; c < D; c++)
              s += (double) p->q[(size_t) i * C + h * D + c] * p->k[(size_t) j * C + h * D + c];
            sc[j] = s * scale;
            mx = fmax (mx, sc[j]);
          }
        for (int j = 0; j < M; j++)
          {
            double e = exp (sc[j] - mx);

            sum += e;
            for (int c = 0; c < D; c++)
              o[c] += e * p->v[(size_t) j * C + h * D + c];
          }
        for (int c = 0; c < D; c++)
          dd += o[c] / sum * p->dout[(size_t) i * C + h * D + c];
        lse[(size_t) h * N + i] = mx + log (sum);
        delta[(size_t) h * N + i] = dd;
        g_free (sc);
      }

  for (int h = 0; h < NH; h++)
    for (size_t r = 0; r < G_N_ELEMENTS (rows); r++)
      {
        int i = rows[r], j = rows[r];
        float got[3 * D];

        /* query row i: out and dq */
        memset (want, 0, sizeof (double) * 3 * D);
        for (int jj = 0; jj < M; jj++)
          {
            double ds, pij = ref_weight (p, h, i, jj, lse, delta, &ds);

            for (int c = 0; c < D; c++)
              {
                want[c] += pij * p->v[(size_t) jj * C + h * D + c];
                want[D + c] += ds * p->k[(size_t) jj * C + h * D + c] * scale;
              }
          }
        for (int c = 0; c < D; c++)
          {
            got[c] = p->out[(size_t) i * C + h * D + c];
            got[D + c] = p->dq[(size_t) i * C + h * D + c];
          }
        assert_close ("out row", got, want, D, FWD_ATOL, FWD_RTOL);
        assert_close ("dq row", got + D, want + D, D, BWD_ATOL, BWD_RTOL);
        assert_close ("lse", p->lse + (size_t) h * N + i, lse + (size_t) h * N + i, 1, FWD_ATOL,
                      FWD_RTOL);

        /* key row j: dk and dv sum over all N queries */
        memset (want, 0, sizeof (double) * 3 * D);
        for (int ii = 0; ii < N; ii++)
          {
            double ds, pij = ref_weight (p, h, ii, j, lse, delta, &ds);

            for (int c = 0; c < D; c++)
              {
                want[c] += ds * p->q[(size_t) ii * C + h * D + c] * scale;
                want[D + c] += pij * p->dout[(size_t) ii * C + h * D + c];
              }
          }
        for (int c = 0; c < D; c++)
          {
            got[c] = p->dk[(size_t) j * C + h * D + c];
            got[D + c] = p->dv[(size_t) j * C + h * D + c];
          }
        assert_close ("dk row", got, want, D, BWD_ATOL, BWD_RTOL);
        assert_close ("dv row", got + D, want + D, D, BWD_ATOL, BWD_RTOL);
      }

  g_free (lse), g_free (delta), g_free (want);
  problem_free (p);
}

/* Scratch sized with 2 threads serves 1 as well; results agree to float rounding. B = 1,
 * NH = 1 is the case where 2 threads split one pair's queries (dK/dV summed from two
 * partials), the others hand whole pairs to threads. */
VG_TEST ("/attention/threads", test_threads)
{
  static const Shape shapes[] = {
    { 1, 300, 300, 1, 8, 2.0f }, { 1, 257, 1030, 1, 32, 2.0f },
    { 1, 200, 200, 2, 8, 2.0f }, { 2, 37, 37, 5, 8, 2.0f },
  };
  int saved = omp_get_max_threads ();

  for (size_t t = 0; t < G_N_ELEMENTS (shapes); t++)
    {
      const Shape *s = &shapes[t];
      Problem *p;
      float *ref[5];
      size_t sizes[5];

      omp_set_num_threads (2);
      p = problem_new (s->B, s->N, s->M, s->NH * s->D, s->NH, s->qk);
      problem_forward (p);
      problem_backward (p);
      sizes[0] = p->nq, sizes[1] = p->nlse, sizes[2] = p->nq, sizes[3] = p->nkv;
      sizes[4] = p->nkv;
      ref[0] = g_memdup2 (p->out, sizeof (float) * p->nq);
      ref[1] = g_memdup2 (p->lse, sizeof (float) * p->nlse);
      ref[2] = g_memdup2 (p->dq, sizeof (float) * p->nq);
      ref[3] = g_memdup2 (p->dk, sizeof (float) * p->nkv);
      ref[4] = g_memdup2 (p->dv, sizeof (float) * p->nkv);

      omp_set_num_threads (1);
      memset (p->dq, 0xff, sizeof (float) * p->nq);  /* NaN again */
      memset (p->dk, 0xff, sizeof (float) * p->nkv);
      memset (p->dv, 0xff, sizeof (float) * p->nkv);
      problem_forward (p);
      problem_backward (p);

      {
        const float *got[5] = { p->out, p->lse, p->dq, p->dk, p->dv };
        static const char *names[5] = { "out", "lse", "dq", "dk", "dv" };

        for (int x = 0; x < 5; x++)
          {
            double *want = g_new (double, sizes[x]);

            for (size_t i = 0; i < sizes[x]; i++)
              want[i] = ref[x][i];
            assert_close (names[x], got[x], want, sizes[x], THREAD_TOL, THREAD_TOL);
            g_free (want);
            g_free (ref[x]);
          }
      }
      problem_free (p);
    }
  omp_set_num_threads (saved);
}

VG_TEST_MAIN ()
