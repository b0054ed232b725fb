/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Augmentation: determinism, geometry (zoom, flip with class swap, resize), each
 * photometric step against hand-computed values, and masks that stay valid classes. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>

#include "vg-augment.h"
#include "vg-classes.h"
#include "vg-split.h"
#include "test-common.h"
#include "data-test-util.h"
#include "test-register.h"

typedef struct {
  VgImage image;
  VgImage mask;
} Sample;

static gboolean
load_real (Sample *s, const char *name)
{
  g_autofree char *ipath = g_strdup_printf ("celebamask/val/images/%s.jpg", name);
  g_autofree char *mpath = g_strdup_printf ("celebamask/val/masks/%s.png", name);
  g_autofree char *image = vg_test_shared_path (ipath);
  g_autofree char *mask = vg_test_shared_path (mpath);
  GError *error = NULL;

  memset (s, 0, sizeof *s);
  if (image == NULL)
    return FALSE;
  g_assert_true (vg_image_load (&s->image, image, &error));
  g_assert_true (vg_mask_load (&s->mask, mask, &error));
  g_assert_no_error (error);
  return TRUE;
}

static void
sample_clear (Sample *s)
{
  vg_image_clear (&s->image);
  vg_image_clear (&s->mask);
}

/* Everything off except what a test turns on: geometry only, no photometric change. */
static void
params_geometry_only (VgAugmentParams *p)
{
  vg_augment_params_init (p, TRUE);
  p->zoom_max = 1.0f;
  p->brightness = p->contrast = p->saturation = p->hue = 0.0f;
  p->blur_p = 0.0f;
  p->noise_std = 0.0f;
}

typedef struct {
  const Sample *s;
  const VgAugmentParams *p;
  uint64_t seed;
  float *out;
  uint8_t *mask;
} ThreadJob;

static gpointer
augment_in_thread (gpointer data)
{
  ThreadJob *job = data;
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();

  vg_augment_sample (job->out, job->mask, job->s->image.data, job->s->mask.data, job->p,
                     job->seed, scratch, job->s->image.height, job->s->image.width);
  return NULL;
}

VG_TEST ("/data/augment/determinism", test_determinism)
{
  Sample s;
  VgAugmentParams p;
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();
  const size_t n = 512 * 512;
  g_autofree float *a = g_new (float, n * 3);
  g_autofree float *b = g_new (float, n * 3);
  g_autofree float *c = g_new (float, n * 3);
  g_autofree uint8_t *ma = g_new (uint8_t, n);
  g_autofree uint8_t *mb = g_new (uint8_t, n);
  uint64_t seed = vg_sample_seed (42, 3, 17);
  ThreadJob job;
  GThread *thread;
  size_t differ = 0;

  if (!load_real (&s, "0"))
    return;
  vg_augment_params_init (&p, TRUE);
  p.hflip = TRUE;
  vg_augment_sample (a, ma, s.image.data, s.mask.data, &p, seed, scratch, 512, 512);
  /* Same seed, fresh scratch on another thread: the same bytes. */
  job = (ThreadJob) { &s, &p, seed, b, mb };
  thread = g_thread_new ("augment", augment_in_thread, &job);
  g_thread_join (thread);
  g_assert_cmpmem (a, n * 3 * sizeof (float), b, n * 3 * sizeof (float));
  g_assert_cmpmem (ma, n, mb, n);

  /* Another seed (next sample index): a different picture. */
  vg_augment_sample (c, mb, s.image.data, s.mask.data, &p, vg_sample_seed (42, 3, 18),
                     scratch, 512, 512);
  for (size_t i = 0; i < n * 3; i++)
    differ += a[i] != c[i];
  g_assert_cmpuint (differ, >, n * 3 / 2);
  sample_clear (&s);
}

