#!/bin/sh
# hkref — build the Debian package from a staged `make install DESTDIR=ROOT PREFIX=/usr`.
# usage: tools/scripts/make_deb.sh STAGE VERSION OUT.deb
#   STAGE/debian/hkref is the package root (make deb fills it); Depends come from
#   dpkg-shlibdeps on the installed binary (the Debian runtime packages of its shared
#   libraries), or, without dpkg-dev, from `dpkg -S` of each library it needs.
set -eu
stage=$1 version=$2 out=$3
root="$stage/debian/hkref"
arch=$(dpkg --print-architecture)
bin="$root/usr/bin/hkref"
[ -x "$bin" ] || { echo "make_deb.sh: $bin missing (run make install DESTDIR=$root PREFIX=/usr)" >&2; exit 2; }
# dpkg-shlibdeps takes ~8 s (dpkg -S per library): its answer is kept next to the stage, keyed
# by the libraries and versioned symbols the binary needs and the dpkg database's state, so an
# unchanged system and binary (the gate's case) reuse it.
cache="$(dirname "$stage")/deb-depends.cache"
key="$(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }' | LC_ALL=C sort | tr '\n' ' ')|$(objdump -T "$bin" | grep -F '*UND*' | LC_ALL=C sort | md5sum | cut -c1-16)|$(stat -c %Y /var/lib/dpkg/status 2>/dev/null)|$arch"
depends=""
if [ -f "$cache" ] && [ "$(head -1 "$cache")" = "$key" ]; then
  depends=$(sed -n 2p "$cache")
elif command -v dpkg-shlibdeps >/dev/null 2>&1; then
  mkdir -p "$stage/debian"
  printf 'Source: hkref\n\nPackage: hkref\nArchitecture: any\n' > "$stage/debian/control"
  depends=$(cd "$stage" && dpkg-shlibdeps -O -e "debian/hkref/usr/bin/hkref" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
  rm -f "$stage/debian/control"
else
  for lib in $(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }'); do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
    [ -n "$path" ] || continue
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1) || true
    [ -n "$pkg" ] && case ", $depends, " in *", $pkg, "*) ;; *) depends="${depends:+$depends, }$pkg" ;; esac
  done
fi
[ -n "$depends" ] || { echo "make_deb.sh: could not determine the runtime Depends of $bin" >&2; exit 1; }
printf '%s\n%s\n' "$key" "$depends" > "$cache"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
mkdir -p "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CTL
Package: hkref
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-hkref maintainers <hkref@localhost>}
Installed-Size: $size
Depends: $depends
Recommends: libgsl-dev, libjansson-dev, liblapacke-dev, pkg-config
Section: science
Priority: optional
Description: reference implementation and golden tests for LoRA dropout methods
 A plain scalar double-precision C11 reference of DropKey, DropAttention,
 HiddenCut, HiddenKey (arXiv 2403.00812) and DyLoRA, with the hkref command
 (verify, gradcheck, golden generate/check, demo, ...), the golden tensor set
 (/usr/share/hkref/golden), the static libraries libhkref and libhkgolden with
 their headers (/usr/include/hkref) and a pkg-config file (hkref.pc).  Linking
 the libraries needs the -dev packages in Recommends.
CTL
# conffiles: none; md5sums as Debian tools write them
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | LC_ALL=C sort | xargs md5sum) > "$root/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zgzip --build "$root" "$out" >/dev/null
echo "make deb: $out (installed size $size KiB; Depends: $depends)"
