/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The models trained on this computer, so the workbench can open the newest one without
 * being told where it is.
 *
 * A training run adds its best.safetensors each time it writes it. The list is a text
 * file, $XDG_DATA_HOME/visage/trained-models, one absolute path per line, the most recent
 * last, at most VG_RECENT_MODELS_MAX lines. Keeping it is best effort: a read-only home
 * never fails a training run. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VG_RECENT_MODELS_MAX 32

/* Where the list is kept. */
char *vg_recent_models_path (void);

/* Put path (made absolute) at the end of the list; FALSE (with a g_debug) when the list
 * cannot be written. */
gboolean vg_recent_models_add (const char *path);

/* The listed model file with the newest modification time that still exists and is
 * readable, or NULL. */
char *vg_recent_models_newest (void);

G_END_DECLS
