/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers shared by the C tests. */
#pragma once

#include <glib.h>

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
