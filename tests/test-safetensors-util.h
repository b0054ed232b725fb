/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Safetensors files in the tests: comparing the tensors of two files (bit for bit, or the
 * F32 ones within a bound), and a copy with its metadata edited (to make old, damaged or
 * lying files from real ones). */
#pragma once

#include <math.h>
#include <string.h>

#include <glib.h>

#include "vg-safetensors.h"

/* The files at a_path and b_path opened into *a and *b; they hold as many tensors. */
static inline void
vg_test_open_pair (const char *a_path, const char *b_path, VgSafetensors **a,
                   VgSafetensors **b)
{
  g_autoptr (GError) error = NULL;

  *a = vg_safetensors_open (a_path, &error);
  g_assert_no_error (error);
  *b = vg_safetensors_open (b_path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vg_safetensors_n_tensors (*a), ==, vg_safetensors_n_tensors (*b));
}

/* The tensor of b named as ta, which must be there and as large. */
static inline const VgTensorView *
vg_test_partner (VgSafetensors *b, const VgTensorView *ta)
{
  const VgTensorView *tb = vg_safetensors_find (b, ta->name);

  g_assert_nonnull (tb);
  g_assert_cmpuint (ta->numel, ==, tb->numel);
  g_assert_cmpuint (ta->nbytes, ==, tb->nbytes);
  return tb;
}

/* Every tensor of the file at a_path is in b_path's, bit for bit, and b has no more. */
static inline void
vg_test_assert_same_tensors (const char *a_path, const char *b_path)
{
  g_autoptr (VgSafetensors) a = NULL;
  g_autoptr (VgSafetensors) b = NULL;

  vg_test_open_pair (a_path, b_path, &a, &b);
  for (int i = 0; i < vg_safetensors_n_tensors (a); i++)
    {
      const VgTensorView *ta = vg_safetensors_get (a, i);
      const VgTensorView *tb = vg_test_partner (b, ta);

      if (memcmp (ta->data, tb->data, ta->nbytes) != 0)
        g_error ("tensor %s differs between %s and %s", ta->name, a_path, b_path);
    }
}

/* The files at a_path and b_path hold the same tensors, and every F32 one agrees within
 * atol + rtol |a| (the largest difference goes to the test's log); returns how many F32
 * tensors were compared. */
static inline int
vg_test_assert_close_tensors (const char *a_path, const char *b_path, double atol, double rtol)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSafetensors) a = NULL;
  g_autoptr (VgSafetensors) b = NULL;
  double worst = 0.0;
  const char *worst_name = "";
  int compared = 0;

  vg_test_open_pair (a_path, b_path, &a, &b);
  for (int i = 0; i < vg_safetensors_n_tensors (a); i++)
    {
      const VgTensorView *ta = vg_safetensors_get (a, i);
      g_autofree float *xa = NULL, *xb = NULL;

      vg_test_partner (b, ta);
      if (ta->dtype != VG_DTYPE_F32)
        continue;
      xa = g_new (float, ta->numel);
      xb = g_new (float, ta->numel);
      g_assert_true (vg_safetensors_read_f32 (a, ta->name, xa, NULL, 0, &error));
      g_assert_true (vg_safetensors_read_f32 (b, ta->name, xb, NULL, 0, &error));
      for (size_t k = 0; k < ta->numel; k++)
        {
          double d = fabs ((double) xa[k] - xb[k]);

          if (d > worst)
            {
              worst = d;
              worst_name = ta->name;
            }
          if (!(d <= atol + rtol * fabs (xa[k])))
            g_error ("%s[%zu]: %.9g in %s against %.9g in %s (difference %.3g)", ta->name, k,
                     xa[k], a_path, xb[k], b_path, d);
        }
      compared++;
    }
  g_test_message ("largest difference %.3g (%s)", worst, worst_name);
  return compared;
}

/* The tensors of st as views into it, *n of them (free the array). */
static inline VgTensorView *
vg_test_tensor_views (VgSafetensors *st, int *n)
{
  VgTensorView *views;

  *n = vg_safetensors_n_tensors (st);
  views = g_new (VgTensorView, *n);
  for (int i = 0; i < *n; i++)
    views[i] = *vg_safetensors_get (st, i);
  return views;
}

/* Write to dst the tensors of src under exactly the metadata meta (key, value, ...,
 * NULL-terminated), none of src's own. */
static inline void
vg_test_write_with_metadata (const char *src, const char *dst, const char *const *meta)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSafetensors) st = vg_safetensors_open (src, &error);
  g_autofree VgTensorView *views = NULL;
  int n;

  g_assert_no_error (error);
  views = vg_test_tensor_views (st, &n);
  g_assert_true (vg_safetensors_write (dst, views, n, meta, &error));
  g_assert_no_error (error);
}

/* Write to dst (which may be src) the tensors of src with its metadata, less the keys in
 * drop (NULL-terminated; may be NULL), and with key set to value (key NULL: none; the
 * key is added if src lacks it). */
static inline void
vg_test_rewrite_safetensors (const char *src, const char *dst, const char *const *drop,
                             const char *key, const char *value)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSafetensors) st = vg_safetensors_open (src, &error);
  g_autofree const char **pairs = NULL;
  g_autoptr (GPtrArray) kept = g_ptr_array_new ();
  g_autofree VgTensorView *views = NULL;
  int n;

  g_assert_no_error (error);
  views = vg_test_tensor_views (st, &n);
  pairs = vg_safetensors_metadata_pairs (st);
  for (int i = 0; pairs[i] != NULL; i += 2)
    if ((drop == NULL || !g_strv_contains (drop, pairs[i])) && g_strcmp0 (pairs[i], key) != 0)
      {
        g_ptr_array_add (kept, (gpointer) pairs[i]);
        g_ptr_array_add (kept, (gpointer) pairs[i + 1]);
      }
  if (key != NULL)
    {
      g_ptr_array_add (kept, (gpointer) key);
      g_ptr_array_add (kept, (gpointer) value);
    }
  g_ptr_array_add (kept, NULL);
  g_assert_true (vg_safetensors_write (dst, views, n, (const char *const *) kept->pdata,
                                       &error));
  g_assert_no_error (error);
}
