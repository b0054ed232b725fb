/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one way the engine and the CLI write a string into JSON text (safetensors headers,
 * the statistics cache, the CLI's --json output). Reading stays with each reader: the
 * safetensors header's strict parser (vg-safetensors-json.c), the cache's tolerant one. */
#pragma once

#include <glib.h>

/* s as a JSON string, quotes included: '"' and '\' escaped with a backslash, control
 * characters as \u00XX, UTF-8 passed through as it is; NULL as null. */
void vg_json_append_string (GString *out, const char *s);
