/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The engine's models against the PyTorch reference fixtures (tests/reference/fixtures):
 * load a fixture, rebuild its model with ref-init.h, run its training step and compare.
 * Shared by test-reference.c (the SegFormer) and test-reference-baselines.c (U-Net,
 * DeepLabV3+, Fast-SCNN); test-safetensors.c checks the fixtures' init samples with it.
 *
 * Tolerances, as relative errors in float32 with different summation orders:
 *   forward (activations, logits):  max |c - t| <= 1e-4 * max |t|
 *   loss:                           |c - t| <= 1e-5 * |t|
 *   gradients (full, grad.<name>):  max |c - t| <= 2e-3 * max |t| per tensor, and
 *                                   ||c - t||_2 <= 1e-3 * ||t||_2, each plus a floor of
 *                                   1e-5 x the model's largest gradient (per element)
 *   gradient summaries (gsum.):     | ||c|| - ||t|| |, |<c - t, u>| / ||u|| <= 1e-3 * ||t||;
 *                                   |sum c - sum t| <= 1e-3 * ||t|| * sqrt(n) (same floor);
 *                                   first/last 8: |c - t| <= 2e-3 * max(|t|, rms t)
 *   BatchNorm running statistics:   max |c - t| <= 1e-4 * max(1, max |t|)
 * The floor: some gradients are zero in exact arithmetic (a bias before a BatchNorm, which
 * cancels any per-channel shift), so both sides hold only rounding noise. */
#pragma once

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "vg-model.h"
#include "vg-safetensors.h"
#include "ref-init.h"
#include "engine-test-util.h"

typedef struct {
  VgSafetensors *st;
  VgModel *model;
  VgConfig cfg;
  int B, H, W, NC;
  float *input_nhwc;
  uint8_t *labels;
} Fixture;

static inline char *
ref_fixture_path (const char *name)
{
  const char *dir = g_getenv ("VISAGE_REFERENCE_DIR");
  g_autofree char *file = g_strdup_printf ("%s.safetensors", name);

  g_assert_nonnull (dir);
  return g_build_filename (dir, "fixtures", file, NULL);
}

static inline float *
read_tensor (VgSafetensors *st, const char *name, size_t *numel)
{
  const VgTensorView *v = vg_safetensors_find (st, name);
  g_autoptr (GError) error = NULL;
  float *data;

  if (v == NULL)
    g_error ("the fixture has no tensor %s", name);
  data = g_new (float, MAX (v->numel, 1));
  g_assert_true (vg_safetensors_read_f32 (st, name, data, NULL, 0, &error));
  g_assert_no_error (error);
  if (numel != NULL)
    *numel = v->numel;
  return data;
}

