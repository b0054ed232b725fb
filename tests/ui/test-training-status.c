/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the Training page says about a run, and that it says one thing: paused, it gives no
 * time left; finished, no step or rate of a run that no longer goes on; its best checkpoint
 * is the one the engine's rule chose (best.safetensors), named by that rule, with buttons
 * that stay; a run that had finished says so when resumed; the Train dialog shows a
 * resumed run's own options, read once on a worker thread; the plot gives an epoch's
 * figures under the pointer, and a saved plot's notice opens its folder. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <adwaita.h>
#include <glib/gstdio.h>

#include "test-fixtures.h"
#include "vg-train.h"
#include "visage-application.h"
#include "visage-folder-toast.h"
#include "visage-train-dialog.h"
#include "visage-train-plot.h"
#include "visage-train-view.h"
#include "visage-window.h"
#include "ui-test-util.h"
#include "ui-train-util.h"
#include "test-register.h"

static const char *const fixture_names[] = { "0", "1", "2", "3", NULL };

/* With VISAGE_TEST_SCREENSHOTS set to a folder, a picture of widget there, for a person to
 * look at (the dialog's fields, the page's texts). */
static void
keep_widget_screenshot (GtkWidget *widget, const char *name)
{
  const char *dir = g_getenv ("VISAGE_TEST_SCREENSHOTS");
  g_autofree char *path = NULL;
  g_autoptr (GdkPaintable) paintable = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  GtkSnapshot *snapshot;
  GskRenderNode *node;
  int width, height;

  if (dir == NULL)
    return;
  spin_frames (5);
  width = gtk_widget_get_width (widget);
  height = gtk_widget_get_height (widget);
  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  gsk_render_node_unref (node);
  path = g_build_filename (dir, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

static gboolean
run_read (gpointer data)
{
  return !visage_train_dialog_get_reading_run (VISAGE_TRAIN_DIALOG (data));
}

static gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

static void
on_step (VgService *service, const VgTrainStep *step, gpointer data)
{
  *(gboolean *) data = TRUE;
}

/* Paused, the page gives no time left; running again, it does once a step is timed. */
static void
check_paused_texts (VisageTrainView *view, gboolean *stepped)
{
  g_assert_true (spin_until (is_true, stepped));
  visage_train_view_set_paused (view, TRUE);
  ui_train_assert_contains (visage_train_view_get_run_text (view), "paused");
  g_assert_null (strstr (visage_train_view_get_run_text (view), "left"));
  g_assert_null (strstr (visage_train_view_get_epoch_text (view), "images/s"));
  spin_for (300);
  g_assert_null (strstr (visage_train_view_get_run_text (view), "left"));
  keep_widget_screenshot (gtk_widget_get_ancestor (GTK_WIDGET (view), GTK_TYPE_WINDOW),
                          "training-paused.png");
  visage_train_view_set_paused (view, FALSE);
  g_assert_null (strstr (visage_train_view_get_run_text (view), "paused"));
}

/* The finished run's folder in the Train dialog: its own options in the fields, and a
 * limit that must rise before it can go on. */
static void
check_dialog_resume (VisageWindow *window, const char *run)
{
  VisageTrainDialog *dialog = ui_train_open_dialog (window);

  ui_train_set (dialog, "out", run);
  g_assert_true (visage_train_dialog_get_reading_run (dialog));
  g_assert_false (visage_train_dialog_get_can_start (dialog));
  g_assert_true (spin_until (run_read, dialog));
  g_assert_true (visage_train_dialog_get_resume_offered (dialog));
  /* the defaults show until Resume is on (the run's: 64 and 2) */
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "batch"), ==, "8");
  ui_train_set (dialog, "resume", "true");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "resolution"), ==, "64");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "batch"), ==, "2");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "config"), ==, "custom");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "widths"), ==, "8,16,24,32");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "epochs"), ==, "2");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "select"), ==, "loss");
  g_assert_false (visage_train_dialog_get_can_start (dialog));
  ui_train_assert_contains (visage_train_dialog_get_problem (dialog), "raise the epoch limit");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "depths"), ==, "1,1,1,1");
  keep_widget_screenshot (GTK_WIDGET (dialog), "train-dialog-resume.png");
  ui_train_set (dialog, "epochs", "3");
  g_assert_true (visage_train_dialog_get_can_start (dialog));
  g_assert_cmpint (visage_train_dialog_get_options (dialog)->resolution, ==, 64);
  /* another keystroke reads nothing again */
  ui_train_set (dialog, "epochs", "4");
  g_assert_false (visage_train_dialog_get_reading_run (dialog));
  gtk_window_destroy (GTK_WINDOW (dialog));
}

