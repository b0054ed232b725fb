/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The engine's one way to fail with a formatted message. A module that reports many errors
 * of one domain and code names a shorthand for it, which may prefix the format, such as
 *   #define recipe_error(error, what, format, ...) \
 *     vg_fail (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID, "%s: " format, what, \
 *              ##__VA_ARGS__)
 * and writes `return recipe_error (error, name, "...", ...);`. */
#pragma once

#include <glib.h>

/* g_set_error, returning FALSE. */
gboolean vg_fail (GError **error, GQuark domain, int code, const char *format, ...)
  G_GNUC_PRINTF (4, 5);
