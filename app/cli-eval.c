/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli eval: a model scored on a split (engine/vg-predict.h, as the workbench does):
 * the table on stdout, JSON and CSV on request. Errors name the file at fault and exit
 * non-zero; Ctrl-C stops at the next image and exits 130 without partial output files. */
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

/* ---- CSV text (locale-independent numbers) ---------------------------------------------- */

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

void
vg_cli_print_class_table (const VgConfusion *cm, const int *class_images,
                          const int *class_missed)
{
  printf ("%-10s %8s %8s %14s", "class", "IoU", "F1", "truth pixels");
  printf (class_images != NULL ? " %8s %8s\n" : "\n", "images", "missed");
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      double iou = vg_confusion_iou (cm, c), f1 = vg_confusion_f1 (cm, c);
      char iou_s[16] = "-", f1_s[16] = "-";

      if (iou >= 0)
        g_snprintf (iou_s, sizeof iou_s, "%.4f", iou);
      if (f1 >= 0)
        g_snprintf (f1_s, sizeof f1_s, "%.4f", f1);
      printf ("%-10s %8s %8s %14" G_GUINT64_FORMAT, vg_class_name (c), iou_s, f1_s,
              vg_confusion_truth_pixels (cm, c));
      if (class_images != NULL)
        printf (" %8d %8d", class_images[c], class_missed[c]);
      printf ("\n");
    }
  printf ("\n");
  printf ("mIoU            %.4f\n", vg_confusion_miou (cm));
  printf ("mean F1         %.4f\n", vg_confusion_mean_f1 (cm));
  printf ("pixel accuracy  %.4f\n", vg_confusion_accuracy (cm));
}

void
vg_cli_json_scores (GString *out, const VgConfusion *cm)
{
  g_string_append (out, ",\n  \"miou\": ");
  vg_cli_json_number (out, vg_confusion_miou (cm), FALSE);
  g_string_append (out, ",\n  \"mean_f1\": ");
  vg_cli_json_number (out, vg_confusion_mean_f1 (cm), FALSE);
  g_string_append (out, ",\n  \"pixel_accuracy\": ");
  vg_cli_json_number (out, vg_confusion_accuracy (cm), FALSE);
}

void
vg_cli_json_confusion (GString *out, const VgConfusion *cm)
{
  g_string_append (out, "\n  ],\n  \"confusion\": [");
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    {
      g_string_append_printf (out, "%s\n    [", t ? "," : "");
      for (int p = 0; p < VG_NUM_CLASSES; p++)
        g_string_append_printf (out, "%s%" G_GUINT64_FORMAT, p ? ", " : "", cm->counts[t][p]);
      g_string_append_c (out, ']');
    }
  g_string_append (out, "\n  ],\n  \"confusion_axes\": \"[ground truth][prediction]\"");
}

