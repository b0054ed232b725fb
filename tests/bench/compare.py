#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Visage's engine side by side with PyTorch and ONNX Runtime on the same model (CPU).

For each configuration (--config NAME or NAME:SPEC, repeatable, with an optional --spec on
top of every one) and each
training case (--size and --batch, paired in order), this measures in fresh processes:

  (a) PyTorch training images/s: tests/reference/segformer_ref.py (the SegFormers) or
      tests/reference/baselines_ref.py (unet, deeplabv3plus, fastscnn; Fast-SCNN with
      torch's ordinary nn.Dropout in training), torch.set_num_threads(T),
      Adam(lr=1e-4), weighted cross-entropy (ignore 255), synthetic data in memory; and the
      peak RSS of that process (resource.getrusage ru_maxrss);
  (b) PyTorch inference latency at batch 1 (eval mode, torch.no_grad) at each --infer-size;
  (c) ONNX Runtime inference latency: the same module exported with torch.onnx.export
      (opset 13), run by onnxruntime-node (tests/bench/ort-latency.mjs) with
      intraOpNumThreads = T, interOpNumThreads = 1; its logits are checked against PyTorch's
      (Fast-SCNN's adaptive pools, whose windows overlap where the map is not a multiple of
      the pool size, are exported as the same means over fixed windows for that input size);
  (d) `visage-cli bench --json` with the same settings (and --sgemm: the best sgemm rate of
      the paths the processor has, OpenBLAS with the core it chose and the engine's own
      AVX2 and AVX-512 kernels, with the same threads: the achieved GFLOP/s is compared
      with it; the kernels that ran are printed under the tables),

then prints one table with the ratios against the goals of the speed issue.

Run with Debian's /usr/bin/python3 (PyTorch 1.13). onnxruntime-node is installed once with
`npm install --ignore-scripts --prefix CACHE/ort onnxruntime-node` and the .onnx files are
written under CACHE ($XDG_CACHE_HOME/visage-bench, or ~/.cache/visage-bench), never into the
repository. Example (the README's table):

  /usr/bin/python3 tests/bench/compare.py --visage-cli build-bench/app/visage-cli \\
      --config visage-s --config seed --size 256 --batch 8 --size 512 --batch 2 \\
      --infer-size 512 --threads 2 --steps 4 --max-seconds 45 --quiet-wait 60 \\
      --torch-malloc-tuned

All five configurations (the README's table of the report's baselines):

  /usr/bin/python3 tests/bench/compare.py --visage-cli build-speed/app/visage-cli \\
      --config visage-s --config seed --config unet --config deeplabv3plus \\
      --config fastscnn --size 256 --batch 8 --infer-size 512 --threads 2 --steps 3 \\
      --max-seconds 30 --torch-malloc-tuned

The three networks of the speed issue (the report's seed, seed with spatial-reduction
ratios and a bilinear head, and visage-s) in one run:

  /usr/bin/python3 tests/bench/compare.py --visage-cli build-bench/app/visage-cli \\
      --config seed --config 'seed:ratios=8,4,2,1 head=bilinear' --config visage-s \\
      --size 256 --batch 8 --infer-size 512 --threads 2 --steps 4 --max-seconds 45 \\
      --quiet-wait 60 --torch-malloc-tuned
"""

import argparse
import hashlib
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'reference'))

LR = 1e-4        # the same as visage-cli bench (BENCH_LR)
IGNORE = 255


# ---- configurations ----------------------------------------------------------------------

# The report's convolutional baselines (baselines_ref.py): no --spec keys.
BASELINES = ('unet', 'deeplabv3plus', 'fastscnn')


def resolve_config(name, spec):
    """The reference's config dict for --config NAME plus --spec (vg_config_parse's keys)."""
    import segformer_ref as ref
    if name in BASELINES:
        if spec:
            raise SystemExit('--spec applies to the SegFormers, not to %s' % name)
        return {'baseline': name, 'num_classes': 19}
    if name not in ref.CONFIGS:
        raise SystemExit('unknown configuration %r (choices: %s)'
                         % (name, ', '.join(ref.CONFIGS)))
    cfg = json.loads(json.dumps(ref.CONFIGS[name]))
    for item in (spec or '').split():
        key, _, value = item.partition('=')
        lists = {'widths': 'widths', 'depths': 'depths', 'heads': 'heads', 'ratios': 'ratios'}
        if key in lists:
            cfg[lists[key]] = [int(v) for v in value.split(',')]
        elif key == 'mlp':
            cfg['mlp_ratio'] = int(value)
        elif key == 'dim':
            cfg['decoder_dim'] = int(value)
        elif key == 'head':
            cfg['head'] = value
        else:
            raise SystemExit('unknown --spec key %r' % key)
    return cfg


# ---- workers: each measurement runs in a fresh process so peak RSS figures do not mix ------

def set_threads(threads):
    import torch
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def current_rss_bytes():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    return 0


def synthetic(torch, batch, H, W, num_classes, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, H, W, generator=g)
    y = torch.randint(0, num_classes, (batch, H, W), generator=g)
    y[torch.rand(batch, H, W, generator=g) < 0.01] = IGNORE
    return x, y


def reference_model(a, train):
    """The PyTorch reference of a's configuration, initialised as the engine initialises
    its own, in training or evaluation mode; and the configuration."""
    import segformer_ref as ref
    set_threads(a.threads)
    cfg = resolve_config(a.config[0], a.spec)
    if 'baseline' in cfg:
        import torch.nn as nn
        import baselines_ref
        model = baselines_ref.build(cfg['baseline'])
        if cfg['baseline'] == 'fastscnn' and train:  # torch's own dropout, not the hashed one
            model.classifier[2] = nn.Dropout(baselines_ref.FastSCNN.DROPOUT)
    else:
        model = ref.SegFormer(cfg)
        ref.init_model(model)
    model.train(train)
    return model, cfg


def fixed_adaptive_pools(torch, model, size):
    """Replace model's nn.AdaptiveAvgPool2d by the same means over the fixed windows of an
    input of size x size (the module's map sizes traced once), which ONNX can express where
    the map is not a multiple of the pool size (Fast-SCNN's pools 3 and 6 of a 16 x 16 map
    at 512)."""
    import torch.nn as nn

    class FixedPool(nn.Module):
        def __init__(self, out):
            super().__init__()
            self.out = out
            self.hw = None

        def forward(self, x):
            H, W = self.hw or x.shape[2:]
            o = self.out
            rows = []
            for i in range(o):
                h0, h1 = (i * H) // o, -((-(i + 1) * H) // o)
                cols = [x[:, :, h0:h1, (j * W) // o:-((-(j + 1) * W) // o)].mean((2, 3),
                                                                              keepdim=True)
                        for j in range(o)]
                rows.append(torch.cat(cols, dim=3))
            return torch.cat(rows, dim=2)

    pools = []
    for parent in model.modules():
        for key, child in parent.named_children():
            if isinstance(child, nn.AdaptiveAvgPool2d):
                out = child.output_size
                fixed = FixedPool(out if isinstance(out, int) else out[0])
                setattr(parent, key, fixed)
                pools.append(fixed)
    if pools:
        hooks = [p.register_forward_pre_hook(
            lambda m, inp: setattr(m, 'hw', tuple(int(v) for v in inp[0].shape[2:])))
            for p in pools]
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size))
        for h in hooks:
            h.remove()


def worker_train(a):
    import torch
    import torch.nn.functional as F
    import segformer_ref as ref
    model, cfg = reference_model(a, True)
    weights = torch.from_numpy(ref.class_weights())
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    x, y = synthetic(torch, a.batch, a.size, a.size, cfg['num_classes'])
    rss_before = current_rss_bytes()

    def step():
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y, weight=weights, ignore_index=IGNORE)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0, float(loss)

    warm = [step()[0] for _ in range(a.warmup)]
    steps = a.steps
    if warm and a.max_seconds > 0:
        steps = max(a.min_steps, min(steps, int(a.max_seconds / max(warm[-1], 1e-6))))
    times, losses = [], []
    for _ in range(steps):
        dt, loss = step()
        times.append(dt)
        losses.append(loss)
    print(json.dumps({
        'images_per_s': a.batch * len(times) / sum(times),
        'step_ms_median': 1e3 * statistics.median(times),
        'step_ms_min': 1e3 * min(times),
        'steps': len(times), 'warmup': a.warmup, 'loss': losses[-1],
        'peak_rss_bytes': peak_rss_bytes(), 'rss_before_steps_bytes': rss_before,
        'minor_faults': resource.getrusage(resource.RUSAGE_SELF).ru_minflt,
        'torch_threads': torch.get_num_threads(),
    }))


def worker_infer(a):
    import torch
    model, cfg = reference_model(a, False)
    x, _ = synthetic(torch, 1, a.size, a.size, cfg['num_classes'])
    times = []
    with torch.no_grad():
        for i in range(a.warmup + a.runs):
            t0 = time.perf_counter()
            model(x)
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
    print(json.dumps({
        'latency_ms_median': 1e3 * statistics.median(times),
        'latency_ms_min': 1e3 * min(times), 'runs': len(times),
        'peak_rss_bytes': peak_rss_bytes(),
        'minor_faults': resource.getrusage(resource.RUSAGE_SELF).ru_minflt,
    }))


def worker_export(a):
    """Export the module to ONNX, with an input and PyTorch's logits for the check."""
    import warnings
    import torch
    model, cfg = reference_model(a, False)
    x, _ = synthetic(torch, 1, a.size, a.size, cfg['num_classes'], seed=1)
    fixed_adaptive_pools(torch, model, a.size)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(model, x, a.out + '.tmp', opset_version=13, input_names=['image'],
                          output_names=['logits'], do_constant_folding=True)
    with torch.no_grad():
        logits = model(x)
    x.numpy().astype('<f4').tofile(a.out + '.input.bin')
    logits.numpy().astype('<f4').tofile(a.out + '.logits.bin')
    os.replace(a.out + '.tmp', a.out)
    print(json.dumps({'onnx': a.out, 'torch': torch.__version__}))


# ---- the driver --------------------------------------------------------------------------

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def loadavg():
    return '%.2f %.2f %.2f' % os.getloadavg()


def procs_running():
    """Tasks runnable right now on the whole machine (this reader included)."""
    with open('/proc/stat') as f:
        for line in f:
            if line.startswith('procs_running'):
                return int(line.split()[1])
    return 0


QUIET_WAIT = 0.0
RUNNABLE = []  # mean runnable tasks during each run_json, in order


def wait_quiet():
    """Wait (at most QUIET_WAIT seconds) until nothing else runs for 2 s in a row."""
    if QUIET_WAIT <= 0:
        return
    t0, calm = time.time(), 0
    while calm < 8 and time.time() - t0 < QUIET_WAIT:
        calm = calm + 1 if procs_running() <= 1 else 0
        time.sleep(0.25)
    log('    waited %.0f s for a quiet machine%s' % (
        time.time() - t0, '' if calm >= 8 else ' (gave up)'))


def run_json(cmd, env=None, timeout=None):
    """Run a measurement; records the mean number of runnable tasks while it ran (the
    command's own threads, plus one for the sampler, plus whatever else the machine ran)."""
    wait_quiet()
    log('  $ ' + ' '.join(shlex.quote(c) for c in cmd) + '    [load %s]' % loadavg())
    t0 = time.time()
    samples = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    sampler = threading.Thread(target=sample_runnable, args=(proc, samples), daemon=True)
    sampler.start()
    out, err = proc.communicate(timeout=timeout)
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError('command failed (%d): %s\n%s' % (proc.returncode, ' '.join(cmd),
                                                             err[-3000:]))
    RUNNABLE.append(statistics.mean(samples) if samples else float('nan'))
    log('    (%.1f s, %.1f runnable tasks on average)' % (time.time() - t0, RUNNABLE[-1]))
    return out


def sample_runnable(proc, samples):
    while proc.poll() is None:
        samples.append(procs_running())
        time.sleep(0.2)


def split_config(arg, spec):
    """--config NAME[:SPEC] and the --spec on top of every one: (name, combined spec)."""
    name, _, own = arg.partition(':')
    both = ' '.join(x for x in (spec, own) if x)
    return name, both or None


def worker_cmd(a, kind, name, spec, **kw):
    cmd = [sys.executable, os.path.abspath(__file__), '--worker', kind, '--config', name,
           '--threads', str(a.threads)]
    if spec:
        cmd += ['--spec', spec]
    for k, v in kw.items():
        cmd += ['--' + k.replace('_', '-'), str(v)]
    return cmd


# glibc serves allocations up to 4 GiB from its heap and keeps freed memory instead of
# returning it to the kernel, so PyTorch's large temporaries (it allocates and frees every
# activation each step) do not page-fault afresh every time. On a VM where first-touch page
# faults are expensive this changes PyTorch's figures several-fold; --torch-malloc-tuned
# applies it. Larger blocks, such as the seed model's 4.3 GB attention matrices at 512 x 512
# batch 2, are still mapped and unmapped each time; MALLOC_MMAP_MAX_=0 instead made that run
# exceed the machine's 24 GiB.
TUNED_MALLOC = {'MALLOC_MMAP_THRESHOLD_': str(1 << 32), 'MALLOC_TRIM_THRESHOLD_': str(1 << 36)}


def torch_env(a):
    env = dict(os.environ)
    env['OMP_NUM_THREADS'] = str(a.threads)
    if a.torch_malloc_tuned:
        env.update(TUNED_MALLOC)
    return env


def cache_dir(a):
    if a.cache_dir:
        return a.cache_dir
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'visage-bench')


def ensure_ort(a):
    ort_dir = os.path.join(cache_dir(a), 'ort')
    pkg = os.path.join(ort_dir, 'node_modules', 'onnxruntime-node', 'package.json')
    if not os.path.exists(pkg):
        os.makedirs(ort_dir, exist_ok=True)
        log('installing onnxruntime-node into %s' % ort_dir)
        subprocess.run(['npm', 'install', '--ignore-scripts', '--no-audit', '--no-fund',
                        '--prefix', ort_dir, 'onnxruntime-node'], check=True,
                       stdout=sys.stderr)
    return ort_dir


def ort_measure(a, name, spec, cfg, size):
    import numpy as np
    ort_dir = ensure_ort(a)
    digest = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]
    tag = '%s-%s-%d' % (name, digest, size)
    onnx = os.path.join(cache_dir(a), tag + '.onnx')
    if not os.path.exists(onnx):
        run_json(worker_cmd(a, 'export', name, spec, size=size, out=onnx), env=torch_env(a))
    out_bin = os.path.join(cache_dir(a), tag + '.ort-logits.bin')
    res = json.loads(run_json(['node', os.path.join(HERE, 'ort-latency.mjs'), '--ort-dir',
                               ort_dir, '--model', onnx, '--height', str(size), '--width',
                               str(size), '--threads', str(a.threads), '--runs',
                               str(a.infer_runs), '--warmup', str(a.infer_warmup), '--input',
                               onnx + '.input.bin', '--output', out_bin]))
    ref = np.fromfile(onnx + '.logits.bin', dtype='<f4')
    got = np.fromfile(out_bin, dtype='<f4')
    res['max_abs_diff_vs_torch'] = float(np.max(np.abs(ref - got))) if ref.size == got.size \
        else float('inf')
    os.remove(out_bin)
    return res


