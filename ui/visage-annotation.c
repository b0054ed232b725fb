/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-annotation"

#include "config.h"

#include <errno.h>

#include <glib/gstdio.h>
#include <gio/gio.h>

#include "vg-image.h"
#include "visage-annotation.h"

struct _VisageAnnotation
{
  GObject parent_instance;

  char *image_path;
  char *target_path;
  char *recovery_path;
  VgMaskEdit *edit;
  gboolean modified;      /* as last notified */
  guint autosave_seconds;
  guint autosave_id;      /* the pending autosave, or 0 */
};

G_DEFINE_FINAL_TYPE (VisageAnnotation, visage_annotation, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MODIFIED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

char *
visage_annotation_recovery_path (const char *image_path)
{
  g_autofree char *canonical = g_canonicalize_filename (image_path, NULL);
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, canonical, -1);
  g_autofree char *name = g_strdup_printf ("%.32s.png", hash);

  return g_build_filename (g_get_user_data_dir (), "visage", "recovery", name, NULL);
}

VisageAnnotation *
visage_annotation_new (const char *image_path, const char *target_path, const guint8 *mask,
                       int height, int width, GError **error)
{
  VgMaskEdit *edit;
  VisageAnnotation *self;

  g_return_val_if_fail (image_path != NULL, NULL);
  g_return_val_if_fail (target_path != NULL, NULL);

  edit = vg_mask_edit_new (mask, height, width, error);
  if (edit == NULL)
    return NULL;
  self = g_object_new (VISAGE_TYPE_ANNOTATION, NULL);
  self->image_path = g_strdup (image_path);
  self->target_path = g_strdup (target_path);
  self->recovery_path = visage_annotation_recovery_path (image_path);
  self->edit = edit;
  return self;
}

const char *
visage_annotation_get_image_path (VisageAnnotation *self)
{
  g_return_val_if_fail (VISAGE_IS_ANNOTATION (self), NULL);

  return self->image_path;
}

const char *
visage_annotation_get_target_path (VisageAnnotation *self)
{
  g_return_val_if_fail (VISAGE_IS_ANNOTATION (self), NULL);

  return self->target_path;
}

VgMaskEdit *
visage_annotation_get_edit (VisageAnnotation *self)
{
  g_return_val_if_fail (VISAGE_IS_ANNOTATION (self), NULL);

  return self->edit;
}

gboolean
visage_annotation_get_modified (VisageAnnotation *self)
{
  g_return_val_if_fail (VISAGE_IS_ANNOTATION (self), FALSE);

  return vg_mask_edit_is_modified (self->edit);
}

void
visage_annotation_set_autosave_interval (VisageAnnotation *self, guint seconds)
{
  g_return_if_fail (VISAGE_IS_ANNOTATION (self));

  self->autosave_seconds = MAX (seconds, 1);
}

