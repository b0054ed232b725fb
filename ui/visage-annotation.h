/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The annotation of one image being corrected: its editable mask (vg-mask-edit), the file
 * it is saved to, and its recovery file.
 *
 * Saving writes an 8-bit palette PNG in the data set's format (vg_mask_save: a temporary
 * file, synced, renamed over the target), so a crash never leaves half a mask. While there
 * are unsaved changes, they are written every autosave-interval seconds (30) to a recovery
 * file, visage_annotation_recovery_path(): g_get_user_data_dir()/visage/recovery/<hash of
 * the image's path>.png. Saving, or undoing back to the saved state, removes it; a recovery
 * file found when the image is opened again holds edits a crash (or a switch to another
 * image) left unsaved. */
#pragma once

#include <glib-object.h>

#include "vg-mask-edit.h"

G_BEGIN_DECLS

#define VISAGE_TYPE_ANNOTATION (visage_annotation_get_type ())
G_DECLARE_FINAL_TYPE (VisageAnnotation, visage_annotation, VISAGE, ANNOTATION, GObject)

/* An annotation of image_path starting from mask (height, width), or from all background
 * when mask is NULL; saved to target_path. NULL with an error for a bad size or value. */
VisageAnnotation *visage_annotation_new (const char *image_path, const char *target_path,
                                         const guint8 *mask, int height, int width,
                                         GError **error);

const char *visage_annotation_get_image_path (VisageAnnotation *self);
const char *visage_annotation_get_target_path (VisageAnnotation *self);
VgMaskEdit *visage_annotation_get_edit (VisageAnnotation *self);
/* Whether the mask has changes that are not saved (the "modified" property). */
gboolean visage_annotation_get_modified (VisageAnnotation *self);

/* Call after the mask changed (a stroke ended, undo, redo): emits ::changed, notifies
 * "modified", and (re)arms or disarms the autosave. */
void visage_annotation_changed (VisageAnnotation *self);

/* Save to path, or to the target when path is NULL (its folder is created); the saved
 * state is then the present one and the recovery file is removed. */
gboolean visage_annotation_save (VisageAnnotation *self, const char *path, GError **error);

/* Seconds between a change and its autosave into the recovery file (default 30). */
void visage_annotation_set_autosave_interval (VisageAnnotation *self, guint seconds);
/* Write the recovery file now (what the autosave does). */
gboolean visage_annotation_write_recovery (VisageAnnotation *self, GError **error);
/* The recovery file of an image (newly allocated), whether or not it exists. */
char *visage_annotation_recovery_path (const char *image_path);
gboolean visage_annotation_has_recovery (VisageAnnotation *self);
/* Seconds since the recovery file was written (-1 without one). */
gint64 visage_annotation_get_recovery_age (VisageAnnotation *self);
/* Replace the mask with the recovery file's, as one undoable stroke (modified). */
gboolean visage_annotation_recover (VisageAnnotation *self, GError **error);
/* Delete the recovery file, if any. */
void visage_annotation_discard_recovery (VisageAnnotation *self);

G_END_DECLS
