/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The safetensors reader (the other files: vg-safetensors-private.h).
 *
 * Format: u64 little-endian header length N, N bytes of JSON, then the data area. The header
 * maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to
 * the data area) and may hold a "__metadata__" object of strings. As the reference
 * implementation does, the reader requires the tensors to tile the data area exactly (no
 * gaps, no overlaps, nothing after the last one), which is also what catches truncation.
 *
 * The whole file is read into memory rather than mapped: a file truncated while mapped
 * would kill the process with SIGBUS, and a GUI must survive a bad file. The header goes
 * through a strict JSON parser of its own (vg-safetensors-json.c). */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vg-input-file.h"
#include "vg-safetensors-private.h"

G_DEFINE_QUARK (vg-safetensors-error-quark, vg_safetensors_error)

#define MAX_HEADER_BYTES (100u * 1024 * 1024)  /* as the reference implementation */

/* ---- dtypes ---------------------------------------------------------------------------- */

static const struct {
  const char *name;
  VgDType dtype;
  size_t size;
} dtypes[] = {
  { "F32", VG_DTYPE_F32, 4 },
  { "F16", VG_DTYPE_F16, 2 },
  { "BF16", VG_DTYPE_BF16, 2 },
  { "I64", VG_DTYPE_I64, 8 },
  { "U8", VG_DTYPE_U8, 1 },
};