static gboolean
ensure_parent (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create the folder %s: %s", dir, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_mask (VisageAnnotation *self, const char *path, GError **error)
{
  VgMaskEdit *edit = self->edit;

  return ensure_parent (path, error)
         && vg_mask_save (path, vg_mask_edit_get_data (edit), vg_mask_edit_get_height (edit),
                          vg_mask_edit_get_width (edit), error);
}

gboolean
visage_annotation_write_recovery (VisageAnnotation *self, GError **error)
{
  g_return_val_if_fail (VISAGE_IS_ANNOTATION (self), FALSE);

  return write_mask (self, self->recovery_path, error);
}

gboolean
visage_annotation_has_recovery (VisageAnnotation *self)
{
  g_return_val_if_fail (VISAGE_IS_ANNOTATION (self), FALSE);

  return g_file_test (self->recovery_path, G_FILE_TEST_IS_REGULAR);
}

gint64
visage_annotation_get_recovery_age (VisageAnnotation *self)
{
  GStatBuf st;

  g_return_val_if_fail (VISAGE_IS_ANNOTATION (self), -1);

  if (g_stat (self->recovery_path, &st) != 0)
    return -1;
  return MAX (0, g_get_real_time () / G_USEC_PER_SEC - (gint64) st.st_mtime);
}

void
visage_annotation_discard_recovery (VisageAnnotation *self)
{
  g_return_if_fail (VISAGE_IS_ANNOTATION (self));

  g_unlink (self->recovery_path);
}

static gboolean
autosave (gpointer user_data)
{
  VisageAnnotation *self = user_data;
  g_autoptr (GError) error = NULL;

  self->autosave_id = 0;
  if (vg_mask_edit_is_modified (self->edit) && !visage_annotation_write_recovery (self, &error))
    g_warning ("Cannot write the recovery file: %s", error->message);
  return G_SOURCE_REMOVE;
}

void
visage_annotation_changed (VisageAnnotation *self)
{
  gboolean modified;

  g_return_if_fail (VISAGE_IS_ANNOTATION (self));

  modified = vg_mask_edit_is_modified (self->edit);
  if (modified && self->autosave_id == 0)
    self->autosave_id = g_timeout_add_seconds (self->autosave_seconds, autosave, self);
  else if (!modified)
    {
      /* Back at the saved state: nothing to recover. */
      g_clear_handle_id (&self->autosave_id, g_source_remove);
      visage_annotation_discard_recovery (self);
    }
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  if (modified != self->modified)
    {
      self->modified = modified;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODIFIED]);
    }
}

gboolean
visage_annotation_save (VisageAnnotation *self, const char *path, GError **error)
{
  g_return_val_if_fail (VISAGE_IS_ANNOTATION (self), FALSE);

  vg_mask_edit_end (self->edit);
  if (!write_mask (self, path != NULL ? path : self->target_path, error))
    return FALSE;
  vg_mask_edit_mark_saved (self->edit);
  visage_annotation_changed (self);
  return TRUE;
}

gboolean
visage_annotation_recover (VisageAnnotation *self, GError **error)
{
  VgImage mask = { 0 };
  gboolean ok = FALSE;
  int height, width;

  g_return_val_if_fail (VISAGE_IS_ANNOTATION (self), FALSE);

  height = vg_mask_edit_get_height (self->edit);
  width = vg_mask_edit_get_width (self->edit);
  if (!vg_mask_load (&mask, self->recovery_path, error))
    goto out;
  if (mask.height != height || mask.width != width)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_SIZE,
                   "%s: the recovered mask is %d x %d but the image is %d x %d",
                   self->recovery_path, mask.width, mask.height, width, height);
      goto out;
    }
  if (!vg_mask_check (mask.data, (size_t) height * width, width, self->recovery_path, error))
    goto out;
  vg_mask_edit_end (self->edit);
  vg_mask_edit_replace (self->edit, mask.data);
  visage_annotation_changed (self);
  ok = TRUE;
out:
  vg_image_clear (&mask);
  return ok;
}

static void
visage_annotation_finalize (GObject *object)
{
  VisageAnnotation *self = VISAGE_ANNOTATION (object);

  g_clear_handle_id (&self->autosave_id, g_source_remove);
  g_free (self->image_path);
  g_free (self->target_path);
  g_free (self->recovery_path);
  vg_mask_edit_free (self->edit);
  G_OBJECT_CLASS (visage_annotation_parent_class)->finalize (object);
}

static void
visage_annotation_get_property (GObject *object, guint prop_id, GValue *value,
                                GParamSpec *pspec)
{
  VisageAnnotation *self = VISAGE_ANNOTATION (object);

  switch (prop_id)
    {
    case PROP_MODIFIED:
      g_value_set_boolean (value, visage_annotation_get_modified (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_annotation_class_init (VisageAnnotationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = visage_annotation_finalize;
  object_class->get_property = visage_annotation_get_property;

  properties[PROP_MODIFIED] =
    g_param_spec_boolean ("modified", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* The mask's pixels changed. */
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 0);
}

static void
visage_annotation_init (VisageAnnotation *self)
{
  self->autosave_seconds = 30;
}
