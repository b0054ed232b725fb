/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The safetensors writer: the header JSON (metadata first, then the tensors in the given
 * order, padded with spaces to a multiple of 8 so that the data area is aligned), then the
 * tensors' bytes, through the one atomic write. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vg-atomic-file.h"
#include "vg-error.h"
#include "vg-json.h"
#include "vg-safetensors-private.h"

#define bad_tensors(error, what, format, ...) \
  vg_fail (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_INVALID, \
           "cannot write %s: " format, what, ##__VA_ARGS__)

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
          vg_json_append_string (h, metadata[i]);
          g_string_append_c (h, ':');
          vg_json_append_string (h, metadata[i + 1]);
        }
      g_string_append_c (h, '}');
      first = FALSE;
    }

  for (int i = 0; i < n_tensors; i++)
    {
      const VgTensorView *t = &tensors[i];
      size_t esize = vg_safetensors_dtype_size (t->dtype);
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
      vg_json_append_string (h, t->name);
      g_string_append_printf (h, ":{\"dtype\":\"%s\",\"shape\":[",
                              vg_safetensors_dtype_name (t->dtype));
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