VG_TEST ("/data/augment/seeds-and-order", test_seeds_and_order)
{
  int order[100], again[100], seen[100] = { 0 };
  gboolean same = TRUE;

  g_assert_cmpuint (vg_sample_seed (1, 0, 0), ==, vg_sample_seed (1, 0, 0));
  g_assert_cmpuint (vg_sample_seed (1, 0, 0), !=, vg_sample_seed (2, 0, 0));
  g_assert_cmpuint (vg_sample_seed (1, 0, 0), !=, vg_sample_seed (1, 1, 0));
  g_assert_cmpuint (vg_sample_seed (1, 0, 0), !=, vg_sample_seed (1, 0, 1));
  /* Swapping epoch and index must not collide. */
  g_assert_cmpuint (vg_sample_seed (1, 2, 3), !=, vg_sample_seed (1, 3, 2));

  vg_epoch_order (order, 7, 0, 100);
  vg_epoch_order (again, 7, 0, 100);
  g_assert_cmpmem (order, sizeof order, again, sizeof again);
  for (int i = 0; i < 100; i++)
    seen[order[i]]++;
  for (int i = 0; i < 100; i++)
    g_assert_cmpint (seen[i], ==, 1);
  vg_epoch_order (again, 7, 1, 100);
  for (int i = 0; i < 100; i++)
    same &= order[i] == again[i];
  g_assert_false (same);
}

/* Find seeds whose draw flips (want TRUE) or not. */
static uint64_t
seed_with_flip (const VgAugmentParams *p, gboolean want)
{
  for (uint64_t seed = 1;; seed++)
    {
      VgAugmentDraw d;
      vg_augment_draw (&d, p, seed);
      if (d.flip == want)
        return seed;
    }
}

VG_TEST ("/data/augment/flip-swaps-classes", test_flip_swaps_classes)
{
  const int H = 6, W = 8;
  g_autofree uint8_t *rgb = synthetic_rgb (H, W, 2);
  g_autofree uint8_t *mask = g_new (uint8_t, H * W);
  g_autofree float *out = g_new (float, H * W * 3);
  g_autofree uint8_t *out_mask = g_new (uint8_t, H * W);
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();
  VgAugmentParams p;

  /* Left quarter: the subject's left eye; a right brow in the bottom-right corner. */
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      mask[y * W + x] = x < W / 4 ? VG_CLASS_L_EYE
                        : (y == H - 1 && x == W - 1) ? VG_CLASS_R_BROW : VG_CLASS_SKIN;
  params_geometry_only (&p);
  p.hflip = TRUE;

  vg_augment_sample (out, out_mask, rgb, mask, &p, seed_with_flip (&p, TRUE), scratch, H, W);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      {
        int src = y * W + (W - 1 - x);
        /* Same size, no zoom: the flip moves whole pixels (to float rounding). */
        for (int c = 0; c < 3; c++)
          g_assert_cmpfloat_with_epsilon (out[(y * W + x) * 3 + c], rgb[src * 3 + c] / 255.0f,
                                          1e-6);
        g_assert_cmpint (out_mask[y * W + x], ==, vg_class_mirror (mask[src]));
      }
  g_assert_cmpint (out_mask[0], ==, VG_CLASS_SKIN);
  g_assert_cmpint (out_mask[W - 1], ==, VG_CLASS_R_EYE);
  g_assert_cmpint (out_mask[(H - 1) * W], ==, VG_CLASS_L_BROW);

  /* Not flipped: unchanged. */
  vg_augment_sample (out, out_mask, rgb, mask, &p, seed_with_flip (&p, FALSE), scratch, H, W);
  g_assert_cmpmem (out_mask, H * W, mask, H * W);
  for (int i = 0; i < H * W * 3; i++)
    g_assert_cmpfloat_with_epsilon (out[i], rgb[i] / 255.0f, 1e-6);

  /* Without hflip no seed flips. */
  p.hflip = FALSE;
  for (uint64_t seed = 0; seed < 64; seed++)
    {
      VgAugmentDraw d;
      vg_augment_draw (&d, &p, seed);
      g_assert_false (d.flip);
    }
}

