/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A graph of convolutional layers, the shared machinery of the convolutional networks
 * (U-Net, DeepLabV3+, Fast-SCNN): a model file only builds its graph, in the order of its
 * PyTorch module's registration (which is the state_dict's), and gets the parameter table,
 * binding, PyTorch's default initialisation, the activation plan, forward, backward and the
 * layer table from here.
 *
 * A node is one layer over channels-last (B, H, W, C) tensors; node 0 is the image. Shapes
 * are known when the graph is built (vg_net_new takes the input size), so a builder may use
 * them (e.g. to resize to another node's size). Names are state_dict prefixes
 * ("encoder1.0"); vg_net_mark names a module's output for vg_model_activation.
 *
 * Memory: every node has its output (a ReLU works in place over an input that nothing else
 * reads) and, in training, its gradient; a node read by several others receives their
 * gradients summed (the first written in place, the rest through temporaries). A plan for
 * inference folds each BatchNorm into the convolution it alone reads (whose output nothing
 * else reads, nor names): the convolution runs with its weights times the BatchNorm's scale
 * (folded again at every forward, so weights changed since are used) and writes the
 * BatchNorm's output. */
#pragma once

#include "vg-model-private.h"

#define VG_NET_MAX_INPUTS 5

typedef enum {
  VG_NET_INPUT = 0,
  VG_NET_CONV,     /* Conv2d: K, S, P, dilation Dl, groups G, bias */
  VG_NET_BN,       /* BatchNorm2d */
  VG_NET_RELU,
  VG_NET_MAXPOOL,  /* MaxPool2d(K, S) */
  VG_NET_TCONV,    /* ConvTranspose2d(kernel = stride = K) */
  VG_NET_RESIZE,   /* interpolate(bilinear, align_corners=True) to H x W */
  VG_NET_CONCAT,   /* torch.cat(dim=1) of the inputs */
  VG_NET_ADD,      /* in[0] + in[1] */
  VG_NET_AVGPOOL,  /* AdaptiveAvgPool2d((H, W)) */
  VG_NET_DROPOUT,  /* Dropout(p) */
} VgNetOp;

typedef struct {
  VgNetOp op;
  int in[VG_NET_MAX_INPUTS], n_in;
  int H, W, C;                   /* the output, per image */
  int K, S, P, Dl, G;            /* convolutions and pooling */
  gboolean bias;
  float p;                       /* dropout */
  char name[VG_PARAM_NAME_MAX];  /* state_dict prefix of a layer with parameters */
  int consumers;                 /* nodes that read this one */
  gboolean inplace;              /* a ReLU over its input's memory */
  int fold;                      /* inference: the BatchNorm folded into this convolution */
  gboolean folded;               /* inference: a BatchNorm its convolution applies */
  int fused;                     /* a convolution that applies the in-place ReLU after it (or
                                  * after its folded BatchNorm): on each, the other's index;
                                  * 0: none */
  /* bound by vg_net_bind / vg_net_plan */
  VgWB w, g;
  VgBatchNormW bn, gbn;
  float *out, *dout, *mean, *rstd;
  size_t dout_at;                /* training: dout's offset in the pool of gradients */
  float *fw, *fb;                /* a convolution with a BatchNorm folded in */
  uint64_t seed;                 /* dropout: the mask of the last training forward */
  gboolean have_grad;            /* backward: dout holds a gradient */
} VgNetNode;

/* A builder: the graph of cfg's network for the net's input size. */
typedef void (*VgNetBuild) (VgNet *net, const VgConfig *cfg);

VgNet *vg_net_new (const VgConfig *cfg, VgNetBuild build, int H, int W);
void vg_net_free (VgNet *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgNet, vg_net_free)

/* For builders: the input node's size, and a node by index (shapes). */
int vg_net_input_height (const VgNet *net);
int vg_net_input_width (const VgNet *net);
const VgNetNode *vg_net_node (const VgNet *net, int x);

/* Layers; each returns the new node's index. The name is a printf format. */
int vg_net_conv (VgNet *net, int x, int cout, int K, int S, int P, int Dl, int G,
                 gboolean bias, const char *fmt, ...) G_GNUC_PRINTF (10, 11);
int vg_net_bn (VgNet *net, int x, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
int vg_net_relu (VgNet *net, int x);
int vg_net_maxpool (VgNet *net, int x, int K, int S);
int vg_net_tconv (VgNet *net, int x, int cout, int K, const char *fmt, ...)
  G_GNUC_PRINTF (5, 6);
int vg_net_resize (VgNet *net, int x, int H, int W);
int vg_net_concat (VgNet *net, const int *xs, int count);
int vg_net_add (VgNet *net, int a, int b);
int vg_net_avgpool (VgNet *net, int x, int H, int W);
int vg_net_dropout (VgNet *net, int x, float p);
/* Name node x's output for vg_model_activation. */
void vg_net_mark (VgNet *net, int x, const char *name);

/* The architecture table entries of a graph-built network (vg-model-private.h). */
int vg_net_param_specs (const VgConfig *cfg, VgParamSpec *specs, int max);
int vg_net_describe (const VgConfig *cfg, int H, int W, VgLayerInfo *rows, int max);
gboolean vg_net_arch_bind (VgModel *m, GError **error);
void vg_net_arch_init (VgModel *m, float *host, uint64_t seed);
void vg_net_arch_plan (VgModel *m, VgPlan *plan, gboolean training);
void vg_net_arch_planned (VgModel *m);
void vg_net_arch_unplan (VgModel *m);
void vg_net_arch_forward (VgModel *m, const float *images, int B, gboolean training);
void vg_net_arch_backward (VgModel *m, int B);
const float *vg_net_arch_activation (const VgModel *m, const char *name);
void vg_net_arch_free (VgModel *m);

/* A VgArch for a network built by BUILD (a VgNetBuild). */
#define VG_NET_ARCH(NAME, BUILD)                                                         \
  {                                                                                      \
    .name = NAME, .build = BUILD, .param_specs = vg_net_param_specs,                     \
    .describe = vg_net_describe, .bind = vg_net_arch_bind, .init = vg_net_arch_init,     \
    .plan = vg_net_arch_plan, .planned = vg_net_arch_planned,                            \
    .unplan = vg_net_arch_unplan,                                                        \
    .forward = vg_net_arch_forward, .backward = vg_net_arch_backward,                    \
    .activation = vg_net_arch_activation, .free = vg_net_arch_free,                      \
  }
