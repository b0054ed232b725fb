/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli eval --compare B: its figures are those of the two models' own evaluations
 * (visage-cli eval of each), the confusion difference is B's matrix minus A's, a model
 * compared with itself differs nowhere, and a missing or bad second model is refused with
 * a message that names it.
 *
 * The two models differ in architecture (a small SegFormer and a Fast-SCNN), seed and
 * input resolution (64 and 96): each is evaluated with its own preprocessing. Freshly
 * initialised: predictions arbitrary but deterministic. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli-model.h"
#include "cli-run.h"
#include "engine/data/data-test-util.h"
#include "test-common.h"
#include "test-fixtures.h"
#include "vg-classes.h"
#include "test-register.h"

/* The text of member key's value in the JSON text after anchor (both must occur). */
static char *
value_after (const char *text, const char *anchor, const char *key)
{
  g_autofree char *quoted = g_strdup_printf ("\"%s\": ", key);
  const char *at = strstr (text, anchor);

  g_assert_nonnull (at);
  at = strstr (at, quoted);
  g_assert_nonnull (at);
  at += strlen (quoted);
  return g_strndup (at, strcspn (at, ",}\n"));
}

static char *
read_text (const char *path)
{
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

/* The 19 x 19 matrix of member key ("confusion", "confusion_delta"). */
static void
read_matrix (const char *path, const char *key, gint64 m[VG_NUM_CLASSES][VG_NUM_CLASSES])
{
  g_autofree char *text = vg_test_json_value (path, key);
  const char *p = text;

  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int c = 0; c < VG_NUM_CLASSES; c++)
      {
        char *end;

        p += strcspn (p, "-0123456789");
        m[t][c] = g_ascii_strtoll (p, &end, 10);
        g_assert_true (end > p);
        p = end;
      }
}

typedef struct {
  char *tmp, *data, *model_a, *model_b;
  GStrv names;
} Fixture;

static gboolean
fixture_set_up (Fixture *f, int n_images)
{
  f->names = val_names (n_images);
  if (f->names == NULL)
    return FALSE;
  f->tmp = tmp_dir_new ();
  f->data = vg_test_link_val_split (f->tmp, "data", f->names);
  f->model_a = write_model (f->tmp, 64);
  f->model_b = vg_test_write_model_of (f->tmp, "b.safetensors", "fastscnn", NULL, 7, 96);
  return TRUE;
}

static void
fixture_clear (Fixture *f)
{
  if (f->tmp != NULL)
    vg_test_rm_rf (f->tmp);
  g_free (f->tmp);
  g_free (f->data);
  g_free (f->model_a);
  g_free (f->model_b);
  g_strfreev (f->names);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fixture, fixture_clear)

static char *
eval_json (const Fixture *f, const char *model, const char *name)
{
  g_autofree char *json = g_build_filename (f->tmp, name, NULL);
  g_auto (CliRun) run = { 0 };

  vg_test_run_cli (&run, "eval", "--model", model, "--data", f->data, "--json", json, NULL);
  g_assert_cmpint (run.status, ==, 0);
  return g_steal_pointer (&json);
}

