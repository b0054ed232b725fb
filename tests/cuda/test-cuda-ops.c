/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every op of the CUDA backend, forward and backward, against the CPU backend (the
 * specification, nn/) on random inputs, with the shapes the model uses and odd ones that
 * reach the edges (partial tiles, padding, strides, groups, several chunks).
 *
 * Bound: max |cuda - cpu| / max |cpu| <= 1e-4 per output (TOL), FP32 everywhere. Both sides
 * round differently (summation order, FMA, the CPU's vectorised exp and erf to ~1e-7), which
 * stays below 1e-5 in practice; an indexing or formula mistake gives errors of order 1.
 * Outputs that must be overwritten are pre-filled with NaN on both sides, and the parameter
 * gradients, which must accumulate, start from the same random values. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <gio/gio.h>
#include <glib.h>

#include "cuda-test-common.h"

#define TOL 1e-4

static GRand *rng;

/* ---- paired buffers: the CPU reference (host) and the device copy ------------------------ */

typedef struct
{
  float *h; /* CPU backend's buffer (host memory) */
  float *d; /* backend under test */
  size_t n;
} Pair;

static GPtrArray *live;

static void
pair_free (gpointer data)
{
  Pair *p = data;

  g_free (p->h);
  dev_be->free (p->d);
  g_free (p);
}

static Pair *
pair_from (const float *values, size_t n)
{
  Pair *p = g_new0 (Pair, 1);

  p->n = n;
  p->h = g_new (float, MAX (n, 1));
  if (n > 0)
    memcpy (p->h, values, n * sizeof (float));
  p->d = dev_upload (p->h, n);
  g_ptr_array_add (live, p);
  return p;
}

static Pair *
pair_uniform (size_t n, float lo, float hi)
{
  g_autofree float *v = g_new (float, MAX (n, 1));

  fill_uniform (rng, v, n, lo, hi);
  return pair_from (v, n);
}

/* For outputs: NaN everywhere, so an element the op forgets shows up. */
static Pair *
pair_nan (size_t n)
{
  g_autofree float *v = g_new (float, MAX (n, 1));

  for (size_t i = 0; i < n; i++)
    v[i] = NAN;
  return pair_from (v, n);
}

static void
pair_check (const char *what, const Pair *p)
{
  check_close (what, p->d, p->h, p->n, TOL);
}

static void
release_all (void)
{
  assert_no_device_error ();
  g_ptr_array_set_size (live, 0);
}

/* ---- memory ------------------------------------------------------------------------------ */

VG_TEST ("/cuda/ops/memory", test_memory)
{
  g_autoptr (GError) error = NULL;
  enum { N = 1000 };
  float src[N], back[N];
  float *a, *b;
  void *huge;

  for (int i = 0; i < N; i++)
    src[i] = (float) i - 500.5f;
  a = dev_upload (src, N);
  b = dev_alloc (N * sizeof (float));
  dev_be->copy (b, a, N * sizeof (float));
  dev_be->zero (b + 100, 50 * sizeof (float));
  dev_be->download (back, b, N * sizeof (float));
  for (int i = 0; i < N; i++)
    g_assert_cmpfloat (back[i], ==, i >= 100 && i < 150 ? 0.0f : src[i]);
  dev_be->free (a);
  dev_be->free (b);

  /* running out of memory is an error for the caller, never a crash: 2^50 bytes (1 PiB) */
  huge = dev_be->alloc ((size_t) 1 << 50, &error);
  g_assert_null (huge);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_test_message ("1 PiB: %s", error->message);
  if (!self_check)
    g_assert_nonnull (strstr (error->message, "out of GPU memory: needed"));
  /* and the device still works afterwards */
  a = dev_upload (src, N);
  dev_be->download (back, a, N * sizeof (float));
  g_assert_cmpmem (back, sizeof back, src, sizeof src);
  dev_be->free (a);
  assert_no_device_error ();
}

/* ---- linear ------------------------------------------------------------------------------ */

VG_TEST ("/cuda/ops/linear", test_linear)
{
  enum { Nr = 300, Cin = 40, Cout = 70 };
  Pair *inp = pair_uniform (Nr * Cin, -1, 1), *w = pair_uniform (Cout * Cin, -1, 1);
  Pair *b = pair_uniform (Cout, -1, 1), *out = pair_nan (Nr * Cout);
  Pair *dout = pair_uniform (Nr * Cout, -1, 1), *dinp = pair_nan (Nr * Cin);
  Pair *dw = pair_uniform (Cout * Cin, -1, 1), *db = pair_uniform (Cout, -1, 1);

  cpu_be->linear_forward (out->h, inp->h, w->h, b->h, Nr, Cin, Cout);
  dev_be->linear_forward (out->d, inp->d, w->d, b->d, Nr, Cin, Cout);
  pair_check ("linear forward", out);
  cpu_be->linear_forward (out->h, inp->h, w->h, NULL, Nr, Cin, Cout);
  dev_be->linear_forward (out->d, inp->d, w->d, NULL, Nr, Cin, Cout);
  pair_check ("linear forward, no bias", out);

  cpu_be->linear_backward (dinp->h, dw->h, db->h, dout->h, inp->h, w->h, Nr, Cin, Cout);
  dev_be->linear_backward (dinp->d, dw->d, db->d, dout->d, inp->d, w->d, Nr, Cin, Cout);
  /* again without dinp: the parameter gradients accumulate a second time */
  cpu_be->linear_backward (NULL, dw->h, db->h, dout->h, inp->h, w->h, Nr, Cin, Cout);
  dev_be->linear_backward (NULL, dw->d, db->d, dout->d, inp->d, w->d, Nr, Cin, Cout);
  pair_check ("linear dinp", dinp);
  pair_check ("linear dweight (+= twice)", dw);
  pair_check ("linear dbias (+= twice)", db);
  release_all ();
}

/* ---- conv2d ------------------------------------------------------------------------------ */

typedef struct
{
  int B, H, W, Cin, Cout, K, S, P, G;
  gboolean bias;
  const char *name;
  int Dl; /* the dilated convolution's dilation (G == 1); 0: the plain conv2d */
} ConvCase;

static const ConvCase conv_cases[] = {
  { 2, 9, 11, 8, 12, 1, 1, 0, 1, TRUE, "pointwise" },
  { 2, 9, 11, 8, 12, 1, 1, 0, 1, FALSE, "pointwise, no bias (Fast-SCNN)" },
  { 2, 13, 10, 24, 24, 3, 1, 1, 24, TRUE, "depthwise 3x3 (Mix-FFN)" },
  { 2, 13, 10, 16, 16, 3, 2, 1, 16, FALSE, "depthwise 3x3 stride 2, no bias" },
  { 2, 33, 29, 3, 16, 7, 4, 3, 1, TRUE, "7x7 stride 4 (stage 0 patch embedding)" },
  { 2, 17, 15, 16, 32, 3, 2, 1, 1, TRUE, "3x3 stride 2 (patch embedding)" },
  { 2, 16, 16, 8, 8, 4, 4, 0, 1, TRUE, "4x4 stride 4 (spatial reduction)" },
  { 2, 12, 9, 8, 12, 3, 1, 1, 2, TRUE, "grouped G = 2" },
  { 1, 7, 7, 6, 4, 5, 2, 2, 1, FALSE, "5x5 stride 2 pad 2, no bias" },
};

/* One output dimension: (H + 2P - Dl (K - 1) - 1) / S + 1, Dl = 1 undilated. */
static int
conv_case_out (const ConvCase *c, int H)
{
  return (H + 2 * c->P - MAX (c->Dl, 1) * (c->K - 1) - 1) / c->S + 1;
}

/* The case's convolution on one backend: conv2d, or the dilated one. */
static size_t
conv_case_scratch (const VgBackend *be, const ConvCase *c)
{
  if (c->Dl > 0)
    return be->conv2d_dilated_scratch_floats (c->B, c->H, c->W, c->Cin, c->Cout, c->K, c->S,
                                              c->P, c->Dl);
  return be->conv2d_scratch_floats (c->B, c->H, c->W, c->Cin, c->Cout, c->K, c->S, c->P, c->G);
}

static void
conv_case_forward (const VgBackend *be, const ConvCase *c, float *out, const float *inp,
                   const float *w, const float *b, float *scr)
{
  if (c->Dl > 0)
    be->conv2d_dilated_forward (out, inp, w, b, scr, c->B, c->H, c->W, c->Cin, c->Cout, c->K,
                                c->S, c->P, c->Dl);
  else
    be->conv2d_forward (out, inp, w, b, scr, c->B, c->H, c->W, c->Cin, c->Cout, c->K, c->S,
                        c->P, c->G);
}

static void
conv_case_backward (const VgBackend *be, const ConvCase *c, float *dinp, float *dw, float *db,
                    const float *dout, const float *inp, const float *w, float *scr)
{
  if (c->Dl > 0)
    be->conv2d_dilated_backward (dinp, dw, db, dout, inp, w, scr, c->B, c->H, c->W, c->Cin,
                                 c->Cout, c->K, c->S, c->P, c->Dl);
  else
    be->conv2d_backward (dinp, dw, db, dout, inp, w, scr, c->B, c->H, c->W, c->Cin, c->Cout,
                         c->K, c->S, c->P, c->G);
}

static void
run_conv_case (const ConvCase *c, size_t conv_budget)
{
  int Ho = conv_case_out (c, c->H), Wo = conv_case_out (c, c->W);
  size_t n_in = (size_t) c->B * c->H * c->W * c->Cin, n_out = (size_t) c->B * Ho * Wo * c->Cout;
  size_t n_w = (size_t) c->Cout * (c->Cin / c->G) * c->K * c->K;
  size_t cs, ds;
  Pair *inp, *w, *b, *out, *dout, *dinp, *dw, *db, *scr;
  const char *op = c->Dl > 0 ? "conv2d dilated" : "conv2d";
  char what[160];

  vg_cuda_set_tile_budgets (0, conv_budget);
  cs = conv_case_scratch (cpu_be, c);
  ds = conv_case_scratch (dev_be, c);
  inp = pair_uniform (n_in, -1, 1);
  w = pair_uniform (n_w, -1, 1);
  b = c->bias ? pair_uniform (c->Cout, -1, 1) : NULL;
  out = pair_nan (n_out);
  dout = pair_uniform (n_out, -1, 1);
  dinp = pair_nan (n_in);
  dw = pair_uniform (n_w, -1, 1);
  db = c->bias ? pair_uniform (c->Cout, -1, 1) : NULL;
  /* scratch sizes differ between backends: a Pair of the larger size serves both */
  scr = pair_nan (MAX (cs, ds));

  conv_case_forward (cpu_be, c, out->h, inp->h, w->h, b ? b->h : NULL, scr->h);
  conv_case_forward (dev_be, c, out->d, inp->d, w->d, b ? b->d : NULL, scr->d);
  g_snprintf (what, sizeof what, "%s %s forward (budget %zu)", op, c->name, conv_budget);
  pair_check (what, out);

  conv_case_backward (cpu_be, c, dinp->h, dw->h, db ? db->h : NULL, dout->h, inp->h, w->h,
                      scr->h);
  conv_case_backward (dev_be, c, dinp->d, dw->d, db ? db->d : NULL, dout->d, inp->d, w->d,
                      scr->d);
  /* the first layer's call: no dinp, parameter gradients accumulate again */
  conv_case_backward (cpu_be, c, NULL, dw->h, db ? db->h : NULL, dout->h, inp->h, w->h, scr->h);
  conv_case_backward (dev_be, c, NULL, dw->d, db ? db->d : NULL, dout->d, inp->d, w->d, scr->d);
  g_snprintf (what, sizeof what, "%s %s dinp", op, c->name);
  pair_check (what, dinp);
  g_snprintf (what, sizeof what, "%s %s dweight (+= twice)", op, c->name);
  pair_check (what, dw);
  if (db != NULL)
    {
      g_snprintf (what, sizeof what, "%s %s dbias (+= twice)", op, c->name);
      pair_check (what, db);
    }
  release_all ();
  vg_cuda_set_tile_budgets (0, 0);
}

/* Each case with the default budget, and with one image's columns: one image per im2col
 * chunk. */
static void
run_conv_cases (const ConvCase *cases, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      const ConvCase *c = &cases[i];

      run_conv_case (c, 0);
      run_conv_case (c, (size_t) conv_case_out (c, c->H) * conv_case_out (c, c->W) * c->Cin
                          * c->K * c->K);
    }
}

