/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The editable mask: tools, strokes as differences, undo and redo. */
#define G_LOG_DOMAIN "visage-data"

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vg-classes.h"
#include "vg-image.h"
#include "vg-mask-edit.h"

/* Strokes kept for undo; older ones are dropped (their changes stay in the mask). */
#define MAX_STROKES 256

typedef struct {
  guint64 id;        /* the state this stroke leads to */
  VgMaskChange *changes;
  size_t n;
} Stroke;

struct _VgMaskEdit
{
  uint8_t *data;     /* (height, width) */
  int height;
  int width;
  int protect;       /* -1 or the only class that may be painted over */

  /* The open stroke: each pixel it touches is listed once, with its class before. */
  gboolean in_stroke;
  guint32 serial;    /* of the open stroke */
  guint32 *touched;  /* (height, width) serial of the last stroke that listed the pixel */
  GArray *pending;   /* of VgMaskChange (after is filled when the stroke ends) */

  GPtrArray *undo;   /* of Stroke *, oldest first */
  GPtrArray *redo;   /* of Stroke *, the next to redo last */
  guint64 next_id;
  guint64 base_id;   /* the state under the oldest stroke kept */
  guint64 saved_id;
};

static void
stroke_free (gpointer data)
{
  Stroke *stroke = data;

  g_free (stroke->changes);
  g_free (stroke);
}

VgMaskEdit *
vg_mask_edit_new (const uint8_t *mask, int height, int width, GError **error)
{
  VgMaskEdit *self;
  size_t n;

  if (height <= 0 || width <= 0 || (gint64) height * width > G_MAXINT32)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID,
                   "cannot edit a mask of %d x %d pixels", width, height);
      return NULL;
    }
  n = (size_t) height * width;
  if (mask != NULL && !vg_mask_check (mask, n, width, "mask to edit", error))
    return NULL;
  self = g_new0 (VgMaskEdit, 1);
  self->height = height;
  self->width = width;
  self->protect = -1;
  self->data = mask != NULL ? g_memdup2 (mask, n) : g_malloc0 (n);
  self->touched = g_new0 (guint32, n);
  self->pending = g_array_new (FALSE, FALSE, sizeof (VgMaskChange));
  self->undo = g_ptr_array_new_with_free_func (stroke_free);
  self->redo = g_ptr_array_new_with_free_func (stroke_free);
  self->next_id = 1;
  return self;
}

void
vg_mask_edit_free (VgMaskEdit *self)
{
  if (self == NULL)
    return;
  g_free (self->data);
  g_free (self->touched);
  g_array_unref (self->pending);
  g_ptr_array_unref (self->undo);
  g_ptr_array_unref (self->redo);
  g_free (self);
}

const uint8_t *
vg_mask_edit_get_data (const VgMaskEdit *self)
{
  return self->data;
}

int
vg_mask_edit_get_height (const VgMaskEdit *self)
{
  return self->height;
}

int
vg_mask_edit_get_width (const VgMaskEdit *self)
{
  return self->width;
}

int
vg_mask_edit_get (const VgMaskEdit *self, int x, int y)
{
  if (x < 0 || y < 0 || x >= self->width || y >= self->height)
    return -1;
  return self->data[(size_t) y * self->width + x];
}

void
vg_mask_edit_set_protect (VgMaskEdit *self, int cls)
{
  self->protect = cls >= 0 && cls < VG_NUM_CLASSES ? cls : -1;
}

int
vg_mask_edit_get_protect (const VgMaskEdit *self)
{
  return self->protect;
}

/* ---- strokes ---------------------------------------------------------------------------- */

static guint64
current_id (const VgMaskEdit *self)
{
  if (self->undo->len == 0)
    return self->base_id;
  return ((Stroke *) g_ptr_array_index (self->undo, self->undo->len - 1))->id;
}

void
vg_mask_edit_begin (VgMaskEdit *self)
{
  if (self->in_stroke)
    return;
  self->in_stroke = TRUE;
  if (++self->serial == 0)
    {
      /* After 2^32 strokes the stamps start over. */
      memset (self->touched, 0, (size_t) self->height * self->width * sizeof (guint32));
      self->serial = 1;
    }
  g_array_set_size (self->pending, 0);
}

gboolean
vg_mask_edit_in_stroke (const VgMaskEdit *self)
{
  return self->in_stroke;
}

