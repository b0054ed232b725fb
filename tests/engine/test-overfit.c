/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The whole engine learns: 4 real training images at 64x64, 50 Adam steps of the default
 * model must cut the cross-entropy at least fivefold. A wrong gradient anywhere in the
 * network (or a wrong optimiser step) stalls the loss far above that. */
#include "config.h"

#include <math.h>

#include <glib.h>

#include "vg-augment.h"
#include "vg-model.h"
#include "vg-split.h"
#include "test-common.h"
#include "test-register.h"

enum { B = 4, S = 64, STEPS = 50 };

VG_TEST ("/overfit/four-images", test_overfit_four_images)
{
  g_autofree char *train = vg_test_shared_path ("celebamask/train");
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();
  g_autoptr (VgModel) model = NULL;
  g_autofree float *images = g_new (float, B * S * S * 3);
  g_autofree uint8_t *masks = g_new (uint8_t, B * S * S);
  g_autofree float *m = NULL;
  g_autofree float *v = NULL;
  const double mean[3] = { 0.5, 0.5, 0.5 }, std[3] = { 0.25, 0.25, 0.25 };
  const VgBackend *be = vg_backend_cpu ();
  VgAugmentParams aug;
  VgConfig cfg;
  float first = 0, last = 0;

  if (train == NULL)
    return;
  split = vg_split_open (train, VG_SPLIT_REQUIRE_MASKS, 2, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (split->n_samples, >=, B);

  vg_augment_params_init (&aug, FALSE);
  aug.out_height = aug.out_width = S;
  vg_augment_params_set_whitening (&aug, mean, std);
  for (int i = 0; i < B; i++)
    {
      VgImage image = { 0 }, mask = { 0 };
      g_assert_true (vg_split_load_sample (split, i, &image, &mask, &error));
      g_assert_no_error (error);
      vg_augment_sample (images + (size_t) i * S * S * 3, masks + (size_t) i * S * S,
                         image.data, mask.data, &aug, 0, scratch, image.height, image.width);
      vg_image_clear (&image);
      vg_image_clear (&mask);
    }

  g_assert_true (vg_config_from_name (&cfg, "visage-s", &error));
  model = vg_model_new (&cfg, be, &error);
  g_assert_no_error (error);
  vg_model_init (model, 42);
  g_assert_true (vg_model_reserve (model, B, S, S, TRUE, &error));
  g_assert_no_error (error);
  m = g_new0 (float, vg_model_num_params (model));
  v = g_new0 (float, vg_model_num_params (model));

  for (int step = 1; step <= STEPS; step++)
    {
      float loss;
      vg_model_zero_grad (model);
      loss = vg_model_forward (model, images, masks, B, TRUE);
      g_assert_true (isfinite (loss));
      vg_model_backward (model);
      be->adam_step (vg_model_params (model), vg_model_grads (model), m, v,
                     vg_model_num_params (model), 3e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, step, 0);
      if (step == 1)
        first = loss;
      last = loss;
      if (step % 10 == 0 || step == 1)
        g_test_message ("step %d loss %.4f", step, loss);
    }
  g_test_message ("loss %.4f -> %.4f (%.1fx)", first, last, first / last);
  g_assert_cmpfloat (last * 5.0f, <=, first);
}

VG_TEST_MAIN ()
