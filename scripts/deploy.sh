#!/usr/bin/env bash
# The operations guide's cluster targets (Makefile: docker-build, docker-push, deploy, logs,
# minikube-*), each one function that either does its job or says what is missing and what
# to do instead.
#   scripts/deploy.sh image             the ARL image: `docker build` when a Docker daemon answers,
#                                       else the daemonless archive (scripts/build-image.sh);
#                                       either way dist/arl-image.tar
#   scripts/deploy.sh push              crane push dist/arl-image.tar to $REGISTRY/arl-operator and
#                                       $REGISTRY/arl-sidecar (the guide's names; one image)
#   scripts/deploy.sh deploy            helm upgrade --install into the current cluster, --wait;
#                                       with REGISTRY, the pushed images
#   scripts/deploy.sh undeploy          helm uninstall --wait
#   scripts/deploy.sh logs              the operator's log (kubectl logs -l app=arl-operator)
#   scripts/deploy.sh minikube start|stop|delete
# Env: KUBECTL, HELM, CRANE (tools), RELEASE (arl-operator), NAMESPACE (arl-system), REGISTRY,
# HELM_ARGS (extra helm flags, e.g. "--set crds.keep=false"), LOGS_FOLLOW (-f; empty: no follow),
# ARL_STATE (the local cluster's state dir, for its operator's log), ARL_IMAGE_TAR (the archive
# push reads, default dist/arl-image.tar).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
tools="${ARL_CACHE:-$HOME/.cache/arl}/bin/k8s-v${K8S_VERSION:-1.33.13}"
pick() { if [ -n "${!1:-}" ]; then echo "${!1}"; elif [ -x "$tools/$2" ]; then echo "$tools/$2"; else echo "$2"; fi; }
KUBECTL="$(pick KUBECTL kubectl)"
HELM="$(pick HELM helm)"
CRANE="$(pick CRANE crane)"
RELEASE="${RELEASE:-arl-operator}"
NAMESPACE="${NAMESPACE:-arl-system}"
REGISTRY="${REGISTRY%/}"
version="$(sed -nE 's/^project\(arl VERSION ([0-9][0-9.]*).*/\1/p' "$root/CMakeLists.txt")"
tar="${ARL_IMAGE_TAR:-$root/dist/arl-image.tar}"
log() { echo "deploy: $*" >&2; }
die() { echo "deploy: $*" >&2; exit 1; }

need() {  # need TOOL HOW: the tool runs, or say how to get it
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"
}

# A cluster answers through the current KUBECONFIG/context, or say how to get one.
need_cluster() {
  need "$KUBECTL" "run scripts/install-kube-tools.sh (or set KUBECTL)"
  "$KUBECTL" get --raw /readyz --request-timeout=5s >/dev/null 2>&1 ||
    die "no cluster answers through KUBECONFIG=${KUBECONFIG:-~/.kube/config} (context: $("$KUBECTL" config current-context 2>/dev/null || echo none)); start one (make local-up, make minikube-start) or point KUBECONFIG at yours"
}

# ARL's local cluster: every node is `arl localnode`, which runs pods as host processes.
local_cluster() {
  local nodes
  nodes="$("$KUBECTL" get nodes -o 'jsonpath={range .items[*]}{.metadata.labels.arl\.infra\.io/localnode}{"\n"}{end}' 2>/dev/null)" || return 1
  [ -n "$nodes" ] && ! grep -qv '^true$' <<<"$nodes"
}

docker_daemon() { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }

image() {
  mkdir -p "$root/dist"
  if docker_daemon; then
    ARL_DIST="$root/dist" "$here/build-static.sh" >/dev/null
    docker build -t "ghcr.io/arl/arl:$version" "$root"
    docker save -o "$tar" "ghcr.io/arl/arl:$version"
    log "built ghcr.io/arl/arl:$version with docker; also saved as $tar"
  else
    log "no Docker daemon answers (docker info): building the image archive without one (scripts/build-image.sh)"
    "$here/build-image.sh" >/dev/null
    log "built $tar; load it with: docker load -i $tar | minikube image load $tar | kind load image-archive $tar"
  fi
}

push() {
  [ -n "$REGISTRY" ] || die "REGISTRY is not set: REGISTRY=registry.example.com/team make docker-push (pushes \$REGISTRY/arl-operator:$version and \$REGISTRY/arl-sidecar:$version)"
  [ -f "$tar" ] || die "$tar is missing: run make docker-build first (or make k8s-build-push, which builds and pushes)"
  need "$CRANE" "run scripts/install-kube-tools.sh release (or set CRANE)"
  # One image serves both roles; the two names are the ones the operations guide's helm flags use.
  for name in arl-operator arl-sidecar; do
    "$CRANE" push "$tar" "$REGISTRY/$name:$version" || die "crane push to $REGISTRY/$name:$version failed: log in with 'crane auth login $REGISTRY' (or docker login) and check the registry name"
  done
  log "pushed $REGISTRY/arl-operator:$version and $REGISTRY/arl-sidecar:$version"
}

