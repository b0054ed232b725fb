/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the safetensors files share; nothing outside engine/vg-safetensors*.c includes this.
 *
 *   vg-safetensors.c        the reader: the whole file in memory, every offset, dtype and
 *                           shape checked, the tensors tiling the data area exactly
 *   vg-safetensors-json.c   the strict, bounded JSON parser of the header
 *   vg-safetensors-write.c  the writer, through the one atomic write
 *   vg-safetensors-f16.c    half precision, and F16 copies of model files */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "vg-safetensors.h"

#if G_BYTE_ORDER != G_LITTLE_ENDIAN
#error "vg-safetensors assumes a little-endian host, as the file format is little-endian"
#endif

G_STATIC_ASSERT (sizeof (size_t) == 8);           /* sizes are checked against SIZE_MAX */

#define MAX_NDIM 8                              /* VgTensorView.shape */

/* Bytes per element and the header's name of a dtype; 0 and NULL for an unknown one. */
size_t vg_safetensors_dtype_size (VgDType dtype);
const char *vg_safetensors_dtype_name (VgDType dtype);

/* ---- the header's JSON (vg-safetensors-json.c) ----------------------------------------- */

typedef enum {
  VG_JSON_OBJECT,
  VG_JSON_ARRAY,
  VG_JSON_STRING,
  VG_JSON_INT,
} VgJsonType;

typedef struct _VgJsonValue VgJsonValue;
struct _VgJsonValue {
  VgJsonType type;
  size_t offset;      /* byte offset in the header, for messages */
  int64_t num;        /* VG_JSON_INT */
  char *str;          /* VG_JSON_STRING: valid UTF-8 without NUL */
  int n;              /* members (VG_JSON_OBJECT) or elements (VG_JSON_ARRAY) */
  int cap;
  char **keys;        /* VG_JSON_OBJECT: member names, in file order */
  VgJsonValue **items;  /* VG_JSON_OBJECT values / VG_JSON_ARRAY elements */
};

/* Parse a whole document; trailing whitespace (the header's padding) is allowed. NULL with
 * *error ("at byte N: ...", free it) on the first error. */
VgJsonValue *vg_json_parse (const char *text, size_t len, char **error);
void vg_json_free (VgJsonValue *value);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgJsonValue, vg_json_free)
/* The member named key of an object, or NULL. */
VgJsonValue *vg_json_member (const VgJsonValue *obj, const char *key);
