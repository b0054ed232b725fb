/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-confusion"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "vg-classes.h"
#include "visage-classes.h"
#include "visage-confusion-matrix.h"
#include "visage-format.h"

#define MIN_CELL 14.0
#define NATURAL_CELL 30.0
#define LABEL_GAP 6.0
/* The colour bar under the cells: gap, bar, tick marks and their labels. */
#define BAR_GAP 14.0
#define BAR_HEIGHT 12.0
#define TICK 4.0
/* Numbers are drawn in cells at least this wide, at this share of the font size. */
#define NUMBER_MIN_CELL 20.0
#define NUMBER_FONT_SCALE 0.72

struct _VisageConfusionMatrix
{
  GtkWidget parent_instance;

  VgConfusion confusion;
  gboolean has_confusion;
  int selected_truth;      /* -1: none */
  int selected_predicted;
  int hover_truth;         /* -1: none */
  int hover_predicted;
  double label_width;      /* of the longest class name, in pixels */
  double text_height;      /* of one line of the widget's font, in pixels */
  gboolean logarithmic;    /* the colour scale; else linear */
  gboolean show_numbers;   /* each cell's rate written in it */
  /* difference mode: other's rates minus confusion's, on a diverging scale */
  gboolean difference;
  VgConfusion other;
  double max_delta;        /* the largest |rate difference|, the ends of the scale */
};

G_DEFINE_FINAL_TYPE (VisageConfusionMatrix, visage_confusion_matrix, GTK_TYPE_WIDGET)

