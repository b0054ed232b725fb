/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Numbers as the workbench shows them, one way each: percentages (the language's own
 * spacing before "%", chosen by its translation) and counts with the locale's thousands
 * separators; and a model's configuration in a few words. */
#pragma once

#include <glib.h>

#include "vg-config.h"

G_BEGIN_DECLS

/* A fraction (0..1) as a percentage with `digits` decimals in the locale's notation:
 * "73.18%", in German "73,18 %". NaN gives "–". */
char *visage_format_percent (double fraction, int digits);

/* A count with thousands separators: "1,967,923", in German "1.967.923". The locale's
 * separator; where the locale has none (C, POSIX), the translation's ("," in English). */
char *visage_format_count (guint64 n);

/* The architecture's proper name: "SegFormer", "U-Net", "DeepLabV3+", "Fast-SCNN". */
const char *visage_format_architecture (VgArchitecture arch);

/* A configuration in a few words: "fastscnn (Fast-SCNN), 1,154,435 parameters". */
char *visage_format_config (const VgConfig *config);

G_END_DECLS
