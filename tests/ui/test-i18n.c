/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The German translation from the build tree (VISAGE_LOCALEDIR, as `meson devenv` sets
 * it): a string of the program and of a widget's template show in German, and numbers
 * take the translation's one format (percentages, thousands separators). */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <adwaita.h>

#include "visage-application.h"
#include "visage-format.h"
#include "visage-train-dialog.h"
#include "ui-test-util.h"
#include "test-register.h"

static char *scratch_dir;

VG_TEST ("/i18n/german", test_german)
{
  VisageTrainDialog *dialog;
  g_autofree char *percent = NULL, *count = NULL;
  const char *localedir = g_getenv ("VISAGE_LOCALEDIR");
  g_autofree char *mo = g_build_filename (localedir != NULL ? localedir : "", "de",
                                          "LC_MESSAGES", GETTEXT_PACKAGE ".mo", NULL);

  g_assert_nonnull (localedir);
  g_assert_true (g_file_test (mo, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpstr (_("Train a Model"), ==, "Ein Modell trainieren");
  dialog = visage_train_dialog_new (NULL, NULL);
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (dialog)), ==, "Ein Modell trainieren");
  gtk_window_destroy (GTK_WINDOW (dialog));

  /* one format: a no-break space before the percent sign; points between thousands (the
   * C locale's numbers have none of their own) */
  percent = visage_format_percent (0.7318, 2);
  g_assert_cmpstr (percent, ==, "73.18\u00a0%");
  count = visage_format_count (1967923);
  g_assert_cmpstr (count, ==, "1.967.923");
}

int
main (int argc, char *argv[])
{
  int status;

  /* German messages in a locale that every system has (gettext ignores LANGUAGE only in
   * the plain "C" locale) */
  g_setenv ("LANGUAGE", "de", TRUE);
  g_setenv ("LC_ALL", "C.UTF-8", TRUE);
  if ((status = ui_test_init (&argc, &argv, "i18n", &scratch_dir)) >= 0)
    return status;
  visage_i18n_init ();

  vg_test_add_registered ();
  return ui_test_run (&scratch_dir, NULL);
}
