/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli eval | predict | export-submission | stats: thin wrappers over
 * engine/vg-predict.h and engine/data, which the workbench shares.
 *
 * Results go to stdout (tables) or to the files asked for (JSON, CSV, PNG, zip); progress
 * and errors go to stderr. Every error names the file at fault and exits non-zero; Ctrl-C
 * stops at the next image and exits 130 without leaving partial output files. */
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
#include "vg-models.h"
#include "vg-predict.h"
#include "vg-split.h"
#include "vg-stats.h"

#define EXIT_INTERRUPTED 130  /* the shell's convention for a SIGINT stop */
#define DEFAULT_BATCH 4
#define DEFAULT_WORKERS 2

/* ---- shared helpers -------------------------------------------------------------------- */

static int
fail (const char *command, const GError *error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      fprintf (stderr, "visage-cli %s: interrupted\n", command);
      return EXIT_INTERRUPTED;
    }
  fprintf (stderr, "visage-cli %s: %s\n", command, error->message);
  return EXIT_FAILURE_RUN;
}

static void
on_progress (int done, int total, gpointer data)
{
  vg_cli_progress_update (data, done, NULL);
}

static gboolean
check_range (const char *command, const char *option, int value, int lo, int hi)
{
  if (value < lo || value > hi)
    {
      fprintf (stderr, "visage-cli %s: %s must be between %d and %d, not %d\n", command, option,
               lo, hi, value);
      return FALSE;
    }
  return TRUE;
}

static VgModel *
open_model (const char *path, const VgBackend *be, VgPreprocess *pre, GError **error)
{
  return vg_model_open (path, be, pre, error);
}

/* Without --model: the model shipped with the program (vg_bundled_model_path). */
static gboolean
default_model (const char *command, char **model_path)
{
  if (*model_path != NULL)
    return TRUE;
  *model_path = vg_bundled_model_path ();
  if (*model_path == NULL)
    {
      fprintf (stderr, "visage-cli %s: no model ships with this build: give --model FILE\n",
               command);
      return FALSE;
    }
  return TRUE;
}

static void
print_model (const char *path, VgModel *model, const VgPreprocess *pre)
{
  if (pre->resolution > 0)
    fprintf (stderr, "model: %s (%s, resolution %d)\n", path, vg_model_config (model)->name,
             pre->resolution);
  else
    fprintf (stderr, "model: %s (%s, at each image's own size)\n", path,
             vg_model_config (model)->name);
}

/* A data folder given as a split root (DIR/images) or as the images folder itself. */
static char *
images_dir_of (const char *dir)
{
  g_autofree char *sub = g_build_filename (dir, "images", NULL);

  if (g_file_test (sub, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&sub);
  return g_strdup (dir);
}

/* ---- JSON and CSV text (locale-independent numbers) ------------------------------------ */

static void
json_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if (*p < 0x20)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  g_string_append_c (out, '"');
}

/* A double as JSON: shortest round-trip text; null when negative (no value) or not finite. */
static void
json_number (GString *out, double v, gboolean allow_negative)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (v) || (!allow_negative && v < 0))
    g_string_append (out, "null");
  else
    g_string_append (out, g_ascii_dtostr (buf, sizeof buf, v));
}

static void
csv_number (GString *out, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isfinite (v) && v >= 0)
    g_string_append (out, g_ascii_dtostr (buf, sizeof buf, v));
}

static gboolean
write_text (const char *path, const GString *text, GError **error)
{
  return vg_atomic_file_set_contents (path, text->str, text->len, error);
}

/* ---- eval ------------------------------------------------------------------------------ */

static uint64_t
predicted_pixels (const VgConfusion *cm, int c)
{
  uint64_t n = 0;

  for (int t = 0; t < VG_NUM_CLASSES; t++)
    n += cm->counts[t][c];
  return n;
}

static int
classes_with_iou (const VgConfusion *cm)
{
  int n = 0;

  for (int c = 0; c < VG_NUM_CLASSES; c++)
    n += vg_confusion_iou (cm, c) >= 0;
  return n;
}

static double
mean_image_miou (const VgEvalResult *r)
{
  double sum = 0;

  for (int i = 0; i < r->n_images; i++)
    sum += r->image_miou[i];
  return r->n_images > 0 ? sum / r->n_images : 0.0;
}

