/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A run's folder opened on the Training page (training.open-run, win.open-run): a run
 * trained here and shown again from its folder, finished, with its best checkpoint by the
 * engine's rule and that checkpoint's buttons; the same folder written by a run elsewhere
 * (vg_train_run on a thread, as visage-cli train or rank 0 under mpirun would), followed as
 * its log grows, then taken as stopped once nothing writes to it; its log and best
 * checkpoint copied alone; a folder with a log only; and bad folders refused with their
 * reason while the page keeps what it showed and the folders are left as they were. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utime.h>

#include <adwaita.h>
#include <glib/gstdio.h>

#include "test-fixtures.h"
#include "vg-train.h"
#include "visage-application.h"
#include "visage-train-dialog.h"
#include "visage-train-plot.h"
#include "visage-train-view.h"
#include "visage-window.h"
#include "ui-test-util.h"
#include "ui-train-util.h"
#include "test-register.h"

static const char *const fixture_names[] = { "0", "1", "2", "3", NULL };

static gboolean
read_done (gpointer data)
{
  return !visage_train_view_get_reading (VISAGE_TRAIN_VIEW (data));
}

/* training.open-run on folder, as the page's users (win.open-run's chooser, --run) do, and
 * the read waited for. */
static void
open_run (VisageTrainView *view, const char *folder)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "training.open-run", "s",
                                             folder));
  g_assert_true (visage_train_view_get_reading (view));
  g_assert_true (spin_until (read_done, view));
}

/* ---- a run elsewhere -------------------------------------------------------------------- */

/* A run that goes on in another thread, held after epoch 3's log until the test has looked,
 * then ended after that epoch as a kill would end it. */
typedef struct {
  VgTrainOptions options;
  GMutex lock;
  GCond cond;
  gboolean looked;
  gboolean ok;
  GError *error;
} Elsewhere;

static gboolean
elsewhere_hook (int what, int epoch, gpointer data)
{
  Elsewhere *e = data;

  if (epoch == 3 && what == VG_TRAIN_WROTE_LOG)
    {
      g_mutex_lock (&e->lock);
      while (!e->looked)
        g_cond_wait (&e->cond, &e->lock);
      g_mutex_unlock (&e->lock);
    }
  return !(epoch == 3 && what == VG_TRAIN_WROTE_EPOCH);
}

static gpointer
elsewhere_thread (gpointer data)
{
  Elsewhere *e = data;

  e->ok = vg_train_run (&e->options, NULL, NULL, NULL, NULL, NULL, &e->error);
  return NULL;
}

static gboolean
shows_epoch_3 (gpointer data)
{
  VisageTrainView *view = data;

  return visage_train_plot_get_n_points (visage_train_view_get_plot (view)) == 3
         && !visage_train_view_get_reading (view);
}

static void
set_old (const char *run, const char *name)
{
  g_autofree char *path = g_build_filename (run, name, NULL);
  struct utimbuf old = { .actime = time (NULL) - 3600, .modtime = time (NULL) - 3600 };

  g_assert_cmpint (g_utime (path, &old), ==, 0);
}

/* The finished run resumed elsewhere to a limit of 4: the page follows its log to epoch 3
 * ("going on elsewhere"); that run then ends, and an hour without writes reads as stopped. */
static void
check_run_elsewhere (VisageTrainView *view, const char *run)
{
  Elsewhere e = { 0 };
  g_autoptr (GError) error = NULL;
  GThread *thread;

  g_assert_true (vg_train_options_load (&e.options, run, &error));
  g_assert_no_error (error);
  e.options.epochs = 4;
  e.options.write_hook = elsewhere_hook;
  e.options.write_hook_data = &e;
  g_mutex_init (&e.lock);
  g_cond_init (&e.cond);
  thread = g_thread_new ("elsewhere", elsewhere_thread, &e);

  /* the folder monitor reads the new rows: nothing trains on this page */
  g_assert_true (ui_spin_until_timeout (shows_epoch_3, view, 120));
  g_assert_false (visage_train_view_get_running (view));
  ui_train_assert_contains (visage_train_view_get_run_text (view), "epoch 3 of 4 done · going on");
  ui_train_assert_contains (visage_train_view_get_message (view), "it cannot be paused or stopped");
  ui_train_assert_contains (visage_train_view_get_phase_text (view), "Phase: ");
  g_mutex_lock (&e.lock);
  e.looked = TRUE;
  g_cond_signal (&e.cond);
  g_mutex_unlock (&e.lock);
  g_thread_join (thread);
  g_assert_false (e.ok);
  g_assert_error (e.error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INTERRUPTED);
  g_clear_error (&e.error);

  /* written an hour ago: stopped after epoch 3 of 4 */
  set_old (run, "log.csv");
  set_old (run, "last.safetensors");
  open_run (view, run);
  g_assert_null (visage_train_view_get_open_error (view));
  ui_train_assert_contains (visage_train_view_get_run_text (view), "stopped after epoch 3 of 4");
  ui_train_assert_contains (visage_train_view_get_message (view),
                            "nothing has written for 1 h 00 min");
  ui_train_assert_contains (visage_train_view_get_phase_text (view), "Last phase");
  g_mutex_clear (&e.lock);
  g_cond_clear (&e.cond);
  vg_train_options_clear (&e.options);
}

