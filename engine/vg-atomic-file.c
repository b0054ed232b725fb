/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one atomic write (see vg-atomic-file.h). */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vg-atomic-file.h"

struct _VgAtomicFile
{
  char *path;
  char *tmp;
  int fd;      /* -1 once closed */
};

void
vg_atomic_file_set_error (GError **error, int code, const char *path, const char *doing)
{
  g_autofree char *display = g_filename_display_name (path);

  if (doing != NULL)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (code), "cannot write %s: %s: %s",
                 display, doing, g_strerror (code));
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (code), "cannot write %s: %s",
                 display, g_strerror (code));
}

static gboolean
is_dir (const char *path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

VgAtomicFile *
vg_atomic_file_new (const char *path, GError **error)
{
  VgAtomicFile *f;

  /* rename() would refuse a folder only at the very end, after all the work. */
  if (is_dir (path))
    {
      vg_atomic_file_set_error (error, EISDIR, path, NULL);
      return NULL;
    }
  f = g_new0 (VgAtomicFile, 1);
  f->path = g_strdup (path);
  f->tmp = g_strconcat (path, ".tmp-XXXXXX", NULL);
  f->fd = g_mkstemp_full (f->tmp, O_WRONLY | O_CLOEXEC, 0666);
  if (f->fd < 0)
    {
      vg_atomic_file_set_error (error, errno, path, "cannot create a temporary file beside it");
      g_free (f->tmp);
      g_free (f->path);
      g_free (f);
      return NULL;
    }
  return f;
}

int
vg_atomic_file_get_fd (VgAtomicFile *f)
{
  return f->fd;
}

const char *
vg_atomic_file_get_path (VgAtomicFile *f)
{
  return f->path;
}

gboolean
vg_atomic_file_write (VgAtomicFile *f, const void *data, size_t n, GError **error)
{
  const guint8 *p = data;

  while (n > 0)
    {
      ssize_t done = write (f->fd, p, MIN (n, (size_t) 1 << 30));

      if (done < 0 && errno == EINTR)
        continue;
      if (done <= 0)
        {
          vg_atomic_file_set_error (error, done < 0 ? errno : ENOSPC, f->path, NULL);
          return FALSE;
        }
      p += done;
      n -= (size_t) done;
    }
  return TRUE;
}

void
vg_atomic_file_abort (VgAtomicFile *f)
{
  if (f == NULL)
    return;
  if (f->fd >= 0)
    close (f->fd);
  g_unlink (f->tmp);
  g_free (f->tmp);
  g_free (f->path);
  g_free (f);
}

gboolean
vg_atomic_file_commit (VgAtomicFile *f, GError **error)
{
  g_autofree char *dir = NULL;
  int rc, saved, dir_fd;

  /* fsync before rename, or a crash can leave the new name on empty data (delayed
   * allocation: a full disk often shows only here). close() releases the descriptor even
   * when it fails, so it is called exactly once. */
  rc = fsync (f->fd);
  saved = errno;
  if (close (f->fd) != 0 && rc == 0)
    {
      rc = -1;
      saved = errno;
    }
  f->fd = -1;
  if (rc != 0)
    {
      vg_atomic_file_set_error (error, saved, f->path, NULL);
      vg_atomic_file_abort (f);
      return FALSE;
    }
  if (g_rename (f->tmp, f->path) != 0)
    {
      vg_atomic_file_set_error (error, errno, f->path, "cannot rename the temporary file");
      vg_atomic_file_abort (f);
      return FALSE;
    }
  /* Make the rename itself durable; a failure here leaves a complete file: ignored. */
  dir = g_path_get_dirname (f->path);
  dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0)
    {
      (void) fsync (dir_fd);
      close (dir_fd);
    }
  g_free (f->tmp);
  g_free (f->path);
  g_free (f);
  return TRUE;
}

gboolean
vg_atomic_file_set_contents (const char *path, const void *data, size_t n, GError **error)
{
  VgAtomicFile *f = vg_atomic_file_new (path, error);

  if (f == NULL)
    return FALSE;
  if (!vg_atomic_file_write (f, data, n, error))
    {
      vg_atomic_file_abort (f);
      return FALSE;
    }
  return vg_atomic_file_commit (f, error);
}

/* 0 when files can be created in dir, else the errno that says why. */
static int
probe_dir (const char *dir)
{
  g_autofree char *probe = g_build_filename (dir, ".visage-write-check-XXXXXX", NULL);
  int fd;

  if (!is_dir (dir))
    return g_file_test (dir, G_FILE_TEST_EXISTS) ? ENOTDIR : ENOENT;
  /* access (W_OK) would miss ACLs, and say yes to root on a folder it may not write. */
  fd = g_mkstemp_full (probe, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno;
  close (fd);
  g_unlink (probe);
  return 0;
}

gboolean
vg_check_output_dir (const char *dir, GError **error)
{
  int code = probe_dir (dir);

  if (code != 0)
    {
      g_autofree char *display = g_filename_display_name (dir);

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (code),
                   "cannot write into %s: %s", display, g_strerror (code));
      return FALSE;
    }
  return TRUE;
}

gboolean
vg_check_output_file (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int code = is_dir (path) ? EISDIR : probe_dir (dir);

  if (code != 0)
    {
      vg_atomic_file_set_error (error, code, path, NULL);
      return FALSE;
    }
  return TRUE;
}