VG_TEST ("/cuda/ops/conv2d", test_conv2d)
{
  run_conv_cases (conv_cases, G_N_ELEMENTS (conv_cases));
}

/* DeepLabV3+'s atrous pyramid (3x3, padding = dilation 6, 12, 18, on maps smaller than the
 * dilation: most taps read padding), and strides whose step through the taps differs (S and
 * Dl coprime, or sharing a factor). */
static const ConvCase dilated_cases[] = {
  { 2, 13, 11, 8, 6, 3, 1, 6, 1, TRUE, "3x3 rate 6 (ASPP)", 6 },
  { 1, 9, 10, 5, 7, 3, 1, 12, 1, TRUE, "3x3 rate 12 on 9x10", 12 },
  { 1, 8, 8, 4, 4, 3, 1, 18, 1, FALSE, "3x3 rate 18 on 8x8, no bias", 18 },
  { 2, 15, 13, 6, 5, 3, 2, 2, 1, TRUE, "3x3 stride 2 dilation 2", 2 },
  { 1, 17, 12, 4, 6, 3, 3, 4, 1, TRUE, "3x3 stride 3 dilation 2 (coprime)", 2 },
  { 1, 19, 16, 3, 5, 3, 2, 1, 1, TRUE, "3x3 stride 2 dilation 4 pad 1", 4 },
  { 2, 7, 9, 6, 4, 1, 1, 0, 1, TRUE, "1x1 dilation 3 (pointwise)", 3 },
  { 1, 7, 9, 5, 3, 1, 2, 1, 1, TRUE, "1x1 stride 2 pad 1 dilation 2", 2 },
  { 2, 9, 8, 5, 6, 3, 1, 1, 1, TRUE, "3x3 dilation 1 (conv2d's)", 1 },
};

