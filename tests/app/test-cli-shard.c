/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Batch parsing at scale: eval --shard I/N --confusion FILE and eval --merge (the merged
 * figures must be those of one evaluation of every image, to the last bit), predict --shard
 * (the shards' outputs are the whole run's, each image once), and clear refusals. A small
 * freshly initialised model on 5 real validation images (links into ../shared). */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli-model.h"
#include "cli-run.h"
#include "test-common.h"
#include "test-register.h"

static char *root;   /* temporary folder */
static char *split;  /* root/val: 5 linked validation samples */
static char *model;  /* root/model.safetensors */

static gboolean
have_data (void)
{
  static const char *const names[] = { "0", "1", "2", "3", "5", NULL };
  g_autofree char *probe = NULL;

  if (split != NULL)
    return TRUE;
  probe = vg_test_shared_path ("celebamask/val");
  if (probe == NULL)
    return FALSE;
  split = g_build_filename (root, "val", NULL);
  g_assert_true (vg_test_link_split_names (split, "val", names));
  model = write_model (root, 64);
  return TRUE;
}

static char *
under_root (const char *name)
{
  return g_build_filename (root, name, NULL);
}

/* eval --shard I/3 --confusion root/shard-I.txt; returns the file. */
static char *
eval_shard (int i)
{
  g_auto (CliRun) run = { 0 };
  g_autofree char *shard = g_strdup_printf ("%d/3", i);
  g_autofree char *name = g_strdup_printf ("shard-%d.txt", i);
  char *path = under_root (name);

  vg_test_run_cli (&run, "eval", "--model", model, "--data", split, "--shard", shard,
                   "--confusion", path, NULL);
  g_assert_cmpint (run.status, ==, 0);
  return path;
}

VG_TEST ("/cli-shard/eval-merge-exact", test_eval_merge_exact)
{
  g_auto (CliRun) full = { 0 }, merged = { 0 };
  g_autofree char *full_json = NULL, *merged_json = NULL, *s0 = NULL, *s1 = NULL, *s2 = NULL;
  g_autofree char *text = NULL;
  const char *keys[] = { "miou", "mean_f1", "pixel_accuracy", "confusion" };

  if (!have_data ())
    return;
  full_json = under_root ("full.json");
  merged_json = under_root ("merged.json");
  vg_test_run_cli (&full, "eval", "--model", model, "--data", split, "--json", full_json, NULL);
  g_assert_cmpint (full.status, ==, 0);
  s0 = eval_shard (0);
  s1 = eval_shard (1);
  s2 = eval_shard (2);
  /* shard 0 of 3 over 5 images is image 0; 1 is images 1-2; 2 is images 3 and 5 */
  g_assert_true (g_file_get_contents (s0, &text, NULL, NULL));
  g_assert_true (g_str_has_prefix (text, "visage-confusion 1\nshard 0 3\nimages 1\nloss "));
  /* in any order */
  vg_test_run_cli (&merged, "eval", "--merge", s2, s0, s1, "--json", merged_json, NULL);
  g_assert_cmpint (merged.status, ==, 0);
  g_assert_nonnull (strstr (merged.out, "all 5 images of the 3 shards"));
  for (gsize k = 0; k < G_N_ELEMENTS (keys); k++)
    {
      g_autofree char *a = vg_test_json_value (full_json, keys[k]);
      g_autofree char *b = vg_test_json_value (merged_json, keys[k]);

      g_assert_cmpstr (a, ==, b);
    }
  {
    /* the loss is a weighted mean: the same up to the order of the float sums */
    g_autofree char *a = vg_test_json_value (full_json, "loss");
    g_autofree char *b = vg_test_json_value (merged_json, "loss");

    g_assert_cmpfloat_with_epsilon (g_ascii_strtod (a, NULL), g_ascii_strtod (b, NULL),
                                    1e-6 * g_ascii_strtod (a, NULL));
  }
}