enum {
  SIGNAL_CELL_SELECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

enum {
  PROP_0,
  PROP_LOGARITHMIC,
  PROP_SHOW_NUMBERS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

double
visage_confusion_matrix_rate (const VgConfusion *confusion, int truth, int predicted)
{
  guint64 row = vg_confusion_truth_pixels (confusion, truth);

  return row > 0 ? (double) confusion->counts[truth][predicted] / (double) row : 0.0;
}

double
visage_confusion_matrix_delta (VisageConfusionMatrix *self, int truth, int predicted)
{
  g_return_val_if_fail (VISAGE_IS_CONFUSION_MATRIX (self), 0.0);

  if (!self->difference)
    return 0.0;
  return visage_confusion_matrix_rate (&self->other, truth, predicted)
         - visage_confusion_matrix_rate (&self->confusion, truth, predicted);
}

/* Whether a cell has anything to draw: pixels, or (difference mode) a difference. */
static gboolean
cell_drawn (VisageConfusionMatrix *self, int t, int p)
{
  if (self->difference)
    return self->other.counts[t][p] != self->confusion.counts[t][p];
  return self->confusion.counts[t][p] > 0;
}

/* Where a cell falls on the colour scale: 0 to 1, or -1 to 1 in difference mode. */
static double
cell_scale (VisageConfusionMatrix *self, int t, int p)
{
  if (self->difference)
    return visage_confusion_matrix_delta (self, t, p) / self->max_delta;
  return visage_confusion_matrix_scale (self->logarithmic,
                                        visage_confusion_matrix_rate (&self->confusion, t, p));
}

double
visage_confusion_matrix_scale (gboolean logarithmic, double rate)
{
  if (rate <= (logarithmic ? VISAGE_CONFUSION_MIN_RATE : 0.0))
    return 0.0;
  if (rate >= 1.0)
    return 1.0;
  if (!logarithmic)
    return rate;
  return (log10 (rate) - log10 (VISAGE_CONFUSION_MIN_RATE)) / -log10 (VISAGE_CONFUSION_MIN_RATE);
}

char *
visage_confusion_matrix_cell_text (double rate)
{
  double percent = 100.0 * rate;

  if (rate <= 0.0)
    return g_strdup ("");
  if (percent >= 9.95)
    return g_strdup_printf ("%.0f", percent);
  if (percent >= 0.095)
    return g_strdup_printf ("%.1f", percent);
  /* TRANSLATORS: a confusion matrix cell with a rate under 0.1% (no % sign: the cells
   * are percentages) */
  return g_strdup (_("<0.1"));
}

/* ---- geometry --------------------------------------------------------------------------- */

static double
measure_labels (VisageConfusionMatrix *self)
{
  if (self->label_width <= 0)
    {
      PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);

      for (int c = 0; c < VG_NUM_CLASSES; c++)
        {
          int w, h;

          pango_layout_set_text (layout, visage_class_display_name (c), -1);
          pango_layout_get_pixel_size (layout, &w, &h);
          self->label_width = MAX (self->label_width, w);
          self->text_height = MAX (self->text_height, h);
        }
      g_object_unref (layout);
    }
  return self->label_width + LABEL_GAP;
}

/* The height of the colour bar and its tick labels under the cells. */
static double
bar_height (VisageConfusionMatrix *self)
{
  measure_labels (self);
  return BAR_GAP + BAR_HEIGHT + TICK + self->text_height;
}

/* The cells' origin and size for the current allocation: row labels on the left, column
 * labels (rotated) on top, square cells. */
static void
cell_geometry (VisageConfusionMatrix *self, double *x0, double *y0, double *cell)
{
  double margin = measure_labels (self);
  double w = gtk_widget_get_width (GTK_WIDGET (self)) - margin;
  double h = gtk_widget_get_height (GTK_WIDGET (self)) - margin - bar_height (self);

  *x0 = margin;
  *y0 = margin;
  *cell = MAX (MIN (w, h) / VG_NUM_CLASSES, 1.0);
}

gboolean
visage_confusion_matrix_cell_at (VisageConfusionMatrix *self, double x, double y, int *truth,
                                 int *predicted)
{
  double x0, y0, cell;
  int col, row;

  g_return_val_if_fail (VISAGE_IS_CONFUSION_MATRIX (self), FALSE);

  cell_geometry (self, &x0, &y0, &cell);
  if (x < x0 || y < y0)
    return FALSE;
  col = (int) floor ((x - x0) / cell);
  row = (int) floor ((y - y0) / cell);
  if (col >= VG_NUM_CLASSES || row >= VG_NUM_CLASSES)
    return FALSE;
  *truth = row;
  *predicted = col;
  return TRUE;
}

void
visage_confusion_matrix_cell_center (VisageConfusionMatrix *self, int truth, int predicted,
                                     double *x, double *y)
{
  double x0, y0, cell;

  g_return_if_fail (VISAGE_IS_CONFUSION_MATRIX (self));

  cell_geometry (self, &x0, &y0, &cell);
  *x = x0 + (predicted + 0.5) * cell;
  *y = y0 + (truth + 0.5) * cell;
}

/* ---- drawing ---------------------------------------------------------------------------- */

/* From a pale blue (the smallest rate shown) to a dark one (every pixel of the row): empty
 * cells stay the background, so any confusion at all stands out. Diverging (difference
 * mode), v runs from -1 (dark blue: far fewer pixels) through a pale grey (0) to 1 (dark
 * orange: far more): blue against orange reads the same for colour-blind eyes. */
static void
scale_color (gboolean diverging, double v, GdkRGBA *out)
{
  static const GdkRGBA low = { 0.78f, 0.87f, 0.97f, 1.f };
  static const GdkRGBA high = { 0.05f, 0.20f, 0.55f, 1.f };
  static const GdkRGBA mid = { 0.93f, 0.93f, 0.93f, 1.f };
  static const GdkRGBA more = { 0.70f, 0.30f, 0.02f, 1.f };
  const GdkRGBA *from = &low, *to = &high;

  if (diverging)
    {
      from = &mid;
      to = v < 0 ? &high : &more;
      v = MIN (fabs (v), 1.0);
    }
  out->red = (float) (from->red + (to->red - from->red) * v);
  out->green = (float) (from->green + (to->green - from->green) * v);
  out->blue = (float) (from->blue + (to->blue - from->blue) * v);
  out->alpha = 1.f;
}

/* Each cell's rate, in white on dark cells and black on pale ones, in a smaller font. */
static void
draw_numbers (VisageConfusionMatrix *self, cairo_t *cr, double x0, double y0, double cell)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);
  PangoFontDescription *font =
    pango_font_description_copy (pango_context_get_font_description (
                                   pango_layout_get_context (layout)));

  pango_font_description_set_size (font, (int) (pango_font_description_get_size (font)
                                                * NUMBER_FONT_SCALE));
  pango_layout_set_font_description (layout, font);
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int p = 0; p < VG_NUM_CLASSES; p++)
      {
        double rate = visage_confusion_matrix_rate (&self->confusion, t, p);
        g_autofree char *text = NULL;
        int w, h;

        if (!cell_drawn (self, t, p))
          continue;
        if (self->difference)
          {
            double delta = visage_confusion_matrix_delta (self, t, p);
            g_autofree char *size = visage_confusion_matrix_cell_text (fabs (delta));

            text = g_strconcat (delta < 0 ? "−" : "+", size, NULL);
          }
        else
          text = visage_confusion_matrix_cell_text (rate);
        pango_layout_set_text (layout, text, -1);
        pango_layout_get_pixel_size (layout, &w, &h);
        if (w > cell - 2)
          continue;
        if (fabs (cell_scale (self, t, p)) > 0.5)
          cairo_set_source_rgb (cr, 1.0, 1.0, 1.0);
        else
          cairo_set_source_rgb (cr, 0.0, 0.0, 0.0);
        cairo_move_to (cr, x0 + (p + 0.5) * cell - w / 2.0, y0 + (t + 0.5) * cell - h / 2.0);
        pango_cairo_show_layout (cr, layout);
      }
  pango_font_description_free (font);
  g_object_unref (layout);
}

