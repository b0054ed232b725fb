/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The training loop of the report's method (see vg-train.h).
 *
 * Memory: the training model's plan (parameters, gradients, activations for one batch),
 * the optimiser moments m and v (n_params each) and the lowest-loss weights (n_state) are
 * allocated before the first step; a step allocates nothing. Validation runs on a second
 * model (inference activations only) that receives a copy of the weights, so the training
 * activations are planned once for the whole run.
 *
 * n_state counts the floats of the trainable parameters and the BatchNorm running
 * statistics, in state_dict order: what "the weights" means when the pipeline reloads the
 * best ones. */
#define G_LOG_DOMAIN "vg-train"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <omp.h>

#include "vg-atomic-file.h"
#include "vg-dice.h"
#include "vg-loader.h"
#include "vg-metrics.h"
#include "vg-model.h"
#include "vg-predict.h"
#include "vg-safetensors.h"
#include "vg-split.h"
#include "vg-stats.h"
#include "vg-models.h"
#include "vg-train.h"

G_DEFINE_QUARK (vg-train-error-quark, vg_train_error)

/* Adam's constants (torch.optim.Adam defaults; the report does not change them). */
#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPS 1e-8f

#define META_PREFIX "visage.train."
#define LOG_HEADER "epoch,phase,optimizer,lr,train_loss,val_loss,val_miou,seconds,images_per_s\n"

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

static const char *const loss_names[] = { "weighted-ce",     "ce",
                                          "ce-dice",         "weighted-ce-dice",
                                          "ce-dice-present", "weighted-ce-dice-present" };
static const char *const optimizer_names[] = { "pipeline", "adam", "adamw", "sgd" };
static const char *const select_names[] = { "loss", "miou" };

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
  return (unsigned) kind < G_N_ELEMENTS (loss_names) ? loss_names[kind] : "?";
}

gboolean
vg_loss_kind_from_name (VgLossKind *kind, const char *name, GError **error)
{
  int v;

  if (!name_lookup (&v, loss_names, G_N_ELEMENTS (loss_names), "loss", name, error))
    return FALSE;
  *kind = (VgLossKind) v;
  return TRUE;
}

const char *
vg_optimizer_kind_name (VgOptimizerKind kind)
{
  return (unsigned) kind < G_N_ELEMENTS (optimizer_names) ? optimizer_names[kind] : "?";
}

gboolean
vg_optimizer_kind_from_name (VgOptimizerKind *kind, const char *name, GError **error)
{
  int v;

  if (!name_lookup (&v, optimizer_names, G_N_ELEMENTS (optimizer_names), "optimizer", name,
                    error))
    return FALSE;
  *kind = (VgOptimizerKind) v;
  return TRUE;
}

const char *
vg_select_kind_name (VgSelectKind kind)
{
  return (unsigned) kind < G_N_ELEMENTS (select_names) ? select_names[kind] : "?";
}

gboolean
vg_select_kind_from_name (VgSelectKind *kind, const char *name, GError **error)
{
  int v;

  if (!name_lookup (&v, select_names, G_N_ELEMENTS (select_names), "selection", name, error))
    return FALSE;
  *kind = (VgSelectKind) v;
  return TRUE;
}

static gboolean
loss_is_weighted (VgLossKind kind)
{
  return kind == VG_LOSS_WEIGHTED_CE || kind == VG_LOSS_WEIGHTED_CE_DICE
         || kind == VG_LOSS_WEIGHTED_CE_DICE_PRESENT;
}

static gboolean
loss_dice_present (VgLossKind kind)
{
  return kind == VG_LOSS_CE_DICE_PRESENT || kind == VG_LOSS_WEIGHTED_CE_DICE_PRESENT;
}

static gboolean
loss_has_dice (VgLossKind kind)
{
  return kind == VG_LOSS_CE_DICE || kind == VG_LOSS_WEIGHTED_CE_DICE
         || loss_dice_present (kind);
}

static gboolean
invalid_option (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid_option (GError **error, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID, message);
  return FALSE;
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
  if (!(o->checkpoint_minutes >= 0.0) || !isfinite (o->checkpoint_minutes))
    return invalid_option (error, "the checkpoint interval must be a number of minutes >= 0");
  if (o->threads < 0 || o->threads > 1024)
    return invalid_option (error, "threads must be between 0 and 1024, not %d", o->threads);
  if (!(o->lr > 0.0) || !(o->sgd_lr > 0.0) || !(o->sgd_min_lr > 0.0) || !isfinite (o->lr)
      || !isfinite (o->sgd_lr) || !isfinite (o->sgd_min_lr))
    return invalid_option (error, "learning rates must be positive numbers");
  if (!(o->weight_decay >= 0.0) || !isfinite (o->weight_decay))
    return invalid_option (error, "weight decay must be 0 or positive");
  if (!(o->sgd_momentum >= 0.0 && o->sgd_momentum < 1.0))
    return invalid_option (error, "SGD momentum must be in [0, 1), not %g", o->sgd_momentum);
  if (!(o->ema >= 0.0 && o->ema < 1.0))
    return invalid_option (error, "the moving average's decay must be in [0, 1), not %g",
                           o->ema);
  if (!(o->oversample >= 0.0 && o->oversample <= 1.0))
    return invalid_option (error, "the oversampling threshold must be in [0, 1], not %g",
                           o->oversample);
  if (o->patience < 0 || o->cosine_t < 0 || o->max_train < 0 || o->max_val < 0)
    return invalid_option (error, "patience, cosine T and the image limits must be 0 or more");
  if ((unsigned) o->loss >= G_N_ELEMENTS (loss_names)
      || (unsigned) o->optimizer >= G_N_ELEMENTS (optimizer_names)
      || (unsigned) o->select >= G_N_ELEMENTS (select_names))
    return invalid_option (error, "unknown loss, optimizer or selection");
  return TRUE;
}

static char *
format_double (double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  /* %.17g round-trips every double; the ASCII variant ignores the locale's comma. */
  return g_strdup (g_ascii_formatd (buf, sizeof buf, "%.17g", v));
}

/* The options that define a run, as metadata pairs (key, value, ...) appended to pairs.
 * Everything except epochs, workers and threads must match to resume. */
static void
options_to_pairs (const VgTrainOptions *o, GPtrArray *pairs)
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
  ADD ("lr", format_double (o->lr));
  ADD ("weight_decay", format_double (o->weight_decay));
  ADD ("patience", g_strdup_printf ("%d", o->patience));
  ADD ("sgd_lr", format_double (o->sgd_lr));
  ADD ("sgd_momentum", format_double (o->sgd_momentum));
  ADD ("sgd_min_lr", format_double (o->sgd_min_lr));
  ADD ("cosine_t", g_strdup_printf ("%d", o->cosine_t));
  ADD ("select", g_strdup (vg_select_kind_name (o->select)));
  ADD ("ema", format_double (o->ema));
  ADD ("oversample", format_double (o->oversample));
  ADD ("max_train", g_strdup_printf ("%d", o->max_train));
  ADD ("max_val", g_strdup_printf ("%d", o->max_val));
#undef ADD
}

/* Informational: a resumed run starts from these unless the caller changes them. */
static void
options_to_pairs_mutable (const VgTrainOptions *o, GPtrArray *pairs)
{
  g_ptr_array_add (pairs, g_strdup (META_PREFIX "epochs"));
  g_ptr_array_add (pairs, g_strdup_printf ("%d", o->epochs));
  g_ptr_array_add (pairs, g_strdup (META_PREFIX "workers"));
  g_ptr_array_add (pairs, g_strdup_printf ("%d", o->workers));
  g_ptr_array_add (pairs, g_strdup (META_PREFIX "threads"));
  g_ptr_array_add (pairs, g_strdup_printf ("%d", o->threads));
}

static gboolean
checkpoint_error (GError **error, const char *path, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static gboolean
checkpoint_error (GError **error, const char *path, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_CHECKPOINT, "%s: %s", path, message);
  return FALSE;
}

static const char *
meta_get (const VgSafetensors *st, const char *path, const char *key, GError **error)
{
  const char *value = vg_safetensors_metadata (st, key);

  if (value == NULL)
    checkpoint_error (error, path, "no “%s” in the metadata: not a training checkpoint of "
                      "visage (best.safetensors cannot be resumed; last.safetensors can)",
                      key);
  return value;
}

/* A value that its own parser (configuration, loss, optimizer, selection) refused: the
 * error names the file and the key as well. Always FALSE. */
static gboolean
meta_refused (GError **error, const char *path, const char *key)
{
  g_prefix_error (error, "%s: “%s”: ", path, key);
  return FALSE;
}

static gboolean
meta_int (const VgSafetensors *st, const char *path, const char *key, int64_t *out,
          GError **error)
{
  const char *text = meta_get (st, path, key, error);
  char *end = NULL;

  if (text == NULL)
    return FALSE;
  errno = 0;
  *out = g_ascii_strtoll (text, &end, 10);
  if (errno != 0 || end == text || *end != '\0')
    return checkpoint_error (error, path, "“%s” is not an integer: “%s”", key, text);
  return TRUE;
}

