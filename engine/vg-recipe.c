/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Training recipes (see vg-recipe.h). The file format is GLib's GKeyFile: made for small
 * human-edited settings files, with comments, groups in order and a writer of its own. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "vg-dist.h"
#include "vg-error.h"
#include "vg-recipe.h"

#define RECIPE_GROUP "recipe"
#define DATA_GROUP "data"       /* in OUT/recipe.ini only: the run's data folders */
#define STAGE_PREFIX "stage "
#define RUN_FILE "recipe.ini"

struct _VgRecipe
{
  GKeyFile *file;             /* as read, written again into OUT/recipe.ini */
  char *name;
  VgConfig config;
  GPtrArray *groups;          /* of char *: the stage groups, in order */
};

typedef enum { KEY_INT, KEY_DOUBLE, KEY_BOOL, KEY_LOSS, KEY_OPTIMIZER, KEY_SELECT,
               KEY_INIT, KEY_SEED } KeyKind;

/* A stage key and the option field it sets. */
static const struct {
  const char *key;
  KeyKind kind;
  gsize offset;
} stage_keys[] = {
  { "resolution", KEY_INT, G_STRUCT_OFFSET (VgTrainOptions, resolution) },
  { "batch", KEY_INT, G_STRUCT_OFFSET (VgTrainOptions, batch) },
  { "epochs", KEY_INT, G_STRUCT_OFFSET (VgTrainOptions, epochs) },
  { "patience", KEY_INT, G_STRUCT_OFFSET (VgTrainOptions, patience) },
  { "cosine-t", KEY_INT, G_STRUCT_OFFSET (VgTrainOptions, cosine_t) },
  { "cosine-floor", KEY_DOUBLE, G_STRUCT_OFFSET (VgTrainOptions, cosine_floor) },
  { "lr", KEY_DOUBLE, G_STRUCT_OFFSET (VgTrainOptions, lr) },
  { "weight-decay", KEY_DOUBLE, G_STRUCT_OFFSET (VgTrainOptions, weight_decay) },
  { "sgd-lr", KEY_DOUBLE, G_STRUCT_OFFSET (VgTrainOptions, sgd_lr) },
  { "sgd-momentum", KEY_DOUBLE, G_STRUCT_OFFSET (VgTrainOptions, sgd_momentum) },
  { "sgd-min-lr", KEY_DOUBLE, G_STRUCT_OFFSET (VgTrainOptions, sgd_min_lr) },
  { "ema", KEY_DOUBLE, G_STRUCT_OFFSET (VgTrainOptions, ema) },
  { "oversample", KEY_DOUBLE, G_STRUCT_OFFSET (VgTrainOptions, oversample) },
  { "hflip", KEY_BOOL, G_STRUCT_OFFSET (VgTrainOptions, hflip) },
  { "augment", KEY_BOOL, G_STRUCT_OFFSET (VgTrainOptions, augment) },
  { "loss", KEY_LOSS, G_STRUCT_OFFSET (VgTrainOptions, loss) },
  { "optimizer", KEY_OPTIMIZER, G_STRUCT_OFFSET (VgTrainOptions, optimizer) },
  { "select", KEY_SELECT, G_STRUCT_OFFSET (VgTrainOptions, select) },
  { "seed", KEY_SEED, G_STRUCT_OFFSET (VgTrainOptions, seed) },
  { "init", KEY_INIT, 0 },
};

