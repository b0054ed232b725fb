/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli predict | export-submission: masks (and overlays) of any images, and the
 * course's submission zip. Errors name the file at fault and exit non-zero; Ctrl-C stops at
 * the next image and exits 130 without partial output files. */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "visage-cli-private.h"
#include "vg-atomic-file.h"
#include "vg-backend.h"
#include "vg-classes.h"
#include "vg-export.h"
#include "vg-image.h"
#include "vg-known-models.h"
#include "vg-predict.h"
#include "vg-split.h"
#include "vg-stats.h"

/* A data folder given as a split root (DIR/images) or as the images folder itself. */
static char *
images_dir_of (const char *dir)
{
  g_autofree char *sub = g_build_filename (dir, "images", NULL);

  if (g_file_test (sub, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&sub);
  return g_strdup (dir);
}

/* ---- predict --------------------------------------------------------------------------- */

static gboolean
has_image_extension (const char *name)
{
  g_autofree char *lower = g_ascii_strdown (name, -1);

  return name[0] != '.' && (g_str_has_suffix (lower, ".jpg") || g_str_has_suffix (lower, ".jpeg")
                            || g_str_has_suffix (lower, ".png"));
}

static int
compare_paths (gconstpointer a, gconstpointer b)
{
  return vg_natural_compare (*(const char *const *) a, *(const char *const *) b);
}

/* The image files of the arguments: files as given, folders' images (or a split folder's
 * images/) in natural order. */
static GPtrArray *
collect_images (char **args, int n, GError **error)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);

  for (int i = 0; i < n; i++)
    {
      if (g_file_test (args[i], G_FILE_TEST_IS_DIR))
        {
          g_autofree char *dir = images_dir_of (args[i]);
          g_autoptr (GDir) d = g_dir_open (dir, 0, error);
          g_autoptr (GPtrArray) found = g_ptr_array_new ();
          const char *name;

          if (d == NULL)
            return NULL;
          while ((name = g_dir_read_name (d)) != NULL)
            if (has_image_extension (name))
              g_ptr_array_add (found, g_build_filename (dir, name, NULL));
          if (found->len == 0)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "%s: no .jpg, .jpeg or .png images in this folder", dir);
              return NULL;
            }
          g_ptr_array_sort (found, compare_paths);
          for (guint k = 0; k < found->len; k++)
            g_ptr_array_add (files, found->pdata[k]);
        }
      else if (g_file_test (args[i], G_FILE_TEST_EXISTS))
        g_ptr_array_add (files, g_strdup (args[i]));
      else
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                       "%s: no such file or folder", args[i]);
          return NULL;
        }
    }
  return g_steal_pointer (&files);
}

/* Two inputs with the same base name would overwrite each other's output. */
static gboolean
check_unique_names (const VgSplit *split, GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (int i = 0; i < split->n_samples; i++)
    {
      const VgSample *s = &split->samples[i];
      const VgSample *other = g_hash_table_lookup (seen, s->name);

      if (other != NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       "%s and %s would both be written as %s.png", other->image_path,
                       s->image_path, s->name);
          return FALSE;
        }
      g_hash_table_insert (seen, s->name, (gpointer) s);
    }
  return TRUE;
}

typedef struct {
  const VgSplit *split;
  VgPredictor *predictor;
  VgExporter *exporter;
} PredictOut;

static gboolean
predict_write (int index, const uint8_t *labels, int H, int W, gpointer data, GError **error)
{
  PredictOut *o = data;

  return vg_exporter_write (o->exporter, &o->split->samples[index], labels,
                            vg_predictor_probabilities (o->predictor), NULL, H, W, error);
}

/* --format, --classes, --legend, --overlay and --alpha to the export's options; FALSE
 * (with a message) when one is wrong. */
static gboolean
predict_options (VgExportOptions *options, const char *format, const char *classes,
                 gboolean legend, gboolean overlay, double alpha)
{
  g_autoptr (GError) error = NULL;

  vg_export_options_init (options);
  options->legend = legend;
  options->alpha = alpha;
  if (!(alpha >= 0.0 && alpha <= 1.0))
    {
      fprintf (stderr, "visage-cli predict: --alpha must be between 0 and 1\n");
      return FALSE;
    }
  if (format != NULL && !vg_export_parse_formats (format, &options->formats, &error))
    {
      fprintf (stderr, "visage-cli predict: --format: %s\n", error->message);
      return FALSE;
    }
  if (classes != NULL && !vg_export_parse_classes (classes, &options->classes, &error))
    {
      fprintf (stderr, "visage-cli predict: --classes: %s\n", error->message);
      return FALSE;
    }
  if (overlay)
    options->formats |= VG_EXPORT_FORMAT_OVERLAY;
  return TRUE;
}

