/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli classes: the 19 classes of engine/vg-classes.h (id, name, label, palette
 * colour, left/right partner) as a text table, JSON or the Markdown table of README.md. */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <stdio.h>

#include "visage-cli-private.h"
#include "vg-classes.h"
#include "vg-export.h"

static void
hex_colour (char out[8], int cls)
{
  const uint8_t *rgb = vg_class_rgb (cls);

  g_snprintf (out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

/* The class a horizontal flip turns cls into, or -1 when it stays itself. */
static int
partner (int cls)
{
  int m = vg_class_mirror (cls);

  return m != cls ? m : -1;
}

static void
print_text (void)
{
  printf ("%-3s %-11s %-12s %-8s %s\n", "id", "name", "label", "colour", "partner");
  for (int i = 0; i < VG_NUM_CLASSES; i++)
    {
      char hex[8];
      int p = partner (i);

      hex_colour (hex, i);
      if (p >= 0)
        printf ("%-3d %-11s %-12s %-8s %s (%d)\n", i, vg_class_name (i), vg_class_label (i),
                hex, vg_class_name (p), p);
      else
        printf ("%-3d %-11s %-12s %-8s -\n", i, vg_class_name (i), vg_class_label (i), hex);
    }
}

static void
print_json (void)
{
  g_autoptr (GString) text = vg_export_classes_json ();

  fputs (text->str, stdout);
}

static void
print_markdown (void)
{
  printf ("| id | name | label | colour | left/right partner |\n");
  printf ("|---:|---|---|---|---|\n");
  for (int i = 0; i < VG_NUM_CLASSES; i++)
    {
      char hex[8];
      int p = partner (i);

      hex_colour (hex, i);
      if (p >= 0)
        printf ("| %d | `%s` | %s | `%s` | `%s` (%d) |\n", i, vg_class_name (i),
                vg_class_label (i), hex, vg_class_name (p), p);
      else
        printf ("| %d | `%s` | %s | `%s` | |\n", i, vg_class_name (i), vg_class_label (i),
                hex);
    }
}

int
vg_cli_classes (int argc, char **argv)
{
  gboolean json = FALSE, markdown = FALSE;
  GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "Print a JSON array", NULL },
    { "markdown", 0, 0, G_OPTION_ARG_NONE, &markdown,
      "Print a Markdown table (the one in README.md)", NULL },
    { NULL }
  };
  int status = EXIT_OK;

  if (!vg_cli_parse_options_only ("classes", "list the face classes: id, name, colour, partner",
                                  entries, &argc, &argv, &status))
    return status;
  if (json && markdown)
    {
      fprintf (stderr, "visage-cli classes: --json and --markdown exclude each other\n");
      return EXIT_USAGE;
    }
  if (json)
    print_json ();
  else if (markdown)
    print_markdown ();
  else
    print_text ();
  return EXIT_OK;
}