/* A centred square grows by the zoom factor, and stays centred. */
VG_TEST ("/data/augment/zoom-centre-crop", test_zoom_centre_crop)
{
  const int H = 200, W = 200, side = 60;
  g_autofree uint8_t *rgb = synthetic_rgb (H, W, 0);
  g_autofree uint8_t *mask = g_new0 (uint8_t, H * W);
  g_autofree float *out = g_new (float, H * W * 3);
  g_autofree uint8_t *out_mask = g_new (uint8_t, H * W);
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();
  VgAugmentParams p;
  VgAugmentDraw d;
  float max_zoom = 1.0f;

  for (int y = (H - side) / 2; y < (H + side) / 2; y++)
    for (int x = (W - side) / 2; x < (W + side) / 2; x++)
      mask[y * W + x] = VG_CLASS_NOSE;
  params_geometry_only (&p);
  p.zoom_max = 1.1f;
  for (uint64_t seed = 0; seed < 6; seed++)
    {
      int top = -1, bottom = -1, left = W, right = -1;

      vg_augment_draw (&d, &p, seed);
      g_assert_cmpfloat (d.zoom, >=, 1.0f);
      g_assert_cmpfloat (d.zoom, <, 1.1f);
      max_zoom = MAX (max_zoom, d.zoom);
      vg_augment_sample (out, out_mask, rgb, mask, &p, seed, scratch, H, W);
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
          if (out_mask[y * W + x] == VG_CLASS_NOSE)
            {
              if (top < 0)
                top = y;
              bottom = y;
              left = MIN (left, x);
              right = MAX (right, x);
            }
      /* Nearest neighbour: the edges land within a pixel of side * zoom. */
      g_assert_cmpfloat (fabs ((bottom - top + 1) - side * d.zoom), <=, 1.0);
      g_assert_cmpfloat (fabs ((right - left + 1) - side * d.zoom), <=, 1.0);
      g_assert_cmpint (ABS ((top + bottom) - (H - 1)), <=, 1);
      g_assert_cmpint (ABS ((left + right) - (W - 1)), <=, 1);
    }
  /* The draws do zoom (not all at 1). */
  g_assert_cmpfloat (max_zoom, >, 1.02f);
}

VG_TEST ("/data/augment/resize-eval", test_resize_eval)
{
  /* 8 x 8 -> 4 x 4: each output averages a 4-tap triangle, weights 1/8 3/8 3/8 1/8 per
   * axis (triangle of half-width 2 at distances 1.5, .5, .5, 1.5), renormalised at the
   * edges where taps fall off the image. */
  const int H = 8, W = 8;
  uint8_t rgb[8 * 8 * 3], mask[8 * 8];
  float out[4 * 4 * 3];
  uint8_t out_mask[4 * 4];
  const float w4[4] = { 1.0f / 8, 3.0f / 8, 3.0f / 8, 1.0f / 8 };
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();
  VgAugmentParams p;
  float expect = 0.0f;

  for (int i = 0; i < H * W; i++)
    {
      rgb[3 * i] = (uint8_t) (i * 3);
      rgb[3 * i + 1] = (uint8_t) (255 - i);
      rgb[3 * i + 2] = (uint8_t) ((i * 37) % 256);
      mask[i] = (uint8_t) (i % VG_NUM_CLASSES);
    }
  vg_augment_params_init (&p, FALSE);
  p.out_height = p.out_width = 4;
  vg_augment_sample (out, out_mask, rgb, mask, &p, 0, scratch, H, W);
  /* Interior output (1, 2) reads input rows 1..4 and columns 3..6. */
  for (int ty = 0; ty < 4; ty++)
    for (int tx = 0; tx < 4; tx++)
      expect += w4[ty] * w4[tx] * rgb[((1 + ty) * W + (3 + tx)) * 3 + 2];
  g_assert_cmpfloat_with_epsilon (out[(1 * 4 + 2) * 3 + 2], expect / 255.0f, 1e-5);
  /* Nearest neighbour on pixel centres: output o reads input 2o + 1. */
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 4; x++)
      g_assert_cmpint (out_mask[y * 4 + x], ==, mask[(2 * y + 1) * W + 2 * x + 1]);

  /* Enlarging is bilinear with align_corners=False: 1 x 2 -> 1 x 4. */
  {
    const uint8_t row[6] = { 0, 0, 0, 255, 255, 255 };
    const float expect_row[4] = { 0.0f, 63.75f, 191.25f, 255.0f };
    p.out_height = 1;
    p.out_width = 4;
    vg_augment_sample (out, NULL, row, NULL, &p, 0, scratch, 1, 2);
    for (int x = 0; x < 4; x++)
      g_assert_cmpfloat_with_epsilon (out[3 * x], expect_row[x] / 255.0f, 1e-6);
  }
}

