/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The matrix-product layers of engine/nn against independent references: linear (and the
 * narrow kernels behind it), convolution (grouped, depthwise, chunked im2col, dilated) and
 * transposed convolution: gradients by central finite differences, forwards against naive double
 * loops, a few PyTorch 1.13 values pasted below, and the gradient rule. The method and its
 * tolerances: test-gradcheck.c. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>
#include <omp.h>

#include "vg-nn.h"
#include "vg-conv-shape.h"
#include "vg-gemm.h"
#include "vg-gemm-narrow.h"
#include "engine-test-util.h"
#include "gradcheck-util.h"
#include "test-register.h"

/* ---- linear ------------------------------------------------------------------------------- */

typedef struct {
  int Nr, Cin, Cout;
  float *inp, *weight, *bias, *out, *R;
} LinearCase;

static double
linear_loss (void *p)
{
  LinearCase *c = p;
  vg_linear_forward (c->out, c->inp, c->weight, c->bias, c->Nr, c->Cin, c->Cout);
  return dot (c->out, c->R, (size_t) c->Nr * c->Cout);
}

VG_TEST ("/nn/linear", test_linear)
{
  LinearCase c = { .Nr = 5, .Cin = 7, .Cout = 3 };
  size_t ni = (size_t) c.Nr * c.Cin, no = (size_t) c.Nr * c.Cout, nw = (size_t) c.Cout * c.Cin;
  c.inp = rand_new (ni, -1, 1);
  c.weight = rand_new (nw, -1, 1);
  c.bias = rand_new (c.Cout, -1, 1);
  c.out = g_new (float, no);
  c.R = rand_new (no, -1, 1);

  linear_loss (&c);
  double *ref = g_new (double, no);
  for (int r = 0; r < c.Nr; r++)
    for (int o = 0; o < c.Cout; o++)
      {
        double s = c.bias[o];
        for (int i = 0; i < c.Cin; i++)
          s += (double) c.inp[r * c.Cin + i] * c.weight[o * c.Cin + i];
        ref[r * c.Cout + o] = s;
      }
  g_assert_cmpfloat (rel_err (c.out, ref, no), <, FWD_TOL);

  float *dinp = filled_new (ni, 123.0f), *dw = filled_new (nw, 0), *db = filled_new (c.Cout, 0);
  vg_linear_backward (dinp, dw, db, c.R, c.inp, c.weight, c.Nr, c.Cin, c.Cout);
  check_grad ("linear dinp", c.inp, dinp, ni, linear_loss, &c);
  check_grad ("linear dweight", c.weight, dw, nw, linear_loss, &c);
  check_grad ("linear dbias", c.bias, db, c.Cout, linear_loss, &c);

  float *dinp1 = g_memdup2 (dinp, ni * 4), *dw1 = g_memdup2 (dw, nw * 4);
  float *db1 = g_memdup2 (db, c.Cout * 4);
  vg_linear_backward (dinp, dw, db, c.R, c.inp, c.weight, c.Nr, c.Cin, c.Cout);
  check_overwrites ("linear dinp", dinp1, dinp, ni);
  check_accumulates ("linear dweight", dw1, dw, nw);
  check_accumulates ("linear dbias", db1, db, c.Cout);

  /* without bias and without the input gradient */
  vg_linear_forward (c.out, c.inp, c.weight, NULL, c.Nr, c.Cin, c.Cout);
  for (size_t i = 0; i < no; i++)
    g_assert_cmpfloat (fabs (c.out[i] - (ref[i] - c.bias[i % c.Cout])), <, 1e-5);
  memset (dw, 0, nw * 4);
  vg_linear_backward (NULL, dw, NULL, c.R, c.inp, c.weight, c.Nr, c.Cin, c.Cout);
  for (size_t i = 0; i < nw; i++)
    g_assert_cmpfloat (fabs (dw[i] - dw1[i]), <, 1e-5);

  g_free (c.inp), g_free (c.weight), g_free (c.bias), g_free (c.out), g_free (c.R);
  g_free (ref), g_free (dinp), g_free (dw), g_free (db), g_free (dinp1), g_free (dw1);
  g_free (db1);
}

/* ---- conv2d ------------------------------------------------------------------------------- */

/* Dl is the dilation; dilated cases (G == 1) run vg_conv2d_dilated_*, the others
 * vg_conv2d_* (Dl == 1). */
typedef struct {
  int B, H, W, Cin, Cout, K, S, P, G, Dl, Ho, Wo;
  gboolean dilated;
  float *inp, *weight, *bias, *out, *R, *scratch;
} ConvCase;

static void
conv_forward (ConvCase *c)
{
  if (c->dilated)
    vg_conv2d_dilated_forward (c->out, c->inp, c->weight, c->bias, c->scratch, c->B, c->H,
                               c->W, c->Cin, c->Cout, c->K, c->S, c->P, c->Dl);
  else
    vg_conv2d_forward (c->out, c->inp, c->weight, c->bias, c->scratch, c->B, c->H, c->W,
                       c->Cin, c->Cout, c->K, c->S, c->P, c->G);
}

static void
conv_backward (ConvCase *c, float *dinp, float *dweight, float *dbias)
{
  if (c->dilated)
    vg_conv2d_dilated_backward (dinp, dweight, dbias, c->R, c->inp, c->weight, c->scratch,
                                c->B, c->H, c->W, c->Cin, c->Cout, c->K, c->S, c->P, c->Dl);
  else
    vg_conv2d_backward (dinp, dweight, dbias, c->R, c->inp, c->weight, c->scratch, c->B, c->H,
                        c->W, c->Cin, c->Cout, c->K, c->S, c->P, c->G);
}