def visage_measure(a, name, spec, mode, size, batch):
    cmd = [a.visage_cli, 'bench', '--config', name, '--mode', mode, '--size', str(size),
           '--threads', str(a.threads)]
    if spec:
        cmd += ['--spec', spec]
    if mode == 'train':
        cmd += ['--batch', str(batch), '--steps', str(a.visage_steps or a.steps), '--warmup',
                str(a.warmup), '--sgemm']
    else:
        cmd += ['--runs', str(a.infer_runs), '--warmup', str(a.infer_warmup)]
    fd, path = tempfile.mkstemp(prefix='visage-bench-', suffix='.json')
    os.close(fd)
    try:
        run_json(cmd + ['--json', path])
        with open(path) as f:
            return json.load(f)
    finally:
        os.remove(path)


def fmt(v, spec='%.2f'):
    return '-' if v is None else spec % v


def mib(v):
    return '-' if v is None else '%.0f' % (v / 1048576.0)


def verdict(ratio, goal, higher_is_better):
    if ratio is None:
        return ''
    ok = ratio >= goal if higher_is_better else ratio <= goal
    return 'yes' if ok else 'NO'


def measure(row, key, fn):
    """row[key] = fn(); a failed measurement (killed for memory, say) is logged and left
    out of the table instead of losing the whole run."""
    try:
        row[key] = fn()
    except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as e:
        log('    FAILED: %s' % str(e).splitlines()[0])
        row[key + '_error'] = str(e)[:2000]


