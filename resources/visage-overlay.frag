/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The overlay's fragment shader (ui/visage-overlay-area.c prepends the GLSL version line).
 * Coordinates as that file says: a framebuffer pixel maps to content point
 * center + (frag - view_size / 2) / scale; side by side, the second pane (the prediction's)
 * is offset by `pane`, across or down.
 * mode: 0 ground truth, 1 prediction, 2 errors, 3 side by side (see VisageOverlayMode). */
uniform sampler2D photo;
uniform sampler2D truth;
uniform sampler2D prediction;
uniform vec3 palette[19];
uniform float visible[19];
uniform float opacity;
uniform int mode;
uniform int has_truth;
uniform int has_prediction;
uniform vec2 view_size;
uniform vec2 center;
uniform float scale;
uniform vec2 image_size;
uniform vec3 background;
uniform ivec2 highlight;
uniform int outline;
uniform vec2 pane;
out vec4 frag_color;

int class_at (sampler2D map, ivec2 p)
{
  return int (texelFetch (map, p, 0).r * 255.0 + 0.5);
}

int class_near (sampler2D map, vec2 content)
{
  ivec2 last = ivec2 (image_size) - 1;
  return class_at (map, clamp (ivec2 (floor (content)), ivec2 (0), last));
}

/* A neighbour a pixel away (at least 1.5 view pixels when zoomed out) is of another
 * class: the outline of class c's region. */
bool on_edge (sampler2D map, vec2 content, int c)
{
  float d = max (1.0, 1.5 / scale);
  return class_near (map, content + vec2 (d, 0.0)) != c
         || class_near (map, content - vec2 (d, 0.0)) != c
         || class_near (map, content + vec2 (0.0, d)) != c
         || class_near (map, content - vec2 (0.0, d)) != c;
}

void main ()
{
  vec2 frag = vec2 (gl_FragCoord.x, view_size.y - gl_FragCoord.y);
  vec2 content = center + (frag - 0.5 * view_size) / scale;
  int shown = mode;
  if (mode == 3)
    {
      shown = (pane.x > 0.0 ? content.x >= pane.x : content.y >= pane.y) ? 1 : 0;
      content -= float (shown) * pane;
    }
  if (any (lessThan (content, vec2 (0.0))) || any (greaterThanEqual (content, image_size)))
    {
      frag_color = vec4 (background, 1.0);
      return;
    }
  ivec2 p = ivec2 (floor (content));
  vec3 colour = texture (photo, content / image_size).rgb;
  int t = has_truth != 0 ? class_at (truth, p) : 255;
  int q = has_prediction != 0 ? class_at (prediction, p) : 255;
  float alpha = 0.0;
  vec3 overlay = vec3 (0.0);
  if (shown == 0 && t < 19)
    {
      alpha = visible[t];
      overlay = palette[t];
    }
  else if (shown == 1 && q < 19)
    {
      alpha = visible[q];
      overlay = palette[q];
    }
  else if (shown == 2 && t < 19 && q < 19 && t != q)
    {
      alpha = visible[t] * visible[q];
      overlay = palette[q];
    }
  float strength = opacity;
  if (outline != 0 && shown != 2 && alpha > 0.0)
    {
      /* Outlines only: the photo shows inside the regions, their edges at full colour. */
      bool edge = shown == 0 ? on_edge (truth, content, t) : on_edge (prediction, content, q);
      alpha = edge ? alpha : 0.0;
      strength = 1.0;
    }
  vec3 result = mix (colour, overlay, alpha * strength);
  if (highlight.x >= 0)
    result = t == highlight.x && q == highlight.y
             ? mix (result, vec3 (1.0, 0.0, 1.0), 0.75) : 0.45 * result;
  frag_color = vec4 (result, 1.0);
}
