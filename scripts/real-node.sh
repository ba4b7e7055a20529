#!/usr/bin/env bash
# A real one-node Kubernetes cluster with real containers, for the `real` test tier and for trying
# ARL the way it runs on any cluster: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, containerd + runc + the bridge CNI plugin, the kubelet and kube-proxy (all
# Kubernetes parts v1.33.13 built by scripts/install-kube-tools.sh), then ARL installed by its
# Helm chart from the image archive of `make image`, imported into containerd.
#
#   scripts/real-node.sh up           start everything and install ARL (idempotent); prints the kubeconfig
#   scripts/real-node.sh up --no-arl  the cluster alone (what ARL's chart is then installed into)
#   scripts/real-node.sh down         remove every process, mount, netns, iptables rule, cgroup and
#                                     sysctl change `up` made, then check that none is left
#   scripts/real-node.sh env          print `export KUBECONFIG=...`
#   scripts/real-node.sh status       what runs
#   scripts/real-node.sh install-arl  (re)import the ARL image and `helm upgrade --install` the chart
#   scripts/real-node.sh restart-kubelet [--kill]
#                                     stop the kubelet (SIGTERM, or SIGKILL) and start it again with
#                                     the same flags; containerd and the pods keep running
#
# Addresses: everything stays in 198.19.0.0/16 (the local-node cluster of scripts/local-cluster.sh
# uses 198.18.0.0/16, so both run side by side) and loopback; nothing listens on the machine's
# external interface. Traffic to other ranges is flagged on our test machines.
#   bridge arlr0 198.19.128.1/17: the pods, and the node's address (kubelet --node-ip, the API
#   server's bind/advertise address);  services 198.19.64.0/18 (`kubernetes` = 198.19.64.1).
#   Not 198.19.0.0/18: a local-node cluster started with ARL_POD_CIDR=198.19.0.0/16 puts its
#   host address on 198.19.0.1, and kube-proxy would DNAT that machine-wide.
# State: ARL_REAL_STATE (default /tmp/arl-real). Ports are picked free at each `up`.
# Env: ARL_IMAGE_TAR (default dist/arl-image.tar, built by scripts/build-image.sh when missing).
# Needs root, cgroups, overlayfs, bridge/veth, netns and iptables: a missing one fails `up` with
# its name; nothing is skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=lib/pki.sh
source "$here/lib/pki.sh"
# shellcheck source=lib/ports.sh
source "$here/lib/ports.sh"
# shellcheck source=lib/pids.sh
source "$here/lib/pids.sh"
# shellcheck source=lib/lease.sh
source "$here/lib/lease.sh"

