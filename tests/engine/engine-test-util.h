/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers shared by the engine's numeric tests (tests/engine/test-*.c). */
#pragma once

#include <math.h>
#include <stdint.h>

#include <glib.h>

#include "vg-backend.h"
#include "vg-config.h"
#include "vg-model.h"

/* Uniform in [0, 1) by xorshift64*: the same numbers on every run and platform
 * (g_test_rand's seed varies). One sequence per test program, from a fixed seed. */
static inline double
rnd (void)
{
  static guint64 rng_state = 0x9E3779B97F4A7C15u;

  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double) ((rng_state * 0x2545F4914F6CDD1Du) >> 11) / 9007199254740992.0;
}

/* max |x| over n floats (0 for none). */
static inline double
max_abs (const float *x, size_t n)
{
  double m = 0.0;

  for (size_t i = 0; i < n; i++)
    m = fmax (m, fabs (x[i]));
  return m;
}

/* The default model (visage-s, weights from seed 42) on backend be, reserved for training
 * on batches of B pictures of S x S: what the overfitting tests train. */
static inline VgModel *
vg_test_overfit_model (const VgBackend *be, int B, int S)
{
  g_autoptr (GError) error = NULL;
  VgConfig cfg;
  VgModel *model;

  g_assert_true (vg_config_from_name (&cfg, "visage-s", &error));
  model = vg_model_new (&cfg, be, &error);
  g_assert_no_error (error);
  vg_model_init (model, 42);
  g_assert_true (vg_model_reserve (model, B, S, S, TRUE, &error));
  g_assert_no_error (error);
  return model;
}

/* steps Adam steps (lr 3e-3, no weight decay) of model on one batch of B pictures (images
 * and targets where its backend be reads them), with the moments m and v (one float per
 * parameter, zeroed, also the backend's); the first and last losses. */
static inline void
vg_test_overfit_steps (VgModel *model, const VgBackend *be, const float *images,
                       const uint8_t *targets, int B, float *m, float *v, int steps,
                       float *first, float *last)
{
  size_t n = vg_model_num_params (model);

  for (int step = 1; step <= steps; step++)
    {
      float loss;

      vg_model_zero_grad (model);
      loss = vg_model_forward (model, images, targets, B, TRUE);
      g_assert_true (isfinite (loss));
      vg_model_backward (model);
      be->adam_step (vg_model_params (model), vg_model_grads (model), m, v, n, 3e-3f, 0.9f,
                     0.999f, 1e-8f, 0.0f, step, 0);
      if (step == 1)
        *first = loss;
      *last = loss;
      if (step == 1 || step % 10 == 0)
        g_test_message ("%s step %d: loss %.4f", be->name, step, loss);
    }
}