/* NCHW -> NHWC */
static inline void
to_channels_last (float *dst, const float *src, int B, int C, int H, int W)
{
  for (int b = 0; b < B; b++)
    for (int c = 0; c < C; c++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
          dst[(((size_t) b * H + y) * W + x) * C + c] = src[(((size_t) b * C + c) * H + y) * W + x];
}

/* The model's tensors in state_dict order (*n_specs of them). */
static inline VgParamSpec *
fixture_specs (const Fixture *f, int *n_specs)
{
  VgParamSpec *specs;

  *n_specs = vg_config_param_specs (&f->cfg, NULL, 0);
  specs = g_new0 (VgParamSpec, *n_specs);
  vg_config_param_specs (&f->cfg, specs, *n_specs);
  return specs;
}

/* The fixture's configuration: a configuration's name (the baselines), or a SegFormer
 * spec string on top of `seed`. */
static inline void
fixture_config (Fixture *f)
{
  const char *config = vg_safetensors_metadata (f->st, "config");
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (config);
  if (strchr (config, '=') == NULL)
    g_assert_true (vg_config_from_name (&f->cfg, config, &error));
  else
    {
      g_assert_true (vg_config_from_name (&f->cfg, "seed", &error));
      g_assert_true (vg_config_parse (&f->cfg, config, &error));
    }
  g_assert_no_error (error);
}

/* Open the fixture NAME and build its model for training on the fixture's input size:
 * weights and running statistics from ref-init.h, input, labels and class weights from
 * the fixture (the labels checked against the generator). */
static inline void
fixture_load (Fixture *f, const char *name)
{
  g_autofree char *path = ref_fixture_path (name);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) dims = NULL;
  g_autofree float *input = NULL;
  g_autofree float *weights = NULL;
  g_autofree VgParamSpec *specs = NULL;
  const VgTensorView *labels;
  int n_specs;

  memset (f, 0, sizeof *f);
  f->st = vg_safetensors_open (path, &error);
  g_assert_no_error (error);
  fixture_config (f);
  dims = g_strsplit (vg_safetensors_metadata (f->st, "input_shape"), ",", 4);
  f->B = atoi (dims[0]);
  f->H = atoi (dims[2]);
  f->W = atoi (dims[3]);
  f->NC = f->cfg.num_classes;

  f->model = vg_model_new (&f->cfg, vg_backend_cpu (), &error);
  g_assert_no_error (error);
  g_assert_true (vg_model_reserve (f->model, f->B, f->H, f->W, TRUE, &error));
  g_assert_no_error (error);

  /* weights and running statistics from the shared generator */
  specs = fixture_specs (f, &n_specs);
  for (int i = 0; i < n_specs; i++)
    {
      size_t numel = 0;
      float *dst = vg_model_tensor (f->model, specs[i].name, FALSE, &numel);
      if (specs[i].kind == VG_TENSOR_COUNTER)
        continue;
      if (dst == NULL)
        g_error ("the model has no tensor %s", specs[i].name);
      g_assert_cmpuint (numel, ==, specs[i].numel);
      vg_ref_init_tensor (dst, &specs[i]);
    }

  input = read_tensor (f->st, "input", NULL);
  f->input_nhwc = g_new (float, (size_t) f->B * f->H * f->W * 3);
  to_channels_last (f->input_nhwc, input, f->B, 3, f->H, f->W);
  labels = vg_safetensors_find (f->st, "labels");
  g_assert_nonnull (labels);
  g_assert_cmpint (labels->dtype, ==, VG_DTYPE_U8);
  f->labels = g_memdup2 (labels->data, labels->nbytes);
  /* the generator and the fixture agree on the labels too */
  for (size_t i = 0; i < labels->nbytes; i++)
    g_assert_cmpuint (f->labels[i], ==, vg_ref_label (i, f->NC));
  weights = read_tensor (f->st, "class_weights", NULL);
  vg_model_set_class_weights (f->model, weights);
}

static inline void
fixture_clear (Fixture *f)
{
  vg_model_free (f->model);
  vg_safetensors_free (f->st);
  g_free (f->input_nhwc);
  g_free (f->labels);
}

/* Compare an NHWC activation of the model with an NCHW tensor of the fixture. */
static inline void
check_activation (Fixture *f, const float *got_nhwc, const char *name, double rel_tol)
{
  size_t n = 0;
  g_autofree float *want = read_tensor (f->st, name, &n);
  const VgTensorView *v = vg_safetensors_find (f->st, name);
  int B = v->shape[0], C = v->shape[1], H = v->shape[2], W = v->shape[3];
  g_autofree float *want_nhwc = g_new (float, n);
  double err = 0, scale;

  if (got_nhwc == NULL)
    g_error ("the model has no activation for %s", name);
  to_channels_last (want_nhwc, want, B, C, H, W);
  for (size_t i = 0; i < n; i++)
    err = fmax (err, fabs (got_nhwc[i] - want_nhwc[i]));
  scale = max_abs (want_nhwc, n);
  g_test_message ("%s: max abs error %.3g, max |ref| %.3g (relative %.3g)", name, err, scale,
                  err / fmax (scale, 1e-300));
  if (!(err <= rel_tol * scale))
    g_error ("%s: max abs error %.3g exceeds %.3g x max |ref| %.3g", name, err, rel_tol, scale);
}

/* The training forward on the fixture's batch, compared with the loss, the logits and
 * each activation act.<name> the fixture holds (vg_model_activation (name)); then the
 * backward, from zeroed gradients. */
