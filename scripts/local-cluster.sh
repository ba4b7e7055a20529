#!/usr/bin/env bash
# One command for a local ARL cluster: a real kube-apiserver + etcd +
# kube-controller-manager (scripts/control-plane.sh), the CRDs and RBAC of
# manifests/, the local node agent (`arl localnode`: pods run as host processes
# in a network namespace with IPs from 198.18.0.0/15, NO isolation, local use
# only) and `arl operator`.
#
#   scripts/local-cluster.sh up                start everything (idempotent); prints the kubeconfig path
#   scripts/local-cluster.sh down              stop everything, remove the network namespace
#   scripts/local-cluster.sh env               print `export KUBECONFIG=...`
#   scripts/local-cluster.sh status            what runs
#   scripts/local-cluster.sh restart-operator  restart `arl operator` (tests kill it on purpose)
#   scripts/local-cluster.sh restart-apiserver|restart-etcd [--kill]
#                                              restart one control-plane component (control-plane.sh)
#   scripts/local-cluster.sh restart-localnode [--kill]
#                                              restart the node agent: stopped (SIGTERM) it stops
#                                              its pods first, as a drained node would; killed
#                                              (--kill, a crash) it leaves them running and the new
#                                              agent takes them over
#   scripts/local-cluster.sh up|down|env|status --node real
#                                              the same on a REAL node (kubelet + containerd, ARL
#                                              installed by its Helm chart): scripts/real-node.sh
#
# ARL_STATE (default /tmp/arl-local) holds everything; ARL_BIN names the arl
# binary (default: built into build/ by this script).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

# `--node real|local` anywhere on the line picks the kind of node; local is the fast default.
node=local
args=()
while (($#)); do
  case "$1" in
    --node) node="${2:-}"; shift 2 || { echo "--node needs a value: local or real" >&2; exit 2; } ;;
    --node=*) node="${1#--node=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]+"${args[@]}"}"
case "$node" in
  local) ;;
  real) exec "$here/real-node.sh" "$@" ;;
  *) echo "--node $node: expected local or real" >&2; exit 2 ;;
esac

export ARL_STATE="${ARL_STATE:-/tmp/arl-local}"
STATE="$ARL_STATE"
KUBECONFIG_FILE="$STATE/kubeconfig"
# One netns per state dir, so two local clusters (a demo and CI) never share one.
NETNS="arl-$(echo -n "$STATE" | md5sum | cut -c1-6)"
POD_CIDR="${ARL_POD_CIDR:-198.18.0.0/16}"
# A restart of the node agent must reuse the range `up` gave it, whatever the caller's
# environment says: another range would re-address the pod network on the host.
if [[ -z "${ARL_POD_CIDR:-}" && -s "$STATE/pod-cidr" ]]; then POD_CIDR="$(cat "$STATE/pod-cidr")"; fi

# shellcheck source=lib/pids.sh
source "$here/lib/pids.sh"
# shellcheck source=lib/lease.sh
source "$here/lib/lease.sh"

log() { echo "local-cluster: $*" >&2; }
die() { log "$*"; exit 1; }


