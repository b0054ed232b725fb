/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The overlay area, drawn by the fragment shader in resources/visage-overlay.frag.
 * Coordinates: "content" is the image in image pixels (side by side, its two panes: the
 * second one offset by `pane`, across or down); the view shows content point `center` at
 * its middle, `scale` framebuffer pixels per image pixel, where zoom 1 fits the content in
 * the view. The fragment shader and pick() map framebuffer pixels to content the same way,
 * so what the status line names is exactly what is drawn under the pointer. */
#define G_LOG_DOMAIN "visage-overlay"

#include "config.h"

#include <math.h>
#include <string.h>

#include <epoxy/gl.h>

#include "vg-classes.h"
#include "visage-classes.h"
#include "visage-overlay-area.h"
#include "visage-resources.h"

#define MIN_ZOOM 0.25
#define MAX_ZOOM 64.0

struct _VisageOverlayArea
{
  GtkGLArea parent_instance;

  /* CPU copies: the status line reads them, and a new GL context re-uploads them. */
  int height;
  int width;
  guint8 *rgb;        /* (height, width, 3), NULL when no image */
  guint8 *truth;      /* (height, width) or NULL */
  guint8 *labels;     /* (height, width) or NULL */
  gboolean photo_dirty;
  gboolean truth_dirty;
  gboolean labels_dirty;

  VisageOverlayMode mode;
  gboolean stacked;       /* side by side, one pane above the other (a tall view) */
  VisagePalette palette;  /* of the display only: saved masks keep the data set's */
  gboolean outline;       /* class regions' edges only */
  float opacity;
  float visible[VG_NUM_CLASSES];  /* 1 shown, 0 hidden */
  int highlight_truth;            /* pixels of this (truth, prediction) pair stand out; */
  int highlight_predicted;        /* -1, -1: none */
  double zoom;
  double center_x;    /* content point at the middle of the view */
  double center_y;

  GLuint program;
  GLuint vao;
  GLuint vbo;
  GLuint textures[3]; /* photo, truth, prediction */
  GLint u_photo, u_truth, u_prediction, u_palette, u_visible, u_opacity, u_mode;
  GLint u_has_truth, u_has_prediction, u_view_size, u_center, u_scale, u_image_size;
  GLint u_background, u_highlight, u_outline, u_pane;

  double pointer_x;   /* widget coordinates of the pointer, when has_pointer */
  double pointer_y;
  gboolean has_pointer;
  double drag_x;      /* offset of the drag so far */
  double drag_y;
  GtkGesture *pan;    /* the drag that moves the image */

  guint n_renders;
  guint n_uploads;
};

G_DEFINE_FINAL_TYPE (VisageOverlayArea, visage_overlay_area, GTK_TYPE_GL_AREA)

