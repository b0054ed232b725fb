/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Multi-head attention core of SegFormer's efficient self-attention:
 * out = softmax(Q K^T / sqrt(D)) V for each head, on channels-last tensors.
 *
 * Letters: B batch, N query tokens, M key/value tokens (N, or N / R^2 after the spatial
 * reduction), C channels, NH heads, D = C / NH head size. Head h of a token is the channel
 * slice [h*D, (h+1)*D), PyTorch's reshape (B, N, NH, D); the BLAS calls reach a head in
 * place through a leading dimension of C, so nothing is gathered or transposed.
 *
 * Tiling: flash-attention style. A tile of TILE_Q query rows meets the keys in blocks of
 * TILE_K with an online softmax: each row keeps its running maximum m and sum l, and the
 * output accumulator is rescaled when the maximum grows. The alternative, one tile of rows
 * against all M keys, needs TILE_Q * M floats per thread: 4 MiB at M = 16384, which falls
 * out of L2, or so few rows that the GEMMs degenerate. Key blocks keep the working set at
 * TILE_Q * TILE_K whatever M is, and memory grows only linearly in N and M. The rescaling
 * costs one exp and D multiplies per row and block, nothing beside TILE_K exps.
 *
 * Scores live in base 2: Q K^T is scaled by log2(e) / sqrt(D) inside the GEMM, so the
 * softmax needs exp2, which is a polynomial and an exponent shift (exp2_approx). lse keeps
 * the natural log-sum-exp of the scaled scores, as torch.logsumexp would give.
 *
 * Backward: the probabilities are recomputed tile by tile from lse,
 *   P = exp(S - lse), dV += P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dO * O)),
 *   dQ = dS K / sqrt(D), dK += dS^T Q / sqrt(D).
 * Threads split the query tiles, so dK and dV sum over threads: each work item owns a
 * private (M, D) partial of each, summed in a fixed order afterwards, so a given thread
 * count always gives the same bits, and different counts differ by float rounding only.
 *
 * Heads of 8 and 16 channels on AVX-512 take the fused kernels (attention-fused.c) inside
 * the same work items, scratch and partials (packed per block of 16 keys there).
 *
 * Gradient rule: dq, dk and dv are activation gradients and are overwritten (=). */
#include "vg-nn.h"
#include "vg-attention-fused.h"
#include "vg-gemm.h"
#include "vg-simd.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <omp.h>

/* Query rows per tile and keys per block. A tile of scores, TILE_Q * TILE_K floats, is
 * 128 KiB: the forward's tile and the backward's two (P and dS) stay in L2 next to the
 * blocks of K and V (about 350 KiB at D = 64, within the 512 KiB of the smallest L2 of
 * current x86-64 server cores), while the GEMMs are large enough to hide their call
 * overhead. 128 rows against 64, B8 at D = 32 and 64 (N 16384 and 4096, M 256): the
 * backward 5-12% faster, the forward 0-10%, in alternating runs. */
enum { TILE_Q = 128, TILE_K = 256 };

/* One key block of the forward's online softmax. s (nq, nk) holds base-2 scores and is
 * overwritten with exp2(s - m_new); m (nq) and l (nq) are the running maximum and sum of
 * each row, o (nq, D) the unnormalised output, rescaled when a row's maximum grows. */
SIMD_CLONES static void
softmax_block_forward (float *s, float *o, float *m, float *l, int nq, int nk, int D)
{
  for (int i = 0; i < nq; i++)
    {
      float *row = s + (size_t) i * nk;
      float mx = m[i];
      float sum = 0.0f;

#pragma omp simd reduction(max : mx)
      for (int j = 0; j < nk; j++)
        mx = row[j] > mx ? row[j] : mx;

      if (mx > m[i])
        {
          /* exp2f(-inf) is 0 on the first block, when o and l are still 0 */
          float alpha = exp2f (m[i] - mx);

          for (int c = 0; c < D; c++)
            o[(size_t) i * D + c] *= alpha;
          l[i] *= alpha;
          m[i] = mx;
        }

#pragma omp simd reduction(+ : sum)
      for (int j = 0; j < nk; j++)
        {
          float e = exp2_approx (row[j] - mx);

          row[j] = e;
          sum += e;
        }
      l[i] += sum;
    }
}

/* One block of the backward: s (nq, nk) base-2 scores become P = exp2(s - lse2), and
 * dp (nq, nk) = dO V^T becomes dS = P * (dP - delta), delta (nq) = rowsum(dO * O). */
