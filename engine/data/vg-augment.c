/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Augmentation and preprocessing of one sample; see vg-augment.h for the pipeline.
 * Shapes: H, W input, Ho, Wo output, N = Ho * Wo pixels, K taps of a resampling filter. */
#define G_LOG_DOMAIN "visage-data"

#include "config.h"

#include <math.h>
#include <string.h>

#include "vg-augment.h"
#include "vg-classes.h"

/* ---- random numbers -------------------------------------------------------------------- */

static uint64_t
splitmix64 (uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t
mix64 (uint64_t x)
{
  return splitmix64 (&x);
}

static inline uint64_t
rotl (uint64_t x, int k)
{
  return (x << k) | (x >> (64 - k));
}

void
vg_rng_seed (VgRng *rng, uint64_t seed)
{
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&seed);
}

uint64_t
vg_rng_next (VgRng *rng)
{
  uint64_t *s = rng->s;
  uint64_t result = rotl (s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

float
vg_rng_uniform (VgRng *rng, float lo, float hi)
{
  /* 24 random bits: every value is exact in a float and u < 1. */
  float u = (float) (vg_rng_next (rng) >> 40) * (1.0f / 16777216.0f);
  return lo + (hi - lo) * u;
}

uint32_t
vg_rng_below (VgRng *rng, uint32_t n)
{
  /* Lemire's multiply-shift; the bias (n / 2^32) is far below anything measurable here. */
  return (uint32_t) (((vg_rng_next (rng) >> 32) * (uint64_t) n) >> 32);
}

/* Normal deviates by the ziggurat method (Marsaglia and Tsang 2000, 128 layers): about
 * 99% of draws cost one 64-bit random number, a multiply and a compare, where Box-Muller
 * needs a log, a square root and a sine per pair; noise on every pixel made that the
 * slowest step of the pipeline. The layer comes from the low 7 bits and the value from
 * the high 32, so the two are independent (Doornik 2005). */
#define ZIG_LAYERS 128
#define ZIG_R 3.442619855899

static uint32_t zig_k[ZIG_LAYERS];  /* fast-path thresholds on |hz| */
static float zig_w[ZIG_LAYERS];     /* hz -> x scale per layer */
static float zig_f[ZIG_LAYERS];     /* exp(-x^2 / 2) at each layer's edge */

static void
normal_tables_init (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      const double m1 = 2147483648.0, v = 9.91256303526217e-3;
      double dn = ZIG_R, tn = ZIG_R;
      double q = v / exp (-0.5 * dn * dn);

      zig_k[0] = (uint32_t) ((dn / q) * m1);
      zig_k[1] = 0;
      zig_w[0] = (float) (q / m1);
      zig_w[ZIG_LAYERS - 1] = (float) (dn / m1);
      zig_f[0] = 1.0f;
      zig_f[ZIG_LAYERS - 1] = (float) exp (-0.5 * dn * dn);
      for (int i = ZIG_LAYERS - 2; i >= 1; i--)
        {
          dn = sqrt (-2.0 * log (v / dn + exp (-0.5 * dn * dn)));
          zig_k[i + 1] = (uint32_t) ((dn / tn) * m1);
          tn = dn;
          zig_f[i] = (float) exp (-0.5 * dn * dn);
          zig_w[i] = (float) (dn / m1);
        }
      g_once_init_leave (&done, 1);
    }
}

/* Uniform in (0, 1], safe for logf. */
static inline float
rng_open_uniform (VgRng *rng)
{
  return (float) ((vg_rng_next (rng) >> 40) + 1) * (1.0f / 16777216.0f);
}

static inline float
rng_normal (VgRng *rng)
{
  for (;;)
    {
      uint64_t bits = vg_rng_next (rng);
      int layer = (int) (bits & (ZIG_LAYERS - 1));
      int32_t hz = (int32_t) (uint32_t) (bits >> 32);
      int64_t ahz = hz < 0 ? -(int64_t) hz : hz;
      float x = hz * zig_w[layer];

      if (ahz < zig_k[layer])
        return x;
      if (layer == 0)
        {
          /* The tail beyond R, by Marsaglia's exponential rejection. */
          float y;
          do
            {
              x = -logf (rng_open_uniform (rng)) * (float) (1.0 / ZIG_R);
              y = -logf (rng_open_uniform (rng));
            }
          while (y + y < x * x);
          return hz > 0 ? (float) ZIG_R + x : -(float) ZIG_R - x;
        }
      /* The wedge between two layers. */
      if (zig_f[layer] + vg_rng_uniform (rng, 0.0f, 1.0f) * (zig_f[layer - 1] - zig_f[layer])
          < expf (-0.5f * x * x))
        return x;
    }
}

float
vg_rng_normal (VgRng *rng)
{
  normal_tables_init ();
  return rng_normal (rng);
}

uint64_t
vg_sample_seed (uint64_t run_seed, int epoch, int index)
{
  uint64_t h = mix64 (run_seed ^ 0x5eed0f5a1e5eedULL);
  h = mix64 (h ^ (uint64_t) (uint32_t) epoch);
  return mix64 (h ^ ((uint64_t) (uint32_t) index << 1));
}

void
vg_epoch_order (int *order, uint64_t run_seed, int epoch, int n)
{
  VgRng rng;

  /* Odd tag: sample seeds use even values in the last step, so the streams differ. */
  vg_rng_seed (&rng, mix64 (vg_sample_seed (run_seed, epoch, 0) ^ 1));
  for (int i = 0; i < n; i++)
    order[i] = i;
  for (int i = n - 1; i > 0; i--)
    {
      int j = (int) vg_rng_below (&rng, (uint32_t) i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
}

/* ---- parameters and draws -------------------------------------------------------------- */

void
vg_augment_params_init (VgAugmentParams *p, gboolean augment)
{
  memset (p, 0, sizeof *p);
  p->augment = augment;
  p->zoom_max = 1.1f;
  p->brightness = 0.25f;
  p->contrast = 0.25f;
  p->saturation = 0.25f;
  p->hue = 0.1f;
  p->blur_p = 0.5f;
  p->blur_sigma_min = 0.1f;
  p->blur_sigma_max = 2.0f;
  p->noise_std = 0.03f;
  for (int c = 0; c < 3; c++)
    {
      p->mean[c] = 0.0f;
      p->std[c] = 1.0f;
    }
}

void
vg_augment_params_set_whitening (VgAugmentParams *p, const double mean[3], const double std[3])
{
  for (int c = 0; c < 3; c++)
    {
      p->mean[c] = (float) mean[c];
      p->std[c] = std[c] > 0 ? (float) std[c] : 1.0f;
    }
}

void
vg_augment_draw (VgAugmentDraw *d, const VgAugmentParams *p, uint64_t seed)
{
  VgRng rng;

  vg_rng_seed (&rng, seed);
  d->zoom = vg_rng_uniform (&rng, 1.0f, MAX (p->zoom_max, 1.0f));
  d->flip = p->hflip && (vg_rng_next (&rng) >> 63);
  d->brightness = vg_rng_uniform (&rng, MAX (1.0f - p->brightness, 0.0f), 1.0f + p->brightness);
  d->contrast = vg_rng_uniform (&rng, MAX (1.0f - p->contrast, 0.0f), 1.0f + p->contrast);
  d->saturation = vg_rng_uniform (&rng, MAX (1.0f - p->saturation, 0.0f), 1.0f + p->saturation);
  d->hue = vg_rng_uniform (&rng, -p->hue, p->hue);
  d->blur = vg_rng_uniform (&rng, 0.0f, 1.0f) < p->blur_p;
  d->blur_sigma = vg_rng_uniform (&rng, p->blur_sigma_min, p->blur_sigma_max);
  d->noise_seed = vg_rng_next (&rng);
}

/* ---- scratch --------------------------------------------------------------------------- */

/* The filter of one axis: output o reads input first[o] .. first[o] + count[o] - 1. */
typedef struct {
  int *first;    /* (n) */
  int *count;    /* (n) */
  float *w;      /* (n, k) normalised weights */
  int k;         /* taps reserved per output */
  size_t cap_first;
  size_t cap_count;
  size_t cap_w;
} AxisFilter;

struct _VgAugmentScratch {
  AxisFilter fy;
  AxisFilter fx;
  float *tmp;          /* (rows, Wo, 3) after the horizontal pass; (Ho, Wo, 3) for blur */
  size_t cap_tmp;
};

static void *
grow (void *p, size_t *cap, size_t need, size_t elem)
{
  if (need <= *cap)
    return p;
  *cap = need;
  return g_realloc (p, need * elem);
}

VgAugmentScratch *
vg_augment_scratch_new (void)
{
  return g_new0 (VgAugmentScratch, 1);
}

static void
axis_filter_clear (AxisFilter *f)
{
  g_free (f->first);
  g_free (f->count);
  g_free (f->w);
}

void
vg_augment_scratch_free (VgAugmentScratch *scratch)
{
  if (scratch == NULL)
    return;
  axis_filter_clear (&scratch->fy);
  axis_filter_clear (&scratch->fx);
  g_free (scratch->tmp);
  g_free (scratch);
}

static float *
scratch_tmp (VgAugmentScratch *s, size_t floats)
{
  s->tmp = grow (s->tmp, &s->cap_tmp, floats, sizeof (float));
  return s->tmp;
}

/* ---- step 1: geometry ------------------------------------------------------------------ */

/* Output o covers input [start + o * scale, start + (o + 1) * scale) with scale = len / n.
 * The filter is a triangle centred there, of half-width max(scale, 1) input pixels: for
 * enlargement this is bilinear interpolation between the two nearest pixel centres
 * (align_corners=False); for reduction it averages every input pixel under the output
 * pixel (antialiasing). Taps outside the image are dropped and the rest renormalised. */
static void
axis_filter_build (AxisFilter *f, double start, double len, gboolean flip, int n_in, int n_out)
{
  double scale = len / n_out;
  double support = MAX (scale, 1.0);

  f->k = (int) ceil (2.0 * support) + 2;
  f->first = grow (f->first, &f->cap_first, n_out, sizeof (int));
  f->count = grow (f->count, &f->cap_count, n_out, sizeof (int));
  f->w = grow (f->w, &f->cap_w, (size_t) n_out * f->k, sizeof (float));
  for (int o = 0; o < n_out; o++)
    {
      int src_o = flip ? n_out - 1 - o : o;
      double center = start + (src_o + 0.5) * scale;
      int lo = MAX ((int) floor (center - support), 0);
      int hi = MIN ((int) ceil (center + support), n_in);
      float *w = f->w + (size_t) o * f->k;
      double total = 0.0;
      int n = 0, first = -1;

      for (int i = lo; i < hi; i++)
        {
          double x = 1.0 - fabs ((i + 0.5 - center) / support);
          if (x <= 0.0)
            continue;
          if (first < 0)
            first = i;
          /* Inside [lo, hi) the positive weights are contiguous. */
          w[i - first] = (float) x;
          total += x;
          n = i - first + 1;
        }
      if (first < 0)
        {
          /* A window entirely off the image: repeat the nearest edge pixel. */
          first = center < 0 ? 0 : n_in - 1;
          w[0] = 1.0f;
          n = 1;
          total = 1.0;
        }
      for (int t = 0; t < n; t++)
        w[t] = (float) (w[t] / total);
      f->first[o] = first;
      f->count[o] = n;
    }
}

void
vg_resample_image (float *out, const uint8_t *image, double y0, double x0, double h, double w,
                   gboolean flip, VgAugmentScratch *scratch, int H, int W, int Ho, int Wo)
{
  AxisFilter *fy = &scratch->fy, *fx = &scratch->fx;
  int row_lo, row_hi;
  float *tmp;

  if (!flip && y0 == 0.0 && x0 == 0.0 && h == H && w == W && Ho == H && Wo == W)
    {
      /* The native size (evaluation): the filter would be the identity. */
      size_t n = (size_t) H * W * 3;
      for (size_t i = 0; i < n; i++)
        out[i] = image[i] * (1.0f / 255.0f);
      return;
    }
  axis_filter_build (fy, y0, h, FALSE, H, Ho);
  axis_filter_build (fx, x0, w, flip, W, Wo);
  row_lo = fy->first[0];
  row_hi = fy->first[Ho - 1] + fy->count[Ho - 1];
  for (int o = 0; o < Ho; o++)
    {
      row_lo = MIN (row_lo, fy->first[o]);
      row_hi = MAX (row_hi, fy->first[o] + fy->count[o]);
    }
  tmp = scratch_tmp (scratch, (size_t) (row_hi - row_lo) * Wo * 3);

  /* Horizontal pass over the rows the vertical filter reads: tmp (rows, Wo, 3). */
  for (int y = row_lo; y < row_hi; y++)
    {
      const uint8_t *src = image + (size_t) y * W * 3;
      float *dst = tmp + (size_t) (y - row_lo) * Wo * 3;
      for (int o = 0; o < Wo; o++)
        {
          const float *wt = fx->w + (size_t) o * fx->k;
          const uint8_t *px = src + (size_t) fx->first[o] * 3;
          float r = 0.0f, g = 0.0f, b = 0.0f;
          for (int t = 0; t < fx->count[o]; t++)
            {
              r += wt[t] * px[3 * t];
              g += wt[t] * px[3 * t + 1];
              b += wt[t] * px[3 * t + 2];
            }
          dst[3 * o] = r;
          dst[3 * o + 1] = g;
          dst[3 * o + 2] = b;
        }
    }
  /* Vertical pass, folding in the 1/255 scaling: out (Ho, Wo, 3). */
  for (int o = 0; o < Ho; o++)
    {
      const float *wt = fy->w + (size_t) o * fy->k;
      float *dst = out + (size_t) o * Wo * 3;
      memset (dst, 0, sizeof (float) * Wo * 3);
      for (int t = 0; t < fy->count[o]; t++)
        {
          const float *src = tmp + (size_t) (fy->first[o] + t - row_lo) * Wo * 3;
          float wv = wt[t] * (1.0f / 255.0f);
          for (int i = 0; i < Wo * 3; i++)
            dst[i] += wv * src[i];
        }
    }
}

/* The input pixel whose centre is nearest to output pixel o's centre. */
static inline int
nearest_index (double start, double scale, int o, int n_in)
{
  int i = (int) floor (start + (o + 0.5) * scale);
  return CLAMP (i, 0, n_in - 1);
}

void
vg_resample_mask (uint8_t *out, const uint8_t *mask, double y0, double x0, double h, double w,
                  gboolean flip, int H, int W, int Ho, int Wo)
{
  uint8_t lut[256];
  double sy = h / Ho, sx = w / Wo;

  for (int v = 0; v < 256; v++)
    lut[v] = (uint8_t) (flip && v < VG_NUM_CLASSES ? vg_class_mirror (v) : v);
  for (int oy = 0; oy < Ho; oy++)
    {
      const uint8_t *src = mask + (size_t) nearest_index (y0, sy, oy, H) * W;
      uint8_t *dst = out + (size_t) oy * Wo;
      for (int ox = 0; ox < Wo; ox++)
        {
          int sx_o = flip ? Wo - 1 - ox : ox;
          dst[ox] = lut[src[nearest_index (x0, sx, sx_o, W)]];
        }
    }
}

/* ---- step 2: colour jitter (torchvision's float formulas) ------------------------------ */

static inline float
clamp01 (float x)
{
  return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
}

static inline float
grey (const float *px)
{
  /* torchvision rgb_to_grayscale (ITU-R 601-2 luma). */
  return 0.2989f * px[0] + 0.587f * px[1] + 0.114f * px[2];
}

/* torchvision's _rgb2hsv, (h + shift) mod 1, _hsv2rgb, with the algebra done once:
 * s * v = max - min, so p = v (1 - s) = min, q = max - (max - min) f and
 * t = min + (max - min) f, and no division by v is needed. Greys have no hue: unchanged.
 * Agrees with torchvision's formulas to float rounding (1e-6). */
static inline void
shift_hue (float *px, float shift)
{
  float r = px[0], g = px[1], b = px[2];
  float maxc = fmaxf (r, fmaxf (g, b));
  float minc = fminf (r, fminf (g, b));
  float cr = maxc - minc;
  float h, h6, f, q, t;
  int sector;

  if (cr == 0.0f)
    return;
  if (maxc == r)
    h = (g - b) / cr;           /* bc - gc */
  else if (maxc == g)
    h = 2.0f + (b - r) / cr;    /* 2 + rc - bc */
  else
    h = 4.0f + (r - g) / cr;    /* 4 + gc - rc */
  h = h * (1.0f / 6.0f) + shift;
  /* h is in (-1.2, 1.2): bring it to [0, 1) without floorf (a libm call without SSE4.1). */
  if (h < 0.0f)
    h += 1.0f;
  if (h < 0.0f)
    h += 1.0f;
  if (h >= 1.0f)
    h -= 1.0f;
  h6 = h * 6.0f;
  sector = (int) h6;
  f = h6 - sector;
  if (sector > 5)
    {
      sector = 5;
      f = 1.0f;
    }
  q = clamp01 (maxc - cr * f);
  t = clamp01 (minc + cr * f);
  switch (sector)
    {
    case 0: px[0] = maxc; px[1] = t; px[2] = minc; break;
    case 1: px[0] = q; px[1] = maxc; px[2] = minc; break;
    case 2: px[0] = minc; px[1] = maxc; px[2] = t; break;
    case 3: px[0] = minc; px[1] = q; px[2] = maxc; break;
    case 4: px[0] = t; px[1] = minc; px[2] = maxc; break;
    default: px[0] = maxc; px[1] = minc; px[2] = q; break;
    }
}

void
vg_color_jitter (float *img, float brightness, float contrast, float saturation, float hue,
                 int N)
{
  double grey_sum = 0.0;
  float mean;

  /* Brightness, and the mean grey of the result that contrast blends towards. */
  for (int i = 0; i < N; i++)
    {
      float *px = img + 3 * i;
      for (int c = 0; c < 3; c++)
        px[c] = clamp01 (px[c] * brightness);
      grey_sum += grey (px);
    }
  mean = (float) (grey_sum / MAX (N, 1));
  for (int i = 0; i < N; i++)
    {
      float *px = img + 3 * i;
      float gr;
      for (int c = 0; c < 3; c++)
        px[c] = clamp01 (contrast * px[c] + (1.0f - contrast) * mean);
      gr = grey (px);
      for (int c = 0; c < 3; c++)
        px[c] = clamp01 (saturation * px[c] + (1.0f - saturation) * gr);
      if (hue != 0.0f)
        shift_hue (px, hue);
    }
}

/* ---- step 3: blur ---------------------------------------------------------------------- */

static inline int
reflect (int i, int n)
{
  /* Reflect padding by one pixel (-1 -> 1, n -> n - 2), as torch's F.pad "reflect". */
  if (n == 1)
    return 0;
  return i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i);
}

void
vg_gaussian_blur3 (float *out, const float *inp, float *tmp, float sigma, int H, int W)
{
  /* torchvision: taps at x = -1, 0, 1, weights exp(-x^2 / (2 sigma^2)) normalised. */
  float e = expf (-0.5f / (sigma * sigma));
  float k0 = 1.0f / (1.0f + 2.0f * e), k1 = e * k0;

  for (int y = 0; y < H; y++)
    {
      const float *src = inp + (size_t) y * W * 3;
      float *dst = tmp + (size_t) y * W * 3;
      for (int x = 0; x < W; x++)
        {
          const float *l = src + 3 * reflect (x - 1, W), *r = src + 3 * reflect (x + 1, W);
          for (int c = 0; c < 3; c++)
            dst[3 * x + c] = k1 * l[c] + k0 * src[3 * x + c] + k1 * r[c];
        }
    }
  for (int y = 0; y < H; y++)
    {
      const float *up = tmp + (size_t) reflect (y - 1, H) * W * 3;
      const float *mid = tmp + (size_t) y * W * 3;
      const float *down = tmp + (size_t) reflect (y + 1, H) * W * 3;
      float *dst = out + (size_t) y * W * 3;
      for (int i = 0; i < W * 3; i++)
        dst[i] = k1 * up[i] + k0 * mid[i] + k1 * down[i];
    }
}

/* ---- steps 4 and 5: noise, clamp, whitening -------------------------------------------- */

static void
noise_and_whiten (float *img, const VgAugmentParams *p, float noise_std, uint64_t noise_seed,
                  int N)
{
  float scale[3], shift[3];
  VgRng rng;

  for (int c = 0; c < 3; c++)
    {
      scale[c] = 1.0f / p->std[c];
      shift[c] = -p->mean[c] / p->std[c];
    }
  if (noise_std <= 0.0f)
    {
      for (int i = 0; i < N; i++)
        for (int c = 0; c < 3; c++)
          img[3 * i + c] = img[3 * i + c] * scale[c] + shift[c];
      return;
    }
  normal_tables_init ();
  vg_rng_seed (&rng, noise_seed);
  for (int i = 0; i < N; i++)
    for (int c = 0; c < 3; c++)
      {
        float x = img[3 * i + c] + noise_std * rng_normal (&rng);
        img[3 * i + c] = clamp01 (x) * scale[c] + shift[c];
      }
}

/* ---- the pipeline ---------------------------------------------------------------------- */

void
vg_augment_sample (float *out_image, uint8_t *out_mask, const uint8_t *image,
                   const uint8_t *mask, const VgAugmentParams *p, uint64_t seed,
                   VgAugmentScratch *scratch, int H, int W)
{
  int Ho = p->out_height > 0 ? p->out_height : H;
  int Wo = p->out_width > 0 ? p->out_width : W;
  double h = H, w = W, y0 = 0.0, x0 = 0.0;
  VgAugmentDraw d;

  if (!p->augment)
    {
      vg_resample_image (out_image, image, 0.0, 0.0, H, W, FALSE, scratch, H, W, Ho, Wo);
      if (out_mask != NULL && mask != NULL)
        vg_resample_mask (out_mask, mask, 0.0, 0.0, H, W, FALSE, H, W, Ho, Wo);
      noise_and_whiten (out_image, p, 0.0f, 0, Ho * Wo);
      return;
    }

  vg_augment_draw (&d, p, seed);
  h = H / d.zoom;
  w = W / d.zoom;
  y0 = 0.5 * (H - h);
  x0 = 0.5 * (W - w);
  vg_resample_image (out_image, image, y0, x0, h, w, d.flip, scratch, H, W, Ho, Wo);
  if (out_mask != NULL && mask != NULL)
    vg_resample_mask (out_mask, mask, y0, x0, h, w, d.flip, H, W, Ho, Wo);
  vg_color_jitter (out_image, d.brightness, d.contrast, d.saturation, d.hue, Ho * Wo);
  if (d.blur)
    {
      float *tmp = scratch_tmp (scratch, (size_t) Ho * Wo * 3);
      vg_gaussian_blur3 (out_image, out_image, tmp, d.blur_sigma, Ho, Wo);
    }
  noise_and_whiten (out_image, p, p->noise_std, d.noise_seed, Ho * Wo);
}
