/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define VISAGE_TYPE_WINDOW (visage_window_get_type ())
G_DECLARE_FINAL_TYPE (VisageWindow, visage_window, VISAGE, WINDOW, AdwApplicationWindow)

VisageWindow *visage_window_new (GtkApplication *application);

/* The page the window shows now: "empty" until a data split is opened. */
const char *visage_window_get_visible_page (VisageWindow *self);

G_END_DECLS