/* The table and the JSON hold each model's own figures, and B - A. */
VG_TEST ("/cli-compare/figures", test_figures)
{
  g_auto (Fixture) f = { 0 };
  g_autofree char *a_json = NULL, *b_json = NULL, *c_json = NULL;
  g_autofree char *a = NULL, *b = NULL, *c = NULL;
  g_auto (CliRun) run = { 0 };
  gint64 ma[VG_NUM_CLASSES][VG_NUM_CLASSES], mb[VG_NUM_CLASSES][VG_NUM_CLASSES];
  gint64 md[VG_NUM_CLASSES][VG_NUM_CLASSES];
  double previous = INFINITY;
  gboolean any_delta = FALSE;

  if (!fixture_set_up (&f, 4))
    return;
  a_json = eval_json (&f, f.model_a, "a.json");
  b_json = eval_json (&f, f.model_b, "b.json");
  c_json = g_build_filename (f.tmp, "c.json", NULL);
  vg_test_run_cli (&run, "eval", "--model", f.model_a, "--compare", f.model_b, "--data", f.data,
                   "--json", c_json, "--top", "2", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_nonnull (strstr (run.err, "eval A: 4/4 images"));
  g_assert_nonnull (strstr (run.err, "eval B: 4/4 images"));
  g_assert_nonnull (strstr (run.err, "(fastscnn, resolution 96)"));
  a = read_text (a_json);
  b = read_text (b_json);
  c = read_text (c_json);

  for (int k = 0; k < VG_NUM_CLASSES; k++)
    {
      g_autofree char *anchor = g_strdup_printf ("\"name\": \"%s\", ", vg_class_name (k));
      g_autofree char *ia = value_after (a, anchor, "iou");
      g_autofree char *ib = value_after (b, anchor, "iou");
      g_autofree char *ca = value_after (c, anchor, "iou_a");
      g_autofree char *cb = value_after (c, anchor, "iou_b");
      g_autofree char *cd = value_after (c, anchor, "iou_delta");
      g_autofree char *row = NULL;

      /* the same numbers, to the last digit */
      g_assert_cmpstr (ca, ==, ia);
      g_assert_cmpstr (cb, ==, ib);
      if (g_str_equal (ia, "null") || g_str_equal (ib, "null"))
        {
          g_assert_cmpstr (cd, ==, "null");
          continue;
        }
      g_assert_cmpfloat_with_epsilon (g_ascii_strtod (cd, NULL),
                                      g_ascii_strtod (ib, NULL) - g_ascii_strtod (ia, NULL),
                                      1e-12);
      any_delta |= g_ascii_strtod (cd, NULL) != 0;
      /* the table's row: both IoUs and the difference in points */
      row = g_strdup_printf ("%-15s %8.4f %8.4f %+8.2f\n", vg_class_name (k),
                             g_ascii_strtod (ia, NULL), g_ascii_strtod (ib, NULL),
                             100 * (g_ascii_strtod (ib, NULL) - g_ascii_strtod (ia, NULL)));
      if (fabs (g_ascii_strtod (cd, NULL)) >= 0.00005)
        g_assert_nonnull (strstr (run.out, row));
    }
  /* two different models: some class differs */
  g_assert_true (any_delta);
  {
    g_autofree char *miou_a = value_after (a, "{", "miou");
    g_autofree char *miou_b = value_after (b, "{", "miou");
    g_autofree char *cmp_a = value_after (c, "{", "miou_a");
    g_autofree char *cmp_b = value_after (c, "{", "miou_b");

    g_assert_cmpstr (cmp_a, ==, miou_a);
    g_assert_cmpstr (cmp_b, ==, miou_b);
  }

  /* the confusion difference, cell by cell */
  read_matrix (a_json, "confusion", ma);
  read_matrix (b_json, "confusion", mb);
  read_matrix (c_json, "confusion_delta", md);
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int p = 0; p < VG_NUM_CLASSES; p++)
      g_assert_cmpint (md[t][p], ==, mb[t][p] - ma[t][p]);

  /* the images: each model's per-image mIoU, B's largest gain first */
  {
    g_autofree char *images = vg_test_json_value (c_json, "images");
    const char *at = images;

    for (int k = 0; k < 4; k++)
      {
        g_autofree char *name = NULL, *anchor = NULL, *ea = NULL, *eb = NULL;
        g_autofree char *ca = NULL, *cb = NULL, *cd = NULL;

        at = strstr (at, "{\"name\": \"");
        g_assert_nonnull (at);
        at += strlen ("{\"name\": \"");
        name = g_strndup (at, strcspn (at, "\""));
        anchor = g_strdup_printf ("{\"name\": \"%s\"", name);
        ea = value_after (a, anchor, "miou");
        eb = value_after (b, anchor, "miou");
        ca = value_after (at - strlen ("{\"name\": \""), anchor, "miou_a");
        cb = value_after (at - strlen ("{\"name\": \""), anchor, "miou_b");
        cd = value_after (at - strlen ("{\"name\": \""), anchor, "miou_delta");
        g_assert_cmpstr (ca, ==, ea);
        g_assert_cmpstr (cb, ==, eb);
        g_assert_cmpfloat (g_ascii_strtod (cd, NULL), <=, previous);
        previous = g_ascii_strtod (cd, NULL);
      }
  }
  g_assert_nonnull (strstr (run.out, "IoU A"));
  g_assert_nonnull (strstr (run.out, "images where B does better"));
  g_assert_nonnull (strstr (run.out, "images where A does better"));
}

