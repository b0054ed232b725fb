/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vg-known-models.h"

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/* The first model file (in name order) of a folder, or NULL. */
static char *
first_model_in (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".safetensors"))
      g_ptr_array_add (names, g_strdup (name));
  if (names->len == 0)
    return NULL;
  g_ptr_array_sort (names, compare_names);
  return g_build_filename (dir, (const char *) g_ptr_array_index (names, 0), NULL);
}

char *
vg_bundled_model_path (void)
{
  const char *dir = g_getenv ("VISAGE_MODELS_DIR");
  g_autofree char *installed = g_build_filename (PKGDATADIR, "models", NULL);
  char *path;

  if (dir != NULL)
    return first_model_in (dir);
  if ((path = first_model_in (VG_SOURCE_MODELS_DIR)) != NULL)
    return path;
  return first_model_in (installed);
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
