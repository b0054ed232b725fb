/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The mask exports' choices in their file chooser: the formats (several at once), the
 * class kept and the legend show the options of the last export and read back what the
 * user set, as the export (vg-export.h, tested with the service and visage-cli) takes it. */
#include "config.h"

#include <gtk/gtk.h>

#include "visage-export-choices.h"
#include "test-register.h"
#include "ui-test-util.h"

VG_TEST ("/export-choices/round-trip", test_choices_round_trip)
{
  GtkWidget *widget = gtk_file_chooser_widget_new (GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER);
  GtkFileChooser *chooser = GTK_FILE_CHOOSER (widget);
  GtkDropDown *classes;  /* the class kept, as the user reaches it */
  VgExportOptions options, read;

  g_object_ref_sink (widget);
  vg_export_options_init (&options);
  options.formats = VG_EXPORT_FORMAT_INDEX | VG_EXPORT_FORMAT_PROBABILITIES;
  options.classes = 1u << VG_CLASS_HAIR;
  options.legend = TRUE;
  visage_export_choices_add (chooser, &options);
  classes = GTK_DROP_DOWN (find_widget (widget, GTK_TYPE_DROP_DOWN, NULL));
  g_assert_cmpstr (gtk_file_chooser_get_choice (chooser, "palette"), ==, "false");
  g_assert_cmpstr (gtk_file_chooser_get_choice (chooser, "index"), ==, "true");
  g_assert_cmpstr (gtk_file_chooser_get_choice (chooser, "probabilities"), ==, "true");
  /* (GTK 4.8's own chooser widget ignores gtk_file_chooser_set_choice on a drop-down, so
   * the class preselected is not checked here; the user's pick is, below.) */
  g_assert_cmpstr (gtk_file_chooser_get_choice (chooser, "legend"), ==, "true");

  /* Read back as shown, then as the user sets them: several formats, all classes. */
  gtk_drop_down_set_selected (classes, 1 + VG_CLASS_HAIR);
  vg_export_options_init (&read);
  read.alpha = 0.25;
  visage_export_choices_read (chooser, &read);
  g_assert_cmpuint (read.formats, ==, options.formats);
  g_assert_cmpuint (read.classes, ==, options.classes);
  g_assert_true (read.legend);
  g_assert_cmpfloat (read.alpha, ==, 0.25);  /* not a choice: kept */
  gtk_file_chooser_set_choice (chooser, "index", "false");
  gtk_file_chooser_set_choice (chooser, "classes", "true");
  gtk_file_chooser_set_choice (chooser, "overlay", "true");
  gtk_drop_down_set_selected (classes, 0);
  gtk_file_chooser_set_choice (chooser, "legend", "false");
  visage_export_choices_read (chooser, &read);
  g_assert_cmpuint (read.formats, ==, VG_EXPORT_FORMAT_CLASSES | VG_EXPORT_FORMAT_OVERLAY
                                      | VG_EXPORT_FORMAT_PROBABILITIES);
  g_assert_cmpuint (read.classes, ==, VG_EXPORT_ALL_CLASSES);
  g_assert_false (read.legend);

  /* Nothing checked: the export's default, palette masks. */
  for (int i = 0; i < VG_EXPORT_N_FORMATS; i++)
    gtk_file_chooser_set_choice (chooser, vg_export_format_name (i), "false");
  visage_export_choices_read (chooser, &read);
  g_assert_cmpuint (read.formats, ==, VG_EXPORT_FORMAT_PALETTE);
  g_object_unref (widget);
}

int
main (int argc, char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  vg_test_add_registered ();
  return g_test_run ();
}
