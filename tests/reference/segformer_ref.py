# SPDX-License-Identifier: GPL-3.0-or-later
"""PyTorch reference of the Visage SegFormer, the deterministic initialiser and a small
safetensors writer.

The module's attribute names give exactly the state_dict keys of the engine's parameter
table (engine/vg-config.c, vg_config_param_specs), in the same order, so a checkpoint
written by the engine loads here with load_state_dict and vice versa.

Run with Debian's /usr/bin/python3 (PyTorch 1.13); nothing here needs a GPU.
"""

import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- configurations --------------------------------------------------------------------

BASE = dict(in_channels=3, num_classes=19, mlp_ratio=4, ln_eps=1e-5, bn_eps=1e-5,
            bn_momentum=0.1)

CONFIGS = {
    'visage-s': dict(BASE, widths=[32, 64, 128, 160], depths=[2, 2, 2, 2],
                     heads=[1, 2, 4, 5], ratios=[8, 4, 2, 1], decoder_dim=128,
                     head='bilinear'),
    'seed': dict(BASE, widths=[16, 32, 128, 192], depths=[1, 2, 2, 2], heads=[2, 2, 2, 8],
                 ratios=[1, 1, 1, 1], decoder_dim=256, head='tconv'),
}


def config_spec(cfg):
    """The one-line spec of vg_config_to_string() / vg_config_parse()."""
    ints = lambda v: ','.join(str(x) for x in v)
    return ('widths=%s depths=%s heads=%s ratios=%s mlp=%d dim=%d head=%s'
            % (ints(cfg['widths']), ints(cfg['depths']), ints(cfg['heads']),
               ints(cfg['ratios']), cfg['mlp_ratio'], cfg['decoder_dim'], cfg['head']))


# ---- the model -------------------------------------------------------------------------

def tokens_to_image(x, H, W):
    """(B, N, C) -> (B, C, H, W)."""
    B, N, C = x.shape
    return x.transpose(1, 2).reshape(B, C, H, W)


def image_to_tokens(x):
    """(B, C, H, W) -> (B, N, C)."""
    return x.flatten(2).transpose(1, 2)


class PatchEmbed(nn.Module):
    def __init__(self, cin, c, k, s, p, eps):
        super().__init__()
        self.proj = nn.Conv2d(cin, c, k, stride=s, padding=p, bias=True)
        self.norm = nn.LayerNorm(c, eps=eps)

    def forward(self, x):
        x = self.proj(x)
        H, W = x.shape[2], x.shape[3]
        return self.norm(image_to_tokens(x)), H, W


class Attention(nn.Module):
    """Efficient self-attention: keys and values from tokens reduced R x R by a strided conv."""

    def __init__(self, c, heads, ratio, eps):
        super().__init__()
        self.heads = heads
        self.ratio = ratio
        self.q = nn.Linear(c, c)
        self.kv = nn.Linear(c, 2 * c)
        if ratio > 1:
            self.sr = nn.Conv2d(c, c, ratio, stride=ratio, bias=True)
            self.sr_norm = nn.LayerNorm(c, eps=eps)
        self.proj = nn.Linear(c, c)

    def forward(self, x, H, W):
        B, N, C = x.shape
        NH = self.heads
        hd = C // NH
        q = self.q(x).reshape(B, N, NH, hd).permute(0, 2, 1, 3)       # (B, NH, N, hd)
        if self.ratio > 1:
            r = self.sr(tokens_to_image(x, H, W))
            r = self.sr_norm(image_to_tokens(r))
        else:
            r = x
        M = r.shape[1]
        kv = self.kv(r).reshape(B, M, 2, NH, hd).permute(2, 0, 3, 1, 4)  # (2, B, NH, M, hd)
        k, v = kv[0], kv[1]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(y)


class MixFFN(nn.Module):
    def __init__(self, c, mlp_ratio):
        super().__init__()
        h = mlp_ratio * c
        self.fc1 = nn.Linear(c, h)
        self.dwconv = nn.Conv2d(h, h, 3, stride=1, padding=1, groups=h, bias=True)
        self.fc2 = nn.Linear(h, c)

    def forward(self, x, H, W):
        x = self.fc1(x)
        x = image_to_tokens(self.dwconv(tokens_to_image(x, H, W)))
        x = F.gelu(x)  # erf form
        return self.fc2(x)


