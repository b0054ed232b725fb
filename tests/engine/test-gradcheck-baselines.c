/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The layers that the baselines (U-Net, DeepLabV3+, Fast-SCNN) add to engine/nn, but the
 * dilated convolution (in test-gradcheck-products.c beside the plain one): the align-corners
 * bilinear resize, max pooling, adaptive average pooling and dropout. Each forward against
 * naive double loops written here from PyTorch's definitions, each backward by central
 * finite differences (test-gradcheck.c states the method and its tolerances), the gradient
 * rule (activation gradients overwrite), and results that do not change with the number of
 * threads, to the bit. A few PyTorch 1.13 outputs are pasted below (computed once while
 * writing this test; nothing here needs torch at run time). */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>
#include <omp.h>

#include "vg-nn.h"
#include "vg-pool-shape.h"
#include "engine-test-util.h"
#include "gradcheck-util.h"
#include "ref-init.h"
#include "test-register.h"

/* A pooling or resize case: inp (B, H, W, C) -> out (B, Ho, Wo, C), or for max pooling
 * kernel K and stride S (Ho, Wo follow from them). */
typedef struct {
  int B, H, W, C, Ho, Wo, K, S;
  float *inp, *out, *R;
} PoolCase;

typedef void (*PoolForward) (const PoolCase *c);
typedef void (*PoolBackward) (const PoolCase *c, float *dinp, const float *dout);

typedef struct {
  const char *name;
  PoolForward forward;
  PoolBackward backward;
  /* the reference forward in double; wrong != 0 asks for a deliberately wrong variant */
  void (*naive) (double *out, const PoolCase *c, int wrong);
} PoolOp;

typedef struct {
  const PoolOp *op;
  PoolCase *c;
} PoolLoss;

static size_t
in_size (const PoolCase *c)
{
  return (size_t) c->B * c->H * c->W * c->C;
}

static size_t
out_size (const PoolCase *c)
{
  return (size_t) c->B * c->Ho * c->Wo * c->C;
}

static double
pool_loss (void *p)
{
  PoolLoss *l = p;
  l->op->forward (l->c);
  return dot (l->c->out, l->c->R, out_size (l->c));
}

/* Forward against the naive loops (and, unless the op has no wrong variant, that the wrong
 * variant is caught), backward by finite differences, and the overwrite rule. The input is
 * already in c->inp. */
static void
pool_check_case (const PoolOp *op, PoolCase *c, gboolean wrong_differs)
{
  size_t ni = in_size (c), no = out_size (c);
  g_autofree char *name = g_strdup_printf ("%s B%d %dx%dx%d -> %dx%d K%d S%d", op->name, c->B,
                                           c->H, c->W, c->C, c->Ho, c->Wo, c->K, c->S);
  PoolLoss l = { op, c };
  double *ref = g_new (double, no);

  c->out = filled_new (no, NAN);
  c->R = rand_new (no, -1, 1);
  op->forward (c);
  op->naive (ref, c, 0);
  if (!(rel_err (c->out, ref, no) < FWD_TOL))
    g_error ("%s: forward differs from the naive loops by %g", name, rel_err (c->out, ref, no));
  if (wrong_differs)
    {
      op->naive (ref, c, 1);
      if (!(rel_err (c->out, ref, no) > 1e-3))
        g_error ("%s: the wrong reference is not told apart (%g)", name,
                 rel_err (c->out, ref, no));
    }

  float *dinp = filled_new (ni, 123.0f);
  op->backward (c, dinp, c->R);
  check_grad (name, c->inp, dinp, ni, pool_loss, &l);
  /* check_grad left the output of a perturbed input (max pooling's backward reads it) */
  op->forward (c);
  float *dinp1 = g_memdup2 (dinp, ni * 4);
  op->backward (c, dinp, c->R);
  check_overwrites (name, dinp1, dinp, ni);

  g_free (ref), g_free (dinp), g_free (dinp1), g_free (c->out), g_free (c->R);
}

/* ---- bilinear resize, align_corners=True -------------------------------------------------- */

static void
resize_ac_fwd (const PoolCase *c)
{
  vg_resize_bilinear_ac_forward (c->out, c->inp, c->B, c->H, c->W, c->Ho, c->Wo, c->C);
}

static void
resize_ac_bwd (const PoolCase *c, float *dinp, const float *dout)
{
  vg_resize_bilinear_ac_backward (dinp, dout, c->B, c->H, c->W, c->Ho, c->Wo, c->C);
}

