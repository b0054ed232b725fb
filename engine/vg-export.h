/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one export of predictions, for visage-cli predict and the workbench's exports: for
 * each image NAME the formats asked for, several at once, into one folder:
 *
 *   palette        NAME.png                 8-bit palette PNG, the data set's colours
 *   index          NAME-index.png           8-bit grey, value = class id (0-18)
 *   classes        NAME/CLASS.png           a 0/255 mask per class present (hair.png ...)
 *   overlay        NAME-overlay.png         the photo with the class colours over it
 *                                           (NAME.png when it is the only format)
 *   probabilities  NAME/probabilities/CLASS.png
 *                                           8-bit grey per class, value = round(255 p),
 *                                           p the softmax of the logits at the image's size
 *
 * A class filter keeps only some classes: the others are written as background (palette,
 * index, overlay) or not at all (classes, probabilities). A legend adds classes.json (id,
 * name, label, colour, left/right partner: `visage-cli classes --json`) and legend.png (a
 * swatch, id and name per class) beside the masks.
 *
 * Probabilities are 8-bit PNGs rather than a NumPy .npy array: every image tool reads
 * them, the engine writes them with its one PNG writer (no hand-written format), and
 * 1/255 is finer than the models' calibration; exact float logits come from export-onnx.
 *
 * Nothing of the data split is ever written over: a destination that is one of its
 * folders (images, masks, annotations), or an output file that is one of its images or
 * masks (also through a link), is refused with VG_EXPORT_ERROR_PROTECTED before anything
 * is written. Every file is written atomically. */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "vg-classes.h"
#include "vg-split.h"

typedef enum {
  VG_EXPORT_FORMAT_PALETTE = 1 << 0,
  VG_EXPORT_FORMAT_INDEX = 1 << 1,
  VG_EXPORT_FORMAT_CLASSES = 1 << 2,
  VG_EXPORT_FORMAT_OVERLAY = 1 << 3,
  VG_EXPORT_FORMAT_PROBABILITIES = 1 << 4,
} VgExportFormat;

#define VG_EXPORT_N_FORMATS 5
#define VG_EXPORT_ALL_CLASSES ((guint32) ((1u << VG_NUM_CLASSES) - 1))

typedef struct {
  guint formats;     /* VgExportFormat bits, at least one */
  guint32 classes;   /* bit c set: class c is kept; at least one */
  gboolean legend;   /* classes.json and legend.png */
  double alpha;      /* overlay opacity, 0..1 */
} VgExportOptions;

/* Palette masks of every class, no legend, overlays at opacity 0.5. */
void vg_export_options_init (VgExportOptions *options);

/* The name of format bit number i (0 <= i < VG_EXPORT_N_FORMATS): "palette", "index",
 * "classes", "overlay", "probabilities". */
const char *vg_export_format_name (int i);
/* "palette,index" to a set of formats; VG_EXPORT_ERROR_INVALID naming an unknown one, or
 * for a list that names none. */
gboolean vg_export_parse_formats (const char *text, guint *formats, GError **error);
/* "hair,skin" (names or ids) to a set of classes; VG_EXPORT_ERROR_INVALID naming an
 * unknown one, or for a list that names none. */
gboolean vg_export_parse_classes (const char *text, guint32 *classes, GError **error);

/* For a file written outside the exporter (the submission zip): refuses a path that is
 * one of the split's images or masks, or leads into one of its folders. */
gboolean vg_export_check_file (const VgSplit *split, const char *path, GError **error);

typedef struct _VgExporter VgExporter;

/* Ready to write samples first..last - 1 of split into dir: checks the options and the
 * destination (nothing of the split written over), creates dir, checks that it can be
 * written, and writes the legend when asked. */
VgExporter *vg_exporter_new (const VgSplit *split, int first, int last, const char *dir,
                             const VgExportOptions *options, GError **error);
void vg_exporter_free (VgExporter *exporter);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgExporter, vg_exporter_free)

/* Whether the formats asked for need the class probabilities (vg_exporter_write's probs),
 * and the photo (its rgb, else decoded from the sample's image). */
gboolean vg_exporter_needs_probabilities (const VgExporter *exporter);
gboolean vg_exporter_needs_image (const VgExporter *exporter);

/* Write the files of one sample: labels (H, W) its predicted classes; probs (NC, H, W)
 * the class probabilities, needed for probabilities only; rgb (H, W, 3) the photo or NULL
 * (then decoded when an overlay needs it). */
gboolean vg_exporter_write (VgExporter *exporter, const VgSample *sample,
                            const uint8_t *labels, const float *probs, const uint8_t *rgb,
                            int H, int W, GError **error);
/* Files written so far, the legend's included. */
int vg_exporter_get_n_files (const VgExporter *exporter);

/* The 19 classes as JSON: id, name, label, colour, rgb, left/right partner (or null). */
GString *vg_export_classes_json (void);
/* classes.json and legend.png into dir (vg-export-legend.c). */
gboolean vg_export_write_legend (const char *dir, GError **error);
/* legend.png alone: an RGB picture (H, W, 3), g_free it; a row per class with its colour,
 * id, name and label. */
uint8_t *vg_export_render_legend (int *H, int *W, GError **error);

#define VG_EXPORT_ERROR (vg_export_error_quark ())
GQuark vg_export_error_quark (void);

typedef enum {
  VG_EXPORT_ERROR_INVALID = 1,  /* bad options: unknown format or class, empty list */
  VG_EXPORT_ERROR_PROTECTED,    /* the export would write over the split's own files */
} VgExportError;
