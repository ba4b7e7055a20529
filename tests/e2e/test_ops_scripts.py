"""The operations guide's helpers on the local cluster (scripts/local-cluster.sh): a pool pod, a
pod that never starts, names that match nothing, usage errors and a missing kubectl.

The local node runs pods as host processes with no kubelet API, so `kubectl logs` and `kubectl
exec` fail there: debug_pod.sh must report that and go on, exec_test.sh must say kubectl could not
run the command. Its kube-controller-manager runs no deployment controller, so a Deployment never
gets pods: verify_deployment.py must time out saying so. The healthy Deployment, real logs and real
exec are tested on the real node (tests/real/test_ops_scripts.py).
"""
import os
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client

sys.path.insert(0, str(Path(__file__).resolve().parent / "operator"))
from op_cluster import Cluster  # noqa: E402
from ops_scripts import (bin_without_kubectl, find_uv, load_verify_deployment, plain_path,  # noqa: E402
                         run)

POOL = "ops"


@pytest.fixture(scope="module")
def cluster():
    return Cluster.from_env("ARL_E2E_KUBECONFIG", "the local cluster (`scripts/local-cluster.sh up`)")


@pytest.fixture(scope="module")
def kubeconfig(cluster):
    return os.environ["ARL_E2E_KUBECONFIG"]


@pytest.fixture(scope="module")
def ns(cluster):
    with cluster.namespace("ops") as name:
        cluster.ready_pool(name, POOL, 2)
        # Bound to a node that does not exist: Pending for ever, no container status.
        cluster.core.create_namespaced_pod(name, {
            "metadata": {"name": "stuck"},
            "spec": {"nodeName": "no-such-node", "containers": [{"name": "main", "image": "busybox:1",
                                                                 "resources": {"requests": {"cpu": "50m"}}}]}})
        try:
            yield name
        finally:
            # No node agent will ever confirm its end: without grace 0 it stays Terminating and
            # keeps the namespace from going.
            cluster.core.delete_namespaced_pod("stuck", name, grace_period_seconds=0)


def pool_pods(cluster, ns):
    return sorted(p.metadata.name for p in cluster.pods(ns, POOL))


# ---- wait_for_pod.sh

def test_wait_for_pod_returns_0_when_pool_pods_are_running_and_ready(cluster, kubeconfig, ns):
    r = run(kubeconfig, "wait_for_pod.sh", ns, f"^{POOL}-", "60")
    assert r.returncode == 0, r.stdout + r.stderr
    for name in pool_pods(cluster, ns):
        assert f"pod {ns}/{name}: Running, 1/1 containers ready" in r.stdout


def test_wait_for_pod_times_out_with_1_naming_what_the_pod_lacks(kubeconfig, ns):
    started = time.monotonic()
    r = run(kubeconfig, "wait_for_pod.sh", ns, "stuck", "2")
    took = time.monotonic() - started
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"timed out after 2s waiting for pods matching 'stuck' in namespace {ns}:" in r.stdout
    assert "not ready: stuck: Pending, 0/1 containers ready" in r.stdout
    assert 1 <= took < 15, took


def test_wait_for_pod_with_a_pattern_matching_nothing_exits_1_and_lists_the_pods(cluster, kubeconfig, ns):
    r = run(kubeconfig, "wait_for_pod.sh", ns, "no-such-pod", "1")
    assert r.returncode == 1
    assert "no pod matches 'no-such-pod' (pods in " + ns + ": " in r.stdout
    assert pool_pods(cluster, ns)[0] in r.stdout
    r = run(kubeconfig, "wait_for_pod.sh", "no-such-namespace", "x", "0")
    assert (r.returncode, r.stdout.splitlines()[-1]) == (1, "  namespace no-such-namespace does not exist")


# ---- debug_pod.sh

