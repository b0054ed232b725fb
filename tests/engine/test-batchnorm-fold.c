/* SPDX-License-Identifier: GPL-3.0-or-later */
/* BatchNorm folded into the convolution before it at inference (engine/models/vg-net.h):
 * the op against double arithmetic written here, and each convolutional network's logits
 * from a plan for inference (folded) against the same weights run in evaluation mode on a
 * plan for training (every BatchNorm a layer of its own). A backend that counts the folds
 * and the BatchNorm layers shows which path ran. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>

#include "vg-nn.h"
#include "engine-test-util.h"
#include "test-register.h"

/* ---- the op --------------------------------------------------------------------------- */

/* The worst error of the folded weights and bias against double arithmetic, relative to
 * the largest; eps_ref is the eps the reference uses. */
static double
fold_error (int Cout, size_t per, gboolean with_bias, float eps, double eps_ref)
{
  g_autofree float *w = g_new (float, (size_t) Cout * per);
  g_autofree float *b = g_new (float, Cout);
  g_autofree float *fw = g_new (float, (size_t) Cout * per);
  g_autofree float *fb = g_new (float, Cout);
  g_autofree float *gamma = g_new (float, Cout), *beta = g_new (float, Cout);
  g_autofree float *mean = g_new (float, Cout), *var = g_new (float, Cout);
  double worst = 0.0, big = 0.0;

  for (size_t i = 0; i < (size_t) Cout * per; i++)
    w[i] = (float) (2 * rnd () - 1);
  for (int c = 0; c < Cout; c++)
    {
      b[c] = (float) (2 * rnd () - 1);
      gamma[c] = (float) (0.5 + rnd ());
      beta[c] = (float) (rnd () - 0.5);
      mean[c] = (float) (4 * rnd () - 2);
      var[c] = (float) (c % 7 == 0 ? 1e-6 * rnd () : 0.1 + 3 * rnd ()); /* some near 0 */
    }
  memset (fw, 0xff, (size_t) Cout * per * sizeof (float)); /* NaN: every one is written */
  vg_batchnorm_fold (fw, fb, w, with_bias ? b : NULL, gamma, beta, mean, var, eps, Cout,
                     per);
  for (int c = 0; c < Cout; c++)
    {
      double scale = gamma[c] / sqrt ((double) var[c] + eps_ref);
      double bias = (with_bias ? b[c] : 0.0) * scale + beta[c] - mean[c] * scale;

      for (size_t k = 0; k < per; k++)
        {
          double ref = w[(size_t) c * per + k] * scale;

          worst = fmax (worst, fabs (fw[(size_t) c * per + k] - ref));
          big = fmax (big, fabs (ref));
        }
      worst = fmax (worst, fabs (fb[c] - bias));
      big = fmax (big, fabs (bias));
      g_assert_true (isfinite (fb[c]));
    }
  for (size_t i = 0; i < (size_t) Cout * per; i++)
    g_assert_true (isfinite (fw[i]));
  return worst / big;
}

