/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CPU layers of engine/nn (all but attention, and the matrix products of
 * test-gradcheck-products.c) against independent references:
 *
 * - gradients by central finite differences: for a scalar L = sum(out * R) with a fixed
 *   random R, the backward fed dout = R must give dL/dx for the input and every parameter;
 * - forwards against naive loops written here (direct convolution and friends, in double);
 * - a few exact values: outputs of PyTorch 1.13 pasted below (computed once while writing
 *   this test; nothing here needs torch at run time), BatchNorm's running statistics,
 *   LayerNorm's zero mean and unit variance, bilinear identities, ln(19) for uniform logits;
 * - the gradient rule (parameter gradients accumulate, activation gradients overwrite) and
 *   results that do not depend on the number of threads.
 *
 * Finite differences: the loss is summed in double from the float forward; each element is
 * moved by +-eps (eps = 1e-2) and divided by the perturbation actually stored in the float.
 * The check passes when max |analytic - numeric| <= GRAD_TOL * max(max |numeric|, 1e-3)
 * over the checked elements of a tensor: with float32 kernels the numeric side carries
 * about 1e-5 of rounding and, for the nonlinear layers, O(eps^2) of truncation (the worst
 * case measured here is 6e-5), so GRAD_TOL = 1e-3 leaves a margin while a missing term or
 * an indexing slip errs by 1e-2 to O(1). */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>
#include <omp.h>

#include "vg-nn.h"
#include "engine-test-util.h"
#include "gradcheck-util.h"
#include "test-register.h"

/* ---- LayerNorm ---------------------------------------------------------------------------- */

typedef struct {
  int Nr, C;
  float eps;
  float *inp, *weight, *bias, *out, *mean, *rstd, *R;
} NormCase;

static double
layernorm_loss (void *p)
{
  NormCase *c = p;
  vg_layernorm_forward (c->out, c->mean, c->rstd, c->inp, c->weight, c->bias, c->eps, c->Nr,
                        c->C);
  return dot (c->out, c->R, (size_t) c->Nr * c->C);
}

/* The mean of the n floats x[0], x[stride], ... in double; in *ss the sum of their squared
 * deviations from it (over n: the biased variance, as torch normalises). */
static double
moments (const float *x, int n, int stride, double *ss)
{
  double m = 0, v = 0;

  for (int k = 0; k < n; k++)
    m += x[(size_t) k * stride];
  m /= n;
  for (int k = 0; k < n; k++)
    v += (x[(size_t) k * stride] - m) * (x[(size_t) k * stride] - m);
  *ss = v;
  return m;
}

static void
layernorm_check (int Nr, int C)
{
  NormCase c = { .Nr = Nr, .C = C, .eps = 1e-5f };
  size_t n = (size_t) Nr * C;
  c.inp = rand_new (n, -2, 3);
  c.weight = rand_new (C, 0.5, 1.5);
  c.bias = rand_new (C, -1, 1);
  c.out = g_new (float, n);
  c.mean = g_new (float, Nr);
  c.rstd = g_new (float, Nr);
  c.R = rand_new (n, -1, 1);

  layernorm_loss (&c);
  double *ref = g_new (double, n);
  for (int r = 0; r < Nr; r++)
    {
      double v, m = moments (c.inp + (size_t) r * C, C, 1, &v);

      v /= C; /* biased, as torch */
      for (int i = 0; i < C; i++)
        ref[r * C + i] = (c.inp[r * C + i] - m) / sqrt (v + c.eps) * c.weight[i] + c.bias[i];
      g_assert_cmpfloat (fabs (c.mean[r] - m), <, 1e-6);
      g_assert_cmpfloat (fabs (c.rstd[r] - 1.0 / sqrt (v + c.eps)), <, 1e-5 / sqrt (v));
    }
  g_assert_cmpfloat (rel_err (c.out, ref, n), <, FWD_TOL);

  float *dinp = filled_new (n, 123.0f), *dw = filled_new (C, 0), *db = filled_new (C, 0);
  vg_layernorm_backward (dinp, dw, db, c.R, c.inp, c.weight, c.mean, c.rstd, Nr, C);
  check_grad ("layernorm dinp", c.inp, dinp, n, layernorm_loss, &c);
  check_grad ("layernorm dweight", c.weight, dw, C, layernorm_loss, &c);
  check_grad ("layernorm dbias", c.bias, db, C, layernorm_loss, &c);

  layernorm_loss (&c); /* the checks left mean and rstd of a perturbed input */
  float *dinp1 = g_memdup2 (dinp, n * 4), *dw1 = g_memdup2 (dw, C * 4);
  float *db1 = g_memdup2 (db, C * 4);
  vg_layernorm_backward (dinp, dw, db, c.R, c.inp, c.weight, c.mean, c.rstd, Nr, C);
  check_overwrites ("layernorm dinp", dinp1, dinp, n);
  check_accumulates ("layernorm dweight", dw1, dw, C);
  check_accumulates ("layernorm dbias", db1, db, C);

  /* with unit weight and zero bias each row has mean 0 and variance v / (v + eps) */
  for (int i = 0; i < C; i++)
    c.weight[i] = 1.0f, c.bias[i] = 0.0f;
  layernorm_loss (&c);
  for (int r = 0; r < Nr; r++)
    {
      double v, m = moments (c.out + (size_t) r * C, C, 1, &v);

      v /= C;
      g_assert_cmpfloat (fabs (m), <, 1e-6);
      g_assert_cmpfloat (fabs (v - 1.0), <, 1e-4); /* eps / v is about 1e-5 here */
    }

  g_free (c.inp), g_free (c.weight), g_free (c.bias), g_free (c.out), g_free (c.mean);
  g_free (c.rstd), g_free (c.R), g_free (ref), g_free (dinp), g_free (dw), g_free (db);
  g_free (dinp1), g_free (dw1), g_free (db1);
}

VG_TEST ("/nn/layernorm", test_layernorm)
{
  layernorm_check (6, 13);
  layernorm_check (5, 37); /* three channel blocks for the parameter sums */
}

