/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Direct (implicit-GEMM) kernels of the one-group 2-D convolution, channels-last, for the
 * im2col path of conv2d.c: the same products without the column matrix, which for few
 * channels (3->16, 16->16 at full resolution) costs more memory traffic than arithmetic.
 * Letters as in conv2d.c: B batch, H W in, Ho Wo out, Cin Cout, K kernel, S stride,
 * P padding, Dl dilation, KK = K*K taps, t a tap (kh * K + kw).
 *
 * The input of a chunk of images is first copied with its zero border, xp (nb, Hp, Wp, Cin)
 * with Hp = H + 2P, so every tap of every output pixel reads inside it: output pixel
 * (b, oh, ow) and tap t read xp pixel (b, oh S + kh Dl, ow S + kw Dl), and along a row of
 * outputs those pixels are S*Cin floats apart. Then
 * - forward: out (pixels, Cout) = sum over t of xp shifted by t (pixels, Cin) @ wf_t
 *   (Cin, Cout), with the weight packed as wf (KK, Cin, Cout); a micro-kernel holds MR
 *   pixels by NV vectors of output channels in registers over all taps and channels;
 * - input gradient (S = 1): the forward of the padded dout (border Pd = Dl (K-1) - P) with
 *   the weight flipped and transposed, wd (KK, Cout, Cin);
 * - weight gradient: for each tap, dW_t (Cout, Cin) += dout^T (Cout, pixels) @ xp shifted by
 *   t (pixels, Cin); a micro-kernel holds MR input channels by NV vectors of output channels
 *   over a band of output rows that stays in cache.
 * Vectors run over Cout (forward, dweight) or Cin (input gradient), so those need a multiple
 * of the vector width; other shapes stay with im2col.
 *
 * Threads: forward and input gradient share output rows (each pixel one call, one order);
 * the weight gradient shares its tiles (tap, output-channel block, input-channel block),
 * each summing the bands in turn: no result depends on the thread count.
 *
 * Kernels: GCC vector extensions compiled for AVX-512 (12 x 32 and 12 x 16 outputs) and
 * AVX2+FMA (6 x 16), chosen as the GEMM's (AVX-512 unless VISAGE_GEMM forces avx2 or blas;
 * BLAS, bf16 inference and other compilers keep im2col). */
#include "vg-conv-direct.h"
#include "vg-conv-shape.h"
#include "vg-gemm.h"

#include <string.h>

/* Floats of a chunk's padded copy: images are added while they fit (at least one). */
#define DIRECT_CHUNK_FLOATS ((size_t) 4 << 20)
/* Floats of the dout and input rows of one weight-gradient band (they stay in L2). */
#define BAND_FLOATS ((size_t) 48 << 10)
/* Floats of the weight gradient's partial sums (each part one share of the rows). */
#define PARTS_FLOATS ((size_t) 4 << 20)
#define PAR_MIN 16384
/* Output pixels (B Ho Wo) below which the weight gradient stays with im2col. */
#ifndef DWEIGHT_MIN_PIXELS
#define DWEIGHT_MIN_PIXELS 4096
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)

typedef float v16 __attribute__ ((vector_size (64)));
typedef float v16u __attribute__ ((vector_size (64), aligned (4)));
typedef float v8 __attribute__ ((vector_size (32)));
typedef float v8u __attribute__ ((vector_size (32), aligned (4)));

/* out (MR pixels r at out + r ldo; NV vectors) = bias + sum over nt taps and C channels of
 * a[toff[t] + r ars + c] w[woff[t] + c ldw + lanes]. */
typedef void (*FwdKernel) (int nt, const ptrdiff_t *toff, int C, const float *a, ptrdiff_t ars,
                           const float *w, ptrdiff_t ldw, const ptrdiff_t *woff,
                           const float *bias, float *out, ptrdiff_t ldo);

