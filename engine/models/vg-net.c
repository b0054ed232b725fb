/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A graph of convolutional layers (vg-net.h): building, the parameter table, binding,
 * initialisation, the activation plan and the layer table. The passes: vg-net-passes.c. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vg-net-private.h"
#include "vg-spec-list.h"

/* The size the parameter table and the binding build the graph at: shapes of tensors do
 * not depend on it. */
#define NOMINAL_SIZE 64

/* ---- building -------------------------------------------------------------------------- */

VgNet *
vg_net_new (const VgConfig *cfg, VgNetBuild build, int H, int W)
{
  VgNet *net = g_new0 (VgNet, 1);
  VgNetNode input = { .op = VG_NET_INPUT, .H = H, .W = W, .C = cfg->in_channels };

  net->nodes = g_array_new (FALSE, TRUE, sizeof (VgNetNode));
  net->marks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_array_append_val (net->nodes, input);
  build (net, cfg);
  return net;
}

void
vg_net_free (VgNet *net)
{
  if (net == NULL)
    return;
  g_array_free (net->nodes, TRUE);
  g_hash_table_unref (net->marks);
  g_free (net);
}

int
vg_net_input_height (const VgNet *net)
{
  return vg_net_node (net, 0)->H;
}

int
vg_net_input_width (const VgNet *net)
{
  return vg_net_node (net, 0)->W;
}

const VgNetNode *
vg_net_node (const VgNet *net, int x)
{
  g_assert (x >= 0 && (guint) x < net->nodes->len);
  return &g_array_index (net->nodes, VgNetNode, x);
}

/* Append a node reading xs (count of them); returns its index. Appending may move the
 * nodes: a builder keeps indices, never node pointers, across calls. */
static int
add_node (VgNet *net, VgNetNode *node, const int *xs, int count)
{
  g_assert (count >= 1 && count <= VG_NET_MAX_INPUTS);
  node->n_in = count;
  for (int i = 0; i < count; i++)
    {
      g_assert (xs[i] >= 0 && (guint) xs[i] < net->nodes->len);
      node->in[i] = xs[i];
      g_array_index (net->nodes, VgNetNode, xs[i]).consumers++;
    }
  g_array_append_val (net->nodes, *node);
  return (int) net->nodes->len - 1;
}

/* Append node, reading x, under the name fmt/ap (a state_dict prefix). */
static int
add_named (VgNet *net, VgNetNode *node, int x, const char *fmt, va_list ap)
{
  g_vsnprintf (node->name, sizeof node->name, fmt, ap);
  return add_node (net, node, &x, 1);
}

int
vg_net_conv (VgNet *net, int x, int cout, int K, int S, int P, int Dl, int G, gboolean bias,
             const char *fmt, ...)
{
  const VgNetNode *in = vg_net_node (net, x);
  VgNetNode n = { .op = VG_NET_CONV, .C = cout, .K = K, .S = S, .P = P, .Dl = Dl, .G = G,
                  .bias = bias };
  va_list ap;
  int y;

  g_assert (in->C % G == 0 && cout % G == 0 && (Dl == 1 || G == 1));
  n.H = (in->H + 2 * P - Dl * (K - 1) - 1) / S + 1;
  n.W = (in->W + 2 * P - Dl * (K - 1) - 1) / S + 1;
  va_start (ap, fmt);
  y = add_named (net, &n, x, fmt, ap);
  va_end (ap);
  return y;
}

int
vg_net_bn (VgNet *net, int x, const char *fmt, ...)
{
  const VgNetNode *in = vg_net_node (net, x);
  VgNetNode n = { .op = VG_NET_BN, .H = in->H, .W = in->W, .C = in->C };
  va_list ap;
  int y;

  va_start (ap, fmt);
  y = add_named (net, &n, x, fmt, ap);
  va_end (ap);
  return y;
}

/* A node of x's shape without parameters. */
static int
add_plain (VgNet *net, VgNetOp op, int x)
{
  const VgNetNode *in = vg_net_node (net, x);
  VgNetNode n = { .op = op, .H = in->H, .W = in->W, .C = in->C };

  return add_node (net, &n, &x, 1);
}

