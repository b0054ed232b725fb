/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Named configurations and the one-line spec format. The parameter table is the
 * architecture's (engine/models/): names, shapes (PyTorch layouts) and order follow the
 * state_dict of its reference in tests/reference/, so the engine's checkpoints and the
 * reference load each other's files. */
#define G_LOG_DOMAIN "visage-engine"

#include "vg-config.h"
#include "vg-error.h"
#include "vg-model-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (vg-config-error-quark, vg_config_error)

enum { VG_CONFIG_ERROR_INVALID = 1 };

/* A convolutional baseline: the SegFormer fields keep visage-s's values, unused. */
#define BASELINE(NAME, ARCH)                                                                \
  {                                                                                         \
    .name = NAME, .arch = ARCH, .in_channels = 3, .num_classes = 19,                        \
    .widths = { 32, 64, 128, 160 }, .depths = { 2, 2, 2, 2 }, .heads = { 1, 2, 4, 5 },      \
    .ratios = { 8, 4, 2, 1 }, .mlp_ratio = 4, .decoder_dim = 128, .head = VG_HEAD_BILINEAR, \
    .ln_eps = 1e-5f, .bn_eps = 1e-5f, .bn_momentum = 0.1f,                                  \
  }

/* The shipped configurations; the first is the default. */
static const VgConfig named_configs[] = {
  {
    .name = "visage-s",
    .in_channels = 3,
    .num_classes = 19,
    .widths = { 32, 64, 128, 160 },
    .depths = { 2, 2, 2, 2 },
    .heads = { 1, 2, 4, 5 },
    .ratios = { 8, 4, 2, 1 },
    .mlp_ratio = 4,
    .decoder_dim = 128,
    .head = VG_HEAD_BILINEAR,
    .ln_eps = 1e-5f,
    .bn_eps = 1e-5f,
    .bn_momentum = 0.1f,
  },
  {
    /* The report's model (CE7454 SegFormer, 1,981,478 parameters). */
    .name = "seed",
    .in_channels = 3,
    .num_classes = 19,
    .widths = { 16, 32, 128, 192 },
    .depths = { 1, 2, 2, 2 },
    .heads = { 2, 2, 2, 8 },
    .ratios = { 1, 1, 1, 1 },
    .mlp_ratio = 4,
    .decoder_dim = 256,
    .head = VG_HEAD_TCONV,
    .ln_eps = 1e-5f,
    .bn_eps = 1e-5f,
    .bn_momentum = 0.1f,
  },
  /* The report's three baselines (report-baselines.py): fixed layers. */
  BASELINE ("unet", VG_ARCH_UNET),
  BASELINE ("deeplabv3plus", VG_ARCH_DEEPLABV3PLUS),
  BASELINE ("fastscnn", VG_ARCH_FASTSCNN),
};

#define N_NAMED ((int) G_N_ELEMENTS (named_configs))

/* Limits that keep every size product far from overflow and every name short. */
#define MAX_WIDTH 4096
#define MAX_DEPTH 64
#define MAX_MLP_RATIO 16
#define MAX_DECODER_DIM 4096
#define MAX_IN_CHANNELS 64
#define MAX_CLASSES 255  /* labels are bytes, 255 is the ignore index */

const char *const *
vg_config_names (void)
{
  static const char *const names[] = { "visage-s", "seed", "unet", "deeplabv3plus",
                                       "fastscnn", NULL };

  return names;
}

gboolean
vg_config_from_name (VgConfig *cfg, const char *name, GError **error)
{
  for (int i = 0; i < N_NAMED; i++)
    if (name != NULL && strcmp (name, named_configs[i].name) == 0)
      {
        *cfg = named_configs[i];
        return TRUE;
      }

  g_autofree char *choices = g_strjoinv (", ", (char **) vg_config_names ());
  g_set_error (error, VG_CONFIG_ERROR, VG_CONFIG_ERROR_INVALID,
               "Unknown model configuration “%s” (choices: %s)", name ? name : "(null)",
               choices);
  return FALSE;
}

const char *
vg_config_arch_name (VgArchitecture arch)
{
  return vg_arch_get (arch)->name;
}

/* Architecture equality: everything but the name (and, for the convolutional baselines,
 * the SegFormer fields they do not use). */
