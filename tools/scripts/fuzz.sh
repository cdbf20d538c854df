#!/bin/bash
# hkref — run every libFuzzer harness (build/fuzz/fuzz_<target>) for a bounded time.
#   tools/scripts/fuzz.sh FUZZ_BUILD_DIR SECONDS TARGET...
# Each target starts from its committed seeds (tests/fuzz/corpus/<target>/) plus
# the inputs it found in earlier runs (FUZZ_BUILD_DIR/corpus/<target>/, where new
# ones go, so the committed corpus is never modified), with the dictionary
# tests/fuzz/<target>.dict if present.  The targets run FUZZ_JOBS at a time
# (default 2: one core each).  A crash or oracle violation leaves FUZZ_BUILD_DIR/artifacts/<target>-crash-*;
# fix the bug, then commit the input to tests/fuzz/regress/<target>/ (the gate
# replays it, tests/test_fuzzregress.c).  Prints executions and coverage
# (libFuzzer's cov: edges, ft: features) per target.
set -u
FB=$1 SECS=$2
shift 2
JOBS=${FUZZ_JOBS:-2}
mkdir -p "$FB/artifacts" "$FB/logs"
running=0
for t in "$@"; do
    if [ "$running" -ge "$JOBS" ]; then wait -n 2>/dev/null || wait; running=$((running - 1)); fi
    mkdir -p "$FB/corpus/$t"
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    "$FB/fuzz_$t" -max_total_time="$SECS" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$FB/artifacts/$t-" $dict "$FB/corpus/$t" "tests/fuzz/corpus/$t" \
        >"$FB/logs/$t.log" 2>&1 &
    running=$((running + 1))
done
wait
fail=0
for t in "$@"; do
    log="$FB/logs/$t.log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
    if grep -qE 'ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer)|runtime error|oracle violated|SUMMARY: ' "$log"; then
        echo "fuzz $t: CRASH after ${execs:-?} executions (log $log):"
        grep -E 'ERROR|runtime error|oracle violated|SUMMARY|Test unit written' "$log" | head -8 | sed 's/^/    /'
        fail=1
    else
        echo "fuzz $t: ${SECS} s, ${execs:-?} executions, cov ${cov:-?} edges, ft ${ft:-?} features, corpus ${corp:-?}, no crash"
    fi
done
exit $fail
