# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the PyTorch reference fixtures tests/reference/fixtures/{small,seed}.safetensors.

    /usr/bin/python3 tests/reference/make_fixtures.py

One training-mode forward and backward of the reference SegFormer (segformer_ref.py) per
configuration, every weight from the deterministic generator that tests/reference/ref-init.h
mirrors in C, so the C tests rebuild the same model without stored weights. Single thread,
deterministic algorithms: running it again gives the same files bit for bit on the same
PyTorch build.
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import segformer_ref as R  # noqa: E402

IGNORE_INDEX = 255
INPUT_SHAPE = (2, 3, 64, 64)

SMALL = dict(R.BASE, widths=[8, 16, 24, 32], depths=[1, 1, 2, 1], heads=[1, 2, 3, 4],
             ratios=[8, 4, 2, 1], mlp_ratio=2, decoder_dim=16, head='bilinear')


def summary(g, name):
    """[sum, sum of squares, dot with u("probe.<name>"), first 8, last 8] (float64 sums)."""
    g = g.detach().numpy().astype(np.float64).ravel()
    probe = R.gen_uniform('probe.' + name, g.size).astype(np.float64)
    head = [float(np.sum(g)), float(np.sum(g * g)), float(np.dot(g, probe))]
    return np.array(head + list(g[:8]) + list(g[-8:]), dtype=np.float32)


def run(tag, cfg, full):
    torch.manual_seed(0)  # nothing random is used; set anyway
    model = R.SegFormer(cfg)
    R.init_model(model)
    model.train()
    # Three initial values of every state_dict entry ([0], [numel // 2], [numel - 1]), in
    # state_dict order: lets the C test check ref-init.h's per-tensor rules bit for bit.
    samples = []
    for name, t in model.state_dict().items():
        v = t.detach().numpy().astype(np.float32).ravel()
        samples.append([v[0], v[v.size // 2], v[v.size - 1]])
    init_samples = np.array(samples, dtype=np.float32)

    n_in = int(np.prod(INPUT_SHAPE))
    x = torch.from_numpy(R.gen_uniform('input', n_in).reshape(INPUT_SHAPE))
    B, _, H, W = INPUT_SHAPE
    labels = R.gen_labels(B * H * W, cfg['num_classes'], IGNORE_INDEX).reshape(B, H, W)
    weights = R.class_weights()

    acts = {}
    logits = model(x, acts)
    loss = F.cross_entropy(logits, torch.from_numpy(labels.astype(np.int64)),
                           weight=torch.from_numpy(weights), ignore_index=IGNORE_INDEX)
    loss.backward()

    out = [('input', x.numpy()), ('labels', labels), ('class_weights', weights),
           ('logits', logits.detach().numpy()),
           ('loss', np.array(loss.item(), dtype=np.float32)),
           ('init_samples', init_samples)]
    act_names = ['stage0', 'stage1', 'stage2', 'stage3', 'classifier']
    if full:
        act_names.insert(4, 'fuse')
    for a in act_names:
        out.append(('act.' + a, acts[a].detach().numpy()))
    for name, p in model.named_parameters():
        if full:
            out.append(('grad.' + name, p.grad.numpy()))
        else:
            out.append(('gsum.' + name, summary(p.grad, name)))
    for name, b in model.named_buffers():
        out.append(('after.' + name, b.numpy()))

    meta = {
        'name': tag,
        'config': R.config_spec(cfg),
        'input_shape': ','.join(str(d) for d in INPUT_SHAPE),
        'layout': 'input, logits, act.*: NCHW as PyTorch; labels (B, H, W) U8',
        'ignore_index': str(IGNORE_INDEX),
        'mode': 'train (BatchNorm batch statistics, running stats updated once)',
        'loss': 'cross_entropy(logits, labels, weight=class_weights, ignore_index=255)',
        'generator': 'splitmix64(fnv1a64(name) + i), see ref-init.h',
        'gsum': '[sum, sum of squares, dot with u("probe.<name>"), first 8, last 8]',
        'init_samples': 'state_dict order: initial [0], [numel // 2], [numel - 1]',
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures',
                        tag + '.safetensors')
    R.write_safetensors(path, out, meta)
    print('%s: loss %.6f, %d tensors, %d bytes' % (path, loss.item(), len(out),
                                                  os.path.getsize(path)))


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures'),
                exist_ok=True)
    run('small', SMALL, full=True)
    run('seed', R.CONFIGS['seed'], full=False)


if __name__ == '__main__':
    main()
