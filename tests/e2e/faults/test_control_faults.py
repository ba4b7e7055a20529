"""Faults on the control side (issue 19), each bounded in time: the API server and etcd restart
under live watches, the operator is killed (-9) in a burst of allocations and of running tasks,
the local node agent restarts with pods running. Afterwards: every sandbox has exactly one pod,
no allocation is made twice, every task ends Succeeded or Failed with a reason, no pod is
orphaned."""
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from arl_client import ArlClient, SandboxSession
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "local-cluster.sh"


def local_cluster(state, *verb, timeout=120):
    env = dict(os.environ, ARL_STATE=state)
    r = subprocess.run([str(SCRIPT), *verb], env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"local-cluster.sh {' '.join(verb)}: {r.stderr}"


def patiently(fn, timeout=60):
    """fn(), retried while the API server is away (connection errors, 5xx, 429)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except (ApiException, HTTPError, OSError) as e:
            status = getattr(e, "status", None)
            if (status is not None and status < 500 and status != 429) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_until(what, fn, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except (ApiException, HTTPError, OSError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def sandboxes(cluster, ns):
    return {s["metadata"]["name"]: s for s in
            cluster.custom.list_namespaced_custom_object("arl.infra.io", "v1alpha1", ns, "sandboxes")["items"]}


def tasks(cluster, ns):
    return {t["metadata"]["name"]: t for t in
            cluster.custom.list_namespaced_custom_object("arl.infra.io", "v1alpha1", ns, "tasks")["items"]}


def all_ready(cluster, ns, names):
    sbs = sandboxes(cluster, ns)
    return all(sbs.get(n, {}).get("status", {}).get("phase") == "Ready" for n in names) and sbs


def wait_all_ready(cluster, ns, names, timeout):
    """all_ready, and on a timeout the sandboxes that are not, with why, and the pool's pods."""
    try:
        return wait_until("every sandbox Ready", lambda: all_ready(cluster, ns, names), timeout)
    except AssertionError as e:
        sbs = sandboxes(cluster, ns)
        stuck = {n: (sbs.get(n) or {}).get("status", "missing") for n in names
                 if (sbs.get(n) or {}).get("status", {}).get("phase") != "Ready"}
        pods = {p.metadata.name: (p.status.phase, p.metadata.labels.get("arl.infra.io/pod-state"),
                                  p.metadata.labels.get("arl.infra.io/sandbox"), bool(p.metadata.deletion_timestamp))
                for p in cluster.core.list_namespaced_pod(ns).items}
        raise AssertionError(f"{e}\nnot Ready ({len(stuck)}): {dict(list(stuck.items())[:5])}\npods: {pods}") from None


def all_done(cluster, ns, names):
    ts = tasks(cluster, ns)
    return all(ts.get(n, {}).get("status", {}).get("state") in ("Succeeded", "Failed") for n in names) and ts


def check_one_pod_each(cluster, ns, names):
    """Every sandbox holds exactly the one pod its status names; no allocated pod lacks a live
    sandbox (orphan); no pod serves two sandboxes."""
    sbs = sandboxes(cluster, ns)
    pods = [p for p in cluster.core.list_namespaced_pod(ns, label_selector="arl.infra.io/pod-state=allocated").items
            if p.metadata.deletion_timestamp is None]
    by_sandbox = {}
    for p in pods:
        by_sandbox.setdefault(p.metadata.labels.get("arl.infra.io/sandbox"), []).append(p.metadata.name)
    for n in names:
        assert by_sandbox.get(n) == [sbs[n]["status"]["podName"]], (n, by_sandbox.get(n), sbs[n].get("status"))
    orphans = [p for s, ps in by_sandbox.items() if s not in sbs for p in ps]
    assert orphans == [], f"allocated pods whose sandbox is gone: {orphans}"


def create_sandboxes(cluster, ns, names, pool="py", workers=16):
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(lambda n: patiently(lambda: cluster.sandbox(ns, n, pool)), names))


def create_sandbox_idempotent(cluster, ns, name, pool="py"):
    try:
        patiently(lambda: cluster.sandbox(ns, name, pool))
    except ApiException as e:
        if e.status != 409:  # created by a try whose answer was lost in the restart
            raise


