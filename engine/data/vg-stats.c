/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Split statistics, their JSON cache, and the class weights of the weighted loss. */
#define G_LOG_DOMAIN "visage-data"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "vg-data-private.h"
#include "vg-input-file.h"
#include "vg-json.h"
#include "vg-stats.h"

#define CACHE_VERSION 1

/* ---- counting -------------------------------------------------------------------------- */

typedef struct {
  uint64_t channel_sum[3];
  uint64_t channel_sum_sq[3];
  uint64_t n_pixels;
  uint64_t class_pixels[VG_NUM_CLASSES];
  int class_images[VG_NUM_CLASSES];
  VgImage image;
  VgImage mask;
} StatsPartial;

typedef struct {
  const VgSplit *split;
  StatsPartial *partials;  /* (n_threads) */
  GCancellable *cancellable;
  VgFirstError first;      /* a failure stops the other samples early */
} StatsJob;

static void
stats_sample (int i, int thread, gpointer data)
{
  StatsJob *job = data;
  StatsPartial *p = &job->partials[thread];
  GError *error = NULL;
  uint64_t hist[256] = { 0 };
  uint64_t s[3] = { 0 }, q[3] = { 0 };
  size_t n;

  if (g_atomic_int_get (&job->first.failed) || g_cancellable_is_cancelled (job->cancellable))
    return;
  if (!vg_split_load_sample (job->split, i, &p->image,
                             vg_split_has_masks (job->split) ? &p->mask : NULL, &error))
    {
      vg_first_error_offer (&job->first, i, error);
      return;
    }
  n = (size_t) p->image.height * p->image.width;
  for (size_t k = 0; k < n; k++)
    {
      const uint8_t *px = p->image.data + 3 * k;
      for (int c = 0; c < 3; c++)
        {
          s[c] += px[c];
          q[c] += (uint64_t) px[c] * px[c];
        }
    }
  for (int c = 0; c < 3; c++)
    {
      p->channel_sum[c] += s[c];
      p->channel_sum_sq[c] += q[c];
    }
  p->n_pixels += n;
  if (!vg_split_has_masks (job->split))
    return;
  for (size_t k = 0; k < n; k++)
    hist[p->mask.data[k]]++;
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      p->class_pixels[c] += hist[c];
      p->class_images[c] += hist[c] > 0;
    }
}

static void
stats_finish (VgSplitStats *stats)
{
  for (int c = 0; c < 3; c++)
    {
      double n = (double) stats->n_pixels * 255.0;
      double mean = n > 0 ? stats->channel_sum[c] / n : 0.0;
      double msq = n > 0 ? stats->channel_sum_sq[c] / (n * 255.0) : 0.0;
      stats->mean[c] = mean;
      stats->std[c] = sqrt (MAX (msq - mean * mean, 0.0));
    }
}

gboolean
vg_split_stats_compute (VgSplitStats *stats, const VgSplit *split, int n_threads,
                        GCancellable *cancellable, GError **error)
{
  int threads = vg_parallel_threads (n_threads, split->n_samples);
  StatsJob job = { .split = split, .partials = g_new0 (StatsPartial, threads),
                   .cancellable = cancellable };

  memset (stats, 0, sizeof *stats);
  vg_first_error_init (&job.first);
  vg_parallel_for (split->n_samples, threads, stats_sample, &job);

  for (int t = 0; t < threads; t++)
    {
      StatsPartial *p = &job.partials[t];
      for (int c = 0; c < 3; c++)
        {
          stats->channel_sum[c] += p->channel_sum[c];
          stats->channel_sum_sq[c] += p->channel_sum_sq[c];
        }
      stats->n_pixels += p->n_pixels;
      for (int c = 0; c < VG_NUM_CLASSES; c++)
        {
          stats->class_pixels[c] += p->class_pixels[c];
          stats->class_images[c] += p->class_images[c];
        }
      vg_image_clear (&p->image);
      vg_image_clear (&p->mask);
    }
  g_free (job.partials);
  if (!vg_first_error_finish (&job.first, error))
    return FALSE;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  stats->n_images = split->n_samples;
  stats->has_masks = vg_split_has_masks (split);
  stats_finish (stats);
  return TRUE;
}

void
vg_class_weights (float *weights, const uint64_t *class_pixels, int n_classes)
{
  double total = 0.0;

  for (int c = 0; c < n_classes; c++)
    total += 1.0 / log ((double) MAX (class_pixels[c], 2));
  for (int c = 0; c < n_classes; c++)
    weights[c] = (float) (1.0 / log ((double) MAX (class_pixels[c], 2)) / total);
}

/* ---- fingerprint and cache file name --------------------------------------------------- */

