/* SPDX-License-Identifier: GPL-3.0-or-later */
/* safetensors reader and atomic writer.
 *
 * Format: u64 little-endian header length N, N bytes of JSON, then the data area. The header
 * maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to
 * the data area) and may hold a "__metadata__" object of strings. As the reference
 * implementation does, the reader requires the tensors to tile the data area exactly (no
 * gaps, no overlaps, nothing after the last one), which is also what catches truncation.
 *
 * The whole file is read into memory rather than mapped: a file truncated while mapped
 * would kill the process with SIGBUS, and a GUI must survive a bad file. The header parser
 * is a small strict JSON parser (objects, arrays, strings, integers): the engine has no
 * JSON dependency and the header needs nothing more. */
#define G_LOG_DOMAIN "visage-engine"

#include "vg-atomic-file.h"
#include "vg-input-file.h"
#include "vg-safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#if G_BYTE_ORDER != G_LITTLE_ENDIAN
#error "vg-safetensors.c assumes a little-endian host, as the file format is little-endian"
#endif

G_DEFINE_QUARK (vg-safetensors-error-quark, vg_safetensors_error)

#define MAX_HEADER_BYTES (100u * 1024 * 1024)  /* as the reference implementation */
#define MAX_JSON_DEPTH 8                        /* the header nests 3 levels */
#define MAX_NDIM 8                              /* VgTensorView.shape */

G_STATIC_ASSERT (sizeof (size_t) == 8);           /* sizes are checked against SIZE_MAX */

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