static double
conv_loss (void *p)
{
  ConvCase *c = p;
  conv_forward (c);
  return dot (c->out, c->R, (size_t) c->B * c->Ho * c->Wo * c->Cout);
}

/* Direct convolution in double, straight from the definition. */
static void
naive_conv_forward (double *out, const ConvCase *c)
{
  int cig = c->Cin / c->G, cog = c->Cout / c->G;

  for (int b = 0; b < c->B; b++)
    for (int oh = 0; oh < c->Ho; oh++)
      for (int ow = 0; ow < c->Wo; ow++)
        for (int co = 0; co < c->Cout; co++)
          {
            int g = co / cog;
            double s = c->bias != NULL ? c->bias[co] : 0.0;
            for (int j = 0; j < cig; j++)
              for (int kh = 0; kh < c->K; kh++)
                for (int kw = 0; kw < c->K; kw++)
                  {
                    int ih = oh * c->S - c->P + kh * c->Dl, iw = ow * c->S - c->P + kw * c->Dl;
                    if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W)
                      continue;
                    s += (double) c->inp[((b * c->H + ih) * c->W + iw) * c->Cin + g * cig + j]
                         * c->weight[((co * cig + j) * c->K + kh) * c->K + kw];
                  }
            out[((b * c->Ho + oh) * c->Wo + ow) * c->Cout + co] = s;
          }
}

/* The same loops scattering dout back: dinp = and dweight += in double. */
static void
naive_conv_backward (double *dinp, double *dweight, const float *dout, const ConvCase *c)
{
  int cig = c->Cin / c->G, cog = c->Cout / c->G;

  memset (dinp, 0, sizeof (double) * c->B * c->H * c->W * c->Cin);
  memset (dweight, 0, sizeof (double) * c->Cout * cig * c->K * c->K);
  for (int b = 0; b < c->B; b++)
    for (int oh = 0; oh < c->Ho; oh++)
      for (int ow = 0; ow < c->Wo; ow++)
        for (int co = 0; co < c->Cout; co++)
          {
            int g = co / cog;
            double d = dout[((b * c->Ho + oh) * c->Wo + ow) * c->Cout + co];
            for (int j = 0; j < cig; j++)
              for (int kh = 0; kh < c->K; kh++)
                for (int kw = 0; kw < c->K; kw++)
                  {
                    int ih = oh * c->S - c->P + kh * c->Dl, iw = ow * c->S - c->P + kw * c->Dl;
                    if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W)
                      continue;
                    size_t xi = ((size_t) (b * c->H + ih) * c->W + iw) * c->Cin + g * cig + j;
                    size_t wi = ((size_t) (co * cig + j) * c->K + kh) * c->K + kw;
                    dinp[xi] += d * c->weight[wi];
                    dweight[wi] += d * c->inp[xi];
                  }
          }
}

/* Dl == 0: the plain convolution (groups G); else the dilated one (G == 1). */
static void
conv_case_init (ConvCase *c, int B, int H, int W, int Cin, int Cout, int K, int S, int P,
                int G, int Dl, gboolean with_bias)
{
  *c = (ConvCase) { .B = B, .H = H, .W = W, .Cin = Cin, .Cout = Cout, .K = K, .S = S, .P = P,
                    .G = G, .Dl = Dl ? Dl : 1, .dilated = Dl != 0 };
  c->Ho = (H + 2 * P - c->Dl * (K - 1) - 1) / S + 1;
  c->Wo = (W + 2 * P - c->Dl * (K - 1) - 1) / S + 1;
  c->inp = rand_new ((size_t) B * H * W * Cin, -1, 1);
  c->weight = rand_new ((size_t) Cout * (Cin / G) * K * K, -0.5, 0.5);
  c->bias = with_bias ? rand_new (Cout, -1, 1) : NULL;
  c->out = g_new (float, (size_t) B * c->Ho * c->Wo * Cout);
  c->R = rand_new ((size_t) B * c->Ho * c->Wo * Cout, -1, 1);
  size_t ns = Dl ? vg_conv2d_dilated_scratch_floats (B, H, W, Cin, Cout, K, S, P, Dl)
               : vg_conv2d_scratch_floats (B, H, W, Cin, Cout, K, S, P, G);
  c->scratch = filled_new (ns, NAN); /* the ops must not read scratch they did not write */
}

static void
conv_case_clear (ConvCase *c)
{
  g_free (c->inp), g_free (c->weight), g_free (c->bias), g_free (c->out), g_free (c->R);
  g_free (c->scratch);
}

