// SPDX-License-Identifier: GPL-3.0-or-later
// The ONNX export run by ONNX Runtime (onnxruntime-node, CPU) against the engine.
//
//   node onnxruntime.mjs --cli visage-cli --engine engine-logits --bundled M.safetensors
//        --work DIR [--ort-dir DIR]
//
// For the bundled visage-s, a random-weight seed and a random-weight custom configuration
// (transposed-conv head, other widths, heads and ratios), it exports the model with
// `visage-cli export-onnx` in the input variants (float32 NCHW, uint8 NHWC; the custom
// model also float32 NHWC and uint8 NCHW), has engine-logits compute the engine's logits
// for real photographs of ../shared (batch 1 at 256x256, batch 2 at 192x320: one session
// serves both, so the symbolic sizes are exercised), and checks that ONNX Runtime's logits
// are within 1e-4 of the engine's range: max |ort - engine| <= 1e-4 (max - min).
//
// onnxruntime-node is installed once into --ort-dir (default $XDG_CACHE_HOME/visage/npm)
// with `npm install --ignore-scripts`: its CPU libraries are inside the npm tarball, the
// install script only fetches optional GPU files. Exit status 77 (skipped) when npm cannot
// install it or the runtime does not load; 1 when a comparison fails.

import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SKIP = 77;
const TOLERANCE = 1e-4;

function parseArgs (argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined)
      throw new Error(`bad argument ${argv[i]}`);
    opts[argv[i].slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = argv[i + 1];
  }
  for (const k of ['cli', 'engine', 'bundled', 'work'])
    if (opts[k] === undefined)
      throw new Error(`--${k} is required`);
  if (opts.ortDir === undefined) {
    const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    opts.ortDir = path.join(cache, 'visage', 'npm');
  }
  return opts;
}

function skip (why) {
  console.log(`SKIP: ${why}`);
  process.exit(SKIP);
}

// onnxruntime-node from the cache folder, installed there first if need be.
function loadOrt (dir) {
  const pkg = path.join(dir, 'node_modules', 'onnxruntime-node', 'package.json');
  if (!existsSync(pkg)) {
    mkdirSync(dir, { recursive: true });
    console.log(`installing onnxruntime-node into ${dir}`);
    try {
      execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund',
                           '--prefix', dir, 'onnxruntime-node'],
                   { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300000 });
    } catch (e) {
      skip(`npm could not install onnxruntime-node (${e.message.split('\n')[0]})`);
    }
  }
  try {
    const require = createRequire(path.join(dir, 'node_modules', 'index.js'));
    const ort = require('onnxruntime-node');
    const version = JSON.parse(readFileSync(pkg, 'utf8')).version;
    return { ort, version };
  } catch (e) {
    skip(`onnxruntime-node does not load (${e.message.split('\n')[0]})`);
  }
}

