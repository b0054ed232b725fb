/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The 3x3, stride-1, one-group convolution by Winograd's minimal filtering F(4x4, 3x3)
 * (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), forward and
 * both gradients, channels-last: the bulk of U-Net's and DeepLabV3+'s work.
 *
 * The output is cut into tiles of 4 x 4 pixels; tile (ty, tx) reads the 6 x 6 input window
 * from (4 ty - P, 4 tx - P), zero outside the image. In the transformed domain
 *   out tile = A^T [ (G g G^T) . (B^T d B) ] A
 * for each pair of channels, where d is the window, g the 3 x 3 taps and . the product of
 * the 36 points one by one; summed over the input channels, each of the 36 points is a
 * matrix product M_xi (tiles, Cout) = V_xi (tiles, Cin) @ U_xi (Cin, Cout). A 4 x 4 tile
 * costs 36 multiply-adds per channel pair against 144 directly: the products are a quarter
 * of the direct ones, for transforms whose cost grows with Cin + Cout, not Cin x Cout.
 * - Input gradient: the forward of the output gradient (Cout channels in, Cin out) with the
 *   weight flipped, padding 2 - P.
 * - Weight gradient: the forward is linear in U, so dL/dU_xi = sum over tiles of V_xi times
 *   point xi of A dy A^T (dy a tile of the output gradient, zero past the edges), a product
 *   (Cin, tiles) @ (tiles, Cout) per point; dweight += G^T (dL/dU) G.
 *
 * Rounding: the transforms' points 0, +-1, +-2 (B^T and A^T have integer entries, G
 * multiples of 1/24) cost accuracy against the direct sum: results and gradients within
 * about 1e-5 of their largest value (tests/engine/test-conv-winograd.c measures them against
 * double sums; the direct kernels: 1e-6), far below what a class decision notices. It runs
 * in training too (vg_conv2d_forward_fast, both gradients). U-Net's PyTorch reference passes
 * with it throughout; DeepLabV3+'s fixture, whose gradients pass through BatchNorms of a few
 * pixels and ReLU inputs near 0, amplifies any rounding difference (it fails with the
 * direct kernels' AVX2-less sum order too), so it compares its gradients with Winograd in the
 * backward only and its forward with Winograd throughout (tests/engine/
 * test-reference-baselines.c). VISAGE_CONV=direct turns it off (vg_conv_winograd_use).
 *
 * Work: the weight's transform once per call (Cin Cout 3 x 3 taps); then chunks of T tiles
 * (T from the shape alone): input transform (threads share the tiles), the 36 products on
 * the direct kernels' register blocks (threads share the points; vg_conv_direct_gemm and
 * vg_conv_direct_gemm_at), output transform with the bias (threads share the tiles). Up to
 * moderate widths a thread instead takes its own tiles through all three a block at a time,
 * so that no transformed tile moves between the cores' caches (see "Two ways" below). Every
 * output sums in one order whatever the thread count. */
#include "vg-conv-winograd.h"
#include "vg-conv-direct.h"
#include "vg-conv-shape.h"
#include "vg-simd.h"

#include <omp.h>
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
/* Two ways to share a call between threads. By point: chunks of tiles whose transforms the
 * threads share and whose 36 products they split by point (winograd_run, dweight_sums); the
 * transformed tiles cross between the cores' caches, which on this 2-core machine costs
 * little in some phases and doubles the time in others. By tile: each thread takes its own
 * tiles through transforms and products a block at a time (the forward: each tile's outputs
 * alike whoever computes them; the weight gradient: DW_PARTS fixed shares of the tiles, each
 * with sums of its own, added in order), which reads the transformed weight (36 Cin Cout
 * floats) once per block and thread, so it loses where that is large. Batch 8, 2 threads,
 * ms, by point / by tile (forward and weight gradient): DeepLabV3+'s 32->64 at 256x256
 * 42-86 / 38-40 and 43-105 / 42-43; 64->64 at 128 18.6-34 / 17 and 19.5-39 / 20-21; 160->64
 * at 128 43-67 / 42 and 48-90 / 50; 64->128 at 128 37-58 / 35 and 37-70 / 39; 192->256 at
 * 64 44-62 / 44-52 and 55-83 / 82-94; 256->256 at 16x16 4.5-5.8 / 5.8-8.5 and 7.9-10.5 /
 * 17-24. So the forward goes by tile up to Cin Cout = 192 x 256, the weight gradient up to
 * 64 x 128 (VG_WINOGRAD_TILE_*; its parts' sums also take scratch: 4 x 36 Cin Cout floats).
 * Above that the weight gradient goes by point only where Cin Cout / (Cin + Cout) is at
 * least BWD_MIN_RATIO, else direct: by point, U-Net's 16->16 at 256 took 30.7 ms against
 * the direct kernels' 13.1 (by tile 7.1). */
