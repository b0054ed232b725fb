# SPDX-License-Identifier: GPL-3.0-or-later
"""PyTorch reference of the report's three baseline networks, as the engine implements them:
U-Net (configuration `unet`), DeepLabV3+ (`deeplabv3plus`) and Fast-SCNN (`fastscnn`).

The modules are laid out so that their state_dict keys, order and shapes are exactly those
of the report's classes (SmallerUNet, LargerDeepLabV3Plus(19), FastSCNN(19); the
specification is ../shared/reference/report-baselines.py, checked by check_baselines.py):
a checkpoint of either loads into the other with load_state_dict(strict=True).

Two deliberate generalisations, both equal to the report's model where the report's model
runs at all:

(a) DeepLabV3+'s decoder resizes the ASPP output to the size of the skip features, that is
    (H/2, W/2) of the input, where the report writes the fixed size (256, 256). At the
    report's 512 x 512 input the two are the same; other sizes (256 for training, the small
    inputs of the fixtures) work only this way.

(b) Fast-SCNN's classifier Dropout(0.1) draws, in training mode, the engine's hashed mask
    instead of torch's random numbers, so that the fixtures are reproducible and the engine
    can draw the same mask: element i of the dropout input flattened channels-last
    (B, H, W, C) is kept, and scaled by 1 / (1 - p), iff vg_dropout_keep (seed, i, p) of
    engine/nn/vg-nn.h (dropout_keep below, the same 64-bit arithmetic); `seed` is set on the
    module (HashedDropout.seed). In evaluation mode it is the identity, as nn.Dropout.

Everything else (layers, their order, padding, dilation, align_corners, the residuals,
BatchNorm's eps 1e-5 and momentum 0.1) is the report's. Run with Debian's /usr/bin/python3
(PyTorch 1.13); nothing here needs a GPU.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NUM_CLASSES = 19

# Trainable parameters of the report's classes (the report's own counts).
PARAM_COUNTS = {'unet': 1941411, 'deeplabv3plus': 1964394, 'fastscnn': 1154435}


# ---- U-Net (SmallerUNet) ---------------------------------------------------------------

def double_conv(cin, cout):
    """conv3x3 + ReLU, twice (keys .0 and .2): an encoder or decoder block of the U-Net."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())


class UNet(nn.Module):
    """Four 2x2 max-pool levels (16, 32, 64, 128 channels), a 256-channel bottleneck, 2x2
    stride-2 transposed convolutions up, the encoder's features concatenated before the
    upsampled ones, a 1x1 classifier. No normalisation. H, W multiples of 16."""

    WIDTHS = [16, 32, 64, 128]

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        w = self.WIDTHS
        # Registration order = the report's state_dict order: encoders and pools, the
        # bottleneck, then upconv and decoder per level from the deepest, then the output.
        cin = 3
        for level in range(4):
            setattr(self, 'encoder%d' % (level + 1), double_conv(cin, w[level]))
            setattr(self, 'pool%d' % (level + 1), nn.MaxPool2d(2, 2))
            cin = w[level]
        self.bottleneck = double_conv(w[3], 2 * w[3])
        for level in range(3, -1, -1):
            setattr(self, 'upconv%d' % (level + 1),
                    nn.ConvTranspose2d(2 * w[level], w[level], 2, stride=2))
            setattr(self, 'decoder%d' % (level + 1), double_conv(2 * w[level], w[level]))
        self.output = nn.Conv2d(w[0], num_classes, 1)

    def forward(self, x):
        skips = []
        for level in range(1, 5):
            x = getattr(self, 'encoder%d' % level)(x)
            skips.append(x)
            x = getattr(self, 'pool%d' % level)(x)
        x = self.bottleneck(x)
        for level in range(4, 0, -1):
            x = getattr(self, 'upconv%d' % level)(x)
            x = torch.cat((skips[level - 1], x), dim=1)  # encoder features first
            x = getattr(self, 'decoder%d' % level)(x)
        return self.output(x)


# ---- DeepLabV3+ (LargerDeepLabV3Plus) ----------------------------------------------------

