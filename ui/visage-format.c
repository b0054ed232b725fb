/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-format"

#include "config.h"

#include <locale.h>
#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "visage-format.h"

char *
visage_format_percent (double fraction, int digits)
{
  g_autofree char *number = NULL;

  if (isnan (fraction))
    return g_strdup ("–");
  number = g_strdup_printf ("%.*f", CLAMP (digits, 0, 6), 100.0 * fraction);
  /* TRANSLATORS: a percentage: %s is the number (with the locale's decimal sign), %% the
   * percent sign. German and French put a no-break space before it: "%s %%" */
  return g_strdup_printf (C_("percentage", "%s%%"), number);
}

char *
visage_format_count (guint64 n)
{
  const char *sep = localeconv ()->thousands_sep;
  g_autofree char *digits = g_strdup_printf ("%" G_GUINT64_FORMAT, n);
  GString *out = g_string_new (NULL);
  gsize len = strlen (digits);

  if (sep == NULL || sep[0] == '\0')
    /* TRANSLATORS: the thousands separator where the locale defines none (the C locale) */
    sep = C_("number", ",");
  for (gsize i = 0; i < len; i++)
    {
      if (i > 0 && (len - i) % 3 == 0)
        g_string_append (out, sep);
      g_string_append_c (out, digits[i]);
    }
  return g_string_free (out, FALSE);
}

const char *
visage_format_architecture (VgArchitecture arch)
{
  /* proper names, the same in every language */
  static const char *const names[VG_N_ARCHS] = {
    [VG_ARCH_SEGFORMER] = "SegFormer",
    [VG_ARCH_UNET] = "U-Net",
    [VG_ARCH_DEEPLABV3PLUS] = "DeepLabV3+",
    [VG_ARCH_FASTSCNN] = "Fast-SCNN",
  };

  g_return_val_if_fail ((int) arch >= 0 && arch < VG_N_ARCHS, "");
  return names[arch];
}

char *
visage_format_config (const VgConfig *config)
{
  g_autofree char *count = visage_format_count (vg_config_count_params (config));

  /* TRANSLATORS: a model's configuration: its name, its architecture and its count of
   * trainable parameters, e.g. "fastscnn (Fast-SCNN), 1,154,435 parameters" */
  return g_strdup_printf (_("%s (%s), %s parameters"), config->name,
                          visage_format_architecture (config->arch), count);
}