SIMD_CLONES static void
softmax_block_backward (float *s, float *dp, const float *lse2, const float *delta, int nq,
                        int nk)
{
  for (int i = 0; i < nq; i++)
    {
      float *srow = s + (size_t) i * nk;
      float *dprow = dp + (size_t) i * nk;
      float li = lse2[i];
      float di = delta[i];

#pragma omp simd
      for (int j = 0; j < nk; j++)
        {
          float pj = exp2_approx (srow[j] - li);

          srow[j] = pj;
          dprow[j] = pj * (dprow[j] - di);
        }
    }
}

/* ---- the tiles' matrix products (vg_sgemm: the narrow kernels where they fit) --------- */

/* The narrow kernels and the fused ones take K (and in the backward, or fused, V)
 * transposed: a head's M rows of D (leading dimension C) as (D, ld), ld = M rounded up to
 * 16 with zero columns after M, made once per (batch, head) pair and thread rather than
 * once per query tile (it cost 40% of a tile's product at D = 32). Each thread keeps the
 * pair it transposed last. */
typedef struct {
  float *t;         /* (D, ld), or packed (ld / 16, D, 16) for the fused kernels */
  int ld;
  gboolean packed;
  long pair;        /* whose rows t holds; -1: none */
} HeadT;

static void
head_t_init (HeadT *h, int D, int ld, gboolean needed, gboolean packed)
{
  h->t = needed && vg_gemm_narrow_enabled () ? g_new0 (float, (size_t) D * ld) : NULL;
  h->ld = ld;
  h->packed = packed;
  h->pair = -1;
}

/* t = the head's rows transposed (when the narrow kernels run), unless it holds them. */
static void
head_t_load (HeadT *h, long pair, const float *rows, int M, int D, int C)
{
  if (h->t == NULL || h->pair == pair)
    return;
  for (int j = 0; j < M; j++)
    for (int d = 0; d < D; d++)
      {
        size_t at = h->packed ? ((size_t) (j / 16) * D + d) * 16 + j % 16
                              : (size_t) d * h->ld + j;

        h->t[at] = rows[(size_t) j * C + d];
      }
  h->pair = pair;
}

/* S (nq, nk) = alpha A (nq, D) @ Bm (nk, D)^T, Bm the block of keys from j0 of a head whose
 * transpose h holds (for the narrow kernels), or read as it is. */
static void
product_nt (float *S, const float *A, int lda, const float *Bm, int ldb, const HeadT *h,
            int j0, int nq, int nk, int D, float alpha)
{
  if (h->t != NULL && nk % 16 == 0)
    {
      vg_sgemm (FALSE, FALSE, nq, nk, D, alpha, A, lda, h->t + j0, h->ld, 0.0f, S, nk);
      return;
    }
  vg_sgemm (FALSE, TRUE, nq, nk, D, alpha, A, lda, Bm, ldb, 0.0f, S, nk);
}

/* C (M, N) (+)= alpha A (M, K) @ B (K, N) */
static void
product_nn (float *C, int ldc, const float *A, int lda, const float *B, int ldb, int M, int K,
            int N, float alpha, gboolean add)
{
  vg_sgemm (FALSE, FALSE, M, N, K, alpha, A, lda, B, ldb, add ? 1.0f : 0.0f, C, ldc);
}

/* W (No, Ni) += alpha Dm (R, No)^T @ X (R, Ni) */
static void
product_tn_add (float *W, int ldw, const float *Dm, int ldd, const float *X, int ldx, int R,
                int No, int Ni, float alpha)
{
  vg_sgemm (TRUE, FALSE, No, Ni, R, alpha, Dm, ldd, X, ldx, 1.0f, W, ldw);
}

static size_t
round_up16 (size_t n)
{
  return (n + 15) & ~(size_t) 15;
}

/* Everything the two passes and the scratch size derive from the shape and the thread
 * count; one function so that they cannot disagree. */
typedef struct
{
  int D;                  /* head size C / NH */
  gboolean fused;         /* vg_attention_fused_enabled (D) */
  int ld;                 /* M rounded up to 16: the transposed heads' and partials' rows */
  int tq, tk;             /* TILE_Q and TILE_K, clipped to N and M */
  int ldt;                /* a score tile's rows: tk rounded up to 16, plus 16 */
  int n_tiles;            /* query tiles per (batch, head) pair */
  int n_threads;          /* omp_get_max_threads () */
  int n_split;            /* backward: query chunks per pair, each with its own partials */
  int n_partials;         /* backward: dK/dV partial buffers */
  size_t tile_floats;     /* one tile of scores, tq * ldt, rounded up */
  size_t head_floats;     /* tq * D, rounded up */
  size_t row_floats;      /* tq, rounded up */
  size_t score_floats;    /* two score tiles, or the fused forward's 2 rows of ld if more */
  size_t thread_floats;   /* per-thread area: the scores, three head tiles, two rows */
  size_t kv_floats;       /* D * ld: one of dK, dV in a partial */
} AttnPlan;

