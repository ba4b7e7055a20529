"""The operator end to end on the real control plane and the local node (issue 8)."""
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from op_cluster import _ready

ROOT = Path(__file__).resolve().parents[3]


def test_pool_scales_and_replaces_pods(cluster, ns):
    cluster.ready_pool(ns, "py", 3)
    pods = cluster.pods(ns, "py")
    assert len(pods) == 3
    for p in pods:
        assert p.metadata.labels["arl.infra.io/pod-state"] == "ready"
        assert p.metadata.owner_references[0].kind == "WarmPool"
        assert p.status.pod_ip.startswith("198.18.") or p.status.pod_ip.startswith("198.19.")
    cluster.patch(ns, "warmpools", "py", {"spec": {"replicas": 5}})
    cluster.wait("5 ready pods", lambda: len([p for p in cluster.pods(ns, "py") if _ready(p)]) == 5)
    cluster.patch(ns, "warmpools", "py", {"spec": {"replicas": 1}})
    cluster.wait("1 pod", lambda: len(cluster.pods(ns, "py")) == 1)
    victim = cluster.pods(ns, "py")[0].metadata.name
    cluster.core.delete_namespaced_pod(victim, ns)
    cluster.wait("a replacement pod", lambda: [p for p in cluster.pods(ns, "py")
                                               if p.metadata.name != victim and _ready(p)])
    status = cluster.wait("pool status", lambda: (w := cluster.get(ns, "warmpools", "py"))
                          and w.get("status", {}).get("readyReplicas") == 1 and w)
    assert status["status"]["phase"] == "Ready"
    cluster.delete(ns, "warmpools", "py")
    cluster.wait("pods gone", lambda: not cluster.pods(ns, "py"))


