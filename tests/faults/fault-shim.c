/* SPDX-License-Identifier: GPL-3.0-or-later */
/* An LD_PRELOAD shim for the fault scripts: it slows down, or kills the process in the
 * middle of, the writes of temporary files, so that a SIGKILL lands inside a checkpoint
 * write rather than only between them.
 *
 * A "temporary" is a file whose path contains one of the ':'-separated strings of
 * VG_FAULT_MATCH (default ".tmp-", the temporaries of vg_safetensors_write). The events
 * counted are write() to such a file, fsync() of one, and rename() of one to its final
 * name (once before the call, once after it).
 *
 *   VG_FAULT_SLOW_US=N   sleep N microseconds before each event
 *   VG_FAULT_KILL_AT=K   raise SIGKILL at the K-th event (1-based)
 *   VG_FAULT_KILL_ON=E   count only the events E (write, fsync, rename or renamed) for K
 *   VG_FAULT_LOG=FILE    append "pid event path" for each event (to see what happened)
 *
 * Build: cc -shared -fPIC -O2 -o fault-shim.so fault-shim.c -ldl
 * Only what goes through the libc symbols is seen: stdio's internal writes are not. */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t (*real_write) (int, const void *, size_t);
static int (*real_fsync) (int);
static int (*real_rename) (const char *, const char *);
static const char *match = ".tmp-";
static const char *kill_on;
static long slow_us, kill_at;
static long events, kill_events;
static int log_fd = -1;

__attribute__ ((constructor)) static void
shim_init (void)
{
  const char *v;

  real_write = (ssize_t (*) (int, const void *, size_t)) dlsym (RTLD_NEXT, "write");
  real_fsync = (int (*) (int)) dlsym (RTLD_NEXT, "fsync");
  real_rename = (int (*) (const char *, const char *)) dlsym (RTLD_NEXT, "rename");
  if ((v = getenv ("VG_FAULT_MATCH")) != NULL && v[0] != '\0')
    match = v;
  if ((v = getenv ("VG_FAULT_SLOW_US")) != NULL)
    slow_us = strtol (v, NULL, 10);
  if ((v = getenv ("VG_FAULT_KILL_AT")) != NULL)
    kill_at = strtol (v, NULL, 10);
  if ((v = getenv ("VG_FAULT_KILL_ON")) != NULL && v[0] != '\0')
    kill_on = v;
  if ((v = getenv ("VG_FAULT_LOG")) != NULL && v[0] != '\0')
    log_fd = open (v, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static int
matches (const char *path)
{
  const char *p = match;

  while (*p != '\0')
    {
      size_t n = strcspn (p, ":");

      if (n > 0 && memmem (path, strlen (path), p, n) != NULL)
        return 1;
      p += n + (p[n] == ':');
    }
  return 0;
}

static int
fd_is_temporary (int fd, char *path, size_t size)
{
  char link[64];
  ssize_t n;

  if (fd < 0 || fd == log_fd)
    return 0;
  snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
  n = readlink (link, path, size - 1);
  if (n <= 0)
    return 0;
  path[n] = '\0';
  return matches (path);
}

static void
event (const char *what, const char *path)
{
  long k = __atomic_add_fetch (&events, 1, __ATOMIC_SEQ_CST);
  long counted = kill_on == NULL || strcmp (kill_on, what) == 0
                   ? __atomic_add_fetch (&kill_events, 1, __ATOMIC_SEQ_CST) : 0;

  if (log_fd >= 0)
    {
      char line[PATH_MAX + 64];
      int n = snprintf (line, sizeof line, "%ld %s %ld %s\n", (long) getpid (), what, k, path);

      if (n > 0)
        (void) real_write (log_fd, line, (size_t) n < sizeof line ? (size_t) n : sizeof line);
    }
  if (slow_us > 0)
    usleep ((useconds_t) slow_us);
  if (kill_at > 0 && counted == kill_at)
    kill (getpid (), SIGKILL);
}

ssize_t
write (int fd, const void *buf, size_t count)
{
  char path[PATH_MAX];

  if (real_write == NULL)
    shim_init ();
  if (fd_is_temporary (fd, path, sizeof path))
    event ("write", path);
  return real_write (fd, buf, count);
}

int
fsync (int fd)
{
  char path[PATH_MAX];

  if (real_fsync == NULL)
    shim_init ();
  if (fd_is_temporary (fd, path, sizeof path))
    event ("fsync", path);
  return real_fsync (fd);
}

int
rename (const char *from, const char *to)
{
  int rc, saved;

  if (real_rename == NULL)
    shim_init ();
  if (from == NULL || !matches (from))
    return real_rename (from, to);
  event ("rename", from);
  rc = real_rename (from, to);
  saved = errno;
  event ("renamed", to);
  errno = saved;
  return rc;
}
