/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A model of any architecture (vg-config.h): weights, gradients and activations laid out
 * by one memory plan, forward and backward through a backend table.
 *
 * Shape letters as in nn/vg-nn.h. Images are channels-last (B, H, W, 3) floats, already
 * normalised; targets (B, H, W) uint8 class ids (255 = ignore); logits (B, H, W, NC).
 * H and W must be multiples of 32 (every architecture downsamples by at most 32). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "vg-backend.h"
#include "vg-config.h"

typedef struct _VgModel VgModel;

#define VG_IGNORE_INDEX 255

/* Allocate the parameter, gradient and running-statistics blocks for cfg on backend be.
 * Parameters start at PyTorch's defaults for this design (see vg_model_init). */
VgModel *vg_model_new (const VgConfig *cfg, const VgBackend *be, GError **error);
void vg_model_free (VgModel *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgModel, vg_model_free)

const VgConfig *vg_model_config (const VgModel *model);
const VgBackend *vg_model_backend (const VgModel *model);

/* The architecture's initialisation, deterministic for a seed. SegFormer: linear weights
 * truncated normal (std 0.02), conv weights normal(0, sqrt(2 / fan_out)), norms 1 and 0,
 * biases 0, the transposed conv head PyTorch's default uniform. The convolutional
 * baselines: PyTorch's defaults (weights and biases uniform in +-1/sqrt(fan_in), norms 1
 * and 0), as the report trained them. Running statistics 0 and 1, counters 0. */
void vg_model_init (VgModel *model, uint64_t seed);

/* Plan and allocate the activations for batches of up to B images of H x W. With
 * training FALSE only what inference needs is allocated. Call again to change sizes;
 * nothing is allocated by forward or backward. */
gboolean vg_model_reserve (VgModel *model, int B, int H, int W, gboolean training,
                           GError **error);
/* Bytes held by the model (parameters, gradients, activations, scratch). */
size_t vg_model_memory_bytes (const VgModel *model);

/* Class weights of the loss (NC floats, host memory), or NULL for plain cross-entropy. */
void vg_model_set_class_weights (VgModel *model, const float *weights);

/* The loss of a forward with targets and of vg_model_backward: the cross-entropy (weighted
 * by the class weights), alone or plus a soft Dice (nn/vg-dice.h) over all classes or
 * over the classes present in the batch. */
typedef enum {
  VG_MODEL_LOSS_CROSS_ENTROPY = 0,           /* the default */
  VG_MODEL_LOSS_CROSS_ENTROPY_DICE,
  VG_MODEL_LOSS_CROSS_ENTROPY_DICE_PRESENT,
  VG_MODEL_LOSS_CROSS_ENTROPY_LOVASZ, /* + Lovász-softmax, present classes (nn/vg-lovasz.h) */
} VgModelLoss;

/* Whether backend be implements loss (every backend has the cross-entropy). */
gboolean vg_model_loss_supported (const VgBackend *be, VgModelLoss loss);
/* FALSE (and the loss unchanged) when the model's backend does not implement loss. */
gboolean vg_model_set_loss (VgModel *model, VgModelLoss loss, GError **error);

/* Forward pass over B <= reserved images (device memory of the backend). In training
 * mode BatchNorm uses batch statistics and updates its running statistics. With targets
 * (device memory), returns the loss (vg_model_set_loss); otherwise returns 0. */
float vg_model_forward (VgModel *model, const float *images, const uint8_t *targets, int B,
                        gboolean training);
/* Backward pass of the last training forward (which had targets): accumulates parameter
 * gradients (call vg_model_zero_grad first). Overwrites the logits. */
void vg_model_backward (VgModel *model);
/* The same with the loss's gradient scaled by dloss: the backward of dloss * loss. A
 * process of a data-parallel run passes W_r / W, its share of the global batch's weight
 * total, so that its gradients are its part of the global batch's loss (see
 * vg_model_set_sync). */