/* Dl as conv_case_init. */
static void
conv_check_dl (int B, int H, int W, int Cin, int Cout, int K, int S, int P, int G, int Dl,
               gboolean with_bias)
{
  ConvCase c;
  g_autofree char *name = g_strdup_printf ("conv B%d %dx%d %d->%d K%d S%d P%d G%d Dl%d", B, H,
                                           W, Cin, Cout, K, S, P, G, Dl);
  conv_case_init (&c, B, H, W, Cin, Cout, K, S, P, G, Dl, with_bias);
  size_t ni = (size_t) B * H * W * Cin, no = (size_t) B * c.Ho * c.Wo * Cout;
  size_t nw = (size_t) Cout * (Cin / G) * K * K;

  conv_loss (&c);
  double *ref = g_new (double, no);
  naive_conv_forward (ref, &c);
  if (!(rel_err (c.out, ref, no) < FWD_TOL))
    g_error ("%s: forward differs from the direct loops by %g", name, rel_err (c.out, ref, no));

  float *dinp = filled_new (ni, 123.0f), *dw = filled_new (nw, 0);
  float *db = with_bias ? filled_new (Cout, 0) : NULL;
  conv_backward (&c, dinp, dw, db);
  g_autofree char *n1 = g_strconcat (name, " dinp", NULL);
  g_autofree char *n2 = g_strconcat (name, " dweight", NULL);
  g_autofree char *n3 = g_strconcat (name, " dbias", NULL);
  check_grad (n1, c.inp, dinp, ni, conv_loss, &c);
  check_grad (n2, c.weight, dw, nw, conv_loss, &c);
  if (with_bias)
    check_grad (n3, c.bias, db, Cout, conv_loss, &c);

  float *dinp1 = g_memdup2 (dinp, ni * 4), *dw1 = g_memdup2 (dw, nw * 4);
  float *db1 = with_bias ? g_memdup2 (db, Cout * 4) : NULL;
  conv_backward (&c, dinp, dw, db);
  check_overwrites (n1, dinp1, dinp, ni);
  check_accumulates (n2, dw1, dw, nw);
  if (with_bias)
    check_accumulates (n3, db1, db, Cout);

  conv_case_clear (&c);
  g_free (ref), g_free (dinp), g_free (dw), g_free (db), g_free (dinp1), g_free (dw1);
  g_free (db1);
}

static void
conv_check (int B, int H, int W, int Cin, int Cout, int K, int S, int P, int G,
            gboolean with_bias)
{
  conv_check_dl (B, H, W, Cin, Cout, K, S, P, G, 0, with_bias);
}

VG_TEST ("/nn/conv2d", test_conv2d)
{
  conv_check (2, 5, 7, 3, 4, 3, 1, 1, 1, TRUE);   /* odd sizes, padding */
  conv_check (1, 9, 8, 4, 6, 3, 2, 1, 2, TRUE);   /* stride 2, two groups */
  conv_check (2, 6, 5, 6, 6, 3, 1, 1, 6, TRUE);   /* depthwise */
  conv_check (1, 7, 8, 5, 5, 3, 2, 1, 5, FALSE);  /* depthwise, stride 2, no bias */
  conv_check (1, 4, 5, 20, 20, 3, 1, 1, 20, TRUE); /* depthwise over two channel blocks */
  /* depthwise: a block of four vectors, one vector and single channels (84 = 64 + 16 + 4);
   * 5x5 (three groups of taps in the weight gradient); 9x9 (81 taps: the forward's and the
   * input gradient's gathers in two chunks) */
  conv_check (1, 5, 4, 84, 84, 3, 1, 1, 84, TRUE);
  conv_check (2, 7, 6, 17, 17, 5, 2, 2, 17, FALSE);
  conv_check (1, 10, 9, 3, 3, 9, 1, 4, 3, TRUE);
  conv_check (1, 13, 11, 3, 5, 7, 4, 3, 1, TRUE); /* the patch embedding: K7 S4 P3 */
  conv_check (1, 9, 10, 4, 6, 3, 2, 1, 1, TRUE);  /* the later patch embeddings: K3 S2 P1 */
  conv_check (2, 3, 5, 7, 3, 1, 1, 0, 1, TRUE);   /* 1x1: the linear path */
  conv_check (1, 5, 5, 4, 4, 1, 2, 0, 1, FALSE);  /* 1x1 stride 2: im2col path */
  conv_check (2, 6, 6, 6, 4, 2, 2, 0, 2, TRUE);   /* even kernel, groups, no padding */
  conv_check (1, 6, 7, 1, 2, 5, 1, 2, 1, TRUE);   /* one input channel, K5 P2 */
  /* patches (K == S, no padding): the spatial reduction, with rows and columns no window
   * reaches (13 = 3 x 4 + 1, 11 = 2 x 4 + 3) and without */
  conv_check (2, 13, 11, 5, 7, 4, 4, 0, 1, TRUE);
  conv_check (1, 6, 8, 3, 4, 2, 2, 0, 1, FALSE);
  conv_check (2, 16, 17, 16, 16, 8, 8, 0, 1, TRUE);
}

/* Forward and both gradients of case c against the double loops (the weight gradient within
 * dw_tol: its float sums grow with the pixels), then c cleared. */
static void
check_against_loops (ConvCase *c, double dw_tol)
{
  size_t ni = (size_t) c->B * c->H * c->W * c->Cin;
  size_t no = (size_t) c->B * c->Ho * c->Wo * c->Cout;
  size_t nw = (size_t) c->Cout * (c->Cin / c->G) * c->K * c->K;
  double *ref = g_new (double, no), *rdinp = g_new (double, ni), *rdw = g_new (double, nw);
  float *dinp = g_new (float, ni), *dw = filled_new (nw, 0), *db = filled_new (c->Cout, 0);

  conv_forward (c);
  naive_conv_forward (ref, c);
  g_assert_cmpfloat (rel_err (c->out, ref, no), <, FWD_TOL);
  conv_backward (c, dinp, dw, db);
  naive_conv_backward (rdinp, rdw, c->R, c);
  g_assert_cmpfloat (rel_err (dinp, rdinp, ni), <, FWD_TOL);
  g_assert_cmpfloat (rel_err (dw, rdw, nw), <, dw_tol);
  conv_case_clear (c);
  g_free (ref), g_free (rdinp), g_free (rdw), g_free (dinp), g_free (dw), g_free (db);
}

/* Large enough that im2col runs in chunks of images (2 + 1 here: 1.8M column floats per
 * image against a 4M chunk); forward and both gradients against the direct loops. */
