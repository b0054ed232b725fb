/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-train-plot"

#include "config.h"

#include <math.h>
#include <string.h>

#include <cairo-svg.h>
#include <glib/gi18n.h>

#include "visage-format.h"
#include "visage-train-plot.h"

#define MARGIN_LEFT 64.0
#define MARGIN_RIGHT 64.0
#define MARGIN_TOP 40.0
#define MARGIN_BOTTOM 44.0

typedef struct {
  int epoch;
  double train_loss;
  double val_loss;
  double val_miou;
} Point;

typedef struct {
  int epoch;          /* the switch happens after this epoch */
  char optimizer[16];
  double lr;
} Switch;

struct _VisageTrainPlot
{
  GtkWidget parent_instance;

  GArray *points;     /* of Point, by epoch */
  GArray *switches;   /* of Switch, by epoch */
  int hover_epoch;    /* marked in the drawing; 0: none */
};

G_DEFINE_FINAL_TYPE (VisageTrainPlot, visage_train_plot, GTK_TYPE_WIDGET)

/* Series colours (GNOME palette): readable on light and dark backgrounds. */
static const GdkRGBA train_colour = { 0.21, 0.52, 0.89, 1.0 };  /* blue 3 */
static const GdkRGBA val_colour = { 0.90, 0.38, 0.0, 1.0 };     /* orange 4 */
static const GdkRGBA miou_colour = { 0.15, 0.64, 0.41, 1.0 };   /* green 5 */

/* ---- data ------------------------------------------------------------------------------- */

void
visage_train_plot_clear (VisageTrainPlot *self)
{
  g_return_if_fail (VISAGE_IS_TRAIN_PLOT (self));

  g_array_set_size (self->points, 0);
  g_array_set_size (self->switches, 0);
  self->hover_epoch = 0;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
visage_train_plot_add_epoch (VisageTrainPlot *self, int epoch, double train_loss,
                             double val_loss, double val_miou)
{
  Point p = { epoch, train_loss, val_loss, val_miou };

  g_return_if_fail (VISAGE_IS_TRAIN_PLOT (self));

  while (self->points->len > 0
         && g_array_index (self->points, Point, self->points->len - 1).epoch >= epoch)
    g_array_set_size (self->points, self->points->len - 1);
  while (self->switches->len > 0
         && g_array_index (self->switches, Switch, self->switches->len - 1).epoch >= epoch)
    g_array_set_size (self->switches, self->switches->len - 1);
  g_array_append_val (self->points, p);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
visage_train_plot_add_switch (VisageTrainPlot *self, int epoch, const char *optimizer,
                              double lr)
{
  Switch s = { .epoch = epoch, .lr = lr };

  g_return_if_fail (VISAGE_IS_TRAIN_PLOT (self));
  g_return_if_fail (optimizer != NULL);

  g_strlcpy (s.optimizer, optimizer, sizeof s.optimizer);
  g_array_append_val (self->switches, s);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint
visage_train_plot_get_n_points (VisageTrainPlot *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_PLOT (self), 0);

  return self->points->len;
}

gboolean
visage_train_plot_get_epoch (VisageTrainPlot *self, int epoch, double *train_loss,
                             double *val_loss, double *val_miou)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_PLOT (self), FALSE);

  for (guint i = 0; i < self->points->len; i++)
    {
      const Point *p = &g_array_index (self->points, Point, i);

      if (p->epoch == epoch)
        {
          *train_loss = p->train_loss;
          *val_loss = p->val_loss;
          *val_miou = p->val_miou;
          return TRUE;
        }
    }
  return FALSE;
}

guint
visage_train_plot_get_n_switches (VisageTrainPlot *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_PLOT (self), 0);

  return self->switches->len;
}

static int
column_of (char **header, const char *name)
{
  for (int i = 0; header[i] != NULL; i++)
    if (g_str_equal (g_strstrip (header[i]), name))
      return i;
  return -1;
}

static gboolean
parse_double (const char *text, double *out)
{
  char *end;

  *out = g_ascii_strtod (text, &end);
  return end != text && *g_strchug (end) == '\0';
}