size_t
vg_safetensors_dtype_size (VgDType dtype)
{
  for (size_t i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (dtypes[i].dtype == dtype)
      return dtypes[i].size;
  return 0;
}

const char *
vg_safetensors_dtype_name (VgDType dtype)
{
  for (size_t i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (dtypes[i].dtype == dtype)
      return dtypes[i].name;
  return NULL;
}

/* ---- reader ----------------------------------------------------------------------------- */

struct _VgSafetensors {
  char *path;
  guint8 *bytes;            /* the whole file */
  gsize size;
  const guint8 *data;       /* data area inside bytes */
  size_t data_size;
  VgTensorView *tensors;    /* header order; names owned here */
  int n_tensors;
  GHashTable *by_name;      /* name -> VgTensorView* */
  GHashTable *metadata;     /* key -> value, both owned */
};

void
vg_safetensors_free (VgSafetensors *st)
{
  if (st == NULL)
    return;
  for (int i = 0; i < st->n_tensors; i++)
    g_free ((char *) st->tensors[i].name);
  g_free (st->tensors);
  if (st->by_name != NULL)
    g_hash_table_destroy (st->by_name);
  if (st->metadata != NULL)
    g_hash_table_destroy (st->metadata);
  g_free (st->bytes);
  g_free (st->path);
  g_free (st);
}

static gboolean bad_file (GError **error, const char *path, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

/* Always FALSE, so that callers can `return bad_file (...)`. */
static gboolean
bad_file (GError **error, const char *path, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;
  g_autofree char *display = g_filename_display_name (path);

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_INVALID,
               "%s is not a valid safetensors file: %s", display, message);
  return FALSE;
}

static gboolean
read_metadata (VgSafetensors *st, const VgJsonValue *meta, GError **error)
{
  if (meta->type != VG_JSON_OBJECT)
    return bad_file (error, st->path, "“__metadata__” is not an object");
  for (int i = 0; i < meta->n; i++)
    {
      if (meta->items[i]->type != VG_JSON_STRING)
        return bad_file (error, st->path, "metadata “%s” is not a string", meta->keys[i]);
      g_hash_table_insert (st->metadata, g_strdup (meta->keys[i]),
                           g_strdup (meta->items[i]->str));
    }
  return TRUE;
}

/* One header entry into a view; checks dtype, shape and offsets against the data area. */
static gboolean
read_tensor (VgSafetensors *st, const char *name, const VgJsonValue *entry, VgTensorView *t,
             GError **error)
{
  const VgJsonValue *dtype, *shape, *offsets;
  size_t esize = 0;
  size_t numel = 1;
  int64_t begin, end;

  if (entry->type != VG_JSON_OBJECT)
    return bad_file (error, st->path, "tensor “%s” is not an object", name);
  for (int i = 0; i < entry->n; i++)
    if (strcmp (entry->keys[i], "dtype") != 0 && strcmp (entry->keys[i], "shape") != 0
        && strcmp (entry->keys[i], "data_offsets") != 0)
      return bad_file (error, st->path, "tensor “%s” has an unknown field “%s”", name,
                       entry->keys[i]);
  dtype = vg_json_member (entry, "dtype");
  shape = vg_json_member (entry, "shape");
  offsets = vg_json_member (entry, "data_offsets");
  if (dtype == NULL || shape == NULL || offsets == NULL)
    return bad_file (error, st->path, "tensor “%s” lacks “%s”", name,
                     dtype == NULL ? "dtype" : shape == NULL ? "shape" : "data_offsets");

  if (dtype->type != VG_JSON_STRING)
    return bad_file (error, st->path, "tensor “%s”: dtype is not a string", name);
  for (size_t i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (strcmp (dtype->str, dtypes[i].name) == 0)
      {
        t->dtype = dtypes[i].dtype;
        esize = dtypes[i].size;
      }
  if (esize == 0)
    return bad_file (error, st->path,
                     "tensor “%s”: unsupported dtype “%s” (F32, F16, BF16, I64, U8)", name,
                     dtype->str);

  if (shape->type != VG_JSON_ARRAY)
    return bad_file (error, st->path, "tensor “%s”: shape is not an array", name);
  if (shape->n > MAX_NDIM)
    return bad_file (error, st->path, "tensor “%s”: %d dimensions (at most %d)", name,
                     shape->n, MAX_NDIM);
  t->ndim = shape->n;
  for (int i = 0; i < shape->n; i++)
    {
      const VgJsonValue *d = shape->items[i];

      if (d->type != VG_JSON_INT)
        return bad_file (error, st->path, "tensor “%s”: shape[%d] is not an integer", name, i);
      if (d->num < 0)
        return bad_file (error, st->path, "tensor “%s”: negative dimension %" G_GINT64_FORMAT,
                         name, d->num);
      if (d->num > 0 && numel > SIZE_MAX / esize / (uint64_t) d->num)
        return bad_file (error, st->path, "tensor “%s”: shape overflows the address space",
                         name);
      numel *= (size_t) d->num;
      t->shape[i] = d->num;
    }
  t->numel = numel;
  t->nbytes = numel * esize;

  if (offsets->type != VG_JSON_ARRAY || offsets->n != 2 || offsets->items[0]->type != VG_JSON_INT
      || offsets->items[1]->type != VG_JSON_INT)
    return bad_file (error, st->path, "tensor “%s”: data_offsets is not two integers", name);
  begin = offsets->items[0]->num;
  end = offsets->items[1]->num;
  if (begin < 0 || end < begin)
    return bad_file (error, st->path,
                     "tensor “%s”: data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                     "] are out of order", name, begin, end);
  if ((uint64_t) end > st->data_size)
    return bad_file (error, st->path,
                     "tensor “%s”: data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                     "] lie outside the %zu-byte data area (truncated file?)", name, begin,
                     end, st->data_size);
  if ((uint64_t) (end - begin) != t->nbytes)
    return bad_file (error, st->path,
                     "tensor “%s”: shape needs %zu bytes of %s but data_offsets span %"
                     G_GINT64_FORMAT, name, t->nbytes, dtype->str, end - begin);
  t->data = st->data + begin;
  return TRUE;
}

static int
compare_by_offset (gconstpointer a, gconstpointer b)
{
  const VgTensorView *ta = *(const VgTensorView *const *) a;
  const VgTensorView *tb = *(const VgTensorView *const *) b;

  if (ta->data != tb->data)
    return ta->data < tb->data ? -1 : 1;
  return ta->nbytes < tb->nbytes ? -1 : ta->nbytes > tb->nbytes;
}

/* The tensors must tile the data area: sorted by offset, each begins where the previous
 * ends, and the last ends at the end of the file. */
static gboolean
check_tiling (VgSafetensors *st, GError **error)
{
  g_autofree VgTensorView **order = g_new (VgTensorView *, st->n_tensors + 1);
  size_t at = 0;

  for (int i = 0; i < st->n_tensors; i++)
    order[i] = &st->tensors[i];
  qsort (order, (size_t) st->n_tensors, sizeof *order, compare_by_offset);
  for (int i = 0; i < st->n_tensors; i++)
    {
      size_t begin = (size_t) ((const guint8 *) order[i]->data - st->data);

      if (begin < at)
        return bad_file (error, st->path, "tensor “%s” overlaps tensor “%s”", order[i]->name,
                         order[i - 1]->name);
      if (begin > at)
        return bad_file (error, st->path, "gap of %zu bytes before tensor “%s”", begin - at,
                         order[i]->name);
      at = begin + order[i]->nbytes;
    }
  if (at != st->data_size)
    return bad_file (error, st->path, "%zu stray bytes after the last tensor",
                     st->data_size - at);
  return TRUE;
}

static gboolean
parse_file (VgSafetensors *st, GError **error)
{
  uint64_t header_len;
  g_autofree char *json_error = NULL;
  g_autoptr (VgJsonValue) root = NULL;
  int n = 0;

  if (st->size < 8)
    return bad_file (error, st->path, "%zu bytes, shorter than the 8-byte header length",
                     (size_t) st->size);
  memcpy (&header_len, st->bytes, 8);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > st->size - 8)
    return bad_file (error, st->path,
                     "header length %" G_GUINT64_FORMAT " exceeds the file size (%zu bytes)",
                     header_len, (size_t) st->size);
  if (header_len > MAX_HEADER_BYTES)
    return bad_file (error, st->path, "header length %" G_GUINT64_FORMAT " is too large",
                     header_len);
  st->data = st->bytes + 8 + header_len;
  st->data_size = st->size - 8 - (size_t) header_len;

  root = vg_json_parse ((const char *) st->bytes + 8, (size_t) header_len, &json_error);
  if (root == NULL)
    return bad_file (error, st->path, "invalid JSON header %s", json_error);
  if (root->type != VG_JSON_OBJECT)
    return bad_file (error, st->path, "the header is not a JSON object");

  st->tensors = g_new0 (VgTensorView, root->n);
  for (int i = 0; i < root->n; i++)
    {
      const char *name = root->keys[i];
      VgTensorView *t;

      if (strcmp (name, "__metadata__") == 0)
        {
          if (!read_metadata (st, root->items[i], error))
            return FALSE;
          continue;
        }
      t = &st->tensors[n];
      if (!read_tensor (st, name, root->items[i], t, error))
        return FALSE;
      t->name = g_strdup (name);
      st->n_tensors = ++n;
      /* The JSON parser already rejects duplicate names. */
      g_hash_table_insert (st->by_name, (char *) t->name, t);
    }
  return check_tiling (st, error);
}

VgSafetensors *
vg_safetensors_open (const char *path, GError **error)
{
  g_autoptr (VgSafetensors) st = g_new0 (VgSafetensors, 1);
  g_autoptr (GError) local = NULL;
  char *contents = NULL;

  st->path = g_strdup (path);
  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  st->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  /* Regular files only (a FIFO would block), into memory from g_try_malloc. */
  if (!vg_input_file_get_contents (path, &contents, &st->size, &local))
    {
      /* The message already names the file. */
      g_set_error_literal (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_IO,
                           local->message);
      return NULL;
    }
  st->bytes = (guint8 *) contents;
  if (!parse_file (st, error))
    return NULL;
  return g_steal_pointer (&st);
}

int
vg_safetensors_n_tensors (const VgSafetensors *st)
{
  return st->n_tensors;
}

const VgTensorView *
vg_safetensors_get (const VgSafetensors *st, int index)
{
  if (index < 0 || index >= st->n_tensors)
    return NULL;
  return &st->tensors[index];
}

const VgTensorView *
vg_safetensors_find (const VgSafetensors *st, const char *name)
{
  return g_hash_table_lookup (st->by_name, name);
}

const char *
vg_safetensors_metadata (const VgSafetensors *st, const char *key)
{
  return g_hash_table_lookup (st->metadata, key);
}

static int
compare_keys (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

const char **
vg_safetensors_metadata_pairs (const VgSafetensors *st)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  GPtrArray *pairs = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, st->metadata);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (keys, key);
  g_ptr_array_sort (keys, compare_keys);
  for (guint i = 0; i < keys->len; i++)
    {
      g_ptr_array_add (pairs, g_ptr_array_index (keys, i));
      g_ptr_array_add (pairs, g_hash_table_lookup (st->metadata, g_ptr_array_index (keys, i)));
    }
  g_ptr_array_add (pairs, NULL);
  return (const char **) g_ptr_array_free (pairs, FALSE);
}

