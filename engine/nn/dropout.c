/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Dropout over n floats, as torch.nn.Dropout(p) in training: element i is kept and scaled
 * by 1 / (1 - p) when vg_dropout_keep (seed, i, p) (nn/vg-nn.h), otherwise zeroed. The mask
 * is a hash of (seed, i), so nothing is stored between the passes, the backward draws the
 * same mask again, and it depends neither on the thread count nor on the backend.
 * p == 0 keeps every element and scales by 1: the identity.
 *
 * Gradient rule: activation gradients overwrite (=); the layer has no parameters. */
#include "vg-nn.h"
#include "vg-simd.h"

/* Below this many floats a thread team costs more than it saves; above it, chunks of this
 * many go to the threads. */
#define CHUNK 65536

static SIMD_CLONES void
dropout_chunk (float *out, const float *inp, size_t i0, size_t i1, float p, float scale,
               uint64_t seed)
{
#pragma omp simd
  for (size_t i = i0; i < i1; i++)
    out[i] = vg_dropout_keep (seed, i, p) ? inp[i] * scale : 0.0f;
}

static void
dropout_apply (float *out, const float *inp, size_t n, float p, uint64_t seed)
{
  float scale = 1.0f / (1.0f - p);
  size_t nchunks = (n + CHUNK - 1) / CHUNK;

#pragma omp parallel for schedule(static) if (nchunks > 1)
  for (size_t k = 0; k < nchunks; k++)
    dropout_chunk (out, inp, k * CHUNK, vg_chunk_end (k, CHUNK, n), p, scale, seed);
}

void
vg_dropout_forward (float *out, const float *inp, size_t n, float p, uint64_t seed)
{
  dropout_apply (out, inp, n, p, seed);
}

/* The same mask and scale applied to the gradient. */
void
vg_dropout_backward (float *dinp, const float *dout, size_t n, float p, uint64_t seed)
{
  dropout_apply (dinp, dout, n, p, seed);
}
