/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Winograd F(4x4, 3x3) convolution (nn/conv-winograd.c), alone and through
 * vg_conv2d_forward_fast and vg_conv2d_backward, against naive double loops: ragged maps (tiles cut
 * by the edges), paddings 0 to 2, channel counts that leave part of a vector, several chunks
 * of tiles, batches; the same floats on 1 and 3 threads; on each instruction set the
 * processor has. Shapes it does not take (stride, few channels, the BLAS path) are refused
 * with nothing written. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>
#include <omp.h>

#include "vg-conv-direct.h"
#include "vg-conv-shape.h"
#include "vg-conv-winograd.h"
#include "vg-gemm.h"
#include "vg-nn.h"
#include "engine-test-util.h"
#include "gradcheck-util.h"
#include "test-register.h"

/* Winograd's transforms round more than a direct sum: the bound on max |out - ref| over
 * max |ref|, measured at up to 7.6e-6 on these cases (the direct kernels: up to 1e-6;
 * inputs and weights uniform in [-1, 1]). */
#define WINO_TOL 2e-5

typedef struct
{
  int B, H, W, Cin, Cout, K, S, P, Ho, Wo;
  float *inp, *weight, *bias, *out, *scratch;
  double *ref;
} Case;

static void
case_init (Case *c, int B, int H, int W, int Cin, int Cout, int K, int S, int P)
{
  *c = (Case){ .B = B, .H = H, .W = W, .Cin = Cin, .Cout = Cout, .K = K, .S = S, .P = P };
  c->Ho = vg_conv_out_size (H, K, S, P);
  c->Wo = vg_conv_out_size (W, K, S, P);
  c->inp = rand_new ((size_t) B * H * W * Cin, -1, 1);
  c->weight = rand_new ((size_t) Cout * Cin * K * K, -1, 1);
  c->bias = rand_new (Cout, -1, 1);
  c->out = g_new (float, (size_t) B * c->Ho * c->Wo * Cout);
  /* exactly what the model would plan, so that a sanitizer sees any overrun */
  c->scratch = g_new (float, MAX (vg_conv2d_scratch_floats (B, H, W, Cin, Cout, K, S, P, 1), 1));
  c->ref = g_new (double, (size_t) B * c->Ho * c->Wo * Cout);
  for (int b = 0; b < B; b++)
    for (int oh = 0; oh < c->Ho; oh++)
      for (int ow = 0; ow < c->Wo; ow++)
        for (int co = 0; co < Cout; co++)
          {
            double s = c->bias[co];
            for (int kh = 0; kh < K; kh++)
              for (int kw = 0; kw < K; kw++)
                {
                  int ih = oh * S + kh - P, iw = ow * S + kw - P;
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                    continue;
                  const float *x = c->inp + (((size_t) b * H + ih) * W + iw) * Cin;
                  for (int ci = 0; ci < Cin; ci++)
                    s += (double) x[ci] * c->weight[(((size_t) co * Cin + ci) * K + kh) * K + kw];
                }
            c->ref[(((size_t) b * c->Ho + oh) * c->Wo + ow) * Cout + co] = s;
          }
}

static void
case_clear (Case *c)
{
  g_free (c->inp), g_free (c->weight), g_free (c->bias), g_free (c->out), g_free (c->scratch);
  g_free (c->ref);
}

static size_t
out_numel (const Case *c)
{
  return (size_t) c->B * c->Ho * c->Wo * c->Cout;
}

static void
run_infer (Case *c, float *out, const float *bias)
{
  vg_conv2d_forward_fast (out, c->inp, c->weight, bias, c->scratch, c->B, c->H, c->W, c->Cin,
                           c->Cout, c->K, c->S, c->P, 1, FALSE);
}

/* max |a - ref| / max |ref| */
static double
rel_of (const float *a, const double *ref, size_t n)
{
  double err = 0.0, scale = 0.0;

  for (size_t i = 0; i < n; i++)
    {
      err = MAX (err, fabs (a[i] - ref[i]));
      scale = MAX (scale, fabs (ref[i]));
    }
  return err / scale;
}

