/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Progress lines of visage-cli and its Ctrl-C handling.
 *
 * Progress goes to stderr, so stdout stays clean for results (tables, JSON). On a terminal
 * one line is redrawn in place; in a log (a pipe, a file, CI) a plain line is printed
 * every few seconds instead, since carriage returns would pile up into one huge line. */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "visage-cli-private.h"

#define TTY_INTERVAL_US (G_USEC_PER_SEC / 10)  /* at most ~10 redraws a second */
#define LOG_INTERVAL_US (5 * G_USEC_PER_SEC)   /* a log line every 5 seconds */
#define BAR_WIDTH 24

struct _VgCliProgress
{
  char *label;
  char *unit;
  int total;
  gboolean tty;
  gint64 start_us;
  gint64 last_us;      /* of the last line drawn */
  int done;
  int base;            /* done before this process started (a resumed epoch) */
  char *extra;         /* of the last update */
  gboolean drawn;      /* a tty line is on screen, unterminated */
  gboolean finished;
};

VgCliProgress *
vg_cli_progress_new (const char *label, int total, const char *unit)
{
  VgCliProgress *p = g_new0 (VgCliProgress, 1);

  p->label = g_strdup (label);
  p->unit = g_strdup (unit != NULL ? unit : "items");
  p->total = MAX (total, 0);
  /* TERM=dumb (Emacs shells) cannot erase a line. */
  p->tty = isatty (STDERR_FILENO) && g_strcmp0 (g_getenv ("TERM"), "dumb") != 0;
  p->start_us = g_get_monotonic_time ();
  p->last_us = p->start_us;
  return p;
}

static void
format_duration (char *out, size_t len, double seconds)
{
  long s = (long) (seconds + 0.5);

  if (seconds < 0 || seconds > 1e7)
    g_strlcpy (out, "--:--", len);
  else if (s >= 3600)
    g_snprintf (out, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    g_snprintf (out, len, "%ld:%02ld", s / 60, s % 60);
}

/* "12/100 images  8.1 images/s  ETA 0:11" plus the extra text. */
static void
append_status (GString *line, VgCliProgress *p, gint64 now)
{
  double elapsed = (now - p->start_us) * 1e-6;
  int done_here = p->done - p->base;
  double rate = elapsed > 0 ? done_here / elapsed : 0.0;
  char eta[32];

  g_string_append_printf (line, "%d/%d %s", p->done, p->total, p->unit);
  if (done_here > 0 && elapsed > 0)
    {
      format_duration (eta, sizeof eta, (p->total - p->done) / rate);
      g_string_append_printf (line, "  %.3g %s/s  ETA %s", rate, p->unit, eta);
    }
  if (p->extra != NULL && p->extra[0] != '\0')
    g_string_append_printf (line, "  %s", p->extra);
}

static void
draw (VgCliProgress *p, gint64 now)
{
  g_autoptr (GString) line = g_string_new (NULL);

  if (p->tty)
    {
      int filled = p->total > 0 ? (int) ((gint64) BAR_WIDTH * p->done / p->total) : 0;

      /* \r then "erase to end of line": a shorter line leaves no debris behind. */
      g_string_append_printf (line, "\r\033[K%s [", p->label);
      for (int i = 0; i < BAR_WIDTH; i++)
        g_string_append_c (line, i < filled ? '#' : '.');
      g_string_append (line, "] ");
      append_status (line, p, now);
      p->drawn = TRUE;
    }
  else
    {
      g_string_append_printf (line, "%s: ", p->label);
      append_status (line, p, now);
      if (p->total > 0)
        g_string_append_printf (line, "  (%d%%)", (int) (100.0 * p->done / p->total));
      g_string_append_c (line, '\n');
    }
  fputs (line->str, stderr);
  fflush (stderr);
  p->last_us = now;
}

void
vg_cli_progress_set_base (VgCliProgress *p, int done_before)
{
  if (p != NULL)
    p->base = CLAMP (done_before, 0, p->total);
}

void
vg_cli_progress_update (VgCliProgress *p, int done, const char *extra)
{
  gint64 now = g_get_monotonic_time ();

  if (p == NULL || p->finished)
    return;
  p->done = CLAMP (done, 0, MAX (p->total, done));
  g_free (p->extra);
  p->extra = g_strdup (extra);
  if (p->tty)
    {
      if (!p->drawn || now - p->last_us >= TTY_INTERVAL_US || done == p->total)
        draw (p, now);
    }
  else if (now - p->last_us >= LOG_INTERVAL_US)
    draw (p, now);
}

void
vg_cli_progress_finish (VgCliProgress *p, const char *summary)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr (GString) line = NULL;
  double elapsed;

  if (p == NULL || p->finished)
    return;
  p->finished = TRUE;
  elapsed = (now - p->start_us) * 1e-6;
  line = g_string_new (NULL);
  if (p->tty && p->drawn)
    g_string_append (line, "\r\033[K");
  g_string_append_printf (line, "%s: %d/%d %s in %.1f s", p->label, p->done, p->total, p->unit,
                          elapsed);
  if (p->done > 0 && elapsed > 0)
    g_string_append_printf (line, " (%.3g %s/s)", p->done / elapsed, p->unit);
  if (summary != NULL && summary[0] != '\0')
    g_string_append_printf (line, "  %s", summary);
  g_string_append_c (line, '\n');
  fputs (line->str, stderr);
  fflush (stderr);
}

