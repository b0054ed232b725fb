#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Run the cuda suite's tests on the host emulation of CUDA and cuBLAS (this directory), for
# a machine without a GPU: engine/cuda/*.cu are rewritten to C++ (emulate.py), compiled with
# g++ against cuda_runtime.h / cublas_v2.h here, and linked with the test objects and the
# engine library of a CUDA-enabled build, in place of the nvcc objects. What this proves and
# what it cannot: see cuda_runtime.h. Slow (every GPU thread runs on one core); the device
# check (tests/cuda/device-check.sh) is the test that counts.
#
# usage: tests/cuda/emu/run.sh [BUILDDIR] [TEST...]
#   BUILDDIR  a build configured with CUDA (nvcc present) and without MPI, so without NCCL
#             (meson setup BUILDDIR -Dmpi=disabled: the emulation has no NCCL), and compiled
#             (default build-cuda)
#   TEST      test-cuda-ops, test-cuda-model, ... (default: ops, model, sgemm)
# Extra compiler flags (e.g. -fsanitize=address) come from EMU_CFLAGS, arguments for the
# programs from EMU_ARGS (e.g. EMU_ARGS="-p /cuda/model/step-seed").
# shellcheck disable=SC2086 # the flag and object lists are split on purpose
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
build=$(cd "${1:-$src/build-cuda}" && pwd)
[ $# -gt 0 ] && shift
tests=${*:-test-cuda-ops test-cuda-model test-cuda-sgemm}
out="$build/cuda-emu"
if grep -q '^#define VG_HAVE_MPI 1' "$build/config.h"; then
  echo "$build is configured with MPI (and NCCL with it), which the emulation lacks:" \
    "configure it with -Dmpi=disabled" >&2
  exit 1
fi
flags="-std=c++17 -O2 -g -Wall -Wno-unused-function ${EMU_CFLAGS:-}"
mkdir -p "$out"

python3 "$here/emulate.py" "$src/engine/cuda/common.cuh" "$out/common.cuh" \
  "$src/engine/cuda/common.cuh"
objs="$out/emu.o"
g++ $flags -I"$here" -c "$here/emu.cpp" -o "$out/emu.o"
for cu in "$src"/engine/cuda/*.cu; do
  name=$(basename "$cu" .cu)
  [ "$name" = nccl ] && continue # NCCL's, built only with MPI
  python3 "$here/emulate.py" "$cu" "$out/$name.cpp" "$src/engine/cuda/common.cuh"
  g++ $flags -I"$here" -I"$src/engine/cuda" -I"$src/engine/nn" -c "$out/$name.cpp" \
    -o "$out/$name.o"
  objs="$objs $out/$name.o"
done

blas_dir=/usr/lib/$(gcc -print-multiarch)/openblas-openmp
libs="$(pkg-config --libs gio-2.0 libpng libjpeg) -L$blas_dir -Wl,-rpath,$blas_dir -lopenblas"
status=0
for t in $tests; do
  ninja -C "$build" "tests/$t" >/dev/null
  g++ ${EMU_CFLAGS:-} -o "$out/$t" "$build"/tests/"$t".p/*.o $objs \
    "$build/engine/libvisage-engine.a" $libs -fopenmp -lm
  echo "== $t (emulated CUDA)"
  rc=0
  (cd "$build" && "$out/$t" ${EMU_ARGS:-}) || rc=$?
  echo "== $t: exit $rc"
  [ $rc -eq 0 ] || status=$rc
done
exit $status
