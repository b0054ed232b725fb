/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli classes (text, JSON, the README's Markdown table) and export-onnx as a user
 * runs them. argv[1] after the GTest options: a python3 that checks the JSON. What the
 * ONNX file holds is checked in tests/interop. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli-run.h"
#include "test-common.h"
#include "vg-classes.h"
#include "vg-model.h"
#include "vg-onnx.h"
#include "vg-predict.h"
#include "test-register.h"

static const char *python3;

VG_TEST ("/cli/classes/text", test_classes_text)
{
  g_auto (CliRun) run = { 0 };
  g_auto (GStrv) lines = NULL;

  vg_test_run_cli (&run, "classes", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_cmpstr (run.err, ==, "");
  lines = g_strsplit (run.out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 1 + VG_NUM_CLASSES + 1); /* header, "" */
  g_assert_cmpstr (lines[1 + VG_CLASS_L_EYE], ==,
                   "4   l_eye       Left eye     #3333ff  r_eye (5)");
  g_assert_cmpstr (lines[1 + VG_CLASS_NECK_L], ==,
                   "16  neck_l      Necklace     #003300  -");
}

/* The JSON parses, has the 19 classes in order, and each partner is the class's mirror. */
VG_TEST ("/cli/classes/json", test_classes_json)
{
  g_auto (CliRun) run = { 0 };
  g_auto (CliRun) check = { 0 };
  g_autofree char *dir = g_dir_make_tmp ("visage-classes-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "classes.json", NULL);
  const char *script =
    "import json, sys\n"
    "c = json.load(open(sys.argv[1]))\n"
    "assert [e['id'] for e in c] == list(range(19)), c\n"
    "for e in c:\n"
    "    assert e['colour'] == '#%02x%02x%02x' % tuple(e['rgb']), e\n"
    "    p = e['partner']\n"
    "    assert p is None or (p != e['id'] and c[p]['partner'] == e['id']), e\n"
    "print(c[4]['name'], c[4]['partner'], c[13]['colour'])\n";
  const char *argv[] = { python3, "-c", script, path, NULL };

  vg_test_run_cli (&run, "classes", "--json", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_true (g_file_set_contents (path, run.out, -1, NULL));
  vg_test_run_cli_argv (&check, argv, NULL);
  g_assert_cmpint (check.status, ==, 0);
  g_assert_cmpstr (check.out, ==, "l_eye 5 #0000cc\n");
  vg_test_rm_rf (dir);
}

/* README.md carries the table as `visage-cli classes --markdown` prints it. */
VG_TEST ("/cli/classes/readme", test_classes_readme)
{
  g_auto (CliRun) run = { 0 };
  g_autofree char *readme = g_build_filename (g_getenv ("VISAGE_REFERENCE_DIR"), "..", "..",
                                              "README.md", NULL);
  g_autofree char *text = NULL;

  vg_test_run_cli (&run, "classes", "--markdown", NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_true (g_str_has_prefix (run.out, "| id | name |"));
  g_assert_true (g_file_get_contents (readme, &text, NULL, NULL));
  if (strstr (text, run.out) == NULL)
    g_error ("README.md does not hold the output of `visage-cli classes --markdown`:\n%s",
             run.out);
}

VG_TEST ("/cli/classes/usage", test_classes_usage)
{
  g_auto (CliRun) run = { 0 };

  vg_test_run_cli (&run, "classes", "--json", "--markdown", NULL);
  g_assert_cmpint (run.status, ==, 2);
  g_assert_cmpstr (run.out, ==, "");
}

VG_TEST ("/cli/export-onnx/usage", test_export_onnx_usage)
{
  g_auto (CliRun) no_out = { 0 };
  g_auto (CliRun) no_model = { 0 };
  g_auto (CliRun) bad_model = { 0 };
  g_auto (CliRun) to_folder = { 0 };
  g_autofree char *dir = g_dir_make_tmp ("visage-onnx-XXXXXX", NULL);
  g_autofree char *junk = g_build_filename (dir, "junk.safetensors", NULL);
  g_autofree char *out = g_build_filename (dir, "m.onnx", NULL);

  vg_test_run_cli (&no_out, "export-onnx", NULL);
  g_assert_cmpint (no_out.status, ==, 2);
  g_assert_nonnull (strstr (no_out.err, "--out"));

  if (!vg_onnx_supported ())
    {
      vg_test_run_cli (&no_model, "export-onnx", "--out", out, NULL);
      g_assert_cmpint (no_model.status, ==, 1);
      g_assert_nonnull (strstr (no_model.err, "libprotobuf-c-dev"));
      vg_test_rm_rf (dir);
      return;
    }
  /* the tests run without a bundled model (VISAGE_MODELS_DIR points nowhere) */
  vg_test_run_cli (&no_model, "export-onnx", "--out", out, NULL);
  g_assert_cmpint (no_model.status, ==, 2);
  g_assert_nonnull (strstr (no_model.err, "give --model"));

  g_assert_true (g_file_set_contents (junk, "not a model", -1, NULL));
  vg_test_run_cli (&bad_model, "export-onnx", "--model", junk, "--out", out, NULL);
  g_assert_cmpint (bad_model.status, ==, 1);
  g_assert_nonnull (strstr (bad_model.err, junk));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));

  /* an output path that is a folder is refused before the model is read */
  vg_test_run_cli (&to_folder, "export-onnx", "--model", junk, "--out", dir, NULL);
  g_assert_cmpint (to_folder.status, ==, 1);
  g_assert_nonnull (strstr (to_folder.err, "cannot write"));
  g_assert_null (strstr (to_folder.err, junk));
  vg_test_rm_rf (dir);
}

VG_TEST ("/cli/export-onnx/seed", test_export_onnx)
{
  g_auto (CliRun) run = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VgModel) model = NULL;
  g_autofree char *dir = g_dir_make_tmp ("visage-onnx-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "seed.safetensors", NULL);
  g_autofree char *out = g_build_filename (dir, "seed.onnx", NULL);
  g_auto (GStrv) meta = NULL;
  const VgPreprocess pre = { { 0.5, 0.4, 0.3 }, { 0.25, 0.2, 0.3 }, 256 };
  VgConfig cfg;

  if (!vg_onnx_supported ())
    {
      g_test_skip ("built without ONNX export");
      return;
    }
  g_assert_true (vg_config_from_name (&cfg, "seed", NULL));
  model = vg_model_new (&cfg, vg_backend_cpu (), &error);
  g_assert_no_error (error);
  vg_model_init (model, 1);
  meta = vg_preprocess_to_metadata (&pre);
  g_assert_true (vg_model_save (model, path, (const char *const *) meta, &error));

  vg_test_run_cli (&run, "export-onnx", "--model", path, "--out", out, "--uint8", "--nhwc",
                   NULL);
  g_assert_cmpint (run.status, ==, 0);
  g_assert_true (g_str_has_prefix (run.out, "wrote "));
  g_assert_nonnull (strstr (run.out, "seed, ONNX opset 17"));
  g_assert_nonnull (strstr (run.out, "uint8 RGB 0..255 (batch, height, width, 3)"));
  g_assert_nonnull (strstr (run.out, "output 'logits' float32 (batch, 19, height, width)"));
  g_assert_true (g_file_test (out, G_FILE_TEST_IS_REGULAR));
  vg_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (argc, ==, 2);
  python3 = argv[1];
  vg_test_add_registered ();
  return g_test_run ();
}
