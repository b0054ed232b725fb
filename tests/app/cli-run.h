/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Running visage-cli ($VISAGE_CLI, set by meson) or another program from the app tests and
 * keeping what it printed and its exit status. */
#pragma once

#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>

#include <glib.h>

#include "test-common.h"
#include "test-register.h"

typedef struct {
  int status;   /* exit status */
  char *out;    /* everything written to stdout */
  char *err;    /* everything written to stderr */
} CliRun;

static inline void
vg_test_cli_run_clear (CliRun *run)
{
  g_free (run->out);
  g_free (run->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliRun, vg_test_cli_run_clear)

/* Run argv (NULL-terminated, argv[0] the program) with XDG_CACHE_HOME set to cache_home
 * (NULL: inherited). Fails the test when the process did not exit normally: a crash or an
 * abort is never an acceptable answer. A non-zero status is logged with its stderr. */
static inline void
vg_test_run_cli_argv (CliRun *run, const char *const *argv, const char *cache_home)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) env = g_get_environ ();
  int wait_status = 0;

  if (cache_home != NULL)
    env = g_environ_setenv (env, "XDG_CACHE_HOME", cache_home, TRUE);
  g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL, &run->out, &run->err,
                &wait_status, &error);
  g_assert_no_error (error);
  if (!WIFEXITED (wait_status))
    g_error ("%s %s died by signal %d; stderr:\n%s", argv[0], argv[1] ? argv[1] : "",
             WIFSIGNALED (wait_status) ? WTERMSIG (wait_status) : -1, run->err);
  run->status = WEXITSTATUS (wait_status);
  if (run->status != 0)
    g_test_message ("stderr: %s", run->err);
}

/* g_test_init for a test that checks against a Python reference script: meson passes
 * PYTHON SCRIPT after the test's options, and g_test_init leaves them in argv. */
static inline void
vg_test_init_with_reference (int *argc, char ***argv, const char **python, const char **script)
{
  g_test_init (argc, argv, NULL);
  if (*argc >= 3)
    {
      *python = (*argv)[1];
      *script = (*argv)[2];
    }
}

/* main () of such a test file: its VG_TESTs, with the reference in python and script. */
#define VG_TEST_MAIN_WITH_REFERENCE(python, script)                                          \
  int                                                                                        \
  main (int argc, char *argv[])                                                              \
  {                                                                                          \
    vg_test_init_with_reference (&argc, &argv, &(python), &(script));                        \
    vg_test_add_registered ();                                                               \
    return g_test_run ();                                                                    \
  }

/* $VISAGE_CLI with the arguments first, ... (NULL-terminated; first may be that NULL). */
static inline void
vg_test_run_cli_valist (CliRun *run, const char *first, va_list ap)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *cli = g_getenv ("VISAGE_CLI");

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, (char *) cli);
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) arg);
  g_ptr_array_add (argv, NULL);
  vg_test_run_cli_argv (run, (const char *const *) argv->pdata, NULL);
}

static inline void
vg_test_run_cli (CliRun *run, const char *first, ...)
{
  va_list ap;

  va_start (ap, first);
  vg_test_run_cli_valist (run, first, ap);
  va_end (ap);
}

/* visage-cli train --resume of the run in out (one epoch done, log.csv its header and one
 * row) to a second epoch: it says it resumes, trains epoch 2 only and logs its row. */
static inline void
vg_test_resume_second_epoch (const char *out)
{
  g_auto (CliRun) again = { 0 };
  g_autofree char *log = g_build_filename (out, "log.csv", NULL);

  vg_test_run_cli (&again, "train", "--resume", out, "--epochs", "2", NULL);
  g_assert_cmpint (again.status, ==, 0);
  g_assert_nonnull (strstr (again.err, "resuming"));
  g_assert_null (strstr (again.out, "epoch 1/2"));
  g_assert_nonnull (strstr (again.out, "epoch 2/2"));
  g_assert_cmpint (vg_test_count_lines (log), ==, 3);
}
