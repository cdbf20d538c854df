#!/bin/sh
# hkref — the gate's package step: the .deb unpacked into a temporary root (dpkg -x, no
# root rights, nothing touched outside WORKDIR) and used only from there:
#   hkref verify --list; hkref verify --group golden against the installed golden set;
#   hkref golden check on one case with the installed --golden; examples/c_check compiled
#   with the installed headers and pkg-config file only (not the source tree) and run.
# usage: tools/scripts/package_check.sh DEB WORKDIR CC
set -eu
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") work=$2 cc=$3
src=$(cd "$(dirname "$0")/../.." && pwd)/examples/c_check/c_check.c
outputs_py=$(cd "$(dirname "$0")" && pwd)/golden_outputs.py
fail() { echo "package-check: FAILED: $*" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"
root=$(cd "$work" && pwd)/root
dpkg -x "$deb" "$root"
hk="$root/usr/bin/hkref"
share="$root/usr/share/hkref/golden"
[ -x "$hk" ] || fail "no usr/bin/hkref in $deb"
cd "$work" # nothing below may find the repository's golden/ or headers by accident

"$hk" --version > version.txt || fail "hkref --version"
"$hk" verify --list > list.txt || fail "hkref verify --list"
nchecks=$(tail -1 list.txt | awk '{ print $1 }')
[ "$nchecks" -gt 0 ] 2>/dev/null || fail "verify --list listed no checks"
HKREF_GOLDEN="$share" "$hk" verify --group golden > verify.txt || { tail -5 verify.txt; fail "hkref verify --group golden"; }

mkdir -p out
# the reference as an honest backend: out.* / grad.* alone (a copy of the golden file is refused)
/usr/bin/python3 "$outputs_py" "$share" out softmax_3x7 > /dev/null || fail "golden_outputs.py"
"$hk" golden check --golden "$share" --outputs out --case softmax_3x7 > check.txt ||
  { tail -5 check.txt; fail "hkref golden check from the installed golden set"; }
grep -q "1 cases, 0 failed" check.txt || fail "golden check did not check exactly one case"

pc="$root/usr/lib/pkgconfig"
[ -f "$pc/hkref.pc" ] || fail "no hkref.pc"
cflags=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$root/usr" --cflags hkref) || fail "pkg-config --cflags hkref"
libs=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$root/usr" --libs hkref) || fail "pkg-config --libs hkref"
cp "$src" c_check.c
# shellcheck disable=SC2086
$cc -std=c11 -O1 -D_POSIX_C_SOURCE=200809L -o c_check c_check.c $cflags $libs 2> cc.log || { cat cc.log; fail "c_check does not build against the installed headers + hkref.pc"; }
# the whole installed set (with its MANIFEST) against the reference's own outputs
/usr/bin/python3 "$outputs_py" "$share" out2 > /dev/null || fail "golden_outputs.py"
./c_check "$share" out2 f64 > c_check.txt || { tail -5 c_check.txt; fail "c_check against the installed golden cases"; }
ncase=$(tail -1 c_check.txt | sed -n 's/.*: \([0-9]*\) cases, 0 failed/\1/p')
[ -n "$ncase" ] || fail "c_check: $(tail -1 c_check.txt)"
size=$(dpkg-deb -f "$deb" Installed-Size)
echo "package-check: $(basename "$deb") (installed $size KiB) from a temporary root: verify --list $nchecks checks, verify --group golden, golden check 1 case, c_check via hkref.pc $ncase cases"
