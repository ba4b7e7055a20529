#!/usr/bin/env bash
# Builds and runs the sidecar latency benchmark (bench/sidecar_bench.cpp).
# Usage: scripts/bench-sidecar.sh [requests] [HOST:PORT of a running sidecar]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ARL_BENCH_BUILD_DIR:-$root/build-bench}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DARL_TESTS=OFF >/dev/null
cmake --build "$build" --target sidecar_bench -j2
exec "$build/sidecar_bench" "$@"
