#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# disk-full.sh: the writers of visage-cli and of the workbench's annotation save on a full
# disk (a small tmpfs), over the file size limit (ulimit -f), into a read-only folder, and
# at an output path that is a file or a folder. Each case wants a clear error (exit 1 and
# the reason: "No space left on device", "File too large", "Read-only file system", "Not a
# directory", "Is a directory"), the previous files intact (same bytes), and no temporary
# left behind. The read-only and wrong-path cases must fail before any work: the message
# is the output check's, not a writer's at the end.
#
# Needs to mount a tmpfs: as root, or as a user where `unshare -r -m` works; otherwise it
# exits 77 (skipped). It runs in a private mount namespace, so nothing stays mounted.
# Environment: VISAGE_BUILD (the build folder; default: the one of VISAGE_CLI, else build),
# VISAGE_SHARED_DIR (../shared; absent: skipped, unless CI is set), KEEP=1.
# The last line reads "N/N fault cases handled". Meson runs it as the suite "faults".
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=fault-lib.sh
. "$here/fault-lib.sh"
if [ -z "${VISAGE_BUILD:-}" ] && [ -n "${VISAGE_CLI:-}" ]; then
  VISAGE_BUILD=$(dirname "$(dirname "$VISAGE_CLI")")
fi
build=${VISAGE_BUILD:-$root/build}
[ "${build#/}" != "$build" ] || build=$PWD/$build
export VISAGE_BUILD=$build

# Into a private mount namespace (as root, or as a user mapped to root in its own one).
if [ -z "${VG_FAULT_NS:-}" ] && command -v unshare >/dev/null; then
  if [ "$(id -u)" = 0 ]; then flags=(-m); else flags=(-r -m); fi
  if unshare "${flags[@]}" --propagation private true 2>/dev/null; then
    VG_FAULT_NS=1 exec unshare "${flags[@]}" --propagation private "$0" "$@"
  fi
fi

cli=$build/app/visage-cli
save_annotation=$build/tests/faults/save-annotation
shared=${VISAGE_SHARED_DIR:-$root/../shared}
work=$(mktemp -d "${TMPDIR:-/tmp}/visage-disk-full.XXXXXX")
disk=$work/disk  # the small tmpfs
ro=$work/ro      # a read-only tmpfs

