/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The workbench and the models of every architecture: the preference "Model for Parsing"
 * (win.parsing-model, the Preferences window's row) switches the shipped model the
 * workbench parses with between visage-s and visage-fast (fakes of both in
 * VISAGE_MODELS_DIR), and back, until a model is opened by name; without visage-fast the
 * row is insensitive and says why, and speed is refused. A U-Net, a DeepLabV3+ and a
 * Fast-SCNN model file each open, predict the image shown (the labels of that model, as
 * computed here), and the title's tooltip names the architecture and parameter count; the
 * Train dialog offers them under their names, without the SegFormer's stage sizes, and
 * trains a Fast-SCNN whose best weights open, and whose run it resumes as a Fast-SCNN. */
#include "config.h"

#include <string.h>

#include <adwaita.h>
#include <glib/gstdio.h>

#include "app/cli-model.h"
#include "test-fixtures.h"
#include "test-register.h"
#include "visage-format.h"
#include "visage-image-view.h"
#include "visage-overlay-area.h"
#include "visage-preferences.h"
#include "visage-train-choices.h"
#include "visage-train-dialog.h"
#include "visage-train-view.h"
#include "ui-train-util.h"
#include "ui-test-util.h"

static const char *const fixture_names[] = { "0", "1", NULL };
static char *no_models_dir; /* VISAGE_MODELS_DIR as the test program found it */

/* VISAGE_MODELS_DIR as it was before a test set its own. */
static void
restore_models_dir (void)
{
  if (no_models_dir != NULL)
    g_setenv ("VISAGE_MODELS_DIR", no_models_dir, TRUE);
  else
    g_unsetenv ("VISAGE_MODELS_DIR");
}

/* The labels model_path predicts for the split's image 0, computed in this process. */
static guint8 *
labels_of (const char *model_path, int *height, int *width)
{
  g_autofree char *image_path = g_build_filename (ui_fixture.split_dir, "images", "0.jpg",
                                                  NULL);

  return predict_here (model_path, image_path, height, width);
}

typedef struct {
  VisageWindow *window;
  const char *model_path;  /* the model expected loaded */
  const guint8 *labels;    /* and the labels expected shown (height x width) */
  gsize n_pixels;
} Expected;

/* For spin_until: the window has settled with the expected model, showing its labels. */
static gboolean
shows_prediction_of (gpointer data)
{
  Expected *e = data;
  VisageImageView *view = visage_window_get_image_view (e->window);
  const guint8 *shown = visage_overlay_area_get_labels (visage_image_view_get_area (view));

  return window_settled (e->window)
         && g_strcmp0 (vg_service_get_model_path (visage_window_get_service (e->window)),
                       e->model_path) == 0
         && shown != NULL && memcmp (shown, e->labels, e->n_pixels) == 0;
}

/* Wait until window shows the prediction of model_path (labels: its labels of image 0). */
static void
expect_model (VisageWindow *window, const char *model_path, const guint8 *labels,
              gsize n_pixels)
{
  Expected e = { window, model_path, labels, n_pixels };

  if (!spin_until (shows_prediction_of, &e))
    g_error ("the workbench does not show the prediction of %s (it has %s)", model_path,
             vg_service_get_model_path (visage_window_get_service (window)));
}

/* The Preferences window that win.preferences opened, or NULL. */
static VisagePreferences *
find_preferences (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GObject) window = g_list_model_get_item (toplevels, i);

      if (VISAGE_IS_PREFERENCES (window))
        return VISAGE_PREFERENCES (window);
    }
  return NULL;
}

static VisagePreferences *
open_preferences (VisageWindow *window)
{
  VisagePreferences *preferences;

  g_action_group_activate_action (G_ACTION_GROUP (window), "preferences", NULL);
  spin_frames (3);
  preferences = find_preferences ();
  g_assert_nonnull (preferences);
  return preferences;
}

static char *
parsing_state (VisageWindow *window)
{
  g_autoptr (GVariant) state = g_action_group_get_action_state (G_ACTION_GROUP (window),
                                                                "parsing-model");

  return g_variant_dup_string (state, NULL);
}