/* PyTorch's rule in double: source o (in - 1) / (out - 1), 0 for one output; wrong: the
 * align_corners=False rule instead, (o + 0.5) in / out - 0.5 clamped at 0. */
static void
ref_source_ac (int o, int in, int out, int wrong, int *i0, int *i1, double *l1)
{
  double s = out > 1 ? (double) o * (in - 1) / (out - 1) : 0.0;
  if (wrong)
    s = MAX (0.0, (o + 0.5) * in / out - 0.5);
  *i0 = MIN ((int) floor (s), in - 1);
  *i1 = MIN (*i0 + 1, in - 1);
  *l1 = s - *i0;
}

static void
naive_resize_ac (double *out, const PoolCase *c, int wrong)
{
  for (int b = 0; b < c->B; b++)
    for (int oh = 0; oh < c->Ho; oh++)
      for (int ow = 0; ow < c->Wo; ow++)
        {
          int h0, h1, w0, w1;
          double a, e;
          ref_source_ac (oh, c->H, c->Ho, wrong, &h0, &h1, &a);
          ref_source_ac (ow, c->W, c->Wo, wrong, &w0, &w1, &e);
          for (int ch = 0; ch < c->C; ch++)
            {
#define X(h, w) ((double) c->inp[(((size_t) b * c->H + (h)) * c->W + (w)) * c->C + ch])
              out[(((size_t) b * c->Ho + oh) * c->Wo + ow) * c->C + ch]
                = (1 - a) * ((1 - e) * X (h0, w0) + e * X (h0, w1))
                  + a * ((1 - e) * X (h1, w0) + e * X (h1, w1));
#undef X
            }
        }
}

static const PoolOp resize_ac_op = { "resize-ac", resize_ac_fwd, resize_ac_bwd,
                                     naive_resize_ac };

static void
resize_ac_check (int B, int H, int W, int Ho, int Wo, int C, gboolean wrong_differs)
{
  PoolCase c = { .B = B, .H = H, .W = W, .C = C, .Ho = Ho, .Wo = Wo };
  c.inp = rand_new (in_size (&c), -1, 1);
  pool_check_case (&resize_ac_op, &c, wrong_differs);
  g_free (c.inp);
}

VG_TEST ("/nn/resize-ac", test_resize_ac)
{
  resize_ac_check (2, 3, 5, 7, 11, 3, TRUE);    /* up by 7/3 and 11/5 */
  resize_ac_check (1, 9, 7, 4, 3, 5, TRUE);     /* down */
  resize_ac_check (2, 4, 4, 16, 16, 19, TRUE);  /* Fast-SCNN's x4 */
  resize_ac_check (1, 5, 6, 3, 9, 2, TRUE);     /* down in one axis, up in the other */
  resize_ac_check (1, 1, 4, 3, 2, 2, TRUE);     /* H == 1: the one row broadcasts */
  resize_ac_check (2, 1, 1, 5, 4, 3, FALSE);    /* ASPP's pooled pixel to the map: both rules
                                                   broadcast one pixel */
  resize_ac_check (1, 6, 5, 1, 1, 3, TRUE);     /* Ho == Wo == 1: the first pixel */
  resize_ac_check (1, 3, 2, 6, 1, 3, TRUE);     /* PPM's 3 to 6 rows, one column */

  /* the corners coincide and the same size is the identity, exactly */
  PoolCase c = { .B = 2, .H = 6, .W = 5, .C = 3, .Ho = 6, .Wo = 5 };
  size_t n = in_size (&c);
  c.inp = rand_new (n, -1, 1);
  c.out = g_new (float, n);
  resize_ac_fwd (&c);
  g_assert_cmpmem (c.out, n * 4, c.inp, n * 4);
  float big[2 * 13 * 11 * 3];
  vg_resize_bilinear_ac_forward (big, c.inp, 2, 6, 5, 13, 11, 3);
  for (int b = 0; b < 2; b++)
    for (int ch = 0; ch < 3; ch++)
      {
        g_assert_cmpfloat (big[(b * 13 * 11) * 3 + ch], ==, c.inp[(b * 30) * 3 + ch]);
        g_assert_cmpfloat (fabsf (big[((b * 13 + 12) * 11 + 10) * 3 + ch]
                                  - c.inp[((b * 6 + 5) * 5 + 4) * 3 + ch]),
                           <, 1e-6);
      }
  g_free (c.inp), g_free (c.out);
}

