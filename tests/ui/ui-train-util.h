/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the training ui tests share: the Train dialog opened and filled in for a run of a
 * tiny model. */
#pragma once

#include <glib.h>

#include "visage-train-dialog.h"
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