/* A folder of shipped models for VISAGE_MODELS_DIR: a tiny SegFormer as visage-s and, with
 * fast, a Fast-SCNN as visage-fast. */
static char *
models_dir (const char *name, gboolean fast, char **accurate_path, char **fast_path)
{
  char *dir = g_build_filename (ui_fixture.scratch_dir, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  *accurate_path = vg_test_write_tiny_model (dir, "visage-s.safetensors", 3, 64);
  *fast_path = fast ? vg_test_write_model_of (dir, "visage-fast.safetensors", "fastscnn", NULL,
                                              5, 64)
                    : NULL;
  g_setenv ("VISAGE_MODELS_DIR", dir, TRUE);
  return dir;
}

/* A new application whose window has the fixture split open. */
static VisageWindow *
open_window (VisageApplication **app)
{
  VisageWindow *window;

  *app = new_app ();
  g_application_activate (G_APPLICATION (*app));
  window = VISAGE_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (*app)));
  g_assert_nonnull (window);
  visage_window_open_split (window, ui_fixture.split_dir);
  return window;
}

VG_TEST ("/shipped-models/parsing-preference", test_parsing_preference)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);
  g_autofree char *dir = NULL, *accurate = NULL, *fast = NULL, *state = NULL;
  g_autofree guint8 *accurate_labels = NULL, *fast_labels = NULL, *named_labels = NULL;
  VisagePreferences *preferences;
  AdwComboRow *row;
  VisageWindow *window;
  int h, w;
  gsize n;

  if (ui_test_skip_without (ui_fixture.split_dir))
    return;
  dir = models_dir ("models-both", TRUE, &accurate, &fast);
  accurate_labels = labels_of (accurate, &h, &w);
  fast_labels = labels_of (fast, &h, &w);
  named_labels = labels_of (ui_fixture.model_path, &h, &w);
  n = (gsize) h * w;
  /* Otherwise the test could not tell the models apart. */
  g_assert_cmpint (memcmp (accurate_labels, fast_labels, n), !=, 0);
  g_assert_cmpint (memcmp (named_labels, fast_labels, n), !=, 0);

  window = open_window (&app);
  g_assert_true (visage_window_load_bundled_model (window));
  expect_model (window, accurate, accurate_labels, n);

  /* the row: sensitive, on accuracy; choosing speed loads visage-fast, and is kept */
  preferences = open_preferences (window);
  row = visage_preferences_get_parsing_row (preferences);
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (row)));
  g_assert_cmpuint (adw_combo_row_get_selected (row), ==, 0);
  adw_combo_row_set_selected (row, 1);
  expect_model (window, fast, fast_labels, n);
  state = g_settings_get_string (settings, "parsing-model");
  g_assert_cmpstr (state, ==, "speed");
  g_clear_pointer (&state, g_free);

  /* and back, through the action: the row follows */
  visage_window_set_parsing_model (window, "accuracy");
  expect_model (window, accurate, accurate_labels, n);
  g_assert_cmpuint (adw_combo_row_get_selected (row), ==, 0);
  state = g_settings_get_string (settings, "parsing-model");
  g_assert_cmpstr (state, ==, "accuracy");
  g_clear_pointer (&state, g_free);

  /* a model opened by name stays when the preference changes */
  visage_window_load_model (window, ui_fixture.model_path);
  expect_model (window, ui_fixture.model_path, named_labels, n);
  adw_combo_row_set_selected (row, 1);
  spin_frames (5);
  g_assert_true (spin_until (window_settled, window));
  g_assert_cmpstr (vg_service_get_model_path (visage_window_get_service (window)), ==,
                   ui_fixture.model_path);
  state = parsing_state (window);
  g_assert_cmpstr (state, ==, "speed");

  gtk_window_destroy (GTK_WINDOW (preferences));
  ui_destroy_window (window);
  g_settings_reset (settings, "parsing-model");
  restore_models_dir ();
}

