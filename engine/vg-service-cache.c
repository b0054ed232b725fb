/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The service's prediction caches (worker only): keys of model and image contents, an
 * LRU in memory and label files on disk (see vg-service-private.h). */
#define G_LOG_DOMAIN "visage-service"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "vg-backend.h"
#include "vg-device.h"
#include "vg-stats.h"
#include "vg-service-private.h"

/* ---- keys and caches (worker only) ------------------------------------------------------ */

/* Hash of a model file's content: a model retrained into the same file name gets a new
 * key, and a copied model keeps its cache. */
char *
service_model_key_for_file (const char *path, GCancellable *cancellable, GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) stream = NULL;
  g_autofree guint8 *buffer = g_malloc (1 << 20);
  gssize got;

  stream = g_file_read (file, cancellable, error);
  if (stream == NULL)
    return NULL;
  g_checksum_update (sum, (const guchar *) CACHE_FORMAT, -1);
  while ((got = g_input_stream_read (G_INPUT_STREAM (stream), buffer, 1 << 20, cancellable,
                                     error)) > 0)
    g_checksum_update (sum, buffer, got);
  if (got < 0)
    return NULL;
  return g_strndup (g_checksum_get_string (sum), KEY_CHARS);
}

/* An image is known by its absolute path, size and modification time: an edited or
 * replaced file gets a new key without anyone hashing its pixels. */
static char *
image_key_for_file (const char *path, GError **error)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInfo) info = NULL;
  g_autoptr (GDateTime) mtime = NULL;
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autofree char *text = NULL;

  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                            G_FILE_ATTRIBUTE_TIME_MODIFIED ","
                            G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC,
                            G_FILE_QUERY_INFO_NONE, NULL, error);
  if (info == NULL)
    return NULL;
  mtime = g_file_info_get_modification_date_time (info);
  text = g_strdup_printf ("%s\n%" G_GOFFSET_FORMAT "\n%" G_GINT64_FORMAT, absolute,
                          g_file_info_get_size (info),
                          mtime != NULL ? g_date_time_to_unix (mtime) * G_USEC_PER_SEC
                                          + g_date_time_get_microsecond (mtime) : 0);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);
}

void
service_cache_entry_free (gpointer data)
{
  CacheEntry *entry = data;

  g_bytes_unref (entry->labels);
  g_free (entry->key);
  g_free (entry);
}

static GBytes *
memory_cache_lookup (VgService *self, const char *key, int height, int width)
{
  CacheEntry *entry = g_hash_table_lookup (self->memory_cache, key);

  if (entry == NULL || entry->height != height || entry->width != width)
    return NULL;
  g_queue_unlink (&self->lru, entry->link);
  g_queue_push_tail_link (&self->lru, entry->link);
  return g_bytes_ref (entry->labels);
}

static void
memory_cache_remove (VgService *self, CacheEntry *entry)
{
  self->memory_cache_bytes -= g_bytes_get_size (entry->labels);
  g_queue_delete_link (&self->lru, entry->link);
  g_hash_table_remove (self->memory_cache, entry->key);  /* frees entry */
}

static void
memory_cache_store (VgService *self, const char *key, GBytes *labels, int height, int width)
{
  CacheEntry *entry, *old;
  gsize limit;

  g_mutex_lock (&self->mutex);
  limit = self->memory_cache_limit;
  g_mutex_unlock (&self->mutex);

  old = g_hash_table_lookup (self->memory_cache, key);
  if (old != NULL)
    memory_cache_remove (self, old);
  if (g_bytes_get_size (labels) > limit)
    return;
  while (self->memory_cache_bytes + g_bytes_get_size (labels) > limit)
    memory_cache_remove (self, g_queue_peek_head (&self->lru));

  entry = g_new0 (CacheEntry, 1);
  entry->key = g_strdup (key);
  entry->labels = g_bytes_ref (labels);
  entry->height = height;
  entry->width = width;
  g_queue_push_tail (&self->lru, entry);
  entry->link = self->lru.tail;
  g_hash_table_insert (self->memory_cache, entry->key, entry);
  self->memory_cache_bytes += g_bytes_get_size (labels);
}