int
vg_net_relu (VgNet *net, int x)
{
  return add_plain (net, VG_NET_RELU, x);
}

int
vg_net_maxpool (VgNet *net, int x, int K, int S)
{
  int y = add_plain (net, VG_NET_MAXPOOL, x);
  VgNetNode *n = &g_array_index (net->nodes, VgNetNode, y);

  n->K = K;
  n->S = S;
  n->H = (n->H - K) / S + 1;
  n->W = (n->W - K) / S + 1;
  return y;
}

int
vg_net_tconv (VgNet *net, int x, int cout, int K, const char *fmt, ...)
{
  const VgNetNode *in = vg_net_node (net, x);
  VgNetNode n = { .op = VG_NET_TCONV, .H = in->H * K, .W = in->W * K, .C = cout, .K = K,
                  .bias = TRUE };
  va_list ap;
  int y;

  va_start (ap, fmt);
  y = add_named (net, &n, x, fmt, ap);
  va_end (ap);
  return y;
}

/* A node of x's channels at another size, without parameters. */
static int
add_resized (VgNet *net, VgNetOp op, int x, int H, int W)
{
  int y = add_plain (net, op, x);
  VgNetNode *n = &g_array_index (net->nodes, VgNetNode, y);

  n->H = H;
  n->W = W;
  return y;
}

int
vg_net_resize (VgNet *net, int x, int H, int W)
{
  return add_resized (net, VG_NET_RESIZE, x, H, W);
}

int
vg_net_avgpool (VgNet *net, int x, int H, int W)
{
  return add_resized (net, VG_NET_AVGPOOL, x, H, W);
}

int
vg_net_concat (VgNet *net, const int *xs, int count)
{
  const VgNetNode *first = vg_net_node (net, xs[0]);
  VgNetNode n = { .op = VG_NET_CONCAT, .H = first->H, .W = first->W };

  for (int i = 0; i < count; i++)
    {
      g_assert (vg_net_node (net, xs[i])->H == n.H && vg_net_node (net, xs[i])->W == n.W);
      n.C += vg_net_node (net, xs[i])->C;
    }
  return add_node (net, &n, xs, count);
}

int
vg_net_add (VgNet *net, int a, int b)
{
  const VgNetNode *na = vg_net_node (net, a), *nb = vg_net_node (net, b);
  VgNetNode n = { .op = VG_NET_ADD, .H = na->H, .W = na->W, .C = na->C };
  int xs[2] = { a, b };

  g_assert (na->H == nb->H && na->W == nb->W && na->C == nb->C);
  return add_node (net, &n, xs, 2);
}

int
vg_net_dropout (VgNet *net, int x, float p)
{
  int y = add_plain (net, VG_NET_DROPOUT, x);

  g_array_index (net->nodes, VgNetNode, y).p = p;
  return y;
}

void
vg_net_mark (VgNet *net, int x, const char *name)
{
  g_hash_table_insert (net->marks, g_strdup (name), GINT_TO_POINTER (x));
}

/* ---- the parameter table ----------------------------------------------------------------- */

static VgNet *
nominal_net (const VgConfig *cfg)
{
  return vg_net_new (cfg, vg_arch_get (cfg->arch)->build, NOMINAL_SIZE, NOMINAL_SIZE);
}

int
vg_net_param_specs (const VgConfig *cfg, VgParamSpec *specs, int max)
{
  g_autoptr (VgNet) net = nominal_net (cfg);
  VgSpecList l = { specs, max, 0 };

  for (guint i = 1; i < net->nodes->len; i++)
    {
      const VgNetNode *n = vg_net_node (net, (int) i);
      const VgNetNode *in = vg_net_node (net, n->in[0]);

      if (n->op == VG_NET_CONV)
        vg_spec_list_conv (&l, n->name, n->C, in->C / n->G, n->K, n->bias);
      else if (n->op == VG_NET_TCONV)
        vg_spec_list_conv_transpose (&l, n->name, in->C, n->C, n->K);
      else if (n->op == VG_NET_BN)
        vg_spec_list_batchnorm (&l, n->name, n->C);
    }
  return l.count;
}

