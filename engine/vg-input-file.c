/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Opening input files: regular files only (see vg-input-file.h). */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "vg-input-file.h"

static gboolean
set_errno_error (GError **error, int saved_errno, const char *path, const char *doing)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s: %s", path,
               doing, g_strerror (saved_errno));
  return FALSE;
}

static const char *
kind_name (mode_t mode)
{
  if (S_ISDIR (mode))
    return "a folder";
  if (S_ISFIFO (mode))
    return "a named pipe";
  if (S_ISCHR (mode))
    return "a character device";
  if (S_ISBLK (mode))
    return "a block device";
  if (S_ISSOCK (mode))
    return "a socket";
  return "not a plain file";
}

/* FALSE with an error naming path unless mode is a regular file's. */
static gboolean
check_regular (mode_t mode, const char *path, GError **error)
{
  if (S_ISREG (mode))
    return TRUE;
  g_set_error (error, G_IO_ERROR,
               S_ISDIR (mode) ? G_IO_ERROR_IS_DIRECTORY : G_IO_ERROR_NOT_REGULAR_FILE,
               "%s: not a regular file (%s)", path, kind_name (mode));
  return FALSE;
}

int
vg_input_file_open (const char *path, GError **error)
{
  struct stat st;
  int fd, flags;

  /* stat() first, so that a device is never even opened; fstat() after opening, since the
   * name may have been replaced in between. */
  if (stat (path, &st) != 0)
    {
      int saved = errno;
      g_autofree char *target = NULL;

      if (saved == ENOENT && (target = g_file_read_link (path, NULL)) != NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                     "%s: cannot open: a broken symbolic link (to %s)", path, target);
      else
        set_errno_error (error, saved, path, "cannot open");
      return -1;
    }
  if (!check_regular (st.st_mode, path, error))
    return -1;
  do
    fd = open (path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    {
      set_errno_error (error, errno, path, "cannot open");
      return -1;
    }
  if (fstat (fd, &st) != 0)
    {
      set_errno_error (error, errno, path, "cannot read");
      close (fd);
      return -1;
    }
  if (!check_regular (st.st_mode, path, error))
    {
      close (fd);
      return -1;
    }
  flags = fcntl (fd, F_GETFL);
  if (flags < 0 || fcntl (fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
    {
      set_errno_error (error, errno, path, "cannot open");
      close (fd);
      return -1;
    }
  return fd;
}

FILE *
vg_input_file_fopen (const char *path, GError **error)
{
  int fd = vg_input_file_open (path, error);
  FILE *fp;

  if (fd < 0)
    return NULL;
  fp = fdopen (fd, "rb");
  if (fp == NULL)
    {
      set_errno_error (error, errno, path, "cannot open");
      close (fd);
    }
  return fp;
}

gboolean
vg_input_file_get_contents (const char *path, char **contents, size_t *length,
                            GError **error)
{
  g_autofree char *buf = NULL;
  struct stat st;
  size_t size, got = 0;
  int fd = vg_input_file_open (path, error);

  if (fd < 0)
    return FALSE;
  if (fstat (fd, &st) != 0)
    {
      set_errno_error (error, errno, path, "cannot read");
      close (fd);
      return FALSE;
    }
  size = (size_t) st.st_size;
  if (st.st_size < 0 || (guint64) st.st_size >= G_MAXSIZE
      || (buf = g_try_malloc (size + 1)) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "%s: not enough memory to read the file (%.1f MiB)", path,
                   st.st_size / 1048576.0);
      close (fd);
      return FALSE;
    }
  /* Up to the size fstat() gave: a file that grows meanwhile is read as it was. */
  while (got < size)
    {
      ssize_t n = read (fd, buf + got, size - got);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          set_errno_error (error, errno, path, "cannot read");
          close (fd);
          return FALSE;
        }
      if (n == 0)
        break;   /* shrunk meanwhile: what is there is what the parser sees */
      got += (size_t) n;
    }
  close (fd);
  buf[got] = '\0';
  *contents = g_steal_pointer (&buf);
  if (length != NULL)
    *length = got;
  return TRUE;
}
