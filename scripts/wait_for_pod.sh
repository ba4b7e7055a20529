#!/usr/bin/env bash
# Waits until the pods whose names match a pattern are Running with every container ready.
#
#   scripts/wait_for_pod.sh <namespace> <pod-pattern> [timeout-seconds]     (default 300; 0 checks once)
#   scripts/wait_for_pod.sh default "operator" 300
#
# The pattern is an extended regular expression matched against pod names (a plain substring
# works). Pods being deleted are ignored; at least one pod must match, and every matching pod
# must be ready, so a rollout that still has a new pod starting is not done yet.
# Exit codes: 0 all matching pods ready, 1 timed out (what each pod lacks is printed, or that no
# pod matched), 2 usage error. Uses kubectl from PATH with its usual $KUBECONFIG and context.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
OPS_NAME=wait_for_pod.sh
OPS_USAGE="usage: scripts/wait_for_pod.sh <namespace> <pod-pattern> [timeout-seconds]"
# shellcheck source=lib/ops.sh
source "$here/lib/ops.sh"

ops_help_requested "$@"
(($# >= 2 && $# <= 3)) || ops_usage_error "expected 2 or 3 arguments, got $#"
ns="$1" pattern="$2" timeout="${3:-300}"
[[ -n "$ns" && -n "$pattern" ]] || ops_usage_error "namespace and pod pattern must not be empty"
ops_check_pattern "$pattern"
ops_check_seconds "$timeout"
ops_need_kubectl

errf="$(mktemp)"
trap 'rm -f "$errf"' EXIT
deadline=$((SECONDS + timeout))
shown=""
while :; do
  err="" matched=() all_ready=1
  if out="$(ops_list_pods "$ns" 2>"$errf")"; then
    while IFS= read -r line; do
      [[ -n "$line" ]] || continue
      name="${line%%|*}"
      [[ "$name" =~ $pattern ]] || continue
      IFS='|' read -r _ _ deleting _ <<<"$line"
      [[ -z "$deleting" ]] || continue
      matched+=("$line")
      ops_pod_line_ready "$line" || all_ready=0
    done <<<"$out"
  else
    # kubectl's last line is its summary; the lines before repeat client-go's retries.
    err="$(grep -v '^[[:space:]]*$' "$errf" | tail -n1)"
    err="${err:-kubectl exited with an error and said nothing}"
  fi
  if [[ -z "$err" ]] && ((${#matched[@]} > 0 && all_ready)); then
    for line in "${matched[@]}"; do echo "pod $ns/$(ops_describe_line "$line")"; done
    exit 0
  fi
  if [[ -n "$err" ]]; then state="kubectl failed: $err"
  elif ((${#matched[@]} == 0)); then state="no pod matches '$pattern' yet"
  else state="$(for line in "${matched[@]}"; do ops_pod_line_ready "$line" || ops_describe_line "$line"; done)"
  fi
  ((SECONDS < deadline)) || break
  if [[ "$state" != "$shown" ]]; then
    echo "waiting for pods matching '$pattern' in $ns: ${state//$'\n'/; }"
    shown="$state"
  fi
  sleep 1
done

echo "timed out after ${timeout}s waiting for pods matching '$pattern' in namespace $ns:"
if [[ -n "$err" ]]; then
  echo "  kubectl failed: $err"
elif ((${#matched[@]} == 0)); then
  if ! kubectl get namespace "$ns" -o name >/dev/null 2>&1; then
    echo "  namespace $ns does not exist"
  else
    names="$(cut -d'|' -f1 <<<"$out" | head -20 | paste -sd' ' -)"
    echo "  no pod matches '$pattern' (pods in $ns: ${names:-<none>})"
  fi
else
  while IFS= read -r line; do echo "  not ready: $line"; done <<<"$state"
fi
exit 1
