/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The choices of the workbench's mask exports, inside their file chooser (its extra
 * choices: check boxes and one drop-down, native in the portal's chooser too): the formats
 * (several at once), the class kept (all, or one) and the legend, as visage-cli predict's
 * --format, --classes and --legend (vg-export.h). */
#pragma once

#include <gtk/gtk.h>

#include "vg-export.h"

G_BEGIN_DECLS

/* Add the choices to chooser, set as options says (a filter of several classes shows as
 * all classes). */
void visage_export_choices_add (GtkFileChooser *chooser, const VgExportOptions *options);
/* The options chosen; options keeps its other fields. With no format checked, palette
 * masks (the export's default) are written. */
void visage_export_choices_read (GtkFileChooser *chooser, VgExportOptions *options);

G_END_DECLS