#define BWD_MIN_RATIO 20
#define PAR_MIN 16384

/* The use set (a VgWinogradUse); -1 until VISAGE_CONV is read (atomic: the first convolution
 * may run on any thread). */
static gint use_set = -1;

void
vg_conv_winograd_set_use (VgWinogradUse use)
{
  g_atomic_int_set (&use_set, use);
}

VgWinogradUse
vg_conv_winograd_use (void)
{
  if (g_atomic_int_get (&use_set) < 0)
    {
      VgWinogradUse use = g_strcmp0 (g_getenv ("VISAGE_CONV"), "direct") == 0
                              ? VG_WINOGRAD_NONE
                              : VG_WINOGRAD_ALL;

      /* a use set meanwhile (vg_conv_winograd_set_use) wins over the environment */
      g_atomic_int_compare_and_exchange (&use_set, -1, use);
    }
  return (VgWinogradUse) g_atomic_int_get (&use_set);
}

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

/* The input gradient is the forward of the output gradient (Cout channels in, Cin out) with
 * the weight flipped, padding 2 - P. */
static gboolean
dinp_shape (int Cin, int Cout, int K, int S, int P, int G, int Dl)
{
  return vg_conv_winograd_shape (Cout, Cin, K, S, G, Dl) && P <= 2;
}

/* Tiles per chunk: a multiple of the AVX-512 kernels' 12 rows, at most all of them. */
static size_t
chunk_tiles (int Cin, int Cout, size_t ntiles)
{
  size_t t = CHUNK_FLOATS / ((size_t) NXI * (Cin + Cout)) / 12 * 12;

  t = MAX (t, (size_t) 12);
  return MIN (t, ntiles);
}

/* The weight gradient by tile: its fixed shares of the tiles, and the tiles of a block. */
#define DW_PARTS 4
#define DW_BLOCK 48

/* Tiles a thread takes at once through the forward by tile: a multiple of the products'
 * 12 rows, about 220 KiB of transforms. */
static int
run_block (int Ci, int Co)
{
  return MAX (12, 1536 / (Ci + Co) / 12 * 12);
}

static gboolean
run_by_tile (int Ci, int Co)
{
  return (size_t) Ci * Co <= (size_t) VG_WINOGRAD_TILE_CIN * VG_WINOGRAD_TILE_COUT;
}

static gboolean
dweight_by_tile (int Cin, int Cout)
{
  return (size_t) Cin * Cout <= (size_t) VG_WINOGRAD_DW_TILE_CIN * VG_WINOGRAD_DW_TILE_COUT;
}

static size_t
dweight_local_floats (int Cin, int Cout)
{
  if (!dweight_by_tile (Cin, Cout))
    return 0;
  return (size_t) DW_PARTS * NXI * ((size_t) Cin * Cout + (size_t) DW_BLOCK * (Cin + Cout));
}

/* Where the scratch goes: the transformed weight (or the weight gradient's sums), 36 Cin
 * Cout floats, then a chunk's two tile buffers of T (Cin + Cout) points each. */
size_t
vg_conv_winograd_scratch_floats (int B, int H, int W, int Cin, int Cout, int K, int S, int P,
                                 int G)
{
  if (!vg_conv_winograd_shape (Cin, Cout, K, S, G, 1)
      && !dinp_shape (Cin, Cout, K, S, P, G, 1))
    return 0;
  int Ho = vg_conv_out_size (H, K, S, P), Wo = vg_conv_out_size (W, K, S, P);
  if (Ho <= 0 || Wo <= 0)
    return 0;
  size_t nt = (size_t) B * MAX (tiles_of (Ho) * tiles_of (Wo), tiles_of (H) * tiles_of (W));
  size_t T = chunk_tiles (Cin, Cout, nt);
  return (size_t) NXI * Cin * Cout
         + MAX ((size_t) NXI * T * (Cin + Cout), dweight_local_floats (Cin, Cout));
}

