/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The C model against PyTorch: one training step of the reference fixtures.
 *
 * tests/reference/make_fixtures.py runs the PyTorch module of the same design on weights,
 * input and labels from a deterministic generator (tests/reference/ref-init.h rebuilds them
 * here bit for bit) and stores logits, loss, activations, BatchNorm statistics after the
 * step and every parameter gradient (in full for the small configuration, as summaries for
 * `seed`). Tolerances, as relative errors in float32 with different summation orders:
 *   forward (activations, logits):  max |c - t| <= 1e-4 * max |t|
 *   loss:                           |c - t| <= 1e-5 * |t|
 *   gradients (full):               max |c - t| <= 2e-3 * max |t| per tensor, and
 *                                   ||c - t||_2 <= 1e-3 * ||t||_2, each plus a floor of
 *                                   1e-5 x the model's largest gradient (per element)
 *   gradient summaries (seed):      | ||c|| - ||t|| |, |<c - t, u>| / ||u|| <= 1e-3 * ||t||;
 *                                   |sum c - sum t| <= 1e-3 * ||t|| * sqrt(n) (same floor);
 *                                   first/last 8: |c - t| <= 2e-3 * max(|t|, rms t)
 *   BatchNorm running statistics:   max |c - t| <= 1e-4 * max(1, max |t|) */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>

#include "vg-model.h"
#include "vg-safetensors.h"
#include "ref-init.h"
#include "engine-test-util.h"
#include "test-register.h"

typedef struct {
  VgSafetensors *st;
  VgModel *model;
  VgConfig cfg;
  int B, H, W, NC;
  float *input_nhwc;
  uint8_t *labels;
} Fixture;

static char *
fixture_path (const char *name)
{
  const char *dir = g_getenv ("VISAGE_REFERENCE_DIR");
  g_autofree char *file = g_strdup_printf ("%s.safetensors", name);

  g_assert_nonnull (dir);
  return g_build_filename (dir, "fixtures", file, NULL);
}

static float *
read_tensor (VgSafetensors *st, const char *name, size_t *numel)
{
  const VgTensorView *v = vg_safetensors_find (st, name);
  g_autoptr (GError) error = NULL;
  float *data;

  g_assert_nonnull (v);
  data = g_new (float, MAX (v->numel, 1));
  g_assert_true (vg_safetensors_read_f32 (st, name, data, NULL, 0, &error));
  g_assert_no_error (error);
  if (numel != NULL)
    *numel = v->numel;
  return data;
}