enum { VIEW_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

enum { TEX_PHOTO, TEX_TRUTH, TEX_PREDICTION };

static const char vertex_source[] =
  "in vec2 position;\n"
  "void main () { gl_Position = vec4 (position, 0.0, 1.0); }\n";

/* ---- view transform --------------------------------------------------------------------- */

/* Between the panes of side by side: a sliver of the image's extent. */
static int
pane_gap (int extent)
{
  return MAX (2, extent / 40);
}

/* Content offset of the second pane of side by side (the prediction's), else 0, 0. */
static void
pane_offset (VisageOverlayArea *self, double *dx, double *dy)
{
  *dx = *dy = 0.0;
  if (self->mode != VISAGE_OVERLAY_SIDE_BY_SIDE)
    return;
  if (self->stacked)
    *dy = self->height + pane_gap (self->height);
  else
    *dx = self->width + pane_gap (self->width);
}

static double
content_width (VisageOverlayArea *self)
{
  double dx, dy;

  pane_offset (self, &dx, &dy);
  return self->width + dx;
}

static double
content_height (VisageOverlayArea *self)
{
  double dx, dy;

  pane_offset (self, &dx, &dy);
  return self->height + dy;
}

/* Side by side in a view of width x height: the panes one above the other where that
 * shows them larger than across. */
static gboolean
wants_stacked (VisageOverlayArea *self, double width, double height)
{
  double across, down;

  if (self->rgb == NULL || width <= 0 || height <= 0)
    return self->stacked;
  across = MIN (width / (2.0 * self->width + pane_gap (self->width)), height / self->height);
  down = MIN (width / self->width, height / (2.0 * self->height + pane_gap (self->height)));
  return down > across;
}

/* Framebuffer size and framebuffer pixels per image pixel. */
static double
view_scale (VisageOverlayArea *self, double *view_w, double *view_h)
{
  GtkWidget *widget = GTK_WIDGET (self);
  int sf = gtk_widget_get_scale_factor (widget);
  double fit;

  *view_w = (double) gtk_widget_get_width (widget) * sf;
  *view_h = (double) gtk_widget_get_height (widget) * sf;
  if (self->rgb == NULL || *view_w <= 0 || *view_h <= 0)
    return 1.0;
  fit = MIN (*view_w / content_width (self), *view_h / content_height (self));
  return fit * self->zoom;
}

static void
clamp_center (VisageOverlayArea *self)
{
  self->center_x = CLAMP (self->center_x, 0.0, content_width (self));
  self->center_y = CLAMP (self->center_y, 0.0, content_height (self));
}

/* The content, its panes arranged for the view's shape, fitted in the view. */
static void
fit (VisageOverlayArea *self)
{
  GtkWidget *widget = GTK_WIDGET (self);

  self->stacked = wants_stacked (self, gtk_widget_get_width (widget),
                                 gtk_widget_get_height (widget));
  self->zoom = 1.0;
  self->center_x = content_width (self) / 2.0;
  self->center_y = content_height (self) / 2.0;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

static void
view_changed (VisageOverlayArea *self)
{
  g_signal_emit (self, signals[VIEW_CHANGED], 0);
}

void
visage_overlay_area_zoom_fit (VisageOverlayArea *self)
{
  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));

  fit (self);
  view_changed (self);
}

void
visage_overlay_area_zoom_at (VisageOverlayArea *self, double factor, double x, double y)
{
  int sf = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  double view_w, view_h, before, after, fx = x * sf, fy = y * sf;
  double content_x, content_y;

  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));

  before = view_scale (self, &view_w, &view_h);
  content_x = self->center_x + (fx - view_w / 2) / before;
  content_y = self->center_y + (fy - view_h / 2) / before;
  self->zoom = CLAMP (self->zoom * factor, MIN_ZOOM, MAX_ZOOM);
  after = view_scale (self, &view_w, &view_h);
  self->center_x = content_x - (fx - view_w / 2) / after;
  self->center_y = content_y - (fy - view_h / 2) / after;
  clamp_center (self);
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
  view_changed (self);
}

void
visage_overlay_area_pan (VisageOverlayArea *self, double dx, double dy)
{
  int sf = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  double view_w, view_h, scale;

  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));

  scale = view_scale (self, &view_w, &view_h);
  self->center_x -= dx * sf / scale;
  self->center_y -= dy * sf / scale;
  clamp_center (self);
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
  view_changed (self);
}

/* Widget point (x, y) in image pixels, FALSE without an image. Either pane of side by side
 * shows the same pixels: *panel says which pane (0 or 1) the point is in. */
static gboolean
widget_to_image (VisageOverlayArea *self, double x, double y, double *image_x, double *image_y,
                 int *panel)
{
  int sf = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  double view_w, view_h, scale, dx, dy;

  if (self->rgb == NULL)
    return FALSE;
  scale = view_scale (self, &view_w, &view_h);
  *image_x = self->center_x + (x * sf - view_w / 2) / scale;
  *image_y = self->center_y + (y * sf - view_h / 2) / scale;
  pane_offset (self, &dx, &dy);
  *panel = self->mode == VISAGE_OVERLAY_SIDE_BY_SIDE
           && (self->stacked ? *image_y >= dy : *image_x >= dx);
  if (*panel)
    {
      *image_x -= dx;
      *image_y -= dy;
    }
  return TRUE;
}