gboolean
visage_train_plot_load_log (VisageTrainPlot *self, const char *path, GError **error)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail (VISAGE_IS_TRAIN_PLOT (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  return visage_train_plot_load_log_text (self, text, path, error);
}

/* The rows of a log's text into points and switches (the plot's arrays' types). */
static gboolean
parse_log (const char *text, const char *path, GArray *points, GArray *switches,
           GError **error)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_auto (GStrv) header = NULL;
  int c_epoch, c_phase, c_optimizer, c_lr, c_train, c_val, c_miou, n_columns;
  int previous_phase = -1, previous_epoch = 0;

  if (lines[0] == NULL || *g_strstrip (lines[0]) == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s is empty: not a training log"), path);
      return FALSE;
    }
  header = g_strsplit (lines[0], ",", -1);
  c_epoch = column_of (header, "epoch");
  c_phase = column_of (header, "phase");
  c_optimizer = column_of (header, "optimizer");
  c_lr = column_of (header, "lr");
  c_train = column_of (header, "train_loss");
  c_val = column_of (header, "val_loss");
  c_miou = column_of (header, "val_miou");
  if (c_epoch < 0 || c_phase < 0 || c_optimizer < 0 || c_lr < 0 || c_train < 0 || c_val < 0
      || c_miou < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s is not a training log: its first line names other columns"), path);
      return FALSE;
    }
  /* Every line the engine writes ends: a last line without its end was cut short. */
  if (!g_str_has_suffix (text, "\n"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s is cut short: its last line has no end (a copy not finished?)"),
                   path);
      return FALSE;
    }
  n_columns = MAX (MAX (MAX (c_epoch, c_phase), MAX (c_lr, c_train)),
                   MAX (MAX (c_val, c_miou), c_optimizer)) + 1;
  for (int i = 1; lines[i] != NULL; i++)
    {
      g_auto (GStrv) cells = NULL;
      double epoch, phase, lr, train, val, miou;
      Point p;

      if (*g_strstrip (lines[i]) == '\0')
        continue;
      cells = g_strsplit (lines[i], ",", -1);
      if (g_strv_length (cells) < (guint) n_columns
          || !parse_double (cells[c_epoch], &epoch) || !parse_double (cells[c_phase], &phase)
          || !parse_double (cells[c_lr], &lr) || !parse_double (cells[c_train], &train)
          || !parse_double (cells[c_val], &val) || !parse_double (cells[c_miou], &miou)
          || epoch < 1 || epoch > G_MAXINT || epoch != floor (epoch)
          || (int) epoch <= previous_epoch || !(phase >= 0 && phase <= 1000))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("%s: line %d is not a row of a training log"), path, i + 1);
          return FALSE;
        }
      if (previous_phase >= 0 && (int) phase != previous_phase)
        {
          Switch s = { .epoch = (int) epoch - 1, .lr = lr };

          g_strlcpy (s.optimizer, g_strstrip (cells[c_optimizer]), sizeof s.optimizer);
          g_array_append_val (switches, s);
        }
      previous_phase = (int) phase;
      previous_epoch = (int) epoch;
      p = (Point) { (int) epoch, train, val, miou };
      g_array_append_val (points, p);
    }
  return TRUE;
}

gboolean
visage_train_plot_load_log_text (VisageTrainPlot *self, const char *text, const char *path,
                                 GError **error)
{
  g_autoptr (GArray) points = g_array_new (FALSE, FALSE, sizeof (Point));
  g_autoptr (GArray) switches = g_array_new (FALSE, FALSE, sizeof (Switch));

  g_return_val_if_fail (VISAGE_IS_TRAIN_PLOT (self), FALSE);
  g_return_val_if_fail (text != NULL && path != NULL, FALSE);

  /* Parsed aside first: a bad log leaves the figure as it was. */
  if (!parse_log (text, path, points, switches, error))
    return FALSE;
  visage_train_plot_clear (self);
  g_array_append_vals (self->points, points->data, points->len);
  g_array_append_vals (self->switches, switches->data, switches->len);
  return TRUE;
}

/* ---- drawing ---------------------------------------------------------------------------- */

/* A round step for about n ticks over range: 1, 2 or 5 times a power of ten. */
static double
nice_step (double range, int n)
{
  double raw = range / n, power = pow (10.0, floor (log10 (raw))), f = raw / power;

  if (f <= 1.0)
    return power;
  if (f <= 2.0)
    return 2.0 * power;
  if (f <= 5.0)
    return 5.0 * power;
  return 10.0 * power;
}

static void
set_colour (cairo_t *cr, const GdkRGBA *c, double alpha)
{
  cairo_set_source_rgba (cr, c->red, c->green, c->blue, c->alpha * alpha);
}

/* Draw text with its anchor at (x, y): ax, ay in 0..1 are the anchor's place in the
 * text's box (0, 0 top left). */
