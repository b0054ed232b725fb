/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The options of a training run: defaults, names, checks, and their metadata in
 * checkpoints (see vg-train.h; vg-train-private.h lists the trainer's files). */
#define G_LOG_DOMAIN "visage-train"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "vg-train-private.h"

/* ---- options ----------------------------------------------------------------------------- */

void
vg_train_options_init (VgTrainOptions *o)
{
  memset (o, 0, sizeof *o);
  vg_config_from_name (&o->config, "visage-s", NULL);
  o->epochs = 100;
  o->batch = 8;
  o->resolution = 0;
  o->workers = 2;
  o->checkpoint_minutes = 10.0;
  o->threads = 0;
  o->seed = 42;
  o->augment = TRUE;
  o->hflip = FALSE;
  o->skip_bad = FALSE;
  o->loss = VG_LOSS_WEIGHTED_CE;
  o->optimizer = VG_OPTIMIZER_PIPELINE;
  o->lr = 1e-3;
  o->weight_decay = 1e-7;
  o->patience = 12;
  o->sgd_lr = 0.02;
  o->sgd_momentum = 0.5;
  o->sgd_min_lr = 0.005;
  o->cosine_t = 50;
  o->cosine_floor = 0.5;
  o->select = VG_SELECT_LOSS;
}

void
vg_train_options_clear (VgTrainOptions *o)
{
  g_clear_pointer (&o->train_dir, g_free);
  g_clear_pointer (&o->train_images, g_free);
  g_clear_pointer (&o->train_masks, g_free);
  g_clear_pointer (&o->val_dir, g_free);
  g_clear_pointer (&o->val_images, g_free);
  g_clear_pointer (&o->val_masks, g_free);
  g_clear_pointer (&o->train_annotations, g_free);
  g_clear_pointer (&o->val_annotations, g_free);
  g_clear_pointer (&o->out_dir, g_free);
  g_clear_pointer (&o->init_from, g_free);
}

void
vg_train_options_copy (VgTrainOptions *dst, const VgTrainOptions *src)
{
  *dst = *src;
  dst->train_dir = g_strdup (src->train_dir);
  dst->train_images = g_strdup (src->train_images);
  dst->train_masks = g_strdup (src->train_masks);
  dst->val_dir = g_strdup (src->val_dir);
  dst->val_images = g_strdup (src->val_images);
  dst->val_masks = g_strdup (src->val_masks);
  dst->train_annotations = g_strdup (src->train_annotations);
  dst->val_annotations = g_strdup (src->val_annotations);
  dst->out_dir = g_strdup (src->out_dir);
  dst->init_from = g_strdup (src->init_from);
}

/* The one table of each kind's names, indexed by kind (vg-train.h). */
static const char *const loss_names[VG_N_LOSS_KINDS + 1] = {
  [VG_LOSS_WEIGHTED_CE] = "weighted-ce",
  [VG_LOSS_CE] = "ce",
  [VG_LOSS_CE_DICE] = "ce-dice",
  [VG_LOSS_WEIGHTED_CE_DICE] = "weighted-ce-dice",
  [VG_LOSS_CE_DICE_PRESENT] = "ce-dice-present",
  [VG_LOSS_WEIGHTED_CE_DICE_PRESENT] = "weighted-ce-dice-present",
  [VG_LOSS_CE_LOVASZ] = "ce-lovasz",
  [VG_LOSS_WEIGHTED_CE_LOVASZ] = "weighted-ce-lovasz",
  [VG_N_LOSS_KINDS] = NULL,
};
static const char *const optimizer_names[VG_N_OPTIMIZER_KINDS + 1] = {
  [VG_OPTIMIZER_PIPELINE] = "pipeline",
  [VG_OPTIMIZER_ADAM] = "adam",
  [VG_OPTIMIZER_ADAMW] = "adamw",
  [VG_OPTIMIZER_SGD] = "sgd",
  [VG_N_OPTIMIZER_KINDS] = NULL,
};
static const char *const select_names[VG_N_SELECT_KINDS + 1] = {
  [VG_SELECT_LOSS] = "loss",
  [VG_SELECT_MIOU] = "miou",
  [VG_N_SELECT_KINDS] = NULL,
};

const char *const *
vg_loss_kind_names (void)
{
  return loss_names;
}

const char *const *
vg_optimizer_kind_names (void)
{
  return optimizer_names;
}

const char *const *
vg_select_kind_names (void)
{
  return select_names;
}

static gboolean
name_lookup (int *value, const char *const *names, int n, const char *what, const char *name,
             GError **error)
{
  g_autoptr (GString) choices = g_string_new (NULL);

  for (int i = 0; i < n; i++)
    if (name != NULL && strcmp (name, names[i]) == 0)
      {
        *value = i;
        return TRUE;
      }
  for (int i = 0; i < n; i++)
    g_string_append_printf (choices, "%s%s", i > 0 ? ", " : "", names[i]);
  g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID, "unknown %s “%s” (choices: %s)",
               what, name != NULL ? name : "", choices->str);
  return FALSE;
}