static int
compare_change (const void *pa, const void *pb)
{
  const VgMaskChange *a = pa, *b = pb;

  return (a->index > b->index) - (a->index < b->index);
}

gboolean
vg_mask_edit_end (VgMaskEdit *self)
{
  Stroke *stroke;
  size_t kept = 0;

  if (!self->in_stroke)
    return FALSE;
  self->in_stroke = FALSE;
  /* A pixel painted and painted back within the stroke is no change. */
  for (guint i = 0; i < self->pending->len; i++)
    {
      VgMaskChange c = g_array_index (self->pending, VgMaskChange, i);

      c.after = self->data[c.index];
      if (c.after != c.before)
        g_array_index (self->pending, VgMaskChange, kept++) = c;
    }
  if (kept == 0)
    return FALSE;
  stroke = g_new0 (Stroke, 1);
  stroke->id = self->next_id++;
  stroke->n = kept;
  stroke->changes = g_memdup2 (self->pending->data, kept * sizeof (VgMaskChange));
  qsort (stroke->changes, kept, sizeof (VgMaskChange), compare_change);
  if (kept * sizeof (VgMaskChange) > (1 << 20))
    {
      /* Give back a large stroke's buffer. */
      g_array_unref (self->pending);
      self->pending = g_array_new (FALSE, FALSE, sizeof (VgMaskChange));
    }
  else
    g_array_set_size (self->pending, 0);
  g_ptr_array_set_size (self->redo, 0);
  g_ptr_array_add (self->undo, stroke);
  if (self->undo->len > MAX_STROKES)
    {
      self->base_id = ((Stroke *) g_ptr_array_index (self->undo, 0))->id;
      g_ptr_array_remove_index (self->undo, 0);
    }
  return TRUE;
}

/* Set pixel index to cls within the open stroke; 1 if it changed. */
static inline int
set_pixel (VgMaskEdit *self, size_t index, uint8_t cls, gboolean protect)
{
  uint8_t old = self->data[index];

  if (old == cls || (protect && self->protect >= 0 && old != self->protect))
    return 0;
  if (self->touched[index] != self->serial)
    {
      VgMaskChange c = { (uint32_t) index, old, 0 };

      self->touched[index] = self->serial;
      g_array_append_val (self->pending, c);
    }
  self->data[index] = cls;
  return 1;
}

/* A tool outside a stroke is a stroke of its own. */
#define TOOL_BEGIN(self) gboolean own_stroke = !(self)->in_stroke; \
  if (own_stroke) vg_mask_edit_begin (self)
#define TOOL_END(self) if (own_stroke) vg_mask_edit_end (self)

static gboolean
valid_class (int cls)
{
  return cls >= 0 && cls < VG_NUM_CLASSES;
}

int
vg_mask_edit_brush (VgMaskEdit *self, double x0, double y0, double x1, double y1,
                    double radius, int cls)
{
  double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy, r2 = radius * radius;
  int xa, xb, ya, yb, changed = 0;

  if (!valid_class (cls) || !(radius >= 0) || !isfinite (radius) || !isfinite (x0)
      || !isfinite (y0) || !isfinite (x1) || !isfinite (y1))
    return -1;
  /* Pixels whose centre can be within radius: the segment's box grown by radius. */
  xa = (int) MAX (floor (MIN (x0, x1) - radius - 0.5), 0.0);
  xb = (int) MIN (ceil (MAX (x0, x1) + radius - 0.5), (double) self->width - 1);
  ya = (int) MAX (floor (MIN (y0, y1) - radius - 0.5), 0.0);
  yb = (int) MIN (ceil (MAX (y0, y1) + radius - 0.5), (double) self->height - 1);
  if (xa > xb || ya > yb)
    return 0;

  TOOL_BEGIN (self);
  for (int y = ya; y <= yb; y++)
    for (int x = xa; x <= xb; x++)
      {
        double px = x + 0.5 - x0, py = y + 0.5 - y0, t = 0.0, ex, ey;

        /* Distance from the centre to the nearest point of the segment. */
        if (len2 > 0)
          t = CLAMP ((px * dx + py * dy) / len2, 0.0, 1.0);
        ex = px - t * dx;
        ey = py - t * dy;
        if (ex * ex + ey * ey <= r2)
          changed += set_pixel (self, (size_t) y * self->width + x, (uint8_t) cls, TRUE);
      }
  TOOL_END (self);
  return changed;
}

