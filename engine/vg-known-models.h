/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Where models come from without being named: the one shipped with the program, and the
 * models trained on this computer (so the workbench can open the newest one).
 *
 * A training run adds its best.safetensors each time it writes it. The list is a text
 * file, $XDG_DATA_HOME/visage/trained-models, one absolute path per line, the most recent
 * last, at most VG_RECENT_MODELS_MAX lines. Keeping it is best effort: a read-only home
 * never fails a training run. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VG_RECENT_MODELS_MAX 32

/* The model shipped with the program: the first *.safetensors (in name order) of
 * $VISAGE_MODELS_DIR when that is set, else of data/models in the source tree, else of the
 * installed PKGDATADIR/models; NULL when none ships. */
char *vg_bundled_model_path (void);

/* Where the list of trained models is kept. */
char *vg_recent_models_path (void);

/* Put path (made absolute) at the end of the list; FALSE (with a g_debug) when the list
 * cannot be written. */
gboolean vg_recent_models_add (const char *path);

/* The listed model file with the newest modification time that still exists and is
 * readable, or NULL. */
char *vg_recent_models_newest (void);

G_END_DECLS
