/* SPDX-License-Identifier: GPL-3.0-or-later */
/* 2-D convolution, channels-last: inp (B, H, W, Cin) -> out (B, Ho, Wo, Cout) with
 * Ho = (H + 2P - K) / S + 1 (likewise Wo), weight (Cout, Cin/G, K, K), bias (Cout).
 * Letters: B batch, H W sizes, K kernel, S stride, P zero padding, G groups, Dl dilation.
 *
 * The paths, chosen from the shape alone:
 * - pointwise (1x1, stride 1, no padding, one group): a linear layer over B*H*W rows;
 * - depthwise (G == Cin == Cout): direct loops vectorised over the contiguous channels, with
 *   the weight transposed to (K*K, C) in scratch;
 * - patches (K == S > 1, no padding, one group: the attention's spatial reduction): the
 *   windows tile the input without overlap, so each output pixel's window in (kh, kw, cin)
 *   order is K runs of K*Cin contiguous floats; copied out, it is a linear layer over the
 *   output pixels with the weight permuted to (Cout, K, K, Cin), and the input gradient is
 *   the same copy run backwards (no sums: each input float belongs to one window);
 * - 3x3 stride-1 one-group convolutions with enough channels, where the direct kernels run:
 *   Winograd's F(4x4, 3x3) (conv-winograd.c), a quarter of the products, for the graphs'
 *   forward, in training as at inference (vg_conv2d_forward_fast; vg_conv2d_forward keeps
 *   the direct kernels), the input gradient, and the weight gradient where the channels are
 *   many both ways;
 * - everything else: with one group, the direct kernels of conv-direct.c where they take the
 *   shape (channel counts that fill vectors, an AVX2 or AVX-512 processor), else
 *   im2col then GEMM. A column row holds one output pixel's receptive field
 *   in (cin, kh, kw) order, the order of PyTorch's weight, so out = col @ weight^T needs no
 *   repacked weight, and group g is the column block g with a leading dimension.
 *
 * The dilated convolution (one group; Ho = (H + 2P - Dl (K - 1) - 1) / S + 1) is the im2col
 * path with its taps Dl pixels apart; the plain convolution is its case Dl = 1, and a
 * dilated one with Dl = 1 or K = 1 is a plain one.
 *
 * Gradient rule: parameter gradients accumulate (+=), activation gradients overwrite (=). */
#include "vg-nn.h"
#include "vg-conv-direct.h"
#include "vg-conv-shape.h"
#include "vg-conv-winograd.h"
#include "vg-gemm.h"
#include "vg-simd.h"

#include <string.h>


/* Below this many floats of work a thread team costs more than it saves. */
#define PAR_MIN 16384

/* Images per im2col chunk: a chunk's column matrix stays near 4M floats (16 MiB), yet late
 * stages with small maps still hand the GEMM a few thousand rows. Depends on the shape only,
 * never on the thread count. */
#define CONV_CHUNK_FLOATS ((size_t) 4 << 20)

static inline int
chunk_images (int B, int Ho, int Wo, int Cin, int K)
{
  return vg_conv_chunk_images (B, Ho, Wo, Cin, K, CONV_CHUNK_FLOATS);
}

/* The patch path's shapes (Dl == 1; K == S == 1 is the pointwise path). */
static inline gboolean
is_patch (int K, int S, int P, int G)
{
  return K == S && K > 1 && P == 0 && G == 1;
}

/* Chunks of output rows (b, oh) for the depthwise dweight sums: enough for any thread
 * count we meet, few enough that the partial sums stay small. Shape only. */
static int
depthwise_chunks (int B, int Ho)
{
  return B * Ho < 32 ? B * Ho : 32;
}

