#!/usr/bin/env bash
# Builds a fully static x86_64 musl `arl` into dist/arl.
#
# Why each piece (see ../../shared/TESTBED.md, "A static musl arl"):
# - the init container copies `arl` into whatever image a pool names, so it must
#   need no libc and no loader: musl, linked statically;
# - Zig from PyPI is the toolchain (clang + musl + libc++ in one pip package);
# - OpenSSL, yaml-cpp and zlib come from Debian's source packages built with that
#   toolchain, cached by version outside the repo (~2-3 min the first time);
# - header-only libraries are copied from Debian's -dev packages into a staging
#   prefix; /usr/include is never on the musl build's path.
# A second run only checks the caches and rebuilds what changed in the tree.
#
# Env: ARL_CACHE (default ~/.cache/arl), ARL_STATIC_BUILD_DIR (default
# <repo>/build-static), ARL_DIST (default <repo>/dist), JOBS (default 2),
# ARL_STATIC_TESTS (default 1: also build the static sidecar_tests).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${ARL_CACHE:-$HOME/.cache/arl}"
build="${ARL_STATIC_BUILD_DIR:-$root/build-static}"
dist="${ARL_DIST:-$root/dist}"
jobs="${JOBS:-2}"
ZIG_PIP_SPEC="${ZIG_PIP_SPEC:-ziglang}"
export ARL_CACHE="$cache"

log() { echo "build-static: $*" >&2; }

mkdir -p "$cache/static"
# Two concurrent runs would race on the same cached prefix.
exec 9>"$cache/static/.lock"
flock 9

# --- toolchain -----------------------------------------------------------------
venv="$cache/zig-venv"
if ! "$venv/bin/python" -c 'import ziglang' 2>/dev/null; then
  log "installing Zig from PyPI into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "$ZIG_PIP_SPEC"
fi
zig="$("$venv/bin/python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')"
[ -x "$zig" ] || { log "zig binary not found in the ziglang package ($zig)"; exit 1; }
zig_version="$("$zig" version)"

bin="$cache/static/bin"
mkdir -p "$bin"
write_wrapper() {  # write_wrapper NAME ZIG-ARGS...: rewritten only when it changes
  local name="$1"; shift
  local want
  want="$(printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$zig" "$*")"
  if [ "$(cat "$bin/$name" 2>/dev/null)" != "$want" ]; then
    printf '%s\n' "$want" > "$bin/$name"
    chmod 0755 "$bin/$name"
  fi
}
write_wrapper zig-cc cc -target x86_64-linux-musl
write_wrapper zig-c++ c++ -target x86_64-linux-musl
write_wrapper zig-ar ar
write_wrapper zig-ranlib ranlib

# --- Debian source packages ----------------------------------------------------
ensure_deb_src() {
  if grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ || grep -qs '^deb-src' /etc/apt/sources.list; then
    return 0
  fi
  log "enabling deb-src entries"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > /etc/apt/sources.list.d/arl-deb-src.sources
  else
    grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > /etc/apt/sources.list.d/arl-deb-src.list
  fi
  apt-get update -qq
}

