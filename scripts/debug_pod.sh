#!/usr/bin/env bash
# Everything worth reading about one pod, in one go (e.g. `scripts/debug_pod.sh ns pod > debug.log`):
#   summary (phase, node, IP), each container's state and last state, resource requests and
#   limits, `kubectl describe`, current and previous logs of every container (init containers
#   too), the pod's events, and the namespace's recent warnings.
#
#   scripts/debug_pod.sh <namespace> <pod-name>
#
# A section kubectl cannot fill (e.g. logs from a node whose kubelet is unreachable) says why and
# the report goes on. Environment: DEBUG_POD_TAIL lines of log per container (default 200).
# Exit codes: 0 the pod is healthy (Running with every container ready, or Succeeded), 1 it is
# not or does not exist (the last line says which), 2 usage error.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
OPS_NAME=debug_pod.sh
OPS_USAGE="usage: scripts/debug_pod.sh <namespace> <pod-name>"
# shellcheck source=lib/ops.sh
source "$here/lib/ops.sh"

ops_help_requested "$@"
(($# == 2)) || ops_usage_error "expected 2 arguments, got $#"
ns="$1" pod="$2"
[[ -n "$ns" && -n "$pod" ]] || ops_usage_error "namespace and pod name must not be empty"
tail_lines="${DEBUG_POD_TAIL:-200}"
[[ "$tail_lines" =~ ^[0-9]+$ ]] || ops_usage_error "DEBUG_POD_TAIL=$tail_lines: expected a number of lines"
ops_need_kubectl

section() { printf '\n===== %s\n' "$*"; }
# run CMD...: runs a kubectl command; its failure is reported in the report, not fatal.
run() {
  "$@" 2>&1 || echo "(unavailable: \`${*}\` exited with status $?)"
}

if ! err="$(kubectl get pod -n "$ns" "$pod" -o name 2>&1)"; then
  echo "pod $ns/$pod: cannot read it: $(tail -n1 <<<"$err")"
  if pods="$(kubectl get pods -n "$ns" -o name 2>/dev/null)" && [[ -n "$pods" ]]; then
    echo "pods in $ns: $(sed 's|^pod/||' <<<"$pods" | head -20 | paste -sd' ' -)"
  fi
  echo "verdict: pod $ns/$pod not found"
  exit 1
fi

section "Pod $ns/$pod"
run kubectl get pod -n "$ns" "$pod" -o wide

section "Containers: state, restarts, last state"
# init containers first: they run first, and a pod stuck in Init:... is explained by them.
run kubectl get pod -n "$ns" "$pod" -o jsonpath='{range .status.initContainerStatuses[*]}init {.name}: ready={.ready} restarts={.restartCount} state={.state} last={.lastState}{"\n"}{end}{range .status.containerStatuses[*]}{.name}: ready={.ready} restarts={.restartCount} state={.state} last={.lastState}{"\n"}{end}'

section "Resources: requests and limits"
# An empty map prints as nothing: say <none>, as kubectl describe does.
run kubectl get pod -n "$ns" "$pod" -o jsonpath='QoS class: {.status.qosClass}{"\n"}{range .spec.initContainers[*]}init {.name}: requests={.resources.requests} limits={.resources.limits}{"\n"}{end}{range .spec.containers[*]}{.name}: requests={.resources.requests} limits={.resources.limits}{"\n"}{end}' \
  | sed -E 's/=( |$)/=<none>\1/g'

section "kubectl describe pod"
run kubectl describe pod -n "$ns" "$pod"

# name|restartCount for every container, init containers first.
containers="$(kubectl get pod -n "$ns" "$pod" -o jsonpath='{range .spec.initContainers[*]}{.name}{"\n"}{end}{range .spec.containers[*]}{.name}{"\n"}{end}' 2>/dev/null)"
restarts() {
  kubectl get pod -n "$ns" "$pod" -o jsonpath="{.status.initContainerStatuses[?(@.name==\"$1\")].restartCount}{.status.containerStatuses[?(@.name==\"$1\")].restartCount}" 2>/dev/null
}
while IFS= read -r c; do
  [[ -n "$c" ]] || continue
  section "Logs of container $c (last $tail_lines lines)"
  run kubectl logs -n "$ns" "$pod" -c "$c" --tail="$tail_lines"
  n="$(restarts "$c")"
  section "Logs of container $c, previous instance"
  if [[ "${n:-0}" =~ ^[0-9]+$ ]] && ((${n:-0} > 0)); then
    run kubectl logs -n "$ns" "$pod" -c "$c" --previous --tail="$tail_lines"
  else
    echo "(none: the container has not restarted)"
  fi
done <<<"$containers"

section "Events of pod $ns/$pod"
run kubectl events -n "$ns" --for "pod/$pod"

section "Recent warnings in namespace $ns"
# kubectl events lists oldest first: its header line, then the newest 20.
run bash -c 'kubectl events -n "$1" --types=Warning | { IFS= read -r h && echo "$h"; tail -n 20; }' _ "$ns"

line="$(kubectl get pods -n "$ns" --field-selector "metadata.name=$pod" -o jsonpath="$OPS_POD_FIELDS" 2>/dev/null)"
echo
if [[ -z "$line" ]]; then
  echo "verdict: pod $ns/$pod is gone (deleted while this report was gathered)"
  exit 1
fi
if ops_pod_line_ready "$line" || [[ "$(cut -d'|' -f2 <<<"$line")" == Succeeded ]]; then
  echo "verdict: healthy: $(ops_describe_line "$line")"
  exit 0
fi
echo "verdict: not healthy: $(ops_describe_line "$line")"
exit 1
