/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the ui tests share: running the main loop until something holds, a fresh
 * application, the set-up every ui test program does first (the fixture: a split and a
 * model; the window with them opened), widgets found by type, the gallery's samples as
 * sets, and pictures of windows for a person to look at. */
#pragma once

#include <stdarg.h>
#include <stdio.h>

#include <adwaita.h>

#include "test-common.h"
#include "test-fixtures.h"
#include "test-register.h"
#include "visage-application.h"
#include "visage-gallery.h"
#include "visage-sample.h"
#include "visage-window.h"

/* Iterate the main loop until done (data) or the timeout; returns done (data). */
static inline gboolean
ui_spin_until_timeout (gboolean (*done) (gpointer), gpointer data, int seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;

  while (!done (data) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  return done (data);
}

static inline gboolean
spin_until (gboolean (*done) (gpointer), gpointer data)
{
  return ui_spin_until_timeout (done, data, 120);
}

/* Iterate the main loop for ms milliseconds. */
static inline void
spin_for (int ms)
{
  gint64 until = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, FALSE);
}

/* A few frames' worth of main-loop iterations, for layout, drawing and idle work. */
static inline void
spin_frames (int n)
{
  spin_for (20 * n);
}

/* For spin_until: the pointer at data has been cleared (a weak pointer). */
static inline gboolean
is_null (gpointer data)
{
  return *(gpointer *) data == NULL;
}

static inline gboolean
window_evaluated (gpointer data)
{
  return visage_window_get_evaluation (VISAGE_WINDOW (data)) != NULL;
}

/* For spin_until: the window (data) is shown and none of its jobs is under way. */
static inline gboolean
window_settled (gpointer data)
{
  VisageWindow *window = data;

  return gtk_widget_get_mapped (GTK_WIDGET (window)) && !visage_window_get_busy (window);
}

/* For spin_until: settled, with the annotation (the mask to correct) of the image shown. */
static inline gboolean
window_annotation_ready (gpointer data)
{
  return window_settled (data) && visage_window_get_annotation (VISAGE_WINDOW (data)) != NULL;
}

/* The mask being corrected in the window. */
static inline VgMaskEdit *
window_edit (VisageWindow *window)
{
  VisageAnnotation *annotation = visage_window_get_annotation (window);

  g_assert_nonnull (annotation);
  return visage_annotation_get_edit (annotation);
}

/* Destroy the window and wait until it is finalized. */
static inline void
ui_destroy_window (VisageWindow *window)
{
  gpointer ptr = window;

  g_object_add_weak_pointer (G_OBJECT (window), &ptr);
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_true (spin_until (is_null, &ptr));
}

/* The first widget under root (root included) of the type (and, for a label, with that
 * text; NULL: any), or NULL. */
static inline GtkWidget *
find_widget (GtkWidget *root, GType type, const char *label)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type)
      && (label == NULL || g_strcmp0 (gtk_label_get_label (GTK_LABEL (root)), label) == 0))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, type, label);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The samples the gallery shows, by index (bit i: sample i). */
static inline guint64
shown_set (VisageGallery *gallery)
{
  GListModel *shown = visage_gallery_get_shown (gallery);
  guint64 set = 0;

  for (guint i = 0; i < g_list_model_get_n_items (shown); i++)
    {
      g_autoptr (VisageSample) sample = g_list_model_get_item (shown, i);

      set |= G_GUINT64_CONSTANT (1) << visage_sample_get_index (sample);
    }
  return set;
}

/* The images whose truth has pixels of class truth predicted as predicted (bit i: image i),
 * from the evaluation's own per-image confusions. */
static inline guint64
cell_set (const VgEvaluation *evaluation, int truth, int predicted)
{
  guint64 set = 0;

  for (int i = 0; i < evaluation->metrics.n_images; i++)
    if (evaluation->images[i].confusion.counts[truth][predicted] > 0)
      set |= G_GUINT64_CONSTANT (1) << i;
  return set;
}