size_t
vg_conv2d_scratch_floats (int B, int H, int W, int Cin, int Cout, int K, int S, int P, int G)
{
  int Ho = vg_conv_out_size (H, K, S, P);
  int Wo = vg_conv_out_size (W, K, S, P);

  switch (vg_conv_path (Cin, Cout, K, S, P, G))
    {
    case VG_CONV_POINTWISE:
      return 0;
    case VG_CONV_DEPTHWISE:
      /* the weight transposed to (K*K, C), then the backward's partial dweight per chunk */
      return (size_t) K * K * Cin * (1 + depthwise_chunks (B, Ho));
    case VG_CONV_IM2COL:
    default:
      if (is_patch (K, S, P, G)) /* a chunk's windows, the permuted weight and its gradient */
        return (size_t) chunk_images (B, Ho, Wo, Cin, K) * Ho * Wo * Cin * K * K
               + 2 * (size_t) Cout * Cin * K * K;
      /* im2col's columns, the direct kernels' copies, or Winograd's tiles */
      return MAX (MAX ((size_t) chunk_images (B, Ho, Wo, Cin, K) * Ho * Wo * Cin * K * K,
                       G == 1 ? vg_conv_direct_scratch_floats (B, H, W, Cin, Cout, K, S, P, 1)
                              : 0),
                  vg_conv_winograd_scratch_floats (B, H, W, Cin, Cout, K, S, P, G));
    }
}

/* ---- im2col path ------------------------------------------------------------------------ */

/* col (nb*Ho*Wo, Cin*K*K) from inp (nb, H, W, Cin); padding reads as zero. */
static void
im2col (float *col, const float *inp, int nb, int H, int W, int Cin, int K, int S, int P,
        int Dl, int Ho, int Wo)
{
  int KK = K * K;
  size_t CKK = (size_t) Cin * KK;

#pragma omp parallel for collapse(2) schedule(static) if (nb * Ho * Wo * CKK > PAR_MIN)
  for (int b = 0; b < nb; b++)
    for (int oh = 0; oh < Ho; oh++)
      for (int ow = 0; ow < Wo; ow++)
        {
          float *row = col + ((size_t) (b * Ho + oh) * Wo + ow) * CKK;
          for (int kh = 0; kh < K; kh++)
            {
              int ih = oh * S - P + kh * Dl;
              for (int kw = 0; kw < K; kw++)
                {
                  int iw = ow * S - P + kw * Dl;
                  float *dst = row + kh * K + kw;
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                    {
                      for (int ci = 0; ci < Cin; ci++)
                        dst[(size_t) ci * KK] = 0.0f;
                    }
                  else
                    {
                      const float *x = inp + ((size_t) (b * H + ih) * W + iw) * Cin;
                      for (int ci = 0; ci < Cin; ci++)
                        dst[(size_t) ci * KK] = x[ci];
                    }
                }
            }
        }
}

/* dinp (nb, H, W, Cin) = the adjoint of im2col applied to dcol. Each thread gathers into the
 * input pixels it owns (the output pixels whose window covers them), so no two threads
 * write the same float and each sum runs in a fixed order. */
static void
col2im (float *dinp, const float *dcol, int nb, int H, int W, int Cin, int K, int S, int P,
        int Dl, int Ho, int Wo)
{
  int KK = K * K;
  size_t CKK = (size_t) Cin * KK;

#pragma omp parallel for collapse(2) schedule(static) if (nb * Ho * Wo * CKK > PAR_MIN)
  for (int b = 0; b < nb; b++)
    for (int ih = 0; ih < H; ih++)
      for (int iw = 0; iw < W; iw++)
        {
          float *d = dinp + ((size_t) (b * H + ih) * W + iw) * Cin;
          int kh0, kh1, sh, kw0, kw1, sw;
          memset (d, 0, sizeof (float) * Cin);
          vg_conv_taps_dilated (ih, K, S, P, Dl, Ho, &kh0, &kh1, &sh);
          vg_conv_taps_dilated (iw, K, S, P, Dl, Wo, &kw0, &kw1, &sw);
          for (int kh = kh0; kh < kh1; kh += sh)
            for (int kw = kw0; kw < kw1; kw += sw)
              {
                int oh = (ih + P - kh * Dl) / S, ow = (iw + P - kw * Dl) / S;
                const float *src = dcol + ((size_t) (b * Ho + oh) * Wo + ow) * CKK + kh * K + kw;
                for (int ci = 0; ci < Cin; ci++)
                  d[ci] += src[(size_t) ci * KK];
              }
        }
}

static void
fill_rows (float *out, const float *bias, size_t Nr, int C)
{
#pragma omp parallel for schedule(static) if (Nr * (size_t) C > PAR_MIN)
  for (size_t r = 0; r < Nr; r++)
    memcpy (out + r * C, bias, sizeof (float) * C);
}

