#!/usr/bin/env bash
# The main job on a fresh machine: installs what ARL needs, brings up the local
# cluster (real kube-apiserver + etcd + controller-manager, the local node and
# `arl operator`), then runs the sample task of manifests/samples end to end:
# WarmPool -> Sandbox -> Task, and prints the task's output.
# The cluster stays up afterwards; `scripts/local-cluster.sh down` stops it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export ARL_STATE="${ARL_STATE:-/tmp/arl-local}"
scripts/setup.sh
scripts/local-cluster.sh up
export KUBECONFIG="$ARL_STATE/kubeconfig"
bin="$(scripts/install-kube-tools.sh control-plane 2>/dev/null | tail -1)"
kubectl="$bin/kubectl"
arl="${ARL_BIN:-$root/build/arl}"

echo "== creating the sample pool, sandbox and task (kubectl apply -f manifests/samples/)"
"$kubectl" delete task my-task --ignore-not-found >/dev/null
"$kubectl" apply -f manifests/samples/
"$kubectl" wait --for=jsonpath='{.status.phase}'=Ready sandbox/my-agent-workspace --timeout=60s
if ! "$kubectl" wait --for=jsonpath='{.status.state}'=Succeeded task/my-task --timeout=60s; then
  "$kubectl" get task my-task -o yaml
  exit 1
fi
echo "== task my-task succeeded; its output:"
"$kubectl" get task my-task -o jsonpath='{.status.stdout}'
echo "== the same sandbox, straight through the executor:"
"$arl" kubectl sandbox exec my-agent-workspace -- python -c 'print(6 * 7)' || true
echo "== try more:  export KUBECONFIG=$KUBECONFIG; $arl kubectl --help"
