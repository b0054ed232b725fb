/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Properties (all read-only, for the table's expressions and sorters):
 *   class (int), name (string), long-tail (boolean),
 *   iou, f1 (double, -1 when the class occurs nowhere),
 *   truth-pixels (uint64), images (int: containing the class in the ground truth),
 *   missed (int: of those, with no pixel of it predicted right). */
#define G_LOG_DOMAIN "visage-class-score"

#include "config.h"

#include "vg-classes.h"
#include "visage-class-score.h"
#include "visage-classes.h"

struct _VisageClassScore
{
  GObject parent_instance;

  int cls;
  double iou;
  double f1;
  guint64 truth_pixels;
  int images;
  int missed;
};

G_DEFINE_FINAL_TYPE (VisageClassScore, visage_class_score, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_CLASS,
  PROP_NAME,
  PROP_LONG_TAIL,
  PROP_IOU,
  PROP_F1,
  PROP_TRUTH_PIXELS,
  PROP_IMAGES,
  PROP_MISSED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

VisageClassScore *
visage_class_score_new (const VgEvalResult *metrics, int cls)
{
  VisageClassScore *self;

  g_return_val_if_fail (metrics != NULL, NULL);
  g_return_val_if_fail (cls >= 0 && cls < VG_NUM_CLASSES, NULL);

  self = g_object_new (VISAGE_TYPE_CLASS_SCORE, NULL);
  self->cls = cls;
  self->iou = vg_confusion_iou (&metrics->confusion, cls);
  self->f1 = vg_confusion_f1 (&metrics->confusion, cls);
  self->truth_pixels = vg_confusion_truth_pixels (&metrics->confusion, cls);
  self->images = metrics->class_images[cls];
  self->missed = metrics->class_missed[cls];
  return self;
}

int
visage_class_score_get_class (VisageClassScore *self)
{
  g_return_val_if_fail (VISAGE_IS_CLASS_SCORE (self), -1);

  return self->cls;
}

static void
visage_class_score_get_property (GObject *object, guint prop_id, GValue *value,
                                 GParamSpec *pspec)
{
  VisageClassScore *self = VISAGE_CLASS_SCORE (object);

  switch (prop_id)
    {
    case PROP_CLASS:
      g_value_set_int (value, self->cls);
      break;
    case PROP_NAME:
      g_value_set_string (value, visage_class_display_name (self->cls));
      break;
    case PROP_LONG_TAIL:
      g_value_set_boolean (value, vg_class_is_long_tail (self->cls));
      break;
    case PROP_IOU:
      g_value_set_double (value, self->iou);
      break;
    case PROP_F1:
      g_value_set_double (value, self->f1);
      break;
    case PROP_TRUTH_PIXELS:
      g_value_set_uint64 (value, self->truth_pixels);
      break;
    case PROP_IMAGES:
      g_value_set_int (value, self->images);
      break;
    case PROP_MISSED:
      g_value_set_int (value, self->missed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_class_score_class_init (VisageClassScoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->get_property = visage_class_score_get_property;

  properties[PROP_CLASS] = g_param_spec_int ("class", NULL, NULL, 0, VG_NUM_CLASSES - 1, 0,
                                             flags);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  properties[PROP_LONG_TAIL] = g_param_spec_boolean ("long-tail", NULL, NULL, FALSE, flags);
  properties[PROP_IOU] = g_param_spec_double ("iou", NULL, NULL, -1.0, 1.0, -1.0, flags);
  properties[PROP_F1] = g_param_spec_double ("f1", NULL, NULL, -1.0, 1.0, -1.0, flags);
  properties[PROP_TRUTH_PIXELS] = g_param_spec_uint64 ("truth-pixels", NULL, NULL, 0,
                                                       G_MAXUINT64, 0, flags);
  properties[PROP_IMAGES] = g_param_spec_int ("images", NULL, NULL, 0, G_MAXINT, 0, flags);
  properties[PROP_MISSED] = g_param_spec_int ("missed", NULL, NULL, 0, G_MAXINT, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
visage_class_score_init (VisageClassScore *self)
{
}
