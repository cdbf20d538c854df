#!/bin/sh
# hkref — reproducible bytes across compilers and optimisation levels.
#   tools/scripts/repro_bytes.sh WORK_DIR
# Builds the CLI four times — gcc and clang, each at -O0 and -O2 (separate
# build directories under WORK_DIR, the project's usual flags otherwise:
# -std=c11 -ffp-contract=off, no -ffast-math) — runs `hkref golden generate`
# with each into its own directory, and byte-compares every file of the four
# sets (sha256 of each file, then cmp).  Exit 0 only if all four are identical.
# Before the golden generator exists it compares `hkref verify -v` output with
# the timing line removed (a weaker proof of the machinery, said so).
# Set REPRO_CONFIGS to a subset, e.g. "gcc:-O2 clang:-O2".
set -u
W=${1:-build/repro}
CONFIGS=${REPRO_CONFIGS:-"gcc:-O0 gcc:-O2 clang:-O0 clang:-O2"}
JOBS=${JOBS:-2}
mkdir -p "$W"
first="" fail=0 mode=""
for c in $CONFIGS; do
    cc=${c%%:*} opt=${c#*:}
    b="$W/$cc$opt"
    if ! make --no-print-directory -j"$JOBS" BUILD="$b" CC="$cc" CFLAGS_OPT="$opt" "$b/hkref" >"$W/build-$cc$opt.log" 2>&1; then
        echo "repro-bytes: build with $cc $opt failed (log $W/build-$cc$opt.log)"; tail -5 "$W/build-$cc$opt.log"; exit 2
    fi
    out="$W/out-$cc$opt"
    rm -rf "$out"
    if "$b/hkref" --help | grep -q '^  golden '; then
        mode="golden set"
        "$b/hkref" golden generate "$out" >"$W/gen-$cc$opt.log" 2>&1 || {
            echo "repro-bytes: 'hkref golden generate' failed with $cc $opt"; tail -5 "$W/gen-$cc$opt.log"; exit 2; }
    else
        mode="hkref verify -v output (no golden generator yet)"
        mkdir -p "$out"
        "$b/hkref" verify -v 2>&1 | grep -v 's CPU)$' >"$out/verify.txt"
    fi
    (cd "$out" && find . -type f | LC_ALL=C sort | xargs sha256sum) >"$W/sums-$cc$opt.txt"
    nfiles=$(wc -l <"$W/sums-$cc$opt.txt")
    if [ -z "$first" ]; then
        first="$cc$opt"
        echo "repro-bytes: $cc $opt: $nfiles files ($mode)"
    elif cmp -s "$W/sums-$first.txt" "$W/sums-$cc$opt.txt"; then
        echo "repro-bytes: $cc $opt: $nfiles files, byte-identical to $first"
    else
        echo "repro-bytes: $cc $opt: DIFFERS from $first:"
        diff "$W/sums-$first.txt" "$W/sums-$cc$opt.txt" | grep '^[<>]' | head -20 | sed 's/^/    /'
        fail=1
    fi
done
if [ "$fail" = 0 ]; then echo "repro-bytes: all of [$CONFIGS] produce identical bytes ($mode)"; fi
exit $fail
