/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One row of the per-class table: a class's scores in an evaluation. */
#pragma once

#include <glib-object.h>

#include "vg-predict.h"

G_BEGIN_DECLS

#define VISAGE_TYPE_CLASS_SCORE (visage_class_score_get_type ())
G_DECLARE_FINAL_TYPE (VisageClassScore, visage_class_score, VISAGE, CLASS_SCORE, GObject)

/* Class cls's row of an evaluation's metrics. */
VisageClassScore *visage_class_score_new (const VgEvalResult *metrics, int cls);

int visage_class_score_get_class (VisageClassScore *self);

G_END_DECLS