static inline void
run_forward_backward (Fixture *f)
{
  g_autofree float *loss_ref = read_tensor (f->st, "loss", NULL);
  float loss;

  vg_model_zero_grad (f->model);
  loss = vg_model_forward (f->model, f->input_nhwc, f->labels, f->B, TRUE);
  g_test_message ("loss C %.7f, PyTorch %.7f", loss, loss_ref[0]);
  for (int i = 0; i < vg_safetensors_n_tensors (f->st); i++)
    {
      const char *name = vg_safetensors_get (f->st, i)->name;

      if (g_str_has_prefix (name, "act."))
        check_activation (f, vg_model_activation (f->model, name + strlen ("act.")), name,
                          1e-4);
    }
  check_activation (f, vg_model_logits (f->model), "logits", 1e-4);
  if (!(fabs (loss - loss_ref[0]) <= 1e-5 * fabs (loss_ref[0])))
    g_error ("loss C %.7f, PyTorch %.7f: beyond 1e-5 relative", loss, loss_ref[0]);

  vg_model_backward (f->model);
}

/* Every BatchNorm buffer after the step (after.<name>) against the model's. */
static inline void
check_running_stats (Fixture *f)
{
  for (int i = 0; i < vg_safetensors_n_tensors (f->st); i++)
    {
      const VgTensorView *v = vg_safetensors_get (f->st, i);
      const char *name = v->name + strlen ("after.");
      size_t n = 0;
      float *got;
      g_autofree float *want = NULL;
      double err = 0;

      if (!g_str_has_prefix (v->name, "after."))
        continue;
      if (v->dtype == VG_DTYPE_I64)
        {
          int64_t count;
          memcpy (&count, v->data, sizeof count);
          g_assert_cmpint (vg_model_batches_tracked (f->model), ==, GINT64_FROM_LE (count));
          continue;
        }
      got = vg_model_tensor (f->model, name, FALSE, &n);
      if (got == NULL)
        g_error ("the model has no tensor %s", name);
      want = read_tensor (f->st, v->name, NULL);
      for (size_t k = 0; k < n; k++)
        err = fmax (err, fabs (got[k] - want[k]));
      if (err > 1e-4 * fmax (1.0, max_abs (want, n)))
        g_error ("%s: max error %.3g, max |ref| %.3g", v->name, err, max_abs (want, n));
    }
}

/* Loads the fixture NAME, runs its forward and backward pass, checks the running statistics
 * and returns the specs of the model's tensors (*n_specs of them). */
static inline VgParamSpec *
fixture_run (Fixture *f, const char *name, int *n_specs)
{
  fixture_load (f, name);
  run_forward_backward (f);
  check_running_stats (f);
  return fixture_specs (f, n_specs);
}

/* The fixture's tensor PREFIX.<spec's name> (*n floats), or NULL if it has none. */
static inline float *
read_prefixed (Fixture *f, const char *prefix, const VgParamSpec *spec, size_t *n)
{
  g_autofree char *name = g_strdup_printf ("%s.%s", prefix, spec->name);

  if (vg_safetensors_find (f->st, name) == NULL)
    return NULL;
  return read_tensor (f->st, name, n);
}

/* 1e-5 x the largest gradient element the fixture shows (full gradients, and the summaries'
 * first and last elements and root mean squares). */
static inline double
gradient_floor (Fixture *f, const VgParamSpec *specs, int n_specs)
{
  double global = 0;

  for (int i = 0; i < n_specs; i++)
    {
      size_t n = 0;
      g_autofree float *full = NULL;
      g_autofree float *sum = NULL;

      if (specs[i].kind != VG_TENSOR_PARAM)
        continue;
      if ((full = read_prefixed (f, "grad", &specs[i], &n)) != NULL)
        global = fmax (global, max_abs (full, n));
      else if ((sum = read_prefixed (f, "gsum", &specs[i], &n)) != NULL)
        {
          for (size_t k = 3; k < n; k++)
            global = fmax (global, fabs (sum[k]));
          global = fmax (global, sqrt (sum[1] / (double) specs[i].numel));
        }
    }
  return 1e-5 * global;
}