/* ---- transforms ------------------------------------------------------------------------ */

/* LANES channels: written with GCC's vector extension, so each clone of a transform works
 * on whole vectors (AVX-512: one register; AVX2: two). Loads and stores are unaligned. */
typedef float lanes_t __attribute__ ((vector_size (LANES * sizeof (float)), aligned (4)));
typedef int lanes_i __attribute__ ((vector_size (LANES * sizeof (float)), aligned (4)));

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

/* r[k rs] = (G^T s)[k] for one line of six values s[k ss] (G^T: 3 x 6): the adjoint of
 * filter6, for the weight gradient. */
static inline __attribute__ ((always_inline)) void
gather3 (lanes_t *r, int rs, const lanes_t *s, int ss)
{
  lanes_t s0 = s[0], s1 = s[ss], s2 = s[2 * ss], s3 = s[3 * ss], s4 = s[4 * ss], s5 = s[5 * ss];

  r[0] = s0 / 4 - (s1 + s2) / 6 + (s3 + s4) / 24;
  r[rs] = (s2 - s1) / 6 + (s3 - s4) / 12;
  r[2 * rs] = (s3 + s4 - s1 - s2) / 6 + s5;
}

/* r[k rs] = (A y)[k] for one line of four values y[k s] (A: 6 x 4): the adjoint of output4,
 * for the output gradient. */
static inline __attribute__ ((always_inline)) void
scatter6 (lanes_t *r, int rs, const lanes_t *y, int s)
{
  lanes_t y0 = y[0], y1 = y[s], y2 = y[2 * s], y3 = y[3 * s];
  lanes_t p02 = y0 + y2, d13 = y1 + y3, q02 = y0 + 4 * y2, e13 = 2 * y1 + 8 * y3;

  r[0] = y0;
  r[rs] = p02 + d13;
  r[2 * rs] = p02 - d13;
  r[3 * rs] = q02 + e13;
  r[4 * rs] = q02 - e13;
  r[5 * rs] = y3;
}

/* U (36, rows, lanes): point (i, j) of G g G^T for every pair of channels, the taps of
 * pair (r, l) at weight[r rs + l ls + k] (k < 9), flipped (k -> 8 - k) when asked: the
 * forward's U (36, Cin, Cout) from the weight (Cout, Cin, 3, 3), or the input gradient's
 * (36, Cout, Cin) from the same weight flipped. Vectors run over the lanes. */
static SIMD_CLONES void
transform_weight_row (float *U, const float *weight, int rows, int lanes, ptrdiff_t rs,
                      ptrdiff_t ls, gboolean flip, int r)
{
  for (int l0 = 0; l0 < lanes; l0 += LANES)
    {
      int n = MIN (LANES, lanes - l0);
      lanes_t g[9] = { 0 }, t[3 * ALPHA], u[NXI];

      for (int l = 0; l < n; l++)
        for (int k = 0; k < 9; k++)
          g[k][l] = weight[r * rs + (l0 + l) * ls + (flip ? 8 - k : k)];
      for (int k = 0; k < 3; k++) /* G down each column of taps: t (6 x 3) */
        filter6 (&t[k], 3, &g[k], 3);
      for (int i = 0; i < ALPHA; i++) /* then each row of t times G^T */
        filter6 (&u[i * ALPHA], 1, &t[i * 3], 1);
      for (int xi = 0; xi < NXI; xi++)
        store_lanes (U + ((size_t) xi * rows + r) * lanes + l0, u[xi], n);
    }
}

