/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one export of predictions (vg-export.h): options, the split's files kept safe, and
 * the formats of each sample. The legend picture is in vg-export-legend.c. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "vg-atomic-file.h"
#include "vg-export.h"
#include "vg-image.h"
#include "vg-predict.h"

G_DEFINE_QUARK (vg-export-error-quark, vg_export_error)

static const char *const format_names[VG_EXPORT_N_FORMATS] = {
  "palette", "index", "classes", "overlay", "probabilities",
};

/* NAME-overlay.png beside other formats; alone, the pictures take their images' names. */
static const char *
overlay_suffix (const VgExportOptions *o)
{
  return o->formats == VG_EXPORT_FORMAT_OVERLAY ? ".png" : "-overlay.png";
}

void
vg_export_options_init (VgExportOptions *o)
{
  o->formats = VG_EXPORT_FORMAT_PALETTE;
  o->classes = VG_EXPORT_ALL_CLASSES;
  o->legend = FALSE;
  o->alpha = 0.5;
}

const char *
vg_export_format_name (int i)
{
  g_return_val_if_fail (i >= 0 && i < VG_EXPORT_N_FORMATS, NULL);
  return format_names[i];
}

/* A comma-separated list of names into a bit set: lookup gives a name's bit, -1 for one it
 * does not know (an error naming the kind of name and where to find the known ones); blank
 * entries are skipped, and a list of none is an error too. */
static gboolean
parse_name_list (const char *text, int (*lookup) (const char *name), const char *kind,
                 const char *kinds, const char *hint, guint32 *bits, GError **error)
{
  g_auto (GStrv) names = g_strsplit (text, ",", -1);

  *bits = 0;
  for (int i = 0; names[i] != NULL; i++)
    {
      const char *name = g_strstrip (names[i]);
      int bit;

      if (*name == '\0')
        continue;
      if ((bit = lookup (name)) < 0)
        {
          g_set_error (error, VG_EXPORT_ERROR, VG_EXPORT_ERROR_INVALID, "unknown %s “%s” (%s)",
                       kind, name, hint);
          return FALSE;
        }
      *bits |= 1u << bit;
    }
  if (*bits == 0)
    {
      g_set_error (error, VG_EXPORT_ERROR, VG_EXPORT_ERROR_INVALID,
                   "the list of %s names no %s", kinds, kind);
      return FALSE;
    }
  return TRUE;
}

static int
format_from_name (const char *name)
{
  for (int f = 0; f < VG_EXPORT_N_FORMATS; f++)
    if (strcmp (name, format_names[f]) == 0)
      return f;
  return -1;
}

gboolean
vg_export_parse_formats (const char *text, guint *formats, GError **error)
{
  guint32 bits;
  gboolean ok = parse_name_list (text, format_from_name, "format", "formats",
                                 "choose among palette, index, classes, overlay, probabilities",
                                 &bits, error);

  *formats = bits;
  return ok;
}

/* A class by its name or its number. */
static int
class_from_name_or_number (const char *name)
{
  int c = vg_class_from_name (name);
  char *end = NULL;
  gint64 id = g_ascii_strtoll (name, &end, 10);

  if (c < 0 && end != name && *end == '\0' && id >= 0 && id < VG_NUM_CLASSES)
    c = (int) id;
  return c;
}

gboolean
vg_export_parse_classes (const char *text, guint32 *classes, GError **error)
{
  return parse_name_list (text, class_from_name_or_number, "class", "classes",
                          "see visage-cli classes", classes, error);
}

/* ---- the split's files, never written over ----------------------------------------------- */

static char *
file_identity (const char *path)
{
  struct stat st;

  /* stat follows symbolic links: a link to a mask is that mask. */
  if (g_stat (path, &st) != 0)
    return NULL;
  return g_strdup_printf ("%ju:%ju", (uintmax_t) st.st_dev, (uintmax_t) st.st_ino);
}

static void
add_identity (GHashTable *set, const char *path)
{
  char *id = path != NULL ? file_identity (path) : NULL;

  if (id != NULL)
    g_hash_table_add (set, id);
}

/* An images folder that belongs to a data split (named images, or beside a masks folder):
 * it, and its split's masks and annotations folders. A folder of photos on their own is
 * not protected as a whole (its files are, one by one). */
static void
add_split_folders (GHashTable *folders, const char *images_dir)
{
  g_autofree char *base = g_path_get_basename (images_dir);
  g_autofree char *parent = g_path_get_dirname (images_dir);
  g_autofree char *masks = g_build_filename (parent, "masks", NULL);
  g_autofree char *notes = g_build_filename (parent, "annotations", NULL);

  if (!g_str_equal (base, "images") && !g_file_test (masks, G_FILE_TEST_IS_DIR))
    return;
  add_identity (folders, images_dir);
  add_identity (folders, masks);
  add_identity (folders, notes);
}