const char *
vg_loss_kind_name (VgLossKind kind)
{
  return (unsigned) kind < VG_N_LOSS_KINDS ? loss_names[kind] : "?";
}

gboolean
vg_loss_kind_from_name (VgLossKind *kind, const char *name, GError **error)
{
  int v;

  if (!name_lookup (&v, loss_names, VG_N_LOSS_KINDS, "loss", name, error))
    return FALSE;
  *kind = (VgLossKind) v;
  return TRUE;
}

const char *
vg_optimizer_kind_name (VgOptimizerKind kind)
{
  return (unsigned) kind < VG_N_OPTIMIZER_KINDS ? optimizer_names[kind] : "?";
}

gboolean
vg_optimizer_kind_from_name (VgOptimizerKind *kind, const char *name, GError **error)
{
  int v;

  if (!name_lookup (&v, optimizer_names, VG_N_OPTIMIZER_KINDS, "optimizer", name,
                    error))
    return FALSE;
  *kind = (VgOptimizerKind) v;
  return TRUE;
}

const char *
vg_select_kind_name (VgSelectKind kind)
{
  return (unsigned) kind < VG_N_SELECT_KINDS ? select_names[kind] : "?";
}

gboolean
vg_select_kind_from_name (VgSelectKind *kind, const char *name, GError **error)
{
  int v;

  if (!name_lookup (&v, select_names, VG_N_SELECT_KINDS, "selection", name, error))
    return FALSE;
  *kind = (VgSelectKind) v;
  return TRUE;
}

gboolean
vg_train_loss_is_weighted (VgLossKind kind)
{
  return kind == VG_LOSS_WEIGHTED_CE || kind == VG_LOSS_WEIGHTED_CE_DICE
         || kind == VG_LOSS_WEIGHTED_CE_DICE_PRESENT || kind == VG_LOSS_WEIGHTED_CE_LOVASZ;
}

gboolean
vg_train_loss_dice_present (VgLossKind kind)
{
  return kind == VG_LOSS_CE_DICE_PRESENT || kind == VG_LOSS_WEIGHTED_CE_DICE_PRESENT;
}

gboolean
vg_train_loss_has_dice (VgLossKind kind)
{
  return kind == VG_LOSS_CE_DICE || kind == VG_LOSS_WEIGHTED_CE_DICE
         || vg_train_loss_dice_present (kind);
}

#define invalid_option(error, ...) \
  vg_fail (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID, __VA_ARGS__)

#define OPTION(name) G_STRUCT_OFFSET (VgTrainOptions, name)

static const VgTrainRange ranges[] = {
  { "lr", "the learning rate", OPTION (lr), 0, INFINITY, TRUE, TRUE },
  { "weight-decay", "the weight decay", OPTION (weight_decay), 0, INFINITY, FALSE, TRUE },
  { "sgd-lr", "SGD's learning rate", OPTION (sgd_lr), 0, INFINITY, TRUE, TRUE },
  { "sgd-momentum", "SGD's momentum", OPTION (sgd_momentum), 0, 1, FALSE, TRUE },
  { "sgd-min-lr", "SGD's minimum learning rate", OPTION (sgd_min_lr), 0, INFINITY, TRUE,
    TRUE },
  { "cosine-floor", "the cosine's floor", OPTION (cosine_floor), 0, 1, FALSE, FALSE },
  { "ema", "the moving average's decay", OPTION (ema), 0, 1, FALSE, TRUE },
  { "oversample", "the oversampling threshold", OPTION (oversample), 0, 1, FALSE, FALSE },
  { "checkpoint-minutes", "the checkpoint interval (minutes)", OPTION (checkpoint_minutes), 0,
    INFINITY, FALSE, TRUE },
};