/* One channel: every row normalises to 0 whatever its value, so the input gradient is 0,
 * exactly (dout * weight less its mean over the one channel), with and without the
 * parameter gradients. */
VG_TEST ("/nn/layernorm-one-channel", test_layernorm_one_channel)
{
  const int Nr = 300;
  float *inp = rand_new (Nr, -2, 3), *dy = rand_new (Nr, -1, 1), w = 0.7f, b = 0.2f;
  float *out = g_new (float, Nr), *mean = g_new (float, Nr), *rstd = g_new (float, Nr);
  float *dx = filled_new (Nr, 123.0f), dw = 0.0f, db = 0.0f;

  vg_layernorm_forward (out, mean, rstd, inp, &w, &b, 1e-5f, Nr, 1);
  for (int pass = 0; pass < 2; pass++)
    {
      vg_layernorm_backward (dx, pass == 0 ? &dw : NULL, pass == 0 ? &db : NULL, dy, inp, &w,
                             mean, rstd, Nr, 1);
      for (int r = 0; r < Nr; r++)
        g_assert_cmpfloat (dx[r], ==, 0.0f);
    }
  g_free (inp), g_free (dy), g_free (out), g_free (mean), g_free (rstd), g_free (dx);
}

/* The backward over many rows (its parameter sums in 32 chunks of rows, each over tiles of
 * 64): all three gradients against double sums, the same bits for 1 and 3 threads, and
 * dweight and dbias alone as with dinp. */
VG_TEST ("/nn/layernorm-sums", test_layernorm_sums)
{
  const int Nr = 2100, C = 48;
  size_t n = (size_t) Nr * C;
  float *inp = rand_new (n, -2, 3), *w = rand_new (C, 0.5, 1.5), *b = rand_new (C, -1, 1);
  float *dy = rand_new (n, -1, 1), *out = g_new (float, n), *mean = g_new (float, Nr);
  float *rstd = g_new (float, Nr);
  double *rdx = g_new0 (double, n), *rdw = g_new0 (double, C), *rdb = g_new0 (double, C);
  float *dx[2], *dw[2], *db[2], *dw_alone = filled_new (C, 0.5f);
  float *db_alone = filled_new (C, 0.5f);
  int saved = omp_get_max_threads ();

  vg_layernorm_forward (out, mean, rstd, inp, w, b, 1e-5f, Nr, C);
  for (int r = 0; r < Nr; r++)
    {
      double gm = 0, gxm = 0;

      for (int c = 0; c < C; c++)
        {
          double xhat = ((double) inp[r * C + c] - mean[r]) * rstd[r];
          gm += (double) dy[r * C + c] * w[c] / C;
          gxm += (double) dy[r * C + c] * w[c] * xhat / C;
          rdw[c] += dy[r * C + c] * xhat;
          rdb[c] += dy[r * C + c];
        }
      for (int c = 0; c < C; c++)
        rdx[r * C + c] = ((double) dy[r * C + c] * w[c] - gm
                          - ((double) inp[r * C + c] - mean[r]) * rstd[r] * gxm) * rstd[r];
    }
  for (int c = 0; c < C; c++)
    rdw[c] += 0.5, rdb[c] += 0.5;
  for (int k = 0; k < 2; k++)
    {
      dx[k] = g_new (float, n), dw[k] = filled_new (C, 0.5f), db[k] = filled_new (C, 0.5f);
      omp_set_num_threads (k == 0 ? 1 : 3);
      vg_layernorm_backward (dx[k], dw[k], db[k], dy, inp, w, mean, rstd, Nr, C);
    }
  vg_layernorm_backward (NULL, dw_alone, db_alone, dy, inp, w, mean, rstd, Nr, C);
  omp_set_num_threads (saved);
  g_assert_cmpfloat (rel_err (dx[1], rdx, n), <, FWD_TOL);
  g_assert_cmpfloat (rel_err (dw[1], rdw, C), <, FWD_TOL);
  g_assert_cmpfloat (rel_err (db[1], rdb, C), <, FWD_TOL);
  g_assert_cmpmem (dx[0], n * 4, dx[1], n * 4);
  g_assert_cmpmem (dw[0], C * 4, dw[1], C * 4);
  g_assert_cmpmem (db[0], C * 4, db[1], C * 4);
  g_assert_cmpmem (dw_alone, C * 4, dw[1], C * 4);
  g_assert_cmpmem (db_alone, C * 4, db[1], C * 4);

  g_free (inp), g_free (w), g_free (b), g_free (dy), g_free (out), g_free (mean);
  g_free (rstd), g_free (rdx), g_free (rdw), g_free (rdb), g_free (dw_alone);
  g_free (db_alone);
  for (int k = 0; k < 2; k++)
    g_free (dx[k]), g_free (dw[k]), g_free (db[k]);
}

/* ---- BatchNorm2d -------------------------------------------------------------------------- */

typedef struct {
  NormCase n;
  float momentum;
  float *running_mean, *running_var;
} BatchNormCase;

static double
batchnorm_loss (void *p)
{
  BatchNormCase *c = p;
  vg_batchnorm_forward_train (c->n.out, c->n.mean, c->n.rstd, c->running_mean, c->running_var,
                              c->n.inp, c->n.weight, c->n.bias, c->n.eps, c->momentum, c->n.Nr,
                              c->n.C);
  return dot (c->n.out, c->n.R, (size_t) c->n.Nr * c->n.C);
}

