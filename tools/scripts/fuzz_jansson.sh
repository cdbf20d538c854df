#!/bin/sh
# hkref — jansson's C source for the fuzz build (make fuzz), so the JSON parser
# that every safetensors header goes through is instrumented too (coverage
# guides header mutations; ASan/UBSan watch it).  Debian's source package of
# the installed libjansson, fetched with apt-get source through a private
# sources list (the system's apt configuration is not touched), unpacked into
# DIR/jansson-<version>/, configured by hand (no autotools run).
#   tools/scripts/fuzz_jansson.sh DIR      prints DIR/jansson-<version>/src on success
set -eu
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
src=$(ls -d "$DIR"/jansson-*/src 2>/dev/null | head -1 || true)
if [ -z "$src" ] || [ ! -f "$src/jansson_config.h" ]; then
  apt="$DIR/apt"
  mkdir -p "$apt/lists/partial" "$apt/parts"
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  echo "deb-src http://deb.debian.org/debian $suite main" > "$apt/sources.list"
  opts="-o Dir::Etc::sourcelist=$apt/sources.list -o Dir::Etc::sourceparts=$apt/parts -o Dir::State::Lists=$apt/lists"
  # shellcheck disable=SC2086
  apt-get -qq $opts update >/dev/null
  # shellcheck disable=SC2086
  (cd "$DIR" && apt-get -qq $opts source --download-only jansson >/dev/null 2>&1)
  tar -C "$DIR" -xzf "$DIR"/jansson_*.orig.tar.gz
  src=$(ls -d "$DIR"/jansson-*/src | head -1)
  sed -e 's/@json_inline@/inline/; s/@json_have_long_long@/1/; s/@json_have_localeconv@/1/' \
      -e 's/@json_have_atomic_builtins@/1/; s/@json_have_sync_builtins@/1/' \
      "$src/jansson_config.h.in" > "$src/jansson_config.h"
  cat > "$src/jansson_private_config.h" <<'EOC'
#define HAVE_STDINT_H 1
#define HAVE_INTTYPES_H 1
#define HAVE_UNISTD_H 1
#define HAVE_FCNTL_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_GETTIMEOFDAY 1
#define HAVE_LOCALE_H 1
#define HAVE_SETLOCALE 1
#define HAVE_ATOMIC_BUILTINS 1
#define HAVE_SYNC_BUILTINS 1
#define USE_URANDOM 1
#define INITIAL_HASHTABLE_ORDER 3
EOC
fi
echo "$src"
