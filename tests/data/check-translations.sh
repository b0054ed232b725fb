#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Every language in po/LINGUAS must translate every current string: extract a fresh
# template from po/POTFILES.in, merge each .po into it and demand no untranslated or
# fuzzy message. A string added to the UI without its translation fails this test.
set -eu
srcdir=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

xgettext --directory="$srcdir" --files-from="$srcdir/po/POTFILES.in" \
  --from-code=UTF-8 --add-comments \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
  --output="$tmp/visage.pot" 2>"$tmp/xgettext.log" || { cat "$tmp/xgettext.log"; exit 1; }

total=$(grep -c '^msgid ' "$tmp/visage.pot")
[ "$total" -gt 10 ] || { echo "only $total strings extracted: POTFILES.in is broken"; exit 1; }

status=0
for lang in $(sed 's/#.*//' "$srcdir/po/LINGUAS"); do
  po="$srcdir/po/$lang.po"
  [ -f "$po" ] || { echo "$lang: $po is missing"; status=1; continue; }
  msgfmt --check --output-file=/dev/null "$po" || { echo "$lang: msgfmt --check failed"; status=1; }
  msgmerge --quiet --no-fuzzy-matching --output-file="$tmp/$lang.po" "$po" "$tmp/visage.pot"
  stats=$(LC_ALL=C msgfmt --statistics --output-file=/dev/null "$tmp/$lang.po" 2>&1)
  echo "$lang: $stats (template: $((total - 1)) strings)"
  case "$stats" in
    *untranslated*|*fuzzy*) echo "$lang: incomplete translation"; status=1 ;;
  esac
done

# POTFILES.in stays sorted and lists only files that exist.
sed 's/#.*//;/^$/d' "$srcdir/po/POTFILES.in" > "$tmp/potfiles"
LC_ALL=C sort -c "$tmp/potfiles" || { echo "po/POTFILES.in is not sorted"; status=1; }
while read -r f; do
  [ -f "$srcdir/$f" ] || { echo "po/POTFILES.in lists missing $f"; status=1; }
done < "$tmp/potfiles"

# Every source file that marks strings for translation is listed.
for f in $(cd "$srcdir" && grep -rlE '(\b_|\bN_|\bC_)\(|translatable="yes"' app ui 2>/dev/null); do
  grep -qx "$f" "$tmp/potfiles" || { echo "$f has translatable strings but is not in po/POTFILES.in"; status=1; }
done
exit $status
