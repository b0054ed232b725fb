/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CUDA backend table: device memory, the kernels of the .cu files beside it, cuBLAS.
 * Written in C so the table reads like vg-backend-cpu.c (designated initialisers) and alloc
 * can fill a GError; the .cu files stay free of GLib. */
#include "config.h"

#include <gio/gio.h>

#include "vg-backend-cuda.h"
#include "vg-cuda.h"
#include "vg-dist.h"

/* Device or pinned host memory from one of the .cu allocators, whose message becomes the
 * GError. */
static void *
alloc_with_error (void *(*alloc) (size_t, char *, size_t), size_t bytes, GError **error)
{
  char err[256] = "";
  void *ptr = alloc (bytes, err, sizeof err);

  if (ptr == NULL)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, err);
  return ptr;
}

static void *
cuda_alloc (size_t bytes, GError **error)
{
  return alloc_with_error (vg_cuda_alloc, bytes, error);
}

static void *
cuda_host_alloc (size_t bytes, GError **error)
{
  return alloc_with_error (vg_cuda_host_alloc, bytes, error);
}

#if VG_HAVE_NCCL
/* Data-parallel training: NCCL between the ranks' GPUs, its id sent over MPI by rank 0. */
static gboolean
cuda_dist_init (GError **error)
{
  unsigned char id[VG_CUDA_NCCL_ID_BYTES] = { 0 };
  char err[256] = "";
  int made = 0;

  if (vg_dist_rank () == 0)
    made = vg_cuda_nccl_make_id (id, err, sizeof err) == 0 ? 1 : -1;
  /* rank 0's outcome goes with the id, so that no rank waits for a communicator that will
   * not come */
  vg_dist_broadcast (&made, sizeof made, 0);
  vg_dist_broadcast (id, sizeof id, 0);
  if (made < 0 || vg_cuda_nccl_init (id, vg_dist_rank (), vg_dist_size (), err, sizeof err) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "NCCL: %s",
                   err[0] != '\0' ? err : "rank 0 could not make the communicator's id");
      return FALSE;
    }
  return TRUE;
}
#endif

static const VgBackend cuda_backend = {
  .name = "cuda",
  .alloc = cuda_alloc,
  .free = vg_cuda_free,
  .zero = vg_cuda_zero,
  .upload = vg_cuda_upload,
  .download = vg_cuda_download,
  .copy = vg_cuda_copy,
  .synchronize = vg_cuda_synchronize,
  .host_alloc = cuda_host_alloc,
  .host_free = vg_cuda_host_free,
  .upload_async = vg_cuda_upload_async,
  .upload_wait = vg_cuda_upload_wait,
  .upload_host_wait = vg_cuda_upload_host_wait,
  .linear_forward = vg_cuda_linear_forward,
  .linear_backward = vg_cuda_linear_backward,
  .conv2d_scratch_floats = vg_cuda_conv2d_scratch_floats,
  .conv2d_forward = vg_cuda_conv2d_forward,
  .conv2d_backward = vg_cuda_conv2d_backward,
  .conv_transpose_scratch_floats = vg_cuda_conv_transpose_scratch_floats,
  .conv_transpose_forward = vg_cuda_conv_transpose_forward,
  .conv_transpose_backward = vg_cuda_conv_transpose_backward,
  .layernorm_forward = vg_cuda_layernorm_forward,
  .layernorm_backward = vg_cuda_layernorm_backward,
  .batchnorm_forward_train = vg_cuda_batchnorm_forward_train,
  .batchnorm_forward_eval = vg_cuda_batchnorm_forward_eval,
  .batchnorm_backward = vg_cuda_batchnorm_backward,
  .batchnorm_fold = vg_cuda_batchnorm_fold,
  .batchnorm_sums = vg_cuda_batchnorm_sums,
  .batchnorm_stats = vg_cuda_batchnorm_stats,
  .batchnorm_normalize = vg_cuda_batchnorm_normalize,
  .batchnorm_backward_sums = vg_cuda_batchnorm_backward_sums,
  .batchnorm_backward_dinp = vg_cuda_batchnorm_backward_dinp,
  .gelu_forward = vg_cuda_gelu_forward,
  .gelu_backward = vg_cuda_gelu_backward,
  .relu_forward = vg_cuda_relu_forward,
  .relu_backward = vg_cuda_relu_backward,
  .resize_bilinear_forward = vg_cuda_resize_bilinear_forward,
  .resize_bilinear_backward = vg_cuda_resize_bilinear_backward,
  .resize_bilinear_ac_forward = vg_cuda_resize_bilinear_ac_forward,
  .resize_bilinear_ac_backward = vg_cuda_resize_bilinear_ac_backward,
  .conv2d_dilated_scratch_floats = vg_cuda_conv2d_dilated_scratch_floats,
  .conv2d_dilated_forward = vg_cuda_conv2d_dilated_forward,
  .conv2d_dilated_backward = vg_cuda_conv2d_dilated_backward,
  .maxpool2d_forward = vg_cuda_maxpool2d_forward,
  .maxpool2d_backward = vg_cuda_maxpool2d_backward,
  .adaptive_avgpool_forward = vg_cuda_adaptive_avgpool_forward,
  .adaptive_avgpool_backward = vg_cuda_adaptive_avgpool_backward,
  .dropout_forward = vg_cuda_dropout_forward,
  .dropout_backward = vg_cuda_dropout_backward,
  .concat_forward = vg_cuda_concat_forward,
  .concat_backward = vg_cuda_concat_backward,
  .cross_entropy_forward = vg_cuda_cross_entropy_forward,
  .cross_entropy_backward = vg_cuda_cross_entropy_backward,
  /* no cross-entropy + Dice or Lovász: those losses train on the CPU only */
  .cross_entropy_dice_forward = NULL,
  .cross_entropy_dice_backward = NULL,
  .cross_entropy_dice_present_forward = NULL,
  .cross_entropy_dice_present_backward = NULL,
  .cross_entropy_lovasz_forward = NULL,
  .cross_entropy_lovasz_backward = NULL,
  .attention_scratch_floats = vg_cuda_attention_scratch_floats,
  .attention_forward = vg_cuda_attention_forward,
  .attention_backward = vg_cuda_attention_backward,
  .add_inplace = vg_cuda_add_inplace,
  .adam_step = vg_cuda_adam_step,
  .sgd_step = vg_cuda_sgd_step,
  .ema_update = vg_cuda_ema_update,
#if VG_HAVE_NCCL
  .dist_init = cuda_dist_init,
  .dist_sum = vg_cuda_nccl_sum,
  .dist_broadcast = vg_cuda_nccl_broadcast,
#endif
};

const VgBackend *
vg_cuda_backend_get (GError **error)
{
  static GMutex lock;
  static gboolean tried;
  static gboolean ok;
  static char why[512];
  const VgBackend *be = NULL;

  g_mutex_lock (&lock);
  if (!tried)
    {
      char reason[256] = "";

      tried = TRUE;
      if (vg_cuda_device_count (reason, sizeof reason) <= 0)
        g_snprintf (why, sizeof why, "%s", reason);
      else if (vg_cuda_backend_init (reason, sizeof reason) != 0)
        g_snprintf (why, sizeof why, "%s", reason);
      else
        ok = TRUE;
    }
  if (ok)
    be = &cuda_backend;
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "CUDA is unavailable: %s", why);
  g_mutex_unlock (&lock);
  return be;
}