int
vg_cli_predict (int argc, char **argv)
{
  g_autofree char *model_path = NULL, *out_dir = NULL, *device = NULL;
  const VgBackend *be;
  int batch = VG_CLI_DEFAULT_BATCH, workers = VG_CLI_DEFAULT_WORKERS, status = EXIT_OK;
  gboolean overlay = FALSE, flip = FALSE, legend = FALSE;
  g_autofree char *format = NULL, *classes = NULL, *shard = NULL, *precision = NULL;
  int shard_index, shard_count;
  double alpha = 0.5;
  GOptionEntry entries[] = {
    VG_CLI_MODEL_OPTION (model_path),
    VG_CLI_DEVICE_OPTION (device),
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir,
      "Folder for the predicted masks (never a data split's images, masks or annotations "
      "folder)", "DIR" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format,
      "What to write, several separated by commas: palette (NAME.png, the data set's colours; "
      "the default), index (NAME-index.png, grey, value = class id), classes (NAME/CLASS.png, "
      "one 0/255 mask per class present), overlay (NAME-overlay.png; NAME.png alone), "
      "probabilities (NAME/probabilities/CLASS.png, grey, value = round(255 x the class's softmax "
      "probability), one per class: PNG, which every image tool reads, to 1/255; export-onnx "
      "gives the exact logits)", "LIST" },
    { "classes", 0, 0, G_OPTION_ARG_STRING, &classes,
      "Keep only these classes (names or ids, e.g. hair,skin): the others are written as "
      "background, and get no classes or probabilities file", "LIST" },
    { "legend", 0, 0, G_OPTION_ARG_NONE, &legend,
      "Also write classes.json (id, name, colour, left/right partner) and legend.png (a "
      "colour swatch, id and name per class) beside the masks", NULL },
    { "overlay", 0, 0, G_OPTION_ARG_NONE, &overlay,
      "Also write NAME-overlay.png (as --format palette,overlay)", NULL },
    { "alpha", 0, 0, G_OPTION_ARG_DOUBLE, &alpha, "Overlay opacity (default 0.5)", "A" },
    VG_CLI_PREDICT_OPTIONS (batch, workers, flip),
    VG_CLI_PRECISION_OPTION (precision),
    { "shard", 0, 0, G_OPTION_ARG_STRING, &shard,
      "Predict only shard I of N (0 <= I < N): a contiguous block of the images (in the "
      "order given, a folder's in name order), for one job of an array job", "I/N" },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) files = NULL;
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgPredictor) predictor = NULL;
  g_autoptr (VgExporter) exporter = NULL;
  g_autoptr (VgCliProgress) progress = NULL;
  VgExportOptions options;
  PredictOut out = { 0 };
  GCancellable *cancellable;
  VgPreprocess pre;

  if (!vg_cli_parse_options ("predict", "write predicted masks for IMAGE|DIR...", entries,
                             &argc, &argv, &status))
    return status;
  if ((be = vg_cli_backend ("predict", device)) == NULL)
    return EXIT_USAGE;
  if (argc < 2)
    {
      fprintf (stderr, "visage-cli predict: give the images (IMAGE or DIR arguments)\n");
      return EXIT_USAGE;
    }
  if (out_dir == NULL)
    {
      fprintf (stderr, "visage-cli predict: --out DIR is required\n");
      return EXIT_USAGE;
    }
  if (!vg_cli_default_model ("predict", &model_path))
    return EXIT_USAGE;
  if (!vg_cli_check_batch_workers ("predict", batch, workers)
      || !predict_options (&options, format, classes, legend, overlay, alpha)
      || !vg_cli_parse_shard ("predict", shard, &shard_index, &shard_count)
      || !vg_cli_set_precision ("predict", precision))
    return EXIT_USAGE;

  cancellable = vg_cli_interrupt_cancellable ();
  files = collect_images (argv + 1, argc - 1, &error);
  if (files == NULL)
    return vg_cli_fail ("predict", error);
  split = vg_split_from_files ((const char *const *) files->pdata, (int) files->len, &error);
  if (split == NULL || !check_unique_names (split, &error))
    return vg_cli_fail ("predict", error);
  if (shard != NULL)
    {
      int total = split->n_samples;

      vg_split_shard (split, shard_index, shard_count);
      fprintf (stderr, "shard %d/%d: %d of the %d images\n", shard_index, shard_count,
               split->n_samples, total);
      if (split->n_samples == 0)
        return EXIT_OK; /* more shards than images: this one has nothing to do */
    }
  if ((model = vg_cli_open_model (model_path, be, &pre, &error)) == NULL)
    return vg_cli_fail ("predict", error);
  /* The destination (a folder of the split, a read-only place) before the first batch. */
  exporter = vg_exporter_new (split, 0, split->n_samples, out_dir, &options, &error);
  if (exporter == NULL)
    return vg_cli_fail ("predict", error);
  predictor = vg_cli_predictor_new (model, &pre, MIN (batch, split->n_samples), flip, &error);
  if (predictor == NULL)
    return vg_cli_fail ("predict", error);
  vg_predictor_set_probabilities (predictor, vg_exporter_needs_probabilities (exporter));

  out.split = split;
  out.predictor = predictor;
  out.exporter = exporter;
  progress = vg_cli_progress_new ("predict", split->n_samples, "images");
  if (!vg_predict_split (predictor, split, workers, predict_write, &out, vg_cli_on_progress,
                         progress, cancellable, &error))
    return vg_cli_fail ("predict", error);
  {
    g_autofree char *summary = g_strdup_printf ("%d files written to %s",
                                                vg_exporter_get_n_files (exporter), out_dir);
    vg_cli_progress_finish (progress, summary);
  }
  return EXIT_OK;
}

