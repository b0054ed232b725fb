#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Data-parallel training on one machine: 1 process of T threads against R ranks of T / R
# threads each under mpirun (loopback), on the same global batch of real images. Prints the
# training images/s of each (the last epoch, after a warm-up epoch) and the share of rank 0's
# training time spent in the ranks' sums (MPI_Allreduce of the gradient and of BatchNorm's
# statistics, waiting for the slower rank included). Run it on a quiet machine: on a busy
# one the figures mean nothing (tests/bench/README.md).
#
#   sh tests/bench/dist-bench.sh [-c visage-cli] [-d TRAIN_SPLIT] [-v VAL_SPLIT] [-n IMAGES]
#                                [-s SIZE] [-b BATCH] [-m CONFIG] [-r RANKS] [-t THREADS]
#                                [-e EPOCHS]
#
# Defaults: build/app/visage-cli, ../shared/celebamask/{train,val}, 64 images, 256 px,
# batch 8, visage-s, 2 ranks, 2 threads, 2 epochs.
set -eu

cli=build/app/visage-cli
train=../shared/celebamask/train
val=../shared/celebamask/val
images=64 size=256 batch=8 config=visage-s ranks=2 threads=2 epochs=2
while getopts c:d:v:n:s:b:m:r:t:e: opt; do
  case $opt in
    c) cli=$OPTARG ;; d) train=$OPTARG ;; v) val=$OPTARG ;; n) images=$OPTARG ;;
    s) size=$OPTARG ;; b) batch=$OPTARG ;; m) config=$OPTARG ;; r) ranks=$OPTARG ;;
    t) threads=$OPTARG ;; e) epochs=$OPTARG ;;
    *) sed -n '10,16p' "$0" >&2; exit 2 ;;
  esac
done
[ -x "$cli" ] || { echo "dist-bench: no visage-cli at $cli (-c)" >&2; exit 2; }
command -v mpirun > /dev/null || { echo "dist-bench: mpirun missing (openmpi-bin)" >&2; exit 2; }
[ $((threads % ranks)) -eq 0 ] || { echo "dist-bench: threads must divide among ranks" >&2; exit 2; }
[ $((batch % ranks)) -eq 0 ] || { echo "dist-bench: batch must divide among ranks" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/visage-dist-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
# a split of the first $images training images (links), 2 validation images
link_split () { # SRC DST N
  mkdir -p "$2/images" "$2/masks"
  ls "$1/images" | sort -n | head -n "$3" | while read -r f; do
    ln -s "$(cd "$1" && pwd)/images/$f" "$2/images/$f"
    ln -s "$(cd "$1" && pwd)/masks/${f%.*}.png" "$2/masks/${f%.*}.png"
  done
}
link_split "$train" "$work/train" "$images"
link_split "$val" "$work/val" 2

export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# run NAME RANKS THREADS: the last epoch line of a run
run () {
  set -- "$1" "$2" "$3"
  args="train --train $work/train --val $work/val --out $work/$1 --config $config
        --resolution $size --batch $batch --epochs $epochs --threads $3 --workers 1
        --checkpoint-minutes 0 --optimizer sgd --patience 0"
  if [ "$2" -gt 1 ]; then
    # shellcheck disable=SC2086
    mpirun --oversubscribe -np "$2" --bind-to none "$cli" $args --distributed 2> "$work/$1.err"
  else
    # shellcheck disable=SC2086
    "$cli" $args 2> "$work/$1.err"
  fi > "$work/$1.out" || { cat "$work/$1.err" >&2; exit 1; }
  grep "^epoch $epochs/$epochs " "$work/$1.out"
}

field () { # LINE WORD: the value before WORD ("12.3 img/s") or after it ("allreduce 7%")
  echo "$1" | awk -v w="$2" '{ for (i = 1; i <= NF; i++) if ($i == w) { if (w == "img/s") print $(i - 1); else print $(i + 1) } }'
}

one=$(run single 1 "$threads")
many=$(run ranks "$ranks" $((threads / ranks)))
echo "data parallelism: $config, $size px, global batch $batch, $images images,"
echo "epoch $epochs of $epochs (the first is a warm-up); $(nproc) cores"
printf '%-28s %10s %12s\n' "run" "img/s" "allreduce"
printf '%-28s %10s %12s\n' "1 process x $threads threads" "$(field "$one" img/s)" "-"
printf '%-28s %10s %12s\n' "$ranks ranks x $((threads / ranks)) thread(s)" \
  "$(field "$many" img/s)" "$(field "$many" allreduce)"
