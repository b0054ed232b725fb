/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The C model against PyTorch: one training step of the reference fixtures.
 *
 * tests/reference/make_fixtures.py runs the PyTorch module of the same design on weights,
 * input and labels from a deterministic generator (tests/reference/ref-init.h rebuilds them
 * here bit for bit) and stores logits, loss, activations, BatchNorm statistics after the
 * step and every parameter gradient (in full for the small configuration, as summaries for
 * `seed`). The comparisons and their tolerances are those of reference-util.h. */
#include "config.h"

#include <glib.h>

#include "reference-util.h"
#include "test-register.h"

VG_TEST ("/reference/small", test_small)
{
  Fixture f;
  int n_specs;
  g_autofree VgParamSpec *specs = fixture_run (&f, "small", &n_specs);

  /* every trainable tensor, each in full */
  g_assert_nonnull (vg_safetensors_find (f.st, "act.fuse"));
  g_assert_cmpint (check_gradients (&f, specs, n_specs, 0), ==, 157 - 3 * 5);
  g_assert_nonnull (vg_safetensors_find (f.st, "grad.decoder.classifier.weight"));
  fixture_clear (&f);
}

VG_TEST ("/reference/seed", test_seed)
{
  Fixture f;
  int n_specs;
  g_autofree VgParamSpec *specs = fixture_run (&f, "seed", &n_specs);

  g_assert_cmpuint (vg_model_num_params (f.model), ==, 1981478);
  /* every trainable tensor, each as a summary */
  g_assert_cmpint (check_gradients (&f, specs, n_specs, 0), ==, 175 - 3 * 5);
  g_assert_nonnull (vg_safetensors_find (f.st, "gsum.decoder.classifier.weight"));
  fixture_clear (&f);
}

VG_TEST_MAIN ()