/* The largest ratio of an error to its tolerance, 0 for an empty list. */
static inline double
worst_ratio (const double *err, const double *tol, int n)
{
  double worst = 0;

  for (int i = 0; i < n; i++)
    worst = fmax (worst, err[i] / tol[i]);
  return worst;
}

/* The model's gradient of SPEC against the fixture's grad.<name>: the largest ratio of an
 * error to its tolerance (<= 1 within them), logged with the errors. */
static inline double
check_grad_full (Fixture *f, const VgParamSpec *spec, const float *want, double floor_abs)
{
  const float *got = vg_model_tensor (f->model, spec->name, TRUE, NULL);
  size_t n = spec->numel;
  double err = 0, diff2 = 0, ref2 = 0, scale, ratio;

  if (got == NULL)
    g_error ("the model has no gradient of %s", spec->name);
  for (size_t k = 0; k < n; k++)
    {
      double d = (double) got[k] - want[k];
      err = fmax (err, fabs (d));
      diff2 += d * d;
      ref2 += (double) want[k] * want[k];
    }
  scale = max_abs (want, n);
  {
    double errs[2] = { err, sqrt (diff2) };
    double tols[2] = { 2e-3 * scale + floor_abs,
                       1e-3 * sqrt (ref2) + floor_abs * sqrt ((double) n) };
    ratio = worst_ratio (errs, tols, 2);
  }
  g_test_message ("%sgrad.%s: max error %.3g of %.3g, L2 rel %.3g, error / tolerance %.3g",
                  ratio <= 1 ? "" : "FAIL ", spec->name, err, scale,
                  sqrt (diff2 / fmax (ref2, 1e-300)), ratio);
  return ratio;
}

/* The model's gradient of SPEC against the fixture's summary gsum.<name> (WN floats): the
 * largest ratio of an error to its tolerance, as check_grad_full. */
static inline double
check_grad_summary (Fixture *f, const VgParamSpec *spec, const float *want, size_t wn,
                    double floor_abs)
{
  g_autofree char *pname = g_strdup_printf ("probe.%s", spec->name);
  const float *got = vg_model_tensor (f->model, spec->name, TRUE, NULL);
  size_t n = spec->numel, m = MIN (n, 8);
  g_autofree float *probe = g_new (float, n);
  double sum = 0, sumsq = 0, dot = 0, unorm2 = 0, ref_norm, ref_norm_floor, rms, ratio;

  if (got == NULL)
    g_error ("the model has no gradient of %s", spec->name);
  g_assert_cmpuint (wn, ==, 3 + 2 * m);
  vg_ref_fill_uniform (probe, pname, n);
  for (size_t k = 0; k < n; k++)
    {
      sum += got[k];
      sumsq += (double) got[k] * got[k];
      dot += (double) got[k] * probe[k];
      unorm2 += (double) probe[k] * probe[k];
    }
  ref_norm = sqrt (want[1]);
  rms = ref_norm / sqrt ((double) n);
  ref_norm_floor = ref_norm + floor_abs * sqrt ((double) n);
  {
    /* the norm, the probe's dot, the sum, then the first and last m elements */
    double errs[3 + 16], tols[3 + 16];

    errs[0] = fabs (sqrt (sumsq) - ref_norm), tols[0] = 1e-3 * ref_norm_floor;
    errs[1] = fabs (dot - want[2]), tols[1] = 1e-3 * ref_norm_floor * sqrt (unorm2);
    errs[2] = fabs (sum - want[0]), tols[2] = 1e-3 * ref_norm_floor * sqrt ((double) n);
    for (size_t k = 0; k < m; k++)
      {
        double first = want[3 + k], last = want[3 + m + k];

        errs[3 + 2 * k] = fabs (got[k] - first);
        tols[3 + 2 * k] = 2e-3 * fmax (fabs (first), rms) + floor_abs;
        errs[4 + 2 * k] = fabs (got[n - m + k] - last);
        tols[4 + 2 * k] = 2e-3 * fmax (fabs (last), rms) + floor_abs;
      }
    ratio = worst_ratio (errs, tols, (int) (3 + 2 * m));
  }
  g_test_message ("%sgsum.%s: |g| C %.6g PyTorch %.6g, <g, u> C %.6g PyTorch %.6g, "
                  "sum C %.6g PyTorch %.6g, error / tolerance %.3g",
                  ratio <= 1 ? "" : "FAIL ", spec->name, sqrt (sumsq), ref_norm, dot, want[2],
                  sum, want[0], ratio);
  return ratio;
}

