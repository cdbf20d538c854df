#!/bin/sh
# hkref — install (as root) or name (otherwise) the Debian packages hkref needs.
# usage: tools/deps.sh [core|torch|verify|fuzz|extra|data|train|valgrind|all]
#   core  : C toolchain libraries, Check, SymPy for `make proofs`, torch for `make validate-torch`
#           (all needed by make test / verify; python3-torch installs in ~65 s)
#   torch : python3-torch + numpy for the PyTorch example backend
#   verify: core + clang (make verify's repro-bytes builds the golden set with gcc and clang)
#   fuzz  : core + clang + libclang-rt-14-dev (libFuzzer, for make fuzz)
#   extra : gnuplot-nox (PNG plots of dylora spectrum and training curves)
#   data  : node + npm (make data installs the npm packages; Debian nodejs npm, unless the
#           commands already exist, e.g. from another node distribution)
#   train : core + data + gnuplot-nox (make reproduce: data, pre-training, runs, plots)
#   valgrind: core + valgrind (make valgrind)
set -eu
want=${1:-core}
core="pkg-config check libsubunit-dev libgsl-dev liblapacke-dev libopenblas-dev libjansson-dev python3 python3-sympy python3-numpy python3-torch"
case "$want" in
  core) pkgs="$core" ;;
  torch) pkgs="python3-torch python3-numpy" ;;
  verify) pkgs="$core clang" ;;
  fuzz) pkgs="$core clang libclang-rt-14-dev" ;;
  extra) pkgs="gnuplot-nox" ;;
  data) pkgs="" ;;
  train) pkgs="$core gnuplot-nox" ;;
  valgrind) pkgs="$core valgrind" ;;
  all) pkgs="$core clang libclang-rt-14-dev gnuplot-nox valgrind" ;;
  *) echo "tools/deps.sh: unknown set '$want' (core, torch, verify, fuzz, extra, data, train, valgrind, all)" >&2; exit 2 ;;
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
if [ "$(id -u)" = 0 ]; then
  echo "hkref deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  echo "hkref deps: done"
else
  echo "hkref deps: missing Debian packages:$missing" >&2
  echo "run as root:  apt-get update && apt-get install -y$missing" >&2
  exit 1
fi
