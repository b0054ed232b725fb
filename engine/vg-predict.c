/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The predictor: resize -> forward (with test-time flip) -> logits back to the image's
 * size -> argmax, one image at a time (a whole split: vg-evaluate.c); and the output
 * writers (grey PNGs, overlays, the submission zip).
 *
 * Shape letters as in vg-predict-private.h. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include <omp.h>

#include "vg-atomic-file.h"
#include "vg-classes.h"
#include "vg-predict-private.h"
#include "vg-resize-index.h"

G_DEFINE_QUARK (vg-predict-error-quark, vg_predict_error)

/* ---- the predictor --------------------------------------------------------------------- */

/* Buffers for model inputs of Hm x Wm, and the model's reservation for them (unless the
 * caller keeps the reservation). */
gboolean
vg_predictor_plan (VgPredictor *p, int Hm, int Wm, VgPredictorReserve reserve, GError **error)
{
  gboolean keep = (p->flags & VG_PREDICTOR_KEEP_RESERVATION) != 0;

  if (Hm <= 0 || Wm <= 0 || Hm % 32 != 0 || Wm % 32 != 0 || Hm > VG_MAX_RESOLUTION
      || Wm > VG_MAX_RESOLUTION)
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_SIZE,
                   "the model cannot run at %d x %d: both sides must be positive multiples "
                   "of 32 (this model has no fixed resolution)", Wm, Hm);
      return FALSE;
    }
  if (Hm != p->Hm || Wm != p->Wm)
    {
      size_t px = (size_t) p->B * Hm * Wm;

      g_clear_pointer (&p->input, g_free);
      g_clear_pointer (&p->logits, g_free);
      g_clear_pointer (&p->flip_input, g_free);
      g_clear_pointer (&p->flip_logits, g_free);
      if (p->d_input != NULL)
        p->be->free (p->d_input);
      p->d_input = NULL;
      p->Hm = p->Wm = 0;
      p->reserved = FALSE;
      p->input = g_try_new (float, px * 3);
      p->logits = g_try_new (float, px * p->NC);
      if (p->flip)
        {
          p->flip_input = g_try_new (float, px * 3);
          p->flip_logits = g_try_new (float, px * p->NC);
        }
      if (p->input == NULL || p->logits == NULL
          || (p->flip && (p->flip_input == NULL || p->flip_logits == NULL)))
        {
          g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_INVALID,
                       "out of memory for a batch of %d images of %d x %d", p->B, Wm, Hm);
          return FALSE;
        }
      p->d_input = p->be->alloc (px * 3 * sizeof (float), error);
      if (p->d_input == NULL)
        return FALSE;
      p->Hm = Hm;
      p->Wm = Wm;
      p->aug.out_height = Hm;
      p->aug.out_width = Wm;
    }
  if (!keep && (reserve == VG_RESERVE_ALWAYS || (reserve == VG_RESERVE_IF_NEEDED && !p->reserved)))
    {
      p->reserved = vg_model_reserve (p->model, p->B, Hm, Wm, FALSE, error);
      return p->reserved;
    }
  return TRUE;
}

/* The model input size for an H x W image. */
gboolean
vg_predictor_input_size (const VgPredictor *p, int H, int W, int *Hm, int *Wm)
{
  *Hm = p->pre.resolution > 0 ? p->pre.resolution : H;
  *Wm = p->pre.resolution > 0 ? p->pre.resolution : W;
  return *Hm % 32 == 0 && *Wm % 32 == 0;
}

uint8_t *
vg_predictor_labels (VgPredictor *p, size_t n)
{
  if (n > p->labels_cap)
    {
      g_free (p->labels);
      p->labels = g_new (uint8_t, n);
      p->labels_cap = n;
    }
  return p->labels;
}

/* dst = src mirrored left to right, n images (n, Hm, Wm, C) */
static void
mirror_rows (float *dst, const float *src, int n, int Hm, int Wm, int C)
{
#pragma omp parallel for schedule(static) if ((size_t) n * Hm * Wm * C > 65536)
  for (long row = 0; row < (long) n * Hm; row++)
    {
      const float *in = src + (size_t) row * Wm * C;
      float *out = dst + (size_t) row * Wm * C;

      for (int x = 0; x < Wm; x++)
        memcpy (out + (size_t) (Wm - 1 - x) * C, in + (size_t) x * C, sizeof (float) * C);
    }
}

