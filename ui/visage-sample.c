/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-sample"

#include "config.h"

#include <glib/gi18n.h>

#include "visage-format.h"
#include "visage-sample.h"

struct _VisageSample
{
  GObject parent_instance;

  int index;
  char *name;
  char *image_path;
  char *mask_path;
  guint32 truth_classes;                /* from the split's scan; 0: unknown */

  GdkPaintable *thumbnail;
  GCancellable *thumbnail_cancellable;  /* non-NULL while the thumbnail loads */
  gboolean thumbnail_failed;

  gboolean has_result;
  VgImageResult result;
  gboolean corrected;                   /* its mask is a saved annotation */
  gboolean unsaved;                     /* it has mask changes not saved yet */
};

G_DEFINE_FINAL_TYPE (VisageSample, visage_sample, G_TYPE_OBJECT)

/* Thumbnails being decoded, over all samples (main thread only). */
static guint n_loading;

enum {
  PROP_0,
  PROP_INDEX,
  PROP_NAME,
  PROP_THUMBNAIL,
  PROP_MIOU,
  PROP_MIOU_LABEL,
  PROP_CORRECTED,
  PROP_UNSAVED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

VisageSample *
visage_sample_new (int index, const char *name, const char *image_path, const char *mask_path)
{
  VisageSample *self = g_object_new (VISAGE_TYPE_SAMPLE, NULL);

  self->index = index;
  self->name = g_strdup (name);
  self->image_path = g_strdup (image_path);
  self->mask_path = g_strdup (mask_path);
  return self;
}

int
visage_sample_get_index (VisageSample *self)
{
  g_return_val_if_fail (VISAGE_IS_SAMPLE (self), -1);

  return self->index;
}

const char *
visage_sample_get_name (VisageSample *self)
{
  g_return_val_if_fail (VISAGE_IS_SAMPLE (self), NULL);

  return self->name;
}

const char *
visage_sample_get_image_path (VisageSample *self)
{
  g_return_val_if_fail (VISAGE_IS_SAMPLE (self), NULL);

  return self->image_path;
}

const char *
visage_sample_get_mask_path (VisageSample *self)
{
  g_return_val_if_fail (VISAGE_IS_SAMPLE (self), NULL);

  return self->mask_path;
}

/* Worker thread: decode at thumbnail size (libjpeg scales while decoding, so this reads
 * a 512x512 JPEG at 1/4 of the cost of the full image). */
static void
load_thumbnail_in_thread (GTask *task, gpointer source, gpointer task_data,
                          GCancellable *cancellable)
{
  const char *path = task_data;
  GError *error = NULL;
  GdkPixbuf *pixbuf;

  if (g_task_return_error_if_cancelled (task))
    return;
  pixbuf = gdk_pixbuf_new_from_file_at_scale (path, VISAGE_THUMBNAIL_SIZE,
                                              VISAGE_THUMBNAIL_SIZE, TRUE, &error);
  if (pixbuf == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, pixbuf, g_object_unref);
}

static void
thumbnail_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  VisageSample *self = VISAGE_SAMPLE (source);
  g_autoptr (GError) error = NULL;
  g_autoptr (GdkPixbuf) pixbuf = g_task_propagate_pointer (G_TASK (result), &error);

  g_clear_object (&self->thumbnail_cancellable);
  n_loading--;
  if (pixbuf == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_debug ("no thumbnail for %s: %s", self->image_path, error->message);
          self->thumbnail_failed = TRUE;
        }
      return;
    }
  self->thumbnail = GDK_PAINTABLE (gdk_texture_new_for_pixbuf (pixbuf));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_THUMBNAIL]);
}

GdkPaintable *
visage_sample_get_thumbnail (VisageSample *self)
{
  g_return_val_if_fail (VISAGE_IS_SAMPLE (self), NULL);

  if (self->thumbnail == NULL && self->thumbnail_cancellable == NULL && !self->thumbnail_failed)
    {
      g_autoptr (GTask) task = NULL;

      self->thumbnail_cancellable = g_cancellable_new ();
      n_loading++;
      task = g_task_new (self, self->thumbnail_cancellable, thumbnail_loaded, NULL);
      g_task_set_source_tag (task, visage_sample_get_thumbnail);
      g_task_set_task_data (task, g_strdup (self->image_path), g_free);
      g_task_run_in_thread (task, load_thumbnail_in_thread);
    }
  return self->thumbnail;
}

guint
visage_sample_get_n_loading (void)
{
  return n_loading;
}

void
visage_sample_set_result (VisageSample *self, const VgImageResult *result)
{
  g_return_if_fail (VISAGE_IS_SAMPLE (self));

  if (result == NULL && !self->has_result)
    return;
  self->has_result = result != NULL;
  if (result != NULL)
    self->result = *result;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MIOU]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MIOU_LABEL]);
}

void
visage_sample_set_corrected (VisageSample *self, gboolean corrected)
{
  g_return_if_fail (VISAGE_IS_SAMPLE (self));

  if (self->corrected == !!corrected)
    return;
  self->corrected = !!corrected;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CORRECTED]);
}

gboolean
visage_sample_get_corrected (VisageSample *self)
{
  g_return_val_if_fail (VISAGE_IS_SAMPLE (self), FALSE);

  return self->corrected;
}

void
visage_sample_set_unsaved (VisageSample *self, gboolean unsaved)
{
  g_return_if_fail (VISAGE_IS_SAMPLE (self));

  if (self->unsaved == !!unsaved)
    return;
  self->unsaved = !!unsaved;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNSAVED]);
}

