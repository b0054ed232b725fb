/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The model configuration parser (vg_config_parse: `visage-cli --spec`, the training
 * dialog's custom configuration and the "visage.config" metadata of every model file),
 * on top of each shipped configuration.
 *
 * Invariants: a refusal comes with an error; an accepted configuration validates, its
 * spec (vg_config_to_string) parses back to the same architecture, and its parameter
 * table and layer table can be built. */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "vg-config.h"
#include "vg-model.h"

static gboolean
same (const VgConfig *a, const VgConfig *b)
{
  return memcmp (a->widths, b->widths, sizeof a->widths) == 0
         && memcmp (a->depths, b->depths, sizeof a->depths) == 0
         && memcmp (a->heads, b->heads, sizeof a->heads) == 0
         && memcmp (a->ratios, b->ratios, sizeof a->ratios) == 0
         && a->mlp_ratio == b->mlp_ratio && a->decoder_dim == b->decoder_dim
         && a->head == b->head && strcmp (a->name, b->name) == 0;
}

static void
check_spec (const char *base, const char *spec)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree VgParamSpec *specs = NULL;
  VgConfig cfg, again;
  int n;

  vg_config_from_name (&cfg, base, NULL);
  if (!vg_config_parse (&cfg, spec, &error))
    {
      if (error == NULL || error->message[0] == '\0')
        fuzz_fail ("spec refused without a message");
      return;
    }
  if (!vg_config_validate (&cfg, &error))
    fuzz_fail ("an accepted spec does not validate: %s", error->message);
  text = vg_config_to_string (&cfg);
  vg_config_from_name (&again, base, NULL);
  if (!vg_config_parse (&again, text, &error))
    fuzz_fail ("the spec written back (%s) does not parse: %s", text, error->message);
  if (!same (&cfg, &again))
    fuzz_fail ("the spec written back (%s) is another configuration", text);
  n = vg_config_param_specs (&cfg, NULL, 0);
  specs = g_new (VgParamSpec, n);
  if (vg_config_param_specs (&cfg, specs, n) != n)
    fuzz_fail ("the parameter table changes size");
  for (int i = 0; i < n; i++)
    if (specs[i].name[0] == '\0' || strlen (specs[i].name) >= VG_PARAM_NAME_MAX - 1)
      fuzz_fail ("parameter %d has a bad name “%s”", i, specs[i].name);
  vg_config_count_params (&cfg);
  if (vg_model_describe (&cfg, 64, 64, NULL, 0) <= 0)
    fuzz_fail ("no layer table");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *spec = g_strndup ((const char *) data, size);

  for (const char *const *name = vg_config_names (); *name != NULL; name++)
    check_spec (*name, spec);
  return 0;
}