int
vg_mask_edit_erase (VgMaskEdit *self, double x0, double y0, double x1, double y1,
                    double radius)
{
  return vg_mask_edit_brush (self, x0, y0, x1, y1, radius, VG_CLASS_BACKGROUND);
}

/* The 4-connected region of the class of (x, y), set to cls. */
static int
fill_region (VgMaskEdit *self, int x, int y, uint8_t cls)
{
  size_t W = self->width, n_stack = 0, capacity = 1024;
  g_autofree uint32_t *stack = NULL;
  uint8_t from = self->data[(size_t) y * W + x];
  int changed = 0;

  /* Protection refuses every pixel of another class: nothing to do. */
  if (from == cls || (self->protect >= 0 && from != self->protect))
    return 0;
  stack = g_new (uint32_t, capacity);
  stack[n_stack++] = (uint32_t) ((size_t) y * W + x);
  changed += set_pixel (self, (size_t) y * W + x, cls, TRUE);
  while (n_stack > 0)
    {
      uint32_t i = stack[--n_stack];
      int px = (int) (i % W), py = (int) (i / W);
      const int nx[4] = { px - 1, px + 1, px, px };
      const int ny[4] = { py, py, py - 1, py + 1 };

      for (int k = 0; k < 4; k++)
        {
          size_t j;

          if (nx[k] < 0 || ny[k] < 0 || nx[k] >= self->width || ny[k] >= self->height)
            continue;
          j = (size_t) ny[k] * W + nx[k];
          if (self->data[j] != from)
            continue;
          /* Painted when pushed, so no pixel is pushed twice. */
          changed += set_pixel (self, j, cls, TRUE);
          if (n_stack == capacity)
            {
              capacity *= 2;
              stack = g_renew (uint32_t, stack, capacity);
            }
          stack[n_stack++] = (uint32_t) j;
        }
    }
  return changed;
}

/* fill_region as a tool: nothing outside the mask, a stroke of its own outside one. */
static int
fill_tool (VgMaskEdit *self, int x, int y, int cls)
{
  int changed;

  if (x < 0 || y < 0 || x >= self->width || y >= self->height)
    return 0;
  TOOL_BEGIN (self);
  changed = fill_region (self, x, y, (uint8_t) cls);
  TOOL_END (self);
  return changed;
}

int
vg_mask_edit_flood_fill (VgMaskEdit *self, int x, int y, int cls)
{
  if (!valid_class (cls))
    return -1;
  return fill_tool (self, x, y, cls);
}

int
vg_mask_edit_swap_region (VgMaskEdit *self, int x, int y)
{
  int cls = vg_mask_edit_get (self, x, y), mirror;

  if (cls < 0)
    return 0;
  mirror = vg_class_mirror (cls);
  if (mirror == cls)
    return 0;
  return fill_tool (self, x, y, mirror);
}

int
vg_mask_edit_swap_all (VgMaskEdit *self)
{
  size_t n = (size_t) self->height * self->width;
  int changed = 0;

  TOOL_BEGIN (self);
  for (size_t i = 0; i < n; i++)
    changed += set_pixel (self, i, (uint8_t) vg_class_mirror (self->data[i]), TRUE);
  TOOL_END (self);
  return changed;
}

static int
compare_double (const void *pa, const void *pb)
{
  double a = *(const double *) pa, b = *(const double *) pb;

  return (a > b) - (a < b);
}