/* "what: message", what being the recipe's name or file */
#define recipe_error(error, what, format, ...) \
  vg_fail (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID, "%s: " format, what, ##__VA_ARGS__)

/* Set the option of one stage key from its text; *init_previous for the init key. */
static gboolean
apply_key (VgTrainOptions *o, gboolean *init_previous, const char *group, const char *key,
           const char *value, const char *what, GError **error)
{
  g_autoptr (GError) local = NULL;
  char *end = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (stage_keys); i++)
    {
      gpointer field = G_STRUCT_MEMBER_P (o, stage_keys[i].offset);

      if (strcmp (key, stage_keys[i].key) != 0)
        continue;
      errno = 0;
      switch (stage_keys[i].kind)
        {
        case KEY_INT:
          {
            gint64 v = g_ascii_strtoll (value, &end, 10);

            if (errno != 0 || end == value || *end != '\0' || v < G_MININT || v > G_MAXINT)
              break;
            *(int *) field = (int) v;
            return TRUE;
          }
        case KEY_SEED:
          {
            guint64 v = g_ascii_strtoull (value, &end, 10);

            if (errno != 0 || end == value || *end != '\0' || value[0] == '-')
              break;
            *(uint64_t *) field = v;
            return TRUE;
          }
        case KEY_DOUBLE:
          {
            double v = g_ascii_strtod (value, &end);

            if (errno != 0 || end == value || *end != '\0' || !isfinite (v))
              break;
            *(double *) field = v;
            return TRUE;
          }
        case KEY_BOOL:
          if (strcmp (value, "true") != 0 && strcmp (value, "false") != 0)
            break;
          *(gboolean *) field = strcmp (value, "true") == 0;
          return TRUE;
        case KEY_LOSS:
          if (!vg_loss_kind_from_name ((VgLossKind *) field, value, &local))
            return recipe_error (error, what, "[%s] %s: %s", group, key, local->message);
          return TRUE;
        case KEY_OPTIMIZER:
          if (!vg_optimizer_kind_from_name ((VgOptimizerKind *) field, value, &local))
            return recipe_error (error, what, "[%s] %s: %s", group, key, local->message);
          return TRUE;
        case KEY_SELECT:
          if (!vg_select_kind_from_name ((VgSelectKind *) field, value, &local))
            return recipe_error (error, what, "[%s] %s: %s", group, key, local->message);
          return TRUE;
        case KEY_INIT:
          if (strcmp (value, "previous") != 0 && strcmp (value, "none") != 0)
            return recipe_error (error, what, "[%s] init must be “previous” or “none”, not "
                                 "“%s”", group, value);
          *init_previous = strcmp (value, "previous") == 0;
          return TRUE;
        }
      return recipe_error (error, what, "[%s] %s: “%s” is not a valid value", group, key,
                           value);
    }
  return recipe_error (error, what, "[%s] has no key “%s” (a stage takes the long options "
                       "of visage-cli train without dashes)", group, key);
}

/* Stage `stage` of the recipe over o (already holding the defaults and base's fields). */
static gboolean
apply_stage (const VgRecipe *r, int stage, VgTrainOptions *o, gboolean *init_previous,
             const char *what, GError **error)
{
  const char *group = g_ptr_array_index (r->groups, stage);
  g_auto (GStrv) keys = g_key_file_get_keys (r->file, group, NULL, NULL);

  *init_previous = stage > 0;
  for (int k = 0; keys != NULL && keys[k] != NULL; k++)
    {
      g_autofree char *value = g_key_file_get_value (r->file, group, keys[k], NULL);

      if (value == NULL
          || !apply_key (o, init_previous, group, keys[k], g_strstrip (value), what, error))
        return FALSE;
    }
  if (stage == 0 && *init_previous)
    return recipe_error (error, what, "[%s] is the first stage: it has no previous stage to "
                         "start from", group);
  return TRUE;
}

