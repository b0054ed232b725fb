/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A graph of convolutional layers: the forward and backward passes through the backend
 * table (vg-net.h). The backward visits the nodes in reverse; a node's gradient is complete
 * when all its readers (later nodes) have been visited. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include "vg-net-private.h"
#include "vg-nn.h"

static VgNetNode *
node_at (VgNet *net, int x)
{
  return &g_array_index (net->nodes, VgNetNode, x);
}

static size_t
numel (const VgNetNode *n, int B)
{
  return (size_t) B * n->H * n->W * n->C;
}

/* The mask of the k-th dropout layer for a forward's seed: the seed itself for the first
 * (vg_model_set_dropout_seed), a stream of its own for any other. */
static uint64_t
dropout_seed (uint64_t seed, int k)
{
  return seed ^ ((uint64_t) k * 0xd1b54a32d192ed03ull);
}

/* A convolution, with the BatchNorm after it folded in where the plan says so. The fold is
 * made again at every forward: parameters are written through several doors (loading, the
 * optimisers, the distributed broadcast, vg_model_params' pointer), none of which tells the
 * graph, and a stale fold would give wrong logits silently. It reads the weight once and
 * writes it once: 0.43-0.45 ms of Fast-SCNN's 20 ms at 512 (bench --profile), the price of
 * never being stale. */
static void
forward_conv (VgModel *m, VgNet *net, VgNetNode *n, const VgNetNode *in, int B,
              gboolean training)
{
  const VgBackend *be = m->be;
  const float *w = n->w.w, *b = n->w.b;

  if (n->fold != 0)
    {
      const VgBatchNormW *bn = &node_at (net, n->fold)->bn;

      g_assert (!training);
      be->batchnorm_fold (n->fw, n->fb, n->w.w, n->w.b, bn->affine.w, bn->affine.b,
                          bn->running_mean, bn->running_var, m->cfg.bn_eps, n->C,
                          conv_weight_numel (n, in) / n->C);
      w = n->fw;
      b = n->fb;
    }
  if (n->Dl == 1)
    {
      /* the backend's faster forward where it has one (Winograd on the CPU), applying the
       * ReLU after it where the plan says so */
      if (be->conv2d_forward_fast != NULL)
        be->conv2d_forward_fast (n->out, in->out, w, b, net_scratch (m), B, in->H, in->W,
                                 in->C, n->C, n->K, n->S, n->P, n->G, n->fused != 0);
      else
        {
          be->conv2d_forward (n->out, in->out, w, b, net_scratch (m), B, in->H, in->W, in->C,
                              n->C, n->K, n->S, n->P, n->G);
          if (n->fused != 0)
            be->relu_forward (n->out, n->out, (size_t) B * n->H * n->W * n->C);
        }
    }
  else
    be->conv2d_dilated_forward (n->out, in->out, w, b, net_scratch (m), B, in->H, in->W,
                                in->C, n->C, n->K, n->S, n->P, n->Dl);
}

static void
forward_node (VgModel *m, VgNet *net, guint i, int B, gboolean training, int *n_dropout)
{
  const VgBackend *be = m->be;
  VgNetNode *n = node_at (net, (int) i), *in = node_at (net, n->in[0]);
  const size_t count = numel (n, B);

  switch (n->op)
    {
    case VG_NET_CONV:
      forward_conv (m, net, n, in, B, training);
      break;
    case VG_NET_BN:
      if (n->folded) /* its convolution wrote its output */
        {
          g_assert (!training);
          break;
        }
      vg_model_batchnorm_forward (m, n->out, n->mean, n->rstd, in->out, &n->bn,
                                  B * in->H * in->W, n->C, training);
      break;
    case VG_NET_RELU:
      if (n->fused == 0) /* else its convolution applied it */
        be->relu_forward (n->out, in->out, count);
      break;
    case VG_NET_MAXPOOL:
      be->maxpool2d_forward (n->out, in->out, B, in->H, in->W, n->C, n->K, n->S);
      break;
    case VG_NET_TCONV:
      be->conv_transpose_forward (n->out, in->out, n->w.w, n->w.b, net_scratch (m), B, in->H,
                                  in->W, in->C, n->C, n->K);
      break;
    case VG_NET_RESIZE:
      be->resize_bilinear_ac_forward (n->out, in->out, B, in->H, in->W, n->H, n->W, n->C);
      break;
    case VG_NET_CONCAT:
      {
        const float *parts[VG_NET_MAX_INPUTS];
        int Cs[VG_NET_MAX_INPUTS];

        for (int k = 0; k < n->n_in; k++)
          {
            parts[k] = node_at (net, n->in[k])->out;
            Cs[k] = node_at (net, n->in[k])->C;
          }
        be->concat_forward (n->out, parts, Cs, n->n_in, B * n->H * n->W);
      }
      break;
    case VG_NET_ADD:
      if (n->out != in->out)
        be->copy (n->out, in->out, count * sizeof (float));
      be->add_inplace (n->out, node_at (net, n->in[1])->out, count);
      break;
    case VG_NET_AVGPOOL:
      be->adaptive_avgpool_forward (n->out, in->out, B, in->H, in->W, n->C, n->H, n->W);
      break;
    case VG_NET_DROPOUT:
      n->seed = dropout_seed (m->dropout_seed, (*n_dropout)++);
      if (training && n->p > 0.0f)
        be->dropout_forward (n->out, in->out, count, n->p, n->seed);
      else
        be->copy (n->out, in->out, count * sizeof (float));
      break;
    case VG_NET_INPUT:
    default:
      g_assert_not_reached ();
    }
}

