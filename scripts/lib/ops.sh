# Shared by the operations guide's helpers (wait_for_pod.sh, debug_pod.sh, exec_test.sh).
# The caller sets OPS_NAME (its file name) and OPS_USAGE before sourcing. Exit codes across the
# helpers: 0 healthy / done, 1 not (or kubectl or the cluster failed), 2 usage error.

ops_usage_error() {  # ops_usage_error MESSAGE
  echo "$OPS_NAME: $1" >&2
  echo "$OPS_USAGE" >&2
  exit 2
}

ops_help_requested() {  # ops_help_requested ARGS...: prints the usage and exits 0 on -h/--help
  local a
  for a in "$@"; do
    case "$a" in -h | --help) echo "$OPS_USAGE"; exit 0 ;; esac
  done
}

ops_need_kubectl() {
  command -v kubectl >/dev/null 2>&1 && return
  echo "$OPS_NAME: kubectl not found on PATH: install kubectl, or put the one scripts/install-kube-tools.sh" \
    "builds (~/.cache/arl/bin/k8s-v1.33.13) first on PATH" >&2
  exit 1
}

ops_check_pattern() {  # ops_check_pattern PATTERN: a usage error unless it is a valid extended regex
  local rc=0
  [[ "" =~ $1 ]] || rc=$?
  ((rc != 2)) || ops_usage_error "pod pattern '$1': not a valid extended regular expression"
}

ops_check_seconds() {  # ops_check_seconds VALUE
  [[ "$1" =~ ^[0-9]+$ ]] || ops_usage_error "timeout '$1': expected whole seconds, e.g. 300"
}

# One line per pod of namespace $1:
#   name|phase|deletionTimestamp|containers|ready containers|containers' reasons|conditions' reasons
# "containers" and "ready containers" are one letter per container, so ${#x} counts them. The
# reasons: each non-ready container's waiting/terminated reason (name=Reason, or name= while it
# runs unready), and the pod's False conditions (type=Reason: e.g. PodScheduled=Unschedulable
# before any container exists). Names never contain '|'.
OPS_POD_FIELDS='{range .items[*]}{.metadata.name}{"|"}{.status.phase}{"|"}{.metadata.deletionTimestamp}{"|"}'\
'{range .spec.containers[*]}c{end}{"|"}{range .status.containerStatuses[?(@.ready==true)]}r{end}{"|"}'\
'{range .status.containerStatuses[?(@.ready==false)]}{.name}={.state.waiting.reason}{.state.terminated.reason} {end}{"|"}'\
'{range .status.conditions[?(@.status=="False")]}{.type}={.reason} {end}{"\n"}{end}'

ops_list_pods() {  # ops_list_pods NAMESPACE: the lines above on stdout; kubectl's error on stderr, status 1
  kubectl get pods -n "$1" -o jsonpath="$OPS_POD_FIELDS"
}

# ops_pod_line_ready LINE: true when the pod is Running, not being deleted, all containers ready.
ops_pod_line_ready() {
  local name phase deleting containers ready _rest
  IFS='|' read -r name phase deleting containers ready _rest <<<"$1"
  [[ "$phase" == Running && -z "$deleting" && ${#containers} -gt 0 && ${#ready} -eq ${#containers} ]]
}

# ops_describe_line LINE: "NAME: PHASE, R/N containers ready[, being deleted][; reasons]" for messages.
# The containers' reasons say it best; the pod's conditions only while no container has one (they
# then say e.g. Ready=ContainersNotReady, which adds nothing).
ops_describe_line() {
  local name phase deleting containers ready cwhy pwhy out word why=()
  IFS='|' read -r name phase deleting containers ready cwhy pwhy <<<"$1"
  for word in $cwhy; do
    [[ "$word" == *= ]] && word="${word}NotReady"  # running, but its readiness probe fails
    why+=("$word")
  done
  if ((${#why[@]} == 0)); then
    for word in $pwhy; do
      [[ "$word" == *= ]] || why+=("$word")
    done
  fi
  out="$name: ${phase:-no phase yet}, ${#ready}/${#containers} containers ready"
  [[ -z "$deleting" ]] || out+=", being deleted"
  ((${#why[@]} == 0)) || out+="; ${why[*]}"
  echo "$out"
}
