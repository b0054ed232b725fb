/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the gallery shows and in which order: the sort orders (by name, worst mIoU, most
 * pixels of a confusion, worst IoU of a class), the class filter (any or all of several
 * classes) and the focus (a class missed entirely, or a confusion cell). */
#define G_LOG_DOMAIN "visage-gallery"

#include "config.h"

#include "vg-classes.h"
#include "visage-gallery-private.h"

/* Class cls is in the image's ground truth and not one pixel of it is predicted right (its
 * IoU is 0): the images the evaluation counts as "missed entirely". */
static gboolean
result_missed (const VgImageResult *result, int cls)
{
  return (result->truth_classes & (1u << cls)) != 0 && result->confusion.counts[cls][cls] == 0;
}

/* The value an image is sorted by (smaller first); FALSE when it has none. */
static gboolean
sort_key (VisageGallery *self, const VgImageResult *result, double *key)
{
  if (result == NULL)
    return FALSE;
  if (g_str_equal (self->sort_by, "miou"))
    *key = result->miou;
  else if (g_str_equal (self->sort_by, "confusion"))
    *key = -(double) result->confusion.counts[self->sort_truth][self->sort_predicted];
  else
    *key = vg_confusion_iou (&result->confusion, self->sort_class);
  /* A class in neither map has no IoU. */
  return *key >= 0 || !g_str_equal (self->sort_by, SORT_CLASS_IOU);
}

/* Images with a score before the others; among equals, the split's order. */
int
_visage_gallery_compare_samples (gconstpointer a, gconstpointer b, gpointer user_data)
{
  VisageGallery *self = user_data;
  VisageSample *sa = VISAGE_SAMPLE ((gpointer) a), *sb = VISAGE_SAMPLE ((gpointer) b);
  int ia = visage_sample_get_index (sa), ib = visage_sample_get_index (sb);
  double ka = 0, kb = 0;
  gboolean ha, hb;

  if (g_str_equal (self->sort_by, "name"))
    return (ia > ib) - (ia < ib);
  ha = sort_key (self, visage_sample_get_result (sa), &ka);
  hb = sort_key (self, visage_sample_get_result (sb), &kb);
  if (ha != hb)
    return ha ? -1 : 1;
  if (ha && ka != kb)
    return ka < kb ? -1 : 1;
  return (ia > ib) - (ia < ib);
}

gboolean
_visage_gallery_filter_sample (gpointer item, gpointer user_data)
{
  VisageGallery *self = user_data;
  VisageSample *sample = VISAGE_SAMPLE (item);
  const VgImageResult *result = visage_sample_get_result (sample);

  if (self->filter_classes != 0)
    {
      guint32 have = visage_sample_get_truth_classes (sample) & self->filter_classes;

      if (self->match_all ? have != self->filter_classes : have == 0)
        return FALSE;
    }
  switch (self->focus)
    {
    case FOCUS_MISSED:
      return result != NULL && result_missed (result, self->focus_truth);
    case FOCUS_CONFUSION:
      return result != NULL
             && result->confusion.counts[self->focus_truth][self->focus_predicted] > 0;
    case FOCUS_NONE:
    default:
      return TRUE;
    }
}

void
visage_gallery_set_sort_by (VisageGallery *self, const char *sort_by)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));

  for (guint i = 0; i < VISAGE_GALLERY_N_ORDERS; i++)
    if (g_strcmp0 (sort_by, _visage_gallery_sort_orders[i]) == 0)
      {
        if (self->sort_by == _visage_gallery_sort_orders[i])
          return;
        self->sort_by = _visage_gallery_sort_orders[i];
        gtk_drop_down_set_selected (self->sort_dropdown, i);
        _visage_gallery_sorter_changed (self);
        g_object_notify_by_pspec (G_OBJECT (self), _visage_gallery_properties[PROP_SORT_BY]);
        return;
      }
  if (g_strcmp0 (sort_by, SORT_CLASS_IOU) == 0)
    {
      visage_gallery_sort_by_class_iou (self, self->sort_class);
      return;
    }
  g_warning ("unknown sort order %s", sort_by);
}

const char *
visage_gallery_get_sort_by (VisageGallery *self)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), NULL);

  return self->sort_by;
}

void
visage_gallery_sort_by_class_iou (VisageGallery *self, int cls)
{
  gboolean was = FALSE;

  g_return_if_fail (VISAGE_IS_GALLERY (self));
  g_return_if_fail (cls >= 0 && cls < VG_NUM_CLASSES);

  was = g_str_equal (self->sort_by, SORT_CLASS_IOU);
  if (was && self->sort_class == cls)
    return;
  self->sort_by = SORT_CLASS_IOU;
  self->sort_class = cls;
  gtk_drop_down_set_selected (self->sort_dropdown, VISAGE_GALLERY_N_ORDERS + cls);
  _visage_gallery_sorter_changed (self);
  if (!was)
    g_object_notify_by_pspec (G_OBJECT (self), _visage_gallery_properties[PROP_SORT_BY]);
}

int
visage_gallery_get_sort_class (VisageGallery *self)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), -1);

  return g_str_equal (self->sort_by, SORT_CLASS_IOU) ? self->sort_class : -1;
}