/* ---- binding and initialisation ------------------------------------------------------------ */

/* Point the parameter nodes of net into the model's blocks. */
static void
bind_nodes (VgModel *m, VgNet *net)
{
  for (guint i = 1; i < net->nodes->len; i++)
    {
      VgNetNode *n = &g_array_index (net->nodes, VgNetNode, i);

      if (n->op == VG_NET_CONV || n->op == VG_NET_TCONV)
        vg_model_bind_wb (m, &n->w, &n->g, n->bias, "%s", n->name);
      else if (n->op == VG_NET_BN)
        vg_model_bind_bn (m, &n->bn, &n->gbn, n->name);
    }
}

gboolean
vg_net_arch_bind (VgModel *m, GError **error)
{
  VgNetModel *state = g_new0 (VgNetModel, 1);

  m->arch_state = state;
  state->net = nominal_net (&m->cfg);
  bind_nodes (m, state->net);
  return TRUE;
}

void
vg_net_arch_free (VgModel *m)
{
  VgNetModel *state = m->arch_state;

  if (state == NULL)
    return;
  vg_net_free (state->net);
  g_clear_pointer (&m->arch_state, g_free);
}

/* n floats at dst uniform in +-bound, from the tensor's own generator. */
static void
fill_uniform (float *dst, size_t n, double bound, uint64_t seed, const char *prefix,
              const char *leaf)
{
  g_autofree char *name = g_strdup_printf ("%s.%s", prefix, leaf);
  VgInitRng rng = vg_init_rng_for (seed, name);

  for (size_t k = 0; k < n; k++)
    dst[k] = (float) (bound * (2 * vg_init_rng_uniform (&rng) - 1));
}

/* PyTorch's defaults: Conv2d and ConvTranspose2d weights kaiming_uniform(a = sqrt 5), that
 * is uniform in +-1/sqrt(fan_in), and biases uniform in the same bound, fan_in = the
 * weight's dimension 1 times K x K (Cin/G for a convolution, Cout for a transposed one);
 * BatchNorm weight 1 and bias 0. */
void
vg_net_arch_init (VgModel *m, float *host, uint64_t seed)
{
  VgNet *net = ((VgNetModel *) m->arch_state)->net;

  for (guint i = 1; i < net->nodes->len; i++)
    {
      const VgNetNode *n = vg_net_node (net, (int) i);
      const VgNetNode *in = vg_net_node (net, n->in[0]);

      if (n->op == VG_NET_CONV || n->op == VG_NET_TCONV)
        {
          size_t dim1 = n->op == VG_NET_CONV ? (size_t) in->C / n->G : (size_t) n->C;
          double bound = 1.0 / sqrt ((double) dim1 * n->K * n->K);
          size_t numel = conv_weight_numel (n, in);

          fill_uniform (host + (n->w.w - m->params), numel, bound, seed, n->name, "weight");
          if (n->bias)
            fill_uniform (host + (n->w.b - m->params), n->C, bound, seed, n->name, "bias");
        }
      else if (n->op == VG_NET_BN)
        {
          float *w = host + (n->bn.affine.w - m->params);
          float *b = host + (n->bn.affine.b - m->params);

          for (int c = 0; c < n->C; c++)
            {
              w[c] = 1.0f;
              b[c] = 0.0f;
            }
        }
    }
}

/* ---- the activation plan --------------------------------------------------------------------- */

static gboolean
may_work_in_place (const VgNetNode *in)
{
  /* every op whose backward does not read its own output, and not the image */
  return in->consumers == 1 && in->op != VG_NET_INPUT && in->op != VG_NET_MAXPOOL;
}

static gboolean
is_marked (const VgNet *net, int x)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, net->marks);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (GPOINTER_TO_INT (value) == x)
      return TRUE;
  return FALSE;
}

/* Inference: fold each BatchNorm into the convolution before it where that convolution's
 * output is read by the BatchNorm alone and named by nothing (vg-net.h). */