/* The line that says which mIoU is shown (the report's dataset-level definition). */
static char *
miou_definition (const VgEvalResult *r)
{
  int k = classes_with_iou (&r->confusion);

  if (k == VG_NUM_CLASSES)
    return g_strdup_printf ("dataset-level mIoU: intersections and unions summed over all %d "
                            "images, mean over all %d classes incl. background",
                            r->n_images, VG_NUM_CLASSES);
  return g_strdup_printf ("dataset-level mIoU: intersections and unions summed over all %d "
                          "images, mean over the %d of %d classes (incl. background) that "
                          "occur in the ground truth or the prediction", r->n_images, k,
                          VG_NUM_CLASSES);
}

static void
print_eval_table (const VgEvalResult *r, gboolean has_loss)
{
  const VgConfusion *cm = &r->confusion;
  g_autofree char *definition = miou_definition (r);

  printf ("%-10s %8s %8s %14s %8s %8s\n", "class", "IoU", "F1", "truth pixels", "images",
          "missed");
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      double iou = vg_confusion_iou (cm, c), f1 = vg_confusion_f1 (cm, c);
      char iou_s[16] = "-", f1_s[16] = "-";

      if (iou >= 0)
        g_snprintf (iou_s, sizeof iou_s, "%.4f", iou);
      if (f1 >= 0)
        g_snprintf (f1_s, sizeof f1_s, "%.4f", f1);
      printf ("%-10s %8s %8s %14" G_GUINT64_FORMAT " %8d %8d\n", vg_class_name (c), iou_s, f1_s,
              vg_confusion_truth_pixels (cm, c), r->class_images[c], r->class_missed[c]);
    }
  printf ("\n");
  printf ("mIoU            %.4f\n", vg_confusion_miou (cm));
  printf ("mean F1         %.4f\n", vg_confusion_mean_f1 (cm));
  printf ("pixel accuracy  %.4f\n", vg_confusion_accuracy (cm));
  printf ("per-image mIoU  %.4f (mean over images of the mean IoU of the classes present in "
          "each image's truth or prediction)\n", mean_image_miou (r));
  if (has_loss)
    printf ("loss            %.4f (mean cross-entropy at the model resolution)\n", r->loss);
  printf ("%s\n", definition);
  printf ("(images: images whose ground truth contains the class; missed: of those, images "
          "where no pixel of the class is predicted correctly)\n");
}

static GString *
eval_json (const VgEvalResult *r, const VgSplit *split, const char *model_path,
           const char *predictions, const VgPreprocess *pre, gboolean flip, gboolean has_loss)
{
  const VgConfusion *cm = &r->confusion;
  GString *out = g_string_new ("{\n  \"model\": ");
  g_autofree char *definition = miou_definition (r);

  if (model_path != NULL)
    json_string (out, model_path);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\n  \"predictions\": ");
  if (predictions != NULL)
    json_string (out, predictions);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\n  \"images_dir\": ");
  json_string (out, split->images_dir);
  g_string_append (out, ",\n  \"masks_dir\": ");
  json_string (out, split->masks_dir);
  g_string_append (out, ",\n  \"annotations_dir\": ");
  if (split->annotations_dir != NULL)
    json_string (out, split->annotations_dir);
  else
    g_string_append (out, "null");
  g_string_append_printf (out, ",\n  \"n_annotated\": %d", split->n_annotated);
  g_string_append_printf (out, ",\n  \"resolution\": %d", pre != NULL ? pre->resolution : -1);
  g_string_append_printf (out, ",\n  \"flip\": %s", flip ? "true" : "false");
  g_string_append_printf (out, ",\n  \"n_images\": %d", r->n_images);
  g_string_append (out, ",\n  \"miou_definition\": ");
  json_string (out, definition);
  g_string_append (out, ",\n  \"miou\": ");
  json_number (out, vg_confusion_miou (cm), FALSE);
  g_string_append (out, ",\n  \"mean_f1\": ");
  json_number (out, vg_confusion_mean_f1 (cm), FALSE);
  g_string_append (out, ",\n  \"pixel_accuracy\": ");
  json_number (out, vg_confusion_accuracy (cm), FALSE);
  g_string_append (out, ",\n  \"mean_image_miou\": ");
  json_number (out, mean_image_miou (r), FALSE);
  g_string_append (out, ",\n  \"loss\": ");
  if (has_loss)
    json_number (out, r->loss, FALSE);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\n  \"seconds\": ");
  json_number (out, r->seconds, FALSE);
  g_string_append (out, ",\n  \"classes\": [");
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      g_string_append_printf (out, "%s\n    {\"id\": %d, \"name\": ", c ? "," : "", c);
      json_string (out, vg_class_name (c));
      g_string_append (out, ", \"iou\": ");
      json_number (out, vg_confusion_iou (cm, c), FALSE);
      g_string_append (out, ", \"f1\": ");
      json_number (out, vg_confusion_f1 (cm, c), FALSE);
      g_string_append_printf (out, ", \"truth_pixels\": %" G_GUINT64_FORMAT
                              ", \"predicted_pixels\": %" G_GUINT64_FORMAT
                              ", \"images\": %d, \"missed_images\": %d}",
                              vg_confusion_truth_pixels (cm, c), predicted_pixels (cm, c),
                              r->class_images[c], r->class_missed[c]);
    }
  g_string_append (out, "\n  ],\n  \"confusion\": [");
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    {
      g_string_append_printf (out, "%s\n    [", t ? "," : "");
      for (int p = 0; p < VG_NUM_CLASSES; p++)
        g_string_append_printf (out, "%s%" G_GUINT64_FORMAT, p ? ", " : "", cm->counts[t][p]);
      g_string_append_c (out, ']');
    }
  g_string_append (out, "\n  ],\n  \"confusion_axes\": \"[ground truth][prediction]\"");
  g_string_append (out, ",\n  \"images\": [");
  for (int i = 0; i < r->n_images; i++)
    {
      g_string_append_printf (out, "%s\n    {\"name\": ", i ? "," : "");
      json_string (out, split->samples[i].name);
      g_string_append (out, ", \"miou\": ");
      json_number (out, r->image_miou[i], FALSE);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "\n  ]\n}\n");
  return out;
}

