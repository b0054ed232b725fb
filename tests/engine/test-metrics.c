/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Metrics against hand-computed values. */
#include "config.h"

#include <glib.h>

#include "vg-metrics.h"
#include "test-register.h"

VG_TEST ("/metrics/confusion-by-hand", test_confusion_by_hand)
{
  /* 10 pixels: truth  0 0 0 1 1 1 1 2 2 255
   *            pred   0 0 1 1 1 1 0 2 1 0     (the last pixel is ignored) */
  const uint8_t truth[] = { 0, 0, 0, 1, 1, 1, 1, 2, 2, 255 };
  const uint8_t pred[] = { 0, 0, 1, 1, 1, 1, 0, 2, 1, 0 };
  VgConfusion cm;

  vg_confusion_reset (&cm);
  vg_confusion_add (&cm, truth, pred, G_N_ELEMENTS (truth));
  g_assert_cmpuint (cm.counts[0][0], ==, 2);
  g_assert_cmpuint (cm.counts[0][1], ==, 1);
  g_assert_cmpuint (cm.counts[1][0], ==, 1);
  g_assert_cmpuint (cm.counts[2][1], ==, 1);
  g_assert_cmpuint (vg_confusion_truth_pixels (&cm, 1), ==, 4);
  /* class 0: TP 2, FP 1, FN 1 -> IoU 2/4, F1 4/6; class 1: TP 3, FP 2, FN 1 -> 3/6;
   * class 2: TP 1, FP 0, FN 1 -> 1/2; the other 16 classes never occur. */
  g_assert_cmpfloat_with_epsilon (vg_confusion_iou (&cm, 0), 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (vg_confusion_f1 (&cm, 0), 4.0 / 6.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (vg_confusion_iou (&cm, 1), 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (vg_confusion_iou (&cm, 2), 0.5, 1e-12);
  g_assert_cmpfloat (vg_confusion_iou (&cm, 3), <, 0);
  g_assert_cmpfloat_with_epsilon (vg_confusion_miou (&cm), 0.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (vg_confusion_accuracy (&cm), 6.0 / 9.0, 1e-12);
}

VG_TEST ("/metrics/dataset-level", test_dataset_level_is_not_image_mean)
{
  /* Two images: the dataset-level IoU pools pixels, so it differs from the mean of the
   * per-image IoUs when the images have different sizes of a class. */
  const uint8_t t1[] = { 1, 1, 1, 1 }, p1[] = { 1, 1, 1, 1 };
  const uint8_t t2[] = { 1, 0 }, p2[] = { 0, 0 };
  VgConfusion a, b;

  vg_confusion_reset (&a);
  vg_confusion_reset (&b);
  vg_confusion_add (&a, t1, p1, 4);
  vg_confusion_add (&b, t2, p2, 2);
  vg_confusion_merge (&a, &b);
  /* class 1: TP 4, FN 1 -> 0.8 (image mean would be (1 + 0) / 2) */
  g_assert_cmpfloat_with_epsilon (vg_confusion_iou (&a, 1), 0.8, 1e-12);
}

VG_TEST ("/metrics/argmax", test_argmax)
{
  const float logits[] = { 0, 3, 1, /* -> 1 */ 5, 5, 1, /* tie -> first, 0 */ -1, -2, -0.5f };
  uint8_t labels[3];

  vg_argmax (labels, logits, 3, 3);
  g_assert_cmpuint (labels[0], ==, 1);
  g_assert_cmpuint (labels[1], ==, 0);
  g_assert_cmpuint (labels[2], ==, 2);
}

VG_TEST_MAIN ()