/* Only log.csv and best.safetensors copied off the cluster: the curves, and the best that
 * best.safetensors records, with its buttons; the state unknown. */
static void
check_copied_files (VisageTrainView *view, const char *run)
{
  g_autofree char *copied = g_build_filename (ui_fixture.scratch_dir, "copied", NULL);
  g_autofree char *expected = NULL, *best = g_build_filename (copied, "best.safetensors", NULL);

  g_assert_cmpint (g_mkdir_with_parents (copied, 0700), ==, 0);
  for (int i = 0; i < 2; i++)
    {
      const char *name = i == 0 ? "log.csv" : "best.safetensors";
      g_autofree char *from = g_build_filename (run, name, NULL);
      g_autofree char *to = g_build_filename (copied, name, NULL);
      g_autofree char *bytes = NULL;
      gsize length;

      g_assert_true (g_file_get_contents (from, &bytes, &length, NULL));
      g_assert_true (g_file_set_contents (to, bytes, (gssize) length, NULL));
    }
  open_run (view, copied);
  g_assert_null (visage_train_view_get_open_error (view));
  ui_train_assert_contains (visage_train_view_get_run_text (view), "Run: 3 epochs logged");
  ui_train_assert_contains (visage_train_view_get_message (view), "no last.safetensors");
  expected = g_strdup_printf ("(lowest validation loss): epoch %d ",
                              ui_train_best_loss_epoch (copied));
  ui_train_assert_contains (visage_train_view_get_best_text (view), expected);
  g_assert_cmpstr (visage_train_view_get_best_path (view), ==, best);
}

VG_TEST ("/open-run/run", test_open_run)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autofree char *run = NULL, *expected = NULL, *best = NULL;
  VisageWindow *window;
  VisageTrainDialog *dialog;
  VisageTrainView *view;

  if ((window = ui_test_start (&app, window_settled)) == NULL)
    return;
  view = visage_window_get_train_view (window);
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "open-run"));

  run = g_build_filename (ui_fixture.scratch_dir, "run", NULL);
  dialog = ui_train_open_dialog (window);
  ui_train_set_tiny_run (dialog, run, "2");
  g_assert_true (visage_train_dialog_start (dialog));
  /* while a model trains here, no other run opens */
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "open-run"));
  g_assert_true (spin_until (ui_train_over, view));
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "open-run"));

  /* opened from its folder: finished, its curves, its best by the engine's rule */
  visage_window_set_visible_view (window, "browse");
  visage_window_open_run (window, run);
  g_assert_true (spin_until (read_done, view));
  g_assert_cmpstr (visage_window_get_visible_view (window), ==, "training");
  g_assert_null (visage_train_view_get_open_error (view));
  g_assert_cmpstr (visage_train_view_get_run_folder (view), ==, run);
  g_assert_cmpuint (visage_train_plot_get_n_points (visage_train_view_get_plot (view)), ==, 2);
  ui_train_assert_contains (visage_train_view_get_run_text (view), "finished after 2 epochs");
  ui_train_assert_contains (visage_train_view_get_message (view), "the run has finished");
  g_assert_cmpstr (visage_train_view_get_epoch_text (view), ==, "");
  expected = g_strdup_printf ("(lowest validation loss): epoch %d ",
                              ui_train_best_loss_epoch (run));
  ui_train_assert_contains (visage_train_view_get_best_text (view), expected);
  best = g_build_filename (run, "best.safetensors", NULL);
  g_assert_cmpstr (visage_train_view_get_best_path (view), ==, best);

  /* its lasting buttons: browsing with the best checkpoint */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "training.use-best", NULL));
  g_assert_true (spin_until (ui_train_browsing_best, window));
  g_assert_cmpstr (visage_window_get_visible_view (window), ==, "browse");

  check_run_elsewhere (view, run);
  check_copied_files (view, run);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- a log without a checkpoint, and bad folders ---------------------------------------- */

#define HEADER "epoch,phase,optimizer,lr,train_loss,val_loss,val_miou,seconds,images_per_s\n"