/* F.interpolate(size=..., mode='bilinear', align_corners=True) in PyTorch 1.13 on the
 * pattern input, channels-last (1, 3, 4, 2) -> (1, 5, 7, 2) and (1, 7, 5, 2) -> (1, 3, 2, 2). */
VG_TEST ("/nn/resize-ac-torch", test_resize_ac_torch)
{
  const float up[70] = {
    -0.5f, 0.200000003f, -0.349999994f, 0.349999994f, -0.200000003f, 0.5f, -0.0500000007f,
    0.099999994f, 0.100000001f, -0.300000012f, 0.25f, -0.150000006f, 0.400000006f, 0.0f,
    -0.449999988f, 0.25f, -0.300000012f, 0.125f, -0.150000006f, 0.0f, 0.0f, -0.125f, 0.150000006f,
    -0.25f, 0.300000012f, -0.100000001f, 0.449999988f, 0.0500000007f, -0.400000006f, 0.300000012f,
    -0.25f, -0.099999994f, -0.100000001f, -0.5f, 0.0500000007f, -0.349999994f, 0.200000003f,
    -0.200000003f, 0.349999994f, -0.0500000007f, 0.5f, 0.100000001f, -0.350000024f, 0.350000024f,
    -0.200000003f, -0.049999997f, -0.0500000007f, -0.449999988f, 0.100000001f, -0.300000012f,
    0.25f, -0.150000006f, 0.125f, 0.0f, 0.0f, 0.150000006f, -0.300000012f, 0.400000006f,
    -0.150000006f, 0.0f, 0.0f, -0.400000006f, 0.150000006f, -0.25f, 0.300000012f, -0.100000001f,
    -0.099999994f, 0.0500000007f, -0.5f, 0.200000003f,
  };
  const float down[12] = {
    -0.5f, 0.200000003f, -0.400000006f, 0.300000012f, -0.400000006f, 0.300000012f, -0.300000012f,
    0.400000006f, -0.300000012f, 0.400000006f, -0.200000003f, 0.5f,
  };
  float inp[70], out[70];

  for (int i = 0; i < 3 * 4 * 2; i++)
    inp[i] = pattern (i);
  vg_resize_bilinear_ac_forward (out, inp, 1, 3, 4, 5, 7, 2);
  for (int i = 0; i < 70; i++)
    g_assert_cmpfloat (fabsf (out[i] - up[i]), <, 1e-6);

  for (int i = 0; i < 7 * 5 * 2; i++)
    inp[i] = pattern (i);
  vg_resize_bilinear_ac_forward (out, inp, 1, 7, 5, 3, 2, 2);
  for (int i = 0; i < 12; i++)
    g_assert_cmpfloat (fabsf (out[i] - down[i]), <, 1e-6);
}

/* ---- max pooling -------------------------------------------------------------------------- */

static void
maxpool_fwd (const PoolCase *c)
{
  vg_maxpool2d_forward (c->out, c->inp, c->B, c->H, c->W, c->C, c->K, c->S);
}

static void
maxpool_bwd (const PoolCase *c, float *dinp, const float *dout)
{
  vg_maxpool2d_backward (dinp, dout, c->inp, c->out, c->B, c->H, c->W, c->C, c->K, c->S);
}

/* The input index of the first maximum of window (b, oh, ow) in channel ch, row-major as
 * PyTorch; wrong: the last maximum instead. */
static size_t
naive_argmax (const PoolCase *c, int b, int oh, int ow, int ch, int wrong)
{
  size_t best = 0;
  double m = -INFINITY;

  for (int kh = 0; kh < c->K; kh++)
    for (int kw = 0; kw < c->K; kw++)
      {
        size_t i = (((size_t) b * c->H + oh * c->S + kh) * c->W + ow * c->S + kw) * c->C + ch;
        if (c->inp[i] > m || (wrong && c->inp[i] == m))
          m = c->inp[i], best = i;
      }
  return best;
}

/* The maximum itself; wrong: the value one row below it (as a slip in the window's rows
 * would read) where that stays in the window's reach, else the one to its right. */
static void
naive_maxpool (double *out, const PoolCase *c, int wrong)
{
  for (int b = 0; b < c->B; b++)
    for (int oh = 0; oh < c->Ho; oh++)
      for (int ow = 0; ow < c->Wo; ow++)
        for (int ch = 0; ch < c->C; ch++)
          {
            size_t i = naive_argmax (c, b, oh, ow, ch, 0);
            if (wrong && oh * c->S + c->K < c->H)
              i += (size_t) c->W * c->C;
            else if (wrong && ow * c->S + c->K < c->W)
              i += (size_t) c->C;
            out[(((size_t) b * c->Ho + oh) * c->Wo + ow) * c->C + ch] = c->inp[i];
          }
}

