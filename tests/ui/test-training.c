/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Training from the workbench: the Train dialog checks what it is given, a tiny run on
 * four fixture images trains in the background with its news arriving in order on the
 * main thread, stops (Stop asks first), resumes from the dialog and finishes; its best
 * checkpoint is evaluated from the Training page; closing the window during a run asks
 * first; the convergence plot exports as PNG and SVG. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <adwaita.h>

#include "test-fixtures.h"
#include "vg-config.h"
#include "vg-train.h"
#include "visage-application.h"
#include "visage-train-choices.h"
#include "visage-train-dialog.h"
#include "visage-train-plot.h"
#include "visage-train-view.h"
#include "visage-window.h"
#include "ui-test-util.h"
#include "ui-train-util.h"
#include "test-register.h"

static const char *const fixture_names[] = { "0", "1", "2", "3", NULL };

static AdwMessageDialog *find_message_dialog (void);

static void
assert_blocked (VisageTrainDialog *dialog, const char *reason_part)
{
  g_assert_false (visage_train_dialog_get_can_start (dialog));
  g_assert_nonnull (visage_train_dialog_get_problem (dialog));
  g_test_message ("blocked: %s", visage_train_dialog_get_problem (dialog));
  g_assert_nonnull (strstr (visage_train_dialog_get_problem (dialog), reason_part));
  g_assert_false (visage_train_dialog_start (dialog));
}

/* FIELD set to BAD blocks Start naming REASON_PART; set back to GOOD (which may still leave
 * another field's problem). */
static void
assert_refused (VisageTrainDialog *dialog, const char *field, const char *bad,
                const char *reason_part, const char *good)
{
  ui_train_set (dialog, field, bad);
  assert_blocked (dialog, reason_part);
  ui_train_set (dialog, field, good);
}

/* ---- the dialog ------------------------------------------------------------------------- */

/* A combo row offers exactly the engine's n names (a table with no hole), in its order, each
 * under a label of its own (a missing one warns, which fails the test), then extra; the
 * name chosen is the kind the options carry (chosen: NULL for the configurations). */
static void
check_choices (VisageTrainDialog *dialog, const char *field, const VisageTrainChoices *choices,
               const char *const *names, guint n, const char *extra,
               const char *(*chosen) (const VgTrainOptions *o))
{
  g_autoptr (GListModel) items = visage_train_choices_new_model (choices);
  g_autoptr (GHashTable) labels = g_hash_table_new (g_str_hash, g_str_equal);

  g_assert_cmpuint (g_strv_length ((char **) names), ==, n);
  g_assert_cmpuint (g_list_model_get_n_items (items), ==, n + (extra != NULL));
  for (guint k = 0; k < n; k++)
    {
      const char *label = visage_train_choice_label (choices, k);

      g_assert_cmpstr (visage_train_choice_name (choices, k), ==, names[k]);
      g_assert_true (g_hash_table_add (labels, (gpointer) label));
      ui_train_set (dialog, field, names[k]);
      g_assert_cmpstr (visage_train_dialog_get_field (dialog, field), ==, names[k]);
      if (chosen != NULL)
        g_assert_cmpstr (chosen (visage_train_dialog_get_options (dialog)), ==, names[k]);
    }
  g_assert_cmpstr (visage_train_choice_name (choices, n), ==, extra);
  if (extra != NULL)
    ui_train_set (dialog, field, extra);
  g_assert_null (visage_train_choice_name (choices, n + (extra != NULL)));
  g_assert_false (visage_train_dialog_set_field (dialog, field, "no-such-choice"));
}

static const char *
chosen_loss (const VgTrainOptions *o)
{
  return vg_loss_kind_name (o->loss);
}

static const char *
chosen_optimizer (const VgTrainOptions *o)
{
  return vg_optimizer_kind_name (o->optimizer);
}

static const char *
chosen_select (const VgTrainOptions *o)
{
  return vg_select_kind_name (o->select);
}

