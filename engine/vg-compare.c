/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Two evaluations of the same images compared (see vg-compare.h). */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "vg-compare.h"

/* For sorting sample indices by their difference, largest first. */
typedef struct {
  const double *delta;
} Order;

static int
by_delta (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const Order *order = user_data;
  int ia = *(const int *) a, ib = *(const int *) b;
  double da = order->delta[ia], db = order->delta[ib];

  if (da != db)
    return da > db ? -1 : 1;
  return (ia > ib) - (ia < ib);
}

gboolean
vg_comparison_init (VgComparison *c, const VgEvalResult *a, const VgEvalResult *b,
                    GError **error)
{
  const VgConfusion *ca = &a->confusion, *cb = &b->confusion;
  Order order;

  memset (c, 0, sizeof *c);
  if (a->n_images != b->n_images)
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_INVALID,
                   "the two evaluations cover %d and %d images, not the same images",
                   a->n_images, b->n_images);
      return FALSE;
    }
  c->n_images = a->n_images;
  for (int k = 0; k < VG_NUM_CLASSES; k++)
    {
      c->iou_a[k] = vg_confusion_iou (ca, k);
      c->iou_b[k] = vg_confusion_iou (cb, k);
      c->iou_delta[k] = c->iou_a[k] >= 0 && c->iou_b[k] >= 0 ? c->iou_b[k] - c->iou_a[k] : NAN;
      for (int p = 0; p < VG_NUM_CLASSES; p++)
        c->confusion_delta[k][p] = (int64_t) cb->counts[k][p] - (int64_t) ca->counts[k][p];
    }
  c->miou_a = vg_confusion_miou (ca);
  c->miou_b = vg_confusion_miou (cb);
  c->miou_delta = c->miou_b - c->miou_a;
  c->accuracy_a = vg_confusion_accuracy (ca);
  c->accuracy_b = vg_confusion_accuracy (cb);
  c->accuracy_delta = c->accuracy_b - c->accuracy_a;

  c->image_delta = g_new (double, MAX (c->n_images, 1));
  c->order = g_new (int, MAX (c->n_images, 1));
  for (int i = 0; i < c->n_images; i++)
    {
      c->image_delta[i] = b->image_miou[i] - a->image_miou[i];
      c->order[i] = i;
    }
  order.delta = c->image_delta;
  g_qsort_with_data (c->order, c->n_images, sizeof *c->order, by_delta, &order);
  return TRUE;
}

void
vg_comparison_clear (VgComparison *c)
{
  g_free (c->image_delta);
  g_free (c->order);
  memset (c, 0, sizeof *c);
}

uint64_t
vg_comparison_confusion_max_abs (const VgComparison *c)
{
  uint64_t max = 0;

  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int p = 0; p < VG_NUM_CLASSES; p++)
      {
        int64_t v = c->confusion_delta[t][p];

        max = MAX (max, (uint64_t) (v < 0 ? -v : v));
      }
  return max;
}

gboolean
vg_comparison_confusion_is_zero (const VgComparison *c)
{
  return vg_comparison_confusion_max_abs (c) == 0;
}