static void
plan_folds (VgNet *net)
{
  for (guint i = 1; i < net->nodes->len; i++)
    {
      VgNetNode *n = &g_array_index (net->nodes, VgNetNode, i);
      VgNetNode *in = &g_array_index (net->nodes, VgNetNode, n->in[0]);

      if (n->op == VG_NET_BN && in->op == VG_NET_CONV && in->consumers == 1
          && !is_marked (net, n->in[0]))
        {
          in->fold = (int) i;
          n->folded = TRUE;
        }
    }
}

void
vg_net_arch_unplan (VgModel *m)
{
  VgNetModel *state = m->arch_state;

  if (state == NULL)
    return;
  for (int i = 0; i < VG_NET_MAX_INPUTS; i++)
    state->tmp[i] = NULL;
  state->scratch = NULL;
  state->dout_pool = NULL;
}

/* ---- the gradients' memory ------------------------------------------------------------ */

/* A free span of the pool, in floats. */
typedef struct {
  size_t at, n;
} Span;

/* A node's gradient in floats, rounded up as the plan rounds its views (64 bytes). */
static size_t
node_floats (const VgNetNode *n, int B)
{
  return ((size_t) B * n->H * n->W * n->C + 15) & ~(size_t) 15;
}

/* n floats from the first free span that holds them, else from the pool's end. */
static size_t
pool_take (GArray *free_spans, size_t *end, size_t n)
{
  for (guint i = 0; i < free_spans->len; i++)
    {
      Span *s = &g_array_index (free_spans, Span, i);
      size_t at = s->at;

      if (s->n < n)
        continue;
      s->at += n;
      s->n -= n;
      if (s->n == 0)
        g_array_remove_index (free_spans, i);
      return at;
    }
  *end += n;
  return *end - n;
}

/* The span [at, at + n) back, kept sorted and merged with its neighbours. */
static void
pool_give (GArray *free_spans, size_t at, size_t n)
{
  guint i = 0;
  Span s = { at, n };

  while (i < free_spans->len && g_array_index (free_spans, Span, i).at < at)
    i++;
  g_array_insert_val (free_spans, i, s);
  if (i + 1 < free_spans->len)
    {
      Span *a = &g_array_index (free_spans, Span, i), *b = a + 1;
      if (a->at + a->n == b->at)
        {
          a->n += b->n;
          g_array_remove_index (free_spans, i + 1);
        }
    }
  if (i > 0)
    {
      Span *a = &g_array_index (free_spans, Span, i - 1), *b = a + 1;
      if (a->at + a->n == b->at)
        {
          a->n += b->n;
          g_array_remove_index (free_spans, i);
        }
    }
}

/* Offsets of every node's dout in one pool, returning its size in floats. The backward
 * visits the nodes from the last to the first: node x's gradient is first written when its
 * last reader (the highest index) is visited, and last read when x itself is, so it lives
 * over [x, last reader]; the logits' from the loss (before the backward) to their node. Two
 * gradients whose lifetimes do not meet share memory. Every first write overwrites (the
 * gradient rule), so nothing needs the memory zeroed. */
static size_t
plan_gradients (VgNet *net, int B)
{
  guint last = net->nodes->len - 1;
  g_autofree guint *hi = g_new0 (guint, last + 1); /* [0]: the image, no gradient */
  g_autoptr (GArray) free_spans = g_array_new (FALSE, FALSE, sizeof (Span));
  size_t end = 0;

  for (guint i = 1; i <= last; i++)
    hi[i] = i == last ? last + 1 : i; /* a node no one reads: never written */
  for (guint i = 1; i <= last; i++)
    {
      VgNetNode *n = &g_array_index (net->nodes, VgNetNode, i);
      for (int k = 0; k < n->n_in; k++)
        hi[n->in[k]] = MAX (hi[n->in[k]], i);
    }
  for (guint t = last + 1; t >= 1; t--)
    {
      for (guint x = 1; x <= last; x++)
        if (hi[x] == t)
          {
            VgNetNode *n = &g_array_index (net->nodes, VgNetNode, x);
            n->dout_at = pool_take (free_spans, &end, node_floats (n, B));
          }
      if (t <= last)
        {
          VgNetNode *n = &g_array_index (net->nodes, VgNetNode, t);
          pool_give (free_spans, n->dout_at, node_floats (n, B));
        }
    }
  return end;
}

