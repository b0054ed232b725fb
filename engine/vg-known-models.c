/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vg-known-models.h"

static const char *const bundled_names[VG_BUNDLED_N] = { "visage-s", "visage-fast" };

const char *
vg_bundled_model_name (VgBundledModel which)
{
  g_return_val_if_fail ((int) which >= 0 && which < VG_BUNDLED_N, NULL);
  return bundled_names[which];
}

/* dir/file when it is a regular file, else NULL. */
static char *
model_in (const char *dir, const char *file)
{
  char *path = g_build_filename (dir, file, NULL);

  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return path;
  g_free (path);
  return NULL;
}

char *
vg_bundled_model_path_for (VgBundledModel which)
{
  const char *dir = g_getenv ("VISAGE_MODELS_DIR");
  g_autofree char *installed = g_build_filename (PKGDATADIR, "models", NULL);
  g_autofree char *file = NULL;
  char *path;

  g_return_val_if_fail ((int) which >= 0 && which < VG_BUNDLED_N, NULL);
  file = g_strconcat (bundled_names[which], ".safetensors", NULL);
  if (dir != NULL)
    return model_in (dir, file);
  if ((path = model_in (VG_SOURCE_MODELS_DIR, file)) != NULL)
    return path;
  return model_in (installed, file);
}

char *
vg_bundled_model_path (void)
{
  return vg_bundled_model_path_for (VG_BUNDLED_ACCURATE);
}

gboolean
vg_bundled_model_lookup (const char *name, VgBundledModel *which, char **path)
{
  g_return_val_if_fail (name != NULL, FALSE);

  for (int i = 0; i < VG_BUNDLED_N; i++)
    {
      g_autofree char *file = g_strconcat (bundled_names[i], ".safetensors", NULL);

      if (g_str_equal (name, bundled_names[i]) || g_str_equal (name, file))
        {
          if (which != NULL)
            *which = (VgBundledModel) i;
          if (path != NULL)
            *path = vg_bundled_model_path_for ((VgBundledModel) i);
          return TRUE;
        }
    }
  return FALSE;
}

char *
vg_recent_models_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "visage", "trained-models", NULL);
}

/* The listed paths, oldest first; empty when there is no list. */
static GPtrArray *
read_list (const char *list_path)
{
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (list_path, &text, NULL, NULL))
    return paths;
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    if (g_path_is_absolute (*l))
      g_ptr_array_add (paths, g_strdup (*l));
  return paths;
}

gboolean
vg_recent_models_add (const char *path)
{
  g_autofree char *list_path = vg_recent_models_path ();
  g_autofree char *dir = g_path_get_dirname (list_path);
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autoptr (GPtrArray) paths = read_list (list_path);
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  for (guint i = paths->len; i-- > 0;)
    if (g_str_equal (g_ptr_array_index (paths, i), absolute))
      g_ptr_array_remove_index (paths, i);
  g_ptr_array_add (paths, g_steal_pointer (&absolute));
  for (guint i = paths->len > VG_RECENT_MODELS_MAX ? paths->len - VG_RECENT_MODELS_MAX : 0;
       i < paths->len; i++)
    g_string_append_printf (text, "%s\n", (const char *) g_ptr_array_index (paths, i));
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_debug ("cannot create %s: %s", dir, g_strerror (errno));
      return FALSE;
    }
  if (!g_file_set_contents (list_path, text->str, (gssize) text->len, &error))
    {
      g_debug ("cannot record the trained model: %s", error->message);
      return FALSE;
    }
  return TRUE;
}

char *
vg_recent_models_newest (void)
{
  g_autofree char *list_path = vg_recent_models_path ();
  g_autoptr (GPtrArray) paths = read_list (list_path);
  const char *newest = NULL;
  gint64 newest_time = G_MININT64;

  for (guint i = 0; i < paths->len; i++)
    {
      const char *p = g_ptr_array_index (paths, i);
      GStatBuf st;
      gint64 t;

      if (g_stat (p, &st) != 0 || !S_ISREG (st.st_mode) || g_access (p, R_OK) != 0)
        continue;
      t = (gint64) st.st_mtime;
      /* Later in the list wins a tie: it was written more recently. */
      if (t >= newest_time)
        {
          newest = p;
          newest_time = t;
        }
    }
  return g_strdup (newest);
}
