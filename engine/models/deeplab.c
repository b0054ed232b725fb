/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The report's DeepLabV3+ (LargerDeepLabV3Plus(19) in ../shared/reference/
 * report-baselines.py): a six-convolution backbone down to 1/8, atrous spatial pyramid
 * pooling (1x1, 3x3 dilated 6, 12, 18, image pooling), a decoder at 1/2 with the first
 * block's features and a transposed 2x2 convolution to the input size; 1,964,394
 * parameters. One generalisation: the report's decoder resizes to a fixed 256 x 256 (its
 * input was 512 x 512); here to half the input, the same at 512 and defined at every size. */
#include "config.h"

#include "vg-net.h"

/* Conv2d + BatchNorm2d (+ ReLU): "conv" and "bn" names given. */
static int
conv_bn (VgNet *net, int x, int cout, int K, int P, int Dl, gboolean relu, const char *conv,
         const char *bn)
{
  x = vg_net_conv (net, x, cout, K, 1, P, Dl, 1, TRUE, "%s", conv);
  x = vg_net_bn (net, x, "%s", bn);
  return relu ? vg_net_relu (net, x) : x;
}

/* backbone.blockN: conv 3x3 + BN + ReLU twice, then max pooling 2x2 */
static int
backbone_block (VgNet *net, int x, int n, int mid, int cout)
{
  char c[2][48], b[2][48];

  for (int i = 0; i < 2; i++)
    {
      g_snprintf (c[i], sizeof c[i], "backbone.block%d.%d", n, 3 * i);
      g_snprintf (b[i], sizeof b[i], "backbone.block%d.%d", n, 3 * i + 1);
    }
  x = conv_bn (net, x, mid, 3, 1, 1, TRUE, c[0], b[0]);
  x = conv_bn (net, x, cout, 3, 1, 1, TRUE, c[1], b[1]);
  return vg_net_maxpool (net, x, 2, 2);
}

static int
aspp (VgNet *net, int x, int cout)
{
  static const int dilations[3] = { 6, 12, 18 };
  const int H = vg_net_node (net, x)->H, W = vg_net_node (net, x)->W;
  int parts[5];

  parts[0] = conv_bn (net, x, cout, 1, 0, 1, TRUE, "aspp.conv1", "aspp.bn1");
  for (int i = 0; i < 3; i++)
    {
      char c[16], b[16];

      g_snprintf (c, sizeof c, "aspp.conv%d", i + 2);
      g_snprintf (b, sizeof b, "aspp.bn%d", i + 2);
      parts[i + 1] = conv_bn (net, x, cout, 3, dilations[i], dilations[i], TRUE, c, b);
    }
  parts[4] = conv_bn (net, vg_net_avgpool (net, x, 1, 1), cout, 1, 0, 1, TRUE, "aspp.conv1x1",
                      "aspp.bn5");
  parts[4] = vg_net_resize (net, parts[4], H, W);
  x = vg_net_concat (net, parts, 5);
  return conv_bn (net, x, cout, 1, 0, 1, FALSE, "aspp.conv_out", "aspp.bn_out");
}

static void
deeplab_build (VgNet *net, const VgConfig *cfg)
{
  const int H = vg_net_input_height (net), W = vg_net_input_width (net);
  int skip, x, parts[2];

  skip = backbone_block (net, 0, 1, 32, 64);
  x = backbone_block (net, skip, 2, 64, 128);
  x = backbone_block (net, x, 3, 192, 256);
  vg_net_mark (net, skip, "backbone.block1");
  vg_net_mark (net, x, "backbone");
  x = aspp (net, x, 128);
  vg_net_mark (net, x, "aspp");
  parts[0] = vg_net_resize (net, x, H / 2, W / 2);
  parts[1] = conv_bn (net, skip, 32, 1, 0, 1, TRUE, "decoder.conv1", "decoder.bn1");
  x = vg_net_concat (net, parts, 2);
  x = conv_bn (net, x, 64, 3, 1, 1, TRUE, "decoder.conv2", "decoder.bn2");
  x = conv_bn (net, x, 64, 3, 1, 1, TRUE, "decoder.conv3", "decoder.bn3");
  x = vg_net_conv (net, x, cfg->num_classes, 1, 1, 0, 1, 1, TRUE, "decoder.conv_out");
  vg_net_mark (net, x, "decoder.conv_out");
  vg_net_tconv (net, x, cfg->num_classes, 2, "decoder.upconv");
}

const VgArch vg_arch_deeplabv3plus = VG_NET_ARCH ("deeplabv3plus", deeplab_build);