/* Each in-place ReLU straight after a convolution (or after the BatchNorm folded into one)
 * is applied by that convolution as it stores its output (vg_conv2d_forward_fast): the
 * ReLU's output is the convolution's memory either way, and the convolution's backward
 * reads its input, not its output. */
static void
plan_relus (VgNet *net)
{
  for (guint i = 1; i < net->nodes->len; i++)
    {
      VgNetNode *n = &g_array_index (net->nodes, VgNetNode, i);
      VgNetNode *src, *conv;

      if (n->op != VG_NET_RELU || !n->inplace)
        continue;
      src = &g_array_index (net->nodes, VgNetNode, n->in[0]);
      conv = src->folded ? &g_array_index (net->nodes, VgNetNode, src->in[0]) : src;
      if (conv->op != VG_NET_CONV || conv->Dl != 1 || conv->fused != 0)
        continue;
      conv->fused = (int) i;
      n->fused = src->folded ? src->in[0] : n->in[0];
    }
}

void
vg_net_arch_plan (VgModel *m, VgPlan *plan, gboolean training)
{
  VgNetModel *state = m->arch_state;
  const VgBackend *be = m->be;
  const size_t B = (size_t) m->B;
  size_t scratch = 1, max_act = 1;
  VgNet *net;
  guint last;

  vg_net_free (state->net);
  state->net = net = vg_net_new (&m->cfg, m->arch->build, m->H, m->W);
  bind_nodes (m, net);
  if (!training)
    plan_folds (net);
  last = net->nodes->len - 1;
  for (guint i = 1; i <= last; i++)
    {
      VgNetNode *n = &g_array_index (net->nodes, VgNetNode, i);
      VgNetNode *in = &g_array_index (net->nodes, VgNetNode, n->in[0]);
      size_t numel = B * n->H * n->W * n->C;

      n->inplace = n->op == VG_NET_RELU && may_work_in_place (in);
      if (!n->inplace && !n->folded)
        vg_plan_add (plan, &n->out, numel);
      if (n->fold != 0)
        {
          vg_plan_add (plan, &n->fw, conv_weight_numel (n, in));
          vg_plan_add (plan, &n->fb, n->C);
        }
      if (n->op == VG_NET_BN && !n->folded)
        {
          vg_plan_add (plan, &n->mean, n->C);
          vg_plan_add (plan, &n->rstd, n->C);
        }
      if (n->op == VG_NET_CONV && n->Dl == 1)
        scratch = MAX (scratch, be->conv2d_scratch_floats (m->B, in->H, in->W, in->C, n->C,
                                                           n->K, n->S, n->P, n->G));
      else if (n->op == VG_NET_CONV)
        scratch = MAX (scratch, be->conv2d_dilated_scratch_floats (m->B, in->H, in->W, in->C,
                                                                   n->C, n->K, n->S, n->P,
                                                                   n->Dl));
      else if (n->op == VG_NET_TCONV)
        scratch = MAX (scratch, be->conv_transpose_scratch_floats (m->B, in->H, in->W, in->C,
                                                                    n->C, n->K));
      max_act = MAX (max_act, numel);
    }
  plan_relus (net);
  state->dout_pool = NULL;
  if (training)
    {
      vg_plan_add (plan, &state->dout_pool, plan_gradients (net, m->B));
      for (int i = 0; i < VG_NET_MAX_INPUTS; i++)
        vg_plan_add (plan, &state->tmp[i], max_act);
    }
  vg_plan_add (plan, &state->scratch, scratch);
  {
    VgNetNode *out = &g_array_index (net->nodes, VgNetNode, last);

    g_assert (out->H == m->H && out->W == m->W && out->C == m->cfg.num_classes
              && !out->inplace && !out->folded);
  }
}

