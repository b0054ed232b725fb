# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the PyTorch reference fixtures tests/reference/fixtures/*.safetensors.

    /usr/bin/python3 tests/reference/make_fixtures.py [NAME...]

NAME (small, seed, unet, deeplabv3plus, fastscnn) picks fixtures to write; all without. One training-mode forward and backward per configuration, every weight from the
deterministic generator that tests/reference/ref-init.h mirrors in C, so the C tests rebuild
the same model without stored weights: the reference SegFormer (segformer_ref.py) as
small.safetensors and seed.safetensors, the report's baselines (baselines_ref.py) as
unet.safetensors, deeplabv3plus.safetensors and fastscnn.safetensors. Single thread,
deterministic algorithms: running it again gives the same files bit for bit on the same
PyTorch build.
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baselines_ref as BL  # noqa: E402
import segformer_ref as R  # noqa: E402

IGNORE_INDEX = 255
INPUT_SHAPE = (2, 3, 64, 64)

SMALL = dict(R.BASE, widths=[8, 16, 24, 32], depths=[1, 1, 2, 1], heads=[1, 2, 3, 4],
             ratios=[8, 4, 2, 1], mlp_ratio=2, decoder_dim=16, head='bilinear')

# The baselines' inputs (B, 3, H, W): H, W multiples of 32 as the engine requires, small
# enough for files under 1.5 MB with the logits in full, and not square, so that a swap of
# H and W cannot pass:
#   unet 64 x 96: four max pools down to 4 x 6;
#   deeplabv3plus 32 x 192: the ASPP sees 4 x 24, so its 3x3 taps at dilation 6, 12 and 18
#     all fall inside the features along W (at 64 x 96, 8 x 12 there, the taps of 12 and
#     18 would all land in the padding); the decoder works at 16 x 96;
#   fastscnn 64 x 96: 1/32 = 2 x 3 for the pyramid pooling, whose bins there are uneven
#     (3 bins over 2 rows: [0,1), [0,2), [1,2)), overlapping (2 over 3 columns: [0,2),
#     [1,3)) and repeated (6 over 2 and 3); 8 x 12 at 1/8.
# Batch 2: the BatchNorms after DeepLabV3+'s image pooling and Fast-SCNN's 1 x 1 pyramid
# level see one value per image, and PyTorch refuses batch statistics of one value.
BASELINE_SHAPES = {'unet': (2, 3, 64, 96), 'deeplabv3plus': (2, 3, 32, 192),
                   'fastscnn': (2, 3, 64, 96)}
# Module outputs stored as act.<module> (NCHW), the engine's vg_model_activation names:
# the smaller ones, enough to tell which part of a network is off.
BASELINE_ACTS = {'unet': ['encoder4', 'bottleneck', 'decoder4'],
                 'deeplabv3plus': ['aspp', 'decoder.conv_out'],
                 'fastscnn': ['learning_to_downsample', 'global_feature_extractor',
                              'classifier']}
# Parameter gradients of at most this many elements are stored in full (grad.<name>), the
# others as summaries (gsum.<name>).
GRAD_FULL_MAX = 1024
# Fast-SCNN's classifier dropout draws the mask vg_dropout_keep (DROPOUT_SEED, i, 0.1).
DROPOUT_SEED = 0x5EED0D209C0FFEE1


def summary(g, name):
    """[sum, sum of squares, dot with u("probe.<name>"), first 8, last 8] (float64 sums)."""
    g = g.detach().numpy().astype(np.float64).ravel()
    probe = R.gen_uniform('probe.' + name, g.size).astype(np.float64)
    head = [float(np.sum(g)), float(np.sum(g * g)), float(np.dot(g, probe))]
    return np.array(head + list(g[:8]) + list(g[-8:]), dtype=np.float32)


