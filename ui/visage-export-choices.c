/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-export-choices"

#include "config.h"

#include <glib/gi18n.h>

#include "visage-classes.h"
#include "visage-export-choices.h"

#define CLASS_CHOICE "class"
#define LEGEND_CHOICE "legend"

/* The check box of each format, in VgExportFormat bit order. */
static const char *
format_label (int i)
{
  switch (i)
    {
    case 0:
      return _("Palette masks (data set colours)");
    case 1:
      return _("Class index masks (grey, value = class id)");
    case 2:
      return _("One mask per class");
    case 3:
      return _("Overlays");
    default:
      return _("Class probabilities (grey, one per class)");
    }
}

void
visage_export_choices_add (GtkFileChooser *chooser, const VgExportOptions *options)
{
  const char *ids[VG_NUM_CLASSES + 2] = { "all" };
  const char *labels[VG_NUM_CLASSES + 2] = { NULL };
  const char *selected = "all";

  for (int i = 0; i < VG_EXPORT_N_FORMATS; i++)
    {
      gtk_file_chooser_add_choice (chooser, vg_export_format_name (i), format_label (i), NULL,
                                   NULL);
      gtk_file_chooser_set_choice (chooser, vg_export_format_name (i),
                                   options->formats & (1u << i) ? "true" : "false");
    }
  labels[0] = _("All classes");
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      ids[c + 1] = vg_class_name (c);
      labels[c + 1] = visage_class_display_name (c);
      if (options->classes == 1u << c)
        selected = vg_class_name (c);
    }
  gtk_file_chooser_add_choice (chooser, CLASS_CHOICE, _("Classes"), ids, labels);
  gtk_file_chooser_set_choice (chooser, CLASS_CHOICE, selected);
  gtk_file_chooser_add_choice (chooser, LEGEND_CHOICE,
                               _("Legend (legend.png and classes.json)"), NULL, NULL);
  gtk_file_chooser_set_choice (chooser, LEGEND_CHOICE, options->legend ? "true" : "false");
}

static gboolean
checked (GtkFileChooser *chooser, const char *id)
{
  return g_strcmp0 (gtk_file_chooser_get_choice (chooser, id), "true") == 0;
}

void
visage_export_choices_read (GtkFileChooser *chooser, VgExportOptions *options)
{
  const char *cls = gtk_file_chooser_get_choice (chooser, CLASS_CHOICE);
  int c = cls != NULL ? vg_class_from_name (cls) : -1;

  options->formats = 0;
  for (int i = 0; i < VG_EXPORT_N_FORMATS; i++)
    if (checked (chooser, vg_export_format_name (i)))
      options->formats |= 1u << i;
  if (options->formats == 0)
    options->formats = VG_EXPORT_FORMAT_PALETTE;
  options->classes = c >= 0 ? 1u << c : VG_EXPORT_ALL_CLASSES;
  options->legend = checked (chooser, LEGEND_CHOICE);
}