/* A tick of the bar: where it stands (0 to 1) and its label. */
static char *
bar_tick (VisageConfusionMatrix *self, int i, double *at)
{
  static const double linear_ticks[] = { 0.0, 0.25, 0.5, 0.75, 1.0 };
  static const double log_ticks[] = { 1e-4, 1e-3, 1e-2, 1e-1, 1.0 };
  const double *ticks = self->logarithmic ? log_ticks : linear_ticks;
  int digits = ticks[i] > 0 && ticks[i] < 0.01 ? 2 : 0;  /* "0.01%", "0%" */

  if (self->difference)
    {
      /* -max, -max/2, 0, +max/2, +max of the rate differences */
      double v = self->max_delta * (i - 2) / 2.0;
      g_autofree char *size = visage_format_percent (fabs (v), fabs (v) < 0.01 ? 2 : 1);

      *at = i / 4.0;
      return g_strconcat (v < 0 ? "−" : v > 0 ? "+" : "", size, NULL);
    }
  *at = visage_confusion_matrix_scale (self->logarithmic, ticks[i]);
  return visage_format_percent (ticks[i], digits);
}

/* The colour bar under the cells, from 0 (or the smallest rate shown) to 100%, with its
 * ticks: every 25% on the linear scale, every power of ten on the logarithmic one; in
 * difference mode from the largest decrease to the largest increase. */