/* One shape: whether Winograd took it (TRUE) and the error either way, the same floats on 1
 * and 3 threads, and without bias (the bias's values subtracted). */
static gboolean
check_case (int B, int H, int W, int Cin, int Cout, int P)
{
  Case c;
  case_init (&c, B, H, W, Cin, Cout, 3, 1, P);
  size_t no = out_numel (&c);
  float *one = g_new (float, no);
  int saved = omp_get_max_threads ();
  gboolean took = vg_conv_winograd_forward (one, c.inp, c.weight, c.bias, c.scratch, B, H, W,
                                            Cin, Cout, 3, 1, P, 1, FALSE);

  omp_set_num_threads (1);
  run_infer (&c, one, c.bias);
  omp_set_num_threads (3);
  run_infer (&c, c.out, c.bias);
  omp_set_num_threads (saved);
  if (took) /* (elsewhere OpenBLAS's sums may split by thread count) */
    g_assert_cmpmem (one, no * 4, c.out, no * 4);
  double err = rel_of (c.out, c.ref, out_numel (&c));
  g_test_message ("B%d %dx%d %d->%d P%d: %s, error %.2e of the largest output", B, H, W, Cin,
                  Cout, P, took ? "Winograd" : "not taken", err);
  g_assert_cmpfloat (err, <, took ? WINO_TOL : FWD_TOL);

  run_infer (&c, one, NULL); /* without bias: the bias added here meets the same bound */
  for (size_t i = 0; i < no; i++)
    one[i] += c.bias[i % Cout];
  g_assert_cmpfloat (rel_of (one, c.ref, out_numel (&c)), <, took ? WINO_TOL : FWD_TOL);
  g_free (one);
  case_clear (&c);
  return took;
}

/* The shapes, on the GEMM path now chosen; how many Winograd took. */
static int
winograd_cases (void)
{
  int took = 0;

  took += check_case (2, 13, 11, 16, 16, 1);  /* tiles cut by both edges, two images */
  took += check_case (1, 9, 10, 20, 32, 1);   /* 20 input channels: 16 + 4 */
  took += check_case (1, 8, 8, 32, 48, 0);    /* no padding; a one-vector block of outputs */
  took += check_case (1, 7, 5, 24, 16, 2);    /* padding 2: an output wider than the input */
  took += check_case (3, 17, 19, 64, 64, 1);  /* tile rows of the kernels' 12 and a rest */
  took += check_case (1, 4, 5, 128, 96, 1);   /* fewer tiles (2) than a kernel's rows */
  took += check_case (2, 1, 2, 16, 16, 1);    /* maps smaller than a tile */
  /* 16 -> 16 at 86 x 87: 484 tiles, two chunks (444, 40), each thread's share in blocks of 48 */
  took += check_case (1, 86, 87, 16, 16, 1);
  /* 224 x 240 > 192 x 256: threads by point, two chunks of tiles (24, 12) */
  took += check_case (1, 22, 21, 224, 240, 1);
  return took;
}

VG_TEST ("/nn/conv2d-winograd", test_conv2d_winograd)
{
  int took = winograd_cases ();

  /* every shape above is one it takes, wherever the direct kernels run */
  if (vg_gemm_narrow_enabled ()
      || (vg_gemm_cpu_isa () >= VG_ISA_AVX2 && vg_gemm_large_path () == VG_GEMM_AVX2))
    g_assert_cmpint (took, ==, 9);
  else
    g_assert_cmpint (took, ==, 0);
  if (vg_gemm_force_path (VG_GEMM_AVX2)) /* the AVX2 kernels too */
    {
      g_assert_cmpint (winograd_cases (), ==, 9);
      vg_gemm_force_path (VG_GEMM_AUTO);
    }
  if (vg_gemm_force_path (VG_GEMM_BLAS)) /* no direct kernels: refused */
    {
      g_assert_cmpint (winograd_cases (), ==, 0);
      vg_gemm_force_path (VG_GEMM_AUTO);
    }
}

/* ---- gradients ---------------------------------------------------------------------- */

