/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The report's U-Net (SmallerUNet in ../shared/reference/report-baselines.py): four 3x3
 * conv + ReLU pairs with max pooling down to 1/16, a bottleneck, and four transposed 2x2
 * convolutions up, each concatenated with the encoder's output of its scale; 1,941,411
 * parameters for 3 -> 19 channels. */
#include "config.h"

#include "vg-net.h"

/* Conv2d(3x3, padding 1) + ReLU, twice: the Sequential "name" (indices 0 and 2). */
static int
double_conv (VgNet *net, int x, int cout, const char *name)
{
  x = vg_net_relu (net, vg_net_conv (net, x, cout, 3, 1, 1, 1, 1, TRUE, "%s.0", name));
  x = vg_net_relu (net, vg_net_conv (net, x, cout, 3, 1, 1, 1, 1, TRUE, "%s.2", name));
  vg_net_mark (net, x, name);
  return x;
}

static void
unet_build (VgNet *net, const VgConfig *cfg)
{
  static const int widths[4] = { 16, 32, 64, 128 };
  int enc[4], x = 0;

  for (int s = 0; s < 4; s++)
    {
      char name[16];

      g_snprintf (name, sizeof name, "encoder%d", s + 1);
      enc[s] = double_conv (net, x, widths[s], name);
      x = vg_net_maxpool (net, enc[s], 2, 2);
    }
  x = double_conv (net, x, 256, "bottleneck");
  for (int s = 3; s >= 0; s--)
    {
      char name[16];
      int parts[2];

      parts[0] = enc[s];
      parts[1] = vg_net_tconv (net, x, widths[s], 2, "upconv%d", s + 1);
      g_snprintf (name, sizeof name, "decoder%d", s + 1);
      x = double_conv (net, vg_net_concat (net, parts, 2), widths[s], name);
    }
  vg_net_conv (net, x, cfg->num_classes, 1, 1, 0, 1, 1, TRUE, "output");
}

const VgArch vg_arch_unet = VG_NET_ARCH ("unet", unet_build);
