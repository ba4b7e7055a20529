#!/usr/bin/env bash
# A soak of the local cluster (issue 19): mixed load at a fixed rate for a bounded time
# (default 30 min) while the operator's, the node agent's and a long-lived sidecar's RSS and
# open file descriptors are sampled. Prints the figures; exits 1 on growth beyond the stated
# bounds (bench/soak.py) or on any error that was not retried. Not part of CI (too long).
#
#   scripts/soak.sh [--minutes N] [--rate CYCLES_PER_S] [--sample-seconds S]
#
# ARL_STATE (default /tmp/arl-soak) and ARL_POD_CIDR pick the cluster, ARL_BIN the arl binary
# (default: build/arl, built if missing); the cluster is stopped at the end unless ARL_KEEP=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export ARL_STATE="${ARL_STATE:-/tmp/arl-soak}"
venv="${ARL_CACHE:-$HOME/.cache/arl}/venv"

if [[ -z "${ARL_BIN:-}" ]]; then
  [[ -x "$root/build/arl" ]] || { cmake -S "$root" -B "$root/build" -G Ninja >/dev/null; cmake --build "$root/build" --target arl -j2 >/dev/null; }
  export ARL_BIN="$root/build/arl"
fi
"$root/scripts/local-cluster.sh" up >/dev/null
[[ "${ARL_KEEP:-0}" == 1 ]] || trap '"$root/scripts/local-cluster.sh" down >/dev/null 2>&1' EXIT
PYTHONPATH="$root/sdk/python/arl-client${PYTHONPATH:+:$PYTHONPATH}" \
  "$venv/bin/python" "$root/bench/soak.py" --state "$ARL_STATE" "$@"
