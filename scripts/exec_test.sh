#!/usr/bin/env bash
# Runs a command in the first Running pod whose name matches a pattern (pods listed by name).
#
#   scripts/exec_test.sh [-c container] <namespace> <pod-pattern> <command> [args...]
#   scripts/exec_test.sh default "sidecar" curl -f http://localhost:8080/health
#   scripts/exec_test.sh test-integration app "curl -f http://api-service/test"   (one word with
#                                              spaces runs under `sh -c`, so the image needs a sh)
#
# The pattern is an extended regular expression matched against pod names (a plain substring or
# a full pod name works). Pods being deleted are skipped. The command runs in the pod's default
# container (kubectl's choice) unless -c names one; the stdin of this script is not passed on.
# Exit codes: the command's own (0 when it passed), 1 when no Running pod matches or kubectl
# cannot run it (its message is shown), 2 usage error.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
OPS_NAME=exec_test.sh
OPS_USAGE="usage: scripts/exec_test.sh [-c container] <namespace> <pod-pattern> <command> [args...]"
# shellcheck source=lib/ops.sh
source "$here/lib/ops.sh"

container=()
case "${1:-}" in
  -h | --help) echo "$OPS_USAGE"; exit 0 ;;
  -c | --container)
    [[ -n "${2:-}" ]] || ops_usage_error "$1 needs a container name"
    container=(-c "$2"); shift 2 ;;
esac
(($# >= 3)) || ops_usage_error "expected a namespace, a pod pattern and a command, got $# arguments"
ns="$1" pattern="$2"
shift 2
[[ -n "$ns" && -n "$pattern" && -n "$1" ]] || ops_usage_error "namespace, pod pattern and command must not be empty"
ops_check_pattern "$pattern"
cmd=("$@")
if (($# == 1)) && [[ "$1" == *[[:space:]]* ]]; then
  cmd=(sh -c "$1")
fi
ops_need_kubectl

errf="$(mktemp)"
trap 'rm -f "$errf"' EXIT
if ! out="$(ops_list_pods "$ns" 2>"$errf")"; then
  echo "$OPS_NAME: listing pods in namespace $ns failed: $(grep -v '^[[:space:]]*$' "$errf" | tail -n1)" >&2
  exit 1
fi
target="" others=()
while IFS= read -r line; do
  [[ -n "$line" ]] || continue
  IFS='|' read -r name phase deleting _ <<<"$line"
  [[ "$name" =~ $pattern ]] || continue
  if [[ "$phase" == Running && -z "$deleting" ]]; then
    target="$name"
    break
  fi
  others+=("$(ops_describe_line "$line")")
done <<<"$(sort <<<"$out")"

if [[ -z "$target" ]]; then
  if ((${#others[@]})); then
    echo "$OPS_NAME: no Running pod in namespace $ns matches '$pattern'; matching pods: $(IFS=';'; echo "${others[*]}")" >&2
  else
    names="$(cut -d'|' -f1 <<<"$out" | head -20 | paste -sd' ' -)"
    echo "$OPS_NAME: no pod in namespace $ns matches '$pattern' (pods there: ${names:-<none>})" >&2
  fi
  exit 1
fi

echo "$OPS_NAME: running in pod $ns/$target: ${cmd[*]}" >&2
# kubectl's stderr is shown as it comes and kept: a failing remote command and kubectl failing
# to run it (no kubelet, no such container) both exit non-zero, and only the text tells them apart.
{ kubectl exec -n "$ns" "$target" "${container[@]}" -- "${cmd[@]}" 2>&1 1>&3 | tee "$errf" >&2; } 3>&1
rc=$?  # pipefail: kubectl's status unless tee itself failed
((rc == 0)) && exit 0
if grep -q 'command terminated with exit code' "$errf"; then
  echo "$OPS_NAME: \`${cmd[*]}\` exited with code $rc in pod $ns/$target" >&2
else
  echo "$OPS_NAME: kubectl could not run \`${cmd[*]}\` in pod $ns/$target (exit $rc): $(grep -v '^[[:space:]]*$' "$errf" | tail -n1)" >&2
  rc=1
fi
exit "$rc"