/* The dialog offers the engine's names: the one table of each (vg-train.h, vg-config.h). */
VG_TEST ("/training/dialog-choices", test_dialog_choices)
{
  VisageTrainDialog *dialog = visage_train_dialog_new (NULL, NULL);

  check_choices (dialog, "loss", &visage_train_loss_choices, vg_loss_kind_names (),
                 VG_N_LOSS_KINDS, NULL, chosen_loss);
  check_choices (dialog, "optimizer", &visage_train_optimizer_choices,
                 vg_optimizer_kind_names (), VG_N_OPTIMIZER_KINDS, NULL, chosen_optimizer);
  check_choices (dialog, "select", &visage_train_select_choices, vg_select_kind_names (),
                 VG_N_SELECT_KINDS, NULL, chosen_select);
  check_choices (dialog, "config", &visage_train_config_choices, vg_config_names (),
                 g_strv_length ((char **) vg_config_names ()), "custom", NULL);
  gtk_window_destroy (GTK_WINDOW (dialog));
}

VG_TEST ("/training/dialog-validation", test_dialog_validation)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autofree char *out = NULL, *missing = NULL, *file = NULL;
  VisageWindow *window;
  VisageTrainDialog *dialog;
  gpointer dialog_ptr;
  gsize tiny;

  if ((window = ui_test_start (&app, window_settled)) == NULL)
    return;
  dialog = ui_train_open_dialog (window);

  /* The defaults: the open split validates, its sibling trains; the report's values. */
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "val"), ==, ui_fixture.split_dir);
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "train"), ==, ui_fixture.train_dir);
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "config"), ==, "visage-s");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "lr"), ==, "0.001");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "weight-decay"), ==, "1e-07");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "sgd-lr"), ==, "0.02");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "sgd-momentum"), ==, "0.5");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "sgd-min-lr"), ==, "0.005");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "patience"), ==, "12");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "cosine-t"), ==, "50");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "cosine-floor"), ==, "0.5");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "ema"), ==, "0");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "oversample"), ==, "0");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "batch"), ==, "8");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "epochs"), ==, "100");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "seed"), ==, "42");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "select"), ==, "loss");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "augment"), ==, "true");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "hflip"), ==, "false");
  g_assert_false (visage_train_dialog_get_resume_offered (dialog));

  out = g_build_filename (ui_fixture.scratch_dir, "dialog-run", NULL);
  ui_train_set (dialog, "out", out);
  g_assert_null (visage_train_dialog_get_problem (dialog));
  g_assert_true (visage_train_dialog_get_can_start (dialog));
  g_assert_cmpuint (visage_train_dialog_get_param_count (dialog), >, 0);
  g_assert_cmpuint (visage_train_dialog_get_param_count (dialog), <=,
                    VISAGE_TRAIN_PARAM_BUDGET);
  g_assert_false (visage_train_dialog_get_budget_warning (dialog));

  /* Each bad value blocks Start with its reason; fixing it unblocks. */
  assert_refused (dialog, "batch", "0", "batch", "4");
  g_assert_true (visage_train_dialog_get_can_start (dialog));

  missing = g_build_filename (ui_fixture.scratch_dir, "no-such-split", NULL);
  ui_train_set (dialog, "train", missing);
  assert_blocked (dialog, "does not exist");
  ui_train_set (dialog, "train", ui_fixture.scratch_dir);  /* a folder, but not a split */
  assert_blocked (dialog, "images/");
  ui_train_set (dialog, "train", "");
  assert_blocked (dialog, "training");
  ui_train_set (dialog, "train", ui_fixture.train_dir);
  g_assert_true (visage_train_dialog_get_can_start (dialog));

  assert_refused (dialog, "resolution", "100", "32", "64");

  assert_refused (dialog, "lr", "fast", "number", "1e-3");
  assert_refused (dialog, "lr", "0", "more than 0", "1e-3");
  assert_refused (dialog, "sgd-momentum", "1.5", "momentum", "0.9");
  g_assert_true (visage_train_dialog_get_can_start (dialog));
  /* the moving average, the rare-class oversampling and the cosine's floor reach the run */
  assert_refused (dialog, "ema", "1", "moving average", "0.999");
  assert_refused (dialog, "oversample", "-0.1", "oversampling", "0.1");
  assert_refused (dialog, "cosine-floor", "2", "floor", "0");
  g_assert_true (visage_train_dialog_get_can_start (dialog));
  {
    const VgTrainOptions *o = visage_train_dialog_get_options (dialog);

    g_assert_cmpfloat (o->ema, ==, 0.999);
    g_assert_cmpfloat (o->oversample, ==, 0.1);
    g_assert_cmpfloat (o->cosine_floor, ==, 0.0);
  }

  file = g_build_filename (ui_fixture.scratch_dir, "a-file", NULL);
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  ui_train_set (dialog, "out", file);
  assert_blocked (dialog, "file");
  ui_train_set (dialog, "out", "");
  assert_blocked (dialog, "output folder");
  ui_train_set (dialog, "out", out);

  /* Custom stage sizes: the count follows, and over 2,000,000 the warning shows (a
   * warning only: such a run may still start). */
  ui_train_set_tiny_stages (dialog);
  g_assert_true (visage_train_dialog_get_can_start (dialog));
  tiny = visage_train_dialog_get_param_count (dialog);
  g_assert_cmpuint (tiny, >, 0);
  {
    VgConfig cfg;

    g_assert_true (vg_config_from_name (&cfg, "visage-s", NULL));
    g_assert_true (vg_config_parse (&cfg, "widths=8,16,24,32 depths=1,1,1,1 heads=1,1,1,1 "
                                    "ratios=8,4,2,1", NULL));
    g_assert_cmpuint (tiny, ==, vg_config_count_params (&cfg));
  }
  g_assert_false (visage_train_dialog_get_budget_warning (dialog));
  ui_train_set (dialog, "widths", "64,128,320,512");
  ui_train_set (dialog, "depths", "3,4,6,3");
  ui_train_set (dialog, "heads", "1,2,5,8");
  g_assert_cmpuint (visage_train_dialog_get_param_count (dialog), >, VISAGE_TRAIN_PARAM_BUDGET);
  g_assert_true (visage_train_dialog_get_budget_warning (dialog));
  g_assert_true (visage_train_dialog_get_can_start (dialog));
  /* Heads that do not divide the widths, and a list too short. */
  ui_train_set (dialog, "heads", "3,3,3,3");
  assert_blocked (dialog, "Configuration");
  g_assert_cmpuint (visage_train_dialog_get_param_count (dialog), ==, 0);
  ui_train_set (dialog, "heads", "1,2,5");
  assert_blocked (dialog, "four");
  ui_train_set (dialog, "config", "seed");
  g_assert_true (visage_train_dialog_get_can_start (dialog));
  g_assert_cmpuint (visage_train_dialog_get_param_count (dialog), ==, 1981478);

  g_assert_false (visage_train_dialog_set_field (dialog, "no-such-field", "1"));
  g_assert_false (visage_train_dialog_set_field (dialog, "loss", "no-such-loss"));

  /* Closing it starts nothing. */
  dialog_ptr = dialog;
  g_object_add_weak_pointer (G_OBJECT (dialog), &dialog_ptr);
  gtk_window_close (GTK_WINDOW (dialog));
  g_assert_true (spin_until (is_null, &dialog_ptr));
  g_assert_false (visage_train_view_get_running (visage_window_get_train_view (window)));
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- a run ------------------------------------------------------------------------------ */

