/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Listing and checking the samples of a split folder. */
#define G_LOG_DOMAIN "visage-data"

#include "config.h"

#include <string.h>

#include "vg-classes.h"
#include "vg-data-private.h"
#include "vg-split.h"

int
vg_natural_compare (const char *a, const char *b)
{
  const char *pa = a, *pb = b;
  int c;

  while (*pa != '\0' && *pb != '\0')
    {
      if (g_ascii_isdigit (*pa) && g_ascii_isdigit (*pb))
        {
          const char *sa = pa, *sb = pb, *ea, *eb;

          /* Compare the numbers' values: drop leading zeros, then the longer is larger,
           * and equal lengths compare digit by digit (no overflow for long runs). */
          while (*sa == '0')
            sa++;
          while (*sb == '0')
            sb++;
          for (ea = sa; g_ascii_isdigit (*ea); ea++)
            ;
          for (eb = sb; g_ascii_isdigit (*eb); eb++)
            ;
          if (ea - sa != eb - sb)
            return ea - sa < eb - sb ? -1 : 1;
          c = memcmp (sa, sb, ea - sa);
          if (c != 0)
            return c < 0 ? -1 : 1;
          pa = ea;
          pb = eb;
        }
      else
        {
          if (*pa != *pb)
            return (unsigned char) *pa < (unsigned char) *pb ? -1 : 1;
          pa++;
          pb++;
        }
    }
  if (*pa != '\0' || *pb != '\0')
    return *pa != '\0' ? 1 : -1;
  c = strcmp (a, b);
  return (c > 0) - (c < 0);
}

static void
sample_clear (VgSample *s)
{
  g_free (s->name);
  g_free (s->image_path);
  g_free (s->mask_path);
  memset (s, 0, sizeof *s);
}

void
vg_split_free (VgSplit *split)
{
  if (split == NULL)
    return;
  for (int i = 0; i < split->n_samples; i++)
    sample_clear (&split->samples[i]);
  g_free (split->samples);
  g_free (split->images_dir);
  g_free (split->masks_dir);
  g_free (split->annotations_dir);
  if (split->skipped != NULL)
    g_ptr_array_unref (split->skipped);
  g_free (split);
}

void
vg_split_keep (VgSplit *split, int first, int count)
{
  int n = split->n_samples;

  first = CLAMP (first, 0, n);
  count = CLAMP (count, 0, n - first);
  for (int i = 0; i < n; i++)
    if (i < first || i >= first + count)
      sample_clear (&split->samples[i]);
  memmove (split->samples, split->samples + first, sizeof (VgSample) * count);
  split->n_samples = count;
}

void
vg_shard_range (int N, int index, int n, int *first, int *size)
{
  *first = (int) ((gint64) index * N / n);
  *size = (int) ((gint64) (index + 1) * N / n) - *first;
}

void
vg_split_shard (VgSplit *split, int index, int n)
{
  int first, size;

  g_return_if_fail (n > 0 && index >= 0 && index < n);
  vg_shard_range (split->n_samples, index, n, &first, &size);
  vg_split_keep (split, first, size);
}

gboolean
vg_split_load_sample (const VgSplit *split, int i, VgImage *image, VgImage *mask,
                      GError **error)
{
  const VgSample *s;

  if (i < 0 || i >= split->n_samples)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID,
                   "sample %d is outside the split (%d samples)", i, split->n_samples);
      return FALSE;
    }
  s = &split->samples[i];
  if (!vg_image_load (image, s->image_path, error))
    return FALSE;
  if (mask == NULL || s->mask_path == NULL)
    return TRUE;
  if (!vg_mask_load (mask, s->mask_path, error))
    return FALSE;
  if (mask->height != image->height || mask->width != image->width)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_SIZE,
                   "%s: mask is %d x %d but its image %s is %d x %d", s->mask_path,
                   mask->width, mask->height, s->image_path, image->width, image->height);
      return FALSE;
    }
  return vg_mask_check (mask->data, (size_t) mask->height * mask->width, mask->width,
                        s->mask_path, error);
}