VG_TEST ("/data/augment/resize-shapes-and-valid-masks", test_resize_shapes_and_valid_masks)
{
  Sample s;
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();
  const int sizes[2] = { 256, 384 };
  const float canary = -12345.0f;

  if (!load_real (&s, "1"))
    return;
  for (int k = 0; k < 2; k++)
    for (uint64_t seed = 0; seed < 3; seed++)
      {
        int S = sizes[k];
        size_t n = (size_t) S * S;
        g_autofree float *out = g_new (float, n * 3 + 16);
        g_autofree uint8_t *mask = g_new (uint8_t, n + 16);
        gboolean present_in[256] = { 0 }, present_out[256] = { 0 };
        VgAugmentParams p;

        for (int i = 0; i < 16; i++)
          {
            out[n * 3 + i] = canary;
            mask[n + i] = 0xee;
          }
        vg_augment_params_init (&p, TRUE);
        p.hflip = TRUE;
        p.out_height = p.out_width = S;
        vg_augment_sample (out, mask, s.image.data, s.mask.data, &p, seed, scratch, 512, 512);
        /* Nothing written past (S, S, 3) and (S, S). */
        for (int i = 0; i < 16; i++)
          {
            g_assert_cmpfloat (out[n * 3 + i], ==, canary);
            g_assert_cmpint (mask[n + i], ==, 0xee);
          }
        for (size_t i = 0; i < 512 * 512; i++)
          present_in[s.mask.data[i]] = TRUE;
        for (size_t i = 0; i < n; i++)
          {
            g_assert_cmpint (mask[i], <, VG_NUM_CLASSES);
            present_out[mask[i]] = TRUE;
          }
        /* Every output class is an input class or its mirror: nothing blended. */
        for (int c = 0; c < VG_NUM_CLASSES; c++)
          if (present_out[c])
            g_assert_true (present_in[c] || present_in[vg_class_mirror (c)]);
        g_assert_true (present_out[VG_CLASS_SKIN]);
        for (size_t i = 0; i < n * 3; i++)
          g_assert_true (isfinite (out[i]));
      }
  sample_clear (&s);
}