VG_TEST ("/cuda/ops/conv2d-dilated", test_conv2d_dilated)
{
  run_conv_cases (dilated_cases, G_N_ELEMENTS (dilated_cases));
}

/* ---- transposed convolution -------------------------------------------------------------- */

static void
run_conv_transpose (int B, int H, int W, int Cin, int Cout, int K, size_t budget)
{
  size_t n_in = (size_t) B * H * W * Cin, n_out = (size_t) B * H * K * W * K * Cout;
  size_t n_w = (size_t) Cin * Cout * K * K, cs, ds;
  Pair *inp, *w, *b, *out, *dout, *dinp, *dw, *db, *scr;
  char what[128];

  vg_cuda_set_tile_budgets (0, budget);
  cs = cpu_be->conv_transpose_scratch_floats (B, H, W, Cin, Cout, K);
  ds = dev_be->conv_transpose_scratch_floats (B, H, W, Cin, Cout, K);
  inp = pair_uniform (n_in, -1, 1);
  w = pair_uniform (n_w, -1, 1);
  b = pair_uniform (Cout, -1, 1);
  out = pair_nan (n_out);
  dout = pair_uniform (n_out, -1, 1);
  dinp = pair_nan (n_in);
  dw = pair_uniform (n_w, -1, 1);
  db = pair_uniform (Cout, -1, 1);
  scr = pair_nan (MAX (cs, ds));

  cpu_be->conv_transpose_forward (out->h, inp->h, w->h, b->h, scr->h, B, H, W, Cin, Cout, K);
  dev_be->conv_transpose_forward (out->d, inp->d, w->d, b->d, scr->d, B, H, W, Cin, Cout, K);
  g_snprintf (what, sizeof what, "conv_transpose %dx%d %d->%d forward (budget %zu)", H, W, Cin,
              Cout, budget);
  pair_check (what, out);
  cpu_be->conv_transpose_backward (dinp->h, dw->h, db->h, dout->h, inp->h, w->h, scr->h, B, H,
                                   W, Cin, Cout, K);
  dev_be->conv_transpose_backward (dinp->d, dw->d, db->d, dout->d, inp->d, w->d, scr->d, B, H,
                                   W, Cin, Cout, K);
  pair_check ("conv_transpose dinp", dinp);
  pair_check ("conv_transpose dweight (+=)", dw);
  pair_check ("conv_transpose dbias (+=)", db);
  release_all ();
  vg_cuda_set_tile_budgets (0, 0);
}

VG_TEST ("/cuda/ops/conv-transpose", test_conv_transpose)
{
  run_conv_transpose (2, 6, 5, 5, 7, 4, 0);
  run_conv_transpose (2, 6, 5, 5, 7, 4, (size_t) 6 * 5 * 7 * 16); /* one image per chunk */
  run_conv_transpose (3, 8, 8, 19, 19, 4, 0);                      /* the head's shape */
  run_conv_transpose (1, 3, 4, 4, 2, 2, 0);
}

/* ---- normalisation ----------------------------------------------------------------------- */