/* A model against itself: no difference anywhere. */
VG_TEST ("/cli-compare/itself", test_itself)
{
  g_auto (Fixture) f = { 0 };
  g_autofree char *json = NULL, *text = NULL;
  g_autofree char *miou_delta = NULL;
  g_auto (CliRun) run = { 0 };
  gint64 md[VG_NUM_CLASSES][VG_NUM_CLASSES];

  if (!fixture_set_up (&f, 3))
    return;
  json = g_build_filename (f.tmp, "self.json", NULL);
  vg_test_run_cli (&run, "eval", "--model", f.model_b, "--compare", f.model_b, "--data", f.data,
                   "--json", json, NULL);
  g_assert_cmpint (run.status, ==, 0);
  text = read_text (json);
  for (int k = 0; k < VG_NUM_CLASSES; k++)
    {
      g_autofree char *anchor = g_strdup_printf ("\"name\": \"%s\", ", vg_class_name (k));
      g_autofree char *d = value_after (text, anchor, "iou_delta");
      g_autofree char *ia = value_after (text, anchor, "iou_a");

      g_assert_cmpstr (d, ==, g_str_equal (ia, "null") ? "null" : "0");
    }
  miou_delta = value_after (text, "{", "miou_delta");
  g_assert_cmpstr (miou_delta, ==, "0");
  read_matrix (json, "confusion_delta", md);
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int p = 0; p < VG_NUM_CLASSES; p++)
      g_assert_cmpint (md[t][p], ==, 0);
  g_assert_nonnull (strstr (text, "\"b_better\": [],"));
  g_assert_nonnull (strstr (text, "\"a_better\": [],"));
  g_assert_nonnull (strstr (run.out, "differ in no cell"));
  g_assert_nonnull (strstr (run.out, "(none)"));
  g_assert_null (strstr (run.out, "+"));
}

/* A missing or bad second model, or one given with --predictions: refused, and said why. */
VG_TEST ("/cli-compare/bad-model", test_bad_model)
{
  g_auto (Fixture) f = { 0 };
  g_autofree char *missing = NULL, *bad = NULL, *json = NULL;
  g_auto (CliRun) none = { 0 };
  g_auto (CliRun) broken = { 0 };
  g_auto (CliRun) both = { 0 };
  g_auto (CliRun) top = { 0 };

  if (!fixture_set_up (&f, 1))
    return;
  missing = g_build_filename (f.tmp, "nothing.safetensors", NULL);
  bad = g_build_filename (f.tmp, "bad.safetensors", NULL);
  json = g_build_filename (f.tmp, "never.json", NULL);
  g_assert_true (g_file_set_contents (bad, "not a model", -1, NULL));

  vg_test_run_cli (&none, "eval", "--model", f.model_a, "--compare", missing, "--data", f.data,
                   "--json", json, NULL);
  g_assert_cmpint (none.status, ==, 1);
  g_assert_nonnull (strstr (none.err, "the model to compare with (--compare) does not exist"));
  g_assert_nonnull (strstr (none.err, missing));

  vg_test_run_cli (&broken, "eval", "--model", f.model_a, "--compare", bad, "--data", f.data,
                   "--json", json, NULL);
  g_assert_cmpint (broken.status, ==, 1);
  g_assert_nonnull (strstr (broken.err, "the model to compare with (--compare"));
  g_assert_nonnull (strstr (broken.err, "cannot be used"));
  g_assert_false (g_file_test (json, G_FILE_TEST_EXISTS));

  vg_test_run_cli (&both, "eval", "--predictions", f.data, "--compare", f.model_b, "--data",
                   f.data, NULL);
  g_assert_cmpint (both.status, ==, 2);
  g_assert_nonnull (strstr (both.err, "--compare FILE compares two models"));

  vg_test_run_cli (&top, "eval", "--model", f.model_a, "--compare", f.model_b, "--data", f.data,
                   "--top", "-1", NULL);
  g_assert_cmpint (top.status, ==, 2);
  g_assert_nonnull (strstr (top.err, "--top"));
}

VG_TEST_MAIN ()