def conv_bn_relu_pool(cin, cmid, cout):
    """(conv3x3, BN, ReLU) x 2 then a 2x2 max pool: keys .0 .1 .3 .4 (the report's block)."""
    return nn.Sequential(nn.Conv2d(cin, cmid, 3, padding=1), nn.BatchNorm2d(cmid), nn.ReLU(),
                         nn.Conv2d(cmid, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.MaxPool2d(2, 2))


class Backbone(nn.Module):
    """Three blocks, 3 -> 64 -> 128 -> 256 channels, each halving the size; the first
    block's output is the decoder's skip (H/2), the last the ASPP's input (H/8)."""

    def __init__(self):
        super().__init__()
        self.block1 = conv_bn_relu_pool(3, 32, 64)
        self.block2 = conv_bn_relu_pool(64, 64, 128)
        self.block3 = conv_bn_relu_pool(128, 192, 256)

    def forward(self, x):
        skip = self.block1(x)
        return skip, self.block3(self.block2(skip))


class ASPP(nn.Module):
    """1x1, three 3x3 with dilation = padding = 6, 12, 18 and the image-pooling branch, each
    with BN + ReLU; concatenated in that order, a 1x1 projection and BN (no ReLU)."""

    DILATIONS = [6, 12, 18]

    def __init__(self, cin=256, c=128):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 1)
        self.bn1 = nn.BatchNorm2d(c)
        for k, d in enumerate(self.DILATIONS):
            setattr(self, 'conv%d' % (k + 2), nn.Conv2d(cin, c, 3, padding=d, dilation=d))
            setattr(self, 'bn%d' % (k + 2), nn.BatchNorm2d(c))
        self.conv1x1 = nn.Conv2d(cin, c, 1)
        self.bn5 = nn.BatchNorm2d(c)
        self.conv_out = nn.Conv2d(5 * c, c, 1)
        self.bn_out = nn.BatchNorm2d(c)

    def forward(self, x):
        branches = [F.relu(self.bn1(self.conv1(x)))]
        for k in range(len(self.DILATIONS)):
            conv, bn = getattr(self, 'conv%d' % (k + 2)), getattr(self, 'bn%d' % (k + 2))
            branches.append(F.relu(bn(conv(x))))
        pooled = F.relu(self.bn5(self.conv1x1(F.adaptive_avg_pool2d(x, 1))))
        branches.append(F.interpolate(pooled, size=x.shape[2:], mode='bilinear',
                                      align_corners=True))
        return self.bn_out(self.conv_out(torch.cat(branches, dim=1)))


