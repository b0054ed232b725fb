/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Preferences window: which shipped model parses images when none was opened by name
 * (accuracy: visage-s; speed: visage-fast, where it is installed). It shows and changes the
 * state of the window's action win.parsing-model ("accuracy" or "speed"). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define VISAGE_TYPE_PREFERENCES (visage_preferences_get_type ())
G_DECLARE_FINAL_TYPE (VisagePreferences, visage_preferences, VISAGE, PREFERENCES,
                      AdwPreferencesWindow)

/* For parent, whose action group holds parsing-model. */
VisagePreferences *visage_preferences_new (GtkWindow *parent);

/* The row that chooses the parsing model. */
AdwComboRow *visage_preferences_get_parsing_row (VisagePreferences *self);

G_END_DECLS