static void
print_eval_table (const VgEvalResult *r, gboolean has_loss)
{
  g_autofree char *definition = miou_definition (r);

  vg_cli_print_class_table (&r->confusion, r->class_images, r->class_missed);
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
    vg_cli_json_string (out, model_path);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\n  \"predictions\": ");
  if (predictions != NULL)
    vg_cli_json_string (out, predictions);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\n  \"images_dir\": ");
  vg_cli_json_string (out, split->images_dir);
  g_string_append (out, ",\n  \"masks_dir\": ");
  vg_cli_json_string (out, split->masks_dir);
  g_string_append (out, ",\n  \"annotations_dir\": ");
  if (split->annotations_dir != NULL)
    vg_cli_json_string (out, split->annotations_dir);
  else
    g_string_append (out, "null");
  g_string_append_printf (out, ",\n  \"n_annotated\": %d", split->n_annotated);
  g_string_append_printf (out, ",\n  \"resolution\": %d", pre != NULL ? pre->resolution : -1);
  g_string_append_printf (out, ",\n  \"flip\": %s", flip ? "true" : "false");
  g_string_append_printf (out, ",\n  \"n_images\": %d", r->n_images);
  g_string_append (out, ",\n  \"miou_definition\": ");
  vg_cli_json_string (out, definition);
  vg_cli_json_scores (out, cm);
  g_string_append (out, ",\n  \"mean_image_miou\": ");
  vg_cli_json_number (out, mean_image_miou (r), FALSE);
  g_string_append (out, ",\n  \"loss\": ");
  if (has_loss)
    vg_cli_json_number (out, r->loss, FALSE);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\n  \"seconds\": ");
  vg_cli_json_number (out, r->seconds, FALSE);
  g_string_append (out, ",\n  \"classes\": [");
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      g_string_append_printf (out, "%s\n    {\"id\": %d, \"name\": ", c ? "," : "", c);
      vg_cli_json_string (out, vg_class_name (c));
      g_string_append (out, ", \"iou\": ");
      vg_cli_json_number (out, vg_confusion_iou (cm, c), FALSE);
      g_string_append (out, ", \"f1\": ");
      vg_cli_json_number (out, vg_confusion_f1 (cm, c), FALSE);
      g_string_append_printf (out, ", \"truth_pixels\": %" G_GUINT64_FORMAT
                              ", \"predicted_pixels\": %" G_GUINT64_FORMAT
                              ", \"images\": %d, \"missed_images\": %d}",
                              vg_confusion_truth_pixels (cm, c), predicted_pixels (cm, c),
                              r->class_images[c], r->class_missed[c]);
    }
  vg_cli_json_confusion (out, cm);
  g_string_append (out, ",\n  \"images\": [");
  for (int i = 0; i < r->n_images; i++)
    {
      g_string_append_printf (out, "%s\n    {\"name\": ", i ? "," : "");
      vg_cli_json_string (out, split->samples[i].name);
      g_string_append (out, ", \"miou\": ");
      vg_cli_json_number (out, r->image_miou[i], FALSE);
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
  VgSplit *split;

  /* Finding bad files to skip needs every file decoded up front; without --skip-bad the
   * first bad file found while evaluating stops the run with its name. */
  if (skip_bad)
    flags |= VG_SPLIT_SKIP_BAD | VG_SPLIT_VERIFY;
  if (data != NULL)
    split = vg_split_open (data, flags, workers, cancellable, error);
  else
    split = vg_split_open_dirs (images, masks, flags, workers, cancellable, error);
  for (guint i = 0; split != NULL && split->skipped != NULL && i < split->skipped->len; i++)
    fprintf (stderr, "visage-cli eval: warning: skipped %s\n",
             (const char *) split->skipped->pdata[i]);
  return split;
}

/* --annotations: corrected masks as the ground truth. */
static gboolean
use_annotations (VgSplit *split, const char *annotations, GError **error)
{
  if (!vg_split_use_annotations (split, annotations, error))
    return FALSE;
  fprintf (stderr, "annotations: %s (%d of %d masks corrected)\n", split->annotations_dir,
           split->n_annotated, split->n_samples);
  return TRUE;
}

/* --weights-from: the report's class weights of a (training) split. */
static gboolean
class_weights_of (const char *dir, int workers, float *weights, GCancellable *cancellable,
                  GError **error)
{
  g_autoptr (VgSplit) train = vg_split_open (dir, VG_SPLIT_REQUIRE_MASKS, workers, cancellable,
                                             error);
  VgSplitStats stats;

  if (train == NULL || !vg_split_stats_get (&stats, train, workers, NULL, cancellable, error))
    return FALSE;
  vg_class_weights (weights, stats.class_pixels, VG_NUM_CLASSES);
  return TRUE;
}

/* What one evaluation works on and with. */
typedef struct {
  VgModel *model;         /* NULL: the predictions in predictions */
  const VgPreprocess *pre;
  const char *predictions;
  const float *weights;   /* the loss's class weights, or NULL */
  int batch, workers;
  gboolean flip;
  const char *label;      /* of the progress line: "eval", or which model of a comparison */
} EvalJob;