static size_t
dtype_size (VgDType dtype)
{
  for (size_t i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (dtypes[i].dtype == dtype)
      return dtypes[i].size;
  return 0;
}

static const char *
dtype_name (VgDType dtype)
{
  for (size_t i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (dtypes[i].dtype == dtype)
      return dtypes[i].name;
  return NULL;
}

/* ---- a strict JSON parser for the header ------------------------------------------------ */

typedef enum {
  JSON_OBJECT,
  JSON_ARRAY,
  JSON_STRING,
  JSON_INT,
} JsonType;

typedef struct _JsonValue JsonValue;
struct _JsonValue {
  JsonType type;
  size_t offset;      /* byte offset in the header, for messages */
  int64_t num;        /* JSON_INT */
  char *str;          /* JSON_STRING: valid UTF-8 without NUL */
  int n;              /* members (JSON_OBJECT) or elements (JSON_ARRAY) */
  int cap;
  char **keys;        /* JSON_OBJECT: member names, in file order */
  JsonValue **items;  /* JSON_OBJECT values / JSON_ARRAY elements */
};

typedef struct {
  const char *text;
  size_t len;
  size_t pos;
  int depth;
  char *error;        /* first error, "at byte N: ..." */
} JsonParser;

static void
json_free (JsonValue *v)
{
  if (v == NULL)
    return;
  for (int i = 0; i < v->n; i++)
    {
      if (v->keys != NULL)
        g_free (v->keys[i]);
      json_free (v->items[i]);
    }
  g_free (v->keys);
  g_free (v->items);
  g_free (v->str);
  g_free (v);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (JsonValue, json_free)

static void json_fail (JsonParser *p, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
json_fail (JsonParser *p, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  if (p->error != NULL)
    return;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  p->error = g_strdup_printf ("at byte %zu: %s", p->pos, message);
}

static void
json_skip_space (JsonParser *p)
{
  while (p->pos < p->len)
    {
      char c = p->text[p->pos];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
        break;
      p->pos++;
    }
}

/* The character at the cursor, or -1 at the end. */
static int
json_peek (JsonParser *p)
{
  return p->pos < p->len ? (unsigned char) p->text[p->pos] : -1;
}

static void
json_fail_unexpected (JsonParser *p, const char *expected)
{
  int c = json_peek (p);

  if (c < 0)
    json_fail (p, "unexpected end of header, expected %s", expected);
  else if (c >= 0x20 && c < 0x7f)
    json_fail (p, "unexpected “%c”, expected %s", c, expected);
  else
    json_fail (p, "unexpected byte 0x%02x, expected %s", (unsigned) c, expected);
}

static gboolean
json_hex4 (JsonParser *p, gunichar *out)
{
  gunichar v = 0;

  if (p->len - p->pos < 4)
    {
      json_fail (p, "truncated \\u escape");
      return FALSE;
    }
  for (int i = 0; i < 4; i++)
    {
      int d = g_ascii_xdigit_value (p->text[p->pos + i]);
      if (d < 0)
        {
          json_fail (p, "invalid \\u escape");
          return FALSE;
        }
      v = v * 16 + (gunichar) d;
    }
  p->pos += 4;
  *out = v;
  return TRUE;
}

/* A string at the cursor (which is on the opening quote). */
static char *
json_parse_string (JsonParser *p)
{
  g_autoptr (GString) s = g_string_new (NULL);

  p->pos++;  /* opening quote */
  for (;;)
    {
      int c = json_peek (p);

      if (c < 0)
        {
          json_fail (p, "unterminated string");
          return NULL;
        }
      if (c == '"')
        {
          p->pos++;
          break;
        }
      if (c < 0x20)
        {
          json_fail (p, "control character 0x%02x in a string", (unsigned) c);
          return NULL;
        }
      if (c != '\\')
        {
          g_string_append_c (s, (char) c);
          p->pos++;
          continue;
        }

      p->pos++;  /* backslash */
      c = json_peek (p);
      p->pos++;
      switch (c)
        {
        case '"': g_string_append_c (s, '"'); break;
        case '\\': g_string_append_c (s, '\\'); break;
        case '/': g_string_append_c (s, '/'); break;
        case 'b': g_string_append_c (s, '\b'); break;
        case 'f': g_string_append_c (s, '\f'); break;
        case 'n': g_string_append_c (s, '\n'); break;
        case 'r': g_string_append_c (s, '\r'); break;
        case 't': g_string_append_c (s, '\t'); break;
        case 'u':
          {
            gunichar u, low;

            if (!json_hex4 (p, &u))
              return NULL;
            if (u >= 0xdc00 && u <= 0xdfff)
              {
                json_fail (p, "unpaired low surrogate in a \\u escape");
                return NULL;
              }
            if (u >= 0xd800 && u <= 0xdbff)
              {
                if (p->len - p->pos < 2 || p->text[p->pos] != '\\'
                    || p->text[p->pos + 1] != 'u')
                  {
                    json_fail (p, "unpaired high surrogate in a \\u escape");
                    return NULL;
                  }
                p->pos += 2;
                if (!json_hex4 (p, &low))
                  return NULL;
                if (low < 0xdc00 || low > 0xdfff)
                  {
                    json_fail (p, "invalid surrogate pair in a \\u escape");
                    return NULL;
                  }
                u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
              }
            if (u == 0)
              {
                json_fail (p, "NUL character in a string");
                return NULL;
              }
            g_string_append_unichar (s, u);
          }
          break;
        default:
          p->pos--;
          json_fail (p, "invalid escape in a string");
          return NULL;
        }
    }
  if (!g_utf8_validate_len (s->str, s->len, NULL))
    {
      json_fail (p, "string is not valid UTF-8");
      return NULL;
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* An integer: -?(0|[1-9][0-9]*), within int64. Fractions and exponents are rejected. */
static gboolean
json_parse_int (JsonParser *p, int64_t *out)
{
  gboolean negative = FALSE;
  uint64_t v = 0;
  uint64_t limit;
  int digits = 0;

  if (json_peek (p) == '-')
    {
      negative = TRUE;
      p->pos++;
    }
  limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
  if (json_peek (p) == '0' && p->pos + 1 < p->len && g_ascii_isdigit (p->text[p->pos + 1]))
    {
      json_fail (p, "number with a leading zero");
      return FALSE;
    }
  while (json_peek (p) >= '0' && json_peek (p) <= '9')
    {
      uint64_t d = (uint64_t) (json_peek (p) - '0');
      if (v > (limit - d) / 10)
        {
          json_fail (p, "integer out of range");
          return FALSE;
        }
      v = v * 10 + d;
      p->pos++;
      digits++;
    }
  if (digits == 0)
    {
      json_fail_unexpected (p, "a digit");
      return FALSE;
    }
  if (json_peek (p) == '.' || json_peek (p) == 'e' || json_peek (p) == 'E')
    {
      json_fail (p, "only integers are allowed in a safetensors header");
      return FALSE;
    }
  *out = negative ? (int64_t) (0 - v) : (int64_t) v;
  return TRUE;
}

static JsonValue *json_parse_value (JsonParser *p);

static void
json_append (JsonValue *v, char *key, JsonValue *item)
{
  if (v->n == v->cap)
    {
      v->cap = v->cap ? 2 * v->cap : 8;
      v->items = g_renew (JsonValue *, v->items, v->cap);
      if (v->type == JSON_OBJECT)
        v->keys = g_renew (char *, v->keys, v->cap);
    }
  if (v->type == JSON_OBJECT)
    v->keys[v->n] = key;
  v->items[v->n++] = item;
}

static JsonValue *
json_parse_container (JsonParser *p, JsonType type)
{
  g_autoptr (JsonValue) v = g_new0 (JsonValue, 1);
  g_autoptr (GHashTable) seen = NULL;
  char close = type == JSON_OBJECT ? '}' : ']';

  v->type = type;
  v->offset = p->pos;
  if (++p->depth > MAX_JSON_DEPTH)
    {
      json_fail (p, "nesting deeper than %d levels", MAX_JSON_DEPTH);
      return NULL;
    }
  if (type == JSON_OBJECT)
    seen = g_hash_table_new (g_str_hash, g_str_equal);
  p->pos++;  /* opening bracket */
  json_skip_space (p);
  if (json_peek (p) == close)
    {
      p->pos++;
      p->depth--;
      return g_steal_pointer (&v);
    }
  for (;;)
    {
      char *key = NULL;
      JsonValue *item;

      if (type == JSON_OBJECT)
        {
          size_t key_pos = p->pos;

          if (json_peek (p) != '"')
            {
              json_fail_unexpected (p, "a member name");
              return NULL;
            }
          key = json_parse_string (p);
          if (key == NULL)
            return NULL;
          if (g_hash_table_contains (seen, key))
            {
              p->pos = key_pos;
              json_fail (p, "duplicate name “%s”", key);
              g_free (key);
              return NULL;
            }
          json_skip_space (p);
          if (json_peek (p) != ':')
            {
              json_fail_unexpected (p, "“:”");
              g_free (key);
              return NULL;
            }
          p->pos++;
          json_skip_space (p);
        }
      item = json_parse_value (p);
      if (item == NULL)
        {
          g_free (key);
          return NULL;
        }
      json_append (v, key, item);
      if (key != NULL)
        g_hash_table_add (seen, key);
      json_skip_space (p);
      if (json_peek (p) == close)
        {
          p->pos++;
          break;
        }
      if (json_peek (p) != ',')
        {
          json_fail_unexpected (p, type == JSON_OBJECT ? "“,” or “}”" : "“,” or “]”");
          return NULL;
        }
      p->pos++;
      json_skip_space (p);
    }
  p->depth--;
  return g_steal_pointer (&v);
}

static JsonValue *
json_parse_value (JsonParser *p)
{
  int c = json_peek (p);
  JsonValue *v;

  if (c == '{')
    return json_parse_container (p, JSON_OBJECT);
  if (c == '[')
    return json_parse_container (p, JSON_ARRAY);
  if (c == '"')
    {
      size_t start = p->pos;
      char *s = json_parse_string (p);
      if (s == NULL)
        return NULL;
      v = g_new0 (JsonValue, 1);
      v->type = JSON_STRING;
      v->offset = start;
      v->str = s;
      return v;
    }
  if (c == '-' || (c >= '0' && c <= '9'))
    {
      size_t start = p->pos;
      int64_t num;
      if (!json_parse_int (p, &num))
        return NULL;
      v = g_new0 (JsonValue, 1);
      v->type = JSON_INT;
      v->offset = start;
      v->num = num;
      return v;
    }
  json_fail_unexpected (p, "an object, array, string or integer");
  return NULL;
}

/* Parse a whole document; trailing whitespace (the header's padding) is allowed. */
static JsonValue *
json_parse (const char *text, size_t len, char **error)
{
  JsonParser p = { text, len, 0, 0, NULL };
  g_autoptr (JsonValue) v = NULL;

  json_skip_space (&p);
  v = json_parse_value (&p);
  if (v != NULL)
    {
      json_skip_space (&p);
      if (p.pos != p.len)
        json_fail_unexpected (&p, "the end of the header");
    }
  if (p.error != NULL)
    {
      *error = p.error;
      return NULL;
    }
  return g_steal_pointer (&v);
}

static JsonValue *
json_member (const JsonValue *obj, const char *key)
{
  for (int i = 0; i < obj->n; i++)
    if (strcmp (obj->keys[i], key) == 0)
      return obj->items[i];
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
read_metadata (VgSafetensors *st, const JsonValue *meta, GError **error)
{
  if (meta->type != JSON_OBJECT)
    return bad_file (error, st->path, "“__metadata__” is not an object");
  for (int i = 0; i < meta->n; i++)
    {
      if (meta->items[i]->type != JSON_STRING)
        return bad_file (error, st->path, "metadata “%s” is not a string", meta->keys[i]);
      g_hash_table_insert (st->metadata, g_strdup (meta->keys[i]),
                           g_strdup (meta->items[i]->str));
    }
  return TRUE;
}

/* One header entry into a view; checks dtype, shape and offsets against the data area. */
static gboolean
read_tensor (VgSafetensors *st, const char *name, const JsonValue *entry, VgTensorView *t,
             GError **error)
{
  const JsonValue *dtype, *shape, *offsets;
  size_t esize = 0;
  size_t numel = 1;
  int64_t begin, end;

  if (entry->type != JSON_OBJECT)
    return bad_file (error, st->path, "tensor “%s” is not an object", name);
  for (int i = 0; i < entry->n; i++)
    if (strcmp (entry->keys[i], "dtype") != 0 && strcmp (entry->keys[i], "shape") != 0
        && strcmp (entry->keys[i], "data_offsets") != 0)
      return bad_file (error, st->path, "tensor “%s” has an unknown field “%s”", name,
                       entry->keys[i]);
  dtype = json_member (entry, "dtype");
  shape = json_member (entry, "shape");
  offsets = json_member (entry, "data_offsets");
  if (dtype == NULL || shape == NULL || offsets == NULL)
    return bad_file (error, st->path, "tensor “%s” lacks “%s”", name,
                     dtype == NULL ? "dtype" : shape == NULL ? "shape" : "data_offsets");

  if (dtype->type != JSON_STRING)
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

  if (shape->type != JSON_ARRAY)
    return bad_file (error, st->path, "tensor “%s”: shape is not an array", name);
  if (shape->n > MAX_NDIM)
    return bad_file (error, st->path, "tensor “%s”: %d dimensions (at most %d)", name,
                     shape->n, MAX_NDIM);
  t->ndim = shape->n;
  for (int i = 0; i < shape->n; i++)
    {
      const JsonValue *d = shape->items[i];

      if (d->type != JSON_INT)
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

  if (offsets->type != JSON_ARRAY || offsets->n != 2 || offsets->items[0]->type != JSON_INT
      || offsets->items[1]->type != JSON_INT)
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
  g_autoptr (JsonValue) root = NULL;
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

  root = json_parse ((const char *) st->bytes + 8, (size_t) header_len, &json_error);
  if (root == NULL)
    return bad_file (error, st->path, "invalid JSON header %s", json_error);
  if (root->type != JSON_OBJECT)
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

uint16_t
vg_float_to_half (float f)
{
  uint32_t x, sign, exp, mant;

  memcpy (&x, &f, sizeof x);
  sign = (x >> 16) & 0x8000;
  exp = (x >> 23) & 0xff;
  mant = x & 0x7fffff;
  if (exp == 0xff)                      /* infinity or NaN (kept a NaN) */
    return (uint16_t) (sign | 0x7c00 | (mant != 0 ? 0x200 | (mant >> 13) : 0));
  if (exp > 142)                        /* >= 2^16: beyond the largest half */
    return (uint16_t) (sign | 0x7c00);
  if (exp >= 113)                       /* a normal half: 2^-14 <= |f| < 2^16 */
    {
      uint32_t h = ((exp - 112) << 10) | (mant >> 13);
      uint32_t rest = mant & 0x1fff;

      /* round to nearest, ties to even; a carry into the exponent is still right (and
       * rounds the largest values up to infinity) */
      if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++;
      return (uint16_t) (sign | h);
    }
  if (exp >= 102)                       /* a subnormal half */
    {
      uint32_t full = mant | 0x800000;   /* the significand with its leading 1 */
      int shift = 126 - (int) exp;       /* 14 .. 24 */
      uint32_t h = full >> shift;
      uint32_t rest = full & ((1u << shift) - 1);
      uint32_t half_way = 1u << (shift - 1);

      if (rest > half_way || (rest == half_way && (h & 1)))
        h++;
      return (uint16_t) (sign | h);
    }
  return (uint16_t) sign;               /* rounds to zero */
}

/* IEEE half to single, subnormals, infinities and NaN included. */
float
vg_half_to_float (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  float f;

  if (exp == 0x1f)
    bits = sign | 0x7f800000u | (mant << 13);
  else if (exp != 0)
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  else if (mant == 0)
    bits = sign;
  else
    {
      /* Subnormal: mant * 2^-24, exact in a float. */
      f = (float) mant * (1.0f / 16777216.0f);
      return sign ? -f : f;
    }
  memcpy (&f, &bits, sizeof f);
  return f;
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
                   dtype_name (t->dtype));
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

/* ---- writer ----------------------------------------------------------------------------- */

static void
append_json_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char) *p);
        }
      else if (*p < 0x20)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, (char) *p);  /* UTF-8 passes through */
    }
  g_string_append_c (out, '"');
}

static gboolean bad_tensors (GError **error, const char *what, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static gboolean
bad_tensors (GError **error, const char *what, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_INVALID,
               "cannot write %s: %s", what, message);
  return FALSE;
}

/* The header JSON, padded with spaces to a multiple of 8 so that the data area is aligned. */
static GString *
build_header (const char *what, const VgTensorView *tensors, int n_tensors,
              const char *const *metadata, GError **error)
{
  g_autoptr (GString) h = g_string_new ("{");
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) keys = g_hash_table_new (g_str_hash, g_str_equal);
  size_t offset = 0;
  gboolean first = TRUE;

  if (n_tensors < 0 || (n_tensors > 0 && tensors == NULL))
    {
      bad_tensors (error, what, "no tensors given");
      return NULL;
    }
  if (metadata != NULL && metadata[0] != NULL)
    {
      g_string_append (h, "\"__metadata__\":{");
      for (int i = 0; metadata[i] != NULL; i += 2)
        {
          if (metadata[i + 1] == NULL)
            {
              bad_tensors (error, what, "metadata key “%s” has no value", metadata[i]);
              return NULL;
            }
          if (!g_utf8_validate (metadata[i], -1, NULL)
              || !g_utf8_validate (metadata[i + 1], -1, NULL))
            {
              bad_tensors (error, what, "metadata is not valid UTF-8");
              return NULL;
            }
          if (!g_hash_table_add (keys, (char *) metadata[i]))
            {
              bad_tensors (error, what, "duplicate metadata key “%s”", metadata[i]);
              return NULL;
            }
          if (i > 0)
            g_string_append_c (h, ',');
          append_json_string (h, metadata[i]);
          g_string_append_c (h, ':');
          append_json_string (h, metadata[i + 1]);
        }
      g_string_append_c (h, '}');
      first = FALSE;
    }

  for (int i = 0; i < n_tensors; i++)
    {
      const VgTensorView *t = &tensors[i];
      size_t esize = dtype_size (t->dtype);
      size_t numel = 1;

      if (t->name == NULL || t->name[0] == '\0' || strcmp (t->name, "__metadata__") == 0
          || !g_utf8_validate (t->name, -1, NULL))
        {
          bad_tensors (error, what, "tensor %d has an invalid name", i);
          return NULL;
        }
      if (!g_hash_table_add (names, (char *) t->name))
        {
          bad_tensors (error, what, "duplicate tensor name “%s”", t->name);
          return NULL;
        }
      if (esize == 0)
        {
          bad_tensors (error, what, "tensor “%s” has an unknown dtype %d", t->name,
                       (int) t->dtype);
          return NULL;
        }
      if (t->ndim < 0 || t->ndim > MAX_NDIM)
        {
          bad_tensors (error, what, "tensor “%s” has %d dimensions", t->name, t->ndim);
          return NULL;
        }
      for (int d = 0; d < t->ndim; d++)
        {
          if (t->shape[d] < 0
              || (t->shape[d] > 0 && numel > SIZE_MAX / esize / (uint64_t) t->shape[d]))
            {
              bad_tensors (error, what, "tensor “%s” has an invalid shape", t->name);
              return NULL;
            }
          numel *= (size_t) t->shape[d];
        }
      if (numel != t->numel || t->nbytes != numel * esize
          || (t->nbytes > 0 && t->data == NULL))
        {
          bad_tensors (error, what,
                       "tensor “%s”: shape, numel (%zu) and nbytes (%zu) disagree",
                       t->name, t->numel, t->nbytes);
          return NULL;
        }

      if (!first)
        g_string_append_c (h, ',');
      first = FALSE;
      append_json_string (h, t->name);
      g_string_append_printf (h, ":{\"dtype\":\"%s\",\"shape\":[", dtype_name (t->dtype));
      for (int d = 0; d < t->ndim; d++)
        g_string_append_printf (h, d ? ",%" G_GINT64_FORMAT : "%" G_GINT64_FORMAT,
                                t->shape[d]);
      g_string_append_printf (h, "],\"data_offsets\":[%zu,%zu]}", offset,
                              offset + t->nbytes);
      offset += t->nbytes;
    }
  g_string_append_c (h, '}');
  while (h->len % 8 != 0)
    g_string_append_c (h, ' ');
  return g_steal_pointer (&h);
}

static gboolean
write_all (int fd, const char *what, const void *buf, size_t len, GError **error)
{
  const guint8 *p = buf;

  while (len > 0)
    {
      ssize_t n = write (fd, p, MIN (len, (size_t) 1 << 30));

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = n < 0 ? errno : ENOSPC;
          g_set_error (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_IO,
                       "cannot write %s: %s", what, g_strerror (saved));
          return FALSE;
        }
      p += n;
      len -= (size_t) n;
    }
  return TRUE;
}

gboolean
vg_safetensors_write_fd (int fd, const char *what, const VgTensorView *tensors, int n_tensors,
                         const char *const *metadata, GError **error)
{
  g_autoptr (GString) header = build_header (what, tensors, n_tensors, metadata, error);
  guint64 len_le;

  if (header == NULL)
    return FALSE;
  len_le = GUINT64_TO_LE ((guint64) header->len);
  if (!write_all (fd, what, &len_le, 8, error)
      || !write_all (fd, what, header->str, header->len, error))
    return FALSE;
  for (int i = 0; i < n_tensors; i++)
    if (!write_all (fd, what, tensors[i].data, tensors[i].nbytes, error))
      return FALSE;
  return TRUE;
}

/* The atomic write's errors in this file's domain (callers match VG_SAFETENSORS_ERROR). */
static gboolean
io_error (GError **error, GError *local)
{
  g_set_error_literal (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_IO, local->message);
  g_error_free (local);
  return FALSE;
}

gboolean
vg_safetensors_write (const char *path, const VgTensorView *tensors, int n_tensors,
                      const char *const *metadata, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);
  g_autoptr (VgAtomicFile) f = NULL;
  GError *local = NULL;

  if ((f = vg_atomic_file_new (path, &local)) == NULL)
    return io_error (error, local);
  if (!vg_safetensors_write_fd (vg_atomic_file_get_fd (f), display, tensors, n_tensors,
                                metadata, error))
    return FALSE;
  if (!vg_atomic_file_commit (g_steal_pointer (&f), &local))
    return io_error (error, local);
  return TRUE;
}