VG_TEST ("/nn/conv2d-chunked", test_conv2d_chunked)
{
  ConvCase c;

  conv_case_init (&c, 3, 112, 112, 16, 8, 3, 1, 1, 1, 0, TRUE);
  /* dweight sums 49152 products per element: float GEMM rounding grows with the sum */
  check_against_loops (&c, 1e-4);
}

VG_TEST ("/nn/conv2d-dilated", test_conv2d_dilated)
{
  conv_check_dl (2, 9, 8, 3, 4, 3, 1, 2, 1, 2, TRUE);    /* Dl 2, P 2: same size */
  conv_check_dl (1, 13, 14, 4, 5, 3, 1, 6, 1, 6, TRUE);  /* ASPP's Dl 6, P 6 */
  conv_check_dl (1, 7, 8, 3, 3, 3, 1, 18, 1, 18, FALSE); /* Dl 18 past the map's edges */
  conv_check_dl (1, 11, 12, 3, 2, 3, 2, 2, 1, 2, TRUE);  /* stride 2, Dl 2 */
  conv_check_dl (1, 12, 13, 2, 3, 3, 2, 3, 1, 3, TRUE);  /* stride 2, Dl 3: every 2nd tap */
  conv_check_dl (1, 20, 19, 2, 2, 3, 4, 4, 1, 6, TRUE);  /* stride 4, Dl 6 */
  conv_check_dl (1, 9, 10, 2, 3, 2, 1, 0, 1, 3, TRUE);   /* even kernel, no padding */
  conv_check_dl (1, 10, 9, 3, 4, 3, 1, 1, 1, 1, TRUE);   /* Dl 1: the plain convolution */
  conv_check_dl (2, 5, 6, 3, 4, 1, 1, 0, 1, 4, TRUE);    /* K 1: dilation changes nothing */
  /* Cout fills vectors: the direct kernels, which leave out the taps that read only the
   * border for a whole block of pixels (Wo 30: blocks at 0, 12 and 18) or a whole row */
  conv_check_dl (1, 14, 30, 4, 16, 3, 1, 12, 1, 12, TRUE);
  conv_check_dl (2, 15, 29, 3, 32, 3, 2, 6, 1, 6, TRUE);  /* stride 2, two vectors */
  conv_check_dl (1, 5, 40, 2, 16, 3, 1, 18, 1, 18, FALSE); /* Dl 18: dead rows and columns */
  conv_check_dl (1, 9, 26, 3, 16, 3, 2, 1, 1, 1, TRUE);   /* Dl 1, stride 2: the edges */
}

/* Convolutions on the direct kernels (Cout fills vectors) with enough output pixels (4096)
 * for their weight gradient too, against the double loops. */
static void
direct_check (int B, int H, int W, int Cin, int Cout, int K, int S, int P, int Dl)
{
  ConvCase c;

  conv_case_init (&c, B, H, W, Cin, Cout, K, S, P, 1, Dl, TRUE);
  g_assert_cmpint (B * c.Ho * c.Wo, >=, 4096);
  check_against_loops (&c, 1e-5);
}

/* Dilated: taps that read only the border for a whole row, a whole block of 12 pixels or
 * the tail of a strided map are left out of the sums. */
VG_TEST ("/nn/conv2d-dilated-direct", test_conv2d_dilated_direct)
{
  direct_check (2, 40, 52, 3, 16, 3, 1, 12, 12);
  direct_check (4, 71, 66, 2, 32, 3, 2, 6, 6); /* stride 2: 36 rows, the last reads row 76 */
  direct_check (1, 66, 66, 4, 16, 3, 1, 18, 18);
}

/* Few input channels: the weight gradient takes each row of K taps as K Cin adjacent rows of
 * its product (blocks of 4, 8 or 16 rows and single ones). */
VG_TEST ("/nn/conv2d-direct-few-channels", test_conv2d_direct_few_channels)
{
  direct_check (2, 48, 45, 3, 16, 3, 1, 1, 1);    /* U-Net's first layer: 9 rows, 4 + 4 + 1 */
  direct_check (1, 130, 127, 3, 32, 3, 2, 1, 1);  /* stride 2, two vectors: 8 + 1 */
  direct_check (1, 256, 256, 3, 16, 7, 4, 3, 1);  /* the patch embedding: 21 = 16 + 4 + 1 */
  direct_check (1, 70, 61, 5, 32, 3, 1, 1, 1);    /* 15 = 8 + 4 + 3 */
  direct_check (1, 130, 130, 16, 16, 3, 2, 1, 1); /* 16 channels: one tap at a time */
}

/* Whether the engine's own product kernels run (its narrow AVX-512 kernels, or its packed
 * GEMM forced or chosen), which sum in a fixed order whatever the thread count: OpenBLAS,
 * the choice on processors without AVX-512, may split a sum differently on 1 and 3 threads. */
static gboolean
engine_kernels_run (void)
{
  return vg_gemm_narrow_enabled () || vg_gemm_large_path () != VG_GEMM_BLAS;
}

/* The direct kernels (conv-direct.c: channel counts that fill vectors) on each instruction
 * set the processor has: forward against the naive loops, gradients by finite differences,
 * and the same floats on 1 and 3 threads. These outputs are small, so their weight gradient
 * is im2col's; /nn/conv2d-direct-dweight tests the direct one. */