STATE="${ARL_REAL_STATE:-/tmp/arl-real}"
case "$STATE" in /*) ;; *) STATE="$(pwd)/$STATE" ;; esac
NODE=arl-real
BRIDGE=arlr0
NODE_IP=198.19.128.1
POD_CIDR=198.19.128.0/17
SERVICE_CIDR=198.19.64.0/18
KUBERNETES_SVC_IP=198.19.64.1
CGROUP_ROOT=/arl-real
TIMEOUT="${ARL_STARTUP_TIMEOUT:-120}"
RELEASE=arl-operator
ARL_NS=arl-system
# Start order; `down` stops in reverse.
CONTROL_PLANE=(etcd kube-apiserver kube-controller-manager kube-scheduler)
NODE_PARTS=(containerd kubelet kube-proxy)
# What the kubelet (setupKernelTunables), the bridge plugin (ip_forward) and kube-proxy may write:
# saved at the first `up`, restored by `down`.
SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
         kernel/keys/root_maxkeys kernel/keys/root_maxbytes net/ipv4/ip_forward
         net/ipv4/conf/all/route_localnet net/netfilter/nf_conntrack_max
         net/netfilter/nf_conntrack_tcp_timeout_established net/netfilter/nf_conntrack_tcp_timeout_close_wait)

# Paths outside the state dir that the parts write to whatever their flags say (the kubelet's
# device-plugin socket dir and legacy log links, libcni's result cache, containerd's shim
# sockets). `down` removes the ones that did not exist before the first `up`. /run/netns is not
# one: `ip netns` (also the local-node cluster's) keeps it as a shared mount.
HOST_PATHS=(/var/lib/kubelet /var/lib/cni /var/log/containers /run/containerd)

# One real node per machine: the bridge, the cgroup root, the node address and kube-proxy's
# iptables chains are machine-wide. This file names the state dir that owns them.
OWNER=/run/arl-real-node.owner

log() { echo "real-node: $*" >&2; }
die() { log "$*"; exit 1; }

kubectl_() { "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" "$@"; }
ctr_() { ctr --address "$STATE/containerd/containerd.sock" -n k8s.io "$@"; }

# ---------------------------------------------------------------- checks and tools

# Fails with the missing capability's name: the real tier never silently skips.
check_host() {
  [[ $EUID -eq 0 ]] || die "must run as root (containerd, the kubelet and iptables need it)"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || die "the kernel has no overlay filesystem (containerd's overlayfs snapshotter needs it)"
  local s
  for s in cpu cpuacct memory pids devices freezer cpuset; do
    [[ -d /sys/fs/cgroup/$s || -f /sys/fs/cgroup/cgroup.controllers ]] || die "cgroup controller $s is not mounted under /sys/fs/cgroup (the kubelet needs it)"
  done
  [[ -d /proc/sys/net/ipv4 ]] || die "no IPv4 sysctls (/proc/sys/net/ipv4): no network namespace support?"
  ip link add arl-probe0 type bridge 2>/dev/null && ip link delete arl-probe0 || die "cannot create a bridge interface (CAP_NET_ADMIN or the bridge module is missing)"
  ip link add arl-probe1 type veth peer name arl-probe2 2>/dev/null && ip link delete arl-probe1 || die "cannot create a veth pair (the veth module is missing)"
  iptables -t nat -S >/dev/null 2>&1 || die "iptables cannot read the nat table (kube-proxy needs nat: $(iptables -t nat -S 2>&1 | head -1))"
  [[ -e /proc/self/ns/net ]] || die "no network namespaces"
}

install_packages() {
  local missing=() p
  for p in containerd runc containernetworking-plugins iptables; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]} (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; } ||
    die "apt-get install ${missing[*]} failed"
  # Debian's package may start containerd on the default socket where an init system runs; ours
  # is a separate instance on its own socket, so that one is left alone.
}

binaries() {
  local out b
  out="$("$here/install-kube-tools.sh" node)" || die "building the Kubernetes binaries failed"
  BIN="$(tail -n1 <<<"$out")"
  "$here/install-kube-tools.sh" release >/dev/null || die "building helm and crane failed"
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl helm; do
    [[ -x "$BIN/$b" ]] || die "missing $BIN/$b after install-kube-tools.sh"
  done
  echo "$BIN" > "$STATE/bin-dir"
}

load_bin() { BIN="$(cat "$STATE/bin-dir" 2>/dev/null || echo "${ARL_CACHE:-$HOME/.cache/arl}/bin/k8s-v1.33.13")"; }

arl_image_tar() {
  local tar="${ARL_IMAGE_TAR:-$root/dist/arl-image.tar}"
  if [[ ! -s "$tar" ]]; then
    [[ -z "${ARL_IMAGE_TAR:-}" ]] || die "ARL_IMAGE_TAR=$tar does not exist"
    log "no $tar: building it (scripts/build-image.sh, the static build takes minutes)"
    tar="$("$here/build-image.sh" | tail -n1)" || die "scripts/build-image.sh failed"
  fi
  echo "$tar"
}

# ---------------------------------------------------------------- processes

start() {  # start NAME BINARY ARGS...: detached, so callers capturing our output never wait on it
  local name="$1"; shift
  setsid "$@" </dev/null >>"$STATE/logs/$name.log" 2>&1 &
  echo $! > "$STATE/pids/$name.pid"
}

stop() {  # stop NAME: SIGTERM, up to 15 s, then SIGKILL
  local pid i
  pid="$(live_pid "$1")" || { rm -f "$STATE/pids/$1.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 150); do
    [[ -d /proc/$pid ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -d /proc/$pid ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
    log "$1 ignored SIGTERM; killing it"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.3
  fi
  rm -f "$STATE/pids/$1.pid"
}

alive_or_die() {  # alive_or_die NAME: fail with the log tail when a process we started died
  live_pid "$1" >/dev/null && return 0
  tail -n 25 "$STATE/logs/$1.log" >&2 || true
  die "$1 exited (log: $STATE/logs/$1.log)"
}

wait_for() {  # wait_for WHAT PROCESS CMD...: polls CMD every 0.2 s until TIMEOUT
  local what="$1" proc="$2"; shift 2
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    alive_or_die "$proc"
    ((SECONDS < deadline)) || { tail -n 25 "$STATE/logs/$proc.log" >&2; die "$what: not ready after ${TIMEOUT}s"; }
    sleep 0.2
  done
}

# ---------------------------------------------------------------- host state we change

claim_machine() {
  local other
  other="$(cat "$OWNER" 2>/dev/null || true)"
  if [[ -n "$other" && "$other" != "$STATE" ]] && ls "$other"/pids/*.pid >/dev/null 2>&1 \
     && (STATE="$other"; for c in "${CONTROL_PLANE[@]}" "${NODE_PARTS[@]}"; do live_pid "$c" >/dev/null && exit 0; done; exit 1); then
    die "a real node from $other is running (one per machine: bridge $BRIDGE, cgroup $CGROUP_ROOT, iptables); stop it with ARL_REAL_STATE=$other $0 down"
  fi
  echo "$STATE" > "$OWNER"
}

save_sysctls() {
  [[ -s "$STATE/sysctl.orig" ]] && return 0  # the first `up` saw the machine's values
  local k
  for k in "${SYSCTLS[@]}"; do
    [[ -r /proc/sys/$k ]] && printf '%s %s\n' "$k" "$(tr '\t' ' ' < "/proc/sys/$k")"
  done > "$STATE/sysctl.orig"
}

save_host_paths() {
  [[ -f "$STATE/host-paths.orig" ]] && return 0
  local p
  for p in "${HOST_PATHS[@]}"; do [[ -e "$p" ]] && echo "$p"; done > "$STATE/host-paths.orig"
  return 0
}

remove_host_paths() {
  [[ -f "$STATE/host-paths.orig" ]] || return 0
  local p
  for p in "${HOST_PATHS[@]}"; do
    grep -qxF "$p" "$STATE/host-paths.orig" && continue
    [[ -e "$p" ]] && ! grep -q " $p" /proc/self/mountinfo && rm -rf "$p"
  done
  rm -f "$STATE/host-paths.orig"
}

restore_sysctls() {
  [[ -s "$STATE/sysctl.orig" ]] || return 0
  local k v
  while read -r k v; do
    [[ "$(tr '\t' ' ' < "/proc/sys/$k")" == "$v" ]] || echo "$v" > "/proc/sys/$k" 2>/dev/null || log "cannot restore $k=$v"
  done < "$STATE/sysctl.orig"
  rm -f "$STATE/sysctl.orig"
}

setup_bridge() {
  # The bridge and its address exist before the API server starts, because the API server binds
  # the node address; the bridge CNI plugin then finds and reuses it.
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge || die "cannot create bridge $BRIDGE"
  fi
  ip addr show dev "$BRIDGE" | grep -q " $NODE_IP/17" || ip addr add "$NODE_IP/17" dev "$BRIDGE"
  ip link set "$BRIDGE" up
}

setup_cgroups() {
  # The kubelet puts every pod under cgroupRoot; a root of our own keeps them apart from the
  # machine's and lets `down` remove exactly what we made. It must exist in every hierarchy.
  local h
  for h in /sys/fs/cgroup/*/; do
    [[ -f "$h/tasks" ]] && mkdir -p "$h${CGROUP_ROOT#/}"
  done
  return 0
}