/* The identities of the split's folders: its masks and annotations folders, and the
 * folder of any of its images that belongs to a data split. */
static GHashTable *
protected_folders (const VgSplit *split)
{
  GHashTable *folders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  add_identity (folders, split->masks_dir);
  add_identity (folders, split->annotations_dir);
  if (split->masks_dir != NULL)
    add_identity (folders, split->images_dir);
  for (int i = 0; i < split->n_samples; i++)
    {
      char *folder = g_path_get_dirname (split->samples[i].image_path);

      if (g_hash_table_add (seen, folder))
        add_split_folders (folders, folder);
    }
  return folders;
}

/* Whether the file at path, or any link on the way from it to the file it leads to, lies
 * in one of the folders (a link farm of a split leads through its folders elsewhere). */
static gboolean
in_folders (GHashTable *folders, const char *path)
{
  g_autofree char *current = g_strdup (path);
  g_autofree char *real = realpath (path, NULL);

  for (int hop = 0; hop < 40 && current != NULL; hop++)
    {
      g_autofree char *parent = g_path_get_dirname (current);
      g_autofree char *id = file_identity (parent);
      char *target;

      if (id != NULL && g_hash_table_contains (folders, id))
        return TRUE;
      target = g_file_read_link (current, NULL);
      g_free (current);
      current = target == NULL || g_path_is_absolute (target)
                  ? target : g_build_filename (parent, target, NULL);
      if (target != NULL && current != target)
        g_free (target);
    }
  if (real != NULL)
    {
      g_autofree char *parent = g_path_get_dirname (real);
      g_autofree char *id = file_identity (parent);

      return id != NULL && g_hash_table_contains (folders, id);
    }
  return FALSE;
}

/* The files of sample s that the options write into dir, legend aside. */
static GPtrArray *
sample_outputs (const char *dir, const VgSample *s, const VgExportOptions *o)
{
  const char *const suffixes[] = { ".png", "-index.png", NULL, overlay_suffix (o) };
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);

  for (int f = 0; f < (int) G_N_ELEMENTS (suffixes); f++)
    if (suffixes[f] != NULL && (o->formats & (1u << f)))
      {
        g_autofree char *file = g_strconcat (s->name, suffixes[f], NULL);
        g_ptr_array_add (paths, g_build_filename (dir, file, NULL));
      }
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    if (o->classes & (1u << c))
      {
        g_autofree char *file = g_strconcat (vg_class_name (c), ".png", NULL);

        if (o->formats & VG_EXPORT_FORMAT_CLASSES)
          g_ptr_array_add (paths, g_build_filename (dir, s->name, file, NULL));
        if (o->formats & VG_EXPORT_FORMAT_PROBABILITIES)
          g_ptr_array_add (paths, g_build_filename (dir, s->name, "probabilities", file, NULL));
      }
  return paths;
}

/* The identities of the split's images and masks. */
static GHashTable *
split_files (const VgSplit *split)
{
  GHashTable *files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (int i = 0; i < split->n_samples; i++)
    {
      add_identity (files, split->samples[i].image_path);
      add_identity (files, split->samples[i].mask_path);
    }
  return files;
}

/* Every destination checked before any is written, so a refusal leaves nothing half done:
 * not a folder of the split, and no output file that is one of its images or masks, or
 * that leads into one of its folders. */
static gboolean
check_destination (const VgSplit *split, int first, int last, const char *dir,
                   const VgExportOptions *o, GError **error)
{
  g_autoptr (GHashTable) folders = protected_folders (split);
  g_autoptr (GHashTable) files = NULL;
  g_autofree char *dir_id = file_identity (dir);

  if (dir_id == NULL)
    return TRUE;  /* not there yet: nothing of the split in it */
  if (g_hash_table_contains (folders, dir_id))
    {
      g_set_error (error, VG_EXPORT_ERROR, VG_EXPORT_ERROR_PROTECTED,
                   "%s: refusing to export into a folder of the data split (its images, "
                   "masks or annotations): choose another folder", dir);
      return FALSE;
    }
  files = split_files (split);
  for (int i = first; i < last; i++)
    {
      g_autoptr (GPtrArray) paths = sample_outputs (dir, &split->samples[i], o);

      for (guint k = 0; k < paths->len; k++)
        {
          const char *path = paths->pdata[k];
          g_autofree char *id = file_identity (path);

          if (id != NULL && (g_hash_table_contains (files, id) || in_folders (folders, path)))
            {
              g_set_error (error, VG_EXPORT_ERROR, VG_EXPORT_ERROR_PROTECTED,
                           "%s: refusing to write over a file of the data split", path);
              return FALSE;
            }
        }
    }
  return TRUE;
}

