#!/usr/bin/env bash
# Release artifacts from the static binary:
#   dist/arl-<version>-linux-amd64.tar.gz   arl, kubectl-arl -> arl, LICENSE, README.md
#   dist/arl-<version>-linux-amd64.tar.gz.sha256
#   plugins/arl.yaml                        krew manifest pointing at that tarball
# The version is CMake's project version (the one `arl version` prints).
# Usage: scripts/release.sh [--no-build]
# Env: ARL_DIST, ARL_PLUGIN_MANIFEST (default plugins/arl.yaml), ARL_RELEASE_URL (where the tarball will be published; the
#      krew manifest's uri is "$ARL_RELEASE_URL/v<version>/<tarball>").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
dist="${ARL_DIST:-$root/dist}"
release_url="${ARL_RELEASE_URL:-https://github.com/arl-infra/arl/releases/download}"
plugin_manifest="${ARL_PLUGIN_MANIFEST:-$root/plugins/arl.yaml}"

[ "${1:-}" = "--no-build" ] || ARL_DIST="$dist" "$here/build-static.sh" >/dev/null
[ -x "$dist/arl" ] || { echo "release: $dist/arl missing: run scripts/build-static.sh" >&2; exit 1; }
"$dist/arl" version | grep -q static || { echo "release: $dist/arl is not the static build" >&2; exit 1; }

version="$(sed -nE 's/^project\(arl VERSION ([0-9][0-9.]*).*/\1/p' "$root/CMakeLists.txt")"
[ -n "$version" ] || { echo "release: no project(arl VERSION x.y.z) in CMakeLists.txt" >&2; exit 1; }
for f in LICENSE README.md; do
  [ -f "$root/$f" ] || { echo "release: $root/$f missing (it ships in the tarball)" >&2; exit 1; }
done

name="arl-$version-linux-amd64"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$dist/arl" "$stage/arl"
ln -s arl "$stage/kubectl-arl"
cp "$root/LICENSE" "$root/README.md" "$stage/"
chmod 0755 "$stage/arl"
chmod 0644 "$stage/LICENSE" "$stage/README.md"

# Same inputs -> same bytes: fixed order, owners and mtimes, no gzip timestamp.
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}"
tarball="$dist/$name.tar.gz"
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -cf - arl kubectl-arl LICENSE README.md | gzip -n -9 > "$tarball.tmp"
mv "$tarball.tmp" "$tarball"
(cd "$dist" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
sha="$(cut -d' ' -f1 "$dist/$name.tar.gz.sha256")"

mkdir -p "$(dirname "$plugin_manifest")"
cat > "$plugin_manifest" <<YAML
# krew plugin manifest, written by scripts/release.sh for v$version.
# Install from a local checkout: kubectl krew install --manifest=plugins/arl.yaml --archive=dist/$name.tar.gz
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: arl
spec:
  version: v$version
  homepage: https://github.com/arl-infra/arl
  shortDescription: Code-execution sandboxes for AI agents on Kubernetes
  description: |
    kubectl arl manages ARL warm pools, sandboxes and tasks: create a pool of
    pre-started pods, allocate a sandbox in milliseconds, run commands in it
    and stream their output, and install or uninstall the ARL operator.
    The plugin is one static binary with no dependencies.
  platforms:
    - selector:
        matchLabels:
          os: linux
          arch: amd64
      uri: $release_url/v$version/$name.tar.gz
      sha256: $sha
      files:
        - from: arl
          to: .
        - from: LICENSE
          to: .
      # krew links kubectl-arl to this file; arl switches to plugin mode when
      # invoked under that name.
      bin: arl
YAML
echo "release: $tarball ($(stat -c %s "$tarball") bytes), sha256 $sha" >&2
echo "$tarball"