#undef OPTION

const VgTrainRange *
vg_train_ranges (gsize *n)
{
  *n = G_N_ELEMENTS (ranges);
  return ranges;
}

const VgTrainRange *
vg_train_range (const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (ranges); i++)
    if (g_str_equal (ranges[i].key, key))
      return &ranges[i];
  return NULL;
}

gboolean
vg_train_range_holds (const VgTrainRange *r, double v)
{
  return (r->lo_open ? v > r->lo : v >= r->lo) && (r->hi_open ? v < r->hi : v <= r->hi);
}

/* "in [0, 1)", "more than 0", "0 or more" */
static char *
range_text (const VgTrainRange *r)
{
  if (isinf (r->hi))
    return r->lo_open ? g_strdup_printf ("more than %g", r->lo)
                      : g_strdup_printf ("%g or more", r->lo);
  return g_strdup_printf ("in %c%g, %g%c", r->lo_open ? '(' : '[', r->lo, r->hi,
                          r->hi_open ? ')' : ']');
}

gboolean
vg_train_options_validate (const VgTrainOptions *o, GError **error)
{
  if (!vg_config_validate (&o->config, error))
    return FALSE;
  if (o->out_dir == NULL || o->out_dir[0] == '\0')
    return invalid_option (error, "no output folder given");
  if (o->train_dir == NULL && (o->train_images == NULL || o->train_masks == NULL))
    return invalid_option (error, "no training split given (a folder, or images and masks)");
  if (o->val_dir == NULL && (o->val_images == NULL || o->val_masks == NULL))
    return invalid_option (error, "no validation split given (a folder, or images and "
                                  "masks): the schedule needs the validation loss");
  if (o->epochs < 1 || o->epochs > VG_TRAIN_MAX_EPOCHS)
    return invalid_option (error, "epochs must be between 1 and %d, not %d",
                           VG_TRAIN_MAX_EPOCHS, o->epochs);
  if (o->batch < 1 || o->batch > 4096)
    return invalid_option (error, "batch must be between 1 and 4096, not %d", o->batch);
  if (o->resolution < 0 || o->resolution % 32 != 0 || o->resolution > 8192)
    return invalid_option (error, "resolution must be 0 (the images' own size) or a multiple "
                                  "of 32 up to 8192, not %d", o->resolution);
  if (o->workers < 1 || o->workers > 256)
    return invalid_option (error, "workers must be between 1 and 256, not %d", o->workers);
  if (o->threads < 0 || o->threads > 1024)
    return invalid_option (error, "threads must be between 0 and 1024, not %d", o->threads);
  for (gsize i = 0; i < G_N_ELEMENTS (ranges); i++)
    {
      double v = G_STRUCT_MEMBER (double, o, ranges[i].offset);

      if (!vg_train_range_holds (&ranges[i], v))
        {
          g_autofree char *in = range_text (&ranges[i]);

          return invalid_option (error, "%s (%s) must be %s, not %g", ranges[i].what,
                                 ranges[i].key, in, v);
        }
    }
  if (o->patience < 0 || o->cosine_t < 0 || o->max_train < 0 || o->max_val < 0)
    return invalid_option (error, "patience, cosine T and the image limits must be 0 or more");
  if ((unsigned) o->loss >= VG_N_LOSS_KINDS
      || (unsigned) o->optimizer >= VG_N_OPTIMIZER_KINDS
      || (unsigned) o->select >= VG_N_SELECT_KINDS)
    return invalid_option (error, "unknown loss, optimizer or selection");
  return TRUE;
}

char *
vg_train_format_double (double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  /* %.17g round-trips every double; the ASCII variant ignores the locale's comma. */
  return g_strdup (g_ascii_formatd (buf, sizeof buf, "%.17g", v));
}

/* The options that define a run, as metadata pairs (key, value, ...) appended to pairs.
 * Everything except epochs, workers and threads must match to resume. */