static void
run_layernorm (int Nr, int C, float offset)
{
  Pair *inp = pair_uniform ((size_t) Nr * C, offset - 1, offset + 1);
  Pair *w = pair_uniform (C, 0.5f, 1.5f), *b = pair_uniform (C, -1, 1);
  Pair *out = pair_nan ((size_t) Nr * C), *mean = pair_nan (Nr), *rstd = pair_nan (Nr);
  Pair *dout = pair_uniform ((size_t) Nr * C, -1, 1), *dinp = pair_nan ((size_t) Nr * C);
  Pair *dw = pair_uniform (C, -1, 1), *db = pair_uniform (C, -1, 1);
  char what[96];

  cpu_be->layernorm_forward (out->h, mean->h, rstd->h, inp->h, w->h, b->h, 1e-5f, Nr, C);
  dev_be->layernorm_forward (out->d, mean->d, rstd->d, inp->d, w->d, b->d, 1e-5f, Nr, C);
  g_snprintf (what, sizeof what, "layernorm (%d, %d) offset %g", Nr, C, offset);
  pair_check (what, out);
  pair_check ("layernorm mean", mean);
  pair_check ("layernorm rstd", rstd);
  /* the backward reads the reference's saved statistics on both sides */
  dev_be->upload (mean->d, mean->h, Nr * sizeof (float));
  dev_be->upload (rstd->d, rstd->h, Nr * sizeof (float));
  cpu_be->layernorm_backward (dinp->h, dw->h, db->h, dout->h, inp->h, w->h, mean->h, rstd->h,
                              Nr, C);
  dev_be->layernorm_backward (dinp->d, dw->d, db->d, dout->d, inp->d, w->d, mean->d, rstd->d,
                              Nr, C);
  pair_check ("layernorm dinp", dinp);
  pair_check ("layernorm dweight (+=)", dw);
  pair_check ("layernorm dbias (+=)", db);
  release_all ();
}

VG_TEST ("/cuda/ops/layernorm", test_layernorm)
{
  run_layernorm (257, 37, 0.0f);
  run_layernorm (100, 160, 3.0f);
  run_layernorm (4096, 32, 0.0f);
  run_layernorm (3, 1, 0.0f);
}

static void
run_batchnorm (int Nr, int C, float offset)
{
  Pair *inp = pair_uniform ((size_t) Nr * C, offset - 2, offset + 2);
  Pair *w = pair_uniform (C, 0.5f, 1.5f), *b = pair_uniform (C, -1, 1);
  Pair *out = pair_nan ((size_t) Nr * C), *mean = pair_nan (C), *rstd = pair_nan (C);
  Pair *rm = pair_uniform (C, -1, 1), *rv = pair_uniform (C, 0.5f, 2.0f);
  Pair *dout = pair_uniform ((size_t) Nr * C, -1, 1), *dinp = pair_nan ((size_t) Nr * C);
  Pair *dw = pair_uniform (C, -1, 1), *db = pair_uniform (C, -1, 1);
  char what[96];

  cpu_be->batchnorm_forward_train (out->h, mean->h, rstd->h, rm->h, rv->h, inp->h, w->h, b->h,
                                   1e-5f, 0.1f, Nr, C);
  dev_be->batchnorm_forward_train (out->d, mean->d, rstd->d, rm->d, rv->d, inp->d, w->d, b->d,
                                   1e-5f, 0.1f, Nr, C);
  g_snprintf (what, sizeof what, "batchnorm train (%d, %d) offset %g", Nr, C, offset);
  pair_check (what, out);
  pair_check ("batchnorm mean", mean);
  pair_check ("batchnorm rstd", rstd);
  pair_check ("batchnorm running_mean", rm);
  pair_check ("batchnorm running_var", rv);

  dev_be->upload (mean->d, mean->h, C * sizeof (float));
  dev_be->upload (rstd->d, rstd->h, C * sizeof (float));
  cpu_be->batchnorm_backward (dinp->h, dw->h, db->h, dout->h, inp->h, w->h, mean->h, rstd->h,
                              Nr, C);
  dev_be->batchnorm_backward (dinp->d, dw->d, db->d, dout->d, inp->d, w->d, mean->d, rstd->d,
                              Nr, C);
  pair_check ("batchnorm dinp", dinp);
  pair_check ("batchnorm dweight (+=)", dw);
  pair_check ("batchnorm dbias (+=)", db);

  dev_be->upload (rm->d, rm->h, C * sizeof (float));
  dev_be->upload (rv->d, rv->h, C * sizeof (float));
  cpu_be->batchnorm_forward_eval (out->h, inp->h, w->h, b->h, rm->h, rv->h, 1e-5f, Nr, C);
  dev_be->batchnorm_forward_eval (out->d, inp->d, w->d, b->d, rm->d, rv->d, 1e-5f, Nr, C);
  pair_check ("batchnorm eval", out);
  release_all ();
}

/* BatchNorm folded into a convolution's weight (Cout, per) and bias, with and without one */
static void
run_batchnorm_fold (int Cout, size_t per)
{
  Pair *w = pair_uniform ((size_t) Cout * per, -1, 1), *cb = pair_uniform (Cout, -1, 1);
  Pair *g = pair_uniform (Cout, 0.5f, 1.5f), *b = pair_uniform (Cout, -1, 1);
  Pair *rm = pair_uniform (Cout, -1, 1), *rv = pair_uniform (Cout, 0.0f, 2.0f);
  Pair *fw = pair_nan ((size_t) Cout * per), *fb = pair_nan (Cout);

  for (int with_bias = 0; with_bias <= 1; with_bias++)
    {
      cpu_be->batchnorm_fold (fw->h, fb->h, w->h, with_bias ? cb->h : NULL, g->h, b->h, rm->h,
                              rv->h, 1e-5f, Cout, per);
      dev_be->batchnorm_fold (fw->d, fb->d, w->d, with_bias ? cb->d : NULL, g->d, b->d, rm->d,
                              rv->d, 1e-5f, Cout, per);
      pair_check ("batchnorm fold weight", fw);
      pair_check (with_bias ? "batchnorm fold bias" : "batchnorm fold bias (none before)", fb);
    }
  release_all ();
}

VG_TEST ("/cuda/ops/batchnorm", test_batchnorm)
{
  run_batchnorm (517, 19, 0.0f);
  run_batchnorm (8, 64, 0.0f);      /* the last stage's few pixels */
  run_batchnorm (4, 32, 0.0f);      /* image pooling: one pixel per image */
  run_batchnorm (20000, 48, 5.0f);  /* many rows, a mean far from zero */
}

