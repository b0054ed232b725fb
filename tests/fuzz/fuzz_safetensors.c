/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The safetensors reader (engine/vg-safetensors.c): header length, JSON header, dtypes,
 * shapes, data offsets and tiling, metadata, the F16/BF16 -> F32 conversion of every
 * floating-point tensor, and the F16 converter (visage-cli convert) on the same input.
 *
 * Invariants checked besides "no crash, no leak": a refusal is a GError naming the file;
 * every tensor's bytes lie inside the file; a file that opens converts to F16 and the
 * converted file opens again with the same tensors and metadata. */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "fuzz-common.h"
#include "vg-safetensors.h"

static void
check_tensor (const VgSafetensors *st, const VgTensorView *t, size_t size)
{
  int shape[8] = { 0 };
  gboolean fits_int = TRUE;
  g_autofree float *dst = NULL;
  g_autoptr (GError) error = NULL;

  /* The view must fit in the file and agree with its own shape. */
  if (t->nbytes > size)
    fuzz_fail ("tensor %s claims %zu bytes in a %zu-byte file", t->name, t->nbytes, size);
  for (int i = 0; i < t->ndim; i++)
    {
      if (t->shape[i] > G_MAXINT)
        fits_int = FALSE;
      else
        shape[i] = (int) t->shape[i];
    }
  if (t->dtype != VG_DTYPE_F32 && t->dtype != VG_DTYPE_F16 && t->dtype != VG_DTYPE_BF16)
    {
      if (vg_safetensors_read_f32 (st, t->name, NULL, NULL, 0, &error))
        fuzz_fail ("tensor %s of dtype %d read as F32", t->name, (int) t->dtype);
      return;
    }
  dst = g_new (float, MAX (t->numel, 1));
  if (!vg_safetensors_read_f32 (st, t->name, dst, NULL, 0, &error))
    fuzz_fail ("tensor %s cannot be read: %s", t->name, error->message);
  if (fits_int && !vg_safetensors_read_f32 (st, t->name, dst, shape, t->ndim, &error))
    fuzz_fail ("tensor %s does not match its own shape: %s", t->name, error->message);
  /* A shape that differs (one more dimension) must be refused, not read. */
  shape[0] = 1;
  if (t->ndim < 8 && vg_safetensors_read_f32 (st, t->name, dst, shape, t->ndim + 1, &error))
    fuzz_fail ("tensor %s read with a wrong shape", t->name);
  g_clear_error (&error);
}

static void
check_convert (const VgSafetensors *st, const char *path)
{
  g_autofree char *dst = g_build_filename (fuzz_dir (), "converted.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSafetensors) back = NULL;
  int n_converted = -1;

  if (!vg_safetensors_convert_f16 (path, dst, &n_converted, &error))
    {
      /* It may refuse what it cannot write (a name the writer rejects), never crash. */
      if (error == NULL)
        fuzz_fail ("convert_f16 failed without an error");
      return;
    }
  back = vg_safetensors_open (dst, &error);
  if (back == NULL)
    fuzz_fail ("the F16 copy of a valid file does not open: %s", error->message);
  if (vg_safetensors_n_tensors (back) != vg_safetensors_n_tensors (st))
    fuzz_fail ("the F16 copy has %d tensors, not %d", vg_safetensors_n_tensors (back),
               vg_safetensors_n_tensors (st));
  if (g_strcmp0 (vg_safetensors_metadata (back, "visage.storage"), "f16-weights") != 0)
    fuzz_fail ("the F16 copy lacks visage.storage");
  g_unlink (dst);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *path = fuzz_write ("input.safetensors", data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSafetensors) st = vg_safetensors_open (path, &error);
  g_autofree const char **pairs = NULL;

  if (st == NULL)
    {
      fuzz_check_error (error, path);
      return 0;
    }
  if (error != NULL)
    fuzz_fail ("a result and an error");
  for (int i = 0; i < vg_safetensors_n_tensors (st); i++)
    {
      const VgTensorView *t = vg_safetensors_get (st, i);

      if (vg_safetensors_find (st, t->name) != t)
        fuzz_fail ("tensor %s is not found by its name", t->name);
      check_tensor (st, t, size);
    }
  if (vg_safetensors_find (st, "no such tensor") != NULL)
    fuzz_fail ("found a tensor that is not there");
  pairs = vg_safetensors_metadata_pairs (st);
  for (int i = 0; pairs[i] != NULL; i += 2)
    if (g_strcmp0 (vg_safetensors_metadata (st, pairs[i]), pairs[i + 1]) != 0)
      fuzz_fail ("metadata %s differs from its pair", pairs[i]);
  check_convert (st, path);
  return 0;
}
