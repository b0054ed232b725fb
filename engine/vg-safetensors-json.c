/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The strict JSON parser of safetensors headers: objects, arrays, strings and integers,
 * nothing else (no floats, true, false or null), as the header needs nothing more.
 * Bounded: nesting deeper than MAX_JSON_DEPTH and integers outside int64 are errors, and
 * the reader refuses headers over 100 MiB before parsing. Strict: duplicate member names,
 * leading zeros, control characters, invalid UTF-8, NUL (escaped or not) and unpaired
 * surrogates are errors, each with the byte offset where it was found. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "vg-safetensors-private.h"

#define MAX_JSON_DEPTH 8                        /* the header nests 3 levels */

void
vg_json_free (VgJsonValue *v)
{
  if (v == NULL)
    return;
  for (int i = 0; i < v->n; i++)
    {
      if (v->keys != NULL)
        g_free (v->keys[i]);
      vg_json_free (v->items[i]);
    }
  g_free (v->keys);
  g_free (v->items);
  g_free (v->str);
  g_free (v);
}

typedef struct {
  const char *text;
  size_t len;
  size_t pos;
  int depth;
  char *error;        /* first error, "at byte N: ..." */
} JsonParser;

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

static VgJsonValue *json_parse_value (JsonParser *p);

static void
json_append (VgJsonValue *v, char *key, VgJsonValue *item)
{
  if (v->n == v->cap)
    {
      v->cap = v->cap ? 2 * v->cap : 8;
      v->items = g_renew (VgJsonValue *, v->items, v->cap);
      if (v->type == VG_JSON_OBJECT)
        v->keys = g_renew (char *, v->keys, v->cap);
    }
  if (v->type == VG_JSON_OBJECT)
    v->keys[v->n] = key;
  v->items[v->n++] = item;
}

/* An empty value of TYPE that starts at byte OFFSET of the header. */
static VgJsonValue *
json_value_new (VgJsonType type, size_t offset)
{
  VgJsonValue *v = g_new0 (VgJsonValue, 1);

  v->type = type;
  v->offset = offset;
  return v;
}

static VgJsonValue *
json_parse_container (JsonParser *p, VgJsonType type)
{
  g_autoptr (VgJsonValue) v = json_value_new (type, p->pos);
  g_autoptr (GHashTable) seen = NULL;
  char close = type == VG_JSON_OBJECT ? '}' : ']';

  if (++p->depth > MAX_JSON_DEPTH)
    {
      json_fail (p, "nesting deeper than %d levels", MAX_JSON_DEPTH);
      return NULL;
    }
  if (type == VG_JSON_OBJECT)
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
      VgJsonValue *item;

      if (type == VG_JSON_OBJECT)
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
          json_fail_unexpected (p, type == VG_JSON_OBJECT ? "“,” or “}”" : "“,” or “]”");
          return NULL;
        }
      p->pos++;
      json_skip_space (p);
    }
  p->depth--;
  return g_steal_pointer (&v);
}

static VgJsonValue *
json_parse_value (JsonParser *p)
{
  int c = json_peek (p);
  VgJsonValue *v;

  if (c == '{')
    return json_parse_container (p, VG_JSON_OBJECT);
  if (c == '[')
    return json_parse_container (p, VG_JSON_ARRAY);
  if (c == '"')
    {
      size_t start = p->pos;
      char *s = json_parse_string (p);
      if (s == NULL)
        return NULL;
      v = json_value_new (VG_JSON_STRING, start);
      v->str = s;
      return v;
    }
  if (c == '-' || (c >= '0' && c <= '9'))
    {
      size_t start = p->pos;
      int64_t num;
      if (!json_parse_int (p, &num))
        return NULL;
      v = json_value_new (VG_JSON_INT, start);
      v->num = num;
      return v;
    }
  json_fail_unexpected (p, "an object, array, string or integer");
  return NULL;
}

/* Parse a whole document; trailing whitespace (the header's padding) is allowed. */
VgJsonValue *
vg_json_parse (const char *text, size_t len, char **error)
{
  JsonParser p = { text, len, 0, 0, NULL };
  g_autoptr (VgJsonValue) v = NULL;

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

VgJsonValue *
vg_json_member (const VgJsonValue *obj, const char *key)
{
  for (int i = 0; i < obj->n; i++)
    if (strcmp (obj->keys[i], key) == 0)
      return obj->items[i];
  return NULL;
}
