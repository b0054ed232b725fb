/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Batch parsing at scale: --shard I/N of eval and predict (one job of an array job takes a
 * contiguous block of the image list, vg_split_shard), the confusion file that eval
 * --confusion writes for its shard, and eval --merge, which sums the shards' confusion
 * matrices into the exact dataset-level figures.
 *
 * The confusion file is text, one record per line, so that any tool reads it:
 *
 *   visage-confusion 1
 *   shard 3 16                      (index, count)
 *   images 1250
 *   loss 0.21345678901234567 523456789.5   (mean loss and its weight total; "loss none"
 *                                           for predictions without a model)
 *   19 lines of 19 integers: pixels [ground truth][prediction] */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "visage-cli-private.h"
#include "vg-atomic-file.h"
#include "vg-classes.h"
#include "vg-metrics.h"

#define CONFUSION_MAGIC "visage-confusion 1"
#define CONFUSION_MAX_BYTES (64 * 1024)

gboolean
vg_cli_parse_shard (const char *command, const char *text, int *index, int *count)
{
  guint64 i = 0, n = 0;
  const char *slash;
  g_autofree char *head = NULL;

  *index = 0;
  *count = 1;
  if (text == NULL)
    return TRUE;
  slash = strchr (text, '/');
  head = slash != NULL ? g_strndup (text, slash - text) : NULL;
  if (slash == NULL || !g_ascii_string_to_unsigned (head, 10, 0, G_MAXINT - 1, &i, NULL)
      || !g_ascii_string_to_unsigned (slash + 1, 10, 1, G_MAXINT, &n, NULL) || i >= n)
    {
      fprintf (stderr, "visage-cli %s: --shard takes I/N with 0 <= I < N (e.g. 0/16 for the "
               "first of 16 shards), not “%s”\n", command, text);
      return FALSE;
    }
  *index = (int) i;
  *count = (int) n;
  return TRUE;
}

gboolean
vg_cli_write_confusion (const char *path, const VgEvalResult *r, int index, int count,
                        gboolean has_loss, GError **error)
{
  g_autoptr (GString) text = g_string_new (CONFUSION_MAGIC "\n");
  char loss[G_ASCII_DTOSTR_BUF_SIZE], weight[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (text, "shard %d %d\nimages %d\n", index, count, r->n_images);
  if (has_loss)
    g_string_append_printf (text, "loss %s %s\n", g_ascii_dtostr (loss, sizeof loss, r->loss),
                            g_ascii_dtostr (weight, sizeof weight, r->loss_weight));
  else
    g_string_append (text, "loss none\n");
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int p = 0; p < VG_NUM_CLASSES; p++)
      g_string_append_printf (text, "%" G_GUINT64_FORMAT "%c", r->confusion.counts[t][p],
                              p + 1 < VG_NUM_CLASSES ? ' ' : '\n');
  return vg_atomic_file_set_contents (path, text->str, text->len, error);
}

/* ---- eval --merge --------------------------------------------------------------------- */

typedef struct {
  int index, count, images;
  gboolean has_loss;
  double loss, loss_weight;
  VgConfusion confusion;
} Shard;

static gboolean
bad_file (GError **error, const char *path, int line, const char *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "%s, line %d: %s (not a confusion file of visage-cli eval --confusion)", path,
               line, what);
  return FALSE;
}

/* Whole words of line as unsigned integers: exactly n of them. */
static gboolean
parse_counts (const char *line, guint64 *values, int n)
{
  g_auto (GStrv) words = g_strsplit (line, " ", -1);

  if ((int) g_strv_length (words) != n)
    return FALSE;
  for (int i = 0; i < n; i++)
    if (!g_ascii_string_to_unsigned (words[i], 10, 0, G_MAXUINT64, &values[i], NULL))
      return FALSE;
  return TRUE;
}

static gboolean
parse_loss (Shard *s, const char *line)
{
  g_auto (GStrv) words = g_strsplit (line, " ", -1);
  char *end;

  if (g_strcmp0 (line, "loss none") == 0)
    return TRUE;
  if (g_strv_length (words) != 3 || strcmp (words[0], "loss") != 0)
    return FALSE;
  s->loss = g_ascii_strtod (words[1], &end);
  if (*end != '\0' || !isfinite (s->loss) || s->loss < 0)
    return FALSE;
  s->loss_weight = g_ascii_strtod (words[2], &end);
  s->has_loss = TRUE;
  return *end == '\0' && isfinite (s->loss_weight) && s->loss_weight >= 0;
}