gboolean
visage_sample_get_unsaved (VisageSample *self)
{
  g_return_val_if_fail (VISAGE_IS_SAMPLE (self), FALSE);

  return self->unsaved;
}

void
visage_sample_set_truth_classes (VisageSample *self, guint32 classes)
{
  g_return_if_fail (VISAGE_IS_SAMPLE (self));

  self->truth_classes = classes;
}

guint32
visage_sample_get_truth_classes (VisageSample *self)
{
  g_return_val_if_fail (VISAGE_IS_SAMPLE (self), 0);

  return self->has_result ? self->result.truth_classes : self->truth_classes;
}

const VgImageResult *
visage_sample_get_result (VisageSample *self)
{
  g_return_val_if_fail (VISAGE_IS_SAMPLE (self), NULL);

  return self->has_result ? &self->result : NULL;
}

double
visage_sample_get_miou (VisageSample *self)
{
  g_return_val_if_fail (VISAGE_IS_SAMPLE (self), -1.0);

  return self->has_result ? self->result.miou : -1.0;
}

static char *
miou_label (VisageSample *self)
{
  g_autofree char *miou = NULL;

  if (!self->has_result)
    return g_strdup ("");
  miou = visage_format_percent (self->result.miou, 1);
  /* TRANSLATORS: per-image mean intersection over union; %s is a percentage */
  return g_strdup_printf (_("mIoU %s"), miou);
}

static void
visage_sample_dispose (GObject *object)
{
  VisageSample *self = VISAGE_SAMPLE (object);

  if (self->thumbnail_cancellable != NULL)
    g_cancellable_cancel (self->thumbnail_cancellable);
  g_clear_object (&self->thumbnail_cancellable);
  g_clear_object (&self->thumbnail);
  G_OBJECT_CLASS (visage_sample_parent_class)->dispose (object);
}

static void
visage_sample_finalize (GObject *object)
{
  VisageSample *self = VISAGE_SAMPLE (object);

  g_free (self->name);
  g_free (self->image_path);
  g_free (self->mask_path);
  G_OBJECT_CLASS (visage_sample_parent_class)->finalize (object);
}

static void
visage_sample_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VisageSample *self = VISAGE_SAMPLE (object);

  switch (prop_id)
    {
    case PROP_INDEX:
      g_value_set_int (value, self->index);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_THUMBNAIL:
      g_value_set_object (value, visage_sample_get_thumbnail (self));
      break;
    case PROP_MIOU:
      g_value_set_double (value, visage_sample_get_miou (self));
      break;
    case PROP_MIOU_LABEL:
      g_value_take_string (value, miou_label (self));
      break;
    case PROP_CORRECTED:
      g_value_set_boolean (value, self->corrected);
      break;
    case PROP_UNSAVED:
      g_value_set_boolean (value, self->unsaved);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_sample_class_init (VisageSampleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = visage_sample_dispose;
  object_class->finalize = visage_sample_finalize;
  object_class->get_property = visage_sample_get_property;

  properties[PROP_INDEX] =
    g_param_spec_int ("index", NULL, NULL, -1, G_MAXINT, -1,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /* Reading it starts loading it: bound by the gallery's items, so only the thumbnails
   * scrolled into view are ever decoded. */
  properties[PROP_THUMBNAIL] =
    g_param_spec_object ("thumbnail", NULL, NULL, GDK_TYPE_PAINTABLE,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MIOU] =
    g_param_spec_double ("miou", NULL, NULL, -1.0, 1.0, -1.0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MIOU_LABEL] =
    g_param_spec_string ("miou-label", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CORRECTED] =
    g_param_spec_boolean ("corrected", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_UNSAVED] =
    g_param_spec_boolean ("unsaved", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
visage_sample_init (VisageSample *self)
{
  self->index = -1;
}

GtkWidget *
visage_sample_row_new (VisageSample *sample, int thumbnail_size, gboolean dim,
                       GtkWidget *first_trailing, ...)
{
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *thumbnail = gtk_picture_new ();
  GtkWidget *name = gtk_label_new (visage_sample_get_name (sample));
  va_list ap;

  /* Bound, so the thumbnail loads when the row is made and shows once decoded. */
  g_object_bind_property (sample, "thumbnail", thumbnail, "paintable", G_BINDING_SYNC_CREATE);
  gtk_picture_set_can_shrink (GTK_PICTURE (thumbnail), TRUE);
  gtk_widget_set_size_request (thumbnail, thumbnail_size, thumbnail_size);
  gtk_widget_set_hexpand (name, TRUE);
  gtk_label_set_xalign (GTK_LABEL (name), 0.f);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_MIDDLE);
  gtk_widget_set_margin_top (row, 6);
  gtk_widget_set_margin_bottom (row, 6);
  gtk_widget_set_margin_start (row, 6);
  gtk_widget_set_margin_end (row, 12);
  gtk_box_append (GTK_BOX (row), thumbnail);
  gtk_box_append (GTK_BOX (row), name);
  va_start (ap, first_trailing);
  for (GtkWidget *label = first_trailing; label != NULL; label = va_arg (ap, GtkWidget *))
    {
      gtk_label_set_xalign (GTK_LABEL (label), 1.f);
      gtk_widget_add_css_class (label, "numeric");
      if (dim)
        gtk_widget_add_css_class (label, "dim-label");
      gtk_box_append (GTK_BOX (row), label);
    }
  va_end (ap);
  return row;
}