static char *
make_folder (const char *name, const char *log)
{
  char *dir = g_build_filename (ui_fixture.scratch_dir, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  if (log != NULL)
    {
      g_autofree char *path = g_build_filename (dir, "log.csv", NULL);

      g_assert_true (g_file_set_contents (path, log, -1, NULL));
    }
  return dir;
}

/* A bad folder: refused with part in the reason; the page keeps the log-only run it showed,
 * and the folder's log is as it was. */
static void
check_refused (VisageTrainView *view, const char *folder, const char *part, const char *shown)
{
  g_autofree char *path = g_build_filename (folder, "log.csv", NULL);
  g_autofree char *before = NULL, *after = NULL;

  g_file_get_contents (path, &before, NULL, NULL);
  open_run (view, folder);
  ui_train_assert_contains (visage_train_view_get_open_error (view), part);
  g_assert_cmpstr (visage_train_view_get_run_folder (view), ==, shown);
  g_assert_cmpuint (visage_train_plot_get_n_points (visage_train_view_get_plot (view)), ==, 3);
  ui_train_assert_contains (visage_train_view_get_run_text (view), "3 epochs logged");
  g_file_get_contents (path, &after, NULL, NULL);
  g_assert_cmpstr (after, ==, before);
}

VG_TEST ("/open-run/bad-folders", test_bad_folders)
{
  GtkWidget *window = gtk_window_new ();
  AdwToastOverlay *overlay = ADW_TOAST_OVERLAY (adw_toast_overlay_new ());
  VisageTrainView *view = VISAGE_TRAIN_VIEW (visage_train_view_new ());
  g_autofree char *log_only = NULL, *none = NULL, *empty = NULL, *header_only = NULL;
  g_autofree char *malformed = NULL, *cut = NULL, *binary = NULL, *missing = NULL;
  g_autofree char *not_folder = NULL;

  adw_toast_overlay_set_child (overlay, GTK_WIDGET (view));
  gtk_window_set_child (GTK_WINDOW (window), GTK_WIDGET (overlay));
  gtk_window_present (GTK_WINDOW (window));

  /* nothing shown yet: a bad folder leaves the page empty */
  none = make_folder ("no-log", NULL);
  open_run (view, none);
  ui_train_assert_contains (visage_train_view_get_open_error (view), "holds no log.csv");
  g_assert_null (visage_train_view_get_run_folder (view));
  g_assert_cmpuint (visage_train_plot_get_n_points (visage_train_view_get_plot (view)), ==, 0);

  /* a log copied without last.safetensors: its curves, its state unknown */
  log_only = make_folder ("log-only", HEADER "1,0,adam,0.001,1.5,1.4,0.30,10,50\n"
                                            "2,0,adam,0.000999,1.2,1.3,0.35,10,50\n"
                                            "3,1,sgd,0.02,1.0,1.1,0.40,10,50\n");
  open_run (view, log_only);
  g_assert_null (visage_train_view_get_open_error (view));
  g_assert_cmpstr (visage_train_view_get_run_folder (view), ==, log_only);
  g_assert_cmpuint (visage_train_plot_get_n_points (visage_train_view_get_plot (view)), ==, 3);
  g_assert_cmpuint (visage_train_plot_get_n_switches (visage_train_view_get_plot (view)), ==, 1);
  ui_train_assert_contains (visage_train_view_get_run_text (view), "Run: 3 epochs logged");
  ui_train_assert_contains (visage_train_view_get_message (view), "no last.safetensors");
  ui_train_assert_contains (visage_train_view_get_phase_text (view), "unknown");
  g_assert_null (visage_train_view_get_best_path (view));

  empty = make_folder ("empty", "");
  check_refused (view, empty, "is empty", log_only);
  header_only = make_folder ("header-only", HEADER);
  check_refused (view, header_only, "holds no finished epoch yet", log_only);
  malformed = make_folder ("malformed", HEADER "1,0,adam,0.001,1.5,1.4,0.30,10,50\n"
                                              "2,0,adam,oops,1.2,1.3,0.35,10,50\n");
  check_refused (view, malformed, "line 3 is not a row", log_only);
  cut = make_folder ("cut", HEADER "1,0,adam,0.001,1.5,1.4,0.30,10,50\n2,0,adam,0.0009");
  check_refused (view, cut, "is cut short", log_only);
  binary = make_folder ("binary", NULL);
  {
    g_autofree char *path = g_build_filename (binary, "log.csv", NULL);

    g_assert_true (g_file_set_contents (path, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, NULL));
  }
  check_refused (view, binary, "not text", log_only);
  check_refused (view, none, "holds no log.csv", log_only);
  missing = g_build_filename (ui_fixture.scratch_dir, "no-such-folder", NULL);
  check_refused (view, missing, "is not a folder", log_only);
  not_folder = g_build_filename (log_only, "log.csv", NULL);
  check_refused (view, not_folder, "is not a folder", log_only);
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char *argv[])
{
  return ui_test_main (argc, argv, "open-run", fixture_names, "data/val", TRUE);
}