VG_TEST ("/cuda/ops/batchnorm-fold", test_batchnorm_fold)
{
  run_batchnorm_fold (19, 128);     /* a 1x1 convolution */
  run_batchnorm_fold (64, 9 * 32);  /* 3x3 */
  run_batchnorm_fold (384, 9);      /* depthwise */
  run_batchnorm_fold (1, 1);
}

/* ---- activations ------------------------------------------------------------------------- */

VG_TEST ("/cuda/ops/activations", test_activations)
{
  enum { N = 100003 };
  Pair *inp = pair_uniform (N, -6, 6), *out = pair_nan (N), *dout = pair_uniform (N, -1, 1);
  Pair *dinp = pair_nan (N);

  cpu_be->gelu_forward (out->h, inp->h, N);
  dev_be->gelu_forward (out->d, inp->d, N);
  pair_check ("gelu forward", out);
  cpu_be->gelu_backward (dinp->h, dout->h, inp->h, N);
  dev_be->gelu_backward (dinp->d, dout->d, inp->d, N);
  pair_check ("gelu backward", dinp);
  /* in place, as the model calls them: gelu backward dinp == dout, relu out == inp */
  cpu_be->gelu_backward (dout->h, dout->h, inp->h, N);
  dev_be->gelu_backward (dout->d, dout->d, inp->d, N);
  pair_check ("gelu backward in place", dout);

  cpu_be->relu_forward (out->h, inp->h, N);
  dev_be->relu_forward (out->d, inp->d, N);
  pair_check ("relu forward", out);
  cpu_be->relu_forward (inp->h, inp->h, N);
  dev_be->relu_forward (inp->d, inp->d, N);
  pair_check ("relu forward in place", inp);
  cpu_be->relu_backward (dout->h, dout->h, out->h, N);
  dev_be->relu_backward (dout->d, dout->d, out->d, N);
  pair_check ("relu backward in place", dout);
  release_all ();
}

/* ---- resize and concat ------------------------------------------------------------------- */

/* The bilinear resize, align_corners false (ac 0) or true (ac 1). */
static void
run_resize_mode (int ac, int B, int H, int W, int Ho, int Wo, int C)
{
  typedef void (*ResizeFn) (float *, const float *, int, int, int, int, int, int);
  Pair *inp = pair_uniform ((size_t) B * H * W * C, -1, 1);
  Pair *out = pair_nan ((size_t) B * Ho * Wo * C);
  Pair *dout = pair_uniform ((size_t) B * Ho * Wo * C, -1, 1);
  Pair *dinp = pair_nan ((size_t) B * H * W * C);
  ResizeFn cpu_fwd = ac ? cpu_be->resize_bilinear_ac_forward : cpu_be->resize_bilinear_forward;
  ResizeFn dev_fwd = ac ? dev_be->resize_bilinear_ac_forward : dev_be->resize_bilinear_forward;
  ResizeFn cpu_bwd = ac ? cpu_be->resize_bilinear_ac_backward : cpu_be->resize_bilinear_backward;
  ResizeFn dev_bwd = ac ? dev_be->resize_bilinear_ac_backward : dev_be->resize_bilinear_backward;
  const char *mode = ac ? " align_corners" : "";
  char what[96];

  cpu_fwd (out->h, inp->h, B, H, W, Ho, Wo, C);
  dev_fwd (out->d, inp->d, B, H, W, Ho, Wo, C);
  g_snprintf (what, sizeof what, "resize%s %dx%d -> %dx%d forward", mode, H, W, Ho, Wo);
  pair_check (what, out);
  cpu_bwd (dinp->h, dout->h, B, H, W, Ho, Wo, C);
  dev_bwd (dinp->d, dout->d, B, H, W, Ho, Wo, C);
  g_snprintf (what, sizeof what, "resize%s %dx%d -> %dx%d backward", mode, H, W, Ho, Wo);
  pair_check (what, dinp);
  release_all ();
}

static void
run_resize (int B, int H, int W, int Ho, int Wo, int C)
{
  run_resize_mode (0, B, H, W, Ho, Wo, C);
}

VG_TEST ("/cuda/ops/resize", test_resize)
{
  run_resize (2, 5, 7, 20, 28, 5);    /* x4, the decoder's */
  run_resize (2, 4, 4, 32, 32, 3);    /* x8 */
  run_resize (1, 16, 16, 64, 64, 2);  /* x4 larger */
  run_resize (1, 6, 6, 16, 10, 4);    /* non-integer ratios */
  run_resize (2, 20, 24, 7, 9, 3);    /* down */
  run_resize (1, 1, 1, 4, 4, 2);      /* a single pixel */
  run_resize (1, 8, 8, 8, 8, 3);      /* identity */
}

/* align_corners=True: the baselines' upsampling (x4 of DeepLabV3+ and Fast-SCNN, the image
 * pool's 1x1 broadcast), ragged and non-integer ratios, downsampling, one output row
 * (scale 0), one input row (broadcast). */
VG_TEST ("/cuda/ops/resize-align-corners", test_resize_align_corners)
{
  run_resize_mode (1, 2, 8, 8, 32, 32, 3);
  run_resize_mode (1, 1, 5, 4, 37, 29, 2);
  run_resize_mode (1, 2, 1, 1, 9, 9, 4);
  run_resize_mode (1, 1, 6, 9, 17, 11, 4);
  run_resize_mode (1, 2, 20, 24, 7, 9, 3);
  run_resize_mode (1, 1, 5, 6, 1, 3, 2);
  run_resize_mode (1, 1, 1, 5, 3, 9, 2);
  run_resize_mode (1, 1, 8, 8, 8, 8, 3);
}