static void
conv_im2col_forward (float *out, const float *inp, const float *weight, const float *bias,
                     float *col, int B, int H, int W, int Cin, int Cout, int K, int S, int P,
                     int G, int Dl, int Ho, int Wo)
{
  int nb = chunk_images (B, Ho, Wo, Cin, K);
  int CKK = Cin * K * K;
  int CKKg = CKK / G; /* columns of one group */
  int Cog = Cout / G; /* output channels of one group */

  if (G == 1 && vg_conv_direct_forward (out, inp, weight, bias, col, B, H, W, Cin, Cout, K, S,
                                        P, Dl))
    return;
  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = B - b0 < nb ? B - b0 : nb;
      int rows = n * Ho * Wo;
      float *o = out + (size_t) b0 * Ho * Wo * Cout;
      float beta = 0.0f;

      im2col (col, inp + (size_t) b0 * H * W * Cin, n, H, W, Cin, K, S, P, Dl, Ho, Wo);
      if (G == 1) /* a linear layer over the column rows (its narrow kernels where they fit) */
        {
          vg_linear_forward (o, col, weight, bias, rows, CKK, Cout);
          continue;
        }
      if (bias != NULL)
        {
          fill_rows (o, bias, (size_t) rows, Cout);
          beta = 1.0f;
        }
      for (int g = 0; g < G; g++)
        vg_sgemm_forward (FALSE, TRUE, rows, Cog, CKKg, 1.0f, col + (size_t) g * CKKg, CKK,
                          weight + (size_t) g * Cog * CKKg, CKKg, beta, o + (size_t) g * Cog,
                          Cout);
    }
}

static void
conv_im2col_backward (float *dinp, float *dweight, const float *dout, const float *inp,
                      const float *weight, float *col, int B, int H, int W, int Cin, int Cout,
                      int K, int S, int P, int G, int Dl, int Ho, int Wo)
{
  int nb = chunk_images (B, Ho, Wo, Cin, K);
  int CKK = Cin * K * K;
  int CKKg = CKK / G;
  int Cog = Cout / G;

  if (G == 1 && Dl == 1)
    vg_conv_winograd_backward (&dinp, &dweight, dout, inp, weight, col, B, H, W, Cin, Cout, K,
                               S, P, G);
  if (G == 1)
    vg_conv_direct_backward (&dinp, &dweight, dout, inp, weight, col, B, H, W, Cin, Cout, K,
                             S, P, Dl);
  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = B - b0 < nb ? B - b0 : nb;
      int rows = n * Ho * Wo;
      const float *g_out = dout + (size_t) b0 * Ho * Wo * Cout;

      /* dweight_g (Cog, CKKg) += dout_g^T (Cog, rows) @ col_g (rows, CKKg) */
      if (dweight != NULL)
        {
          im2col (col, inp + (size_t) b0 * H * W * Cin, n, H, W, Cin, K, S, P, Dl, Ho, Wo);
          if (G == 1)
            vg_linear_backward (NULL, dweight, NULL, g_out, col, weight, rows, CKK, Cout);
          else
            for (int g = 0; g < G; g++)
              vg_sgemm (TRUE, FALSE, Cog, CKKg, rows, 1.0f, g_out + (size_t) g * Cog, Cout,
                        col + (size_t) g * CKKg, CKK, 1.0f, dweight + (size_t) g * Cog * CKKg,
                        CKKg);
        }
      /* dcol_g (rows, CKKg) = dout_g (rows, Cog) @ weight_g (Cog, CKKg), reusing col */
      if (dinp != NULL)
        {
          if (G == 1)
            vg_linear_backward (col, NULL, NULL, g_out, NULL, weight, rows, CKK, Cout);
          else
            for (int g = 0; g < G; g++)
              vg_sgemm (FALSE, FALSE, rows, CKKg, Cog, 1.0f, g_out + (size_t) g * Cog, Cout,
                        weight + (size_t) g * Cog * CKKg, CKKg, 0.0f, col + (size_t) g * CKKg,
                        CKK);
          col2im (dinp + (size_t) b0 * H * W * Cin, col, n, H, W, Cin, K, S, P, Dl, Ho, Wo);
        }
    }
}

/* ---- patch path ------------------------------------------------------------------------- */

/* to_col: dst (nb*Ho*Wo, K*K*Cin) = the windows of src (nb, H, W, Cin) in (kh, kw, cin)
 * order. Else the reverse: dst (nb, H, W, Cin) from the windows in src, and zero where no
 * window reaches (the last H - Ho K rows and W - Wo K columns). */