void
vg_net_arch_forward (VgModel *m, const float *images, int B, gboolean training)
{
  VgNet *net = ((VgNetModel *) m->arch_state)->net;
  int n_dropout = 0;

  /* the image is node 0's output; nothing writes it */
  node_at (net, 0)->out = (float *) images;
  for (guint i = 1; i < net->nodes->len; i++)
    forward_node (m, net, i, B, training, &n_dropout);
}

/* ---- backward -------------------------------------------------------------------------- */

/* Where a gradient for node x goes: its own dout when it has none yet, else temporary
 * slot (added by grad_done); NULL for the image, which needs none. */
static float *
grad_target (VgModel *m, VgNet *net, int x, int slot)
{
  VgNetNode *n = node_at (net, x);

  if (n->op == VG_NET_INPUT)
    return NULL;
  if (!n->have_grad)
    return n->dout;
  return ((VgNetModel *) m->arch_state)->tmp[slot];
}

static void
grad_done (VgModel *m, VgNet *net, int x, float *target, int B)
{
  VgNetNode *n = node_at (net, x);

  if (target == NULL)
    return;
  if (target != n->dout)
    m->be->add_inplace (n->dout, target, numel (n, B));
  n->have_grad = TRUE;
}

/* dinp = dout for an input of a sum */
static void
grad_pass (VgModel *m, VgNet *net, int x, const float *dout, int B)
{
  VgNetNode *n = node_at (net, x);

  if (n->op == VG_NET_INPUT)
    return;
  if (n->have_grad)
    m->be->add_inplace (n->dout, dout, numel (n, B));
  else
    m->be->copy (n->dout, dout, numel (n, B) * sizeof (float));
  n->have_grad = TRUE;
}

static void
backward_concat (VgModel *m, VgNet *net, VgNetNode *n, int B)
{
  float *targets[VG_NET_MAX_INPUTS];
  int Cs[VG_NET_MAX_INPUTS];

  for (int k = 0; k < n->n_in; k++)
    {
      targets[k] = grad_target (m, net, n->in[k], k);
      Cs[k] = node_at (net, n->in[k])->C;
    }
  /* the image (no gradient) never meets a concatenation in these networks */
  for (int k = 0; k < n->n_in; k++)
    g_assert (targets[k] != NULL);
  m->be->concat_backward (targets, n->dout, Cs, n->n_in, B * n->H * n->W);
  for (int k = 0; k < n->n_in; k++)
    grad_done (m, net, n->in[k], targets[k], B);
}

static void
backward_node (VgModel *m, VgNet *net, VgNetNode *n, int B)
{
  const VgBackend *be = m->be;
  VgNetNode *in = node_at (net, n->in[0]);
  float *dinp;

  if (n->op == VG_NET_CONCAT)
    {
      backward_concat (m, net, n, B);
      return;
    }
  if (n->op == VG_NET_ADD)
    {
      grad_pass (m, net, n->in[0], n->dout, B);
      grad_pass (m, net, n->in[1], n->dout, B);
      return;
    }
  dinp = grad_target (m, net, n->in[0], 0);
  switch (n->op)
    {
    case VG_NET_CONV:
      if (n->Dl == 1)
        be->conv2d_backward (dinp, n->g.w, n->g.b, n->dout, in->out, n->w.w, net_scratch (m), B,
                             in->H, in->W, in->C, n->C, n->K, n->S, n->P, n->G);
      else
        be->conv2d_dilated_backward (dinp, n->g.w, n->g.b, n->dout, in->out, n->w.w,
                                     net_scratch (m), B, in->H, in->W, in->C, n->C, n->K, n->S,
                                     n->P, n->Dl);
      break;
    case VG_NET_BN:
      vg_model_batchnorm_backward (m, dinp, n->dout, in->out, n->mean, n->rstd, &n->bn, &n->gbn,
                                   B * in->H * in->W, n->C);
      break;
    case VG_NET_RELU:
      be->relu_backward (dinp, n->dout, n->out, numel (n, B));
      break;
    case VG_NET_MAXPOOL:
      be->maxpool2d_backward (dinp, n->dout, in->out, n->out, B, in->H, in->W, n->C, n->K,
                              n->S);
      break;
    case VG_NET_TCONV:
      be->conv_transpose_backward (dinp, n->g.w, n->g.b, n->dout, in->out, n->w.w,
                                   net_scratch (m), B, in->H, in->W, in->C, n->C, n->K);
      break;
    case VG_NET_RESIZE:
      be->resize_bilinear_ac_backward (dinp, n->dout, B, in->H, in->W, n->H, n->W, n->C);
      break;
    case VG_NET_AVGPOOL:
      be->adaptive_avgpool_backward (dinp, n->dout, B, in->H, in->W, n->C, n->H, n->W);
      break;
    case VG_NET_DROPOUT:
      if (n->p > 0.0f)
        be->dropout_backward (dinp, n->dout, numel (n, B), n->p, n->seed);
      else
        be->copy (dinp, n->dout, numel (n, B) * sizeof (float));
      break;
    case VG_NET_INPUT:
    case VG_NET_CONCAT:
    case VG_NET_ADD:
    default:
      g_assert_not_reached ();
    }
  grad_done (m, net, n->in[0], dinp, B);
}

void
vg_net_arch_backward (VgModel *m, int B)
{
  VgNet *net = ((VgNetModel *) m->arch_state)->net;
  guint last = net->nodes->len - 1;

  for (guint i = 0; i < last; i++)
    node_at (net, (int) i)->have_grad = FALSE;
  node_at (net, (int) last)->have_grad = TRUE; /* the loss's gradient, m->dlogits */
  for (guint i = last; i >= 1; i--)
    {
      VgNetNode *n = node_at (net, (int) i);

      /* every node leads to the logits in these networks; one that did not has no
       * gradient and no parameters' gradient to add */
      if (n->have_grad)
        backward_node (m, net, n, B);
    }
}