cleanup () {
  umount "$disk" "$ro" 2>/dev/null
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

for program in "$cli" "$save_annotation"; do
  [ -x "$program" ] || { echo "no $program (set VISAGE_BUILD and build)"; exit 1; }
done
if [ ! -d "$shared/celebamask/train/images" ]; then
  echo "no data set at $shared/celebamask"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
mkdir -p "$disk" "$ro"
if ! mount -t tmpfs -o size=4m tmpfs "$disk" 2>/dev/null \
   || ! mount -t tmpfs -o ro,size=1m tmpfs "$ro" 2>/dev/null; then
  echo "skipped: cannot mount a tmpfs here (needs root or unshare -r -m)"
  exit 77
fi

# 48 training and 4 validation images (links), a tiny model trained on them.
link_splits "$work" "$shared"
export XDG_CACHE_HOME=$work/cache XDG_DATA_HOME=$work/xdg-data OMP_NUM_THREADS=2
spec="widths=8,16,24,32 depths=1,1,1,1 heads=1,1,1,1 ratios=8,4,2,1"
train=(train --config visage-s --spec "$spec" --train "$work/data/train"
       --val "$work/data/val" --resolution 64 --epochs 1 --threads 2)
"$cli" "${train[@]}" --out "$work/model" >"$work/model.out" 2>&1 \
  || { cat "$work/model.out"; echo "cannot train the model of the test"; exit 1; }
model=$work/model/best.safetensors
images=$work/data/val/images
touch "$work/a-file"

passed=0
total=0

# fill KB: leave about KB kilobytes free on the small disk.
fill () {
  rm -f "$disk/filler"
  local avail
  avail=$(df -k --output=avail "$disk" | tail -n 1)
  if [ "$avail" -gt "$1" ]; then
    dd if=/dev/zero of="$disk/filler" bs=1k count=$((avail - $1)) status=none 2>/dev/null
  fi
}

# What is there (names and bytes), the filler aside.
snapshot () {
  (cd "$1" && find . -type f ! -name filler -print0 | sort -z | xargs -0 -r sha1sum)
}

# expect NAME REASON DIR COMMAND...: the command fails with REASON in the last line of its
# stderr, DIR keeps its files byte for byte and holds no temporary.
expect () {
  local name=$1 reason=$2 dir=$3 before after left message rc
  shift 3
  total=$((total + 1))
  before=$(snapshot "$dir")
  "$@" >/dev/null 2>"$work/case.err"
  rc=$?
  message=$(grep -v '^\s*$' "$work/case.err" | tail -n 1)
  after=$(snapshot "$dir")
  left=$(find "$dir" \( -name '*.tmp-*' -o -name '.visage-write-check-*' \
                        -o -name 'log.csv.??????' \) -printf '%f ' 2>/dev/null)
  if [ $rc -ne 1 ]; then
    echo "FAIL $name: exit $rc (wanted 1): $message"
  elif [[ "$message" != *"$reason"* ]]; then
    echo "FAIL $name: the message does not say \"$reason\": $message"
  elif [ "$before" != "$after" ]; then
    echo "FAIL $name: the previous files changed"
  elif [ -n "$left" ]; then
    echo "FAIL $name: left $left"
  else
    echo "ok   $name: $message"
    passed=$((passed + 1))
  fi
}

echo "== a full disk (tmpfs of 4 MB)"
"$cli" "${train[@]}" --out "$disk/run" >/dev/null 2>&1 || { echo "cannot train on $disk"; exit 1; }
fill 300
expect "checkpoint (train --resume, mid-epoch)" "No space left on device" "$disk" \
  "$cli" train --resume "$disk/run" --epochs 2 --checkpoint-minutes 0.001
rm -rf "$disk/run"

fill 4000
"$save_annotation" "$images/0.jpg" "$work/data/val/masks/0.png" "$disk/annotations/0.png" 1 \
  || exit 1
"$save_annotation" "$images/0.jpg" "$work/data/val/masks/0.png" "$disk/annotations/0.png" 2 \
  --recovery || exit 1
fill 2
expect "annotation save" "No space left on device" "$disk" \
  "$save_annotation" "$images/0.jpg" "$work/data/val/masks/0.png" "$disk/annotations/0.png" 3
XDG_DATA_HOME=$disk expect "annotation autosave (recovery file)" "No space left on device" \
  "$disk" "$save_annotation" "$images/0.jpg" "$work/data/val/masks/0.png" \
  "$disk/annotations/0.png" 4 --recovery
rm -rf "$disk/annotations" "$disk/visage"

fill 4000
"$cli" export-submission -m "$model" --images "$images" --out "$disk/submission.zip" \
  >/dev/null 2>&1 || exit 1
fill 8
# Replacing a zip takes --force where the option exists.
force=()
"$cli" export-submission --help 2>&1 | grep -q -- --force && force=(--force)
expect "export-submission" "No space left on device" "$disk" \
  "$cli" export-submission -m "$model" --images "$images" --out "$disk/submission.zip" \
  "${force[@]}"
rm -f "$disk/submission.zip"

fill 4000
"$cli" predict -m "$model" --overlay --out "$disk/pred" "$images" >/dev/null 2>&1 || exit 1
fill 2
expect "predict (masks)" "No space left on device" "$disk" \
  "$cli" predict -m "$model" --overlay --out "$disk/pred" "$images"
fill 100
expect "predict --overlay (overlays)" "No space left on device" "$disk" \
  "$cli" predict -m "$model" --overlay --out "$disk/pred" "$images"
rm -rf "$disk/pred"

fill 4000
"$cli" convert -m "$model" --f16 --out "$disk/model-f16.safetensors" >/dev/null 2>&1 || exit 1
"$cli" eval -m "$model" --data "$work/data/val" --json "$disk/eval.json" >/dev/null 2>&1 \
  || exit 1
fill 2
expect "convert --f16" "No space left on device" "$disk" \
  "$cli" convert -m "$model" --f16 --out "$disk/model-f16.safetensors"
expect "eval --json" "No space left on device" "$disk" \
  "$cli" eval -m "$model" --data "$work/data/val" --json "$disk/eval.json"
rm -f "$disk/filler"

echo "== over the file size limit (ulimit -f)"
mkdir -p "$work/limit"
"$cli" "${train[@]}" --out "$work/limit/run" >/dev/null 2>&1 || exit 1
"$cli" predict -m "$model" --overlay --out "$work/limit/pred" "$images" >/dev/null 2>&1 \
  || exit 1
expect "checkpoint (ulimit -f 1500)" "File too large" "$work/limit" \
  bash -c 'ulimit -f 1500; exec "$@"' - "$cli" train --resume "$work/limit/run" --epochs 2
expect "predict --overlay (ulimit -f 100)" "File too large" "$work/limit" \
  bash -c 'ulimit -f 100; exec "$@"' - "$cli" predict -m "$model" --overlay \
  --out "$work/limit/pred" "$images"
expect "export-submission (ulimit -f 8)" "File too large" "$work/limit" \
  bash -c 'ulimit -f 8; exec "$@"' - "$cli" export-submission -m "$model" \
  --images "$images" --out "$work/limit/submission.zip"
expect "annotation save (ulimit -f 2)" "File too large" "$work/limit" \
  bash -c 'ulimit -f 2; exec "$@"' - "$save_annotation" "$images/0.jpg" \
  "$work/data/val/masks/0.png" "$work/limit/annotations/0.png" 5

echo "== a read-only folder (before any work)"
expect "train --out RO" "cannot write into $ro: Read-only file system" "$ro" \
  "$cli" "${train[@]}" --out "$ro"
expect "train --out RO/new" "Read-only file system" "$ro" "$cli" "${train[@]}" --out "$ro/new"
expect "predict --out RO" "cannot write into $ro: Read-only file system" "$ro" \
  "$cli" predict -m "$model" --out "$ro" "$images"
expect "export-submission --out RO/x.zip" "Read-only file system" "$ro" \
  "$cli" export-submission -m "$model" --images "$images" --out "$ro/x.zip"
expect "convert --out RO/x.safetensors" "Read-only file system" "$ro" \
  "$cli" convert -m "$model" --f16 --out "$ro/x.safetensors"
expect "eval --json RO/x.json" "cannot write $ro/x.json: Read-only file system" "$ro" \
  "$cli" eval -m "$model" --data "$work/data/val" --json "$ro/x.json"
expect "annotation save into RO" "Read-only file system" "$ro" \
  "$save_annotation" "$images/0.jpg" "$work/data/val/masks/0.png" "$ro/annotations/0.png"

echo "== an output path that is a file, or a folder where a file goes (before any work)"
f=$work/a-file
expect "train --out FILE" "Not a directory" "$work/model" "$cli" "${train[@]}" --out "$f"
expect "predict --out FILE" "Not a directory" "$work/model" \
  "$cli" predict -m "$model" --out "$f" "$images"
expect "export-submission --out FILE/x.zip" "Not a directory" "$work/model" \
  "$cli" export-submission -m "$model" --images "$images" --out "$f/x.zip"
expect "export-submission --out DIR" "cannot write $work/model: Is a directory" \
  "$work/model" "$cli" export-submission -m "$model" --images "$images" --out "$work/model"
expect "convert --out DIR" "Is a directory" "$work/model" \
  "$cli" convert -m "$model" --f16 --out "$work/model"
expect "eval --json DIR" "cannot write $work/model: Is a directory" "$work/model" \
  "$cli" eval -m "$model" --data "$work/data/val" --json "$work/model"
expect "eval --csv FILE/x.csv" "Not a directory" "$work/model" \
  "$cli" eval -m "$model" --data "$work/data/val" --csv "$f/x.csv"

echo "$passed/$total fault cases handled"
[ "$passed" -eq "$total" ]