# Downloads (once) a Debian source package into $cache/static/src/PKG/VERSION and
# prints the version. A cached version wins, so a second run needs no network;
# otherwise the newest version apt knows is tried first, falling back to older
# ones because a mirror may index a version it does not serve yet.
fetch_source() {  # fetch_source PKG
  local pkg="$1" dir v
  for dir in $(ls -d "$cache/static/src/$pkg"/*/ 2>/dev/null | sort -V -r); do
    if [ -f "$dir/.ok" ]; then basename "$dir"; return 0; fi
  done
  for v in $(apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -V -r -u); do
    dir="$cache/static/src/$pkg/$v"
    mkdir -p "$dir"
    if (cd "$dir" && apt-get source --download-only -qq "$pkg=$v" >/dev/null 2>&1); then
      touch "$dir/.ok"; echo "$v"; return 0
    fi
    log "source $pkg=$v is not downloadable, trying an older one"
    rm -rf "$dir"
  done
  log "no downloadable source package for $pkg"; return 1
}

# Unpacks a cached source package (Debian patches applied); prints its directory.
unpack_source() {  # unpack_source PKG VERSION WORKDIR
  local pkg="$1" ver="$2" work="$3" dsc
  dsc="$(ls "$cache/static/src/$pkg/$ver"/*.dsc | head -1)"
  dpkg-source -x --no-check "$dsc" "$work/$pkg-src" >/dev/null 2>&1 \
    || { log "dpkg-source -x $dsc failed"; return 1; }
  echo "$work/$pkg-src"
}

ensure_deb_src
command -v dpkg-source >/dev/null || apt-get install -y -qq dpkg-dev >/dev/null
openssl_v="$(fetch_source openssl)"
yamlcpp_v="$(fetch_source yaml-cpp)"
zlib_v="$(fetch_source zlib)"

key="openssl-${openssl_v}_yaml-cpp-${yamlcpp_v}_zlib-${zlib_v}_zig-${zig_version}"
key="${key//[^A-Za-z0-9._-]/_}"
prefix="$cache/static/prefix-$key"
toolchain="$here/static/musl-toolchain.cmake"

if [ ! -f "$prefix/.openssl-done" ]; then
  log "building OpenSSL $openssl_v with zig $zig_version (~2-3 min)"
  work="$(mktemp -d)"
  src="$(unpack_source openssl "$openssl_v" "$work")"
  # no-module/no-engine: nothing is loaded at run time; /etc/ssl as openssldir so
  # default CA paths match what Debian/Alpine images ship.
  (cd "$src" && CC="$bin/zig-cc" AR="$bin/zig-ar" RANLIB="$bin/zig-ranlib" \
      ./Configure linux-x86_64 no-shared no-tests no-engine no-module no-async \
        -Os --prefix="$prefix" --libdir=lib --openssldir=/etc/ssl >"$work/configure.log" 2>&1 \
    && make -j"$jobs" build_libs >"$work/make.log" 2>&1 \
    && make install_dev >"$work/install.log" 2>&1) \
    || { log "OpenSSL build failed; logs in $work"; exit 1; }
  touch "$prefix/.openssl-done"
  rm -rf "$work"
fi

if [ ! -f "$prefix/.yaml-cpp-done" ]; then
  log "building yaml-cpp $yamlcpp_v with zig $zig_version"
  work="$(mktemp -d)"
  src="$(unpack_source yaml-cpp "$yamlcpp_v" "$work")"
  cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
      -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_INSTALL_PREFIX="$prefix" \
      -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=OFF \
      -DYAML_BUILD_SHARED_LIBS=OFF -DBUILD_SHARED_LIBS=OFF >"$work/configure.log" 2>&1 \
    && cmake --build "$work/build" -j"$jobs" >"$work/build.log" 2>&1 \
    && cmake --install "$work/build" >"$work/install.log" 2>&1 \
    || { log "yaml-cpp build failed; logs in $work"; exit 1; }
  touch "$prefix/.yaml-cpp-done"
  rm -rf "$work"
fi

if [ ! -f "$prefix/.zlib-done" ]; then
  # Checkpoint archives (gzip). Static only, so no libz.so can be picked up.
  log "building zlib $zlib_v with zig $zig_version"
  work="$(mktemp -d)"
  src="$(unpack_source zlib "$zlib_v" "$work")"
  (cd "$src" && CC="$bin/zig-cc" AR="$bin/zig-ar" RANLIB="$bin/zig-ranlib" CFLAGS="-Os -fPIC" \
      ./configure --static --prefix="$prefix" >"$work/configure.log" 2>&1 \
    && make -j"$jobs" libz.a >"$work/make.log" 2>&1 \
    && make install >"$work/install.log" 2>&1) \
    || { log "zlib build failed; logs in $work"; exit 1; }
  touch "$prefix/.zlib-done"
  rm -rf "$work"
fi

# --- header-only libraries from Debian's -dev packages --------------------------
# Staged into the same prefix; refreshed only when a package version changes so
# a second run does not touch header mtimes (which would rebuild everything).
header_pkgs=(nlohmann-json3-dev libcli11-dev libfmt-dev doctest-dev)
stamp="$(dpkg-query -W -f='${Package}=${Version}\n' "${header_pkgs[@]}")"
if [ "$(cat "$prefix/.headers" 2>/dev/null)" != "$stamp" ]; then
  log "staging header-only libraries: ${header_pkgs[*]}"
  for p in "${header_pkgs[@]}"; do
    # Each package's own files: headers under /usr/include and, for those that
    # ship one, its CMake package config (which computes paths relative to itself).
    dpkg -L "$p" | while read -r f; do
      [ -f "$f" ] || continue
      case "$f" in
        /usr/include/*) rel="include/${f#/usr/include/}" ;;
        /usr/share/cmake/*) rel="share/cmake/${f#/usr/share/cmake/}" ;;
        *) continue ;;
      esac
      mkdir -p "$prefix/$(dirname "$rel")"
      cp -p "$f" "$prefix/$rel"
    done
  done
  printf '%s\n' "$stamp" > "$prefix/.headers"
fi

httplib_dir="$(dirname "$(ls "$cache"/httplib/*/httplib.h 2>/dev/null | head -1)")"
if [ ! -f "$httplib_dir/httplib.h" ]; then
  "$here/fetch-httplib.sh"
  httplib_dir="$(dirname "$(ls "$cache"/httplib/*/httplib.h | head -1)")"
fi

# --- arl ----------------------------------------------------------------------
# Explicit paths for the libraries: FindOpenSSL's hints are re-rooted by the
# toolchain's find-root rules, and we want exactly these archives.
# The sidecar's doctest suite is built with the same toolchain so the static
# build is held to the dev build's tests (tests/static runs it); set
# ARL_STATIC_TESTS=0 to build only arl.
targets=(arl)
tests_flag=OFF
if [ "${ARL_STATIC_TESTS:-1}" != 0 ]; then targets+=(sidecar_tests); tests_flag=ON; fi
cmake_args=(-G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain"
  -DARL_STATIC_STAGE="$prefix" -DARL_STATIC=ON -DARL_TESTS="$tests_flag"
  -DCMAKE_BUILD_TYPE=MinSizeRel
  -DHTTPLIB_INCLUDE_DIR="$httplib_dir"
  -DOPENSSL_USE_STATIC_LIBS=TRUE -DOPENSSL_ROOT_DIR="$prefix"
  -DOPENSSL_INCLUDE_DIR="$prefix/include"
  -DOPENSSL_SSL_LIBRARY="$prefix/lib/libssl.a"
  -DOPENSSL_CRYPTO_LIBRARY="$prefix/lib/libcrypto.a"
  -DZLIB_INCLUDE_DIR="$prefix/include" -DZLIB_LIBRARY="$prefix/lib/libz.a"
  -Dyaml-cpp_DIR="$(dirname "$(find "$prefix" -name 'yaml-cpp-config.cmake' | head -1)")"
  -Dnlohmann_json_DIR="$prefix/share/cmake/nlohmann_json"
  -DCLI11_DIR="$prefix/share/cmake/CLI11")
# Configure only when the arguments changed: every configure re-stamps the build
# date, which would recompile and relink on each run. `cmake --build` still
# re-configures by itself when CMakeLists.txt or the globbed sources change.
args_stamp="$(printf '%s\n' "${cmake_args[@]}")"
if [ ! -f "$build/build.ninja" ] || [ "$(cat "$build/.arl-static-args" 2>/dev/null)" != "$args_stamp" ]; then
  log "configuring arl (static) in $build"
  cmake -S "$root" -B "$build" "${cmake_args[@]}" >/dev/null
  printf '%s\n' "$args_stamp" > "$build/.arl-static-args"
fi
log "building arl (static) in $build"
cmake --build "$build" --target "${targets[@]}" -j"$jobs"

mkdir -p "$dist"
if [ ! -f "$dist/arl" ] || [ "$build/arl" -nt "$dist/arl" ]; then
  strip -o "$dist/arl.tmp" "$build/arl"
  mv "$dist/arl.tmp" "$dist/arl"
fi
size="$(stat -c %s "$dist/arl")"
log "dist/arl: $size bytes ($((size / 1024)) KiB), $(file -b "$dist/arl" | cut -d, -f1-2)"
echo "$dist/arl"