/* logits = (logits + flipped mirrored back, with the l_/r_ classes swapped back) / 2 */
static void
flip_average (float *logits, const float *flipped, int n, int Hm, int Wm, int NC)
{
  int mirror[NC];

  for (int c = 0; c < NC; c++)
    mirror[c] = NC == VG_NUM_CLASSES ? vg_class_mirror (c) : c;
#pragma omp parallel for schedule(static) if ((size_t) n * Hm * Wm * NC > 65536)
  for (long row = 0; row < (long) n * Hm; row++)
    {
      float *l = logits + (size_t) row * Wm * NC;
      const float *f = flipped + (size_t) row * Wm * NC;

      for (int x = 0; x < Wm; x++)
        for (int c = 0; c < NC; c++)
          l[(size_t) x * NC + c] = 0.5f * (l[(size_t) x * NC + c]
                                           + f[(size_t) (Wm - 1 - x) * NC + mirror[c]]);
    }
}

/* Forward n images (n, Hm, Wm, 3) of host memory; logits land in p->logits. With flip,
 * the mirrored images run too and the two are averaged. */
void
vg_predictor_forward (VgPredictor *p, const float *host_input, int n)
{
  size_t px = (size_t) n * p->Hm * p->Wm;

  p->be->upload (p->d_input, host_input, px * 3 * sizeof (float));
  vg_model_forward (p->model, p->d_input, NULL, n, FALSE);
  p->be->download (p->logits, vg_model_logits (p->model), px * p->NC * sizeof (float));
  if (!p->flip)
    return;
  mirror_rows (p->flip_input, host_input, n, p->Hm, p->Wm, 3);
  p->be->upload (p->d_input, p->flip_input, px * 3 * sizeof (float));
  vg_model_forward (p->model, p->d_input, NULL, n, FALSE);
  p->be->download (p->flip_logits, vg_model_logits (p->model), px * p->NC * sizeof (float));
  flip_average (p->logits, p->flip_logits, n, p->Hm, p->Wm, p->NC);
}

gboolean
vg_predictor_set_flip (VgPredictor *p, gboolean flip, GError **error)
{
  if (flip == p->flip)
    return TRUE;
  p->flip = flip;
  g_clear_pointer (&p->flip_input, g_free);
  g_clear_pointer (&p->flip_logits, g_free);
  if (flip && p->Hm > 0)
    {
      size_t px = (size_t) p->B * p->Hm * p->Wm;

      p->flip_input = g_try_new (float, px * 3);
      p->flip_logits = g_try_new (float, px * p->NC);
      if (p->flip_input == NULL || p->flip_logits == NULL)
        {
          g_clear_pointer (&p->flip_input, g_free);
          g_clear_pointer (&p->flip_logits, g_free);
          p->flip = FALSE;
          g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_INVALID,
                       "out of memory for the mirrored batch of %d images of %d x %d", p->B,
                       p->Wm, p->Hm);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
vg_predictor_get_flip (VgPredictor *p)
{
  return p->flip;
}

VgPredictor *
vg_predictor_new_full (VgModel *model, const VgPreprocess *pre, int batch,
                       VgPredictorFlags flags, GError **error)
{
  VgPredictor *p;

  if (model == NULL || pre == NULL || batch <= 0 || pre->resolution < 0
      || pre->resolution % 32 != 0 || pre->resolution > VG_MAX_RESOLUTION
      || ((flags & VG_PREDICTOR_KEEP_RESERVATION) && pre->resolution == 0))
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_INVALID,
                   "cannot predict with batch %d at resolution %d%s", batch,
                   pre != NULL ? pre->resolution : -1,
                   (flags & VG_PREDICTOR_KEEP_RESERVATION)
                     ? " (a shared reservation needs a fixed resolution)" : "");
      return NULL;
    }
  for (int c = 0; c < 3; c++)
    if (!(pre->std[c] > 0.0) || !isfinite (pre->mean[c]))
      {
        g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_INVALID,
                     "bad whitening (channel %d: mean %g, std %g)", c, pre->mean[c],
                     pre->std[c]);
        return NULL;
      }

  p = g_new0 (VgPredictor, 1);
  p->model = model;
  p->be = vg_model_backend (model);
  p->pre = *pre;
  p->flags = flags;
  p->NC = vg_model_config (model)->num_classes;
  p->B = batch;
  p->scratch = vg_augment_scratch_new ();
  vg_augment_params_init (&p->aug, FALSE);
  vg_augment_params_set_whitening (&p->aug, pre->mean, pre->std);
  if (pre->resolution > 0)
    {
      /* The buffers now; the model's activations at first use (vg_evaluate reserves anyway,
       * and reserving twice would touch hundreds of megabytes twice). */
      GError *local = NULL;
      if (!vg_predictor_plan (p, pre->resolution, pre->resolution, VG_RESERVE_NONE, &local))
        {
          g_propagate_error (error, local);
          vg_predictor_free (p);
          return NULL;
        }
    }
  return p;
}

VgPredictor *
vg_predictor_new (VgModel *model, const VgPreprocess *pre, int batch, GError **error)
{
  return vg_predictor_new_full (model, pre, batch, VG_PREDICTOR_DEFAULT, error);
}