/* The window's surface (the widget lies inside it, less the decoration's resize edges). */
static inline int
surface_width (VisageWindow *window)
{
  return gdk_surface_get_width (gtk_native_get_surface (GTK_NATIVE (window)));
}

static inline int
surface_height (VisageWindow *window)
{
  return gdk_surface_get_height (gtk_native_get_surface (GTK_NATIVE (window)));
}

/* For spin_until: the window has its default size (at least the 800x600 minimum). */
static inline gboolean
window_sized (gpointer data)
{
  VisageWindow *window = data;
  int width, height;

  gtk_window_get_default_size (GTK_WINDOW (window), &width, &height);
  return surface_width (window) == MAX (width, 800)
         && surface_height (window) == MAX (height, 600);
}

/* The window made width x height (as a person would resize it), a few frames drawn. */
static inline void
ui_resize_window (VisageWindow *window, int width, int height)
{
  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  if (!ui_spin_until_timeout (window_sized, window, 10))
    g_test_message ("asked for %dx%d, the window is %dx%d", width, height,
                    surface_width (window), surface_height (window));
  spin_frames (3);
}

/* A registered application that opens nothing by itself (the tests say what to open). */
static inline VisageApplication *
new_app (void)
{
  g_autoptr (GSettings) settings = g_settings_new (APP_ID);  /* the memory backend's */
  VisageApplication *app = visage_application_new (G_APPLICATION_NON_UNIQUE);
  g_autoptr (GError) error = NULL;

  g_settings_set_boolean (settings, "restore-session", FALSE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  return app;
}

/* The start of a ui test program: without a display it skips (or fails under CI); else it
 * makes *scratch_dir (a temporary folder, made XDG_CACHE_HOME and XDG_DATA_HOME before
 * GLib reads them) and initialises GTK and libadwaita. Returns -1 to go on, else the exit
 * status. */
static inline int
ui_test_init (int *argc, char ***argv, const char *name, char **scratch_dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *pattern = g_strdup_printf ("visage-%s-XXXXXX", name);

  if (g_getenv ("DISPLAY") == NULL && g_getenv ("WAYLAND_DISPLAY") == NULL)
    {
      if (g_getenv ("CI") != NULL)
        {
          g_printerr ("no display under CI: run the ui suite under xvfb-run -a\n");
          return 1;
        }
      printf ("1..0 # SKIP no display (run under xvfb-run -a)\n");
      return 0;
    }
  *scratch_dir = g_dir_make_tmp (pattern, &error);
  g_assert_no_error (error);
  g_setenv ("XDG_CACHE_HOME", *scratch_dir, TRUE);
  g_setenv ("XDG_DATA_HOME", *scratch_dir, TRUE);
  gtk_test_init (argc, argv, NULL);
  adw_init ();
  return -1;
}

/* Whether the tests that need ../shared run: always under CI (where vg_test_shared_path
 * fails when it is missing), else when it is there. */
static inline gboolean
ui_test_have_shared (void)
{
  const char *shared = g_getenv ("VISAGE_SHARED_DIR");

  return g_getenv ("CI") != NULL
         || g_file_test (shared != NULL ? shared : "", G_FILE_TEST_IS_DIR);
}

/* Skip the test (TRUE) when the split it needs was not made (NULL: ../shared is absent). */
static inline gboolean
ui_test_skip_without (const char *split_dir)
{
  if (split_dir == NULL)
    g_test_skip ("../shared is not present");
  return split_dir == NULL;
}

/* A split of the images named from ../shared/celebamask/SPLIT, made of links in
 * scratch_dir/SUB; NULL where the tests that need ../shared do not run. */
static inline char *
ui_test_link_split (const char *scratch_dir, const char *sub, const char *split,
                    const char *const *names)
{
  char *dir;

  if (!ui_test_have_shared ())
    return NULL;
  dir = g_build_filename (scratch_dir, sub, NULL);
  g_assert_true (vg_test_link_split_names (dir, split, names));
  return dir;
}

/* g_test_run, then the scratch folder removed and the paths (char **, NULL-terminated,
 * scratch_dir among them) freed; the exit status. */
static inline int
ui_test_run (char **scratch_dir, ...)
{
  int status = g_test_run ();
  va_list ap;

  vg_test_rm_rf (*scratch_dir);
  va_start (ap, scratch_dir);
  for (char **path = scratch_dir; path != NULL; path = va_arg (ap, char **))
    g_clear_pointer (path, g_free);
  va_end (ap);
  return status;
}

/* The fixture of a ui test program, made by its main () (most by ui_test_main) for the
 * file's VG_TESTs: each test program is one C file, so this is the program's one fixture. */
typedef struct
{
  char *scratch_dir;  /* this run's temporary folder (XDG_CACHE_HOME, XDG_DATA_HOME) */
  char *model_path;   /* the model the window opens (ui_test_main: a tiny one, 64x64) */
  char *split_dir;    /* the split it opens; NULL when ../shared is absent */
  char *train_dir;    /* the training split beside it where asked for, else NULL */
} UiFixture;

static UiFixture ui_fixture;

/* The main () of a ui test program on the fixture split names with a tiny model, for the
 * file's VG_TESTs: after ui_test_init, ui_fixture holds the model, the val images of names
 * linked at scratch/split_sub and, with with_train, the train images of names at
 * scratch/data/train. Without ../shared (a developer's machine) the folders are NULL and the
 * tests that need images skip; under CI vg_test_shared_path fails instead. Runs the tests,
 * then removes the scratch folder and frees the paths. */
static inline int
ui_test_main (int argc, char **argv, const char *name, const char *const *names,
              const char *split_sub, gboolean with_train)
{
  UiFixture *fixture = &ui_fixture;
  int status;

  if ((status = ui_test_init (&argc, &argv, name, &fixture->scratch_dir)) >= 0)
    return status;
  fixture->model_path = vg_test_write_tiny_model (fixture->scratch_dir, "tiny.safetensors", 1,
                                                  64);
  fixture->split_dir = ui_test_link_split (fixture->scratch_dir, split_sub, "val", names);
  if (with_train)
    fixture->train_dir = ui_test_link_split (fixture->scratch_dir, "data/train", "train", names);
  vg_test_add_registered ();
  return ui_test_run (&fixture->scratch_dir, &fixture->model_path, &fixture->split_dir,
                      &fixture->train_dir, NULL);
}

/* The window of app with the fixture's model and split opened, once ready (data: the
 * window) holds and a few frames are drawn. */
static inline VisageWindow *
ui_fixture_open_workbench (VisageApplication *app, gboolean (*ready) (gpointer))
{
  VisageWindow *window;

  g_application_activate (G_APPLICATION (app));
  window = VISAGE_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  g_assert_nonnull (window);
  visage_window_load_model (window, ui_fixture.model_path);
  visage_window_open_split (window, ui_fixture.split_dir);
  g_assert_true (spin_until (ready, window));
  spin_frames (3);
  return window;
}

/* The start of a test on the fixture split: NULL (the test skipped) where the split was not
 * made, else a new application in *app and its window with the fixture opened, once ready
 * (data: the window) holds. */
static inline VisageWindow *
ui_test_start (VisageApplication **app, gboolean (*ready) (gpointer))
{
  if (ui_test_skip_without (ui_fixture.split_dir))
    return NULL;
  *app = new_app ();
  return ui_fixture_open_workbench (*app, ready);
}

/* With VISAGE_TEST_SCREENSHOTS set to a folder, the tests leave pictures of the views
 * there for a person to look at. */
static inline void
keep_screenshot (VisageWindow *window, const char *name)
{
  const char *dir = g_getenv ("VISAGE_TEST_SCREENSHOTS");
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;

  if (dir == NULL)
    return;
  path = g_build_filename (dir, name, NULL);
  spin_frames (5);  /* a layout pass and a frame after the last change */
  visage_window_save_screenshot (window, path, &error);
  g_assert_no_error (error);
  g_test_message ("screenshot: %s", path);
}