/* One row per class with its metrics and its confusion row (truth = the class), then a row
 * of means. */
static GString *
eval_csv (const VgEvalResult *r)
{
  const VgConfusion *cm = &r->confusion;
  GString *out = g_string_new ("id,class,iou,f1,truth_pixels,predicted_pixels,images,"
                               "missed_images");

  for (int p = 0; p < VG_NUM_CLASSES; p++)
    g_string_append_printf (out, ",pred_%s", vg_class_name (p));
  g_string_append_c (out, '\n');
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      g_string_append_printf (out, "%d,%s,", c, vg_class_name (c));
      csv_number (out, vg_confusion_iou (cm, c));
      g_string_append_c (out, ',');
      csv_number (out, vg_confusion_f1 (cm, c));
      g_string_append_printf (out, ",%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT ",%d,%d",
                              vg_confusion_truth_pixels (cm, c), predicted_pixels (cm, c),
                              r->class_images[c], r->class_missed[c]);
      for (int p = 0; p < VG_NUM_CLASSES; p++)
        g_string_append_printf (out, ",%" G_GUINT64_FORMAT, cm->counts[c][p]);
      g_string_append_c (out, '\n');
    }
  g_string_append (out, ",mean,");
  csv_number (out, vg_confusion_miou (cm));
  g_string_append_c (out, ',');
  csv_number (out, vg_confusion_mean_f1 (cm));
  g_string_append_printf (out, ",,,%d,\n", r->n_images);
  return out;
}

/* Open the split of --data or --images/--masks. */
static VgSplit *
open_eval_split (const char *data, const char *images, const char *masks, gboolean skip_bad,
                 int workers, GCancellable *cancellable, GError **error)
{
  VgSplitFlags flags = VG_SPLIT_REQUIRE_MASKS;

  /* Finding bad files to skip needs every file decoded up front; without --skip-bad the
   * first bad file found while evaluating stops the run with its name. */
  if (skip_bad)
    flags |= VG_SPLIT_SKIP_BAD | VG_SPLIT_VERIFY;
  if (data != NULL)
    return vg_split_open (data, flags, workers, cancellable, error);
  return vg_split_open_dirs (images, masks, flags, workers, cancellable, error);
}