static void
attn_plan (AttnPlan *p, int B, int N, int M, int C, int NH)
{
  int n_pairs = B * NH;

  p->D = C / NH;
  p->fused = vg_attention_fused_enabled (p->D);
  p->ld = (int) round_up16 ((size_t) M);
  p->tq = N < TILE_Q ? N : TILE_Q;
  p->tk = M < TILE_K ? M : TILE_K;
  /* 16 more: rows 1 KiB apart would share the L1's sets */
  p->ldt = (int) round_up16 ((size_t) p->tk) + 16;
  p->n_tiles = (N + p->tq - 1) / p->tq;
  p->n_threads = omp_get_max_threads ();
  if (p->n_threads < 1)
    p->n_threads = 1;

  /* When there are at least as many (batch, head) pairs as threads, a thread owns whole
   * pairs and its single partial is copied out at the end of each pair. Otherwise (B = 1,
   * NH = 1 or 2 in SegFormer's early stages) each pair's query tiles are split into chunks
   * so every thread gets work; each chunk then needs a partial of its own. */
  if (n_pairs >= p->n_threads)
    p->n_split = 1;
  else
    {
      p->n_split = (p->n_threads + n_pairs - 1) / n_pairs;
      if (p->n_split > p->n_tiles)
        p->n_split = p->n_tiles;
    }
  p->n_partials = p->n_split == 1 ? p->n_threads : n_pairs * p->n_split;

  p->tile_floats = round_up16 ((size_t) p->tq * p->ldt);
  p->head_floats = round_up16 ((size_t) p->tq * p->D);
  p->row_floats = round_up16 ((size_t) p->tq);
  p->score_floats = 2 * p->tile_floats;
  if (p->fused && 2 * (size_t) p->ld > p->score_floats)
    p->score_floats = 2 * (size_t) p->ld;
  p->thread_floats = p->score_floats + 3 * p->head_floats + 2 * p->row_floats;
  p->kv_floats = (size_t) p->D * p->ld;
}

/* Where key j's channel c lies in a dK or dV partial: (M, D) rows, or packed like the
 * heads (ld / 16, D, 16) for the fused kernels. */
static inline size_t
partial_at (const AttnPlan *p, int j, int c)
{
  return p->fused ? ((size_t) (j / 16) * p->D + c) * 16 + j % 16 : (size_t) j * p->D + c;
}

const char *
vg_attention_describe (void)
{
  return vg_attention_fused_enabled (8)
           ? "fused AVX-512 kernels for heads of 8 and 16 channels (scores, exp2 and sums in "
             "registers), the tiles' matrix products with an online softmax for the others"
           : "the tiles' matrix products with an online softmax";
}

static int
attn_shape_ok (int B, int N, int M, int C, int NH)
{
  return B > 0 && N > 0 && M > 0 && NH > 0 && C > 0 && C % NH == 0;
}

/* Per thread: the score tiles, the output or dQ tile and two row vectors; for the backward
 * also the dK/dV partials, 2 * M * D floats each: linear in N and M, never N * M. The size
 * is for omp_get_max_threads () at the time of this call: the ops may later run with fewer
 * threads, not with more. */
size_t
vg_attention_scratch_floats (int B, int N, int M, int C, int NH)
{
  AttnPlan p;

  if (!attn_shape_ok (B, N, M, C, NH))
    return 0;
  attn_plan (&p, B, N, M, C, NH);
  return (size_t) p.n_threads * p.thread_floats + (size_t) p.n_partials * 2 * p.kv_floats;
}