remove_cgroups() {
  local h d
  for h in /sys/fs/cgroup/*/; do
    [[ -d "$h${CGROUP_ROOT#/}" ]] || continue
    # Leaves first; a cgroup with processes stays and is reported by verify_clean.
    find "$h${CGROUP_ROOT#/}" -depth -type d 2>/dev/null | while read -r d; do rmdir "$d" 2>/dev/null || true; done
  done
}

# Deletes every rule and chain named KUBE-* (kube-proxy's and the kubelet's) from iptables and
# ip6tables: `kube-proxy --cleanup` exits 1 without ipset and leaves some behind.
clean_iptables() {
  local cmd t line chain
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for t in filter nat mangle raw; do
      "$cmd" -t "$t" -S >/dev/null 2>&1 || continue
      # Jumps from the built-in chains first, so the KUBE- chains become unreferenced.
      { "$cmd" -t "$t" -S | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*KUBE-' || true; } | while read -r line; do
        # shellcheck disable=SC2086
        eval "$cmd -t $t -D ${line#-A }" 2>/dev/null || true
      done
      for chain in $("$cmd" -t "$t" -S | sed -nE 's/^-N (KUBE-[A-Za-z0-9_-]+).*/\1/p'); do "$cmd" -t "$t" -F "$chain" 2>/dev/null || true; done
      for chain in $("$cmd" -t "$t" -S | sed -nE 's/^-N (KUBE-[A-Za-z0-9_-]+).*/\1/p'); do "$cmd" -t "$t" -X "$chain" 2>/dev/null || true; done
    done
  done
}