static gboolean
read_shard (Shard *s, const char *path, GError **error)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  guint64 head[3], row[VG_NUM_CLASSES];
  gsize length;

  if (!g_file_get_contents (path, &text, &length, error))
    return FALSE;
  if (length > CONFUSION_MAX_BYTES || memchr (text, '\0', length) != NULL)
    return bad_file (error, path, 1, "too large, or binary");
  lines = g_strsplit (text, "\n", -1);
  /* the 4 head lines, 19 rows, and the empty string after the last newline */
  if (g_strv_length (lines) != 4 + VG_NUM_CLASSES + 1 || lines[4 + VG_NUM_CLASSES][0] != '\0')
    return bad_file (error, path, 1, "not 4 + 19 lines");
  if (strcmp (lines[0], CONFUSION_MAGIC) != 0)
    return bad_file (error, path, 1, "no “" CONFUSION_MAGIC "” header");
  if (!g_str_has_prefix (lines[1], "shard ") || !parse_counts (lines[1] + 6, head, 2)
      || head[1] < 1 || head[1] > G_MAXINT || head[0] >= head[1])
    return bad_file (error, path, 2, "expected “shard I N” with 0 <= I < N");
  if (!g_str_has_prefix (lines[2], "images ") || !parse_counts (lines[2] + 7, head + 2, 1)
      || head[2] > G_MAXINT)
    return bad_file (error, path, 3, "expected “images N”");
  s->index = (int) head[0];
  s->count = (int) head[1];
  s->images = (int) head[2];
  if (!parse_loss (s, lines[3]))
    return bad_file (error, path, 4, "expected “loss MEAN WEIGHT” or “loss none”");
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    {
      if (!parse_counts (lines[4 + t], row, VG_NUM_CLASSES))
        return bad_file (error, path, 5 + t, "expected 19 pixel counts");
      for (int p = 0; p < VG_NUM_CLASSES; p++)
        s->confusion.counts[t][p] = row[p];
    }
  return TRUE;
}

/* Every shard 0 .. N-1 exactly once, all of the same N and all with a loss or none. */
static gboolean
check_shards (const Shard *shards, char **paths, int n, GError **error)
{
  int count = shards[0].count;
  g_autofree int *seen = g_new0 (int, n);

  for (int i = 0; i < n; i++)
    {
      if (shards[i].count != count || shards[i].has_loss != shards[0].has_loss)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "%s is shard %d of %d%s, %s of %d%s: they are not of one evaluation",
                       paths[i], shards[i].index, shards[i].count,
                       shards[i].has_loss ? "" : " (no loss)", paths[0], count,
                       shards[0].has_loss ? "" : " (no loss)");
          return FALSE;
        }
      if (n == count && seen[shards[i].index]++ > 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "shard %d of %d is given twice (%s)", shards[i].index, count,
                       paths[i]);
          return FALSE;
        }
    }
  if (n != count)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%d files for the %d shards of the evaluation: the dataset-level figures "
                   "need every shard once", n, count);
      return FALSE;
    }
  return TRUE;
}

static GString *
merged_json (const VgConfusion *cm, int images, int shards, gboolean has_loss, double loss)
{
  GString *out = g_string_new ("{\n  \"shards\": ");

  g_string_append_printf (out, "%d,\n  \"n_images\": %d", shards, images);
  vg_cli_json_scores (out, cm);
  g_string_append (out, ",\n  \"loss\": ");
  if (has_loss)
    vg_cli_json_number (out, loss, FALSE);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\n  \"classes\": [");
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      g_string_append_printf (out, "%s\n    { \"name\": ", c > 0 ? "," : "");
      vg_cli_json_string (out, vg_class_name (c));
      g_string_append (out, ", \"iou\": ");
      vg_cli_json_number (out, vg_confusion_iou (cm, c), FALSE);
      g_string_append (out, ", \"f1\": ");
      vg_cli_json_number (out, vg_confusion_f1 (cm, c), FALSE);
      g_string_append (out, " }");
    }
  vg_cli_json_confusion (out, cm);
  g_string_append (out, "\n}\n");
  return out;
}

static void
print_merged (const VgConfusion *cm, int images, int shards, gboolean has_loss, double loss)
{
  vg_cli_print_class_table (cm, NULL, NULL);
  if (has_loss)
    printf ("loss            %.4f (mean cross-entropy at the model resolution)\n", loss);
  printf ("dataset-level mIoU: intersections and unions summed over all %d images of the %d "
          "shards (their confusion matrices added), as one evaluation of them all gives\n",
          images, shards);
}

int
vg_cli_eval_merge (char **paths, int n, const char *json_path)
{
  g_autofree Shard *shards = g_new0 (Shard, MAX (n, 1));
  g_autoptr (GError) error = NULL;
  VgConfusion total;
  double loss_sum = 0.0, weight = 0.0;
  int images = 0;

  if (n < 1)
    {
      fprintf (stderr, "visage-cli eval: --merge takes the confusion files of the shards "
               "(written by eval --shard I/N --confusion FILE)\n");
      return EXIT_USAGE;
    }
  if (json_path != NULL && !vg_check_output_file (json_path, &error))
    return vg_cli_fail ("eval", error);
  vg_confusion_reset (&total);
  for (int i = 0; i < n; i++)
    if (!read_shard (&shards[i], paths[i], &error))
      return vg_cli_fail ("eval", error);
  if (!check_shards (shards, paths, n, &error))
    return vg_cli_fail ("eval", error);
  for (int i = 0; i < n; i++)
    {
      vg_confusion_merge (&total, &shards[i].confusion);
      images += shards[i].images;
      loss_sum += shards[i].loss * shards[i].loss_weight;
      weight += shards[i].loss_weight;
    }
  print_merged (&total, images, n, shards[0].has_loss, weight > 0 ? loss_sum / weight : 0.0);
  if (json_path != NULL)
    {
      g_autoptr (GString) text = merged_json (&total, images, n, shards[0].has_loss,
                                              weight > 0 ? loss_sum / weight : 0.0);
      if (!vg_atomic_file_set_contents (json_path, text->str, text->len, &error))
        return vg_cli_fail ("eval", error);
    }
  return EXIT_OK;
}
