/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The SegFormer of vg-model.c as an ONNX graph (opset 17), op for op the function of
 * vg_model_forward in evaluation mode.
 *
 * Shape letters as in vg-model.c: B batch, H, W input size, Hs, Ws and Ns = Hs*Ws tokens
 * of stage s, C its width, hC = mlp_ratio * C, M tokens after spatial reduction R, NH
 * heads, hd = C / NH head size, D decoder width, NC classes.
 *
 * Layout: the graph is NCHW where the engine is channels-last. Convolutions (patch
 * embeddings, spatial reduction, depthwise 3x3, decoder 1x1) run on (B, C, Hs, Ws); the
 * transformer blocks run on tokens (B, Ns, C), so LayerNormalization (axis -1) and the
 * linears (MatMul with the weight stored transposed, (Cin, Cout), then Add of the bias)
 * act on the channels as in the engine. Every reshape takes its sizes from Shape of the
 * stage's patch embedding, so batch, height and width stay symbolic: any size that is a
 * multiple of 32 runs, as in the engine.
 *
 * Numerics, as the engine computes them:
 *  - LayerNorm: biased variance, eps (cfg.ln_eps) inside the square root
 *    (LayerNormalization, stash_type float).
 *  - GELU: the exact erf form 0.5 x (1 + erf(x / sqrt 2)) (nn/activation.c), written as
 *    Div, Erf, Add, Mul, Mul (opset 17 has no Gelu op; ONNX Runtime fuses the pattern).
 *  - Attention: softmax(Q K^T / sqrt(hd)) V per head, head h the channels [h hd, (h+1) hd).
 *  - BatchNorm: evaluation mode with the running statistics, kept as BatchNormalization
 *    (cfg.bn_eps) rather than folded, so the file holds the state_dict's tensors unchanged;
 *    runtimes fold it into the convolution themselves.
 *  - Bilinear resizes: Resize linear with coordinate_transformation_mode
 *    pytorch_half_pixel, i.e. F.interpolate(align_corners=False) as nn/resize.c: source
 *    (o + 0.5) * in / out - 0.5, clamped at the edges.
 *  - Decoder fuse: the concatenation [stage 3, 2, 1, 0] and one 1x1 convolution. The
 *    engine applies the fuse weight's column blocks stage by stage before resizing
 *    (resizing commutes with a per-pixel matrix); the same function up to float rounding.
 *  - Head: bilinear x4 (Resize to the input's size) or the 4x4 stride-4 ConvTranspose.
 *
 * Weights keep their state_dict names; linear weights are stored transposed under
 * "<name>_t". Gradient rule: none, this is inference only. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "vg-atomic-file.h"
#include "vg-classes.h"
#include "vg-onnx.h"
#include "vg-onnx-builder.h"

G_DEFINE_QUARK (vg-onnx-error-quark, vg_onnx_error)

#define OUT(node) ((const char *) (node)->output[0])

typedef struct {
  VgOnnxBuilder *b;
  VgModel *model;
  const VgConfig *cfg;
  GHashTable *specs;  /* state_dict name -> VgParamSpec */
  GError *error;      /* the first failure; the graph is abandoned then */
} Ctx;

gboolean
vg_onnx_supported (void)
{
  return TRUE;
}

/* ---- weights --------------------------------------------------------------------------- */

/* The tensor name of the model in host memory (numel floats, g_free it), or NULL with
 * c->error set. */
static float *
download (Ctx *c, const char *name, const VgParamSpec **spec_out)
{
  const VgParamSpec *spec = g_hash_table_lookup (c->specs, name);
  const VgBackend *be = vg_model_backend (c->model);
  size_t numel = 0;
  const float *dev;
  float *host;

  dev = spec != NULL ? vg_model_tensor (c->model, name, FALSE, &numel) : NULL;
  if (dev == NULL || numel != spec->numel)
    {
      if (c->error == NULL)
        g_set_error (&c->error, VG_ONNX_ERROR, VG_ONNX_ERROR_MODEL,
                     "the model has no tensor %s of the expected size", name);
      return NULL;
    }
  host = g_new (float, MAX (numel, 1));
  be->download (host, dev, numel * sizeof (float));
  *spec_out = spec;
  return host;
}

/* The tensor as an initializer of its own name and shape. */
static const char *
param (Ctx *c, const char *prefix, const char *suffix)
{
  g_autofree char *name = g_strdup_printf ("%s.%s", prefix, suffix);
  const VgParamSpec *spec = NULL;
  g_autofree float *data = download (c, name, &spec);
  int64_t dims[4];

  if (data == NULL)
    return "";
  for (int i = 0; i < spec->ndim; i++)
    dims[i] = spec->shape[i];
  return vg_onnx_initializer (c->b, name, VG_ONNX_FLOAT, data, spec->ndim, dims);
}

/* A linear's weight (Cout, Cin) stored transposed, (Cin, Cout), for MatMul. */
static const char *
param_transposed (Ctx *c, const char *prefix)
{
  g_autofree char *name = g_strdup_printf ("%s.weight", prefix);
  g_autofree char *name_t = g_strdup_printf ("%s.weight_t", prefix);
  const VgParamSpec *spec = NULL;
  g_autofree float *data = download (c, name, &spec);
  g_autofree float *t = NULL;
  int64_t dims[2];
  int cout, cin;

  if (data == NULL)
    return "";
  cout = spec->shape[0];
  cin = spec->shape[1];
  t = g_new (float, (size_t) cout * cin);
  for (int o = 0; o < cout; o++)
    for (int i = 0; i < cin; i++)
      t[(size_t) i * cout + o] = data[(size_t) o * cin + i];
  dims[0] = cin;
  dims[1] = cout;
  return vg_onnx_initializer (c->b, name_t, VG_ONNX_FLOAT, t, 2, dims);
}

/* ---- layers ---------------------------------------------------------------------------- */

/* x (..., Cin) -> (..., Cout): x W^T + b. */
static const char *
linear (Ctx *c, const char *x, const char *prefix)
{
  const char *w = param_transposed (c, prefix);
  const char *bias = param (c, prefix, "bias");
  const char *y = OUT (vg_onnx_node (c->b, "MatMul", vg_onnx_printf (c->b, "%s/matmul", prefix),
                                     x, w, NULL));

  return OUT (vg_onnx_node (c->b, "Add", prefix, y, bias, NULL));
}

/* x (..., C) normalised over C. */
static const char *
layernorm (Ctx *c, const char *x, const char *prefix)
{
  const char *w = param (c, prefix, "weight");
  const char *bias = param (c, prefix, "bias");
  Onnx__NodeProto *n = vg_onnx_node (c->b, "LayerNormalization", prefix, x, w, bias, NULL);

  vg_onnx_attr_int (c->b, n, "axis", -1);
  vg_onnx_attr_float (c->b, n, "epsilon", c->cfg->ln_eps);
  return OUT (n);
}

/* x (B, Cin, H, W) -> (B, Cout, Ho, Wo), a K x K convolution of stride S, padding P and
 * G groups. */
static const char *
conv (Ctx *c, const char *x, const char *prefix, int K, int S, int P, int G)
{
  const char *w = param (c, prefix, "weight");
  const char *bias = param (c, prefix, "bias");
  Onnx__NodeProto *n = vg_onnx_node (c->b, "Conv", prefix, x, w, bias, NULL);
  const int64_t kernel[2] = { K, K }, strides[2] = { S, S }, pads[4] = { P, P, P, P };

  vg_onnx_attr_ints (c->b, n, "kernel_shape", 2, kernel);
  vg_onnx_attr_ints (c->b, n, "strides", 2, strides);
  vg_onnx_attr_ints (c->b, n, "pads", 4, pads);
  if (G > 1)
    vg_onnx_attr_int (c->b, n, "group", G);
  return OUT (n);
}

static const char *
transpose (Ctx *c, const char *x, const char *name, int n, const int64_t *perm)
{
  Onnx__NodeProto *node = vg_onnx_node (c->b, "Transpose", name, x, NULL);

  vg_onnx_attr_ints (c->b, node, "perm", n, perm);
  return OUT (node);
}

static const char *
reshape (Ctx *c, const char *x, const char *name, const char *shape)
{
  return OUT (vg_onnx_node (c->b, "Reshape", name, x, shape, NULL));
}

/* (B, C, Hs, Ws) -> tokens (B, Ns, C). */
static const char *
to_tokens (Ctx *c, const char *x, const char *prefix)
{
  static const int64_t flat[3] = { 0, 0, -1 }, perm[3] = { 0, 2, 1 };
  const char *y = reshape (c, x, vg_onnx_printf (c->b, "%s/flatten", prefix),
                           vg_onnx_int64s (c->b, 3, flat));

  return transpose (c, y, vg_onnx_printf (c->b, "%s/tokens", prefix), 3, perm);
}

/* Tokens (B, Ns, C) -> (B, C, Hs, Ws); shape4 is the stage's [0, -1, Hs, Ws]. */
static const char *
to_image (Ctx *c, const char *x, const char *prefix, const char *shape4)
{
  static const int64_t perm[3] = { 0, 2, 1 };
  const char *y = transpose (c, x, vg_onnx_printf (c->b, "%s/channels_first", prefix), 3,
                             perm);

  return reshape (c, y, vg_onnx_printf (c->b, "%s/image", prefix), shape4);
}

/* 0.5 x (1 + erf(x / sqrt 2)) */
static const char *
gelu (Ctx *c, const char *x, const char *prefix)
{
  VgOnnxBuilder *b = c->b;
  const char *t = OUT (vg_onnx_node (b, "Div", vg_onnx_printf (b, "%s/div", prefix), x,
                                     vg_onnx_scalar (b, (float) G_SQRT2), NULL));

  t = OUT (vg_onnx_node (b, "Erf", vg_onnx_printf (b, "%s/erf", prefix), t, NULL));
  t = OUT (vg_onnx_node (b, "Add", vg_onnx_printf (b, "%s/add", prefix), t,
                         vg_onnx_scalar (b, 1.0f), NULL));
  t = OUT (vg_onnx_node (b, "Mul", vg_onnx_printf (b, "%s/mul", prefix), x, t, NULL));
  return OUT (vg_onnx_node (b, "Mul", prefix, t, vg_onnx_scalar (b, 0.5f), NULL));
}

/* BatchNorm in evaluation mode, then ReLU: x (B, D, Hs, Ws). */
static const char *
batchnorm_relu (Ctx *c, const char *x, const char *prefix, const char *out)
{
  const char *w = param (c, prefix, "weight");
  const char *bias = param (c, prefix, "bias");
  const char *mean = param (c, prefix, "running_mean");
  const char *var = param (c, prefix, "running_var");
  Onnx__NodeProto *n = vg_onnx_node (c->b, "BatchNormalization", prefix, x, w, bias, mean, var,
                                     NULL);

  vg_onnx_attr_float (c->b, n, "epsilon", c->cfg->bn_eps);
  return OUT (vg_onnx_node (c->b, "Relu", out, OUT (n), NULL));
}

/* Tokens (B, L, C) -> (B, NH, L, hd), or (B, NH, hd, L) with keys TRUE. */
static const char *
split_heads (Ctx *c, const char *x, const char *name, int NH, int hd, gboolean keys)
{
  const int64_t shape[4] = { 0, 0, NH, hd };
  static const int64_t perm_q[4] = { 0, 2, 1, 3 }, perm_k[4] = { 0, 2, 3, 1 };
  const char *y = reshape (c, x, vg_onnx_printf (c->b, "%s/heads", name),
                           vg_onnx_int64s (c->b, 4, shape));

  return transpose (c, y, name, 4, keys ? perm_k : perm_q);
}

/* Efficient self-attention of one block: ln1 (B, Ns, C) -> proj(att) (B, Ns, C). */
static const char *
attention (Ctx *c, const char *ln1, const char *blk, int C, int NH, int R, const char *shape4)
{
  VgOnnxBuilder *b = c->b;
  const int hd = C / NH;
  g_autofree char *p = g_strdup_printf ("%s.attn", blk);
  g_autofree char *pq = g_strdup_printf ("%s.q", p), *pkv = g_strdup_printf ("%s.kv", p);
  g_autofree char *psr = g_strdup_printf ("%s.sr", p);
  g_autofree char *psrn = g_strdup_printf ("%s.sr_norm", p);
  g_autofree char *pproj = g_strdup_printf ("%s.proj", p);
  const char *kv_in = ln1, *q, *kv, *k, *v, *s, *o;
  const char *outs[2];
  const int64_t halves[2] = { C, C }, merged[3] = { 0, 0, C };
  static const int64_t perm_back[4] = { 0, 2, 1, 3 };
  Onnx__NodeProto *n;

  q = linear (c, ln1, pq);
  if (R > 1)
    {
      /* spatial reduction: an R x R stride-R convolution of the tokens as an image */
      const char *img = to_image (c, ln1, psr, shape4);
      const char *red = conv (c, img, psr, R, R, 0, 1);
      kv_in = layernorm (c, to_tokens (c, red, psr), psrn);
    }
  /* kv is one Linear(C, 2C): its first C outputs are k, the next C are v */
  kv = linear (c, kv_in, pkv);
  outs[0] = vg_onnx_printf (b, "%s.k", p);
  outs[1] = vg_onnx_printf (b, "%s.v", p);
  n = vg_onnx_node_n (b, "Split", 2, outs, kv, vg_onnx_int64s (b, 2, halves), NULL);
  vg_onnx_attr_int (b, n, "axis", -1);
  k = split_heads (c, n->output[0], vg_onnx_printf (b, "%s/k_heads", p), NH, hd, TRUE);
  v = split_heads (c, n->output[1], vg_onnx_printf (b, "%s/v_heads", p), NH, hd, FALSE);
  q = split_heads (c, q, vg_onnx_printf (b, "%s/q_heads", p), NH, hd, FALSE);

  /* (B, NH, Ns, hd) x (B, NH, hd, M) -> scores (B, NH, Ns, M) */
  s = OUT (vg_onnx_node (b, "MatMul", vg_onnx_printf (b, "%s/scores", p), q, k, NULL));
  s = OUT (vg_onnx_node (b, "Mul", vg_onnx_printf (b, "%s/scaled", p), s,
                         vg_onnx_scalar (b, 1.0f / sqrtf ((float) hd)), NULL));
  n = vg_onnx_node (b, "Softmax", vg_onnx_printf (b, "%s/softmax", p), s, NULL);
  vg_onnx_attr_int (b, n, "axis", -1);
  o = OUT (vg_onnx_node (b, "MatMul", vg_onnx_printf (b, "%s/context", p), OUT (n), v, NULL));
  o = transpose (c, o, vg_onnx_printf (b, "%s/merge", p), 4, perm_back);
  o = reshape (c, o, vg_onnx_printf (b, "%s/merged", p), vg_onnx_int64s (b, 3, merged));
  return linear (c, o, pproj);
}

/* One pre-norm block: x + attn(norm1(x)), then + Mix-FFN(norm2(.)). */
static const char *
block (Ctx *c, const char *x, int s, int j, const char *shape4)
{
  VgOnnxBuilder *b = c->b;
  const VgConfig *cfg = c->cfg;
  const int C = cfg->widths[s], hC = C * cfg->mlp_ratio;
  g_autofree char *blk = g_strdup_printf ("encoder.stages.%d.blocks.%d", s, j);
  g_autofree char *pn1 = g_strdup_printf ("%s.norm1", blk), *pn2 = g_strdup_printf ("%s.norm2",
                                                                                     blk);
  g_autofree char *pfc1 = g_strdup_printf ("%s.mlp.fc1", blk);
  g_autofree char *pdw = g_strdup_printf ("%s.mlp.dwconv", blk);
  g_autofree char *pfc2 = g_strdup_printf ("%s.mlp.fc2", blk);
  const char *a, *x1, *h;

  a = attention (c, layernorm (c, x, pn1), blk, C, cfg->heads[s], cfg->ratios[s], shape4);
  x1 = OUT (vg_onnx_node (b, "Add", vg_onnx_printf (b, "%s/x1", blk), x, a, NULL));

  h = linear (c, layernorm (c, x1, pn2), pfc1);
  h = conv (c, to_image (c, h, pdw, shape4), pdw, 3, 1, 1, hC);
  h = gelu (c, to_tokens (c, h, pdw), vg_onnx_printf (b, "%s.mlp.gelu", blk));
  h = linear (c, h, pfc2);
  return OUT (vg_onnx_node (b, "Add", vg_onnx_printf (b, "%s/out", blk), x1, h, NULL));
}

/* Stage s: x (B, Cprev, Hp, Wp) -> (B, C, Hs, Ws) after the stage's LayerNorm. */
static const char *
stage (Ctx *c, const char *x, int s)
{
  VgOnnxBuilder *b = c->b;
  const VgConfig *cfg = c->cfg;
  g_autofree char *pre = g_strdup_printf ("encoder.stages.%d", s);
  g_autofree char *pproj = g_strdup_printf ("%s.patch_embed.proj", pre);
  g_autofree char *pnorm = g_strdup_printf ("%s.patch_embed.norm", pre);
  g_autofree char *pout = g_strdup_printf ("%s.norm", pre);
  static const int64_t keep_batch[2] = { 0, -1 };
  const char *p, *hw, *shape4, *t;
  Onnx__NodeProto *n;

  p = conv (c, x, pproj, s == 0 ? 7 : 3, s == 0 ? 4 : 2, s == 0 ? 3 : 1, 1);
  /* [0, -1, Hs, Ws]: the stage's image shape for Reshape, batch and channels kept */
  n = vg_onnx_node (b, "Shape", vg_onnx_printf (b, "%s/hw", pre), p, NULL);
  vg_onnx_attr_int (b, n, "start", 2);
  vg_onnx_attr_int (b, n, "end", 4);
  hw = OUT (n);
  n = vg_onnx_node (b, "Concat", vg_onnx_printf (b, "%s/image_shape", pre),
                    vg_onnx_int64s (b, 2, keep_batch), hw, NULL);
  vg_onnx_attr_int (b, n, "axis", 0);
  shape4 = OUT (n);

  t = layernorm (c, to_tokens (c, p, pproj), pnorm);
  for (int j = 0; j < cfg->depths[s]; j++)
    t = block (c, t, s, j, shape4);
  t = layernorm (c, t, pout);
  return to_image (c, t, pout, shape4);
}

/* Resize x (B, C, h, w) bilinearly to sizes (a 4-vector), align_corners=False. */
static const char *
resize_bilinear (Ctx *c, const char *x, const char *name, const char *sizes)
{
  Onnx__NodeProto *n = vg_onnx_node (c->b, "Resize", name, x, "", "", sizes, NULL);

  vg_onnx_attr_string (c->b, n, "mode", "linear");
  vg_onnx_attr_string (c->b, n, "coordinate_transformation_mode", "pytorch_half_pixel");
  return OUT (n);
}

/* All-MLP decoder and head: stage outputs -> logits (B, NC, H, W). */
static const char *
decoder_and_head (Ctx *c, const char *const *feats, const char *image)
{
  VgOnnxBuilder *b = c->b;
  const char *lc[VG_STAGES], *sizes0, *y;
  Onnx__NodeProto *n;

  for (int s = 0; s < VG_STAGES; s++)
    {
      g_autofree char *pc = g_strdup_printf ("decoder.linear_c.%d.conv", s);
      g_autofree char *pbn = g_strdup_printf ("decoder.linear_c.%d.bn", s);

      lc[s] = batchnorm_relu (c, conv (c, feats[s], pc, 1, 1, 0, 1), pbn,
                              vg_onnx_printf (b, "decoder.linear_c.%d", s));
    }
  /* every stage to 1/4 scale, the size of stage 0's map (B, D, H/4, W/4) */
  sizes0 = OUT (vg_onnx_node (b, "Shape", "decoder/size_quarter", lc[0], NULL));
  for (int s = 1; s < VG_STAGES; s++)
    lc[s] = resize_bilinear (c, lc[s], vg_onnx_printf (b, "decoder.linear_c.%d/up", s), sizes0);
  n = vg_onnx_node (b, "Concat", "decoder/concat", lc[3], lc[2], lc[1], lc[0], NULL);
  vg_onnx_attr_int (b, n, "axis", 1);
  y = conv (c, OUT (n), "decoder.fuse.conv", 1, 1, 0, 1);
  y = batchnorm_relu (c, y, "decoder.fuse.bn", "decoder.fuse");
  y = conv (c, y, "decoder.classifier", 1, 1, 0, 1);

  if (c->cfg->head == VG_HEAD_TCONV)
    {
      const char *w = param (c, "head", "weight");
      const char *bias = param (c, "head", "bias");
      const int64_t kernel[2] = { 4, 4 }, strides[2] = { 4, 4 };

      n = vg_onnx_node (b, "ConvTranspose", "logits", y, w, bias, NULL);
      vg_onnx_attr_ints (b, n, "kernel_shape", 2, kernel);
      vg_onnx_attr_ints (b, n, "strides", 2, strides);
      return OUT (n);
    }
  else
    {
      const char *bc, *hw, *sizes;

      n = vg_onnx_node (b, "Shape", "head/batch_classes", y, NULL);
      vg_onnx_attr_int (b, n, "start", 0);
      vg_onnx_attr_int (b, n, "end", 2);
      bc = OUT (n);
      n = vg_onnx_node (b, "Shape", "head/input_hw", image, NULL);
      vg_onnx_attr_int (b, n, "start", 2);
      vg_onnx_attr_int (b, n, "end", 4);
      hw = OUT (n);
      n = vg_onnx_node (b, "Concat", "head/size", bc, hw, NULL);
      vg_onnx_attr_int (b, n, "axis", 0);
      sizes = OUT (n);
      return resize_bilinear (c, y, "logits", sizes);
    }
}

/* The graph input and its conversion to the normalised float (B, 3, H, W) the encoder
 * takes. uint8: value * (1 / 255), then * (1 / std) + (-mean / std) per channel, the
 * engine's own operations and constants (vg-augment.c: whitening in float). */
static const char *
input (Ctx *c, const VgPreprocess *pre, const VgOnnxOptions *opts)
{
  VgOnnxBuilder *b = c->b;
  const int Cin = c->cfg->in_channels;
  const int64_t nchw[4] = { -1, Cin, -1, -1 }, nhwc[4] = { -1, -1, -1, Cin };
  const char *const p_nchw[4] = { "batch", NULL, "height", "width" };
  const char *const p_nhwc[4] = { "batch", "height", "width", NULL };
  static const int64_t to_nchw[4] = { 0, 3, 1, 2 };
  const char *x = "image";

  vg_onnx_input (b, "image", opts->uint8_input ? VG_ONNX_UINT8 : VG_ONNX_FLOAT, 4,
                 opts->channels_last ? nhwc : nchw, opts->channels_last ? p_nhwc : p_nchw);
  if (opts->channels_last)
    x = transpose (c, x, "input/nchw", 4, to_nchw);
  if (opts->uint8_input)
    {
      float scale[3], shift[3];
      const int64_t dims[4] = { 1, 3, 1, 1 };
      Onnx__NodeProto *n = vg_onnx_node (b, "Cast", "input/float", x, NULL);

      vg_onnx_attr_int (b, n, "to", VG_ONNX_FLOAT);
      for (int ch = 0; ch < 3; ch++)
        {
          float mean = (float) pre->mean[ch], std = (float) pre->std[ch];
          scale[ch] = 1.0f / std;
          shift[ch] = -mean / std;
        }
      x = OUT (vg_onnx_node (b, "Mul", "input/unit", OUT (n),
                             vg_onnx_scalar (b, 1.0f / 255.0f), NULL));
      x = OUT (vg_onnx_node (b, "Mul", "input/scaled", x,
                             vg_onnx_initializer (b, "input.scale", VG_ONNX_FLOAT, scale, 4,
                                                  dims), NULL));
      x = OUT (vg_onnx_node (b, "Add", "input/normalised", x,
                             vg_onnx_initializer (b, "input.shift", VG_ONNX_FLOAT, shift, 4,
                                                  dims), NULL));
    }
  return x;
}

/* Class names, palette and partners; preprocessing; configuration. */
static void
add_metadata (Ctx *c, const VgPreprocess *pre, const VgOnnxOptions *opts)
{
  g_autoptr (GString) names = g_string_new (NULL);
  g_autoptr (GString) palette = g_string_new (NULL);
  g_autoptr (GString) mirror = g_string_new (NULL);
  g_auto (GStrv) kv = vg_preprocess_to_metadata (pre);
  g_autofree char *spec = vg_config_to_string (c->cfg);
  g_autofree char *in = NULL;

  for (int i = 0; i < c->cfg->num_classes; i++)
    {
      const uint8_t *rgb = vg_class_rgb (i);
      const char *sep = i > 0 ? "," : "";

      g_string_append_printf (names, "%s%s", sep, vg_class_name (i));
      g_string_append_printf (palette, "%s#%02x%02x%02x", sep, rgb[0], rgb[1], rgb[2]);
      g_string_append_printf (mirror, "%s%d", sep, vg_class_mirror (i));
    }
  vg_onnx_metadata (c->b, "visage.classes", names->str);
  vg_onnx_metadata (c->b, "visage.palette", palette->str);
  vg_onnx_metadata (c->b, "visage.mirror", mirror->str);
  for (int i = 0; kv[i] != NULL && kv[i + 1] != NULL; i += 2)
    vg_onnx_metadata (c->b, kv[i], kv[i + 1]);
  vg_onnx_metadata (c->b, "visage.config_name", c->cfg->name);
  vg_onnx_metadata (c->b, "visage.config", spec);
  in = g_strdup_printf ("%s %s RGB, %s; height and width multiples of 32",
                        opts->uint8_input ? "uint8" : "float32",
                        opts->channels_last ? "NHWC" : "NCHW",
                        opts->uint8_input ? "0..255 (normalised inside the graph)"
                                          : "(value / 255 - visage.mean) / visage.std");
  vg_onnx_metadata (c->b, "visage.input", in);
  vg_onnx_metadata (c->b, "visage.output", "logits float32 NCHW (batch, classes, height, "
                                           "width), class = argmax over axis 1");
}

GBytes *
vg_onnx_export (VgModel *model, const VgPreprocess *pre, const VgOnnxOptions *opts,
                GError **error)
{
  const VgOnnxOptions defaults = { FALSE, FALSE };
  const VgConfig *cfg = vg_model_config (model);
  g_autoptr (VgOnnxBuilder) b = vg_onnx_builder_new (cfg->name);
  g_autoptr (GHashTable) specs = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree VgParamSpec *spec_array = NULL;
  g_autofree char *doc = NULL;
  const char *feats[VG_STAGES], *x, *image, *logits;
  const int64_t out_dims[4] = { -1, cfg->num_classes, -1, -1 };
  const char *const out_params[4] = { "batch", NULL, "height", "width" };
  int n_specs;
  GBytes *bytes;
  Ctx c = { b, model, cfg, specs, NULL };

  if (opts == NULL)
    opts = &defaults;
  if (cfg->in_channels != 3)
    {
      g_set_error (error, VG_ONNX_ERROR, VG_ONNX_ERROR_MODEL,
                   "the exporter takes RGB models, not %d input channels", cfg->in_channels);
      return NULL;
    }
  if (cfg->arch != VG_ARCH_SEGFORMER)
    {
      /* The report's baselines use adaptive pooling to fixed sizes (Fast-SCNN's pyramid),
       * which ONNX has no operator for at an input size chosen at run time. */
      g_set_error (error, VG_ONNX_ERROR, VG_ONNX_ERROR_MODEL,
                   "ONNX export covers SegFormer models; this is a %s model (export its "
                   "weights with the safetensors file, which the PyTorch reference in "
                   "tests/reference/baselines_ref.py loads)", vg_config_arch_name (cfg->arch));
      return NULL;
    }
  n_specs = vg_config_param_specs (cfg, NULL, 0);
  spec_array = g_new (VgParamSpec, n_specs);
  vg_config_param_specs (cfg, spec_array, n_specs);
  for (int i = 0; i < n_specs; i++)
    g_hash_table_insert (specs, spec_array[i].name, &spec_array[i]);

  image = x = input (&c, pre, opts);
  for (int s = 0; s < VG_STAGES; s++)
    x = feats[s] = stage (&c, x, s);
  logits = decoder_and_head (&c, feats, image);
  if (c.error != NULL)
    {
      g_propagate_error (error, c.error);
      return NULL;
    }
  g_return_val_if_fail (strcmp (logits, "logits") == 0, NULL);
  vg_onnx_output (b, logits, VG_ONNX_FLOAT, 4, out_dims, out_params);
  add_metadata (&c, pre, opts);

  doc = g_strdup_printf ("Visage face parser: SegFormer %s, %zu parameters, %d classes. "
                         "Input 'image', output 'logits' (see the visage.* metadata).",
                         cfg->name, vg_config_count_params (cfg), cfg->num_classes);
  bytes = vg_onnx_builder_serialize (b, VG_ONNX_OPSET, PACKAGE_NAME, PACKAGE_VERSION, doc);
  if (bytes == NULL)
    g_set_error (error, VG_ONNX_ERROR, VG_ONNX_ERROR_INTERNAL,
                 "the ONNX model could not be serialised");
  return bytes;
}

gboolean
vg_onnx_export_file (VgModel *model, const VgPreprocess *pre, const VgOnnxOptions *opts,
                     const char *path, GError **error)
{
  g_autoptr (GBytes) bytes = vg_onnx_export (model, pre, opts, error);
  gsize size;
  const char *data;

  if (bytes == NULL)
    return FALSE;
  data = g_bytes_get_data (bytes, &size);
  return vg_atomic_file_set_contents (path, data, size, error);
}