int
vg_cli_eval (int argc, char **argv)
{
  g_autofree char *model_path = NULL, *data = NULL, *images = NULL, *masks = NULL;
  g_autofree char *device = NULL;
  const VgBackend *be;
  g_autofree char *json_path = NULL, *csv_path = NULL, *predictions = NULL;
  g_autofree char *weights_from = NULL, *annotations = NULL;
  int batch = DEFAULT_BATCH, workers = DEFAULT_WORKERS, max = 0, status = EXIT_OK;
  gboolean skip_bad = FALSE, flip = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path,
      "Model file (.safetensors); default: the one shipped with Visage",
      "FILE" },
    VG_CLI_DEVICE_OPTION (device),
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data,
      "Split folder with images/ and masks/", "DIR" },
    { "images", 0, 0, G_OPTION_ARG_FILENAME, &images, "Images folder (with --masks)", "DIR" },
    { "masks", 0, 0, G_OPTION_ARG_FILENAME, &masks, "Masks folder (with --images)", "DIR" },
    { "annotations", 0, 0, G_OPTION_ARG_FILENAME, &annotations,
      "Corrected masks (NAME.png) that override the split's as ground truth", "DIR" },
    { "predictions", 0, 0, G_OPTION_ARG_FILENAME, &predictions,
      "Evaluate these masks (NAME.png per image) instead of a model's predictions", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path,
      "Write every result (confusion matrix, per-image mIoU) as JSON", "FILE" },
    { "csv", 0, 0, G_OPTION_ARG_FILENAME, &csv_path,
      "Write the per-class table with the confusion matrix as CSV", "FILE" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Images per forward pass (default 4)", "N" },
    { "workers", 'j', 0, G_OPTION_ARG_INT, &workers, "Decoding threads (default 2)", "N" },
    { "flip", 0, 0, G_OPTION_ARG_NONE, &flip,
      "Also run each image mirrored and average the two (test-time flip: twice the time)",
      NULL },
    { "skip-bad", 0, 0, G_OPTION_ARG_NONE, &skip_bad,
      "Check every file first and leave out bad samples with a warning", NULL },
    { "max", 0, 0, G_OPTION_ARG_INT, &max, "Evaluate only the first N images", "N" },
    { "weights-from", 0, 0, G_OPTION_ARG_FILENAME, &weights_from,
      "Weight the loss by the report's class weights of this (training) split", "DIR" },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgPredictor) predictor = NULL;
  g_autoptr (VgCliProgress) progress = NULL;
  g_auto (VgEvalResult) result = { 0 };
  float weights[VG_NUM_CLASSES];
  gboolean use_weights = FALSE;
  GCancellable *cancellable;
  VgPreprocess pre = { 0 };
  VgSplit view;

  if (!vg_cli_parse_options ("eval", "evaluate a model on a split", entries, &argc, &argv,
                             &status))
    return status;
  if ((be = vg_cli_backend ("eval", device)) == NULL)
    return EXIT_USAGE;
  if (argc > 1)
    {
      fprintf (stderr, "visage-cli eval: unexpected argument '%s'\n", argv[1]);
      return EXIT_USAGE;
    }
  if (model_path != NULL && predictions != NULL)
    {
      fprintf (stderr, "visage-cli eval: give a model (--model FILE) or predicted masks "
                       "(--predictions DIR), not both\n");
      return EXIT_USAGE;
    }
  if (predictions == NULL && !default_model ("eval", &model_path))
    return EXIT_USAGE;
  if ((data != NULL) == (images != NULL || masks != NULL)
      || (data == NULL && (images == NULL || masks == NULL)))
    {
      fprintf (stderr, "visage-cli eval: give the data as --data DIR or as --images DIR "
                       "--masks DIR\n");
      return EXIT_USAGE;
    }
  if (!check_range ("eval", "--batch", batch, 1, 256)
      || !check_range ("eval", "--workers", workers, 1, 256)
      || !check_range ("eval", "--max", max, 0, G_MAXINT))
    return EXIT_USAGE;
  /* A folder given as the file, or a read-only one: said now, not after the evaluation. */
  if ((json_path != NULL && !vg_check_output_file (json_path, &error))
      || (csv_path != NULL && !vg_check_output_file (csv_path, &error)))
    return fail ("eval", error);

  cancellable = vg_cli_interrupt_cancellable ();
  if (model_path != NULL)
    {
      model = open_model (model_path, be, &pre, &error);
      if (model == NULL)
        return fail ("eval", error);
      print_model (model_path, model, &pre);
    }
  split = open_eval_split (data, images, masks, skip_bad, workers, cancellable, &error);
  if (split == NULL)
    return fail ("eval", error);
  for (guint i = 0; split->skipped != NULL && i < split->skipped->len; i++)
    fprintf (stderr, "visage-cli eval: warning: skipped %s\n",
             (const char *) split->skipped->pdata[i]);
  if (annotations != NULL)
    {
      if (!vg_split_use_annotations (split, annotations, &error))
        return fail ("eval", error);
      fprintf (stderr, "annotations: %s (%d of %d masks corrected)\n", split->annotations_dir,
               split->n_annotated, split->n_samples);
    }
  if (weights_from != NULL)
    {
      g_autoptr (VgSplit) train = vg_split_open (weights_from, VG_SPLIT_REQUIRE_MASKS, workers,
                                                 cancellable, &error);
      VgSplitStats stats;

      if (train == NULL
          || !vg_split_stats_get (&stats, train, workers, NULL, cancellable, &error))
        return fail ("eval", error);
      vg_class_weights (weights, stats.class_pixels, VG_NUM_CLASSES);
      use_weights = TRUE;
    }

  /* --max: a view of the first images (the samples stay owned by split). */
  view = *split;
  if (max > 0)
    view.n_samples = MIN (max, split->n_samples);
  fprintf (stderr, "data: %s (%d images)\n", split->images_dir, view.n_samples);

  progress = vg_cli_progress_new ("eval", view.n_samples, "images");
  if (model != NULL)
    {
      predictor = vg_predictor_new (model, &pre, batch, &error);
      if (predictor == NULL || !vg_predictor_set_flip (predictor, flip, &error)
          || !vg_evaluate (predictor, &view, use_weights ? weights : NULL, workers, &result,
                           on_progress, progress, cancellable, &error))
        return fail ("eval", error);
    }
  else if (!vg_evaluate_predictions (&view, predictions, workers, &result, on_progress,
                                     progress, cancellable, &error))
    return fail ("eval", error);
  {
    g_autofree char *summary = NULL;
    if (model != NULL)
      summary = g_strdup_printf ("(waiting for decoding %.0f%% of the time)",
                                 result.seconds > 0
                                   ? 100.0 * result.loader_wait_s / result.seconds : 0.0);
    vg_cli_progress_finish (progress, summary);
  }

  print_eval_table (&result, model != NULL);
  if (json_path != NULL)
    {
      g_autoptr (GString) text = eval_json (&result, &view, model_path, predictions,
                                            model != NULL ? &pre : NULL, flip, model != NULL);
      if (!write_text (json_path, text, &error))
        return fail ("eval", error);
    }
  if (csv_path != NULL)
    {
      g_autoptr (GString) text = eval_csv (&result);
      if (!write_text (csv_path, text, &error))
        return fail ("eval", error);
    }
  return EXIT_OK;
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
  const char *out_dir;
  gboolean overlay;
  double alpha;
  VgImage image;       /* the input again, for overlays */
  uint8_t *blend;      /* (H, W, 3) */
  size_t blend_cap;
  int written;
} PredictOut;