static gboolean
same_architecture (const VgConfig *a, const VgConfig *b)
{
  if (a->arch != b->arch)
    return FALSE;
  if (a->arch != VG_ARCH_SEGFORMER)
    return a->in_channels == b->in_channels && a->num_classes == b->num_classes
           && a->bn_eps == b->bn_eps && a->bn_momentum == b->bn_momentum;
  return a->in_channels == b->in_channels && a->num_classes == b->num_classes
         && memcmp (a->widths, b->widths, sizeof a->widths) == 0
         && memcmp (a->depths, b->depths, sizeof a->depths) == 0
         && memcmp (a->heads, b->heads, sizeof a->heads) == 0
         && memcmp (a->ratios, b->ratios, sizeof a->ratios) == 0
         && a->mlp_ratio == b->mlp_ratio && a->decoder_dim == b->decoder_dim
         && a->head == b->head && a->ln_eps == b->ln_eps && a->bn_eps == b->bn_eps
         && a->bn_momentum == b->bn_momentum;
}

/* A strict decimal integer in [1, G_MAXINT]: no sign, no spaces, no trailing junk. */
static gboolean
parse_positive_int (const char *s, int *out)
{
  char *end = NULL;
  long long v;

  if (s[0] < '0' || s[0] > '9')
    return FALSE;
  errno = 0;
  v = strtoll (s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 1 || v > G_MAXINT)
    return FALSE;
  *out = (int) v;
  return TRUE;
}

/* "a,b,c,d" into four ints. */
static gboolean
parse_stage_list (const char *key, const char *value, int out[VG_STAGES], GError **error)
{
  g_auto (GStrv) parts = g_strsplit (value, ",", -1);
  int n = (int) g_strv_length (parts);

  if (n != VG_STAGES)
    {
      g_set_error (error, VG_CONFIG_ERROR, VG_CONFIG_ERROR_INVALID,
                   "“%s” needs %d comma-separated values, got “%s”", key, VG_STAGES, value);
      return FALSE;
    }
  for (int s = 0; s < VG_STAGES; s++)
    if (!parse_positive_int (parts[s], &out[s]))
      {
        g_set_error (error, VG_CONFIG_ERROR, VG_CONFIG_ERROR_INVALID,
                     "“%s”: “%s” is not a positive integer", key, parts[s]);
        return FALSE;
      }
  return TRUE;
}

static gboolean
parse_single_int (const char *key, const char *value, int *out, GError **error)
{
  if (!parse_positive_int (value, out))
    {
      g_set_error (error, VG_CONFIG_ERROR, VG_CONFIG_ERROR_INVALID,
                   "“%s”: “%s” is not a positive integer", key, value);
      return FALSE;
    }
  return TRUE;
}

/* Whether tokens spell out every key of a SegFormer and no architecture, as
 * vg_config_to_string writes a SegFormer (its spec predates the other architectures):
 * such a spec describes a SegFormer whatever the base. */
static gboolean
is_full_segformer_spec (char **tokens)
{
  static const char *const keys[] = { "widths=", "depths=", "heads=", "ratios=", "mlp=",
                                      "dim=", "head=" };
  guint seen = 0;

  for (int i = 0; tokens[i] != NULL; i++)
    {
      if (g_str_has_prefix (tokens[i], "arch="))
        return FALSE;
      for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
        if (g_str_has_prefix (tokens[i], keys[k]))
          seen |= 1u << k;
    }
  return seen == (1u << G_N_ELEMENTS (keys)) - 1;
}

static gboolean
parse_arch (const char *value, VgArchitecture *arch, GError **error)
{
  for (int a = 0; a < VG_N_ARCHS; a++)
    if (strcmp (value, vg_config_arch_name (a)) == 0)
      {
        *arch = a;
        return TRUE;
      }
  g_set_error (error, VG_CONFIG_ERROR, VG_CONFIG_ERROR_INVALID,
               "“arch”: unknown architecture “%s” (choices: segformer, unet, deeplabv3plus, "
               "fastscnn)", value);
  return FALSE;
}

