/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VisageImageView is one type in two files around this instance struct:
 *   visage-image-view.c       the overlay, its mode, opacity and zoom, the legend, the
 *                             status line, and the GObject
 *   visage-image-view-edit.c  mask editing: the tools, the class painted, brush size,
 *                             protection, undo and redo, and their actions and keys
 * The names _visage_image_view_* below are what the two files use of each other. */
#pragma once

#include "vg-classes.h"
#include "visage-image-view.h"

G_BEGIN_DECLS

typedef enum {
  TOOL_BRUSH,
  TOOL_ERASER,
  TOOL_FILL,
  TOOL_POLYGON,
  TOOL_SWAP,
} Tool;

struct _VisageImageView
{
  AdwBin parent_instance;

  /* Template widgets */
  VisageOverlayArea *overlay_area;
  GtkScale *opacity_scale;
  GtkBox *legend_box;
  GtkLabel *status_label;
  GtkRevealer *edit_revealer;
  GtkWidget *edit_toolbar;
  GtkSpinButton *brush_spin;
  GtkDropDown *protect_dropdown;
  GtkDrawingArea *paint_swatch;
  GtkLabel *paint_label;
  GtkDrawingArea *sketch;
  GtkOverlay *pane_overlay;       /* over the image: the sketch and side by side's names */
  GtkWidget *truth_button;        /* the modes that need a ground truth */
  GtkWidget *errors_button;
  GtkWidget *side_button;
  GtkWidget *side_truth_label;    /* the panes' names, side by side */
  GtkWidget *side_prediction_label;

  GtkCheckButton *legend_checks[VG_NUM_CLASSES];
  GtkWidget *legend_labels[VG_NUM_CLASSES];
  GtkWidget *legend_swatches[VG_NUM_CLASSES];

  /* Mask editing */
  VisageAnnotation *annotation;   /* the mask being corrected, or NULL */
  gboolean editing;               /* the primary button paints (the middle one pans) */
  Tool tool;
  int paint_class;
  int brush_size;                 /* diameter in image pixels */
  int protect_class;              /* -1, or the only class painted over */
  GtkGesture *paint;
  gboolean stroking;              /* a brush or eraser stroke is under way */
  double start_x;                 /* where the drag began, widget coordinates */
  double start_y;
  double last_x;                  /* the stroke's last point, image pixels */
  double last_y;
  GArray *polygon;                /* of double: x, y of each corner, image pixels */
  double pointer_x;               /* widget coordinates, for the brush outline */
  double pointer_y;
  gboolean has_pointer;
  int last_digit;                 /* the class digit typed last, and when */
  gint64 last_digit_time;

  char *title;
  char *summary;          /* status line while the pointer is elsewhere */
  gboolean has_image;
  gboolean has_truth;
  gboolean has_labels;
  int mode_before;        /* the mode an image without ground truth replaced, or -1 */
};

enum {
  PROP_0,
  PROP_MODE,
  PROP_CHOSEN_MODE,
  PROP_OPACITY,
  PROP_EDITING,
  PROP_TOOL,
  PROP_PAINT_CLASS,
  PROP_BRUSH_SIZE,
  PROP_PROTECT_CLASS,
  PROP_HIGH_CONTRAST,
  PROP_OUTLINE,
  N_PROPS
};

/* visage-image-view.c */
/* Notify a property (one of the PROP_ above) that changed. */
void _visage_image_view_notify (VisageImageView *self, guint prop_id);

/* The image or its ground truth changed: which modes are offered, and shown. */
void _visage_image_view_truth_changed (VisageImageView *self);
/* The palette legend swatches and the paint swatch draw in. */
VisagePalette _visage_image_view_get_palette (VisageImageView *self);

/* visage-image-view-edit.c */
/* The editing actions and their keys, installed by class_init. */
void _visage_image_view_class_init_edit (GtkWidgetClass *widget_class);
/* The editing toolbar, the gestures that apply the tools and the class digits' keys. */
void _visage_image_view_init_edit (VisageImageView *self);
/* The "tool" property's value. */
const char *_visage_image_view_get_tool_name (VisageImageView *self);

G_END_DECLS