/* The gradients of sum(out * R) by double loops: rdinp (B, H, W, Cin), rdw (Cout, Cin, 3, 3). */
static void
naive_backward (double *rdinp, double *rdw, const float *R, const Case *c)
{
  memset (rdinp, 0, sizeof (double) * c->B * c->H * c->W * c->Cin);
  memset (rdw, 0, sizeof (double) * c->Cout * c->Cin * 9);
  for (int b = 0; b < c->B; b++)
    for (int oh = 0; oh < c->Ho; oh++)
      for (int ow = 0; ow < c->Wo; ow++)
        for (int kh = 0; kh < 3; kh++)
          for (int kw = 0; kw < 3; kw++)
            {
              int ih = oh + kh - c->P, iw = ow + kw - c->P;
              if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W)
                continue;
              size_t x = (((size_t) b * c->H + ih) * c->W + iw) * c->Cin;
              const float *g = R + (((size_t) b * c->Ho + oh) * c->Wo + ow) * c->Cout;
              for (int co = 0; co < c->Cout; co++)
                for (int ci = 0; ci < c->Cin; ci++)
                  {
                    size_t k = ((size_t) co * c->Cin + ci) * 9 + kh * 3 + kw;
                    rdinp[x + ci] += (double) g[co] * c->weight[k];
                    rdw[k] += (double) g[co] * c->inp[x + ci];
                  }
            }
}

/* vg_conv_winograd_backward alone (which gradients it takes: expected where the direct
 * kernels run, none elsewhere), then vg_conv2d_backward (Winograd where it takes the shape)
 * against the double loops: the same floats on 1 and 3 threads, dweight accumulating and dinp
 * overwriting. */
static void
check_backward (int B, int H, int W, int Cin, int Cout, int P, gboolean want_dinp,
                gboolean want_dw)
{
  Case c;
  case_init (&c, B, H, W, Cin, Cout, 3, 1, P);
  size_t ni = (size_t) B * H * W * Cin, nw = (size_t) Cout * Cin * 9, no = out_numel (&c);
  float *R = rand_new (no, -1, 1);
  double *rdinp = g_new (double, ni), *rdw = g_new (double, nw);
  float *dinp[2], *dw[2], *pi, *pw;
  int saved = omp_get_max_threads ();
  gboolean kernels = vg_conv_direct_vector_floats () > 0;

  naive_backward (rdinp, rdw, R, &c);
  pi = dinp[0] = filled_new (ni, 123.0f), pw = dw[0] = filled_new (nw, 0.0f);
  vg_conv_winograd_backward (&pi, &pw, R, c.inp, c.weight, c.scratch, B, H, W, Cin, Cout, 3,
                             1, P, 1);
  g_assert_true ((pi == NULL) == (kernels && want_dinp));
  g_assert_true ((pw == NULL) == (kernels && want_dw));
  if (pi == NULL)
    g_assert_cmpfloat (rel_of (dinp[0], rdinp, ni), <, WINO_TOL);
  if (pw == NULL)
    g_assert_cmpfloat (rel_of (dw[0], rdw, nw), <, WINO_TOL);
  g_free (dinp[0]), g_free (dw[0]);

  for (int t = 0; t < 2; t++)
    {
      omp_set_num_threads (1 + 2 * t);
      dinp[t] = filled_new (ni, 123.0f), dw[t] = filled_new (nw, 0.0f);
      vg_conv2d_backward (dinp[t], dw[t], NULL, R, c.inp, c.weight, c.scratch, B, H, W, Cin,
                          Cout, 3, 1, P, 1);
    }
  omp_set_num_threads (saved);
  double ei = rel_of (dinp[1], rdinp, ni), ew = rel_of (dw[1], rdw, nw);
  g_test_message ("B%d %dx%d %d->%d P%d backward: dinp %.2e (%s), dweight %.2e (%s) of the "
                  "largest", B, H, W, Cin, Cout, P, ei, pi == NULL ? "Winograd" : "other",
                  ew, pw == NULL ? "Winograd" : "other");
  g_assert_cmpfloat (ei, <, WINO_TOL);
  g_assert_cmpfloat (ew, <, WINO_TOL);
  if (kernels) /* (elsewhere OpenBLAS's sums may split by thread count) */
    {
      g_assert_cmpmem (dinp[0], ni * 4, dinp[1], ni * 4);
      g_assert_cmpmem (dw[0], nw * 4, dw[1], nw * 4);
    }
  /* again: dweight gains the gradient once more, dinp is overwritten with it */
  float *before = g_memdup2 (dw[0], nw * 4);
  vg_conv2d_backward (dinp[0], dw[0], NULL, R, c.inp, c.weight, c.scratch, B, H, W, Cin, Cout,
                      3, 1, P, 1);
  for (size_t i = 0; i < nw; i++)
    before[i] = dw[0][i] - before[i];
  g_assert_cmpfloat (rel_of (before, rdw, nw), <, WINO_TOL);
  g_assert_cmpfloat (rel_of (dinp[0], rdinp, ni), <, WINO_TOL);
  g_free (before);
  for (int t = 0; t < 2; t++)
    g_free (dinp[t]), g_free (dw[t]);
  g_free (R), g_free (rdinp), g_free (rdw);
  case_clear (&c);
}