def median(xs):
    """The median of the values that are there (None: none is)."""
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def ratio_cell(values, goal, higher_is_better):
    """A ratio over the rounds: the median, its verdict, and with more than one round the
    smallest and largest in brackets."""
    med = median(values)
    cell = '%s %s' % (fmt(med), verdict(med, goal, higher_is_better))
    present = [v for v in values if v is not None]
    if len(present) > 1:
        cell += ' (%.2f-%.2f)' % (min(present), max(present))
    return cell


def train_round(a, r, t, v):
    """One round's training figures: PyTorch and Visage images/s, Visage GFLOP/s, the
    speed-up, the memory ratio and GFLOP/s over sgemm (None where a side is missing)."""
    t_ips = v_ips = gflops = None
    if t:
        t_ips = r['batch'] * 1e3 / t['step_ms_min'] if a.best else t['images_per_s']
    if v:
        v_ips = (r['batch'] * 1e3 / v['train_step_ms_min'] if a.best
                 else v['train_images_per_s'])
        gflops = v['train_gflops'] * v_ips / v['train_images_per_s']
    return {'t_ips': t_ips, 'v_ips': v_ips, 'gflops': gflops,
            't_rss': t and t['peak_rss_bytes'], 'v_rss': v and v['train_peak_rss_bytes'],
            'sgemm': v and v['sgemm_gflops'],
            'speed': v_ips / t_ips if t and v else None,
            'mem': v['train_peak_rss_bytes'] / t['peak_rss_bytes'] if t and v else None,
            'eff': gflops / v['sgemm_gflops'] if v else None}