our_mounts() {  # mount points under our state dir, deepest first
  awk -v s="$STATE/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-
}

unmount_all() {
  local m
  for m in $(our_mounts); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "cannot unmount $m"; done
}

# ---------------------------------------------------------------- configuration

write_pki() {
  pki_generate "$STATE/pki"
  local pki="$STATE/pki"
  # Pods reach the API server as https://198.19.0.1 (the `kubernetes` Service) or by its DNS
  # names, and host tools as https://198.19.128.1: the serving cert names them all.
  (
    cd "$pki"; umask 077
    openssl req -new -key apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    printf '%s\n' \
      "subjectAltName=IP:$NODE_IP,IP:$KUBERNETES_SVC_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
      "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "basicConstraints=critical,CA:FALSE" > apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt \
      -days 3650 -extfile apiserver.ext 2>/dev/null
    rm -f apiserver.csr apiserver.ext ca.srl
    # The scheduler and kube-proxy use the identities the default RBAC bindings name. The kubelet
    # is a cluster admin: without the Node authorizer (and its client certificates) no default
    # binding grants system:nodes what a kubelet does. A local test node only.
    local who
    for who in scheduler proxy kubelet; do openssl rand -hex 24 > "$who.token"; done
    printf '%s,system:kube-scheduler,kube-scheduler\n' "$(cat scheduler.token)" >> tokens.csv
    printf '%s,system:kube-proxy,kube-proxy\n' "$(cat proxy.token)" >> tokens.csv
    printf '%s,system:node:%s,kubelet,"system:masters,system:nodes"\n' "$(cat kubelet.token)" "$NODE" >> tokens.csv
  )
  local server="https://$NODE_IP:$API_PORT"
  pki_kubeconfig "$STATE/kubeconfig" "$server" "$pki/ca.crt" "$pki/admin.token" arl-admin
  pki_kubeconfig "$STATE/kcm.kubeconfig" "$server" "$pki/ca.crt" "$pki/controller-manager.token" kube-controller-manager
  pki_kubeconfig "$STATE/scheduler.kubeconfig" "$server" "$pki/ca.crt" "$pki/scheduler.token" kube-scheduler
  pki_kubeconfig "$STATE/proxy.kubeconfig" "$server" "$pki/ca.crt" "$pki/proxy.token" kube-proxy
  pki_kubeconfig "$STATE/kubelet.kubeconfig" "$server" "$pki/ca.crt" "$pki/kubelet.token" kubelet
}

write_containerd_config() {
  local c="$STATE/containerd"
  mkdir -p "$c" "$STATE/cni/net.d" "$STATE/cni/ipam"
  # restrict_oom_score_adj: the VM lacks CAP_SYS_RESOURCE, so a negative oom_score_adj fails and
  # every pod would hang in ContainerCreating ("can't get final child's PID from pipe").
  # Own socket, root, state and runc root: this containerd never meets one the machine may run.
  cat > "$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/arl-test/pause:1"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$c/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
    max_conf_num = 1
EOF
  # No ipMasq and no default route: pods reach only 198.18.0.0/15 (this node, its services, the
  # local-node cluster's addresses), so nothing a pod sends can leave the machine.
  cat > "$STATE/cni/net.d/10-arl-real.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "arl-real",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "198.19.128.10", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "198.18.0.0/15"}]
      }
    }
  ]
}
EOF
}