static void
patch_copy (float *dst, const float *src, int nb, int H, int W, int Cin, int K, int Ho, int Wo,
            gboolean to_col)
{
  size_t run = (size_t) K * Cin, KKC = run * K;

#pragma omp parallel for schedule(static) if ((size_t) nb * H * W * Cin > PAR_MIN)
  for (int r = 0; r < nb * H; r++)
    {
      int b = r / H, ih = r % H, oh = ih / K, kh = ih % K;
      size_t x = (size_t) r * W * Cin; /* the input row's offset */

      if (oh >= Ho)
        {
          if (!to_col)
            memset (dst + x, 0, sizeof (float) * W * Cin);
          continue;
        }
      for (int ow = 0; ow < Wo; ow++)
        {
          size_t c = ((size_t) (b * Ho + oh) * Wo + ow) * KKC + kh * run;

          memcpy (dst + (to_col ? c : x + ow * run), src + (to_col ? x + ow * run : c),
                  sizeof (float) * run);
        }
      if (!to_col)
        memset (dst + x + Wo * run, 0, sizeof (float) * (W - Wo * K) * Cin);
    }
}

/* to_patch: dst (Cout, K*K, Cin) = src (Cout, Cin, K*K) permuted (the weight as the patch
 * product takes it). Else the reverse, added: dst (Cout, Cin, K*K) += src (Cout, K*K, Cin)
 * permuted (the weight gradient). */
static void
patch_weight (float *dst, const float *src, int Cout, int Cin, int KK, gboolean to_patch)
{
  for (int co = 0; co < Cout; co++)
    for (int ci = 0; ci < Cin; ci++)
      for (int t = 0; t < KK; t++)
        {
          size_t p = ((size_t) co * KK + t) * Cin + ci, w = ((size_t) co * Cin + ci) * KK + t;

          if (to_patch)
            dst[p] = src[w];
          else
            dst[w] += src[p];
        }
}

static void
conv_patch_forward (float *out, const float *inp, const float *weight, const float *bias,
                    float *scratch, int B, int H, int W, int Cin, int Cout, int K, int Ho, int Wo)
{
  int nb = chunk_images (B, Ho, Wo, Cin, K), KKC = K * K * Cin;
  float *wp = scratch, *col = scratch + 2 * (size_t) Cout * KKC;

  patch_weight (wp, weight, Cout, Cin, K * K, TRUE);
  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = B - b0 < nb ? B - b0 : nb;

      patch_copy (col, inp + (size_t) b0 * H * W * Cin, n, H, W, Cin, K, Ho, Wo, TRUE);
      vg_linear_forward (out + (size_t) b0 * Ho * Wo * Cout, col, wp, bias, n * Ho * Wo, KKC,
                         Cout);
    }
}

static void
conv_patch_backward (float *dinp, float *dweight, const float *dout, const float *inp,
                     const float *weight, float *scratch, int B, int H, int W, int Cin,
                     int Cout, int K, int Ho, int Wo)
{
  int nb = chunk_images (B, Ho, Wo, Cin, K), KKC = K * K * Cin;
  float *wp = scratch, *dwp = scratch + (size_t) Cout * KKC;
  float *col = scratch + 2 * (size_t) Cout * KKC;

  patch_weight (wp, weight, Cout, Cin, K * K, TRUE);
  if (dweight != NULL)
    memset (dwp, 0, sizeof (float) * Cout * KKC);
  for (int b0 = 0; b0 < B; b0 += nb)
    {
      int n = B - b0 < nb ? B - b0 : nb, rows = n * Ho * Wo;
      const float *g_out = dout + (size_t) b0 * Ho * Wo * Cout;

      if (dweight != NULL)
        {
          patch_copy (col, inp + (size_t) b0 * H * W * Cin, n, H, W, Cin, K, Ho, Wo, TRUE);
          vg_linear_backward (NULL, dwp, NULL, g_out, col, wp, rows, KKC, Cout);
        }
      if (dinp != NULL)
        {
          vg_linear_backward (col, NULL, NULL, g_out, NULL, wp, rows, KKC, Cout);
          patch_copy (dinp + (size_t) b0 * H * W * Cin, col, n, H, W, Cin, K, Ho, Wo, FALSE);
        }
    }
  if (dweight != NULL)
    patch_weight (dweight, dwp, Cout, Cin, K * K, FALSE);
}