/* NCHW -> NHWC */
static void
to_channels_last (float *dst, const float *src, int B, int C, int H, int W)
{
  for (int b = 0; b < B; b++)
    for (int c = 0; c < C; c++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
          dst[(((size_t) b * H + y) * W + x) * C + c] = src[(((size_t) b * C + c) * H + y) * W + x];
}

static void
fixture_load (Fixture *f, const char *name)
{
  g_autofree char *path = fixture_path (name);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) dims = NULL;
  g_autofree float *input = NULL;
  g_autofree float *weights = NULL;
  const VgTensorView *labels;
  int n_specs;
  g_autofree VgParamSpec *specs = NULL;

  memset (f, 0, sizeof *f);
  f->st = vg_safetensors_open (path, &error);
  g_assert_no_error (error);

  g_assert_true (vg_config_from_name (&f->cfg, "seed", &error));
  g_assert_true (vg_config_parse (&f->cfg, vg_safetensors_metadata (f->st, "config"), &error));
  g_assert_no_error (error);
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
  n_specs = vg_config_param_specs (&f->cfg, NULL, 0);
  specs = g_new0 (VgParamSpec, n_specs);
  vg_config_param_specs (&f->cfg, specs, n_specs);
  for (int i = 0; i < n_specs; i++)
    {
      size_t numel = 0;
      float *dst = vg_model_tensor (f->model, specs[i].name, FALSE, &numel);
      if (specs[i].kind == VG_TENSOR_COUNTER)
        continue;
      g_assert_nonnull (dst);
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

static void
fixture_clear (Fixture *f)
{
  vg_model_free (f->model);
  vg_safetensors_free (f->st);
  g_free (f->input_nhwc);
  g_free (f->labels);
}

/* Compare an NHWC activation of the model with an NCHW tensor of the fixture. */
static void
check_activation (Fixture *f, const float *got_nhwc, const char *name, double rel_tol)
{
  size_t n = 0;
  g_autofree float *want = read_tensor (f->st, name, &n);
  const VgTensorView *v = vg_safetensors_find (f->st, name);
  int B = v->shape[0], C = v->shape[1], H = v->shape[2], W = v->shape[3];
  g_autofree float *want_nhwc = g_new (float, n);
  double err = 0, scale;

  g_assert_nonnull (got_nhwc);
  to_channels_last (want_nhwc, want, B, C, H, W);
  for (size_t i = 0; i < n; i++)
    err = fmax (err, fabs (got_nhwc[i] - want_nhwc[i]));
  scale = max_abs (want_nhwc, n);
  g_test_message ("%s: max abs error %.3g, max |ref| %.3g", name, err, scale);
  g_assert_cmpfloat (err, <=, rel_tol * scale);
}

static void
run_forward_backward (Fixture *f)
{
  g_autofree float *loss_ref = read_tensor (f->st, "loss", NULL);
  float loss;

  vg_model_zero_grad (f->model);
  loss = vg_model_forward (f->model, f->input_nhwc, f->labels, f->B, TRUE);
  g_test_message ("loss C %.7f, PyTorch %.7f", loss, loss_ref[0]);
  g_assert_cmpfloat (fabs (loss - loss_ref[0]), <=, 1e-5 * fabs (loss_ref[0]));

  for (int s = 0; s < VG_STAGES; s++)
    {
      char act[16], ref[32];
      g_snprintf (act, sizeof act, "stage%d", s);
      g_snprintf (ref, sizeof ref, "act.stage%d", s);
      check_activation (f, vg_model_activation (f->model, act), ref, 1e-4);
    }
  if (vg_safetensors_find (f->st, "act.fuse") != NULL)
    check_activation (f, vg_model_activation (f->model, "fuse"), "act.fuse", 1e-4);
  check_activation (f, vg_model_activation (f->model, "classifier"), "act.classifier", 1e-4);
  check_activation (f, vg_model_logits (f->model), "logits", 1e-4);

  vg_model_backward (f->model);
}

static void
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
      g_assert_nonnull (got);
      want = read_tensor (f->st, v->name, NULL);
      for (size_t k = 0; k < n; k++)
        err = fmax (err, fabs (got[k] - want[k]));
      g_assert_cmpfloat (err, <=, 1e-4 * fmax (1.0, max_abs (want, n)));
    }
}

/* Loads the fixture NAME, runs its forward and backward pass, checks the running statistics
 * and returns the specs of the model's tensors (*n_specs of them). */
static VgParamSpec *
fixture_run (Fixture *f, const char *name, int *n_specs)
{
  VgParamSpec *specs;

  fixture_load (f, name);
  run_forward_backward (f);
  check_running_stats (f);
  *n_specs = vg_config_param_specs (&f->cfg, NULL, 0);
  specs = g_new0 (VgParamSpec, *n_specs);
  vg_config_param_specs (&f->cfg, specs, *n_specs);
  return specs;
}

/* The reference tensor PREFIX.NAME of a trainable tensor (*n floats), or NULL for a buffer. */
static float *
read_trainable (Fixture *f, const char *prefix, const VgParamSpec *spec, size_t *n)
{
  g_autofree char *name = NULL;

  if (spec->kind != VG_TENSOR_PARAM)
    return NULL;
  name = g_strdup_printf ("%s.%s", prefix, spec->name);
  return read_tensor (f->st, name, n);
}