static const PoolOp maxpool_op = { "maxpool", maxpool_fwd, maxpool_bwd, naive_maxpool };

/* Distinct values 0.05 apart in a random order: a perturbation of +-eps = 1e-2 never
 * changes which element is a window's maximum, so the finite differences are exact. */
static float *
distinct_new (size_t n)
{
  float *x = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    x[i] = 0.05f * (float) i - 0.025f * (float) n;
  for (size_t i = n - 1; i > 0; i--)
    {
      size_t j = (size_t) (rnd () * (i + 1));
      float t = x[i];
      x[i] = x[j], x[j] = t;
    }
  return x;
}

static void
maxpool_check (int B, int H, int W, int C, int K, int S)
{
  PoolCase c = { .B = B, .H = H, .W = W, .C = C, .K = K, .S = S };
  c.Ho = (H - K) / S + 1, c.Wo = (W - K) / S + 1;
  c.inp = distinct_new (in_size (&c));
  pool_check_case (&maxpool_op, &c, TRUE);
  g_free (c.inp);
}

/* Ties (values from {0, 1, 2}, many windows hold equal maxima): the gradient goes to each
 * window's first maximum, exactly as the naive scatter puts it; the forward is exact. */
static void
maxpool_ties_check (int B, int H, int W, int C, int K, int S)
{
  PoolCase c = { .B = B, .H = H, .W = W, .C = C, .K = K, .S = S };
  c.Ho = (H - K) / S + 1, c.Wo = (W - K) / S + 1;
  size_t ni = in_size (&c), no = out_size (&c);
  c.inp = g_new (float, ni);
  for (size_t i = 0; i < ni; i++)
    c.inp[i] = (float) (int) (rnd () * 3);
  c.out = g_new (float, no);
  c.R = rand_new (no, -1, 1);
  double *ref = g_new0 (double, ni), *wrong = g_new0 (double, ni);
  float *dinp = filled_new (ni, 123.0f);

  maxpool_fwd (&c);
  maxpool_bwd (&c, dinp, c.R);
  for (int b = 0; b < B; b++)
    for (int oh = 0; oh < c.Ho; oh++)
      for (int ow = 0; ow < c.Wo; ow++)
        for (int ch = 0; ch < C; ch++)
          {
            size_t o = (((size_t) b * c.Ho + oh) * c.Wo + ow) * C + ch;
            size_t i = naive_argmax (&c, b, oh, ow, ch, 0);
            g_assert_cmpfloat (c.out[o], ==, c.inp[i]);
            ref[i] += c.R[o];
            wrong[naive_argmax (&c, b, oh, ow, ch, 1)] += c.R[o];
          }
  g_assert_cmpfloat (rel_err (dinp, ref, ni), <, 1e-6);
  g_assert_cmpfloat (rel_err (dinp, wrong, ni), >, 1e-2); /* the last maximum is told apart */

  g_free (c.inp), g_free (c.out), g_free (c.R), g_free (ref), g_free (wrong), g_free (dinp);
}

VG_TEST ("/nn/maxpool", test_maxpool)
{
  maxpool_check (2, 7, 9, 3, 2, 2);  /* the baselines' 2x2 stride 2, odd sizes: floor */
  maxpool_check (1, 8, 7, 5, 3, 2);  /* overlapping windows */
  maxpool_check (1, 6, 6, 70, 2, 1); /* stride 1, over two channel blocks */
  maxpool_check (2, 5, 5, 2, 3, 3);  /* one row and column left out */
  maxpool_check (1, 4, 6, 3, 4, 4);  /* H == K */
  maxpool_ties_check (2, 9, 8, 7, 2, 2);
  maxpool_ties_check (1, 9, 10, 66, 3, 2);

  /* a NaN wins its window (as PyTorch), -inf is a value */
  float x[2 * 2 * 2] = { 1, -INFINITY, NAN, -INFINITY, -INFINITY, -INFINITY, 2, -INFINITY };
  float y[2], g[2] = { 1, 1 }, d[8];
  vg_maxpool2d_forward (y, x, 1, 2, 2, 2, 2, 2);
  g_assert_true (isnan (y[0]));
  g_assert_cmpfloat (y[1], ==, -INFINITY);
  vg_maxpool2d_backward (d, g, x, y, 1, 2, 2, 2, 2, 2);
  g_assert_cmpfloat (d[1], ==, 1.0f); /* channel 1: the first -inf */
  g_assert_cmpfloat (d[3] + d[5] + d[7], ==, 0.0f);
}

