/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What the model library shares; nothing outside engine/vg-model*.c and engine/models/
 * includes this.
 *
 *   vg-model.c            what every architecture shares: construction from the parameter
 *                         table, the memory plan, initialisation, the loss, synchronised
 *                         BatchNorm, the forward and backward around the architecture's
 *   vg-model-file.c       model files: save, check, load, and opening one with its metadata
 *   models/segformer*.c   the SegFormer (the engine's own design and the report's)
 *   models/vg-net*.c      a graph of convolutional layers, for the convolutional networks:
 *   models/unet.c, deeplab.c, fastscnn.c   the report's three baselines, one file each
 *
 * An architecture is a VgArch: its parameter table (state_dict names, order and shapes of
 * its PyTorch reference), the binding of its views into the model's parameter block, its
 * activation plan, forward, backward and layer table. A new architecture is one more file
 * in engine/models/ and one line in vg_arch_get().
 *
 * Memory: one plan per block of memory. Parameters, gradients, running statistics and
 * activations each live in one allocation of the backend; architectures hold views into
 * them. Forward and backward never allocate. */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "vg-conv-shape.h"
#include "vg-model.h"

/* ---- weights ------------------------------------------------------------------------- */

typedef struct {
  float *w; /* linear (Cout, Cin), conv (Cout, Cin/G, K, K), norm (C) */
  float *b; /* (Cout), NULL for a layer without bias */
} VgWB;

typedef struct {
  VgWB affine;         /* weight, bias (C) */
  float *running_mean; /* (C), no gradient */
  float *running_var;  /* (C), no gradient */
  int64_t *count;      /* num_batches_tracked */
} VgBatchNormW;

/* ---- the memory plan ------------------------------------------------------------------- */

typedef struct {
  GArray *entries; /* (float **, floats) requests */
  size_t total;
} VgPlan;

void vg_plan_init (VgPlan *plan);
/* Request n floats for *ptr; every view is rounded to 16 floats (64 bytes). */
void vg_plan_add (VgPlan *plan, float **ptr, size_t n);
/* Allocate the plan's block (zeroed) and point every view into it; NULL on failure. */
float *vg_plan_commit (VgPlan *plan, const VgBackend *be, GError **error);

/* ---- architectures --------------------------------------------------------------------- */

typedef struct {
  uint64_t state;
  gboolean have_spare;
  double spare;
} VgInitRng;

double vg_init_rng_uniform (VgInitRng *r); /* in (0, 1) */
double vg_init_rng_normal (VgInitRng *r);
/* A generator per tensor, so adding a layer does not shift every other tensor. */
VgInitRng vg_init_rng_for (uint64_t seed, const char *tensor_name);

typedef struct _VgNet VgNet;

typedef struct {
  /* the value of "arch=" in a configuration spec */
  const char *name;
  /* a network of convolutional layers: its graph (models/vg-net.h); NULL otherwise */
  void (*build) (VgNet *net, const VgConfig *cfg);
  /* the tensors in state_dict order (vg_config_param_specs) */
  int (*param_specs) (const VgConfig *cfg, VgParamSpec *specs, int max);
  /* the layer table (vg_model_describe) */
  int (*describe) (const VgConfig *cfg, int H, int W, VgLayerInfo *rows, int max);
  /* the architecture's state and its views into the parameter block, once allocated */
  gboolean (*bind) (VgModel *m, GError **error);
  /* the trainable parameters' initial values (host copy of the parameter block, in spec
   * order), deterministic for seed */
  void (*init) (VgModel *m, float *host, uint64_t seed);
  /* the activation plan for m->B, m->H, m->W */
  void (*plan) (VgModel *m, VgPlan *plan, gboolean training);
  /* once the plan's block is committed: set m->logits and m->dlogits (the gradient of the
   * logits, which may be the logits' own memory) and any views that alias others */
  void (*planned) (VgModel *m);
  /* before a new plan, and when the model is freed: forget the activation views */
  void (*unplan) (VgModel *m);
  void (*forward) (VgModel *m, const float *images, int B, gboolean training);
  /* from m->dlogits of the last training forward; parameter gradients accumulate */
  void (*backward) (VgModel *m, int B);
  const float *(*activation) (const VgModel *m, const char *name);
  void (*free) (VgModel *m);
} VgArch;

