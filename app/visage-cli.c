/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "visage-cli.h"
#include "vg-device.h"

enum { EXIT_OK = 0, EXIT_FAILURE_RUN = 1, EXIT_USAGE = 2 };

typedef struct {
  const char *name;
  const char *summary;
  int (*run) (int argc, char **argv);
} VisageCliCommand;

static int cli_devices (int argc, char **argv);

static const VisageCliCommand commands[] = {
  { "devices", "list the compute devices the engine can use", cli_devices },
};

static void
print_usage (FILE *out)
{
  fprintf (out,
           "Usage: visage-cli [--help] [--version] COMMAND [ARGS...]\n"
           "\n"
           "Headless face parsing tool of Visage: the same engine as the workbench.\n"
           "\n"
           "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf (out,
           "\n"
           "Options:\n"
           "  -h, --help     show this help and exit\n"
           "  -V, --version  show the version and the compute backends, and exit\n"
           "\n"
           "Run 'visage-cli COMMAND --help' for a command's options.\n");
}

static void
print_version (void)
{
  char devices[512];

  vg_device_describe (devices, sizeof devices);
  printf ("visage-cli %s\n", PACKAGE_VERSION);
  printf ("CUDA backend compiled: %s\n", vg_device_cuda_compiled () ? "yes" : "no");
  printf ("Compute: %s\n", devices);
}

/* Usage lines then read "visage-cli COMMAND [OPTION...]". */
static void
set_command_prgname (const char *name)
{
  g_autofree char *prgname = g_strdup_printf ("visage-cli %s", name);

  if (g_get_prgname () == NULL)
    g_set_prgname (prgname);
}

/* Parse a command's options with GOption; a usage error prints the reason and help. */
static gboolean
parse_command_options (const char *name, const char *summary, GOptionEntry *entries,
                       int *argc, char ***argv, int *status)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *parameter = g_strdup_printf ("- %s", summary);

  context = g_option_context_new (parameter);
  g_option_context_set_summary (context, NULL);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  set_command_prgname (name);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      fprintf (stderr, "visage-cli %s: %s\n", name, error->message);
      fprintf (stderr, "Run 'visage-cli %s --help' for usage.\n", name);
      *status = EXIT_USAGE;
      return FALSE;
    }
  return TRUE;
}

static int
cli_devices (int argc, char **argv)
{
  char why[256] = "";
  int status = EXIT_OK;
  int n;

  if (!parse_command_options ("devices", "list the compute devices", NULL, &argc, &argv, &status))
    return status;
  if (argc > 1)
    {
      fprintf (stderr, "visage-cli devices: unexpected argument '%s'\n", argv[1]);
      return EXIT_USAGE;
    }

  printf ("cpu: %d hardware threads (OpenBLAS + OpenMP)\n", g_get_num_processors ());
  n = vg_device_cuda_count (why, sizeof why);
  if (n > 0)
    printf ("cuda: %d device%s\n", n, n == 1 ? "" : "s");
  else
    printf ("cuda: unavailable (%s)\n", why);
  return EXIT_OK;
}

int
visage_cli_main (int argc, char **argv)
{
  const char *name;

  if (argc < 2)
    {
      print_usage (stderr);
      return EXIT_USAGE;
    }

  name = argv[1];
  if (strcmp (name, "-h") == 0 || strcmp (name, "--help") == 0 || strcmp (name, "help") == 0)
    {
      print_usage (stdout);
      return EXIT_OK;
    }
  if (strcmp (name, "-V") == 0 || strcmp (name, "--version") == 0)
    {
      print_version ();
      return EXIT_OK;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      return commands[i].run (argc - 1, argv + 1);

  fprintf (stderr, "visage-cli: unknown command '%s'\n", name);
  fprintf (stderr, "Run 'visage-cli --help' for the list of commands.\n");
  return EXIT_USAGE;
}
