"""Issue 19, faults on the control side, on a real node: the kubelet restarts with pods running
(scripts/real-node.sh restart-kubelet; containerd and the containers stay). Afterwards the same
pods serve, the sandboxes stay Ready on them, nothing is recreated, and a new allocation and a
task work. The local node's version is tests/e2e/faults (the node agent killed with pods running)."""
import os
import subprocess
import time
from pathlib import Path

import pytest

from op_cluster import _ready

from sandbox_calls import answers, execute, own_token, pool_token, python_pool, ready_sandbox, wait

ROOT = Path(__file__).resolve().parents[2]


def restart_kubelet(*flags):
    state = Path(os.environ["ARL_REAL_KUBECONFIG"]).parent
    t0 = time.monotonic()
    r = subprocess.run([str(ROOT / "scripts" / "real-node.sh"), "restart-kubelet", *flags], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "ARL_REAL_STATE": str(state)})
    assert r.returncode == 0, r.stdout + r.stderr
    print(f"kubelet restarted {' '.join(flags)} in {time.monotonic() - t0:.1f}s:", r.stderr.strip().splitlines()[-1])


def containers(cluster, ns, pool):
    """Every pod of the pool: name -> (uid, main's container id, its restart count)."""
    out = {}
    for p in cluster.pods(ns, pool):
        main = next(s for s in p.status.container_statuses or [] if s.name == "main")
        out[p.metadata.name] = (p.metadata.uid, main.container_id, main.restart_count)
    return out


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_pods_and_sandboxes_outlive_a_kubelet_restart(cluster, ns, how):
    python_pool(cluster, ns, "py", 3)
    sandboxes = {name: ready_sandbox(cluster, ns, name, "py") for name in ("a", "b")}
    tokens = {name: own_token(cluster, ns, name, "py") for name in sandboxes}
    pool = pool_token(cluster, ns, "py")
    for name, sb in sandboxes.items():
        assert answers(cluster, ns, sb["status"]["podName"], tokens[name])
    wait("the pool refilled: 3 idle pods, every pod Ready",
         lambda: len(cluster.pods(ns, "py", "ready")) == 3 and all(_ready(p) for p in cluster.pods(ns, "py")), timeout=60)
    before = containers(cluster, ns, "py")
    assert all(cid for _, cid, _ in before.values()), before
    assert len(before) == 5

    restart_kubelet(*(["--kill"] if how == "kill" else []))

    # The same pods, the same containers (nothing restarted, nothing recreated), serving.
    for name, sb in sandboxes.items():
        pod = sb["status"]["podName"]
        wait(f"sandbox {name}'s pod {pod} to run commands", lambda: answers(cluster, ns, pod, tokens[name]), timeout=30)
        assert execute(cluster, ns, pod, pool, ["true"])[0] == 401  # still bound: its sidecar never restarted
        now = cluster.get(ns, "sandboxes", name)
        assert now["status"]["phase"] == "Ready" and now["status"]["podName"] == pod, now["status"]
        assert now["metadata"]["uid"] == sb["metadata"]["uid"]
    wait("every pod Ready", lambda: all(_ready(p) for p in cluster.pods(ns, "py")), timeout=60)
    assert containers(cluster, ns, "py") == before

    # And the node still works as a node: a new allocation, a task on it, a refill pod started.
    t0 = time.monotonic()
    ready_sandbox(cluster, ns, "c", "py")
    print(f"allocation after the restart: Ready in {time.monotonic() - t0:.3f}s")
    cluster.task(ns, "t", "c", [{"name": "a", "type": "Command", "command": ["python3", "-c", "print('after')"]}],
                 timeout="30s")
    t = cluster.wait_task(ns, "t", timeout=60)
    assert t["status"]["state"] == "Succeeded", t["status"]
    assert t["status"]["steps"][0]["stdout"] == "after\n"
    wait("a refill pod started and Ready under the new kubelet",
         lambda: [p.metadata.name for p in cluster.pods(ns, "py", "ready") if p.metadata.name not in before and _ready(p)],
         timeout=60)
    for name in ("a", "b"):
        assert cluster.get(ns, "sandboxes", name)["status"]["phase"] == "Ready"