class DeepLabDecoder(nn.Module):
    """ASPP output resized to the skip's size (generalisation (a)) and concatenated before
    the skip's 1x1 (64 -> 32) + BN + ReLU; two conv3x3 + BN + ReLU, a 1x1 classifier and a
    2x2 stride-2 transposed convolution to the input size."""

    def __init__(self, aspp_channels=128, num_classes=NUM_CLASSES):
        super().__init__()
        self.conv1 = nn.Conv2d(64, 32, 1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(aspp_channels + 32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.conv3 = nn.Conv2d(64, 64, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(64)
        self.conv_out = nn.Conv2d(64, num_classes, 1)
        self.upconv = nn.ConvTranspose2d(num_classes, num_classes, 2, stride=2)

    def forward(self, x, skip):
        x = F.interpolate(x, size=skip.shape[2:], mode='bilinear', align_corners=True)
        skip = F.relu(self.bn1(self.conv1(skip)))
        x = torch.cat([x, skip], dim=1)
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        return self.upconv(self.conv_out(x))


class DeepLabV3Plus(nn.Module):
    """H, W multiples of 8."""

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        self.backbone = Backbone()
        self.aspp = ASPP(256, 128)
        self.decoder = DeepLabDecoder(128, num_classes)

    def forward(self, x):
        skip, x = self.backbone(x)
        return self.decoder(self.aspp(x), skip)


# ---- Fast-SCNN (FastSCNN) ------------------------------------------------------------------

DROPOUT_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def dropout_keep(seed, n, p):
    """vg_dropout_keep (seed, i, p) of engine/nn/vg-nn.h for i = 0..n-1 (bool array):
    z = seed + i * 0x9E3779B97F4A7C15, the splitmix64 finaliser, kept iff
    (z >> 40) >= (uint64) (p * 2^24) with the product in float32."""
    i = np.arange(n, dtype=np.uint64)
    with np.errstate(over='ignore'):
        z = np.uint64(seed) + i * DROPOUT_GAMMA
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    threshold = np.uint64(int(np.float32(p) * np.float32(16777216.0)))
    return (z >> np.uint64(40)) >= threshold


class HashedDropout(nn.Module):
    """nn.Dropout(p) with the engine's hashed mask (generalisation (b)); no parameters."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.seed = 0

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        B, C, H, W = x.shape
        keep = dropout_keep(self.seed, B * H * W * C, self.p).reshape(B, H, W, C)
        scale = np.float32(1.0 / (1.0 - self.p))
        mask = torch.from_numpy(keep.astype(np.float32) * scale).permute(0, 3, 1, 2)
        return x * mask.to(x.dtype)


def conv_bn_relu(cin, cout, k, s, p, groups=1):
    """_ConvBNReLU: conv (no bias), BN, ReLU (keys .0 .1)."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, bias=False, groups=groups),
                         nn.BatchNorm2d(cout), nn.ReLU())


def dw_separable(cin, cout, stride=1):
    """_DWConv: depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN + ReLU (keys .0 .1 .3 .4)."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
        nn.BatchNorm2d(cin), nn.ReLU(),
        nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class LearningToDownsample(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = conv_bn_relu(3, 32, 3, 2, 1)
        self.dsconv1 = dw_separable(32, 48, stride=2)
        self.dsconv2 = dw_separable(48, 64, stride=2)

    def forward(self, x):
        return self.dsconv2(self.dsconv1(self.conv(x)))


class InvertedResidual(nn.Module):
    """Expand 1x1 (x6) + BN + ReLU, depthwise 3x3 (stride) + BN + ReLU, project 1x1 + BN
    (keys conv.0 .1 .3 .4 .6 .7); the input added when the stride is 1 and the widths match."""

    def __init__(self, cin, cout, expansion, stride):
        super().__init__()
        mid = cin * expansion
        self.residual = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
            nn.Conv2d(mid, mid, 3, stride=stride, padding=1, groups=mid, bias=False),
            nn.BatchNorm2d(mid), nn.ReLU(),
            nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class PyramidPooling(nn.Module):
    """Adaptive average pools to 1, 2, 3, 6, each 1x1 conv (C -> C/4) + BN + ReLU and
    resized back (align_corners=True); [input, pools...] concatenated, 1x1 + BN + ReLU."""

    SIZES = [1, 2, 3, 6]

    def __init__(self, cin, cout):
        super().__init__()
        mid = cin // len(self.SIZES)
        self.stages = nn.ModuleList([
            nn.Sequential(nn.AdaptiveAvgPool2d(s), conv_bn_relu(cin, mid, 1, 1, 0))
            for s in self.SIZES])
        self.bottleneck = conv_bn_relu(cin + mid * len(self.SIZES), cout, 1, 1, 0)

    def forward(self, x):
        parts = [x]
        for stage in self.stages:
            parts.append(F.interpolate(stage(x), size=x.shape[2:], mode='bilinear',
                                       align_corners=True))
        return self.bottleneck(torch.cat(parts, dim=1))


class GlobalFeatureExtractor(nn.Module):
    """Three stages of three inverted residuals (64 stride 2, 96 stride 2, 128 stride 1;
    expansion 6), then the pyramid pooling: 1/8 -> 1/32 of the input."""

    def __init__(self):
        super().__init__()
        cin = 64
        for k, (c, s) in enumerate([(64, 2), (96, 2), (128, 1)]):
            blocks = [InvertedResidual(cin, c, 6, s)] + \
                     [InvertedResidual(c, c, 6, 1) for _ in range(2)]
            setattr(self, 'bottleneck%d' % (k + 1), nn.Sequential(*blocks))
            cin = c
        self.ppm = PyramidPooling(128, 128)

    def forward(self, x):
        return self.ppm(self.bottleneck3(self.bottleneck2(self.bottleneck1(x))))


class FeatureFusion(nn.Module):
    """The global features resized x4 (align_corners=True) through depthwise 3x3 + BN + ReLU
    and 1x1 + BN; the 1/8 features through 1x1 + BN; the sum through ReLU, 1x1 + BN, ReLU."""

    def __init__(self, high_channels=64, low_channels=128, cout=128, scale_factor=4):
        super().__init__()
        self.scale_factor = scale_factor
        self.dwconv_low = nn.Sequential(
            nn.Conv2d(low_channels, low_channels, 3, padding=1, groups=low_channels,
                      bias=False),
            nn.BatchNorm2d(low_channels), nn.ReLU(),
            nn.Conv2d(low_channels, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.conv_high = nn.Sequential(nn.Conv2d(high_channels, cout, 1, bias=False),
                                       nn.BatchNorm2d(cout))
        self.fusion = nn.Sequential(nn.ReLU(), nn.Conv2d(cout, cout, 1, bias=False),
                                    nn.BatchNorm2d(cout))

    def forward(self, high, low):
        low = F.interpolate(low, scale_factor=self.scale_factor, mode='bilinear',
                            align_corners=True)
        x = self.conv_high(high) + self.dwconv_low(low)
        return F.relu(self.fusion(x))


class FastSCNN(nn.Module):
    """H, W multiples of 32. The classifier: two depthwise-separable blocks, dropout 0.1
    (hashed, see HashedDropout), a 1x1 conv with bias; logits resized to the input size
    (align_corners=True)."""

    DROPOUT = 0.1

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        self.learning_to_downsample = LearningToDownsample()
        self.global_feature_extractor = GlobalFeatureExtractor()
        self.feature_fusion = FeatureFusion(64, 128, 128)
        self.classifier = nn.Sequential(dw_separable(128, 128), dw_separable(128, 128),
                                        HashedDropout(self.DROPOUT),
                                        nn.Conv2d(128, num_classes, 1))

    def set_dropout_seed(self, seed):
        self.classifier[2].seed = seed

    def forward(self, x):
        high = self.learning_to_downsample(x)
        fused = self.feature_fusion(high, self.global_feature_extractor(high))
        return F.interpolate(self.classifier(fused), size=x.shape[2:], mode='bilinear',
                             align_corners=True)


MODELS = {'unet': UNet, 'deeplabv3plus': DeepLabV3Plus, 'fastscnn': FastSCNN}


def build(name):
    """The reference module of configuration `name` (unet, deeplabv3plus, fastscnn)."""
    return MODELS[name]()


def count_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
