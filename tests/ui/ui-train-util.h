/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the training ui tests share: the Train dialog opened and filled in for a run of a
 * tiny model, the engine's best epoch read from a run's log.csv, and the wait for browsing
 * with the Training page's best checkpoint. */
#pragma once

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "visage-train-dialog.h"
#include "visage-train-view.h"
#include "visage-window.h"

/* The window's Train dialog, opened through its "train" action (which must be enabled). */
static inline VisageTrainDialog *
ui_train_open_dialog (VisageWindow *window)
{
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "train"));
  g_action_group_activate_action (G_ACTION_GROUP (window), "train", NULL);
  g_assert_nonnull (visage_window_get_train_dialog (window));
  return visage_window_get_train_dialog (window);
}

/* The Training page's run has ended (for spin_until). */
static inline gboolean
ui_train_over (gpointer data)
{
  return !visage_train_view_get_running (VISAGE_TRAIN_VIEW (data));
}

/* text holds part (text goes to the test's log). */
static inline void
ui_train_assert_contains (const char *text, const char *part)
{
  g_test_message ("%s", text);
  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, part));
}

/* A field of the dialog set to value; the field must exist. */
static inline void
ui_train_set (VisageTrainDialog *dialog, const char *name, const char *value)
{
  g_assert_true (visage_train_dialog_set_field (dialog, name, value));
}

/* A custom configuration of tiny stages. */
static inline void
ui_train_set_tiny_stages (VisageTrainDialog *dialog)
{
  ui_train_set (dialog, "config", "custom");
  ui_train_set (dialog, "widths", "8,16,24,32");
  ui_train_set (dialog, "depths", "1,1,1,1");
  ui_train_set (dialog, "heads", "1,1,1,1");
  ui_train_set (dialog, "ratios", "8,4,2,1");
}

/* A run of a tiny model on 64x64 pictures into out (seconds per epoch on a CPU). */
static inline void
ui_train_set_tiny_run (VisageTrainDialog *dialog, const char *out, const char *epochs)
{
  ui_train_set (dialog, "out", out);
  ui_train_set_tiny_stages (dialog);
  ui_train_set (dialog, "resolution", "64");
  ui_train_set (dialog, "batch", "2");
  ui_train_set (dialog, "epochs", epochs);
}

/* The epoch of the lowest validation loss in the run's log.csv, as the engine picks it
 * (the first of equals: only a lower loss is better). */
static inline int
ui_train_best_loss_epoch (const char *run)
{
  g_autofree char *path = g_build_filename (run, "log.csv", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  double best = INFINITY;
  int epoch = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (int i = 1; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      g_auto (GStrv) cells = g_strsplit (lines[i], ",", -1);
      double loss = g_ascii_strtod (cells[5], NULL);  /* val_loss */

      if (loss < best)
        {
          best = loss;
          epoch = atoi (cells[0]);
        }
    }
  return epoch;
}

/* Browsing with the Training page's best checkpoint, loaded. */
static inline gboolean
ui_train_browsing_best (gpointer data)
{
  VisageWindow *window = data;

  return g_strcmp0 (vg_service_get_model_path (visage_window_get_service (window)),
                    visage_train_view_get_best_path (visage_window_get_train_view (window))) == 0
         && !visage_window_get_busy (window);
}
