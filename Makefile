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
# Registry for docker-push / k8s-*: images go to $(REGISTRY)/arl-operator and $(REGISTRY)/arl-sidecar.
REGISTRY ?=
# scripts/deploy.sh reads these from the environment.
export KUBECTL HELM NAMESPACE RELEASE HELM_ARGS REGISTRY

.PHONY: help setup build test test-unit test-cluster test-static test-integration static release image \
        docker-build docker-push k8s-build-push manifests chart-crds chart-lint deploy undeploy k8s-deploy \
        k8s-undeploy deploy-samples logs quickstart local-up local-down minikube-start minikube-stop \
        minikube-delete fmt fmt-check tools clean

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

setup: ## install build deps (apt, httplib.h, python venv)
	scripts/setup.sh

build: ## dev build of arl and the unit suites into $(BUILD_DIR)/
	cmake -S . -B $(BUILD_DIR) -G Ninja
	cmake --build $(BUILD_DIR) -j2

test: ## every test tier (unit, cluster, static, real)
	scripts/test.sh

test-unit: ## unit tier only
	scripts/test.sh unit

test-cluster: ## real control plane tier only
	scripts/test.sh cluster

test-integration: ## integration tests: the cluster tier (API server, local node, operator, e2e)
	scripts/test.sh cluster

test-static: ## static binary in a busybox chroot + chart checks
	scripts/test.sh static

static: ## fully static musl arl -> dist/arl
	scripts/build-static.sh

release: ## dist/arl-<version>-linux-amd64.tar.gz + .sha256 + plugins/arl.yaml
	scripts/release.sh

image: ## OCI image archive dist/arl-image.tar (no Docker daemon needed)
	scripts/build-image.sh

docker-build: ## the ARL image: docker build when a daemon answers, else the archive; dist/arl-image.tar
	scripts/deploy.sh image

docker-push: ## REGISTRY=... crane push dist/arl-image.tar as $(REGISTRY)/arl-operator and /arl-sidecar
	scripts/deploy.sh push

k8s-build-push: ## REGISTRY=... docker-build, then docker-push
	@test -n "$(REGISTRY)" || { echo "k8s-build-push: REGISTRY is not set: REGISTRY=registry.example.com/team make k8s-build-push" >&2; exit 1; }
	scripts/deploy.sh image
	scripts/deploy.sh push

tools: ## build kube-apiserver, etcd, kubectl, helm, crane from the Go module proxy
	scripts/install-kube-tools.sh

manifests: ## regenerate the chart's CRDs (templates/crds/ and crds/) from manifests/crds
	scripts/sync-chart-crds.sh

chart-crds: manifests ## same as manifests

chart-lint: ## helm lint + chart CRDs generated from manifests/crds
	scripts/sync-chart-crds.sh --check
	$(HELM) lint --strict charts/arl-operator

deploy: ## helm upgrade --install the operator (and CRDs) into the current cluster, --wait
	scripts/deploy.sh deploy

undeploy: ## helm uninstall the operator, --wait (CRDs stay unless crds.keep=false)
	scripts/deploy.sh undeploy

k8s-deploy: ## REGISTRY=... deploy with the images docker-push pushed
	@test -n "$(REGISTRY)" || { echo "k8s-deploy: REGISTRY is not set: REGISTRY=registry.example.com/team make k8s-deploy (the registry k8s-build-push pushed to)" >&2; exit 1; }
	scripts/deploy.sh deploy

k8s-undeploy: ## same as undeploy
	scripts/deploy.sh undeploy

deploy-samples: ## kubectl apply -f manifests/samples/ (pool python-3.9-std, sandbox, task)
	$(KUBECTL) apply -f manifests/samples/

logs: ## the operator's log, followed (LOGS_FOLLOW= to print and exit)
	scripts/deploy.sh logs

quickstart: ## local cluster + the sample pool, sandbox and task end to end (scripts/demo.sh)
	scripts/demo.sh

local-up: ## local control plane + local node + operator; prints the KUBECONFIG line
	scripts/local-cluster.sh up

local-down: ## stop the local cluster
	scripts/local-cluster.sh down

minikube-start: ## start minikube (when installed; else see make local-up)
	scripts/deploy.sh minikube start

minikube-stop: ## stop minikube
	scripts/deploy.sh minikube stop

minikube-delete: ## delete the minikube cluster
	scripts/deploy.sh minikube delete

CLANG_FORMAT ?= clang-format
FMT_FILES = $(shell find src tests -name '*.cpp' -o -name '*.h' | sort)

fmt: ## clang-format src/ and tests/ in place (.clang-format)
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "fmt: $(CLANG_FORMAT) not found: apt-get install clang-format (or CLANG_FORMAT=/path/to/clang-format)" >&2; exit 1; }
	$(CLANG_FORMAT) -i $(FMT_FILES)

fmt-check: ## list files clang-format would change (exit 1 if any)
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "fmt-check: $(CLANG_FORMAT) not found: apt-get install clang-format (or CLANG_FORMAT=/path/to/clang-format)" >&2; exit 1; }
	@bad=$$(for f in $(FMT_FILES); do $(CLANG_FORMAT) --dry-run --Werror $$f >/dev/null 2>&1 || echo $$f; done); \
	if [ -n "$$bad" ]; then echo "fmt-check: not formatted (make fmt rewrites them):"; echo "$$bad"; exit 1; fi

clean: ## remove build trees and dist/
	rm -rf $(BUILD_DIR) build-static dist