def test_debug_pod_reports_every_section_of_a_pool_pod_and_exits_0(cluster, kubeconfig, ns):
    pod = pool_pods(cluster, ns)[0]
    r = run(kubeconfig, "debug_pod.sh", ns, pod)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for header in (f"===== Pod {ns}/{pod}", "===== Containers: state, restarts, last state",
                   "===== Resources: requests and limits", "===== kubectl describe pod",
                   "===== Logs of container arl-init (last 200 lines)", "===== Logs of container main (last 200 lines)",
                   "===== Logs of container main, previous instance", f"===== Events of pod {ns}/{pod}",
                   f"===== Recent warnings in namespace {ns}"):
        assert header in out, f"missing {header!r} in:\n{out}"
    assert "main: ready=true restarts=0" in out
    assert "main: requests=<none> limits=<none>" in out
    assert f"Controlled By:  WarmPool/{POOL}" in out
    # The local node serves the log of the one container it runs; init containers never run
    # there, so that section says kubectl could not get it, and goes on.
    assert f"(unavailable: `kubectl logs -n {ns} {pod} -c arl-init --tail=200` exited with status 1)" in out
    assert f"-c main --tail=200` exited" not in out
    assert '"msg":"Started sidecar"' in out  # the executor's own log, through pods/log
    assert "(none: the container has not restarted)" in out
    assert out.rstrip().endswith(f"verdict: healthy: {pod}: Running, 1/1 containers ready")


def test_debug_pod_of_a_pending_pod_exits_1_with_its_resources(kubeconfig, ns):
    r = run(kubeconfig, "debug_pod.sh", ns, "stuck")
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'main: requests={"cpu":"50m"} limits=<none>' in r.stdout
    assert "QoS class: Burstable" in r.stdout
    assert r.stdout.rstrip().endswith("verdict: not healthy: stuck: Pending, 0/1 containers ready")


def test_debug_pod_of_a_missing_pod_exits_1_and_lists_the_namespace(cluster, kubeconfig, ns):
    r = run(kubeconfig, "debug_pod.sh", ns, "no-such-pod")
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == f'pod {ns}/no-such-pod: cannot read it: Error from server (NotFound): pods "no-such-pod" not found'
    assert lines[1].startswith(f"pods in {ns}: ") and pool_pods(cluster, ns)[0] in lines[1]
    assert lines[-1] == f"verdict: pod {ns}/no-such-pod not found"


# ---- exec_test.sh

def test_exec_test_picks_the_first_running_pod_and_says_kubectl_cannot_exec_on_the_local_node(
        cluster, kubeconfig, ns):
    first = pool_pods(cluster, ns)[0]
    r = run(kubeconfig, "exec_test.sh", ns, POOL, "echo", "hi")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"exec_test.sh: running in pod {ns}/{first}: echo hi\n" in r.stderr
    assert f"exec_test.sh: kubectl could not run `echo hi` in pod {ns}/{first} (exit 1): " in r.stderr
    assert r.stdout == ""


def test_exec_test_without_a_running_match_exits_1(cluster, kubeconfig, ns):
    r = run(kubeconfig, "exec_test.sh", ns, "stuck", "true")
    assert r.returncode == 1
    assert r.stderr.strip() == (f"exec_test.sh: no Running pod in namespace {ns} matches 'stuck'; "
                                "matching pods: stuck: Pending, 0/1 containers ready")
    r = run(kubeconfig, "exec_test.sh", ns, "no-such-pod", "curl -f http://localhost:8080/health")
    assert r.returncode == 1
    assert f"exec_test.sh: no pod in namespace {ns} matches 'no-such-pod' (pods there: " in r.stderr


# ---- verify_deployment.py

def test_verify_deployment_of_a_missing_deployment_exits_1_at_once(kubeconfig, ns):
    started = time.monotonic()
    r = run(kubeconfig, "verify_deployment.py", "arl-operator", ns, "300")
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout == f"deployment {ns}/arl-operator: not found (deployments in namespace {ns}: <none>)\n"
    assert time.monotonic() - started < 30