static gboolean
predict_write (int index, const uint8_t *labels, int H, int W, gpointer data, GError **error)
{
  PredictOut *o = data;
  const VgSample *s = &o->split->samples[index];
  g_autofree char *file = g_strconcat (s->name, ".png", NULL);
  g_autofree char *path = g_build_filename (o->out_dir, file, NULL);

  if (!vg_mask_save (path, labels, H, W, error))
    return FALSE;
  if (o->overlay)
    {
      g_autofree char *ofile = g_strconcat (s->name, "-overlay.png", NULL);
      g_autofree char *opath = g_build_filename (o->out_dir, ofile, NULL);

      if (!vg_image_load (&o->image, s->image_path, error))
        return FALSE;
      if ((size_t) H * W * 3 > o->blend_cap)
        {
          g_free (o->blend);
          o->blend_cap = (size_t) H * W * 3;
          o->blend = g_new (uint8_t, o->blend_cap);
        }
      vg_overlay_render (o->blend, o->image.data, labels, H, W, (float) o->alpha);
      if (!vg_image_save_png (opath, o->blend, H, W, error))
        return FALSE;
    }
  o->written++;
  return TRUE;
}

int
vg_cli_predict (int argc, char **argv)
{
  g_autofree char *model_path = NULL, *out_dir = NULL, *device = NULL;
  const VgBackend *be;
  int batch = DEFAULT_BATCH, workers = DEFAULT_WORKERS, status = EXIT_OK;
  gboolean overlay = FALSE, flip = FALSE;
  double alpha = 0.5;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path,
      "Model file (.safetensors); default: the one shipped with Visage",
      "FILE" },
    VG_CLI_DEVICE_OPTION (device),
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, "Folder for the predicted masks", "DIR" },
    { "overlay", 0, 0, G_OPTION_ARG_NONE, &overlay,
      "Also write NAME-overlay.png: the image blended with the class colours", NULL },
    { "alpha", 0, 0, G_OPTION_ARG_DOUBLE, &alpha, "Overlay opacity (default 0.5)", "A" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Images per forward pass (default 4)", "N" },
    { "workers", 'j', 0, G_OPTION_ARG_INT, &workers, "Decoding threads (default 2)", "N" },
    { "flip", 0, 0, G_OPTION_ARG_NONE, &flip,
      "Also run each image mirrored and average the two (test-time flip: twice the time)",
      NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) files = NULL;
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgPredictor) predictor = NULL;
  g_autoptr (VgCliProgress) progress = NULL;
  PredictOut out = { 0 };
  GCancellable *cancellable;
  VgPreprocess pre;
  gboolean ok;

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
  if (!default_model ("predict", &model_path))
    return EXIT_USAGE;
  if (!check_range ("predict", "--batch", batch, 1, 256)
      || !check_range ("predict", "--workers", workers, 1, 256))
    return EXIT_USAGE;
  if (!(alpha >= 0.0 && alpha <= 1.0))
    {
      fprintf (stderr, "visage-cli predict: --alpha must be between 0 and 1\n");
      return EXIT_USAGE;
    }

  cancellable = vg_cli_interrupt_cancellable ();
  files = collect_images (argv + 1, argc - 1, &error);
  if (files == NULL)
    return fail ("predict", error);
  split = vg_split_from_files ((const char *const *) files->pdata, (int) files->len, &error);
  if (split == NULL || !check_unique_names (split, &error))
    return fail ("predict", error);
  model = open_model (model_path, be, &pre, &error);
  if (model == NULL)
    return fail ("predict", error);
  print_model (model_path, model, &pre);
  if (g_mkdir_with_parents (out_dir, 0777) != 0)
    {
      int saved = errno;
      fprintf (stderr, "visage-cli predict: %s: cannot create the folder: %s\n", out_dir,
               g_strerror (saved));
      return EXIT_FAILURE_RUN;
    }
  /* A read-only folder: said now, not at the first mask after the first batch. */
  if (!vg_check_output_dir (out_dir, &error))
    return fail ("predict", error);
  predictor = vg_predictor_new (model, &pre, MIN (batch, split->n_samples), &error);
  if (predictor == NULL || !vg_predictor_set_flip (predictor, flip, &error))
    return fail ("predict", error);

  out.split = split;
  out.out_dir = out_dir;
  out.overlay = overlay;
  out.alpha = alpha;
  progress = vg_cli_progress_new ("predict", split->n_samples, "images");
  ok = vg_predict_split (predictor, split, workers, predict_write, &out, on_progress, progress,
                         cancellable, &error);
  vg_image_clear (&out.image);
  g_free (out.blend);
  if (!ok)
    return fail ("predict", error);
  {
    g_autofree char *summary = g_strdup_printf ("masks written to %s", out_dir);
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
  int batch = DEFAULT_BATCH, workers = DEFAULT_WORKERS, status = EXIT_OK;
  gboolean flip = FALSE, force = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path,
      "Model file (.safetensors); default: the one shipped with Visage",
      "FILE" },
    VG_CLI_DEVICE_OPTION (device),
    { "images", 'i', 0, G_OPTION_ARG_FILENAME, &images,
      "Folder of test images (or a split folder with images/)", "DIR" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &zip_path, "The zip file to write", "FILE.zip" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
      "Replace the zip file if it exists (without --force an existing one is refused)", NULL },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Images per forward pass (default 4)", "N" },
    { "workers", 'j', 0, G_OPTION_ARG_INT, &workers, "Decoding threads (default 2)", "N" },
    { "flip", 0, 0, G_OPTION_ARG_NONE, &flip,
      "Also run each image mirrored and average the two (test-time flip: twice the time)",
      NULL },
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
  if (argc > 1)
    {
      fprintf (stderr, "visage-cli export-submission: unexpected argument '%s'\n", argv[1]);
      return EXIT_USAGE;
    }
  if (images == NULL || zip_path == NULL)
    {
      fprintf (stderr, "visage-cli export-submission: --images DIR and --out FILE.zip are "
                       "required\n");
      return EXIT_USAGE;
    }
  if (!default_model ("export-submission", &model_path))
    return EXIT_USAGE;
  if (!check_range ("export-submission", "--batch", batch, 1, 256)
      || !check_range ("export-submission", "--workers", workers, 1, 256))
    return EXIT_USAGE;
  /* Before any work: a folder or an unwritable place, and a submission already there
   * (a finished export is worth more than a typo in --out). */
  if (!vg_check_output_file (zip_path, &error))
    return fail ("export-submission", error);
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
    return fail ("export-submission", error);
  model = open_model (model_path, be, &pre, &error);
  if (model == NULL)
    return fail ("export-submission", error);
  print_model (model_path, model, &pre);
  predictor = vg_predictor_new (model, &pre, MIN (batch, split->n_samples), &error);
  if (predictor == NULL || !vg_predictor_set_flip (predictor, flip, &error))
    return fail ("export-submission", error);
  progress = vg_cli_progress_new ("export", split->n_samples, "images");
  if (!vg_export_submission (predictor, split, zip_path, workers, on_progress, progress,
                             cancellable, &error))
    return fail ("export-submission", error);
  {
    g_autofree char *summary = g_strdup_printf ("wrote %s (%d grey index PNGs)", zip_path,
                                                split->n_samples);
    vg_cli_progress_finish (progress, summary);
  }
  return EXIT_OK;
}

