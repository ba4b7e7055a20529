#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for tests and local use: etcd, kube-apiserver
# (RBAC on, token auth) and kube-controller-manager (garbage collector, namespace, and the
# deployment, replicaset and job controllers that the SDK's KubernetesAdapter tests drive),
# all built from source by scripts/install-kube-tools.sh and cached outside the repo.
#
#   scripts/control-plane.sh up      start (or confirm running); writes $ARL_STATE/kubeconfig
#   scripts/control-plane.sh down    stop every process `up` started; keeps logs
#   scripts/control-plane.sh env     print `export KUBECONFIG=...`
#   scripts/control-plane.sh status  show processes and /readyz; exit 1 unless all are up
#   scripts/control-plane.sh restart-apiserver|restart-etcd [--kill]
#                                    stop one component (SIGTERM, or SIGKILL with --kill) and start
#                                    it again with the same command line, ports and data; waits
#                                    until ready. For the fault tests (issue 19): watches break,
#                                    clients must resume or re-list.
#
# State (certs, tokens, etcd data, pids, logs) lives in ${ARL_STATE:-/tmp/arl-local}; ports are
# picked free at each `up`, so several state dirs can run side by side.
# ARL_APISERVER_FLAGS adds kube-apiserver flags (e.g. feature gates); ARL_STARTUP_TIMEOUT
# (seconds, default 90) bounds the wait for /readyz; ARL_CONTROL_PLANE_GOGC (default 400) is
# the Go GC target of etcd, the API server and the controller manager.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib/pki.sh
source "$here/lib/pki.sh"
# shellcheck source=lib/ports.sh
source "$here/lib/ports.sh"
# shellcheck source=lib/pids.sh
source "$here/lib/pids.sh"

