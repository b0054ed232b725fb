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
} VgNetModel;

static inline float *
net_scratch (VgModel *m)
{
  return ((VgNetModel *) m->arch_state)->scratch;
}
