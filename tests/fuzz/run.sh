#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# libFuzzer runs of the parsers of untrusted input (tests/fuzz/README.md).
#
#   tests/fuzz/run.sh --list            the targets, one per line
#   tests/fuzz/run.sh TARGET SECONDS    build (once), seed (once), fuzz TARGET for SECONDS
#
# The build folder (FUZZ_BUILDDIR, default build-fuzz beside the sources) is configured
# once with clang, -Dfuzzing=true, ASan + UBSan and -fsanitize=fuzzer-no-link everywhere.
# Seeds are made there at run time from ../shared/celebamask (FUZZ_SHARED) and by
# visage-cli; nothing made here is committed. New inputs go to FUZZ_BUILDDIR/fuzz/corpus,
# crashing ones to FUZZ_BUILDDIR/fuzz/artifacts/TARGET/.
#
# Exit status: 0 when the run found nothing; libFuzzer's non-zero status on a crash, a
# sanitizer report, a leak, a timeout (FUZZ_TIMEOUT seconds per input, default 10) or
# running out of memory (FUZZ_RSS_MB, default 2048, also the largest single allocation);
# 2 on a usage or set-up error. FUZZ_ARGS adds libFuzzer options (e.g. -runs=N).
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
targets=(config image mask model recovery resume safetensors split_cache train_options)
tiny_spec="widths=4,4,8,8 depths=1,1,1,1 heads=1,1,2,2 ratios=2,1,1,1 mlp=1 dim=4 head=bilinear"

usage () {
  echo "usage: $0 --list | TARGET SECONDS" >&2
  exit 2
}

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${targets[@]}"
  exit 0
fi
[ $# -eq 2 ] || usage
target=$1
seconds=$2
case " ${targets[*]} " in *" $target "*) ;; *) echo "$0: unknown target $target" >&2; usage ;; esac
case "$seconds" in ''|*[!0-9]*) usage ;; esac

build=${FUZZ_BUILDDIR:-$root/build-fuzz}
shared=${FUZZ_SHARED:-$root/../shared/celebamask}
work=$build/fuzz
seeds=$work/seeds

fail () {
  echo "$0: $*" >&2
  exit 2
}

# ---- build (configured once; ninja rebuilds what changed) ----
if [ ! -f "$build/build.ninja" ]; then
  command -v clang >/dev/null || fail "clang is needed (apt-get install clang libclang-rt-14-dev)"
  CC=clang meson setup "$build" "$root" -Dfuzzing=true -Dcuda=disabled \
    -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link \
    >"$build.setup.log" 2>&1 || { cat "$build.setup.log" >&2; fail "meson setup failed"; }
  rm -f "$build.setup.log"
fi
# (regenerate first: a target added to a meson.build is unknown to meson compile until then)
ninja -C "$build" build.ninja >/dev/null || fail "meson could not regenerate $build"
meson compile -C "$build" "fuzz_$target" fuzz-seeds visage-cli >/dev/null \
  || { meson compile -C "$build" "fuzz_$target" fuzz-seeds visage-cli; fail "build failed"; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export OMP_NUM_THREADS=1
export FUZZ_SPLIT=$work/split

# ---- seeds (made once, in a temporary folder renamed when complete) ----
if [ ! -d "$seeds" ]; then
  image=$shared/val/images/0.jpg
  mask=$shared/val/masks/0.png
  [ -f "$image" ] && [ -f "$mask" ] || fail "no $image and $mask (set FUZZ_SHARED)"
  tmp=$work/seeds.tmp
  rm -rf "$tmp" "$work/split" "$work/seed-run"
  mkdir -p "$tmp"
  "$build/tests/fuzz/fuzz-seeds" "$tmp" "$work/split" "$image" "$mask" || fail "fuzz-seeds failed"
  # A training run of a tiny model: its checkpoint and best model, and an F16 copy.
  cli=$build/app/visage-cli
  run=$work/seed-run
  XDG_DATA_HOME=$work/xdg-data XDG_CACHE_HOME=$work/xdg-cache \
    "$cli" train --train "$work/split" --val "$work/split" --out "$run" --spec "$tiny_spec" \
    --resolution 32 --batch 1 --epochs 1 --workers 1 --threads 1 --no-augment \
    >"$work/seed-run.log" 2>&1 || { cat "$work/seed-run.log" >&2; fail "visage-cli train failed"; }
  "$cli" convert --f16 --model "$run/best.safetensors" --out "$run/best-f16.safetensors" \
    >>"$work/seed-run.log" 2>&1 || { cat "$work/seed-run.log" >&2; fail "convert failed"; }
  mkdir -p "$tmp/model" "$tmp/train_options" "$tmp/resume"
  cp "$run/best.safetensors" "$run/best-f16.safetensors" "$tmp/model/"
  cp "$run/best.safetensors" "$run/last.safetensors" "$tmp/safetensors/"
  cp "$run/last.safetensors" "$tmp/train_options/"
  cp "$run/last.safetensors" "$tmp/resume/"
  mv "$tmp" "$seeds"
fi

# ---- fuzz ----
corpus=$work/corpus/$target
artifacts=$work/artifacts/$target
mkdir -p "$corpus" "$artifacts"
args=(-max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}"
      -print_final_stats=1 -artifact_prefix="$artifacts/")
case $target in
  config) args+=(-dict="$root/tests/fuzz/config.dict" -max_len=512) ;;
  image|mask|recovery) args+=(-max_len=8192) ;;
  safetensors) args+=(-dict="$root/tests/fuzz/safetensors.dict" -max_len=16384) ;;
  model|resume|train_options) args+=(-dict="$root/tests/fuzz/safetensors.dict") ;;
  split_cache) args+=(-dict="$root/tests/fuzz/split_cache.dict") ;;
esac
# shellcheck disable=SC2206
extra=(${FUZZ_ARGS:-})
rc=0
"$build/tests/fuzz/fuzz_$target" "${args[@]}" "${extra[@]}" "$corpus" "$seeds/$target" \
  2>&1 | tee "$work/$target.log" || rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target.log" | tail -1)
echo "fuzz $target: ${runs:-?} executions in $seconds s, exit status $rc" \
     "(log $work/$target.log, crashes in $artifacts/)"
exit "$rc"