void
visage_gallery_sort_by_confusion (VisageGallery *self, int truth, int predicted)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));
  g_return_if_fail (truth >= 0 && truth < VG_NUM_CLASSES);
  g_return_if_fail (predicted >= 0 && predicted < VG_NUM_CLASSES);

  self->sort_truth = truth;
  self->sort_predicted = predicted;
  if (g_str_equal (self->sort_by, "confusion"))
    _visage_gallery_sorter_changed (self);
  else
    visage_gallery_set_sort_by (self, "confusion");
}

/* Set every filter at once: the classes (0: all images) and the focus; one refiltering,
 * and notifications only for what changed. */
static void
apply_filters (VisageGallery *self, guint32 classes, gboolean match_all, Focus focus,
               int truth, int predicted)
{
  int old_class = visage_gallery_get_filter_class (self);
  gboolean confusion_changed;

  if (focus == FOCUS_NONE)
    truth = predicted = -1;
  else if (focus == FOCUS_MISSED)
    predicted = -1;
  confusion_changed = (self->focus == FOCUS_CONFUSION) != (focus == FOCUS_CONFUSION)
                      || (focus == FOCUS_CONFUSION && (self->focus_truth != truth
                                                       || self->focus_predicted != predicted));
  if (self->filter_classes == classes && self->match_all == match_all && self->focus == focus
      && self->focus_truth == truth && self->focus_predicted == predicted)
    return;
  self->filter_classes = classes;
  self->match_all = match_all;
  self->focus = focus;
  self->focus_truth = truth;
  self->focus_predicted = predicted;
  _visage_gallery_filter_changed (self);
  if (visage_gallery_get_filter_class (self) != old_class)
    g_object_notify_by_pspec (G_OBJECT (self), _visage_gallery_properties[PROP_FILTER_CLASS]);
  if (confusion_changed)
    {
      g_object_notify_by_pspec (G_OBJECT (self), _visage_gallery_properties[PROP_CONFUSION_TRUTH]);
      g_object_notify_by_pspec (G_OBJECT (self),
                                _visage_gallery_properties[PROP_CONFUSION_PREDICTED]);
    }
}

void
_visage_gallery_clear_focus (VisageGallery *self)
{
  apply_filters (self, self->filter_classes, self->match_all, FOCUS_NONE, -1, -1);
}

void
visage_gallery_filter_confusion (VisageGallery *self, int truth, int predicted)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));
  g_return_if_fail (truth >= -1 && truth < VG_NUM_CLASSES);
  g_return_if_fail (predicted >= -1 && predicted < VG_NUM_CLASSES);

  if (truth < 0 || predicted < 0)
    {
      if (self->focus == FOCUS_CONFUSION)
        _visage_gallery_clear_focus (self);
      return;
    }
  /* Exactly the images with pixels of the cell, most first, whatever classes they have. */
  visage_gallery_sort_by_confusion (self, truth, predicted);
  apply_filters (self, 0, self->match_all, FOCUS_CONFUSION, truth, predicted);
}

void
visage_gallery_get_confusion (VisageGallery *self, int *truth, int *predicted)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));

  *truth = self->focus == FOCUS_CONFUSION ? self->focus_truth : -1;
  *predicted = self->focus == FOCUS_CONFUSION ? self->focus_predicted : -1;
}

void
visage_gallery_filter_missed (VisageGallery *self, int cls)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));
  g_return_if_fail (cls >= -1 && cls < VG_NUM_CLASSES);

  if (cls < 0)
    {
      if (self->focus == FOCUS_MISSED)
        _visage_gallery_clear_focus (self);
      return;
    }
  apply_filters (self, 0, self->match_all, FOCUS_MISSED, cls, -1);
}

int
visage_gallery_get_filter_missed (VisageGallery *self)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), -1);

  return self->focus == FOCUS_MISSED ? self->focus_truth : -1;
}

void
visage_gallery_show_class (VisageGallery *self, int cls)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));
  g_return_if_fail (cls >= 0 && cls < VG_NUM_CLASSES);

  visage_gallery_sort_by_class_iou (self, cls);
  apply_filters (self, 1u << cls, self->match_all, FOCUS_NONE, -1, -1);
}

void
visage_gallery_show_all (VisageGallery *self)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));

  apply_filters (self, 0, self->match_all, FOCUS_NONE, -1, -1);
}

void
visage_gallery_set_filter_classes (VisageGallery *self, guint32 classes, gboolean match_all)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));
  g_return_if_fail (classes < (1u << VG_NUM_CLASSES));

  apply_filters (self, classes, match_all, self->focus, self->focus_truth,
                 self->focus_predicted);
}

guint32
visage_gallery_get_filter_classes (VisageGallery *self)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), 0);

  return self->filter_classes;
}

void
visage_gallery_set_filter_class (VisageGallery *self, int cls)
{
  g_return_if_fail (VISAGE_IS_GALLERY (self));
  g_return_if_fail (cls >= -1 && cls < VG_NUM_CLASSES);

  visage_gallery_set_filter_classes (self, cls >= 0 ? 1u << cls : 0, self->match_all);
}

int
visage_gallery_get_filter_class (VisageGallery *self)
{
  g_return_val_if_fail (VISAGE_IS_GALLERY (self), -1);

  /* One class, or none (-1) where all images or several classes are chosen. */
  if (self->filter_classes == 0 || (self->filter_classes & (self->filter_classes - 1)) != 0)
    return -1;
  return g_bit_nth_lsf (self->filter_classes, -1);
}
