#!/usr/bin/env bash
# Builds the real Kubernetes control plane (kube-apiserver, kube-controller-manager, kubectl),
# the node (kubelet, kube-proxy, kube-scheduler: `node` only, not part of `all`), etcd, helm and crane from the Go module proxy and caches them outside the repo.
# Why a module of our own: k8s.io/kubernetes replaces its staging modules with local paths,
# so `go install k8s.io/kubernetes/cmd/...@v` refuses; we pin each staging module instead.
set -euo pipefail
K8S_VERSION=${K8S_VERSION:-1.33.13}
ETCD_VERSION=${ETCD_VERSION:-3.5.21}
HELM_VERSION=${HELM_VERSION:-3.22.0}
CRANE_VERSION=${CRANE_VERSION:-0.22.1}
CACHE=${ARL_CACHE:-$HOME/.cache/arl}
BIN=$CACHE/bin/k8s-v$K8S_VERSION
export GOFLAGS=${GOFLAGS:--mod=mod} GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$BIN"

have() { [[ -x "$BIN/$1" ]]; }
log() { echo "install-kube-tools: $*" >&2; }

# k8s_module WORK CMD...: writes into WORK a module requiring k8s.io/kubernetes with every staging
# module pinned, and a blank-import file for each k8s.io/kubernetes/cmd/CMD, then tidies it.
k8s_module() {
  local work="$1"; shift
  local gomod c
  gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module arl.local/kubetools"
    echo "go 1.24"
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk -v v="v0.${K8S_VERSION#1.}" '{print "replace " $1 " => " $1 " " v}'
  } > "$work/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for c in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
    printf ')\n'
  } > "$work/tools.go"
  (cd "$work" && go mod tidy >/dev/null 2>&1 || go mod tidy)
}

# k8s_build WORK CMD...: builds each missing CMD into $BIN with the version ldflags (without them
# the binaries report v0.0.0-master and kubectl refuses to parse the server version).
k8s_build() {
  local work="$1"; shift
  local vpkg=k8s.io/component-base/version c
  local ld="-s -w -X $vpkg.gitVersion=v$K8S_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=${K8S_VERSION#1.}"
  ld="${ld%.*}"   # gitMinor=33
  for c in "$@"; do
    have "$c" || (cd "$work" && go build -trimpath -ldflags "$ld" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c" && mv "$BIN/$c.tmp" "$BIN/$c")
  done
}

build_kubernetes() {
  have kube-apiserver && have kube-controller-manager && have kubectl && return 0
  local work; work=$(mktemp -d); trap 'rm -rf "$work"' RETURN
  log "building kube-apiserver, kube-controller-manager, kubectl v$K8S_VERSION (~6 min)"
  k8s_module "$work" kube-apiserver kube-controller-manager kubectl
  k8s_build "$work" kube-apiserver kube-controller-manager kubectl
}

# The pieces of a real node (scripts/real-node.sh): the kubelet, kube-proxy for the `kubernetes`
# Service, and kube-scheduler because the operator creates pods without spec.nodeName.
build_node() {
  have kubelet && have kube-proxy && have kube-scheduler && return 0
  local work; work=$(mktemp -d); trap 'rm -rf "$work"' RETURN
  log "building kubelet, kube-proxy, kube-scheduler v$K8S_VERSION (~3 min with warm caches)"
  k8s_module "$work" kubelet kube-proxy kube-scheduler
  k8s_build "$work" kubelet kube-proxy kube-scheduler
}

build_etcd() {
  have etcd && return 0
  local work; work=$(mktemp -d); trap 'rm -rf "$work"' RETURN
  log "building etcd v$ETCD_VERSION"
  printf 'module arl.local/etcdtool\ngo 1.24\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" > "$work/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > "$work/tools.go"
  (cd "$work" && go mod tidy >/dev/null && go build -trimpath -ldflags '-s -w' -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3 && mv "$BIN/etcd.tmp" "$BIN/etcd")
}

build_release_tools() {
  have helm || { log "building helm v$HELM_VERSION"; GOBIN=$BIN go install -trimpath -ldflags '-s -w' "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"; }
  have crane || { log "building crane v$CRANE_VERSION"; GOBIN=$BIN go install -trimpath -ldflags '-s -w' "github.com/google/go-containerregistry/cmd/crane@v$CRANE_VERSION"; }
}

what=${1:-all}
case $what in
  control-plane) build_etcd; build_kubernetes ;;
  node) build_etcd; build_kubernetes; build_node ;;
  release) build_release_tools ;;
  all) build_etcd; build_kubernetes; build_release_tools ;;
  *) echo "usage: $0 [control-plane|node|release|all]" >&2; exit 2 ;;
esac
echo "$BIN"