void vg_model_backward_scaled (VgModel *model, float dloss);
/* A training step's forward and backward (vg_model_forward with training, then
 * vg_model_backward unless the loss is NaN or infinite): the same loss and gradients, the
 * plain cross-entropy's forward and backward in one pass over the logits where the backend
 * has it. Overwrites the logits. The loss's gradient is not scaled: a process of a
 * data-parallel run calls the two with vg_model_backward_scaled. */
float vg_model_forward_backward (VgModel *model, const float *images, const uint8_t *targets,
                                 int B);
void vg_model_zero_grad (VgModel *model);

/* Data-parallel training (engine/vg-dist.h): each process runs the model on its shard of
 * one global batch. Synchronised, the BatchNorm layers of training forwards and backwards
 * use the statistics of the global batch (two sums of 2C + 1 doubles over the processes per
 * layer and pass, through the backend's dist_sum), so that the shards together compute what
 * one process would on the whole batch; the running statistics stay the same on every
 * process. A Dice loss then sums its class sums over the processes too (the backend's
 * _dist_ losses), so that the forward returns the global batch's loss and the backward
 * this process's rows of its gradient (vg_model_loss_global); the cross-entropy alone stays
 * per process, weighted by the caller (vg_model_backward_scaled). The backend must have
 * the synchronised BatchNorm's entries, dist_sum and the loss's _dist_ entries; FALSE (and
 * an error) otherwise. */
gboolean vg_model_set_sync (VgModel *model, gboolean sync, GError **error);
/* Whether the loss of a training forward is the global batch's already (a synchronised
 * model with a Dice loss), so that the caller neither sums nor weights it. */
gboolean vg_model_loss_global (const VgModel *model);

/* The dropout mask of the next training forward (Fast-SCNN's classifier): its seed for
 * vg_dropout_keep (nn/vg-nn.h). Each training forward then moves to the next seed
 * (splitmix64), so a run is reproducible; models without dropout ignore it. */
void vg_model_set_dropout_seed (VgModel *model, uint64_t seed);
/* Logits of the last forward, (B, H, W, NC) in device memory. */
const float *vg_model_logits (const VgModel *model);

/* An intermediate activation of the last forward, channels-last, for tests and tools.
 * SegFormer: "stage0".."stage3" (B, Hs, Ws, Cs) after each stage's LayerNorm, "fuse"
 * (B, N0, D) after the fuse BatchNorm + ReLU, "classifier" (B, N0, NC) before the head.
 * Convolutional networks: the output of a module by its state_dict prefix (e.g.
 * "encoder1", "aspp", "global_feature_extractor"). NULL if unknown. */
const float *vg_model_activation (const VgModel *model, const char *name);

/* BatchNorm's num_batches_tracked (the same for every BatchNorm layer). */
int64_t vg_model_batches_tracked (const VgModel *model);

/* Flat parameter and gradient blocks (trainable parameters only, state_dict order). */
float *vg_model_params (VgModel *model);
float *vg_model_grads (VgModel *model);
size_t vg_model_num_params (const VgModel *model);

/* A named tensor (state_dict name) in device memory: the parameter, or with grad TRUE its
 * gradient; running statistics too (no gradient). NULL if there is no such tensor. */
float *vg_model_tensor (VgModel *model, const char *name, gboolean grad, size_t *numel);

/* ---- description (no allocation of the model needed) --------------------------------- */
typedef struct {
  char name[128];
  int shape[4];    /* output (B, H, W, C) for B = 1 */
  size_t params;   /* trainable parameters of this layer */
  double macs;     /* multiply-accumulates of the forward for one image */
} VgLayerInfo;

/* Rows of the layer table for an H x W input; returns the count (writes at most max). */
int vg_model_describe (const VgConfig *cfg, int H, int W, VgLayerInfo *rows, int max);
/* Forward multiply-accumulates for one H x W image. */
double vg_model_forward_macs (const VgConfig *cfg, int H, int W);

#define VG_MODEL_ERROR (vg_model_error_quark ())
GQuark vg_model_error_quark (void);

typedef enum {
  VG_MODEL_ERROR_FAILED = 0,      /* a file or configuration that does not fit, memory */
  VG_MODEL_ERROR_NOT_FINITE = 1,  /* a weight in the file is NaN or infinite */
} VgModelError;
