// SPDX-License-Identifier: GPL-3.0-or-later
// Single-image inference latency of an ONNX model with onnxruntime-node (CPU), for
// tests/bench/compare.py. onnxruntime-node lives outside the repository, in the folder given
// by --ort-dir (npm install --ignore-scripts --prefix DIR onnxruntime-node).
//
//   node ort-latency.mjs --ort-dir DIR --model M.onnx --height H --width W --threads T
//        [--runs N] [--warmup N] [--input in.bin] [--output out.bin]
//
// --input: raw little-endian float32 (1, 3, H, W), else a fixed pattern; --output writes the
// logits of the last run as raw float32 so the caller can check them against PyTorch.
// Prints one JSON object: latency median and minimum (ms), runs, ORT version, peak RSS.

import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function parseArgs (argv) {
  const opts = { runs: 5, warmup: 1, threads: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[i + 1];
    if (value === undefined)
      throw new Error(`option --${key} needs a value`);
    opts[key.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = value;
  }
  for (const k of ['runs', 'warmup', 'threads', 'height', 'width'])
    opts[k] = Number.parseInt(opts[k], 10);
  for (const k of ['ortDir', 'model', 'height', 'width'])
    if (opts[k] === undefined || Number.isNaN(opts[k]))
      throw new Error(`--${k} is required`);
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const packageDir = path.join(opts.ortDir, 'node_modules', 'onnxruntime-node');
const require = createRequire(path.join(opts.ortDir, 'node_modules', 'index.js'));
const ort = require('onnxruntime-node');
const version = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')).version;

const n = 3 * opts.height * opts.width;
let data;
if (opts.input !== undefined) {
  const bytes = readFileSync(opts.input);
  if (bytes.length !== 4 * n)
    throw new Error(`${opts.input}: ${bytes.length} bytes, expected ${4 * n}`);
  data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
} else {
  data = new Float32Array(n);
  for (let i = 0; i < n; i++)
    data[i] = Math.sin(0.001 * i);
}

const session = await ort.InferenceSession.create(opts.model, {
  executionProviders: ['cpu'],
  intraOpNumThreads: opts.threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
const feeds = {
  [session.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, opts.height, opts.width]),
};

let result;
for (let i = 0; i < opts.warmup; i++)
  result = await session.run(feeds);
const times = [];
for (let i = 0; i < opts.runs; i++) {
  const t0 = process.hrtime.bigint();
  result = await session.run(feeds);
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
if (opts.output !== undefined) {
  const out = result[session.outputNames[0]].data;
  writeFileSync(opts.output, Buffer.from(out.buffer, out.byteOffset, out.byteLength));
}

const sorted = [...times].sort((a, b) => a - b);
const mid = sorted.length >> 1;
const median = sorted.length % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
console.log(JSON.stringify({
  ort_version: version,
  threads: opts.threads,
  runs: opts.runs,
  warmup: opts.warmup,
  latency_ms_median: median,
  latency_ms_min: sorted[0],
  times_ms: times,
  peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
}));