VG_TEST ("/cuda/ops/concat", test_concat)
{
  enum { Nr = 123 };
  const int Cs[3] = { 4, 7, 1 };
  Pair *p0 = pair_uniform (Nr * 4, -1, 1), *p1 = pair_uniform (Nr * 7, -1, 1);
  Pair *p2 = pair_uniform (Nr * 1, -1, 1), *out = pair_nan (Nr * 12);
  Pair *dout = pair_uniform (Nr * 12, -1, 1);
  Pair *d0 = pair_nan (Nr * 4), *d2 = pair_nan (Nr * 1);
  const float *hp[3] = { p0->h, p1->h, p2->h }, *dp[3] = { p0->d, p1->d, p2->d };
  float *hd[3] = { d0->h, NULL, d2->h }, *dd[3] = { d0->d, NULL, d2->d };

  cpu_be->concat_forward (out->h, hp, Cs, 3, Nr);
  dev_be->concat_forward (out->d, dp, Cs, 3, Nr);
  pair_check ("concat forward", out);
  cpu_be->concat_backward (hd, dout->h, Cs, 3, Nr);
  dev_be->concat_backward (dd, dout->d, Cs, 3, Nr);
  pair_check ("concat backward part 0", d0);
  pair_check ("concat backward part 2", d2);
  release_all ();
}

/* ---- pooling ----------------------------------------------------------------------------- */

/* Max pooling; with ties, the inputs are small integers, so that windows hold several equal
 * maxima and only the first may receive the gradient. */
static void
run_maxpool (int B, int H, int W, int C, int K, int S, gboolean ties)
{
  int Ho = H < K ? 0 : (H - K) / S + 1, Wo = W < K ? 0 : (W - K) / S + 1;
  size_t n_in = (size_t) B * H * W * C, n_out = (size_t) B * Ho * Wo * C;
  Pair *inp = pair_uniform (n_in, -1, 1), *out = pair_nan (n_out);
  Pair *dout = pair_uniform (n_out, -1, 1), *dinp = pair_nan (n_in);
  char what[112];

  if (ties)
    {
      for (size_t i = 0; i < n_in; i++)
        inp->h[i] = (float) g_rand_int_range (rng, 0, 3);
      dev_be->upload (inp->d, inp->h, n_in * sizeof (float));
    }
  cpu_be->maxpool2d_forward (out->h, inp->h, B, H, W, C, K, S);
  dev_be->maxpool2d_forward (out->d, inp->d, B, H, W, C, K, S);
  g_snprintf (what, sizeof what, "maxpool %dx%d K %d S %d%s forward", H, W, K, S,
              ties ? " ties" : "");
  pair_check (what, out);
  /* each side finds its maxima again from its own forward output */
  cpu_be->maxpool2d_backward (dinp->h, dout->h, inp->h, out->h, B, H, W, C, K, S);
  dev_be->maxpool2d_backward (dinp->d, dout->d, inp->d, out->d, B, H, W, C, K, S);
  g_snprintf (what, sizeof what, "maxpool %dx%d K %d S %d%s backward", H, W, K, S,
              ties ? " ties" : "");
  pair_check (what, dinp);
  release_all ();
}

VG_TEST ("/cuda/ops/maxpool", test_maxpool)
{
  run_maxpool (2, 16, 16, 5, 2, 2, FALSE); /* U-Net's 2x2 stride 2 */
  run_maxpool (2, 16, 16, 5, 2, 2, TRUE);
  run_maxpool (1, 9, 11, 3, 2, 2, FALSE);  /* odd sizes: the last row and column drop out */
  run_maxpool (2, 13, 10, 4, 3, 2, TRUE);  /* overlapping windows */
  run_maxpool (1, 7, 8, 70, 3, 3, FALSE);  /* more channels than a block of the CPU's */
  run_maxpool (1, 2, 5, 3, 3, 1, FALSE);   /* shorter than the window: no output, zero dinp */
}

static void
run_adaptive_avgpool (int B, int H, int W, int C, int Ho, int Wo)
{
  size_t n_in = (size_t) B * H * W * C, n_out = (size_t) B * Ho * Wo * C;
  Pair *inp = pair_uniform (n_in, -1, 1), *out = pair_nan (n_out);
  Pair *dout = pair_uniform (n_out, -1, 1), *dinp = pair_nan (n_in);
  char what[96];

  cpu_be->adaptive_avgpool_forward (out->h, inp->h, B, H, W, C, Ho, Wo);
  dev_be->adaptive_avgpool_forward (out->d, inp->d, B, H, W, C, Ho, Wo);
  g_snprintf (what, sizeof what, "adaptive avgpool %dx%d -> %dx%d forward", H, W, Ho, Wo);
  pair_check (what, out);
  cpu_be->adaptive_avgpool_backward (dinp->h, dout->h, B, H, W, C, Ho, Wo);
  dev_be->adaptive_avgpool_backward (dinp->d, dout->d, B, H, W, C, Ho, Wo);
  g_snprintf (what, sizeof what, "adaptive avgpool %dx%d -> %dx%d backward", H, W, Ho, Wo);
  pair_check (what, dinp);
  release_all ();
}

VG_TEST ("/cuda/ops/adaptive-avgpool", test_adaptive_avgpool)
{
  run_adaptive_avgpool (2, 16, 16, 6, 1, 1);  /* the image pool of DeepLabV3+'s ASPP */
  run_adaptive_avgpool (1, 32, 32, 4, 6, 6);  /* Fast-SCNN's pyramid: bins that overlap */
  run_adaptive_avgpool (2, 13, 11, 3, 3, 2);
  run_adaptive_avgpool (1, 12, 12, 3, 2, 3);  /* sizes that divide */
  run_adaptive_avgpool (1, 5, 7, 2, 9, 12);   /* more outputs than inputs */
}

/* ---- dropout ------------------------------------------------------------------------------ */

/* The device's kept elements must be the CPU's, bit for bit: inputs are never zero, so an
 * output is zero exactly where the element was dropped. */
static void
check_same_mask (const char *what, const Pair *p, double p_drop)
{
  g_autofree float *got = dev_download (p->d, p->n);
  size_t kept = 0;

  for (size_t i = 0; i < p->n; i++)
    {
      if ((got[i] != 0.0f) != (p->h[i] != 0.0f))
        g_error ("%s: element %zu is %s on the device, %s on the CPU", what, i,
                 got[i] != 0.0f ? "kept" : "dropped", p->h[i] != 0.0f ? "kept" : "dropped");
      kept += got[i] != 0.0f;
    }
  /* and the mask keeps about 1 - p of them (the binomial's deviation is under 0.002 here) */
  g_test_message ("%s: %zu of %zu kept", what, kept, p->n);
  g_assert_cmpfloat (fabs ((double) kept / p->n - (1.0 - p_drop)), <, 0.01);
  pair_check (what, p);
}

