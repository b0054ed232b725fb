/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers shared by the C tests. */
#pragma once

#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

/* The value of key in the JSON file at path (as the CLI writes it: "key": value), as
 * written: a number up to its comma or newline, an array up to its closing "\n  ]". */
static inline char *
vg_test_json_value (const char *path, const char *key)
{
  g_autofree char *text = NULL, *quoted = g_strdup_printf ("\"%s\": ", key);
  const char *at;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  at = strstr (text, quoted);
  g_assert_nonnull (at);
  at += strlen (quoted);
  if (*at == '[')
    return g_strndup (at, strstr (at, "\n  ]") - at);
  return g_strndup (at, strcspn (at, ",\n"));
}

/* Absolute path of a file under ../shared (VISAGE_SHARED_DIR), or NULL after marking the
 * test skipped when the shared folder is absent on a developer's machine. Under CI the
 * shared folder is required and its absence fails the test. */
static inline char *
vg_test_shared_path (const char *relative)
{
  const char *dir = g_getenv ("VISAGE_SHARED_DIR");
  g_autofree char *path = NULL;

  if (dir == NULL || !g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      if (g_getenv ("CI") != NULL)
        g_error ("VISAGE_SHARED_DIR (%s) is missing under CI", dir ? dir : "unset");
      g_test_skip ("../shared is not present");
      return NULL;
    }
  path = g_build_filename (dir, relative, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    g_error ("shared file %s is missing", path);
  return g_steal_pointer (&path);
}

/* Asserts that call returns FALSE and sets error (a GError *) to domain and code, with a
 * message that holds each of the further strings (give NULL for none); clears error. */
#define vg_test_assert_fails(call, error, domain, code, ...)                                   \
  G_STMT_START                                                                                 \
  {                                                                                            \
    const char *const vg_says_[] = { __VA_ARGS__, NULL };                                      \
                                                                                               \
    g_assert_false (call);                                                                     \
    g_assert_error (error, domain, code);                                                      \
    for (int vg_i_ = 0; vg_says_[vg_i_] != NULL; vg_i_++)                                      \
      if (strstr ((error)->message, vg_says_[vg_i_]) == NULL)                                  \
        g_error ("the message \"%s\" lacks \"%s\"", (error)->message, vg_says_[vg_i_]);        \
    g_clear_error (&(error));                                                                  \
  }                                                                                            \
  G_STMT_END

/* The number of newline characters in a text file the test wrote or read back. */
static inline int
vg_test_count_lines (const char *path)
{
  g_autofree char *text = NULL;
  int n = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  for (const char *p = text; *p != '\0'; p++)
    n += *p == '\n';
  return n;
}

/* The files below dir, in its subfolders too, whose names end with suffix (NULL: all);
 * 0 for a folder that cannot be read. */
static inline int
vg_test_count_files (const char *dir, const char *suffix)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  int n = 0;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        n += vg_test_count_files (path, suffix);
      else
        n += suffix == NULL || g_str_has_suffix (name, suffix);
    }
  return n;
}

static inline int
vg_test_compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The names in dir, sorted, joined by spaces ("" for none). */
static inline char *
vg_test_dir_listing (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, vg_test_compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

/* Remove a file or a folder tree made by a test. Symbolic links are removed, never
 * followed: the trees hold links into ../shared, which must stay untouched. */
static inline void
vg_test_rm_rf (const char *path)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  if (g_file_test (path, G_FILE_TEST_IS_SYMLINK) || !g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_unlink (path);
      return;
    }
  dir = g_dir_open (path, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      vg_test_rm_rf (child);
    }
  g_rmdir (path);
}

/* A fresh folder (tmpl as for g_dir_make_tmp) set as the XDG folder var (XDG_CACHE_HOME,
 * XDG_DATA_HOME), so that what the code under test keeps there stays out of the user's.
 * Call it before g_test_init, before GLib reads (and caches) the variable. (Not
 * G_TEST_OPTION_ISOLATE_DIRS: GLib 2.74 leaks its strings, which fails LeakSanitizer.)
 * vg_test_run_removing() removes it. */