/* ---- depthwise path --------------------------------------------------------------------- */

/* wt (K*K, C) = weight (C, 1, K, K) transposed, so each tap's weights are contiguous in c
 * like the channels-last pixels they multiply. */
static void
transpose_depthwise (float *wt, const float *weight, int C, int KK)
{
  for (int c = 0; c < C; c++)
    for (int k = 0; k < KK; k++)
      wt[(size_t) k * C + c] = weight[(size_t) c * KK + k];
}

/* The depthwise forward and input gradient hold a block of channels in registers over a
 * pixel's taps (the output written once, not read and written at each tap): VB vectors of
 * 16 channels (GCC's vector types, so each clone uses its own registers: one zmm, two ymm or
 * four xmm a vector), then single vectors, then channels one by one. Each output sums its
 * taps in (kh, kw) order after the bias, whatever the block: the blocks change the order of
 * no sum. */
typedef float dv16 __attribute__ ((vector_size (64), aligned (4)));
#define DV 16 /* channels in a vector */
#define VB 4  /* vectors in a block */

#define dv_load(p) (*(const dv16 *) (p))
#define dv_store(p, v) (*(dv16 *) (p) = (v))

/* o[c0, c0 + nv DV) = bias + the sum over the taps (t < nt) of x[t] * w[t], x[t] and w[t]
 * the tap's pixel and weights (channel c0 onwards). */
static inline __attribute__ ((always_inline)) void
dw_taps (float *o, const float *const *x, const float *const *w, int nt, const float *bias,
         int c0, const int nv)
{
  dv16 acc[VB];

  for (int v = 0; v < nv; v++)
    acc[v] = bias != NULL ? dv_load (bias + c0 + v * DV) : (dv16) { 0 };
  for (int t = 0; t < nt; t++)
    for (int v = 0; v < nv; v++)
      acc[v] += dv_load (x[t] + c0 + v * DV) * dv_load (w[t] + c0 + v * DV);
  for (int v = 0; v < nv; v++)
    dv_store (o + c0 + v * DV, acc[v]);
}

/* The same over all C channels: blocks, then vectors, then single channels. */
static inline __attribute__ ((always_inline)) void
dw_pixel (float *o, const float *const *x, const float *const *w, int nt, const float *bias,
          int C)
{
  int c = 0;

  for (; c + VB * DV <= C; c += VB * DV)
    dw_taps (o, x, w, nt, bias, c, VB);
  for (; c + DV <= C; c += DV)
    dw_taps (o, x, w, nt, bias, c, 1);
  for (; c < C; c++)
    {
      float a = bias != NULL ? bias[c] : 0.0f;
      for (int t = 0; t < nt; t++)
        a += x[t][c] * w[t][c];
      o[c] = a;
    }
}

/* The taps gathered for one pixel: a 7x7 kernel's 49; a larger kernel sums its taps in
 * chunks of this many, each chunk carrying on from the output the last one wrote. */
#define MAX_TAPS 49

/* One output row (b, oh) of the depthwise convolution; wt is the weight as (K*K, C); with
 * relu each pixel goes through the ReLU (as vg_relu_forward) while in cache. */
static SIMD_CLONES void
depthwise_forward_row (float *out, const float *inp, const float *wt, const float *bias, int b,
                       int oh, int H, int W, int C, int K, int S, int P, int Ho, int Wo,
                       int relu)
{
  const float *x[MAX_TAPS], *w[MAX_TAPS];

  for (int ow = 0; ow < Wo; ow++)
    {
      float *o = out + ((size_t) (b * Ho + oh) * Wo + ow) * C;
      const float *bias_now = bias;
      int nt = 0;

      for (int kh = 0; kh < K; kh++)
        {
          int ih = oh * S - P + kh;
          if (ih < 0 || ih >= H)
            continue;
          for (int kw = 0; kw < K; kw++)
            {
              int iw = ow * S - P + kw;
              if (iw < 0 || iw >= W)
                continue;
              x[nt] = inp + ((size_t) (b * H + ih) * W + iw) * C;
              w[nt] = wt + (size_t) (kh * K + kw) * C;
              if (++nt == MAX_TAPS) /* the first chunk of a kernel over 7x7 */
                {
                  dw_pixel (o, x, w, nt, bias_now, C);
                  bias_now = o;
                  nt = 0;
                }
            }
        }
      if (nt > 0 || bias_now != o)
        dw_pixel (o, x, w, nt, bias_now, C);
      if (relu)
#pragma omp simd
        for (int c = 0; c < C; c++)
          o[c] = o[c] < 0.0f ? 0.0f : o[c];
    }
}