static void
transform_weight (float *U, const float *weight, int Cin, int Cout, gboolean flip)
{
  int rows = flip ? Cout : Cin, lanes = flip ? Cin : Cout;
  ptrdiff_t rs = flip ? (ptrdiff_t) 9 * Cin : 9, ls = flip ? 9 : (ptrdiff_t) 9 * Cin;

#pragma omp parallel for schedule(static) if ((size_t) Cin * Cout > 4096)
  for (int r = 0; r < rows; r++)
    transform_weight_row (U, weight, rows, lanes, rs, ls, flip, r);
}

/* dweight (Cout, Cin, 3, 3) += G^T S G for every pair, S point xi at Sacc (36, Cin, Cout)
 * (G^T: 3 x 6); vectors run over the output channels. */
static SIMD_CLONES void
untransform_dweight_row (float *dweight, const float *Sacc, int Cin, int Cout, int ci)
{
  for (int c0 = 0; c0 < Cout; c0 += LANES)
    {
      int n = MIN (LANES, Cout - c0);
      lanes_t m[NXI], t[3 * ALPHA], w[9];

      for (int xi = 0; xi < NXI; xi++)
        load_lanes (&m[xi], Sacc + ((size_t) xi * Cin + ci) * Cout + c0, n);
      for (int x = 0; x < ALPHA; x++) /* G^T down each column: t (3 x 6) */
        gather3 (&t[x], ALPHA, &m[x], ALPHA);
      for (int i = 0; i < 3; i++) /* then each row times G: w (3 x 3) */
        gather3 (&w[i * 3], 1, &t[i * ALPHA], 1);
      for (int l = 0; l < n; l++)
        for (int k = 0; k < 9; k++)
          dweight[((size_t) (c0 + l) * Cin + ci) * 9 + k] += w[k][l];
    }
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
 * at M[xi ms + c]; with relu their ReLU, vg_relu_forward's x < 0 ? 0 : x (as a mask on the
 * bits, so NaN and -0 pass). */
static SIMD_CLONES void
transform_output_tile (float *img, const float *M, size_t ms, const float *bias, int Ho,
                       int Wo, int C, int y0, int x0, int relu)
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
          {
            lanes_t v = o[y * TILE + x] + b;

            if (relu)
              v = (lanes_t) ((lanes_i) v & ~(v < (lanes_t){ 0 }));
            store_lanes (img + ((size_t) (y0 + y) * Wo + x0 + x) * C + c0, v, n);
          }
    }
}

/* Y[xi ys + c] (c < C) = point xi of A dy A^T, dy the 4 x 4 tile of the output gradient
 * img (Ho, Wo, C) from (y0, x0), zero outside. */
static SIMD_CLONES void
transform_dout_tile (float *Y, size_t ys, const float *img, int Ho, int Wo, int C, int y0,
                     int x0)
{
  for (int c0 = 0; c0 < C; c0 += LANES)
    {
      int n = MIN (LANES, C - c0);
      lanes_t d[TILE * TILE], t[ALPHA * TILE], y[NXI];

      for (int r = 0; r < TILE; r++)
        for (int x = 0; x < TILE; x++)
          {
            if (y0 + r >= Ho || x0 + x >= Wo)
              d[r * TILE + x] = (lanes_t){ 0 };
            else
              load_lanes (&d[r * TILE + x], img + ((size_t) (y0 + r) * Wo + x0 + x) * C + c0,
                          n);
          }
      for (int x = 0; x < TILE; x++) /* A down each column: t (6 x 4) */
        scatter6 (&t[x], TILE, &d[x], TILE);
      for (int i = 0; i < ALPHA; i++) /* then each row times A^T: y (6 x 6) */
        scatter6 (&y[i * ALPHA], 1, &t[i * TILE], 1);
      for (int xi = 0; xi < NXI; xi++)
        store_lanes (Y + xi * ys + c0, y[xi], n);
    }
}

/* ---- the convolution and its gradients ------------------------------------------------- */

/* Tile i of a map of th x tw tiles per image: its image and its first pixel. */
static void
tile_at (size_t i, int th, int tw, size_t *b, int *y, int *x)
{
  size_t r = i % ((size_t) th * tw);

  *b = i / ((size_t) th * tw);
  *y = (int) (r / tw) * TILE;
  *x = (int) (r % tw) * TILE;
}