void
vg_attention_forward (float *out, float *lse, const float *q, const float *k,
                      const float *v, float *scratch, int B, int N, int M, int C, int NH)
{
  AttnPlan p;
  long n_items;

  if (!attn_shape_ok (B, N, M, C, NH))
    return;
  attn_plan (&p, B, N, M, C, NH);
  n_items = (long) B * NH * p.n_tiles;

#pragma omp parallel
  {
    const int D = p.D;
    const float score_scale = LOG2E / sqrtf ((float) D);
    float *s = scratch + (size_t) omp_get_thread_num () * p.thread_floats;
    float *o = s + p.score_floats;        /* (tq, D) unnormalised output */
    float *m = o + p.head_floats;         /* (tq) running maximum, base 2 */
    float *l = m + p.row_floats;          /* (tq) running sum */
    HeadT kt, vt;

    head_t_init (&kt, D, p.ld, TRUE, p.fused);
    head_t_init (&vt, D, p.ld, p.fused, p.fused);
    /* Every row's result depends only on its own tile, so the schedule cannot change it. */
#pragma omp for schedule(dynamic, 1)
    for (long item = 0; item < n_items; item++)
      {
        int pair = (int) (item / p.n_tiles);
        int b = pair / NH, h = pair % NH;
        int i0 = (int) (item % p.n_tiles) * p.tq;
        int nq = N - i0 < p.tq ? N - i0 : p.tq;
        const float *qt = q + ((size_t) b * N + i0) * C + (size_t) h * D;
        const float *kh = k + (size_t) b * M * C + (size_t) h * D;
        const float *vh = v + (size_t) b * M * C + (size_t) h * D;
        float *ot = out + ((size_t) b * N + i0) * C + (size_t) h * D;
        float *lset = lse + ((size_t) b * NH + h) * N + i0;

        head_t_load (&kt, pair, kh, M, D, C);
        if (p.fused)
          {
            /* s: the row of scores */
            head_t_load (&vt, pair, vh, M, D, C);
            vg_attention_fused_forward (ot, C, lset, qt, C, kt.t, vt.t, M, s, nq, D,
                                        score_scale);
            continue;
          }
        memset (o, 0, sizeof (float) * nq * D);
        for (int i = 0; i < nq; i++)
          {
            m[i] = -INFINITY;
            l[i] = 0.0f;
          }

        for (int j0 = 0; j0 < M; j0 += p.tk)
          {
            int nk = M - j0 < p.tk ? M - j0 : p.tk;

            /* S = Q K^T * log2(e) / sqrt(D), (nq, nk) */
            product_nt (s, qt, C, kh + (size_t) j0 * C, C, &kt, j0, nq, nk, D, score_scale);
            softmax_block_forward (s, o, m, l, nq, nk, D);
            /* O += P V */
            product_nn (o, D, s, nk, vh + (size_t) j0 * C, C, nq, nk, D, 1.0f, TRUE);
          }

        for (int i = 0; i < nq; i++)
          {
            float inv = 1.0f / l[i];

            for (int c = 0; c < D; c++)
              ot[(size_t) i * C + c] = o[(size_t) i * D + c] * inv;
            lset[i] = (m[i] + log2f (l[i])) * LN2;
          }
      }
    g_free (kt.t);
    g_free (vt.t);
  }
}