static void
conv_depthwise_forward (float *out, const float *inp, const float *weight, const float *bias,
                        float *wt, int B, int H, int W, int C, int K, int S, int P, int Ho,
                        int Wo, int relu)
{
  size_t work = (size_t) B * Ho * Wo * C;

  transpose_depthwise (wt, weight, C, K * K);

#pragma omp parallel for collapse(2) schedule(static) if (work > PAR_MIN)
  for (int b = 0; b < B; b++)
    for (int oh = 0; oh < Ho; oh++)
      depthwise_forward_row (out, inp, wt, bias, b, oh, H, W, C, K, S, P, Ho, Wo, relu);
}

/* Rows [r0, r1) of the outputs (r = b * Ho + oh) add their taps into acc (K*K, C). */
static SIMD_CLONES void
depthwise_dweight_rows (float *acc, const float *dout, const float *inp, int r0, int r1,
                        int H, int W, int C, int K, int S, int P, int Ho, int Wo)
{
  for (int r = r0; r < r1; r++)
    {
      int b = r / Ho, oh = r % Ho;
      for (int ow = 0; ow < Wo; ow++)
        {
          const float *g = dout + ((size_t) r * Wo + ow) * C;
          for (int kh = 0; kh < K; kh++)
            {
              int ih = oh * S - P + kh;
              if (ih < 0 || ih >= H)
                continue;
              for (int kw = 0; kw < K; kw++)
                {
                  int iw = ow * S - P + kw;
                  if (iw < 0 || iw >= W)
                    continue;
                  const float *x = inp + ((size_t) (b * H + ih) * W + iw) * C;
                  float *a = acc + (size_t) (kh * K + kw) * C;
#pragma omp simd
                  for (int c = 0; c < C; c++)
                    a[c] += g[c] * x[c];
                }
            }
        }
    }
}

/* One row (b, ih) of the input gradient: each pixel gathers from the output pixels whose
 * window covers it, as in col2im. wt is the weight as (K*K, C). */
static SIMD_CLONES void
depthwise_dinp_row (float *dinp, const float *dout, const float *wt, int b, int ih, int H,
                    int W, int C, int K, int S, int P, int Ho, int Wo)
{
  const float *g[MAX_TAPS], *w[MAX_TAPS];

  for (int iw = 0; iw < W; iw++)
    {
      float *d = dinp + ((size_t) (b * H + ih) * W + iw) * C;
      const float *bias_now = NULL;
      int kh0, kh1, kw0, kw1, nt = 0;

      vg_conv_taps (ih, K, S, P, Ho, &kh0, &kh1);
      vg_conv_taps (iw, K, S, P, Wo, &kw0, &kw1);
      for (int kh = kh0; kh < kh1; kh += S)
        for (int kw = kw0; kw < kw1; kw += S)
          {
            int oh = (ih + P - kh) / S, ow = (iw + P - kw) / S;
            g[nt] = dout + ((size_t) (b * Ho + oh) * Wo + ow) * C;
            w[nt] = wt + (size_t) (kh * K + kw) * C;
            if (++nt == MAX_TAPS)
              {
                dw_pixel (d, g, w, nt, bias_now, C);
                bias_now = d;
                nt = 0;
              }
          }
      if (nt > 0 || bias_now != d)
        dw_pixel (d, g, w, nt, bias_now, C);
    }
}

