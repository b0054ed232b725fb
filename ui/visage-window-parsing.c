/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The model that parses images when none was opened by name: one of the shipped models,
 * chosen by the preference win.parsing-model ("accuracy": visage-s, "speed": visage-fast,
 * kept in GSettings as parsing-model), and the Preferences window that offers it. */
#define G_LOG_DOMAIN "visage-window"

#include "config.h"

#include "vg-known-models.h"
#include "visage-preferences.h"
#include "visage-window-private.h"

/* The shipped model a state of win.parsing-model asks for. */
static VgBundledModel
bundled_for_state (GVariant *state)
{
  return g_str_equal (g_variant_get_string (state, NULL), "speed") ? VG_BUNDLED_FAST
                                                                   : VG_BUNDLED_ACCURATE;
}

/* The preferred shipped model's file; the other shipped one where that one is missing
 * (speed preferred but visage-fast not installed); NULL when none ships. */
static char *
preferred_bundled_path (VisageWindow *self)
{
  g_autoptr (GVariant) state = g_action_group_get_action_state (G_ACTION_GROUP (self),
                                                                "parsing-model");
  VgBundledModel preferred = bundled_for_state (state);
  char *path = vg_bundled_model_path_for (preferred);

  if (path == NULL)
    path = vg_bundled_model_path_for (preferred == VG_BUNDLED_FAST ? VG_BUNDLED_ACCURATE
                                                                   : VG_BUNDLED_FAST);
  return path;
}

gboolean
visage_window_load_bundled_model (VisageWindow *self)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (VISAGE_IS_WINDOW (self), FALSE);

  if ((path = preferred_bundled_path (self)) == NULL)
    return FALSE;
  visage_window_load_model (self, path);
  self->bundled_model = TRUE;
  return TRUE;
}

void
visage_window_set_parsing_model (VisageWindow *self, const char *choice)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));
  g_return_if_fail (choice != NULL);

  g_action_group_change_action_state (G_ACTION_GROUP (self), "parsing-model",
                                      g_variant_new_string (choice));
}

/* The preference: kept in GSettings; a shipped model loaded for want of a named one gives
 * way to the one preferred now. Speed is refused where visage-fast is not installed. */
static void
parsing_model_change_state (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  VisageWindow *self = user_data;
  const char *choice = g_variant_get_string (state, NULL);
  g_autofree char *fast = NULL;
  g_autoptr (GVariant) old = g_action_get_state (G_ACTION (action));

  if (!g_str_equal (choice, "accuracy") && !g_str_equal (choice, "speed"))
    return;
  if (g_str_equal (choice, "speed")
      && (fast = vg_bundled_model_path_for (VG_BUNDLED_FAST)) == NULL)
    {
      g_debug ("the fast model is not installed: parsing stays with visage-s");
      return;
    }
  g_simple_action_set_state (action, state);
  if (g_variant_equal (old, state))
    return;
  if (self->settings != NULL)
    g_settings_set_string (self->settings, "parsing-model", choice);
  if (self->bundled_model)
    visage_window_load_bundled_model (self);
}

static void
preferences_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;
  VisagePreferences *preferences = visage_preferences_new (GTK_WINDOW (self));

  gtk_window_present (GTK_WINDOW (preferences));
}

static const GActionEntry parsing_actions[] = {
  { .name = "parsing-model", .parameter_type = "s", .state = "'accuracy'",
    .change_state = parsing_model_change_state },
  { .name = "preferences", .activate = preferences_action },
};

void
_visage_window_parsing_init (VisageWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), parsing_actions,
                                   G_N_ELEMENTS (parsing_actions), self);
}

void
_visage_window_parsing_settings_init (VisageWindow *self)
{
  g_autofree char *choice = g_settings_get_string (self->settings, "parsing-model");

  /* Before any model loads: nothing is reloaded yet. */
  visage_window_set_parsing_model (self, choice);
}