VG_TEST ("/shipped-models/fast-not-installed", test_fast_not_installed)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);
  g_autofree char *dir = NULL, *accurate = NULL, *fast = NULL, *state = NULL;
  g_autofree guint8 *accurate_labels = NULL;
  VisagePreferences *preferences;
  AdwComboRow *row;
  VisageWindow *window;
  int h, w;

  if (ui_test_skip_without (ui_fixture.split_dir))
    return;
  dir = models_dir ("models-accurate", FALSE, &accurate, &fast);
  accurate_labels = labels_of (accurate, &h, &w);
  /* speed preferred in an earlier session, when visage-fast was installed */
  g_settings_set_string (settings, "parsing-model", "speed");

  window = open_window (&app);
  g_assert_true (visage_window_load_bundled_model (window));
  expect_model (window, accurate, accurate_labels, (gsize) h * w);
  state = parsing_state (window);
  g_assert_cmpstr (state, ==, "accuracy");
  g_clear_pointer (&state, g_free);

  preferences = open_preferences (window);
  row = visage_preferences_get_parsing_row (preferences);
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (row)));
  g_assert_cmpuint (adw_combo_row_get_selected (row), ==, 0);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                            "visage-fast"));
  visage_window_set_parsing_model (window, "speed");
  state = parsing_state (window);
  g_assert_cmpstr (state, ==, "accuracy");

  gtk_window_destroy (GTK_WINDOW (preferences));
  ui_destroy_window (window);
  g_settings_reset (settings, "parsing-model");
  restore_models_dir ();
}

/* Each baseline's model file opens and predicts; the tooltip says what it is. */
VG_TEST ("/shipped-models/open-baselines", test_open_baselines)
{
  static const struct { const char *config, *arch; guint64 params; } baselines[] = {
    { "unet", "U-Net", 1941411 },
    { "deeplabv3plus", "DeepLabV3+", 1964394 },
    { "fastscnn", "Fast-SCNN", 1154435 },
  };
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;

  if (ui_test_skip_without (ui_fixture.split_dir))
    return;
  window = open_window (&app);
  for (gsize i = 0; i < G_N_ELEMENTS (baselines); i++)
    {
      g_autofree char *file = g_strconcat (baselines[i].config, ".safetensors", NULL);
      g_autofree char *path = vg_test_write_model_of (ui_fixture.scratch_dir, file,
                                                      baselines[i].config, NULL, 7, 64);
      g_autofree guint8 *labels = NULL;
      g_autofree char *count = visage_format_count (baselines[i].params);
      const char *tooltip;
      GtkWidget *title;
      int h, w;

      labels = labels_of (path, &h, &w);
      visage_window_load_model (window, path);
      expect_model (window, path, labels, (gsize) h * w);
      title = find_widget (GTK_WIDGET (window), ADW_TYPE_VIEW_SWITCHER_TITLE, NULL);
      g_assert_nonnull (title);
      tooltip = gtk_widget_get_tooltip_text (title);
      g_assert_nonnull (tooltip);
      g_test_message ("%s", tooltip);
      g_assert_nonnull (strstr (tooltip, path));
      g_assert_nonnull (strstr (tooltip, baselines[i].arch));
      g_assert_nonnull (strstr (tooltip, count));
    }
  ui_destroy_window (window);
}

/* The Train dialog offers the baselines under their architectures' names, with their
 * parameter counts, and without the SegFormer's stage sizes (which only Custom shows). */
VG_TEST ("/shipped-models/train-dialog-baselines", test_train_dialog_baselines)
{
  static const struct { const char *config, *label; gsize params; } baselines[] = {
    { "unet", "U-Net (the report’s)", 1941411 },
    { "deeplabv3plus", "DeepLabV3+ (the report’s)", 1964394 },
    { "fastscnn", "Fast-SCNN (the report’s)", 1154435 },
  };
  VisageTrainDialog *dialog = visage_train_dialog_new (NULL, NULL);
  GtkWidget *widths = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (dialog),
                                                                 VISAGE_TYPE_TRAIN_DIALOG,
                                                                 "widths_row"));
  const char *const *names = vg_config_names ();

  g_assert_nonnull (widths);
  for (gsize i = 0; i < G_N_ELEMENTS (baselines); i++)
    {
      guint k = 0;

      while (names[k] != NULL && !g_str_equal (names[k], baselines[i].config))
        k++;
      g_assert_nonnull (names[k]);
      g_assert_cmpstr (visage_train_choice_label (&visage_train_config_choices, k), ==,
                       baselines[i].label);
      g_assert_true (visage_train_dialog_set_field (dialog, "config", baselines[i].config));
      g_assert_cmpuint (visage_train_dialog_get_param_count (dialog), ==, baselines[i].params);
      g_assert_false (gtk_widget_get_visible (widths));
    }
  g_assert_true (visage_train_dialog_set_field (dialog, "config", "custom"));
  g_assert_true (gtk_widget_get_visible (widths));
  gtk_window_destroy (GTK_WINDOW (dialog));
}

