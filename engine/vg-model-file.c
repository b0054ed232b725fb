/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Model files: a model's tensors as safetensors with the state_dict names, checked against
 * a configuration before anything is allocated for it, and the metadata that makes a file
 * self-describing (the configuration and the preprocessing), so that vg_model_open needs
 * nothing but the path. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "vg-model-file.h"
#include "vg-model-private.h"
#include "vg-predict.h"

/* ---- preprocessing metadata ------------------------------------------------------------ */

static char *
format_triple (const double v[3])
{
  char a[G_ASCII_DTOSTR_BUF_SIZE], b[G_ASCII_DTOSTR_BUF_SIZE], c[G_ASCII_DTOSTR_BUF_SIZE];

  /* g_ascii_dtostr writes the shortest text that reads back to the same double, in the C
   * locale whatever the user's (a German locale would write "0,51"). */
  return g_strdup_printf ("%s,%s,%s", g_ascii_dtostr (a, sizeof a, v[0]),
                          g_ascii_dtostr (b, sizeof b, v[1]), g_ascii_dtostr (c, sizeof c, v[2]));
}

char **
vg_preprocess_to_metadata (const VgPreprocess *pre)
{
  char **kv = g_new0 (char *, 7);

  kv[0] = g_strdup ("visage.mean");
  kv[1] = format_triple (pre->mean);
  kv[2] = g_strdup ("visage.std");
  kv[3] = format_triple (pre->std);
  kv[4] = g_strdup ("visage.resolution");
  kv[5] = g_strdup_printf ("%d", pre->resolution);
  return kv;
}

static gboolean
parse_triple (const char *text, double out[3], gboolean positive)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);

  if (g_strv_length (parts) != 3)
    return FALSE;
  for (int i = 0; i < 3; i++)
    {
      char *end = NULL;
      const char *s = g_strstrip (parts[i]);
      out[i] = g_ascii_strtod (s, &end);
      if (end == s || *end != '\0' || !isfinite (out[i]) || (positive && !(out[i] > 0.0)))
        return FALSE;
    }
  return TRUE;
}

static gboolean
preprocess_from_st (VgPreprocess *pre, const VgSafetensors *st, const char *path,
                    GError **error)
{
  const char *mean = vg_safetensors_metadata (st, "visage.mean");
  const char *std = vg_safetensors_metadata (st, "visage.std");
  const char *res = vg_safetensors_metadata (st, "visage.resolution");
  VgPreprocess p = { 0 };
  gint64 r = -1;
  char *end = NULL;

  if (mean == NULL || std == NULL || res == NULL)
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_METADATA,
                   "%s: no preprocessing in the model file (metadata visage.mean, "
                   "visage.std and visage.resolution are needed)", path);
      return FALSE;
    }
  if (!parse_triple (mean, p.mean, FALSE) || !parse_triple (std, p.std, TRUE))
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_METADATA,
                   "%s: malformed whitening metadata (mean “%s”, std “%s”: three numbers "
                   "each, std positive)", path, mean, std);
      return FALSE;
    }
  if (res[0] >= '0' && res[0] <= '9')
    r = g_ascii_strtoll (res, &end, 10);
  if (r < 0 || *end != '\0' || r > VG_MAX_RESOLUTION || r % 32 != 0)
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_METADATA,
                   "%s: malformed visage.resolution “%s” (a multiple of 32, or 0)", path, res);
      return FALSE;
    }
  p.resolution = (int) r;
  *pre = p;
  return TRUE;
}

gboolean
vg_preprocess_from_file (VgPreprocess *pre, const char *model_path, GError **error)
{
  g_autoptr (VgSafetensors) st = vg_safetensors_open (model_path, error);

  return st != NULL && preprocess_from_st (pre, st, model_path, error);
}

/* ---- saving ---------------------------------------------------------------------------- */