static void
batchnorm_check (int Nr, int C)
{
  BatchNormCase c = { .n = { .Nr = Nr, .C = C, .eps = 1e-5f }, .momentum = 0.1f };
  size_t n = (size_t) Nr * C;
  c.n.inp = rand_new (n, -1, 2);
  c.n.weight = rand_new (C, 0.5, 1.5);
  c.n.bias = rand_new (C, -1, 1);
  c.n.out = g_new (float, n);
  c.n.mean = g_new (float, C);
  c.n.rstd = g_new (float, C);
  c.n.R = rand_new (n, -1, 1);
  c.running_mean = rand_new (C, -0.5, 0.5);
  c.running_var = rand_new (C, 0.5, 2);
  float *rm0 = g_memdup2 (c.running_mean, C * 4), *rv0 = g_memdup2 (c.running_var, C * 4);

  /* one training step: batch statistics, running statistics as torch updates them */
  batchnorm_loss (&c);
  double *ref = g_new (double, n);
  for (int i = 0; i < C; i++)
    {
      double v, m = moments (c.n.inp + i, Nr, C, &v);
      double biased = v / Nr, unbiased = v / (Nr - 1);
      for (int r = 0; r < Nr; r++)
        ref[r * C + i] = (c.n.inp[r * C + i] - m) / sqrt (biased + c.n.eps) * c.n.weight[i]
                         + c.n.bias[i];
      double rm = (1.0 - c.momentum) * rm0[i] + c.momentum * m;
      double rv = (1.0 - c.momentum) * rv0[i] + c.momentum * unbiased;
      g_assert_cmpfloat (fabs (c.running_mean[i] - rm), <, 1e-6);
      g_assert_cmpfloat (fabs (c.running_var[i] - rv), <, 1e-6 * rv);
      g_assert_cmpfloat (fabs (c.n.mean[i] - m), <, 1e-6);
      g_assert_cmpfloat (fabs (c.n.rstd[i] * sqrt (biased + c.n.eps) - 1.0), <, 1e-6);
    }
  g_assert_cmpfloat (rel_err (c.n.out, ref, n), <, FWD_TOL);

  /* evaluation mode: the running statistics, not the batch's */
  float *eval = g_new (float, n);
  vg_batchnorm_forward_eval (eval, c.n.inp, c.n.weight, c.n.bias, c.running_mean,
                             c.running_var, c.n.eps, Nr, C);
  for (size_t k = 0; k < n; k++)
    {
      int i = (int) (k % C);
      ref[k] = (c.n.inp[k] - c.running_mean[i]) / sqrt (c.running_var[i] + c.n.eps)
                 * c.n.weight[i]
               + c.n.bias[i];
    }
  g_assert_cmpfloat (rel_err (eval, ref, n), <, FWD_TOL);

  float *dinp = filled_new (n, 123.0f), *dw = filled_new (C, 0), *db = filled_new (C, 0);
  vg_batchnorm_backward (dinp, dw, db, c.n.R, c.n.inp, c.n.weight, c.n.mean, c.n.rstd, Nr, C);
  check_grad ("batchnorm dinp", c.n.inp, dinp, n, batchnorm_loss, &c);
  check_grad ("batchnorm dweight", c.n.weight, dw, C, batchnorm_loss, &c);
  check_grad ("batchnorm dbias", c.n.bias, db, C, batchnorm_loss, &c);

  batchnorm_loss (&c);
  float *dinp1 = g_memdup2 (dinp, n * 4), *dw1 = g_memdup2 (dw, C * 4);
  float *db1 = g_memdup2 (db, C * 4);
  vg_batchnorm_backward (dinp, dw, db, c.n.R, c.n.inp, c.n.weight, c.n.mean, c.n.rstd, Nr, C);
  check_overwrites ("batchnorm dinp", dinp1, dinp, n);
  check_accumulates ("batchnorm dweight", dw1, dw, C);
  check_accumulates ("batchnorm dbias", db1, db, C);

  g_free (c.n.inp), g_free (c.n.weight), g_free (c.n.bias), g_free (c.n.out);
  g_free (c.n.mean), g_free (c.n.rstd), g_free (c.n.R), g_free (c.running_mean);
  g_free (c.running_var), g_free (rm0), g_free (rv0), g_free (ref), g_free (eval);
  g_free (dinp), g_free (dw), g_free (db), g_free (dinp1), g_free (dw1), g_free (db1);
}

/* The running statistics of torch.nn.BatchNorm2d(3) after one training step on the pattern
 * input (2, 3, 4, 5) (channels-last values 2 pattern(i) + 0.3), from running_mean 0.2 and
 * running_var 1.5: PyTorch 1.13 printed these. */
VG_TEST ("/nn/batchnorm-torch", test_batchnorm_torch)
{
  const int Nr = 2 * 4 * 5, C = 3;
  const float torch_mean[3] = { 0.2149999886751175f, 0.20649999380111694f,
                                0.20899999141693115f };
  const float torch_var[3] = { 1.3917948007583618f, 1.3873101472854614f, 1.3945025205612183f };
  float inp[2 * 4 * 5 * 3], out[2 * 4 * 5 * 3], w[3] = { 1, 1, 1 }, b[3] = { 0, 0, 0 };
  float mean[3], rstd[3], rm[3] = { 0.2f, 0.2f, 0.2f }, rv[3] = { 1.5f, 1.5f, 1.5f };

  for (int i = 0; i < Nr * C; i++)
    inp[i] = 2.0f * pattern (i) + 0.3f;
  vg_batchnorm_forward_train (out, mean, rstd, rm, rv, inp, w, b, 1e-5f, 0.1f, Nr, C);
  for (int i = 0; i < C; i++)
    {
      g_assert_cmpfloat (fabsf (rm[i] - torch_mean[i]), <, 1e-6);
      g_assert_cmpfloat (fabsf (rv[i] - torch_var[i]), <, 1e-6);
    }
}

VG_TEST ("/nn/batchnorm", test_batchnorm)
{
  batchnorm_check (30, 19); /* B=2, 3x5 pixels, 19 channels over two blocks */
  batchnorm_check (7, 4);
}

/* ---- activations -------------------------------------------------------------------------- */

typedef struct {
  size_t n;
  gboolean relu;
  float *inp, *out, *R;
} ActCase;

static double
act_loss (void *p)
{
  ActCase *c = p;
  if (c->relu)
    vg_relu_forward (c->out, c->inp, c->n);
  else
    vg_gelu_forward (c->out, c->inp, c->n);
  return dot (c->out, c->R, c->n);
}