static void
conv_depthwise_backward (float *dinp, float *dweight, const float *dout, const float *inp,
                         const float *weight, float *wt, int B, int H, int W, int C, int K,
                         int S, int P, int Ho, int Wo)
{
  int KK = K * K;
  size_t work = (size_t) B * Ho * Wo * C;

  /* dweight: each of nch chunks of output rows sums its taps into its own (K*K, C) slice of
   * scratch, vectorised over the contiguous channels; the slices are then added in chunk
   * order. The chunking depends on the shape only, so the sums do not depend on the thread
   * count. */
  if (dweight != NULL)
    {
      int rows = B * Ho;
      int nch = depthwise_chunks (B, Ho);
      size_t slice = (size_t) KK * C;
      float *part = wt + slice;

#pragma omp parallel for schedule(static) if (work > PAR_MIN)
      for (int ch = 0; ch < nch; ch++)
        {
          float *acc = part + (size_t) ch * slice;
          memset (acc, 0, sizeof (float) * slice);
          depthwise_dweight_rows (acc, dout, inp, rows * ch / nch, rows * (ch + 1) / nch, H, W,
                                  C, K, S, P, Ho, Wo);
        }
#pragma omp parallel for schedule(static) if (slice * nch > PAR_MIN)
      for (size_t j = 0; j < slice; j++)
        {
          double sum = 0.0;
          for (int ch = 0; ch < nch; ch++)
            sum += part[(size_t) ch * slice + j];
          size_t k = j / C, c = j % C;
          dweight[c * KK + k] += (float) sum;
        }
    }

  /* dinp: each input pixel gathers from the output pixels whose window covers it. */
  if (dinp != NULL)
    {
      transpose_depthwise (wt, weight, C, KK);
#pragma omp parallel for collapse(2) schedule(static) if (work > PAR_MIN)
      for (int b = 0; b < B; b++)
        for (int ih = 0; ih < H; ih++)
          depthwise_dinp_row (dinp, dout, wt, b, ih, H, W, C, K, S, P, Ho, Wo);
    }
}

/* ---- public entry points ---------------------------------------------------------------- */

/* The forward, then with relu its ReLU: in the pointwise and depthwise kernels' stores,
 * else in a pass of its own. */
static void
conv_forward (float *out, const float *inp, const float *weight, const float *bias,
              float *scratch, int B, int H, int W, int Cin, int Cout, int K, int S, int P, int G,
              int relu)
{
  int Ho = vg_conv_out_size (H, K, S, P);
  int Wo = vg_conv_out_size (W, K, S, P);

  switch (vg_conv_path (Cin, Cout, K, S, P, G))
    {
    case VG_CONV_POINTWISE:
      if (relu)
        vg_linear_relu_forward (out, inp, weight, bias, B * H * W, Cin, Cout);
      else
        vg_linear_forward (out, inp, weight, bias, B * H * W, Cin, Cout);
      return;
    case VG_CONV_DEPTHWISE:
      conv_depthwise_forward (out, inp, weight, bias, scratch, B, H, W, Cin, K, S, P, Ho, Wo,
                              relu);
      return;
    case VG_CONV_IM2COL:
    default:
      if (is_patch (K, S, P, G))
        conv_patch_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, Ho, Wo);
      else
        conv_im2col_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, S, P, G,
                             1, Ho, Wo);
      if (relu)
        vg_relu_forward (out, out, (size_t) B * Ho * Wo * Cout);
      return;
    }
}

void
vg_conv2d_forward (float *out, const float *inp, const float *weight, const float *bias,
                   float *scratch, int B, int H, int W, int Cin, int Cout, int K, int S, int P,
                   int G)
{
  conv_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, S, P, G, FALSE);
}

/* The line for a processor whose direct kernels are ISA's. */
#define CONV_LINE(isa)                                                                     \
  "direct " isa " kernels where output channels fill vectors (taps that read only the "  \
  "zero border left out), else im2col; 3x3 stride 1 by Winograd F(4x4, 3x3) on them "     \
  "(forward and both gradients, 16+ channels in; threads by tile up to Cin Cout = "       \
  G_STRINGIFY (VG_WINOGRAD_TILE_CIN) " x " G_STRINGIFY (VG_WINOGRAD_TILE_COUT)              \
  ", the weight gradient's up to " G_STRINGIFY (VG_WINOGRAD_DW_TILE_CIN) " x "             \
  G_STRINGIFY (VG_WINOGRAD_DW_TILE_COUT) ", by point above)"
#define CONV_LINE_DIRECT(isa)                                                              \
  "direct " isa " kernels where output channels fill vectors, else im2col; no Winograd "   \
  "(VISAGE_CONV=direct)"