/* V (tiles nt, 36, Ci) = the input transforms of tiles t0 .. t0 + nt - 1 of inp (B, H, W, Ci)
 * read with padding P, th x tw tiles an image; threads share the tiles. */
static void
input_chunk (float *V, const float *inp, size_t t0, int nt, int th, int tw, int H, int W,
             int Ci, int P, size_t work)
{
#pragma omp parallel for schedule(static) if (work > PAR_MIN)
  for (int i = 0; i < nt; i++)
    {
      size_t b;
      int y, x;
      tile_at (t0 + i, th, tw, &b, &y, &x);
      transform_input_tile (V + (size_t) i * NXI * Ci, Ci, inp + b * H * W * Ci, H, W, Ci,
                            y - P, x - P);
    }
}

/* out (B, Ho, Wo, Co) = bias + the 3x3 stride-1 convolution of inp (B, H, W, Ci) with padding
 * P, the weight transformed as U (36, Ci, Co); V and M two chunks of T tiles. */
static void
winograd_run (float *out, const float *inp, const float *U, const float *bias, float *V,
              float *M, size_t T, int B, int H, int W, int Ci, int Co, int P, int Ho, int Wo,
              int relu)
{
  int th = tiles_of (Ho), tw = tiles_of (Wo);
  size_t ntiles = (size_t) B * th * tw, per_tile = (size_t) NXI * (Ci + Co);

  if (run_by_tile (Ci, Co))
    {
      /* by tile: each thread takes a share of the tiles through the input transform, the 36
       * products and the output transform a block at a time (in its cache throughout); each
       * tile's outputs are the same floats whoever computes them */
#pragma omp parallel if (ntiles * per_tile > PAR_MIN)
      {
        size_t nthr = (size_t) omp_get_num_threads (), me = (size_t) omp_get_thread_num ();
        size_t w = MIN (nthr, T), per = MIN (T / w, (size_t) run_block (Ci, Co));

        if (me < w)
          {
            float *Vm = V + me * per * NXI * Ci, *Mm = M + me * per * NXI * Co;
            size_t t1 = ntiles * (me + 1) / w;

            for (size_t t0 = ntiles * me / w; t0 < t1; t0 += per)
              {
                int nt = (int) MIN (per, t1 - t0);

                for (int i = 0; i < nt; i++)
                  {
                    size_t b;
                    int y, x;
                    tile_at (t0 + i, th, tw, &b, &y, &x);
                    transform_input_tile (Vm + (size_t) i * NXI * Ci, Ci, inp + b * H * W * Ci,
                                          H, W, Ci, y - P, x - P);
                  }
                for (int xi = 0; xi < NXI; xi++)
                  vg_conv_direct_gemm (Mm + (size_t) xi * Co, NXI * Co, Vm + (size_t) xi * Ci,
                                       NXI * Ci, U + (size_t) xi * Ci * Co, Co, NULL, nt, Co,
                                       Ci);
                for (int i = 0; i < nt; i++)
                  {
                    size_t b;
                    int y, x;
                    tile_at (t0 + i, th, tw, &b, &y, &x);
                    transform_output_tile (out + b * Ho * Wo * Co, Mm + (size_t) i * NXI * Co,
                                           Co, bias, Ho, Wo, Co, y, x, relu);
                  }
              }
          }
      }
      return;
    }

  for (size_t t0 = 0; t0 < ntiles; t0 += T)
    {
      int nt = (int) MIN (T, ntiles - t0);

      input_chunk (V, inp, t0, nt, th, tw, H, W, Ci, P, nt * per_tile);
#pragma omp parallel for schedule(static) if (nt * per_tile > PAR_MIN)
      for (int xi = 0; xi < NXI; xi++)
        vg_conv_direct_gemm (M + (size_t) xi * Co, NXI * Co, V + (size_t) xi * Ci, NXI * Ci,
                             U + (size_t) xi * Ci * Co, Co, NULL, nt, Co, Ci);
#pragma omp parallel for schedule(static) if (nt * per_tile > PAR_MIN)
      for (int i = 0; i < nt; i++)
        {
          size_t b;
          int y, x;
          tile_at (t0 + i, th, tw, &b, &y, &x);
          transform_output_tile (out + b * Ho * Wo * Co, M + (size_t) i * NXI * Co, Co, bias,
                                 Ho, Wo, Co, y, x, relu);
        }
    }
}

