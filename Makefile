# Thin wrappers over scripts/: every target is one script call, so CI and users
# run the same thing. Heavy tools are cached under $(ARL_CACHE).
ARL_CACHE ?= $(HOME)/.cache/arl
K8S_VERSION ?= 1.33.13
TOOLS := $(ARL_CACHE)/bin/k8s-v$(K8S_VERSION)
# The cached helm/kubectl built by scripts/install-kube-tools.sh when present.
HELM ?= $(if $(wildcard $(TOOLS)/helm),$(TOOLS)/helm,helm)
KUBECTL ?= $(if $(wildcard $(TOOLS)/kubectl),$(TOOLS)/kubectl,kubectl)
NAMESPACE ?= arl-system
RELEASE ?= arl-operator
BUILD_DIR ?= build
HELM_ARGS ?=

.PHONY: help setup build test test-unit test-cluster test-static static release image \
        chart-crds chart-lint deploy undeploy deploy-samples logs local-up local-down tools clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

setup: ## install build deps (apt, httplib.h, python venv)
	scripts/setup.sh

build: ## dev build of arl and the unit suites into $(BUILD_DIR)/
	cmake -S . -B $(BUILD_DIR) -G Ninja
	cmake --build $(BUILD_DIR) -j2

test: ## every test tier (unit, cluster, static)
	scripts/test.sh

test-unit: ## unit tier only
	scripts/test.sh unit

test-cluster: ## real control plane tier only
	scripts/test.sh cluster

test-static: ## static binary in a busybox chroot + chart checks
	scripts/test.sh static

static: ## fully static musl arl -> dist/arl
	scripts/build-static.sh

release: ## dist/arl-<version>-linux-amd64.tar.gz + .sha256 + plugins/arl.yaml
	scripts/release.sh

image: ## OCI image archive dist/arl-image.tar (no Docker daemon needed)
	scripts/build-image.sh

tools: ## build kube-apiserver, etcd, kubectl, helm, crane from the Go module proxy
	scripts/install-kube-tools.sh

chart-crds: ## copy manifests/crds into the Helm chart
	scripts/sync-chart-crds.sh

chart-lint: ## helm lint + chart CRDs identical to manifests/crds
	scripts/sync-chart-crds.sh --check
	$(HELM) lint charts/arl-operator

deploy: ## helm upgrade --install the operator into $(NAMESPACE)
	$(HELM) upgrade --install $(RELEASE) charts/arl-operator -n $(NAMESPACE) --create-namespace $(HELM_ARGS)

undeploy: ## helm uninstall the operator (CRDs stay, as Helm leaves crds/ alone)
	$(HELM) uninstall $(RELEASE) -n $(NAMESPACE)

deploy-samples: ## apply manifests/samples/ (pool, sandbox, task)
	$(KUBECTL) apply -k manifests/samples/

logs: ## follow the operator's logs
	$(KUBECTL) -n $(NAMESPACE) logs deployment/$(RELEASE) -f

local-up: ## local control plane + local node + operator; prints the KUBECONFIG line
	scripts/local-cluster.sh up

local-down: ## stop the local cluster
	scripts/local-cluster.sh down

clean: ## remove build trees and dist/
	rm -rf $(BUILD_DIR) build-static dist