VgRecipe *
vg_recipe_load_data (const char *text, gsize length, const char *what, GError **error)
{
  g_autoptr (VgRecipe) r = g_new0 (VgRecipe, 1);
  g_autoptr (GError) local = NULL;
  g_auto (GStrv) groups = NULL;
  g_auto (GStrv) keys = NULL;
  g_autofree char *config = NULL, *spec = NULL;

  r->file = g_key_file_new ();
  r->groups = g_ptr_array_new_with_free_func (g_free);
  if (!g_key_file_load_from_data (r->file, text, length, G_KEY_FILE_KEEP_COMMENTS, &local))
    {
      recipe_error (error, what, "%s", local->message);
      return NULL;
    }
  if (!g_key_file_has_group (r->file, RECIPE_GROUP))
    {
      recipe_error (error, what, "no [" RECIPE_GROUP "] group: not a training recipe");
      return NULL;
    }
  keys = g_key_file_get_keys (r->file, RECIPE_GROUP, NULL, NULL);
  for (int k = 0; keys[k] != NULL; k++)
    if (!g_str_equal (keys[k], "name") && !g_str_equal (keys[k], "config")
        && !g_str_equal (keys[k], "spec") && !g_str_equal (keys[k], "description"))
      {
        recipe_error (error, what, "[" RECIPE_GROUP "] has no key “%s” (name, description, "
                      "config, spec)", keys[k]);
        return NULL;
      }
  r->name = g_key_file_get_string (r->file, RECIPE_GROUP, "name", NULL);
  if (r->name == NULL || r->name[0] == '\0')
    {
      recipe_error (error, what, "[" RECIPE_GROUP "] needs a name");
      return NULL;
    }
  config = g_key_file_get_string (r->file, RECIPE_GROUP, "config", NULL);
  spec = g_key_file_get_string (r->file, RECIPE_GROUP, "spec", NULL);
  if (!vg_config_from_name (&r->config, config != NULL ? config : "visage-s", &local)
      || (spec != NULL && !vg_config_parse (&r->config, spec, &local))
      || !vg_config_validate (&r->config, &local))
    {
      recipe_error (error, what, "[" RECIPE_GROUP "] %s", local->message);
      return NULL;
    }

  groups = g_key_file_get_groups (r->file, NULL);
  for (int g = 0; groups[g] != NULL; g++)
    {
      const char *stage = groups[g] + strlen (STAGE_PREFIX);

      if (g_str_equal (groups[g], RECIPE_GROUP) || g_str_equal (groups[g], DATA_GROUP))
        continue;
      if (!g_str_has_prefix (groups[g], STAGE_PREFIX) || stage[0] == '\0'
          || strchr (stage, '/') != NULL || g_str_equal (stage, ".")
          || g_str_equal (stage, ".."))
        {
          recipe_error (error, what, "[%s] is neither [" RECIPE_GROUP "] nor a stage "
                        "([stage NAME], NAME a folder name)", groups[g]);
          return NULL;
        }
      for (guint i = 0; i < r->groups->len; i++)
        if (g_str_equal (g_ptr_array_index (r->groups, i), groups[g]))
          {
            recipe_error (error, what, "[%s] comes twice", groups[g]);
            return NULL;
          }
      g_ptr_array_add (r->groups, g_strdup (groups[g]));
    }
  if (r->groups->len == 0)
    {
      recipe_error (error, what, "no stage ([stage NAME])");
      return NULL;
    }

  /* every stage's options, checked as a run would check them */
  for (guint i = 0; i < r->groups->len; i++)
    {
      VgTrainOptions o;
      gboolean init_previous, ok;

      vg_train_options_init (&o);
      o.config = r->config;
      o.train_dir = g_strdup (".");
      o.val_dir = g_strdup (".");
      o.out_dir = g_strdup (".");
      ok = apply_stage (r, (int) i, &o, &init_previous, what, error);
      if (ok && !vg_train_options_validate (&o, &local))
        ok = recipe_error (error, what, "[%s] %s", (char *) g_ptr_array_index (r->groups, i),
                           local->message);
      vg_train_options_clear (&o);
      if (!ok)
        return NULL;
    }
  return g_steal_pointer (&r);
}

VgRecipe *
vg_recipe_load (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize length;

  if (!g_file_get_contents (path, &text, &length, error))
    return NULL;
  return vg_recipe_load_data (text, length, path, error);
}

void
vg_recipe_free (VgRecipe *r)
{
  if (r == NULL)
    return;
  if (r->file != NULL)
    g_key_file_unref (r->file);
  if (r->groups != NULL)
    g_ptr_array_unref (r->groups);
  g_free (r->name);
  g_free (r);
}

const char *
vg_recipe_get_name (const VgRecipe *r)
{
  return r->name;
}

int
vg_recipe_get_n_stages (const VgRecipe *r)
{
  return (int) r->groups->len;
}

const char *
vg_recipe_get_stage_name (const VgRecipe *r, int stage)
{
  g_return_val_if_fail (stage >= 0 && stage < (int) r->groups->len, NULL);
  return (const char *) g_ptr_array_index (r->groups, stage) + strlen (STAGE_PREFIX);
}