/* The scratch's parts for this shape: U or the sums, then the two chunk buffers. */
static size_t
scratch_tiles (int B, int H, int W, int Cin, int Cout, int P)
{
  int Ho = vg_conv_out_size (H, 3, 1, P), Wo = vg_conv_out_size (W, 3, 1, P);
  size_t nt = (size_t) B * MAX (tiles_of (Ho) * tiles_of (Wo), tiles_of (H) * tiles_of (W));

  return chunk_tiles (Cin, Cout, nt);
}

gboolean
vg_conv_winograd_forward (float *out, const float *inp, const float *weight, const float *bias,
                          float *scratch, int B, int H, int W, int Cin, int Cout, int K, int S,
                          int P, int G, int relu)
{
  int vl = vg_conv_direct_vector_floats ();

  if (vl == 0 || Cout % vl != 0 || !vg_conv_winograd_shape (Cin, Cout, K, S, G, 1)
      || vg_conv_winograd_use () != VG_WINOGRAD_ALL)
    return FALSE;
  int Ho = vg_conv_out_size (H, K, S, P), Wo = vg_conv_out_size (W, K, S, P);
  if (Ho <= 0 || Wo <= 0)
    return FALSE;
  size_t T = scratch_tiles (B, H, W, Cin, Cout, P);
  float *U = scratch, *V = U + (size_t) NXI * Cin * Cout, *M = V + (size_t) NXI * T * Cin;

  transform_weight (U, weight, Cin, Cout, FALSE);
  winograd_run (out, inp, U, bias, V, M, T, B, H, W, Cin, Cout, P, Ho, Wo, relu);
  return TRUE;
}

/* Sacc (36, Cin, Cout) += sum over the tiles of V^T Y point by point: V the input's
 * transformed tiles, Y the output gradient's; chunks in order, threads share the points. */
static void
dweight_sums (float *Sacc, const float *inp, const float *dout, float *V, float *Y, size_t T,
              int B, int H, int W, int Cin, int Cout, int P, int Ho, int Wo)
{
  int th = tiles_of (Ho), tw = tiles_of (Wo);
  size_t ntiles = (size_t) B * th * tw, per_tile = (size_t) NXI * (Cin + Cout);

  memset (Sacc, 0, sizeof (float) * NXI * Cin * Cout);
  for (size_t t0 = 0; t0 < ntiles; t0 += T)
    {
      int nt = (int) MIN (T, ntiles - t0);

      input_chunk (V, inp, t0, nt, th, tw, H, W, Cin, P, nt * per_tile);
#pragma omp parallel for schedule(static) if (nt * per_tile > PAR_MIN)
      for (int i = 0; i < nt; i++)
        {
          size_t b;
          int y, x;
          tile_at (t0 + i, th, tw, &b, &y, &x);
          transform_dout_tile (Y + (size_t) i * NXI * Cout, Cout, dout + b * Ho * Wo * Cout,
                               Ho, Wo, Cout, y, x);
        }
#pragma omp parallel for schedule(static) if (nt * per_tile > PAR_MIN)
      for (int xi = 0; xi < NXI; xi++)
        vg_conv_direct_gemm_at (Sacc + (size_t) xi * Cin * Cout, Cout, V + (size_t) xi * Cin,
                                NXI * Cin, Y + (size_t) xi * Cout, NXI * Cout, Cin, Cout, nt);
    }
}

/* Sacc (36, Cin, Cout) = the same sums by tile, part by part: part p (of DW_PARTS,
 * whatever the thread count) transforms its share of the tiles a block at a time into
 * buffers of its own and multiplies them at once, point by point, into sums of its own at
 * local; then the parts are added in order. */