def test_apiserver_restart_under_live_watches_loses_and_doubles_nothing(cluster, ns, state):
    cluster.ready_pool(ns, "py", 30, timeout=120)
    first = [f"a{i}" for i in range(15)]
    create_sandboxes(cluster, ns, first)
    for i, n in enumerate(first[:5]):
        cluster.task(ns, f"t{i}", n, [{"name": "s", "type": "Command", "command": ["sh", "-c", "sleep 2; echo ok"]}])
    sdk = ArlClient(kubeconfig=os.environ["ARL_E2E_KUBECONFIG"])
    session = SandboxSession("py", ns, client=sdk, timeout=60).open()
    assert session.run(["echo", "before"]).stdout == "before\n"
    local_cluster(state, "restart-apiserver")
    # The SDK: a session open across the restart still runs commands; a new one opens (its
    # watch for Ready starts on the restarted server).
    assert patiently(lambda: session.run(["echo", "after"])).stdout == "after\n"
    with SandboxSession("py", ns, client=sdk, timeout=60) as s2:
        assert s2.run(["echo", "new"]).stdout == "new\n"
    session.close()
    second = [f"b{i}" for i in range(15)]
    for n in second:
        create_sandbox_idempotent(cluster, ns, n)
    for i, n in enumerate(second[:5]):
        patiently(lambda: cluster.task(ns, f"u{i}", n, [{"name": "s", "type": "Command", "command": ["echo", "ok"]}]))
    wait_all_ready(cluster, ns, first + second, 90)
    ts = wait_until("every task done", lambda: all_done(cluster, ns, [f"t{i}" for i in range(5)] + [f"u{i}" for i in range(5)]), 90)
    assert {n: t["status"]["state"] for n, t in ts.items()} == {n: "Succeeded" for n in ts}, \
        {n: t["status"] for n, t in ts.items() if t["status"]["state"] != "Succeeded"}
    check_one_pod_each(cluster, ns, first + second)


def test_etcd_restart_loses_and_doubles_nothing(cluster, ns, state):
    cluster.ready_pool(ns, "py", 20, timeout=120)
    first = [f"a{i}" for i in range(10)]
    create_sandboxes(cluster, ns, first)
    local_cluster(state, "restart-etcd", "--kill")
    second = [f"b{i}" for i in range(10)]
    for n in second:
        create_sandbox_idempotent(cluster, ns, n)
    for i, n in enumerate(first[:5] + second[:5]):
        patiently(lambda: cluster.task(ns, f"t{i}", n, [{"name": "s", "type": "Command", "command": ["echo", "ok"]}]))
    wait_all_ready(cluster, ns, first + second, 90)
    ts = wait_until("every task done", lambda: all_done(cluster, ns, [f"t{i}" for i in range(10)]), 90)
    assert all(t["status"]["state"] == "Succeeded" for t in ts.values()), {n: t["status"] for n, t in ts.items()}
    check_one_pod_each(cluster, ns, first + second)