static void
conv_direct_cases (void)
{
  conv_check (2, 5, 13, 16, 16, 3, 1, 1, 1, TRUE);  /* 13 pixels a row: a block overlaps */
  conv_check (1, 6, 7, 3, 32, 3, 2, 1, 1, TRUE);    /* the stem 3->32, stride 2 */
  conv_check (1, 5, 6, 32, 48, 3, 1, 1, 1, FALSE);  /* two-vector blocks, one-vector rest */
  conv_check (1, 6, 5, 20, 16, 3, 1, 1, 1, TRUE);   /* 20 input channels: 16 + 4 */
  conv_check (1, 4, 3, 16, 16, 3, 1, 3, 1, TRUE);   /* padding past the taps: im2col dinp */
  conv_check_dl (1, 9, 14, 16, 32, 3, 1, 2, 1, 2, TRUE);  /* Dl 2 */
  conv_check_dl (1, 7, 8, 16, 16, 3, 1, 6, 1, 6, FALSE);  /* ASPP's Dl 6 past the edges */
}

/* The same floats on 1 and 3 threads, where the direct kernels run. */
static void
conv_direct_threads (void)
{
  ConvCase c;
  conv_case_init (&c, 2, 19, 21, 32, 32, 3, 1, 2, 1, 2, TRUE);
  size_t ni = (size_t) c.B * c.H * c.W * c.Cin, no = (size_t) c.B * c.Ho * c.Wo * c.Cout;
  size_t nw = (size_t) c.Cout * c.Cin * 9;
  float *out[2], *dinp[2], *dw[2];
  int saved = omp_get_max_threads ();

  for (int t = 0; t < 2; t++)
    {
      omp_set_num_threads (1 + 2 * t);
      out[t] = g_new (float, no), dinp[t] = g_new (float, ni), dw[t] = filled_new (nw, 0);
      conv_forward (&c);
      memcpy (out[t], c.out, no * 4);
      conv_backward (&c, dinp[t], dw[t], NULL);
    }
  omp_set_num_threads (saved);
  if (engine_kernels_run ())
    {
      g_assert_cmpmem (out[0], no * 4, out[1], no * 4);
      g_assert_cmpmem (dinp[0], ni * 4, dinp[1], ni * 4);
      g_assert_cmpmem (dw[0], nw * 4, dw[1], nw * 4);
    }
  for (int t = 0; t < 2; t++)
    g_free (out[t]), g_free (dinp[t]), g_free (dw[t]);
  conv_case_clear (&c);
}

VG_TEST ("/nn/conv2d-direct", test_conv2d_direct)
{
  conv_direct_cases ();
  conv_direct_threads ();
  if (vg_gemm_force_path (VG_GEMM_AVX2)) /* the AVX2 kernels too */
    {
      conv_direct_cases ();
      conv_direct_threads ();
      vg_gemm_force_path (VG_GEMM_AUTO);
    }
}

/* The direct kernels' weight gradient runs for outputs of 4096 pixels or more (below, the
 * one large product of im2col): such shapes against the double loops, on 1 and 3 threads
 * (the same floats), on each instruction set the processor has. */
static void
conv_direct_dweight_case (int B, int H, int W, int Cin, int Cout, int K, int S, int P, int Dl)
{
  ConvCase c;
  conv_case_init (&c, B, H, W, Cin, Cout, K, S, P, 1, Dl, TRUE);
  size_t ni = (size_t) B * H * W * Cin, nw = (size_t) Cout * Cin * K * K;
  double *rdinp = g_new (double, ni), *rdw = g_new (double, nw);
  float *dinp[2], *dw[2];
  int saved = omp_get_max_threads ();

  g_assert_cmpint (B * c.Ho * c.Wo, >=, 4096);
  naive_conv_backward (rdinp, rdw, c.R, &c);
  for (int t = 0; t < 2; t++)
    {
      omp_set_num_threads (1 + 2 * t);
      dinp[t] = g_new (float, ni), dw[t] = filled_new (nw, 0);
      conv_backward (&c, dinp[t], dw[t], NULL);
    }
  omp_set_num_threads (saved);
  g_assert_cmpfloat (rel_err (dinp[1], rdinp, ni), <, FWD_TOL);
  /* each element sums 4096 products or more: float rounding grows with the sum */
  g_assert_cmpfloat (rel_err (dw[1], rdw, nw), <, 1e-4);
  if (engine_kernels_run ())
    {
      g_assert_cmpmem (dinp[0], ni * 4, dinp[1], ni * 4);
      g_assert_cmpmem (dw[0], nw * 4, dw[1], nw * 4);
    }
  for (int t = 0; t < 2; t++)
    g_free (dinp[t]), g_free (dw[t]);
  g_free (rdinp), g_free (rdw);
  conv_case_clear (&c);
}

static void
conv_direct_dweight_cases (void)
{
  conv_direct_dweight_case (2, 48, 48, 16, 16, 3, 1, 1, 0);   /* 4608 pixels */
  conv_direct_dweight_case (1, 128, 130, 3, 32, 3, 2, 1, 0);  /* the stem's shape, stride 2 */
  conv_direct_dweight_case (1, 70, 66, 16, 32, 3, 1, 2, 2);   /* dilation 2 */
}

VG_TEST ("/nn/conv2d-direct-dweight", test_conv2d_direct_dweight)
{
  conv_direct_dweight_cases ();
  if (vg_gemm_force_path (VG_GEMM_AVX2))
    {
      conv_direct_dweight_cases ();
      vg_gemm_force_path (VG_GEMM_AUTO);
    }
}

/* The taps of an input index under dilation against all K taps tried one by one, and at
 * Dl = 1 the undilated vg_conv_taps (whose order col2im keeps, so the plain convolution's
 * results are unchanged to the bit). */