static void
backward_cases (void)
{
  int vl = vg_conv_direct_vector_floats ();

  check_backward (2, 13, 11, 48, 64, 1, TRUE, TRUE);     /* tiles cut by both edges */
  /* 40 input channels: the input gradient's outputs fill AVX2 vectors, not AVX-512's */
  check_backward (1, 9, 10, 40, 48, 1, vl > 0 && 40 % vl == 0, TRUE);
  check_backward (1, 8, 8, 64, 48, 0, TRUE, TRUE);       /* no padding: dinp pads 2 */
  check_backward (1, 7, 5, 64, 64, 2, TRUE, TRUE);       /* padding 2: dinp pads 0 */
  check_backward (3, 17, 19, 64, 64, 1, TRUE, TRUE);
  check_backward (1, 46, 47, 64, 64, 1, TRUE, TRUE);     /* two chunks of tiles (108, 36) */
  /* 32 x 32 / 64 < 20: the narrow weight gradient (parts of the tiles, each its own sums) */
  check_backward (1, 13, 11, 32, 32, 1, vl > 0, vl > 0);
  check_backward (2, 9, 7, 16, 16, 1, vl > 0, vl > 0);  /* U-Net's first layers' shape */
  /* 507 tiles: each part more than one block of 48; 16 -> 48 in blocks of 24 */
  check_backward (3, 50, 50, 16, 16, 1, vl > 0, vl > 0);
  check_backward (1, 37, 29, 16, 48, 1, vl > 0, vl > 0);
  check_backward (1, 5, 6, 16, 16, 1, vl > 0, vl > 0);  /* 4 tiles: most parts empty */
  /* past 64 x 128: the weight gradient by point (two chunks at 224 -> 240); where also
   * Cin Cout / (Cin + Cout) < 20, not taken */
  check_backward (1, 9, 7, 128, 96, 1, TRUE, TRUE);
  check_backward (1, 22, 21, 224, 240, 1, TRUE, TRUE);
  check_backward (1, 5, 5, 16, 1024, 1, vl > 0, FALSE);
  check_backward (2, 2, 1, 64, 64, 1, TRUE, TRUE);       /* maps smaller than a tile */
}

VG_TEST ("/nn/conv2d-winograd-backward", test_conv2d_winograd_backward)
{
  backward_cases ();
  if (vg_gemm_force_path (VG_GEMM_AVX2))
    {
      backward_cases ();
      vg_gemm_force_path (VG_GEMM_AUTO);
    }
}