/* ---- stats ----------------------------------------------------------------------------- */

static GString *
stats_json (const VgSplitStats *s, const VgSplit *split, const float *weights,
            gboolean from_cache, const char *cache_path)
{
  GString *out = g_string_new ("{\n  \"images_dir\": ");

  json_string (out, split->images_dir);
  g_string_append (out, ",\n  \"masks_dir\": ");
  if (split->masks_dir != NULL)
    json_string (out, split->masks_dir);
  else
    g_string_append (out, "null");
  g_string_append_printf (out, ",\n  \"n_images\": %d,\n  \"n_pixels\": %" G_GUINT64_FORMAT,
                          s->n_images, s->n_pixels);
  g_string_append (out, ",\n  \"mean\": [");
  for (int c = 0; c < 3; c++)
    {
      g_string_append (out, c ? ", " : "");
      json_number (out, s->mean[c], TRUE);
    }
  g_string_append (out, "],\n  \"std\": [");
  for (int c = 0; c < 3; c++)
    {
      g_string_append (out, c ? ", " : "");
      json_number (out, s->std[c], TRUE);
    }
  g_string_append_printf (out, "],\n  \"from_cache\": %s,\n  \"cache\": ",
                          from_cache ? "true" : "false");
  json_string (out, cache_path);
  g_string_append (out, ",\n  \"classes\": [");
  for (int c = 0; s->has_masks && c < VG_NUM_CLASSES; c++)
    {
      g_string_append_printf (out, "%s\n    {\"id\": %d, \"name\": ", c ? "," : "", c);
      json_string (out, vg_class_name (c));
      g_string_append_printf (out, ", \"pixels\": %" G_GUINT64_FORMAT ", \"share\": ",
                              s->class_pixels[c]);
      json_number (out, s->n_pixels > 0 ? (double) s->class_pixels[c] / s->n_pixels : 0, TRUE);
      g_string_append_printf (out, ", \"images\": %d, \"weight\": ", s->class_images[c]);
      json_number (out, weights[c], TRUE);
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
  if (!check_range ("stats", "--workers", workers, 0, 256))
    return EXIT_USAGE;

  cancellable = vg_cli_interrupt_cancellable ();
  if (argc == 2)
    split = vg_split_open (argv[1], VG_SPLIT_DEFAULT, workers, cancellable, &error);
  else
    split = vg_split_open_dirs (images, masks, VG_SPLIT_DEFAULT, workers, cancellable, &error);
  if (split == NULL)
    return fail ("stats", error);

  /* The engine reports no progress while it reads the split: the line says what happens
   * and the final one how long it took. */
  progress = vg_cli_progress_new ("stats", split->n_samples, "images");
  vg_cli_progress_update (progress, 0, "reading (or using the cache)");
  if (!vg_split_stats_get (&s, split, workers, &from_cache, cancellable, &error))
    return fail ("stats", error);
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