static void
draw_text (cairo_t *cr, PangoLayout *layout, const char *text, double x, double y, double ax,
           double ay)
{
  int w, h;

  pango_layout_set_text (layout, text, -1);
  pango_layout_get_pixel_size (layout, &w, &h);
  cairo_move_to (cr, round (x - ax * w), round (y - ay * h));
  pango_cairo_show_layout (cr, layout);
}

static const char *
optimizer_display_name (const char *name)
{
  if (g_str_equal (name, "sgd"))
    return "SGD";
  if (g_str_equal (name, "adam"))
    return "Adam";
  if (g_str_equal (name, "adamw"))
    return "AdamW";
  return name;
}

typedef double (*PointValue) (const Point *p);

static double value_train (const Point *p) { return p->train_loss; }
static double value_val (const Point *p) { return p->val_loss; }
static double value_miou (const Point *p) { return p->val_miou; }

static void
draw_series (VisageTrainPlot *self, cairo_t *cr, PointValue value, double x0, double xscale,
             double y0, double yscale, const GdkRGBA *colour)
{
  gboolean pen_down = FALSE;

  set_colour (cr, colour, 1.0);
  cairo_set_line_width (cr, 2.0);
  cairo_new_path (cr);
  for (guint i = 0; i < self->points->len; i++)
    {
      const Point *p = &g_array_index (self->points, Point, i);
      double v = value (p), x = x0 + p->epoch * xscale, y = y0 - v * yscale;

      if (!isfinite (v))
        {
          pen_down = FALSE;
          continue;
        }
      if (pen_down)
        cairo_line_to (cr, x, y);
      else
        cairo_move_to (cr, x, y);
      pen_down = TRUE;
    }
  cairo_stroke (cr);
  /* Dots while they stay apart. */
  if (self->points->len > 0 && xscale >= 6.0)
    for (guint i = 0; i < self->points->len; i++)
      {
        const Point *p = &g_array_index (self->points, Point, i);
        double v = value (p);

        if (!isfinite (v))
          continue;
        cairo_new_sub_path (cr);
        cairo_arc (cr, x0 + p->epoch * xscale, y0 - v * yscale, 2.5, 0, 2 * G_PI);
        cairo_fill (cr);
      }
}

/* Where the curves go: the plot's rectangle in the picture and its axes' scales. */
typedef struct {
  double width, height;   /* the whole picture */
  double x0, y0;          /* the plot's bottom-left corner */
  double plot_w, plot_h;
  double xmax, xscale;    /* the last epoch shown, and pixels per epoch */
  double loss_max, loss_step, yscale;  /* the loss axis: top, tick step, pixels per unit */
  double miou_scale;      /* pixels for an mIoU of 1 (the full height) */
} Frame;

/* The frame for the points and switches so far: FALSE when the picture is too small. */
static gboolean
frame_init (Frame *f, VisageTrainPlot *self, double width, double height)
{
  double loss_max = 0.0, xmax = 1.0;

  f->width = width;
  f->height = height;
  f->plot_w = width - MARGIN_LEFT - MARGIN_RIGHT;
  f->plot_h = height - MARGIN_TOP - MARGIN_BOTTOM;
  f->x0 = MARGIN_LEFT;
  f->y0 = MARGIN_TOP + f->plot_h;
  if (f->plot_w < 40 || f->plot_h < 40)
    return FALSE;
  for (guint i = 0; i < self->points->len; i++)
    {
      const Point *p = &g_array_index (self->points, Point, i);

      if (isfinite (p->train_loss))
        loss_max = MAX (loss_max, p->train_loss);
      if (isfinite (p->val_loss))
        loss_max = MAX (loss_max, p->val_loss);
      xmax = MAX (xmax, p->epoch);
    }
  for (guint i = 0; i < self->switches->len; i++)
    xmax = MAX (xmax, g_array_index (self->switches, Switch, i).epoch + 1);
  if (loss_max <= 0.0)
    loss_max = 1.0;
  f->loss_step = nice_step (loss_max, 5);
  f->loss_max = ceil (loss_max * 1.05 / f->loss_step) * f->loss_step;
  f->xmax = xmax;
  f->xscale = f->plot_w / xmax;
  f->yscale = f->plot_h / f->loss_max;
  f->miou_scale = f->plot_h;
  return TRUE;
}