void
vg_train_options_to_pairs (const VgTrainOptions *o, GPtrArray *pairs)
{
#define ADD(k, v) (g_ptr_array_add (pairs, g_strdup (META_PREFIX k)), g_ptr_array_add (pairs, v))
  ADD ("config", vg_config_to_string (&o->config));
  ADD ("train_dir", g_strdup (o->train_dir != NULL ? o->train_dir : ""));
  ADD ("train_images", g_strdup (o->train_images != NULL ? o->train_images : ""));
  ADD ("train_masks", g_strdup (o->train_masks != NULL ? o->train_masks : ""));
  ADD ("val_dir", g_strdup (o->val_dir != NULL ? o->val_dir : ""));
  ADD ("val_images", g_strdup (o->val_images != NULL ? o->val_images : ""));
  ADD ("val_masks", g_strdup (o->val_masks != NULL ? o->val_masks : ""));
  ADD ("train_annotations", g_strdup (o->train_annotations != NULL ? o->train_annotations
                                                                   : ""));
  ADD ("val_annotations", g_strdup (o->val_annotations != NULL ? o->val_annotations : ""));
  ADD ("init_from", g_strdup (o->init_from != NULL ? o->init_from : ""));
  ADD ("batch", g_strdup_printf ("%d", o->batch));
  ADD ("resolution", g_strdup_printf ("%d", o->resolution));
  ADD ("seed", g_strdup_printf ("%" G_GUINT64_FORMAT, o->seed));
  ADD ("augment", g_strdup (o->augment ? "1" : "0"));
  ADD ("hflip", g_strdup (o->hflip ? "1" : "0"));
  ADD ("skip_bad", g_strdup (o->skip_bad ? "1" : "0"));
  ADD ("loss", g_strdup (vg_loss_kind_name (o->loss)));
  ADD ("optimizer", g_strdup (vg_optimizer_kind_name (o->optimizer)));
  ADD ("lr", vg_train_format_double (o->lr));
  ADD ("weight_decay", vg_train_format_double (o->weight_decay));
  ADD ("patience", g_strdup_printf ("%d", o->patience));
  ADD ("sgd_lr", vg_train_format_double (o->sgd_lr));
  ADD ("sgd_momentum", vg_train_format_double (o->sgd_momentum));
  ADD ("sgd_min_lr", vg_train_format_double (o->sgd_min_lr));
  ADD ("cosine_t", g_strdup_printf ("%d", o->cosine_t));
  ADD ("cosine_floor", vg_train_format_double (o->cosine_floor));
  ADD ("select", g_strdup (vg_select_kind_name (o->select)));
  ADD ("ema", vg_train_format_double (o->ema));
  ADD ("oversample", vg_train_format_double (o->oversample));
  ADD ("max_train", g_strdup_printf ("%d", o->max_train));
  ADD ("max_val", g_strdup_printf ("%d", o->max_val));
#undef ADD
}

/* Informational: a resumed run starts from these unless the caller changes them. */
void
vg_train_options_to_pairs_mutable (const VgTrainOptions *o, GPtrArray *pairs)
{
  g_ptr_array_add (pairs, g_strdup (META_PREFIX "epochs"));
  g_ptr_array_add (pairs, g_strdup_printf ("%d", o->epochs));
  g_ptr_array_add (pairs, g_strdup (META_PREFIX "workers"));
  g_ptr_array_add (pairs, g_strdup_printf ("%d", o->workers));
  g_ptr_array_add (pairs, g_strdup (META_PREFIX "threads"));
  g_ptr_array_add (pairs, g_strdup_printf ("%d", o->threads));
}

const char *
vg_train_meta_get (const VgSafetensors *st, const char *path, const char *key, GError **error)
{
  const char *value = vg_safetensors_metadata (st, key);

  if (value == NULL)
    vg_train_checkpoint_error (error, path, "no “%s” in the metadata: not a training "
                               "checkpoint of visage (best.safetensors cannot be resumed; "
                               "last.safetensors can)", key);
  return value;
}

/* A value that its own parser (configuration, loss, optimizer, selection) refused: the
 * error names the file and the key as well. Always FALSE. */
gboolean
vg_train_meta_refused (GError **error, const char *path, const char *key)
{
  g_prefix_error (error, "%s: “%s”: ", path, key);
  return FALSE;
}

gboolean
vg_train_meta_int (const VgSafetensors *st, const char *path, const char *key, int64_t *out,
                   GError **error)
{
  const char *text = vg_train_meta_get (st, path, key, error);
  char *end = NULL;

  if (text == NULL)
    return FALSE;
  errno = 0;
  *out = g_ascii_strtoll (text, &end, 10);
  if (errno != 0 || end == text || *end != '\0')
    return vg_train_checkpoint_error (error, path, "“%s” is not an integer: “%s”", key,
                                      text);
  return TRUE;
}