static void
draw_bar (VisageConfusionMatrix *self, cairo_t *cr, const GdkRGBA *fg, double x0, double y,
          double width)
{
  cairo_pattern_t *gradient = cairo_pattern_create_linear (x0, 0, x0 + width, 0);
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);

  for (int i = 0; i <= 10; i++)
    {
      GdkRGBA color;

      scale_color (self->difference, self->difference ? i / 5.0 - 1.0 : i / 10.0, &color);
      cairo_pattern_add_color_stop_rgb (gradient, i / 10.0, color.red, color.green,
                                        color.blue);
    }
  cairo_set_source (cr, gradient);
  cairo_rectangle (cr, x0, y, width, BAR_HEIGHT);
  cairo_fill (cr);
  cairo_pattern_destroy (gradient);

  cairo_set_line_width (cr, 1.0);
  for (int i = 0; i < 5; i++)
    {
      double at;
      g_autofree char *text = bar_tick (self, i, &at);
      double x = x0 + width * at;
      int w, h;

      cairo_set_source_rgba (cr, fg->red, fg->green, fg->blue, 0.75);
      cairo_move_to (cr, floor (x) + 0.5, y + BAR_HEIGHT);
      cairo_line_to (cr, floor (x) + 0.5, y + BAR_HEIGHT + TICK);
      cairo_stroke (cr);
      pango_layout_set_text (layout, text, -1);
      pango_layout_get_pixel_size (layout, &w, &h);
      cairo_move_to (cr, CLAMP (x - w / 2.0, x0 - LABEL_GAP, x0 + width - w + LABEL_GAP),
                     y + BAR_HEIGHT + TICK);
      pango_cairo_show_layout (cr, layout);
    }
  g_object_unref (layout);
}

/* Class names: rows right-aligned on the left, columns rotated on top. */
static void
draw_labels (VisageConfusionMatrix *self, cairo_t *cr, const GdkRGBA *fg, double x0,
             double y0, double cell)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);

  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      int w, h;
      gboolean emphasised = c == self->hover_truth || c == self->selected_truth;

      pango_layout_set_text (layout, visage_class_display_name (c), -1);
      pango_layout_get_pixel_size (layout, &w, &h);
      cairo_set_source_rgba (cr, fg->red, fg->green, fg->blue, emphasised ? 1.0 : 0.75);
      cairo_move_to (cr, x0 - LABEL_GAP - w, y0 + (c + 0.5) * cell - h / 2.0);
      pango_cairo_show_layout (cr, layout);

      emphasised = c == self->hover_predicted || c == self->selected_predicted;
      cairo_save (cr);
      cairo_set_source_rgba (cr, fg->red, fg->green, fg->blue, emphasised ? 1.0 : 0.75);
      cairo_translate (cr, x0 + (c + 0.5) * cell - h / 2.0, y0 - LABEL_GAP);
      cairo_rotate (cr, -G_PI / 2);
      cairo_move_to (cr, 0, 0);
      pango_cairo_show_layout (cr, layout);
      cairo_restore (cr);
    }
  g_object_unref (layout);
}

static void
visage_confusion_matrix_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  VisageConfusionMatrix *self = VISAGE_CONFUSION_MATRIX (widget);
  double x0, y0, cell;
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  GdkRGBA fg;
  cairo_t *cr;

  if (!self->has_confusion || width <= 0 || height <= 0)
    return;
  cell_geometry (self, &x0, &y0, &cell);
  /* gtk_widget_get_color () is GTK 4.10. */
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));

  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int p = 0; p < VG_NUM_CLASSES; p++)
      {
        GdkRGBA color;

        if (!cell_drawn (self, t, p))
          continue;
        scale_color (self->difference, cell_scale (self, t, p), &color);
        gdk_cairo_set_source_rgba (cr, &color);
        cairo_rectangle (cr, x0 + p * cell, y0 + t * cell, cell, cell);
        cairo_fill (cr);
      }
  if (self->show_numbers && cell >= NUMBER_MIN_CELL)
    draw_numbers (self, cr, x0, y0, cell);

  /* Grid, with the diagonal (correct pixels) outlined. */
  cairo_set_line_width (cr, 1.0);
  cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.15);
  for (int i = 0; i <= VG_NUM_CLASSES; i++)
    {
      cairo_move_to (cr, x0 + i * cell + 0.5, y0);
      cairo_line_to (cr, x0 + i * cell + 0.5, y0 + VG_NUM_CLASSES * cell);
      cairo_move_to (cr, x0, y0 + i * cell + 0.5);
      cairo_line_to (cr, x0 + VG_NUM_CLASSES * cell, y0 + i * cell + 0.5);
    }
  cairo_stroke (cr);
  cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.5);
  for (int i = 0; i < VG_NUM_CLASSES; i++)
    cairo_rectangle (cr, x0 + i * cell + 0.5, y0 + i * cell + 0.5, cell - 1, cell - 1);
  cairo_stroke (cr);

  if (self->selected_truth >= 0)
    {
      cairo_set_line_width (cr, 2.5);
      cairo_set_source_rgb (cr, 0.9, 0.3, 0.0);
      cairo_rectangle (cr, x0 + self->selected_predicted * cell + 1.25,
                       y0 + self->selected_truth * cell + 1.25, cell - 2.5, cell - 2.5);
      cairo_stroke (cr);
    }

  draw_labels (self, cr, &fg, x0, y0, cell);
  draw_bar (self, cr, &fg, x0, y0 + VG_NUM_CLASSES * cell + BAR_GAP, VG_NUM_CLASSES * cell);
  cairo_destroy (cr);
}