write_kubelet_config() {
  mkdir -p "$STATE/kubelet" "$STATE/pod-logs"
  # The machine's resolv.conf names a resolver outside 198.18.0.0/15; pods need no DNS
  # (KUBERNETES_SERVICE_HOST is an IP), so they get one that goes nowhere.
  echo "nameserver 127.0.0.1" > "$STATE/resolv.conf"
  cat > "$STATE/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
containerRuntimeEndpoint: unix://$STATE/containerd/containerd.sock
imageServiceEndpoint: unix://$STATE/containerd/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
# The host has cgroup v1 (1.33 only warns with this) and swap may be on.
failCgroupV1: false
failSwapOn: false
# No CAP_SYS_RESOURCE: the kubelet may not lower its own oom_score_adj (see containerd's config).
oomScoreAdj: 0
# Else the kubelet adds KUBE-FIREWALL (drops non-loopback traffic to 127/8) and canary chains.
makeIPTablesUtilChains: false
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
# The API server has no kubelet client certificate; the kubelet listens on the bridge only.
authorization: {mode: AlwaysAllow}
resolvConf: $STATE/resolv.conf
podLogsDir: $STATE/pod-logs
serializeImagePulls: false
maxPods: 250
# Imported test images have no registry to come back from: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: "1%"
  imagefs.available: "1%"
  nodefs.inodesFree: "1%"
EOF
}

# ---------------------------------------------------------------- up

start_control_plane() {
  local pki="$STATE/pki"
  # No fsync: the data dies with the state dir, and fsync dominates write latency.
  start etcd "$BIN/etcd" --name default --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level warn --quota-backend-bytes 4294967296
  # As a cluster's: the ServiceAccount admission plugin on (pods get their token volumes), the
  # lease endpoint reconciler publishing the node address for the `kubernetes` Service, and the
  # kubelet reached at its InternalIP (its hostname does not resolve).
  start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
    --cert-dir "$STATE/apiserver" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --token-auth-file "$pki/tokens.csv" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode RBAC \
    --endpoint-reconciler-type lease \
    --kubelet-preferred-address-types InternalIP \
    --enable-priority-and-fairness=false \
    --max-requests-inflight 3000 --max-mutating-requests-inflight 1500 \
    --allow-privileged=true --profiling=false
  wait_for "kube-apiserver /readyz" kube-apiserver \
    curl -fsS --cacert "$pki/ca.crt" -H "Authorization: Bearer $(cat "$pki/admin.token")" "https://$NODE_IP:$API_PORT/readyz"
  # The controllers a pod of a Deployment needs to exist and to get its token and CA bundle
  # (serviceaccount-token, root-ca-certificate-publisher), plus the garbage collector that
  # deletes sandbox pods by ownerReference, as on any cluster. The node lifecycle controller
  # lifts the node.kubernetes.io/not-ready taint the kubelet registers with; without it nothing
  # is ever scheduled.
  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$STATE/kcm.kubeconfig" \
    --controllers serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller,garbage-collector-controller,namespace-controller,node-lifecycle-controller,deployment-controller,replicaset-controller,endpoints-controller,endpointslice-controller,endpointslice-mirroring-controller,clusterrole-aggregation-controller \
    --root-ca-file "$pki/ca.crt" --service-account-private-key-file "$pki/sa.key" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --cert-dir "$STATE/kcm" \
    --concurrent-gc-syncs 50 --kube-api-qps 1000 --kube-api-burst 2000 --profiling=false
  # The operator creates pods without nodeName: a real scheduler binds them.
  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$STATE/scheduler.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --cert-dir "$STATE/scheduler" \
    --kube-api-qps 1000 --kube-api-burst 2000 --profiling=false
  wait_for "kube-controller-manager /healthz" kube-controller-manager curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz"
  wait_for "kube-scheduler /healthz" kube-scheduler curl -fsSk "https://127.0.0.1:$SCHED_PORT/healthz"
}