static inline char *
vg_test_private_xdg_dir (const char *var, const char *tmpl)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp (tmpl, &error);

  g_assert_no_error (error);
  g_setenv (var, dir, TRUE);
  return dir;
}

/* g_test_run(), then dir (a folder the tests wrote in) removed: the run's status. */
static inline int
vg_test_run_removing (const char *dir)
{
  int status = g_test_run ();

  vg_test_rm_rf (dir);
  return status;
}

/* dir/images/<name>.jpg and dir/masks/<name>.png as symbolic links to the files of
 * celebamask/<shared_split> ("train" or "val") for each of the NULL-terminated names
 * (never copies). Returns FALSE (test skipped) when ../shared is absent, before making
 * anything. */
static inline gboolean
vg_test_link_split_names (const char *dir, const char *shared_split, const char *const *names)
{
  g_autofree char *split_rel = g_build_filename ("celebamask", shared_split, NULL);
  g_autofree char *probe = vg_test_shared_path (split_rel);
  g_autofree char *images = g_build_filename (dir, "images", NULL);
  g_autofree char *masks = g_build_filename (dir, "masks", NULL);

  if (probe == NULL)
    return FALSE;
  g_assert_cmpint (g_mkdir_with_parents (images, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (masks, 0755), ==, 0);
  for (int i = 0; names[i] != NULL; i++)
    {
      g_autofree char *jpg = g_strconcat (names[i], ".jpg", NULL);
      g_autofree char *png = g_strconcat (names[i], ".png", NULL);
      g_autofree char *image_rel = g_build_filename (split_rel, "images", jpg, NULL);
      g_autofree char *mask_rel = g_build_filename (split_rel, "masks", png, NULL);
      g_autofree char *image_src = vg_test_shared_path (image_rel);
      g_autofree char *mask_src = vg_test_shared_path (mask_rel);
      g_autofree char *image_dst = g_build_filename (images, jpg, NULL);
      g_autofree char *mask_dst = g_build_filename (masks, png, NULL);

      g_assert_cmpint (symlink (image_src, image_dst), ==, 0);
      g_assert_cmpint (symlink (mask_src, mask_dst), ==, 0);
    }
  return TRUE;
}

/* A scratch folder for a whole test program (tmpl as for g_dir_make_tmp), and in *split_dir
 * its subfolder "split" of links to the shared val images of names (NULL-terminated), NULL
 * without ../shared. vg_test_scratch_clear() removes the folder and frees both. */
static inline char *
vg_test_scratch_with_split (const char *tmpl, const char *const *names, char **split_dir)
{
  g_autoptr (GError) error = NULL;
  char *scratch = g_dir_make_tmp (tmpl, &error);

  g_assert_no_error (error);
  *split_dir = g_build_filename (scratch, "split", NULL);
  if (!vg_test_link_split_names (*split_dir, "val", names))
    g_clear_pointer (split_dir, g_free);
  return scratch;
}

static inline void
vg_test_scratch_clear (char **scratch, char **split_dir)
{
  vg_test_rm_rf (*scratch);
  g_clear_pointer (scratch, g_free);
  g_clear_pointer (split_dir, g_free);
}

/* parent/name made by vg_test_link_split_names() from the val files of the given names; the
 * caller has already skipped without ../shared. Returns the folder (free it). */
static inline char *
vg_test_link_val_split (const char *parent, const char *name, char **names)
{
  char *dir = g_build_filename (parent, name, NULL);

  g_assert_true (vg_test_link_split_names (dir, "val", (const char *const *) names));
  return dir;
}

/* vg_test_link_split_names() for the samples named first .. first + n - 1. The data set's
 * names are sample numbers with gaps (val has no "4"): choose a range that exists, or
 * list the names. */
static inline gboolean
vg_test_link_split (const char *dir, const char *shared_split, int first, int n)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  for (int i = first; i < first + n; i++)
    g_ptr_array_add (names, g_strdup_printf ("%d", i));
  g_ptr_array_add (names, NULL);
  return vg_test_link_split_names (dir, shared_split, (const char *const *) names->pdata);
}