gboolean
vg_config_parse (VgConfig *cfg, const char *spec, GError **error)
{
  VgConfig c = *cfg;
  g_auto (GStrv) tokens = NULL;

  if (spec == NULL)
    {
      g_set_error (error, VG_CONFIG_ERROR, VG_CONFIG_ERROR_INVALID,
                   "Empty model configuration");
      return FALSE;
    }
  tokens = g_strsplit_set (spec, " \t\n", -1);
  if (c.arch != VG_ARCH_SEGFORMER && is_full_segformer_spec (tokens))
    c.arch = VG_ARCH_SEGFORMER;
  /* The architecture first, wherever its token stands (the last one counts): a SegFormer
   * key beside arch=unet is refused before or after it, not kept unseen in the result. */
  for (int i = 0; tokens[i] != NULL; i++)
    if (g_str_has_prefix (tokens[i], "arch=") && tokens[i][5] != '\0'
        && !parse_arch (tokens[i] + 5, &c.arch, error))
      return FALSE;
  for (int i = 0; tokens[i] != NULL; i++)
    {
      const char *tok = tokens[i];
      const char *eq;
      g_autofree char *key = NULL;
      const char *value;
      gboolean ok;

      if (tok[0] == '\0')
        continue;  /* runs of spaces */
      eq = strchr (tok, '=');
      if (eq == NULL || eq == tok || eq[1] == '\0')
        {
          g_set_error (error, VG_CONFIG_ERROR, VG_CONFIG_ERROR_INVALID,
                       "Malformed token “%s” in model configuration (expected key=value)",
                       tok);
          return FALSE;
        }
      key = g_strndup (tok, (gsize) (eq - tok));
      value = eq + 1;

      if (strcmp (key, "arch") == 0)
        ok = TRUE; /* taken above */
      else if (c.arch != VG_ARCH_SEGFORMER)
        ok = vg_fail (error, VG_CONFIG_ERROR, VG_CONFIG_ERROR_INVALID,
                      "Key “%s” does not apply to a %s model (its layers are fixed)", key,
                      vg_config_arch_name (c.arch));
      else if (strcmp (key, "widths") == 0)
        ok = parse_stage_list (key, value, c.widths, error);
      else if (strcmp (key, "depths") == 0)
        ok = parse_stage_list (key, value, c.depths, error);
      else if (strcmp (key, "heads") == 0)
        ok = parse_stage_list (key, value, c.heads, error);
      else if (strcmp (key, "ratios") == 0)
        ok = parse_stage_list (key, value, c.ratios, error);
      else if (strcmp (key, "mlp") == 0)
        ok = parse_single_int (key, value, &c.mlp_ratio, error);
      else if (strcmp (key, "dim") == 0)
        ok = parse_single_int (key, value, &c.decoder_dim, error);
      else if (strcmp (key, "head") == 0)
        {
          ok = TRUE;
          if (strcmp (value, "bilinear") == 0)
            c.head = VG_HEAD_BILINEAR;
          else if (strcmp (value, "tconv") == 0)
            c.head = VG_HEAD_TCONV;
          else
            {
              g_set_error (error, VG_CONFIG_ERROR, VG_CONFIG_ERROR_INVALID,
                           "“head”: unknown head “%s” (choices: bilinear, tconv)", value);
              ok = FALSE;
            }
        }
      else
        {
          g_set_error (error, VG_CONFIG_ERROR, VG_CONFIG_ERROR_INVALID,
                       "Unknown key “%s” in model configuration "
                       "(keys: arch, widths, depths, heads, ratios, mlp, dim, head)", key);
          ok = FALSE;
        }
      if (!ok)
        return FALSE;
    }

  if (!vg_config_validate (&c, error))
    return FALSE;

  /* A spec that spells out a shipped configuration takes its name back, so that a
   * checkpoint's spec round-trips to "seed" rather than to an anonymous model. */
  if (!same_architecture (&c, cfg) || cfg->name[0] == '\0')
    {
      g_strlcpy (c.name, "custom", sizeof c.name);
      for (int i = 0; i < N_NAMED; i++)
        if (same_architecture (&c, &named_configs[i]))
          g_strlcpy (c.name, named_configs[i].name, sizeof c.name);
    }
  *cfg = c;
  return TRUE;
}

#define invalid(error, ...) vg_fail (error, VG_CONFIG_ERROR, VG_CONFIG_ERROR_INVALID, __VA_ARGS__)

static gboolean
validate_norms (const VgConfig *cfg, GError **error)
{
  /* The negated comparisons also reject NaN. */
  if (!(cfg->ln_eps > 0.0f && cfg->ln_eps < 1.0f))
    return invalid (error, "ln_eps %g must be in (0, 1)", (double) cfg->ln_eps);
  if (!(cfg->bn_eps > 0.0f && cfg->bn_eps < 1.0f))
    return invalid (error, "bn_eps %g must be in (0, 1)", (double) cfg->bn_eps);
  if (!(cfg->bn_momentum > 0.0f && cfg->bn_momentum <= 1.0f))
    return invalid (error, "bn_momentum %g must be in (0, 1]", (double) cfg->bn_momentum);
  return TRUE;
}