function run (program, args) {
  return execFileSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

function readF32 (file) {
  const b = readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

function readU8 (file) {
  const b = readFileSync(file);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

// (B, H, W, C) <-> (B, C, H, W) for the variants whose layout differs from the files'.
function nhwcToNchw (x, B, H, W, C) {
  const out = new x.constructor(x.length);
  for (let b = 0; b < B; b++)
    for (let p = 0; p < H * W; p++)
      for (let c = 0; c < C; c++)
        out[(b * C + c) * H * W + p] = x[(b * H * W + p) * C + c];
  return out;
}

function nchwToNhwc (x, B, H, W, C) {
  const out = new x.constructor(x.length);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let p = 0; p < H * W; p++)
        out[(b * H * W + p) * C + c] = x[(b * C + c) * H * W + p];
  return out;
}

function compare (ort, engine, NC, H, W) {
  let lo = Infinity, hi = -Infinity, diff = 0, agree = 0;
  for (let i = 0; i < engine.length; i++) {
    lo = Math.min(lo, engine[i]);
    hi = Math.max(hi, engine[i]);
    diff = Math.max(diff, Math.abs(ort[i] - engine[i]));
  }
  // argmax over the classes, pixel by pixel: a figure for the log, not the criterion
  const HW = H * W, pixels = engine.length / NC;
  for (let q = 0; q < pixels; q++) {
    const b = Math.floor(q / HW), p = q % HW;
    let be = 0, bo = 0;
    for (let c = 1; c < NC; c++) {
      const i = (b * NC + c) * HW + p, ie = (b * NC + be) * HW + p, io = (b * NC + bo) * HW + p;
      if (engine[i] > engine[ie]) be = c;
      if (ort[i] > ort[io]) bo = c;
    }
    agree += be === bo;
  }
  return { diff, range: hi - lo, agree: agree / pixels };
}

const opts = parseArgs(process.argv.slice(2));
const shared = process.env.VISAGE_SHARED_DIR;
const images = shared ? path.join(shared, 'celebamask', 'val', 'images') : undefined;
if (images === undefined || !existsSync(images)) {
  if (process.env.CI)
    throw new Error(`the data set is missing under CI: ${images}`);
  skip('../shared/celebamask is not present');
}
const { ort, version } = loadOrt(opts.ortDir);
console.log(`onnxruntime-node ${version}`);

rmSync(opts.work, { recursive: true, force: true });
mkdirSync(opts.work, { recursive: true });
const work = (name) => path.join(opts.work, name);

const CUSTOM = 'widths=16,32,48,64 depths=1,1,2,1 heads=1,2,3,2 ratios=4,2,2,1 mlp=2 dim=48 '
  + 'head=tconv';
const models = [
  { name: 'visage-s', file: opts.bundled, variants: ['float-nchw', 'uint8-nhwc'] },
  { name: 'seed-random', make: ['--config', 'seed', '--seed', '7'],
    variants: ['float-nchw', 'uint8-nhwc'] },
  { name: 'custom-random', make: ['--config', 'visage-s', '--spec', CUSTOM, '--seed', '11'],
    variants: ['float-nchw', 'uint8-nhwc', 'float-nhwc', 'uint8-nchw'] },
];
const cases = [{ B: 1, W: 256, H: 256 }, { B: 2, W: 192, H: 320 }];
const sessionOptions = {
  executionProviders: ['cpu'], intraOpNumThreads: 2, interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
};

let failures = 0, checks = 0;
for (const m of models) {
  let file = m.file;
  if (m.make !== undefined) {
    file = work(`${m.name}.safetensors`);
    run(opts.engine, ['make-model', ...m.make, '--out', file]);
  }
  const sessions = {};
  for (const v of m.variants) {
    const onnx = work(`${m.name}-${v}.onnx`);
    const flags = [];
    if (v.startsWith('uint8'))
      flags.push('--uint8');
    if (v.endsWith('nhwc'))
      flags.push('--nhwc');
    run(opts.cli, ['export-onnx', '--model', file, '--out', onnx, ...flags]);
    sessions[v] = await ort.InferenceSession.create(onnx, sessionOptions);
    if (sessions[v].inputNames.join() !== 'image' || sessions[v].outputNames.join() !== 'logits')
      throw new Error(`${onnx}: inputs ${sessions[v].inputNames}, outputs `
                      + `${sessions[v].outputNames}`);
  }
  for (const { B, W, H } of cases) {
    const prefix = work(`${m.name}-${B}x${W}x${H}`);
    run(opts.engine, ['run', '--model', file, '--batch', `${B}`, '--size', `${W}x${H}`,
                      '--images', images, '--prefix', prefix]);
    const u8 = readU8(`${prefix}.u8`), f32 = readF32(`${prefix}.f32`);
    const engine = readF32(`${prefix}.out`);
    const NC = engine.length / (B * H * W);
    for (const v of m.variants) {
      let tensor;
      if (v === 'float-nchw')
        tensor = new ort.Tensor('float32', f32, [B, 3, H, W]);
      else if (v === 'float-nhwc')
        tensor = new ort.Tensor('float32', nchwToNhwc(f32, B, H, W, 3), [B, H, W, 3]);
      else if (v === 'uint8-nhwc')
        tensor = new ort.Tensor('uint8', u8, [B, H, W, 3]);
      else
        tensor = new ort.Tensor('uint8', nhwcToNchw(u8, B, H, W, 3), [B, 3, H, W]);
      const result = await sessions[v].run({ image: tensor });
      const logits = result.logits;
      const label = `${m.name} ${v} batch ${B} ${W}x${H}`;
      checks++;
      if (logits.dims.join() !== [B, NC, H, W].join()) {
        console.log(`FAIL ${label}: logits dims ${logits.dims}, expected ${[B, NC, H, W]}`);
        failures++;
        continue;
      }
      const r = compare(logits.data, engine, NC, H, W);
      const ok = r.diff <= TOLERANCE * r.range;
      console.log(`${ok ? 'ok  ' : 'FAIL'} ${label}: max |ort - engine| ${r.diff.toExponential(2)}`
                  + ` = ${(r.diff / r.range).toExponential(2)} of the range `
                  + `${r.range.toFixed(2)}; argmax agrees on ${(100 * r.agree).toFixed(4)}%`);
      failures += !ok;
    }
  }
}
console.log(`${checks - failures} of ${checks} comparisons within ${TOLERANCE} of the range`);
process.exit(failures > 0 ? 1 : 0);