/* ---- adaptive average pooling ------------------------------------------------------------- */

static void
adaptive_fwd (const PoolCase *c)
{
  vg_adaptive_avgpool_forward (c->out, c->inp, c->B, c->H, c->W, c->C, c->Ho, c->Wo);
}

static void
adaptive_bwd (const PoolCase *c, float *dinp, const float *dout)
{
  vg_adaptive_avgpool_backward (dinp, dout, c->B, c->H, c->W, c->C, c->Ho, c->Wo);
}

/* PyTorch's bins: [floor(o in / out), ceil((o + 1) in / out)); wrong: the end rounded down
 * (bins that miss their last row where the sizes do not divide). */
static void
ref_bin (int o, int in, int out, int wrong, int *lo, int *hi)
{
  *lo = (int) floor ((double) o * in / out);
  *hi = (int) ceil ((double) (o + 1) * in / out);
  if (wrong)
    *hi = MAX (*lo + 1, (int) floor ((double) (o + 1) * in / out));
}

static void
naive_adaptive (double *out, const PoolCase *c, int wrong)
{
  for (int b = 0; b < c->B; b++)
    for (int oh = 0; oh < c->Ho; oh++)
      for (int ow = 0; ow < c->Wo; ow++)
        for (int ch = 0; ch < c->C; ch++)
          {
            int h0, h1, w0, w1;
            double s = 0;
            ref_bin (oh, c->H, c->Ho, wrong, &h0, &h1);
            ref_bin (ow, c->W, c->Wo, wrong, &w0, &w1);
            for (int ih = h0; ih < h1; ih++)
              for (int iw = w0; iw < w1; iw++)
                s += c->inp[(((size_t) b * c->H + ih) * c->W + iw) * c->C + ch];
            out[(((size_t) b * c->Ho + oh) * c->Wo + ow) * c->C + ch] = s / (h1 - h0) / (w1 - w0);
          }
}

static const PoolOp adaptive_op = { "adaptive-avgpool", adaptive_fwd, adaptive_bwd,
                                    naive_adaptive };

static void
adaptive_check (int B, int H, int W, int C, int Ho, int Wo, gboolean wrong_differs)
{
  PoolCase c = { .B = B, .H = H, .W = W, .C = C, .Ho = Ho, .Wo = Wo };
  c.inp = rand_new (in_size (&c), -1, 1);
  pool_check_case (&adaptive_op, &c, wrong_differs);
  g_free (c.inp);
}

VG_TEST ("/nn/adaptive-avgpool", test_adaptive_avgpool)
{
  adaptive_check (2, 7, 9, 3, 3, 4, TRUE);     /* ragged bins */
  adaptive_check (1, 5, 4, 2, 7, 6, TRUE);     /* Ho > H: overlapping bins */
  adaptive_check (2, 13, 11, 5, 1, 1, FALSE);  /* global pooling (ASPP): one bin either way */
  adaptive_check (1, 16, 16, 4, 6, 6, TRUE);   /* the PPM's sizes on a 16 x 16 map */
  adaptive_check (1, 16, 16, 4, 3, 2, TRUE);
  adaptive_check (1, 12, 12, 3, 6, 4, FALSE);  /* sizes that divide: plain 2x2 and 2x3 */
  adaptive_check (1, 1, 1, 3, 2, 3, FALSE);    /* one pixel to many */
  adaptive_check (1, 3, 70, 67, 2, 1, TRUE);   /* over two channel vectors, odd channels */
}

/* AdaptiveAvgPool2d((3, 4)) and ((4, 3)) in PyTorch 1.13 on the pattern input, channels-last
 * (1, 5, 7, 2) -> (1, 3, 4, 2) and (1, 2, 2, 2) -> (1, 4, 3, 2). */
