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
#include "engine-test-util.h"

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

  model = vg_test_overfit_model (be, B, S);
  m = g_new0 (float, vg_model_num_params (model));
  v = g_new0 (float, vg_model_num_params (model));
  vg_test_overfit_steps (model, be, images, masks, B, m, v, STEPS, &first, &last);
  g_test_message ("loss %.4f -> %.4f (%.1fx)", first, last, first / last);
  g_assert_cmpfloat (last * 5.0f, <=, first);
}

VG_TEST_MAIN ()