int
vg_mask_edit_polygon_fill (VgMaskEdit *self, const double *xy, int n, int cls)
{
  g_autofree double *crossings = NULL;
  double ymin = G_MAXDOUBLE, ymax = -G_MAXDOUBLE;
  int changed = 0, ya, yb;

  if (!valid_class (cls) || xy == NULL || n < 3)
    return -1;
  for (int k = 0; k < 2 * n; k++)
    if (!isfinite (xy[k]))
      return -1;
  for (int k = 0; k < n; k++)
    {
      ymin = MIN (ymin, xy[2 * k + 1]);
      ymax = MAX (ymax, xy[2 * k + 1]);
    }
  ya = (int) MAX (floor (ymin - 0.5), 0.0);
  yb = (int) MIN (ceil (ymax - 0.5), (double) self->height - 1);
  crossings = g_new (double, n);

  TOOL_BEGIN (self);
  for (int y = ya; y <= yb; y++)
    {
      double yc = y + 0.5;
      int m = 0;

      /* Where the row through the pixel centres crosses each edge; an edge counts when
       * its ends lie on either side (half-open, so a vertex on the row counts once). */
      for (int k = 0; k < n; k++)
        {
          double xa = xy[2 * k], ya_ = xy[2 * k + 1];
          double xb = xy[2 * ((k + 1) % n)], yb_ = xy[2 * ((k + 1) % n) + 1];

          if ((ya_ <= yc) != (yb_ <= yc))
            crossings[m++] = xa + (yc - ya_) * (xb - xa) / (yb_ - ya_);
        }
      qsort (crossings, m, sizeof (double), compare_double);
      /* Even-odd: between the 1st and 2nd crossing, the 3rd and 4th, ... */
      for (int k = 0; k + 1 < m; k += 2)
        {
          /* Pixels whose centre x + 0.5 lies in [crossings[k], crossings[k + 1]). */
          double from = ceil (crossings[k] - 0.5), to = ceil (crossings[k + 1] - 0.5) - 1;
          int x0 = (int) MAX (from, 0.0), x1 = (int) MIN (to, (double) self->width - 1);

          for (int x = x0; x <= x1; x++)
            changed += set_pixel (self, (size_t) y * self->width + x, (uint8_t) cls, TRUE);
        }
    }
  TOOL_END (self);
  return changed;
}

int
vg_mask_edit_replace (VgMaskEdit *self, const uint8_t *mask)
{
  size_t n = (size_t) self->height * self->width;
  int changed = 0;

  if (mask == NULL || !vg_mask_check (mask, n, self->width, "replacement mask", NULL))
    return -1;
  TOOL_BEGIN (self);
  for (size_t i = 0; i < n; i++)
    changed += set_pixel (self, i, mask[i], FALSE);
  TOOL_END (self);
  return changed;
}

/* ---- undo and redo ---------------------------------------------------------------------- */

/* Undo (from the undo stack to the redo stack, writing each pixel's value before the
 * stroke) or redo (the other way, writing its value after); an open stroke ends first.
 * FALSE when there is nothing to move. */
static gboolean
move_stroke (VgMaskEdit *self, gboolean redo)
{
  GPtrArray *from = redo ? self->redo : self->undo, *to = redo ? self->undo : self->redo;
  Stroke *stroke;

  vg_mask_edit_end (self);
  if (from->len == 0)
    return FALSE;
  stroke = g_ptr_array_steal_index (from, from->len - 1);
  for (size_t k = 0; k < stroke->n; k++)
    self->data[stroke->changes[k].index] = redo ? stroke->changes[k].after
                                                : stroke->changes[k].before;
  g_ptr_array_add (to, stroke);
  return TRUE;
}

gboolean
vg_mask_edit_undo (VgMaskEdit *self)
{
  return move_stroke (self, FALSE);
}

gboolean
vg_mask_edit_redo (VgMaskEdit *self)
{
  return move_stroke (self, TRUE);
}

gboolean
vg_mask_edit_can_undo (const VgMaskEdit *self)
{
  return self->undo->len > 0 || (self->in_stroke && self->pending->len > 0);
}

gboolean
vg_mask_edit_can_redo (const VgMaskEdit *self)
{
  return self->redo->len > 0;
}

const VgMaskChange *
vg_mask_edit_last_stroke (const VgMaskEdit *self, size_t *n)
{
  Stroke *stroke;

  if (self->undo->len == 0)
    {
      *n = 0;
      return NULL;
    }
  stroke = g_ptr_array_index (self->undo, self->undo->len - 1);
  *n = stroke->n;
  return stroke->changes;
}

size_t
vg_mask_edit_history_bytes (const VgMaskEdit *self)
{
  size_t bytes = 0;

  for (guint i = 0; i < self->undo->len; i++)
    bytes += ((Stroke *) g_ptr_array_index (self->undo, i))->n * sizeof (VgMaskChange);
  for (guint i = 0; i < self->redo->len; i++)
    bytes += ((Stroke *) g_ptr_array_index (self->redo, i))->n * sizeof (VgMaskChange);
  return bytes;
}

void
vg_mask_edit_mark_saved (VgMaskEdit *self)
{
  vg_mask_edit_end (self);
  self->saved_id = current_id (self);
}

gboolean
vg_mask_edit_is_modified (const VgMaskEdit *self)
{
  return current_id (self) != self->saved_id || (self->in_stroke && self->pending->len > 0);
}
