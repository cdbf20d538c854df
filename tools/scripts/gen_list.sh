#!/bin/sh
# hkref — writes a registry list, one MACRO(name) per line, from FILE NAMES:
# tests/test_softmax.c -> MACRO(softmax) when PREFIX is "test_".  The name is
# derived from the file, never matched in its text, so reformatting a
# definition cannot drop an entry: a file whose function is missing or
# misspelt fails the link (the registry calls hk_..._<name>), and the
# prototypes the registry header declares from this list make a misspelt
# definition an error under -Werror=missing-prototypes (CONTRIBUTING.md).
# OUT is rewritten only if it changed, so builds stay incremental.
# usage: tools/scripts/gen_list.sh OUT MACRO PREFIX FILE...
set -eu
out=$1 macro=$2 prefix=$3
shift 3
tmp="$out.tmp.$$"
: > "$tmp"
for f in "$@"; do
  b=${f##*/}
  b=${b%.c}
  name=${b#"$prefix"}
  case $name in
    *[!a-z0-9_]*|'') echo "gen_list.sh: '$f' does not give a C name after '$prefix'" >&2; rm -f "$tmp"; exit 1 ;;
  esac
  echo "$macro($name)" >> "$tmp"
done
LC_ALL=C sort -u "$tmp" -o "$tmp"
if [ -f "$out" ] && cmp -s "$tmp" "$out"; then rm -f "$tmp"; else mv "$tmp" "$out"; fi
