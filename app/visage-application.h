/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define VISAGE_TYPE_APPLICATION (visage_application_get_type ())
G_DECLARE_FINAL_TYPE (VisageApplication, visage_application, VISAGE, APPLICATION, AdwApplication)

VisageApplication *visage_application_new (GApplicationFlags flags);

/* Set up gettext for the programs (translations from LOCALEDIR, or from $VISAGE_LOCALEDIR
 * where set: `meson devenv` points it at the build tree). */
void visage_i18n_init (void);

G_END_DECLS