static gboolean
fingerprint_file (GChecksum *sum, const char *path, GError **error)
{
  struct stat st;
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *line = NULL;

  if (g_stat (path, &st) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  line = g_strdup_printf ("%s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT ".%09ld\n", base,
                          (gint64) st.st_size, (gint64) st.st_mtim.tv_sec,
                          (long) st.st_mtim.tv_nsec);
  g_checksum_update (sum, (const guchar *) line, -1);
  return TRUE;
}

char *
vg_split_fingerprint (const VgSplit *split, GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *head = g_strdup_printf ("visage-split %d\n%s\n%s\n", CACHE_VERSION,
                                           split->images_dir,
                                           split->masks_dir ? split->masks_dir : "-");
  g_autofree char *annotations = split->annotations_dir != NULL
                                 ? g_strdup_printf ("annotations %s\n", split->annotations_dir)
                                 : NULL;

  g_checksum_update (sum, (const guchar *) head, -1);
  if (annotations != NULL)
    g_checksum_update (sum, (const guchar *) annotations, -1);
  for (int i = 0; i < split->n_samples; i++)
    {
      const VgSample *s = &split->samples[i];
      if (!fingerprint_file (sum, s->image_path, error))
        return NULL;
      if (s->mask_path != NULL && !fingerprint_file (sum, s->mask_path, error))
        return NULL;
    }
  return g_strdup (g_checksum_get_string (sum));
}

/* $XDG_CACHE_HOME/visage/PREFIX-HASH.json, HASH of the split's folders. Annotated ground
 * truth has files of its own (the same name as before without annotations). */
static char *
cache_path (const VgSplit *split, const char *prefix)
{
  g_autofree char *key = g_strdup_printf ("%s\n%s%s%s", split->images_dir,
                                          split->masks_dir ? split->masks_dir : "-",
                                          split->annotations_dir ? "\n" : "",
                                          split->annotations_dir ? split->annotations_dir
                                                                 : "");
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
  g_autofree char *name = g_strdup_printf ("%s-%.16s.json", prefix, hash);

  return g_build_filename (g_get_user_cache_dir (), "visage", name, NULL);
}

char *
vg_split_stats_cache_path (const VgSplit *split)
{
  return cache_path (split, "stats");
}

char *
vg_split_classes_cache_path (const VgSplit *split)
{
  return cache_path (split, "classes");
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void
json_u64s (GString *out, const char *key, const uint64_t *v, int n, gboolean last)
{
  g_string_append_printf (out, "  \"%s\": [", key);
  for (int i = 0; i < n; i++)
    g_string_append_printf (out, "%s%" G_GUINT64_FORMAT, i ? ", " : "", v[i]);
  g_string_append_printf (out, "]%s\n", last ? "" : ",");
}

static void
json_doubles (GString *out, const char *key, const double *v, int n)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (out, "  \"%s\": [", key);
  for (int i = 0; i < n; i++)
    g_string_append_printf (out, "%s%s", i ? ", " : "", g_ascii_dtostr (buf, sizeof buf, v[i]));
  g_string_append (out, "],\n");
}

/* The members that tie a cache file to its split: version, folders, fingerprint. */
static void
json_split_head (GString *out, const VgSplit *split, const char *fingerprint)
{
  g_string_append_printf (out, "  \"version\": %d,\n  \"images_dir\": ", CACHE_VERSION);
  vg_json_append_string (out, split->images_dir);
  g_string_append (out, ",\n  \"masks_dir\": ");
  vg_json_append_string (out, split->masks_dir);
  g_string_append_printf (out, ",\n  \"fingerprint\": \"%s\",\n", fingerprint);
}

static char *
stats_to_json (const VgSplitStats *st, const VgSplit *split, const char *fingerprint)
{
  GString *out = g_string_new ("{\n");
  uint64_t images[VG_NUM_CLASSES];

  json_split_head (out, split, fingerprint);
  g_string_append_printf (out, "  \"n_images\": %d,\n", st->n_images);
  g_string_append_printf (out, "  \"n_pixels\": %" G_GUINT64_FORMAT ",\n", st->n_pixels);
  /* mean and std are for people reading the file; loading recomputes them from the sums. */
  json_doubles (out, "mean", st->mean, 3);
  json_doubles (out, "std", st->std, 3);
  json_u64s (out, "channel_sum", st->channel_sum, 3, FALSE);
  json_u64s (out, "channel_sum_sq", st->channel_sum_sq, 3, FALSE);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    images[c] = st->class_images[c];
  json_u64s (out, "class_pixels", st->class_pixels, VG_NUM_CLASSES, FALSE);
  json_u64s (out, "class_images", images, VG_NUM_CLASSES, TRUE);
  g_string_append (out, "}\n");
  return g_string_free (out, FALSE);
}

/* A reader for the flat objects written above: string, null, number or array-of-number
 * members. Anything else fails, and a failed read only means recomputing. Values are kept
 * as strings (numbers as their literal tokens) in a GPtrArray per key; null is empty. */
typedef struct {
  const char *p;
} JsonReader;

static void
json_skip_ws (JsonReader *r)
{
  while (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')
    r->p++;
}

static char *
json_read_string (JsonReader *r)
{
  GString *s = g_string_new (NULL);

  if (*r->p != '"')
    goto fail;
  for (r->p++; *r->p != '"'; r->p++)
    {
      if (*r->p == '\0')
        goto fail;
      if (*r->p != '\\')
        {
          g_string_append_c (s, *r->p);
          continue;
        }
      r->p++;
      switch (*r->p)
        {
        case '"': case '\\': case '/': g_string_append_c (s, *r->p); break;
        case 'n': g_string_append_c (s, '\n'); break;
        case 't': g_string_append_c (s, '\t'); break;
        case 'r': g_string_append_c (s, '\r'); break;
        case 'b': g_string_append_c (s, '\b'); break;
        case 'f': g_string_append_c (s, '\f'); break;
        case 'u':
          {
            char hex[5] = { 0 };
            for (int k = 0; k < 4; k++)
              {
                if (!g_ascii_isxdigit (r->p[1 + k]))
                  goto fail;
                hex[k] = r->p[1 + k];
              }
            g_string_append_unichar (s, (gunichar) g_ascii_strtoull (hex, NULL, 16));
            r->p += 4;
            break;
          }
        default:
          goto fail;
        }
    }
  r->p++;
  return g_string_free (s, FALSE);
fail:
  g_string_free (s, TRUE);
  return NULL;
}

static char *
json_read_number (JsonReader *r)
{
  const char *start = r->p;

  while (g_ascii_isdigit (*r->p) || *r->p == '-' || *r->p == '+' || *r->p == '.'
         || *r->p == 'e' || *r->p == 'E')
    r->p++;
  return r->p > start ? g_strndup (start, r->p - start) : NULL;
}

static GHashTable *
json_read_object (const char *text)
{
  g_autoptr (GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                        (GDestroyNotify) g_ptr_array_unref);
  JsonReader r = { text };

  json_skip_ws (&r);
  if (*r.p++ != '{')
    return NULL;
  for (;;)
    {
      g_autofree char *key = NULL;
      g_autoptr (GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
      char *v;

      json_skip_ws (&r);
      if ((key = json_read_string (&r)) == NULL)
        return NULL;
      json_skip_ws (&r);
      if (*r.p++ != ':')
        return NULL;
      json_skip_ws (&r);
      if (*r.p == '"')
        {
          if ((v = json_read_string (&r)) == NULL)
            return NULL;
          g_ptr_array_add (values, v);
        }
      else if (strncmp (r.p, "null", 4) == 0)
        r.p += 4;  /* no values (the table's free function does not take NULL) */
      else if (*r.p == '[')
        {
          r.p++;
          json_skip_ws (&r);
          while (*r.p != ']')
            {
              if ((v = json_read_number (&r)) == NULL)
                return NULL;
              g_ptr_array_add (values, v);
              json_skip_ws (&r);
              if (*r.p == ',')
                r.p++;
              else if (*r.p != ']')
                return NULL;
              json_skip_ws (&r);
            }
          r.p++;
        }
      else
        {
          if ((v = json_read_number (&r)) == NULL)
            return NULL;
          g_ptr_array_add (values, v);
        }
      g_hash_table_insert (table, g_steal_pointer (&key), g_steal_pointer (&values));
      json_skip_ws (&r);
      if (*r.p == ',')
        {
          r.p++;
          continue;
        }
      if (*r.p == '}')
        return g_steal_pointer (&table);
      return NULL;
    }
}

static gboolean
json_get_u64s (GHashTable *table, const char *key, uint64_t *out, guint n)
{
  GPtrArray *values = g_hash_table_lookup (table, key);

  if (values == NULL || values->len != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (!g_ascii_string_to_unsigned (values->pdata[i], 10, 0, G_MAXUINT64, &out[i], NULL))
      return FALSE;
  return TRUE;
}

static const char *
json_get_string (GHashTable *table, const char *key, gboolean *present)
{
  GPtrArray *values = NULL;

  *present = g_hash_table_lookup_extended (table, key, NULL, (gpointer *) &values);
  return values != NULL && values->len == 1 ? values->pdata[0] : NULL;
}

/* The members of the cache file at path when it belongs to this very split (version,
 * folders and fingerprint agree), else NULL. */
static GHashTable *
json_read_split_file (const char *path, const VgSplit *split, const char *fingerprint)
{
  g_autofree char *text = NULL;
  g_autoptr (GHashTable) table = NULL;
  uint64_t version;
  const char *s;
  gboolean present;

  if (!vg_input_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  if ((table = json_read_object (text)) == NULL)
    {
      g_debug ("%s: unreadable cache file, recomputing", path);
      return NULL;
    }
  if (!json_get_u64s (table, "version", &version, 1) || version != CACHE_VERSION)
    return NULL;
  s = json_get_string (table, "fingerprint", &present);
  if (s == NULL || strcmp (s, fingerprint) != 0)
    return NULL;
  s = json_get_string (table, "images_dir", &present);
  if (s == NULL || strcmp (s, split->images_dir) != 0)
    return NULL;
  s = json_get_string (table, "masks_dir", &present);
  if (!present || g_strcmp0 (s, split->masks_dir) != 0)
    return NULL;
  return g_steal_pointer (&table);
}

/* TRUE when path holds statistics of this very split (folders and fingerprint agree). */
static gboolean
stats_from_json (VgSplitStats *st, const char *path, const VgSplit *split,
                 const char *fingerprint)
{
  g_autoptr (GHashTable) table = NULL;
  uint64_t n_images, images[VG_NUM_CLASSES];

  if ((table = json_read_split_file (path, split, fingerprint)) == NULL)
    return FALSE;
  memset (st, 0, sizeof *st);
  if (!json_get_u64s (table, "n_images", &n_images, 1)
      || n_images != (uint64_t) split->n_samples
      || !json_get_u64s (table, "n_pixels", &st->n_pixels, 1)
      || !json_get_u64s (table, "channel_sum", st->channel_sum, 3)
      || !json_get_u64s (table, "channel_sum_sq", st->channel_sum_sq, 3)
      || !json_get_u64s (table, "class_pixels", st->class_pixels, VG_NUM_CLASSES)
      || !json_get_u64s (table, "class_images", images, VG_NUM_CLASSES))
    return FALSE;
  st->n_images = split->n_samples;
  st->has_masks = vg_split_has_masks (split);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    st->class_images[c] = (int) images[c];
  stats_finish (st);
  return TRUE;
}

/* Failing to write a cache file is not an error (a read-only home still works). */
static void
write_cache (const char *path, const char *text)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr (GError) error = NULL;

  if (g_mkdir_with_parents (dir, 0700) != 0 || !g_file_set_contents (path, text, -1, &error))
    g_debug ("cannot write the cache file %s: %s", path,
             error != NULL ? error->message : g_strerror (errno));
}

gboolean
vg_split_stats_get (VgSplitStats *stats, const VgSplit *split, int n_threads,
                    gboolean *from_cache, GCancellable *cancellable, GError **error)
{
  g_autofree char *fingerprint = vg_split_fingerprint (split, error);
  g_autofree char *path = NULL;
  g_autofree char *json = NULL;

  if (from_cache != NULL)
    *from_cache = FALSE;
  if (fingerprint == NULL)
    return FALSE;
  path = vg_split_stats_cache_path (split);
  if (stats_from_json (stats, path, split, fingerprint))
    {
      if (from_cache != NULL)
        *from_cache = TRUE;
      return TRUE;
    }
  if (!vg_split_stats_compute (stats, split, n_threads, cancellable, error))
    return FALSE;
  json = stats_to_json (stats, split, fingerprint);
  write_cache (path, json);
  return TRUE;
}

/* ---- classes of each mask -------------------------------------------------------------- */

gboolean
vg_split_classes_get (VgSplit *split, int n_threads, gboolean *from_cache,
                      GCancellable *cancellable, GError **error)
{
  g_autofree char *fingerprint = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GHashTable) table = NULL;
  GString *json;

  if (from_cache != NULL)
    *from_cache = FALSE;
  if (!vg_split_has_masks (split) || split->n_samples == 0)
    return TRUE;
  if ((fingerprint = vg_split_fingerprint (split, error)) == NULL)
    return FALSE;
  path = vg_split_classes_cache_path (split);
  if ((table = json_read_split_file (path, split, fingerprint)) != NULL)
    {
      g_autofree uint64_t *bits = g_new (uint64_t, split->n_samples);

      if (json_get_u64s (table, "mask_classes", bits, split->n_samples))
        {
          for (int i = 0; i < split->n_samples; i++)
            split->samples[i].mask_classes = (guint32) bits[i];
          if (from_cache != NULL)
            *from_cache = TRUE;
          return TRUE;
        }
    }
  if (!vg_split_scan_classes (split, n_threads, cancellable, error))
    return FALSE;
  json = g_string_new ("{\n");
  json_split_head (json, split, fingerprint);
  g_string_append (json, "  \"mask_classes\": [");
  for (int i = 0; i < split->n_samples; i++)
    g_string_append_printf (json, "%s%u", i ? ", " : "", split->samples[i].mask_classes);
  g_string_append (json, "]\n}\n");
  write_cache (path, json->str);
  g_string_free (json, TRUE);
  return TRUE;
}