start_node() {
  start containerd containerd --config "$STATE/containerd/config.toml"
  wait_for "containerd" containerd ctr_ version
  local tar
  for tar in $("$here/build-test-images.sh") ${ARL_TAR:-}; do
    ctr_ images import "$tar" >>"$STATE/logs/images.log" 2>&1 || { tail -5 "$STATE/logs/images.log" >&2; die "importing $tar into containerd failed"; }
  done
  start_kubelet
  wait_for "node $NODE Ready" kubelet node_ready
  # iptables mode as most clusters; conntrack and timeout sysctls left as they are (0 = keep).
  start kube-proxy "$BIN/kube-proxy" --kubeconfig "$STATE/proxy.kubeconfig" --proxy-mode iptables \
    --hostname-override "$NODE" --bind-address "$NODE_IP" --cluster-cidr "$POD_CIDR" \
    --nodeport-addresses "$NODE_IP/32" --healthz-bind-address "127.0.0.1:$PROXY_HEALTHZ_PORT" \
    --metrics-bind-address "127.0.0.1:$PROXY_METRICS_PORT" --oom-score-adj 0 \
    --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0s --conntrack-tcp-timeout-close-wait 0s
  wait_for "kube-proxy /healthz" kube-proxy curl -fsS "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz"
  wait_for "the kubernetes Service in iptables" kube-proxy sh -c "iptables -t nat -S KUBE-SERVICES | grep -q '$KUBERNETES_SVC_IP/32'"
}

start_kubelet() {  # one command line for `up` and `restart-kubelet`
  start kubelet "$BIN/kubelet" --config "$STATE/kubelet-config.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
    --root-dir "$STATE/kubelet" --cert-dir "$STATE/kubelet-pki" --hostname-override "$NODE" --node-ip "$NODE_IP" --v=1
}