gboolean
visage_overlay_area_pick (VisageOverlayArea *self, double x, double y, int *image_x,
                          int *image_y, int *panel)
{
  double cx, cy;
  int p;

  g_return_val_if_fail (VISAGE_IS_OVERLAY_AREA (self), FALSE);

  if (!widget_to_image (self, x, y, &cx, &cy, &p) || cx < 0 || cy < 0 || cx >= self->width
      || cy >= self->height)
    return FALSE;
  *image_x = (int) floor (cx);
  *image_y = (int) floor (cy);
  if (panel != NULL)
    *panel = p;
  return TRUE;
}

gboolean
visage_overlay_area_to_image (VisageOverlayArea *self, double x, double y, double *image_x,
                              double *image_y)
{
  int panel;

  g_return_val_if_fail (VISAGE_IS_OVERLAY_AREA (self), FALSE);

  return widget_to_image (self, x, y, image_x, image_y, &panel);
}

void
visage_overlay_area_from_image (VisageOverlayArea *self, double image_x, double image_y,
                                double *x, double *y)
{
  int sf = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  double view_w, view_h, scale;

  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));

  scale = view_scale (self, &view_w, &view_h);
  *x = ((image_x - self->center_x) * scale + view_w / 2) / sf;
  *y = ((image_y - self->center_y) * scale + view_h / 2) / sf;
}

gboolean
visage_overlay_area_get_pane (VisageOverlayArea *self, int pane, graphene_rect_t *rect)
{
  int sf = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  double view_w, view_h, scale, dx, dy, x, y;

  g_return_val_if_fail (VISAGE_IS_OVERLAY_AREA (self), FALSE);
  g_return_val_if_fail (pane == 0 || pane == 1, FALSE);

  if (self->rgb == NULL || (pane == 1 && self->mode != VISAGE_OVERLAY_SIDE_BY_SIDE))
    return FALSE;
  pane_offset (self, &dx, &dy);
  visage_overlay_area_from_image (self, pane * dx, pane * dy, &x, &y);
  scale = view_scale (self, &view_w, &view_h) / sf;
  graphene_rect_init (rect, (float) x, (float) y, (float) (self->width * scale),
                      (float) (self->height * scale));
  return TRUE;
}

void
visage_overlay_area_set_pan_button (VisageOverlayArea *self, guint button)
{
  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));

  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (self->pan), button);
}

const guint8 *
visage_overlay_area_get_labels (VisageOverlayArea *self)
{
  g_return_val_if_fail (VISAGE_IS_OVERLAY_AREA (self), NULL);

  return self->labels;
}

void
visage_overlay_area_set_truth (VisageOverlayArea *self, const guint8 *truth)
{
  size_t n = (size_t) self->height * self->width;

  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));

  if (self->rgb == NULL)
    return;
  if (truth == NULL)
    g_clear_pointer (&self->truth, g_free);
  else if (self->truth != NULL)
    memcpy (self->truth, truth, n);
  else
    self->truth = g_memdup2 (truth, n);
  self->truth_dirty = TRUE;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

void
visage_overlay_area_classes_at (VisageOverlayArea *self, int image_x, int image_y, int *truth,
                                int *predicted)
{
  size_t i;

  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));

  *truth = *predicted = -1;
  if (self->rgb == NULL || image_x < 0 || image_y < 0 || image_x >= self->width
      || image_y >= self->height)
    return;
  i = (size_t) image_y * self->width + image_x;
  if (self->truth != NULL && self->truth[i] < VG_NUM_CLASSES)
    *truth = self->truth[i];
  if (self->labels != NULL && self->labels[i] < VG_NUM_CLASSES)
    *predicted = self->labels[i];
}

/* ---- state ------------------------------------------------------------------------------ */