typedef struct {
  GThread *main_thread;
  int step_epoch;       /* the newest step's epoch and step */
  int step;
  int last_epoch;       /* the newest epoch record */
  int n_steps;
  int n_epochs;
  int n_progress;
  gboolean stop_at_first_epoch;
  VisageTrainView *view;
} Watch;

static void
on_step (VgService *service, const VgTrainStep *step, gpointer data)
{
  Watch *w = data;

  g_assert_true (g_thread_self () == w->main_thread);
  /* In order: never back in time, never a step of an epoch already reported done. */
  g_assert_cmpint (step->epoch, >, w->last_epoch);
  g_assert_true (step->epoch > w->step_epoch
                 || (step->epoch == w->step_epoch && step->step >= w->step));
  g_assert_cmpint (step->step, <=, step->steps);
  w->step_epoch = step->epoch;
  w->step = step->step;
  w->n_steps++;
}

/* Stop as the button does: it asks first; kept training, it goes on; confirmed, it stops. */
static void
stop_asking (VisageTrainView *view)
{
  AdwMessageDialog *question;

  g_assert_null (find_message_dialog ());
  gtk_widget_activate_action (GTK_WIDGET (view), "training.stop", NULL);
  question = find_message_dialog ();
  g_assert_nonnull (question);
  adw_message_dialog_response (question, "cancel");
  gtk_window_destroy (GTK_WINDOW (question));
  g_assert_true (visage_train_view_get_running (view));
  gtk_widget_activate_action (GTK_WIDGET (view), "training.stop", NULL);
  question = find_message_dialog ();
  g_assert_nonnull (question);
  adw_message_dialog_response (question, "stop");
  gtk_window_destroy (GTK_WINDOW (question));
}