# The kubelet alone goes and comes back, as in a kubelet upgrade or crash: containerd, the shims and
# so the pods' containers keep running, and the new kubelet takes them over from its root dir and
# the runtime (same pods, same uids, no container restarted). --kill: SIGKILL instead of SIGTERM.
cmd_restart_kubelet() {
  load_bin
  running_all || die "not running: '$0 up' first"
  # shellcheck disable=SC1091
  source "$STATE/ports.env"
  local pid since
  if [[ "${1:-}" == --kill ]]; then
    pid="$(live_pid kubelet)" && kill -KILL "$pid" 2>/dev/null
    while [[ -n "${pid:-}" && -d /proc/$pid ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do sleep 0.1; done
    rm -f "$STATE/pids/kubelet.pid"
  else
    stop kubelet
  fi
  since="$(date -u +%s.%N)"
  start_kubelet
  # Ready means the new kubelet answers /healthz and has renewed the node's Lease since it started
  # (lib/lease.sh says why not the Ready condition), and the node is Ready.
  wait_for "the new kubelet's /healthz" kubelet curl -fsS "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz"
  wait_for "node $NODE's Lease renewed by the new kubelet" kubelet lease_renewed_since "$NODE" "$since"
  wait_for "node $NODE Ready" kubelet node_ready
  log "kubelet restarted (pid $(live_pid kubelet)); containerd and the pods kept running"
}

node_ready() {  # Ready and schedulable: the not-ready taint is gone
  [[ "$(kubectl_ get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}{" "}{.spec.taints}' 2>/dev/null)" == "True " ]]
}

# Helm installs the chart's CRDs, RBAC and the operator Deployment; the image comes from the
# imported archive (IfNotPresent: its tag is a version, never pulled while present).
install_arl() {
  local tar ref repo tag
  tar="${ARL_TAR:-$(arl_image_tar)}"
  ctr_ images import "$tar" >>"$STATE/logs/images.log" 2>&1 || die "importing $tar into containerd failed"
  ref="$(tar -xOf "$tar" manifest.json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["RepoTags"][0])')"
  repo="${ref%:*}"; tag="${ref##*:}"
  "$BIN/helm" --kubeconfig "$STATE/kubeconfig" upgrade --install "$RELEASE" "$root/charts/arl-operator" \
    -n "$ARL_NS" --create-namespace --set image.repository="$repo" --set image.tag="$tag" \
    --set image.pullPolicy=IfNotPresent --wait --timeout 180s >>"$STATE/logs/helm.log" 2>&1 \
    || { tail -20 "$STATE/logs/helm.log" >&2; kubectl_ -n "$ARL_NS" get pods -o wide >&2 || true; die "helm install of charts/arl-operator failed (log: $STATE/logs/helm.log)"; }
  kubectl_ -n "$ARL_NS" rollout status "deployment/$RELEASE" --timeout 120s >/dev/null \
    || die "deployment $ARL_NS/$RELEASE did not become Available"
  log "ARL installed: $ref, deployment $ARL_NS/$RELEASE Available"
}

running_all() {
  local c
  for c in "${CONTROL_PLANE[@]}" "${NODE_PARTS[@]}"; do live_pid "$c" >/dev/null || return 1; done
  [[ -s "$STATE/ports.env" ]]
}

cmd_up() {
  if running_all && node_ready_quiet; then
    log "already running (state $STATE)"
    ((WITH_ARL)) && install_arl
    echo "$STATE/kubeconfig"; return 0
  fi
  # Packages first: check_host uses iptables, which a fresh machine may not have yet.
  install_packages
  check_host
  claim_machine
  cmd_down >/dev/null 2>&1 || true
  echo "$STATE" > "$OWNER"
  local t0=$SECONDS
  mkdir -p "$STATE"/{pids,logs}
  binaries
  # Resolved before anything starts: a missing image fails in seconds, not after the node is up.
  ((WITH_ARL)) && ARL_TAR="$(arl_image_tar)"
  save_sysctls
  save_host_paths
  setup_bridge
  setup_cgroups
  rm -rf "$STATE/etcd" "$STATE/logs"/*.log
  read -r ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT SCHED_PORT KUBELET_PORT KUBELET_HEALTHZ_PORT PROXY_HEALTHZ_PORT PROXY_METRICS_PORT < <(free_ports 9)
  declare -p ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT SCHED_PORT KUBELET_PORT KUBELET_HEALTHZ_PORT PROXY_HEALTHZ_PORT PROXY_METRICS_PORT \
    | sed 's/^declare -- //' > "$STATE/ports.env"
  write_pki
  write_containerd_config
  write_kubelet_config
  start_control_plane
  log "control plane ready in $((SECONDS - t0))s: https://$NODE_IP:$API_PORT"
  start_node
  log "node $NODE Ready, kube-proxy serving the kubernetes Service ($((SECONDS - t0))s)"
  ((WITH_ARL)) && install_arl
  log "ready in $((SECONDS - t0))s; logs in $STATE/logs"
  echo "$STATE/kubeconfig"
}

node_ready_quiet() { load_bin; node_ready; }

# ---------------------------------------------------------------- down

# Pods go first, through the kubelet, so that runc, the CNI plugin and the kubelet undo their
# own work (containers, veths, netns, volume mounts); what is left after that is removed by hand.
drain_pods() {
  live_pid kube-apiserver >/dev/null || return 0
  # Nothing may recreate or rebind pods while they go.
  stop kube-controller-manager
  stop kube-scheduler
  kubectl_ delete pods --all -A --force --grace-period 0 --wait=false >/dev/null 2>&1 || true
  live_pid kubelet >/dev/null && live_pid containerd >/dev/null || return 0
  local deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    [[ -z "$(ctr_ tasks ls -q 2>/dev/null)" ]] && ! ls /run/netns/cni-* >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  log "pods still had containers or network namespaces after 60 s; removing them by hand"
}

# What the kubelet did not clean up: tasks, containers and CNI namespaces of our containerd.
force_clean_runtime() {
  live_pid containerd >/dev/null || return 0
  local t c
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
  sleep 1
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" >/dev/null 2>&1 || true; done
  for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" >/dev/null 2>&1 || true; done
}

stop_shims() {  # runc shims outlive containerd by design; ours name our containerd's socket
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $STATE/containerd/containerd.sock" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
}

remove_cni_netns() {
  # containerd names its pod network namespaces /run/netns/cni-<uuid>; only this script runs
  # containerd's CRI here, and every pod was deleted above.
  local n
  for n in /run/netns/cni-*; do
    [[ -e "$n" ]] || continue
    umount "$n" 2>/dev/null || true
    rm -f "$n"
  done
}

remove_bridge_ports() {
  # Host ends of pod veths go with their namespaces; one still enslaved to our bridge is ours.
  local v
  for v in /sys/class/net/*/master; do
    [[ "$(basename "$(readlink -f "$v")")" == "$BRIDGE" ]] || continue
    v="${v%/master}"; ip link delete "${v##*/}" 2>/dev/null || true
  done
}

remove_pod_log_links() {  # the kubelet's legacy /var/log/containers links into our pod logs
  local l
  for l in /var/log/containers/*.log; do
    [[ -L "$l" ]] && [[ "$(readlink "$l")" == "$STATE/"* ]] && rm -f "$l"
  done
  return 0
}

owns_machine() {  # the owner file names us, or nobody claims the machine-wide state
  local o; o="$(cat "$OWNER" 2>/dev/null || true)"
  [[ -z "$o" || "$o" == "$STATE" ]]
}

cmd_down() {
  load_bin
  drain_pods
  stop kube-proxy
  stop kubelet
  force_clean_runtime
  stop containerd
  stop_shims
  local i
  for ((i=${#CONTROL_PLANE[@]}-1; i>=0; i--)); do stop "${CONTROL_PLANE[$i]}"; done
  unmount_all
  rm -rf "$STATE/etcd" "$STATE/ports.env" "$STATE/containerd/root" "$STATE/containerd/state" "$STATE/kubelet" "$STATE/kubelet-pki" "$STATE/cni/ipam"
  if ! owns_machine; then
    # Another state dir's node owns the bridge, iptables and cgroups: never touch them.
    log "down: stopped this state's processes; the machine-wide parts belong to $(cat "$OWNER")"
    return 0
  fi
  # `--cleanup` removes most of kube-proxy's rules; it exits 1 without ipset, hence the sweep.
  [[ -x "$BIN/kube-proxy" ]] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  clean_iptables
  remove_cni_netns
  remove_pod_log_links
  remove_bridge_ports
  ip link delete "$BRIDGE" 2>/dev/null || true
  remove_cgroups
  restore_sysctls
  remove_host_paths
  rm -f "$OWNER"
  verify_clean
}

# Exit 1 and name what is left when anything `up` made survived `down`.
verify_clean() {
  local left=() c
  for c in "${CONTROL_PLANE[@]}" "${NODE_PARTS[@]}"; do live_pid "$c" >/dev/null && left+=("process $c"); done
  pgrep -f "containerd-shim-runc-v2 .*$STATE/" >/dev/null && left+=("containerd shims")
  [[ -n "$(our_mounts)" ]] && left+=("mounts: $(our_mounts | tr '\n' ' ')")
  ls /run/netns/cni-* >/dev/null 2>&1 && left+=("netns: $(ls /run/netns | grep '^cni-' | tr '\n' ' ')")
  ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("bridge $BRIDGE")
  if command -v iptables-save >/dev/null; then
    iptables-save 2>/dev/null | grep -q 'KUBE-' && left+=("iptables KUBE- rules")
    ip6tables-save 2>/dev/null | grep -q 'KUBE-' && left+=("ip6tables KUBE- rules")
  fi
  compgen -G "/sys/fs/cgroup/*${CGROUP_ROOT}" >/dev/null && left+=("cgroups $(compgen -G "/sys/fs/cgroup/*${CGROUP_ROOT}" | tr '\n' ' ')")
  if ((${#left[@]})); then
    log "NOT clean, left behind: ${left[*]}"
    return 1
  fi
  log "down: clean (no processes, mounts, netns, iptables KUBE- rules, bridge or cgroups left; sysctls restored; logs kept in $STATE/logs)"
}

cmd_status() {
  local c pid ok=0
  for c in "${CONTROL_PLANE[@]}" "${NODE_PARTS[@]}"; do
    if pid="$(live_pid "$c")"; then printf '%-24s running (pid %s)\n' "$c" "$pid"
    else printf '%-24s stopped\n' "$c"; ok=1; fi
  done
  if ((ok == 0)) && node_ready_quiet; then
    echo "node $NODE: Ready"
    kubectl_ -n "$ARL_NS" get deployment "$RELEASE" --no-headers 2>/dev/null | sed 's/^/arl: /' || echo "arl: not installed"
    echo "kubeconfig: $STATE/kubeconfig"
  else
    echo "not ready"; ok=1
  fi
  return $ok
}

WITH_ARL=1
ARL_TAR=""
case "${1:-}" in
  up) [[ "${2:-}" == --no-arl ]] && WITH_ARL=0; cmd_up ;;
  down) cmd_down ;;
  env) [[ -s "$STATE/kubeconfig" ]] || die "no kubeconfig in $STATE: run '$0 up' first"; echo "export KUBECONFIG=$STATE/kubeconfig" ;;
  status) cmd_status ;;
  install-arl) load_bin; running_all || die "not running: '$0 up' first"; install_arl ;;
  restart-kubelet) cmd_restart_kubelet "${2:-}" ;;
  *) echo "usage: $0 up|down|env|status|install-arl|restart-kubelet [--kill]   (state dir: \${ARL_REAL_STATE:-/tmp/arl-real})" >&2; exit 2 ;;
esac