VG_TEST ("/training-status/run", test_run_status)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autofree char *run = NULL, *expected = NULL;
  g_autoptr (GError) error = NULL;
  VisageWindow *window;
  VisageTrainDialog *dialog;
  VisageTrainView *view;
  VgTrainOptions options;
  gboolean stepped = FALSE;
  int best;

  if ((window = ui_test_start (&app, window_settled)) == NULL)
    return;
  view = visage_window_get_train_view (window);
  g_signal_connect (visage_window_get_service (window), "train-step", G_CALLBACK (on_step),
                    &stepped);
  g_assert_null (visage_train_view_get_best_path (view));

  run = g_build_filename (ui_fixture.scratch_dir, "run", NULL);
  dialog = ui_train_open_dialog (window);
  ui_train_set_tiny_run (dialog, run, "2");
  g_assert_true (visage_train_dialog_start (dialog));
  ui_train_assert_contains (visage_train_view_get_best_text (view), "none yet");
  check_paused_texts (view, &stepped);

  /* Finished: the bars say so, with no step, speed or time left. */
  g_assert_true (spin_until (ui_train_over, view));
  ui_train_assert_contains (visage_train_view_get_message (view), "finished");
  ui_train_assert_contains (visage_train_view_get_run_text (view), "finished after 2 epochs");
  g_assert_cmpstr (visage_train_view_get_epoch_text (view), ==, "");
  ui_train_assert_contains (visage_train_view_get_phase_text (view), "Last phase");

  /* The best: the engine's rule (the lowest validation loss), named, at its epoch. */
  best = ui_train_best_loss_epoch (run);
  g_assert_cmpint (best, >=, 1);
  expected = g_strdup_printf ("(lowest validation loss): epoch %d ", best);
  ui_train_assert_contains (visage_train_view_get_best_text (view), expected);
  g_assert_true (g_file_test (visage_train_view_get_best_path (view), G_FILE_TEST_IS_REGULAR));
  visage_window_set_visible_view (window, "training");
  keep_widget_screenshot (GTK_WIDGET (window), "training-finished.png");

  /* Its buttons stay after the notices: browsing with it. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "training.use-best", NULL));
  g_assert_true (spin_until (ui_train_browsing_best, window));
  g_assert_cmpstr (visage_window_get_visible_view (window), ==, "browse");

  check_dialog_resume (window, run);

  /* Resumed at its limit, it had finished: it says so, and keeps its best. */
  g_assert_true (vg_train_options_load (&options, run, &error));
  g_assert_no_error (error);
  g_assert_true (visage_train_view_start (view, &options));
  ui_train_assert_contains (visage_train_view_get_best_text (view), expected);
  g_assert_true (spin_until (ui_train_over, view));
  ui_train_assert_contains (visage_train_view_get_message (view), "already");
  ui_train_assert_contains (visage_train_view_get_run_text (view), "had finished already");
  ui_train_assert_contains (visage_train_view_get_best_text (view), expected);
  g_assert_nonnull (visage_train_view_get_best_path (view));
  vg_train_options_clear (&options);
  g_signal_handlers_disconnect_by_data (visage_window_get_service (window), &stepped);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* The choices that were cut ("Weighted cross-entrop…") read in full; the parameter count
 * has separators. */
VG_TEST ("/training-status/dialog-labels", test_dialog_labels)
{
  VisageTrainDialog *dialog = visage_train_dialog_new (NULL, NULL);
  g_autofree char *count = NULL;

  gtk_window_set_default_size (GTK_WINDOW (dialog), 600, 1150);
  ui_train_set (dialog, "loss", "weighted-ce-dice-present");
  ui_train_set (dialog, "optimizer", "pipeline");
  ui_train_set (dialog, "config", "seed");
  gtk_window_present (GTK_WINDOW (dialog));
  count = visage_train_dialog_get_param_text (dialog);
  g_assert_cmpstr (count, ==, "1,981,478");
  keep_widget_screenshot (GTK_WIDGET (dialog), "train-dialog.png");
  gtk_window_destroy (GTK_WINDOW (dialog));
}