def test_verify_deployment_times_out_naming_why_each_pod_cannot_start(cluster, kubeconfig, ns):
    # The local cluster runs the deployment controller; the local node cannot run an image's
    # entrypoint, so these pods wait with a reason the script must pass on.
    apps = client.AppsV1Api(cluster.api_client)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(ns, {
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "web", "image": "busybox:1"}]}}}})
    started = time.monotonic()
    r = run(kubeconfig, "verify_deployment.py", "web", ns, "3")
    took = time.monotonic() - started
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"deployment {ns}/web is not healthy after 3s:\n" in r.stdout
    assert "  - ready replicas 0 of 2 desired\n" in r.stdout
    waiting = [line for line in r.stdout.splitlines() if line.startswith("  - pod web-")]
    assert len(waiting) == 2, r.stdout
    assert all("Pending; container web: waiting: LocalNodeNeedsCommand: container web has no command" in line
               for line in waiting), waiting
    assert 3 <= took < 30, took


def test_verify_deployment_runs_under_uv_run_python_without_the_package_installed(kubeconfig, ns):
    """`uv run python scripts/verify_deployment.py` (the guide's form) starts a bare interpreter;
    the script then re-runs itself through `uv run --script`, which installs its header's deps."""
    uv = find_uv()
    if uv is None:
        pytest.skip("uv is not installed (pip install uv); the project venv run is covered above")
    r = run(kubeconfig, "verify_deployment.py", "no-such-deployment", ns, "0", prefix=(uv, "run", "python"),
            path=plain_path(), timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith(f"deployment {ns}/no-such-deployment: not found (deployments in namespace {ns}: ")


def test_verify_deployment_without_the_package_or_uv_says_how_to_get_it(kubeconfig, tmp_path):
    bare = tmp_path / "python"
    bare.symlink_to("/usr/bin/python3")  # Debian's interpreter, without `kubernetes`
    r = run(kubeconfig, "verify_deployment.py", "x", "default", "0", python=str(bare),
            path=bin_without_kubectl(tmp_path))
    assert r.returncode == 1
    assert "verify_deployment.py: needs the Python package `kubernetes`: run it with `uv run " in r.stderr


# ---- usage errors and a missing kubectl

@pytest.mark.parametrize("script, args, message", [
    ("wait_for_pod.sh", [], "wait_for_pod.sh: expected 2 or 3 arguments, got 0"),
    ("wait_for_pod.sh", ["default", "x", "soon"], "wait_for_pod.sh: timeout 'soon': expected whole seconds, e.g. 300"),
    ("wait_for_pod.sh", ["default", "(", "1"], "wait_for_pod.sh: pod pattern '(': not a valid extended regular expression"),
    ("debug_pod.sh", ["default"], "debug_pod.sh: expected 2 arguments, got 1"),
    ("exec_test.sh", ["default", "x"], "exec_test.sh: expected a namespace, a pod pattern and a command, got 2 arguments"),
    ("exec_test.sh", ["-c"], "exec_test.sh: -c needs a container name"),
    ("verify_deployment.py", [], "verify_deployment.py: expected 1 to 3 arguments, got 0"),
    ("verify_deployment.py", ["d", "ns", "-1"], "verify_deployment.py: timeout '-1': must be 0 or more seconds"),
])
def test_usage_errors_exit_2_with_the_usage_line(kubeconfig, script, args, message):
    r = run(kubeconfig, script, *args)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == message
    assert lines[1].startswith("usage: ") and script in lines[1]
    assert r.stdout == ""


@pytest.mark.parametrize("script", ["wait_for_pod.sh", "debug_pod.sh", "exec_test.sh", "verify_deployment.py"])
def test_help_exits_0(kubeconfig, script):
    r = run(kubeconfig, script, "--help")
    assert r.returncode == 0 and "usage" in r.stdout.lower()


@pytest.mark.parametrize("script, args", [("wait_for_pod.sh", ["default", "x", "1"]),
                                          ("debug_pod.sh", ["default", "p"]),
                                          ("exec_test.sh", ["default", "x", "true"])])
def test_missing_kubectl_is_named_and_exits_1(kubeconfig, tmp_path, script, args):
    r = run(kubeconfig, script, *args, path=bin_without_kubectl(tmp_path))
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.startswith(f"{script}: kubectl not found on PATH: install kubectl")


# ---- verify_deployment.py's decision, on API objects written out

DEP_UID, RS_UID = "d-1", "rs-1"


def deployment(replicas=1, **status):
    st = {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
          "availableReplicas": replicas}
    st.update(status)
    return {"metadata": {"name": "web", "namespace": "prod", "uid": DEP_UID, "generation": 1},
            "spec": {"replicas": replicas}, "status": st}


def replicaset():
    return {"metadata": {"name": "web-1", "uid": RS_UID, "ownerReferences": [{"uid": DEP_UID}]}}


def pod(name, phase="Running", ready=True, owner=RS_UID, state=None, deleting=False):
    meta = {"name": name, "ownerReferences": [{"uid": owner}]}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"containers": [{"name": "main"}]},
            "status": {"phase": phase, "containerStatuses": [
                {"name": "main", "ready": ready, "restartCount": 0, "state": state or {"running": {}}}]}}