/* The architecture's table (models/vg-arch.c). */
const VgArch *vg_arch_get (VgArchitecture arch);

extern const VgArch vg_arch_segformer;
extern const VgArch vg_arch_unet;
extern const VgArch vg_arch_deeplabv3plus;
extern const VgArch vg_arch_fastscnn;

/* ---- the model ------------------------------------------------------------------------- */

struct _VgModel
{
  VgConfig cfg;
  const VgBackend *be;
  const VgArch *arch;
  void *arch_state;     /* the architecture's own (its views, its graph) */

  int n_specs;
  VgParamSpec *specs;
  size_t *spec_offset;  /* offset of each spec in its block (floats, or counters) */
  GHashTable *by_name;  /* name -> spec index + 1 */

  /* parameters, gradients, running statistics: one allocation each */
  float *params;        /* (n_params) */
  float *grads;         /* (n_params) */
  float *buffers;       /* (n_buffers) running_mean / running_var */
  int64_t *counters;    /* (n_counters) num_batches_tracked, host memory */
  size_t n_params, n_buffers;
  int n_counters;
  int max_bn_channels;  /* the widest BatchNorm layer */

  /* activations for (B, H, W), one allocation */
  float *act_block;
  size_t act_floats;
  int B, H, W;
  gboolean training_reserved;
  float *logits;        /* (B, H, W, NC) */
  float *dlogits;       /* (B, H, W, NC), training */

  float *class_weights; /* (NC) device memory */
  gboolean have_class_weights;
  /* the loss (vg_model_set_loss): entries of the backend table */
  float (*loss_forward) (const float *logits, const uint8_t *targets, const float *weights,
                         int ignore_index, int Nr, int NC);
  void (*loss_backward) (float *dlogits, const float *logits, const uint8_t *targets,
                         const float *weights, int ignore_index, float dloss, int Nr, int NC);
  const uint8_t *last_targets;
  const float *last_images;
  int last_B;
  float last_loss;
  VgModelLoss loss;     /* vg_model_set_loss */
  uint64_t dropout_seed; /* the next training forward's (vg_model_set_dropout_seed) */

  /* data-parallel training (vg_model_set_sync): NULL with one process */
  double *sync_sums;    /* (2 max_bn_channels + 1) backend memory: a BatchNorm layer's sums */
};

/* ---- binding and shared layers ------------------------------------------------------------ */

/* The parameter (and gradient) of a state_dict name; a missing name is a programming error
 * (the parameter table and the binding describe the same design), caught by the tests of
 * every shipped configuration. */
void vg_model_bind_wb (VgModel *m, VgWB *w, VgWB *g, gboolean bias, const char *fmt, ...)
  G_GNUC_PRINTF (5, 6);
void vg_model_bind_bn (VgModel *m, VgBatchNormW *w, VgBatchNormW *g, const char *prefix);

/* BatchNorm over (Nr, C) rows in training (batch statistics, synchronised over the
 * processes when the model is) or evaluation mode; out may not alias inp. */
void vg_model_batchnorm_forward (VgModel *m, float *out, float *mean, float *rstd,
                                 const float *inp, const VgBatchNormW *bn, int Nr, int C,
                                 gboolean training);
/* Its backward: dinp (=) and the affine gradients (+=) from dout. */
void vg_model_batchnorm_backward (VgModel *m, float *dinp, const float *dout, const float *inp,
                                  const float *mean, const float *rstd, const VgBatchNormW *w,
                                  const VgBatchNormW *g, int Nr, int C);