static gboolean
run_read (gpointer data)
{
  return !visage_train_dialog_get_reading_run (VISAGE_TRAIN_DIALOG (data));
}

/* A Fast-SCNN trained from the Train dialog: its best weights open and predict, and the
 * dialog on its folder resumes it as fastscnn (not as a custom SegFormer). */
VG_TEST ("/shipped-models/train-fastscnn", test_train_fastscnn)
{
  g_autoptr (VisageApplication) app = NULL;
  g_autofree char *run = NULL, *best = NULL;
  g_autofree guint8 *labels = NULL;
  VisageTrainDialog *dialog;
  VisageTrainView *view;
  VisageWindow *window;
  GtkWidget *widths;
  int h, w;

  if ((window = ui_test_start (&app, window_settled)) == NULL)
    return;
  view = visage_window_get_train_view (window);
  run = g_build_filename (ui_fixture.scratch_dir, "fastscnn-run", NULL);
  dialog = ui_train_open_dialog (window);
  ui_train_set (dialog, "train", ui_fixture.train_dir);
  ui_train_set (dialog, "out", run);
  ui_train_set (dialog, "config", "fastscnn");
  ui_train_set (dialog, "resolution", "64");
  ui_train_set (dialog, "batch", "2");
  ui_train_set (dialog, "epochs", "1");
  g_assert_true (visage_train_dialog_get_can_start (dialog));
  g_assert_cmpint (visage_train_dialog_get_options (dialog)->config.arch, ==, VG_ARCH_FASTSCNN);
  g_assert_true (visage_train_dialog_start (dialog));
  g_assert_true (spin_until (ui_train_over, view));
  g_test_message ("%s", visage_train_view_get_message (view));

  best = g_build_filename (run, "best.safetensors", NULL);
  g_assert_true (g_file_test (best, G_FILE_TEST_IS_REGULAR));
  labels = labels_of (best, &h, &w);
  visage_window_load_model (window, best);
  expect_model (window, best, labels, (gsize) h * w);
  g_assert_cmpint (vg_service_get_model_config (visage_window_get_service (window))->arch, ==,
                   VG_ARCH_FASTSCNN);

  dialog = ui_train_open_dialog (window);
  widths = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (dialog),
                                                      VISAGE_TYPE_TRAIN_DIALOG, "widths_row"));
  ui_train_set (dialog, "config", "custom");
  ui_train_set (dialog, "out", run);
  g_assert_true (spin_until (run_read, dialog));
  g_assert_true (visage_train_dialog_get_resume_offered (dialog));
  ui_train_set (dialog, "resume", "true");
  g_assert_cmpstr (visage_train_dialog_get_field (dialog, "config"), ==, "fastscnn");
  g_assert_false (gtk_widget_get_visible (widths));
  ui_train_set (dialog, "epochs", "2");
  g_assert_true (visage_train_dialog_get_can_start (dialog));
  g_assert_cmpint (visage_train_dialog_get_options (dialog)->config.arch, ==, VG_ARCH_FASTSCNN);
  gtk_window_destroy (GTK_WINDOW (dialog));
  ui_destroy_window (window);
}

int
main (int argc, char **argv)
{
  g_autofree char *saved = g_strdup (g_getenv ("VISAGE_MODELS_DIR"));

  no_models_dir = saved;
  return ui_test_main (argc, argv, "shipped-models", fixture_names, "split", TRUE);
}
