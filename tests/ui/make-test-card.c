/* SPDX-License-Identifier: GPL-3.0-or-later */
/* make-test-card DIR [N]: writes N (default 8) synthetic face-like test cards and their
 * ground truth as a split the workbench opens (DIR/images, DIR/masks); see test-card.h.
 * tests/ui/screenshots.sh takes the README's pictures on them. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "test-card.h"

int
main (int argc, char *argv[])
{
  g_autoptr (GError) error = NULL;
  char *end = NULL;
  long n = 8;

  if (argc == 3)
    n = strtol (argv[2], &end, 10);
  if (argc < 2 || argc > 3 || (end != NULL && *end != '\0') || n < 1 || n > 1000)
    {
      fprintf (stderr, "usage: %s DIR [N]\n"
               "writes N (1-1000, default 8) synthetic test cards as a split in DIR\n",
               argv[0]);
      return 2;
    }
  if (!vg_test_cards_write_split (argv[1], (int) n, &error))
    {
      fprintf (stderr, "make-test-card: %s\n", error->message);
      return 1;
    }
  printf ("%ld test cards in %s\n", n, argv[1]);
  return 0;
}