/* eval --merge of the files (NULL-terminated) fails with status and a message holding says. */
static void
assert_merge_fails (int status, const char *says, const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_auto (CliRun) run = { 0 };
  va_list ap;

  g_ptr_array_add (argv, (char *) g_getenv ("VISAGE_CLI"));
  g_ptr_array_add (argv, "eval");
  g_ptr_array_add (argv, "--merge");
  va_start (ap, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  vg_test_run_cli_argv (&run, (const char *const *) argv->pdata, NULL);
  g_assert_cmpint (run.status, ==, status);
  g_assert_nonnull (strstr (run.err, says));
}

VG_TEST ("/cli-shard/merge-refusals", test_merge_refusals)
{
  g_autofree char *s0 = NULL, *s1 = NULL, *bad = NULL, *text = NULL;

  if (!have_data ())
    return;
  s0 = eval_shard (0);
  s1 = eval_shard (1);
  bad = under_root ("bad.txt");
  assert_merge_fails (1, "need every shard once", s0, s1, NULL);
  assert_merge_fails (1, "shard 1 of 3 is given twice", s0, s1, s1, NULL);
  assert_merge_fails (2, "takes the confusion files", NULL);
  assert_merge_fails (2, "takes no model", "--model", model, s0, NULL);
  /* a count that is not a number, named with its line */
  g_assert_true (g_file_get_contents (s1, &text, NULL, NULL));
  *strstr (text, "\n") = '\0';
  g_assert_true (g_file_set_contents (bad, text, -1, NULL));
  assert_merge_fails (1, "not 4 + 19 lines", bad, NULL);
  g_free (text);
  g_assert_true (g_file_get_contents (s1, &text, NULL, NULL));
  memcpy (strstr (text, "images 2"), "images x", 8);
  g_assert_true (g_file_set_contents (bad, text, -1, NULL));
  assert_merge_fails (1, "bad.txt, line 3: expected “images N”", bad, NULL);
  assert_merge_fails (1, "nowhere.txt", "nowhere.txt", NULL);
}

VG_TEST ("/cli-shard/bad-shard", test_bad_shard)
{
  const char *bad[] = { "3/3", "1", "a/2", "-1/2", "0/0", "1/2/3" };

  if (!have_data ())
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto (CliRun) eval = { 0 }, predict = { 0 };
      g_autofree char *out = under_root ("never");

      vg_test_run_cli (&eval, "eval", "--model", model, "--data", split, "--shard", bad[i],
                       NULL);
      g_assert_cmpint (eval.status, ==, 2);
      g_assert_nonnull (strstr (eval.err, "--shard takes I/N"));
      vg_test_run_cli (&predict, "predict", split, "--model", model, "--out", out, "--shard",
                       bad[i], NULL);
      g_assert_cmpint (predict.status, ==, 2);
      g_assert_nonnull (strstr (predict.err, "--shard takes I/N"));
      g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
    }
}

/* predict the split into root/name (index PNGs) with the further arguments. */
static char *
predict_into (const char *name, const char *shard)
{
  g_auto (CliRun) run = { 0 };
  char *out = under_root (name);

  vg_test_run_cli (&run, "predict", split, "--model", model, "--out", out, "--format", "index",
                   shard != NULL ? "--shard" : NULL, shard, NULL);
  g_assert_cmpint (run.status, ==, 0);
  return out;
}

VG_TEST ("/cli-shard/predict-shards", test_predict_shards)
{
  g_autofree char *all = NULL, *listing = NULL;
  g_autoptr (GString) union_listing = g_string_new (NULL);
  g_autofree char *empty = NULL;

  if (!have_data ())
    return;
  all = predict_into ("predict-all", NULL);
  listing = vg_test_dir_listing (all);
  g_assert_cmpstr (listing, ==, "0-index.png 1-index.png 2-index.png 3-index.png 5-index.png");
  for (int i = 0; i < 2; i++)
    {
      g_autofree char *shard = g_strdup_printf ("%d/2", i);
      g_autofree char *name = g_strdup_printf ("predict-%d", i);
      g_autofree char *out = predict_into (name, shard);
      g_autofree char *files = vg_test_dir_listing (out);
      g_auto (GStrv) each = g_strsplit (files, " ", -1);

      /* shard 0 of 2 over 5 images: 0 and 1; shard 1: 2, 3 and 5 */
      g_assert_cmpstr (files, ==, i == 0 ? "0-index.png 1-index.png"
                                         : "2-index.png 3-index.png 5-index.png");
      for (int k = 0; each[k] != NULL; k++)
        {
          g_autofree char *a = g_build_filename (all, each[k], NULL);
          g_autofree char *b = g_build_filename (out, each[k], NULL);
          g_autofree char *da = NULL, *db = NULL;
          gsize na, nb;

          g_assert_true (g_file_get_contents (a, &da, &na, NULL));
          g_assert_true (g_file_get_contents (b, &db, &nb, NULL));
          g_assert_true (na == nb && memcmp (da, db, na) == 0);
        }
    }
  /* more shards than images: an empty shard writes nothing and succeeds */
  empty = predict_into ("predict-empty", "0/8");
  g_assert_false (g_file_test (empty, G_FILE_TEST_EXISTS));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  root = g_dir_make_tmp ("visage-cli-shard-XXXXXX", NULL);
  g_assert_nonnull (root);
  vg_test_add_registered ();
  return vg_test_run_removing (root);
}
