/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The inference forward of the 3x3, stride-1, one-group convolution by Winograd's minimal
 * filtering F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016), channels-last: the bulk of U-Net's and DeepLabV3+'s inference.
 *
 * The output is cut into tiles of 4 x 4 pixels; tile (ty, tx) reads the 6 x 6 input window
 * from (4 ty - P, 4 tx - P), zero outside the image. In the transformed domain
 *   out tile = A^T [ (G g G^T) . (B^T d B) ] A
 * for each pair of channels, where d is the window, g the 3 x 3 taps and . the product of
 * the 36 points one by one; summed over the input channels, each of the 36 points is a
 * matrix product M_xi (tiles, Cout) = V_xi (tiles, Cin) @ U_xi (Cin, Cout). A 4 x 4 tile
 * costs 36 multiply-adds per channel pair against 144 directly: the products are a quarter
 * of the direct ones, for transforms whose cost grows with Cin + Cout, not Cin x Cout.
 *
 * Rounding: the transforms' points 0, +-1, +-2 (B^T and A^T have integer entries, G
 * multiples of 1/24) cost accuracy against the direct sum; the results stay within a few
 * 1e-6 of the largest output (tests/engine/test-conv-winograd.c measures it), far below what
 * a class decision notices. So it serves inference only (vg_conv2d_forward_infer): training
 * and its reference tests keep the direct kernels, whose gradients the PyTorch fixtures
 * check.
 *
 * Work: the weight's transform once per call (Cin Cout 3 x 3 taps); then chunks of T tiles (T from the shape alone): input transform (threads share
 * the tiles), the 36 products on the direct kernels' register blocks (threads share the
 * points; vg_conv_direct_gemm), output transform with the bias (threads share the tiles).
 * Every output sums in one order whatever the thread count. */
#include "vg-conv-winograd.h"
#include "vg-conv-direct.h"
#include "vg-conv-shape.h"
#include "vg-simd.h"

#include <string.h>

#define TILE 4              /* output pixels per tile side */
#define ALPHA 6             /* input pixels per tile side: TILE + 3 - 1 */
#define NXI (ALPHA * ALPHA) /* points of the transformed domain */
/* Floats of a chunk's transformed inputs and products, V (T, 36, Cin) and M (T, 36, Cout),
 * tile by tile: each tile's 36 points are written and read in one sweep (slabs by point,
 * V (36, T, Cin), measured 20% slower on U-Net at 512). 2 MiB: in alternating runs of U-Net
 * and DeepLabV3+ at 512, as fast as 512 KiB and 8 MiB or faster. */
#define CHUNK_FLOATS ((size_t) 512 << 10)
/* Channels a transform handles at once (one AVX-512 vector). */
#define LANES 16
/* Below this many input channels the transforms cost more than the products save. */
#define MIN_CIN 16
#define PAR_MIN 16384

static int
tiles_of (int n)
{
  return (n + TILE - 1) / TILE;
}

gboolean
vg_conv_winograd_shape (int Cin, int Cout, int K, int S, int G, int Dl)
{
  /* Cout a multiple of the narrowest vector the direct kernels use (AVX2's 8) */
  return K == 3 && S == 1 && G == 1 && Dl == 1 && Cin >= MIN_CIN && Cout % 8 == 0;
}

/* Tiles per chunk: a multiple of the AVX-512 kernels' 12 rows, at most all of them. */
static size_t
chunk_tiles (int Cin, int Cout, size_t ntiles)
{
  size_t t = CHUNK_FLOATS / ((size_t) NXI * (Cin + Cout)) / 12 * 12;

  t = MAX (t, (size_t) 12);
  return MIN (t, ntiles);
}

size_t
vg_conv_winograd_scratch_floats (int B, int H, int W, int Cin, int Cout, int K, int S, int P,
                                 int G)
{
  if (!vg_conv_winograd_shape (Cin, Cout, K, S, G, 1))
    return 0;
  int Ho = vg_conv_out_size (H, K, S, P), Wo = vg_conv_out_size (W, K, S, P);
  if (Ho <= 0 || Wo <= 0)
    return 0;
  size_t T = chunk_tiles (Cin, Cout, (size_t) B * tiles_of (Ho) * tiles_of (Wo));
  return (size_t) NXI * ((size_t) Cin * Cout + T * (Cin + Cout));
}

/* ---- transforms ------------------------------------------------------------------------ */

/* LANES channels: written with GCC's vector extension, so each clone of a transform works
 * on whole vectors (AVX-512: one register; AVX2: two). Loads and stores are unaligned. */
typedef float lanes_t __attribute__ ((vector_size (LANES * sizeof (float)), aligned (4)));