gboolean
vg_model_save (VgModel *m, const char *path, const char *const *metadata, GError **error)
{
  g_autofree float *host = g_new (float, m->n_params);
  g_autofree float *host_buf = g_new (float, MAX (m->n_buffers, 1));
  g_autofree VgTensorView *views = g_new0 (VgTensorView, m->n_specs);
  g_autofree char *spec = vg_config_to_string (&m->cfg);
  g_autoptr (GPtrArray) meta = g_ptr_array_new ();

  m->be->download (host, m->params, m->n_params * sizeof (float));
  m->be->download (host_buf, m->buffers, MAX (m->n_buffers, 1) * sizeof (float));
  for (int i = 0; i < m->n_specs; i++)
    {
      const VgParamSpec *s = &m->specs[i];
      VgTensorView *v = &views[i];

      v->name = s->name;
      v->ndim = s->ndim;
      for (int d = 0; d < s->ndim; d++)
        v->shape[d] = s->shape[d];
      v->numel = s->numel;
      switch (s->kind)
        {
        case VG_TENSOR_PARAM:
          v->dtype = VG_DTYPE_F32;
          v->data = host + m->spec_offset[i];
          v->nbytes = s->numel * sizeof (float);
          break;
        case VG_TENSOR_BUFFER:
          v->dtype = VG_DTYPE_F32;
          v->data = host_buf + m->spec_offset[i];
          v->nbytes = s->numel * sizeof (float);
          break;
        case VG_TENSOR_COUNTER:
          v->dtype = VG_DTYPE_I64;
          v->data = &m->counters[m->spec_offset[i]];
          v->nbytes = sizeof (int64_t);
          break;
        }
    }
  g_ptr_array_add (meta, (char *) "format");
  g_ptr_array_add (meta, (char *) "pt");
  g_ptr_array_add (meta, (char *) "visage.config");
  g_ptr_array_add (meta, spec);
  g_ptr_array_add (meta, (char *) "visage.config_name");
  g_ptr_array_add (meta, m->cfg.name);
  for (int i = 0; metadata != NULL && metadata[i] != NULL && metadata[i + 1] != NULL; i += 2)
    {
      g_ptr_array_add (meta, (char *) metadata[i]);
      g_ptr_array_add (meta, (char *) metadata[i + 1]);
    }
  g_ptr_array_add (meta, NULL);
  return vg_safetensors_write (path, views, m->n_specs, (const char *const *) meta->pdata,
                               error);
}

/* ---- checking -------------------------------------------------------------------------- */

/* "(2, 3)" */
static char *
shape_text (const int64_t *shape, int ndim)
{
  GString *text = g_string_new ("(");

  for (int d = 0; d < ndim; d++)
    g_string_append_printf (text, d ? ", %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT, shape[d]);
  g_string_append_c (text, ')');
  return g_string_free (text, FALSE);
}

/* Training state that a checkpoint (vg-train.c's last.safetensors) carries beside the
 * weights: not part of the model, and not an unused tensor either. */
static gboolean
is_training_state (const char *name)
{
  return g_str_has_prefix (name, "optim.") || g_str_has_prefix (name, "pipeline.");
}

gboolean
vg_model_check_file (const VgConfig *cfg, const VgSafetensors *st, const char *path,
                     GError **error)
{
  g_autofree VgParamSpec *specs = NULL;
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GString) unused = g_string_new (NULL);
  int n_specs = vg_config_param_specs (cfg, NULL, 0), n_unused = 0;

  specs = g_new0 (VgParamSpec, n_specs);
  vg_config_param_specs (cfg, specs, n_specs);
  for (int i = 0; i < n_specs; i++)
    {
      const VgParamSpec *s = &specs[i];
      const VgTensorView *v = vg_safetensors_find (st, s->name);
      int64_t want[4];
      gboolean same;

      g_hash_table_add (names, (char *) s->name);
      if (v == NULL)
        {
          g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                       "%s: no tensor %s: the file does not hold a %s model", path, s->name,
                       cfg->name);
          return FALSE;
        }
      if (s->kind == VG_TENSOR_COUNTER)
        {
          if (v->dtype != VG_DTYPE_I64 || v->numel != 1)
            {
              g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                           "%s: %s should be one int64", path, s->name);
              return FALSE;
            }
          continue;
        }
      if (v->dtype != VG_DTYPE_F32 && v->dtype != VG_DTYPE_F16 && v->dtype != VG_DTYPE_BF16)
        {
          g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                       "%s: tensor %s is not a floating-point tensor", path, s->name);
          return FALSE;
        }
      same = v->ndim == s->ndim;
      for (int d = 0; d < s->ndim; d++)
        {
          want[d] = s->shape[d];
          same = same && v->shape[d] == want[d];
        }
      if (!same)
        {
          g_autofree char *got_text = shape_text (v->shape, v->ndim);
          g_autofree char *want_text = shape_text (want, s->ndim);

          g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                       "%s: tensor %s has shape %s, expected %s", path, s->name, got_text,
                       want_text);
          return FALSE;
        }
    }
  /* A tensor the configuration does not use (a file of a deeper model under the metadata
   * of a shallower one) would be dropped without a word: refuse it, by name. */
  for (int i = 0; i < vg_safetensors_n_tensors (st); i++)
    {
      const char *name = vg_safetensors_get (st, i)->name;

      if (g_hash_table_contains (names, name) || is_training_state (name))
        continue;
      if (n_unused < 3)
        g_string_append_printf (unused, "%s%s", n_unused ? ", " : "", name);
      n_unused++;
    }
  if (n_unused > 0)
    {
      g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                   "%s: %d tensor%s that a %s model does not use: %s%s", path, n_unused,
                   n_unused == 1 ? "" : "s", cfg->name, unused->str,
                   n_unused > 3 ? ", ..." : "");
      return FALSE;
    }
  return TRUE;
}

/* ---- loading --------------------------------------------------------------------------- */