void
service_memory_cache_clear (VgService *self)
{
  g_queue_clear (&self->lru);
  g_hash_table_remove_all (self->memory_cache);
  self->memory_cache_bytes = 0;
}

static char *
disk_cache_path (VgService *self, const char *model_key, const char *image_key)
{
  g_autofree char *file_name = g_strdup_printf ("%.*s.png", KEY_CHARS, image_key);

  return g_build_filename (self->cache_dir, model_key, file_name, NULL);
}

/* A cache file that is unreadable, of another size or out of range is a miss: the cache
 * is only ever a shortcut. */
static GBytes *
disk_cache_lookup (VgService *self, const char *path, int height, int width)
{
  g_autoptr (GError) error = NULL;
  size_t n = (size_t) height * width;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return NULL;
  if (!vg_mask_load (&self->cached_mask, path, &error)
      || self->cached_mask.height != height || self->cached_mask.width != width
      || !vg_mask_check (self->cached_mask.data, n, width, path, &error))
    {
      g_debug ("ignoring cached prediction %s: %s", path,
               error != NULL ? error->message : "its size differs from the image's");
      return NULL;
    }
  return g_bytes_new (self->cached_mask.data, n);
}

static void
disk_cache_store (VgService *self, const char *path, GBytes *labels, int height, int width)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_debug ("cannot create the prediction cache %s: %s", dir, g_strerror (errno));
      return;
    }
  if (!vg_mask_save (path, g_bytes_get_data (labels, NULL), height, width, &error))
    g_debug ("cannot cache a prediction: %s", error->message);
}

/* The loaded model's class map (height, width) of the image at path: from the memory
 * cache, the disk cache, or predicted and stored in both. When image_loaded is FALSE the
 * image is decoded into self->image only if it must be predicted. */
GBytes *
service_predict_labels (VgService *self, const char *path, int height, int width,
                        gboolean image_loaded, gboolean *cached, GError **error)
{
  return service_predict_labels_by (self, self->predictor, self->model_key, path, height,
                                    width, image_loaded, cached, error);
}

GBytes *
service_predict_labels_by (VgService *self, VgPredictor *predictor, const char *model_key,
                           const char *path, int height, int width, gboolean image_loaded,
                           gboolean *cached, GError **error)
{
  g_autofree char *image_key = NULL;
  g_autofree char *key = NULL;
  g_autofree char *cache_path = NULL;
  g_autofree guint8 *labels = NULL;
  GBytes *bytes;
  size_t n = (size_t) height * width;

  image_key = image_key_for_file (path, error);
  if (image_key == NULL)
    return NULL;
  key = g_strdup_printf ("%s/%.*s", model_key, KEY_CHARS, image_key);
  *cached = TRUE;
  bytes = memory_cache_lookup (self, key, height, width);
  if (bytes != NULL)
    return bytes;

  cache_path = disk_cache_path (self, model_key, image_key);
  bytes = disk_cache_lookup (self, cache_path, height, width);
  if (bytes != NULL)
    {
      memory_cache_store (self, key, bytes, height, width);
      return bytes;
    }

  *cached = FALSE;
  if (!image_loaded)
    {
      if (!vg_image_load (&self->image, path, error))
        return NULL;
      if (self->image.height != height || self->image.width != width)
        {
          g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_SIZE,
                       "%s: the image is %dx%d but its mask is %dx%d", path,
                       self->image.width, self->image.height, width, height);
          return NULL;
        }
    }
  labels = g_malloc (n);
  if (!vg_predict_image (predictor, self->image.data, height, width, labels, NULL,
                         error))
    return NULL;
  bytes = g_bytes_new_take (g_steal_pointer (&labels), n);
  memory_cache_store (self, key, bytes, height, width);
  disk_cache_store (self, cache_path, bytes, height, width);
  return bytes;
}