/* Shapes it never takes: refused, nothing written, and the inference forward still right. */
static void
check_not_taken (int H, int W, int Cin, int Cout, int K, int S, int P)
{
  Case c;
  case_init (&c, 1, H, W, Cin, Cout, K, S, P);
  size_t no = out_numel (&c);
  float *untouched = filled_new (no, 7.0f);

  g_assert_false (vg_conv_winograd_shape (Cin, Cout, K, S, 1, 1));
  if (K != 3 || S != 1) /* (with 8 or 12 channels the input gradient may take it) */
    g_assert_cmpuint (vg_conv_winograd_scratch_floats (1, H, W, Cin, Cout, K, S, P, 1), ==, 0);
  g_assert_false (vg_conv_winograd_forward (untouched, c.inp, c.weight, c.bias, c.scratch, 1,
                                            H, W, Cin, Cout, K, S, P, 1, FALSE));
  for (size_t i = 0; i < no; i++)
    g_assert_cmpfloat (untouched[i], ==, 7.0f);
  run_infer (&c, c.out, c.bias);
  g_assert_cmpfloat (rel_of (c.out, c.ref, out_numel (&c)), <, FWD_TOL);
  g_free (untouched);
  case_clear (&c);
}

VG_TEST ("/nn/conv2d-winograd-not-taken", test_conv2d_winograd_not_taken)
{
  check_not_taken (9, 9, 16, 16, 3, 2, 1);  /* stride 2 */
  check_not_taken (9, 9, 8, 16, 3, 1, 1);   /* 8 input channels */
  check_not_taken (9, 9, 16, 12, 3, 1, 1);  /* 12 output channels */
  check_not_taken (9, 9, 16, 16, 5, 1, 2);  /* 5 x 5 */
  check_not_taken (9, 9, 16, 16, 1, 1, 0);  /* 1 x 1 */
  g_assert_false (vg_conv_winograd_shape (16, 16, 3, 1, 2, 1)); /* groups */
  g_assert_false (vg_conv_winograd_shape (16, 16, 3, 1, 1, 2)); /* dilation */
}

/* vg_conv_winograd_set_use: with VG_WINOGRAD_GRADIENTS the fast forward is the direct one to
 * the bit and the gradients stay Winograd's; with VG_WINOGRAD_NONE neither runs. */
VG_TEST ("/nn/conv2d-winograd-use", test_conv2d_winograd_use)
{
  Case c;
  case_init (&c, 2, 13, 11, 48, 64, 3, 1, 1);
  size_t no = out_numel (&c), ni = (size_t) 2 * 13 * 11 * 48, nw = (size_t) 64 * 48 * 9;
  float *direct = g_new (float, no), *R = rand_new (no, -1, 1);
  float *dinp = g_new (float, ni), *dw = g_new (float, nw);
  gboolean kernels = vg_conv_direct_vector_floats () > 0;

  g_assert_cmpint (vg_conv_winograd_use (), ==, VG_WINOGRAD_ALL);
  vg_conv2d_forward (direct, c.inp, c.weight, c.bias, c.scratch, 2, 13, 11, 48, 64, 3, 1, 1, 1);
  run_infer (&c, c.out, c.bias);
  g_assert_true ((memcmp (direct, c.out, no * 4) != 0) == kernels); /* another rounding */
  for (int use = VG_WINOGRAD_GRADIENTS; use <= VG_WINOGRAD_NONE; use++)
    {
      float *pi = dinp, *pw = dw;

      vg_conv_winograd_set_use ((VgWinogradUse) use);
      g_assert_cmpint (vg_conv_winograd_use (), ==, use);
      run_infer (&c, c.out, c.bias);
      g_assert_cmpmem (direct, no * 4, c.out, no * 4);
      g_assert_false (vg_conv_winograd_forward (c.out, c.inp, c.weight, c.bias, c.scratch, 2,
                                                13, 11, 48, 64, 3, 1, 1, 1, FALSE));
      memset (dw, 0, nw * 4);
      vg_conv_winograd_backward (&pi, &pw, R, c.inp, c.weight, c.scratch, 2, 13, 11, 48, 64, 3,
                                 1, 1, 1);
      g_assert_true ((pi == NULL) == (kernels && use == VG_WINOGRAD_GRADIENTS));
      g_assert_true ((pw == NULL) == (kernels && use == VG_WINOGRAD_GRADIENTS));
      g_assert_nonnull (strstr (vg_conv_describe (),
                                use == VG_WINOGRAD_NONE || !kernels ? "no Winograd"
                                                                    : "by Winograd"));
    }
  vg_conv_winograd_set_use (VG_WINOGRAD_ALL);
  g_free (direct), g_free (R), g_free (dinp), g_free (dw);
  case_clear (&c);
}

