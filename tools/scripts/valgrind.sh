#!/bin/sh
# hkref — valgrind memcheck over the CLI's subcommands and the test runner.
#   tools/scripts/valgrind.sh BUILD_DIR
# Every run must finish with no memcheck error and no definite or indirect
# leak (--errors-for-leak-kinds=definite,indirect --error-exitcode=99); the
# exit status of the command itself is checked too (expected status per row).
# Subcommands that are not (yet) built in are skipped, and said so.
set -u
B=${1:-build}
HK="$B/hkref"
VG="valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
--errors-for-leak-kinds=definite,indirect --track-origins=yes"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hkref-vg.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0 n=0 skip=0
have() { "$HK" --help 2>/dev/null | grep -q "^  $1 "; }

# run EXPECTED_STATUS SUBCOMMAND_OR_- ARGS...   (the subcommand is the first arg to hkref)
run() {
    want=$1; shift
    n=$((n + 1))
    log="$tmp/vg.$n.log"
    $VG --log-file="$log" "$@" >"$tmp/out.$n" 2>"$tmp/err.$n"
    st=$?
    if [ "$st" = 99 ] || [ -s "$log" ]; then
        echo "valgrind: FAIL (memcheck errors or leaks): $*"; sed 's/^/    /' "$log" | head -40; fail=$((fail + 1))
    elif [ "$st" != "$want" ]; then
        echo "valgrind: FAIL (exit status $st, expected $want): $*"
        # Check prints its failures on stdout: show both streams' tails
        { grep -E ':[FE]:' "$tmp/out.$n"; tail -5 "$tmp/out.$n"; tail -5 "$tmp/err.$n"; } | head -30 | sed 's/^/    /'
        fail=$((fail + 1))
    else
        echo "valgrind: ok   (exit $st) $*"
    fi
}
cmd() { # cmd EXPECTED SUBCOMMAND ARGS... (hkref SUBCOMMAND ARGS): skipped if not built in
    want=$1 sub=$2
    shift
    if have "$sub"; then run "$want" "$HK" "$@"; else
        echo "valgrind: skip (no subcommand '$sub' yet): hkref $*"; skip=$((skip + 1)); fi
}

run 0 "$HK" --help
run 2 "$HK"
run 2 "$HK" no-such-command
cmd 0 verify
cmd 2 verify --bogus
cmd 0 gradcheck
cmd 0 gradcheck --op softmax -v
cmd 2 gradcheck --op
# tensor files: a valid file (a committed fuzz seed), a missing one, a malformed one
cmd 0 inspect tests/fuzz/corpus/safetensors/valid_golden_like.safetensors
cmd 2 inspect "$tmp/does-not-exist.safetensors"
printf 'not a safetensors file' >"$tmp/bad.safetensors"
cmd 2 inspect "$tmp/bad.safetensors"
# golden set: generate into a fresh directory, check the reference's own outputs against it
if have golden; then
    run 0 "$HK" golden list
    run 0 "$HK" golden generate "$tmp/gold"
    # the reference's out.* / grad.* as a backend writes them (a copy of a golden file is refused)
    /usr/bin/python3 tools/scripts/golden_outputs.py "$tmp/gold" "$tmp/outs" >/dev/null || exit 2
    run 0 "$HK" golden check --outputs "$tmp/outs" --golden "$tmp/gold" --json "$tmp/check.json"
    run 0 "$HK" golden check --outputs "$tmp/outs" --golden "$tmp/gold" --dtype f32 --case softmax
    run 0 "$HK" golden generate "$tmp/gold1" --case gelu
    # a backend output that is garbage, one that is missing: failures (exit 1), not crashes
    c=$(ls "$tmp"/outs/*.safetensors | head -1)
    printf 'garbage' >"$c"
    rm -f "$(ls "$tmp"/outs/*.safetensors | tail -1)"
    run 1 "$HK" golden check --outputs "$tmp/outs" --golden "$tmp/gold"
    run 2 "$HK" golden check --outputs "$tmp/outs" --golden "$tmp/nonexistent-dir"
    g=$(ls "$tmp"/gold/*/*.safetensors | head -1)
    cmd 0 inspect "$g"
else
    echo "valgrind: skip (no subcommand 'golden' yet)"; skip=$((skip + 1))
fi
cmd 0 presets
cmd 0 presets hiddenkey
cmd 2 presets no-such-preset
if have dylora; then
    run 0 "$HK" dylora demo --steps 3 --out "$tmp/adapter.safetensors"
    run 0 "$HK" dylora spectrum "$tmp/adapter.safetensors"
    run 0 "$HK" dylora spectrum "$tmp/adapter.safetensors" --alpha 3
    run 2 "$HK" dylora spectrum "$tmp/bad.safetensors"
else
    echo "valgrind: skip (no subcommand 'dylora' yet)"; skip=$((skip + 1))
fi
cmd 0 demo attention
cmd 0 demo attention --pattern span --offset 1000
cmd 2 demo
# the whole Check suite in one process (no fork: valgrind follows one process)
if [ "${VALGRIND_TESTS:-1}" = 1 ]; then
    # Check's per-test timeouts (tcase_set_timeout) are set for native speed; valgrind runs
    # ~50x slower, so they are multiplied (a timeout is not a memcheck finding).
    CK_FORK=no CK_DEFAULT_TIMEOUT=600 CK_TIMEOUT_MULTIPLIER=50 CK_VERBOSITY=silent run 0 "$B/run_tests"
fi
echo "valgrind: $n runs, $fail failed, $skip skipped"
[ "$fail" = 0 ]