static void
on_epoch (VgService *service, const VgServiceEpoch *record, gpointer data)
{
  Watch *w = data;

  g_assert_true (g_thread_self () == w->main_thread);
  if (w->last_epoch > 0)
    g_assert_cmpint (record->epoch.epoch, ==, w->last_epoch + 1);
  g_assert_cmpint (record->epoch.epoch, >=, w->step_epoch);
  g_assert_true (isfinite (record->epoch.train_loss));
  w->last_epoch = record->epoch.epoch;
  w->n_epochs++;
  if (w->stop_at_first_epoch)
    stop_asking (w->view);
}

static void
on_progress (VgService *service, int job, int done, int total, gpointer data)
{
  Watch *w = data;

  g_assert_true (g_thread_self () == w->main_thread);
  if (job == VG_SERVICE_JOB_TRAIN)
    {
      g_assert_cmpint (done, <=, total);
      w->n_progress++;
    }
}

static int
log_rows (const char *run)
{
  g_autofree char *path = g_build_filename (run, "log.csv", NULL);
  g_autofree char *text = NULL;
  int n = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  for (const char *p = text; *p != '\0'; p++)
    n += *p == '\n';
  return n - 1;
}

/* For spin_until: the dialog (data) has read the output folder's run. */
static gboolean
run_read (gpointer data)
{
  return !visage_train_dialog_get_reading_run (VISAGE_TRAIN_DIALOG (data));
}

static gboolean
window_evaluated_best (gpointer data)
{
  VisageWindow *window = data;
  VisageTrainView *view = visage_window_get_train_view (window);

  return visage_window_get_evaluation (window) != NULL
         && g_strcmp0 (vg_service_get_model_path (visage_window_get_service (window)),
                       visage_train_view_get_best_path (view)) == 0;
}

static AdwMessageDialog *
find_message_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* transfer none */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GObject) w = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (w) && gtk_widget_get_visible (GTK_WIDGET (w)))
        return ADW_MESSAGE_DIALOG (w);
    }
  return NULL;
}

/* For spin_until: the question that closing the window asks, into *data. */
static gboolean
question_shown (gpointer data)
{
  *(AdwMessageDialog **) data = find_message_dialog ();
  return *(AdwMessageDialog **) data != NULL;
}

