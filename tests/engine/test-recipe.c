/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Training recipes: a bad recipe is refused naming its fault; the shipped recipes load; a
 * two-stage recipe runs its stages in order, the second from the first's best weights; a
 * run stopped in its second stage and resumed as a whole ends with the weights of a run
 * never stopped; a finished run resumed does nothing; a folder holding a run is not
 * overwritten. */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "test-common.h"
#include "test-safetensors-util.h"
#include "vg-recipe.h"
#include "vg-safetensors.h"
#include "test-register.h"

static const char *const split_names[] = { "0", "1", "2", "3", "5", "6", "7", "8", NULL };

static char *scratch;
static char *split_dir;   /* links to 8 val images; NULL without ../shared */

#define TINY_RECIPE                                                                        \
  "# a test recipe\n"                                                                      \
  "[recipe]\n"                                                                             \
  "name=tiny\n"                                                                            \
  "config=seed\n"                                                                          \
  "spec=widths=8,16,24,32 depths=1,1,1,1 heads=1,1,1,1 ratios=8,4,2,1 mlp=2 dim=16\n"      \
  "[stage low]\n"                                                                          \
  "resolution=64\n"                                                                        \
  "batch=4\n"                                                                              \
  "epochs=1\n"                                                                             \
  "select=miou\n"                                                                          \
  "[stage high]\n"                                                                         \
  "resolution=64\n"                                                                        \
  "batch=4\n"                                                                              \
  "epochs=2\n"                                                                             \
  "lr=5e-4\n"                                                                              \
  "cosine-floor=0\n"                                                                       \
  "loss=weighted-ce-dice-present\n"                                                        \
  "hflip=true\n"                                                                           \
  "select=miou\n"

VG_TEST ("/recipe/bad", test_bad_recipes)
{
  static const struct {
    const char *text;
    const char *named;
  } cases[] = {
    { "[stage a]\nepochs=1\n", "no [recipe]" },
    { "[recipe]\nname=x\n", "no stage" },
    { "[recipe]\nconfig=visage-s\n[stage a]\nepochs=1\n", "needs a name" },
    { "[recipe]\nname=x\ncolour=red\n[stage a]\n", "colour" },
    { "[recipe]\nname=x\nconfig=nope\n[stage a]\n", "nope" },
    { "[recipe]\nname=x\nspec=heads=3,3,3,3\n[stage a]\n", "[recipe]" },
    { "[recipe]\nname=x\n[stage a]\nepochz=1\n", "epochz" },
    { "[recipe]\nname=x\n[stage a]\nepochs=one\n", "epochs" },
    { "[recipe]\nname=x\n[stage a]\nepochs=99999999999\n", "epochs" },
    { "[recipe]\nname=x\n[stage a]\nepochs=0\n", "epochs must be" },
    { "[recipe]\nname=x\n[stage a]\nlr=nan\n", "lr" },
    { "[recipe]\nname=x\n[stage a]\nlr=-1\n", "learning rate (lr) must be more than 0" },
    { "[recipe]\nname=x\n[stage a]\ncosine-floor=2\n", "floor" },
    { "[recipe]\nname=x\n[stage a]\nresolution=100\n", "resolution" },
    { "[recipe]\nname=x\n[stage a]\nloss=hinge\n", "hinge" },
    { "[recipe]\nname=x\n[stage a]\nhflip=yes\n", "hflip" },
    { "[recipe]\nname=x\n[stage a]\nseed=-3\n", "seed" },
    { "[recipe]\nname=x\n[stage a]\ninit=previous\n", "first stage" },
    { "[recipe]\nname=x\n[stage a]\n[stage b]\ninit=best\n", "init" },
    { "[recipe]\nname=x\n[stage a]\n[stage a/b]\n", "folder name" },
    { "[recipe]\nname=x\n[stage ..]\n", "folder name" },
    { "[recipe]\nname=x\n[other]\n", "[other]" },
    { "[recipe]\nname=x\n[stage a\n", "bad.recipe" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (VgRecipe) r = vg_recipe_load_data (cases[i].text, strlen (cases[i].text),
                                                    "bad.recipe", &error);

      g_assert_null (r);
      g_test_message ("%s", error != NULL ? error->message : "(accepted)");
      g_assert_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID);
      g_assert_true (g_str_has_prefix (error->message, "bad.recipe: "));
      g_assert_nonnull (strstr (error->message, cases[i].named));
    }
}

/* The recipes shipped beside the bundled model load, and --recipe NAME finds them. */
VG_TEST ("/recipe/shipped", test_shipped_recipes)
{
  g_autoptr (GDir) dir = g_dir_open (VG_SOURCE_MODELS_DIR, 0, NULL);
  const char *name;
  int n = 0;

  g_assert_nonnull (dir);
  g_unsetenv ("VISAGE_MODELS_DIR");
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".recipe"))
      {
        g_autofree char *stem = g_strndup (name, strlen (name) - strlen (".recipe"));
        g_autofree char *path = vg_recipe_find (stem);
        g_autoptr (GError) error = NULL;
        g_autoptr (VgRecipe) r = NULL;

        g_assert_nonnull (path);
        r = vg_recipe_load (path, &error);
        g_assert_no_error (error);
        g_assert_cmpstr (vg_recipe_get_name (r), ==, stem);
        g_assert_cmpint (vg_recipe_get_n_stages (r), >=, 1);
        n++;
      }
  g_assert_cmpint (n, >=, 1);
  g_assert_null (vg_recipe_find ("no-such-recipe"));
}

static void
base_options (VgTrainOptions *base, const char *out)
{
  vg_train_options_init (base);
  base->train_dir = g_strdup (split_dir);
  base->val_dir = g_strdup (split_dir);
  base->out_dir = g_build_filename (scratch, out, NULL);
  base->workers = 1;
  base->threads = 2;
  base->checkpoint_minutes = 0.0;
}

