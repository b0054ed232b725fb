/* SPDX-License-Identifier: GPL-3.0-or-later */
/* save-annotation IMAGE MASK TARGET [SEED] [--recovery]: what the workbench does when a
 * corrected mask is saved (or autosaved), for the fault scripts. The mask is opened as a
 * VisageAnnotation, a brush stroke of a class chosen by SEED is painted, and the
 * annotation is saved to TARGET (its folder created), or with --recovery written to its
 * recovery file under $XDG_DATA_HOME/visage/recovery. Prints the error and exits 1 when
 * the write fails. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg-image.h"
#include "visage-annotation.h"

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VisageAnnotation) annotation = NULL;
  gboolean recovery = argc == 6 && strcmp (argv[5], "--recovery") == 0;
  int seed = argc >= 5 ? atoi (argv[4]) : 1;
  VgImage mask = { 0 };
  VgMaskEdit *edit;
  gboolean ok;

  if (argc < 4 || argc > 6 || (argc == 6 && !recovery))
    {
      fprintf (stderr, "usage: save-annotation IMAGE MASK TARGET [SEED] [--recovery]\n");
      return 2;
    }
  signal (SIGXFSZ, SIG_IGN);  /* as the workbench does */
  if (!vg_mask_load (&mask, argv[2], &error))
    {
      fprintf (stderr, "save-annotation: %s\n", error->message);
      return 1;
    }
  annotation = visage_annotation_new (argv[1], argv[3], mask.data, mask.height, mask.width,
                                      &error);
  vg_image_clear (&mask);
  if (annotation == NULL)
    {
      fprintf (stderr, "save-annotation: %s\n", error->message);
      return 1;
    }
  edit = visage_annotation_get_edit (annotation);
  vg_mask_edit_begin (edit);
  vg_mask_edit_brush (edit, 100, 100 + seed, 400, 300 - seed, 40, 1 + seed % 18);
  vg_mask_edit_end (edit);
  visage_annotation_changed (annotation);
  ok = recovery ? visage_annotation_write_recovery (annotation, &error)
                : visage_annotation_save (annotation, NULL, &error);
  if (!ok)
    {
      fprintf (stderr, "save-annotation: %s\n", error->message);
      return 1;
    }
  return 0;
}