void
vg_attention_backward (float *dq, float *dk, float *dv, const float *dout,
                       const float *out, const float *lse, const float *q, const float *k,
                       const float *v, float *scratch, int B, int N, int M, int C, int NH)
{
  AttnPlan p;
  float *partials;
  long n_items;

  if (!attn_shape_ok (B, N, M, C, NH))
    return;
  attn_plan (&p, B, N, M, C, NH);
  partials = scratch + (size_t) p.n_threads * p.thread_floats;
  n_items = (long) B * NH * p.n_split;

#pragma omp parallel
  {
    const int D = p.D;
    const float inv_sqrt_d = 1.0f / sqrtf ((float) D);
    const float score_scale = LOG2E * inv_sqrt_d;
    const int tid = omp_get_thread_num ();
    float *s = scratch + (size_t) tid * p.thread_floats;   /* (tq, ldt) scores, then P */
    float *dp = s + p.tile_floats;                          /* (tq, ldt) dP, then dS */
    float *dqt = s + p.score_floats;                        /* (tq, D) dQ of the tile */
    float *qb = dqt + p.head_floats;                        /* fused: (tq, D) Q of the tile */
    float *dob = qb + p.head_floats;                        /* fused: (tq, D) dO of the tile */
    float *lse2 = dob + p.head_floats;                      /* (tq) lse in base 2 */
    float *delta = lse2 + p.row_floats;                     /* (tq) rowsum(dO * O) */
    HeadT kt, vt;

    head_t_init (&kt, D, p.ld, TRUE, p.fused);
    head_t_init (&vt, D, p.ld, TRUE, p.fused);

#pragma omp for schedule(dynamic, 1)
    for (long item = 0; item < n_items; item++)
      {
        int pair = (int) (item / p.n_split);
        int chunk = (int) (item % p.n_split);
        int b = pair / NH, h = pair % NH;
        int t0 = (int) ((long) chunk * p.n_tiles / p.n_split);
        int t1 = (int) ((long) (chunk + 1) * p.n_tiles / p.n_split);
        float *pk = partials + (size_t) (p.n_split == 1 ? tid : item) * 2 * p.kv_floats;
        float *pv = pk + p.kv_floats;
        const float *kh = k + (size_t) b * M * C + (size_t) h * D;
        const float *vh = v + (size_t) b * M * C + (size_t) h * D;

        memset (pk, 0, sizeof (float) * 2 * p.kv_floats);
        head_t_load (&kt, pair, kh, M, D, C);
        head_t_load (&vt, pair, vh, M, D, C);

        for (int t = t0; t < t1; t++)
          {
            int i0 = t * p.tq;
            int nq = N - i0 < p.tq ? N - i0 : p.tq;
            size_t row0 = ((size_t) b * N + i0) * C + (size_t) h * D;
            const float *qt = q + row0;
            const float *dot = dout + row0;
            const float *ot = out + row0;
            const float *lset = lse + ((size_t) b * NH + h) * N + i0;

            for (int i = 0; i < nq; i++)
              {
                float acc = 0.0f;

                for (int c = 0; c < D; c++)
                  acc += dot[(size_t) i * C + c] * ot[(size_t) i * C + c];
                delta[i] = acc;
                lse2[i] = lset[i] * LOG2E;
                if (p.fused)
                  for (int c = 0; c < D; c++)
                    {
                      qb[(size_t) i * D + c] = qt[(size_t) i * C + c];
                      dob[(size_t) i * D + c] = dot[(size_t) i * C + c];
                    }
              }
            memset (dqt, 0, sizeof (float) * nq * D);

            for (int j0 = 0; j0 < M; j0 += p.tk)
              {
                int nk = M - j0 < p.tk ? M - j0 : p.tk;
                const float *kb = kh + (size_t) j0 * C;
                const float *vb = vh + (size_t) j0 * C;

                if (p.fused)
                  {
                    /* pk, pv packed like kt, vt */
                    vg_attention_fused_backward (pk, pv, dqt, s, dp, p.ldt, qb, dob, lse2, delta,
                                                 kt.t, vt.t, j0, nk, nq, D, score_scale,
                                                 inv_sqrt_d);
                    continue;
                  }
                /* S = Q K^T * log2(e) / sqrt(D) and dP = dO V^T, both (nq, nk) */
                product_nt (s, qt, C, kb, C, &kt, j0, nq, nk, D, score_scale);
                product_nt (dp, dot, C, vb, C, &vt, j0, nq, nk, D, 1.0f);
                softmax_block_backward (s, dp, lse2, delta, nq, nk);
                /* dV += P^T dO, dQ += dS K / sqrt(D), dK += dS^T Q / sqrt(D) */
                product_tn_add (pv + (size_t) j0 * D, D, s, nk, dot, C, nq, nk, D, 1.0f);
                product_nn (dqt, D, dp, nk, kb, C, nq, nk, D, inv_sqrt_d, TRUE);
                product_tn_add (pk + (size_t) j0 * D, D, dp, nk, qt, C, nq, nk, D, inv_sqrt_d);
              }

            for (int i = 0; i < nq; i++)
              memcpy (dq + row0 + (size_t) i * C, dqt + (size_t) i * D, sizeof (float) * D);
          }

        /* a thread that owns the whole pair writes its head's slots of dK and dV now */
        if (p.n_split == 1)
          for (int j = 0; j < M; j++)
            {
              size_t dst = ((size_t) b * M + j) * C + (size_t) h * D;

              for (int c = 0; c < D; c++)
                {
                  dk[dst + c] = pk[partial_at (&p, j, c)];
                  dv[dst + c] = pv[partial_at (&p, j, c)];
                }
            }
      }

    g_free (kt.t);
    g_free (vt.t);
    /* Split pairs: sum the chunks' partials in chunk order, whichever thread made them. */
    if (p.n_split > 1)
      {
#pragma omp for schedule(static)
        for (long r = 0; r < (long) B * NH * M; r++)
          {
            int pair = (int) (r / M), j = (int) (r % M);
            int b = pair / NH, h = pair % NH;
            size_t dst = ((size_t) b * M + j) * C + (size_t) h * D;
            const float *first = partials + (size_t) pair * p.n_split * 2 * p.kv_floats;

            for (int c = 0; c < D; c++)
              {
                float sk = 0.0f, sv = 0.0f;

                for (int part = 0; part < p.n_split; part++)
                  {
                    const float *pk = first + (size_t) part * 2 * p.kv_floats;

                    sk += pk[partial_at (&p, j, c)];
                    sv += pk[p.kv_floats + partial_at (&p, j, c)];
                  }
                dk[dst + c] = sk;
                dv[dst + c] = sv;
              }
          }
      }
  }
}