gboolean
vg_train_meta_double (const VgSafetensors *st, const char *path, const char *key, double *out,
                      GError **error)
{
  const char *text = vg_train_meta_get (st, path, key, error);
  char *end = NULL;

  if (text == NULL)
    return FALSE;
  *out = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0')
    return vg_train_checkpoint_error (error, path, "“%s” is not a number: “%s”", key, text);
  return TRUE;
}

/* A comma-separated list of exactly n numbers. */
gboolean
vg_train_meta_doubles (const VgSafetensors *st, const char *path, const char *key,
                       double *out, int n, GError **error)
{
  const char *text = vg_train_meta_get (st, path, key, error);
  g_auto (GStrv) parts = NULL;

  if (text == NULL)
    return FALSE;
  parts = g_strsplit (text, ",", -1);
  if ((int) g_strv_length (parts) != n)
    return vg_train_checkpoint_error (error, path, "“%s” should hold %d numbers", key, n);
  for (int i = 0; i < n; i++)
    {
      char *end = NULL;
      out[i] = g_ascii_strtod (parts[i], &end);
      if (end == parts[i] || *end != '\0')
        return vg_train_checkpoint_error (error, path, "“%s” is not a list of numbers", key);
    }
  return TRUE;
}

/* A path from the metadata: NULL for an absent key or an empty value. */
static char *
path_or_null (const char *value)
{
  return value != NULL && value[0] != '\0' ? g_strdup (value) : NULL;
}

