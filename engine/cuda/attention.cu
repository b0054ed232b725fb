/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Multi-head attention core on the GPU, mirroring nn/attention.c:
 * out = softmax(Q K^T / sqrt(D)) V for each head, channels-last.
 *
 * Letters: B batch, N query tokens, M key/value tokens, C channels, NH heads, D = C / NH.
 * Head h of a token is the channel slice [h*D, (h+1)*D) (PyTorch's reshape (B, N, NH, D));
 * cuBLAS reaches a head in place through a leading dimension of C.
 *
 * Tiling: query tiles against all M keys, with batched cuBLAS products. The larger of the
 * batch and head counts is the batch of each strided-batched product (images are N*C floats
 * apart, heads D floats apart); the other is a host loop. A tile holds `inner` score
 * matrices of tq x M floats, tq chosen so that a tile stays under the attention budget, so
 * memory grows linearly in N and M (never N x M for the whole batch). Per tile:
 *   forward   S = Q K^T / sqrt(D); a warp per row turns S into P = softmax(S) in place and
 *             saves lse = max + log(sum exp) (the natural log-sum-exp of the scaled scores,
 *             what the CPU saves); O = P V.
 *   backward  S again and dP = dO V^T; a warp per row forms P = exp(S - lse) and
 *             dS = P * (dP - rowsum(dO * O)); dV += P^T dO, dQ = dS K / sqrt(D),
 *             dK += dS^T Q / sqrt(D).
 * dK and dV sum over the query tiles in tile order (beta 0 for the first tile, 1 after), so
 * results are reproducible and need no atomics.
 *
 * Gradient rule: dq, dk and dv are activation gradients and are overwritten (=). */
#include "common.cuh"

#include <cmath>

using namespace vgc;

/* Everything the two passes and the scratch size derive from the shape and the budget; one
 * function so they cannot disagree. */
typedef struct
{
  int D;              /* head size C / NH */
  int inner, outer;   /* product batch, host loop */
  bool inner_images;  /* the batch runs over images (else over heads) */
  int tq, n_tiles;    /* query rows per tile, tiles per outer item */
  size_t tile_floats; /* inner * tq * M, rounded up: one of S, dP */
  long long qz, kz;   /* distance between batch items in q/out/dq and in k/v/dk/dv */
  long long lz;       /* the same in lse */
} AttnPlan;

/* False (nothing to do) for an empty shape or heads that do not divide C. */
static bool
attn_plan (AttnPlan *p, int B, int N, int M, int C, int NH)
{
  size_t tq;

  if (!(B > 0 && N > 0 && M > 0 && NH > 0 && C > 0 && C % NH == 0))
    return false;
  p->D = C / NH;
  p->inner_images = B >= NH;
  p->inner = p->inner_images ? B : NH;
  p->outer = p->inner_images ? NH : B;
  tq = g.attention_tile_floats / ((size_t) p->inner * M);
  if (tq < 1)
    tq = 1;
  if (tq > (size_t) N)
    tq = (size_t) N;
  p->tq = (int) tq;
  p->n_tiles = (N + p->tq - 1) / p->tq;
  p->tile_floats = ((size_t) p->inner * p->tq * M + 63) & ~(size_t) 63;
  if (p->inner_images)
    {
      p->qz = (long long) N * C;
      p->kz = (long long) M * C;
      p->lz = (long long) NH * N;
    }
  else
    {
      p->qz = p->D;
      p->kz = p->D;
      p->lz = N;
    }
  return true;
}

/* Offsets of outer item o's first batch item at query row i0: in q (and out, dout, dq), in
 * k (and v, dk, dv), and in lse (B, NH, N). */
static void
attn_offsets (const AttnPlan *p, int o, int i0, int N, int M, int C, int NH, size_t *q_off,
              size_t *k_off, size_t *l_off)
{
  if (p->inner_images)
    {
      int h = o;
      *q_off = (size_t) i0 * C + (size_t) h * p->D;
      *k_off = (size_t) h * p->D;
      *l_off = (size_t) h * N + i0;
    }
  else
    {
      int b = o;
      *q_off = ((size_t) b * N + i0) * C;
      *k_off = (size_t) b * M * C;
      *l_off = (size_t) b * NH * N + i0;
    }
}

/* Query tile t of outer item o: nq query rows from i0 = t * tq, rows = inner * nq rows of
 * scores, and the offsets of its first batch item (attn_offsets). */
typedef struct
{
  int nq, rows;
  size_t qo, ko, lo;
} AttnTile;

static AttnTile
attn_tile (const AttnPlan *p, int o, int t, int N, int M, int C, int NH)
{
  AttnTile tile;
  int i0 = t * p->tq;

  tile.nq = N - i0 < p->tq ? N - i0 : p->tq;
  tile.rows = p->inner * tile.nq;
  attn_offsets (p, o, i0, N, M, C, NH, &tile.qo, &tile.ko, &tile.lo);
  return tile;
}

/* Rows of a tile: rows = inner * nq, row (z, i) at S + z * zs + i * M. A warp per row turns
 * the scaled scores into probabilities and writes lse[z * lz + i]. */
static __global__ void
softmax_forward_kernel (float *S, float *lse, int rows, int nq, int M, size_t zs, long long lz)
{
  int row = (int) ((blockIdx.x * (size_t) blockDim.x + threadIdx.x) / 32);
  int lane = threadIdx.x % 32;

  if (row >= rows)
    return;
  int z = row / nq, i = row - z * nq;
  float *s = S + (size_t) z * zs + (size_t) i * M;
  float m = -INFINITY, sum = 0.0f;

  for (int j = lane; j < M; j += 32)
    m = fmaxf (m, s[j]);
  m = warp_max (m);
  for (int j = lane; j < M; j += 32)
    sum += expf (s[j] - m);
  sum = warp_sum (sum);
  float inv = 1.0f / sum;
  for (int j = lane; j < M; j += 32)
    s[j] = expf (s[j] - m) * inv;
  if (lane == 0)
    lse[(size_t) z * lz + i] = m + logf (sum);
}

/* S (scores) becomes P = exp(S - lse); dP becomes dS = P * (dP - delta) with
 * delta = rowsum(dO * O) over the head's D channels. dout and out point at the tile's first
 * row of the first batch item; batch items are qz apart, rows C apart. */
static __global__ void
softmax_backward_kernel (float *S, float *dP, const float *lse, const float *dout,
                         const float *out, int rows, int nq, int M, int D, int C, size_t zs,
                         long long lz, long long qz)
{
  int row = (int) ((blockIdx.x * (size_t) blockDim.x + threadIdx.x) / 32);
  int lane = threadIdx.x % 32;

  if (row >= rows)
    return;
  int z = row / nq, i = row - z * nq;
  const float *dO = dout + (size_t) z * qz + (size_t) i * C;
  const float *O = out + (size_t) z * qz + (size_t) i * C;
  float *s = S + (size_t) z * zs + (size_t) i * M;
  float *dp = dP + (size_t) z * zs + (size_t) i * M;
  float delta = 0.0f;

  for (int c = lane; c < D; c += 32)
    delta += dO[c] * O[c];
  delta = warp_sum (delta);
  float l = lse[(size_t) z * lz + i];
  for (int j = lane; j < M; j += 32)
    {
      float pj = expf (s[j] - l);
      s[j] = pj;
      dp[j] = pj * (dp[j] - delta);
    }
}

extern "C" size_t
vg_cuda_attention_scratch_floats (int B, int N, int M, int C, int NH)
{
  AttnPlan p;

  if (!attn_plan (&p, B, N, M, C, NH))
    return 0;
  return 2 * p.tile_floats;
}

extern "C" void
vg_cuda_attention_forward (float *out, float *lse, const float *q, const float *k,
                           const float *v, float *scratch, int B, int N, int M, int C, int NH)
{
  AttnPlan p;

  if (!attn_plan (&p, B, N, M, C, NH))
    return;

  const float scale = 1.0f / sqrtf ((float) p.D);
  const long long zs = (long long) p.tq * M; /* one score matrix of the tile */
  float *S = scratch;

  for (int o = 0; o < p.outer; o++)
    for (int t = 0; t < p.n_tiles; t++)
      {
        AttnTile tl = attn_tile (&p, o, t, N, M, C, NH);

        /* S (nq, M) = Q K^T / sqrt(D) */
        gemm_strided (false, true, tl.nq, M, p.D, scale, q + tl.qo, C, p.qz, k + tl.ko, C, p.kz,
                      0.0f, S, M, zs, p.inner);
        softmax_forward_kernel<<<blocks_for_rows ((size_t) tl.rows), THREADS, 0, g.stream>>> (
          S, lse + tl.lo, tl.rows, tl.nq, M, (size_t) zs, p.lz);
        /* O (nq, D) = P V */
        gemm_strided (false, false, tl.nq, p.D, M, 1.0f, S, M, zs, v + tl.ko, C, p.kz, 0.0f,
                      out + tl.qo, C, p.qz, p.inner);
      }
  check_launch ("attention_forward");
}

extern "C" void
vg_cuda_attention_backward (float *dq, float *dk, float *dv, const float *dout,
                            const float *out, const float *lse, const float *q, const float *k,
                            const float *v, float *scratch, int B, int N, int M, int C, int NH)
{
  AttnPlan p;

  if (!attn_plan (&p, B, N, M, C, NH))
    return;

  const float scale = 1.0f / sqrtf ((float) p.D);
  const long long zs = (long long) p.tq * M;
  float *S = scratch, *dP = scratch + p.tile_floats;

  for (int o = 0; o < p.outer; o++)
    for (int t = 0; t < p.n_tiles; t++)
      {
        AttnTile tl = attn_tile (&p, o, t, N, M, C, NH);
        int nq = tl.nq;
        size_t qo = tl.qo, ko = tl.ko;
        float acc = t == 0 ? 0.0f : 1.0f; /* dK, dV: the first tile overwrites */

        /* S = Q K^T / sqrt(D) and dP = dO V^T, both (nq, M) */
        gemm_strided (false, true, nq, M, p.D, scale, q + qo, C, p.qz, k + ko, C, p.kz, 0.0f,
                      S, M, zs, p.inner);
        gemm_strided (false, true, nq, M, p.D, 1.0f, dout + qo, C, p.qz, v + ko, C, p.kz, 0.0f,
                      dP, M, zs, p.inner);
        softmax_backward_kernel<<<blocks_for_rows ((size_t) tl.rows), THREADS, 0, g.stream>>> (
          S, dP, lse + tl.lo, dout + qo, out + qo, tl.rows, nq, M, p.D, C, (size_t) zs, p.lz,
          p.qz);
        /* dV (M, D) (+)= P^T dO */
        gemm_strided (true, false, M, p.D, nq, 1.0f, S, M, zs, dout + qo, C, p.qz, acc, dv + ko,
                      C, p.kz, p.inner);
        /* dQ (nq, D) = dS K / sqrt(D) */
        gemm_strided (false, false, nq, p.D, M, scale, dP, M, zs, k + ko, C, p.kz, 0.0f, dq + qo,
                      C, p.qz, p.inner);
        /* dK (M, D) (+)= dS^T Q / sqrt(D) */
        gemm_strided (true, false, M, p.D, nq, scale, dP, M, zs, q + qo, C, p.qz, acc, dk + ko,
                      C, p.kz, p.inner);
      }
  check_launch ("attention_backward");
}