/* (a pointer, not a returned vector: the baseline's ABI has no 64-byte vector registers) */
static inline __attribute__ ((always_inline)) void
load_lanes (lanes_t *v, const float *src, int n)
{
  if (n == LANES)
    *v = *(const lanes_t *) src;
  else
    {
      *v = (lanes_t){ 0 };
      memcpy (v, src, sizeof (float) * n);
    }
}

static inline __attribute__ ((always_inline)) void
store_lanes (float *dst, lanes_t v, int n)
{
  if (n == LANES)
    *(lanes_t *) dst = v;
  else
    memcpy (dst, &v, sizeof (float) * n);
}

/* r[k rs] = (G g)[k] for one column of three taps g[k gs] (G: 6 x 3, the points 0, 1, -1, 2,
 * -2 and infinity). */
static inline __attribute__ ((always_inline)) void
filter6 (lanes_t *r, int rs, const lanes_t *g, int gs)
{
  lanes_t g0 = g[0], g1 = g[gs], g2 = g[2 * gs];

  r[0] = g0 / 4;
  r[rs] = -(g0 + g1 + g2) / 6;
  r[2 * rs] = -(g0 - g1 + g2) / 6;
  r[3 * rs] = g0 / 24 + g1 / 12 + g2 / 6;
  r[4 * rs] = g0 / 24 - g1 / 12 + g2 / 6;
  r[5 * rs] = g2;
}

/* r[k rs] = (B^T d)[k] for one line of six values d[k s] (B^T: 6 x 6). */
static inline __attribute__ ((always_inline)) void
input6 (lanes_t *r, int rs, const lanes_t *d, int s)
{
  lanes_t d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];

  r[0] = 4 * d0 - 5 * d2 + d4;
  r[rs] = -4 * d1 - 4 * d2 + d3 + d4;
  r[2 * rs] = 4 * d1 - 4 * d2 - d3 + d4;
  r[3 * rs] = -2 * d1 - d2 + 2 * d3 + d4;
  r[4 * rs] = 2 * d1 - d2 - 2 * d3 + d4;
  r[5 * rs] = 4 * d1 - 5 * d3 + d5;
}

/* r[k rs] = (A^T m)[k] for one line of six values m[k s] (A^T: 4 x 6). */
static inline __attribute__ ((always_inline)) void
output4 (lanes_t *r, int rs, const lanes_t *m, int s)
{
  lanes_t m0 = m[0], m1 = m[s], m2 = m[2 * s], m3 = m[3 * s], m4 = m[4 * s], m5 = m[5 * s];
  lanes_t p12 = m1 + m2, d12 = m1 - m2, p34 = m3 + m4, d34 = m3 - m4;

  r[0] = m0 + p12 + p34;
  r[rs] = d12 + 2 * d34;
  r[2 * rs] = p12 + 4 * p34;
  r[3 * rs] = d12 + 8 * d34 + m5;
}

/* U (36, Cin, Cout): point (i, j) of G g G^T for every pair of channels, weight
 * (Cout, Cin, 3, 3); threads share the input channels, vectors run over the outputs. */
static SIMD_CLONES void
transform_weight_rows (float *U, const float *weight, int Cin, int Cout, int ci)
{
  for (int co0 = 0; co0 < Cout; co0 += LANES)
    {
      int n = MIN (LANES, Cout - co0);
      lanes_t g[9] = { 0 }, t[3 * ALPHA], u[NXI];

      for (int l = 0; l < n; l++)
        for (int k = 0; k < 9; k++)
          g[k][l] = weight[((size_t) (co0 + l) * Cin + ci) * 9 + k];
      for (int k = 0; k < 3; k++) /* G down each column of taps: t (6 x 3) */
        filter6 (&t[k], 3, &g[k], 3);
      for (int i = 0; i < ALPHA; i++) /* then each row of t times G^T */
        filter6 (&u[i * ALPHA], 1, &t[i * 3], 1);
      for (int xi = 0; xi < NXI; xi++)
        store_lanes (U + ((size_t) xi * Cin + ci) * Cout + co0, u[xi], n);
    }
}

static void
transform_weight (float *U, const float *weight, int Cin, int Cout)
{
#pragma omp parallel for schedule(static) if ((size_t) Cin * Cout > 4096)
  for (int ci = 0; ci < Cin; ci++)
    transform_weight_rows (U, weight, Cin, Cout, ci);
}

/* V[xi vs + c] (c < C) = point xi of B^T d B, d the 6 x 6 window of img (H, W, C) from
 * (y0, x0), zero outside. */
