#!/usr/bin/env bash
# Puts Debian's header-only cpp-httplib (from the source package) at
# $ARL_CACHE/httplib/<version>/httplib.h and prints that directory.
set -euo pipefail
cache="${ARL_CACHE:-$HOME/.cache/arl}"
if ls "$cache"/httplib/*/httplib.h >/dev/null 2>&1; then
  exit 0
fi
src_list=/etc/apt/sources.list.d/arl-deb-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  # Reuse the machine's own deb entries as deb-src entries.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$src_list"
  else
    grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > /etc/apt/sources.list.d/arl-deb-src.list
  fi
  apt-get update -qq
fi
command -v dpkg-source >/dev/null || apt-get install -y -qq dpkg-dev >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get source -qq cpp-httplib >/dev/null 2>&1)
hdr="$(find "$work" -maxdepth 2 -name httplib.h | head -1)"
[ -n "$hdr" ] || { echo "fetch-httplib: httplib.h not found in the cpp-httplib source package" >&2; exit 1; }
ver="$(grep -m1 -oE 'CPPHTTPLIB_VERSION "[0-9.]+"' "$hdr" | grep -oE '[0-9.]+' || echo unknown)"
mkdir -p "$cache/httplib/$ver"
cp "$hdr" "$cache/httplib/$ver/httplib.h"
echo "fetch-httplib: cached httplib.h $ver" >&2