VG_TEST ("/nn/conv2d-dilated-taps", test_conv2d_dilated_taps)
{
  for (int K = 1; K <= 5; K++)
    for (int S = 1; S <= 4; S++)
      for (int Dl = 1; Dl <= 7; Dl++)
        for (int P = 0; P <= 2 * Dl; P++)
          for (int H = 1; H <= 14; H++)
            {
              int No = vg_conv_out_size_dilated (H, K, S, P, Dl);
              for (int i = 0; i < H && No > 0; i++)
                {
                  int k0, k1, step, n = 0, ref[5], m = 0;
                  vg_conv_taps_dilated (i, K, S, P, Dl, No, &k0, &k1, &step);
                  for (int k = 0; k < K; k++)
                    {
                      int t = i + P - k * Dl;
                      if (t >= 0 && t % S == 0 && t / S < No)
                        ref[m++] = k;
                    }
                  for (int k = k0; k < k1; k += step, n++)
                    if (n >= m || ref[n] != k)
                      g_error ("K%d S%d P%d Dl%d H%d i%d: tap %d not expected", K, S, P, Dl,
                               H, i, k);
                  if (n != m)
                    g_error ("K%d S%d P%d Dl%d H%d i%d: %d taps, expected %d", K, S, P, Dl, H,
                             i, n, m);
                  if (Dl == 1)
                    {
                      int u0, u1;
                      vg_conv_taps (i, K, S, P, No, &u0, &u1);
                      if (m > 0 && (u0 != k0 || u1 != k1 || step != S))
                        g_error ("K%d S%d P%d H%d i%d: differs from vg_conv_taps", K, S, P, H,
                                 i);
                    }
                }
            }
}

/* torch.nn.functional.conv2d (dilation=Dl, no bias) in PyTorch 1.13: input pattern(i),
 * weight pattern(i + 3), channels-last (1, 4, 5, 2) -> (1, 2, 3, 2) with K3 S1 P1 Dl2, and
 * (1, 7, 6, 2) -> (1, 4, 3, 2) with K3 S2 P3 Dl3. */
VG_TEST ("/nn/conv2d-dilated-torch", test_conv2d_dilated_torch)
{
  const float a[12] = {
    0.330000013f, -0.170000002f, -0.0699999928f, 0.829999983f, -0.180000007f, -0.0200000014f,
    -0.460000008f, 0.190000013f, -0.0699999854f, -0.249999985f, -0.0499999933f, -0.389999986f,
  };
  const float b[24] = {
    -0.49000001f, 0.0700000226f, 0.340000033f, -0.110000014f, -0.240000024f, -0.239999995f,
    0.310000002f, -0.24000001f, -0.290000021f, 0.460000008f, -0.0199999958f, -0.25f,
    -0.209999993f, -0.040000014f, -0.110000007f, 0.0400000215f, 0.540000021f, -0.290000021f,
    -0.270000011f, 0.110000014f, 0.820000052f, -0.470000029f, -0.320000023f, 0.379999995f,
  };
  const struct { int H, W, S, P, Dl; const float *ref; int n; } cases[2] = {
    { 4, 5, 1, 1, 2, a, 12 }, { 7, 6, 2, 3, 3, b, 24 },
  };
  float inp[84], w[36], out[24], scratch[24 * 18];

  for (int i = 0; i < 84; i++)
    inp[i] = pattern (i);
  for (int i = 0; i < 36; i++)
    w[i] = pattern (i + 3);
  for (int k = 0; k < 2; k++)
    {
      g_assert_cmpuint (vg_conv2d_dilated_scratch_floats (1, cases[k].H, cases[k].W, 2, 2, 3,
                                                          cases[k].S, cases[k].P, cases[k].Dl),
                        <=, G_N_ELEMENTS (scratch));
      vg_conv2d_dilated_forward (out, inp, w, NULL, scratch, 1, cases[k].H, cases[k].W, 2, 2, 3,
                                 cases[k].S, cases[k].P, cases[k].Dl);
      for (int i = 0; i < cases[k].n; i++)
        g_assert_cmpfloat (fabsf (out[i] - cases[k].ref[i]), <, 1e-6);
    }
}

/* The dilated convolution's results on 1 and 3 threads (OpenBLAS may split a product
 * differently, hence 1e-6 relative), and Dl = 1 is the plain convolution to the bit. */
VG_TEST ("/nn/conv2d-dilated-threads", test_conv2d_dilated_threads)
{
  ConvCase c;
  conv_case_init (&c, 2, 24, 21, 16, 12, 3, 1, 6, 1, 6, TRUE);
  size_t ni = (size_t) c.B * c.H * c.W * c.Cin, no = (size_t) c.B * c.Ho * c.Wo * c.Cout;
  size_t nw = (size_t) c.Cout * c.Cin * 9;
  float *out[2], *dinp[2], *dw[2], *db[2];
  int saved = omp_get_max_threads ();

  for (int t = 0; t < 2; t++)
    {
      omp_set_num_threads (1 + 2 * t);
      out[t] = g_new (float, no), dinp[t] = g_new (float, ni);
      dw[t] = filled_new (nw, 0), db[t] = filled_new (c.Cout, 0);
      conv_forward (&c);
      memcpy (out[t], c.out, no * 4);
      conv_backward (&c, dinp[t], dw[t], db[t]);
    }
  omp_set_num_threads (saved);
  g_assert_cmpfloat (rel_err_f (out[1], out[0], no), <=, 1e-6);
  g_assert_cmpfloat (rel_err_f (dinp[1], dinp[0], ni), <=, 1e-6);
  g_assert_cmpfloat (rel_err_f (dw[1], dw[0], nw), <=, 1e-6);
  g_assert_cmpfloat (rel_err_f (db[1], db[0], c.Cout), <=, 1e-6);

  /* Dl 1 through either entry point: the same floats */
  ConvCase p;
  conv_case_init (&p, 2, 9, 11, 5, 6, 3, 2, 1, 1, 1, TRUE);
  size_t np = (size_t) p.B * p.Ho * p.Wo * p.Cout;
  float *plain = g_new (float, np);
  conv_forward (&p);
  vg_conv2d_forward (plain, p.inp, p.weight, p.bias, p.scratch, p.B, p.H, p.W, p.Cin, p.Cout,
                     p.K, p.S, p.P, 1);
  g_assert_cmpmem (plain, np * 4, p.out, np * 4);

  for (int t = 0; t < 2; t++)
    g_free (out[t]), g_free (dinp[t]), g_free (dw[t]), g_free (db[t]);
  conv_case_clear (&c), conv_case_clear (&p);
  g_free (plain);
}