void
vg_net_arch_planned (VgModel *m)
{
  VgNet *net = ((VgNetModel *) m->arch_state)->net;
  VgNetNode *last = &g_array_index (net->nodes, VgNetNode, net->nodes->len - 1);

  /* a ReLU in place reads and writes its input's memory; a folded BatchNorm's output is
   * its convolution's; in training the gradients lie in their pool */
  for (guint i = 1; i < net->nodes->len; i++)
    {
      VgNetNode *n = &g_array_index (net->nodes, VgNetNode, i);
      VgNetModel *state = m->arch_state;

      if (n->inplace || n->folded)
        n->out = g_array_index (net->nodes, VgNetNode, n->in[0]).out;
      n->dout = state->dout_pool != NULL ? state->dout_pool + n->dout_at : NULL;
    }
  /* the last node is the logits; the loss's gradient is its gradient */
  m->logits = last->out;
  m->dlogits = last->dout;
}

const float *
vg_net_arch_activation (const VgModel *m, const char *name)
{
  const VgNetModel *state = m->arch_state;
  gpointer x;

  if (!g_hash_table_lookup_extended (state->net->marks, name, NULL, &x))
    return NULL;
  return vg_net_node (state->net, GPOINTER_TO_INT (x))->out;
}

/* ---- the layer table ------------------------------------------------------------------------- */

static void
describe_node (const VgNet *net, const VgNetNode *n, char *name, size_t size, size_t *params,
               double *macs)
{
  const VgNetNode *in = vg_net_node (net, n->in[0]);
  const double out_pixels = (double) n->H * n->W;

  *params = 0;
  *macs = 0;
  switch (n->op)
    {
    case VG_NET_CONV:
      *params = conv_weight_numel (n, in) + (n->bias ? n->C : 0);
      *macs = out_pixels * conv_weight_numel (n, in);
      g_snprintf (name, size, "%s (conv %dx%d/%d%s%s)", n->name, n->K, n->K, n->S,
                n->Dl > 1 ? ", dilated" : "", n->G > 1 ? ", depthwise" : "");
      break;
    case VG_NET_TCONV:
      *params = conv_weight_numel (n, in) + n->C;
      *macs = (double) in->H * in->W * conv_weight_numel (n, in);
      g_snprintf (name, size, "%s (transposed conv %dx%d/%d)", n->name, n->K, n->K, n->K);
      break;
    case VG_NET_BN:
      *params = 2 * (size_t) n->C;
      g_snprintf (name, size, "%s (BatchNorm)", n->name);
      break;
    case VG_NET_MAXPOOL:
      g_snprintf (name, size, "max pool %dx%d/%d", n->K, n->K, n->S);
      break;
    case VG_NET_RESIZE:
      g_snprintf (name, size, "bilinear resize");
      break;
    case VG_NET_CONCAT:
      g_snprintf (name, size, "concatenation");
      break;
    case VG_NET_ADD:
      g_snprintf (name, size, "sum");
      break;
    case VG_NET_AVGPOOL:
      g_snprintf (name, size, "adaptive average pool %dx%d", n->H, n->W);
      break;
    case VG_NET_DROPOUT:
      g_snprintf (name, size, "dropout %g", (double) n->p);
      break;
    case VG_NET_RELU:
    case VG_NET_INPUT:
    default:
      g_snprintf (name, size, "ReLU");
      break;
    }
}

int
vg_net_describe (const VgConfig *cfg, int H, int W, VgLayerInfo *rows, int max)
{
  g_autoptr (VgNet) net = vg_net_new (cfg, vg_arch_get (cfg->arch)->build, H, W);
  int count = 0;

  for (guint i = 1; i < net->nodes->len; i++)
    {
      const VgNetNode *n = vg_net_node (net, (int) i);
      VgLayerInfo row = { .shape = { 1, n->H, n->W, n->C } };

      if (n->op == VG_NET_RELU)
        continue;
      describe_node (net, n, row.name, sizeof row.name, &row.params, &row.macs);
      if (rows != NULL && count < max)
        rows[count] = row;
      count++;
    }
  return count;
}