typedef struct {
  int stages_started[4];
  int n_started;
  int stop_in_stage;        /* cancel at the first step of this stage; -1: never */
  int stage;
  GCancellable *cancellable;
} Watch;

static void
on_stage (int stage, const VgTrainOptions *opts, gpointer data)
{
  Watch *w = data;

  g_assert_cmpint (w->n_started, <, 4);
  w->stages_started[w->n_started++] = stage;
  /* the stage's own keys reach its options; the rest keep the defaults */
  g_assert_cmpfloat (opts->cosine_floor, ==, stage == 1 ? 0.0 : 0.5);
  w->stage = stage;
}

static void
on_step (const VgTrainStep *step, gpointer data)
{
  Watch *w = data;

  if (w->stage == w->stop_in_stage && w->cancellable != NULL)
    g_cancellable_cancel (w->cancellable);
}

static char *
stage_file (const char *out, const char *stage, const char *name)
{
  return g_build_filename (scratch, out, stage, name, NULL);
}

VG_TEST ("/recipe/run-and-resume", test_run_and_resume)
{
  static const VgTrainCallbacks callbacks = { .step = on_step };
  g_autoptr (GError) error = NULL;
  g_autoptr (VgRecipe) r = NULL;
  g_autoptr (VgRecipe) again = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *ref_last = NULL, *last = NULL, *best_a = NULL;
  VgTrainOptions base, loaded;
  VgTrainState state;
  Watch w = { .stop_in_stage = -1 };
  GStatBuf before, after;

  if (split_dir == NULL)
    {
      g_test_skip ("../shared is not present");
      return;
    }
  r = vg_recipe_load_data (TINY_RECIPE, strlen (TINY_RECIPE), "tiny.recipe", &error);
  g_assert_no_error (error);
  g_assert_cmpint (vg_recipe_get_n_stages (r), ==, 2);
  g_assert_cmpstr (vg_recipe_get_stage_name (r, 0), ==, "low");
  g_assert_cmpstr (vg_recipe_get_stage_name (r, 1), ==, "high");

  /* Never stopped: both stages, the second from the first's best. */
  base_options (&base, "ref");
  g_assert_true (vg_recipe_run (r, &base, on_stage, &callbacks, &w, NULL, NULL, &state,
                                &error));
  g_assert_no_error (error);
  g_assert_cmpint (w.n_started, ==, 2);
  g_assert_cmpint (w.stages_started[0], ==, 0);
  g_assert_cmpint (w.stages_started[1], ==, 1);
  g_assert_cmpint (state.epoch, ==, 2);
  ref_last = stage_file ("ref", "high", "last.safetensors");
  {
    g_autoptr (VgSafetensors) s = vg_safetensors_open (ref_last, &error);

    g_assert_no_error (error);
    best_a = stage_file ("ref", "low", "best.safetensors");
    g_assert_cmpstr (vg_safetensors_metadata (s, "visage.train.init_from"), ==, best_a);
    g_assert_cmpstr (vg_safetensors_metadata (s, "visage.train.loss"), ==,
                     "weighted-ce-dice-present");
  }
  /* a second new run into the same folder is refused */
  base.resume = FALSE;
  vg_test_assert_fails (vg_recipe_run (r, &base, NULL, NULL, NULL, NULL, NULL, NULL, &error), error,
                        VG_TRAIN_ERROR, VG_TRAIN_ERROR_EXISTS, NULL);
  vg_train_options_clear (&base);

  /* Stopped in the second stage, then resumed from the run folder alone. */
  w = (Watch) { .stop_in_stage = 1, .cancellable = cancellable };
  base_options (&base, "stopped");
  vg_test_assert_fails (vg_recipe_run (r, &base, on_stage, &callbacks, &w, NULL, cancellable,
                                      NULL, &error),
                        error, G_IO_ERROR, G_IO_ERROR_CANCELLED, NULL);
  vg_train_options_clear (&base);
  {
    g_autofree char *out = g_build_filename (scratch, "stopped", NULL);

    again = vg_recipe_load_run (out, &loaded, &error);
    g_assert_no_error (error);
    g_assert_true (loaded.resume);
    g_assert_cmpstr (loaded.train_dir, ==, split_dir);
  }
  loaded.workers = 1;
  loaded.threads = 2;
  loaded.checkpoint_minutes = 0.0;
  w = (Watch) { .stop_in_stage = -1 };
  g_assert_true (vg_recipe_run (again, &loaded, on_stage, &callbacks, &w, NULL, NULL, &state,
                                &error));
  g_assert_no_error (error);
  g_assert_cmpint (state.epoch, ==, 2);
  last = stage_file ("stopped", "high", "last.safetensors");
  vg_test_assert_same_tensors (ref_last, last);

  /* Resumed once more: every stage is done, nothing is written. */
  g_assert_cmpint (g_stat (last, &before), ==, 0);
  g_assert_true (vg_recipe_run (again, &loaded, NULL, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (last, &after), ==, 0);
  g_assert_cmpint (before.st_mtime, ==, after.st_mtime);
  g_assert_cmpint (before.st_size, ==, after.st_size);
  vg_train_options_clear (&loaded);

  /* A folder without a recipe run is refused as such. */
  g_assert_null (vg_recipe_load_run (scratch, &loaded, &error));
  g_assert_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_CHECKPOINT);
}

int
main (int argc, char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);
  scratch = vg_test_scratch_with_split ("visage-recipe-XXXXXX", split_names, &split_dir);
  vg_test_add_registered ();
  status = g_test_run ();

  vg_test_scratch_clear (&scratch, &split_dir);
  return status;
}
