#!/usr/bin/env bash
# Runs every test tier, fastest first, and prints one summary line per tier:
#   unit        doctest suites (no server), hostile sidecar tests  ~1 min
#   cluster     real kube-apiserver + etcd + controller-manager,
#               local node and operator: client integration,
#               CRD validation, operator/CLI/SDK end to end        ~10 min
#   static      fully static musl arl in a busybox-only chroot,
#               Helm chart checks                                  ~5 min (first run ~10)
#   real        kubelet + containerd node (scripts/real-node.sh), ARL
#               installed by Helm from `make image`; pools of real
#               containers, sandboxes, tasks. Needs root, cgroups,
#               overlayfs, bridges, iptables: fails (never skips)
#               when one is missing; then the operator, CLI and SDK
#               suites again on real containers               ~10 min (first run ~15)
# Usage: scripts/test.sh [unit|cluster|static|real]...   (default: all four)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
export ARL_CACHE="${ARL_CACHE:-$HOME/.cache/arl}"
venv="$ARL_CACHE/venv"
# This checkout's SDK first on the path: the venv's editable install names whichever checkout
# installed it last, and another clone's test run on the same machine may reinstall it mid-run.
export PYTHONPATH="$root/sdk/python/arl-client${PYTHONPATH:+:$PYTHONPATH}"
build="${ARL_BUILD_DIR:-$root/build}"
tiers=("$@")
((${#tiers[@]})) || tiers=(unit cluster static real)

total_passed=0
total_failed=0
summary=()

# record TIER PASSED FAILED
record() {
  summary+=("$1: $2 passed, $3 failed")
  echo "$1: $2 passed, $3 failed"
  total_passed=$((total_passed + $2))
  total_failed=$((total_failed + $3))
}

# Counts from a doctest run's closing line: "[doctest] test cases: N | P passed | F failed".
doctest_counts() {
  local log="$1" line
  line="$(grep -E '^\[doctest\] test cases:' "$log" | tail -1)"
  if [ -z "$line" ]; then echo "0 1"; return; fi
  echo "$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$line") $(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$line")"
}

# Counts from a pytest junit xml file.
pytest_counts() {
  "$venv/bin/python" - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 1"); sys.exit()
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
sk = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - sk, f)
PY
}

run_doctest() {  # run_doctest NAME BINARY [env...]
  local name="$1" bin="$2" log
  log="$(mktemp)"
  if [ ! -x "$bin" ]; then echo "$name: missing binary $bin"; echo "0 1"; return; fi
  "$bin" --no-version 2>&1 | tee "$log" >&2
  doctest_counts "$log"
  rm -f "$log"
}

run_pytest() {  # run_pytest NAME ARGS...
  local name="$1"; shift
  local xml; xml="$(mktemp --suffix .xml)"
  "$venv/bin/pytest" -q -p no:cacheprovider --junitxml="$xml" "$@" >&2
  pytest_counts "$xml"
  rm -f "$xml"
}

tier_unit() {
  echo "== tier unit: build and doctest suites"
  # ccache keyed relative to the checkout, so every clone (CI's included) shares one cache.
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1 CCACHE_DIR="$ARL_CACHE/ccache"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null \
    || { record unit 0 1; return; }
  if ! cmake --build "$build" -j2; then record unit 0 1; return; fi
  local p=0 f=0 c
  for suite in core_tests sidecar_tests k8s_tests operator_tests localnode_tests mcp_tests kubectl_tests cmd_tests; do
    [ -x "$build/$suite" ] || continue
    read -r a b < <(run_doctest "$suite" "$build/$suite")
    echo "  $suite: $a passed, $b failed"
    p=$((p + a)); f=$((f + b))
  done
  # The sidecar against hostile clients: a real `arl sidecar` process over
  # real sockets, with memory and latency bounds (~10 s).
  if [ -d tests/sidecar_hostile ]; then
    read -r a b < <(ARL_BIN="$build/arl" run_pytest sidecar-hostile tests/sidecar_hostile)
    echo "  sidecar hostile: $a passed, $b failed"
    p=$((p + a)); f=$((f + b))
  fi
  if [ -d sdk/python/arl-client/tests/unit ]; then
    "$venv/bin/pip" install -q -e sdk/python/arl-client >/dev/null
    read -r a b < <(run_pytest sdk-unit sdk/python/arl-client/tests/unit)
    echo "  sdk unit: $a passed, $b failed"
    p=$((p + a)); f=$((f + b))
  fi
  record unit "$p" "$f"
}

tier_cluster() {
  echo "== tier cluster: real control plane, local node, operator"
  export ARL_STATE="${ARL_STATE:-/tmp/arl-ci}"
  export ARL_BIN="$build/arl"
  if ! "$here/local-cluster.sh" up; then record cluster 0 1; return; fi
  local kubeconfig="$ARL_STATE/kubeconfig"
  local p=0 f=0
  if [ -x "$build/integration_tests" ]; then
    read -r a b < <(KUBECONFIG="$kubeconfig" run_doctest integration "$build/integration_tests")
    echo "  client integration: $a passed, $b failed"; p=$((p + a)); f=$((f + b))
  fi
  export ARL_TEST_KUBECONFIG="$kubeconfig" ARL_E2E_KUBECONFIG="$kubeconfig"
  for dir in tests/cluster tests/e2e sdk/python/arl-client/tests/e2e sdk/python/arl-client/tests/adapter_e2e; do
    [ -d "$dir" ] || continue
    read -r a b < <(run_pytest "$dir" "$dir")
    echo "  $dir: $a passed, $b failed"; p=$((p + a)); f=$((f + b))
  done
  # The chart against the real API server (its offline checks run in the static tier).
  read -r a b < <(run_pytest chart tests/static/test_chart.py -k real_control_plane)
  echo "  chart on the control plane: $a passed, $b failed"; p=$((p + a)); f=$((f + b))
  "$here/local-cluster.sh" down >/dev/null 2>&1
  record cluster "$p" "$f"
}

tier_static() {
  echo "== tier static: musl build in a busybox chroot, chart checks"
  local p=0 f=0
  if ! "$here/build-static.sh"; then record static 0 1; return; fi
  if [ -d tests/static ]; then
    read -r a b < <(run_pytest static tests/static -k "not real_control_plane")
    p=$((p + a)); f=$((f + b))
  fi
  record static "$p" "$f"
}

tier_real() {
  echo "== tier real: kubelet + containerd node, ARL installed by Helm"
  export ARL_REAL_STATE="${ARL_REAL_STATE:-/tmp/arl-real-ci}"
  local p=0 f=0 tar lock_fd
  # One real node per machine (its addresses, bridge and iptables chains are fixed): another
  # run holding it is waited for, not raced.
  exec {lock_fd}>/tmp/arl-real.lock
  if ! flock -w 1800 "$lock_fd"; then echo "real: another real node held /tmp/arl-real.lock for 30 min"; record real 0 1; return; fi
  # The image under test is this tree's: the static build and `make image` (cached builds).
  if [ -n "${ARL_IMAGE_TAR:-}" ]; then tar="$ARL_IMAGE_TAR"
  elif ! tar="$("$here/build-image.sh" | tail -n1)"; then echo "real: building the ARL image failed"; record real 0 1; return; fi
  if ! ARL_IMAGE_TAR="$tar" "$here/real-node.sh" up >/dev/null; then
    echo "real: scripts/real-node.sh up failed (see the message above; logs in $ARL_REAL_STATE/logs)"
    "$here/real-node.sh" down >/dev/null 2>&1
    record real 0 1; return
  fi
  read -r a b < <(ARL_REAL_KUBECONFIG="$ARL_REAL_STATE/kubeconfig" run_pytest real tests/real)
  echo "  tests/real: $a passed, $b failed"; p=$((p + a)); f=$((f + b))
  # The walkthroughs the local node passes, again on real containers: the operator's (the
  # operator pod is killed mid-task), the plugin's and the SDK's, on the Debian python image.
  local dir
  for dir in tests/e2e/operator tests/e2e/test_cli.py sdk/python/arl-client/tests/e2e; do
    read -r a b < <(ARL_E2E_KUBECONFIG="$ARL_REAL_STATE/kubeconfig" ARL_E2E_IMAGE=localhost/arl-test/python:1 \
      ARL_E2E_OPERATOR=deployment ARL_BIN="${ARL_BIN:-$root/dist/arl}" run_pytest "real $dir" "$dir")
    echo "  $dir on the real node: $a passed, $b failed"; p=$((p + a)); f=$((f + b))
  done
  # The operator's log outlives the node for whoever reads a failure.
  "$ARL_CACHE/bin/k8s-v${K8S_VERSION:-1.33.13}/kubectl" --kubeconfig "$ARL_REAL_STATE/kubeconfig" -n arl-system \
    logs deployment/arl-operator --all-containers --tail=-1 >"$ARL_REAL_STATE/logs/operator.log" 2>&1 || true
  ((f == 0)) || echo "real: the operator's log is in $ARL_REAL_STATE/logs/operator.log"
  # Leaving the machine clean is part of the tier: a leftover process, mount or rule fails it.
  if "$here/real-node.sh" down; then p=$((p + 1)); else echo "real: down left things behind"; f=$((f + 1)); fi
  exec {lock_fd}>&-
  record real "$p" "$f"
}

"$here/setup.sh" || { echo "setup failed"; echo "all: 0 passed, 1 failed"; exit 1; }
# Real Kubernetes binaries, helm and crane, built from the Go module proxy and
# cached (~10 min the first time, instant afterwards).
"$here/install-kube-tools.sh" all >/dev/null || { echo "building the Kubernetes tools failed"; echo "all: 0 passed, 1 failed"; exit 1; }
for t in "${tiers[@]}"; do
  "tier_$t"
done
echo "== summary"
for s in "${summary[@]}"; do echo "$s"; done
echo "all: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ] && [ "$total_passed" -gt 0 ]
