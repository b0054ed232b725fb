/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The submission zip: every image of a split predicted and stored as an 8-bit grey index
 * PNG, "<name>.png". libzip builds the archive in memory; the bytes go to the file through
 * the one atomic write, whose temporary is created before any work, so an unwritable
 * destination fails at once and a failure never leaves a partial zip. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <sys/stat.h>
#include <time.h>

#include <zip.h>

#include "vg-atomic-file.h"
#include "vg-predict.h"

typedef struct {
  const VgSplit *split;
  const char *path;      /* the destination, for messages */
  zip_t *zip;
  GPtrArray *pngs;       /* the entries' bytes (GBytes), which libzip reads at zip_close */
  time_t mtime;          /* one time for every entry: when the export started */
} Submission;

static gboolean
zip_failed (GError **error, const char *path, zip_error_t *zip_error)
{
  g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_IO, "cannot write %s: %s", path,
               zip_error_strerror (zip_error));
  return FALSE;
}

/* One stored entry (PNG is compressed already): a regular file, rw-r--r--, made on Unix. */
static gboolean
submission_add (Submission *sub, const char *name, GBytes *png, GError **error)
{
  gsize len;
  const void *data = g_bytes_get_data (png, &len);
  zip_source_t *source = zip_source_buffer (sub->zip, data, len, 0);
  zip_int64_t index;

  g_ptr_array_add (sub->pngs, g_bytes_ref (png));
  if (source == NULL)
    return zip_failed (error, sub->path, zip_get_error (sub->zip));
  index = zip_file_add (sub->zip, name, source, ZIP_FL_ENC_UTF_8);
  if (index < 0)
    {
      zip_source_free (source);
      if (zip_error_code_zip (zip_get_error (sub->zip)) == ZIP_ER_EXISTS)
        {
          g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_INVALID,
                       "%s: two inputs give the same entry name %s", sub->path, name);
          return FALSE;
        }
      return zip_failed (error, sub->path, zip_get_error (sub->zip));
    }
  if (zip_set_file_compression (sub->zip, (zip_uint64_t) index, ZIP_CM_STORE, 0) < 0
      || zip_file_set_external_attributes (sub->zip, (zip_uint64_t) index, 0, ZIP_OPSYS_UNIX,
                                           (S_IFREG | 0644u) << 16) < 0
      || zip_file_set_mtime (sub->zip, (zip_uint64_t) index, sub->mtime, 0) < 0)
    return zip_failed (error, sub->path, zip_get_error (sub->zip));
  return TRUE;
}

static gboolean
submission_each (int index, const uint8_t *labels, int H, int W, gpointer data,
                 GError **error)
{
  Submission *sub = data;
  const VgSample *s = &sub->split->samples[index];
  g_autofree char *name = g_strconcat (s->name, ".png", NULL);
  g_autoptr (GBytes) png = vg_mask_encode_png (labels, H, W, FALSE, error);

  if (png == NULL)
    {
      g_prefix_error (error, "%s: ", s->image_path);
      return FALSE;
    }
  return submission_add (sub, name, png, error);
}

/* Close the archive into its buffer and return the buffer's bytes. The archive is freed
 * either way. */
static GBytes *
submission_close (Submission *sub, zip_source_t *buffer, GError **error)
{
  g_autoptr (GByteArray) bytes = NULL;
  zip_stat_t st;
  zip_int64_t n;

  /* zip_close frees the archive's source unless we hold a reference. */
  zip_source_keep (buffer);
  if (zip_close (sub->zip) < 0)
    {
      zip_failed (error, sub->path, zip_get_error (sub->zip));
      zip_discard (sub->zip);
      sub->zip = NULL;
      return NULL;
    }
  sub->zip = NULL;
  zip_stat_init (&st);
  if (zip_source_stat (buffer, &st) < 0 || !(st.valid & ZIP_STAT_SIZE) || st.size > G_MAXUINT
      || zip_source_open (buffer) < 0)
    {
      zip_failed (error, sub->path, zip_source_error (buffer));
      return NULL;
    }
  bytes = g_byte_array_sized_new ((guint) st.size);
  g_byte_array_set_size (bytes, (guint) st.size);
  n = zip_source_read (buffer, bytes->data, st.size);
  zip_source_close (buffer);
  if (n < 0 || (zip_uint64_t) n != st.size)
    {
      zip_failed (error, sub->path, zip_source_error (buffer));
      return NULL;
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&bytes));
}

gboolean
vg_export_submission (VgPredictor *p, const VgSplit *split, const char *zip_path,
                      int n_workers, VgProgressFunc progress, gpointer user_data,
                      GCancellable *cancellable, GError **error)
{
  g_autoptr (VgAtomicFile) file = vg_atomic_file_new (zip_path, error);
  g_autoptr (GPtrArray) pngs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GBytes) zip_bytes = NULL;
  Submission sub = { split, zip_path, NULL, pngs, time (NULL) };
  zip_source_t *buffer;
  zip_error_t zip_error;
  gsize len;
  const void *data;
  gboolean ok;

  if (file == NULL)
    return FALSE;
  zip_error_init (&zip_error);
  buffer = zip_source_buffer_create (NULL, 0, 0, &zip_error);
  if (buffer != NULL
      && (sub.zip = zip_open_from_source (buffer, ZIP_TRUNCATE, &zip_error)) == NULL)
    zip_source_free (buffer);
  if (sub.zip == NULL)
    {
      zip_failed (error, zip_path, &zip_error);
      zip_error_fini (&zip_error);
      return FALSE;
    }
  ok = vg_predict_split (p, split, n_workers, submission_each, &sub, progress, user_data,
                         cancellable, error)
       && (zip_bytes = submission_close (&sub, buffer, error)) != NULL;
  if (sub.zip != NULL)
    zip_discard (sub.zip);
  else
    zip_source_free (buffer);
  if (!ok)
    return FALSE;
  data = g_bytes_get_data (zip_bytes, &len);
  return vg_atomic_file_write (file, data, len, error)
         && vg_atomic_file_commit (g_steal_pointer (&file), error);
}
