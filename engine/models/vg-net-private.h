/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The graph's state, shared by vg-net.c and vg-net-passes.c (nothing else includes this). */
#pragma once

#include "vg-net.h"

struct _VgNet
{
  GArray *nodes;       /* VgNetNode; node 0 is the image */
  GHashTable *marks;   /* activation name -> node index */
};

/* A model's state (VgModel.arch_state): the graph for the reserved size, and memory the
 * passes share. */
typedef struct {
  VgNet *net;
  float *tmp[VG_NET_MAX_INPUTS]; /* gradients to add into a node that has one already */
  float *scratch;                /* the convolutions' */
  float *dout_pool;              /* training: every node's dout, lifetimes sharing memory */
} VgNetModel;

static inline float *
net_scratch (VgModel *m)
{
  return ((VgNetModel *) m->arch_state)->scratch;
}

/* The element count of a convolution's weight (C x Cin/G x K x K) or of a transposed
 * convolution's (Cin x C x K x K); in is the node's input. */
static inline size_t
conv_weight_numel (const VgNetNode *n, const VgNetNode *in)
{
  size_t per_out = n->op == VG_NET_TCONV ? (size_t) in->C : (size_t) (in->C / n->G);

  return (size_t) n->C * per_out * n->K * n->K;
}