/* ---- export-submission ----------------------------------------------------------------- */

int
vg_cli_export_submission (int argc, char **argv)
{
  g_autofree char *model_path = NULL, *images = NULL, *zip_path = NULL, *device = NULL;
  const VgBackend *be;
  int batch = VG_CLI_DEFAULT_BATCH, workers = VG_CLI_DEFAULT_WORKERS, status = EXIT_OK;
  gboolean flip = FALSE, force = FALSE;
  GOptionEntry entries[] = {
    VG_CLI_MODEL_OPTION (model_path),
    VG_CLI_DEVICE_OPTION (device),
    { "images", 'i', 0, G_OPTION_ARG_FILENAME, &images,
      "Folder of test images (or a split folder with images/)", "DIR" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &zip_path, "The zip file to write", "FILE.zip" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
      "Replace the zip file if it exists (without --force an existing one is refused)", NULL },
    VG_CLI_PREDICT_OPTIONS (batch, workers, flip),
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgPredictor) predictor = NULL;
  g_autoptr (VgCliProgress) progress = NULL;
  g_autofree char *images_dir = NULL;
  GCancellable *cancellable;
  VgPreprocess pre;
  GStatBuf st;

  if (!vg_cli_parse_options ("export-submission", "zip of grey index PNGs", entries, &argc,
                             &argv, &status))
    return status;
  if ((be = vg_cli_backend ("export-submission", device)) == NULL)
    return EXIT_USAGE;
  if (!vg_cli_no_arguments ("export-submission", argc, argv))
    return EXIT_USAGE;
  if (images == NULL || zip_path == NULL)
    {
      fprintf (stderr, "visage-cli export-submission: --images DIR and --out FILE.zip are "
                       "required\n");
      return EXIT_USAGE;
    }
  if (!vg_cli_default_model ("export-submission", &model_path))
    return EXIT_USAGE;
  if (!vg_cli_check_batch_workers ("export-submission", batch, workers))
    return EXIT_USAGE;
  /* Before any work: a folder or an unwritable place, and a submission already there
   * (a finished export is worth more than a typo in --out). */
  if (!vg_check_output_file (zip_path, &error))
    return vg_cli_fail ("export-submission", error);
  if (!force && g_lstat (zip_path, &st) == 0)
    {
      fprintf (stderr, "visage-cli export-submission: %s already exists: give --force to "
                       "replace it\n", zip_path);
      return EXIT_FAILURE_RUN;
    }

  cancellable = vg_cli_interrupt_cancellable ();
  images_dir = images_dir_of (images);
  split = vg_split_open_dirs (images_dir, NULL, VG_SPLIT_DEFAULT, workers, cancellable, &error);
  if (split == NULL)
    return vg_cli_fail ("export-submission", error);
  if ((model = vg_cli_open_model (model_path, be, &pre, &error)) == NULL)
    return vg_cli_fail ("export-submission", error);
  predictor = vg_cli_predictor_new (model, &pre, MIN (batch, split->n_samples), flip, &error);
  if (predictor == NULL)
    return vg_cli_fail ("export-submission", error);
  progress = vg_cli_progress_new ("export", split->n_samples, "images");
  if (!vg_export_submission (predictor, split, zip_path, workers, vg_cli_on_progress, progress,
                             cancellable, &error))
    return vg_cli_fail ("export-submission", error);
  {
    g_autofree char *summary = g_strdup_printf ("wrote %s (%d grey index PNGs)", zip_path,
                                                split->n_samples);
    vg_cli_progress_finish (progress, summary);
  }
  return EXIT_OK;
}