VG_TEST ("/nn/adaptive-avgpool-torch", test_adaptive_avgpool_torch)
{
  const float down[24] = {
    -0.125f, 0.300000012f, 0.0500000007f, 0.0166666694f, -0.0833333358f, 0.0666666701f, 0.0f,
    -0.125f, 0.0f, 0.149999991f, -0.099999994f, -0.0111111142f, 0.0111111104f, 0.100000016f,
    -0.150000006f, 0.0f, 0.125f, 0.0f, -0.0666666627f, 0.0833333284f, -0.0166666657f,
    -0.0500000007f, -0.300000012f, 0.125f,
  };
  const float up[24] = {
    -0.5f, 0.200000003f, -0.349999994f, 0.349999994f, -0.200000003f, 0.5f, -0.5f, 0.200000003f,
    -0.349999994f, 0.349999994f, -0.200000003f, 0.5f, 0.100000001f, -0.300000012f, 0.25f,
    -0.150000006f, 0.400000006f, 0.0f, 0.100000001f, -0.300000012f, 0.25f, -0.150000006f,
    0.400000006f, 0.0f,
  };
  float inp[70], out[24];

  for (int i = 0; i < 5 * 7 * 2; i++)
    inp[i] = pattern (i);
  vg_adaptive_avgpool_forward (out, inp, 1, 5, 7, 2, 3, 4);
  for (int i = 0; i < 24; i++)
    g_assert_cmpfloat (fabsf (out[i] - down[i]), <, 1e-6);
  vg_adaptive_avgpool_forward (out, inp, 1, 2, 2, 2, 4, 3);
  for (int i = 0; i < 24; i++)
    g_assert_cmpfloat (fabsf (out[i] - up[i]), <, 1e-6);
}

/* The outputs that the backward passes gather from (vg-pool-shape.h) against every output
 * tried one by one: the adaptive bins that hold an input, the max-pool windows that do. */
VG_TEST ("/nn/pool-inverse-index", test_pool_inverse_index)
{
  for (int n = 1; n <= 20; n++)
    for (int no = 1; no <= 20; no++)
      for (int i = 0; i < n; i++)
        {
          int lo, hi, b0, b1, first = -1, last = -2, count = 0;
          vg_adaptive_outputs (i, n, no, &lo, &hi);
          for (int o = 0; o < no; o++)
            {
              vg_adaptive_bin (o, n, no, &b0, &b1);
              g_assert_cmpint (b0, <, b1);
              if (b0 <= i && i < b1)
                last = o, first = first < 0 ? o : first, count++;
            }
          /* one run of outputs, the one returned */
          if (lo != first || hi != last || count != last - first + 1)
            g_error ("adaptive %d -> %d, input %d: outputs %d..%d, expected %d..%d", n, no, i,
                     lo, hi, first, last);
        }
  for (int K = 1; K <= 4; K++)
    for (int S = 1; S <= 4; S++)
      for (int n = K; n <= 16; n++)
        for (int i = 0; i < n; i++)
          {
            int no = (n - K) / S + 1, lo, hi, first = -1, last = -2, count = 0;
            vg_maxpool_windows (i, K, S, no, &lo, &hi);
            for (int o = 0; o < no; o++)
              if (o * S <= i && i < o * S + K)
                last = o, first = first < 0 ? o : first, count++;
            if (first < 0 ? lo <= hi : lo != first || hi != last || count != last - first + 1)
              g_error ("maxpool K%d S%d n%d, input %d: windows %d..%d, expected %d..%d", K, S, n,
                       i, lo, hi, first, last);
          }
}

/* ---- dropout ------------------------------------------------------------------------------ */

/* The mask as vg-nn.h defines it, from the finaliser of tests/reference's splitmix64 (which
 * adds the golden ratio first, hence the i - 1) and p 2^24 rounded down in double. */
static int
ref_keep (uint64_t seed, uint64_t i, float p)
{
  uint64_t r = vg_ref_splitmix64 (seed + (i - 1) * 0x9E3779B97F4A7C15ull);
  return (double) (r >> 40) >= floor ((double) p * 16777216.0);
}

VG_TEST ("/nn/dropout-mask", test_dropout_mask)
{
  /* the published first output of splitmix64 from seed 0 */
  g_assert_cmphex (vg_ref_splitmix64 (0), ==, 0xE220A8397B1DCDAFull);
  for (uint64_t i = 0; i < 4096; i++)
    for (int k = 0; k < 4; k++)
      {
        const float ps[4] = { 0.1f, 0.5f, 0.3333f, 0.0f };
        const uint64_t seeds[4] = { 0, 1, 42, 0xFFFFFFFFFFFFFFFFull };
        g_assert_cmpint (vg_dropout_keep (seeds[k], i, ps[k]), ==, ref_keep (seeds[k], i, ps[k]));
      }
}