# CRDs that exist but belong to no release (applied with kubectl, or installed by an earlier
# chart from its crds/ folder) would make Helm refuse the chart's CRD templates: hand them to
# this release, as `helm upgrade` from the earlier chart needs. With crds.keep=false, also drop
# a `keep` policy left by an uninstall that kept them: Helm adopts them with their annotations
# as they are, and the policy would keep them again.
prepare_crds() {
  local keep="$1" crd meta owner policy
  for crd in warmpools.arl.infra.io sandboxes.arl.infra.io tasks.arl.infra.io; do
    meta="$("$KUBECTL" get crd "$crd" --ignore-not-found -o \
      'jsonpath={.metadata.name}|{.metadata.annotations.meta\.helm\.sh/release-name}|{.metadata.annotations.helm\.sh/resource-policy}')"
    [ -n "$meta" ] || continue  # not installed yet: Helm creates it
    IFS='|' read -r _ owner policy <<<"$meta"
    if [ -z "$owner" ]; then
      log "CRD $crd exists without a Helm release: adopting it into release $RELEASE"
      "$KUBECTL" label --overwrite crd "$crd" app.kubernetes.io/managed-by=Helm >/dev/null
      "$KUBECTL" annotate --overwrite crd "$crd" meta.helm.sh/release-name="$RELEASE" \
        meta.helm.sh/release-namespace="$NAMESPACE" >/dev/null
    fi
    if [ "$keep" = false ] && [ "$policy" = keep ]; then
      log "CRD $crd: removing the helm.sh/resource-policy=keep an earlier release left (crds.keep=false)"
      "$KUBECTL" annotate crd "$crd" helm.sh/resource-policy- >/dev/null
    fi
  done
}

deploy() {
  need "$HELM" "run scripts/install-kube-tools.sh release (or set HELM)"
  need_cluster
  if local_cluster; then
    die "the current cluster is ARL's local cluster (scripts/local-cluster.sh): its node runs pods as host processes and it already runs arl operator, so there is nothing to deploy. For the chart on real containers: scripts/local-cluster.sh up --node real, make minikube-start, or REGISTRY=... make k8s-deploy"
  fi
  local args=()
  if [ -n "$REGISTRY" ]; then
    args+=(--set "image.repository=$REGISTRY/arl-operator" --set "sidecar.image.repository=$REGISTRY/arl-sidecar")
  elif [ "$("$KUBECTL" config current-context 2>/dev/null)" = minikube ] && command -v minikube >/dev/null; then
    [ -f "$tar" ] || die "$tar is missing: run make docker-build first"
    log "loading $tar into minikube"
    minikube image load "$tar"
  fi
  local keep=true
  case " ${HELM_ARGS:-} " in *crds.keep=false*) keep=false ;; esac
  case " ${HELM_ARGS:-} " in *crds.install=false*) ;; *) prepare_crds "$keep" ;; esac
  # shellcheck disable=SC2086 # HELM_ARGS is a list of flags
  "$HELM" upgrade --install "$RELEASE" "$root/charts/arl-operator" -n "$NAMESPACE" --create-namespace \
    --wait --timeout 5m "${args[@]}" ${HELM_ARGS:-} ||
    die "helm upgrade --install failed; see: kubectl -n $NAMESPACE get pods; kubectl -n $NAMESPACE describe deployment/$RELEASE (an image the node cannot pull: make docker-build, then load or push it)"
}

undeploy() {
  need "$HELM" "run scripts/install-kube-tools.sh release (or set HELM)"
  need_cluster
  if ! "$HELM" status "$RELEASE" -n "$NAMESPACE" >/dev/null 2>&1; then
    log "no release $RELEASE in namespace $NAMESPACE: nothing to remove"; return 0
  fi
  "$HELM" uninstall "$RELEASE" -n "$NAMESPACE" --wait
}

logs() {
  need_cluster
  local follow="${LOGS_FOLLOW--f}"
  if [ -n "$("$KUBECTL" get pods -n "$NAMESPACE" -l app=arl-operator -o name 2>/dev/null)" ]; then
    # shellcheck disable=SC2086
    exec "$KUBECTL" logs -n "$NAMESPACE" -l app=arl-operator --tail=100 --prefix $follow
  fi
  if local_cluster; then
    local f="${ARL_STATE:-/tmp/arl-local}/logs/operator.log"
    [ -f "$f" ] || die "the local cluster's operator is a host process and its log $f does not exist: set ARL_STATE to the cluster's state dir"
    log "the local cluster's operator is a host process; its log is $f"
    # shellcheck disable=SC2086
    exec tail -n 100 $follow "$f"
  fi
  die "no operator pod (label app=arl-operator) in namespace $NAMESPACE: deploy it with make deploy, or set NAMESPACE"
}

minikube_() {
  command -v minikube >/dev/null 2>&1 ||
    die "minikube is not installed (https://minikube.sigs.k8s.io). Without it: make local-up starts ARL's local cluster (real API server, pods as host processes); scripts/local-cluster.sh up --node real, a kubelet + containerd node"
  minikube "$@"
}

case "${1:-}" in
  image) image ;;
  push) push ;;
  deploy) deploy ;;
  undeploy) undeploy ;;
  logs) logs ;;
  minikube) shift; minikube_ "$@" ;;
  *) echo "usage: scripts/deploy.sh image|push|deploy|undeploy|logs|minikube start|stop|delete" >&2; exit 2 ;;
esac