VG_TEST ("/nn/gelu", test_gelu)
{
  /* torch.nn.functional.gelu (erf form) in PyTorch 1.13 */
  const float x[7] = { -3.0f, -1.0f, -0.3f, 0.0f, 0.5f, 1.7f, 4.0f };
  const float torch_gelu[7] = { -0.0040498674f, -0.15865529f, -0.11462659f, 0.0f,
                                0.3457312f, 1.6242388f, 3.9998732f };
  float y[7];
  vg_gelu_forward (y, x, 7);
  for (int i = 0; i < 7; i++)
    g_assert_cmpfloat (fabsf (y[i] - torch_gelu[i]), <, 3e-7f * MAX (1.0f, fabsf (x[i])));

  /* forward and derivative over [-12, 12] against libm in double; the erf approximation
   * errs by at most 1.5e-7, hence the absolute tolerance 4e-7 max(1, |x|) */
  enum { N = 24001 };
  float *in = g_new (float, N), *out = g_new (float, N), *din = g_new (float, N);
  float *ones = filled_new (N, 1.0f);
  for (int i = 0; i < N; i++)
    in[i] = -12.0f + 24.0f * i / (N - 1);
  vg_gelu_forward (out, in, N);
  vg_gelu_backward (din, ones, in, N);
  for (int i = 0; i < N; i++)
    {
      double v = in[i];
      double cdf = 0.5 * (1.0 + erf (v / sqrt (2.0)));
      double ref = v * cdf;
      double dref = cdf + v * exp (-0.5 * v * v) / sqrt (2.0 * G_PI);
      if (fabs (out[i] - ref) > 4e-7 * MAX (1.0, fabs (v))
          || fabs (din[i] - dref) > 4e-7 * MAX (1.0, fabs (v)))
        g_error ("gelu(%g) = %g (%g), gelu' = %g (%g)", v, out[i], ref, din[i], dref);
    }
  /* in place */
  memcpy (din, in, N * 4);
  vg_gelu_forward (din, din, N);
  g_assert_cmpmem (din, N * 4, out, N * 4);

  ActCase c = { .n = 53, .relu = FALSE };
  c.inp = rand_new (c.n, -4, 4);
  c.out = g_new (float, c.n);
  c.R = rand_new (c.n, -1, 1);
  float *dinp = filled_new (c.n, 123.0f);
  vg_gelu_backward (dinp, c.R, c.inp, c.n);
  check_grad ("gelu dinp", c.inp, dinp, c.n, act_loss, &c);

  g_free (in), g_free (out), g_free (din), g_free (ones), g_free (c.inp), g_free (c.out);
  g_free (c.R), g_free (dinp);
}

VG_TEST ("/nn/relu", test_relu)
{
  ActCase c = { .n = 41, .relu = TRUE };
  c.inp = rand_new (c.n, -1, 1);
  /* finite differences need every input farther than eps from the kink */
  for (size_t i = 0; i < c.n; i++)
    c.inp[i] += c.inp[i] < 0 ? -0.05f : 0.05f;
  c.out = g_new (float, c.n);
  c.R = rand_new (c.n, -1, 1);
  act_loss (&c);
  for (size_t i = 0; i < c.n; i++)
    g_assert_cmpfloat (c.out[i], ==, c.inp[i] > 0 ? c.inp[i] : 0.0f);

  float *dinp = filled_new (c.n, 123.0f);
  vg_relu_backward (dinp, c.R, c.out, c.n);
  for (size_t i = 0; i < c.n; i++)
    g_assert_cmpfloat (dinp[i], ==, c.inp[i] > 0 ? c.R[i] : 0.0f);
  check_grad ("relu dinp", c.inp, dinp, c.n, act_loss, &c);

  /* in place, as the header allows; the backward needs only the output (c.out is
   * recomputed: check_grad left the output of a perturbed input in it) */
  float *x = g_memdup2 (c.inp, c.n * 4);
  act_loss (&c);
  vg_relu_forward (x, x, c.n);
  g_assert_cmpmem (x, c.n * 4, c.out, c.n * 4);

  g_free (c.inp), g_free (c.out), g_free (c.R), g_free (dinp), g_free (x);
}

/* ---- bilinear resize and concat ----------------------------------------------------------- */

typedef struct {
  int B, H, W, Ho, Wo, C;
  float *inp, *out, *R;
} ResizeCase;

static double
resize_loss (void *p)
{
  ResizeCase *c = p;
  vg_resize_bilinear_forward (c->out, c->inp, c->B, c->H, c->W, c->Ho, c->Wo, c->C);
  return dot (c->out, c->R, (size_t) c->B * c->Ho * c->Wo * c->C);
}

/* PyTorch's rule in double: source = (o + 0.5) in / out - 0.5, negative clamped to 0. */
static void
ref_source (int o, int in, int out, int *i0, int *i1, double *l1)
{
  double s = ((double) in / out) * (o + 0.5) - 0.5;
  if (s < 0)
    s = 0;
  *i0 = (int) floor (s);
  *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
  *l1 = s - *i0;
}

static void
naive_resize (double *out, const float *inp, int B, int H, int W, int Ho, int Wo, int C)
{
  for (int b = 0; b < B; b++)
    for (int oh = 0; oh < Ho; oh++)
      for (int ow = 0; ow < Wo; ow++)
        {
          int h0, h1, w0, w1;
          double a, e;
          ref_source (oh, H, Ho, &h0, &h1, &a);
          ref_source (ow, W, Wo, &w0, &w1, &e);
          for (int ch = 0; ch < C; ch++)
            {
#define X(h, w) ((double) inp[((b * H + (h)) * W + (w)) * C + ch])
              out[((b * Ho + oh) * Wo + ow) * C + ch]
                = (1 - a) * ((1 - e) * X (h0, w0) + e * X (h0, w1))
                  + a * ((1 - e) * X (h1, w0) + e * X (h1, w1));
#undef X
            }
        }
}