static void
dropout_fraction_check (float p, uint64_t seed)
{
  const size_t n = 1000000;
  float *x = rand_new (n, 0.5, 1.5), *y = g_new (float, n), *d = g_new (float, n);
  float scale = 1.0f / (1.0f - p);
  size_t dropped = 0;

  vg_dropout_forward (y, x, n, p, seed);
  for (size_t i = 0; i < n; i++)
    {
      int keep = ref_keep (seed, i, p);
      dropped += !keep;
      if (y[i] != (keep ? x[i] * scale : 0.0f))
        g_error ("dropout p %g [%zu]: %g from %g, kept %d", p, i, y[i], x[i], keep);
    }
  /* five standard deviations of the binomial fraction: sqrt(p (1 - p) / n) <= 5e-4 */
  double frac = (double) dropped / n;
  g_test_message ("dropout p %g: dropped %.5f", p, frac);
  g_assert_cmpfloat (fabs (frac - p), <, 5 * sqrt (p * (1 - p) / n) + 1e-6);

  /* the backward applies the same mask and scale: with dout = x it gives the forward */
  vg_dropout_backward (d, x, n, p, seed);
  g_assert_cmpmem (d, n * 4, y, n * 4);
  /* in place */
  vg_dropout_forward (x, x, n, p, seed);
  g_assert_cmpmem (x, n * 4, y, n * 4);
  g_free (x), g_free (y), g_free (d);
}

typedef struct {
  size_t n;
  float p;
  float *inp, *out, *R;
} DropoutCase;

static double
dropout_loss (void *p)
{
  DropoutCase *c = p;
  vg_dropout_forward (c->out, c->inp, c->n, c->p, 7);
  return dot (c->out, c->R, c->n);
}

VG_TEST ("/nn/dropout", test_dropout)
{
  dropout_fraction_check (0.1f, 1);
  dropout_fraction_check (0.5f, 2);
  dropout_fraction_check (0.9f, 0xDEADBEEFull);

  /* p = 0 is the identity, to the bit */
  enum { N = 100003 };
  float *x = rand_new (N, -1, 1), *y = g_new (float, N);
  vg_dropout_forward (y, x, N, 0.0f, 5);
  g_assert_cmpmem (y, N * 4, x, N * 4);
  vg_dropout_backward (y, x, N, 0.0f, 5);
  g_assert_cmpmem (y, N * 4, x, N * 4);

  /* another seed draws another mask; the same seed the same one */
  float *a = g_new (float, N), *b = g_new (float, N);
  size_t differ = 0;
  vg_dropout_forward (a, x, N, 0.5f, 5);
  vg_dropout_forward (b, x, N, 0.5f, 6);
  for (size_t i = 0; i < N; i++)
    differ += (a[i] == 0) != (b[i] == 0);
  g_assert_cmpuint (differ, >, N / 3);
  vg_dropout_forward (b, x, N, 0.5f, 5);
  g_assert_cmpmem (a, N * 4, b, N * 4);

  /* finite differences */
  DropoutCase c = { .n = 301, .p = 0.3f };
  c.inp = rand_new (c.n, -1, 1), c.out = g_new (float, c.n), c.R = rand_new (c.n, -1, 1);
  float *dinp = g_new (float, c.n);
  vg_dropout_backward (dinp, c.R, c.n, c.p, 7);
  check_grad ("dropout", c.inp, dinp, c.n, dropout_loss, &c);

  g_free (x), g_free (y), g_free (a), g_free (b), g_free (c.inp), g_free (c.out);
  g_free (c.R), g_free (dinp);
}

/* ---- thread-count independence ------------------------------------------------------------ */

/* Every op above at sizes where OpenMP splits the work, on 1, 2 and 3 threads: no sum
 * depends on the split, so the results agree to the bit. */
enum { TB = 2, TH = 37, TW = 41, TC = 24, THo = 70, TWo = 83 };

typedef struct {
  float *rs, *rs_d, *mp, *mp_d, *mp3, *mp3_d, *ap, *ap_d, *ap1, *ap1_d, *dr, *dr_d;
} ThreadRun;