void
visage_overlay_area_set_image (VisageOverlayArea *self, const guint8 *rgb, const guint8 *truth,
                               const guint8 *labels, int height, int width)
{
  gboolean same_size;
  size_t n = (size_t) height * width;

  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));
  g_return_if_fail (rgb == NULL || (height > 0 && width > 0));

  same_size = self->rgb != NULL && rgb != NULL && height == self->height
              && width == self->width;
  g_clear_pointer (&self->rgb, g_free);
  g_clear_pointer (&self->truth, g_free);
  g_clear_pointer (&self->labels, g_free);
  if (rgb != NULL)
    {
      self->height = height;
      self->width = width;
      self->rgb = g_memdup2 (rgb, n * 3);
      self->truth = truth != NULL ? g_memdup2 (truth, n) : NULL;
      self->labels = labels != NULL ? g_memdup2 (labels, n) : NULL;
    }
  self->photo_dirty = self->truth_dirty = self->labels_dirty = TRUE;
  /* Browsing images of one size keeps the zoom and position, to compare like regions. */
  if (!same_size)
    visage_overlay_area_zoom_fit (self);
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

void
visage_overlay_area_set_mode (VisageOverlayArea *self, VisageOverlayMode mode)
{
  gboolean was_double;

  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));
  g_return_if_fail (mode <= VISAGE_OVERLAY_SIDE_BY_SIDE);

  if (self->mode == mode)
    return;
  was_double = self->mode == VISAGE_OVERLAY_SIDE_BY_SIDE;
  self->mode = mode;
  if (was_double != (mode == VISAGE_OVERLAY_SIDE_BY_SIDE))
    visage_overlay_area_zoom_fit (self);
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

VisageOverlayMode
visage_overlay_area_get_mode (VisageOverlayArea *self)
{
  g_return_val_if_fail (VISAGE_IS_OVERLAY_AREA (self), VISAGE_OVERLAY_TRUTH);

  return self->mode;
}

void
visage_overlay_area_set_opacity (VisageOverlayArea *self, double opacity)
{
  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));

  self->opacity = (float) CLAMP (opacity, 0.0, 1.0);
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

double
visage_overlay_area_get_opacity (VisageOverlayArea *self)
{
  g_return_val_if_fail (VISAGE_IS_OVERLAY_AREA (self), 0.0);

  return self->opacity;
}

void
visage_overlay_area_set_palette (VisageOverlayArea *self, VisagePalette palette)
{
  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));

  self->palette = palette;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

VisagePalette
visage_overlay_area_get_palette (VisageOverlayArea *self)
{
  g_return_val_if_fail (VISAGE_IS_OVERLAY_AREA (self), VISAGE_PALETTE_DATA_SET);

  return self->palette;
}

void
visage_overlay_area_set_outline (VisageOverlayArea *self, gboolean outline)
{
  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));

  self->outline = !!outline;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

gboolean
visage_overlay_area_get_outline (VisageOverlayArea *self)
{
  g_return_val_if_fail (VISAGE_IS_OVERLAY_AREA (self), FALSE);

  return self->outline;
}

void
visage_overlay_area_set_class_visible (VisageOverlayArea *self, int cls, gboolean visible)
{
  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));
  g_return_if_fail (cls >= 0 && cls < VG_NUM_CLASSES);

  self->visible[cls] = visible ? 1.f : 0.f;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

gboolean
visage_overlay_area_get_class_visible (VisageOverlayArea *self, int cls)
{
  g_return_val_if_fail (VISAGE_IS_OVERLAY_AREA (self), FALSE);
  g_return_val_if_fail (cls >= 0 && cls < VG_NUM_CLASSES, FALSE);

  return self->visible[cls] > 0.f;
}

void
visage_overlay_area_set_highlight (VisageOverlayArea *self, int truth, int predicted)
{
  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));
  g_return_if_fail (truth >= -1 && truth < VG_NUM_CLASSES);
  g_return_if_fail (predicted >= -1 && predicted < VG_NUM_CLASSES);

  if (truth < 0 || predicted < 0)
    truth = predicted = -1;
  self->highlight_truth = truth;
  self->highlight_predicted = predicted;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

void
visage_overlay_area_get_highlight (VisageOverlayArea *self, int *truth, int *predicted)
{
  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));

  *truth = self->highlight_truth;
  *predicted = self->highlight_predicted;
}

