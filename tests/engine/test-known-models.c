/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The list of models trained on this computer (vg-known-models): newest by modification time,
 * gone files skipped, no duplicates, bounded; and the shipped models, found by name. */
#include "config.h"

#include <string.h>
#include <utime.h>

#include <glib/gstdio.h>

#include "test-common.h"
#include "vg-known-models.h"
#include "test-register.h"

/* Each test starts without a list. */
static void
fresh_list (void)
{
  g_autofree char *list_path = vg_recent_models_path ();

  g_unlink (list_path);
}

/* A file under the test's own data folder, modified at the given time (seconds). */
static char *
make_model (const char *name, gint64 mtime)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "runs", NULL);
  char *path = g_build_filename (dir, name, NULL);
  struct utimbuf times = { .actime = (time_t) mtime, .modtime = (time_t) mtime };

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, "model", -1, NULL));
  g_assert_cmpint (g_utime (path, &times), ==, 0);
  return path;
}

VG_TEST ("/recent/newest", test_newest)
{
  g_autofree char *a = make_model ("a.safetensors", 1000000000);
  g_autofree char *b = make_model ("b.safetensors", 1200000000);
  g_autofree char *c = make_model ("c.safetensors", 1100000000);
  g_autofree char *newest = NULL;
  g_autofree char *list_path = vg_recent_models_path ();
  g_autofree char *list = NULL;

  fresh_list ();

  g_assert_null (vg_recent_models_newest ()); /* no list yet */
  g_assert_true (vg_recent_models_add (a));
  g_assert_true (vg_recent_models_add (b));
  g_assert_true (vg_recent_models_add (c));
  g_assert_true (vg_recent_models_add (a)); /* moved to the end, not repeated */
  g_assert_true (g_file_get_contents (list_path, &list, NULL, NULL));
  g_assert_nonnull (strstr (list, a));
  g_assert_null (strstr (strstr (list, a) + 1, a));
  g_assert_true (g_str_has_suffix (list, "a.safetensors\n"));

  /* b has the newest modification time wherever it is listed */
  newest = vg_recent_models_newest ();
  g_assert_cmpstr (newest, ==, b);

  /* a deleted file is skipped */
  g_assert_cmpint (g_unlink (b), ==, 0);
  g_clear_pointer (&newest, g_free);
  newest = vg_recent_models_newest ();
  g_assert_cmpstr (newest, ==, c);
}

VG_TEST ("/recent/bounded", test_bounded)
{
  g_autofree char *list_path = vg_recent_models_path ();
  g_autofree char *list = NULL;
  g_autofree char *first = NULL;
  g_auto (GStrv) lines = NULL;

  fresh_list ();

  for (int i = 0; i < VG_RECENT_MODELS_MAX + 5; i++)
    {
      g_autofree char *name = g_strdup_printf ("m%d.safetensors", i);
      g_autofree char *path = make_model (name, 1000000000 + i);

      if (i == 0)
        first = g_strdup (path);
      g_assert_true (vg_recent_models_add (path));
    }
  g_assert_true (g_file_get_contents (list_path, &list, NULL, NULL));
  lines = g_strsplit (list, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, VG_RECENT_MODELS_MAX + 1); /* + "" */
  g_assert_null (strstr (list, first)); /* the oldest entries went first */
}

VG_TEST ("/recent/garbage-list", test_garbage_list)
{
  g_autofree char *list_path = vg_recent_models_path ();
  g_autofree char *dir = g_path_get_dirname (list_path);
  g_autofree char *model = make_model ("ok.safetensors", 1000000000);
  g_autofree char *newest = NULL;
  g_autofree char *text = g_strdup_printf ("relative/path\n\n/no/such/file\n\xff\xfe\n%s",
                                           model);

  fresh_list ();

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (list_path, text, -1, NULL));
  newest = vg_recent_models_newest ();
  g_assert_cmpstr (newest, ==, model);
}

/* The shipped models are found by name: the default is visage-s even when other model
 * files sort before it (visage-fast, a.safetensors), the fast one only when it is there. */
VG_TEST ("/bundled/by-name", test_bundled_by_name)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "models", NULL);
  g_autofree char *accurate = g_build_filename (dir, "visage-s.safetensors", NULL);
  g_autofree char *fast = g_build_filename (dir, "visage-fast.safetensors", NULL);
  g_autofree char *other = g_build_filename (dir, "a.safetensors", NULL);
  g_autofree char *saved = g_strdup (g_getenv ("VISAGE_MODELS_DIR"));
  g_autofree char *path = NULL, *found = NULL;
  VgBundledModel which = VG_BUNDLED_ACCURATE;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_setenv ("VISAGE_MODELS_DIR", dir, TRUE);
  g_assert_true (g_file_set_contents (other, "model", -1, NULL));
  g_assert_null ((path = vg_bundled_model_path ()));
  g_assert_null ((path = vg_bundled_model_path_for (VG_BUNDLED_FAST)));

  g_assert_true (g_file_set_contents (fast, "model", -1, NULL));
  g_assert_null ((path = vg_bundled_model_path ()));
  path = vg_bundled_model_path_for (VG_BUNDLED_FAST);
  g_assert_cmpstr (path, ==, fast);
  g_clear_pointer (&path, g_free);

  g_assert_true (g_file_set_contents (accurate, "model", -1, NULL));
  path = vg_bundled_model_path ();
  g_assert_cmpstr (path, ==, accurate);
  g_clear_pointer (&path, g_free);

  g_assert_true (vg_bundled_model_lookup ("visage-fast", &which, &found));
  g_assert_cmpint (which, ==, VG_BUNDLED_FAST);
  g_assert_cmpstr (found, ==, fast);
  g_clear_pointer (&found, g_free);
  g_assert_true (vg_bundled_model_lookup ("visage-s.safetensors", &which, &found));
  g_assert_cmpint (which, ==, VG_BUNDLED_ACCURATE);
  g_assert_cmpstr (found, ==, accurate);
  g_clear_pointer (&found, g_free);
  g_assert_false (vg_bundled_model_lookup ("a", &which, &found));
  g_assert_false (vg_bundled_model_lookup ("fastscnn", NULL, NULL));

  /* a folder named like the fast model is not a model file */
  g_assert_cmpint (g_unlink (fast), ==, 0);
  g_assert_cmpint (g_mkdir (fast, 0700), ==, 0);
  g_assert_null ((path = vg_bundled_model_path_for (VG_BUNDLED_FAST)));
  g_assert_true (vg_bundled_model_lookup ("visage-fast", NULL, &found));
  g_assert_null (found);
  g_assert_cmpstr (vg_bundled_model_name (VG_BUNDLED_FAST), ==, "visage-fast");

  if (saved != NULL)
    g_setenv ("VISAGE_MODELS_DIR", saved, TRUE);
  else
    g_unsetenv ("VISAGE_MODELS_DIR");
}

int
main (int argc, char **argv)
{
  /* A data folder of our own, set before GLib reads (and caches) it. */
  g_autofree char *home = vg_test_private_xdg_dir ("XDG_DATA_HOME", "visage-models-XXXXXX");

  g_test_init (&argc, &argv, NULL);
  vg_test_add_registered ();
  return vg_test_run_removing (home);
}