const char *
vg_conv_describe (void)
{
  gboolean winograd = vg_conv_winograd_use () != VG_WINOGRAD_NONE;

  switch (vg_conv_direct_vector_floats ())
    {
    case 16:
      return winograd ? CONV_LINE ("AVX-512") : CONV_LINE_DIRECT ("AVX-512");
    case 8:
      return winograd ? CONV_LINE ("AVX2") : CONV_LINE_DIRECT ("AVX2");
    default:
      return "im2col and the large-product path (no direct kernels, no Winograd)";
    }
}

void
vg_conv2d_forward_fast (float *out, const float *inp, const float *weight, const float *bias,
                         float *scratch, int B, int H, int W, int Cin, int Cout, int K, int S,
                         int P, int G, int relu)
{
  if (!vg_conv_winograd_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, S, P,
                                 G, relu))
    conv_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, S, P, G, relu);
}

void
vg_conv2d_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                    const float *inp, const float *weight, float *scratch, int B, int H,
                    int W, int Cin, int Cout, int K, int S, int P, int G)
{
  int Ho = vg_conv_out_size (H, K, S, P);
  int Wo = vg_conv_out_size (W, K, S, P);

  switch (vg_conv_path (Cin, Cout, K, S, P, G))
    {
    case VG_CONV_POINTWISE:
      vg_linear_backward (dinp, dweight, dbias, dout, inp, weight, B * H * W, Cin, Cout);
      return;
    case VG_CONV_DEPTHWISE:
      conv_depthwise_backward (dinp, dweight, dout, inp, weight, scratch, B, H, W, Cin, K, S,
                               P, Ho, Wo);
      break;
    case VG_CONV_IM2COL:
    default:
      if (is_patch (K, S, P, G))
        conv_patch_backward (dinp, dweight, dout, inp, weight, scratch, B, H, W, Cin, Cout, K,
                             Ho, Wo);
      else
        conv_im2col_backward (dinp, dweight, dout, inp, weight, scratch, B, H, W, Cin, Cout, K,
                              S, P, G, 1, Ho, Wo);
      break;
    }
  /* dbias: the column sums of dout over its pixels, as a linear layer's */
  if (dbias != NULL)
    vg_bias_backward (dbias, dout, B * Ho * Wo, Cout);
}

/* ---- dilated convolution: the im2col path with taps Dl apart ------------------------------ */

size_t
vg_conv2d_dilated_scratch_floats (int B, int H, int W, int Cin, int Cout, int K, int S, int P,
                                  int Dl)
{
  int Ho = vg_conv_out_size_dilated (H, K, S, P, Dl);
  int Wo = vg_conv_out_size_dilated (W, K, S, P, Dl);

  if (Dl == 1 || K == 1)
    return vg_conv2d_scratch_floats (B, H, W, Cin, Cout, K, S, P, 1);
  return MAX ((size_t) chunk_images (B, Ho, Wo, Cin, K) * Ho * Wo * Cin * K * K,
              vg_conv_direct_scratch_floats (B, H, W, Cin, Cout, K, S, P, Dl));
}

void
vg_conv2d_dilated_forward (float *out, const float *inp, const float *weight,
                           const float *bias, float *scratch, int B, int H, int W, int Cin,
                           int Cout, int K, int S, int P, int Dl)
{
  if (Dl == 1 || K == 1)
    {
      vg_conv2d_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, S, P, 1);
      return;
    }
  conv_im2col_forward (out, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, S, P, 1, Dl,
                       vg_conv_out_size_dilated (H, K, S, P, Dl),
                       vg_conv_out_size_dilated (W, K, S, P, Dl));
}

void
vg_conv2d_dilated_backward (float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, float *scratch, int B,
                            int H, int W, int Cin, int Cout, int K, int S, int P, int Dl)
{
  int Ho = vg_conv_out_size_dilated (H, K, S, P, Dl);
  int Wo = vg_conv_out_size_dilated (W, K, S, P, Dl);

  if (Dl == 1 || K == 1)
    {
      vg_conv2d_backward (dinp, dweight, dbias, dout, inp, weight, scratch, B, H, W, Cin, Cout,
                          K, S, P, 1);
      return;
    }
  conv_im2col_backward (dinp, dweight, dout, inp, weight, scratch, B, H, W, Cin, Cout, K, S, P,
                        1, Dl, Ho, Wo);
  if (dbias != NULL)
    vg_bias_backward (dbias, dout, B * Ho * Wo, Cout);
}