char *
vg_recipe_find (const char *name)
{
  g_autofree char *file = g_strconcat (name, ".recipe", NULL);
  const char *env = g_getenv ("VISAGE_MODELS_DIR");
  const char *dirs[3] = { VG_SOURCE_MODELS_DIR, PKGDATADIR "/models", NULL };

  if (g_file_test (name, G_FILE_TEST_IS_REGULAR))
    return g_strdup (name);
  if (strchr (name, '/') != NULL)
    return NULL;
  if (env != NULL)
    {
      dirs[0] = env;
      dirs[1] = NULL;
    }
  for (int i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], file, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }
  return NULL;
}

gboolean
vg_recipe_stage_options (const VgRecipe *r, int stage, const VgTrainOptions *base,
                         VgTrainOptions *o, GError **error)
{
  g_autofree char *last = NULL;
  gboolean init_previous;

  g_return_val_if_fail (stage >= 0 && stage < (int) r->groups->len, FALSE);
  vg_train_options_init (o);
  o->config = r->config;
  if (!apply_stage (r, stage, o, &init_previous, RUN_FILE, error))
    return FALSE;
  o->train_dir = g_strdup (base->train_dir);
  o->train_images = g_strdup (base->train_images);
  o->train_masks = g_strdup (base->train_masks);
  o->val_dir = g_strdup (base->val_dir);
  o->val_images = g_strdup (base->val_images);
  o->val_masks = g_strdup (base->val_masks);
  o->train_annotations = g_strdup (base->train_annotations);
  o->val_annotations = g_strdup (base->val_annotations);
  o->max_train = base->max_train;
  o->max_val = base->max_val;
  o->skip_bad = base->skip_bad;
  o->workers = base->workers;
  o->threads = base->threads;
  o->checkpoint_minutes = base->checkpoint_minutes;
  o->backend = base->backend;
  o->distributed = base->distributed;
  o->out_dir = g_build_filename (base->out_dir, vg_recipe_get_stage_name (r, stage), NULL);
  if (init_previous)
    o->init_from = g_build_filename (base->out_dir, vg_recipe_get_stage_name (r, stage - 1),
                                     "best.safetensors", NULL);
  last = g_build_filename (o->out_dir, "last.safetensors", NULL);
  o->resume = g_file_test (last, G_FILE_TEST_EXISTS);
  return TRUE;
}

/* ---- a recipe run --------------------------------------------------------------------- */

static const struct {
  const char *key;
  gsize offset;
} data_keys[] = {
  { "train", G_STRUCT_OFFSET (VgTrainOptions, train_dir) },
  { "train-images", G_STRUCT_OFFSET (VgTrainOptions, train_images) },
  { "train-masks", G_STRUCT_OFFSET (VgTrainOptions, train_masks) },
  { "val", G_STRUCT_OFFSET (VgTrainOptions, val_dir) },
  { "val-images", G_STRUCT_OFFSET (VgTrainOptions, val_images) },
  { "val-masks", G_STRUCT_OFFSET (VgTrainOptions, val_masks) },
  { "annotations", G_STRUCT_OFFSET (VgTrainOptions, train_annotations) },
  { "val-annotations", G_STRUCT_OFFSET (VgTrainOptions, val_annotations) },
};