/* ---- transposed convolution --------------------------------------------------------------- */

typedef struct {
  int B, H, W, Cin, Cout, K;
  float *inp, *weight, *bias, *out, *R, *scratch;
} TConvCase;

static double
tconv_loss (void *p)
{
  TConvCase *c = p;
  vg_conv_transpose_forward (c->out, c->inp, c->weight, c->bias, c->scratch, c->B, c->H, c->W,
                             c->Cin, c->Cout, c->K);
  return dot (c->out, c->R, (size_t) c->B * c->H * c->K * c->W * c->K * c->Cout);
}

static void
tconv_check (int B, int H, int W, int Cin, int Cout, int K)
{
  TConvCase c = { .B = B, .H = H, .W = W, .Cin = Cin, .Cout = Cout, .K = K };
  int Ho = H * K, Wo = W * K;
  size_t ni = (size_t) B * H * W * Cin, no = (size_t) B * Ho * Wo * Cout;
  size_t nw = (size_t) Cin * Cout * K * K;
  c.inp = rand_new (ni, -1, 1);
  c.weight = rand_new (nw, -1, 1);
  c.bias = rand_new (Cout, -1, 1);
  c.out = g_new (float, no);
  c.R = rand_new (no, -1, 1);
  c.scratch = filled_new (vg_conv_transpose_scratch_floats (B, H, W, Cin, Cout, K), NAN);

  /* reference: every input pixel paints its own K x K block */
  tconv_loss (&c);
  double *ref = g_new (double, no);
  for (int b = 0; b < B; b++)
    for (int oh = 0; oh < Ho; oh++)
      for (int ow = 0; ow < Wo; ow++)
        for (int co = 0; co < Cout; co++)
          {
            int h = oh / K, w = ow / K, kh = oh % K, kw = ow % K;
            double s = c.bias[co];
            for (int ci = 0; ci < Cin; ci++)
              s += (double) c.inp[((b * H + h) * W + w) * Cin + ci]
                   * c.weight[((ci * Cout + co) * K + kh) * K + kw];
            ref[((b * Ho + oh) * Wo + ow) * Cout + co] = s;
          }
  g_assert_cmpfloat (rel_err (c.out, ref, no), <, FWD_TOL);

  float *dinp = filled_new (ni, 123.0f), *dw = filled_new (nw, 0), *db = filled_new (Cout, 0);
  vg_conv_transpose_backward (dinp, dw, db, c.R, c.inp, c.weight, c.scratch, B, H, W, Cin,
                              Cout, K);
  check_grad ("tconv dinp", c.inp, dinp, ni, tconv_loss, &c);
  check_grad ("tconv dweight", c.weight, dw, nw, tconv_loss, &c);
  check_grad ("tconv dbias", c.bias, db, Cout, tconv_loss, &c);

  float *dinp1 = g_memdup2 (dinp, ni * 4), *dw1 = g_memdup2 (dw, nw * 4);
  float *db1 = g_memdup2 (db, Cout * 4);
  vg_conv_transpose_backward (dinp, dw, db, c.R, c.inp, c.weight, c.scratch, B, H, W, Cin,
                              Cout, K);
  check_overwrites ("tconv dinp", dinp1, dinp, ni);
  check_accumulates ("tconv dweight", dw1, dw, nw);
  check_accumulates ("tconv dbias", db1, db, Cout);

  g_free (c.inp), g_free (c.weight), g_free (c.bias), g_free (c.out), g_free (c.R);
  g_free (c.scratch), g_free (ref), g_free (dinp), g_free (dw), g_free (db), g_free (dinp1);
  g_free (dw1), g_free (db1);
}

VG_TEST ("/nn/conv-transpose", test_conv_transpose)
{
  tconv_check (2, 3, 2, 3, 4, 4); /* the head's 4x4 stride 4 */
  tconv_check (1, 3, 5, 5, 2, 2);
  tconv_check (2, 3, 2, 19, 19, 4); /* seed's head: 304 columns, the input gradient's 19 */
  tconv_check (1, 3, 4, 32, 16, 2); /* a U-Net up-convolution's shape */
  tconv_check (1, 4, 3, 19, 19, 2); /* DeepLabV3+'s: rows of 76 padded to 80 */
}

/* The narrow kernels (vg-gemm-narrow.h) behind the linear layer, on shapes that take
 * every tile: row counts off the blocks (the backward's sweeps of 512 rows, with a rest),
 * column counts of 1 to 4 vectors, Couts that are no multiple of 16. Against double sums;
 * and, where the kernels run, the same bits for 1 and 3 threads; any two of the three
 * gradients as all three. */
typedef struct {
  float *out, *dinp, *dw, *db;
} LinearRun;