static void
visage_confusion_matrix_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                                 int *minimum, int *natural, int *minimum_baseline,
                                 int *natural_baseline)
{
  VisageConfusionMatrix *self = VISAGE_CONFUSION_MATRIX (widget);
  double margin = measure_labels (self);

  *minimum = (int) ceil (margin + MIN_CELL * VG_NUM_CLASSES);
  *natural = (int) ceil (margin + NATURAL_CELL * VG_NUM_CLASSES);
  /* Square cells: as tall as wide (the labels take the same margin on both axes), even at
   * the minimum, as a scrolled parent allocates minimum heights; the colour bar under
   * them. */
  if (orientation == GTK_ORIENTATION_VERTICAL)
    {
      if (for_size >= 0)
        *minimum = *natural = MAX (*minimum, MIN (*natural, for_size));
      *minimum += (int) ceil (bar_height (self));
      *natural += (int) ceil (bar_height (self));
    }
}

static GtkSizeRequestMode
visage_confusion_matrix_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

/* ---- input ------------------------------------------------------------------------------ */

static void
set_hover (VisageConfusionMatrix *self, int truth, int predicted)
{
  if (self->hover_truth == truth && self->hover_predicted == predicted)
    return;
  self->hover_truth = truth;
  self->hover_predicted = predicted;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_motion (GtkEventControllerMotion *controller, double x, double y, gpointer user_data)
{
  VisageConfusionMatrix *self = user_data;
  int t, p;

  if (self->has_confusion && visage_confusion_matrix_cell_at (self, x, y, &t, &p))
    set_hover (self, t, p);
  else
    set_hover (self, -1, -1);
}

static void
on_leave (GtkEventControllerMotion *controller, gpointer user_data)
{
  set_hover (VISAGE_CONFUSION_MATRIX (user_data), -1, -1);
}

static void
on_click (GtkGestureClick *gesture, int n_press, double x, double y, gpointer user_data)
{
  VisageConfusionMatrix *self = user_data;
  int t, p;

  if (self->has_confusion && visage_confusion_matrix_cell_at (self, x, y, &t, &p))
    visage_confusion_matrix_select (self, t, p);
}

static gboolean
visage_confusion_matrix_query_tooltip (GtkWidget *widget, int x, int y, gboolean keyboard,
                                       GtkTooltip *tooltip)
{
  VisageConfusionMatrix *self = VISAGE_CONFUSION_MATRIX (widget);
  g_autofree char *count = NULL;
  g_autofree char *text = NULL;
  int t, p;

  if (!self->has_confusion || !visage_confusion_matrix_cell_at (self, x, y, &t, &p))
    return FALSE;
  count = visage_format_count (self->confusion.counts[t][p]);
  if (self->difference)
    {
      g_autofree char *other = visage_format_count (self->other.counts[t][p]);

      /* TRANSLATORS: tooltip of a cell of the difference of two models' confusion
       * matrices: ground-truth class, predicted class, model A's and model B's pixel
       * counts, the difference in percentage points of the ground-truth class's pixels */
      text = g_strdup_printf (_("Ground truth %s, predicted %s\nA: %s pixels, B: %s pixels "
                                "(%+.3g points of %s)"),
                              visage_class_display_name (t), visage_class_display_name (p),
                              count, other, 100.0 * visage_confusion_matrix_delta (self, t, p),
                              visage_class_display_name (t));
      gtk_tooltip_set_text (tooltip, text);
      return TRUE;
    }
  /* TRANSLATORS: tooltip of a confusion matrix cell: ground-truth class, predicted class,
   * pixel count, and the share of the ground-truth class's pixels */
  text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                      "Ground truth %s, predicted %s\n%s pixel, %.3g%% of %s",
                                      "Ground truth %s, predicted %s\n%s pixels, %.3g%% of %s",
                                      self->confusion.counts[t][p]),
                          visage_class_display_name (t), visage_class_display_name (p), count,
                          100.0 * visage_confusion_matrix_rate (&self->confusion, t, p),
                          visage_class_display_name (t));
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