static void
resize_check (int B, int H, int W, int Ho, int Wo, int C)
{
  ResizeCase c = { .B = B, .H = H, .W = W, .Ho = Ho, .Wo = Wo, .C = C };
  size_t ni = (size_t) B * H * W * C, no = (size_t) B * Ho * Wo * C;
  c.inp = rand_new (ni, -1, 1);
  c.out = g_new (float, no);
  c.R = rand_new (no, -1, 1);

  resize_loss (&c);
  double *ref = g_new (double, no);
  naive_resize (ref, c.inp, B, H, W, Ho, Wo, C);
  g_assert_cmpfloat (rel_err (c.out, ref, no), <, FWD_TOL);

  float *dinp = filled_new (ni, 123.0f);
  vg_resize_bilinear_backward (dinp, c.R, B, H, W, Ho, Wo, C);
  check_grad ("resize dinp", c.inp, dinp, ni, resize_loss, &c);

  g_free (c.inp), g_free (c.out), g_free (c.R), g_free (ref), g_free (dinp);
}

VG_TEST ("/nn/resize", test_resize)
{
  resize_check (2, 3, 5, 7, 11, 3);   /* up by 7/3 and 11/5 */
  resize_check (1, 9, 7, 4, 3, 5);    /* down by 9/4 and 7/3 */
  resize_check (2, 4, 4, 16, 16, 19); /* the head's x4 */
  resize_check (1, 5, 6, 3, 9, 2);    /* down in one axis, up in the other */
  resize_check (1, 1, 4, 3, 2, 2);    /* a single source row */

  /* a constant image stays constant, up or down */
  float inp[2 * 6 * 5 * 3], out[2 * 13 * 4 * 3];
  for (size_t i = 0; i < G_N_ELEMENTS (inp); i++)
    inp[i] = 0.375f;
  vg_resize_bilinear_forward (out, inp, 2, 6, 5, 13, 4, 3);
  for (size_t i = 0; i < G_N_ELEMENTS (out); i++)
    g_assert_cmpfloat (fabsf (out[i] - 0.375f), <, 1e-7);

  /* halving is the 2x2 average: source coordinate 2 o + 0.5, both weights 1/2 */
  const int B = 2, H = 6, W = 8, C = 3;
  float big[2 * 6 * 8 * 3], small[2 * 3 * 4 * 3];
  for (size_t i = 0; i < G_N_ELEMENTS (big); i++)
    big[i] = (float) rnd ();
  vg_resize_bilinear_forward (small, big, B, H, W, H / 2, W / 2, C);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H / 2; h++)
      for (int w = 0; w < W / 2; w++)
        for (int ch = 0; ch < C; ch++)
          {
#define P(y, x) big[((b * H + (y)) * W + (x)) * C + ch]
            float avg = 0.25f * (P (2 * h, 2 * w) + P (2 * h, 2 * w + 1) + P (2 * h + 1, 2 * w)
                                 + P (2 * h + 1, 2 * w + 1));
#undef P
            g_assert_cmpfloat (fabsf (small[((b * H / 2 + h) * W / 2 + w) * C + ch] - avg), <,
                               1e-6);
          }
}

/* F.interpolate(size=..., mode='bilinear', align_corners=False) in PyTorch 1.13 on the
 * pattern input, channels-last (1, 3, 4, 2) -> (1, 5, 7, 2) and (1, 7, 5, 2) -> (1, 3, 2, 2). */
VG_TEST ("/nn/resize-torch", test_resize_torch)
{
  const float up[70] = {
    -0.5f, 0.2f, -0.3928571f, 0.30714285f, -0.22142856f, 0.47857144f, -0.049999963f,
    0.099999897f, 0.12142861f, -0.27857143f, 0.2928572f, -0.10714281f, 0.40000001f, 0.0f,
    -0.46000001f, 0.24000001f, -0.35285711f, 0.18999998f, -0.18142857f, 0.10999997f,
    -0.0099999653f, -0.080000058f, 0.16142862f, -0.23857142f, 0.33285719f, -0.067142807f,
    0.44000003f, 0.040000007f, -0.40000001f, 0.30000001f, -0.29285711f, 0.014285686f,
    -0.12142856f, -0.44285718f, 0.050000038f, -0.34999996f, 0.22142862f, -0.1785714f,
    0.39285713f, -0.0071428008f, 0.49999994f, 0.10000001f, -0.34f, 0.36000001f, -0.23285712f,
    0.074285686f, -0.061428554f, -0.38285717f, 0.11000004f, -0.28999996f, 0.23428568f,
    -0.11857139f, 0.028571319f, 0.052857202f, -0.10000007f, 0.16000001f, -0.30000001f,
    0.40000001f, -0.19285712f, 0.11428566f, -0.021428563f, -0.34285718f, 0.15000004f,
    -0.24999997f, 0.24285707f, -0.078571402f, -0.21428585f, 0.092857197f, -0.5f, 0.2f,
  };
  const float down[12] = {
    -0.0083333487f, -0.041666642f, -0.083333321f, 0.15833333f, -0.17500001f, -0.29999992f,
    0.29999998f, 0.17499995f, -0.15833335f, 0.08333341f, 0.041666802f, 0.0083332593f,
  };
  float inp[70], out[70];

  for (int i = 0; i < 3 * 4 * 2; i++)
    inp[i] = pattern (i);
  vg_resize_bilinear_forward (out, inp, 1, 3, 4, 5, 7, 2);
  for (int i = 0; i < 70; i++)
    g_assert_cmpfloat (fabsf (out[i] - up[i]), <, 1e-6);

  for (int i = 0; i < 7 * 5 * 2; i++)
    inp[i] = pattern (i);
  vg_resize_bilinear_forward (out, inp, 1, 7, 5, 3, 2, 2);
  for (int i = 0; i < 12; i++)
    g_assert_cmpfloat (fabsf (out[i] - down[i]), <, 1e-6);
}

typedef struct {
  int Nr, Cs[3];
  float *parts[3], *out, *R;
} ConcatCase;

static double
concat_loss (void *p)
{
  ConcatCase *c = p;
  const float *parts[3] = { c->parts[0], c->parts[1], c->parts[2] };
  vg_concat_forward (c->out, parts, c->Cs, 3, c->Nr);
  return dot (c->out, c->R, (size_t) c->Nr * (c->Cs[0] + c->Cs[1] + c->Cs[2]));
}