static gboolean
set_true (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

/* Run the main loop until the idle work queued so far has run (the window closes from an
 * idle once the question is answered): a source of lower priority than idle comes last. */
static void
spin_idle (void)
{
  gboolean done = FALSE;

  g_idle_add_full (G_PRIORITY_LOW, set_true, &done, NULL);
  g_assert_true (spin_until (is_true, &done));
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static gboolean
is_set (gpointer data)
{
  return *(gpointer *) data != NULL;
}

static void
check_export (VisageTrainPlot *plot)
{
  g_autofree char *png = g_build_filename (ui_fixture.scratch_dir, "convergence.png", NULL);
  g_autofree char *svg = g_build_filename (ui_fixture.scratch_dir, "convergence.svg", NULL);
  g_autofree char *bad = g_build_filename (ui_fixture.scratch_dir, "no-such-folder", "plot.png",
                                          NULL);
  g_autofree char *bytes = NULL;
  g_autoptr (GdkPixbuf) pixbuf = NULL;
  g_autoptr (GError) error = NULL;
  gsize length;

  g_assert_true (visage_train_plot_export (plot, png, "png", 900, 500, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (png, &bytes, &length, NULL));
  g_assert_cmpuint (length, >, 8);
  g_assert_cmpmem (bytes, 8, "\x89PNG\r\n\x1a\n", 8);
  pixbuf = gdk_pixbuf_new_from_file (png, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, 900);
  g_assert_cmpint (gdk_pixbuf_get_height (pixbuf), ==, 500);
  g_clear_pointer (&bytes, g_free);

  g_assert_true (visage_train_plot_export (plot, svg, "svg", 900, 500, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (svg, &bytes, &length, NULL));
  g_assert_true (g_str_has_prefix (bytes, "<?xml"));
  g_assert_nonnull (strstr (bytes, "<svg"));
  g_assert_nonnull (strstr (bytes, "</svg>"));

  /* Errors are reported, not crashed on. */
  g_assert_false (visage_train_plot_export (plot, bad, "png", 900, 500, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_false (visage_train_plot_export (plot, png, "gif", 900, 500, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* Paused: the run waits between two steps, serving the other jobs (here predictions)
 * until it resumes. The pause may land before the first step or, on a busy machine,
 * after a step or more; a prediction served after the pause comes after the news of
 * every step done before it (news are delivered in order). So once one prediction is
 * back, a second one must find no further step. */
static void
check_paused_serves_jobs (VgService *service, VisageTrainView *view, const Watch *w)
{
  visage_train_view_set_paused (view, TRUE);
  g_assert_true (visage_train_view_get_paused (view));
  for (int round = 0, steps_before = 0; round < 2; round++)
    {
      g_autofree char *image = g_build_filename (ui_fixture.split_dir, "images", "0.jpg", NULL);
      g_autoptr (GAsyncResult) result = NULL;
      g_autoptr (VgPrediction) prediction = NULL;
      g_autoptr (GError) error = NULL;

      vg_service_predict_async (service, image, NULL, NULL, store_result, &result);
      g_assert_true (spin_until (is_set, &result));
      prediction = vg_service_predict_finish (service, result, &error);
      g_assert_no_error (error);
      if (round == 1)
        g_assert_cmpint (w->n_steps, ==, steps_before);
      steps_before = w->n_steps;
    }
  g_assert_true (visage_train_view_get_running (view));
  visage_train_view_set_paused (view, FALSE);
}

VG_TEST ("/training/run-stop-resume", test_run_stop_resume)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autofree char *run = NULL, *last = NULL, *epochs_text = NULL, *run2 = NULL;
  VisageWindow *window;
  VisageTrainDialog *dialog;
  VisageTrainView *view;
  VisageTrainPlot *plot;
  AdwMessageDialog *question;
  VgService *service;
  Watch w = { 0 };
  gpointer window_ptr;
  int done;

  if ((window = ui_test_start (&app, window_settled)) == NULL)
    return;
  view = visage_window_get_train_view (window);
  plot = visage_train_view_get_plot (view);
  service = visage_window_get_service (window);
  w.main_thread = g_thread_self ();
  w.view = view;
  g_signal_connect (service, "train-step", G_CALLBACK (on_step), &w);
  g_signal_connect (service, "train-epoch", G_CALLBACK (on_epoch), &w);
  g_signal_connect (service, "progress", G_CALLBACK (on_progress), &w);

  /* Start from the dialog: the Training page shows the run; a second one cannot start. */
  run = g_build_filename (ui_fixture.scratch_dir, "run", NULL);
  dialog = ui_train_open_dialog (window);
  ui_train_set_tiny_run (dialog, run, "20");
  g_assert_true (visage_train_dialog_get_can_start (dialog));
  w.stop_at_first_epoch = TRUE;
  g_assert_true (visage_train_dialog_start (dialog));
  g_assert_null (visage_window_get_train_dialog (window));
  g_assert_true (visage_train_view_get_running (view));
  g_assert_cmpstr (visage_window_get_visible_view (window), ==, "training");
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "train"));

  check_paused_serves_jobs (service, view, &w);

  /* Stopped once its first epoch is announced: last.safetensors keeps what finished. */
  g_assert_true (spin_until (ui_train_over, view));
  g_assert_cmpint (w.n_epochs, >=, 1);
  g_assert_cmpint (w.n_steps, >=, 1);
  g_assert_cmpint (w.n_progress, >=, 1);
  g_assert_cmpuint (visage_train_plot_get_n_points (plot), ==, w.n_epochs);
  g_test_message ("stopped: %s", visage_train_view_get_message (view));
  g_assert_nonnull (strstr (visage_train_view_get_message (view), "stopped"));
  g_assert_nonnull (strstr (visage_train_view_get_best_text (view), "%"));
  g_assert_nonnull (strstr (visage_train_view_get_phase_text (view), "Adam"));
  /* ended: no step or time left that no longer holds */
  g_assert_cmpstr (visage_train_view_get_epoch_text (view), ==, "");
  g_assert_nonnull (strstr (visage_train_view_get_run_text (view), "of 20"));
  last = g_build_filename (run, "last.safetensors", NULL);
  g_assert_true (g_file_test (last, G_FILE_TEST_IS_REGULAR));
  done = log_rows (run);
  g_assert_cmpint (done, >=, 1);
  g_assert_cmpint (done, <, 20);
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "train"));

  /* The first epoch's best weights, for browsing: loaded and evaluated on the open split. */
  g_assert_nonnull (visage_train_view_get_best_path (view));
  g_assert_true (g_file_test (visage_train_view_get_best_path (view), G_FILE_TEST_IS_REGULAR));
  gtk_widget_activate_action (GTK_WIDGET (view), "training.evaluate-best", NULL);
  g_assert_true (spin_until (window_evaluated_best, window));
  g_assert_cmpstr (visage_window_get_visible_view (window), ==, "evaluation");
  g_assert_cmpint (visage_window_get_evaluation (window)->metrics.n_images, ==, 4);

  /* The folder offers to resume it: a new run there is refused, the resumed one keeps the
   * run's options and only its epoch limit changes. */
  dialog = ui_train_open_dialog (window);
  ui_train_set (dialog, "out", run);
  g_assert_true (visage_train_dialog_get_reading_run (dialog));  /* on a worker */
  g_assert_true (spin_until (run_read, dialog));
  g_assert_true (visage_train_dialog_get_resume_offered (dialog));
  assert_blocked (dialog, "resume");
  ui_train_set (dialog, "resume", "true");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "epochs"), ==, "20");
  epochs_text = g_strdup_printf ("%d", done + 1);
  ui_train_set (dialog, "epochs", epochs_text);
  g_assert_true (visage_train_dialog_get_can_start (dialog));
  g_assert_true (visage_train_dialog_get_options (dialog)->resume);
  g_assert_cmpint (visage_train_dialog_get_options (dialog)->batch, ==, 2);
  g_assert_cmpint (visage_train_dialog_get_options (dialog)->resolution, ==, 64);
  w.stop_at_first_epoch = FALSE;
  w.last_epoch = done;
  /* The resumed run starts again where the checkpoint is: steps of epoch done + 1 that the
   * first run made before its stop took effect were dropped and come again (how many
   * depends on the machine's speed). */
  w.step_epoch = done;
  w.step = 0;
  g_assert_true (visage_train_dialog_start (dialog));
  /* The curves so far come back from the run's log. */
  g_assert_cmpuint (visage_train_plot_get_n_points (plot), ==, done);

  /* Closing the window while it trains asks; keeping it trains on, once the idle work
   * that a "stop" would have queued (closing the window) has had its turn. */
  visage_train_view_set_paused (view, TRUE);
  window_ptr = window;
  g_object_add_weak_pointer (G_OBJECT (window), &window_ptr);
  gtk_window_close (GTK_WINDOW (window));
  g_assert_true (spin_until (question_shown, &question));
  adw_message_dialog_response (question, "cancel");
  gtk_window_destroy (GTK_WINDOW (question));  /* as activating it from its button does */
  spin_idle ();
  g_assert_null (find_message_dialog ());
  g_assert_nonnull (window_ptr);
  g_assert_true (visage_train_view_get_running (view));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window)));
  visage_train_view_set_paused (view, FALSE);

  /* It finishes at the new limit. */
  g_assert_true (spin_until (ui_train_over, view));
  g_test_message ("finished: %s", visage_train_view_get_message (view));
  g_assert_nonnull (strstr (visage_train_view_get_message (view), "finished"));
  g_assert_cmpint (log_rows (run), ==, done + 1);
  g_assert_cmpuint (visage_train_plot_get_n_points (plot), ==, done + 1);
  g_assert_cmpint (w.last_epoch, ==, done + 1);
  visage_window_set_visible_view (window, "training");
  keep_screenshot (window, "training.png");

  check_export (plot);

  /* Closing during a run, confirmed: the run stops and the window goes. */
  run2 = g_build_filename (ui_fixture.scratch_dir, "run2", NULL);
  dialog = ui_train_open_dialog (window);
  ui_train_set_tiny_run (dialog, run2, "50");
  g_assert_true (visage_train_dialog_start (dialog));
  visage_train_view_set_paused (view, TRUE);
  gtk_window_close (GTK_WINDOW (window));
  g_assert_true (spin_until (question_shown, &question));
  g_signal_handlers_disconnect_by_data (service, &w);
  adw_message_dialog_response (question, "stop");
  g_assert_true (spin_until (is_null, &window_ptr));
}