gboolean
vg_safetensors_convert_f16 (const char *src, const char *dst, int *n_converted,
                            GError **error)
{
  g_autoptr (VgSafetensors) st = vg_safetensors_open (src, error);
  g_autofree VgTensorView *views = NULL;
  g_autoptr (GPtrArray) buffers = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) pairs = g_ptr_array_new ();
  g_autofree const char **meta = NULL;
  int converted = 0;

  if (st == NULL)
    return FALSE;
  views = g_new (VgTensorView, st->n_tensors);
  for (int i = 0; i < st->n_tensors; i++)
    {
      const VgTensorView *t = &st->tensors[i];

      views[i] = *t;
      if (t->dtype == VG_DTYPE_F32 && t->ndim >= 2)
        {
          uint16_t *half = g_new (uint16_t, MAX (t->numel, 1));
          const guint8 *bytes = t->data;

          for (size_t k = 0; k < t->numel; k++)
            {
              float f;

              memcpy (&f, bytes + 4 * k, sizeof f);
              half[k] = GUINT16_TO_LE (vg_float_to_half (f));
            }
          views[i].dtype = VG_DTYPE_F16;
          views[i].data = half;
          views[i].nbytes = t->numel * 2;
          g_ptr_array_add (buffers, half);
          converted++;
        }
    }
  meta = vg_safetensors_metadata_pairs (st);
  for (int i = 0; meta[i] != NULL; i += 2)
    if (strcmp (meta[i], "visage.storage") != 0)
      {
        g_ptr_array_add (pairs, (gpointer) meta[i]);
        g_ptr_array_add (pairs, (gpointer) meta[i + 1]);
      }
  g_ptr_array_add (pairs, (gpointer) "visage.storage");
  g_ptr_array_add (pairs, (gpointer) "f16-weights");
  g_ptr_array_add (pairs, NULL);
  if (!vg_safetensors_write (dst, views, st->n_tensors, (const char *const *) pairs->pdata,
                             error))
    return FALSE;
  if (n_converted != NULL)
    *n_converted = converted;
  return TRUE;
}