/* The grid, the three axes with their ticks and titles, and the frame. */
static void
draw_axes (const Frame *f, cairo_t *cr, PangoLayout *layout, const GdkRGBA *fg)
{
  double step = f->loss_step;
  char buf[64];

  /* Grid and left axis: the loss. */
  cairo_set_line_width (cr, 1.0);
  for (double v = 0.0; v <= f->loss_max + step / 2; v += step)
    {
      double y = round (f->y0 - v * f->yscale) + 0.5;

      set_colour (cr, fg, 0.12);
      cairo_move_to (cr, f->x0, y);
      cairo_line_to (cr, f->x0 + f->plot_w, y);
      cairo_stroke (cr);
      set_colour (cr, fg, 0.8);
      g_snprintf (buf, sizeof buf, "%.*f", step < 0.1 ? 2 : step < 1 ? 1 : 0, v);
      draw_text (cr, layout, buf, f->x0 - 6, y, 1.0, 0.5);
    }
  /* Right axis: mIoU in percent. */
  for (int pct = 0; pct <= 100; pct += 20)
    {
      set_colour (cr, &miou_colour, 1.0);
      g_snprintf (buf, sizeof buf, "%d", pct);
      draw_text (cr, layout, buf, f->x0 + f->plot_w + 6, f->y0 - pct / 100.0 * f->miou_scale,
                 0.0, 0.5);
    }
  /* Bottom axis: epochs. */
  step = MAX (1.0, nice_step (f->xmax, 8));
  set_colour (cr, fg, 0.8);
  for (double e = 0.0; e <= f->xmax + 0.5; e += step)
    {
      g_snprintf (buf, sizeof buf, "%.0f", e);
      draw_text (cr, layout, buf, f->x0 + e * f->xscale, f->y0 + 4, 0.5, 0.0);
    }
  draw_text (cr, layout, _("Epoch"), f->x0 + f->plot_w / 2, f->height - 4, 0.5, 1.0);
  cairo_save (cr);
  cairo_translate (cr, 14, f->y0 - f->plot_h / 2);
  cairo_rotate (cr, -G_PI / 2);
  draw_text (cr, layout, _("Loss"), 0, 0, 0.5, 0.5);
  cairo_restore (cr);
  cairo_save (cr);
  set_colour (cr, &miou_colour, 1.0);
  cairo_translate (cr, f->width - 14, f->y0 - f->plot_h / 2);
  cairo_rotate (cr, G_PI / 2);
  draw_text (cr, layout, _("Validation mIoU (%)"), 0, 0, 0.5, 0.5);
  cairo_restore (cr);
  /* The frame. */
  set_colour (cr, fg, 0.5);
  cairo_rectangle (cr, f->x0 + 0.5, MARGIN_TOP + 0.5, f->plot_w - 1, f->plot_h - 1);
  cairo_stroke (cr);
}

/* The legend, above the plot. */
static void
draw_legend (cairo_t *cr, PangoLayout *layout, const GdkRGBA *fg)
{
  const struct { const GdkRGBA *colour; const char *label; } legend[] = {
    { &train_colour, _("Training loss") },
    { &val_colour, _("Validation loss") },
    { &miou_colour, _("Validation mIoU") },
  };
  double lx = MARGIN_LEFT;

  for (gsize i = 0; i < G_N_ELEMENTS (legend); i++)
    {
      int w, h;

      set_colour (cr, legend[i].colour, 1.0);
      cairo_set_line_width (cr, 2.0);
      cairo_move_to (cr, lx, MARGIN_TOP / 2);
      cairo_line_to (cr, lx + 18, MARGIN_TOP / 2);
      cairo_stroke (cr);
      set_colour (cr, fg, 0.9);
      pango_layout_set_text (layout, legend[i].label, -1);
      pango_layout_get_pixel_size (layout, &w, &h);
      draw_text (cr, layout, legend[i].label, lx + 24, MARGIN_TOP / 2, 0.0, 0.5);
      lx += 24 + w + 18;
    }
}