gboolean
vg_train_options_load (VgTrainOptions *o, const char *out_dir, GError **error)
{
  g_autofree char *path = g_build_filename (out_dir, "last.safetensors", NULL);
  g_autoptr (VgSafetensors) st = NULL;
  const char *text;
  int64_t v;
  double d;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return vg_train_checkpoint_error (error, path, "there is no training run to resume in %s",
                                      out_dir);
  st = vg_safetensors_open (path, error);
  if (st == NULL)
    return FALSE;

  vg_train_options_init (o);
  if ((text = vg_train_meta_get (st, path, META_PREFIX "config", error)) == NULL)
    return FALSE;
  if (!vg_config_parse (&o->config, text, error))
    return vg_train_meta_refused (error, path, META_PREFIX "config");
#define STR(field)                                                                   \
  if ((text = vg_train_meta_get (st, path, META_PREFIX #field, error)) == NULL)      \
    return FALSE;                                                                    \
  o->field = path_or_null (text);
  STR (train_dir);
  STR (train_images);
  STR (train_masks);
  STR (val_dir);
  STR (val_images);
  STR (val_masks);
#undef STR
  /* Runs written before annotations existed have no such keys: they had none. */
  o->train_annotations =
    path_or_null (vg_safetensors_metadata (st, META_PREFIX "train_annotations"));
  o->val_annotations = path_or_null (vg_safetensors_metadata (st, META_PREFIX "val_annotations"));
  /* Runs written before init_from existed have no such key: they started from scratch. */
  o->init_from = path_or_null (vg_safetensors_metadata (st, META_PREFIX "init_from"));
#define INT(field)                                                                   \
  if (!vg_train_meta_int (st, path, META_PREFIX #field, &v, error))                  \
    return FALSE;                                                                    \
  o->field = (int) v;
  INT (epochs);
  INT (batch);
  INT (resolution);
  INT (workers);
  INT (threads);
  INT (augment);
  INT (hflip);
  INT (skip_bad);
  INT (patience);
  INT (cosine_t);
  INT (max_train);
  INT (max_val);
#undef INT
#define DBL(field)                                                                   \
  if (!vg_train_meta_double (st, path, META_PREFIX #field, &d, error))               \
    return FALSE;                                                                    \
  o->field = d;
  DBL (lr);
  DBL (weight_decay);
  DBL (sgd_lr);
  DBL (sgd_momentum);
  DBL (sgd_min_lr);
#undef DBL
  /* Runs written before these options existed have no such keys: they had neither. */
  o->ema = o->oversample = 0.0;
  if (vg_safetensors_metadata (st, META_PREFIX "ema") != NULL
      && !vg_train_meta_double (st, path, META_PREFIX "ema", &o->ema, error))
    return FALSE;
  if (vg_safetensors_metadata (st, META_PREFIX "oversample") != NULL
      && !vg_train_meta_double (st, path, META_PREFIX "oversample", &o->oversample, error))
    return FALSE;
  /* Runs written before the floor existed annealed to half the rate. */
  o->cosine_floor = 0.5;
  if (vg_safetensors_metadata (st, META_PREFIX "cosine_floor") != NULL
      && !vg_train_meta_double (st, path, META_PREFIX "cosine_floor", &o->cosine_floor,
                                error))
    return FALSE;
  if ((text = vg_train_meta_get (st, path, META_PREFIX "seed", error)) == NULL)
    return FALSE;
  o->seed = g_ascii_strtoull (text, NULL, 10);
  if ((text = vg_train_meta_get (st, path, META_PREFIX "loss", error)) == NULL)
    return FALSE;
  if (!vg_loss_kind_from_name (&o->loss, text, error))
    return vg_train_meta_refused (error, path, META_PREFIX "loss");
  if ((text = vg_train_meta_get (st, path, META_PREFIX "optimizer", error)) == NULL)
    return FALSE;
  if (!vg_optimizer_kind_from_name (&o->optimizer, text, error))
    return vg_train_meta_refused (error, path, META_PREFIX "optimizer");
  if ((text = vg_train_meta_get (st, path, META_PREFIX "select", error)) == NULL)
    return FALSE;
  if (!vg_select_kind_from_name (&o->select, text, error))
    return vg_train_meta_refused (error, path, META_PREFIX "select");
  o->out_dir = g_strdup (out_dir);
  o->resume = TRUE;
  return TRUE;
}

char *
vg_train_read_log (const char *out_dir, GError **error)
{
  g_autofree char *path = g_build_filename (out_dir, "last.safetensors", NULL);
  g_autoptr (VgSafetensors) st = NULL;
  const char *log;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      vg_train_checkpoint_error (error, path, "there is no training run in %s", out_dir);
      return NULL;
    }
  if ((st = vg_safetensors_open (path, error)) == NULL
      || (log = vg_train_meta_get (st, path, META_PREFIX "log", error)) == NULL)
    return NULL;
  return g_strconcat (LOG_HEADER, log, NULL);
}

gboolean
vg_train_state_load (VgTrainState *state, const VgTrainOptions *opts, const char *out_dir,
                     GError **error)
{
  g_autofree char *path = g_build_filename (out_dir, "last.safetensors", NULL);
  g_autoptr (VgSafetensors) st = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return vg_train_checkpoint_error (error, path, "there is no training run in %s", out_dir);
  if ((st = vg_safetensors_open (path, error)) == NULL)
    return FALSE;
  return vg_train_state_from_metadata (state, opts, st, path, error);
}

/* The first option of the run whose value in st differs from o's. */
gboolean
vg_train_options_check_same (const VgTrainOptions *o, const VgSafetensors *st, const char *path,
                             GError **error)
{
  g_autoptr (GPtrArray) pairs = g_ptr_array_new_with_free_func (g_free);

  vg_train_options_to_pairs (o, pairs);
  for (guint i = 0; i + 1 < pairs->len; i += 2)
    {
      const char *key = pairs->pdata[i], *want = pairs->pdata[i + 1];
      const char *have = vg_safetensors_metadata (st, key);

      /* Options added since older checkpoints were written: absent means unused. */
      if (have == NULL && (g_str_equal (key, META_PREFIX "train_annotations")
                           || g_str_equal (key, META_PREFIX "val_annotations")
                           || g_str_equal (key, META_PREFIX "init_from")))
        have = "";
      if (have == NULL && (g_str_equal (key, META_PREFIX "ema")
                           || g_str_equal (key, META_PREFIX "oversample")))
        have = "0";
      if (have == NULL)
        return vg_train_checkpoint_error (error, path, "no “%s” in the metadata: not a training "
                                          "checkpoint of visage", key);
      if (strcmp (have, want) != 0)
        return vg_train_checkpoint_error (error, path, "the run was started with %s = “%s”, "
                                          "not “%s”; a resumed run keeps its options (only "
                                          "the epoch limit, workers and threads may change)",
                                          key + strlen (META_PREFIX), have, want);
    }
  return TRUE;
}
