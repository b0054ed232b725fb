/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The gallery's instance, shared by its files: visage-gallery.c (the widget: labels, the
 * filter popover, selection, actions) and visage-gallery-filters.c (what is shown and in
 * which order: the sort orders, the class filter and the focus). */
#pragma once

#include "vg-classes.h"
#include "visage-gallery.h"

G_BEGIN_DECLS

/* Position of each order in the sort drop-down; the classes' "worst IoU first" orders
 * follow these, in class order. */
#define VISAGE_GALLERY_N_ORDERS 3
extern const char *const _visage_gallery_sort_orders[VISAGE_GALLERY_N_ORDERS];
#define SORT_CLASS_IOU "class-iou"

/* What the focus bar narrows the gallery to, besides the class filter. */
typedef enum {
  FOCUS_NONE,
  FOCUS_MISSED,     /* focus_truth in the ground truth, not one pixel of it predicted */
  FOCUS_CONFUSION,  /* pixels of truth focus_truth predicted as focus_predicted */
} Focus;

struct _VisageGallery
{
  AdwBin parent_instance;

  /* Template widgets */
  GtkDropDown *sort_dropdown;
  GtkMenuButton *filter_button;
  GtkLabel *filter_label;
  GtkBox *class_box;
  GtkCheckButton *match_all_check;
  GtkLabel *count_label;
  GtkRevealer *focus_revealer;
  GtkLabel *focus_label;
  GtkRevealer *scores_revealer;
  GtkLabel *scores_label;
  GtkGridView *grid_view;

  GtkCheckButton *class_checks[VG_NUM_CLASSES];
  GtkFilterListModel *filtered;
  GtkSortListModel *sorted;
  GtkSingleSelection *selection;
  GtkCustomFilter *filter;
  GtkCustomSorter *sorter;
  gboolean updating_checks;   /* set while the check buttons follow the filter */

  const char *sort_by;        /* one of the sort orders or SORT_CLASS_IOU */
  int sort_class;             /* of SORT_CLASS_IOU */
  int sort_truth;             /* the cell of the "confusion" order */
  int sort_predicted;
  guint32 filter_classes;     /* bit c: class c; 0: all images */
  gboolean match_all;         /* every chosen class, rather than any */
  Focus focus;
  int focus_truth;
  int focus_predicted;
};

enum {
  PROP_0,
  PROP_SORT_BY,
  PROP_FILTER_CLASS,
  PROP_SELECTED_SAMPLE,
  PROP_CONFUSION_TRUTH,
  PROP_CONFUSION_PREDICTED,
  N_PROPS
};

extern GParamSpec *_visage_gallery_properties[N_PROPS];

/* visage-gallery.c: filter or order changed, so refilter or resort and update the labels. */
void _visage_gallery_filter_changed (VisageGallery *self);
void _visage_gallery_sorter_changed (VisageGallery *self);

/* visage-gallery-filters.c: the custom filter's and sorter's functions (user_data: the
 * gallery), and clearing the focus. */
gboolean _visage_gallery_filter_sample (gpointer item, gpointer user_data);
int _visage_gallery_compare_samples (gconstpointer a, gconstpointer b, gpointer user_data);
void _visage_gallery_clear_focus (VisageGallery *self);

G_END_DECLS
