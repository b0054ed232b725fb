/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The report's Fast-SCNN (FastSCNN(19) in ../shared/reference/report-baselines.py):
 * learning to downsample (to 1/8), a global feature extractor of inverted residual
 * bottlenecks (to 1/32) with pyramid pooling, feature fusion at 1/8, a classifier of two
 * depthwise separable convolutions, dropout 0.1 and a 1x1 convolution, and a bilinear
 * resize to the input size; 1,154,435 parameters. The cheapest of the report's networks. */
#include "config.h"

#include "vg-net.h"

/* Conv2d (no bias) + BatchNorm2d (+ ReLU), the Sequential at prefix with indices c, c + 1. */
static int
conv_bn (VgNet *net, int x, int cout, int K, int S, int G, gboolean relu, const char *prefix,
         int c)
{
  x = vg_net_conv (net, x, cout, K, S, K / 2, 1, G, FALSE, "%s.%d", prefix, c);
  x = vg_net_bn (net, x, "%s.%d", prefix, c + 1);
  return relu ? vg_net_relu (net, x) : x;
}

/* _DWConv: depthwise 3x3 (stride S) + BN + ReLU, pointwise + BN + ReLU */
static int
dwconv (VgNet *net, int x, int cout, int S, const char *prefix)
{
  int C = vg_net_node (net, x)->C;

  x = conv_bn (net, x, C, 3, S, C, TRUE, prefix, 0);
  return conv_bn (net, x, cout, 1, 1, 1, TRUE, prefix, 3);
}

/* an inverted residual block (expansion 6), with the sum when shapes allow */
static int
bottleneck (VgNet *net, int x, int cout, int S, const char *prefix)
{
  int C = vg_net_node (net, x)->C, mid = 6 * C, y;

  y = conv_bn (net, x, mid, 1, 1, 1, TRUE, prefix, 0);
  y = conv_bn (net, y, mid, 3, S, mid, TRUE, prefix, 3);
  y = conv_bn (net, y, cout, 1, 1, 1, FALSE, prefix, 6);
  return S == 1 && C == cout ? vg_net_add (net, x, y) : y;
}

static int
pyramid_pooling (VgNet *net, int x, int cout)
{
  static const int sizes[4] = { 1, 2, 3, 6 };
  const int H = vg_net_node (net, x)->H, W = vg_net_node (net, x)->W;
  const int C = vg_net_node (net, x)->C;
  int parts[5] = { x };

  for (int i = 0; i < 4; i++)
    {
      char prefix[48];
      int y = vg_net_avgpool (net, x, sizes[i], sizes[i]);

      g_snprintf (prefix, sizeof prefix, "global_feature_extractor.ppm.stages.%d.1", i);
      y = conv_bn (net, y, C / 4, 1, 1, 1, TRUE, prefix, 0);
      parts[i + 1] = vg_net_resize (net, y, H, W);
    }
  x = vg_net_concat (net, parts, 5);
  return conv_bn (net, x, cout, 1, 1, 1, TRUE, "global_feature_extractor.ppm.bottleneck", 0);
}

static int
global_features (VgNet *net, int x)
{
  static const int widths[3] = { 64, 96, 128 }, strides[3] = { 2, 2, 1 };

  for (int s = 0; s < 3; s++)
    for (int j = 0; j < 3; j++)
      {
        char prefix[64];

        g_snprintf (prefix, sizeof prefix, "global_feature_extractor.bottleneck%d.%d.conv",
                    s + 1, j);
        x = bottleneck (net, x, widths[s], j == 0 ? strides[s] : 1, prefix);
      }
  return pyramid_pooling (net, x, 128);
}

static int
feature_fusion (VgNet *net, int high, int low)
{
  const int H = vg_net_node (net, high)->H, W = vg_net_node (net, high)->W;
  const char *ff = "feature_fusion";
  char p[3][32];
  int x;

  g_snprintf (p[0], sizeof p[0], "%s.dwconv_low", ff);
  g_snprintf (p[1], sizeof p[1], "%s.conv_high", ff);
  g_snprintf (p[2], sizeof p[2], "%s.fusion", ff);
  low = vg_net_resize (net, low, 4 * vg_net_node (net, low)->H, 4 * vg_net_node (net, low)->W);
  g_assert (vg_net_node (net, low)->H == H && vg_net_node (net, low)->W == W);
  low = conv_bn (net, low, 128, 3, 1, 128, TRUE, p[0], 0);
  low = conv_bn (net, low, 128, 1, 1, 1, FALSE, p[0], 3);
  high = conv_bn (net, high, 128, 1, 1, 1, FALSE, p[1], 0);
  x = vg_net_relu (net, vg_net_add (net, high, low));
  return vg_net_relu (net, conv_bn (net, x, 128, 1, 1, 1, FALSE, p[2], 1));
}

static void
fastscnn_build (VgNet *net, const VgConfig *cfg)
{
  int high, low, x;

  x = conv_bn (net, 0, 32, 3, 2, 1, TRUE, "learning_to_downsample.conv", 0);
  x = dwconv (net, x, 48, 2, "learning_to_downsample.dsconv1");
  high = dwconv (net, x, 64, 2, "learning_to_downsample.dsconv2");
  vg_net_mark (net, high, "learning_to_downsample");
  low = global_features (net, high);
  vg_net_mark (net, low, "global_feature_extractor");
  x = feature_fusion (net, high, low);
  vg_net_mark (net, x, "feature_fusion");
  x = dwconv (net, x, 128, 1, "classifier.0");
  x = dwconv (net, x, 128, 1, "classifier.1");
  x = vg_net_dropout (net, x, 0.1f);
  x = vg_net_conv (net, x, cfg->num_classes, 1, 1, 0, 1, 1, TRUE, "classifier.3");
  vg_net_mark (net, x, "classifier");
  vg_net_resize (net, x, vg_net_input_height (net), vg_net_input_width (net));
}

const VgArch vg_arch_fastscnn = VG_NET_ARCH ("fastscnn", fastscnn_build);
