#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# screenshots.sh [BUILD]: takes the README's pictures of the workbench on the synthetic test
# cards (tests/ui/test-card.h: stylised faces drawn by the program, with their exact ground
# truth; the data set's faces may not be committed) with the bundled model: the ui test
# `cards` (tests/ui/test-cards.c) opens a split of 8 cards in a 1280x800 window, evaluates
# it, and leaves
#
#   data/screenshots/cards-browse.png      the browse view, the prediction over card-1
#   data/screenshots/cards-evaluation.png  the evaluation page, the necklace's largest
#                                          confusion chosen in the matrix
#   data/screenshots/cards-confusion.png   Browse narrowed to that cell, its pixels in magenta
#
# The same test runs in the ui suite with a tiny model, so these steps cannot rot unseen.
# BUILD is the build folder (default: build). Without a display it runs under xvfb-run.
# Look at the pictures before committing them: each should stay under 300 KB.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
[ "${build#/}" != "$build" ] || build=$PWD/$build
model=$root/data/models/visage-s.safetensors
dest=$root/data/screenshots

if [ ! -f "$model" ]; then
  echo "screenshots.sh: $model is missing (the bundled model)" >&2
  exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
  echo "screenshots.sh: $build is not a meson build folder (meson setup $build)" >&2
  exit 1
fi
ninja -C "$build" >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run=()
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  run=(xvfb-run -a -s "-screen 0 1600x1000x24")
fi
VISAGE_TEST_SCREENSHOTS=$out VISAGE_TEST_CARD_MODEL=$model \
  "${run[@]}" meson test -C "$build" --no-rebuild --print-errorlogs cards

mkdir -p "$dest"
for name in browse evaluation confusion; do
  cp "$out/cards-$name.png" "$dest/cards-$name.png"
  echo "$dest/cards-$name.png: $(stat -c %s "$dest/cards-$name.png") bytes"
done