static void
thread_run (ThreadRun *r, const float *inp, const float *R)
{
  size_t n = (size_t) TB * TH * TW * TC, nu = (size_t) TB * THo * TWo * TC;
  size_t np = (size_t) TB * (TH / 2) * (TW / 2) * TC;
  size_t np3 = (size_t) TB * ((TH - 3) / 2 + 1) * ((TW - 3) / 2 + 1) * TC;
  size_t na = (size_t) TB * 6 * 5 * TC, na1 = (size_t) TB * TC;

  r->rs = g_new (float, nu), r->rs_d = g_new (float, n);
  vg_resize_bilinear_ac_forward (r->rs, inp, TB, TH, TW, THo, TWo, TC);
  vg_resize_bilinear_ac_backward (r->rs_d, R, TB, TH, TW, THo, TWo, TC);
  r->mp = g_new (float, np), r->mp_d = g_new (float, n);
  vg_maxpool2d_forward (r->mp, inp, TB, TH, TW, TC, 2, 2);
  vg_maxpool2d_backward (r->mp_d, R, inp, r->mp, TB, TH, TW, TC, 2, 2);
  r->mp3 = g_new (float, np3), r->mp3_d = g_new (float, n);
  vg_maxpool2d_forward (r->mp3, inp, TB, TH, TW, TC, 3, 2);
  vg_maxpool2d_backward (r->mp3_d, R, inp, r->mp3, TB, TH, TW, TC, 3, 2);
  r->ap = g_new (float, na), r->ap_d = g_new (float, n);
  vg_adaptive_avgpool_forward (r->ap, inp, TB, TH, TW, TC, 6, 5);
  vg_adaptive_avgpool_backward (r->ap_d, R, TB, TH, TW, TC, 6, 5);
  r->ap1 = g_new (float, na1), r->ap1_d = g_new (float, n);
  vg_adaptive_avgpool_forward (r->ap1, inp, TB, TH, TW, TC, 1, 1);
  vg_adaptive_avgpool_backward (r->ap1_d, R, TB, TH, TW, TC, 1, 1);
  r->dr = g_new (float, n), r->dr_d = g_new (float, n);
  vg_dropout_forward (r->dr, inp, n, 0.25f, 99);
  vg_dropout_backward (r->dr_d, R, n, 0.25f, 99);
}

static void
thread_run_clear (ThreadRun *r)
{
  g_free (r->rs), g_free (r->rs_d), g_free (r->mp), g_free (r->mp_d), g_free (r->mp3);
  g_free (r->mp3_d), g_free (r->ap), g_free (r->ap_d), g_free (r->ap1), g_free (r->ap1_d);
  g_free (r->dr), g_free (r->dr_d);
}

VG_TEST ("/nn/baselines-thread-count", test_thread_count)
{
  size_t n = (size_t) TB * TH * TW * TC, nu = (size_t) TB * THo * TWo * TC;
  float *inp = rand_new (n, -2, 2), *R = rand_new (MAX (n, nu), -1, 1);
  int saved = omp_get_max_threads ();
  ThreadRun runs[3];

  for (int t = 0; t < 3; t++)
    {
      omp_set_num_threads (t + 1);
      thread_run (&runs[t], inp, R);
    }
  omp_set_num_threads (saved);

  for (int t = 1; t < 3; t++)
    {
      ThreadRun *a = &runs[0], *b = &runs[t];
      size_t np = (size_t) TB * (TH / 2) * (TW / 2) * TC;
      size_t np3 = (size_t) TB * ((TH - 3) / 2 + 1) * ((TW - 3) / 2 + 1) * TC;
      g_assert_cmpmem (a->rs, nu * 4, b->rs, nu * 4);
      g_assert_cmpmem (a->rs_d, n * 4, b->rs_d, n * 4);
      g_assert_cmpmem (a->mp, np * 4, b->mp, np * 4);
      g_assert_cmpmem (a->mp_d, n * 4, b->mp_d, n * 4);
      g_assert_cmpmem (a->mp3, np3 * 4, b->mp3, np3 * 4);
      g_assert_cmpmem (a->mp3_d, n * 4, b->mp3_d, n * 4);
      g_assert_cmpmem (a->ap, TB * 30 * TC * 4, b->ap, TB * 30 * TC * 4);
      g_assert_cmpmem (a->ap_d, n * 4, b->ap_d, n * 4);
      g_assert_cmpmem (a->ap1, TB * TC * 4, b->ap1, TB * TC * 4);
      g_assert_cmpmem (a->ap1_d, n * 4, b->ap1_d, n * 4);
      g_assert_cmpmem (a->dr, n * 4, b->dr, n * 4);
      g_assert_cmpmem (a->dr_d, n * 4, b->dr_d, n * 4);
    }
  for (int t = 0; t < 3; t++)
    thread_run_clear (&runs[t]);
  g_free (inp), g_free (R);
}

VG_TEST_MAIN ()