#define FWD_BODY(V, VU, MR, NV)                                                            \
  enum { VL = sizeof (V) / sizeof (float) };                                               \
  V acc[MR][NV];                                                                           \
  _Pragma ("GCC unroll 4") for (int v = 0; v < NV; v++)                                    \
    {                                                                                      \
      V b0 = bias != NULL ? *(const VU *) (bias + v * VL) : (V) { 0 };                     \
      _Pragma ("GCC unroll 16") for (int r = 0; r < MR; r++) acc[r][v] = b0;               \
    }                                                                                      \
  for (int t = 0; t < nt; t++)                                                             \
    {                                                                                      \
      const float *at = a + toff[t], *wt = w + woff[t];                                    \
      for (int c = 0; c < C; c++)                                                          \
        {                                                                                  \
          V wv[NV];                                                                        \
          _Pragma ("GCC unroll 4") for (int v = 0; v < NV; v++)                            \
            wv[v] = *(const VU *) (wt + c * ldw + v * VL);                                 \
          _Pragma ("GCC unroll 16") for (int r = 0; r < MR; r++)                           \
            {                                                                              \
              V ar = at[r * ars + c] - (V) { 0 }; /* a broadcast */                        \
              _Pragma ("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][v] += ar * wv[v]; \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
  _Pragma ("GCC unroll 16") for (int r = 0; r < MR; r++)                                   \
    _Pragma ("GCC unroll 4") for (int v = 0; v < NV; v++)                                  \
      *(VU *) (out + r * ldo + v * VL) = acc[r][v];

#define FWD_KERNEL(name, isa, V, VU, MR, NV)                                                 \
  static __attribute__ ((target (isa))) void name (                                         \
    int nt, const ptrdiff_t *toff, int C, const float *restrict a, ptrdiff_t ars,            \
    const float *restrict w, ptrdiff_t ldw, const ptrdiff_t *woff,                           \
    const float *restrict bias, float *restrict out, ptrdiff_t ldo)                          \
  {                                                                                          \
    FWD_BODY (V, VU, MR, NV)                                                                 \
  }

/* acc (MR rows of NV vectors) = sum over rows y < ny and pixels x < nx of
 * a[y arow + x apx + r] g[y grow + x gpx + lanes]: one tap's weight-gradient tile, the input
 * channels r of a by the output channels of g. */
typedef void (*GradKernel) (int ny, int nx, const float *a, ptrdiff_t arow, ptrdiff_t apx,
                            const float *g, ptrdiff_t grow, ptrdiff_t gpx, float *acc);

#define GRAD_BODY(V, VU, MR, NV)                                                           \
  enum { VL = sizeof (V) / sizeof (float) };                                               \
  V s[MR][NV];                                                                             \
  _Pragma ("GCC unroll 16") for (int r = 0; r < MR; r++)                                   \
    _Pragma ("GCC unroll 4") for (int v = 0; v < NV; v++) s[r][v] = (V) { 0 };             \
  for (int y = 0; y < ny; y++)                                                             \
    {                                                                                      \
      const float *ay = a + y * arow, *gy = g + y * grow;                                  \
      for (int x = 0; x < nx; x++)                                                         \
        {                                                                                  \
          V gv[NV];                                                                        \
          _Pragma ("GCC unroll 4") for (int v = 0; v < NV; v++)                            \
            gv[v] = *(const VU *) (gy + x * gpx + v * VL);                                 \
          _Pragma ("GCC unroll 16") for (int r = 0; r < MR; r++)                           \
            {                                                                              \
              V ar = ay[x * apx + r] - (V) { 0 };                                          \
              _Pragma ("GCC unroll 4") for (int v = 0; v < NV; v++) s[r][v] += ar * gv[v]; \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
  _Pragma ("GCC unroll 16") for (int r = 0; r < MR; r++)                                   \
    _Pragma ("GCC unroll 4") for (int v = 0; v < NV; v++)                                  \
      *(VU *) (acc + (r * NV + v) * VL) = s[r][v];

#define GRAD_KERNEL(name, isa, V, VU, MR, NV)                                                \
  static __attribute__ ((target (isa))) void name (                                         \
    int ny, int nx, const float *restrict a, ptrdiff_t arow, ptrdiff_t apx,                  \
    const float *restrict g, ptrdiff_t grow, ptrdiff_t gpx, float *restrict acc)             \
  {                                                                                          \
    GRAD_BODY (V, VU, MR, NV)                                                                \
  }

#define AVX512 "avx512f,fma"
#define AVX2 "avx2,fma"

FWD_KERNEL (fwd512_12x2, AVX512, v16, v16u, 12, 2)
FWD_KERNEL (fwd512_12x1, AVX512, v16, v16u, 12, 1)
FWD_KERNEL (fwd512_4x2, AVX512, v16, v16u, 4, 2)
FWD_KERNEL (fwd512_4x1, AVX512, v16, v16u, 4, 1)
FWD_KERNEL (fwd512_1x2, AVX512, v16, v16u, 1, 2)
FWD_KERNEL (fwd512_1x1, AVX512, v16, v16u, 1, 1)
FWD_KERNEL (fwd256_6x2, AVX2, v8, v8u, 6, 2)
FWD_KERNEL (fwd256_6x1, AVX2, v8, v8u, 6, 1)
FWD_KERNEL (fwd256_2x2, AVX2, v8, v8u, 2, 2)
FWD_KERNEL (fwd256_2x1, AVX2, v8, v8u, 2, 1)
FWD_KERNEL (fwd256_1x2, AVX2, v8, v8u, 1, 2)
FWD_KERNEL (fwd256_1x1, AVX2, v8, v8u, 1, 1)

GRAD_KERNEL (grad512_16x1, AVX512, v16, v16u, 16, 1)
GRAD_KERNEL (grad512_8x2, AVX512, v16, v16u, 8, 2)
GRAD_KERNEL (grad512_4x1, AVX512, v16, v16u, 4, 1)
GRAD_KERNEL (grad512_4x2, AVX512, v16, v16u, 4, 2)
GRAD_KERNEL (grad512_1x1, AVX512, v16, v16u, 1, 1)
GRAD_KERNEL (grad512_1x2, AVX512, v16, v16u, 1, 2)
GRAD_KERNEL (grad256_8x1, AVX2, v8, v8u, 8, 1)
GRAD_KERNEL (grad256_4x2, AVX2, v8, v8u, 4, 2)
GRAD_KERNEL (grad256_2x1, AVX2, v8, v8u, 2, 1)
GRAD_KERNEL (grad256_2x2, AVX2, v8, v8u, 2, 2)
GRAD_KERNEL (grad256_1x1, AVX2, v8, v8u, 1, 1)
GRAD_KERNEL (grad256_1x2, AVX2, v8, v8u, 1, 2)

/* One instruction set's kernels: [size: large, small, one][NV - 1]. */
typedef struct
{
  int vl;         /* floats per vector */
  int fwd_mr[3];  /* pixels of the forward kernels */
  FwdKernel fwd[3][2];
  int grad_mr[3]; /* input channels of the weight-gradient kernels (large for NV = 1) */
  GradKernel grad[3][2];
} KernelSet;

static const KernelSet set512 = {
  16, { 12, 4, 1 }, { { fwd512_12x1, fwd512_12x2 }, { fwd512_4x1, fwd512_4x2 },
                      { fwd512_1x1, fwd512_1x2 } },
  { 16, 4, 1 }, { { grad512_16x1, grad512_8x2 }, { grad512_4x1, grad512_4x2 },
                  { grad512_1x1, grad512_1x2 } },
};

static const KernelSet set256 = {
  8, { 6, 2, 1 }, { { fwd256_6x1, fwd256_6x2 }, { fwd256_2x1, fwd256_2x2 },
                    { fwd256_1x1, fwd256_1x2 } },
  { 8, 2, 1 }, { { grad256_8x1, grad256_4x2 }, { grad256_2x1, grad256_2x2 },
                 { grad256_1x1, grad256_1x2 } },
};

/* The kernels for this process's GEMM choice, NULL for im2col. */
static const KernelSet *
kernels (void)
{
  if (vg_gemm_precision () != VG_PRECISION_FP32)
    return NULL;
  if (vg_gemm_narrow_enabled ())
    return &set512;
  if (vg_gemm_cpu_isa () >= VG_ISA_AVX2 && vg_gemm_large_path () == VG_GEMM_AVX2)
    return &set256;
  return NULL;
}

#else

typedef struct
{
  int vl;
} KernelSet;

static const KernelSet *
kernels (void)
{
  return NULL;
}

#endif

/* ---- shapes ------------------------------------------------------------------------------ */

static int
chunk_images (int B, size_t per_image)
{
  size_t nb = per_image > 0 ? DIRECT_CHUNK_FLOATS / per_image : (size_t) B;

  return nb < 1 ? 1 : nb > (size_t) B ? B : (int) nb;
}

/* The border of the padded dout for the input gradient, -1 if the direct kernel cannot take
 * it (stride, or a padding wider than the taps reach). */
static int
dinp_border (int K, int S, int P, int Dl)
{
  int Pd = Dl * (K - 1) - P;

  return S == 1 && Pd >= 0 ? Pd : -1;
}

/* Floats of one image's padded copy for the passes this shape takes (0: none). */
static size_t
padded_per_image (int H, int W, int Cin, int Cout, int K, int S, int P, int Dl, int vl)
{
  int Ho = vg_conv_out_size_dilated (H, K, S, P, Dl);
  int Wo = vg_conv_out_size_dilated (W, K, S, P, Dl);
  int Pd = dinp_border (K, S, P, Dl);
  size_t n = 0;

  if (Cout % vl == 0) /* forward and weight gradient */
    n = (size_t) (H + 2 * P) * (W + 2 * P) * Cin;
  if (Pd >= 0 && Cin % vl == 0)
    n = MAX (n, (size_t) (Ho + 2 * Pd) * (Wo + 2 * Pd) * Cout);
  return n;
}

/* Where the scratch goes: the packed weight (KK, Cin, Cout), the weight gradient's nparts
 * partial sums, then the padded copy of nb images. Shape only. */
typedef struct
{
  int nb, nparts;
  size_t per, parts_at, xp_at, total;
} Layout;

static Layout
layout (int B, int H, int W, int Cin, int Cout, int K, int S, int P, int Dl)
{
  Layout l = { 0 };
  size_t wsize = (size_t) K * K * Cin * Cout;
  int Ho = vg_conv_out_size_dilated (H, K, S, P, Dl);

  /* the smallest vector width: the AVX2 kernels may be forced later */
  l.per = padded_per_image (H, W, Cin, Cout, K, S, P, Dl, 8);
  if (l.per == 0)
    return l;
  l.nb = chunk_images (B, l.per);
  l.nparts = (int) CLAMP (PARTS_FLOATS / wsize, 2, 16) & ~1;
  l.nparts = MAX (1, MIN (l.nparts, l.nb * Ho));
  l.parts_at = wsize;
  l.xp_at = l.parts_at + (size_t) l.nparts * wsize;
  l.total = l.xp_at + (size_t) l.nb * l.per;
  return l;
}

size_t
vg_conv_direct_scratch_floats (int B, int H, int W, int Cin, int Cout, int K, int S, int P,
                               int Dl)
{
  return layout (B, H, W, Cin, Cout, K, S, P, Dl).total;
}

/* xp (nb, H + 2P, W + 2P, C) = inp (nb, H, W, C) with a zero border of P pixels. */
static void
pad_copy (float *xp, const float *inp, int nb, int H, int W, int C, int P)
{
  int Hp = H + 2 * P, Wp = W + 2 * P;

#pragma omp parallel for collapse(2) schedule(static) if ((size_t) nb * Hp * Wp * C > PAR_MIN)
  for (int b = 0; b < nb; b++)
    for (int y = 0; y < Hp; y++)
      {
        float *d = xp + ((size_t) b * Hp + y) * Wp * C;
        int ih = y - P;
        if (ih < 0 || ih >= H)
          {
            memset (d, 0, sizeof (float) * Wp * C);
            continue;
          }
        memset (d, 0, sizeof (float) * P * C);
        memcpy (d + (size_t) P * C, inp + ((size_t) b * H + ih) * W * C, sizeof (float) * W * C);
        memset (d + (size_t) (P + W) * C, 0, sizeof (float) * P * C);
      }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)

/* The taps of a K-long axis that read inside the input for some output of [o0, o1): output
 * o and tap k read padded position o S + k Dl, the input lying at [P, P + n). */
static inline gboolean
tap_reads_input (int k, int o0, int o1, int S, int Dl, int P, int n)
{
  return (o1 - 1) * S + k * Dl >= P && o0 * S + k * Dl < P + n;
}

/* out (nb, Ho, Wo, Co) = the convolution of the padded xp (nb, Hp, Wp, Ci) (a border of P
 * around the input) with the packed weight wp (KK, Ci, Co), stride S, taps Dl apart, plus
 * bias (Co) or NULL. A tap that reads only the zero border for every pixel of a kernel's
 * block is left out of its sum (the same floats: it would add products of 0): at 32x32
 * with d = 18, 61% of the taps of DeepLabV3+'s dilated convolutions. */
static void
direct_rows (const KernelSet *ks, float *out, const float *xp, const float *wp,
             const float *bias, int nb, int Hp, int Wp, int P, int Ci, int Co, int K, int S,
             int Dl, int Ho, int Wo)
{
  int nv = Co % (2 * ks->vl) == 0 ? 2 : 1, cb = nv * ks->vl;
  int size = Wo >= ks->fwd_mr[0] ? 0 : Wo >= ks->fwd_mr[1] ? 1 : 2;
  int mr = ks->fwd_mr[size], H = Hp - 2 * P, W = Wp - 2 * P;
  FwdKernel kernel = ks->fwd[size][nv - 1];

#pragma omp parallel for collapse(2) schedule(static) \
  if ((size_t) nb * Ho * Wo * Co * Ci * K * K > PAR_MIN * 16)
  for (int b = 0; b < nb; b++)
    for (int oh = 0; oh < Ho; oh++)
      {
        const float *row = xp + ((size_t) b * Hp + (size_t) oh * S) * Wp * Ci;
        float *o = out + ((size_t) b * Ho + oh) * Wo * Co;
        ptrdiff_t toff[K * K], woff[K * K];

        for (int c0 = 0; c0 < Co; c0 += cb)
          /* a last block that would run past the row starts earlier: the pixels it shares
           * with the block before get the same values again */
          for (int w0 = 0; w0 < Wo; w0 += mr)
            {
              int ow = w0 + mr <= Wo ? w0 : Wo - mr, nt = 0;

              for (int kh = 0; kh < K; kh++)
                if (tap_reads_input (kh, oh, oh + 1, S, Dl, P, H))
                  for (int kw = 0; kw < K; kw++)
                    if (tap_reads_input (kw, ow, ow + mr, S, Dl, P, W))
                      {
                        toff[nt] = ((ptrdiff_t) kh * Dl * Wp + (ptrdiff_t) kw * Dl) * Ci;
                        woff[nt++] = (ptrdiff_t) (kh * K + kw) * Ci * Co;
                      }
              kernel (nt, toff, Ci, row + (size_t) ow * S * Ci, (ptrdiff_t) S * Ci, wp + c0, Co,
                      woff, bias != NULL ? bias + c0 : NULL, o + (size_t) ow * Co + c0, Co);
            }
      }
}

/* [*o0, *o1): the outputs (of nout) whose tap k reads inside the input (tap_reads_input) */
static inline void
tap_outputs (int k, int S, int Dl, int P, int n, int nout, int *o0, int *o1)
{
  int lo = P - k * Dl, hi = P + n - k * Dl; /* o S in [lo, hi) */

  *o0 = lo <= 0 ? 0 : MIN (nout, (lo + S - 1) / S);
  *o1 = hi <= 0 ? 0 : MIN (nout, (hi + S - 1) / S);
}

/* The weight gradient's tiles: a tile is one tap, or with `fold` = K one row of taps kh, whose
 * K taps (Dl = 1) read K Cin adjacent floats of xp for each output pixel: rows of the tile's
 * product (taps by input channels) that the kernels take in blocks, so that a layer of few
 * input channels (an image's 3) does not run K K Cin one-row products. */
static int
dweight_fold (const KernelSet *ks, int Cin, int Cout, int K, int Dl)
{
  int big = Cout % (2 * ks->vl) == 0 ? ks->grad_mr[0] / 2 : ks->grad_mr[0];

  return Dl == 1 && Cin < big ? K : 1;
}

/* One tile of the weight gradient, tap t (or row of taps t, fold = K) by output channels
 * [co, co + cb) by row block j of its rows (fold Cin of them: the large blocks, then the small
 * ones, then single rows), summed over ny output rows from row y of image b: part (Cout, Cin,
 * K, K) += it. Only the output pixels whose taps read inside the input (a border of P around
 * it) are summed: the others would add products of 0. */
static void
dweight_tile (const KernelSet *ks, float *part, const float *dout, const float *xp, int b,
              int y, int ny, int t, int fold, int co, int j, int Hp, int Wp, int P, int Cin,
              int Cout, int K, int S, int Dl, int Ho, int Wo)
{
  float acc[16 * 32] __attribute__ ((aligned (64)));
  int KK = K * K, nv = Cout % (2 * ks->vl) == 0 ? 2 : 1, cb = nv * ks->vl;
  int big = nv == 1 ? ks->grad_mr[0] : ks->grad_mr[0] / 2, small = ks->grad_mr[1];
  int R = fold * Cin, nbig = R / big, nsmall = (R % big) / small, r0, size, mr;
  int kh = fold == 1 ? t / K : t, kw = fold == 1 ? t % K : 0;

  if (j < nbig)
    r0 = j * big, size = 0, mr = big;
  else if (j < nbig + nsmall)
    r0 = nbig * big + (j - nbig) * small, size = 1, mr = small;
  else
    r0 = nbig * big + nsmall * small + (j - nbig - nsmall), size = 2, mr = 1;
  int y0, y1, x0, x1, unused;
  tap_outputs (kh, S, Dl, P, Hp - 2 * P, Ho, &y0, &y1);
  tap_outputs (kw + fold - 1, S, Dl, P, Wp - 2 * P, Wo, &x0, &unused);
  tap_outputs (kw, S, Dl, P, Wp - 2 * P, Wo, &unused, &x1);
  y0 = MAX (y0, y), y1 = MIN (y1, y + ny);
  if (y1 <= y0 || x1 <= x0)
    return;
  const float *a = xp + (((size_t) b * Hp + (size_t) y0 * S + kh * Dl) * Wp
                         + (size_t) x0 * S + (size_t) kw * Dl) * Cin + r0;
  const float *g = dout + (((size_t) b * Ho + y0) * Wo + x0) * Cout + co;
  ks->grad[size][nv - 1] (y1 - y0, x1 - x0, a, (ptrdiff_t) S * Wp * Cin, (ptrdiff_t) S * Cin, g,
                          (ptrdiff_t) Wo * Cout, Cout, acc);
  for (int r = 0; r < mr; r++)
    {
      int ci = (r0 + r) % Cin, tap = kh * K + kw + (r0 + r) / Cin;
      for (int c = 0; c < cb; c++)
        part[((size_t) (co + c) * Cin + ci) * KK + tap] += acc[r * cb + c];
    }
}

/* parts (nparts, Cout, Cin, K, K) += the weight gradient from dout (nb, Ho, Wo, Cout) and the
 * padded input xp (nb, Hp, Wp, Cin): part p sums the p-th share of the output rows, band by
 * band (a band's rows stay in cache while every tile reads them). */
static void
direct_dweight (const KernelSet *ks, float *parts, int nparts, const float *dout,
                const float *xp, int nb, int Hp, int Wp, int P, int Cin, int Cout, int K, int S,
                int Dl, int Ho, int Wo)
{
  int KK = K * K, nv = Cout % (2 * ks->vl) == 0 ? 2 : 1, cb = nv * ks->vl;
  int big = nv == 1 ? ks->grad_mr[0] : ks->grad_mr[0] / 2, small = ks->grad_mr[1];
  int fold = dweight_fold (ks, Cin, Cout, K, Dl), R = fold * Cin, ntaps = KK / fold;
  int nblocks = R / big + (R % big) / small + R % small;
  size_t row_floats = (size_t) Wo * Cout + (size_t) S * Wp * Cin;
  int band = (int) MAX ((size_t) 1, BAND_FLOATS / row_floats), rows = nb * Ho;
  size_t wsize = (size_t) Cout * Cin * KK;

#pragma omp parallel for schedule(static) if ((size_t) rows * Wo * Cout * Cin * KK > PAR_MIN)
  for (int p = 0; p < nparts; p++)
    {
      int r1 = (int) ((size_t) rows * (p + 1) / nparts);
      for (int r = (int) ((size_t) rows * p / nparts); r < r1;)
        {
          int b = r / Ho, y = r % Ho, ny = MIN (band, MIN (Ho - y, r1 - r));
          for (int t = 0; t < ntaps; t++)
            for (int co = 0; co < Cout; co += cb)
              for (int j = 0; j < nblocks; j++)
                dweight_tile (ks, parts + p * wsize, dout, xp, b, y, ny, t, fold, co, j, Hp, Wp,
                              P, Cin, Cout, K, S, Dl, Ho, Wo);
          r += ny;
        }
    }
}

#endif

int
vg_conv_direct_vector_floats (void)
{
  const KernelSet *ks = kernels ();

  return ks != NULL ? ks->vl : 0;
}

void
vg_conv_direct_gemm (float *out, ptrdiff_t ldo, const float *a, ptrdiff_t lda, const float *w,
                     ptrdiff_t ldw, const float *bias, int M, int N, int C)
{
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  const KernelSet *ks = kernels ();
  const ptrdiff_t toff[1] = { 0 };

  g_assert (ks != NULL && N % ks->vl == 0);
  int nv = N % (2 * ks->vl) == 0 ? 2 : 1, cb = nv * ks->vl;
  for (int c0 = 0; c0 < N; c0 += cb)
    for (int r = 0; r < M;)
      {
        /* the largest kernel that fits the rows left; a last block of the large kernel that
         * would run past M starts earlier (its shared rows get the same values again) */
        int size = M >= ks->fwd_mr[0] ? 0 : M - r >= ks->fwd_mr[1] ? 1 : 2;
        int mr = ks->fwd_mr[size], r0 = size == 0 && r + mr > M ? M - mr : r;
        ks->fwd[size][nv - 1] (1, toff, C, a + (size_t) r0 * lda, lda, w + c0, ldw, toff,
                               bias != NULL ? bias + c0 : NULL, out + (size_t) r0 * ldo + c0,
                               ldo);
        r = r0 + mr;
      }
#else
  (void) out, (void) ldo, (void) a, (void) lda, (void) w, (void) ldw, (void) bias, (void) M;
  (void) N, (void) C;
  g_assert_not_reached ();
#endif
}

void
vg_conv_direct_gemm_at (float *out, ptrdiff_t ldo, const float *a, ptrdiff_t lda,
                        const float *b, ptrdiff_t ldb, int M, int N, int K)
{
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  const KernelSet *ks = kernels ();
  float acc[16 * 32] __attribute__ ((aligned (64)));

  g_assert (ks != NULL && N % ks->vl == 0);
  int nv = N % (2 * ks->vl) == 0 ? 2 : 1, cb = nv * ks->vl;
  int big = nv == 1 ? ks->grad_mr[0] : ks->grad_mr[0] / 2, small = ks->grad_mr[1];

  for (int c0 = 0; c0 < N; c0 += cb)
    for (int m0 = 0; m0 < M;)
      {
        int size = M - m0 >= big ? 0 : M - m0 >= small ? 1 : 2;
        int mr = size == 0 ? big : size == 1 ? small : 1;
        ks->grad[size][nv - 1] (1, K, a + m0, 0, lda, b + c0, 0, ldb, acc);
        for (int r = 0; r < mr; r++)
          for (int c = 0; c < cb; c++)
            out[(size_t) (m0 + r) * ldo + c0 + c] += acc[r * cb + c];
        m0 += mr;
      }
#else
  (void) out, (void) ldo, (void) a, (void) lda, (void) b, (void) ldb, (void) M, (void) N;
  (void) K;
  g_assert_not_reached ();
#endif
}

gboolean
vg_conv_direct_forward (float *out, const float *inp, const float *weight, const float *bias,
                        float *scratch, int B, int H, int W, int Cin, int Cout, int K, int S,
                        int P, int Dl)
{
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  const KernelSet *ks = kernels ();
  int KK = K * K, Hp = H + 2 * P, Wp = W + 2 * P;
  int Ho = vg_conv_out_size_dilated (H, K, S, P, Dl);
  int Wo = vg_conv_out_size_dilated (W, K, S, P, Dl);

  if (ks == NULL || Cout % ks->vl != 0)
    return FALSE;
  Layout l = layout (B, H, W, Cin, Cout, K, S, P, Dl);
  int nb = l.nb;
  float *wp = scratch, *xp = scratch + l.xp_at;

  /* wp (KK, Cin, Cout) from weight (Cout, Cin, K, K) */
  for (int co = 0; co < Cout; co++)
    for (int ci = 0; ci < Cin; ci++)
      for (int t = 0; t < KK; t++)
        wp[((size_t) t * Cin + ci) * Cout + co] = weight[((size_t) co * Cin + ci) * KK + t];
  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = MIN (nb, B - b0);
      pad_copy (xp, inp + (size_t) b0 * H * W * Cin, n, H, W, Cin, P);
      direct_rows (ks, out + (size_t) b0 * Ho * Wo * Cout, xp, wp, bias, n, Hp, Wp, P, Cin, Cout,
                   K, S, Dl, Ho, Wo);
    }
  return TRUE;
#else
  (void) out, (void) inp, (void) weight, (void) bias, (void) scratch, (void) B, (void) H;
  (void) W, (void) Cin, (void) Cout, (void) K, (void) S, (void) P, (void) Dl;
  return FALSE;
#endif
}

void
vg_conv_direct_backward (float **dinp, float **dweight, const float *dout, const float *inp,
                         const float *weight, float *scratch, int B, int H, int W, int Cin,
                         int Cout, int K, int S, int P, int Dl)
{
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  const KernelSet *ks = kernels ();
  int KK = K * K, Hp = H + 2 * P, Wp = W + 2 * P, Pd = dinp_border (K, S, P, Dl);
  int Ho = vg_conv_out_size_dilated (H, K, S, P, Dl);
  int Wo = vg_conv_out_size_dilated (W, K, S, P, Dl);

  if (ks == NULL)
    return;
  Layout l = layout (B, H, W, Cin, Cout, K, S, P, Dl);
  int nb = l.nb;
  size_t wsize = (size_t) KK * Cin * Cout;
  float *wp = scratch, *parts = scratch + l.parts_at, *xp = scratch + l.xp_at;
  /* the weight gradient's tiles sum over every output pixel: with few of them (a small map
   * at the end of the encoder) im2col's one large product does better */
  gboolean do_dw = *dweight != NULL && Cout % ks->vl == 0
                   && (size_t) B * Ho * Wo >= DWEIGHT_MIN_PIXELS;
  gboolean do_di = *dinp != NULL && Pd >= 0 && Cin % ks->vl == 0;

  if (!do_dw && !do_di)
    return;
  if (do_di) /* wd (KK, Cout, Cin): the weight flipped and transposed */
    for (int co = 0; co < Cout; co++)
      for (int ci = 0; ci < Cin; ci++)
        for (int t = 0; t < KK; t++)
          wp[((size_t) (KK - 1 - t) * Cout + co) * Cin + ci]
            = weight[((size_t) co * Cin + ci) * KK + t];
  if (do_dw)
    memset (parts, 0, sizeof (float) * l.nparts * wsize);
  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = MIN (nb, B - b0);
      const float *g = dout + (size_t) b0 * Ho * Wo * Cout;
      if (do_dw)
        {
          pad_copy (xp, inp + (size_t) b0 * H * W * Cin, n, H, W, Cin, P);
          direct_dweight (ks, parts, l.nparts, g, xp, n, Hp, Wp, P, Cin, Cout, K, S, Dl, Ho,
                          Wo);
        }
      if (do_di)
        {
          pad_copy (xp, g, n, Ho, Wo, Cout, Pd);
          direct_rows (ks, *dinp + (size_t) b0 * H * W * Cin, xp, wp, NULL, n, Ho + 2 * Pd,
                       Wo + 2 * Pd, Pd, Cout, Cin, K, 1, Dl, H, W);
        }
    }
  if (do_dw) /* the parts in order */
    {
      float *dw = *dweight;
#pragma omp parallel for schedule(static) if (wsize * l.nparts > PAR_MIN)
      for (size_t i = 0; i < wsize; i++)
        {
          float sum = parts[i];
          for (int p = 1; p < l.nparts; p++)
            sum += parts[p * wsize + i];
          dw[i] += sum;
        }
      *dweight = NULL;
    }
  if (do_di)
    *dinp = NULL;
#else
  (void) dinp, (void) dweight, (void) dout, (void) inp, (void) weight, (void) scratch;
  (void) B, (void) H, (void) W, (void) Cin, (void) Cout, (void) K, (void) S, (void) P;
  (void) Dl;
#endif
}
