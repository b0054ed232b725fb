#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# kill-resume.sh [N]: train a tiny run on real images, SIGKILL it N times at random moments
# (about half of them inside a checkpoint write, through fault-shim.so), resume it each
# time with `visage-cli train --resume`, and compare the result with an uninterrupted run
# of the same options: every tensor of last.safetensors and best.safetensors bit for bit,
# their metadata, and the log rows without their timing columns (compare-runs.py).
#
# Environment: VISAGE_CLI (default build/app/visage-cli), VISAGE_SHARED_DIR (../shared),
# VG_FAULT_SEED (the random seed; printed), CC (cc), KEEP=1 keeps the work folder.
# The last line reads "N/N resumed, final weights identical", or says what differed.
set -u

N=${1:-10}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=fault-lib.sh
. "$here/fault-lib.sh"
cli=${VISAGE_CLI:-$root/build/app/visage-cli}
shared=${VISAGE_SHARED_DIR:-$root/../shared}
seed=${VG_FAULT_SEED:-$$}
RANDOM=$seed
work=$(mktemp -d "${TMPDIR:-/tmp}/visage-kill-resume.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

fail () { echo "$*"; exit 1; }

[ -x "$cli" ] || fail "no visage-cli at $cli (set VISAGE_CLI)"
[ -d "$shared/celebamask/train/images" ] || fail "no data set at $shared/celebamask"
${CC:-cc} -shared -fPIC -O2 -o "$work/fault-shim.so" "$here/fault-shim.c" -ldl \
  || fail "cannot build fault-shim.so"

# 48 training and 4 validation images (links: the data set is read in place).
link_splits "$work" "$shared"
# The statistics cache and the list of trained models stay in the work folder.
export XDG_CACHE_HOME=$work/cache XDG_DATA_HOME=$work/xdg-data
export OMP_NUM_THREADS=2

# A tiny visage-s at 64 px: 12 steps an epoch (about a second), N + 4 epochs, a mid-epoch
# checkpoint every 0.3 s, patience 2 so that the pipeline switches to SGD and reloads the
# best weights (the patience events must survive a resume too). --checkpoint-minutes is
# not part of the run: a resume takes the default (10) unless given again, so it is.
every=(--checkpoint-minutes 0.005 --threads 2)
spec="widths=8,16,24,32 depths=1,1,1,1 heads=1,1,1,1 ratios=8,4,2,1"
args=(--config visage-s --spec "$spec"
      --train "$work/data/train" --val "$work/data/val" --resolution 64 --batch 4
      --epochs $((N + 4)) --patience 2 --hflip --seed 7 "${every[@]}")

echo "seed $seed (VG_FAULT_SEED=$seed reproduces the choices), work folder $work"
start=$SECONDS
t0=$(date +%s%N)
"$cli" train "${args[@]}" --out "$work/ref" >"$work/ref.out" 2>&1 \
  || { cat "$work/ref.out"; fail "the uninterrupted run failed"; }
# An epoch's time here, in ms: a kill comes at most about one epoch into a stretch, so
# that N kills never reach the end of the N + 4 epochs.
epoch_ms=$((($(date +%s%N) - t0) / 1000000 / (N + 4)))
echo "uninterrupted run: $((SECONDS - start)) s ($epoch_ms ms an epoch)"

run=$work/run
kills=0
in_write=0
fresh=0
for ((k = 1; k <= N; k++)); do
  if [ -f "$run/last.safetensors" ]; then
    cmd=(train --resume "$run" "${every[@]}")
  else
    cmd=(train "${args[@]}" --out "$run")
    fresh=$((fresh + 1))
  fi
  : >"$work/events"
  if ((k % 2 == 0)); then
    # Inside a write, through the shim, in turn: the K-th write() of a temporary (a
    # checkpoint makes about 280, best.safetensors about 90, log.csv one), or the K-th
    # fsync, or the K-th rename, or just after the K-th rename: within the first two
    # checkpoints of this stretch (a resume first rewrites log.csv: fsync, rename 1).
    kinds=(write fsync rename renamed)
    kind=${kinds[$(((k / 2 - 1) % 4))]}
    if [ "$kind" = write ]; then at=$((1 + RANDOM % 600)); else at=$((1 + RANDOM % 3)); fi
    VG_FAULT_MATCH=".tmp-:log.csv." VG_FAULT_KILL_ON=$kind VG_FAULT_KILL_AT=$at \
      VG_FAULT_LOG="$work/events" LD_PRELOAD="$work/fault-shim.so" \
      "$cli" "${cmd[@]}" >>"$work/run.out" 2>&1 &
    pid=$!
    wait $pid 2>/dev/null
    rc=$?
    last_event=$(tail -n 1 "$work/events" | cut -d' ' -f4)
    how="at $kind $at of a temporary (${last_event##*/})"
    shim=1
  else
    # At a random time: 0.2 s (the start) to 0.2 s + an epoch.
    ms=$((200 + RANDOM % epoch_ms))
    delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
    "$cli" "${cmd[@]}" >>"$work/run.out" 2>&1 &
    pid=$!
    (sleep "$delay" && kill -KILL $pid 2>/dev/null) &
    killer=$!
    wait $pid 2>/dev/null
    rc=$?
    kill $killer 2>/dev/null
    wait $killer 2>/dev/null
    how="after $delay s"
    shim=0
  fi
  if [ $rc -eq 0 ]; then
    echo "kill $k: the run finished before it ($how)"
    break
  fi
  [ $rc -eq 137 ] || { tail -n 5 "$work/run.out"; fail "kill $k: the run failed (exit $rc)"; }
  kills=$((kills + 1))
  left=$(find "$run" -maxdepth 1 \( -name '*.tmp-*' -o -name 'log.csv.??????' \) \
         -printf '%f ' 2>/dev/null)
  [ -n "$left" ] && how="$how, left $left"
  if [ -n "$left" ] || [ $shim = 1 ]; then
    in_write=$((in_write + 1))
  fi
  state="no checkpoint yet"
  if [ -f "$run/last.safetensors" ]; then
    state=$(python3 -c '
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    m = json.loads(f.read(n))["__metadata__"]
print("checkpoint: epoch %s done, step %s of the next" % (m["visage.train.state.epoch"],
      m.get("visage.train.state.epoch_step", "0")))' "$run/last.safetensors")
  fi
  echo "kill $k: $how; $state"
done

"$cli" train --resume "$run" "${every[@]}" >>"$work/run.out" 2>&1 \
  || { tail -n 5 "$work/run.out"; fail "the final resume failed"; }
echo "interrupted run: $kills kills ($in_write inside a write, $fresh fresh starts);" \
     "$((SECONDS - start)) s in all"

left=$(find "$run" -maxdepth 1 \( -name '*.tmp-*' -o -name 'log.csv.??????' \))
[ -z "$left" ] || fail "temporaries left in the run folder: $left"
if python3 "$here/compare-runs.py" "$work/ref" "$run" >"$work/compare" 2>&1; then
  tail -n 1 "$work/compare"
  echo "$kills/$N resumed, final weights identical"
  [ "$kills" -eq "$N" ]
else
  cat "$work/compare"
  echo "$kills/$N resumed, final weights differ: $(tail -n 1 "$work/compare")"
  exit 1
fi