void
vg_cli_progress_free (VgCliProgress *p)
{
  if (p == NULL)
    return;
  /* A line left mid-way (an error path) must not glue itself to the next message. */
  if (p->tty && p->drawn && !p->finished)
    fputs ("\n", stderr);
  g_free (p->label);
  g_free (p->unit);
  g_free (p->extra);
  g_free (p);
}

/* ---- Ctrl-C ----------------------------------------------------------------------------
 * The handler only does async-signal-safe things: count the signal and write a byte to a
 * pipe. A helper thread blocked on the pipe then cancels the GCancellable, which is not
 * async-signal-safe (it takes locks and runs callbacks). A second signal means the user
 * does not want to wait for a clean stop: _exit at once. And one signal must be enough
 * to stop the program, as `timeout` or a service manager sends only one: work blocked
 * where the cancellable is not looked at (a write to a full pipe, a read from a stalled
 * network file) would otherwise keep running forever. So the first signal also arms
 * alarm() for a grace period, whose SIGALRM _exits: from the handler itself, so that it
 * works even when the helper thread is stuck too (writing its notice to that full pipe).
 * The exit status of the hard way is the shell's for the signal: 128 + its number. */

static GCancellable *interrupt_cancellable;
static int interrupt_pipe[2] = { -1, -1 };
static volatile sig_atomic_t interrupt_count;
static volatile sig_atomic_t interrupt_signum;
static volatile sig_atomic_t interrupt_grace_s = VG_CLI_INTERRUPT_GRACE_S;

static void
on_signal (int signum)
{
  int saved = errno;
  char byte = (char) signum;

  if (interrupt_count++ > 0)
    _exit (128 + signum);
  interrupt_signum = signum;
  alarm ((unsigned) interrupt_grace_s);
  if (write (interrupt_pipe[1], &byte, 1) < 0)
    _exit (128 + signum);  /* the clean path is unavailable: stop the hard way */
  errno = saved;
}

/* The grace period is over and the process still runs. No message: stderr may be the very
 * thing it is blocked on. */
static void
on_alarm (int signum)
{
  _exit (128 + interrupt_signum);
}

static gpointer
interrupt_thread (gpointer data)
{
  char byte;
  ssize_t n;

  do
    n = read (interrupt_pipe[0], &byte, 1);
  while (n < 0 && errno == EINTR);
  if (n == 1)
    {
      g_autofree char *msg = g_strdup_printf ("\nvisage-cli: interrupted: stopping cleanly "
                                              "(press Ctrl-C again to quit at once; it quits "
                                              "by itself after %d s)\n",
                                              (int) interrupt_grace_s);
      if (write (STDERR_FILENO, msg, strlen (msg)) < 0)
        {
          /* nothing to do: the message is a courtesy */
        }
      g_cancellable_cancel (interrupt_cancellable);
    }
  return NULL;
}

void
vg_cli_interrupt_set_grace (int seconds)
{
  interrupt_grace_s = MAX (seconds, 1);
}

GCancellable *
vg_cli_interrupt_cancellable (void)
{
  static gsize ready = 0;

  if (g_once_init_enter (&ready))
    {
      struct sigaction sa;

      interrupt_cancellable = g_cancellable_new ();
      if (pipe (interrupt_pipe) == 0)
        {
          fcntl (interrupt_pipe[0], F_SETFD, FD_CLOEXEC);
          fcntl (interrupt_pipe[1], F_SETFD, FD_CLOEXEC);
          /* Started before the handlers, so a signal always finds its reader. */
          g_thread_unref (g_thread_new ("vg-interrupt", interrupt_thread, NULL));
          memset (&sa, 0, sizeof sa);
          sa.sa_handler = on_signal;
          sigemptyset (&sa.sa_mask);
          sa.sa_flags = SA_RESTART;
          sigaction (SIGINT, &sa, NULL);
          sigaction (SIGTERM, &sa, NULL);
          sa.sa_handler = on_alarm;
          sigaction (SIGALRM, &sa, NULL);
        }
      else
        g_warning ("cannot create a pipe for Ctrl-C handling: %s", g_strerror (errno));
      g_once_init_leave (&ready, 1);
    }
  return interrupt_cancellable;
}
