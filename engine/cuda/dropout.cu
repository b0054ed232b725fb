/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Dropout on the GPU, mirroring nn/dropout.c: over n floats (out may equal inp), element i
 * is kept and scaled by 1 / (1 - p) when the hash of (seed, i) says so, else zeroed. The
 * mask is never stored: the backward draws it again, and it is the CPU's to the bit.
 *
 * Gradient rule: activation gradients overwrite (=); dropout has no parameters. */
#include "common.cuh"

using namespace vgc;

/* vg_dropout_keep of nn/vg-nn.h, which is host code: r = splitmix64's finaliser of
 * seed + i * 0x9E3779B97F4A7C15, kept iff its top 24 bits reach threshold = p * 2^24 rounded
 * down (computed once on the host, as the CPU computes it per element). The cuda suite
 * checks that both draw the same mask. */
__device__ static inline bool
dropout_keep (uint64_t seed, uint64_t i, uint64_t threshold)
{
  uint64_t z = seed + i * 0x9E3779B97F4A7C15ull;

  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (z >> 40) >= threshold;
}

/* out[i] = keep(i) ? inp[i] * scale : 0, for the forward (inp, out) and the backward
 * (dout, dinp) alike. */
static __global__ void
dropout_kernel (float *out, const float *inp, size_t n, uint64_t seed, uint64_t threshold,
                float scale)
{
  VGC_GRID_STRIDE (i, n)
    out[i] = dropout_keep (seed, i, threshold) ? inp[i] * scale : 0.0f;
}

static void
dropout_run (const char *what, float *out, const float *inp, size_t n, float p, uint64_t seed)
{
  uint64_t threshold = (uint64_t) (p * 16777216.0f);

  elementwise_run (what, dropout_kernel, n, out, inp, n, seed, threshold, 1.0f / (1.0f - p));
}

extern "C" void
vg_cuda_dropout_forward (float *out, const float *inp, size_t n, float p, uint64_t seed)
{
  dropout_run ("dropout_forward", out, inp, n, p, seed);
}

extern "C" void
vg_cuda_dropout_backward (float *dinp, const float *dout, size_t n, float p, uint64_t seed)
{
  dropout_run ("dropout_backward", dinp, dout, n, p, seed);
}
