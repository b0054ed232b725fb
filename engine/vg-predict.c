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
  vg_image_clear (&p->image);
  vg_image_clear (&p->mask);
  g_free (p);
}

VgModel *
vg_predictor_model (VgPredictor *p)
{
  return p->model;
}

const VgPreprocess *
vg_predictor_preprocess (VgPredictor *p)
{
  return &p->pre;
}

/* ---- logits back to the image's size ----------------------------------------------------- */

/* Source rows/columns of output index o for a resize from in_size to out_size: exactly the
 * arithmetic of vg_resize_bilinear_forward (PyTorch's align_corners=False), so the fused
 * path below gives the same labels as resize-then-argmax. */
static inline void
source_index (int o, float scale, int in_size, int *i0, int *i1, float *l0, float *l1)
{
  float src = scale * ((float) o + 0.5f) - 0.5f;

  if (src < 0.0f)
    src = 0.0f;
  *i0 = (int) src;
  if (*i0 > in_size - 1)
    *i0 = in_size - 1;
  *i1 = *i0 < in_size - 1 ? *i0 + 1 : *i0;
  *l1 = src - (float) *i0;
  *l0 = 1.0f - *l1;
}

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

void
vg_logits_to_labels (uint8_t *labels, float *probs, const float *logits, int Hm, int Wm, int H,
                     int W, int NC)
{
  float sh = (float) Hm / (float) H, sw = (float) Wm / (float) W;
  g_autofree int *w0 = g_new (int, 2 * (size_t) W);
  g_autofree float *lw = g_new (float, 2 * (size_t) W);
  int *w1 = w0 + W;
  float *lw0 = lw, *lw1 = lw + W;

  g_return_if_fail (NC > 0 && NC <= 255);

  for (int ow = 0; ow < W; ow++)
    source_index (ow, sw, Wm, &w0[ow], &w1[ow], &lw0[ow], &lw1[ow]);

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

        source_index (oh, sh, Hm, &h0, &h1, &lh0, &lh1);
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
        if (probs != NULL)
          {
            float *pr = probs + (size_t) oh * W;
            for (int ow = 0; ow < W; ow++)
              {
                double sum = 0.0;
                for (int c = 0; c < NC; c++)
                  {
                    float v = lh0 * r0[(size_t) c * W + ow] + lh1 * r1[(size_t) c * W + ow];
                    sum += exp ((double) v - (double) best[ow]);
                  }
                pr[ow] = (float) (1.0 / sum);
              }
          }
      }
    g_free (rows);
    g_free (arg);
  }
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
  vg_logits_to_labels (labels, probs, p->logits, Hm, Wm, H, W, p->NC);
  return TRUE;
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

/* ---- CRC-32 and a minimal zip writer --------------------------------------------------- */

uint32_t
vg_crc32 (uint32_t crc, const void *data, size_t n)
{
  static uint32_t table[256];
  static gsize table_ready = 0;
  const uint8_t *p = data;

  if (g_once_init_enter (&table_ready))
    {
      /* The reflected polynomial 0xEDB88320 of zip, PNG and zlib. */
      for (uint32_t i = 0; i < 256; i++)
        {
          uint32_t c = i;
          for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
          table[i] = c;
        }
      g_once_init_leave (&table_ready, 1);
    }
  crc = ~crc;
  for (size_t i = 0; i < n; i++)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

typedef struct {
  char *name;
  uint32_t crc;
  uint32_t size;
  uint32_t offset;  /* of the local header */
} ZipEntry;

/* Stored (uncompressed) entries, no zip64: up to 65535 entries and 4 GiB, far beyond a
 * submission of a few thousand small PNGs. Written atomically (vg-atomic-file.h). */
typedef struct {
  char *path;
  VgAtomicFile *file;
  GArray *entries;    /* of ZipEntry */
  GHashTable *names;  /* entry names, to refuse duplicates */
  uint64_t offset;
  uint16_t dos_time;
  uint16_t dos_date;
} ZipWriter;

static void
put16 (uint8_t *p, uint16_t v)
{
  p[0] = v & 0xff;
  p[1] = v >> 8;
}

static void
put32 (uint8_t *p, uint32_t v)
{
  put16 (p, v & 0xffff);
  put16 (p + 2, v >> 16);
}

static gboolean
zip_write (ZipWriter *z, const void *data, size_t n, GError **error)
{
  if (!vg_atomic_file_write (z->file, data, n, error))
    return FALSE;
  z->offset += n;
  return TRUE;
}

static void
zip_entry_clear (gpointer data)
{
  g_free (((ZipEntry *) data)->name);
}

static void
zip_free (ZipWriter *z)
{
  vg_atomic_file_abort (z->file);
  g_array_unref (z->entries);
  g_hash_table_unref (z->names);
  g_free (z->path);
  g_free (z);
}

static ZipWriter *
zip_open (const char *path, GError **error)
{
  ZipWriter *z = g_new0 (ZipWriter, 1);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();

  z->path = g_strdup (path);
  z->entries = g_array_new (FALSE, TRUE, sizeof (ZipEntry));
  g_array_set_clear_func (z->entries, zip_entry_clear);
  z->names = g_hash_table_new (g_str_hash, g_str_equal);
  /* MS-DOS date and time, 2-second resolution, years from 1980. */
  z->dos_time = (uint16_t) ((g_date_time_get_hour (now) << 11)
                            | (g_date_time_get_minute (now) << 5)
                            | (g_date_time_get_second (now) / 2));
  z->dos_date = (uint16_t) (((MAX (g_date_time_get_year (now), 1980) - 1980) << 9)
                            | (g_date_time_get_month (now) << 5)
                            | g_date_time_get_day_of_month (now));
  if ((z->file = vg_atomic_file_new (path, error)) == NULL)
    {
      zip_free (z);
      return NULL;
    }
  return z;
}

static gboolean
zip_add (ZipWriter *z, const char *name, const void *data, size_t n, GError **error)
{
  uint8_t h[30];
  size_t name_len = strlen (name);
  ZipEntry e = { 0 };

  if (g_hash_table_contains (z->names, name))
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_INVALID,
                   "%s: two inputs give the same entry name %s", z->path, name);
      return FALSE;
    }
  if (z->entries->len >= 65535 || z->offset + 30 + name_len + n >= 0xFFFFFFFFu
      || name_len > 0xFFFF)
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_INVALID,
                   "%s: too large for a zip without zip64 (65535 entries, 4 GiB)", z->path);
      return FALSE;
    }
  e.name = g_strdup (name);
  e.crc = vg_crc32 (0, data, n);
  e.size = (uint32_t) n;
  e.offset = (uint32_t) z->offset;
  put32 (h, 0x04034b50);         /* local file header signature */
  put16 (h + 4, 20);             /* version needed: 2.0 */
  put16 (h + 6, 0x0800);         /* flags: names are UTF-8 */
  put16 (h + 8, 0);              /* method: stored */
  put16 (h + 10, z->dos_time);
  put16 (h + 12, z->dos_date);
  put32 (h + 14, e.crc);
  put32 (h + 18, e.size);        /* compressed size */
  put32 (h + 22, e.size);        /* uncompressed size */
  put16 (h + 26, (uint16_t) name_len);
  put16 (h + 28, 0);             /* extra field length */
  g_array_append_val (z->entries, e);
  g_hash_table_add (z->names, g_array_index (z->entries, ZipEntry, z->entries->len - 1).name);
  return zip_write (z, h, sizeof h, error) && zip_write (z, name, name_len, error)
         && zip_write (z, data, n, error);
}