gboolean
vg_config_validate (const VgConfig *cfg, GError **error)
{
  if (cfg->in_channels < 1 || cfg->in_channels > MAX_IN_CHANNELS)
    return invalid (error, "in_channels %d is outside 1..%d", cfg->in_channels,
                    MAX_IN_CHANNELS);
  if (cfg->num_classes < 1 || cfg->num_classes > MAX_CLASSES)
    return invalid (error, "num_classes %d is outside 1..%d", cfg->num_classes, MAX_CLASSES);
  if ((int) cfg->arch < 0 || cfg->arch >= VG_N_ARCHS)
    return invalid (error, "unknown architecture %d", (int) cfg->arch);
  if (cfg->arch != VG_ARCH_SEGFORMER)
    return validate_norms (cfg, error);
  for (int s = 0; s < VG_STAGES; s++)
    {
      int R = cfg->ratios[s];

      if (cfg->widths[s] < 1 || cfg->widths[s] > MAX_WIDTH)
        return invalid (error, "widths[%d] = %d is outside 1..%d", s, cfg->widths[s],
                        MAX_WIDTH);
      if (cfg->depths[s] < 1 || cfg->depths[s] > MAX_DEPTH)
        return invalid (error, "depths[%d] = %d is outside 1..%d", s, cfg->depths[s],
                        MAX_DEPTH);
      if (cfg->heads[s] < 1 || cfg->heads[s] > cfg->widths[s])
        return invalid (error, "heads[%d] = %d is outside 1..widths[%d] (%d)", s,
                        cfg->heads[s], s, cfg->widths[s]);
      if (cfg->widths[s] % cfg->heads[s] != 0)
        return invalid (error, "heads[%d] = %d does not divide widths[%d] = %d", s,
                        cfg->heads[s], s, cfg->widths[s]);
      if (R != 1 && R != 2 && R != 4 && R != 8)
        return invalid (error, "ratios[%d] = %d must be 1, 2, 4 or 8", s, R);
    }
  if (cfg->mlp_ratio < 1 || cfg->mlp_ratio > MAX_MLP_RATIO)
    return invalid (error, "mlp ratio %d is outside 1..%d", cfg->mlp_ratio, MAX_MLP_RATIO);
  if (cfg->decoder_dim < 1 || cfg->decoder_dim > MAX_DECODER_DIM)
    return invalid (error, "decoder dim %d is outside 1..%d", cfg->decoder_dim,
                    MAX_DECODER_DIM);
  if (cfg->head != VG_HEAD_BILINEAR && cfg->head != VG_HEAD_TCONV)
    return invalid (error, "unknown head type %d", (int) cfg->head);
  return validate_norms (cfg, error);
}

char *
vg_config_to_string (const VgConfig *cfg)
{
  if (cfg->arch != VG_ARCH_SEGFORMER)
    return g_strdup_printf ("arch=%s", vg_config_arch_name (cfg->arch));

  const int *w = cfg->widths, *d = cfg->depths, *h = cfg->heads, *r = cfg->ratios;

  return g_strdup_printf ("widths=%d,%d,%d,%d depths=%d,%d,%d,%d heads=%d,%d,%d,%d "
                          "ratios=%d,%d,%d,%d mlp=%d dim=%d head=%s",
                          w[0], w[1], w[2], w[3], d[0], d[1], d[2], d[3],
                          h[0], h[1], h[2], h[3], r[0], r[1], r[2], r[3],
                          cfg->mlp_ratio, cfg->decoder_dim,
                          cfg->head == VG_HEAD_TCONV ? "tconv" : "bilinear");
}

/* ---- parameter table ------------------------------------------------------------------ */

int
vg_config_param_specs (const VgConfig *cfg, VgParamSpec *specs, int max_specs)
{
  return vg_arch_get (cfg->arch)->param_specs (cfg, specs, specs != NULL ? max_specs : 0);
}

size_t
vg_config_count_params (const VgConfig *cfg)
{
  int n = vg_config_param_specs (cfg, NULL, 0);
  g_autofree VgParamSpec *specs = g_new (VgParamSpec, n);
  size_t total = 0;

  vg_config_param_specs (cfg, specs, n);
  for (int i = 0; i < n; i++)
    if (specs[i].kind == VG_TENSOR_PARAM)
      total += specs[i].numel;
  return total;
}