static void
run_dropout (size_t n, float p, uint64_t seed)
{
  Pair *inp = pair_uniform (n, 0.5f, 1.5f), *out = pair_nan (n);
  Pair *dout = pair_uniform (n, 0.5f, 1.5f), *dinp = pair_nan (n);
  char what[96];

  cpu_be->dropout_forward (out->h, inp->h, n, p, seed);
  dev_be->dropout_forward (out->d, inp->d, n, p, seed);
  g_snprintf (what, sizeof what, "dropout p %g seed %#" G_GINT64_MODIFIER "x forward", p, seed);
  check_same_mask (what, out, p);
  cpu_be->dropout_backward (dinp->h, dout->h, n, p, seed);
  dev_be->dropout_backward (dinp->d, dout->d, n, p, seed);
  g_snprintf (what, sizeof what, "dropout p %g backward", p);
  check_same_mask (what, dinp, p);
  /* in place, as the model calls them */
  cpu_be->dropout_forward (inp->h, inp->h, n, p, seed);
  dev_be->dropout_forward (inp->d, inp->d, n, p, seed);
  g_snprintf (what, sizeof what, "dropout p %g forward in place", p);
  check_same_mask (what, inp, p);
  cpu_be->dropout_backward (dout->h, dout->h, n, p, seed);
  dev_be->dropout_backward (dout->d, dout->d, n, p, seed);
  g_snprintf (what, sizeof what, "dropout p %g backward in place", p);
  check_same_mask (what, dout, p);
  release_all ();
}

VG_TEST ("/cuda/ops/dropout", test_dropout)
{
  run_dropout (100003, 0.1f, 1);                       /* Fast-SCNN's classifier */
  run_dropout (100003, 0.5f, 0x9E3779B97F4A7C15ull);    /* DeepLabV3+'s decoder */
  run_dropout (65537, 0.9f, G_GUINT64_CONSTANT (20240607));
  run_dropout (1001, 0.0f, 7);                         /* p = 0: everything kept, unscaled */
}

/* ---- cross-entropy ------------------------------------------------------------------------ */

static void
run_cross_entropy (int Nr, int NC, gboolean weighted, double ignored_share)
{
  Pair *logits = pair_uniform ((size_t) Nr * NC, -4, 4);
  Pair *weights = weighted ? pair_uniform (NC, 0.5f, 2.0f) : NULL;
  Pair *dlogits = pair_nan ((size_t) Nr * NC);
  g_autofree uint8_t *targets = g_new (uint8_t, Nr);
  uint8_t *dtargets;
  float lc, ld;
  char what[96];

  for (int i = 0; i < Nr; i++)
    {
      double u = g_rand_double (rng);
      if (u < ignored_share)
        targets[i] = 255;
      else if (u < ignored_share * 1.2)
        targets[i] = (uint8_t) (NC + g_rand_int_range (rng, 0, 200)); /* >= NC: skipped too */
      else
        targets[i] = (uint8_t) g_rand_int_range (rng, 0, NC);
    }
  dtargets = dev_alloc (Nr);
  dev_be->upload (dtargets, targets, Nr);

  lc = cpu_be->cross_entropy_forward (logits->h, targets, weights ? weights->h : NULL, 255, Nr,
                                      NC);
  ld = dev_be->cross_entropy_forward (logits->d, dtargets, weights ? weights->d : NULL, 255, Nr,
                                      NC);
  g_test_message ("cross-entropy (%d, %d)%s: cpu %.8g, dev %.8g", Nr, NC,
                  weighted ? " weighted" : "", lc, ld);
  /* both sum in double: the losses agree to float rounding */
  g_assert_cmpfloat (fabs (ld - lc), <=, 1e-5 * fmax (fabs (lc), 1e-3));
  if (ignored_share >= 1.0)
    g_assert_cmpfloat (ld, ==, 0.0f);

  cpu_be->cross_entropy_backward (dlogits->h, logits->h, targets, weights ? weights->h : NULL,
                                  255, 1.7f, Nr, NC);
  dev_be->cross_entropy_backward (dlogits->d, logits->d, dtargets, weights ? weights->d : NULL,
                                  255, 1.7f, Nr, NC);
  g_snprintf (what, sizeof what, "cross-entropy (%d, %d) backward%s", Nr, NC,
              weighted ? " weighted" : "");
  if (ignored_share >= 1.0)
    {
      /* all ignored: the gradient is zero everywhere (and must still be written) */
      g_autofree float *got = dev_download (dlogits->d, (size_t) Nr * NC);
      for (size_t i = 0; i < (size_t) Nr * NC; i++)
        g_assert_cmpfloat (got[i], ==, 0.0f);
    }
  else
    pair_check (what, dlogits);
  /* in place, as the model calls it: the gradient overwrites the logits */
  cpu_be->cross_entropy_backward (logits->h, logits->h, targets, weights ? weights->h : NULL,
                                  255, 1.7f, Nr, NC);
  dev_be->cross_entropy_backward (logits->d, logits->d, dtargets, weights ? weights->d : NULL,
                                  255, 1.7f, Nr, NC);
  if (ignored_share < 1.0)
    pair_check ("cross-entropy backward in place", logits);
  dev_be->free (dtargets);
  release_all ();
}

VG_TEST ("/cuda/ops/cross-entropy", test_cross_entropy)
{
  run_cross_entropy (5003, 19, FALSE, 0.05);
  run_cross_entropy (5003, 19, TRUE, 0.05);
  run_cross_entropy (300000, 19, TRUE, 0.01); /* more rows than the reduction has threads */
  run_cross_entropy (77, 3, FALSE, 0.0);
  run_cross_entropy (64, 19, TRUE, 1.0);      /* every target ignored */
}

