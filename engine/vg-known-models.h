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

/* The models shipped with the program: the accurate default (visage-s) and a fast one
 * (visage-fast, a Fast-SCNN) for live parsing. */
typedef enum
{
  VG_BUNDLED_ACCURATE,
  VG_BUNDLED_FAST,
} VgBundledModel;

#define VG_BUNDLED_N 2

/* The shipped model's name, its file's name without .safetensors: "visage-s", "visage-fast". */
const char *vg_bundled_model_name (VgBundledModel which);

/* The shipped model's file, NAME.safetensors: in $VISAGE_MODELS_DIR alone when that is set,
 * else in data/models of the source tree, else in the installed PKGDATADIR/models; NULL when
 * it does not ship. Other files beside it are never taken for it. */
char *vg_bundled_model_path_for (VgBundledModel which);

/* The default model: vg_bundled_model_path_for (VG_BUNDLED_ACCURATE). */
char *vg_bundled_model_path (void);

/* The shipped model called name (vg_bundled_model_name, with or without .safetensors) and
 * its path; FALSE when name is none of them. *path is NULL when the model does not ship. */
gboolean vg_bundled_model_lookup (const char *name, VgBundledModel *which, char **path);

/* Where the list of trained models is kept. */
char *vg_recent_models_path (void);

/* Put path (made absolute) at the end of the list; FALSE (with a g_debug) when the list
 * cannot be written. */
gboolean vg_recent_models_add (const char *path);

/* The listed model file with the newest modification time that still exists and is
 * readable, or NULL. */
char *vg_recent_models_newest (void);

G_END_DECLS
