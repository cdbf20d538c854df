#!/bin/sh
# hkref — make lint: cppcheck and clang-tidy over ref/ and tools/; any finding fails.
# usage: tools/scripts/lint.sh BUILD_DIR "CFLAGS (defines and -I)" FILE...
# Logs go to $LINT_LOG (default BUILD_DIR/lint); `make lint` runs it once per
# file (a stamp per file, so only what changed is linted again).
# What is enabled and what is suppressed, each with its reason, is in
# tools/scripts/cppcheck.supp and .clang-tidy (CONTRIBUTING.md, "Lint").
set -u
build=$1 flags=$2
shift 2
here=$(dirname "$0")
for t in cppcheck clang-tidy; do
  command -v "$t" >/dev/null 2>&1 || { echo "lint: $t is not installed (tools/scripts/deps.sh lint)" >&2; exit 2; }
done
log=${LINT_LOG:-$build/lint}
mkdir -p "$log"
fail=0
# -D/-I only: cppcheck reads the preprocessor flags, not the code-generation ones.
cpp_flags=$(for f in $flags; do case $f in -D*|-I*) printf '%s ' "$f" ;; esac; done)
# shellcheck disable=SC2086
cppcheck -q -j2 --std=c11 --enable=warning,style,performance,portability --inline-suppr \
  --suppressions-list="$here/cppcheck.supp" --error-exitcode=1 --platform=unix64 \
  -D__GNUC__ -U__cplusplus $cpp_flags "$@" > "$log/cppcheck.log" 2>&1 || fail=1
n_cpp=$(grep -cE '^[^ ]+:[0-9]+:[0-9]+: (error|warning|style|performance|portability)' "$log/cppcheck.log")
# shellcheck disable=SC2086
clang-tidy -quiet "$@" -- $flags > "$log/clang-tidy.log" 2>&1 || fail=1
n_tidy=$(grep -cE ': (warning|error): ' "$log/clang-tidy.log")
[ "$n_cpp" -eq 0 ] && [ "$n_tidy" -eq 0 ] || fail=1
if [ "$fail" -ne 0 ]; then
  grep -E '^[^ ]+:[0-9]+:[0-9]+: ' "$log/cppcheck.log" | head -20
  grep -E ': (warning|error): ' "$log/clang-tidy.log" | head -20
  echo "lint: FAILED: cppcheck $n_cpp, clang-tidy $n_tidy findings (full logs in $log/)"
  exit 1
fi
echo "lint: clean — cppcheck and clang-tidy over $# files"
