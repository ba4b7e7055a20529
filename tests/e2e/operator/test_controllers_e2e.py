"""Resources and controllers (issue 14) on the real API server: the Pending state, per-attempt
timeouts, timeout_seconds 0, deleting a pool under live sandboxes, a failed run releasing its
sandbox, the short pod labels and the operator's Reconciling log lines."""
import base64
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from kubernetes import watch

from op_cluster import GROUP, VERSION, sandbox_token

ROOT = Path(__file__).resolve().parents[3]
K8S_VERSION = os.environ.get("ARL_K8S_VERSION", "1.33.13")
KUBECTL = Path(os.environ.get("ARL_KUBECTL", Path.home() / ".cache" / "arl" / "bin" / f"k8s-v{K8S_VERSION}" / "kubectl"))
ECHO = [{"name": "a", "type": "Command", "command": ["sh", "-c", "echo alive"]}]


def kubectl(*args, check=True):
    if not KUBECTL.is_file():
        pytest.fail(f"{KUBECTL} is missing (set ARL_KUBECTL)")
    p = subprocess.run([str(KUBECTL), "--kubeconfig", os.environ["ARL_E2E_KUBECONFIG"], *args],
                       capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def ready_sandbox(cluster, ns, name="sb", pool="py", **kw):
    cluster.sandbox(ns, name, pool, **kw)
    return cluster.wait_phase(ns, name, "Ready")


def test_a_task_that_has_not_started_reads_pending(cluster, ns):
    # No sandbox yet: the task waits, and every way of looking at it says Pending.
    cluster.task(ns, "t", "sb", [{"name": "a", "type": "Command", "command": ["sh", "-c", "sleep 1; echo done"]}])
    assert cluster.get(ns, "tasks", "t")["status"]["state"] == "Pending"
    assert kubectl("-n", ns, "get", "task", "t", "--no-headers").stdout.split()[1] == "Pending"
    kubectl("-n", ns, "wait", "--for=jsonpath={.status.state}=Pending", "task/t", "--timeout=10s")
    # Why it waits is in reason/message, the state stays Pending.
    st = cluster.wait("the wait reason", lambda: (cluster.get(ns, "tasks", "t")["status"].get("reason") == "WaitingForSandbox"
                                                 and cluster.get(ns, "tasks", "t")["status"]), timeout=10)
    assert st["state"] == "Pending" and st["message"].startswith('sandbox "sb" does not exist yet')

    states = []
    w = watch.Watch()

    def follow():
        for ev in w.stream(cluster.custom.list_namespaced_custom_object, GROUP, VERSION, ns, "tasks",
                           field_selector="metadata.name=t", timeout_seconds=60):
            state = ev["object"].get("status", {}).get("state")
            if not states or states[-1] != state:
                states.append(state)
            if state in ("Succeeded", "Failed"):
                w.stop()

    th = threading.Thread(target=follow)
    th.start()
    cluster.wait("the watch's first event", lambda: states, timeout=10)
    cluster.ready_pool(ns, "py", 1)
    ready_sandbox(cluster, ns)
    th.join(timeout=60)
    assert states == ["Pending", "Running", "Succeeded"]


def test_a_task_queued_behind_another_reads_pending_with_the_reason(cluster, ns):
    cluster.ready_pool(ns, "py", 1)
    ready_sandbox(cluster, ns)
    cluster.task(ns, "first", "sb", [{"name": "a", "type": "Command", "command": ["sleep", "2"]}])
    cluster.wait("first Running", lambda: cluster.get(ns, "tasks", "first")["status"].get("state") == "Running", timeout=10)
    cluster.task(ns, "second", "sb", ECHO)
    st = cluster.wait("second says it waits", lambda: (s := cluster.get(ns, "tasks", "second")["status"])
                      .get("reason") == "WaitingForTask" and s, timeout=10)
    assert st["state"] == "Pending"
    t = cluster.wait_task(ns, "second")
    assert (t["status"]["state"], t["status"].get("reason", "")) == ("Succeeded", "")


def test_each_attempt_gets_the_whole_timeout_and_a_timeout_is_retried(cluster, ns):
    cluster.ready_pool(ns, "py", 1)
    ready_sandbox(cluster, ns)
    # Attempt 1 hangs past its 3 s; attempt 2 finds the marker and succeeds at once.
    slow_once = "if [ -f once ]; then echo second; else touch once; sleep 30; fi"
    cluster.task(ns, "t", "sb", [{"name": "a", "type": "Command", "command": ["sh", "-c", slow_once]}],
                 timeout="3s", retries=2)
    t = cluster.wait_task(ns, "t", timeout=30)
    assert t["status"]["state"] == "Succeeded", t["status"]
    assert t["status"]["attempts"] == 2
    assert t["status"]["stdout"] == "second\n"
    # Every attempt times out: the last one's reason is the task's.
    cluster.task(ns, "never", "sb", [{"name": "a", "type": "Command", "command": ["sleep", "30"]}], timeout="1s", retries=1)
    t = cluster.wait_task(ns, "never", timeout=30)
    assert (t["status"]["state"], t["status"]["reason"], t["status"]["attempts"]) == ("Failed", "Timeout", 2)
    assert t["status"]["message"] == "attempt 2 exceeded its timeout of 1s in step a"


def sidecar_post(cluster, ns, pod, path, body):
    """POST to a sandbox pod's sidecar through the API server's pod proxy, with the sandbox's own
    token (derived from the pool's, as the CLI and SDK do); returns (HTTP status, decoded JSON reply)."""
    pool_token = base64.b64decode(cluster.core.read_namespaced_secret("arl-pool-py", ns).data["token"]).decode()
    sb = cluster.custom.get_namespaced_custom_object("arl.infra.io", "v1alpha1", ns, "sandboxes", "sb")
    assert sb["status"]["podName"] == pod, sb["status"]
    token = sandbox_token(pool_token, sb["metadata"]["uid"])
    params = cluster.api_client.param_serialize(
        "POST", f"/api/v1/namespaces/{ns}/pods/{pod}:8080/proxy/{path}",
        header_params={"X-Arl-Token": token, "Content-Type": "application/json", "Accept": "application/json"},
        body=body, auth_settings=["BearerToken"])
    resp = cluster.api_client.call_api(*params)
    resp.read()
    return resp.status, json.loads(resp.data)


def test_execute_with_timeout_seconds_zero_means_no_timeout(cluster, ns):
    cluster.ready_pool(ns, "py", 1)
    pod = ready_sandbox(cluster, ns)["status"]["podName"]
    # The manual's background example.
    code, r = sidecar_post(cluster, ns, pod, "execute", {"command": ["sleep", "30"], "background": True, "timeout_seconds": 0})
    assert code == 200 and r["pid"] > 0 and r["done"] is False, r
    code, r = sidecar_post(cluster, ns, pod, "execute", {"command": ["sh", "-c", "sleep 0.2; echo fg"], "timeout_seconds": 0})
    assert (code, r["stdout"], r["exit_code"], r["timed_out"]) == (200, "fg\n", 0, False)
    code, r = sidecar_post(cluster, ns, pod, "execute", {"command": ["true"], "timeout_seconds": -1})
    assert code == 400
    assert r["error"] == "timeout_seconds: must be 0 (no timeout) or a number of seconds up to 604800, got -1"


def _ensure_delete_warning_policy(cluster, ns):
    """The policy ships in manifests/ and the chart; the local cluster script applies only the
    CRDs and RBAC, so apply it here when no install has. Returns once the API server enforces
    it (a server-side dry-run delete of a pool with an allocated sandbox warns)."""
    names = kubectl("get", "validatingadmissionpolicies", "-o", "name", check=False).stdout
    if "warmpool-delete-warning" not in names:
        kubectl("apply", "-f", str(ROOT / "manifests" / "warmpool-delete-warning.yaml"))
    cluster.wait("the delete-warning policy in force", lambda: "still has" in kubectl(
        "-n", ns, "delete", "warmpool", "py", "--dry-run=server").stderr, timeout=30, interval=0.5)


def test_deleting_a_pool_warns_and_its_sandboxes_keep_working(cluster, ns):
    cluster.ready_pool(ns, "py", 1)
    ready_sandbox(cluster, ns, "a")
    ready_sandbox(cluster, ns, "b")
    cluster.wait("pool status counts 2 allocated", lambda: (cluster.get(ns, "warmpools", "py").get("status") or {})
                 .get("allocatedReplicas") == 2)
    _ensure_delete_warning_policy(cluster, ns)

    p = kubectl("-n", ns, "delete", "warmpool", "py")
    assert 'warmpool "py" still has 2 allocated sandbox(es): they keep their pods and keep working until released or deleted' \
        in p.stderr, p.stderr
    assert p.stderr.startswith("Warning:")
    cluster.wait("pool gone", lambda: cluster.get(ns, "warmpools", "py") is None)
    cluster.wait("idle pods gone", lambda: not cluster.pods(ns, "py", "ready"), timeout=60)

    # The token outlives the pool: a task on a surviving sandbox still runs.
    time.sleep(1)  # let the garbage collector act on the pool's dependents first
    cluster.task(ns, "t", "a", ECHO)
    t = cluster.wait_task(ns, "t")
    assert t["status"]["state"] == "Succeeded", t["status"]
    assert t["status"]["stdout"] == "alive\n"

    # Releasing the sandboxes cleans the Secret up, and only the last one does.
    secret_exists = lambda: "arl-pool-py" in [s.metadata.name for s in cluster.core.list_namespaced_secret(ns).items]
    cluster.delete(ns, "sandboxes", "a")
    cluster.wait("sandbox a gone", lambda: cluster.get(ns, "sandboxes", "a") is None)
    time.sleep(1)
    assert secret_exists(), "the Secret went while sandbox b still holds a pod"
    cluster.delete(ns, "sandboxes", "b")
    cluster.wait("the token Secret deleted", lambda: not secret_exists(), timeout=30)


def test_a_run_that_fails_does_not_leave_its_sandbox_bound(cluster, ns):
    cluster.ready_pool(ns, "py", 1)
    ready_sandbox(cluster, ns, ttl=2)
    # The task is deleted while it runs: the run's outcome write fails (404), the exception
    # path. The sandbox must come back to Ready, so its idle TTL deletes it.
    cluster.task(ns, "t", "sb", [{"name": "a", "type": "Command", "command": ["sleep", "2"]}])
    cluster.wait_phase(ns, "sb", "Bound")
    cluster.delete(ns, "tasks", "t")
    cluster.wait("sandbox deleted by its idle TTL", lambda: cluster.get(ns, "sandboxes", "sb") is None, timeout=30)


def test_pods_carry_the_labels_the_manuals_select_on(cluster, ns):
    cluster.ready_pool(ns, "py", 2)
    pod = ready_sandbox(cluster, ns)["status"]["podName"]
    # The refill is created once the claim lands, which may be just after the
    # sandbox reads Ready (the claim goes out alongside the status write).
    deadline = time.monotonic() + 30
    while True:
        by_pool = {p.metadata.name for p in cluster.core.list_namespaced_pod(ns, label_selector="warmpool=py").items}
        if len(by_pool) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert pod in by_pool and len(by_pool) >= 3  # the allocated pod and the refilled idle ones
    by_sandbox = [p.metadata.name for p in cluster.core.list_namespaced_pod(ns, label_selector="sandbox=sb").items]
    assert by_sandbox == [pod]
    assert kubectl("-n", ns, "get", "pods", "-l", "sandbox=sb", "-o", "name").stdout.strip() == f"pod/{pod}"
    cluster.task(ns, "t", "sb", ECHO)
    assert cluster.wait_task(ns, "t")["status"]["state"] == "Succeeded"


def operator_log():
    if os.environ.get("ARL_E2E_OPERATOR") == "deployment":
        return kubectl("-n", "arl-system", "logs", "-l", "app.kubernetes.io/name=arl-operator", "--tail=-1",
                       "--prefix=false").stdout
    state = os.environ.get("ARL_STATE", "/tmp/arl-ci")
    path = Path(state) / "logs" / "operator.log"
    if not path.exists():
        pytest.fail(f"{path} missing: set ARL_STATE to the local cluster's state directory")
    return path.read_text(errors="replace")


def test_operator_logs_reconciling_on_spec_changes_only(cluster, ns):
    line = f"Reconciling WarmPool {ns}/py"
    count = lambda: operator_log().count(line)
    cluster.ready_pool(ns, "py", 1)
    cluster.wait("the created line", lambda: count() == 1, timeout=10)
    # Status-only churn: allocations, refills, task runs.
    ready_sandbox(cluster, ns)
    cluster.task(ns, "t", "sb", ECHO)
    cluster.wait_task(ns, "t")
    cluster.wait("pool Ready again", lambda: (cluster.get(ns, "warmpools", "py").get("status") or {}).get("readyReplicas") == 1)
    assert count() == 1
    assert operator_log().count(f"Reconciling Sandbox {ns}/sb") == 1
    cluster.patch(ns, "warmpools", "py", {"spec": {"replicas": 2}})
    cluster.wait("the spec-changed line", lambda: count() == 2, timeout=10)
    cluster.delete(ns, "warmpools", "py")
    cluster.wait("the deleted line", lambda: count() >= 3, timeout=10)
