/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The split caches read back when a split is opened again (engine/data/vg-stats.c: the
 * statistics that training whitens and weights its loss with, and the classes of each
 * mask that the workbench's class filter uses), $XDG_CACHE_HOME/visage/{stats,classes}-*
 * .json: the small JSON reader, the version, fingerprint and folder checks and the
 * numbers.
 *
 * The split is a two-sample split of small images made by fuzz-seeds (FUZZ_SPLIT names
 * it); its real cache files, written by the engine, are the seeds, so the fingerprint
 * matches and the fuzzer reaches the numbers. Invariants: a bad cache is never an error
 * (the statistics are computed again), and whatever the cache held, the statistics of
 * the split come back with finite means. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "fuzz-common.h"
#include "vg-split.h"
#include "vg-stats.h"

static VgSplit *split;
static char *stats_name;
static char *classes_name;

static void
setup (void)
{
  const char *dir = g_getenv ("FUZZ_SPLIT");
  g_autofree char *cache = g_build_filename (fuzz_dir (), "cache", NULL);
  g_autofree char *stats_path = NULL;
  g_autofree char *classes_path = NULL;
  g_autoptr (GError) error = NULL;

  if (dir == NULL)
    fuzz_fail ("FUZZ_SPLIT must name the split made by fuzz-seeds (see run.sh)");
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  split = vg_split_open (dir, VG_SPLIT_REQUIRE_MASKS, 1, NULL, &error);
  if (split == NULL)
    fuzz_fail ("cannot open the split: %s", error->message);
  stats_path = vg_split_stats_cache_path (split);
  classes_path = vg_split_classes_cache_path (split);
  if (!g_str_has_prefix (stats_path, cache) || !g_str_has_prefix (classes_path, cache))
    fuzz_fail ("the cache is not under XDG_CACHE_HOME");
  stats_name = g_strdup (stats_path + strlen (fuzz_dir ()) + 1);
  classes_name = g_strdup (classes_path + strlen (fuzz_dir ()) + 1);
  g_mkdir_with_parents (cache, 0700);
  {
    g_autofree char *visage = g_path_get_dirname (stats_path);
    g_mkdir_with_parents (visage, 0700);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  VgSplitStats stats;
  gboolean from_cache;

  if (split == NULL)
    setup ();
  /* The same bytes as either cache: each has the other's head. */
  fuzz_write (stats_name, data, size);
  if (!vg_split_stats_get (&stats, split, 1, &from_cache, NULL, &error))
    fuzz_fail ("a bad statistics cache is an error: %s", error->message);
  for (int c = 0; c < 3; c++)
    if (!isfinite (stats.mean[c]) || !isfinite (stats.std[c]))
      fuzz_fail ("statistics %s with mean %g, std %g", from_cache ? "from the cache"
                 : "computed", stats.mean[c], stats.std[c]);

  fuzz_write (classes_name, data, size);
  if (!vg_split_classes_get (split, 1, &from_cache, NULL, &error))
    fuzz_fail ("a bad classes cache is an error: %s", error->message);
  return 0;
}
