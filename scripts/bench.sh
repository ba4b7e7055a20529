#!/usr/bin/env bash
# Every benchmark, printing figures (targets in README.md):
#   sidecar   /execute of `true` over loopback keep-alive vs bare fork/exec;
#             checkpoint and restore of a 1,000-file / 10 MB workdir
#             (ARL_BENCH_CHECKPOINT_DIR: where its workdir and checkpoints go,
#             default $TMPDIR or /tmp)
#   operator  sandbox Ready latency and where its time goes (per-stage table
#             beside the API server's floors), Ready with spec.env against
#             without (in turns, ARL_BENCH_ENV_ROUNDS of each, default 50; 0
#             skips), task round trip and its stages, a burst of sandboxes,
#             API writes per allocation, operator RSS (on the local cluster)
#   sdk       Python SDK episodes/s through Task objects and the direct path
#   fork      a live sandbox's 1,000-file / 10 MB workdir forked into 8 sandboxes
#             (and into 1), end to end through the SDK (bench/fork_bench.py), with
#             /workspace on tmpfs (emptyDir medium: Memory) and on the node's disk
#   real      the real node (kubelet + containerd, scripts/real-node.sh, ARL
#             by Helm) beside a local-node cluster, one table (bench/node_bench.py):
#             cold pool fill and where its time goes, warm sandbox Ready, task
#             round trip, exec through the pod proxy; not in the default list
#             (needs root, builds the image when dist/ has none)
# Usage: scripts/bench.sh [sidecar|operator|sdk|fork|real]...   (default: sidecar operator sdk fork)
# The local cluster is started in ARL_STATE (default /tmp/arl-bench) and
# stopped at the end unless ARL_KEEP=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ARL_BENCH_BUILD_DIR:-$root/build-bench}"
export ARL_STATE="${ARL_STATE:-/tmp/arl-bench}"
parts=("$@")
((${#parts[@]})) || parts=(sidecar operator sdk fork)

"$root/scripts/setup.sh" >/dev/null
# The real node runs the image of `make image`, not build-bench/: nothing to compile for it alone.
if [[ " ${parts[*]} " != " real " ]]; then
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DARL_TESTS=OFF >/dev/null
cmake --build "$build" --target arl sidecar_bench checkpoint_bench cluster_bench -j2 >/dev/null
fi

cluster_up() {
  [[ -n "${cluster_started:-}" ]] && return
  ARL_BIN="$build/arl" "$root/scripts/local-cluster.sh" up >/dev/null
  cluster_started=1
  [[ "${ARL_KEEP:-0}" == 1 ]] || trap '"$root/scripts/local-cluster.sh" down >/dev/null 2>&1' EXIT
}

for part in "${parts[@]}"; do
  case "$part" in
    sidecar)
      echo "== sidecar"
      "$build/sidecar_bench" 2000
      "$build/checkpoint_bench" 30 ${ARL_BENCH_CHECKPOINT_DIR:+"$ARL_BENCH_CHECKPOINT_DIR"} ;;
    operator)
      echo "== operator"
      cluster_up
      # shellcheck disable=SC1091
      metrics_url="$(. "$ARL_STATE/operator.env"; echo "$ARL_OPERATOR_METRICS")"
      "$build/cluster_bench" "$ARL_STATE/kubeconfig" 100 50 200 "$(cat "$ARL_STATE/pids/operator.pid")" "$metrics_url" \
        "${ARL_BENCH_ENV_ROUNDS:-50}" ;;
    sdk)
      echo "== python sdk"
      cluster_up
      "$HOME/.cache/arl/venv/bin/pip" install -q -e "$root/sdk/python/arl-client" >/dev/null
      ARL_E2E_KUBECONFIG="$ARL_STATE/kubeconfig" "$HOME/.cache/arl/venv/bin/python" "$root/bench/sdk_bench.py" \
        --kubeconfig "$ARL_STATE/kubeconfig" --concurrency 1,8,32 ;;
    fork)
      echo "== fork"
      cluster_up
      for ws in --memory-workspace ""; do
        for n in 8 1; do
          "$HOME/.cache/arl/venv/bin/python" "$root/bench/fork_bench.py" --kubeconfig "$ARL_STATE/kubeconfig" \
            --forks "$n" --rounds "${ARL_BENCH_FORK_ROUNDS:-5}" ${ws:+"$ws"}
        done
      done ;;
    real)
      # Both kinds of node side by side, the same figures from one script: the real node
      # (198.19/16) and a local-node cluster of its own (198.18/16) running the same binary
      # as the image (dist/arl, from `make image`).
      echo "== real node beside the local node agent"
      export ARL_REAL_STATE="${ARL_REAL_STATE:-/tmp/arl-real-bench}"
      local_state="${ARL_BENCH_LOCAL_STATE:-/tmp/arl-bench-local}"
      [[ -f "$root/dist/arl-image.tar" && -x "$root/dist/arl" ]] || "$root/scripts/build-image.sh" >/dev/null
      "$root/scripts/real-node.sh" up >/dev/null
      ARL_STATE="$local_state" ARL_BIN="$root/dist/arl" "$root/scripts/local-cluster.sh" up >/dev/null
      rc=0
      "$HOME/.cache/arl/venv/bin/python" "$root/bench/node_bench.py" \
        --cluster "real=$ARL_REAL_STATE/kubeconfig" --cluster "local=$local_state/kubeconfig" \
        --pods "${ARL_BENCH_PODS:-20}" --sandboxes "${ARL_BENCH_SANDBOXES:-20}" \
        --tasks "${ARL_BENCH_TASKS:-20}" --execs "${ARL_BENCH_EXECS:-100}" --variants real || rc=$?
      if [[ "${ARL_KEEP:-0}" != 1 ]]; then
        ARL_STATE="$local_state" "$root/scripts/local-cluster.sh" down >/dev/null
        "$root/scripts/real-node.sh" down >/dev/null
      fi
      ((rc == 0)) || exit "$rc" ;;
    *) echo "usage: $0 [sidecar|operator|sdk|real]..." >&2; exit 2 ;;
  esac
done