/* How far past the tolerances check_gradients' n_loose tensors may lie. */
#define LOOSE_FACTOR 5.0

/* Every trainable tensor's gradient against the fixture (grad.<name> in full, else
 * gsum.<name>), all checked before failing, so that the log names every tensor out of
 * tolerance. n_loose: how many tensors may lie between the tolerances and LOOSE_FACTOR
 * times them (each named). Returns the number of tensors checked. */
static inline int
check_gradients (Fixture *f, const VgParamSpec *specs, int n_specs, int n_loose)
{
  double floor_abs = gradient_floor (f, specs, n_specs);
  int checked = 0, failed = 0, loose = 0;

  for (int i = 0; i < n_specs; i++)
    {
      g_autofree float *full = NULL;
      g_autofree float *sum = NULL;
      size_t n = 0;
      double ratio;

      if (specs[i].kind != VG_TENSOR_PARAM)
        continue;
      if ((full = read_prefixed (f, "grad", &specs[i], &n)) != NULL)
        {
          g_assert_cmpuint (n, ==, specs[i].numel);
          ratio = check_grad_full (f, &specs[i], full, floor_abs);
        }
      else if ((sum = read_prefixed (f, "gsum", &specs[i], &n)) != NULL)
        ratio = check_grad_summary (f, &specs[i], sum, n, floor_abs);
      else
        g_error ("the fixture has no gradient of %s", specs[i].name);
      if (ratio > 1 && ratio <= LOOSE_FACTOR)
        g_test_message ("%s: within %g times the tolerances", specs[i].name, LOOSE_FACTOR);
      loose += ratio > 1 && ratio <= LOOSE_FACTOR;
      failed += ratio > LOOSE_FACTOR;
      checked++;
    }
  if (failed > 0 || loose > n_loose)
    g_error ("%d of %d gradients out of tolerance, %d more within %g times it (%d allowed; "
             "FAIL lines above)", failed, checked, loose, LOOSE_FACTOR, n_loose);
  return checked;
}

/* The fixture's init_samples (state_dict order: initial [0], [numel / 2], [numel - 1] of
 * each tensor) equal ref-init.h's values of the engine's table, bit for bit: the same
 * names (the values hash them), order and sizes as the PyTorch module. */
static inline void
check_init_samples (VgSafetensors *st, const VgParamSpec *specs, int n_specs)
{
  const VgTensorView *t = vg_safetensors_find (st, "init_samples");
  const float *samples;

  g_assert_nonnull (t);
  g_assert_cmpint (t->dtype, ==, VG_DTYPE_F32);
  g_assert_cmpint (t->ndim, ==, 2);
  g_assert_cmpint (t->shape[0], ==, n_specs);
  g_assert_cmpint (t->shape[1], ==, 3);
  samples = t->data;  /* the writers align the data area to 8 bytes */
  for (int i = 0; i < n_specs; i++)
    {
      g_autofree float *v = g_new (float, specs[i].numel);
      size_t n = specs[i].numel;
      float got[3];

      vg_ref_init_tensor (v, &specs[i]);
      got[0] = v[0];
      got[1] = v[n / 2];
      got[2] = v[n - 1];
      if (memcmp (got, &samples[3 * i], sizeof got) != 0)
        g_error ("%s: ref-init.h gives %.9g %.9g %.9g, the reference %.9g %.9g %.9g",
                 specs[i].name, got[0], got[1], got[2], samples[3 * i],
                 samples[3 * i + 1], samples[3 * i + 2]);
    }
}
