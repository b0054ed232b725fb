/* SPDX-License-Identifier: GPL-3.0-or-later */
/* safetensors files: 8-byte little-endian header length, JSON header, raw little-endian data.
 *
 * Reading checks every offset, dtype and shape against the file size and rejects a bad or
 * truncated file with a GError naming the file and the problem, never a crash. Writing is
 * atomic (temporary file, fsync, rename): a full disk or a killed process never leaves a
 * half-written file under the final name. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "vg-config.h"

typedef struct {
  const char *name;
  VgDType dtype;
  int ndim;
  int64_t shape[8];
  size_t numel;
  const void *data;  /* raw little-endian bytes inside the file's buffer */
  size_t nbytes;
} VgTensorView;

typedef struct _VgSafetensors VgSafetensors;

VgSafetensors *vg_safetensors_open (const char *path, GError **error);
void vg_safetensors_free (VgSafetensors *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgSafetensors, vg_safetensors_free)

int vg_safetensors_n_tensors (const VgSafetensors *st);
const VgTensorView *vg_safetensors_get (const VgSafetensors *st, int index);
/* NULL when absent. */
const VgTensorView *vg_safetensors_find (const VgSafetensors *st, const char *name);
/* The "__metadata__" string map (may be empty, never NULL); values owned by st. */
const char *vg_safetensors_metadata (const VgSafetensors *st, const char *key);

/* Copy a tensor into F32 memory, converting F16/BF16; checks the element count against
 * expected_numel (and the shape against expected_shape/ndim when not NULL).
 * (As implemented: with expected_shape non-NULL the tensor's ndim and every dimension must
 * match, which fixes the element count; with expected_shape NULL nothing is checked and dst
 * must hold vg_safetensors_find (st, name)->numel floats. I64 and U8 tensors are refused.) */
gboolean vg_safetensors_read_f32 (const VgSafetensors *st, const char *name, float *dst,
                                  const int *expected_shape, int expected_ndim,
                                  GError **error);

/* Write tensors (F32, F16, I64 or U8 data as given) and optional metadata pairs
 * (NULL-terminated key, value, key, value, ...). Tensors are written in the given order. */
gboolean vg_safetensors_write (const char *path, const VgTensorView *tensors, int n_tensors,
                               const char *const *metadata, GError **error);

/* The writer's core for a caller that owns the destination (and for tests of write
 * errors such as ENOSPC on /dev/full): writes the whole file to fd, without fsync or
 * rename; `what` names the destination in error messages. */
gboolean vg_safetensors_write_fd (int fd, const char *what, const VgTensorView *tensors,
                                  int n_tensors, const char *const *metadata,
                                  GError **error);

/* The metadata as NULL-terminated key, value, key, value, ... in key order (strings owned
 * by st; free the array only). */
const char **vg_safetensors_metadata_pairs (const VgSafetensors *st);

/* IEEE half precision, rounded to nearest even (overflow gives infinity). */
uint16_t vg_float_to_half (float f);
float vg_half_to_float (uint16_t h);

/* Write a copy of the model file src to dst (atomically) with every F32 tensor of two or
 * more dimensions (the weight matrices and kernels, nearly all of a model's bytes) stored
 * as F16, the other tensors (biases, norms, running statistics) unchanged, the metadata
 * kept and "visage.storage" set to "f16-weights". Readers convert back on loading
 * (vg_safetensors_read_f32). n_converted (may be NULL) receives the tensors converted. */
gboolean vg_safetensors_convert_f16 (const char *src, const char *dst, int *n_converted,
                                     GError **error);

typedef enum {
  VG_SAFETENSORS_ERROR_IO = 1,   /* cannot read, create, write, sync or rename */
  VG_SAFETENSORS_ERROR_INVALID,  /* malformed or truncated file, or bad tensors to write */
  VG_SAFETENSORS_ERROR_MISSING,  /* a tensor asked for is absent */
  VG_SAFETENSORS_ERROR_MISMATCH, /* dtype or shape differs from what the caller expects */
} VgSafetensorsError;

#define VG_SAFETENSORS_ERROR (vg_safetensors_error_quark ())
GQuark vg_safetensors_error_quark (void);