VG_TEST ("/nn/concat", test_concat)
{
  /* finite differences through concat, for each part */
  ConcatCase cc = { .Nr = 7, .Cs = { 3, 1, 4 } };
  float *dp[3];
  for (int i = 0; i < 3; i++)
    {
      cc.parts[i] = rand_new ((size_t) cc.Nr * cc.Cs[i], -1, 1);
      dp[i] = filled_new ((size_t) cc.Nr * cc.Cs[i], 123.0f);
    }
  cc.out = g_new (float, cc.Nr * 8);
  cc.R = rand_new (cc.Nr * 8, -1, 1);
  vg_concat_backward (dp, cc.R, cc.Cs, 3, cc.Nr);
  for (int i = 0; i < 3; i++)
    check_grad ("concat dpart", cc.parts[i], dp[i], (size_t) cc.Nr * cc.Cs[i], concat_loss,
                &cc);
  for (int i = 0; i < 3; i++)
    g_free (cc.parts[i]), g_free (dp[i]);
  g_free (cc.out), g_free (cc.R);

  /* exact values */
  enum { NR = 5 };
  const int Cs[3] = { 2, 3, 1 };
  float a[NR * 2], b[NR * 3], c[NR * 1], out[NR * 6], da[NR * 2], db[NR * 3];
  const float *parts[3] = { a, b, c };

  for (int i = 0; i < NR * 2; i++)
    a[i] = i;
  for (int i = 0; i < NR * 3; i++)
    b[i] = 100 + i;
  for (int i = 0; i < NR; i++)
    c[i] = 200 + i;
  vg_concat_forward (out, parts, Cs, 3, NR);
  for (int r = 0; r < NR; r++)
    {
      const float want[6] = { a[r * 2], a[r * 2 + 1], b[r * 3], b[r * 3 + 1], b[r * 3 + 2],
                              c[r] };
      g_assert_cmpmem (out + r * 6, sizeof want, want, sizeof want);
    }

  /* the backward splits dout the same way; a NULL part needs no gradient */
  float *const dparts[3] = { da, db, NULL };
  vg_concat_backward (dparts, out, Cs, 3, NR);
  g_assert_cmpmem (da, sizeof da, a, sizeof a);
  g_assert_cmpmem (db, sizeof db, b, sizeof b);
}

/* ---- cross-entropy ------------------------------------------------------------------------ */

typedef struct {
  int Nr, NC, ignore;
  float dloss;
  float *logits, *weights;
  uint8_t *targets;
} CECase;

static double
ce_loss (void *p)
{
  CECase *c = p;
  return c->dloss
         * vg_cross_entropy_forward (c->logits, c->targets, c->weights, c->ignore, c->Nr, c->NC);
}

static double
naive_ce (const CECase *c)
{
  double num = 0, den = 0;
  for (int i = 0; i < c->Nr; i++)
    {
      int y = c->targets[i];
      if (y == c->ignore || y >= c->NC)
        continue;
      const float *z = c->logits + i * c->NC;
      double s = 0;
      for (int j = 0; j < c->NC; j++)
        s += exp (z[j]);
      double w = c->weights != NULL ? c->weights[y] : 1.0;
      num += w * (log (s) - z[y]);
      den += w;
    }
  return num / den;
}

VG_TEST ("/nn/cross-entropy", test_cross_entropy)
{
  CECase c = { .Nr = 9, .NC = 5, .ignore = 255, .dloss = 0.7f };
  uint8_t targets[9] = { 0, 4, 255, 2, 1, 7, 3, 255, 4 }; /* 255 ignored, 7 >= NC skipped */
  c.targets = targets;
  c.logits = rand_new ((size_t) c.Nr * c.NC, -3, 3);
  c.weights = rand_new (c.NC, 0.2, 2);
  size_t n = (size_t) c.Nr * c.NC;

  float loss = vg_cross_entropy_forward (c.logits, targets, c.weights, 255, c.Nr, c.NC);
  g_assert_cmpfloat (fabs (loss - naive_ce (&c)), <, 1e-6 * fabs (naive_ce (&c)));

  float *d = filled_new (n, 123.0f);
  vg_cross_entropy_backward (d, c.logits, targets, c.weights, 255, c.dloss, c.Nr, c.NC);
  check_grad ("cross-entropy dlogits", c.logits, d, n, ce_loss, &c);

  /* ignored rows: no gradient, and their logits do not move the loss */
  for (int j = 0; j < c.NC; j++)
    {
      g_assert_cmpfloat (d[2 * c.NC + j], ==, 0.0f);
      g_assert_cmpfloat (d[5 * c.NC + j], ==, 0.0f);
      g_assert_cmpfloat (d[7 * c.NC + j], ==, 0.0f);
      c.logits[2 * c.NC + j] += 10.0f * j;
      c.logits[5 * c.NC + j] -= 3.0f;
    }
  g_assert_cmpfloat (vg_cross_entropy_forward (c.logits, targets, c.weights, 255, c.Nr, c.NC),
                     ==, loss);
  /* ...and the weights NULL means ones */
  float *ones = filled_new (c.NC, 1.0f);
  g_assert_cmpfloat (vg_cross_entropy_forward (c.logits, targets, NULL, 255, c.Nr, c.NC), ==,
                     vg_cross_entropy_forward (c.logits, targets, ones, 255, c.Nr, c.NC));

  /* uniform logits: -log(1/19) whatever the weights and the logit value */
  enum { NR = 40, NC = 19 };
  float *flat = filled_new (NR * NC, 3.7f);
  float *w19 = rand_new (NC, 0.1, 3);
  uint8_t t19[NR];
  for (int i = 0; i < NR; i++)
    t19[i] = i % 3 == 0 ? 255 : (uint8_t) (i % NC);
  g_assert_cmpfloat (fabs (vg_cross_entropy_forward (flat, t19, w19, 255, NR, NC) - log (19.0)),
                     <, 1e-6);

  /* every target ignored: 0 and no gradient (PyTorch would give NaN) */
  memset (t19, 255, sizeof t19);
  float *d19 = filled_new (NR * NC, 123.0f);
  g_assert_cmpfloat (vg_cross_entropy_forward (flat, t19, w19, 255, NR, NC), ==, 0.0f);
  vg_cross_entropy_backward (d19, flat, t19, w19, 255, 1.0f, NR, NC);
  for (int i = 0; i < NR * NC; i++)
    g_assert_cmpfloat (d19[i], ==, 0.0f);

  g_free (c.logits), g_free (c.weights), g_free (d), g_free (ones), g_free (flat);
  g_free (w19), g_free (d19);
}

