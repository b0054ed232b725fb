/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli predict | export-submission: masks (and overlays) of any images, and the
 * course's submission zip. Errors name the file at fault and exit non-zero; Ctrl-C stops at
 * the next image and exits 130 without partial output files. */
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

/* What predict writes for each image NAME (--format, several at once). */
typedef enum {
  FORMAT_PALETTE = 1 << 0,  /* NAME.png: the data set's 8-bit palette PNG */
  FORMAT_INDEX = 1 << 1,    /* NAME-index.png: 8-bit grey, value = class id (0-18) */
  FORMAT_CLASSES = 1 << 2,  /* NAME/CLASS.png: one binary mask (0/255) per class present */
  FORMAT_OVERLAY = 1 << 3,  /* NAME-overlay.png: the image blended with the class colours */
} PredictFormat;

static const char *const format_names[] = { "palette", "index", "classes", "overlay" };

/* "palette,index" to a set of formats; FALSE (with a message) for an unknown name. */
static gboolean
parse_formats (const char *text, guint *formats)
{
  g_auto (GStrv) names = g_strsplit (text, ",", -1);

  *formats = 0;
  for (int i = 0; names[i] != NULL; i++)
    {
      const char *name = g_strstrip (names[i]);
      gsize f;

      for (f = 0; f < G_N_ELEMENTS (format_names); f++)
        if (strcmp (name, format_names[f]) == 0)
          break;
      if (f == G_N_ELEMENTS (format_names))
        {
          fprintf (stderr, "visage-cli predict: unknown format “%s” (choose among palette, "
                   "index, classes, overlay)\n", name);
          return FALSE;
        }
      *formats |= 1u << f;
    }
  if (*formats == 0)
    {
      fprintf (stderr, "visage-cli predict: --format names no format\n");
      return FALSE;
    }
  return TRUE;
}

