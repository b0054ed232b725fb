/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CPU backend: host memory, the layers of nn/, OpenBLAS + OpenMP. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <gio/gio.h>

#include "vg-backend.h"
#include "vg-dice.h"
#include "vg-lovasz.h"
#include "vg-dist.h"
#include "vg-nn.h"
#include "vg-optim.h"

/* Data-parallel training: host memory goes straight to MPI. */
static gboolean
cpu_dist_init (GError **error)
{
  return TRUE;
}

static void
cpu_dist_sum (void *values, size_t n, gboolean doubles)
{
  if (doubles)
    vg_dist_sum_doubles (values, n);
  else
    vg_dist_sum_floats (values, n);
}

static void
cpu_dist_broadcast (void *data, size_t bytes)
{
  vg_dist_broadcast (data, bytes, 0);
}

/* The Dice losses' batch sums added over the ranks (nn/vg-dice.h). */
static float
cpu_ce_dice_dist_forward (const float *logits, const uint8_t *targets, const float *weights,
                          int ignore_index, int Nr, int NC)
{
  return vg_cross_entropy_dice_dist_forward (logits, targets, weights, 0, ignore_index, Nr, NC,
                                             vg_dist_sum_doubles);
}

static void
cpu_ce_dice_dist_backward (float *dlogits, const float *logits, const uint8_t *targets,
                           const float *weights, int ignore_index, float dloss, int Nr, int NC)
{
  vg_cross_entropy_dice_dist_backward (dlogits, logits, targets, weights, 0, ignore_index,
                                       dloss, Nr, NC, vg_dist_sum_doubles);
}

static float
cpu_ce_dice_present_dist_forward (const float *logits, const uint8_t *targets,
                                  const float *weights, int ignore_index, int Nr, int NC)
{
  return vg_cross_entropy_dice_dist_forward (logits, targets, weights, 1, ignore_index, Nr, NC,
                                             vg_dist_sum_doubles);
}

static void
cpu_ce_dice_present_dist_backward (float *dlogits, const float *logits, const uint8_t *targets,
                                   const float *weights, int ignore_index, float dloss, int Nr,
                                   int NC)
{
  vg_cross_entropy_dice_dist_backward (dlogits, logits, targets, weights, 1, ignore_index,
                                       dloss, Nr, NC, vg_dist_sum_doubles);
}

/* The Lovász loss's batch histograms added over the ranks (nn/vg-lovasz.h). */
static float
cpu_ce_lovasz_dist_forward (const float *logits, const uint8_t *targets, const float *weights,
                            int ignore_index, int Nr, int NC)
{
  return vg_cross_entropy_lovasz_dist_forward (logits, targets, weights, ignore_index, Nr, NC,
                                               vg_dist_sum_doubles);
}

static void
cpu_ce_lovasz_dist_backward (float *dlogits, const float *logits, const uint8_t *targets,
                             const float *weights, int ignore_index, float dloss, int Nr,
                             int NC)
{
  vg_cross_entropy_lovasz_dist_backward (dlogits, logits, targets, weights, ignore_index,
                                         dloss, Nr, NC, vg_dist_sum_doubles);
}

/* Blocks from this size on ask for huge pages (where the kernel offers them on request:
 * transparent_hugepage "madvise", Debian's default): the model's memory is one block of
 * hundreds of MiB that every layer streams through, and with 4 KiB pages each page costs a
 * TLB walk and restarts the hardware prefetcher. The kernel backs the 2 MiB-aligned stretches
 * inside the block; the block's own alignment stays 64 bytes, as blocks aligned alike
 * would compete for the same cache sets. */
#define HUGE_FROM ((size_t) 4 << 20)

static void *
cpu_alloc (size_t bytes, GError **error)
{
  /* 64-byte alignment for AVX-512 loads; aligned_alloc wants a multiple of the alignment. */
  size_t rounded = (bytes + 63) & ~(size_t) 63;
  void *ptr = aligned_alloc (64, rounded ? rounded : 64);

#ifdef MADV_HUGEPAGE
  if (ptr != NULL && bytes >= HUGE_FROM)
    {
      uintptr_t page = 4096, lo = ((uintptr_t) ptr + page - 1) & ~(page - 1);
      uintptr_t hi = ((uintptr_t) ptr + rounded) & ~(page - 1);

      madvise ((void *) lo, hi - lo, MADV_HUGEPAGE); /* a hint: all works without */
    }
#endif
  if (ptr == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                 "out of memory allocating %.1f MiB", bytes / 1048576.0);
  return ptr;
}

static void
cpu_free (void *ptr)
{
  free (ptr);
}

static void
cpu_zero (void *ptr, size_t bytes)
{
  memset (ptr, 0, bytes);
}

static void
cpu_copy (void *dst, const void *src, size_t bytes)
{
  memcpy (dst, src, bytes);
}