static gboolean
is_image_name (const char *name, char **stem)
{
  static const char *const exts[] = { ".jpg", ".jpeg", ".png" };
  size_t len = strlen (name);

  if (name[0] == '.')
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (exts); i++)
    {
      size_t el = strlen (exts[i]);
      if (len > el && g_ascii_strcasecmp (name + len - el, exts[i]) == 0)
        {
          *stem = g_strndup (name, len - el);
          return TRUE;
        }
    }
  return FALSE;
}

typedef struct {
  char *stem;
  char *file;
} ListedFile;

static int
listed_compare (gconstpointer pa, gconstpointer pb)
{
  const ListedFile *a = pa, *b = pb;
  int c = vg_natural_compare (a->stem, b->stem);

  return c != 0 ? c : vg_natural_compare (a->file, b->file);
}

typedef struct {
  VgSplit *split;          /* candidates: every listed image */
  GError **errors;         /* (n_samples) the first problem of each sample, or NULL */
  VgImage *images;         /* (n_threads) decoding buffers under VERIFY */
  VgImage *masks;          /* (n_threads) */
  gboolean verify;
  GCancellable *cancellable;
} CheckJob;

static void
check_sample (int i, int thread, gpointer data)
{
  CheckJob *job = data;
  VgSample *s = &job->split->samples[i];
  VgImageInfo image_info, mask_info;
  GError **error = &job->errors[i];

  if (g_cancellable_is_cancelled (job->cancellable))
    return;
  if (!vg_image_probe (&image_info, s->image_path, error))
    return;
  s->height = image_info.height;
  s->width = image_info.width;
  if (s->mask_path != NULL)
    {
      /* A broken link is not "no mask": the probe says what is wrong with it. */
      if (!g_file_test (s->mask_path, G_FILE_TEST_EXISTS)
          && !g_file_test (s->mask_path, G_FILE_TEST_IS_SYMLINK))
        {
          g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_MISSING,
                       "%s: no mask for this image (expected %s)", s->image_path,
                       s->mask_path);
          return;
        }
      if (!vg_mask_probe (&mask_info, s->mask_path, error))
        return;
      if (mask_info.height != image_info.height || mask_info.width != image_info.width)
        {
          g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_SIZE,
                       "%s: mask is %d x %d but its image %s is %d x %d", s->mask_path,
                       mask_info.width, mask_info.height, s->image_path, image_info.width,
                       image_info.height);
          return;
        }
    }
  if (job->verify)
    vg_split_load_sample (job->split, i, &job->images[thread], &job->masks[thread], error);
}