class Block(nn.Module):
    def __init__(self, c, heads, ratio, mlp_ratio, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(c, eps=eps)
        self.attn = Attention(c, heads, ratio, eps)
        self.norm2 = nn.LayerNorm(c, eps=eps)
        self.mlp = MixFFN(c, mlp_ratio)

    def forward(self, x, H, W):
        x = x + self.attn(self.norm1(x), H, W)
        x = x + self.mlp(self.norm2(x), H, W)
        return x


class Stage(nn.Module):
    def __init__(self, s, cin, c, depth, heads, ratio, mlp_ratio, eps):
        super().__init__()
        if s == 0:
            self.patch_embed = PatchEmbed(cin, c, 7, 4, 3, eps)
        else:
            self.patch_embed = PatchEmbed(cin, c, 3, 2, 1, eps)
        self.blocks = nn.ModuleList(
            [Block(c, heads, ratio, mlp_ratio, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(c, eps=eps)

    def forward(self, x):
        x, H, W = self.patch_embed(x)
        for blk in self.blocks:
            x = blk(x, H, W)
        return tokens_to_image(self.norm(x), H, W)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        stages = []
        cin = cfg['in_channels']
        for s in range(4):
            c = cfg['widths'][s]
            stages.append(Stage(s, cin, c, cfg['depths'][s], cfg['heads'][s],
                                cfg['ratios'][s], cfg['mlp_ratio'], cfg['ln_eps']))
            cin = c
        self.stages = nn.ModuleList(stages)

    def forward(self, x):
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


class ConvBNReLU(nn.Module):
    def __init__(self, cin, cout, eps, momentum):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=True)
        self.bn = nn.BatchNorm2d(cout, eps=eps, momentum=momentum)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        D = cfg['decoder_dim']
        eps, mom = cfg['bn_eps'], cfg['bn_momentum']
        self.linear_c = nn.ModuleList([ConvBNReLU(w, D, eps, mom) for w in cfg['widths']])
        self.fuse = ConvBNReLU(4 * D, D, eps, mom)
        self.classifier = nn.Conv2d(D, cfg['num_classes'], 1, bias=True)

    def forward(self, feats, acts=None):
        H0, W0 = feats[0].shape[2], feats[0].shape[3]
        outs = []
        for s, f in enumerate(feats):
            y = self.linear_c[s](f)
            if s > 0:
                y = F.interpolate(y, size=(H0, W0), mode='bilinear', align_corners=False)
            outs.append(y)
        x = self.fuse(torch.cat(outs[::-1], dim=1))  # order: stage 3, 2, 1, 0
        if acts is not None:
            acts['fuse'] = x
        return self.classifier(x)


class SegFormer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        if cfg['head'] == 'tconv':
            n = cfg['num_classes']
            self.head = nn.ConvTranspose2d(n, n, 4, stride=4, bias=True)
        else:
            assert cfg['head'] == 'bilinear'
            self.head = None

    def forward(self, x, acts=None):
        feats = self.encoder(x)
        logits = self.decoder(feats, acts)
        if acts is not None:
            for s, f in enumerate(feats):
                acts['stage%d' % s] = f
            acts['classifier'] = logits
        if self.head is not None:
            return self.head(logits)
        return F.interpolate(logits, size=x.shape[2:], mode='bilinear', align_corners=False)


# ---- the deterministic generator (mirrored bit for bit by tests/reference/ref-init.h) ------
#
# r(name, i)  = splitmix64(fnv1a64(name) + i)            (64-bit wrapping arithmetic)
# u(name, i)  = ((r >> 40) - 2^23) * 2^-23               exact float32 in [-1, 1)
# Tensor values by name and kind:
#   weight with ndim >= 2 (conv, linear, transposed conv): a * u, a = float32(1/sqrt(fan_in))
#       computed in double and rounded once, fan_in = numel / shape[0] (for the transposed
#       conv (Cin, Cout, K, K) this is Cout*K*K, as PyTorch's own fan-in);
#   weight with ndim 1 (LayerNorm, BatchNorm): 1 + u/8
#   bias: u/8;  running_mean: u/8;  running_var: 1 + |u|/8;  num_batches_tracked: 0.
# The scales are powers of two so every product is exact and each value is rounded once,
# whatever the C compiler does with fused multiply-adds.

MASK64 = (1 << 64) - 1


def fnv1a64(name):
    h = 0xcbf29ce484222325
    for b in name.encode('utf-8'):
        h ^= b
        h = (h * 0x100000001b3) & MASK64
    return h


def splitmix64_array(x):
    """splitmix64 of a uint64 numpy array (wrapping arithmetic)."""
    with np.errstate(over='ignore'):
        z = x + np.uint64(0x9e3779b97f4a7c15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
        return z ^ (z >> np.uint64(31))


def gen_bits(name, n):
    i = np.arange(n, dtype=np.uint64)
    with np.errstate(over='ignore'):
        return splitmix64_array(np.uint64(fnv1a64(name)) + i)


def gen_uniform(name, n):
    """float32 array u(name, 0..n-1), each exactly ((r >> 40) - 2^23) / 2^23."""
    top = (gen_bits(name, n) >> np.uint64(40)).astype(np.int64) - (1 << 23)
    return top.astype(np.float32) * np.float32(1.0 / (1 << 23))


def gen_tensor(name, shape):
    """The initial value of the state_dict entry `name` with `shape` (float32 array)."""
    n = int(np.prod(shape)) if len(shape) else 1
    if name.endswith('num_batches_tracked'):
        return np.zeros(shape, dtype=np.int64)
    u = gen_uniform(name, n)
    eighth = np.float32(0.125)
    if name.endswith('running_mean') or name.endswith('.bias'):
        v = u * eighth
    elif name.endswith('running_var'):
        v = np.float32(1) + np.abs(u) * eighth
    elif name.endswith('.weight') and len(shape) == 1:
        v = np.float32(1) + u * eighth
    elif name.endswith('.weight'):
        fan_in = n // shape[0]
        a = np.float32(1.0 / math.sqrt(fan_in))
        v = u * a
    else:
        raise ValueError('no init rule for ' + name)
    return v.astype(np.float32).reshape(shape)


def gen_labels(n, num_classes=19, ignore_index=255):
    """labels(i): r = r("labels", i); ignore_index when (r >> 8) % 97 == 0 else r % 19."""
    r = gen_bits('labels', n)
    lab = (r % np.uint64(num_classes)).astype(np.uint8)
    lab[(r >> np.uint64(8)) % np.uint64(97) == 0] = ignore_index
    return lab


def init_model(model):
    """Overwrite every parameter and buffer with the generator's values."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            t.copy_(torch.from_numpy(gen_tensor(name, tuple(t.shape))))


# ---- class weights (report, Eq. 2, with pixel counts of the README's shares) --------------

CLASS_SHARES = [28.618, 25.419, 2.061, 0.265, 0.224, 0.223, 0.425, 0.415, 0.47, 0.385,
                0.297, 0.413, 0.679, 31.37, 0.965, 0.237, 0.015, 4.122, 3.396]


def class_weights():
    """w_c = (1 / ln n_c) / sum_i (1 / ln n_i), n_c = share_c% * 5000 * 512 * 512 pixels."""
    n = [s / 100.0 * 5000 * 512 * 512 for s in CLASS_SHARES]
    inv = [1.0 / math.log(x) for x in n]
    total = sum(inv)
    return np.array([x / total for x in inv], dtype=np.float32)


# ---- a small safetensors writer (same format as engine/vg-safetensors.c reads) ----------

DTYPES = {np.dtype(np.float32): 'F32', np.dtype(np.float16): 'F16',
          np.dtype(np.int64): 'I64', np.dtype(np.uint8): 'U8'}


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, numpy array) written in that order; metadata: str -> str.

    Layout: u64 little-endian header length N, N bytes of JSON padded with spaces to a
    multiple of 8, then each tensor's little-endian bytes back to back."""
    header = {}
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, arr in tensors:
        arr = np.array(arr, order='C', copy=True)  # keeps 0-d scalars 0-d (shape [])
        dt = DTYPES[arr.dtype]
        data = arr.astype(arr.dtype.newbyteorder('<'), copy=False).tobytes()
        header[name] = {'dtype': dt, 'shape': list(arr.shape),
                        'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':'), ensure_ascii=True).encode('ascii')
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