static void
cpu_synchronize (void)
{
}

static const VgBackend cpu_backend = {
  .name = "cpu",
  .alloc = cpu_alloc,
  .free = cpu_free,
  .zero = cpu_zero,
  .upload = cpu_copy,
  .download = cpu_copy,
  .copy = cpu_copy,
  .synchronize = cpu_synchronize,
  .linear_forward = vg_linear_forward,
  .linear_backward = vg_linear_backward,
  .conv2d_scratch_floats = vg_conv2d_scratch_floats,
  .conv2d_forward = vg_conv2d_forward,
  .conv2d_forward_fast = vg_conv2d_forward_fast,
  .conv2d_backward = vg_conv2d_backward,
  .conv_transpose_scratch_floats = vg_conv_transpose_scratch_floats,
  .conv_transpose_forward = vg_conv_transpose_forward,
  .conv_transpose_backward = vg_conv_transpose_backward,
  .layernorm_forward = vg_layernorm_forward,
  .layernorm_backward = vg_layernorm_backward,
  .batchnorm_forward_train = vg_batchnorm_forward_train,
  .batchnorm_forward_eval = vg_batchnorm_forward_eval,
  .batchnorm_backward = vg_batchnorm_backward,
  .batchnorm_fold = vg_batchnorm_fold,
  .batchnorm_sums = vg_batchnorm_sums,
  .batchnorm_stats = vg_batchnorm_stats,
  .batchnorm_normalize = vg_batchnorm_normalize,
  .batchnorm_backward_sums = vg_batchnorm_backward_sums,
  .batchnorm_backward_dinp = vg_batchnorm_backward_dinp,
  .gelu_forward = vg_gelu_forward,
  .gelu_backward = vg_gelu_backward,
  .relu_forward = vg_relu_forward,
  .relu_backward = vg_relu_backward,
  .resize_bilinear_forward = vg_resize_bilinear_forward,
  .resize_bilinear_backward = vg_resize_bilinear_backward,
  .resize_bilinear_ac_forward = vg_resize_bilinear_ac_forward,
  .resize_bilinear_ac_backward = vg_resize_bilinear_ac_backward,
  .conv2d_dilated_scratch_floats = vg_conv2d_dilated_scratch_floats,
  .conv2d_dilated_forward = vg_conv2d_dilated_forward,
  .conv2d_dilated_backward = vg_conv2d_dilated_backward,
  .maxpool2d_forward = vg_maxpool2d_forward,
  .maxpool2d_backward = vg_maxpool2d_backward,
  .adaptive_avgpool_forward = vg_adaptive_avgpool_forward,
  .adaptive_avgpool_backward = vg_adaptive_avgpool_backward,
  .dropout_forward = vg_dropout_forward,
  .dropout_backward = vg_dropout_backward,
  .concat_forward = vg_concat_forward,
  .concat_backward = vg_concat_backward,
  .cross_entropy_forward = vg_cross_entropy_forward,
  .cross_entropy_backward = vg_cross_entropy_backward,
  .cross_entropy_forward_backward = vg_cross_entropy_forward_backward,
  .cross_entropy_dice_forward = vg_cross_entropy_dice_forward,
  .cross_entropy_dice_backward = vg_cross_entropy_dice_backward,
  .cross_entropy_dice_present_forward = vg_cross_entropy_dice_present_forward,
  .cross_entropy_dice_present_backward = vg_cross_entropy_dice_present_backward,
  .cross_entropy_lovasz_forward = vg_cross_entropy_lovasz_forward,
  .cross_entropy_lovasz_backward = vg_cross_entropy_lovasz_backward,
  .attention_scratch_floats = vg_attention_scratch_floats,
  .attention_forward = vg_attention_forward,
  .attention_backward = vg_attention_backward,
  .add_inplace = vg_add_inplace,
  .adam_step = vg_adam_step,
  .sgd_step = vg_sgd_step,
  .ema_update = vg_ema_update,
  .dist_init = cpu_dist_init,
  .dist_sum = cpu_dist_sum,
  .dist_broadcast = cpu_dist_broadcast,
  .cross_entropy_dice_dist_forward = cpu_ce_dice_dist_forward,
  .cross_entropy_dice_dist_backward = cpu_ce_dice_dist_backward,
  .cross_entropy_dice_present_dist_forward = cpu_ce_dice_present_dist_forward,
  .cross_entropy_dice_present_dist_backward = cpu_ce_dice_present_dist_backward,
  .cross_entropy_lovasz_dist_forward = cpu_ce_lovasz_dist_forward,
  .cross_entropy_lovasz_dist_backward = cpu_ce_lovasz_dist_backward,
};

const VgBackend *
vg_backend_cpu (void)
{
  return &cpu_backend;
}
