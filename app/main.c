/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage: the face parsing workbench. */
#include "config.h"

#include <signal.h>

#include "visage-application.h"

int
main (int argc, char *argv[])
{
  g_autoptr (VisageApplication) app = NULL;

  /* Over the file size limit (ulimit -f), a write fails with EFBIG, reported like a full
   * disk with the temporary removed, instead of SIGXFSZ killing the program mid-write. */
  signal (SIGXFSZ, SIG_IGN);
  visage_i18n_init ();
  app = visage_application_new (G_APPLICATION_DEFAULT_FLAGS);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