/* ---- API -------------------------------------------------------------------------------- */

GtkWidget *
visage_confusion_matrix_new (void)
{
  return g_object_new (VISAGE_TYPE_CONFUSION_MATRIX, NULL);
}

void
visage_confusion_matrix_set_confusion (VisageConfusionMatrix *self,
                                       const VgConfusion *confusion)
{
  g_return_if_fail (VISAGE_IS_CONFUSION_MATRIX (self));

  self->has_confusion = confusion != NULL;
  if (confusion != NULL)
    self->confusion = *confusion;
  self->difference = FALSE;
  self->selected_truth = self->selected_predicted = -1;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
visage_confusion_matrix_set_difference (VisageConfusionMatrix *self, const VgConfusion *a,
                                        const VgConfusion *b)
{
  g_return_if_fail (VISAGE_IS_CONFUSION_MATRIX (self));
  g_return_if_fail (a != NULL && b != NULL);

  visage_confusion_matrix_set_confusion (self, a);
  self->other = *b;
  self->difference = TRUE;
  self->max_delta = 0.0;
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int p = 0; p < VG_NUM_CLASSES; p++)
      self->max_delta = MAX (self->max_delta, fabs (visage_confusion_matrix_delta (self, t, p)));
  /* A scale for the bar even where nothing differs. */
  self->max_delta = MAX (self->max_delta, VISAGE_CONFUSION_MIN_RATE);
}

gboolean
visage_confusion_matrix_get_difference (VisageConfusionMatrix *self)
{
  g_return_val_if_fail (VISAGE_IS_CONFUSION_MATRIX (self), FALSE);

  return self->difference;
}

void
visage_confusion_matrix_select (VisageConfusionMatrix *self, int truth, int predicted)
{
  g_return_if_fail (VISAGE_IS_CONFUSION_MATRIX (self));
  g_return_if_fail (truth >= -1 && truth < VG_NUM_CLASSES);
  g_return_if_fail (predicted >= -1 && predicted < VG_NUM_CLASSES);

  self->selected_truth = truth;
  self->selected_predicted = predicted;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_signal_emit (self, signals[SIGNAL_CELL_SELECTED], 0, truth, predicted);
}

void
visage_confusion_matrix_set_logarithmic (VisageConfusionMatrix *self, gboolean logarithmic)
{
  g_return_if_fail (VISAGE_IS_CONFUSION_MATRIX (self));

  if (self->logarithmic == !!logarithmic)
    return;
  self->logarithmic = !!logarithmic;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOGARITHMIC]);
}