/* ---- attention ---------------------------------------------------------------------------- */

static void
run_attention (int B, int N, int M, int C, int NH, size_t budget)
{
  size_t nq = (size_t) B * N * C, nk = (size_t) B * M * C, cs, ds;
  Pair *q = pair_uniform (nq, -2, 2), *k = pair_uniform (nk, -2, 2), *v = pair_uniform (nk, -1, 1);
  Pair *out = pair_nan (nq), *lse = pair_nan ((size_t) B * NH * N);
  Pair *dout = pair_uniform (nq, -1, 1);
  Pair *dq = pair_nan (nq), *dk = pair_nan (nk), *dv = pair_nan (nk), *scr;
  char what[128];

  vg_cuda_set_tile_budgets (budget, 0);
  cs = cpu_be->attention_scratch_floats (B, N, M, C, NH);
  ds = dev_be->attention_scratch_floats (B, N, M, C, NH);
  scr = pair_nan (MAX (cs, ds));

  cpu_be->attention_forward (out->h, lse->h, q->h, k->h, v->h, scr->h, B, N, M, C, NH);
  dev_be->attention_forward (out->d, lse->d, q->d, k->d, v->d, scr->d, B, N, M, C, NH);
  g_snprintf (what, sizeof what, "attention B %d N %d M %d C %d NH %d (budget %zu) out", B, N, M,
              C, NH, budget);
  pair_check (what, out);
  pair_check ("attention lse", lse);
  /* the backward reads the reference's out and lse on both sides */
  dev_be->upload (out->d, out->h, nq * sizeof (float));
  dev_be->upload (lse->d, lse->h, (size_t) B * NH * N * sizeof (float));
  cpu_be->attention_backward (dq->h, dk->h, dv->h, dout->h, out->h, lse->h, q->h, k->h, v->h,
                              scr->h, B, N, M, C, NH);
  dev_be->attention_backward (dq->d, dk->d, dv->d, dout->d, out->d, lse->d, q->d, k->d, v->d,
                              scr->d, B, N, M, C, NH);
  pair_check ("attention dq", dq);
  pair_check ("attention dk", dk);
  pair_check ("attention dv", dv);
  release_all ();
  vg_cuda_set_tile_budgets (0, 0);
}

VG_TEST ("/cuda/ops/attention", test_attention)
{
  static const int cases[][5] = {
    { 2, 70, 70, 16, 2 },   /* batch >= heads: the products batch over images */
    { 1, 300, 40, 32, 1 },  /* stage 0 with spatial reduction */
    { 1, 64, 16, 40, 5 },   /* heads > batch: the products batch over heads */
    { 3, 50, 13, 24, 4 },
    { 2, 33, 300, 8, 1 },   /* more keys than queries */
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const int *c = cases[i];
      int inner = MAX (c[0], c[4]);

      run_attention (c[0], c[1], c[2], c[3], c[4], 0);
      /* seven query rows per tile: several tiles, the last one partial */
      run_attention (c[0], c[1], c[2], c[3], c[4], (size_t) inner * c[2] * 7);
    }
}

/* ---- optimisers and add_inplace ---------------------------------------------------------- */

VG_TEST ("/cuda/ops/optimisers", test_optimisers)
{
  enum { N = 10007 };
  Pair *p = pair_uniform (N, -1, 1), *m = pair_uniform (N, -0.1f, 0.1f);
  Pair *v = pair_uniform (N, 0, 0.01f), *buf = pair_uniform (N, -1, 1);
  Pair *grad = pair_uniform (N, -1, 1), *x = pair_uniform (N, -1, 1);

  for (int t = 1; t <= 3; t++)
    {
      cpu_be->adam_step (p->h, grad->h, m->h, v->h, N, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, t, 0);
      dev_be->adam_step (p->d, grad->d, m->d, v->d, N, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, t, 0);
      cpu_be->add_inplace (grad->h, x->h, N);
      dev_be->add_inplace (grad->d, x->d, N);
    }
  pair_check ("adam param", p);
  pair_check ("adam m", m);
  pair_check ("adam v", v);
  pair_check ("add_inplace", grad);
  for (int t = 1; t <= 3; t++)
    {
      cpu_be->adam_step (p->h, grad->h, m->h, v->h, N, 1e-2f, 0.9f, 0.99f, 1e-8f, 0.05f, t, 1);
      dev_be->adam_step (p->d, grad->d, m->d, v->d, N, 1e-2f, 0.9f, 0.99f, 1e-8f, 0.05f, t, 1);
    }
  pair_check ("adamw param", p);
  pair_check ("adamw v", v);
  for (int t = 1; t <= 3; t++)
    {
      cpu_be->sgd_step (p->h, grad->h, buf->h, N, 0.1f, 0.9f, 1e-3f, t == 1);
      dev_be->sgd_step (p->d, grad->d, buf->d, N, 0.1f, 0.9f, 1e-3f, t == 1);
    }
  pair_check ("sgd momentum param", p);
  pair_check ("sgd momentum buffer", buf);
  cpu_be->sgd_step (p->h, grad->h, NULL, N, 0.1f, 0.0f, 0.0f, 1);
  dev_be->sgd_step (p->d, grad->d, NULL, N, 0.1f, 0.0f, 0.0f, 1);
  pair_check ("sgd plain param", p);
  for (int t = 1; t <= 3; t++)
    {
      cpu_be->ema_update (m->h, p->h, N, 0.9f);
      dev_be->ema_update (m->d, p->d, N, 0.9f);
    }
  pair_check ("ema average", m);
  release_all ();
}

int
main (int argc, char *argv[])
{
  int status;

  if ((status = cuda_test_init (&argc, &argv)) != 0)
    return status;
  rng = g_rand_new_with_seed (20240607);
  live = g_ptr_array_new_with_free_func (pair_free);
  status = g_test_run ();
  g_ptr_array_unref (live);
  g_rand_free (rng);
  return status;
}