VgSplit *
vg_split_open_dirs (const char *images_dir, const char *masks_dir, VgSplitFlags flags,
                    int n_threads, GCancellable *cancellable, GError **error)
{
  g_autoptr (VgSplit) split = g_new0 (VgSplit, 1);
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GArray) files = g_array_new (FALSE, TRUE, sizeof (ListedFile));
  g_autoptr (GHashTable) stems = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GError) first_error = NULL;
  CheckJob job = { 0 };
  const char *name;
  int n_kept = 0, threads;

  split->images_dir = g_canonicalize_filename (images_dir, NULL);
  split->masks_dir = masks_dir != NULL ? g_canonicalize_filename (masks_dir, NULL) : NULL;
  split->skipped = g_ptr_array_new_with_free_func (g_free);
  if (split->masks_dir == NULL && (flags & VG_SPLIT_REQUIRE_MASKS))
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_MISSING,
                   "%s: this split has no masks folder", split->images_dir);
      return NULL;
    }
  if (split->masks_dir != NULL && !g_file_test (split->masks_dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: no such folder",
                   split->masks_dir);
      return NULL;
    }
  dir = g_dir_open (split->images_dir, 0, error);
  if (dir == NULL)
    return NULL;
  /* Every entry named like an image is a sample: one that is not a regular file (a folder,
   * a FIFO, a device, a broken link) fails its check below with its name, like any bad
   * sample, rather than vanishing from the count. */
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      ListedFile f;

      if (!is_image_name (name, &f.stem))
        continue;
      f.file = g_strdup (name);
      g_array_append_val (files, f);
    }
  g_array_sort (files, listed_compare);

  split->samples = g_new0 (VgSample, MAX (files->len, 1));
  split->n_samples = files->len;
  job.split = split;
  job.errors = g_new0 (GError *, MAX (files->len, 1));
  for (guint i = 0; i < files->len; i++)
    {
      ListedFile *f = &g_array_index (files, ListedFile, i);
      VgSample *s = &split->samples[i];

      s->name = f->stem;
      s->image_path = g_build_filename (split->images_dir, f->file, NULL);
      if (split->masks_dir != NULL)
        {
          g_autofree char *mask_name = g_strconcat (f->stem, ".png", NULL);
          s->mask_path = g_build_filename (split->masks_dir, mask_name, NULL);
        }
      /* 17.jpg and 17.png would share the mask 17.png: keep the first only. */
      if (g_hash_table_contains (stems, s->name))
        g_set_error (&job.errors[i], VG_DATA_ERROR, VG_DATA_ERROR_INVALID,
                     "%s: another image of this split is also named %s", s->image_path,
                     s->name);
      else
        g_hash_table_add (stems, s->name);
      g_free (f->file);
    }

  threads = vg_parallel_threads (n_threads, split->n_samples);
  job.verify = (flags & VG_SPLIT_VERIFY) != 0;
  job.images = g_new0 (VgImage, threads);
  job.masks = g_new0 (VgImage, threads);
  job.cancellable = cancellable;
  vg_parallel_for (split->n_samples, threads, check_sample, &job);
  for (int t = 0; t < threads; t++)
    {
      vg_image_clear (&job.images[t]);
      vg_image_clear (&job.masks[t]);
    }
  g_free (job.images);
  g_free (job.masks);

  /* Keep the good samples in order; the first bad one fails the split unless skipping. */
  for (int i = 0; i < split->n_samples; i++)
    {
      if (job.errors[i] == NULL)
        {
          if (n_kept != i)
            {
              split->samples[n_kept] = split->samples[i];
              memset (&split->samples[i], 0, sizeof (VgSample));
            }
          n_kept++;
          continue;
        }
      if (flags & VG_SPLIT_SKIP_BAD)
        g_ptr_array_add (split->skipped, g_strdup (job.errors[i]->message));
      else if (first_error == NULL)
        first_error = g_steal_pointer (&job.errors[i]);
      g_clear_error (&job.errors[i]);
      sample_clear (&split->samples[i]);
    }
  g_free (job.errors);
  split->n_samples = n_kept;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  if (first_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&first_error));
      return NULL;
    }
  if (split->n_samples == 0)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_EMPTY,
                   "%s: no usable images (%u left out)", split->images_dir,
                   split->skipped->len);
      return NULL;
    }
  return g_steal_pointer (&split);
}

VgSplit *
vg_split_open (const char *dir, VgSplitFlags flags, int n_threads, GCancellable *cancellable,
               GError **error)
{
  g_autofree char *images = g_build_filename (dir, "images", NULL);
  g_autofree char *masks = g_build_filename (dir, "masks", NULL);

  if (!g_file_test (images, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "%s: not a split folder (no images/ inside)", dir);
      return NULL;
    }
  return vg_split_open_dirs (images, g_file_test (masks, G_FILE_TEST_IS_DIR) ? masks : NULL,
                             flags, n_threads, cancellable, error);
}

VgSplit *
vg_split_from_files (const char *const *paths, int n_paths, GError **error)
{
  g_autoptr (VgSplit) split = g_new0 (VgSplit, 1);

  split->skipped = g_ptr_array_new_with_free_func (g_free);
  if (n_paths <= 0)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_EMPTY, "no images given");
      return NULL;
    }
  split->samples = g_new0 (VgSample, n_paths);
  for (int i = 0; i < n_paths; i++)
    {
      VgSample *s = &split->samples[i];
      g_autofree char *base = g_path_get_basename (paths[i]);
      char *dot = strrchr (base, '.');
      VgImageInfo info;

      if (!vg_image_probe (&info, paths[i], error))
        return NULL;
      if (dot != NULL && dot != base)
        *dot = '\0';
      s->name = g_strdup (base);
      s->image_path = g_canonicalize_filename (paths[i], NULL);
      s->height = info.height;
      s->width = info.width;
      split->n_samples = i + 1;
    }
  split->images_dir = g_path_get_dirname (split->samples[0].image_path);
  return g_steal_pointer (&split);
}