/* Evaluate view into result (a shard may hold no image: then an empty result). */
static gboolean
evaluate_view (const EvalJob *job, const VgSplit *view, VgEvalResult *result, GError **error)
{
  g_autoptr (VgCliProgress) progress = NULL;
  g_autoptr (VgPredictor) predictor = NULL;
  g_autofree char *summary = NULL;
  GCancellable *cancellable = vg_cli_interrupt_cancellable ();

  if (view->n_samples == 0)
    {
      vg_eval_result_init (result, 0);
      return TRUE;
    }
  progress = vg_cli_progress_new (job->label, view->n_samples, "images");
  if (job->model != NULL)
    {
      predictor = vg_cli_predictor_new (job->model, job->pre, job->batch, job->flip, error);
      if (predictor == NULL
          || !vg_evaluate (predictor, view, job->weights, job->workers, result,
                           vg_cli_on_progress, progress, cancellable, error))
        return FALSE;
      summary = g_strdup_printf ("(waiting for decoding %.0f%% of the time)",
                                 result->seconds > 0
                                   ? 100.0 * result->loader_wait_s / result->seconds : 0.0);
    }
  else if (!vg_evaluate_predictions (view, job->predictions, job->workers, result,
                                     vg_cli_on_progress, progress, cancellable, error))
    return FALSE;
  vg_cli_progress_finish (progress, summary);
  return TRUE;
}

/* --merge takes only the shards' files (and --json). */
static gboolean
merge_alone (gboolean merge, gboolean others)
{
  if (merge && others)
    {
      fprintf (stderr, "visage-cli eval: --merge FILE... adds up the confusion files of the "
               "shards; it takes no model, data or other output than --json\n");
      return FALSE;
    }
  return TRUE;
}

/* The data as --data DIR or as --images DIR --masks DIR; FALSE after saying so. */
static gboolean
data_given (const char *data, const char *images, const char *masks)
{
  if ((data != NULL) == (images != NULL || masks != NULL)
      || (data == NULL && (images == NULL || masks == NULL)))
    {
      fprintf (stderr, "visage-cli eval: give the data as --data DIR or as --images DIR "
                       "--masks DIR\n");
      return FALSE;
    }
  return TRUE;
}

/* --compare takes a model (--model or the shipped one) and writes its own table and JSON:
 * --predictions, --csv and --confusion describe one model. */
static gboolean
compare_usable (const char *predictions, const char *csv_path, const char *confusion, int top)
{
  if (predictions != NULL || csv_path != NULL || confusion != NULL)
    {
      fprintf (stderr, "visage-cli eval: --compare FILE compares two models' predictions; it "
                       "takes no --predictions, --csv or --confusion (its figures are in the "
                       "table and in --json)\n");
      return FALSE;
    }
  return vg_cli_check_range ("eval", "--top", top, 0, G_MAXINT);
}

/* The model of --compare, with its own preprocessing; the error says which model failed. */
static VgModel *
open_compare_model (const char *path, const VgBackend *be, VgPreprocess *pre, GError **error)
{
  VgModel *model;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "the model to compare with (--compare) does not exist: %s", path);
      return NULL;
    }
  model = vg_cli_open_model (path, be, pre, error);
  if (model == NULL)
    g_prefix_error (error, "the model to compare with (--compare %s) cannot be used: ", path);
  return model;
}

/* Evaluate model B as job evaluated A on the same images (result_a), then print and write
 * the comparison; the exit status. */
