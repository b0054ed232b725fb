# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
# Shell functions that the fault scripts (bash) source.

# link_splits WORK SHARED: WORK/data/train with 48 and WORK/data/val with 4 samples of
# SHARED/celebamask (images/N.jpg, masks/N.png), as links: the data set is read in place.
link_splits () {
  local work=$1 shared=$2 split name i
  for split in train:48 val:4; do
    name=${split%:*}
    mkdir -p "$work/data/$name/images" "$work/data/$name/masks"
    for ((i = 0; i < ${split#*:}; i++)); do
      ln -s "$shared/celebamask/$name/images/$i.jpg" "$work/data/$name/images/$i.jpg"
      ln -s "$shared/celebamask/$name/masks/$i.png" "$work/data/$name/masks/$i.png"
    done
  done
}