stop() {  # stop NAME: SIGTERM, wait up to 15 s, then SIGKILL
  local pid i
  pid="$(live_pid "$1")" || { rm -f "$STATE/pids/$1.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { log "$1 ignored SIGTERM; killing it"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; }
  rm -f "$STATE/pids/$1.pid"
}

arl_bin() {
  if [[ -n "${ARL_BIN:-}" ]]; then
    [[ -x "$ARL_BIN" ]] || die "ARL_BIN=$ARL_BIN is not an executable"
    echo "$ARL_BIN"; return
  fi
  log "building arl (build/)"
  cmake -S "$root" -B "$root/build" -G Ninja >/dev/null
  cmake --build "$root/build" --target arl >&2
  echo "$root/build/arl"
}

start_operator() {
  local arl="$1" metrics health i attempt mark
  # Fresh ports from the kernel on every start (the operator never needs its
  # old ones back). Between this probe closing a port and the operator binding
  # it, an outgoing connection can take it as its local port: the operator
  # then exits with "cannot listen", and is started again on other ports.
  for attempt in 1 2 3; do
    read -r metrics health < <(python3 -c 'import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
    mark="$(wc -c < "$STATE/logs/operator.log" 2>/dev/null || echo 0)"
    setsid "$arl" operator --kubeconfig "$KUBECONFIG_FILE" --image arl:local \
      --metrics-addr "127.0.0.1:$metrics" --health-addr "127.0.0.1:$health" \
      </dev/null >>"$STATE/logs/operator.log" 2>&1 &
    echo $! > "$STATE/pids/operator.pid"
    printf 'ARL_OPERATOR_METRICS=http://127.0.0.1:%s/metrics\nARL_OPERATOR_HEALTH=http://127.0.0.1:%s\n' "$metrics" "$health" > "$STATE/operator.env"
    for i in $(seq 300); do
      curl -fsS "http://127.0.0.1:$health/readyz" >/dev/null 2>&1 && return 0
      if ! live_pid operator >/dev/null; then
        if tail -c +"$((mark + 1))" "$STATE/logs/operator.log" | grep -q 'cannot listen'; then
          log "operator: port $metrics or $health was taken before it could listen; other ports (attempt $attempt)"
          continue 2
        fi
        tail -n 20 "$STATE/logs/operator.log" >&2
        die "arl operator exited (log: $STATE/logs/operator.log)"
      fi
      sleep 0.1
    done
    die "arl operator not ready after 30 s (log: $STATE/logs/operator.log)"
  done
  die "arl operator could not listen on three pairs of fresh ports (log: $STATE/logs/operator.log)"
}

start_localnode() {
  local arl="$1" bin i ready="" since
  bin="$("$here/install-kube-tools.sh" control-plane 2>/dev/null | tail -n1)"
  kubectl_() { "$bin/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }
  since="$(date -u +%s.%N)"
  setsid "$arl" localnode --kubeconfig "$KUBECONFIG_FILE" --netns "$NETNS" --pod-cidr "$POD_CIDR" \
    --state-dir "$STATE/node" </dev/null >>"$STATE/logs/localnode.log" 2>&1 &
  echo $! > "$STATE/pids/localnode.pid"
  # The agent registers (and renews the Lease) once it has taken over the pods an earlier agent
  # left; after a restart the old agent's Ready condition is still on the Node (lib/lease.sh).
  for i in $(seq 600); do  # `kubectl wait` fails at once while the Node does not exist yet
    if lease_renewed_since local-node "$since"; then
      ready="$(kubectl_ get node local-node -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)"
      [[ "$ready" == True ]] && break
    fi
    live_pid localnode >/dev/null || break
    sleep 0.1
  done
  if [[ "$ready" != True ]]; then
    tail -n 20 "$STATE/logs/localnode.log" >&2
    die "the local node did not become Ready (log: $STATE/logs/localnode.log)"
  fi
}

up() {
  mkdir -p "$STATE/pids" "$STATE/logs"
  "$here/control-plane.sh" up >/dev/null
  local bin kubectl arl
  bin="$("$here/install-kube-tools.sh" control-plane 2>/dev/null | tail -n1)"
  kubectl=("$bin/kubectl" --kubeconfig "$KUBECONFIG_FILE")
  arl="$(arl_bin)"
  echo "$arl" > "$STATE/arl-bin"
  echo "$POD_CIDR" > "$STATE/pod-cidr"

  "${kubectl[@]}" apply -f "$root/manifests/crds" -f "$root/manifests/namespace.yaml" -f "$root/manifests/rbac.yaml" \
    -f "$root/manifests/rbac-pool-secrets.yaml" -f "$root/manifests/rbac-sandbox-env.yaml" \
    -f "$root/manifests/warmpool-delete-warning.yaml" >/dev/null
  "${kubectl[@]}" wait --for=condition=Established --timeout=60s \
    crd/warmpools.arl.infra.io crd/sandboxes.arl.infra.io crd/tasks.arl.infra.io >/dev/null

  live_pid localnode >/dev/null || start_localnode "$arl"
  live_pid operator >/dev/null || start_operator "$arl"
  log "ready: operator, local node (netns $NETNS, pods from $POD_CIDR), API server; logs in $STATE/logs"
  echo "$KUBECONFIG_FILE"
}

down() {
  stop operator
  stop localnode
  if ip netns list 2>/dev/null | grep -qw "$NETNS"; then
    log "removing leftover network namespace $NETNS"
    ip netns delete "$NETNS" 2>/dev/null || true
  fi
  "$here/control-plane.sh" down
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) echo "export KUBECONFIG=$KUBECONFIG_FILE" ;;
  status)
    for c in localnode operator; do
      if pid="$(live_pid "$c")"; then echo "$c: running (pid $pid)"; else echo "$c: stopped"; fi
    done
    "$here/control-plane.sh" status ;;
  restart-operator)
    [[ -s "$STATE/arl-bin" ]] || die "no local cluster in $STATE: run 'scripts/local-cluster.sh up' first"
    stop operator
    start_operator "$(cat "$STATE/arl-bin")"
    log "operator restarted" ;;
  restart-apiserver|restart-etcd) exec "$here/control-plane.sh" "$@" ;;
  restart-localnode)
    [[ -s "$STATE/arl-bin" && -s "$STATE/pod-cidr" ]] || die "no local cluster in $STATE: run 'scripts/local-cluster.sh up' first"
    POD_CIDR="$(cat "$STATE/pod-cidr")"
    if [[ "${2:-}" == --kill ]]; then
      pid="$(live_pid localnode)" && kill -KILL "$pid" 2>/dev/null
      rm -f "$STATE/pids/localnode.pid"
    else
      stop localnode
    fi
    start_localnode "$(cat "$STATE/arl-bin")"
    log "local node agent restarted" ;;
  *) echo "usage: $0 up|down|env|status|restart-operator|restart-apiserver|restart-etcd|restart-localnode [--node local|real]" >&2; exit 2 ;;
esac
