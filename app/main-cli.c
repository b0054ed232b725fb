/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli: the headless tool. */
#include "config.h"

#include <locale.h>

#include "visage-cli.h"

int
main (int argc, char *argv[])
{
  setlocale (LC_ALL, "");
  return visage_cli_main (argc, argv);
}
