#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compare two training run folders the way a resume must reproduce them.

  compare-runs.py REFERENCE_DIR RUN_DIR

For last.safetensors and best.safetensors: every tensor (name, dtype, shape and the raw
bytes: bit-identical) and every metadata value, except what legitimately differs between
two runs of the same schedule:
  - the seconds, images_per_s and cpu_seconds columns of the log rows (visage.train.log,
    log.csv), and visage.train.state.cpu_seconds (the CPU time the processes took);
  - visage.train.workers / visage.train.threads / visage.train.epochs (may change on
    --resume, and are informational).
Prints one line per difference and a summary line; exits 0 when identical, 1 otherwise.
"""
import json
import struct
import sys

TIMING_COLUMNS = ("seconds", "images_per_s", "cpu_seconds")
LOG_HEADER = ("epoch,phase,optimizer,lr,train_loss,val_loss,val_miou,seconds,images_per_s,"
              "cpu_seconds")
MUTABLE_KEYS = {"visage.train.workers", "visage.train.threads", "visage.train.epochs",
                "visage.train.state.cpu_seconds"}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        start, end = t["data_offsets"]
        tensors[name] = (t["dtype"], tuple(t["shape"]), body[start:end])
    return tensors, meta


def log_rows(text):
    """The rows without their timing columns."""
    columns = LOG_HEADER.split(",")
    keep = [i for i, c in enumerate(columns) if c not in TIMING_COLUMNS]
    rows = []
    for line in text.splitlines():
        if not line or line == LOG_HEADER:
            continue
        cells = line.split(",")
        rows.append(",".join(cells[i] for i in keep if i < len(cells)))
    return rows


def compare_logs(what, a, b, out):
    ra, rb = log_rows(a), log_rows(b)
    if len(ra) != len(rb):
        out.append(f"{what}: {len(ra)} rows in the reference, {len(rb)} in the run")
    for i, (x, y) in enumerate(zip(ra, rb)):
        if x != y:
            out.append(f"{what}: row {i + 1} differs: {x} | {y}")


def compare_file(name, ref_dir, run_dir, out):
    try:
        ta, ma = read_safetensors(f"{ref_dir}/{name}")
        tb, mb = read_safetensors(f"{run_dir}/{name}")
    except OSError as e:
        out.append(f"{name}: {e}")
        return 0
    for t in sorted(set(ta) | set(tb)):
        if t not in ta or t not in tb:
            out.append(f"{name}: tensor {t} only in the {'run' if t in tb else 'reference'}")
        elif ta[t][:2] != tb[t][:2]:
            out.append(f"{name}: tensor {t}: {ta[t][:2]} vs {tb[t][:2]}")
        elif ta[t][2] != tb[t][2]:
            a, b = ta[t][2], tb[t][2]
            first = next(i for i in range(len(a)) if a[i] != b[i])
            n = sum(1 for i in range(0, len(a), 4) if a[i:i + 4] != b[i:i + 4])
            out.append(f"{name}: tensor {t} differs ({n} of {len(a) // 4} elements, "
                       f"first at byte {first})")
    for k in sorted(set(ma) | set(mb)):
        if k in MUTABLE_KEYS:
            continue
        if k == "visage.train.log":
            compare_logs(f"{name} {k}", ma.get(k, ""), mb.get(k, ""), out)
        elif ma.get(k) != mb.get(k):
            out.append(f"{name}: metadata {k}: {ma.get(k)!r} vs {mb.get(k)!r}")
    return len(ta)


def main():
    ref_dir, run_dir = sys.argv[1], sys.argv[2]
    out = []
    n = 0
    for name in ("last.safetensors", "best.safetensors"):
        n += compare_file(name, ref_dir, run_dir, out)
    with open(f"{ref_dir}/log.csv") as fa, open(f"{run_dir}/log.csv") as fb:
        compare_logs("log.csv", fa.read(), fb.read(), out)
    for line in out:
        print(line)
    if out:
        print(f"{len(out)} differences")
        return 1
    print(f"identical: {n} tensors bit for bit, metadata and log rows (timings aside)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
