/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Training recipes: a model's whole training, stage after stage, in one file, so that one
 * command reproduces it from scratch and one --resume continues it after any stop.
 *
 * A recipe is a GKeyFile (the .ini syntax GLib reads and writes):
 *
 *   [recipe]
 *   name=visage-s
 *   config=visage-s              # the architecture of every stage (a named configuration)
 *   spec=widths=32,64,128,160    # optional, on top of config
 *
 *   [stage low-res]              # one group per stage, run in the file's order
 *   resolution=256
 *   epochs=18
 *   ...
 *
 * A stage's keys are the long options of `visage-cli train` without their dashes:
 * resolution, batch, epochs, loss, optimizer, lr, weight-decay, patience, sgd-lr,
 * sgd-momentum, sgd-min-lr, cosine-t, cosine-floor, select, seed, hflip, augment, ema, oversample; and
 * init: "previous"
 * (the previous stage's best.safetensors; the default after the first stage) or "none"
 * (from scratch; the first stage's default). Anything else is refused, naming the key.
 *
 * A recipe run in OUT trains each stage in OUT/NAME and keeps the recipe, with the data
 * folders it was given, in OUT/recipe.ini. Resumed, it goes through the stages again: a
 * stage that has done its epochs (or whose schedule ended) returns at once, the first one
 * that has not continues from its last checkpoint, and the later ones start after it. */
#pragma once

#include <glib.h>

#include "vg-train.h"

G_BEGIN_DECLS

typedef struct _VgRecipe VgRecipe;

/* Read and check a recipe: every key known, every value valid, at least one stage. */
VgRecipe *vg_recipe_load (const char *path, GError **error);
/* The same from text; `what` names it in errors. */
VgRecipe *vg_recipe_load_data (const char *text, gsize length, const char *what,
                               GError **error);
void vg_recipe_free (VgRecipe *recipe);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgRecipe, vg_recipe_free)

const char *vg_recipe_get_name (const VgRecipe *recipe);
int vg_recipe_get_n_stages (const VgRecipe *recipe);
const char *vg_recipe_get_stage_name (const VgRecipe *recipe, int stage);

/* The file NAME.recipe among the shipped models (as vg_bundled_model_path looks for
 * models: $VISAGE_MODELS_DIR, else data/models of the source tree, else the installed
 * one), or name itself when it is a file; NULL when neither exists. */
char *vg_recipe_find (const char *name);

/* The options of a stage: the data folders, out_dir (the recipe run's folder), workers,
 * threads, the checkpoint interval, the backend and max_train / max_val come from base;
 * the rest from the recipe; out_dir becomes base->out_dir/NAME; resume is set when that
 * folder holds a checkpoint. */
gboolean vg_recipe_stage_options (const VgRecipe *recipe, int stage, const VgTrainOptions *base,
                                  VgTrainOptions *opts, GError **error);

/* Called before each stage runs (the callbacks' user_data). */
typedef void (*VgRecipeStageFunc) (int stage, const VgTrainOptions *opts, gpointer user_data);

/* Run (base->resume FALSE: a new recipe run, refused where OUT already holds one) or
 * continue (base->resume TRUE: the recipe and data folders must be those OUT/recipe.ini
 * holds; see vg_recipe_load_run) every stage in order. final_state receives the last
 * stage's schedule state; errors are vg_train_run's. */
gboolean vg_recipe_run (const VgRecipe *recipe, const VgTrainOptions *base,
                        VgRecipeStageFunc stage_func, const VgTrainCallbacks *callbacks,
                        gpointer user_data, VgTrainControl *control, GCancellable *cancellable,
                        VgTrainState *final_state, GError **error);

/* The recipe and data folders of the recipe run in out_dir (its recipe.ini), with resume
 * set in base; FALSE (VG_TRAIN_ERROR_CHECKPOINT) when out_dir holds no recipe run. */
VgRecipe *vg_recipe_load_run (const char *out_dir, VgTrainOptions *base, GError **error);

/* Whether out_dir holds a recipe run (a recipe.ini). */
gboolean vg_recipe_is_run (const char *out_dir);

G_END_DECLS
