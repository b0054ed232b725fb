/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fuzz-common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

static char *dir;
static GHashTable *paths;  /* name -> path */

static void
remove_dir (void)
{
  g_autoptr (GDir) d = NULL;
  const char *name;

  if (dir == NULL || (d = g_dir_open (dir, 0, NULL)) == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      /* one level of sub-folders (a run folder holding last.safetensors) */
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          g_autoptr (GDir) sub = g_dir_open (path, 0, NULL);
          const char *inner;

          while (sub != NULL && (inner = g_dir_read_name (sub)) != NULL)
            {
              g_autofree char *p = g_build_filename (path, inner, NULL);
              g_unlink (p);
            }
          g_rmdir (path);
        }
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}

/* Criticals (and errors) abort, which libFuzzer catches and records; GLib's own fatal
 * path raises SIGTRAP, which it does not. */
static void
log_handler (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  g_log_default_handler (domain, level, message, data);
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    abort ();
}

void
fuzz_init (void)
{
  const char *base = g_getenv ("FUZZ_TMPDIR");
  g_autofree char *template = NULL;

  if (dir != NULL)
    return;
  if (base == NULL)
    base = g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) && access ("/dev/shm", W_OK) == 0
           ? "/dev/shm" : g_get_tmp_dir ();
  template = g_build_filename (base, "visage-fuzz-XXXXXX", NULL);
  dir = g_mkdtemp (g_steal_pointer (&template));
  if (dir == NULL)
    fuzz_fail ("cannot create a folder in %s: %s", base, g_strerror (errno));
  paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  atexit (remove_dir);
  g_log_set_default_handler (log_handler, NULL);
  g_setenv ("OMP_NUM_THREADS", "1", FALSE);
}

const char *
fuzz_dir (void)
{
  return dir;
}

const char *
fuzz_write (const char *name, const uint8_t *data, size_t size)
{
  const char *path = g_hash_table_lookup (paths, name);
  int fd;

  if (path == NULL)
    {
      char *p = g_build_filename (dir, name, NULL);

      g_hash_table_insert (paths, g_strdup (name), p);
      path = p;
    }
  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    fuzz_fail ("cannot create %s: %s", path, g_strerror (errno));
  for (size_t done = 0; done < size;)
    {
      ssize_t n = write (fd, data + done, size - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        fuzz_fail ("cannot write %s: %s", path, g_strerror (errno));
      done += (size_t) n;
    }
  close (fd);
  return path;
}

void
fuzz_check_error (const GError *error, const char *path)
{
  g_autofree char *base = g_path_get_basename (path);

  if (error == NULL)
    fuzz_fail ("%s was refused without an error", path);
  if (g_getenv ("FUZZ_VERBOSE") != NULL)
    fprintf (stderr, "fuzz: refused: %s\n", error->message);
  if (error->message == NULL || strstr (error->message, base) == NULL)
    fuzz_fail ("the error does not name the file %s: %s", base,
               error->message != NULL ? error->message : "(null)");
}

void
fuzz_fail (const char *format, ...)
{
  va_list args;

  va_start (args, format);
  fputs ("fuzz: ", stderr);
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
  abort ();
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init ();
  return 0;
}