VG_TEST ("/reference/small", test_small)
{
  Fixture f;
  int n_specs, checked = 0;
  double global = 0, floor_abs;
  g_autofree VgParamSpec *specs = fixture_run (&f, "small", &n_specs);

  /* Some gradients are zero in exact arithmetic (the stage-3 LayerNorm bias: the decoder's
   * BatchNorm cancels any per-channel shift), so both sides hold only rounding noise; they
   * are compared against an absolute floor of 1e-5 x the model's largest gradient. */
  for (int i = 0; i < n_specs; i++)
    {
      size_t n = 0;
      g_autofree float *want = read_trainable (&f, "grad", &specs[i], &n);

      if (want != NULL)
        global = fmax (global, max_abs (want, n));
    }
  floor_abs = 1e-5 * global;
  for (int i = 0; i < n_specs; i++)
    {
      g_autofree char *gname = g_strdup_printf ("grad.%s", specs[i].name);
      g_autofree float *want = NULL;
      const float *got;
      size_t n = 0;
      double err = 0, diff2 = 0, ref2 = 0, scale;

      if (specs[i].kind != VG_TENSOR_PARAM)
        continue;
      want = read_tensor (f.st, gname, &n);
      got = vg_model_tensor (f.model, specs[i].name, TRUE, NULL);
      g_assert_nonnull (got);
      for (size_t k = 0; k < n; k++)
        {
          double d = (double) got[k] - want[k];
          err = fmax (err, fabs (d));
          diff2 += d * d;
          ref2 += (double) want[k] * want[k];
        }
      scale = max_abs (want, n);
      g_test_message ("%s: max error %.3g of %.3g, L2 rel %.3g", gname, err, scale,
                      sqrt (diff2 / fmax (ref2, 1e-300)));
      g_assert_cmpfloat (err, <=, 2e-3 * scale + floor_abs);
      g_assert_cmpfloat (sqrt (diff2), <=, 1e-3 * sqrt (ref2) + floor_abs * sqrt ((double) n));
      checked++;
    }
  g_assert_cmpint (checked, ==, 157 - 3 * 5); /* every trainable tensor */
  fixture_clear (&f);
}

VG_TEST ("/reference/seed", test_seed)
{
  Fixture f;
  int n_specs, checked = 0;
  double global = 0, floor_abs;
  g_autofree VgParamSpec *specs = fixture_run (&f, "seed", &n_specs);

  g_assert_cmpuint (vg_model_num_params (f.model), ==, 1981478);
  /* The absolute floor for gradients that are zero in exact arithmetic, as in test_small:
   * 1e-5 x the largest gradient element the summaries show. */
  for (int i = 0; i < n_specs; i++)
    {
      size_t wn = 0;
      g_autofree float *want = read_trainable (&f, "gsum", &specs[i], &wn);

      if (want == NULL)
        continue;
      for (size_t k = 3; k < wn; k++)
        global = fmax (global, fabs (want[k]));
      global = fmax (global, sqrt (want[1] / (double) specs[i].numel));
    }
  floor_abs = 1e-5 * global;
  for (int i = 0; i < n_specs; i++)
    {
      g_autofree char *sname = g_strdup_printf ("gsum.%s", specs[i].name);
      g_autofree char *pname = g_strdup_printf ("probe.%s", specs[i].name);
      g_autofree float *want = NULL;
      g_autofree float *probe = NULL;
      const float *got;
      size_t n = specs[i].numel, wn = 0;
      double sum = 0, sumsq = 0, dot = 0, unorm2 = 0, ref_norm, ref_norm_floor, rms;

      if (specs[i].kind != VG_TENSOR_PARAM)
        continue;
      want = read_tensor (f.st, sname, &wn);
      g_assert_cmpuint (wn, ==, 3 + 2 * MIN (n, 8));
      got = vg_model_tensor (f.model, specs[i].name, TRUE, NULL);
      probe = g_new (float, n);
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
      g_test_message ("%s: |g| C %.6g PyTorch %.6g", sname, sqrt (sumsq), ref_norm);
      ref_norm_floor = ref_norm + floor_abs * sqrt ((double) n);
      g_assert_cmpfloat (fabs (sqrt (sumsq) - ref_norm), <=, 1e-3 * ref_norm_floor);
      g_assert_cmpfloat (fabs (dot - want[2]), <=, 1e-3 * ref_norm_floor * sqrt (unorm2));
      g_assert_cmpfloat (fabs (sum - want[0]), <=, 1e-3 * ref_norm_floor * sqrt ((double) n));
      for (size_t k = 0; k < MIN (n, 8); k++)
        {
          double first = want[3 + k], last = want[3 + MIN (n, 8) + k];
          g_assert_cmpfloat (fabs (got[k] - first), <=,
                             2e-3 * fmax (fabs (first), rms) + floor_abs);
          g_assert_cmpfloat (fabs (got[n - MIN (n, 8) + k] - last), <=,
                             2e-3 * fmax (fabs (last), rms) + floor_abs);
        }
      checked++;
    }
  g_assert_cmpint (checked, ==, 175 - 3 * 5);
  fixture_clear (&f);
}

VG_TEST_MAIN ()
