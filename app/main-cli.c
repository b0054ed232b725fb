/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli: the headless tool. */
#include "config.h"

#include <locale.h>
#include <signal.h>

#include "visage-cli.h"

int
main (int argc, char *argv[])
{
  setlocale (LC_ALL, "");
  /* Over the file size limit (ulimit -f), a write fails with EFBIG, reported like a full
   * disk with the temporary removed, instead of SIGXFSZ killing the program mid-write. */
  signal (SIGXFSZ, SIG_IGN);
  return visage_cli_main (argc, argv);
}
