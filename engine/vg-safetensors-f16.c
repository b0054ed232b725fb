/* SPDX-License-Identifier: GPL-3.0-or-later */
/* IEEE half precision, and model files with their weight matrices stored in it: half the
 * bytes, converted back to F32 on loading (vg_safetensors_read_f32). */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <string.h>

#include "vg-safetensors-private.h"

uint16_t
vg_float_to_half (float f)
{
  uint32_t x, sign, exp, mant;

  memcpy (&x, &f, sizeof x);
  sign = (x >> 16) & 0x8000;
  exp = (x >> 23) & 0xff;
  mant = x & 0x7fffff;
  if (exp == 0xff)                      /* infinity or NaN (kept a NaN) */
    return (uint16_t) (sign | 0x7c00 | (mant != 0 ? 0x200 | (mant >> 13) : 0));
  if (exp > 142)                        /* >= 2^16: beyond the largest half */
    return (uint16_t) (sign | 0x7c00);
  if (exp >= 113)                       /* a normal half: 2^-14 <= |f| < 2^16 */
    {
      uint32_t h = ((exp - 112) << 10) | (mant >> 13);
      uint32_t rest = mant & 0x1fff;

      /* round to nearest, ties to even; a carry into the exponent is still right (and
       * rounds the largest values up to infinity) */
      if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++;
      return (uint16_t) (sign | h);
    }
  if (exp >= 102)                       /* a subnormal half */
    {
      uint32_t full = mant | 0x800000;   /* the significand with its leading 1 */
      int shift = 126 - (int) exp;       /* 14 .. 24 */
      uint32_t h = full >> shift;
      uint32_t rest = full & ((1u << shift) - 1);
      uint32_t half_way = 1u << (shift - 1);

      if (rest > half_way || (rest == half_way && (h & 1)))
        h++;
      return (uint16_t) (sign | h);
    }
  return (uint16_t) sign;               /* rounds to zero */
}

/* IEEE half to single, subnormals, infinities and NaN included. */
float
vg_half_to_float (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  float f;

  if (exp == 0x1f)
    bits = sign | 0x7f800000u | (mant << 13);
  else if (exp != 0)
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  else if (mant == 0)
    bits = sign;
  else
    {
      /* Subnormal: mant * 2^-24, exact in a float. */
      f = (float) mant * (1.0f / 16777216.0f);
      return sign ? -f : f;
    }
  memcpy (&f, &bits, sizeof f);
  return f;
}

gboolean
vg_safetensors_convert_f16 (const char *src, const char *dst, int *n_converted,
                            GError **error)
{
  g_autoptr (VgSafetensors) st = vg_safetensors_open (src, error);
  g_autofree VgTensorView *views = NULL;
  g_autoptr (GPtrArray) buffers = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) pairs = g_ptr_array_new ();
  g_autofree const char **meta = NULL;
  int converted = 0;

  if (st == NULL)
    return FALSE;
  views = g_new (VgTensorView, vg_safetensors_n_tensors (st));
  for (int i = 0; i < vg_safetensors_n_tensors (st); i++)
    {
      const VgTensorView *t = vg_safetensors_get (st, i);

      views[i] = *t;
      if (t->dtype == VG_DTYPE_F32 && t->ndim >= 2)
        {
          uint16_t *half = g_new (uint16_t, MAX (t->numel, 1));
          const guint8 *bytes = t->data;

          for (size_t k = 0; k < t->numel; k++)
            {
              float f;

              memcpy (&f, bytes + 4 * k, sizeof f);
              half[k] = GUINT16_TO_LE (vg_float_to_half (f));
            }
          views[i].dtype = VG_DTYPE_F16;
          views[i].data = half;
          views[i].nbytes = t->numel * 2;
          g_ptr_array_add (buffers, half);
          converted++;
        }
    }
  meta = vg_safetensors_metadata_pairs (st);
  for (int i = 0; meta[i] != NULL; i += 2)
    if (strcmp (meta[i], "visage.storage") != 0)
      {
        g_ptr_array_add (pairs, (gpointer) meta[i]);
        g_ptr_array_add (pairs, (gpointer) meta[i + 1]);
      }
  g_ptr_array_add (pairs, (gpointer) "visage.storage");
  g_ptr_array_add (pairs, (gpointer) "f16-weights");
  g_ptr_array_add (pairs, NULL);
  if (!vg_safetensors_write (dst, views, vg_safetensors_n_tensors (st),
                             (const char *const *) pairs->pdata, error))
    return FALSE;
  if (n_converted != NULL)
    *n_converted = converted;
  return TRUE;
}