static gboolean
meta_double (const VgSafetensors *st, const char *path, const char *key, double *out,
             GError **error)
{
  const char *text = meta_get (st, path, key, error);
  char *end = NULL;

  if (text == NULL)
    return FALSE;
  *out = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0')
    return checkpoint_error (error, path, "“%s” is not a number: “%s”", key, text);
  return TRUE;
}

/* A comma-separated list of exactly n numbers. */
static gboolean
meta_doubles (const VgSafetensors *st, const char *path, const char *key, double *out, int n,
              GError **error)
{
  const char *text = meta_get (st, path, key, error);
  g_auto (GStrv) parts = NULL;

  if (text == NULL)
    return FALSE;
  parts = g_strsplit (text, ",", -1);
  if ((int) g_strv_length (parts) != n)
    return checkpoint_error (error, path, "“%s” should hold %d numbers", key, n);
  for (int i = 0; i < n; i++)
    {
      char *end = NULL;
      out[i] = g_ascii_strtod (parts[i], &end);
      if (end == parts[i] || *end != '\0')
        return checkpoint_error (error, path, "“%s” is not a list of numbers", key);
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
    return checkpoint_error (error, path, "there is no training run to resume in %s", out_dir);
  st = vg_safetensors_open (path, error);
  if (st == NULL)
    return FALSE;

  vg_train_options_init (o);
  if ((text = meta_get (st, path, META_PREFIX "config", error)) == NULL)
    return FALSE;
  if (!vg_config_parse (&o->config, text, error))
    return meta_refused (error, path, META_PREFIX "config");
#define STR(field)                                                                   \
  if ((text = meta_get (st, path, META_PREFIX #field, error)) == NULL)               \
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
  if (!meta_int (st, path, META_PREFIX #field, &v, error))                           \
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
  if (!meta_double (st, path, META_PREFIX #field, &d, error))                        \
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
      && !meta_double (st, path, META_PREFIX "ema", &o->ema, error))
    return FALSE;
  if (vg_safetensors_metadata (st, META_PREFIX "oversample") != NULL
      && !meta_double (st, path, META_PREFIX "oversample", &o->oversample, error))
    return FALSE;
  if ((text = meta_get (st, path, META_PREFIX "seed", error)) == NULL)
    return FALSE;
  o->seed = g_ascii_strtoull (text, NULL, 10);
  if ((text = meta_get (st, path, META_PREFIX "loss", error)) == NULL)
    return FALSE;
  if (!vg_loss_kind_from_name (&o->loss, text, error))
    return meta_refused (error, path, META_PREFIX "loss");
  if ((text = meta_get (st, path, META_PREFIX "optimizer", error)) == NULL)
    return FALSE;
  if (!vg_optimizer_kind_from_name (&o->optimizer, text, error))
    return meta_refused (error, path, META_PREFIX "optimizer");
  if ((text = meta_get (st, path, META_PREFIX "select", error)) == NULL)
    return FALSE;
  if (!vg_select_kind_from_name (&o->select, text, error))
    return meta_refused (error, path, META_PREFIX "select");
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
      checkpoint_error (error, path, "there is no training run in %s", out_dir);
      return NULL;
    }
  if ((st = vg_safetensors_open (path, error)) == NULL
      || (log = meta_get (st, path, META_PREFIX "log", error)) == NULL)
    return NULL;
  return g_strconcat (LOG_HEADER, log, NULL);
}

/* The first option of the run whose value in st differs from o's. */
static gboolean
options_check_same (const VgTrainOptions *o, const VgSafetensors *st, const char *path,
                    GError **error)
{
  g_autoptr (GPtrArray) pairs = g_ptr_array_new_with_free_func (g_free);

  options_to_pairs (o, pairs);
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
        return checkpoint_error (error, path, "no “%s” in the metadata: not a training "
                                 "checkpoint of visage", key);
      if (strcmp (have, want) != 0)
        return checkpoint_error (error, path, "the run was started with %s = “%s”, not “%s”; "
                                 "a resumed run keeps its options (only the epoch limit, "
                                 "workers and threads may change)",
                                 key + strlen (META_PREFIX), have, want);
    }
  return TRUE;
}

/* ---- the schedule ------------------------------------------------------------------------ */

void
vg_train_state_init (VgTrainState *s, const VgTrainOptions *o)
{
  memset (s, 0, sizeof *s);
  switch (o->optimizer)
    {
    case VG_OPTIMIZER_ADAMW:
      s->optimizer = VG_OPTIMIZER_ADAMW;
      s->phase_lr = o->lr;
      break;
    case VG_OPTIMIZER_SGD:
      s->optimizer = VG_OPTIMIZER_SGD;
      s->phase_lr = o->sgd_lr;
      break;
    case VG_OPTIMIZER_PIPELINE:
    case VG_OPTIMIZER_ADAM:
    default:
      s->optimizer = VG_OPTIMIZER_ADAM;
      s->phase_lr = o->lr;
      break;
    }
  s->best_loss = INFINITY;
  s->best_miou = -1.0;
}

double
vg_cosine_lr (double lr0, double lr_min, int e, int T)
{
  if (T <= 0)
    return lr0;
  e = CLAMP (e, 0, T);
  return lr_min + (lr0 - lr_min) * (1.0 + cos (G_PI * e / T)) / 2.0;
}

double
vg_train_state_lr (const VgTrainState *s, const VgTrainOptions *o)
{
  /* the report: each phase anneals from its rate to half of it */
  return vg_cosine_lr (s->phase_lr, s->phase_lr / 2.0, s->epoch - s->phase_start, o->cosine_t);
}

VgTrainEvents
vg_train_state_update (VgTrainState *s, const VgTrainOptions *o, double val_loss,
                       double val_miou)
{
  VgTrainEvents ev = 0;

  s->epoch++;
  if (val_loss < s->best_loss) /* FALSE for NaN */
    {
      s->best_loss = val_loss;
      s->best_loss_epoch = s->epoch;
      s->bad_epochs = 0;
      ev |= VG_TRAIN_EVENT_BETTER_LOSS;
    }
  else
    s->bad_epochs++;
  if (val_miou > s->best_miou)
    {
      s->best_miou = val_miou;
      s->best_miou_epoch = s->epoch;
      ev |= VG_TRAIN_EVENT_BETTER_MIOU;
    }
  if (o->select == VG_SELECT_LOSS ? (ev & VG_TRAIN_EVENT_BETTER_LOSS)
                                  : (ev & VG_TRAIN_EVENT_BETTER_MIOU))
    ev |= VG_TRAIN_EVENT_SAVE_BEST;

  if (o->patience > 0 && s->bad_epochs >= o->patience)
    {
      s->bad_epochs = 0;
      if (o->optimizer != VG_OPTIMIZER_PIPELINE)
        {
          /* a single optimiser: patience is early stopping */
          s->finished = TRUE;
          ev |= VG_TRAIN_EVENT_STOP;
        }
      else
        {
          double next = s->phase == 0 ? o->sgd_lr : s->phase_lr / 2.0;

          if (next < o->sgd_min_lr)
            {
              s->finished = TRUE;
              ev |= VG_TRAIN_EVENT_STOP;
            }
          else
            {
              ev |= VG_TRAIN_EVENT_RELOAD_BEST
                    | (s->phase == 0 ? VG_TRAIN_EVENT_SWITCH_SGD : VG_TRAIN_EVENT_HALVE_LR);
              s->phase++;
              s->phase_lr = next;
              s->phase_start = s->epoch;
              s->optimizer = VG_OPTIMIZER_SGD;
              s->steps = 0;
            }
        }
    }
  return ev;
}

static void
state_to_pairs (const VgTrainState *s, GPtrArray *pairs)
{
#define ADD(k, v) (g_ptr_array_add (pairs, g_strdup (META_PREFIX k)), g_ptr_array_add (pairs, v))
  ADD ("state.epoch", g_strdup_printf ("%d", s->epoch));
  ADD ("state.phase", g_strdup_printf ("%d", s->phase));
  ADD ("state.phase_start", g_strdup_printf ("%d", s->phase_start));
  ADD ("state.phase_lr", format_double (s->phase_lr));
  ADD ("state.optimizer", g_strdup (vg_optimizer_kind_name (s->optimizer)));
  ADD ("state.steps", g_strdup_printf ("%" G_GINT64_FORMAT, s->steps));
  ADD ("state.bad_epochs", g_strdup_printf ("%d", s->bad_epochs));
  ADD ("state.best_loss", format_double (s->best_loss));
  ADD ("state.best_loss_epoch", g_strdup_printf ("%d", s->best_loss_epoch));
  ADD ("state.best_miou", format_double (s->best_miou));
  ADD ("state.best_miou_epoch", g_strdup_printf ("%d", s->best_miou_epoch));
  ADD ("state.finished", g_strdup (s->finished ? "1" : "0"));
  ADD ("state.epoch_step", g_strdup_printf ("%d", s->epoch_step));
  ADD ("state.epoch_loss_sum", format_double (s->epoch_loss_sum));
#undef ADD
}

/* An integer of the metadata within [min, max]. */
static gboolean
meta_int_in (const VgSafetensors *st, const char *path, const char *key, int64_t min,
             int64_t max, int64_t *out, GError **error)
{
  if (!meta_int (st, path, key, out, error))
    return FALSE;
  if (*out < min || *out > max)
    return checkpoint_error (error, path, "“%s” is %" G_GINT64_FORMAT ", outside %"
                             G_GINT64_FORMAT "..%" G_GINT64_FORMAT, key, *out, min, max);
  return TRUE;
}

/* The starting rate of the schedule's phase for the run's options; 0 where the options
 * have no such phase. */
static double
phase_rate (const VgTrainOptions *o, int64_t phase)
{
  double rate;

  if (phase == 0)
    return o->optimizer == VG_OPTIMIZER_SGD ? o->sgd_lr : o->lr;
  if (o->optimizer != VG_OPTIMIZER_PIPELINE)
    return 0.0;
  rate = o->sgd_lr;
  for (int64_t k = 1; k < phase && rate >= o->sgd_min_lr; k++)
    rate /= 2.0;
  return rate >= o->sgd_min_lr ? rate : 0.0;
}

/* The schedule's state from a checkpoint of the run with options o: every field within its
 * range and consistent with the options and the others, so that an edited or damaged
 * checkpoint is refused rather than trained on. */
static gboolean
state_from_metadata (VgTrainState *s, const VgTrainOptions *o, const VgSafetensors *st,
                     const char *path, GError **error)
{
  const char *text;
  int64_t v;
  VgOptimizerKind expected;

  memset (s, 0, sizeof *s);
#define INT(field, min, max)                                                         \
  if (!meta_int_in (st, path, META_PREFIX "state." #field, (min), (max), &v, error)) \
    return FALSE;                                                                    \
  s->field = v;
  INT (epoch, 0, VG_TRAIN_MAX_EPOCHS);
  INT (phase, 0, VG_TRAIN_MAX_EPOCHS);
  INT (phase_start, 0, s->epoch);
  INT (steps, 0, (int64_t) 1 << 52);
  INT (bad_epochs, 0, s->epoch - s->phase_start);
  INT (best_loss_epoch, 0, s->epoch);
  INT (best_miou_epoch, 0, s->epoch);
  INT (finished, 0, 1);
#undef INT
  if (!meta_double (st, path, META_PREFIX "state.phase_lr", &s->phase_lr, error)
      || !meta_double (st, path, META_PREFIX "state.best_loss", &s->best_loss, error)
      || !meta_double (st, path, META_PREFIX "state.best_miou", &s->best_miou, error))
    return FALSE;
  if ((text = meta_get (st, path, META_PREFIX "state.optimizer", error)) == NULL)
    return FALSE;
  if (!vg_optimizer_kind_from_name (&s->optimizer, text, error))
    return meta_refused (error, path, META_PREFIX "state.optimizer");
  /* Checkpoints from before mid-epoch checkpoints have neither: an epoch's end. */
  if (vg_safetensors_metadata (st, META_PREFIX "state.epoch_step") != NULL)
    {
      if (!meta_int_in (st, path, META_PREFIX "state.epoch_step", 0, G_MAXINT, &v, error)
          || !meta_double (st, path, META_PREFIX "state.epoch_loss_sum", &s->epoch_loss_sum,
                           error))
        return FALSE;
      s->epoch_step = (int) v;
      if (!isfinite (s->epoch_loss_sum) || s->epoch_loss_sum < 0.0
          || (s->epoch_step == 0 && s->epoch_loss_sum != 0.0))
        return checkpoint_error (error, path, "“%sstate.epoch_loss_sum” is %g at step %d",
                                 META_PREFIX, s->epoch_loss_sum, s->epoch_step);
    }

  /* the phase, its optimiser and its rate follow from the options */
  if (phase_rate (o, s->phase) == 0.0)
    return checkpoint_error (error, path, "“%sstate.phase” is %d, which a run with these "
                             "options never reaches", META_PREFIX, s->phase);
  if (!(fabs (s->phase_lr - phase_rate (o, s->phase)) <= 1e-9 * phase_rate (o, s->phase)))
    return checkpoint_error (error, path, "“%sstate.phase_lr” is %g, not the rate %g of "
                             "phase %d", META_PREFIX, s->phase_lr, phase_rate (o, s->phase),
                             s->phase);
  expected = o->optimizer != VG_OPTIMIZER_PIPELINE ? o->optimizer
             : s->phase == 0                      ? VG_OPTIMIZER_ADAM
                                                  : VG_OPTIMIZER_SGD;
  if (s->optimizer != expected)
    return checkpoint_error (error, path, "“%sstate.optimizer” is %s in phase %d (the run's "
                             "optimiser: %s)", META_PREFIX,
                             vg_optimizer_kind_name (s->optimizer), s->phase,
                             vg_optimizer_kind_name (o->optimizer));

  /* the bests: none yet (infinite loss, mIoU -1) before their first epoch */
  if (s->best_loss_epoch == 0 ? s->best_loss != INFINITY
                              : !(isfinite (s->best_loss) && s->best_loss >= 0.0))
    return checkpoint_error (error, path, "“%sstate.best_loss” is %g at epoch %d",
                             META_PREFIX, s->best_loss, s->best_loss_epoch);
  if (s->best_miou_epoch == 0 ? s->best_miou != -1.0
                              : !(s->best_miou >= 0.0 && s->best_miou <= 1.0))
    return checkpoint_error (error, path, "“%sstate.best_miou” is %g at epoch %d",
                             META_PREFIX, s->best_miou, s->best_miou_epoch);
  return TRUE;
}

/* ---- pausing ----------------------------------------------------------------------------- */

struct _VgTrainControl
{
  GMutex lock;
  GCond cond;
  gboolean paused;
};

VgTrainControl *
vg_train_control_new (void)
{
  VgTrainControl *c = g_new0 (VgTrainControl, 1);

  g_mutex_init (&c->lock);
  g_cond_init (&c->cond);
  return c;
}

void
vg_train_control_free (VgTrainControl *c)
{
  if (c == NULL)
    return;
  g_mutex_clear (&c->lock);
  g_cond_clear (&c->cond);
  g_free (c);
}

void
vg_train_control_set_paused (VgTrainControl *c, gboolean paused)
{
  g_mutex_lock (&c->lock);
  c->paused = paused;
  g_cond_broadcast (&c->cond);
  g_mutex_unlock (&c->lock);
}

gboolean
vg_train_control_get_paused (VgTrainControl *c)
{
  gboolean paused;

  g_mutex_lock (&c->lock);
  paused = c->paused;
  g_mutex_unlock (&c->lock);
  return paused;
}

/* Block while paused, calling cb->paused between waits; returns the seconds spent. A
 * cancel ends the wait (the caller then sees the cancellable). Polls every 100 ms because
 * GCancellable has no GCond to wait on. */
static double
control_wait (VgTrainControl *c, GCancellable *cancellable, const VgTrainCallbacks *cb,
              gpointer user_data)
{
  gint64 start;

  if (c == NULL)
    return 0.0;
  start = g_get_monotonic_time ();
  g_mutex_lock (&c->lock);
  while (c->paused && !g_cancellable_is_cancelled (cancellable))
    {
      g_cond_wait_until (&c->cond, &c->lock, g_get_monotonic_time () + G_TIME_SPAN_SECOND / 10);
      if (c->paused && cb != NULL && cb->paused != NULL)
        {
          g_mutex_unlock (&c->lock);
          cb->paused (user_data);
          g_mutex_lock (&c->lock);
        }
    }
  g_mutex_unlock (&c->lock);
  return (g_get_monotonic_time () - start) / 1e6;
}

/* ---- the Dice loss through the backend table ------------------------------------------- */

/* The model calls its loss through the backend table; the Dice variants are the CPU table
 * with the loss replaced (the table has no per-model state to put a flag in). present: the
 * Dice over the classes present in each batch. */
static const VgBackend *
dice_backend (const VgBackend *base, gboolean present, GError **error)
{
  static VgBackend tables[2];
  static gsize ready = 0;

  if (base != vg_backend_cpu ())
    {
      g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID,
                   "the Dice loss is implemented on the CPU backend only (backend %s)",
                   base->name);
      return NULL;
    }
  if (g_once_init_enter (&ready))
    {
      tables[0] = *base;
      tables[0].name = "cpu (cross-entropy + Dice)";
      tables[0].cross_entropy_forward = vg_cross_entropy_dice_forward;
      tables[0].cross_entropy_backward = vg_cross_entropy_dice_backward;
      tables[1] = *base;
      tables[1].name = "cpu (cross-entropy + Dice over the present classes)";
      tables[1].cross_entropy_forward = vg_cross_entropy_dice_present_forward;
      tables[1].cross_entropy_backward = vg_cross_entropy_dice_present_backward;
      g_once_init_leave (&ready, 1);
    }
  return &tables[present ? 1 : 0];
}

/* ---- the trainer ------------------------------------------------------------------------- */

typedef struct {
  VgTrainOptions o;                 /* working copy with absolute folders */
  const VgTrainCallbacks *cb;
  gpointer user_data;
  VgTrainControl *control;
  GCancellable *cancellable;

  const VgBackend *be;              /* the data's backend (memory, optimiser) */
  const VgBackend *train_be;        /* the training model's (be, or its Dice variant) */
  gboolean host_memory;             /* be uses host memory: batches need no upload */

  VgSplit *train;
  VgSplit *val;
  VgPreprocess pre;                 /* whitening and resolution, saved in every checkpoint */
  float class_weights[VG_NUM_CLASSES];

  VgModel *model;                   /* training */
  VgModel *eval_model;              /* validation: inference activations only */
  VgPredictor *predictor;
  VgLoader *loader;
  gulong cancel_handler;

  int n_specs;
  VgParamSpec *specs;               /* (n_specs) state_dict order */
  size_t n_params;                  /* trainable floats */
  size_t n_state;                   /* trainable + running statistics floats */
  float *m;                         /* (n_params) Adam's first moment / SGD momentum */
  float *v;                         /* (n_params) Adam's second moment */
  float *best;                      /* (n_state) the lowest-validation-loss weights */
  float *ema;                       /* (n_params) the parameters' moving average, or NULL */
  int *repeats;                     /* (training samples) copies per epoch, or NULL */
  /* A device backend: batch k is uploaded into slot k % VG_UPLOAD_SLOTS while step k - 1
   * computes (from page-locked staging areas when the backend has them). */
  float *d_images[VG_UPLOAD_SLOTS]; /* (B, H, W, 3) device copies of a batch, or NULL */
  uint8_t *d_masks[VG_UPLOAD_SLOTS]; /* (B, H, W) */
  float *h_images[VG_UPLOAD_SLOTS]; /* staging areas, or NULL: synchronous uploads */
  uint8_t *h_masks[VG_UPLOAD_SLOTS];

  VgTrainState state;
  VgTrainState checkpointed;        /* the state last.safetensors holds */
  GString *log;                     /* CSV rows of the completed epochs, no header */
  char *last_path;
  char *best_path;
  char *log_path;
} Trainer;

static void
trainer_clear (Trainer *t)
{
  if (t->cancel_handler != 0)
    g_cancellable_disconnect (t->cancellable, t->cancel_handler);
  g_clear_pointer (&t->loader, vg_loader_free);
  g_clear_pointer (&t->predictor, vg_predictor_free);
  g_clear_pointer (&t->eval_model, vg_model_free);
  g_clear_pointer (&t->model, vg_model_free);
  if (t->be != NULL)
    {
      t->be->free (t->m);
      t->be->free (t->v);
      t->be->free (t->best);
      if (t->ema != NULL)
        t->be->free (t->ema);
      for (int k = 0; k < VG_UPLOAD_SLOTS; k++)
        {
          t->be->free (t->d_images[k]);
          t->be->free (t->d_masks[k]);
          if (t->be->host_free != NULL)
            {
              t->be->host_free (t->h_images[k]);
              t->be->host_free (t->h_masks[k]);
            }
        }
    }
  g_clear_pointer (&t->train, vg_split_free);
  g_clear_pointer (&t->val, vg_split_free);
  g_free (t->specs);
  if (t->log != NULL)
    g_string_free (t->log, TRUE);
  g_free (t->last_path);
  g_free (t->best_path);
  g_free (t->log_path);
  g_free (t->repeats);
  vg_train_options_clear (&t->o);
}

static void
notify (Trainer *t, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
notify (Trainer *t, const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  if (t->cb == NULL || t->cb->message == NULL)
    return;
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  t->cb->message (text, t->user_data);
}

static char *
absolute (const char *path)
{
  return path != NULL ? g_canonicalize_filename (path, NULL) : NULL;
}

/* Keep the first max samples (0: all). The statistics were taken on the whole split. */
/* Repeat-factor sampling (as LVIS): class c, in a fraction f_c of the training images, has
 * r_c = max (1, sqrt (t / f_c)); image i comes r_i = max of its classes' r_c times an
 * epoch: floor (r_i), and once more when a fixed draw for the image falls under what is
 * left, so that every epoch has the same length. Needs the samples' mask_classes. */
static void
compute_repeats (Trainer *t)
{
  const VgSplit *split = t->train;
  const int N = split->n_samples;
  int counts[VG_NUM_CLASSES] = { 0 }, total = 0;
  double rc[VG_NUM_CLASSES];
  g_autoptr (GString) boosted = g_string_new (NULL);

  for (int i = 0; i < N; i++)
    for (int c = 0; c < VG_NUM_CLASSES; c++)
      counts[c] += (split->samples[i].mask_classes >> c) & 1;
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      rc[c] = counts[c] > 0 ? MAX (1.0, sqrt (t->o.oversample * N / counts[c])) : 1.0;
      if (rc[c] > 1.0)
        g_string_append_printf (boosted, "%s%s x%.2f", boosted->len > 0 ? ", " : "",
                                vg_class_name (c), rc[c]);
    }
  t->repeats = g_new (int, N);
  for (int i = 0; i < N; i++)
    {
      double r = 1.0, u;

      for (int c = 0; c < VG_NUM_CLASSES; c++)
        if ((split->samples[i].mask_classes >> c) & 1)
          r = MAX (r, rc[c]);
      u = (double) (vg_sample_seed (t->o.seed, -1, i) >> 11) * 0x1.0p-53;
      t->repeats[i] = (int) floor (r) + (u < r - floor (r));
      total += t->repeats[i];
    }
  notify (t, "oversampling the images of rare classes (threshold %g): %d images give %d "
          "samples an epoch (%s)", t->o.oversample, N, total,
          boosted->len > 0 ? boosted->str : "no class is that rare");
}

static void
split_limit (VgSplit *split, int max)
{
  if (max <= 0 || split->n_samples <= max)
    return;
  for (int i = max; i < split->n_samples; i++)
    {
      g_free (split->samples[i].name);
      g_free (split->samples[i].image_path);
      g_free (split->samples[i].mask_path);
    }
  split->n_samples = max;
}

static VgSplit *
open_split (Trainer *t, const char *what, const char *dir, const char *images,
            const char *masks, const char *annotations, GError **error)
{
  VgSplitFlags flags = VG_SPLIT_REQUIRE_MASKS | (t->o.skip_bad ? VG_SPLIT_SKIP_BAD : 0);
  int threads = MAX (t->o.workers, 1);
  VgSplit *split;

  if (dir != NULL)
    split = vg_split_open (dir, flags, threads, t->cancellable, error);
  else
    split = vg_split_open_dirs (images, masks, flags, threads, t->cancellable, error);
  if (split == NULL)
    {
      g_prefix_error (error, "%s split: ", what);
      return NULL;
    }
  if (annotations != NULL && !vg_split_use_annotations (split, annotations, error))
    {
      g_prefix_error (error, "%s split: ", what);
      vg_split_free (split);
      return NULL;
    }
  for (guint i = 0; split->skipped != NULL && i < split->skipped->len; i++)
    notify (t, "%s split: skipped %s", what, (const char *) split->skipped->pdata[i]);
  if (annotations != NULL)
    notify (t, "%s split: %d of %d masks from the annotations in %s", what,
            split->n_annotated, split->n_samples, split->annotations_dir);
  return split;
}

/* Copy the weights (parameters and running statistics) of src into dst, or into/out of a
 * flat (n_state) block when one model is NULL. */
static void
copy_weights (Trainer *t, VgModel *dst, VgModel *src, float *flat_dst, const float *flat_src)
{
  size_t offset = 0;

  for (int i = 0; i < t->n_specs; i++)
    {
      const VgParamSpec *s = &t->specs[i];
      float *to, *from;

      if (s->kind == VG_TENSOR_COUNTER)
        continue;
      to = dst != NULL ? vg_model_tensor (dst, s->name, FALSE, NULL) : flat_dst + offset;
      from = src != NULL ? vg_model_tensor (src, s->name, FALSE, NULL)
                         : (float *) flat_src + offset;
      t->be->copy (to, from, s->numel * sizeof (float));
      offset += s->numel;
    }
}

static void
reset_optimizer (Trainer *t)
{
  t->be->zero (t->m, t->n_params * sizeof (float));
  t->be->zero (t->v, t->n_params * sizeof (float));
}

/* Metadata shared by best and last: the preprocessing and the loss's class weights. */
static void
add_preprocess_pairs (Trainer *t, GPtrArray *pairs)
{
  g_auto (GStrv) pre = vg_preprocess_to_metadata (&t->pre);

  for (int i = 0; pre != NULL && pre[i] != NULL && pre[i + 1] != NULL; i += 2)
    {
      g_ptr_array_add (pairs, g_strdup (pre[i]));
      g_ptr_array_add (pairs, g_strdup (pre[i + 1]));
    }
}

static char *
format_list (const double *v, int n, const char *fmt)
{
  GString *s = g_string_new (NULL);
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  for (int i = 0; i < n; i++)
    g_string_append_printf (s, "%s%s", i > 0 ? "," : "", g_ascii_formatd (buf, sizeof buf,
                                                                          fmt, v[i]));
  return g_string_free (s, FALSE);
}

/* The exact numbers a resumed run must reuse (the preprocessing metadata is for people
 * and for prediction; these round-trip bit for bit). */
static void
add_exact_pairs (Trainer *t, GPtrArray *pairs)
{
  double w[VG_NUM_CLASSES];

  for (int c = 0; c < VG_NUM_CLASSES; c++)
    w[c] = t->class_weights[c];
  g_ptr_array_add (pairs, g_strdup (META_PREFIX "mean"));
  g_ptr_array_add (pairs, format_list (t->pre.mean, 3, "%.17g"));
  g_ptr_array_add (pairs, g_strdup (META_PREFIX "std"));
  g_ptr_array_add (pairs, format_list (t->pre.std, 3, "%.17g"));
  g_ptr_array_add (pairs, g_strdup (META_PREFIX "class_weights"));
  g_ptr_array_add (pairs, format_list (w, VG_NUM_CLASSES, "%.9g"));
}

static gboolean
save_best (Trainer *t, double val_loss, double val_miou, GError **error)
{
  g_autoptr (GPtrArray) pairs = g_ptr_array_new_with_free_func (g_free);

  add_preprocess_pairs (t, pairs);
  add_exact_pairs (t, pairs); /* the class weights, for an evaluation's loss */
  g_ptr_array_add (pairs, g_strdup ("visage.epoch"));
  g_ptr_array_add (pairs, g_strdup_printf ("%d", t->state.epoch));
  g_ptr_array_add (pairs, g_strdup ("visage.val_loss"));
  g_ptr_array_add (pairs, format_double (val_loss));
  g_ptr_array_add (pairs, g_strdup ("visage.val_miou"));
  g_ptr_array_add (pairs, format_double (val_miou));
  g_ptr_array_add (pairs, g_strdup ("visage.selected_by"));
  g_ptr_array_add (pairs, g_strdup (vg_select_kind_name (t->o.select)));
  g_ptr_array_add (pairs, NULL);
  /* the weights validated: the moving average's where there is one */
  if (!vg_model_save (t->ema != NULL ? t->eval_model : t->model, t->best_path,
                      (const char *const *) pairs->pdata, error))
    return FALSE;
  /* The workbench opens the newest model trained when none ships with it. */
  vg_recent_models_add (t->best_path);
  return TRUE;
}

/* last.safetensors: the model's tensors under their state_dict names (so vg_model_load and
 * vg_model_open read it like any model file), then the optimiser and pipeline tensors. */
static gboolean
save_last (Trainer *t, GError **error)
{
  const int n_views = t->n_specs + 4;
  g_autofree float *host = g_new (float, t->n_state);
  g_autofree float *host_m = g_new (float, t->n_params);
  g_autofree float *host_v = g_new (float, t->n_params);
  g_autofree float *host_best = g_new (float, t->n_state);
  g_autofree float *host_ema = NULL;
  g_autofree VgTensorView *views = g_new0 (VgTensorView, n_views);
  g_autoptr (GPtrArray) pairs = g_ptr_array_new_with_free_func (g_free);
  int64_t counter = GINT64_TO_LE (vg_model_batches_tracked (t->model));
  size_t offset = 0;
  int nv = 0;

  for (int i = 0; i < t->n_specs; i++)
    {
      const VgParamSpec *s = &t->specs[i];
      VgTensorView *view = &views[nv++];

      view->name = s->name;
      view->ndim = s->ndim;
      for (int d = 0; d < s->ndim; d++)
        view->shape[d] = s->shape[d];
      view->numel = s->numel;
      if (s->kind == VG_TENSOR_COUNTER)
        {
          view->dtype = VG_DTYPE_I64;
          view->data = &counter;
          view->nbytes = sizeof counter;
          continue;
        }
      t->be->download (host + offset, vg_model_tensor (t->model, s->name, FALSE, NULL),
                       s->numel * sizeof (float));
      view->dtype = VG_DTYPE_F32;
      view->data = host + offset;
      view->nbytes = s->numel * sizeof (float);
      offset += s->numel;
    }
  t->be->download (host_m, t->m, t->n_params * sizeof (float));
  t->be->download (host_v, t->v, t->n_params * sizeof (float));
  t->be->download (host_best, t->best, t->n_state * sizeof (float));
  views[nv++] = (VgTensorView) { "optim.m", VG_DTYPE_F32, 1, { (int64_t) t->n_params },
                                 t->n_params, host_m, t->n_params * sizeof (float) };
  views[nv++] = (VgTensorView) { "optim.v", VG_DTYPE_F32, 1, { (int64_t) t->n_params },
                                 t->n_params, host_v, t->n_params * sizeof (float) };
  views[nv++] = (VgTensorView) { "pipeline.best", VG_DTYPE_F32, 1, { (int64_t) t->n_state },
                                 t->n_state, host_best, t->n_state * sizeof (float) };
  if (t->ema != NULL)
    {
      host_ema = g_new (float, t->n_params);
      t->be->download (host_ema, t->ema, t->n_params * sizeof (float));
      views[nv++] = (VgTensorView) { "optim.ema", VG_DTYPE_F32, 1, { (int64_t) t->n_params },
                                     t->n_params, host_ema, t->n_params * sizeof (float) };
    }

  g_ptr_array_add (pairs, g_strdup ("format"));
  g_ptr_array_add (pairs, g_strdup ("pt"));
  g_ptr_array_add (pairs, g_strdup ("visage.config"));
  g_ptr_array_add (pairs, vg_config_to_string (&t->o.config));
  g_ptr_array_add (pairs, g_strdup ("visage.config_name"));
  g_ptr_array_add (pairs, g_strdup (t->o.config.name));
  add_preprocess_pairs (t, pairs);
  add_exact_pairs (t, pairs);
  options_to_pairs (&t->o, pairs);
  options_to_pairs_mutable (&t->o, pairs);
  state_to_pairs (&t->state, pairs);
  g_ptr_array_add (pairs, g_strdup (META_PREFIX "log"));
  g_ptr_array_add (pairs, g_strdup (t->log->str));
  g_ptr_array_add (pairs, NULL);
  return vg_safetensors_write (t->last_path, views, nv, (const char *const *) pairs->pdata,
                               error);
}

static gboolean
write_log (Trainer *t, GError **error)
{
  g_autofree char *text = g_strconcat (LOG_HEADER, t->log->str, NULL);

  if (!g_file_set_contents_full (t->log_path, text, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, error))
    return FALSE;
  return TRUE;
}

/* The write hook of the options (fault tests): FALSE ends the run as a kill would. */
static gboolean
wrote (Trainer *t, VgTrainWrite what, GError **error)
{
  static const char *const names[VG_TRAIN_N_WRITES] = { "best.safetensors",
                                                        "last.safetensors", "log.csv",
                                                        "the epoch's notice" };

  if (t->o.write_hook == NULL || t->o.write_hook (what, t->state.epoch, t->o.write_hook_data))
    return TRUE;
  g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INTERRUPTED,
               "the run in %s was interrupted after %s of epoch %d", t->o.out_dir,
               names[what], t->state.epoch);
  return FALSE;
}

/* Remove what an interrupted write of this run folder left behind: the temporaries of
 * vg_safetensors_write (NAME.tmp-XXXXXX) and of g_file_set_contents (log.csv.XXXXXX). */
static void
remove_stale_temporaries (const char *out_dir)
{
  g_autoptr (GDir) dir = g_dir_open (out_dir, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      const char *suffix = NULL;

      if (g_str_has_prefix (name, "last.safetensors.tmp-"))
        suffix = name + strlen ("last.safetensors.tmp-");
      else if (g_str_has_prefix (name, "best.safetensors.tmp-"))
        suffix = name + strlen ("best.safetensors.tmp-");
      else if (g_str_has_prefix (name, "log.csv."))
        suffix = name + strlen ("log.csv.");
      if (suffix != NULL && strlen (suffix) == 6)
        {
          g_autofree char *path = g_build_filename (out_dir, name, NULL);

          if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK))
            g_unlink (path);
        }
    }
}

/* The rows of a log without its header: one line per finished epoch. */
static int
count_rows (const char *log)
{
  int n = 0;

  for (const char *p = log; *p != '\0'; p++)
    n += *p == '\n';
  return n;
}

/* Restore the run from last.safetensors (already checked to exist). */
static gboolean
load_last (Trainer *t, GError **error)
{
  const char *path = t->last_path;
  g_autoptr (VgSafetensors) st = vg_safetensors_open (path, error);
  g_autofree float *host = NULL;
  double mean[3], std[3], w[VG_NUM_CLASSES];
  int shape_params[1] = { (int) t->n_params }, shape_state[1] = { (int) t->n_state };
  const char *log;

  if (st == NULL)
    return FALSE;
  if (meta_get (st, path, META_PREFIX "state.epoch", error) == NULL
      || !options_check_same (&t->o, st, path, error)
      || !state_from_metadata (&t->state, &t->o, st, path, error)
      || !meta_doubles (st, path, META_PREFIX "mean", mean, 3, error)
      || !meta_doubles (st, path, META_PREFIX "std", std, 3, error)
      || !meta_doubles (st, path, META_PREFIX "class_weights", w, VG_NUM_CLASSES, error)
      || (log = meta_get (st, path, META_PREFIX "log", error)) == NULL)
    return FALSE;
  for (int c = 0; c < 3; c++)
    if (!isfinite (mean[c]) || !(std[c] > 0.0 && isfinite (std[c])))
      return checkpoint_error (error, path, "the whitening statistics are not usable");
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    if (!(w[c] >= 0.0 && isfinite (w[c])))
      return checkpoint_error (error, path, "the class weights are not usable");
  if (count_rows (log) != t->state.epoch)
    return checkpoint_error (error, path, "its log holds %d row(s) for %d finished epoch(s)",
                             count_rows (log), t->state.epoch);
  if (!vg_model_load (t->model, path, error))
    return FALSE;

  host = g_new (float, MAX (t->n_state, t->n_params));
  if (!vg_safetensors_read_f32 (st, "optim.m", host, shape_params, 1, error))
    return FALSE;
  t->be->upload (t->m, host, t->n_params * sizeof (float));
  if (!vg_safetensors_read_f32 (st, "optim.v", host, shape_params, 1, error))
    return FALSE;
  t->be->upload (t->v, host, t->n_params * sizeof (float));
  if (!vg_safetensors_read_f32 (st, "pipeline.best", host, shape_state, 1, error))
    return FALSE;
  t->be->upload (t->best, host, t->n_state * sizeof (float));
  if (t->ema != NULL)
    {
      if (!vg_safetensors_read_f32 (st, "optim.ema", host, shape_params, 1, error))
        return FALSE;
      t->be->upload (t->ema, host, t->n_params * sizeof (float));
    }

  for (int c = 0; c < 3; c++)
    {
      t->pre.mean[c] = mean[c];
      t->pre.std[c] = std[c];
    }
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    t->class_weights[c] = (float) w[c];
  g_string_assign (t->log, log);
  return TRUE;
}

static void
cancel_loader (GCancellable *cancellable, gpointer data)
{
  (void) cancellable;
  vg_loader_cancel (data);
}

typedef struct {
  Trainer *t;
  int epoch;
} ValidateProgress;

static void
validate_progress (int done, int total, gpointer data)
{
  ValidateProgress *p = data;

  if (p->t->cb != NULL && p->t->cb->validate != NULL)
    p->t->cb->validate (p->epoch, done, total, p->t->user_data);
}

static gboolean
trainer_setup (Trainer *t, const VgTrainOptions *opts, GError **error)
{
  gboolean weighted, have_last;
  VgLoaderParams lp;
  int H, W;

  vg_train_options_copy (&t->o, opts);
  g_free (t->o.train_dir);
  t->o.train_dir = absolute (opts->train_dir);
  g_free (t->o.train_images);
  t->o.train_images = opts->train_dir == NULL ? absolute (opts->train_images) : NULL;
  g_free (t->o.train_masks);
  t->o.train_masks = opts->train_dir == NULL ? absolute (opts->train_masks) : NULL;
  g_free (t->o.val_dir);
  t->o.val_dir = absolute (opts->val_dir);
  g_free (t->o.val_images);
  t->o.val_images = opts->val_dir == NULL ? absolute (opts->val_images) : NULL;
  g_free (t->o.val_masks);
  t->o.val_masks = opts->val_dir == NULL ? absolute (opts->val_masks) : NULL;
  g_free (t->o.train_annotations);
  t->o.train_annotations = absolute (opts->train_annotations);
  g_free (t->o.val_annotations);
  t->o.val_annotations = absolute (opts->val_annotations);
  if (!vg_train_options_validate (&t->o, error))
    return FALSE;

  t->be = opts->backend != NULL ? opts->backend : vg_backend_cpu ();
  t->host_memory = t->be->upload == vg_backend_cpu ()->upload;
  t->train_be = t->be;
  if (loss_has_dice (t->o.loss))
    {
      t->train_be = dice_backend (t->be, loss_dice_present (t->o.loss), error);
      if (t->train_be == NULL)
        return FALSE;
    }
  weighted = loss_is_weighted (t->o.loss);
  t->log = g_string_new (NULL);

  /* the output folder: a new run must not overwrite another one */
  t->last_path = g_build_filename (t->o.out_dir, "last.safetensors", NULL);
  t->best_path = g_build_filename (t->o.out_dir, "best.safetensors", NULL);
  t->log_path = g_build_filename (t->o.out_dir, "log.csv", NULL);
  have_last = g_file_test (t->last_path, G_FILE_TEST_EXISTS);
  if (t->o.resume && !have_last)
    return checkpoint_error (error, t->last_path, "there is no training run to resume in %s",
                             t->o.out_dir);
  if (!t->o.resume && have_last)
    {
      g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_EXISTS,
                   "%s already holds a training run (last.safetensors): resume it, or "
                   "choose another output folder", t->o.out_dir);
      return FALSE;
    }
  if (g_mkdir_with_parents (t->o.out_dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create the output folder %s: %s", t->o.out_dir,
                   g_strerror (saved));
      return FALSE;
    }
  /* A read-only folder would otherwise show only at the first epoch's end. */
  if (!vg_check_output_dir (t->o.out_dir, error))
    return FALSE;

  /* data */
  if ((t->train = open_split (t, "training", t->o.train_dir, t->o.train_images,
                              t->o.train_masks, t->o.train_annotations, error)) == NULL
      || (t->val = open_split (t, "validation", t->o.val_dir, t->o.val_images, t->o.val_masks,
                               t->o.val_annotations, error)) == NULL)
    return FALSE;

  /* the model and its state */
  if ((t->model = vg_model_new (&t->o.config, t->train_be, error)) == NULL
      || (t->eval_model = vg_model_new (&t->o.config, t->be, error)) == NULL)
    return FALSE;
  t->n_specs = vg_config_param_specs (&t->o.config, NULL, 0);
  t->specs = g_new0 (VgParamSpec, t->n_specs);
  vg_config_param_specs (&t->o.config, t->specs, t->n_specs);
  t->n_params = vg_model_num_params (t->model);
  for (int i = 0; i < t->n_specs; i++)
    if (t->specs[i].kind != VG_TENSOR_COUNTER)
      t->n_state += t->specs[i].numel;
  if ((t->m = t->be->alloc (t->n_params * sizeof (float), error)) == NULL
      || (t->v = t->be->alloc (t->n_params * sizeof (float), error)) == NULL
      || (t->best = t->be->alloc (t->n_state * sizeof (float), error)) == NULL
      || (t->o.ema > 0.0
          && (t->ema = t->be->alloc (t->n_params * sizeof (float), error)) == NULL))
    return FALSE;
  t->pre.resolution = t->o.resolution;

  if (t->o.resume)
    {
      if (!load_last (t, error))
        return FALSE;
      /* The checkpoint is the record: log.csv may lack the row of an epoch whose
       * checkpoint was written just before a kill. */
      remove_stale_temporaries (t->o.out_dir);
      if (!write_log (t, error))
        return FALSE;
      if (t->state.epoch_step > 0)
        notify (t, "resuming %s at step %d of epoch %d (%s, rate %.3g)", t->o.out_dir,
                t->state.epoch_step + 1, t->state.epoch + 1,
                vg_optimizer_kind_name (t->state.optimizer),
                vg_train_state_lr (&t->state, &t->o));
      else
        notify (t, "resuming %s after epoch %d (%s, rate %.3g)", t->o.out_dir,
                t->state.epoch, vg_optimizer_kind_name (t->state.optimizer),
                vg_train_state_lr (&t->state, &t->o));
    }
  else
    {
      VgSplitStats stats;
      gboolean from_cache = FALSE;

      notify (t, "statistics of the training split (%d images)...", t->train->n_samples);
      if (!vg_split_stats_get (&stats, t->train, MAX (t->o.workers, t->o.threads), &from_cache,
                               t->cancellable, error))
        return FALSE;
      notify (t, "statistics %s: mean %.4f %.4f %.4f, std %.4f %.4f %.4f",
              from_cache ? "from the cache" : "computed", stats.mean[0], stats.mean[1],
              stats.mean[2], stats.std[0], stats.std[1], stats.std[2]);
      for (int c = 0; c < 3; c++)
        {
          t->pre.mean[c] = stats.mean[c];
          t->pre.std[c] = stats.std[c];
        }
      vg_class_weights (t->class_weights, stats.class_pixels, VG_NUM_CLASSES);
      vg_model_init (t->model, t->o.seed);
      if (t->o.init_from != NULL)
        {
          if (!vg_model_load (t->model, t->o.init_from, error))
            {
              g_prefix_error (error, "cannot start from --init: ");
              return FALSE;
            }
          notify (t, "starting from the weights of %s", t->o.init_from);
        }
      reset_optimizer (t);
      t->be->zero (t->best, t->n_state * sizeof (float));
      if (t->ema != NULL)
        t->be->copy (t->ema, vg_model_params (t->model), t->n_params * sizeof (float));
      vg_train_state_init (&t->state, &t->o);
    }
  vg_model_set_class_weights (t->model, weighted ? t->class_weights : NULL);

  /* The limits apply after the statistics: whitening and weights describe the split. */
  if (t->o.oversample > 0.0)
    {
      gboolean from_cache;

      if (!vg_split_classes_get (t->train, MAX (t->o.workers, t->o.threads), &from_cache,
                                 t->cancellable, error))
        return FALSE;
    }
  split_limit (t->train, t->o.max_train);
  split_limit (t->val, t->o.max_val);
  if (t->o.oversample > 0.0)
    compute_repeats (t);

  vg_loader_params_init (&lp, TRUE);
  lp.batch_size = t->o.batch;
  lp.n_workers = t->o.workers;
  lp.seed = t->o.seed;
  vg_augment_params_init (&lp.aug, t->o.augment);
  lp.aug.out_height = lp.aug.out_width = t->o.resolution;
  lp.aug.hflip = t->o.hflip;
  vg_augment_params_set_whitening (&lp.aug, t->pre.mean, t->pre.std);
  lp.repeats = t->repeats;
  if ((t->loader = vg_loader_new (t->train, &lp, error)) == NULL)
    {
      g_prefix_error (error, "training split: ");
      return FALSE;
    }
  vg_loader_batch_shape (t->loader, &H, &W);
  if (!vg_model_reserve (t->model, t->o.batch, H, W, TRUE, error))
    return FALSE;
  if (!t->host_memory)
    {
      size_t pixels = (size_t) t->o.batch * H * W;
      gboolean overlap = t->be->host_alloc != NULL && t->be->upload_async != NULL;

      for (int k = 0; k < (overlap ? VG_UPLOAD_SLOTS : 1); k++)
        if ((t->d_images[k] = t->be->alloc (pixels * 3 * sizeof (float), error)) == NULL
            || (t->d_masks[k] = t->be->alloc (pixels, error)) == NULL
            || (overlap
                && ((t->h_images[k] = t->be->host_alloc (pixels * 3 * sizeof (float), error))
                      == NULL
                    || (t->h_masks[k] = t->be->host_alloc (pixels, error)) == NULL)))
          return FALSE;
    }
  if ((t->predictor = vg_predictor_new (t->eval_model, &t->pre, t->o.batch, error)) == NULL)
    return FALSE;
  if (t->cancellable != NULL)
    t->cancel_handler = g_cancellable_connect (t->cancellable, G_CALLBACK (cancel_loader),
                                               t->loader, NULL);
  return TRUE;
}

static void
optimizer_step (Trainer *t, float lr)
{
  VgTrainState *s = &t->state;
  float *params = vg_model_params (t->model);
  const float *grads = vg_model_grads (t->model);
  const float wd = (float) t->o.weight_decay;

  switch (s->optimizer)
    {
    case VG_OPTIMIZER_SGD:
      t->be->sgd_step (params, grads, t->m, t->n_params, lr, (float) t->o.sgd_momentum, wd,
                       s->steps == 0);
      break;
    case VG_OPTIMIZER_ADAMW:
      t->be->adam_step (params, grads, t->m, t->v, t->n_params, lr, ADAM_BETA1, ADAM_BETA2,
                        ADAM_EPS, wd, (int) (s->steps + 1), 1);
      break;
    case VG_OPTIMIZER_ADAM:
    case VG_OPTIMIZER_PIPELINE:
    default:
      t->be->adam_step (params, grads, t->m, t->v, t->n_params, lr, ADAM_BETA1, ADAM_BETA2,
                        ADAM_EPS, wd, (int) (s->steps + 1), 0);
      break;
    }
  s->steps++;
}

/* What one training step computes on: device (or host) pointers to a batch. */
typedef struct {
  const float *images;
  const uint8_t *masks;
  int n;             /* rows; 0: none */
  int slot;          /* upload slot */
} StepInput;

static void
release_batch (Trainer *t, const VgBatch **batch)
{
  if (*batch != NULL)
    vg_loader_release (t->loader, *batch);
  *batch = NULL;
}

/* Make *batch available to the compute as *in. On the CPU the batch itself is used (and
 * kept until the step is done); on a device it is uploaded into slot (asynchronously from
 * a staging area when the backend can) and given back to the loader at once. */
static void
stage_batch (Trainer *t, const VgBatch **batch, int slot, StepInput *in)
{
  const VgBatch *b = *batch;
  size_t pixels = (size_t) b->n * b->height * b->width;

  in->n = b->n;
  in->slot = slot;
  if (t->host_memory)
    {
      in->images = b->images;
      in->masks = b->masks;
      return;
    }
  if (t->h_images[slot] == NULL)
    {
      /* no staging areas: one device buffer, synchronous copies */
      t->be->upload (t->d_images[0], b->images, pixels * 3 * sizeof (float));
      t->be->upload (t->d_masks[0], b->masks, pixels);
      in->images = t->d_images[0];
      in->masks = t->d_masks[0];
      in->slot = 0;
    }
  else
    {
      /* The slot's previous copy (two steps ago) must be done before its staging area is
       * written; its device buffer was last read by the step before the one just queued,
       * which the forward pass's loss readback has already waited for. */
      t->be->upload_host_wait (slot);
      memcpy (t->h_images[slot], b->images, pixels * 3 * sizeof (float));
      memcpy (t->h_masks[slot], b->masks, pixels);
      t->be->upload_async (t->d_images[slot], t->h_images[slot], pixels * 3 * sizeof (float),
                           slot);
      t->be->upload_async (t->d_masks[slot], t->h_masks[slot], pixels, slot);
      in->images = t->d_images[slot];
      in->masks = t->d_masks[slot];
    }
  release_batch (t, batch);
}

/* One epoch of training; *train_loss, *images_per_s and *loader_share describe it. */
static gboolean
train_epoch (Trainer *t, double lr, double *train_loss, double *images_per_s,
             double *loader_share, GError **error)
{
  const int epoch = t->state.epoch; /* 0-based index of this epoch */
  const int steps = vg_loader_n_batches (t->loader);
  const int first = t->state.epoch_step; /* > 0: resumed from a mid-epoch checkpoint */
  const double wait0 = vg_loader_wait_seconds (t->loader);
  const gint64 start = g_get_monotonic_time ();
  const gint64 interval = t->o.checkpoint_minutes > 0.0
                            ? MAX ((gint64) (t->o.checkpoint_minutes * 60.0 * G_USEC_PER_SEC), 1)
                            : 0;
  gint64 last_checkpoint = start;
  double loss_sum = t->state.epoch_loss_sum, paused = 0.0, elapsed = 0.0;
  int images = 0;
  VgTrainStep info = { 0 };
  const VgBatch *batch = NULL;
  StepInput in = { 0 };
  GError *local = NULL;

  if (first < 0 || first >= steps)
    {
      g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_CHECKPOINT,
                   "%s: the checkpoint is at step %d of epoch %d, which has %d steps",
                   t->last_path, first, epoch + 1, steps);
      return FALSE;
    }
  vg_loader_start_epoch_at (t->loader, epoch, first);
  /* Step k computes on batch k while batch k + 1 is fetched and, on a device, uploaded. */
  batch = vg_loader_next (t->loader, &local);
  if (batch != NULL)
    stage_batch (t, &batch, first % VG_UPLOAD_SLOTS, &in);
  for (int step = first; batch != NULL || in.n > 0; step++)
    {
      float loss;
      StepInput next = { 0 };

      paused += control_wait (t->control, t->cancellable, t->cb, t->user_data);
      if (g_cancellable_set_error_if_cancelled (t->cancellable, error))
        {
          release_batch (t, &batch);
          return FALSE;
        }
      if (!t->host_memory && t->be->upload_wait != NULL)
        t->be->upload_wait (in.slot);
      vg_model_zero_grad (t->model);
      loss = vg_model_forward (t->model, in.images, in.masks, in.n, TRUE);
      if (!isfinite (loss))
        {
          release_batch (t, &batch);
          g_set_error (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_DIVERGED,
                       "the training loss became %f at epoch %d, step %d (rate %g): lower "
                       "the learning rate; %s still holds the previous epoch", loss,
                       epoch + 1, step + 1, lr, t->last_path);
          return FALSE;
        }
      vg_model_backward (t->model);
      optimizer_step (t, (float) lr);
      if (t->ema != NULL)
        t->be->ema_update (t->ema, vg_model_params (t->model), t->n_params, (float) t->o.ema);
      images += in.n;
      loss_sum += loss;

      /* The next batch: on a device its upload overlaps the backward pass just queued. */
      release_batch (t, &batch);
      batch = vg_loader_next (t->loader, &local);
      if (batch != NULL)
        stage_batch (t, &batch, (step + 1) % VG_UPLOAD_SLOTS, &next);
      in = next;

      /* A mid-epoch checkpoint (never after the last step: the epoch's end writes one). */
      if (interval > 0 && step + 1 < steps
          && g_get_monotonic_time () - last_checkpoint >= interval)
        {
          t->state.epoch_step = step + 1;
          t->state.epoch_loss_sum = loss_sum;
          if (!save_last (t, error))
            return FALSE;
          t->checkpointed = t->state;
          last_checkpoint = g_get_monotonic_time ();
        }

      elapsed = (g_get_monotonic_time () - start) / 1e6 - paused;
      if (t->cb != NULL && t->cb->step != NULL)
        {
          info.epoch = epoch + 1;
          info.epochs = t->o.epochs;
          info.step = step + 1;
          info.steps = steps;
          info.loss = loss_sum / (step + 1);
          info.images_per_s = elapsed > 0 ? images / elapsed : 0.0;
          info.loader_share = elapsed > 0
                                ? (vg_loader_wait_seconds (t->loader) - wait0) / elapsed : 0.0;
          info.lr = lr;
          info.elapsed_s = elapsed;
          t->cb->step (&info, t->user_data);
        }
    }
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  elapsed = (g_get_monotonic_time () - start) / 1e6 - paused;
  t->state.epoch_step = 0;
  t->state.epoch_loss_sum = 0.0;
  *train_loss = steps > 0 ? loss_sum / steps : NAN;
  *images_per_s = elapsed > 0 ? images / elapsed : 0.0;
  *loader_share = elapsed > 0 ? (vg_loader_wait_seconds (t->loader) - wait0) / elapsed : 0.0;
  return TRUE;
}

static gboolean
validate (Trainer *t, double *val_loss, double *val_miou, GError **error)
{
  VgEvalResult result = { 0 };
  ValidateProgress progress = { t, t->state.epoch + 1 };
  gboolean weighted = loss_is_weighted (t->o.loss);

  copy_weights (t, t->eval_model, t->model, NULL, NULL);
  if (t->ema != NULL)
    t->be->copy (vg_model_params (t->eval_model), t->ema, t->n_params * sizeof (float));
  if (!vg_evaluate (t->predictor, t->val, weighted ? t->class_weights : NULL, t->o.workers,
                    &result, validate_progress, &progress, t->cancellable, error))
    {
      vg_eval_result_clear (&result);
      return FALSE;
    }
  *val_loss = result.loss;
  *val_miou = vg_confusion_miou (&result.confusion);
  vg_eval_result_clear (&result);
  return TRUE;
}

static gboolean
run_epoch (Trainer *t, GError **error)
{
  VgTrainState before = t->state;
  double lr = vg_train_state_lr (&t->state, &t->o);
  double train_loss = 0, images_per_s = 0, loader_share = 0;
  double val_loss = 0, val_miou = 0;
  gint64 start = g_get_monotonic_time ();
  VgTrainEvents ev;
  VgTrainEpoch info = { 0 };
  char buf[6][G_ASCII_DTOSTR_BUF_SIZE];
  double seconds;

  t->checkpointed = t->state;
  if (!train_epoch (t, lr, &train_loss, &images_per_s, &loader_share, error)
      || !validate (t, &val_loss, &val_miou, error))
    {
      /* the epoch did not happen: back to the state `last` holds (the epoch's start, or
       * its latest mid-epoch checkpoint) */
      t->state = t->checkpointed;
      return FALSE;
    }

  ev = vg_train_state_update (&t->state, &t->o, val_loss, val_miou);
  if (ev & VG_TRAIN_EVENT_BETTER_LOSS)
    copy_weights (t, NULL, t->eval_model, t->best, NULL);  /* the weights validated */
  if ((ev & VG_TRAIN_EVENT_SAVE_BEST)
      && (!save_best (t, val_loss, val_miou, error) || !wrote (t, VG_TRAIN_WROTE_BEST, error)))
    return FALSE;
  if (ev & VG_TRAIN_EVENT_RELOAD_BEST)
    {
      /* the patience event: back to the lowest-loss weights with a fresh optimiser */
      if (t->state.best_loss_epoch > 0)
        copy_weights (t, t->model, NULL, NULL, t->best);
      reset_optimizer (t);
      if (t->ema != NULL)
        t->be->copy (t->ema, vg_model_params (t->model), t->n_params * sizeof (float));
    }

  seconds = (g_get_monotonic_time () - start) / 1e6;
  g_string_append_printf (t->log, "%d,%d,%s,%s,%s,%s,%s,%s,%s\n", before.epoch + 1,
                          before.phase, vg_optimizer_kind_name (before.optimizer),
                          g_ascii_formatd (buf[0], sizeof buf[0], "%.6g", lr),
                          g_ascii_formatd (buf[1], sizeof buf[1], "%.6f", train_loss),
                          g_ascii_formatd (buf[2], sizeof buf[2], "%.6f", val_loss),
                          g_ascii_formatd (buf[3], sizeof buf[3], "%.6f", val_miou),
                          g_ascii_formatd (buf[4], sizeof buf[4], "%.1f", seconds),
                          g_ascii_formatd (buf[5], sizeof buf[5], "%.2f", images_per_s));
  /* last.safetensors first: it holds the log too, and a resume rewrites log.csv from it,
   * so a kill between the two writes loses no row. */
  if (!save_last (t, error) || !wrote (t, VG_TRAIN_WROTE_LAST, error)
      || !write_log (t, error) || !wrote (t, VG_TRAIN_WROTE_LOG, error))
    return FALSE;

  if (t->cb != NULL && t->cb->epoch != NULL)
    {
      info.epoch = t->state.epoch;
      info.epochs = t->o.epochs;
      info.phase = before.phase;
      info.optimizer = vg_optimizer_kind_name (before.optimizer);
      info.lr = lr;
      info.train_loss = train_loss;
      info.val_loss = val_loss;
      info.val_miou = val_miou;
      info.seconds = seconds;
      info.images_per_s = images_per_s;
      info.loader_share = loader_share;
      info.events = ev;
      info.state = &t->state;
      t->cb->epoch (&info, t->user_data);
    }
  return wrote (t, VG_TRAIN_WROTE_EPOCH, error);
}

gboolean
vg_train_run (const VgTrainOptions *opts, const VgTrainCallbacks *callbacks,
              gpointer user_data, VgTrainControl *control, GCancellable *cancellable,
              VgTrainState *final_state, GError **error)
{
  Trainer t = { 0 };
  int saved_threads = omp_get_max_threads ();
  gboolean ok = FALSE;

  t.cb = callbacks;
  t.user_data = user_data;
  t.control = control;
  t.cancellable = cancellable;
  /* omp_set_num_threads sets the calling thread's default only: the workbench's worker
   * thread can train with n threads without touching the rest of the program. */
  if (opts->threads > 0)
    omp_set_num_threads (opts->threads);

  if (!trainer_setup (&t, opts, error))
    goto out;
  if (t.state.finished)
    notify (&t, "the run in %s finished at epoch %d (the pipeline's last rate was reached)",
            t.o.out_dir, t.state.epoch);
  else if (t.state.epoch >= t.o.epochs)
    notify (&t, "the run in %s has done %d epochs, the limit: raise the epoch limit to go on",
            t.o.out_dir, t.state.epoch);
  while (!t.state.finished && t.state.epoch < t.o.epochs)
    if (!run_epoch (&t, error))
      goto out;
  ok = TRUE;
  remove_stale_temporaries (t.o.out_dir);

out:
  if (final_state != NULL)
    *final_state = t.state;
  trainer_clear (&t);
  omp_set_num_threads (saved_threads);
  return ok;
}