void
vg_predictor_free (VgPredictor *p)
{
  if (p == NULL)
    return;
  vg_augment_scratch_free (p->scratch);
  g_free (p->input);
  if (p->d_input != NULL)
    p->be->free (p->d_input);
  g_free (p->logits);
  g_free (p->flip_input);
  g_free (p->flip_logits);
  g_free (p->labels);
  g_free (p->probs);
  vg_image_clear (&p->image);
  vg_image_clear (&p->mask);
  g_free (p);
}

/* ---- logits back to the image's size ----------------------------------------------------- */

/* Row oh of the horizontally resized logits: out (NC, W) planar, so the vertical blend and
 * the argmax below run along W in SIMD lanes. */
static void
resize_row (float *out, const float *row, const int *w0, const int *w1, const float *lw0,
            const float *lw1, int W, int NC)
{
  for (int c = 0; c < NC; c++)
    {
      float *o = out + (size_t) c * W;
#pragma omp simd
      for (int ow = 0; ow < W; ow++)
        o[ow] = lw0[ow] * row[(size_t) w0[ow] * NC + c] + lw1[ow] * row[(size_t) w1[ow] * NC + c];
    }
}

/* Row oh of the softmax over the classes of the blended rows lh0 r0 + lh1 r1 (NC, W), whose
 * maximum per column is best (W): prob (W) of the chosen class and class_probs (NC, H, W)
 * (row oh of each plane), either may be NULL. */
static void
softmax_row (float *prob, float *class_probs, int oh, const float *r0, const float *r1,
             float lh0, float lh1, const float *best, int H, int W, int NC)
{
  for (int ow = 0; ow < W; ow++)
    {
      double sum = 0.0;

      for (int c = 0; c < NC; c++)
        {
          float v = lh0 * r0[(size_t) c * W + ow] + lh1 * r1[(size_t) c * W + ow];
          double e = exp ((double) v - (double) best[ow]);

          if (class_probs != NULL)
            class_probs[((size_t) c * H + oh) * W + ow] = (float) e;
          sum += e;
        }
      if (prob != NULL)
        prob[ow] = (float) (1.0 / sum);
      if (class_probs != NULL)
        for (int c = 0; c < NC; c++)
          class_probs[((size_t) c * H + oh) * W + ow] /= (float) sum;
    }
}

/* labels (H, W), and (each may be NULL) probs (H, W) the probability of the chosen class and
 * class_probs (NC, H, W) the probability of every class. */
static void
logits_resize_reduce (uint8_t *labels, float *probs, float *class_probs, const float *logits,
                      int Hm, int Wm, int H, int W, int NC)
{
  float sh = (float) Hm / (float) H, sw = (float) Wm / (float) W;
  g_autofree int *w0 = g_new (int, 2 * (size_t) W);
  g_autofree float *lw = g_new (float, 2 * (size_t) W);
  int *w1 = w0 + W;
  float *lw0 = lw, *lw1 = lw + W;

  g_return_if_fail (NC > 0 && NC <= 255);

  for (int ow = 0; ow < W; ow++)
    vg_resize_source_index (ow, sw, Wm, &w0[ow], &w1[ow], &lw0[ow], &lw1[ow]);

  /* Separable, in the order of vg_resize_bilinear_forward's expression
   * lh0 * (lw0 x00 + lw1 x01) + lh1 * (lw0 x10 + lw1 x11), so the values are the same to the
   * bit: each thread takes a band of output rows and keeps the two horizontally resized
   * source rows it needs (an upscale reuses them for several output rows). The full-size
   * (H, W, NC) tensor (20 MB at 512 x 512) is never materialised. */
#pragma omp parallel if ((size_t) H * W * NC > 65536)
  {
    int n_threads = omp_get_num_threads (), t = omp_get_thread_num ();
    int first = (int) ((gint64) H * t / n_threads);
    int last = (int) ((gint64) H * (t + 1) / n_threads);
    float *rows = g_new (float, (2 * (size_t) NC + 1) * W);
    int *arg = g_new (int, W);
    float *r0 = rows, *r1 = rows + (size_t) NC * W, *best = rows + 2 * (size_t) NC * W;
    int have0 = -1, have1 = -1;

    for (int oh = first; oh < last; oh++)
      {
        int h0, h1;
        float lh0, lh1;
        uint8_t *lab = labels + (size_t) oh * W;

        vg_resize_source_index (oh, sh, Hm, &h0, &h1, &lh0, &lh1);
        if (have0 != h0 && have1 == h0)
          {
            float *swap = r0;
            r0 = r1;
            r1 = swap;
            have0 = h0;
            have1 = -1;
          }
        if (have0 != h0)
          {
            resize_row (r0, logits + (size_t) h0 * Wm * NC, w0, w1, lw0, lw1, W, NC);
            have0 = h0;
          }
        if (have1 != h1)
          {
            resize_row (r1, logits + (size_t) h1 * Wm * NC, w0, w1, lw0, lw1, W, NC);
            have1 = h1;
          }
        /* The first maximum wins, as in vg_argmax and torch.argmax. Branch-free, with the
         * class index as an int beside the float, so the loop vectorises. */
#pragma omp simd
        for (int ow = 0; ow < W; ow++)
          {
            best[ow] = lh0 * r0[ow] + lh1 * r1[ow];
            arg[ow] = 0;
          }
        for (int c = 1; c < NC; c++)
          {
            const float *a = r0 + (size_t) c * W, *b = r1 + (size_t) c * W;
#pragma omp simd
            for (int ow = 0; ow < W; ow++)
              {
                float v = lh0 * a[ow] + lh1 * b[ow], old = best[ow];
                int take = -(int) (v > old);   /* all ones where v wins */
                best[ow] = v > old ? v : old;
                arg[ow] = (arg[ow] & ~take) | (c & take);
              }
          }
        for (int ow = 0; ow < W; ow++)
          lab[ow] = (uint8_t) arg[ow];
        if (probs != NULL || class_probs != NULL)
          softmax_row (probs != NULL ? probs + (size_t) oh * W : NULL, class_probs, oh, r0, r1,
                       lh0, lh1, best, H, W, NC);
      }
    g_free (rows);
    g_free (arg);
  }
}