/* Optimiser switches: a dashed line, labelled with the new rate. */
static void
draw_switches (VisageTrainPlot *self, const Frame *f, cairo_t *cr, PangoLayout *layout,
               const GdkRGBA *fg)
{
  for (guint i = 0; i < self->switches->len; i++)
    {
      const Switch *s = &g_array_index (self->switches, Switch, i);
      double x = round (f->x0 + (s->epoch + 0.5) * f->xscale) + 0.5;
      g_autofree char *label = NULL;
      char lr[G_ASCII_DTOSTR_BUF_SIZE];

      set_colour (cr, fg, 0.6);
      cairo_set_line_width (cr, 1.0);
      cairo_set_dash (cr, (const double[]) { 4.0, 3.0 }, 2, 0.0);
      cairo_move_to (cr, x, MARGIN_TOP);
      cairo_line_to (cr, x, f->y0);
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0.0);
      g_ascii_formatd (lr, sizeof lr, "%g", s->lr);
      /* TRANSLATORS: label of an optimiser switch in the convergence plot, e.g.
       * "SGD, lr 0.02" */
      label = g_strdup_printf (_("%s, lr %s"), optimizer_display_name (s->optimizer), lr);
      cairo_save (cr);
      cairo_translate (cr, x + 3, MARGIN_TOP + 4);
      cairo_rotate (cr, G_PI / 2);
      draw_text (cr, layout, label, 0, 0, 0.0, 1.0);
      cairo_restore (cr);
    }
}

void
visage_train_plot_draw (VisageTrainPlot *self, cairo_t *cr, double width, double height,
                        const GdkRGBA *fg)
{
  PangoLayout *layout;
  PangoFontDescription *font;
  Frame f;

  g_return_if_fail (VISAGE_IS_TRAIN_PLOT (self));

  if (!frame_init (&f, self, width, height))
    return;
  layout = pango_cairo_create_layout (cr);
  font = pango_font_description_from_string ("Sans 9");
  pango_layout_set_font_description (layout, font);
  pango_font_description_free (font);

  draw_axes (&f, cr, layout, fg);
  draw_legend (cr, layout, fg);
  /* What follows stays inside the plot. */
  cairo_save (cr);
  cairo_rectangle (cr, f.x0, MARGIN_TOP, f.plot_w, f.plot_h);
  cairo_clip (cr);
  draw_switches (self, &f, cr, layout, fg);
  if (self->hover_epoch > 0)
    {
      /* the hovered epoch, whose figures the tooltip gives */
      set_colour (cr, fg, 0.35);
      cairo_set_line_width (cr, 1.0);
      cairo_move_to (cr, round (f.x0 + self->hover_epoch * f.xscale) + 0.5, MARGIN_TOP);
      cairo_line_to (cr, round (f.x0 + self->hover_epoch * f.xscale) + 0.5, f.y0);
      cairo_stroke (cr);
    }
  if (self->points->len == 0)
    {
      set_colour (cr, fg, 0.6);
      draw_text (cr, layout, _("The curves appear as epochs finish"), f.x0 + f.plot_w / 2,
                 MARGIN_TOP + f.plot_h / 2, 0.5, 0.5);
    }
  draw_series (self, cr, value_train, f.x0, f.xscale, f.y0, f.yscale, &train_colour);
  draw_series (self, cr, value_val, f.x0, f.xscale, f.y0, f.yscale, &val_colour);
  draw_series (self, cr, value_miou, f.x0, f.xscale, f.y0, f.miou_scale, &miou_colour);
  cairo_restore (cr);
  g_object_unref (layout);
}

gboolean
visage_train_plot_export (VisageTrainPlot *self, const char *path, const char *format,
                          int width, int height, GError **error)
{
  static const GdkRGBA black = { 0.0, 0.0, 0.0, 1.0 };
  cairo_surface_t *surface;
  cairo_status_t status;
  gboolean png;
  cairo_t *cr;
  int hover;

  g_return_val_if_fail (VISAGE_IS_TRAIN_PLOT (self), FALSE);
  g_return_val_if_fail (path != NULL && format != NULL, FALSE);

  if (width < 100 || height < 100 || width > 10000 || height > 10000)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A plot of %d × %d is too small or too large"), width, height);
      return FALSE;
    }
  png = g_ascii_strcasecmp (format, "png") == 0;
  if (png)
    surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  else if (g_ascii_strcasecmp (format, "svg") == 0)
    surface = cairo_svg_surface_create (path, width, height);
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Unknown picture format “%s” (choices: png, svg)"), format);
      return FALSE;
    }
  cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1.0, 1.0, 1.0);
  cairo_paint (cr);
  hover = self->hover_epoch;  /* the pointer is no part of the figure */
  self->hover_epoch = 0;
  visage_train_plot_draw (self, cr, width, height, &black);
  self->hover_epoch = hover;
  status = cairo_status (cr);
  cairo_destroy (cr);
  if (status == CAIRO_STATUS_SUCCESS && png)
    status = cairo_surface_write_to_png (surface, path);
  cairo_surface_finish (surface);
  if (status == CAIRO_STATUS_SUCCESS)
    status = cairo_surface_status (surface);
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot write %s: %s"), path,
                   cairo_status_to_string (status));
      return FALSE;
    }
  return TRUE;
}