void
visage_overlay_area_get_counters (VisageOverlayArea *self, guint *n_renders, guint *n_uploads)
{
  g_return_if_fail (VISAGE_IS_OVERLAY_AREA (self));

  *n_renders = self->n_renders;
  *n_uploads = self->n_uploads;
}

/* ---- GL --------------------------------------------------------------------------------- */

static GLuint
compile_shader (GLenum type, const char *header, GBytes *source, GError **error)
{
  GLuint shader = glCreateShader (type);
  gsize size;
  const char *sources[] = { header, g_bytes_get_data (source, &size) };
  GLint lengths[] = { -1, (GLint) size };
  GLint ok = GL_FALSE;

  glShaderSource (shader, 2, sources, lengths);
  glCompileShader (shader);
  glGetShaderiv (shader, GL_COMPILE_STATUS, &ok);
  if (!ok)
    {
      char log[2048] = "";

      glGetShaderInfoLog (shader, sizeof log, NULL, log);
      g_set_error (error, GDK_GL_ERROR, GDK_GL_ERROR_COMPILATION_FAILED,
                   "The overlay shader does not compile: %s", log);
      glDeleteShader (shader);
      return 0;
    }
  return shader;
}

static gboolean
build_program (VisageOverlayArea *self, GError **error)
{
  GdkGLContext *context = gtk_gl_area_get_context (GTK_GL_AREA (self));
  /* The same shader in desktop GLSL 1.50 and GLSL ES 3.00. */
  const char *header = gdk_gl_context_get_use_es (context)
                       ? "#version 300 es\nprecision highp float;\nprecision highp int;\n"
                       : "#version 150\n";
  g_autoptr (GBytes) vertex = g_bytes_new_static (vertex_source, strlen (vertex_source));
  g_autoptr (GBytes) fragment = NULL;
  GLuint vs, fs;
  GLint ok = GL_FALSE;

  visage_resources_ensure ();
  fragment = g_resources_lookup_data ("/io/github/visage/Visage/visage-overlay.frag",
                                      G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (fragment == NULL)
    return FALSE;
  vs = compile_shader (GL_VERTEX_SHADER, header, vertex, error);
  if (vs == 0)
    return FALSE;
  fs = compile_shader (GL_FRAGMENT_SHADER, header, fragment, error);
  if (fs == 0)
    {
      glDeleteShader (vs);
      return FALSE;
    }
  self->program = glCreateProgram ();
  glAttachShader (self->program, vs);
  glAttachShader (self->program, fs);
  glBindAttribLocation (self->program, 0, "position");
  glLinkProgram (self->program);
  glDeleteShader (vs);
  glDeleteShader (fs);
  glGetProgramiv (self->program, GL_LINK_STATUS, &ok);
  if (!ok)
    {
      char log[2048] = "";

      glGetProgramInfoLog (self->program, sizeof log, NULL, log);
      g_set_error (error, GDK_GL_ERROR, GDK_GL_ERROR_LINK_FAILED,
                   "The overlay shader does not link: %s", log);
      glDeleteProgram (self->program);
      self->program = 0;
      return FALSE;
    }

#define LOCATE(field, name) self->field = glGetUniformLocation (self->program, name)
  LOCATE (u_photo, "photo");
  LOCATE (u_truth, "truth");
  LOCATE (u_prediction, "prediction");
  LOCATE (u_palette, "palette");
  LOCATE (u_visible, "visible");
  LOCATE (u_opacity, "opacity");
  LOCATE (u_mode, "mode");
  LOCATE (u_has_truth, "has_truth");
  LOCATE (u_has_prediction, "has_prediction");
  LOCATE (u_view_size, "view_size");
  LOCATE (u_center, "center");
  LOCATE (u_scale, "scale");
  LOCATE (u_image_size, "image_size");
  LOCATE (u_background, "background");
  LOCATE (u_outline, "outline");
  LOCATE (u_highlight, "highlight");
  LOCATE (u_pane, "pane");
#undef LOCATE
  return TRUE;
}

static void
visage_overlay_area_realize (GtkWidget *widget)
{
  VisageOverlayArea *self = VISAGE_OVERLAY_AREA (widget);
  GtkGLArea *area = GTK_GL_AREA (widget);
  g_autoptr (GError) error = NULL;
  /* Two triangles covering the view; the fragment shader does the rest. */
  static const float quad[] = { -1, -1, 1, -1, -1, 1, 1, 1 };

  GTK_WIDGET_CLASS (visage_overlay_area_parent_class)->realize (widget);
  gtk_gl_area_make_current (area);
  if (gtk_gl_area_get_error (area) != NULL)
    {
      g_warning ("No OpenGL for the image view: %s", gtk_gl_area_get_error (area)->message);
      return;
    }
  if (!build_program (self, &error))
    {
      g_warning ("%s", error->message);
      gtk_gl_area_set_error (area, error);
      return;
    }

  glGenVertexArrays (1, &self->vao);
  glBindVertexArray (self->vao);
  glGenBuffers (1, &self->vbo);
  glBindBuffer (GL_ARRAY_BUFFER, self->vbo);
  glBufferData (GL_ARRAY_BUFFER, sizeof quad, quad, GL_STATIC_DRAW);
  glEnableVertexAttribArray (0);
  glVertexAttribPointer (0, 2, GL_FLOAT, GL_FALSE, 0, NULL);
  glBindVertexArray (0);

  glGenTextures (3, self->textures);
  for (int i = 0; i < 3; i++)
    {
      glBindTexture (GL_TEXTURE_2D, self->textures[i]);
      /* Class ids must never be interpolated; the photo is smoothed when shrunk and
       * shows its pixels when enlarged, like the class map over it. */
      glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER,
                       i == TEX_PHOTO ? GL_LINEAR : GL_NEAREST);
      glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
      glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
      glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
    }
  /* A new context has none of the data yet. */
  self->photo_dirty = self->truth_dirty = self->labels_dirty = TRUE;
}

