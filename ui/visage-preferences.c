/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-preferences"

#include "config.h"

#include <glib/gi18n.h>

#include "vg-known-models.h"
#include "visage-preferences.h"

struct _VisagePreferences
{
  AdwPreferencesWindow parent_instance;

  AdwComboRow *parsing_row;
  GActionGroup *actions;  /* weak: the parent window's */
  gboolean syncing;       /* the row follows the action: no change of state back */
};

G_DEFINE_FINAL_TYPE (VisagePreferences, visage_preferences, ADW_TYPE_PREFERENCES_WINDOW)

/* The states of win.parsing-model in the row's order (the schema's key parsing-model). */
static const char *const parsing_states[] = { "accuracy", "speed" };

/* The row shows the action's state. */
static void
parsing_state_changed (VisagePreferences *self, const char *action_name, GVariant *state)
{
  const char *value = g_variant_get_string (state, NULL);

  self->syncing = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (parsing_states); i++)
    if (g_str_equal (value, parsing_states[i]))
      adw_combo_row_set_selected (self->parsing_row, i);
  self->syncing = FALSE;
}

/* A choice in the row changes the action's state (which the window keeps in GSettings). */
static void
parsing_selected (VisagePreferences *self)
{
  guint selected = adw_combo_row_get_selected (self->parsing_row);

  if (self->syncing || self->actions == NULL || selected >= G_N_ELEMENTS (parsing_states))
    return;
  g_action_group_change_action_state (self->actions, "parsing-model",
                                      g_variant_new_string (parsing_states[selected]));
}

static void
visage_preferences_dispose (GObject *object)
{
  VisagePreferences *self = VISAGE_PREFERENCES (object);

  if (self->actions != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->actions, self);
      g_object_remove_weak_pointer (G_OBJECT (self->actions), (gpointer *) &self->actions);
      self->actions = NULL;
    }
  gtk_widget_dispose_template (GTK_WIDGET (object), VISAGE_TYPE_PREFERENCES);
  G_OBJECT_CLASS (visage_preferences_parent_class)->dispose (object);
}

static void
visage_preferences_class_init (VisagePreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = visage_preferences_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/visage/Visage/visage-preferences.ui");
  gtk_widget_class_bind_template_child (widget_class, VisagePreferences, parsing_row);
}

static void
visage_preferences_init (VisagePreferences *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

VisagePreferences *
visage_preferences_new (GtkWindow *parent)
{
  VisagePreferences *self;
  g_autofree char *fast = vg_bundled_model_path_for (VG_BUNDLED_FAST);
  g_autoptr (GVariant) state = NULL;

  g_return_val_if_fail (GTK_IS_WINDOW (parent) && G_IS_ACTION_GROUP (parent), NULL);

  self = g_object_new (VISAGE_TYPE_PREFERENCES, "transient-for", parent, NULL);
  self->actions = G_ACTION_GROUP (parent);
  g_object_add_weak_pointer (G_OBJECT (self->actions), (gpointer *) &self->actions);
  state = g_action_group_get_action_state (self->actions, "parsing-model");
  if (state != NULL)
    parsing_state_changed (self, "parsing-model", state);
  g_signal_connect_swapped (self->actions, "action-state-changed::parsing-model",
                            G_CALLBACK (parsing_state_changed), self);
  g_signal_connect_swapped (self->parsing_row, "notify::selected",
                            G_CALLBACK (parsing_selected), self);

  /* Only what ships can be chosen; the row says why not. */
  gtk_widget_set_sensitive (GTK_WIDGET (self->parsing_row), fast != NULL);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->parsing_row),
                               fast != NULL
                               ? _("The shipped model that parses images when none was "
                                   "opened by name")
                               : _("Only visage-s is installed: the fast model, "
                                   "visage-fast, does not ship with this build"));
  return self;
}

AdwComboRow *
visage_preferences_get_parsing_row (VisagePreferences *self)
{
  g_return_val_if_fail (VISAGE_IS_PREFERENCES (self), NULL);

  return self->parsing_row;
}