gboolean
vg_export_check_file (const VgSplit *split, const char *path, GError **error)
{
  g_autoptr (GHashTable) folders = NULL;
  g_autoptr (GHashTable) files = NULL;
  g_autofree char *id = file_identity (path);

  if (id == NULL)
    return TRUE;  /* not there yet */
  files = split_files (split);
  folders = protected_folders (split);
  if (!g_hash_table_contains (files, id) && !in_folders (folders, path))
    return TRUE;
  g_set_error (error, VG_EXPORT_ERROR, VG_EXPORT_ERROR_PROTECTED,
               "%s: refusing to write over a file of the data split", path);
  return FALSE;
}

/* ---- the exporter ------------------------------------------------------------------------ */

struct _VgExporter
{
  char *dir;
  VgExportOptions options;
  uint8_t *kept;       /* (H, W) the labels of the classes kept, others background */
  uint8_t *plane;      /* (H, W, 3) an overlay, or (H, W) a binary mask or probabilities */
  size_t cap;          /* of each, in pixels */
  VgImage image;       /* the photo, when an overlay needs it and none was given */
  int n_files;
};

static gboolean
check_options (const VgExportOptions *o, GError **error)
{
  if (o->formats == 0 || (o->formats >> VG_EXPORT_N_FORMATS) != 0)
    {
      g_set_error (error, VG_EXPORT_ERROR, VG_EXPORT_ERROR_INVALID,
                   "no export format chosen (formats 0x%x)", o->formats);
      return FALSE;
    }
  if (o->classes == 0 || (o->classes & ~VG_EXPORT_ALL_CLASSES) != 0)
    {
      g_set_error (error, VG_EXPORT_ERROR, VG_EXPORT_ERROR_INVALID,
                   "no class chosen to export (classes 0x%x)", o->classes);
      return FALSE;
    }
  if (!(o->alpha >= 0.0 && o->alpha <= 1.0))
    {
      g_set_error (error, VG_EXPORT_ERROR, VG_EXPORT_ERROR_INVALID,
                   "overlay opacity %g is not between 0 and 1", o->alpha);
      return FALSE;
    }
  return TRUE;
}

