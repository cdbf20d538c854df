#!/bin/bash
# hkref — the registries cannot lose an entry silently (CONTRIBUTING.md, "Registries").
# usage: tests/registry/registry_demo.sh "CC CFLAGS..." GEN_DIR
# 1. every tests/test_*.c, tools/checks/chk_*.c, tools/cli/cmd_*.c and
#    tools/golden/cases_*.c file is in its generated list (the lists come from
#    file names, so this also fails if the generator ever filters one out);
# 2. a misspelt suite function (suite_sofmax in tests/test_softmax.c) fails
#    the build under the gate's flags (-Werror=missing-prototypes);
# 3. the same definition reformatted (`Suite* suite_softmax (void)`) still
#    compiles: spelling of whitespace no longer matters.
set -u
export LC_ALL=C
cc=$1 gen=$2
fail=0
count() { grep -c "^$1(" "$gen/$2"; }
for spec in "HK_SUITE suites.inc tests/test_" "HK_CHECKS checks.inc tools/checks/chk_" \
            "HK_CMD cmds.inc tools/cli/cmd_" "HK_GOLDEN golden.inc tools/golden/cases_"; do
  set -- $spec
  files=$(ls "$3"*.c | wc -l)
  listed=$(count "$1" "$2")
  if [ "$files" -ne "$listed" ] || [ "$files" -eq 0 ]; then
    echo "registry-demo: FAILED: $files $3*.c files but $listed entries in $gen/$2"; fail=1
  else
    echo "registry-demo: $2: $listed of $files $3*.c files registered"
  fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/^Suite \*suite_softmax(void)/Suite *suite_sofmax(void)/' tests/test_softmax.c > "$tmp/misspelt.c"
sed 's/^Suite \*suite_softmax(void)/Suite* suite_softmax (void)/' tests/test_softmax.c > "$tmp/reformatted.c"
if cmp -s tests/test_softmax.c "$tmp/misspelt.c" || cmp -s tests/test_softmax.c "$tmp/reformatted.c"; then
  echo "registry-demo: FAILED: tests/test_softmax.c no longer defines 'Suite *suite_softmax(void)' (update this script)"; exit 1
fi
# shellcheck disable=SC2086
if $cc -Itests -c "$tmp/misspelt.c" -o "$tmp/m.o" 2> "$tmp/m.err"; then
  echo "registry-demo: FAILED: a misspelt suite function (suite_sofmax) compiled"; fail=1
elif ! grep -q "missing-prototypes" "$tmp/m.err"; then
  echo "registry-demo: FAILED: the misspelt suite failed for another reason:"; head -5 "$tmp/m.err"; fail=1
else
  echo "registry-demo: a misspelt suite function fails the build ($(grep -m1 -o "no previous prototype for '[a-z_]*'" "$tmp/m.err"))"
fi
# shellcheck disable=SC2086
if ! $cc -Itests -c "$tmp/reformatted.c" -o "$tmp/r.o" 2> "$tmp/r.err"; then
  echo "registry-demo: FAILED: a reformatted suite definition no longer compiles:"; head -5 "$tmp/r.err"; fail=1
elif ! nm "$tmp/r.o" | grep -q " T suite_softmax$"; then
  echo "registry-demo: FAILED: the reformatted file does not define suite_softmax"; fail=1
else
  echo "registry-demo: a reformatted definition ('Suite* suite_softmax (void)') still registers"
fi
exit $fail