/* ---- the plot --------------------------------------------------------------------------- */

VG_TEST ("/training/plot-log", test_plot_log)
{
  g_autofree char *log = g_build_filename (ui_fixture.scratch_dir, "log.csv", NULL);
  g_autofree char *broken = g_build_filename (ui_fixture.scratch_dir, "broken.csv", NULL);
  g_autoptr (GError) error = NULL;
  VisageTrainPlot *plot = VISAGE_TRAIN_PLOT (g_object_ref_sink (visage_train_plot_new ()));

  /* Adam for two epochs, then SGD at 0.02, halved to 0.01: two switch markers. */
  g_assert_true (g_file_set_contents (log,
    "epoch,phase,optimizer,lr,train_loss,val_loss,val_miou,seconds,images_per_s\n"
    "1,0,adam,0.001,1.5,1.4,0.30,10,50\n"
    "2,0,adam,0.000999,1.2,1.3,0.35,10,50\n"
    "3,1,sgd,0.02,1.0,1.1,0.40,10,50\n"
    "4,2,sgd,0.01,0.9,nan,0.41,10,50\n", -1, NULL));
  g_assert_true (visage_train_plot_load_log (plot, log, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (visage_train_plot_get_n_points (plot), ==, 4);
  g_assert_cmpuint (visage_train_plot_get_n_switches (plot), ==, 2);

  /* A redone epoch replaces the points from it on, and the markers after them. */
  visage_train_plot_add_epoch (plot, 3, 1.0, 1.0, 0.5);
  g_assert_cmpuint (visage_train_plot_get_n_points (plot), ==, 3);
  g_assert_cmpuint (visage_train_plot_get_n_switches (plot), ==, 1);
  check_export (plot);

  /* an empty log and a phase that is no phase number (found by reading the parser) */
  g_assert_true (g_file_set_contents (broken, "", -1, NULL));
  g_assert_false (visage_train_plot_load_log (plot, broken, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (broken,
    "epoch,phase,optimizer,lr,train_loss,val_loss,val_miou\n1,nan,adam,0.1,1,1,1\n", -1,
    NULL));
  g_assert_false (visage_train_plot_load_log (plot, broken, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (broken, "epoch,phase\n1,0\n", -1, NULL));
  g_assert_false (visage_train_plot_load_log (plot, broken, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (broken,
    "epoch,phase,optimizer,lr,train_loss,val_loss,val_miou\n1,0,adam,x,1,1,1\n", -1, NULL));
  g_assert_false (visage_train_plot_load_log (plot, broken, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  /* a last row cut short, and an epoch that does not follow the one before */
  g_assert_true (g_file_set_contents (broken,
    "epoch,phase,optimizer,lr,train_loss,val_loss,val_miou\n1,0,adam,0.1,1,1,1", -1, NULL));
  g_assert_false (visage_train_plot_load_log (plot, broken, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (broken,
    "epoch,phase,optimizer,lr,train_loss,val_loss,val_miou\n2,0,adam,0.1,1,1,1\n"
    "1,0,adam,0.1,1,1,1\n", -1, NULL));
  g_assert_false (visage_train_plot_load_log (plot, broken, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  /* none of the bad logs took what was plotted */
  g_assert_cmpuint (visage_train_plot_get_n_points (plot), ==, 3);
  g_assert_cmpuint (visage_train_plot_get_n_switches (plot), ==, 1);
  g_object_unref (plot);
}

int
main (int argc, char *argv[])
{
  return ui_test_main (argc, argv, "training", fixture_names, "data/val", TRUE);
}