/* VISAGE_CONV=direct, read at the first convolution (a fresh process: the parent has read
 * it already), turns Winograd off; other values leave it on. */
VG_TEST ("/nn/conv2d-winograd-env", test_conv2d_winograd_env)
{
  if (g_test_subprocess ())
    {
      g_setenv ("VISAGE_CONV", "direct", TRUE);
      g_assert_cmpint (vg_conv_winograd_use (), ==, VG_WINOGRAD_NONE);
      g_setenv ("VISAGE_CONV", "winograd", TRUE); /* read once: still off */
      g_assert_cmpint (vg_conv_winograd_use (), ==, VG_WINOGRAD_NONE);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* vg_conv2d_forward_fast with relu against the same without, then vg_relu_forward: the same
 * bits on every path (pointwise through the narrow kernels' stores, a classifier's 19
 * outputs with their masked vector; depthwise per pixel; Winograd, direct and im2col with a
 * pass of their own), with a NaN pixel in the input, which both must keep. */
VG_TEST ("/nn/conv2d-forward-fast-relu", test_conv2d_forward_fast_relu)
{
  static const int shapes[][9] = {
    /* B, H, W, Cin, Cout, K, S, P, G */
    { 2, 9, 7, 32, 48, 1, 1, 0, 1 },  { 1, 6, 5, 16, 19, 1, 1, 0, 1 },
    { 2, 9, 8, 32, 32, 3, 1, 1, 32 }, { 1, 9, 9, 48, 48, 3, 2, 1, 48 },
    { 2, 10, 9, 16, 16, 3, 1, 1, 1 }, { 1, 11, 10, 3, 32, 3, 2, 1, 1 },
    { 1, 7, 6, 3, 5, 3, 1, 1, 1 },
  };

  for (guint t = 0; t < G_N_ELEMENTS (shapes); t++)
    {
      const int *x = shapes[t];
      int B = x[0], H = x[1], W = x[2], Cin = x[3], Cout = x[4], K = x[5], S = x[6], P = x[7];
      int G = x[8];
      size_t n_in = (size_t) B * H * W * Cin;
      size_t n_out = (size_t) B * vg_conv_out_size (H, K, S, P) * vg_conv_out_size (W, K, S, P)
                     * Cout;
      float *inp = rand_new (n_in, -1, 1);
      float *weight = rand_new ((size_t) Cout * (Cin / G) * K * K, -1, 1);
      float *bias = rand_new (Cout, -1, 1);
      float *want = g_new (float, n_out), *got = g_new (float, n_out);
      float *scratch = g_new (float, MAX (vg_conv2d_scratch_floats (B, H, W, Cin, Cout, K, S,
                                                                    P, G), 1));
      size_t negative = 0;

      for (int c = 0; c < Cin; c++)
        inp[(size_t) (H / 2 * W + W / 2) * Cin + c] = NAN;
      vg_conv2d_forward_fast (want, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, S, P, G,
                              FALSE);
      for (size_t i = 0; i < n_out; i++)
        negative += want[i] < 0.0f;
      vg_relu_forward (want, want, n_out);
      vg_conv2d_forward_fast (got, inp, weight, bias, scratch, B, H, W, Cin, Cout, K, S, P, G,
                              TRUE);
      g_test_message ("B %d %dx%d %d->%d K %d S %d G %d: %zu of %zu negative", B, H, W, Cin,
                      Cout, K, S, G, negative, n_out);
      g_assert_cmpuint (negative, >, n_out / 8);
      g_assert_true (isnan (got[(size_t) (H / 2 / S * vg_conv_out_size (W, K, S, P) + W / 2 / S)
                                * Cout]));
      g_assert_cmpmem (got, n_out * sizeof (float), want, n_out * sizeof (float));
      g_free (inp), g_free (weight), g_free (bias), g_free (want), g_free (got);
      g_free (scratch);
    }
}

VG_TEST_MAIN ()
