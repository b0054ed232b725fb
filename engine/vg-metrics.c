/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "vg-metrics.h"

#include <string.h>

void
vg_confusion_reset (VgConfusion *cm)
{
  memset (cm, 0, sizeof *cm);
}

void
vg_confusion_add (VgConfusion *cm, const uint8_t *truth, const uint8_t *pred, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (truth[i] < VG_NUM_CLASSES && pred[i] < VG_NUM_CLASSES)
      cm->counts[truth[i]][pred[i]]++;
}

void
vg_confusion_merge (VgConfusion *dst, const VgConfusion *src)
{
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int p = 0; p < VG_NUM_CLASSES; p++)
      dst->counts[t][p] += src->counts[t][p];
}

static void
class_totals (const VgConfusion *cm, int c, uint64_t *tp, uint64_t *fp, uint64_t *fn)
{
  *tp = cm->counts[c][c];
  *fp = *fn = 0;
  for (int k = 0; k < VG_NUM_CLASSES; k++)
    if (k != c)
      {
        *fp += cm->counts[k][c];
        *fn += cm->counts[c][k];
      }
}

double
vg_confusion_iou (const VgConfusion *cm, int c)
{
  uint64_t tp, fp, fn;

  class_totals (cm, c, &tp, &fp, &fn);
  if (tp + fp + fn == 0)
    return -1.0;
  return (double) tp / (double) (tp + fp + fn);
}

double
vg_confusion_f1 (const VgConfusion *cm, int c)
{
  uint64_t tp, fp, fn;

  class_totals (cm, c, &tp, &fp, &fn);
  if (tp + fp + fn == 0)
    return -1.0;
  return 2.0 * tp / (double) (2 * tp + fp + fn);
}

static double
mean_of (const VgConfusion *cm, double (*metric) (const VgConfusion *, int))
{
  double sum = 0;
  int n = 0;

  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      double v = metric (cm, c);
      if (v >= 0)
        {
          sum += v;
          n++;
        }
    }
  return n > 0 ? sum / n : 0.0;
}

double
vg_confusion_miou (const VgConfusion *cm)
{
  return mean_of (cm, vg_confusion_iou);
}

double
vg_confusion_mean_f1 (const VgConfusion *cm)
{
  return mean_of (cm, vg_confusion_f1);
}

double
vg_confusion_accuracy (const VgConfusion *cm)
{
  uint64_t right = 0, all = 0;

  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int p = 0; p < VG_NUM_CLASSES; p++)
      {
        all += cm->counts[t][p];
        if (t == p)
          right += cm->counts[t][p];
      }
  return all > 0 ? (double) right / (double) all : 0.0;
}

uint64_t
vg_confusion_truth_pixels (const VgConfusion *cm, int c)
{
  uint64_t n = 0;

  for (int p = 0; p < VG_NUM_CLASSES; p++)
    n += cm->counts[c][p];
  return n;
}

void
vg_argmax (uint8_t *labels, const float *logits, size_t Nr, int NC)
{
#pragma omp parallel for schedule(static) if (Nr > 16384)
  for (size_t i = 0; i < Nr; i++)
    {
      const float *row = logits + i * NC;
      int best = 0;
      for (int c = 1; c < NC; c++)
        if (row[c] > row[best])
          best = c;
      labels[i] = (uint8_t) best;
    }
}
