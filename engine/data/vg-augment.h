/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Turning a decoded sample into network input: geometry, photometric augmentation,
 * whitening. Deterministic: every random draw of a sample comes from one 64-bit seed,
 * derived from (run seed, epoch, sample index), so the result does not depend on which
 * thread ran it or in which order.
 *
 * Shapes: H, W input height and width; Ho, Wo output (the training resolution);
 * images channels-last (H, W, 3) uint8 in, (Ho, Wo, 3) float out; masks (H, W) uint8 in,
 * (Ho, Wo) out.
 *
 * Training pipeline, in this order (the report's section 2.2.5 and its torchvision code):
 *  1. geometry, one resampling pass: zoom in by s ~ U(1, zoom_max) and keep the centre
 *     (H/s, W/s) window, flip horizontally with probability 1/2 when hflip is set, and
 *     scale to (Ho, Wo). Images: bilinear, widened to a triangle filter of the scale's
 *     width when shrinking (antialiased, as PIL's BILINEAR). Masks: nearest neighbour on
 *     the same grid (pixel centres), flipped masks swap the l_/r_ classes.
 *  2. colour jitter as torchvision ColorJitter(0.25, 0.25, 0.25, 0.1) in the fixed order
 *     brightness, contrast, saturation, hue (torchvision shuffles the order; we do not),
 *     each clamped to [0, 1] like torchvision's float path.
 *  3. 3x3 Gaussian blur with probability blur_p, sigma ~ U(0.1, 2.0), reflect padding
 *     (torchvision GaussianBlur(3)).
 *  4. additive Gaussian noise N(0, noise_std^2), then clamp to [0, 1].
 *  5. whitening (x - mean) / std per channel.
 * Masks are moved by step 1 only, never blurred or mixed. Evaluation runs step 1 without
 * zoom or flip (a plain resize, or a copy at the native size) and step 5. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* ---- random numbers: xoshiro256** seeded by splitmix64 ---------------------------------- */
typedef struct {
  uint64_t s[4];
} VgRng;

void vg_rng_seed (VgRng *rng, uint64_t seed);
uint64_t vg_rng_next (VgRng *rng);
/* Uniform in [lo, hi). */
float vg_rng_uniform (VgRng *rng, float lo, float hi);
/* Uniform integer in [0, n). */
uint32_t vg_rng_below (VgRng *rng, uint32_t n);
/* Standard normal N(0, 1) (ziggurat). */
float vg_rng_normal (VgRng *rng);

/* The seed of one sample's augmentation: a hash of the three, so neighbouring samples
 * and epochs get unrelated streams. */
uint64_t vg_sample_seed (uint64_t run_seed, int epoch, int index);

/* A permutation of [0, n) for this epoch (Fisher-Yates from the same hash family). */
void vg_epoch_order (int *order, uint64_t run_seed, int epoch, int n);

/* ---- parameters ------------------------------------------------------------------------ */
typedef struct {
  int out_height;        /* Ho; 0: the input's height */
  int out_width;         /* Wo; 0: the input's width */
  gboolean augment;      /* FALSE: evaluation (resize + whitening only) */
  float zoom_max;        /* 1.1: zoom s ~ U(1, zoom_max), centre crop */
  gboolean hflip;        /* random horizontal flip with l_/r_ swap (the report avoids it) */
  float brightness;      /* 0.25: factor ~ U(1 - b, 1 + b) */
  float contrast;        /* 0.25 */
  float saturation;      /* 0.25 */
  float hue;             /* 0.1: shift ~ U(-h, h) turns of the colour wheel */
  float blur_p;          /* 0.5 */
  float blur_sigma_min;  /* 0.1 */
  float blur_sigma_max;  /* 2.0 */
  float noise_std;       /* 0.03, on [0, 1] values */
  float mean[3];         /* whitening, of [0, 1] values; 0 by default */
  float std[3];          /* 1 by default */
} VgAugmentParams;

/* The report's training augmentation (augment TRUE) or none (FALSE); native size, no
 * flip, identity whitening. */
void vg_augment_params_init (VgAugmentParams *p, gboolean augment);
void vg_augment_params_set_whitening (VgAugmentParams *p, const double mean[3],
                                      const double std[3]);

/* The random choices for one sample, drawn in a fixed order whatever the options (so
 * turning one step off does not change the others' draws). */
typedef struct {
  float zoom;        /* s >= 1 */
  gboolean flip;
  float brightness;  /* factors */
  float contrast;
  float saturation;
  float hue;         /* shift in turns, [-hue, hue) */
  gboolean blur;
  float blur_sigma;
  uint64_t noise_seed;
} VgAugmentDraw;

void vg_augment_draw (VgAugmentDraw *draw, const VgAugmentParams *p, uint64_t seed);

/* Per-thread scratch memory; grows to the largest sample seen, then stays. */
typedef struct _VgAugmentScratch VgAugmentScratch;
VgAugmentScratch *vg_augment_scratch_new (void);
void vg_augment_scratch_free (VgAugmentScratch *scratch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgAugmentScratch, vg_augment_scratch_free)

/* The whole pipeline on one sample. out_image (Ho, Wo, 3), out_mask (Ho, Wo) or NULL
 * (mask may then be NULL too); Ho, Wo from p (0: H, W). */
void vg_augment_sample (float *out_image, uint8_t *out_mask, const uint8_t *image,
                        const uint8_t *mask, const VgAugmentParams *p, uint64_t seed,
                        VgAugmentScratch *scratch, int H, int W);

/* ---- the steps, for reuse and tests ---------------------------------------------------- */

/* Step 1: resample the window (y0, x0, h, w) (input pixels, may be fractional) of image
 * to (Ho, Wo), mirrored when flip; out in [0, 1]. */
void vg_resample_image (float *out, const uint8_t *image, double y0, double x0, double h,
                        double w, gboolean flip, VgAugmentScratch *scratch, int H, int W,
                        int Ho, int Wo);
/* The same window for a mask: nearest neighbour; flip also mirrors the classes. */
void vg_resample_mask (uint8_t *out, const uint8_t *mask, double y0, double x0, double h,
                       double w, gboolean flip, int H, int W, int Ho, int Wo);

/* Step 2 in place on img (N, 3) of [0, 1] values; factors as in VgAugmentDraw. */
void vg_color_jitter (float *img, float brightness, float contrast, float saturation,
                      float hue, int N);

/* Step 3: out (H, W, 3) = 3x3 Gaussian blur of inp (H, W, 3) with reflect padding;
 * tmp (H, W, 3). out may be inp (the first pass reads all of inp into tmp). */
void vg_gaussian_blur3 (float *out, const float *inp, float *tmp, float sigma, int H, int W);