def infer_round(a, t, o, v):
    """One round's latencies (ms) and ratios."""
    key = 'min' if a.best else 'median'
    t_ms = t and t['latency_ms_' + key]
    o_ms = o and o['latency_ms_' + key]
    v_ms = v and v['infer_latency_ms_' + key]
    return {'t_ms': t_ms, 'o_ms': o_ms, 'v_ms': v_ms,
            'vo': v_ms / o_ms if o and v else None, 'vt': v_ms / t_ms if t and v else None,
            'gflops': v['infer_gflops'] * v['infer_latency_ms_median'] / v_ms if v else None,
            'diff': o and o['max_abs_diff_vs_torch']}


def round_label(k, rounds):
    return ' (round %d of %d)' % (k + 1, rounds) if rounds > 1 else ''


def rounds_of(r):
    """The row's rounds (a row written before --rounds is its own single round)."""
    return r.get('rounds') or [r]


def load_span(row):
    return '%s-%s, %.1f' % (row['load_start'].split()[0], row['load_end'].split()[0],
                            max(row['runnable'], default=float('nan')))


def print_tables(a, results):
    """The side-by-side tables. Rates: images/s over all timed steps (or, with --best, of
    the fastest step); latencies: median (or fastest) run. GFLOP/s scale the same way."""
    w = sys.stdout.write
    est = 'fastest step' if a.best else 'all timed steps'
    w('\n## Training (synthetic data in memory; images/s over %s; peak RSS in MiB)\n\n'
      % est)
    if a.rounds > 1:
        w('Each row measured in %d rounds, Visage then PyTorch (then ONNX Runtime) in each: '
          'figures are medians over the rounds, ratios the median of the rounds\' ratios with '
          'their smallest and largest in brackets.\n\n' % a.rounds)
    w('| config | size | batch | PyTorch img/s | Visage img/s | speed-up (goal >= 3) | '
      'PyTorch peak RSS | Visage peak RSS | memory ratio (goal <= 1) | Visage GFLOP/s | '
      'sgemm GFLOP/s | GFLOP/s / sgemm (goal >= 0.5) | load |\n')
    w('|---|---|---|---|---|---|---|---|---|---|---|---|---|\n')
    for r in results['train']:
        rs = [train_round(a, r, x.get('torch'), x.get('visage')) for x in rounds_of(r)]
        m = {k: median([x[k] for x in rs]) for k in rs[0]}
        w('| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' % (
            r['config'], r['size'], r['batch'], fmt(m['t_ips']), fmt(m['v_ips']),
            ratio_cell([x['speed'] for x in rs], 3, True), mib(m['t_rss']), mib(m['v_rss']),
            ratio_cell([x['mem'] for x in rs], 1, False), fmt(m['gflops'], '%.1f'),
            fmt(m['sgemm'], '%.1f'), ratio_cell([x['eff'] for x in rs], 0.5, True),
            load_span(r)))
    w('\n## Inference (batch 1, latency in ms: %s of %d runs after %d warm-up)\n\n'
      % ('fastest' if a.best else 'median', a.infer_runs, a.infer_warmup))
    w('| config | size | PyTorch | ONNX Runtime | Visage | Visage / ORT (goal <= 0.8) | '
      'Visage / PyTorch | Visage GFLOP/s | ORT logits vs PyTorch (max abs diff) | load |\n')
    w('|---|---|---|---|---|---|---|---|---|---|\n')
    for r in results['infer']:
        rs = [infer_round(a, x.get('torch'), x.get('ort'), x.get('visage'))
              for x in rounds_of(r)]
        m = {k: median([x[k] for x in rs]) for k in rs[0] if k != 'diff'}
        diffs = [x['diff'] for x in rs if x['diff'] is not None]
        w('| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n' % (
            r['config'], r['size'], fmt(m['t_ms'], '%.1f'), fmt(m['o_ms'], '%.1f'),
            fmt(m['v_ms'], '%.1f'), ratio_cell([x['vo'] for x in rs], 0.8, False),
            fmt(m['vt']), fmt(m['gflops'], '%.1f'), '%.2g' % max(diffs) if diffs else '-',
            load_span(r)))
    w('\nload: the 1-minute load average before and after the row\'s measurements, and the '
      'largest mean number of runnable tasks during one of them (%d threads + 1 sampler when '
      'nothing else runs; the machine has %d cores)\n' % (a.threads, os.cpu_count()))
    if a.spec:
        w('\nspec on top of each configuration: %s\n' % a.spec)
    for line in results.get('kernels', []):
        w('\n%s\n' % line)
    w('\n%s\n' % results['environment_line'])


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--config', action='append', help='named configuration, or NAME:SPEC '
                   'with custom keys on top of it (repeatable); default visage-s')
    p.add_argument('--spec', help='custom configuration keys on top of each --config')
    p.add_argument('--size', type=int, action='append', help='training resolution '
                   '(repeatable, paired with --batch); default 256')
    p.add_argument('--batch', type=int, action='append', help='training batch (repeatable)')
    p.add_argument('--infer-size', type=int, action='append',
                   help='inference resolution (repeatable); default: each --size')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--steps', type=int, default=5, help='timed training steps (PyTorch: at '
                   'most this many, see --max-seconds)')
    p.add_argument('--visage-steps', type=int, help='timed steps of visage-cli (default '
                   '--steps)')
    p.add_argument('--min-steps', type=int, default=2)
    p.add_argument('--max-seconds', type=float, default=60, help='PyTorch training: fewer '
                   'steps (not below --min-steps) when they would take longer than this')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--infer-runs', type=int, default=10)
    p.add_argument('--infer-warmup', type=int, default=3, help='untimed runs first (ONNX '
                   'Runtime\'s first runs are several times slower than the next ones)')
    p.add_argument('--skip-train', action='store_true', help='inference rows only')
    p.add_argument('--visage-cli', default=os.path.join(ROOT, 'build', 'app', 'visage-cli'))
    p.add_argument('--skip-ort', action='store_true')
    p.add_argument('--skip-torch', action='store_true')
    p.add_argument('--cache-dir', help='where onnxruntime-node and the .onnx files go '
                   '(default $XDG_CACHE_HOME/visage-bench)')
    p.add_argument('--best', action='store_true', help='tabulate the fastest step and run '
                   '(less sensitive to other load on the machine) instead of the mean '
                   'training rate and the median latency')
    p.add_argument('--quiet-wait', type=float, default=0, metavar='SECONDS',
                   help='before each measurement, wait up to this long for a machine where '
                   'nothing else runs (shared machines)')
    p.add_argument('--torch-malloc-tuned', action='store_true',
                   help='run PyTorch with %s (freed memory kept for reuse)'
                   % ' '.join('%s=%s' % kv for kv in TUNED_MALLOC.items()))
    p.add_argument('--rounds', type=int, default=1, help='measure every row this many times, '
                   'Visage and PyTorch side by side in each round; the tables give medians '
                   'and the ratios\' range')
    p.add_argument('--json', help='also write every measurement here')
    # internal: one measurement in a fresh process
    p.add_argument('--worker', choices=['train', 'infer', 'export'], help=argparse.SUPPRESS)
    p.add_argument('--runs', type=int, default=5, help=argparse.SUPPRESS)
    p.add_argument('--out', help=argparse.SUPPRESS)
    a = p.parse_args()

    if a.worker:
        a.size = a.size[0]
        a.batch = a.batch[0] if a.batch else 1
        {'train': worker_train, 'infer': worker_infer, 'export': worker_export}[a.worker](a)
        return

    global QUIET_WAIT
    QUIET_WAIT = a.quiet_wait
    configs = a.config or ['visage-s']
    sizes = a.size or [256]
    batches = a.batch or [8] * len(sizes)
    if len(batches) != len(sizes):
        p.error('give one --batch per --size')
    if a.rounds < 1:
        p.error('--rounds must be at least 1')
    if any(s % 32 for s in sizes + (a.infer_size or [])):
        p.error('sizes must be multiples of 32')
    infer_sizes = a.infer_size or sorted(set(sizes))
    if not os.access(a.visage_cli, os.X_OK):
        p.error('no visage-cli at %s (build it, or pass --visage-cli)' % a.visage_cli)

    env_line = ('%d threads; %s; %s; OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s; Python %s; '
                'load average at start %s' % (
                    a.threads, cpu_name(), platform.platform(),
                    os.environ.get('OPENBLAS_CORETYPE', '(unset)'),
                    os.environ.get('OPENBLAS_L2_SIZE', '(unset)'),
                    platform.python_version(), loadavg()))
    results = {'train': [], 'infer': [], 'argv': sys.argv, 'environment_line': env_line}
    log(env_line)
    start = time.time()
    for arg in configs:
        name, spec = split_config(arg, a.spec)
        cfg = resolve_config(name, spec)
        label = name + (' (%s)' % spec if spec else '')
        for size, batch in zip(sizes, batches) if not a.skip_train else []:
            row = {'config': label, 'size': size, 'batch': batch, 'load_start': loadavg(),
                   'rounds': []}
            first = len(RUNNABLE)
            for k in range(a.rounds):
                log('%s: training %dx%d batch %d%s' % (name, size, size, batch,
                                                       round_label(k, a.rounds)))
                one = {}
                measure(one, 'visage', lambda: visage_measure(a, name, spec, 'train', size,
                                                              batch))
                if not a.skip_torch:
                    measure(one, 'torch', lambda: json.loads(run_json(
                        worker_cmd(a, 'train', name, spec, size=size, batch=batch,
                                   steps=a.steps, min_steps=a.min_steps,
                                   max_seconds=a.max_seconds, warmup=a.warmup),
                        env=torch_env(a))))
                row['rounds'].append(one)
            row['load_end'] = loadavg()
            row['runnable'] = RUNNABLE[first:]
            results['train'].append(row)
        for size in infer_sizes:
            row = {'config': label, 'size': size, 'load_start': loadavg(), 'rounds': []}
            first = len(RUNNABLE)
            for k in range(a.rounds):
                log('%s: inference %dx%d%s' % (name, size, size, round_label(k, a.rounds)))
                one = {}
                measure(one, 'visage', lambda: visage_measure(a, name, spec, 'infer', size,
                                                              1))
                if not a.skip_torch:
                    measure(one, 'torch', lambda: json.loads(run_json(
                        worker_cmd(a, 'infer', name, spec, size=size, runs=a.infer_runs,
                                   warmup=a.infer_warmup), env=torch_env(a))))
                if not a.skip_ort:
                    measure(one, 'ort', lambda: ort_measure(a, name, spec, cfg, size))
                row['rounds'].append(one)
            row['load_end'] = loadavg()
            row['runnable'] = RUNNABLE[first:]
            results['infer'].append(row)
    results['kernels'] = kernel_lines(results)
    results['environment_line'] += '; load average at end %s; %.0f s in all' % (
        loadavg(), time.time() - start)
    if not a.skip_torch:
        results['environment_line'] += '; torch %s%s' % (
            torch_version(), ' with ' + ' '.join('%s=%s' % kv for kv in TUNED_MALLOC.items())
            if a.torch_malloc_tuned else ' (stock malloc settings)')
    ort = [x['ort'] for r in results['infer'] for x in rounds_of(r) if x.get('ort')]
    if ort:
        results['environment_line'] += '; onnxruntime-node %s' % ort[0]['ort_version']
    print_tables(a, results)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(results, f, indent=1)