STATE="${ARL_STATE:-/tmp/arl-local}"
case "$STATE" in /*) ;; *) STATE="$(pwd)/$STATE" ;; esac
TIMEOUT="${ARL_STARTUP_TIMEOUT:-90}"
# With Go's default (100) the API server's ~150 MB live heap is collected every ~1.3 s under
# 25 allocations/s, and each cycle holds every request in flight for 10-25 ms on 2 cores: most
# of the p99 of `scripts/bench.sh operator` (docs/design.md "Latency spread"). Memory is not
# scarce on a machine that runs a test cluster; restarts (cmd_restart) inherit it too.
export GOGC="${ARL_CONTROL_PLANE_GOGC:-400}"
COMPONENTS=(etcd kube-apiserver kube-controller-manager)

log() { echo "control-plane: $*" >&2; }
die() { log "$*"; exit 1; }


binaries() {
  local out
  out="$("$here/install-kube-tools.sh" control-plane)" || die "building the Kubernetes binaries failed (see the messages above)"
  BIN="$(tail -n1 <<<"$out")"
  local b
  for b in etcd kube-apiserver kube-controller-manager kubectl; do
    [[ -x "$BIN/$b" ]] || die "missing $BIN/$b after install-kube-tools.sh"
  done
}

# start NAME BINARY ARGS...: detached (own session, no inherited stdio) so callers that capture
# our output, like `$(control-plane.sh up)` or pytest, never wait on the daemons' pipes.
start() {
  local name="$1"; shift
  setsid "$@" </dev/null >"$STATE/logs/$name.log" 2>&1 &
  echo $! > "$STATE/pids/$name.pid"
}

log_tails() {
  local c
  for c in "${COMPONENTS[@]}"; do
    [[ -s "$STATE/logs/$c.log" ]] || continue
    echo "---- last lines of $STATE/logs/$c.log" >&2
    tail -n 15 "$STATE/logs/$c.log" >&2
  done
}

# Polls until the API server's /readyz and the controller manager's /healthz answer 200, failing
# early when one of our processes dies.
wait_ready() {
  python3 - "$STATE" "$API_PORT" "$KCM_PORT" "$TIMEOUT" <<'PY'
import os, ssl, sys, time, urllib.request
state, api_port, kcm_port, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
token = open(f"{state}/pki/admin.token").read().strip()
api_ctx = ssl.create_default_context(cafile=f"{state}/pki/ca.crt")
kcm_ctx = ssl._create_unverified_context()  # kcm serves a self-signed cert of its own
checks = {
    "kube-apiserver /readyz": (f"https://127.0.0.1:{api_port}/readyz", api_ctx, {"Authorization": f"Bearer {token}"}),
    "kube-controller-manager /healthz": (f"https://127.0.0.1:{kcm_port}/healthz", kcm_ctx, {}),
}
pending = dict(checks)
deadline = time.monotonic() + timeout
last = {}
while pending and time.monotonic() < deadline:
    for name in ("etcd", "kube-apiserver", "kube-controller-manager"):
        pid = int(open(f"{state}/pids/{name}.pid").read())
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ")[1].startswith("Z"):
                    raise ProcessLookupError
        except ProcessLookupError:
            print(f"control-plane: {name} exited during startup", file=sys.stderr)
            sys.exit(1)
    for name, (url, ctx, headers) in list(pending.items()):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), context=ctx, timeout=2) as r:
                if r.status == 200:
                    del pending[name]
        except Exception as e:  # not up yet: keep the reason for the timeout message
            last[name] = str(e)
    time.sleep(0.05)
if pending:
    for name in pending:
        print(f"control-plane: {name} not ready after {timeout:g}s (last answer: {last.get(name, 'none')})", file=sys.stderr)
    sys.exit(1)
PY
}

cmd_up() {
  if running_all && wait_ready_quiet; then
    log "already running (state $STATE)"
    echo "$STATE/kubeconfig"
    return 0
  fi
  cmd_down >/dev/null 2>&1 || true

  local t0=$SECONDS
  binaries
  mkdir -p "$STATE"/{pki,pids,logs,kcm}
  # Only our own files: scripts/local-cluster.sh keeps its pids and logs in the same dirs.
  rm -rf "$STATE/etcd"
  for c in "${COMPONENTS[@]}"; do rm -f "$STATE/pids/$c.pid" "$STATE/logs/$c.log"; done
  pki_generate "$STATE/pki"

  read -r ETCD_PORT PEER_PORT API_PORT KCM_PORT < <(free_ports 4)
  local server="https://127.0.0.1:$API_PORT"
  pki_kubeconfig "$STATE/kubeconfig" "$server" "$STATE/pki/ca.crt" "$STATE/pki/admin.token" arl-admin
  pki_kubeconfig "$STATE/kcm/kubeconfig" "$server" "$STATE/pki/ca.crt" "$STATE/pki/controller-manager.token" kube-controller-manager
  cat > "$STATE/control-plane.env" <<EOF
ARL_API_SERVER=$server
ARL_API_PORT=$API_PORT
ARL_ETCD_PORT=$ETCD_PORT
ARL_KCM_PORT=$KCM_PORT
ARL_KUBE_BIN=$BIN
ARL_CA_FILE=$STATE/pki/ca.crt
ARL_ADMIN_TOKEN_FILE=$STATE/pki/admin.token
KUBECONFIG=$STATE/kubeconfig
EOF

  # No fsync: the data is thrown away with the state dir, and fsync dominates write latency.
  start etcd "$BIN/etcd" --name default --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
    --initial-cluster "default=http://127.0.0.1:$PEER_PORT" \
    --unsafe-no-fsync --log-level warn --quota-backend-bytes 4294967296

  # Priority-and-fairness off and high inflight limits: tests create hundreds of objects at
  # once and must measure ARL, not the server's queueing. The ServiceAccount admission plugin
  # is off because no token controller runs to create service-account tokens. No endpoint
  # reconciler: it would publish 127.0.0.1 for the `kubernetes` Service, which the API refuses.
  local pki="$STATE/pki"
  start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --cert-dir "$STATE/apiserver" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --token-auth-file "$pki/tokens.csv" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --authorization-mode RBAC \
    --disable-admission-plugins ServiceAccount \
    --enable-priority-and-fairness=false \
    --max-requests-inflight 3000 --max-mutating-requests-inflight 1500 \
    --allow-privileged=true --profiling=false \
    --endpoint-reconciler-type none \
    --kubelet-preferred-address-types InternalIP \
    ${ARL_APISERVER_FLAGS:-}

  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$STATE/kcm/kubeconfig" \
    --controllers garbagecollector,namespace,deployment,replicaset,job --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --cert-dir "$STATE/kcm" \
    --concurrent-gc-syncs 50 --concurrent-namespace-syncs 10 \
    --kube-api-qps 1000 --kube-api-burst 2000 --profiling=false

  if ! wait_ready; then
    log_tails
    cmd_down >/dev/null 2>&1 || true
    die "startup failed; logs are in $STATE/logs"
  fi
  log "ready in $((SECONDS - t0))s: $server (state $STATE)"
  echo "$STATE/kubeconfig"
}

running_all() {
  local c
  for c in "${COMPONENTS[@]}"; do live_pid "$c" >/dev/null || return 1; done
  [[ -s "$STATE/control-plane.env" ]]
}

wait_ready_quiet() {
  # shellcheck disable=SC1091
  API_PORT="$(. "$STATE/control-plane.env" && echo "$ARL_API_PORT")"
  KCM_PORT="$(. "$STATE/control-plane.env" && echo "$ARL_KCM_PORT")"
  TIMEOUT=5 wait_ready 2>/dev/null
}

cmd_down() {
  local c pid pids=()
  # Reverse start order: the controller manager first, so nothing logs errors about a
  # vanished API server, etcd last.
  local i
  for ((i=${#COMPONENTS[@]}-1; i>=0; i--)); do
    c="${COMPONENTS[$i]}"
    if pid="$(live_pid "$c")"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  local deadline=$((SECONDS + 10)) alive
  while ((SECONDS < deadline)); do
    alive=()
    for pid in "${pids[@]}"; do [[ -d /proc/$pid ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]})) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do
    while [[ -d /proc/$pid ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
      ((SECONDS < deadline)) || die "pid $pid survived SIGKILL for 10s (stuck in the kernel?)"
      sleep 0.05
    done
  done
  for c in "${COMPONENTS[@]}"; do rm -f "$STATE/pids/$c.pid"; done
  rm -f "$STATE/control-plane.env"
  rm -rf "$STATE/etcd"
  log "stopped (${#pids[@]} processes; logs kept in $STATE/logs)"
}

# restart COMPONENT [--kill]: the same argv (read back from /proc), so ports, certificates and
# etcd's data dir stay; logs are appended to. The other components keep running throughout.
cmd_restart() {
  local name="$1" sig=TERM pid
  [[ "${2:-}" == --kill ]] && sig=KILL
  pid="$(live_pid "$name")" || die "$name is not running in $STATE: run '$0 up' first"
  local argv=()
  mapfile -d '' argv < "/proc/$pid/cmdline"
  ((${#argv[@]})) || die "cannot read the command line of $name (pid $pid)"
  local t0=$SECONDS
  kill "-$sig" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 15))
  while [[ -d /proc/$pid ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
    if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.05
  done
  setsid "${argv[@]}" </dev/null >>"$STATE/logs/$name.log" 2>&1 &
  echo $! > "$STATE/pids/$name.pid"
  # shellcheck disable=SC1091
  API_PORT="$(. "$STATE/control-plane.env" && echo "$ARL_API_PORT")"
  KCM_PORT="$(. "$STATE/control-plane.env" && echo "$ARL_KCM_PORT")"
  wait_ready || { log_tails; die "$name did not come back; logs are in $STATE/logs"; }
  log "$name restarted (SIG$sig) and ready again in $((SECONDS - t0))s"
}

cmd_env() {
  [[ -s "$STATE/kubeconfig" ]] || die "no kubeconfig in $STATE: run '$0 up' first"
  echo "export KUBECONFIG=$STATE/kubeconfig"
}

cmd_status() {
  local c pid ok=0
  for c in "${COMPONENTS[@]}"; do
    if pid="$(live_pid "$c")"; then printf '%-24s running (pid %s)\n' "$c" "$pid"
    else printf '%-24s stopped\n' "$c"; ok=1; fi
  done
  if ((ok == 0)) && wait_ready_quiet; then
    echo "ready: $(. "$STATE/control-plane.env" && echo "$ARL_API_SERVER")"
    echo "kubeconfig: $STATE/kubeconfig"
  else
    echo "not ready"
    ok=1
  fi
  return $ok
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  restart-apiserver) cmd_restart kube-apiserver "${2:-}" ;;
  restart-etcd) cmd_restart etcd "${2:-}" ;;
  *) echo "usage: $0 up|down|env|status|restart-apiserver|restart-etcd [--kill]   (state dir: \${ARL_STATE:-/tmp/arl-local})" >&2; exit 2 ;;
esac