static SIMD_CLONES void
transform_input_tile (float *V, size_t vs, const float *img, int H, int W, int C, int y0,
                      int x0)
{
  for (int c0 = 0; c0 < C; c0 += LANES)
    {
      int n = MIN (LANES, C - c0);
      lanes_t d[NXI], t[NXI];

      for (int y = 0; y < ALPHA; y++)
        for (int x = 0; x < ALPHA; x++)
          {
            int iy = y0 + y, ix = x0 + x;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W)
              d[y * ALPHA + x] = (lanes_t){ 0 };
            else
              load_lanes (&d[y * ALPHA + x], img + ((size_t) iy * W + ix) * C + c0, n);
          }
      for (int x = 0; x < ALPHA; x++) /* B^T down each column */
        input6 (&t[x], ALPHA, &d[x], ALPHA);
      for (int i = 0; i < ALPHA; i++) /* then each row times B */
        input6 (&d[i * ALPHA], 1, &t[i * ALPHA], 1);
      for (int xi = 0; xi < NXI; xi++)
        store_lanes (V + xi * vs + c0, d[xi], n);
    }
}

/* The tile of img (Ho, Wo, C) from (y0, x0), the pixels inside = bias + A^T m A, m point xi
 * at M[xi ms + c]. */
static SIMD_CLONES void
transform_output_tile (float *img, const float *M, size_t ms, const float *bias, int Ho,
                       int Wo, int C, int y0, int x0)
{
  int ny = MIN (TILE, Ho - y0), nx = MIN (TILE, Wo - x0);

  for (int c0 = 0; c0 < C; c0 += LANES)
    {
      int n = MIN (LANES, C - c0);
      lanes_t m[NXI], t[TILE * ALPHA], o[TILE * TILE];
      lanes_t b = { 0 };

      if (bias != NULL)
        load_lanes (&b, bias + c0, n);
      for (int xi = 0; xi < NXI; xi++)
        load_lanes (&m[xi], M + xi * ms + c0, n);
      for (int x = 0; x < ALPHA; x++) /* A^T down each column: t (4 x 6) */
        output4 (&t[x], ALPHA, &m[x], ALPHA);
      for (int i = 0; i < TILE; i++) /* then each row times A: o (4 x 4) */
        output4 (&o[i * TILE], 1, &t[i * ALPHA], 1);
      for (int y = 0; y < ny; y++)
        for (int x = 0; x < nx; x++)
          store_lanes (img + ((size_t) (y0 + y) * Wo + x0 + x) * C + c0, o[y * TILE + x] + b,
                       n);
    }
}

/* ---- the convolution ------------------------------------------------------------------- */

gboolean
vg_conv_winograd_forward (float *out, const float *inp, const float *weight, const float *bias,
                          float *scratch, int B, int H, int W, int Cin, int Cout, int K, int S,
                          int P, int G)
{
  int vl = vg_conv_direct_vector_floats ();

  if (vl == 0 || Cout % vl != 0 || !vg_conv_winograd_shape (Cin, Cout, K, S, G, 1))
    return FALSE;
  int Ho = vg_conv_out_size (H, K, S, P), Wo = vg_conv_out_size (W, K, S, P);
  if (Ho <= 0 || Wo <= 0)
    return FALSE;
  int th = tiles_of (Ho), tw = tiles_of (Wo);
  size_t ntiles = (size_t) B * th * tw, T = chunk_tiles (Cin, Cout, ntiles);
  float *U = scratch, *V = U + (size_t) NXI * Cin * Cout, *M = V + (size_t) NXI * T * Cin;
  size_t per_tile = (size_t) NXI * (Cin + Cout);

  transform_weight (U, weight, Cin, Cout);
  for (size_t t0 = 0; t0 < ntiles; t0 += T)
    {
      int nt = (int) MIN (T, ntiles - t0);

#pragma omp parallel for schedule(static) if (nt * per_tile > PAR_MIN)
      for (int i = 0; i < nt; i++)
        {
          size_t tile = t0 + i, b = tile / ((size_t) th * tw), r = tile % ((size_t) th * tw);
          int ty = (int) (r / tw), tx = (int) (r % tw);
          transform_input_tile (V + (size_t) i * NXI * Cin, Cin, inp + b * H * W * Cin, H, W,
                                Cin, ty * TILE - P, tx * TILE - P);
        }
#pragma omp parallel for schedule(static) if (nt * per_tile > PAR_MIN)
      for (int xi = 0; xi < NXI; xi++)
        vg_conv_direct_gemm (M + (size_t) xi * Cout, NXI * Cout, V + (size_t) xi * Cin,
                             NXI * Cin, U + (size_t) xi * Cin * Cout, Cout, NULL, nt, Cout,
                             Cin);
#pragma omp parallel for schedule(static) if (nt * per_tile > PAR_MIN)
      for (int i = 0; i < nt; i++)
        {
          size_t tile = t0 + i, b = tile / ((size_t) th * tw), r = tile % ((size_t) th * tw);
          int ty = (int) (r / tw), tx = (int) (r % tw);
          transform_output_tile (out + b * Ho * Wo * Cout, M + (size_t) i * NXI * Cout, Cout,
                                 bias, Ho, Wo, Cout, ty * TILE, tx * TILE);
        }
    }
  return TRUE;
}