gboolean
visage_confusion_matrix_get_logarithmic (VisageConfusionMatrix *self)
{
  g_return_val_if_fail (VISAGE_IS_CONFUSION_MATRIX (self), FALSE);

  return self->logarithmic;
}

void
visage_confusion_matrix_set_show_numbers (VisageConfusionMatrix *self, gboolean show_numbers)
{
  g_return_if_fail (VISAGE_IS_CONFUSION_MATRIX (self));

  if (self->show_numbers == !!show_numbers)
    return;
  self->show_numbers = !!show_numbers;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHOW_NUMBERS]);
}

gboolean
visage_confusion_matrix_get_show_numbers (VisageConfusionMatrix *self)
{
  g_return_val_if_fail (VISAGE_IS_CONFUSION_MATRIX (self), FALSE);

  return self->show_numbers;
}

static void
visage_confusion_matrix_get_property (GObject *object, guint prop_id, GValue *value,
                                      GParamSpec *pspec)
{
  VisageConfusionMatrix *self = VISAGE_CONFUSION_MATRIX (object);

  switch (prop_id)
    {
    case PROP_LOGARITHMIC:
      g_value_set_boolean (value, self->logarithmic);
      break;
    case PROP_SHOW_NUMBERS:
      g_value_set_boolean (value, self->show_numbers);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_confusion_matrix_set_property (GObject *object, guint prop_id, const GValue *value,
                                      GParamSpec *pspec)
{
  VisageConfusionMatrix *self = VISAGE_CONFUSION_MATRIX (object);

  switch (prop_id)
    {
    case PROP_LOGARITHMIC:
      visage_confusion_matrix_set_logarithmic (self, g_value_get_boolean (value));
      break;
    case PROP_SHOW_NUMBERS:
      visage_confusion_matrix_set_show_numbers (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_confusion_matrix_css_changed (GtkWidget *widget, GtkCssStyleChange *change)
{
  /* The font may have changed: measure the labels again. */
  VISAGE_CONFUSION_MATRIX (widget)->label_width = 0;
  VISAGE_CONFUSION_MATRIX (widget)->text_height = 0;
  GTK_WIDGET_CLASS (visage_confusion_matrix_parent_class)->css_changed (widget, change);
  gtk_widget_queue_resize (widget);
}

static void
visage_confusion_matrix_class_init (VisageConfusionMatrixClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = visage_confusion_matrix_get_property;
  object_class->set_property = visage_confusion_matrix_set_property;
  widget_class->snapshot = visage_confusion_matrix_snapshot;
  widget_class->measure = visage_confusion_matrix_measure;
  widget_class->get_request_mode = visage_confusion_matrix_get_request_mode;
  widget_class->query_tooltip = visage_confusion_matrix_query_tooltip;
  widget_class->css_changed = visage_confusion_matrix_css_changed;
  gtk_widget_class_set_css_name (widget_class, "confusionmatrix");

  /* The colour scale: logarithmic (every confusion, however small, stands out) or linear
   * (the default: colours proportional to the rates, as the numbers are). */
  properties[PROP_LOGARITHMIC] =
    g_param_spec_boolean ("logarithmic", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* Each cell's rate in per cent written in it (where the cells are large enough). */
  properties[PROP_SHOW_NUMBERS] =
    g_param_spec_boolean ("show-numbers", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* ::cell-selected (int truth, int predicted): a cell was clicked or selected; -1, -1
   * when the selection was cleared. */
  signals[SIGNAL_CELL_SELECTED] =
    g_signal_new ("cell-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
}

static void
visage_confusion_matrix_init (VisageConfusionMatrix *self)
{
  GtkEventController *motion = gtk_event_controller_motion_new ();
  GtkGesture *click = gtk_gesture_click_new ();

  self->selected_truth = self->selected_predicted = -1;
  self->hover_truth = self->hover_predicted = -1;
  self->show_numbers = TRUE;
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);

  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);
  g_signal_connect (click, "released", G_CALLBACK (on_click), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));
}