def init_samples(model):
    """Three initial values of every state_dict entry ([0], [numel // 2], [numel - 1]), in
    state_dict order: lets the C tests check ref-init.h's per-tensor rules and the engine's
    table's names, order and sizes bit for bit."""
    samples = []
    for name, t in model.state_dict().items():
        v = t.detach().numpy().astype(np.float32).ravel()
        samples.append([v[0], v[v.size // 2], v[v.size - 1]])
    return np.array(samples, dtype=np.float32)


def train_step(model, shape, num_classes, acts=None):
    """Initialise model, run one training-mode forward and backward on the generator's
    input and labels with the class-weighted loss; the tensors every fixture holds."""
    R.init_model(model)
    model.train()
    samples = init_samples(model)
    x = torch.from_numpy(R.gen_uniform('input', int(np.prod(shape))).reshape(shape))
    B, _, H, W = shape
    labels = R.gen_labels(B * H * W, num_classes, IGNORE_INDEX).reshape(B, H, W)
    weights = R.class_weights()
    logits = model(x, acts) if acts is not None else model(x)
    loss = F.cross_entropy(logits, torch.from_numpy(labels.astype(np.int64)),
                           weight=torch.from_numpy(weights), ignore_index=IGNORE_INDEX)
    loss.backward()
    return [('input', x.numpy()), ('labels', labels), ('class_weights', weights),
            ('logits', logits.detach().numpy()),
            ('loss', np.array(loss.item(), dtype=np.float32)),
            ('init_samples', samples)]


def after_step(model, full):
    """The gradients (full(numel) decides grad.<name> or gsum.<name>) and the buffers."""
    out = []
    for name, p in model.named_parameters():
        if full(p.numel()):
            out.append(('grad.' + name, p.grad.numpy()))
        else:
            out.append(('gsum.' + name, summary(p.grad, name)))
    for name, b in model.named_buffers():
        out.append(('after.' + name, b.numpy()))
    return out


def write(tag, shape, out, meta):
    meta = dict({
        'name': tag,
        'config': meta.pop('config'),
        'input_shape': ','.join(str(d) for d in shape),
        'layout': 'input, logits, act.*: NCHW as PyTorch; labels (B, H, W) U8',
        'ignore_index': str(IGNORE_INDEX),
        'mode': 'train (BatchNorm batch statistics, running stats updated once)',
        'loss': 'cross_entropy(logits, labels, weight=class_weights, ignore_index=255)',
        'generator': 'splitmix64(fnv1a64(name) + i), see ref-init.h',
        'gsum': '[sum, sum of squares, dot with u("probe.<name>"), first 8, last 8]',
        'init_samples': 'state_dict order: initial [0], [numel // 2], [numel - 1]',
    }, **meta)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures',
                        tag + '.safetensors')
    R.write_safetensors(path, out, meta)
    loss = [a for n, a in out if n == 'loss'][0]
    print('%s: loss %.6f, %d tensors, %d bytes' % (path, float(loss), len(out),
                                                  os.path.getsize(path)))


def run(tag, cfg, full):
    torch.manual_seed(0)  # nothing random is used; set anyway
    model = R.SegFormer(cfg)
    acts = {}
    out = train_step(model, INPUT_SHAPE, cfg['num_classes'], acts)
    act_names = ['stage0', 'stage1', 'stage2', 'stage3', 'classifier']
    if full:
        act_names.insert(4, 'fuse')
    for a in act_names:
        out.append(('act.' + a, acts[a].detach().numpy()))
    out += after_step(model, lambda n: full)
    write(tag, INPUT_SHAPE, out, {'config': R.config_spec(cfg)})


def run_baseline(name):
    torch.manual_seed(0)  # nothing random is used; set anyway
    model = BL.build(name)
    meta = {'config': name,
            'grad': 'grad.<name> in full where numel <= %d, else gsum.<name>' % GRAD_FULL_MAX}
    if name == 'fastscnn':
        model.set_dropout_seed(DROPOUT_SEED)
        meta['dropout_seed'] = str(DROPOUT_SEED)
        meta['dropout'] = ('classifier.2, p 0.1: element i of the (B, H, W, C) flattening '
                           'kept and scaled by 1/(1-p) iff vg_dropout_keep(dropout_seed, i, p)')
    acts = {}
    for module in BASELINE_ACTS[name]:
        model.get_submodule(module).register_forward_hook(
            lambda mod, inp, y, module=module: acts.__setitem__(module, y.detach().clone()))
    shape = BASELINE_SHAPES[name]
    out = train_step(model, shape, BL.NUM_CLASSES)
    out += [('act.' + module, acts[module].numpy()) for module in BASELINE_ACTS[name]]
    out += after_step(model, lambda n: n <= GRAD_FULL_MAX)
    write(name, shape, out, meta)


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures'),
                exist_ok=True)
    only = sys.argv[1:]  # fixtures to write, by name; all without arguments
    for tag, cfg, full in [('small', SMALL, True), ('seed', R.CONFIGS['seed'], False)]:
        if not only or tag in only:
            run(tag, cfg, full)
    for name in BL.MODELS:
        if not only or name in only:
            run_baseline(name)


if __name__ == '__main__':
    main()