VG_TEST ("/data/augment/color-jitter", test_color_jitter)
{
  float px[3];

  /* Brightness scales, then clamps to 1. */
  px[0] = 0.8f, px[1] = 0.4f, px[2] = 0.2f;
  vg_color_jitter (px, 0.5f, 1.0f, 1.0f, 0.0f, 1);
  g_assert_cmpfloat_with_epsilon (px[0], 0.4f, 1e-6);
  g_assert_cmpfloat_with_epsilon (px[1], 0.2f, 1e-6);
  g_assert_cmpfloat_with_epsilon (px[2], 0.1f, 1e-6);
  px[0] = 0.8f, px[1] = 0.4f, px[2] = 0.2f;
  vg_color_jitter (px, 2.0f, 1.0f, 1.0f, 0.0f, 1);
  g_assert_cmpfloat_with_epsilon (px[0], 1.0f, 1e-6);
  g_assert_cmpfloat_with_epsilon (px[1], 0.8f, 1e-6);

  /* Saturation 0: the ITU-R 601 grey of torchvision, .2989 R + .587 G + .114 B. */
  px[0] = 0.8f, px[1] = 0.4f, px[2] = 0.2f;
  vg_color_jitter (px, 1.0f, 1.0f, 0.0f, 0.0f, 1);
  for (int c = 0; c < 3; c++)
    g_assert_cmpfloat_with_epsilon (px[c], 0.2989f * 0.8f + 0.587f * 0.4f + 0.114f * 0.2f,
                                    1e-6);

  /* Contrast 0: every pixel becomes the image's mean grey. */
  {
    float img[6] = { 1.0f, 1.0f, 1.0f, 0.0f, 0.0f, 0.0f };
    vg_color_jitter (img, 1.0f, 0.0f, 1.0f, 0.0f, 2);
    for (int i = 0; i < 6; i++)
      g_assert_cmpfloat_with_epsilon (img[i], 0.5f * (0.2989f + 0.587f + 0.114f), 1e-6);
  }

  /* Hue: a third of a turn takes red to green, minus a third to blue; greys stay. */
  px[0] = 1.0f, px[1] = 0.0f, px[2] = 0.0f;
  vg_color_jitter (px, 1.0f, 1.0f, 1.0f, 1.0f / 3.0f, 1);
  g_assert_cmpfloat_with_epsilon (px[0], 0.0f, 1e-5);
  g_assert_cmpfloat_with_epsilon (px[1], 1.0f, 1e-5);
  g_assert_cmpfloat_with_epsilon (px[2], 0.0f, 1e-5);
  px[0] = 1.0f, px[1] = 0.0f, px[2] = 0.0f;
  vg_color_jitter (px, 1.0f, 1.0f, 1.0f, -1.0f / 3.0f, 1);
  g_assert_cmpfloat_with_epsilon (px[2], 1.0f, 1e-5);
  g_assert_cmpfloat_with_epsilon (px[0], 0.0f, 1e-5);
  /* (0.6, 0.3, 0.3) shifted by 1/12 turn (30 degrees): hue 0 -> 1/12, so
   * (v, t, p) with v .6, p .3, f .5, t = .6 (1 - .5 * .5) = .45. */
  px[0] = 0.6f, px[1] = 0.3f, px[2] = 0.3f;
  vg_color_jitter (px, 1.0f, 1.0f, 1.0f, 1.0f / 12.0f, 1);
  g_assert_cmpfloat_with_epsilon (px[0], 0.6f, 1e-5);
  g_assert_cmpfloat_with_epsilon (px[1], 0.45f, 1e-5);
  g_assert_cmpfloat_with_epsilon (px[2], 0.3f, 1e-5);
  px[0] = px[1] = px[2] = 0.7f;
  vg_color_jitter (px, 1.0f, 1.0f, 1.0f, 0.1f, 1);
  for (int c = 0; c < 3; c++)
    g_assert_cmpfloat (px[c], ==, 0.7f);
}

