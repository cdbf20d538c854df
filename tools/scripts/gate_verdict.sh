#!/bin/sh
# hkref — the one verdict line of `make test`: every gate step that passed left
# GATE_DIR/<step>.ok holding its count (a missing or empty one is a failed step).
# usage: tools/scripts/gate_verdict.sh GATE_DIR STEP...
set -u
dir=$1
shift
parts="" failed=""
for s in "$@"; do
  if [ -s "$dir/$s.ok" ]; then
    parts="$parts${parts:+, }$s $(head -1 "$dir/$s.ok")"
  else
    failed="$failed${failed:+, }$s"
  fi
done
if [ -z "$failed" ]; then
  echo "gate: PASS — $parts"
  exit 0
fi
echo "gate: FAIL — failed: $failed${parts:+; passed: $parts}"
exit 1
