#!/usr/bin/env bash
# manifests/crds/ is the source of the CRDs; the Helm chart carries byte-identical
# copies in charts/arl-operator/crds/ (Helm installs crds/ before templates and
# never templates them, so a plain copy is exactly right).
# Usage: scripts/sync-chart-crds.sh          copy (removes chart CRDs with no source)
#        scripts/sync-chart-crds.sh --check  exit 1 and name the files that drifted
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/manifests/crds"
dst="$root/charts/arl-operator/crds"
shopt -s nullglob
srcs=("$src"/*.yaml)
((${#srcs[@]})) || { echo "sync-chart-crds: no CRDs in $src" >&2; exit 1; }

if [ "${1:-}" = "--check" ]; then
  bad=0
  for f in "${srcs[@]}"; do
    cmp -s "$f" "$dst/$(basename "$f")" || { echo "sync-chart-crds: $dst/$(basename "$f") differs from $f" >&2; bad=1; }
  done
  for f in "$dst"/*.yaml; do
    [ -f "$src/$(basename "$f")" ] || { echo "sync-chart-crds: $f has no source in $src" >&2; bad=1; }
  done
  ((bad == 0)) || { echo "sync-chart-crds: run scripts/sync-chart-crds.sh" >&2; exit 1; }
  exit 0
fi

mkdir -p "$dst"
for f in "$dst"/*.yaml; do
  [ -f "$src/$(basename "$f")" ] || rm -f "$f"
done
for f in "${srcs[@]}"; do
  cmp -s "$f" "$dst/$(basename "$f")" || cp "$f" "$dst/"
done
echo "sync-chart-crds: ${#srcs[@]} CRDs in $dst" >&2