/* The one-pass forward and backward: the loss and dlogits of the two calls to the bit, into
 * another buffer and in place, over chunks of rows (5000 rows: four full chunks of 1024 and
 * a ragged one), with weights and ignored or out-of-range targets, and with none counted. */
VG_TEST ("/nn/cross-entropy-forward-backward", test_cross_entropy_forward_backward)
{
  enum { NR = 5000, NC = 19 };
  size_t n = (size_t) NR * NC;
  float *z = rand_new (n, -6, 6), *w = rand_new (NC, 0.1, 3);
  float *d = g_new (float, n), *fused = filled_new (n, 123.0f), *inplace = g_memdup2 (z, n * 4);
  uint8_t *t = g_new (uint8_t, NR);

  for (int i = 0; i < NR; i++)
    t[i] = i % 7 == 0 ? 255 : i % 11 == 0 ? 23 : (uint8_t) (i * 5 % NC);
  for (int k = 0; k < 2; k++)
    {
      const float *weights = k == 0 ? w : NULL;
      float loss = vg_cross_entropy_forward (z, t, weights, 255, NR, NC);

      vg_cross_entropy_backward (d, z, t, weights, 255, 0.35f, NR, NC);
      g_assert_cmpfloat (vg_cross_entropy_forward_backward (fused, z, t, weights, 255, 0.35f, NR,
                                                            NC),
                         ==, loss);
      g_assert_cmpmem (fused, n * 4, d, n * 4);
      memcpy (inplace, z, n * 4);
      g_assert_cmpfloat (vg_cross_entropy_forward_backward (inplace, inplace, t, weights, 255,
                                                            0.35f, NR, NC),
                         ==, loss);
      g_assert_cmpmem (inplace, n * 4, d, n * 4);
    }
  memset (t, 255, NR); /* none counted: loss 0, gradient 0 */
  g_assert_cmpfloat (vg_cross_entropy_forward_backward (fused, z, t, w, 255, 1.0f, NR, NC), ==,
                     0.0f);
  for (size_t i = 0; i < n; i++)
    g_assert_cmpfloat (fused[i], ==, 0.0f);
  g_free (z), g_free (w), g_free (d), g_free (fused), g_free (inplace), g_free (t);
}

/* torch.nn.CrossEntropyLoss(weight=w, ignore_index=255) in PyTorch 1.13 on logits
 * 3 pattern(i) (6, 5): the loss and its gradient. */
VG_TEST ("/nn/cross-entropy-torch", test_cross_entropy_torch)
{
  const float torch_grad[30] = {
    -0.1216897f, 0.02703245f, 0.0081420187f, 0.0664891f, 0.020026132f, 0.0033937448f,
    0.027713893f, 0.0083472645f, 0.0025141477f, -0.041969046f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.1058258f, 0.031874124f, -0.23971051f, 0.078397684f, 0.023612928f, 0.10611833f,
    -0.21803778f, 0.0096268365f, 0.078614391f, 0.023678198f, 0.026529582f, 0.0079905558f,
    0.0024067091f, 0.019653598f, -0.05658045f,
  };
  const uint8_t targets[6] = { 0, 4, 255, 2, 1, 4 };
  const float w[5] = { 0.5f, 1.0f, 2.0f, 1.5f, 0.25f };
  float z[30], d[30];

  for (int i = 0; i < 30; i++)
    z[i] = 3.0f * pattern (i);
  float loss = vg_cross_entropy_forward (z, targets, w, 255, 6, 5);
  g_assert_cmpfloat (fabsf (loss - 1.51142645f), <, 1e-6);
  vg_cross_entropy_backward (d, z, targets, w, 255, 1.0f, 6, 5);
  for (int i = 0; i < 30; i++)
    g_assert_cmpfloat (fabsf (d[i] - torch_grad[i]), <, 1e-7);
}

/* ---- thread-count independence ------------------------------------------------------------ */

/* Runs every layer at sizes where OpenMP really splits the work, on 1 and on 3 threads.
 * The layers split channels or rows so that no sum changes order with the thread count;
 * OpenBLAS may still split a product differently, hence a tolerance of 1e-6 relative. */
typedef struct {
  float *conv_out, *conv_dinp, *conv_dw, *dw_out, *dw_dinp, *dw_dw, *ln_out, *ln_dinp, *ln_dw;
  float *bn_out, *bn_dinp, *bn_dw, *rs_out, *rs_dinp, *ce_d, ce;
} ThreadRun;

enum { TB = 2, TH = 24, TW = 20, TC = 32 };