def kernel_lines(results):
    """What visage-cli bench reported about its matrix products and the sgemm paths (the
    first training row that has them; every row runs the same binary on the same CPU)."""
    for v in (x.get('visage') for r in results['train'] + results['infer']
              for x in rounds_of(r)):
        if not v or 'gemm_kernels' not in v:
            continue
        lines = ['Visage matrix products: %s' % v['gemm_kernels']]
        if 'conv_kernels' in v:
            lines.append('Visage convolutions: %s' % v['conv_kernels'])
        if 'attention_kernels' in v:
            lines.append('Visage attention: %s' % v['attention_kernels'])
        if 'elementwise_kernels' in v:
            lines.append('Visage element-wise kernels: %s clones' % v['elementwise_kernels'])
        paths = [(k, label) for k, label in (('sgemm_openblas_gflops', 'OpenBLAS (core %s)'
                                              % v.get('openblas_corename', '?')),
                                             ('sgemm_engine_avx2_gflops', 'engine AVX2'),
                                             ('sgemm_engine_avx512_gflops', 'engine AVX-512'))
                 if k in v]
        if paths:
            lines.append('sgemm %d x %d GFLOP/s by path: %s (the reference rate is the best)'
                         % (v['sgemm_n'], v['sgemm_n'],
                            ', '.join('%s %.1f' % (label, v[k]) for k, label in paths)))
        return lines
    return []


def cpu_name():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def torch_version():
    out = subprocess.run([sys.executable, '-c', 'import torch; print(torch.__version__)'],
                         stdout=subprocess.PIPE, text=True)
    return out.stdout.strip()


if __name__ == '__main__':
    main()
