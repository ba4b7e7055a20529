#!/usr/bin/env bash
# Builds the ARL container image as an image archive, dist/arl-image.tar, with no
# Docker daemon: crane (from the Go module proxy, scripts/install-kube-tools.sh)
# appends one layer holding the static /arl to an empty base, then sets the
# entrypoint and the non-root user. The archive loads with
#   docker load -i dist/arl-image.tar
#   kind load image-archive dist/arl-image.tar
#   ctr -n k8s.io images import dist/arl-image.tar
# One image serves the operator Deployment and the pool pods' init container.
# Usage: scripts/build-image.sh [--no-build]
# Env: ARL_IMAGE (default ghcr.io/arl/arl, what the chart and manifests name), ARL_DIST.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${ARL_CACHE:-$HOME/.cache/arl}"
dist="${ARL_DIST:-$root/dist}"
image="${ARL_IMAGE:-ghcr.io/arl/arl}"
crane="${CRANE:-$cache/bin/k8s-v${K8S_VERSION:-1.33.13}/crane}"
log() { echo "build-image: $*" >&2; }

[ "${1:-}" = "--no-build" ] || ARL_DIST="$dist" "$here/build-static.sh" >/dev/null
[ -x "$dist/arl" ] || { log "$dist/arl missing: run scripts/build-static.sh"; exit 1; }
[ -x "$crane" ] || "$here/install-kube-tools.sh" release >/dev/null
version="$(sed -nE 's/^project\(arl VERSION ([0-9][0-9.]*).*/\1/p' "$root/CMakeLists.txt")"
ref="$image:$version"

work="$(mktemp -d)"
reg_pid=""
cleanup() { [ -z "$reg_pid" ] || kill "$reg_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# The layer: /arl (root-owned, world-executable) and passwd/group entries so
# tools that look the user up see a name for uid 65532. /tmp for libraries that
# want a scratch dir (mounted read-only elsewhere, the operator needs none).
mkdir -p "$work/rootfs/etc" "$work/rootfs/tmp"
install -m 0755 "$dist/arl" "$work/rootfs/arl"
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' > "$work/rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$work/rootfs/etc/group"
chmod 1777 "$work/rootfs/tmp"
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}"
tar -C "$work/rootfs" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -cf "$work/layer.tar" arl etc tmp

# crane mutate reads its input from a registry, so a throwaway in-memory one on
# loopback holds the intermediate image; nothing leaves this machine.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$crane" registry serve --address "127.0.0.1:$port" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
  sleep 0.1
done
tmp_ref="127.0.0.1:$port/arl:$version"
"$crane" append -f "$work/layer.tar" -t "$tmp_ref" >/dev/null 2>"$work/append.log" \
  || { cat "$work/append.log" >&2; exit 1; }
mkdir -p "$dist"
"$crane" mutate "$tmp_ref" --entrypoint /arl --user 65532:65532 --set-platform linux/amd64 -t "$ref" -o "$dist/arl-image.tar.tmp" >/dev/null 2>"$work/mutate.log" \
  || { cat "$work/mutate.log" >&2; exit 1; }
mv "$dist/arl-image.tar.tmp" "$dist/arl-image.tar"
log "$dist/arl-image.tar: $ref ($(stat -c %s "$dist/arl-image.tar") bytes)"
echo "$dist/arl-image.tar"