void
vg_logits_to_labels (uint8_t *labels, float *probs, const float *logits, int Hm, int Wm, int H,
                     int W, int NC)
{
  logits_resize_reduce (labels, probs, NULL, logits, Hm, Wm, H, W, NC);
}

void
vg_logits_to_probabilities (uint8_t *labels, float *class_probs, const float *logits, int Hm,
                            int Wm, int H, int W, int NC)
{
  logits_resize_reduce (labels, NULL, class_probs, logits, Hm, Wm, H, W, NC);
}

gboolean
vg_predict_image (VgPredictor *p, const uint8_t *rgb, int H, int W, uint8_t *labels,
                  float *probs, GError **error)
{
  int Hm, Wm;

  if (H <= 0 || W <= 0 || (size_t) H * W > ((size_t) 1 << 28))
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_SIZE,
                   "cannot predict a %d x %d image", W, H);
      return FALSE;
    }
  if (!vg_predictor_input_size (p, H, W, &Hm, &Wm))
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_SIZE,
                   "the image is %d x %d, but this model runs at the image's own size, "
                   "which must then be a multiple of 32", W, H);
      return FALSE;
    }
  if (!vg_predictor_plan (p, Hm, Wm, VG_RESERVE_IF_NEEDED, error))
    return FALSE;
  vg_augment_sample (p->input, NULL, rgb, NULL, &p->aug, 0, p->scratch, H, W);
  vg_predictor_forward (p, p->input, 1);
  vg_predictor_reduce (p, 0, labels, probs, H, W);
  return TRUE;
}

void
vg_predictor_reduce (VgPredictor *p, int r, uint8_t *labels, float *probs, int H, int W)
{
  const size_t n = (size_t) H * W;
  const float *logits = p->logits + (size_t) r * p->Hm * p->Wm * p->NC;

  if (!p->probabilities)
    {
      vg_logits_to_labels (labels, probs, logits, p->Hm, p->Wm, H, W, p->NC);
      return;
    }
  if (n * p->NC > p->probs_cap)
    {
      g_free (p->probs);
      p->probs_cap = n * p->NC;
      p->probs = g_new (float, p->probs_cap);
    }
  vg_logits_to_probabilities (labels, p->probs, logits, p->Hm, p->Wm, H, W, p->NC);
  if (probs != NULL)
    for (size_t i = 0; i < n; i++)
      probs[i] = p->probs[labels[i] * n + i];
}

void
vg_predictor_set_probabilities (VgPredictor *p, gboolean probabilities)
{
  p->probabilities = probabilities;
  if (!probabilities)
    {
      g_clear_pointer (&p->probs, g_free);
      p->probs_cap = 0;
    }
}

const float *
vg_predictor_probabilities (VgPredictor *p)
{
  return p->probabilities ? p->probs : NULL;
}

/* ---- output files ---------------------------------------------------------------------- */

void
vg_overlay_render (uint8_t *out, const uint8_t *rgb, const uint8_t *labels, int H, int W,
                   float alpha)
{
  size_t n = (size_t) H * W;

#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t i = 0; i < n; i++)
    {
      const uint8_t *col = vg_class_rgb (labels[i] < VG_NUM_CLASSES ? labels[i] : 0);
      for (int c = 0; c < 3; c++)
        {
          float v = (1.0f - alpha) * rgb[3 * i + c] + alpha * col[c];
          out[3 * i + c] = (uint8_t) CLAMP (lrintf (v), 0, 255);
        }
    }
}