VG_TEST ("/data/augment/blur", test_blur)
{
  const int H = 5, W = 5;
  float img[5 * 5 * 3], out[5 * 5 * 3], tmp[5 * 5 * 3];
  const float sigma = 0.8f;
  float e = expf (-0.5f / (sigma * sigma));
  float k0 = 1.0f / (1.0f + 2.0f * e), k1 = e * k0;

  /* A flat image stays flat, edges included (reflect padding, weights sum to 1). */
  for (int i = 0; i < H * W * 3; i++)
    img[i] = 0.3f;
  vg_gaussian_blur3 (out, img, tmp, sigma, H, W);
  for (int i = 0; i < H * W * 3; i++)
    g_assert_cmpfloat_with_epsilon (out[i], 0.3f, 1e-6);

  /* A centre impulse spreads as the outer product of (k1, k0, k1). */
  memset (img, 0, sizeof img);
  img[(2 * W + 2) * 3 + 1] = 1.0f;
  vg_gaussian_blur3 (img, img, tmp, sigma, H, W);  /* in place is allowed */
  g_assert_cmpfloat_with_epsilon (img[(2 * W + 2) * 3 + 1], k0 * k0, 1e-6);
  g_assert_cmpfloat_with_epsilon (img[(1 * W + 2) * 3 + 1], k0 * k1, 1e-6);
  g_assert_cmpfloat_with_epsilon (img[(1 * W + 1) * 3 + 1], k1 * k1, 1e-6);
  g_assert_cmpfloat_with_epsilon (img[(0 * W + 2) * 3 + 1], 0.0f, 1e-7);
  g_assert_cmpfloat_with_epsilon (img[(2 * W + 2) * 3 + 0], 0.0f, 1e-7);
}

VG_TEST ("/data/augment/normal-deviates", test_normal_deviates)
{
  const int n = 1000000;
  VgRng rng;
  double sum = 0.0, sum_sq = 0.0;
  int beyond2 = 0, beyond3 = 0;

  vg_rng_seed (&rng, 2024);
  for (int i = 0; i < n; i++)
    {
      double z = vg_rng_normal (&rng);
      sum += z;
      sum_sq += z * z;
      beyond2 += fabs (z) > 2.0;
      beyond3 += fabs (z) > 3.0;
    }
  /* Standard errors at 1e6 draws: mean 1e-3, variance 1.4e-3, P(|z| > 2) = .0455 2.1e-4,
   * P(|z| > 3) = .0027 5.2e-5; the bounds are 5 to 6 of them. The tails check the
   * ziggurat's wedge and tail paths, which a plain layer lookup would get wrong. */
  g_assert_cmpfloat (fabs (sum / n), <, 5e-3);
  g_assert_cmpfloat (fabs (sum_sq / n - 1.0), <, 8e-3);
  g_assert_cmpfloat (fabs ((double) beyond2 / n - 0.0455), <, 1.2e-3);
  g_assert_cmpfloat (fabs ((double) beyond3 / n - 0.0027), <, 3e-4);
}

VG_TEST ("/data/augment/noise-and-whitening", test_noise_and_whitening)
{
  const int H = 256, W = 256;
  const size_t n = (size_t) H * W * 3;
  g_autofree uint8_t *grey = g_new (uint8_t, n);
  g_autofree float *out = g_new (float, n);
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();
  const double mean[3] = { 0.5, 0.4, 0.3 }, std[3] = { 0.25, 0.2, 0.5 };
  VgAugmentParams p;
  double sum = 0.0, sum_sq = 0.0;

  memset (grey, 128, n);
  params_geometry_only (&p);
  p.noise_std = 0.03f;
  vg_augment_sample (out, NULL, grey, NULL, &p, 99, scratch, H, W);
  for (size_t i = 0; i < n; i++)
    {
      double d = out[i] - 128.0 / 255.0;
      sum += d;
      sum_sq += d * d;
    }
  /* 196,608 draws: the mean's standard error is 7e-5, the std's about 5e-5. */
  g_assert_cmpfloat (fabs (sum / n), <, 4e-4);
  g_assert_cmpfloat (fabs (sqrt (sum_sq / n) - 0.03), <, 0.03 * 0.02);

  /* Evaluation: (x / 255 - mean) / std exactly, nothing random. */
  vg_augment_params_init (&p, FALSE);
  vg_augment_params_set_whitening (&p, mean, std);
  vg_augment_sample (out, NULL, grey, NULL, &p, 99, scratch, H, W);
  for (size_t i = 0; i < n; i++)
    g_assert_cmpfloat_with_epsilon (out[i], (128.0 / 255.0 - mean[i % 3]) / std[i % 3], 1e-5);
}

VG_TEST_MAIN ()