/* ---- hovering --------------------------------------------------------------------------- */

/* The epoch plotted nearest to x in a picture of the widget's size, within half an epoch's
 * width (at least 8 pixels); NULL when none. */
static const Point *
point_at (VisageTrainPlot *self, double x)
{
  Frame f;
  const Point *nearest = NULL;
  double best = G_MAXDOUBLE;

  if (!frame_init (&f, self, gtk_widget_get_width (GTK_WIDGET (self)),
                   gtk_widget_get_height (GTK_WIDGET (self))))
    return NULL;
  for (guint i = 0; i < self->points->len; i++)
    {
      const Point *p = &g_array_index (self->points, Point, i);
      double d = fabs (f.x0 + p->epoch * f.xscale - x);

      if (d < best)
        {
          best = d;
          nearest = p;
        }
    }
  return best <= MAX (f.xscale / 2.0, 8.0) ? nearest : NULL;
}

static char *
format_loss (double v)
{
  return isfinite (v) ? g_strdup_printf ("%.4f", v) : g_strdup ("–");
}

char *
visage_train_plot_describe_at (VisageTrainPlot *self, double x)
{
  const Point *p;
  g_autofree char *train = NULL, *val = NULL, *miou = NULL;

  g_return_val_if_fail (VISAGE_IS_TRAIN_PLOT (self), NULL);

  if ((p = point_at (self, x)) == NULL)
    return NULL;
  train = format_loss (p->train_loss);
  val = format_loss (p->val_loss);
  miou = visage_format_percent (p->val_miou, 2);
  /* TRANSLATORS: the figures of an epoch under the pointer in the convergence plot */
  return g_strdup_printf (_("Epoch %d\nTraining loss %s\nValidation loss %s\n"
                            "Validation mIoU %s"), p->epoch, train, val, miou);
}

static void
set_hover (VisageTrainPlot *self, int epoch)
{
  if (self->hover_epoch == epoch)
    return;
  self->hover_epoch = epoch;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static gboolean
query_tooltip (GtkWidget *widget, int x, int y, gboolean keyboard, GtkTooltip *tooltip)
{
  VisageTrainPlot *self = VISAGE_TRAIN_PLOT (widget);
  g_autofree char *text = visage_train_plot_describe_at (self, x);
  const Point *p = point_at (self, x);

  set_hover (self, p != NULL ? p->epoch : 0);
  if (text == NULL)
    return FALSE;
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

static void
pointer_left (VisageTrainPlot *self)
{
  set_hover (self, 0);
}

/* ---- GtkWidget -------------------------------------------------------------------------- */

static void
visage_train_plot_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  VisageTrainPlot *self = VISAGE_TRAIN_PLOT (widget);
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  GdkRGBA fg;
  cairo_t *cr;

  if (width <= 0 || height <= 0)
    return;
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  visage_train_plot_draw (self, cr, width, height, &fg);
  cairo_destroy (cr);
}

static void
visage_train_plot_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                           int *minimum, int *natural, int *minimum_baseline,
                           int *natural_baseline)
{
  *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 320 : 200;
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 640 : 360;
}

static void
visage_train_plot_finalize (GObject *object)
{
  VisageTrainPlot *self = VISAGE_TRAIN_PLOT (object);

  g_array_unref (self->points);
  g_array_unref (self->switches);
  G_OBJECT_CLASS (visage_train_plot_parent_class)->finalize (object);
}

static void
visage_train_plot_class_init (VisageTrainPlotClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = visage_train_plot_finalize;
  widget_class->snapshot = visage_train_plot_snapshot;
  widget_class->measure = visage_train_plot_measure;
  widget_class->query_tooltip = query_tooltip;
  gtk_widget_class_set_css_name (widget_class, "visage-train-plot");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
visage_train_plot_init (VisageTrainPlot *self)
{
  GtkEventController *motion;

  self->points = g_array_new (FALSE, FALSE, sizeof (Point));
  self->switches = g_array_new (FALSE, FALSE, sizeof (Switch));
  motion = gtk_event_controller_motion_new ();
  g_signal_connect_swapped (motion, "leave", G_CALLBACK (pointer_left), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);
}

GtkWidget *
visage_train_plot_new (void)
{
  return g_object_new (VISAGE_TYPE_TRAIN_PLOT, NULL);
}
