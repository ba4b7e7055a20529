#!/usr/bin/env bash
# Builds the container images the real-node tier runs (scripts/real-node.sh), from Debian
# packages and the host compiler only: no outside registry is ever contacted.
#   busybox  Debian's busybox-static with its applet links               localhost/arl-test/busybox:1
#   python   the busybox layer + a layer of Debian's python3 (dpkg-deb -x) localhost/arl-test/python:1
#   nonroot  USER 1000, no shell: one static C binary (echo, id)          localhost/arl-test/nonroot:1
#   pause    the pod sandbox image: a static C program (scripts/images/pause.c) localhost/arl-test/pause:1
# Archives are cached as $ARL_CACHE/images/NAME.tar (docker/OCI tarballs for `ctr images import`)
# and rebuilt only when this script, its C sources or the Debian package versions change.
# Usage: scripts/build-test-images.sh [NAME...]   prints one archive path per line
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${ARL_CACHE:-$HOME/.cache/arl}"
out="$cache/images"
crane="${CRANE:-$cache/bin/k8s-v${K8S_VERSION:-1.33.13}/crane}"
REPO=localhost/arl-test
TAG=1
log() { echo "build-test-images: $*" >&2; }
die() { log "$*"; exit 1; }

names=("$@")
((${#names[@]})) || names=(busybox python nonroot pause)

# Python's closure minus what only package management needs (dpkg, perl, tar, ...): the image
# runs programs, it never installs packages.
PY_ROOTS=(python3-minimal python3 libpython3-stdlib)
PY_SKIP='^(dpkg|perl|perl-base|perl-modules-.*|libperl.*|tar|install-info|mailcap|mime-support|media-types|debconf|python3-distutils|python3-lib2to3|libgdbm-compat4|readline-common|libselinux1|libacl1|libmd0|libpcre2-8-0|libzstd1|tzdata)$'

python_packages() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances "${PY_ROOTS[@]}" 2>/dev/null \
    | grep -v '^[ <]' | sort -u | grep -Ev "$PY_SKIP"
}

# The cache key: this script, the C sources, and the candidate versions of the packages used.
cache_key() {
  local pkgs
  pkgs="busybox-static $(python_packages | tr '\n' ' ')"
  {
    cat "$0" "$here/images/pause.c" "$here/images/nonroot-tools.c"
    # shellcheck disable=SC2086
    apt-cache policy $pkgs 2>/dev/null | grep -E '^[a-z0-9]|Candidate'
    gcc --version | head -1
  } | sha256sum | cut -c1-16
}

need_tools() {
  command -v gcc >/dev/null || die "gcc is missing (apt-get install gcc libc6-dev)"
  [[ -f /usr/lib/x86_64-linux-gnu/libc.a ]] || die "static glibc is missing (apt-get install libc6-dev)"
  if [[ ! -x /bin/busybox ]] || ! dpkg -s busybox-static >/dev/null 2>&1; then
    log "installing busybox-static (apt)"
    apt-get install -y -q busybox-static >/dev/null || die "apt-get install busybox-static failed"
  fi
  [[ -x "$crane" ]] || "$here/install-kube-tools.sh" release >/dev/null || die "building crane failed"
}

tar_rootfs() {  # tar_rootfs ROOTFS OUT: numeric root ownership, stable order and mtimes
  tar -C "$1" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$2" .
}

busybox_rootfs() {  # busybox_rootfs DIR
  local d="$1" a
  mkdir -p "$d/bin" "$d/tmp" "$d/etc" "$d/workspace"
  chmod 1777 "$d/tmp"
  cp /bin/busybox "$d/bin/busybox"
  # Links for every applet this busybox has, so `sh -c`, `echo`, `cat` ... work as in busybox images.
  for a in $(/bin/busybox --list); do [[ "$a" == busybox ]] || ln -sf busybox "$d/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$d/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' > "$d/etc/group"
}

python_rootfs() {  # python_rootfs DIR DEBDIR: Debian's python3 and its libraries, unpacked
  local d="$1" debs="$2" p
  mkdir -p "$d" "$debs"
  ( cd "$debs" && apt-get download -q $(python_packages) >/dev/null 2>"$debs/download.log" ) \
    || { cat "$debs/download.log" >&2; die "apt-get download of python3 failed"; }
  for p in "$debs"/*.deb; do dpkg-deb -x "$p" "$d"; done
  # Debian's usrmerge: /lib64 -> usr/lib64 etc. come from base-files, which we do not ship.
  for p in lib lib64 sbin; do [[ -e "$d/$p" ]] || { [[ -d "$d/usr/$p" ]] && ln -s "usr/$p" "$d/$p"; }; done
  [[ -e "$d/usr/bin/python" ]] || ln -s python3 "$d/usr/bin/python"
  rm -rf "$d/usr/share/doc" "$d/usr/share/man" "$d/usr/share/info" "$d/usr/share/lintian"
}

nonroot_rootfs() {  # nonroot_rootfs DIR WORK
  local d="$1" w="$2"
  mkdir -p "$d/bin" "$d/etc" "$d/tmp"
  chmod 1777 "$d/tmp"
  gcc -static -Os -s -o "$d/bin/echo" "$here/images/nonroot-tools.c" || die "compiling nonroot-tools.c failed"
  ln -s echo "$d/bin/id"
  printf 'root:x:0:0:root:/:/nonexistent\nuser:x:1000:1000:user:/:/nonexistent\n' > "$d/etc/passwd"
  printf 'root:x:0:\nuser:x:1000:\n' > "$d/etc/group"
}

pause_rootfs() {  # pause_rootfs DIR
  mkdir -p "$1"
  gcc -static -Os -s -o "$1/pause" "$here/images/pause.c" || die "compiling pause.c failed"
}

# The throwaway registry: crane mutate (entrypoint, user, platform) reads from a registry, so one
# lives on loopback for the build and is stopped at exit.
reg_pid=""
work=""
cleanup() { [[ -z "$reg_pid" ]] || kill "$reg_pid" 2>/dev/null || true; [[ -z "$work" ]] || rm -rf "$work"; }
trap cleanup EXIT

start_registry() {
  local port i
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "$crane" registry serve --address "127.0.0.1:$port" >"$work/registry.log" 2>&1 &
  reg_pid=$!
  for i in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && { REG="127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  die "crane registry did not start (log: $(cat "$work/registry.log"))"
}

# publish NAME MUTATE_ARGS... : the image built in $REG/NAME:tmp, mutated and written as a tarball.
publish() {
  local name="$1"; shift
  "$crane" mutate "$REG/$name:tmp" --set-platform linux/amd64 "$@" -t "$REPO/$name:$TAG" \
    -o "$out/$name.tar.tmp" >/dev/null 2>"$work/mutate.log" || { cat "$work/mutate.log" >&2; die "crane mutate $name failed"; }
  mv "$out/$name.tar.tmp" "$out/$name.tar"
  echo "$key" > "$out/$name.key"
  log "$out/$name.tar: $REPO/$name:$TAG ($(du -h "$out/$name.tar" | cut -f1))"
}

append() {  # append NAME LAYER [BASE]
  local args=(-f "$2" -t "$REG/$1:tmp")
  [[ -z "${3:-}" ]] || args+=(-b "$3")
  "$crane" append "${args[@]}" >/dev/null 2>"$work/append.log" || { cat "$work/append.log" >&2; die "crane append $1 failed"; }
}

build() {
  local name="$1" r="$work/$1"
  case "$name" in
    busybox)
      busybox_rootfs "$r"; tar_rootfs "$r" "$work/busybox.layer"
      append busybox "$work/busybox.layer"
      publish busybox --cmd sh ;;
    python)
      busybox_rootfs "$r.base"; tar_rootfs "$r.base" "$work/busybox-base.layer"
      append python-base "$work/busybox-base.layer"
      python_rootfs "$r" "$work/debs"; tar_rootfs "$r" "$work/python.layer"
      # Fail the build, not the test: the interpreter must start with its stdlib in a chroot.
      mkdir -p "$work/pycheck"; tar -C "$work/pycheck" -xf "$work/busybox-base.layer"; tar -C "$work/pycheck" -xf "$work/python.layer"
      chroot "$work/pycheck" /usr/bin/python3 -c 'import json, ssl, sqlite3, subprocess; print("ok")' >/dev/null \
        || die "python3 does not start in the assembled rootfs"
      append python "$work/python.layer" "$REG/python-base:tmp"
      publish python --cmd python3 ;;
    nonroot)
      nonroot_rootfs "$r" "$work"; tar_rootfs "$r" "$work/nonroot.layer"
      append nonroot "$work/nonroot.layer"
      publish nonroot --entrypoint /bin/echo --user 1000:1000 ;;
    pause)
      pause_rootfs "$r"; tar_rootfs "$r" "$work/pause.layer"
      append pause "$work/pause.layer"
      publish pause --entrypoint /pause ;;
    *) die "unknown image $name (busybox python nonroot pause)" ;;
  esac
}

mkdir -p "$out"
key="$(cache_key)"
todo=()
for n in "${names[@]}"; do
  if [[ -s "$out/$n.tar" && "$(cat "$out/$n.key" 2>/dev/null)" == "$key" ]]; then continue; fi
  todo+=("$n")
done
if ((${#todo[@]})); then
  need_tools
  work="$(mktemp -d)"
  start_registry
  for n in "${todo[@]}"; do build "$n"; done
fi
for n in "${names[@]}"; do echo "$out/$n.tar"; done