static void
linear_run (LinearRun *run, const float *inp, const float *w, const float *b, const float *R,
            int Nr, int Cin, int Cout)
{
  run->out = g_new (float, (size_t) Nr * Cout);
  run->dinp = g_new (float, (size_t) Nr * Cin);
  run->dw = filled_new ((size_t) Cout * Cin, 0.5f); /* += onto what is there */
  run->db = filled_new (Cout, 0.25f);
  vg_linear_forward (run->out, inp, w, b, Nr, Cin, Cout);
  vg_linear_backward (run->dinp, run->dw, run->db, R, inp, w, Nr, Cin, Cout);
}

static void
linear_run_clear (LinearRun *run)
{
  g_free (run->out), g_free (run->dinp), g_free (run->dw), g_free (run->db);
}

VG_TEST ("/nn/linear-narrow", test_linear_narrow)
{
  const int shapes[][3] = { { 1030, 48, 80 }, { 517, 32, 16 }, { 300, 160, 112 },
                            { 64, 16, 32 }, { 9, 64, 19 }, { 131, 128, 32 },
                            { 1100, 32, 19 } };
  int saved = omp_get_max_threads ();

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      int Nr = shapes[s][0], Cin = shapes[s][1], Cout = shapes[s][2];
      size_t ni = (size_t) Nr * Cin, no = (size_t) Nr * Cout, nw = (size_t) Cout * Cin;
      float *inp = rand_new (ni, -1, 1), *w = rand_new (nw, -1, 1);
      float *b = rand_new (Cout, -1, 1), *R = rand_new (no, -1, 1);
      double *out = g_new0 (double, no), *dinp = g_new0 (double, ni);
      double *dw = g_new0 (double, nw), *db = g_new0 (double, Cout);
      LinearRun one, three;

      for (int r = 0; r < Nr; r++)
        for (int o = 0; o < Cout; o++)
          {
            double g = R[(size_t) r * Cout + o];
            out[(size_t) r * Cout + o] = b[o];
            db[o] += g;
            for (int i = 0; i < Cin; i++)
              {
                out[(size_t) r * Cout + o] += (double) inp[(size_t) r * Cin + i] * w[o * Cin + i];
                dinp[(size_t) r * Cin + i] += g * w[o * Cin + i];
                dw[o * Cin + i] += g * inp[(size_t) r * Cin + i];
              }
          }
      for (size_t k = 0; k < nw; k++)
        dw[k] += 0.5;
      for (int o = 0; o < Cout; o++)
        db[o] += 0.25;

      omp_set_num_threads (1);
      linear_run (&one, inp, w, b, R, Nr, Cin, Cout);
      omp_set_num_threads (3);
      linear_run (&three, inp, w, b, R, Nr, Cin, Cout);
      omp_set_num_threads (saved);

      g_test_message ("linear %d x %d -> %d: errors %.2g %.2g %.2g", Nr, Cin, Cout,
                      rel_err (three.out, out, no), rel_err (three.dinp, dinp, ni),
                      rel_err (three.dw, dw, nw));
      g_assert_cmpfloat (rel_err (three.out, out, no), <, FWD_TOL);
      g_assert_cmpfloat (rel_err (three.dinp, dinp, ni), <, FWD_TOL);
      g_assert_cmpfloat (rel_err (three.dw, dw, nw), <, FWD_TOL);
      g_assert_cmpfloat (rel_err (three.db, db, Cout), <, FWD_TOL);
      if (engine_kernels_run ())
        {
          g_assert_cmpmem (one.out, no * 4, three.out, no * 4);
          g_assert_cmpmem (one.dinp, ni * 4, three.dinp, ni * 4);
          g_assert_cmpmem (one.dw, nw * 4, three.dw, nw * 4);
          g_assert_cmpmem (one.db, Cout * 4, three.db, Cout * 4);
        }
      /* the one-sweep kernel itself at every Cout (vg_linear_backward sends it multiples
       * of 16 only) */
      if (vg_gemm_narrow_enabled ())
        {
          float *dinp1 = g_new (float, ni), *dw1 = filled_new (nw, 0.5f);
          float *db1 = filled_new (Cout, 0.25f);

          g_assert_true (vg_gemm_narrow_linear_backward (dinp1, dw1, db1, R, inp, w, Nr, Cin,
                                                         Cout));
          g_assert_cmpfloat (rel_err (dinp1, dinp, ni), <, FWD_TOL);
          g_assert_cmpfloat (rel_err (dw1, dw, nw), <, FWD_TOL);
          g_assert_cmpfloat (rel_err (db1, db, Cout), <, FWD_TOL);
          g_free (dinp1), g_free (dw1), g_free (db1);
        }
      /* any two of the three gradients: the same values as all three */
      {
        float *dw2 = filled_new (nw, 0.5f), *db2 = filled_new (Cout, 0.25f);
        float *dinp2 = g_new (float, ni), *dw3 = filled_new (nw, 0.5f);

        omp_set_num_threads (3);
        vg_linear_backward (NULL, dw2, db2, R, inp, w, Nr, Cin, Cout);
        vg_linear_backward (dinp2, dw3, NULL, R, inp, w, Nr, Cin, Cout);
        omp_set_num_threads (saved);
        g_assert_cmpfloat (rel_err (dw2, dw, nw), <, FWD_TOL);
        g_assert_cmpfloat (rel_err (db2, db, Cout), <, FWD_TOL);
        g_assert_cmpfloat (rel_err (dinp2, dinp, ni), <, FWD_TOL);
        g_assert_cmpfloat (rel_err (dw3, dw, nw), <, FWD_TOL);
        g_free (dw2), g_free (db2), g_free (dinp2), g_free (dw3);
      }
      linear_run_clear (&one);
      linear_run_clear (&three);
      g_free (inp), g_free (w), g_free (b), g_free (R);
      g_free (out), g_free (dinp), g_free (dw), g_free (db);
    }
}


VG_TEST_MAIN ()
