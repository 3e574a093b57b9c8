#!/bin/sh
# Checks that a catalogue translates every message the sources hold today:
# extracts a fresh template from po/POTFILES.in, then asks msgcmp for each
# of its messages in the catalogue (untranslated and fuzzy ones count as
# missing). t() marks the phone page's strings.
#
#   build-aux/check-po.sh SOURCE_DIR LANG
set -eu
src=$1
lang=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

xgettext --package-name=comfy-datalabel -o "$tmp/messages.pot" \
  -f "$src/po/POTFILES.in" --directory="$src" --from-code=UTF-8 \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dngettext:2,3 --keyword=t
msgcmp "$src/po/$lang.po" "$tmp/messages.pot"
echo "$lang translates every message of the sources"