gboolean
vg_safetensors_read_f32 (const VgSafetensors *st, const char *name, float *dst,
                         const int *expected_shape, int expected_ndim, GError **error)
{
  const VgTensorView *t = vg_safetensors_find (st, name);
  g_autofree char *display = g_filename_display_name (st->path);

  if (t == NULL)
    {
      g_set_error (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_MISSING,
                   "%s has no tensor “%s”", display, name);
      return FALSE;
    }
  if (t->dtype != VG_DTYPE_F32 && t->dtype != VG_DTYPE_F16 && t->dtype != VG_DTYPE_BF16)
    {
      g_set_error (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_MISMATCH,
                   "%s: tensor “%s” is %s, not a floating-point tensor", display, name,
                   vg_safetensors_dtype_name (t->dtype));
      return FALSE;
    }
  if (expected_shape != NULL)
    {
      gboolean same = t->ndim == expected_ndim;

      for (int i = 0; same && i < t->ndim; i++)
        same = t->shape[i] == expected_shape[i];
      if (!same)
        {
          g_autoptr (GString) want = g_string_new ("(");
          g_autoptr (GString) got = g_string_new ("(");

          for (int i = 0; i < expected_ndim; i++)
            g_string_append_printf (want, i ? ", %d" : "%d", expected_shape[i]);
          for (int i = 0; i < t->ndim; i++)
            g_string_append_printf (got, i ? ", %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT,
                                    t->shape[i]);
          g_string_append_c (want, ')');
          g_string_append_c (got, ')');
          g_set_error (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_MISMATCH,
                       "%s: tensor “%s” has shape %s, expected %s", display, name, got->str,
                       want->str);
          return FALSE;
        }
    }

  /* The data may be unaligned (a header length that is not a multiple of 8), so copy. */
  switch (t->dtype)
    {
    case VG_DTYPE_F32:
      memcpy (dst, t->data, t->nbytes);
      break;
    case VG_DTYPE_F16:
    case VG_DTYPE_BF16:
      for (size_t i = 0; i < t->numel; i++)
        {
          uint16_t h;
          uint32_t bits;

          memcpy (&h, (const guint8 *) t->data + 2 * i, 2);
          if (t->dtype == VG_DTYPE_F16)
            dst[i] = vg_half_to_float (h);
          else
            {
              bits = (uint32_t) h << 16;
              memcpy (&dst[i], &bits, 4);
            }
        }
      break;
    case VG_DTYPE_I64:
    case VG_DTYPE_U8:
    default:
      break;
    }
  return TRUE;
}