static gboolean
zip_finish (ZipWriter *z, GError **error)
{
  uint64_t cd_start = z->offset;
  uint8_t end[22];

  for (guint i = 0; i < z->entries->len; i++)
    {
      const ZipEntry *e = &g_array_index (z->entries, ZipEntry, i);
      size_t name_len = strlen (e->name);
      uint8_t h[46];

      put32 (h, 0x02014b50);      /* central directory header signature */
      put16 (h + 4, 0x031e);      /* made by: Unix, spec 3.0 */
      put16 (h + 6, 20);
      put16 (h + 8, 0x0800);
      put16 (h + 10, 0);
      put16 (h + 12, z->dos_time);
      put16 (h + 14, z->dos_date);
      put32 (h + 16, e->crc);
      put32 (h + 20, e->size);
      put32 (h + 24, e->size);
      put16 (h + 28, (uint16_t) name_len);
      put16 (h + 30, 0);          /* extra */
      put16 (h + 32, 0);          /* comment */
      put16 (h + 34, 0);          /* disk number */
      put16 (h + 36, 0);          /* internal attributes */
      put32 (h + 38, 0100644u << 16);  /* external: a regular file, rw-r--r-- */
      put32 (h + 42, e->offset);
      if (!zip_write (z, h, sizeof h, error) || !zip_write (z, e->name, name_len, error))
        return FALSE;
    }
  if (z->offset >= 0xFFFFFFFFu)
    {
      g_set_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_INVALID,
                   "%s: too large for a zip without zip64", z->path);
      return FALSE;
    }
  put32 (end, 0x06054b50);        /* end of central directory signature */
  put16 (end + 4, 0);
  put16 (end + 6, 0);
  put16 (end + 8, (uint16_t) z->entries->len);
  put16 (end + 10, (uint16_t) z->entries->len);
  put32 (end + 12, (uint32_t) (z->offset - cd_start));
  put32 (end + 16, (uint32_t) cd_start);
  put16 (end + 20, 0);
  if (!zip_write (z, end, sizeof end, error))
    return FALSE;
  return vg_atomic_file_commit (g_steal_pointer (&z->file), error);
}

static gboolean
export_each (int index, const uint8_t *labels, int H, int W, gpointer data, GError **error)
{
  gpointer *ctx = data;
  ZipWriter *z = ctx[0];
  const VgSplit *split = ctx[1];
  g_autofree char *name = g_strconcat (split->samples[index].name, ".png", NULL);
  g_autoptr (GBytes) png = vg_mask_encode_png (labels, H, W, FALSE, error);
  gsize len;
  const void *bytes;

  if (png == NULL)
    {
      g_prefix_error (error, "%s: ", split->samples[index].image_path);
      return FALSE;
    }
  bytes = g_bytes_get_data (png, &len);
  return zip_add (z, name, bytes, len, error);
}

gboolean
vg_export_submission (VgPredictor *p, const VgSplit *split, const char *zip_path,
                      int n_workers, VgProgressFunc progress, gpointer user_data,
                      GCancellable *cancellable, GError **error)
{
  ZipWriter *z = zip_open (zip_path, error);
  gpointer ctx[2];
  gboolean ok;

  if (z == NULL)
    return FALSE;
  ctx[0] = z;
  ctx[1] = (gpointer) split;
  ok = vg_predict_split (p, split, n_workers, export_each, ctx, progress, user_data,
                         cancellable, error)
       && zip_finish (z, error);
  zip_free (z);
  return ok;
}