def test_assess_healthy_deployment_has_no_problems():
    vd = load_verify_deployment()
    others = [pod("someone-else", phase="Pending", ready=False, owner="other-rs"),
              pod("web-old", phase="Running", ready=False, deleting=True)]
    assert vd.assess(deployment(2), [replicaset()], [pod("web-a"), pod("web-b"), *others]) == []


def test_assess_names_each_problem():
    vd = load_verify_deployment()
    waiting = {"waiting": {"reason": "ErrImageNeverPull", "message": 'image "x" is not present'}}
    dep = deployment(1, readyReplicas=0, availableReplicas=0, conditions=[
        {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
         "message": "Deployment does not have minimum availability."}])
    assert vd.assess(dep, [replicaset()], [pod("web-a", phase="Pending", ready=False, state=waiting)]) == [
        "ready replicas 0 of 1 desired",
        "available replicas 0 of 1 desired",
        "condition Available=False: MinimumReplicasUnavailable: Deployment does not have minimum availability.",
        'pod web-a: Pending; container main: waiting: ErrImageNeverPull: image "x" is not present',
    ]


def test_assess_scaled_to_zero_and_rollouts_are_not_healthy():
    vd = load_verify_deployment()
    zero = deployment(0)
    assert vd.assess(zero, [replicaset()], []) == [
        "spec.replicas is 0: the deployment is scaled to zero and runs nothing "
        "(kubectl scale deployment/web --replicas=1 -n prod)"]
    rolling = deployment(1)
    rolling["status"]["replicas"] = 2
    assert vd.assess(rolling, [replicaset()], [pod("web-a")]) == [
        "1 replicas of an older revision still exist (rollout in progress)"]


def test_assess_without_a_deployment_controller_says_so():
    # The local cluster runs the deployment controller now: this case is checked here, offline.
    vd = load_verify_deployment()
    never_seen = {"metadata": {"name": "web", "namespace": "prod", "uid": DEP_UID, "generation": 1},
                  "spec": {"replicas": 2}}
    assert vd.assess(never_seen, [], []) == [
        "the deployment controller has not handled generation 1 yet (observedGeneration 0): no ReplicaSet and no "
        "status at all; is kube-controller-manager running its deployment controller?",
        "updated replicas 0 of 2 desired", "ready replicas 0 of 2 desired", "available replicas 0 of 2 desired",
        "no pod of the deployment exists"]


def test_label_selector_renders_expressions():
    vd = load_verify_deployment()
    sel = {"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["x", "y"]}, {"key": "gone", "operator": "DoesNotExist"}]}
    assert vd.label_selector(sel) == "a=1,b=2,tier in (x,y),!gone"
