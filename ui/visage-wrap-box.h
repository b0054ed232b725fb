/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A row of widgets that wraps onto more rows when it is narrow, as words wrap in a
 * paragraph: each child keeps its natural width (or the row's, if narrower), the rows are as
 * tall as their tallest child. A toolbar in it never clips a button nor needs scrolling.
 * (GtkFlowBox aligns its children in columns as wide as the widest, which for groups of
 * unequal width leaves one group to a row.) */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define VISAGE_TYPE_WRAP_BOX (visage_wrap_box_get_type ())
G_DECLARE_FINAL_TYPE (VisageWrapBox, visage_wrap_box, VISAGE, WRAP_BOX, GtkWidget)

GtkWidget *visage_wrap_box_new (void);
/* Add a child at the end. */
void visage_wrap_box_append (VisageWrapBox *self, GtkWidget *child);

G_END_DECLS
