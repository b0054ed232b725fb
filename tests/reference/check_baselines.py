# SPDX-License-Identifier: GPL-3.0-or-later
"""The project's reference baselines (baselines_ref.py) against the report's classes.

    /usr/bin/python3 tests/reference/check_baselines.py [path/to/report-baselines.py]

(meson test report-baselines, suite interop.)

For U-Net, DeepLabV3+ and Fast-SCNN: the same state_dict keys, order, shapes and dtypes as
the report's SmallerUNet, LargerDeepLabV3Plus(19) and FastSCNN(19); the report's trainable
parameter counts; each model's state_dict (the fixtures' deterministic weights) loads into
the other with strict=True; and both give the same logits, bit for bit, on one 3 x 512 x 512
image, in evaluation mode (running statistics; dropout off) and for U-Net and DeepLabV3+
also in training mode (batch statistics) on two images. 512 is the report's input, where
DeepLabV3+'s fixed decoder size (256, 256) equals our H/2 x W/2. With $VISAGE_CLI (meson
sets it) and the data set beside the repository, a model file the engine writes (one short
`visage-cli train` epoch) loads into the report's class with strict=True and gives finite
logits.

The report's file is $VISAGE_SHARED_DIR/reference/report-baselines.py (meson sets it), else
../shared/reference/report-baselines.py beside the repository (as in CI), unless given. Exit 77 (skipped) without PyTorch or without that file; 1 on a mismatch.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))


def skip(why):
    print('SKIP: ' + why)
    sys.exit(SKIP)


try:
    import numpy as np
    import torch
except ImportError as e:
    skip('no PyTorch/numpy for %s (%s)' % (sys.executable, e))

sys.path.insert(0, HERE)
import baselines_ref as B  # noqa: E402
import segformer_ref as R  # noqa: E402

SIZE = 512


def load_report(path):
    spec = importlib.util.spec_from_file_location('report_baselines', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {'unet': module.SmallerUNet, 'deeplabv3plus': lambda: module.LargerDeepLabV3Plus(19),
            'fastscnn': lambda: module.FastSCNN(19)}


def layout(model):
    return [(k, tuple(v.shape), v.dtype) for k, v in model.state_dict().items()]


def same_logits(ours, theirs, x, train):
    ours.train(train)
    theirs.train(train)
    with torch.no_grad():
        a = ours(x)
        b = theirs(x)
    return a.shape == b.shape and torch.equal(a, b), a.shape, float((a - b).abs().max())


def check(name, report_class, failures):
    torch.manual_seed(0)
    ours = B.build(name)
    theirs = report_class()
    lo, lt = layout(ours), layout(theirs)
    if lo != lt:
        diff = next((i for i, (p, q) in enumerate(zip(lo, lt)) if p != q), min(len(lo), len(lt)))
        failures.append('%s: state_dict differs at entry %d: ours %s, report %s'
                        % (name, diff, lo[diff:diff + 1], lt[diff:diff + 1]))
        return
    n_ours, n_theirs = B.count_params(ours), B.count_params(theirs)
    if not n_ours == n_theirs == B.PARAM_COUNTS[name]:
        failures.append('%s: %d trainable parameters, the report\'s class %d, the report %d'
                        % (name, n_ours, n_theirs, B.PARAM_COUNTS[name]))
    # The fixtures' weights into ours, ours into the report's class; and back again into a
    # fresh module of ours, which must then hold the same values.
    R.init_model(ours)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    back = B.build(name)
    back.load_state_dict(theirs.state_dict(), strict=True)
    for (k, v), w in zip(ours.state_dict().items(), back.state_dict().values()):
        if not torch.equal(v, w):
            failures.append('%s: %s changed on the way back' % (name, k))
    x = torch.from_numpy(R.gen_uniform('input', 2 * 3 * SIZE * SIZE)
                         .reshape(2, 3, SIZE, SIZE))
    modes = [('eval', x[:1], False)]
    if name != 'fastscnn':  # its training-mode dropout draws different masks by design
        modes.append(('train', x, True))
    for mode, inp, train in modes:
        # training mode updates the running statistics: compare fresh copies each time
        ok, shape, err = same_logits(ours, theirs, inp, train)
        print('%s %s %s: %s (max |diff| %.3g)' % (name, mode, tuple(shape),
                                                 'same' if ok else 'DIFFERENT', err))
        if tuple(shape) != (inp.shape[0], 19, SIZE, SIZE):
            failures.append('%s %s: logits %s' % (name, mode, tuple(shape)))
        if not ok:
            failures.append('%s %s: logits differ by up to %.3g' % (name, mode, err))
    print('%s: %d state_dict entries, %d trainable parameters' % (name, len(lo), n_ours))


def read_safetensors(path):
    """The tensors of a safetensors file (F32 and I64), as torch tensors by name."""
    dtypes = {'F32': np.float32, 'I64': np.int64}
    with open(path, 'rb') as f:
        data = f.read()
    n = int.from_bytes(data[:8], 'little')
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        arr = np.frombuffer(data[8 + n + a:8 + n + b], dtype=dtypes[info['dtype']])
        out[name] = torch.from_numpy(arr.reshape(info['shape']).copy())
    return out, header.get('__metadata__', {})


def check_engine_files(report, shared, failures):
    """Engine-written model files load into the report's classes (strict=True)."""
    cli = os.environ.get('VISAGE_CLI')
    data = os.path.join(shared, 'celebamask')
    if not cli or not os.path.isdir(os.path.join(data, 'train')):
        print('engine files: skipped (no VISAGE_CLI or no data set)')
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name in ['unet', 'deeplabv3plus', 'fastscnn']:
            out = os.path.join(tmp, name)
            cmd = [cli, 'train', '--config', name, '--train', os.path.join(data, 'train'),
                   '--val', os.path.join(data, 'val'), '--max-train', '4', '--max-val', '2',
                   '--epochs', '1', '--batch', '2', '--resolution', '64', '--threads', '2',
                   '--checkpoint-minutes', '0', '--out', out]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                failures.append('%s: visage-cli train failed: %s' % (name, run.stderr[-500:]))
                continue
            tensors, meta = read_safetensors(os.path.join(out, 'best.safetensors'))
            model = report[name]()
            try:
                model.load_state_dict(tensors, strict=True)
            except RuntimeError as e:
                failures.append('%s: the engine\'s file does not load: %s' % (name, e))
                continue
            model.eval()
            with torch.no_grad():
                y = model(torch.randn(1, 3, SIZE, SIZE))
            if meta.get('visage.config') != 'arch=' + name or not torch.isfinite(y).all():
                failures.append('%s: metadata %r, finite logits %s'
                                % (name, meta.get('visage.config'), bool(torch.isfinite(y).all())))
            print('%s: the engine\'s file loads into the report\'s class (strict)' % name)


def main():
    shared = os.environ.get('VISAGE_SHARED_DIR',
                            os.path.join(os.path.dirname(os.path.dirname(HERE)), '..', 'shared'))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        shared, 'reference', 'report-baselines.py')
    if not os.path.isfile(path):
        skip('the report\'s classes are not at %s' % path)
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '2')))
    torch.use_deterministic_algorithms(True)
    report = load_report(path)
    failures = []
    for name in ['unet', 'deeplabv3plus', 'fastscnn']:
        check(name, report[name], failures)
    check_engine_files(report, shared, failures)
    # the hashed dropout keeps about 1 - p of the elements, scaled by 1 / (1 - p)
    keep = B.dropout_keep(12345, 1 << 20, 0.1).mean()
    print('dropout keeps %.4f of 2^20 elements at p = 0.1' % keep)
    if abs(keep - 0.9) > 0.002:
        failures.append('dropout keeps %.4f at p = 0.1' % keep)
    for f in failures:
        print('FAIL: ' + f)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
