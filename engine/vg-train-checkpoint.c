/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A run's files: last.safetensors (weights, optimiser, schedule and log: all a resume
 * needs), best.safetensors and log.csv, and resuming from them (see vg-train.h;
 * vg-train-private.h lists the trainer's files). */
#define G_LOG_DOMAIN "visage-train"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "vg-atomic-file.h"
#include "vg-known-models.h"
#include "vg-train-private.h"

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

gboolean
vg_train_save_best (Trainer *t, double val_loss, double val_miou, GError **error)
{
  if (t->rank > 0)
    return TRUE; /* a distributed run's files are rank 0's */
  g_autoptr (GPtrArray) pairs = g_ptr_array_new_with_free_func (g_free);

  add_preprocess_pairs (t, pairs);
  add_exact_pairs (t, pairs); /* the class weights, for an evaluation's loss */
  g_ptr_array_add (pairs, g_strdup ("visage.epoch"));
  g_ptr_array_add (pairs, g_strdup_printf ("%d", t->state.epoch));
  g_ptr_array_add (pairs, g_strdup ("visage.val_loss"));
  g_ptr_array_add (pairs, vg_train_format_double (val_loss));
  g_ptr_array_add (pairs, g_strdup ("visage.val_miou"));
  g_ptr_array_add (pairs, vg_train_format_double (val_miou));
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
gboolean
vg_train_save_last (Trainer *t, GError **error)
{
  if (t->rank > 0)
    return TRUE; /* a distributed run's files are rank 0's */
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
  vg_train_options_to_pairs (&t->o, pairs);
  vg_train_options_to_pairs_mutable (&t->o, pairs);
  vg_train_state_to_pairs (&t->state, pairs);
  g_ptr_array_add (pairs, g_strdup (META_PREFIX "log"));
  g_ptr_array_add (pairs, g_strdup (t->log->str));
  g_ptr_array_add (pairs, NULL);
  return vg_safetensors_write (t->last_path, views, nv, (const char *const *) pairs->pdata,
                               error);
}

gboolean
vg_train_write_log (Trainer *t, GError **error)
{
  if (t->rank > 0)
    return TRUE; /* a distributed run's files are rank 0's */
  g_autofree char *text = g_strconcat (LOG_HEADER, t->log->str, NULL);

  if (!g_file_set_contents_full (t->log_path, text, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, error))
    return FALSE;
  return TRUE;
}

/* The write hook of the options (fault tests): FALSE ends the run as a kill would. */
gboolean
vg_train_wrote (Trainer *t, VgTrainWrite what, GError **error)
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
void
vg_train_remove_stale_temporaries (const char *out_dir)
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
gboolean
vg_train_load_last (Trainer *t, GError **error)
{
  const char *path = t->last_path;
  g_autoptr (VgSafetensors) st = vg_safetensors_open (path, error);
  g_autofree float *host = NULL;
  double mean[3], std[3], w[VG_NUM_CLASSES];
  int shape_params[1] = { (int) t->n_params }, shape_state[1] = { (int) t->n_state };
  const char *log;

  if (st == NULL)
    return FALSE;
  if (vg_train_meta_get (st, path, META_PREFIX "state.epoch", error) == NULL
      || !vg_train_options_check_same (&t->o, st, path, error)
      || !vg_train_state_from_metadata (&t->state, &t->o, st, path, error)
      || !vg_train_meta_doubles (st, path, META_PREFIX "mean", mean, 3, error)
      || !vg_train_meta_doubles (st, path, META_PREFIX "std", std, 3, error)
      || !vg_train_meta_doubles (st, path, META_PREFIX "class_weights", w, VG_NUM_CLASSES, error)
      || (log = vg_train_meta_get (st, path, META_PREFIX "log", error)) == NULL)
    return FALSE;
  for (int c = 0; c < 3; c++)
    if (!isfinite (mean[c]) || !(std[c] > 0.0 && isfinite (std[c])))
      return vg_train_checkpoint_error (error, path, "the whitening statistics are not usable");
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    if (!(w[c] >= 0.0 && isfinite (w[c])))
      return vg_train_checkpoint_error (error, path, "the class weights are not usable");
  if (count_rows (log) != t->state.epoch)
    return vg_train_checkpoint_error (error, path, "its log holds %d row(s) for %d finished "
                                      "epoch(s)", count_rows (log), t->state.epoch);
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