VG_TEST ("/nn/batchnorm-fold", test_fold_op)
{
  static const struct { int Cout; size_t per; } shapes[] = {
    { 1, 1 }, { 19, 128 }, { 32, 27 }, { 128, 9 }, { 384, 64 }, { 1024, 3 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (shapes); i++)
    for (int with_bias = 0; with_bias <= 1; with_bias++)
      g_assert_cmpfloat (fold_error (shapes[i].Cout, shapes[i].per, with_bias, 1e-5f, 1e-5),
                         <, 1e-6);
  /* a reference with another eps is told apart (the channels with a variance near 0) */
  g_assert_cmpfloat (fold_error (64, 9, TRUE, 1e-5f, 1e-3), >, 1e-3);
}

/* ---- the networks ----------------------------------------------------------------------- */

static int n_folds, n_evals;

static void
counting_fold (float *fweight, float *fbias, const float *weight, const float *bias,
               const float *bn_weight, const float *bn_bias, const float *running_mean,
               const float *running_var, float eps, int Cout, size_t per)
{
  n_folds++;
  vg_batchnorm_fold (fweight, fbias, weight, bias, bn_weight, bn_bias, running_mean,
                     running_var, eps, Cout, per);
}

static void
counting_eval (float *out, const float *inp, const float *weight, const float *bias,
               const float *running_mean, const float *running_var, float eps, int Nr, int C)
{
  n_evals++;
  vg_batchnorm_forward_eval (out, inp, weight, bias, running_mean, running_var, eps, Nr, C);
}

/* The BatchNorm layers of a configuration: its running means. */
static int
count_batchnorms (const VgConfig *cfg)
{
  int n_specs = vg_config_param_specs (cfg, NULL, 0), count = 0;
  g_autofree VgParamSpec *specs = g_new (VgParamSpec, n_specs);

  vg_config_param_specs (cfg, specs, n_specs);
  for (int i = 0; i < n_specs; i++)
    count += g_str_has_suffix (specs[i].name, ".running_mean");
  return count;
}

static void
check_network (const char *name, int S)
{
  enum { B = 2 };
  static VgBackend counting;
  g_autoptr (GError) error = NULL;
  g_autoptr (VgModel) model = NULL;
  const size_t pixels = (size_t) B * S * S;
  g_autofree float *images = g_new (float, pixels * 3);
  g_autofree uint8_t *targets = g_new (uint8_t, pixels);
  g_autofree float *unfolded = NULL;
  const float *folded;
  double worst = 0.0, big;
  size_t n_logits;
  VgConfig cfg;
  int n_bn;

  counting = *vg_backend_cpu ();
  counting.batchnorm_fold = counting_fold;
  counting.batchnorm_forward_eval = counting_eval;
  g_assert_true (vg_config_from_name (&cfg, name, &error));
  n_bn = count_batchnorms (&cfg);
  model = vg_model_new (&cfg, &counting, &error);
  g_assert_no_error (error);
  vg_model_init (model, 7);
  for (size_t i = 0; i < pixels * 3; i++)
    images[i] = (float) (2 * rnd () - 1);
  for (size_t i = 0; i < pixels; i++)
    targets[i] = (uint8_t) (rnd () * cfg.num_classes);

  /* two training forwards move the running statistics away from 0 and 1 */
  g_assert_true (vg_model_reserve (model, B, S, S, TRUE, &error));
  vg_model_forward (model, images, targets, B, TRUE);
  vg_model_forward (model, images, targets, B, TRUE);
  n_folds = n_evals = 0;
  vg_model_forward (model, images, NULL, B, FALSE);
  g_assert_cmpint (n_folds, ==, 0);
  g_assert_cmpint (n_evals, ==, n_bn);
  n_logits = pixels * cfg.num_classes;
  unfolded = g_memdup2 (vg_model_logits (model), n_logits * sizeof (float));

  g_assert_true (vg_model_reserve (model, B, S, S, FALSE, &error));
  n_folds = n_evals = 0;
  vg_model_forward (model, images, NULL, B, FALSE);
  g_test_message ("%s: %d of %d BatchNorms folded", name, n_folds, n_bn);
  if (n_bn > 0) /* U-Net has no BatchNorm */
    g_assert_cmpint (n_folds, >, 0);
  g_assert_cmpint (n_folds + n_evals, ==, n_bn);
  folded = vg_model_logits (model);
  big = max_abs (unfolded, n_logits);
  for (size_t i = 0; i < n_logits; i++)
    worst = fmax (worst, fabs (folded[i] - unfolded[i]));
  g_test_message ("%s: worst logit difference %.3g of %.3g", name, worst, big);
  g_assert_cmpfloat (big, >, 0.0);
  g_assert_cmpfloat (worst / big, <, 1e-4);
}

/* without BatchNorm: the plan for inference gives the same logits all the same */
VG_TEST ("/net/fold/unet", test_fold_unet)
{
  check_network ("unet", 64);
}

VG_TEST ("/net/fold/deeplabv3plus", test_fold_deeplab)
{
  check_network ("deeplabv3plus", 64);
}

VG_TEST ("/net/fold/fastscnn", test_fold_fastscnn)
{
  check_network ("fastscnn", 64);
}

VG_TEST_MAIN ()
