/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Numbers as the workbench shows them, one way each: percentages (the language's own
 * spacing before "%", chosen by its translation) and counts with the locale's thousands
 * separators. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A fraction (0..1) as a percentage with `digits` decimals in the locale's notation:
 * "73.18%", in German "73,18 %". NaN gives "–". */
char *visage_format_percent (double fraction, int digits);

/* A count with thousands separators: "1,967,923", in German "1.967.923". The locale's
 * separator; where the locale has none (C, POSIX), the translation's ("," in English). */
char *visage_format_count (guint64 n);

G_END_DECLS
