"""Issue 19 on real containers: sandbox code is hostile. It reads everything it can of its own
sidecar and still opens no other sidecar of its pool; it kills its own sidecar, and the restarted
sidecar is bound to the sandbox's token again rather than serving the pool token. The local-node
version of the first is tests/e2e/operator/test_sandbox_token_e2e.py; the second has none: the
local node never restarts containers (a sidecar that exits fails its pod and the sandbox)."""
import time

from op_cluster import run_sandbox_probe
from sandbox_calls import (answers, execute, own_token, pool_token, python_pool, ready_sandbox,
                           sidecar_status, wait)

# Run as sandbox code: finds the sidecar among its ancestors (in a container it is PID 1) and
# stops it. SIGTERM, because the kernel drops SIGKILL sent to a PID namespace's init from
# inside it (`kill -9 1` does nothing); the sidecar handles SIGTERM and exits, as any process of
# the sandbox's user may make it do.
KILL_SIDECAR = r"""
import os, signal
pid = os.getppid()
while pid > 0:
    if b"sidecar" in open(f"/proc/{pid}/cmdline", "rb").read():
        print("stopping sidecar pid", pid, flush=True)
        os.kill(pid, signal.SIGTERM)
        break
    pid = int(next(l for l in open(f"/proc/{pid}/status") if l.startswith("PPid:")).split()[1])
"""


def test_code_in_one_sandbox_cannot_call_another_sandboxs_sidecar(cluster, ns):
    python_pool(cluster, ns, "py", 3)
    a = ready_sandbox(cluster, ns, "a", "py")
    b = ready_sandbox(cluster, ns, "b", "py")
    pool = pool_token(cluster, ns, "py")
    token_a, token_b = own_token(cluster, ns, "a", "py"), own_token(cluster, ns, "b", "py")
    pod_a, pod_b = a["status"]["podName"], b["status"]["podName"]

    # Each pod runs commands for its own sandbox's token only; the pool token stopped working on
    # both once they were bound.
    assert answers(cluster, ns, pod_a, token_a) and answers(cluster, ns, pod_b, token_b)
    for pod in (pod_a, pod_b):
        assert execute(cluster, ns, pod, pool, ["true"])[0] == 401, pod
    assert execute(cluster, ns, pod_b, token_a, ["true"])[0] == 401

    report = run_sandbox_probe(cluster, ns, "a", a["status"]["podIP"], b["status"]["podIP"], (pool, token_a, token_b))
    print("sandbox probe on a real container:", report)
    # It looked: its own processes' environ and cmdline, its sidecar among them, its files.
    assert report["counts"]["environ"] > 0 and report["counts"]["cmdline"] > 0, report
    assert report["sidecars"] >= 1 and report["candidates"] > 0, report
    assert report["found"] == [], "a token was readable by sandbox code"
    # Every string it found, every 64-hex one also as POST /execute, got 401 from A's sidecar and B's.
    assert report["accepted"] == [], report["accepted"]
    # In a container (no CAP_SYS_PTRACE) the non-dumpable sidecar's memory stays closed.
    assert report["tried_mem"] and report["counts"]["mem"] == 0, report
    # And still, after all that: A and B serve their own tokens, nothing else.
    assert answers(cluster, ns, pod_a, token_a) and answers(cluster, ns, pod_b, token_b)
    assert execute(cluster, ns, pod_b, pool, ["true"])[0] == 401


def test_a_sidecar_killed_by_its_sandbox_code_is_bound_again(cluster, ns):
    python_pool(cluster, ns, "py", 2)
    sb = ready_sandbox(cluster, ns, "sb", "py")
    pod, uid = sb["status"]["podName"], cluster.core.read_namespaced_pod(sb["status"]["podName"], ns).metadata.uid
    pool, own = pool_token(cluster, ns, "py"), own_token(cluster, ns, "sb", "py")
    before = sidecar_status(cluster, ns, pod).restart_count
    assert answers(cluster, ns, pod, own)
    assert execute(cluster, ns, pod, pool, ["true"])[0] == 401

    t0 = time.monotonic()
    try:  # the reply may be lost with the sidecar
        status, reply = execute(cluster, ns, pod, own, ["python3", "-c", KILL_SIDECAR], timeout=10)
        print("kill command:", status, reply)
    except Exception as e:
        print("kill command: no reply:", e)
    st = wait("the kubelet to restart the sidecar's container",
              lambda: (s := sidecar_status(cluster, ns, pod)).restart_count > before and s, timeout=30)
    print(f"sidecar restarted (restartCount {before} -> {st.restart_count}) after {time.monotonic() - t0:.1f}s")

    # The new sidecar started on the pool token; the operator binds it to the sandbox's again.
    wait("the restarted sidecar to run commands for the sandbox's own token", lambda: answers(cluster, ns, pod, own),
         timeout=30)
    print(f"bound again after {time.monotonic() - t0:.1f}s")
    assert execute(cluster, ns, pod, pool, ["true"])[0] == 401

    # Same pod, same sandbox, Ready; the operator said what it did.
    p = cluster.core.read_namespaced_pod(pod, ns)
    assert p.metadata.uid == uid and p.metadata.deletion_timestamp is None
    now = cluster.get(ns, "sandboxes", "sb")
    assert now["status"]["phase"] == "Ready" and now["status"]["podName"] == pod, now["status"]
    events = cluster.core.list_namespaced_event(ns, field_selector="involvedObject.name=sb").items
    assert any(e.reason == "SidecarRebound" for e in events), [(e.reason, e.message) for e in events]

    # The operator's own calls use the sandbox's token too: a task runs there.
    cluster.task(ns, "after", "sb", [{"name": "a", "type": "Command", "command": ["echo", "after"]}], timeout="30s")
    t = cluster.wait_task(ns, "after", timeout=60)
    assert t["status"]["state"] == "Succeeded", t["status"]
    assert t["status"]["steps"][0]["stdout"] == "after\n"

    # A second kill: bound again at the next restart count.
    try:
        execute(cluster, ns, pod, own, ["python3", "-c", KILL_SIDECAR], timeout=10)
    except Exception:
        pass
    wait("a second restart", lambda: sidecar_status(cluster, ns, pod).restart_count > st.restart_count, timeout=60)
    wait("bound again after the second restart", lambda: answers(cluster, ns, pod, own), timeout=30)
    assert execute(cluster, ns, pod, pool, ["true"])[0] == 401