static gboolean
make_folder (const char *dir, GError **error)
{
  if (g_mkdir_with_parents (dir, 0777) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: cannot create the folder: %s", dir, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

VgExporter *
vg_exporter_new (const VgSplit *split, int first, int last, const char *dir,
                 const VgExportOptions *options, GError **error)
{
  g_autoptr (VgExporter) e = NULL;

  g_return_val_if_fail (split != NULL && dir != NULL && options != NULL, NULL);
  g_return_val_if_fail (first >= 0 && first <= last && last <= split->n_samples, NULL);

  if (!check_options (options, error)
      || !check_destination (split, first, last, dir, options, error)
      || !make_folder (dir, error) || !vg_check_output_dir (dir, error))
    return NULL;
  e = g_new0 (VgExporter, 1);
  e->dir = g_strdup (dir);
  e->options = *options;
  if (options->legend)
    {
      if (!vg_export_write_legend (dir, error))
        return NULL;
      e->n_files += 2;
    }
  return g_steal_pointer (&e);
}

void
vg_exporter_free (VgExporter *e)
{
  if (e == NULL)
    return;
  g_free (e->dir);
  g_free (e->kept);
  g_free (e->plane);
  vg_image_clear (&e->image);
  g_free (e);
}

gboolean
vg_exporter_needs_probabilities (const VgExporter *e)
{
  return (e->options.formats & VG_EXPORT_FORMAT_PROBABILITIES) != 0;
}

gboolean
vg_exporter_needs_image (const VgExporter *e)
{
  return (e->options.formats & VG_EXPORT_FORMAT_OVERLAY) != 0;
}

int
vg_exporter_get_n_files (const VgExporter *e)
{
  return e->n_files;
}

static gboolean
save (VgExporter *e, gboolean ok)
{
  if (ok)
    e->n_files++;
  return ok;
}

/* NAME/CLASS.png for each kept class the image holds: 255 where it is, 0 elsewhere. */
static gboolean
write_class_masks (VgExporter *e, const VgSample *s, const uint8_t *labels, int H, int W,
                   GError **error)
{
  const size_t n = (size_t) H * W;
  g_autofree char *dir = g_build_filename (e->dir, s->name, NULL);
  guint32 present = 0;

  for (size_t i = 0; i < n; i++)
    present |= 1u << labels[i];
  present &= e->options.classes;
  if (!make_folder (dir, error))
    return FALSE;
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    if (present & (1u << c))
      {
        g_autofree char *file = g_strconcat (vg_class_name (c), ".png", NULL);
        g_autofree char *path = g_build_filename (dir, file, NULL);

        for (size_t i = 0; i < n; i++)
          e->plane[i] = labels[i] == c ? 255 : 0;
        if (!save (e, vg_mask_save_grey (path, e->plane, H, W, error)))
          return FALSE;
      }
  return TRUE;
}

/* NAME/probabilities/CLASS.png for each kept class: round(255 p). */
static gboolean
write_probabilities (VgExporter *e, const VgSample *s, const float *probs, int H, int W,
                     GError **error)
{
  const size_t n = (size_t) H * W;
  g_autofree char *dir = g_build_filename (e->dir, s->name, "probabilities", NULL);

  if (probs == NULL)
    {
      g_set_error (error, VG_EXPORT_ERROR, VG_EXPORT_ERROR_INVALID,
                   "%s: no class probabilities to export", s->name);
      return FALSE;
    }
  if (!make_folder (dir, error))
    return FALSE;
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    if (e->options.classes & (1u << c))
      {
        g_autofree char *file = g_strconcat (vg_class_name (c), ".png", NULL);
        g_autofree char *path = g_build_filename (dir, file, NULL);
        const float *p = probs + (size_t) c * n;

        for (size_t i = 0; i < n; i++)
          e->plane[i] = (uint8_t) CLAMP (lrintf (255.0f * p[i]), 0, 255);
        if (!save (e, vg_mask_save_grey (path, e->plane, H, W, error)))
          return FALSE;
      }
  return TRUE;
}

static gboolean
write_overlay (VgExporter *e, const VgSample *s, const uint8_t *labels, const uint8_t *rgb,
               int H, int W, GError **error)
{
  g_autofree char *file = g_strconcat (s->name, overlay_suffix (&e->options), NULL);
  g_autofree char *path = g_build_filename (e->dir, file, NULL);

  if (rgb == NULL)
    {
      if (!vg_image_load (&e->image, s->image_path, error))
        return FALSE;
      if (e->image.height != H || e->image.width != W)
        {
          g_set_error (error, VG_EXPORT_ERROR, VG_EXPORT_ERROR_INVALID,
                       "%s: the image is %d x %d, its prediction %d x %d", s->image_path,
                       e->image.width, e->image.height, W, H);
          return FALSE;
        }
      rgb = e->image.data;
    }
  vg_overlay_render (e->plane, rgb, labels, H, W, (float) e->options.alpha);
  return save (e, vg_image_save_png (path, e->plane, H, W, error));
}

gboolean
vg_exporter_write (VgExporter *e, const VgSample *s, const uint8_t *labels, const float *probs,
                   const uint8_t *rgb, int H, int W, GError **error)
{
  const VgExportOptions *o = &e->options;
  const size_t n = (size_t) H * W;

  if (n > e->cap || e->plane == NULL)
    {
      g_free (e->kept);
      g_free (e->plane);
      e->cap = n;
      e->kept = g_new (uint8_t, n);
      e->plane = g_new (uint8_t, n * 3);
    }
  if (o->classes != VG_EXPORT_ALL_CLASSES)
    {
      for (size_t i = 0; i < n; i++)
        e->kept[i] = (o->classes >> labels[i]) & 1 ? labels[i] : 0;
      labels = e->kept;
    }
  if (o->formats & VG_EXPORT_FORMAT_PALETTE)
    {
      g_autofree char *file = g_strconcat (s->name, ".png", NULL);
      g_autofree char *path = g_build_filename (e->dir, file, NULL);

      if (!save (e, vg_mask_save (path, labels, H, W, error)))
        return FALSE;
    }
  if (o->formats & VG_EXPORT_FORMAT_INDEX)
    {
      g_autofree char *file = g_strconcat (s->name, "-index.png", NULL);
      g_autofree char *path = g_build_filename (e->dir, file, NULL);

      if (!save (e, vg_mask_save_grey (path, labels, H, W, error)))
        return FALSE;
    }
  return (!(o->formats & VG_EXPORT_FORMAT_CLASSES)
          || write_class_masks (e, s, labels, H, W, error))
         && (!(o->formats & VG_EXPORT_FORMAT_OVERLAY)
             || write_overlay (e, s, labels, rgb, H, W, error))
         && (!(o->formats & VG_EXPORT_FORMAT_PROBABILITIES)
             || write_probabilities (e, s, probs, H, W, error));
}