def test_sandbox_ready_fast_and_never_shared(cluster, ns):
    cluster.ready_pool(ns, "py", 20)
    start = time.monotonic()
    cluster.sandbox(ns, "one", "py")
    sb = cluster.wait_phase(ns, "one", "Ready")
    took = time.monotonic() - start
    assert sb["status"]["podName"] and sb["status"]["podIP"]
    assert took < 1.0, f"sandbox Ready after {took:.3f}s"

    threads = [threading.Thread(target=cluster.sandbox, args=(ns, f"s{i}", "py")) for i in range(19)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pods = set()
    for i in range(19):
        pods.add(cluster.wait_phase(ns, f"s{i}", "Ready")["status"]["podName"])
    pods.add(sb["status"]["podName"])
    assert len(pods) == 20
    for name in pods:
        pod = cluster.core.read_namespaced_pod(name, ns)
        assert pod.metadata.labels["arl.infra.io/pod-state"] == "allocated"


def test_task_runs_steps_and_reports_output(cluster, ns):
    cluster.ready_pool(ns, "py", 1)
    cluster.sandbox(ns, "sb", "py")
    cluster.wait_phase(ns, "sb", "Ready")
    cluster.task(ns, "hello", "sb", [
        {"name": "write", "type": "FilePatch", "path": "hello.txt", "content": "hello from ARL\n"},
        {"name": "read", "type": "Command", "command": ["sh", "-c", "cat hello.txt"]},
    ])
    t = cluster.wait_task(ns, "hello")
    assert t["status"]["state"] == "Succeeded", t["status"]
    assert t["status"]["stdout"] == "hello from ARL\n"
    assert t["status"]["exitCode"] == 0

    cluster.task(ns, "fails", "sb", [
        {"name": "bad", "type": "Command", "command": ["sh", "-c", "echo oops >&2; exit 3"]},
        {"name": "never", "type": "Command", "command": ["touch", "never"]},
    ])
    t = cluster.wait_task(ns, "fails")
    assert t["status"]["state"] == "Failed"
    assert t["status"]["exitCode"] == 3
    assert t["status"]["stderr"] == "oops\n"
    assert t["status"]["steps"][1]["state"] == "Skipped"

    cluster.task(ns, "env", "sb", [
        {"name": "with", "type": "Command", "command": ["sh", "-c", "echo ${ARL_X:-unset}"], "env": {"ARL_X": "set"}},
        {"name": "without", "type": "Command", "command": ["sh", "-c", "echo ${ARL_X:-unset}"]},
    ])
    t = cluster.wait_task(ns, "env")
    assert [s["stdout"] for s in t["status"]["steps"]] == ["set\n", "unset\n"]

    cluster.task(ns, "slow", "sb", [{"name": "sleep", "type": "Command", "command": ["sleep", "30"]}], timeout="1s")
    t = cluster.wait_task(ns, "slow", timeout=15)
    assert t["status"]["state"] == "Failed"
    assert t["status"]["reason"] == "Timeout"


def test_background_process_outlives_its_task(cluster, ns):
    cluster.ready_pool(ns, "py", 1)
    cluster.sandbox(ns, "sb", "py")
    cluster.wait_phase(ns, "sb", "Ready")
    cluster.task(ns, "start", "sb", [{"name": "srv", "type": "Command", "command": ["sleep", "300"], "background": True}])
    t = cluster.wait_task(ns, "start")
    pid = t["status"]["steps"][0]["pid"]
    assert pid > 0
    cluster.task(ns, "check", "sb", [{"name": "ps", "type": "Command", "command": ["kill", "-0", str(pid)]}])
    assert cluster.wait_task(ns, "check")["status"]["state"] == "Succeeded"


def test_keep_alive_false_releases_and_ttls_delete(cluster, ns):
    cluster.ready_pool(ns, "py", 1)
    # 3 s, not 1: the idle TTL counts from allocatedAt (whole seconds), so a
    # 1 s TTL could delete the sandbox before it was ever seen Ready.
    cluster.sandbox(ns, "once", "py", keep_alive=False, ttl=3)
    sb = cluster.wait_phase(ns, "once", "Ready")
    pod = sb["status"]["podName"]
    # The task's TTL is 3 s too: completedAt has whole seconds, so a 1 s TTL
    # could delete the task within milliseconds of its outcome, before this
    # test's poll saw it (the failure seen on the real node: "last value: None").
    cluster.task(ns, "only", "once", [{"name": "a", "type": "Command", "command": ["true"]}], ttlSecondsAfterFinished=3)
    status = cluster.wait_task(ns, "only")["status"]
    assert status["state"] == "Succeeded", status
    cluster.wait("pod deleted", lambda: pod not in [p.metadata.name for p in cluster.pods(ns, "py")])
    cluster.wait("sandbox deleted by its TTL", lambda: cluster.get(ns, "sandboxes", "once") is None, timeout=15)
    cluster.wait("task deleted by its TTL", lambda: cluster.get(ns, "tasks", "only") is None, timeout=15)


def test_sidecar_answers_through_the_pod_proxy(cluster, ns):
    cluster.ready_pool(ns, "py", 1)
    cluster.sandbox(ns, "sb", "py")
    sb = cluster.wait_phase(ns, "sb", "Ready")
    body = cluster.core.connect_get_namespaced_pod_proxy_with_path(f"{sb['status']['podName']}:8080", ns, "health")
    assert "ok" in str(body)


def test_deleting_a_sandbox_deletes_its_pod(cluster, ns):
    cluster.ready_pool(ns, "py", 1)
    cluster.sandbox(ns, "sb", "py")
    pod = cluster.wait_phase(ns, "sb", "Ready")["status"]["podName"]
    cluster.delete(ns, "sandboxes", "sb")
    cluster.wait("pod gone", lambda: pod not in [p.metadata.name for p in cluster.pods(ns, "py")])


def _operator_pid():
    state = os.environ.get("ARL_STATE", "/tmp/arl-ci")
    pid_file = Path(state) / "pids" / "operator.pid"
    if not pid_file.exists():
        pytest.fail(f"{pid_file} missing: the operator must be started by scripts/local-cluster.sh")
    return int(pid_file.read_text().strip())


def _kill_operator(cluster):
    """Kills the operator without warning and waits for its replacement.

    ARL_E2E_OPERATOR=deployment (the real node, installed by Helm): the operator pod is deleted
    with no grace period and its Deployment starts another, which takes over the Lease.
    Otherwise (the local cluster): SIGKILL, then scripts/local-cluster.sh starts it again."""
    if os.environ.get("ARL_E2E_OPERATOR") != "deployment":
        os.kill(_operator_pid(), signal.SIGKILL)
        subprocess.run([str(ROOT / "scripts" / "local-cluster.sh"), "restart-operator"], check=True, timeout=60)
        return
    selector = "app.kubernetes.io/name=arl-operator"
    old = {p.metadata.name for p in cluster.core.list_namespaced_pod("arl-system", label_selector=selector).items}
    for name in old:
        cluster.core.delete_namespaced_pod(name, "arl-system", grace_period_seconds=0)
    cluster.wait("a new operator pod Ready", lambda: any(
        p.metadata.name not in old and p.metadata.deletion_timestamp is None and _ready(p)
        for p in cluster.core.list_namespaced_pod("arl-system", label_selector=selector).items),
        timeout=120, interval=0.2)


def test_operator_restart_loses_nothing(cluster, ns):
    cluster.ready_pool(ns, "py", 10)
    for i in range(10):
        cluster.sandbox(ns, f"s{i}", "py")
    _kill_operator(cluster)
    # A killed leader's Lease runs out before its successor may act: allow for it.
    pods = [cluster.wait_phase(ns, f"s{i}", "Ready", timeout=90)["status"]["podName"] for i in range(10)]
    assert len(set(pods)) == 10, "a pod was allocated twice"
    for i in range(10):
        cluster.task(ns, f"t{i}", f"s{i}", [{"name": "a", "type": "Command", "command": ["sh", "-c", "sleep 0.2; echo done"]}])
    time.sleep(0.3)
    _kill_operator(cluster)
    for i in range(10):
        t = cluster.wait_task(ns, f"t{i}", timeout=120)
        assert t["status"]["state"] in ("Succeeded", "Failed")
        if t["status"]["state"] == "Failed":
            assert t["status"]["reason"] == "OperatorRestarted"
