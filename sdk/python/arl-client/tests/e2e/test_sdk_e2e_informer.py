"""The shared informer against the local cluster: many concurrent sessions wait on
ONE watch per kind, and a watch the API server drops (it restarts) does not fail
the waits that were on it.
"""
import concurrent.futures
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

from arl_client import SandboxSession
from arl_client.informer import informer_for

from arl_sdk_e2e import POOL_IMAGE

ROOT = Path(__file__).resolve().parents[5]
SCRIPT = ROOT / "scripts" / "local-cluster.sh"
SESSIONS = 64
POOL = "informer-pool"
POOL_REPLICAS = 32


@pytest.fixture(scope="module")
def big_pool(client, namespace):
    client.create_pool(POOL, POOL_IMAGE, replicas=POOL_REPLICAS, namespace=namespace)
    client.wait_pool_ready(POOL, min_ready=POOL_REPLICAS, namespace=namespace, timeout=600)
    yield POOL
    client.delete_pool(POOL, namespace)


def server_watches(client, resource):
    """The API server's own count of open WATCH requests on `resource` (all clients)."""
    r = client.transport.request("GET", "/metrics", headers={"Accept": "text/plain"}, timeout=30)
    assert r.status == 200, f"GET /metrics: HTTP {r.status}"
    total = 0.0
    for line in r.data.decode().splitlines():
        if line.startswith("apiserver_longrunning_requests{") and 'verb="WATCH"' in line and \
                f'resource="{resource}"' in line and 'group="arl.infra.io"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


class Sampler:
    """Peak of the server's open sandbox watches while the sessions run."""

    def __init__(self, client):
        self.client, self.peak, self.stop = client, 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, server_watches(self.client, "sandboxes"))
            self.stop.wait(1.0)


def test_64_concurrent_sessions_share_one_watch_per_kind(client, namespace, big_pool):
    # Other watchers of sandboxes (the operator, and maybe this process's informer from an
    # earlier test) are counted once before; the sessions may add at most one to them.
    sb_inf = informer_for(client.transport, "sandboxes", namespace)
    task_inf = informer_for(client.transport, "tasks", namespace)
    before = server_watches(client, "sandboxes") + (0 if sb_inf.open_watches else 1)
    # Peaks from now on (a watch already open from an earlier test counts as one).
    sb_inf.max_open_watches, task_inf.max_open_watches = sb_inf.open_watches, task_inf.open_watches
    sb_lists, sb_watches = sb_inf.lists, sb_inf.watches
    sampler = Sampler(client)
    sampler.thread.start()

    def episode(i):
        with SandboxSession(big_pool, namespace=namespace, client=client, timeout=600) as s:
            s.write_file(f"e{i}.txt", f"episode {i}\n")
            out = s.run(["cat", f"e{i}.txt"]).stdout
            if i % 4 == 0:  # a quarter of them also wait on a Task
                t = s.execute([{"name": "c", "type": "Command", "command": ["echo", f"task {i}"]}],
                              timeout="120s")
                assert t["status"]["state"] == "Succeeded", t["status"]
            return out

    try:
        with concurrent.futures.ThreadPoolExecutor(SESSIONS) as ex:
            outs = list(ex.map(episode, range(SESSIONS)))
    finally:
        sampler.stop.set()
        sampler.thread.join(30)
    assert outs == [f"episode {i}\n" for i in range(SESSIONS)]
    # The process's own count: one stream per kind at any moment, whatever the waiters.
    assert sb_inf.max_open_watches == 1 and task_inf.max_open_watches == 1
    assert sb_inf.lists - sb_lists <= 1, "a re-list per wait would defeat the informer"
    # The server's count agrees: the 64 waits never opened a watch each.
    assert sampler.peak <= before, f"server saw {sampler.peak} sandbox watches, at most {before} expected"
    print(f"\nsandboxes informer: {sb_inf.watches - sb_watches} watch requests; server peak {sampler.peak} "
          f"sandbox watches (operator included)")


def test_watch_dropped_by_an_apiserver_restart_does_not_fail_the_waits(client, namespace, big_pool):
    if os.environ.get("ARL_E2E_OPERATOR") == "deployment":
        pytest.skip("restarts the API server with scripts/local-cluster.sh: the local cluster's only "
                    "(the real tier restarts the kubelet, tests/real)")
    state = str(Path(os.environ["ARL_E2E_KUBECONFIG"]).resolve().parent)
    task_inf = informer_for(client.transport, "tasks", namespace)
    sessions = [SandboxSession(big_pool, namespace=namespace, client=client, timeout=600).open() for _ in range(8)]
    try:
        errors_before, watches_before = task_inf.errors, task_inf.watches
        started = threading.Barrier(len(sessions) + 1)

        def long_task(s):
            started.wait(60)
            # Long enough that the restart falls inside the wait.
            return s.execute([{"name": "s", "type": "Command", "command": ["sh", "-c", "sleep 20; echo done"]}],
                             timeout="180s")

        with concurrent.futures.ThreadPoolExecutor(len(sessions)) as ex:
            futs = [ex.submit(long_task, s) for s in sessions]
            started.wait(60)
            # Every task created and its wait registered before the restart.
            pause = threading.Event()
            for _ in range(600):  # at most about two minutes
                if task_inf.open_watches and task_inf.waiting >= len(sessions) or any(f.done() for f in futs):
                    break
                pause.wait(0.2)
            assert task_inf.waiting >= len(sessions), f"only {task_inf.waiting} waits registered"
            assert not any(f.done() for f in futs), [f.result() for f in futs if f.done()]
            r = subprocess.run([str(SCRIPT), "restart-apiserver"], env=dict(os.environ, ARL_STATE=state),
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, f"local-cluster.sh restart-apiserver: {r.stderr}"
            results = [f.result(timeout=400) for f in futs]
        for t in results:
            assert t["status"]["state"] == "Succeeded", t["status"]
            assert re.search(r"done", t["status"].get("stdout") or ""), t["status"]
        # The watch really was dropped and resumed (or re-listed), not kept by luck.
        assert task_inf.watches > watches_before + 1 or task_inf.lists > 1, (task_inf.watches, task_inf.lists)
        assert task_inf.errors > errors_before, "the restart should have cost the informer a failed request"
        # And the sessions still work.
        assert sessions[0].run(["echo", "after"]).stdout == "after\n"
    finally:
        for s in sessions:
            s.close()