static void
thread_run (ThreadRun *r, const float *inp, const float *w3, const float *wd, const float *R)
{
  size_t n = (size_t) TB * TH * TW * TC, nw3 = (size_t) TC * TC * 9;
  size_t ns = MAX (vg_conv2d_scratch_floats (TB, TH, TW, TC, TC, 3, 1, 1, 1),
                   vg_conv2d_scratch_floats (TB, TH, TW, TC, TC, 3, 1, 1, TC));
  float *scratch = g_new (float, ns);
  float *ones = filled_new (TC, 1.0f), *zeros = filled_new (TC, 0.0f);
  float *stats = g_new (float, (size_t) TB * TH * TW * 2), *db = filled_new (TC, 0);
  float *rm = filled_new (TC, 0), *rv = filled_new (TC, 1);

  r->conv_out = g_new (float, n), r->conv_dinp = g_new (float, n);
  r->conv_dw = filled_new (nw3, 0);
  vg_conv2d_forward (r->conv_out, inp, w3, NULL, scratch, TB, TH, TW, TC, TC, 3, 1, 1, 1);
  vg_conv2d_backward (r->conv_dinp, r->conv_dw, NULL, R, inp, w3, scratch, TB, TH, TW, TC, TC,
                      3, 1, 1, 1);
  r->dw_out = g_new (float, n), r->dw_dinp = g_new (float, n);
  r->dw_dw = filled_new ((size_t) TC * 9, 0);
  vg_conv2d_forward (r->dw_out, inp, wd, NULL, scratch, TB, TH, TW, TC, TC, 3, 1, 1, TC);
  vg_conv2d_backward (r->dw_dinp, r->dw_dw, NULL, R, inp, wd, scratch, TB, TH, TW, TC, TC, 3, 1,
                      1, TC);
  r->ln_out = g_new (float, n), r->ln_dinp = g_new (float, n), r->ln_dw = filled_new (TC, 0);
  vg_layernorm_forward (r->ln_out, stats, stats + TB * TH * TW, inp, ones, zeros, 1e-5f,
                        TB * TH * TW, TC);
  vg_layernorm_backward (r->ln_dinp, r->ln_dw, db, R, inp, ones, stats, stats + TB * TH * TW,
                         TB * TH * TW, TC);
  r->bn_out = g_new (float, n), r->bn_dinp = g_new (float, n), r->bn_dw = filled_new (TC, 0);
  vg_batchnorm_forward_train (r->bn_out, stats, stats + TC, rm, rv, inp, ones, zeros, 1e-5f,
                              0.1f, TB * TH * TW, TC);
  vg_batchnorm_backward (r->bn_dinp, r->bn_dw, db, R, inp, ones, stats, stats + TC,
                         TB * TH * TW, TC);
  /* resize up by 5/3: out (TB, 40, 33, TC) */
  size_t nr = (size_t) TB * 40 * 33 * TC;
  r->rs_out = g_new (float, nr), r->rs_dinp = g_new (float, n);
  vg_resize_bilinear_forward (r->rs_out, inp, TB, TH, TW, 40, 33, TC);
  vg_resize_bilinear_backward (r->rs_dinp, r->rs_out, TB, TH, TW, 40, 33, TC);
  /* cross-entropy over the pixels with the channels as 32 classes */
  uint8_t *t = g_new (uint8_t, TB * TH * TW);
  for (int i = 0; i < TB * TH * TW; i++)
    t[i] = (uint8_t) ((i * 13) % (TC + 3)); /* some >= NC: skipped */
  r->ce = vg_cross_entropy_forward (inp, t, ones, 255, TB * TH * TW, TC);
  r->ce_d = g_new (float, n);
  vg_cross_entropy_backward (r->ce_d, inp, t, ones, 255, 1.0f, TB * TH * TW, TC);

  g_free (scratch), g_free (ones), g_free (zeros), g_free (stats), g_free (db), g_free (rm);
  g_free (rv), g_free (t);
}

static void
thread_run_clear (ThreadRun *r)
{
  g_free (r->conv_out), g_free (r->conv_dinp), g_free (r->conv_dw), g_free (r->dw_out);
  g_free (r->dw_dinp), g_free (r->dw_dw), g_free (r->ln_out), g_free (r->ln_dinp);
  g_free (r->ln_dw), g_free (r->bn_out), g_free (r->bn_dinp), g_free (r->bn_dw);
  g_free (r->rs_out), g_free (r->rs_dinp), g_free (r->ce_d);
}

VG_TEST ("/nn/thread-count", test_thread_count)
{
  size_t n = (size_t) TB * TH * TW * TC;
  float *inp = rand_new (n, -2, 2), *R = rand_new (n, -1, 1);
  float *w3 = rand_new ((size_t) TC * TC * 9, -0.2, 0.2), *wd = rand_new ((size_t) TC * 9, -1, 1);
  int saved = omp_get_max_threads ();
  ThreadRun one, three;

  omp_set_num_threads (1);
  thread_run (&one, inp, w3, wd, R);
  omp_set_num_threads (3);
  thread_run (&three, inp, w3, wd, R);
  omp_set_num_threads (saved);

  struct { const char *name; const float *a, *b; size_t n; } pairs[] = {
    { "conv out", one.conv_out, three.conv_out, n },
    { "conv dinp", one.conv_dinp, three.conv_dinp, n },
    { "conv dweight", one.conv_dw, three.conv_dw, (size_t) TC * TC * 9 },
    { "depthwise out", one.dw_out, three.dw_out, n },
    { "depthwise dinp", one.dw_dinp, three.dw_dinp, n },
    { "depthwise dweight", one.dw_dw, three.dw_dw, (size_t) TC * 9 },
    { "layernorm out", one.ln_out, three.ln_out, n },
    { "layernorm dinp", one.ln_dinp, three.ln_dinp, n },
    { "layernorm dweight", one.ln_dw, three.ln_dw, TC },
    { "batchnorm out", one.bn_out, three.bn_out, n },
    { "batchnorm dinp", one.bn_dinp, three.bn_dinp, n },
    { "batchnorm dweight", one.bn_dw, three.bn_dw, TC },
    { "resize out", one.rs_out, three.rs_out, (size_t) TB * 40 * 33 * TC },
    { "resize dinp", one.rs_dinp, three.rs_dinp, n },
    { "cross-entropy dlogits", one.ce_d, three.ce_d, n },
    { "cross-entropy loss", &one.ce, &three.ce, 1 },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (pairs); i++)
    if (!(rel_err_f (pairs[i].b, pairs[i].a, pairs[i].n) <= 1e-6))
      g_error ("%s: 1 and 3 threads differ by %g", pairs[i].name,
               rel_err_f (pairs[i].b, pairs[i].a, pairs[i].n));

  thread_run_clear (&one), thread_run_clear (&three);
  g_free (inp), g_free (R), g_free (w3), g_free (wd);
}

VG_TEST_MAIN ()
