/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli eval --compare B: the comparison of two models' evaluations of the same
 * images (engine/vg-compare.h), as a table on stdout and as JSON. Differences are B - A;
 * on the table in IoU points (100 x the difference of two IoUs). cli-eval.c evaluates. */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <math.h>
#include <stdio.h>

#include "visage-cli-private.h"
#include "vg-classes.h"

/* "0.8123", or "-" for no value. */
static void
format_iou (char *buf, size_t size, double v)
{
  if (v >= 0)
    g_snprintf (buf, size, "%.4f", v);
  else
    g_strlcpy (buf, "-", size);
}

/* A difference in points: "+1.23", "-0.40", "0.00", or "-" for none. */
static void
format_points (char *buf, size_t size, double delta)
{
  if (isnan (delta))
    g_strlcpy (buf, "-", size);
  else if (fabs (delta) < 0.00005)
    g_strlcpy (buf, "0.00", size);
  else
    g_snprintf (buf, size, "%+.2f", 100.0 * delta);
}

static void
print_row (const char *name, double a, double b, double delta)
{
  char as[16], bs[16], ds[16];

  format_iou (as, sizeof as, a);
  format_iou (bs, sizeof bs, b);
  format_points (ds, sizeof ds, delta);
  printf ("%-15s %8s %8s %8s\n", name, as, bs, ds);
}

/* The top images one way: from the head of the order (B better) or from its tail. */
static void
print_images (const VgComparison *c, const VgEvalResult *a, const VgEvalResult *b,
              const VgSplit *split, int top, gboolean b_better)
{
  int shown = 0;

  printf ("\nimages where %s does better (per-image mIoU of A and B, B - A in points):\n",
          b_better ? "B" : "A");
  for (int k = 0; k < c->n_images && shown < top; k++)
    {
      int i = c->order[b_better ? k : c->n_images - 1 - k];
      double d = c->image_delta[i];
      char ds[16];

      if (b_better ? d <= 0 : d >= 0)
        break;
      format_points (ds, sizeof ds, d);
      printf ("  %-20s %8.4f %8.4f %8s\n", split->samples[i].name, a->image_miou[i],
              b->image_miou[i], ds);
      shown++;
    }
  if (shown == 0)
    printf ("  (none)\n");
}

void
vg_cli_print_comparison (const VgComparison *c, const VgEvalResult *a, const VgEvalResult *b,
                         const VgSplit *split, const char *path_a, const char *path_b, int top)
{
  printf ("A: %s\nB: %s\n\n", path_a, path_b);
  printf ("%-15s %8s %8s %8s\n", "class", "IoU A", "IoU B", "B - A");
  for (int k = 0; k < VG_NUM_CLASSES; k++)
    print_row (vg_class_name (k), c->iou_a[k], c->iou_b[k], c->iou_delta[k]);
  printf ("\n");
  print_row ("mIoU", c->miou_a, c->miou_b, c->miou_delta);
  print_row ("pixel accuracy", c->accuracy_a, c->accuracy_b, c->accuracy_delta);
  printf ("(B - A in points: 100 x the difference; mIoU is dataset-level over the %d images; "
          "the confusion matrices differ in %s)\n", c->n_images,
          vg_comparison_confusion_is_zero (c) ? "no cell" : "some cells (see --json)");
  if (top > 0)
    {
      print_images (c, a, b, split, top, TRUE);
      print_images (c, a, b, split, top, FALSE);
    }
}

/* One model's member: "key": {"path": ..., "resolution": N} */
static void
json_model (GString *out, const char *key, const char *path, const VgPreprocess *pre)
{
  g_string_append_printf (out, "\n  \"%s\": {\"path\": ", key);
  vg_cli_json_string (out, path);
  g_string_append_printf (out, ", \"resolution\": %d}", pre->resolution);
}

/* "key": [names...] of the top images one way. */
static void
json_top (GString *out, const char *key, const VgComparison *c, const VgSplit *split,
          int top, gboolean b_better)
{
  int shown = 0;

  g_string_append_printf (out, ",\n  \"%s\": [", key);
  for (int k = 0; k < c->n_images && shown < top; k++)
    {
      int i = c->order[b_better ? k : c->n_images - 1 - k];

      if (b_better ? c->image_delta[i] <= 0 : c->image_delta[i] >= 0)
        break;
      g_string_append (out, shown ? ", " : "");
      vg_cli_json_string (out, split->samples[i].name);
      shown++;
    }
  g_string_append_c (out, ']');
}

static void
json_triple (GString *out, const char *key, double a, double b, double delta)
{
  g_string_append_printf (out, "\"%s_a\": ", key);
  vg_cli_json_number (out, a, FALSE);
  g_string_append_printf (out, ", \"%s_b\": ", key);
  vg_cli_json_number (out, b, FALSE);
  g_string_append_printf (out, ", \"%s_delta\": ", key);
  vg_cli_json_number (out, delta, TRUE);
}

GString *
vg_cli_comparison_json (const VgComparison *c, const VgEvalResult *a, const VgEvalResult *b,
                        const VgSplit *split, const VgCliCompared *models, int top)
{
  GString *out = g_string_new ("{");

  json_model (out, "model_a", models->path_a, models->pre_a);
  g_string_append_c (out, ',');
  json_model (out, "model_b", models->path_b, models->pre_b);
  g_string_append (out, ",\n  \"images_dir\": ");
  vg_cli_json_string (out, split->images_dir);
  g_string_append (out, ",\n  \"masks_dir\": ");
  vg_cli_json_string (out, split->masks_dir);
  g_string_append_printf (out, ",\n  \"flip\": %s", models->flip ? "true" : "false");
  g_string_append_printf (out, ",\n  \"n_images\": %d,\n  ", c->n_images);
  json_triple (out, "miou", c->miou_a, c->miou_b, c->miou_delta);
  g_string_append (out, ",\n  ");
  json_triple (out, "pixel_accuracy", c->accuracy_a, c->accuracy_b, c->accuracy_delta);
  g_string_append (out, ",\n  \"delta\": \"B - A\",\n  \"classes\": [");
  for (int k = 0; k < VG_NUM_CLASSES; k++)
    {
      g_string_append_printf (out, "%s\n    {\"id\": %d, \"name\": ", k ? "," : "", k);
      vg_cli_json_string (out, vg_class_name (k));
      g_string_append (out, ", ");
      json_triple (out, "iou", c->iou_a[k], c->iou_b[k], c->iou_delta[k]);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "\n  ],\n  \"confusion_delta\": [");
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    {
      g_string_append_printf (out, "%s\n    [", t ? "," : "");
      for (int p = 0; p < VG_NUM_CLASSES; p++)
        g_string_append_printf (out, "%s%" G_GINT64_FORMAT, p ? ", " : "",
                                (gint64) c->confusion_delta[t][p]);
      g_string_append_c (out, ']');
    }
  g_string_append (out, "\n  ],\n  \"confusion_axes\": \"[ground truth][prediction]\"");
  json_top (out, "b_better", c, split, top, TRUE);
  json_top (out, "a_better", c, split, top, FALSE);
  /* every image, B's largest gain first */
  g_string_append (out, ",\n  \"images\": [");
  for (int k = 0; k < c->n_images; k++)
    {
      int i = c->order[k];

      g_string_append_printf (out, "%s\n    {\"name\": ", k ? "," : "");
      vg_cli_json_string (out, split->samples[i].name);
      g_string_append (out, ", ");
      json_triple (out, "miou", a->image_miou[i], b->image_miou[i], c->image_delta[i]);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "\n  ]\n}\n");
  return out;
}