/* "hair,skin" (names or ids) to a set of classes; FALSE (with a message) if one is unknown. */
static gboolean
parse_classes (const char *text, guint32 *classes)
{
  g_auto (GStrv) names = g_strsplit (text, ",", -1);

  *classes = 0;
  for (int i = 0; names[i] != NULL; i++)
    {
      const char *name = g_strstrip (names[i]);
      int c = vg_class_from_name (name);
      char *end = NULL;
      gint64 id = g_ascii_strtoll (name, &end, 10);

      if (c < 0 && end != name && *end == '\0' && id >= 0 && id < VG_NUM_CLASSES)
        c = (int) id;
      if (c < 0)
        {
          fprintf (stderr, "visage-cli predict: unknown class “%s” (see visage-cli "
                   "classes)\n", name);
          return FALSE;
        }
      *classes |= 1u << c;
    }
  if (*classes == 0)
    {
      fprintf (stderr, "visage-cli predict: --classes names no class\n");
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  const VgSplit *split;
  const char *out_dir;
  guint formats;       /* PredictFormat bits */
  guint32 classes;     /* the classes kept; the others are written as background (0) */
  double alpha;
  VgImage image;       /* the input again, for overlays */
  uint8_t *buffer;     /* (H, W, 3): the blend, or a filtered or binary mask */
  size_t buffer_cap;
  int written;
} PredictOut;

static uint8_t *
out_buffer (PredictOut *o, size_t n)
{
  if (n > o->buffer_cap)
    {
      g_free (o->buffer);
      o->buffer_cap = n;
      o->buffer = g_new (uint8_t, n);
    }
  return o->buffer;
}

/* NAME/CLASS.png for each kept class the image holds: 255 where it is, 0 elsewhere. */
static gboolean
write_class_masks (PredictOut *o, const VgSample *s, const uint8_t *labels, int H, int W,
                   GError **error)
{
  const size_t n = (size_t) H * W;
  g_autofree char *dir = g_build_filename (o->out_dir, s->name, NULL);
  guint32 present = 0;
  uint8_t *mask = out_buffer (o, n);

  for (size_t i = 0; i < n; i++)
    present |= 1u << labels[i];
  present &= o->classes;
  if (g_mkdir_with_parents (dir, 0777) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: cannot create the folder: %s", dir, g_strerror (saved));
      return FALSE;
    }
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    if (present & (1u << c))
      {
        g_autofree char *file = g_strconcat (vg_class_name (c), ".png", NULL);
        g_autofree char *path = g_build_filename (dir, file, NULL);

        for (size_t i = 0; i < n; i++)
          mask[i] = labels[i] == c ? 255 : 0;
        if (!vg_mask_save_grey (path, mask, H, W, error))
          return FALSE;
      }
  return TRUE;
}

static gboolean
write_overlay (PredictOut *o, const VgSample *s, const uint8_t *labels, int H, int W,
               GError **error)
{
  g_autofree char *file = g_strconcat (s->name, "-overlay.png", NULL);
  g_autofree char *path = g_build_filename (o->out_dir, file, NULL);
  uint8_t *blend;

  if (!vg_image_load (&o->image, s->image_path, error))
    return FALSE;
  blend = out_buffer (o, (size_t) H * W * 3);
  vg_overlay_render (blend, o->image.data, labels, H, W, (float) o->alpha);
  return vg_image_save_png (path, blend, H, W, error);
}

static gboolean
predict_write (int index, const uint8_t *labels, int H, int W, gpointer data, GError **error)
{
  PredictOut *o = data;
  const VgSample *s = &o->split->samples[index];
  const size_t n = (size_t) H * W;
  g_autofree uint8_t *kept = NULL;

  if (o->classes != (1u << VG_NUM_CLASSES) - 1)
    {
      kept = g_new (uint8_t, n);
      for (size_t i = 0; i < n; i++)
        kept[i] = (o->classes >> labels[i]) & 1 ? labels[i] : 0;
      labels = kept;
    }
  if (o->formats & FORMAT_PALETTE)
    {
      g_autofree char *file = g_strconcat (s->name, ".png", NULL);
      g_autofree char *path = g_build_filename (o->out_dir, file, NULL);

      if (!vg_mask_save (path, labels, H, W, error))
        return FALSE;
    }
  if (o->formats & FORMAT_INDEX)
    {
      g_autofree char *file = g_strconcat (s->name, "-index.png", NULL);
      g_autofree char *path = g_build_filename (o->out_dir, file, NULL);

      if (!vg_mask_save_grey (path, labels, H, W, error))
        return FALSE;
    }
  if (((o->formats & FORMAT_CLASSES) && !write_class_masks (o, s, labels, H, W, error))
      || ((o->formats & FORMAT_OVERLAY) && !write_overlay (o, s, labels, H, W, error)))
    return FALSE;
  o->written++;
  return TRUE;
}

int
vg_cli_predict (int argc, char **argv)
{
  g_autofree char *model_path = NULL, *out_dir = NULL, *device = NULL;
  const VgBackend *be;
  int batch = VG_CLI_DEFAULT_BATCH, workers = VG_CLI_DEFAULT_WORKERS, status = EXIT_OK;
  gboolean overlay = FALSE, flip = FALSE, legend = FALSE;
  g_autofree char *format = NULL, *classes = NULL;
  double alpha = 0.5;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path,
      "Model file (.safetensors); default: the one shipped with Visage",
      "FILE" },
    VG_CLI_DEVICE_OPTION (device),
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, "Folder for the predicted masks", "DIR" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format,
      "What to write, several separated by commas: palette (NAME.png, the data set's colours; "
      "the default), index (NAME-index.png, grey, value = class id), classes (NAME/CLASS.png, "
      "one 0/255 mask per class present), overlay (NAME-overlay.png)", "LIST" },
    { "classes", 0, 0, G_OPTION_ARG_STRING, &classes,
      "Keep only these classes (names or ids, e.g. hair,skin): the others are written as "
      "background", "LIST" },
    { "legend", 0, 0, G_OPTION_ARG_NONE, &legend,
      "Also write classes.json (id, name, colour, left/right partner) beside the masks",
      NULL },
    { "overlay", 0, 0, G_OPTION_ARG_NONE, &overlay,
      "Also write NAME-overlay.png (as --format palette,overlay)", NULL },
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
  if (!vg_cli_default_model ("predict", &model_path))
    return EXIT_USAGE;
  if (!vg_cli_check_range ("predict", "--batch", batch, 1, 256)
      || !vg_cli_check_range ("predict", "--workers", workers, 1, 256))
    return EXIT_USAGE;
  if (!(alpha >= 0.0 && alpha <= 1.0))
    {
      fprintf (stderr, "visage-cli predict: --alpha must be between 0 and 1\n");
      return EXIT_USAGE;
    }
  out.formats = FORMAT_PALETTE;
  out.classes = (1u << VG_NUM_CLASSES) - 1;
  if ((format != NULL && !parse_formats (format, &out.formats))
      || (classes != NULL && !parse_classes (classes, &out.classes)))
    return EXIT_USAGE;
  if (overlay)
    out.formats |= FORMAT_OVERLAY;

  cancellable = vg_cli_interrupt_cancellable ();
  files = collect_images (argv + 1, argc - 1, &error);
  if (files == NULL)
    return vg_cli_fail ("predict", error);
  split = vg_split_from_files ((const char *const *) files->pdata, (int) files->len, &error);
  if (split == NULL || !check_unique_names (split, &error))
    return vg_cli_fail ("predict", error);
  model = vg_model_open (model_path, be, &pre, &error);
  if (model == NULL)
    return vg_cli_fail ("predict", error);
  vg_cli_print_model (model_path, model, &pre);
  if (g_mkdir_with_parents (out_dir, 0777) != 0)
    {
      int saved = errno;
      fprintf (stderr, "visage-cli predict: %s: cannot create the folder: %s\n", out_dir,
               g_strerror (saved));
      return EXIT_FAILURE_RUN;
    }
  /* A read-only folder: said now, not at the first mask after the first batch. */
  if (!vg_check_output_dir (out_dir, &error))
    return vg_cli_fail ("predict", error);
  predictor = vg_predictor_new (model, &pre, MIN (batch, split->n_samples), &error);
  if (predictor == NULL || !vg_predictor_set_flip (predictor, flip, &error))
    return vg_cli_fail ("predict", error);

  if (legend)
    {
      g_autoptr (GString) json = vg_cli_classes_json ();
      g_autofree char *path = g_build_filename (out_dir, "classes.json", NULL);

      if (!vg_atomic_file_set_contents (path, json->str, json->len, &error))
        return vg_cli_fail ("predict", error);
    }
  out.split = split;
  out.out_dir = out_dir;
  out.alpha = alpha;
  progress = vg_cli_progress_new ("predict", split->n_samples, "images");
  ok = vg_predict_split (predictor, split, workers, predict_write, &out, vg_cli_on_progress,
                         progress, cancellable, &error);
  vg_image_clear (&out.image);
  g_free (out.buffer);
  if (!ok)
    return vg_cli_fail ("predict", error);
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
  int batch = VG_CLI_DEFAULT_BATCH, workers = VG_CLI_DEFAULT_WORKERS, status = EXIT_OK;
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
  if (!vg_cli_default_model ("export-submission", &model_path))
    return EXIT_USAGE;
  if (!vg_cli_check_range ("export-submission", "--batch", batch, 1, 256)
      || !vg_cli_check_range ("export-submission", "--workers", workers, 1, 256))
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
  model = vg_model_open (model_path, be, &pre, &error);
  if (model == NULL)
    return vg_cli_fail ("export-submission", error);
  vg_cli_print_model (model_path, model, &pre);
  predictor = vg_predictor_new (model, &pre, MIN (batch, split->n_samples), &error);
  if (predictor == NULL || !vg_predictor_set_flip (predictor, flip, &error))
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