static void
visage_overlay_area_unrealize (GtkWidget *widget)
{
  VisageOverlayArea *self = VISAGE_OVERLAY_AREA (widget);
  GtkGLArea *area = GTK_GL_AREA (widget);

  gtk_gl_area_make_current (area);
  if (gtk_gl_area_get_error (area) == NULL && self->program != 0)
    {
      glDeleteTextures (3, self->textures);
      glDeleteBuffers (1, &self->vbo);
      glDeleteVertexArrays (1, &self->vao);
      glDeleteProgram (self->program);
    }
  memset (self->textures, 0, sizeof self->textures);
  self->vbo = self->vao = self->program = 0;
  GTK_WIDGET_CLASS (visage_overlay_area_parent_class)->unrealize (widget);
}

static void
upload (GLuint texture, GLint internal_format, GLenum format, const guint8 *data, int width,
        int height)
{
  glBindTexture (GL_TEXTURE_2D, texture);
  glPixelStorei (GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D (GL_TEXTURE_2D, 0, internal_format, width, height, 0, format, GL_UNSIGNED_BYTE,
                data);
}

/* A class map (width x height), or where there is none a 1x1 "no class" texture: every
 * sampler stays complete. */
static void
upload_labels (GLuint texture, const guint8 *labels, int width, int height)
{
  static const guint8 none = 255;

  if (labels != NULL)
    upload (texture, GL_R8, GL_RED, labels, width, height);
  else
    upload (texture, GL_R8, GL_RED, &none, 1, 1);
}

static void
upload_dirty (VisageOverlayArea *self)
{
  gboolean any = FALSE;

  if (self->photo_dirty && self->rgb != NULL)
    {
      upload (self->textures[TEX_PHOTO], GL_RGB8, GL_RGB, self->rgb, self->width,
              self->height);
      any = TRUE;
    }
  if (self->truth_dirty)
    {
      upload_labels (self->textures[TEX_TRUTH], self->truth, self->width, self->height);
      any = TRUE;
    }
  if (self->labels_dirty)
    {
      upload_labels (self->textures[TEX_PREDICTION], self->labels, self->width, self->height);
      any = TRUE;
    }
  self->photo_dirty = self->truth_dirty = self->labels_dirty = FALSE;
  self->n_uploads += any;
}

static void
draw (VisageOverlayArea *self)
{
  float palette[VG_NUM_CLASSES * 3];
  double view_w, view_h, scale, dx, dy;
  /* libadwaita's dark view background, so the image stands out in either style. */
  static const float background[3] = { 0.14f, 0.14f, 0.14f };

  self->n_renders++;
  if (self->program == 0 || self->rgb == NULL)
    {
      glClearColor (background[0], background[1], background[2], 1.f);
      glClear (GL_COLOR_BUFFER_BIT);
      return;
    }
  upload_dirty (self);
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    for (int k = 0; k < 3; k++)
      palette[c * 3 + k] = visage_palette_rgb (self->palette, c)[k] / 255.f;
  scale = view_scale (self, &view_w, &view_h);

  glDisable (GL_BLEND);
  glUseProgram (self->program);
  for (int i = 0; i < 3; i++)
    {
      glActiveTexture (GL_TEXTURE0 + i);
      glBindTexture (GL_TEXTURE_2D, self->textures[i]);
    }
  glUniform1i (self->u_photo, TEX_PHOTO);
  glUniform1i (self->u_truth, TEX_TRUTH);
  glUniform1i (self->u_prediction, TEX_PREDICTION);
  glUniform3fv (self->u_palette, VG_NUM_CLASSES, palette);
  glUniform1fv (self->u_visible, VG_NUM_CLASSES, self->visible);
  glUniform1f (self->u_opacity, self->opacity);
  glUniform1i (self->u_mode, self->mode);
  glUniform1i (self->u_has_truth, self->truth != NULL);
  glUniform1i (self->u_has_prediction, self->labels != NULL);
  glUniform2f (self->u_view_size, (float) view_w, (float) view_h);
  glUniform2f (self->u_center, (float) self->center_x, (float) self->center_y);
  glUniform1f (self->u_scale, (float) scale);
  glUniform2f (self->u_image_size, (float) self->width, (float) self->height);
  glUniform3fv (self->u_background, 1, background);
  glUniform1i (self->u_outline, self->outline);
  glUniform2i (self->u_highlight, self->highlight_truth, self->highlight_predicted);
  pane_offset (self, &dx, &dy);
  glUniform2f (self->u_pane, (float) dx, (float) dy);

  glBindVertexArray (self->vao);
  glDrawArrays (GL_TRIANGLE_STRIP, 0, 4);
  glBindVertexArray (0);
  glActiveTexture (GL_TEXTURE0);
  glUseProgram (0);
}

static gboolean
visage_overlay_area_render (GtkGLArea *area, GdkGLContext *context)
{
  draw (VISAGE_OVERLAY_AREA (area));
  return TRUE;
}

guint8 *
visage_overlay_area_read_pixels (VisageOverlayArea *self, int *width, int *height)
{
  GtkGLArea *area = GTK_GL_AREA (self);
  GtkWidget *widget = GTK_WIDGET (self);
  int sf = gtk_widget_get_scale_factor (widget);
  int w = gtk_widget_get_width (widget) * sf, h = gtk_widget_get_height (widget) * sf;
  g_autofree guint8 *bottom_up = NULL;
  guint8 *pixels;

  g_return_val_if_fail (VISAGE_IS_OVERLAY_AREA (self), NULL);

  if (!gtk_widget_get_realized (widget) || w <= 0 || h <= 0)
    return NULL;
  gtk_gl_area_make_current (area);
  if (gtk_gl_area_get_error (area) != NULL || self->program == 0)
    return NULL;
  gtk_gl_area_attach_buffers (area);
  glViewport (0, 0, w, h);
  draw (self);
  bottom_up = g_malloc ((size_t) w * h * 4);
  glPixelStorei (GL_PACK_ALIGNMENT, 1);
  glReadPixels (0, 0, w, h, GL_RGBA, GL_UNSIGNED_BYTE, bottom_up);
  pixels = g_malloc ((size_t) w * h * 4);
  for (int y = 0; y < h; y++)
    memcpy (pixels + (size_t) y * w * 4, bottom_up + (size_t) (h - 1 - y) * w * 4,
            (size_t) w * 4);
  *width = w;
  *height = h;
  return pixels;
}

/* ---- input ------------------------------------------------------------------------------ */

static void
on_motion (GtkEventControllerMotion *controller, double x, double y, gpointer user_data)
{
  VisageOverlayArea *self = user_data;

  self->pointer_x = x;
  self->pointer_y = y;
  self->has_pointer = TRUE;
}

static void
on_leave (GtkEventControllerMotion *controller, gpointer user_data)
{
  VISAGE_OVERLAY_AREA (user_data)->has_pointer = FALSE;
}

static gboolean
on_scroll (GtkEventControllerScroll *controller, double dx, double dy, gpointer user_data)
{
  VisageOverlayArea *self = user_data;
  GtkWidget *widget = GTK_WIDGET (self);

  /* Zoom about the pointer, so the pixel looked at stays under it. */
  if (self->has_pointer)
    visage_overlay_area_zoom_at (self, pow (1.2, -dy), self->pointer_x, self->pointer_y);
  else
    visage_overlay_area_zoom_at (self, pow (1.2, -dy), gtk_widget_get_width (widget) / 2.0,
                                 gtk_widget_get_height (widget) / 2.0);
  return TRUE;
}

static void
on_drag_begin (GtkGestureDrag *gesture, double x, double y, gpointer user_data)
{
  VisageOverlayArea *self = user_data;

  self->drag_x = self->drag_y = 0.0;
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

static void
on_drag_update (GtkGestureDrag *gesture, double offset_x, double offset_y, gpointer user_data)
{
  VisageOverlayArea *self = user_data;

  visage_overlay_area_pan (self, offset_x - self->drag_x, offset_y - self->drag_y);
  self->drag_x = offset_x;
  self->drag_y = offset_y;
}

/* ---- GObject ---------------------------------------------------------------------------- */

/* A view that changes shape may show the panes of side by side larger the other way. Not
 * "view-changed": the parent, allocating this area, is about to place what it overlays. */
static void
visage_overlay_area_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  VisageOverlayArea *self = VISAGE_OVERLAY_AREA (widget);

  GTK_WIDGET_CLASS (visage_overlay_area_parent_class)->size_allocate (widget, width, height,
                                                                      baseline);
  if (self->mode == VISAGE_OVERLAY_SIDE_BY_SIDE
      && wants_stacked (self, width, height) != self->stacked)
    fit (self);
}

static void
visage_overlay_area_finalize (GObject *object)
{
  VisageOverlayArea *self = VISAGE_OVERLAY_AREA (object);

  g_free (self->rgb);
  g_free (self->truth);
  g_free (self->labels);
  G_OBJECT_CLASS (visage_overlay_area_parent_class)->finalize (object);
}

static void
visage_overlay_area_class_init (VisageOverlayAreaClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkGLAreaClass *area_class = GTK_GL_AREA_CLASS (klass);

  object_class->finalize = visage_overlay_area_finalize;
  widget_class->realize = visage_overlay_area_realize;
  widget_class->unrealize = visage_overlay_area_unrealize;
  widget_class->size_allocate = visage_overlay_area_size_allocate;
  area_class->render = visage_overlay_area_render;
  gtk_widget_class_set_css_name (widget_class, "overlayarea");

  /* The view moved or zoomed, or its panes were arranged again (not when the widget is
   * allocated): what is placed over the image follows. */
  signals[VIEW_CHANGED] = g_signal_new ("view-changed", G_TYPE_FROM_CLASS (klass),
                                        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                        0);
}

static void
visage_overlay_area_init (VisageOverlayArea *self)
{
  GtkEventController *scroll, *motion;
  GtkGesture *drag;

  self->opacity = 0.6f;
  self->zoom = 1.0;
  self->highlight_truth = self->highlight_predicted = -1;
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    self->visible[c] = 1.f;
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);

  scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (GTK_WIDGET (self), scroll);

  motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  drag = gtk_gesture_drag_new ();
  self->pan = drag;
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));
}