/* Under the pointer, the nearest epoch's figures; away from every epoch, nothing. */
VG_TEST ("/training-status/plot-hover", test_plot_hover)
{
  GtkWidget *window = gtk_window_new ();
  VisageTrainPlot *plot = VISAGE_TRAIN_PLOT (visage_train_plot_new ());
  g_autofree char *outside = NULL;
  gboolean found = FALSE;
  int width;

  gtk_window_set_default_size (GTK_WINDOW (window), 700, 400);
  gtk_window_set_child (GTK_WINDOW (window), GTK_WIDGET (plot));
  visage_train_plot_add_epoch (plot, 1, 1.5, 1.4, 0.30);
  visage_train_plot_add_epoch (plot, 2, 1.2, 1.3, 0.3518);
  visage_train_plot_add_epoch (plot, 3, 1.0, NAN, 0.40);
  gtk_window_present (GTK_WINDOW (window));
  spin_frames (10);
  width = gtk_widget_get_width (GTK_WIDGET (plot));
  g_assert_cmpint (width, >, 300);

  for (int x = 0; x < width; x++)
    {
      g_autofree char *text = visage_train_plot_describe_at (plot, x);

      if (text != NULL && g_str_has_prefix (text, "Epoch 2\n"))
        {
          found = TRUE;
          ui_train_assert_contains (text, "Training loss 1.2000");
          ui_train_assert_contains (text, "Validation loss 1.3000");
          ui_train_assert_contains (text, "Validation mIoU 35.18%");
        }
      if (text != NULL && g_str_has_prefix (text, "Epoch 3\n"))
        ui_train_assert_contains (text, "Validation loss –");
    }
  g_assert_true (found);
  outside = visage_train_plot_describe_at (plot, 2);  /* in the left axis' margin */
  g_assert_null (outside);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* A saved file's notice names its folder and opens it. */
/* The desktop's handler of folders, for this test: a script that leaves a file in the
 * folder it is given (GIO finds it in XDG_DATA_HOME, the scratch folder). */
static char *
install_folder_opener (void)
{
  g_autofree char *apps = g_build_filename (ui_fixture.scratch_dir, "applications", NULL);
  g_autofree char *script = g_build_filename (ui_fixture.scratch_dir, "open-folder.sh", NULL);
  g_autofree char *desktop = g_build_filename (apps, "visage-test-opener.desktop", NULL);
  g_autofree char *mimeapps = g_build_filename (apps, "mimeapps.list", NULL);
  g_autofree char *entry = g_strdup_printf ("[Desktop Entry]\nType=Application\n"
                                            "Name=Test Opener\nExec=%s %%f\n"
                                            "MimeType=inode/directory;\n", script);

  g_assert_cmpint (g_mkdir_with_parents (apps, 0700), ==, 0);
  g_assert_true (g_file_set_contents (script, "#!/bin/sh\ntouch \"$1/opened\"\n", -1, NULL));
  g_assert_cmpint (g_chmod (script, 0700), ==, 0);
  g_assert_true (g_file_set_contents (desktop, entry, -1, NULL));
  g_assert_true (g_file_set_contents (mimeapps, "[Default Applications]\n"
                                      "inode/directory=visage-test-opener.desktop\n", -1,
                                      NULL));
  return g_build_filename (ui_fixture.scratch_dir, "exports", NULL);
}

static gboolean
file_exists (gpointer data)
{
  return g_file_test (data, G_FILE_TEST_EXISTS);
}

/* A saved file's notice names its folder, and its button opens that folder with the
 * desktop's handler. */
VG_TEST ("/training-status/folder-toast", test_folder_toast)
{
  AdwToastOverlay *overlay = ADW_TOAST_OVERLAY (g_object_ref_sink (adw_toast_overlay_new ()));
  g_autofree char *folder = install_folder_opener ();
  g_autofree char *file = g_build_filename (folder, "convergence.png", NULL);
  g_autofree char *opened = g_build_filename (folder, "opened", NULL);
  AdwToast *toast;

  g_assert_cmpint (g_mkdir_with_parents (folder, 0700), ==, 0);
  toast = visage_folder_toast_show (overlay, "Plot saved as convergence.png", file);
  g_assert_cmpstr (visage_folder_toast_get_folder (toast), ==, folder);
  g_assert_cmpstr (adw_toast_get_button_label (toast), ==, "Open _Folder");
  g_signal_emit_by_name (toast, "button-clicked");
  g_assert_true (ui_spin_until_timeout (file_exists, opened, 20));
  toast = visage_folder_toast_show (overlay, "Exported 3 files", ui_fixture.scratch_dir);
  g_assert_cmpstr (visage_folder_toast_get_folder (toast), ==, ui_fixture.scratch_dir);
  g_object_unref (overlay);
}

int
main (int argc, char *argv[])
{
  return ui_test_main (argc, argv, "training-status", fixture_names, "data/val", TRUE);
}