static int
eval_compare (const EvalJob *job, VgModel *model_b, const VgSplit *view,
              const VgEvalResult *result_a, const VgCliCompared *models, const char *json_path,
              int top)
{
  g_auto (VgEvalResult) result_b = { 0 };
  g_auto (VgComparison) comparison = { 0 };
  g_autoptr (GError) error = NULL;
  EvalJob job_b = *job;

  job_b.model = model_b;
  job_b.pre = models->pre_b;
  job_b.label = "eval B";
  if (!evaluate_view (&job_b, view, &result_b, &error)
      || !vg_comparison_init (&comparison, result_a, &result_b, &error))
    return vg_cli_fail ("eval", error);
  vg_cli_print_comparison (&comparison, result_a, &result_b, view, models->path_a,
                           models->path_b, top);
  if (json_path != NULL)
    {
      g_autoptr (GString) text = vg_cli_comparison_json (&comparison, result_a, &result_b, view,
                                                         models, top);
      if (!write_text (json_path, text, &error))
        return vg_cli_fail ("eval", error);
    }
  return EXIT_OK;
}

int
vg_cli_eval (int argc, char **argv)
{
  g_autofree char *model_path = NULL, *data = NULL, *images = NULL, *masks = NULL;
  g_autofree char *device = NULL, *precision = NULL;
  const VgBackend *be;
  g_autofree char *json_path = NULL, *csv_path = NULL, *predictions = NULL;
  g_autofree char *weights_from = NULL, *annotations = NULL, *shard = NULL, *confusion = NULL;
  g_autofree char *compare = NULL;
  int batch = VG_CLI_DEFAULT_BATCH, workers = VG_CLI_DEFAULT_WORKERS, max = 0, status = EXIT_OK;
  int top = 10;
  int shard_index, shard_count, first, total;
  gboolean skip_bad = FALSE, flip = FALSE, merge = FALSE;
  GOptionEntry entries[] = {
    VG_CLI_MODEL_OPTION (model_path),
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
    VG_CLI_PREDICT_OPTIONS (batch, workers, flip),
    VG_CLI_PRECISION_OPTION (precision),
    { "skip-bad", 0, 0, G_OPTION_ARG_NONE, &skip_bad,
      "Check every file first and leave out bad samples with a warning", NULL },
    { "max", 0, 0, G_OPTION_ARG_INT, &max, "Evaluate only the first N images", "N" },
    { "weights-from", 0, 0, G_OPTION_ARG_FILENAME, &weights_from,
      "Weight the loss by the report's class weights of this (training) split", "DIR" },
    { "shard", 0, 0, G_OPTION_ARG_STRING, &shard,
      "Evaluate only shard I of N (0 <= I < N): a contiguous block of the images in name "
      "order, for one job of an array job", "I/N" },
    { "confusion", 0, 0, G_OPTION_ARG_FILENAME, &confusion,
      "Write the confusion matrix, image count and loss as a text file for --merge", "FILE" },
    { "compare", 0, 0, G_OPTION_ARG_FILENAME, &compare,
      "Compare the model with this second one (B) on the same images, each with its own "
      "preprocessing: per-class IoU of both and B - A, and the images where they differ most",
      "FILE" },
    { "top", 0, 0, G_OPTION_ARG_INT, &top,
      "With --compare: list this many images each way (default 10)", "N" },
    { "merge", 0, 0, G_OPTION_ARG_NONE, &merge,
      "Add up the confusion files of all the shards (the arguments) into the exact "
      "dataset-level figures", NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgModel) model = NULL, model_b = NULL;
  g_auto (VgEvalResult) result = { 0 };
  float weights[VG_NUM_CLASSES];
  GCancellable *cancellable;
  VgPreprocess pre = { 0 }, pre_b = { 0 };
  VgSplit view;
  EvalJob job;

  if (!vg_cli_parse_options ("eval", "evaluate a model on a split, or merge shards' results "
                             "(--merge FILE...)", entries, &argc, &argv, &status))
    return status;
  if (!merge_alone (merge, model_path != NULL || data != NULL || images != NULL
                             || masks != NULL || predictions != NULL || csv_path != NULL
                             || shard != NULL || confusion != NULL || compare != NULL))
    return EXIT_USAGE;
  if (merge)
    return vg_cli_eval_merge (argv + 1, argc - 1, json_path);
  if ((be = vg_cli_backend ("eval", device)) == NULL || !vg_cli_no_arguments ("eval", argc, argv)
      || !vg_cli_parse_shard ("eval", shard, &shard_index, &shard_count))
    return EXIT_USAGE;
  if (model_path != NULL && predictions != NULL)
    {
      fprintf (stderr, "visage-cli eval: give a model (--model FILE) or predicted masks "
                       "(--predictions DIR), not both\n");
      return EXIT_USAGE;
    }
  if (compare != NULL && !compare_usable (predictions, csv_path, confusion, top))
    return EXIT_USAGE;
  if (predictions == NULL && !vg_cli_default_model ("eval", &model_path))
    return EXIT_USAGE;
  if (!data_given (data, images, masks))
    return EXIT_USAGE;
  if (!vg_cli_check_batch_workers ("eval", batch, workers)
      || !vg_cli_check_range ("eval", "--max", max, 0, G_MAXINT)
      || !vg_cli_set_precision ("eval", precision))
    return EXIT_USAGE;
  /* A folder given as the file, or a read-only one: said now, not after the evaluation. */
  if ((json_path != NULL && !vg_check_output_file (json_path, &error))
      || (csv_path != NULL && !vg_check_output_file (csv_path, &error))
      || (confusion != NULL && !vg_check_output_file (confusion, &error)))
    return vg_cli_fail ("eval", error);

  cancellable = vg_cli_interrupt_cancellable ();
  if (model_path != NULL)
    {
      if ((model = vg_cli_open_model (model_path, be, &pre, &error)) == NULL)
        return vg_cli_fail ("eval", error);
    }
  if (compare != NULL && (model_b = open_compare_model (compare, be, &pre_b, &error)) == NULL)
    return vg_cli_fail ("eval", error);
  split = open_eval_split (data, images, masks, skip_bad, workers, cancellable, &error);
  if (split == NULL || (annotations != NULL && !use_annotations (split, annotations, &error))
      || (weights_from != NULL
          && !class_weights_of (weights_from, workers, weights, cancellable, &error)))
    return vg_cli_fail ("eval", error);

  /* --max, then --shard: a view of those images (the samples stay owned by split). */
  view = *split;
  if (max > 0)
    view.n_samples = MIN (max, split->n_samples);
  total = view.n_samples;
  vg_shard_range (total, shard_index, shard_count, &first, &view.n_samples);
  view.samples += first;
  if (shard != NULL)
    fprintf (stderr, "data: %s (shard %d/%d: %d of its %d images)\n", split->images_dir,
             shard_index, shard_count, view.n_samples, total);
  else
    fprintf (stderr, "data: %s (%d images)\n", split->images_dir, view.n_samples);

  job = (EvalJob) { model, &pre, predictions, weights_from != NULL ? weights : NULL, batch,
                    workers, flip, compare != NULL ? "eval A" : "eval" };
  if (!evaluate_view (&job, &view, &result, &error))
    return vg_cli_fail ("eval", error);
  if (compare != NULL)
    return eval_compare (&job, model_b, &view, &result,
                         &(VgCliCompared) { model_path, compare, &pre, &pre_b, flip }, json_path,
                         top);
  print_eval_table (&result, model != NULL);
  if (json_path != NULL)
    {
      g_autoptr (GString) text = eval_json (&result, &view, model_path, predictions,
                                            model != NULL ? &pre : NULL, flip, model != NULL);
      if (!write_text (json_path, text, &error))
        return vg_cli_fail ("eval", error);
    }
  if (csv_path != NULL)
    {
      g_autoptr (GString) text = eval_csv (&result);
      if (!write_text (csv_path, text, &error))
        return vg_cli_fail ("eval", error);
    }
  if (confusion != NULL
      && !vg_cli_write_confusion (confusion, &result, shard_index, shard_count, model != NULL,
                                  &error))
    return vg_cli_fail ("eval", error);
  return EXIT_OK;
}