gboolean
vg_recipe_is_run (const char *out_dir)
{
  g_autofree char *path = g_build_filename (out_dir, RUN_FILE, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* OUT/recipe.ini: the recipe as read, with the data folders (absolute) and limits. */
static gboolean
write_run_file (const VgRecipe *r, const VgTrainOptions *base, GError **error)
{
  g_autoptr (GKeyFile) copy = g_key_file_new ();
  g_autofree char *text = g_key_file_to_data (r->file, NULL, NULL);
  g_autofree char *path = g_build_filename (base->out_dir, RUN_FILE, NULL);
  g_autofree char *out = NULL;

  if (!g_key_file_load_from_data (copy, text, -1, G_KEY_FILE_KEEP_COMMENTS, error))
    return FALSE;
  g_key_file_remove_group (copy, DATA_GROUP, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (data_keys); i++)
    {
      const char *value = G_STRUCT_MEMBER (const char *, base, data_keys[i].offset);

      if (value != NULL)
        {
          g_autofree char *absolute = g_canonicalize_filename (value, NULL);

          g_key_file_set_string (copy, DATA_GROUP, data_keys[i].key, absolute);
        }
    }
  g_key_file_set_integer (copy, DATA_GROUP, "max-train", base->max_train);
  g_key_file_set_integer (copy, DATA_GROUP, "max-val", base->max_val);
  g_key_file_set_boolean (copy, DATA_GROUP, "skip-bad", base->skip_bad);
  out = g_key_file_to_data (copy, NULL, NULL);
  return g_file_set_contents_full (path, out, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT
                                   | G_FILE_SET_CONTENTS_DURABLE, 0644, error);
}

VgRecipe *
vg_recipe_load_run (const char *out_dir, VgTrainOptions *base, GError **error)
{
  g_autofree char *path = g_build_filename (out_dir, RUN_FILE, NULL);
  g_autoptr (VgRecipe) r = NULL;
  g_autoptr (GError) local = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_CHECKPOINT,
                   "%s holds no recipe run (no %s)", out_dir, RUN_FILE);
      return NULL;
    }
  if ((r = vg_recipe_load (path, error)) == NULL)
    return NULL;
  vg_train_options_init (base);
  for (gsize i = 0; i < G_N_ELEMENTS (data_keys); i++)
    G_STRUCT_MEMBER (char *, base, data_keys[i].offset)
      = g_key_file_get_string (r->file, DATA_GROUP, data_keys[i].key, NULL);
  base->max_train = g_key_file_get_integer (r->file, DATA_GROUP, "max-train", &local);
  if (local == NULL)
    base->max_val = g_key_file_get_integer (r->file, DATA_GROUP, "max-val", &local);
  if (local == NULL)
    base->skip_bad = g_key_file_get_boolean (r->file, DATA_GROUP, "skip-bad", &local);
  if (local != NULL)
    {
      g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_CHECKPOINT, "%s: [" DATA_GROUP "] %s",
                   path, local->message);
      vg_train_options_clear (base);
      return NULL;
    }
  base->out_dir = g_strdup (out_dir);
  base->resume = TRUE;
  return g_steal_pointer (&r);
}

/* A new run: its folder and OUT/recipe.ini, refused where a run is already. */
static gboolean
begin_run (const VgRecipe *r, const VgTrainOptions *base, GError **error)
{
  if (vg_recipe_is_run (base->out_dir))
    {
      g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_EXISTS,
                   "%s already holds a recipe run (%s): resume it, or choose another output "
                   "folder", base->out_dir, RUN_FILE);
      return FALSE;
    }
  if (g_mkdir_with_parents (base->out_dir, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create the output folder %s: %s", base->out_dir,
                   g_strerror (saved));
      return FALSE;
    }
  return write_run_file (r, base, error);
}

gboolean
vg_recipe_run (const VgRecipe *r, const VgTrainOptions *base, VgRecipeStageFunc stage_func,
               const VgTrainCallbacks *callbacks, gpointer user_data, VgTrainControl *control,
               GCancellable *cancellable, VgTrainState *final_state, GError **error)
{
  if (!base->resume)
    {
      /* Distributed, rank 0 alone begins the run, and the others wait for it (a collective):
       * a rank that wrote recipe.ini first made rank 0 find "a run already" (a race seen on
       * a quiet machine). */
      gboolean leader = !base->distributed || vg_dist_rank () == 0;
      gboolean ok = !leader || begin_run (r, base, error);

      if (base->distributed && !vg_dist_all (ok))
        {
          if (ok)
            g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_EXISTS,
                         "rank 0 could not begin the recipe run in %s (see its message)",
                         base->out_dir);
          return FALSE;
        }
      if (!ok)
        return FALSE;
    }

  for (int i = 0; i < vg_recipe_get_n_stages (r); i++)
    {
      VgTrainOptions o;
      gboolean ok;

      if (!vg_recipe_stage_options (r, i, base, &o, error))
        return FALSE;
      if (stage_func != NULL)
        stage_func (i, &o, user_data);
      ok = vg_train_run (&o, callbacks, user_data, control, cancellable, final_state, error);
      vg_train_options_clear (&o);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}