static void
dweight_sums_local (float *Sacc, float *local, const float *inp, const float *dout, int B,
                    int H, int W, int Cin, int Cout, int P, int Ho, int Wo)
{
  int th = tiles_of (Ho), tw = tiles_of (Wo);
  int block = DW_BLOCK;
  size_t ntiles = (size_t) B * th * tw, ssize = (size_t) NXI * Cin * Cout;
  size_t per_part = ssize + (size_t) block * NXI * (Cin + Cout);

#pragma omp parallel for schedule(static) if (ntiles * NXI * (Cin + Cout) > PAR_MIN)
  for (int p = 0; p < DW_PARTS; p++)
    {
      float *S = local + p * per_part, *V = S + ssize, *Y = V + (size_t) block * NXI * Cin;
      size_t t1 = ntiles * (p + 1) / DW_PARTS;

      memset (S, 0, sizeof (float) * ssize);
      for (size_t t0 = ntiles * p / DW_PARTS; t0 < t1; t0 += block)
        {
          int nt = (int) MIN ((size_t) block, t1 - t0);

          for (int i = 0; i < nt; i++)
            {
              size_t b;
              int y, x;
              tile_at (t0 + i, th, tw, &b, &y, &x);
              transform_input_tile (V + (size_t) i * NXI * Cin, Cin, inp + b * H * W * Cin, H, W,
                                    Cin, y - P, x - P);
              transform_dout_tile (Y + (size_t) i * NXI * Cout, Cout,
                                   dout + b * Ho * Wo * Cout, Ho, Wo, Cout, y, x);
            }
          for (int xi = 0; xi < NXI; xi++)
            vg_conv_direct_gemm_at (S + (size_t) xi * Cin * Cout, Cout, V + (size_t) xi * Cin,
                                    NXI * Cin, Y + (size_t) xi * Cout, NXI * Cout, Cin, Cout,
                                    nt);
        }
    }
#pragma omp parallel for schedule(static) if (ssize > PAR_MIN)
  for (size_t i = 0; i < ssize; i++)
    {
      float sum = local[i];
      for (int p = 1; p < DW_PARTS; p++)
        sum += local[p * per_part + i];
      Sacc[i] = sum;
    }
}

void
vg_conv_winograd_backward (float **dinp, float **dweight, const float *dout, const float *inp,
                           const float *weight, float *scratch, int B, int H, int W, int Cin,
                           int Cout, int K, int S, int P, int G)
{
  int vl = vg_conv_direct_vector_floats ();

  if (vl == 0 || vg_conv_winograd_use () == VG_WINOGRAD_NONE)
    return;
  int Ho = vg_conv_out_size (H, K, S, P), Wo = vg_conv_out_size (W, K, S, P);
  if (Ho <= 0 || Wo <= 0)
    return;
  size_t T = scratch_tiles (B, H, W, Cin, Cout, P);
  float *U = scratch, *V = U + (size_t) NXI * Cin * Cout, *M = V + (size_t) NXI * T * Cin;

  if (*dweight != NULL && Cout % vl == 0 && vg_conv_winograd_shape (Cin, Cout, K, S, G, 1)
      && (dweight_by_tile (Cin, Cout)
          || (size_t) Cin * Cout >= (size_t) BWD_MIN_RATIO * (Cin + Cout)))
    {
      float *dw = *dweight;

      if (dweight_by_tile (Cin, Cout))
        dweight_sums_local (U, V, inp, dout, B, H, W, Cin, Cout, P, Ho, Wo);
      else
        dweight_sums (U, inp, dout, V, M, T, B, H, W, Cin, Cout, P, Ho, Wo);
#pragma omp parallel for schedule(static) if ((size_t) Cin * Cout > 4096)
      for (int ci = 0; ci < Cin; ci++)
        untransform_dweight_row (dw, U, Cin, Cout, ci);
      *dweight = NULL;
    }
  if (*dinp != NULL && Cin % vl == 0 && dinp_shape (Cin, Cout, K, S, P, G, 1))
    {
      /* the forward of dout (Cout channels in, Cin out) with the flipped weight: V holds
       * T Cout points and M T Cin, the chunk buffers' sizes swapped */
      transform_weight (U, weight, Cin, Cout, TRUE);
      winograd_run (*dinp, dout, U, NULL, V, V + (size_t) NXI * T * Cout, T, B, Ho, Wo, Cout,
                    Cin, 2 - P, H, W, FALSE);
      *dinp = NULL;
    }
}