/* FALSE with an error naming the tensor unless its n values are all finite. */
static gboolean
check_finite (const float *x, size_t n, const char *name, const char *path, GError **error)
{
  for (size_t k = 0; k < n; k++)
    if (!isfinite (x[k]))
      {
        g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_NOT_FINITE,
                     "%s: tensor %s holds %s values (element %zu): the weights are unusable",
                     path, name, isnan (x[k]) ? "NaN" : "infinite", k);
        return FALSE;
      }
  return TRUE;
}

gboolean
vg_model_load_from (VgModel *m, const VgSafetensors *st, const char *path, GError **error)
{
  g_autofree float *host = NULL;
  g_autofree float *host_buf = NULL;
  g_autofree int64_t *counters = g_new0 (int64_t, MAX (m->n_counters, 1));

  if (!vg_model_check_file (&m->cfg, st, path, error))
    return FALSE;
  host = g_try_new (float, MAX (m->n_params, 1));
  host_buf = g_try_new (float, MAX (m->n_buffers, 1));
  if (host == NULL || host_buf == NULL)
    {
      g_set_error (error, VG_MODEL_ERROR, VG_MODEL_ERROR_FAILED,
                   "%s: out of memory loading %zu parameters", path, m->n_params);
      return FALSE;
    }
  for (int i = 0; i < m->n_specs; i++)
    {
      const VgParamSpec *s = &m->specs[i];
      const VgTensorView *v = vg_safetensors_find (st, s->name);
      float *dst;

      if (s->kind == VG_TENSOR_COUNTER)
        {
          memcpy (&counters[m->spec_offset[i]], v->data, sizeof (int64_t));
          counters[m->spec_offset[i]] = GINT64_FROM_LE (counters[m->spec_offset[i]]);
          continue;
        }
      dst = (s->kind == VG_TENSOR_PARAM ? host : host_buf) + m->spec_offset[i];
      if (!vg_safetensors_read_f32 (st, s->name, dst, s->shape, s->ndim, error)
          || !check_finite (dst, s->numel, s->name, path, error))
        return FALSE;
    }
  m->be->upload (m->params, host, m->n_params * sizeof (float));
  m->be->upload (m->buffers, host_buf, MAX (m->n_buffers, 1) * sizeof (float));
  memcpy (m->counters, counters, MAX (m->n_counters, 1) * sizeof (int64_t));
  return TRUE;
}

gboolean
vg_model_load (VgModel *m, const char *path, GError **error)
{
  g_autoptr (VgSafetensors) st = vg_safetensors_open (path, error);

  return st != NULL && vg_model_load_from (m, st, path, error);
}

/* ---- opening a model file -------------------------------------------------------------- */

VgModel *
vg_model_open (const char *path, const VgBackend *be, VgPreprocess *pre, GError **error)
{
  g_autoptr (VgSafetensors) st = vg_safetensors_open (path, error);
  g_autoptr (GError) local = NULL;
  g_autoptr (VgModel) model = NULL;
  const char *spec, *name;
  VgPreprocess p;
  VgConfig cfg;

  if (st == NULL)
    return NULL;
  spec = vg_safetensors_metadata (st, "visage.config");
  name = vg_safetensors_metadata (st, "visage.config_name");
  if (spec == NULL)
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_METADATA,
                   "%s: not a Visage model (no visage.config metadata)", path);
      return NULL;
    }
  /* The spec leaves out fields such as the norms' epsilons: the named configuration the
   * model was derived from supplies them, the shipped "seed" when the name is unknown. */
  if (name == NULL || !vg_config_from_name (&cfg, name, NULL))
    vg_config_from_name (&cfg, "seed", NULL);
  if (!vg_config_parse (&cfg, spec, &local) || !vg_config_validate (&cfg, &local))
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_METADATA,
                   "%s: bad model configuration in the metadata: %s", path, local->message);
      return NULL;
    }
  if (!preprocess_from_st (&p, st, path, error))
    return NULL;
  /* The tensors against the configuration before allocating for it: metadata alone must
   * not make us allocate (and initialise) a model far larger than the file. */
  if (!vg_model_check_file (&cfg, st, path, &local)
      || (model = vg_model_new (&cfg, be, &local)) == NULL
      || !vg_model_load_from (model, st, path, &local))
    {
      /* A readable file whose tensors do not fit: say which configuration was expected. */
      if ((local->domain == VG_MODEL_ERROR && local->code != VG_MODEL_ERROR_NOT_FINITE)
          || g_error_matches (local, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_MISMATCH))
        {
          g_autofree char *resolved = vg_config_to_string (&cfg);
          g_set_error (error, local->domain, local->code,
                       "%s (the metadata describes a %s model: %s)", local->message, cfg.name,
                       resolved);
        }
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (pre != NULL)
    *pre = p;
  return g_steal_pointer (&model);
}
