/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli: the headless tool. Subcommands share the engine with the workbench. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Run the tool as if from the command line; returns the process exit status
 * (0 success, 1 failure, 2 usage error). */
int visage_cli_main (int argc, char **argv);

G_END_DECLS