char *
vg_split_annotation_path (const VgSplit *split, int i, const char *annotations_dir)
{
  g_autofree char *name = NULL;

  g_return_val_if_fail (i >= 0 && i < split->n_samples, NULL);
  g_return_val_if_fail (annotations_dir != NULL, NULL);

  name = g_strconcat (split->samples[i].name, ".png", NULL);
  return g_build_filename (annotations_dir, name, NULL);
}

gboolean
vg_split_use_annotations (VgSplit *split, const char *annotations_dir, GError **error)
{
  g_autofree char *dir = NULL;
  g_autoptr (GPtrArray) paths = NULL;
  int n_annotated = 0;

  if (annotations_dir != NULL && split->masks_dir == NULL)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_MISSING,
                   "%s: annotations correct a split's masks, but %s has no masks folder",
                   annotations_dir, split->images_dir);
      return FALSE;
    }
  if (annotations_dir != NULL)
    {
      dir = g_canonicalize_filename (annotations_dir, NULL);
      if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                       "%s: no such annotations folder", dir);
          return FALSE;
        }
    }

  /* Every sample's mask, checked before anything of the split changes. */
  paths = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < split->n_samples; i++)
    {
      const VgSample *s = &split->samples[i];
      g_autofree char *annotation = dir != NULL ? vg_split_annotation_path (split, i, dir)
                                                : NULL;
      g_autofree char *mask_name = g_strconcat (s->name, ".png", NULL);
      VgImageInfo info;

      if (annotation != NULL && g_file_test (annotation, G_FILE_TEST_EXISTS))
        {
          if (!vg_mask_probe (&info, annotation, error))
            return FALSE;
          if (info.height != s->height || info.width != s->width)
            {
              g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_SIZE,
                           "%s: annotation is %d x %d but its image %s is %d x %d",
                           annotation, info.width, info.height, s->image_path, s->width,
                           s->height);
              return FALSE;
            }
          g_ptr_array_add (paths, g_steal_pointer (&annotation));
          n_annotated++;
        }
      else
        g_ptr_array_add (paths, g_build_filename (split->masks_dir, mask_name, NULL));
    }
  for (int i = 0; i < split->n_samples; i++)
    {
      g_free (split->samples[i].mask_path);
      split->samples[i].mask_path = g_steal_pointer (&paths->pdata[i]);
    }
  g_free (split->annotations_dir);
  split->annotations_dir = g_steal_pointer (&dir);
  split->n_annotated = n_annotated;
  return TRUE;
}

typedef struct {
  VgSplit *split;
  VgImage *masks;         /* one per thread */
  GCancellable *cancellable;
  VgFirstError first;
} ScanJob;

static void
scan_sample (int i, int thread, gpointer data)
{
  ScanJob *job = data;
  VgImage *mask = &job->masks[thread];
  VgSample *s = &job->split->samples[i];
  GError *error = NULL;
  guint32 bits = 0;
  size_t n;

  if (g_cancellable_is_cancelled (job->cancellable))
    return;
  if (!vg_mask_load (mask, s->mask_path, &error))
    {
      vg_first_error_offer (&job->first, i, error);
      return;
    }
  n = (size_t) mask->height * mask->width;
  for (size_t k = 0; k < n; k++)
    if (mask->data[k] < VG_NUM_CLASSES)
      bits |= 1u << mask->data[k];
  s->mask_classes = bits;
}

gboolean
vg_split_scan_classes (VgSplit *split, int n_threads, GCancellable *cancellable,
                       GError **error)
{
  int threads;
  ScanJob job = { 0 };

  if (!vg_split_has_masks (split) || split->n_samples == 0)
    return TRUE;
  threads = vg_parallel_threads (n_threads, split->n_samples);
  job = (ScanJob) { .split = split, .masks = g_new0 (VgImage, threads),
                    .cancellable = cancellable };
  vg_first_error_init (&job.first);
  vg_parallel_for (split->n_samples, threads, scan_sample, &job);
  for (int t = 0; t < threads; t++)
    vg_image_clear (&job.masks[t]);
  g_free (job.masks);
  if (!vg_first_error_finish (&job.first, error))
    return FALSE;
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}
