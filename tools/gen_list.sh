#!/bin/sh
# hkref — writes a registry list (one MACRO(name) per line) found by a regex
# in source files; rewrites OUT only if it changed, so builds stay incremental.
# usage: tools/gen_list.sh OUT MACRO SED_REGEX FILE...
set -eu
out=$1 macro=$2 re=$3
shift 3
tmp="$out.tmp.$$"
if [ $# -gt 0 ]; then
  sed -n "s/$re/$macro(\\1)/p" "$@" | LC_ALL=C sort -u > "$tmp"
else
  : > "$tmp"
fi
if [ -f "$out" ] && cmp -s "$tmp" "$out"; then rm -f "$tmp"; else mv "$tmp" "$out"; fi
