/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli stats: a split's whitening statistics, class frequencies and loss weights. */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "visage-cli-private.h"
#include "vg-atomic-file.h"
#include "vg-backend.h"
#include "vg-classes.h"
#include "vg-image.h"
#include "vg-known-models.h"
#include "vg-predict.h"
#include "vg-split.h"
#include "vg-stats.h"

/* ---- stats ----------------------------------------------------------------------------- */

static GString *
stats_json (const VgSplitStats *s, const VgSplit *split, const float *weights,
            gboolean from_cache, const char *cache_path)
{
  GString *out = g_string_new ("{\n  \"images_dir\": ");

  vg_cli_json_string (out, split->images_dir);
  g_string_append (out, ",\n  \"masks_dir\": ");
  vg_cli_json_string (out, split->masks_dir);
  g_string_append_printf (out, ",\n  \"n_images\": %d,\n  \"n_pixels\": %" G_GUINT64_FORMAT,
                          s->n_images, s->n_pixels);
  g_string_append (out, ",\n  \"mean\": [");
  for (int c = 0; c < 3; c++)
    {
      g_string_append (out, c ? ", " : "");
      vg_cli_json_number (out, s->mean[c], TRUE);
    }
  g_string_append (out, "],\n  \"std\": [");
  for (int c = 0; c < 3; c++)
    {
      g_string_append (out, c ? ", " : "");
      vg_cli_json_number (out, s->std[c], TRUE);
    }
  g_string_append_printf (out, "],\n  \"from_cache\": %s,\n  \"cache\": ",
                          from_cache ? "true" : "false");
  vg_cli_json_string (out, cache_path);
  g_string_append (out, ",\n  \"classes\": [");
  for (int c = 0; s->has_masks && c < VG_NUM_CLASSES; c++)
    {
      g_string_append_printf (out, "%s\n    {\"id\": %d, \"name\": ", c ? "," : "", c);
      vg_cli_json_string (out, vg_class_name (c));
      g_string_append_printf (out, ", \"pixels\": %" G_GUINT64_FORMAT ", \"share\": ",
                              s->class_pixels[c]);
      vg_cli_json_number (out, s->n_pixels > 0 ? (double) s->class_pixels[c] / s->n_pixels : 0,
                          TRUE);
      g_string_append_printf (out, ", \"images\": %d, \"weight\": ", s->class_images[c]);
      vg_cli_json_number (out, weights[c], TRUE);
      g_string_append_c (out, '}');
    }
  g_string_append (out, s->has_masks ? "\n  ]\n}\n" : "]\n}\n");
  return out;
}

int
vg_cli_stats (int argc, char **argv)
{
  g_autofree char *images = NULL, *masks = NULL, *cache_path = NULL;
  gboolean json = FALSE;
  int workers = 0, status = EXIT_OK;
  GOptionEntry entries[] = {
    { "images", 0, 0, G_OPTION_ARG_FILENAME, &images, "Images folder (instead of DIR)", "DIR" },
    { "masks", 0, 0, G_OPTION_ARG_FILENAME, &masks, "Masks folder (with --images)", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON instead of a table", NULL },
    { "workers", 'j', 0, G_OPTION_ARG_INT, &workers,
      "Decoding threads (default: one per processor)", "N" },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgCliProgress) progress = NULL;
  GCancellable *cancellable;
  gboolean from_cache = FALSE;
  float weights[VG_NUM_CLASSES] = { 0 };
  VgSplitStats s;

  if (!vg_cli_parse_options ("stats", "statistics of a split", entries, &argc, &argv,
                             &status))
    return status;
  if ((argc == 2) == (images != NULL) || argc > 2 || (masks != NULL && images == NULL))
    {
      fprintf (stderr, "visage-cli stats: give one split folder DIR, or --images DIR "
                       "[--masks DIR]\n");
      return EXIT_USAGE;
    }
  if (!vg_cli_check_range ("stats", "--workers", workers, 0, 256))
    return EXIT_USAGE;

  cancellable = vg_cli_interrupt_cancellable ();
  if (argc == 2)
    split = vg_split_open (argv[1], VG_SPLIT_DEFAULT, workers, cancellable, &error);
  else
    split = vg_split_open_dirs (images, masks, VG_SPLIT_DEFAULT, workers, cancellable, &error);
  if (split == NULL)
    return vg_cli_fail ("stats", error);

  /* The engine reports no progress while it reads the split: the line says what happens
   * and the final one how long it took. */
  progress = vg_cli_progress_new ("stats", split->n_samples, "images");
  vg_cli_progress_update (progress, 0, "reading (or using the cache)");
  if (!vg_split_stats_get (&s, split, workers, &from_cache, cancellable, &error))
    return vg_cli_fail ("stats", error);
  vg_cli_progress_update (progress, split->n_samples, NULL);
  vg_cli_progress_finish (progress, from_cache ? "from the cache" : "computed and cached");
  cache_path = vg_split_stats_cache_path (split);
  if (s.has_masks)
    vg_class_weights (weights, s.class_pixels, VG_NUM_CLASSES);

  if (json)
    {
      g_autoptr (GString) text = stats_json (&s, split, weights, from_cache, cache_path);
      fputs (text->str, stdout);
      return EXIT_OK;
    }
  printf ("split: %s (%d images, %" G_GUINT64_FORMAT " pixels)\n", split->images_dir,
          s.n_images, s.n_pixels);
  printf ("statistics: %s %s\n", from_cache ? "read from the cache" : "computed, cached in",
          cache_path);
  printf ("mean (R, G, B): %.4f %.4f %.4f (of values / 255)\n", s.mean[0], s.mean[1],
          s.mean[2]);
  printf ("std  (R, G, B): %.4f %.4f %.4f\n", s.std[0], s.std[1], s.std[2]);
  if (!s.has_masks)
    {
      printf ("no masks: no class statistics\n");
      return EXIT_OK;
    }
  printf ("\n%-10s %14s %8s %8s %8s\n", "class", "pixels", "share", "images", "weight");
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    printf ("%-10s %14" G_GUINT64_FORMAT " %7.3f%% %8d %8.5f\n", vg_class_name (c),
            s.class_pixels[c],
            s.n_pixels > 0 ? 100.0 * (double) s.class_pixels[c] / s.n_pixels : 0.0,
            s.class_images[c], weights[c]);
  printf ("(weight: the report's w_c = (1 / ln n_c) / sum_i (1 / ln n_i) of the pixel "
          "counts)\n");
  return EXIT_OK;
}