def test_operator_killed_in_a_burst_of_200_allocations_and_20_running_tasks(cluster, ns, state):
    cluster.ready_pool(ns, "py", 230, timeout=240)
    runners = [f"r{i}" for i in range(20)]
    create_sandboxes(cluster, ns, runners)
    wait_until("the task sandboxes Ready", lambda: all_ready(cluster, ns, runners), 60)
    for i, n in enumerate(runners):
        cluster.task(ns, f"t{i}", n, [{"name": "s", "type": "Command", "command": ["sh", "-c", "sleep 3; echo ok"]}],
                     retries=1)
    wait_until("the tasks Running", lambda: sum(t.get("status", {}).get("state") == "Running"
                                                for t in tasks(cluster, ns).values()) >= 10, 30)
    burst = [f"s{i}" for i in range(200)]
    creating = threading.Thread(target=create_sandboxes, args=(cluster, ns, burst))
    creating.start()
    wait_until("a part of the burst allocated", lambda: sum(s.get("status", {}).get("phase") == "Ready"
                                                          for s in sandboxes(cluster, ns).values()) >= 60, 60)
    pid = int(Path(state, "pids", "operator.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    creating.join(120)
    local_cluster(state, "restart-operator")
    wait_all_ready(cluster, ns, runners + burst, 180)
    ts = wait_until("all 20 tasks done", lambda: all_done(cluster, ns, [f"t{i}" for i in range(20)]), 120)
    for n, t in ts.items():
        st = t["status"]
        assert st["state"] == "Succeeded" or st.get("reason"), (n, st)
    check_one_pod_each(cluster, ns, runners + burst)


def container_id(cluster, ns, pod):
    """localnode://PID of the pod's process, and its restartCount."""
    cs = cluster.core.read_namespaced_pod(pod, ns).status.container_statuses[0]
    return cs.container_id, cs.restart_count


def run_in(cluster, ns, task, sandbox, script, timeout=60):
    cluster.task(ns, task, sandbox, [{"name": "s", "type": "Command", "command": ["sh", "-c", script]}])
    t = cluster.wait_task(ns, task, timeout=timeout)
    assert t["status"]["state"] == "Succeeded", t["status"]
    return t["status"]["stdout"]


def test_local_node_restart_keeps_running_pods_and_their_sandboxes(cluster, ns, state):
    """A killed node agent leaves its pods running; the new one takes the very processes over
    (same pid, restartCount 0, a background process of the sandbox still alive) before the node
    reports Ready again, and allocates as before."""
    cluster.ready_pool(ns, "py", 4, timeout=60)
    create_sandboxes(cluster, ns, ["a", "b"])
    wait_until("sandboxes Ready", lambda: all_ready(cluster, ns, ["a", "b"]), 30)
    cluster.task(ns, "bg", "a", [{"name": "s", "type": "Command", "background": True,
                                  "command": ["sh", "-c", "echo $$ > bg.pid; exec sleep 300"]}])
    assert cluster.wait_task(ns, "bg")["status"]["state"] == "Succeeded"
    sidecar_pid = run_in(cluster, ns, "before", "a", "echo $PPID")
    before = {s: cluster.get(ns, "sandboxes", s)["status"]["podName"] for s in ("a", "b")}
    ids = {s: container_id(cluster, ns, p) for s, p in before.items()}
    local_cluster(state, "restart-localnode", "--kill")
    # Right after the script returns: the new agent is the one that reported Ready.
    assert run_in(cluster, ns, "after", "a", "echo $PPID; kill -0 $(cat bg.pid) && echo bg alive") == \
        f"{sidecar_pid}bg alive\n"
    assert {s: container_id(cluster, ns, p) for s, p in before.items()} == ids
    assert all(restarts == 0 for _, restarts in ids.values()), ids
    create_sandboxes(cluster, ns, ["c"])
    wait_until("a new sandbox Ready after the restart", lambda: all_ready(cluster, ns, ["c"]), 60)
    assert run_in(cluster, ns, "in-c", "c", "echo c works") == "c works\n"
    assert {s: cluster.get(ns, "sandboxes", s)["status"]["podName"] for s in ("a", "b")} == before
    check_one_pod_each(cluster, ns, ["a", "b", "c"])


def test_pod_process_lost_while_the_node_agent_was_down_restarts_and_is_bound_again(cluster, ns, state):
    """A pod process that died while no agent ran is started again by the new agent with its
    restartCount one higher; the operator binds the new sidecar to its sandbox again, so the
    sandbox's own token works on it, and the other sandbox's process is taken over untouched."""
    cluster.ready_pool(ns, "py", 3, timeout=60)
    create_sandboxes(cluster, ns, ["a", "b"])
    wait_until("sandboxes Ready", lambda: all_ready(cluster, ns, ["a", "b"]), 30)
    run_in(cluster, ns, "mark", "b", "echo kept > mark.txt")
    pods = {s: cluster.get(ns, "sandboxes", s)["status"]["podName"] for s in ("a", "b")}
    ids = {s: container_id(cluster, ns, p) for s, p in pods.items()}
    agent = int((Path(state) / "pids" / "localnode.pid").read_text())
    os.kill(agent, signal.SIGSTOP)  # so it cannot see b's process go
    try:
        os.killpg(int(ids["b"][0].removeprefix("localnode://")), signal.SIGKILL)
    finally:
        local_cluster(state, "restart-localnode", "--kill")
    assert container_id(cluster, ns, pods["a"]) == ids["a"]
    wait_until("b's pod running again with restartCount 1",
               lambda: container_id(cluster, ns, pods["b"])[1] == 1, 30)
    assert container_id(cluster, ns, pods["b"])[0] != ids["b"][0]
    assert run_in(cluster, ns, "after", "b", "cat mark.txt") == "kept\n"
    assert run_in(cluster, ns, "after-a", "a", "echo a works") == "a works\n"
    assert sandboxes(cluster, ns)["b"]["status"]["phase"] in ("Ready", "Bound")
    check_one_pod_each(cluster, ns, ["a", "b"])
