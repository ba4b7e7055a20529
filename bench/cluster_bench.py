#!/usr/bin/env python3
"""Operator benchmark on the local cluster (scripts/local-cluster.sh up).

Prints: sandbox create -> Ready latency (p50/p99, pool pre-warmed), task
create -> Succeeded latency for an `echo` step, the time for N sandboxes
created at once to all be Ready, the operator's API writes per allocation
(from the API server's /metrics: the node's binding and pod-status writes
excluded), and the operator's RSS.

Latencies are taken from a watch, not polling, so they are not rounded up
to a poll interval."""
import argparse
import os
import statistics
import threading
import time
import uuid
from pathlib import Path

from kubernetes import client, config, watch

GROUP, VERSION = "arl.infra.io", "v1alpha1"


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Watcher:
    """Records when each object of a plural first satisfies a predicate."""

    def __init__(self, custom, ns, plural, predicate):
        self.times, self.events = {}, {}
        self.lock = threading.Lock()
        self.stop = False
        self.predicate = predicate
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, args=(custom, ns, plural), daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def run(self, custom, ns, plural):
        w = watch.Watch()
        rv = custom.list_namespaced_custom_object(GROUP, VERSION, ns, plural)["metadata"]["resourceVersion"]
        self.ready.set()
        while not self.stop:
            for ev in w.stream(custom.list_namespaced_custom_object, GROUP, VERSION, ns, plural,
                               resource_version=rv, timeout_seconds=30):
                obj = ev["object"]
                rv = obj["metadata"]["resourceVersion"]
                name = obj["metadata"]["name"]
                if self.predicate(obj):
                    with self.lock:
                        if name not in self.times:
                            self.times[name] = time.monotonic()
                            self.events.setdefault(name, threading.Event()).set()
                if self.stop:
                    break

    def event(self, name):
        with self.lock:
            return self.events.setdefault(name, threading.Event())


def api_writes(api_client):
    """Operator-attributable writes so far, from the API server's counters."""
    cfg = api_client.configuration
    token = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken", "")
    if token and not token.startswith("Bearer "):
        token = "Bearer " + token
    resp = api_client.call_api("GET", cfg.host + "/metrics", header_params={"Authorization": token})
    resp.read()
    text = resp.data.decode()
    total = 0
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(kv.split("=", 1) for kv in line[line.index("{") + 1:line.index("}")].split(","))
        labels = {k: v.strip('"') for k, v in labels.items()}
        verb, res, sub = labels.get("verb"), labels.get("resource"), labels.get("subresource", "")
        if verb not in ("POST", "PUT", "PATCH", "DELETE"):
            continue
        if res == "pods" and sub in ("binding", "status"):
            continue  # the node's writes
        if res in ("sandboxes", "tasks", "warmpools") and verb == "POST":
            continue  # the benchmark's own creates
        if res not in ("pods", "sandboxes", "warmpools", "tasks", "secrets", "events"):
            continue
        total += float(line.rsplit(" ", 1)[1])
    return total


def sandbox_body(name, pool):
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Sandbox", "metadata": {"name": name},
            "spec": {"poolRef": pool, "keepAlive": True}}


def make_pool(custom, core, ns, name, replicas):
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, "warmpools", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "WarmPool", "metadata": {"name": name},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "main", "image": "busybox"}]}}}})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        wp = custom.get_namespaced_custom_object(GROUP, VERSION, ns, "warmpools", name)
        if wp.get("status", {}).get("readyReplicas", 0) >= replicas:
            return
        time.sleep(0.1)
    raise SystemExit(f"pool {name} never got {replicas} ready pods")


def operator_rss_mib(state):
    pid_file = Path(state) / "pids" / "operator.pid"
    if not pid_file.exists():
        return None
    pid = pid_file.read_text().strip()
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    ap.add_argument("--sandboxes", type=int, default=100)
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--skip-sequential", action="store_true")
    ap.add_argument("--state", default=os.environ.get("ARL_STATE", "/tmp/arl-local"))
    args = ap.parse_args()
    api_client = config.new_client_from_config(config_file=args.kubeconfig)
    api_client.configuration.connection_pool_maxsize = 64
    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    ns = f"bench-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    try:
        # 1. sequential sandbox latency on a warm pool
        make_pool(custom, core, ns, "warm", 10)
        ready = Watcher(custom, ns, "sandboxes", lambda o: o.get("status", {}).get("phase") == "Ready")
        writes_before = api_writes(api_client)
        lat = []
        for i in range(args.sandboxes):
            name = f"s{i}"
            ev = ready.event(name)
            t0 = time.monotonic()
            custom.create_namespaced_custom_object(GROUP, VERSION, ns, "sandboxes", sandbox_body(name, "warm"))
            if not ev.wait(30):
                raise SystemExit(f"sandbox {name} not Ready in 30 s")
            lat.append((ready.times[name] - t0) * 1000)
            time.sleep(0.03)  # let the refill pod become ready: measure the warm path
        time.sleep(1.0)  # let coalesced pool-status writes land
        writes = api_writes(api_client) - writes_before
        print(f"sandbox create->Ready (warm pool, n={len(lat)}): p50 {statistics.median(lat):.1f} ms, "
              f"p99 {pct(lat, 99):.1f} ms")
        print(f"operator API writes per allocation (refill and pool status included): {writes / len(lat):.2f}")

        # 2. task round trip
        done = Watcher(custom, ns, "tasks", lambda o: o.get("status", {}).get("state") in ("Succeeded", "Failed"))
        tl = []
        for i in range(args.tasks):
            name = f"t{i}"
            ev = done.event(name)
            t0 = time.monotonic()
            custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasks", {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "Task", "metadata": {"name": name},
                "spec": {"sandboxRef": f"s{i % args.sandboxes}",
                         "steps": [{"name": "echo", "type": "Command", "command": ["echo", "hi"]}]}})
            if not ev.wait(30):
                raise SystemExit(f"task {name} not done in 30 s")
            tl.append((done.times[name] - t0) * 1000)
        print(f"task create->Succeeded (echo, n={len(tl)}): p50 {statistics.median(tl):.1f} ms, p99 {pct(tl, 99):.1f} ms")
        done.stop = True

        # 3. a burst of sandboxes at once on a pre-warmed pool
        make_pool(custom, core, ns, "burst", args.burst)
        names = [f"b{i}" for i in range(args.burst)]
        evs = [ready.event(n) for n in names]
        t0 = time.monotonic()
        threads = [threading.Thread(target=custom.create_namespaced_custom_object,
                                    args=(GROUP, VERSION, ns, "sandboxes", sandbox_body(n, "burst"))) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        created = time.monotonic()
        for n, ev in zip(names, evs):
            if not ev.wait(60):
                raise SystemExit(f"sandbox {n} not Ready in 60 s")
        last = max(ready.times[n] for n in names)
        print(f"{args.burst} sandboxes created at once: all Ready in {(last - t0) * 1000:.0f} ms "
              f"(the benchmark's own {args.burst} creates took {(created - t0) * 1000:.0f} ms)")
        ready.stop = True
        pods = len(core.list_pod_for_all_namespaces(label_selector="arl.infra.io/warmpool").items)
        rss = operator_rss_mib(args.state)
        if rss is not None:
            print(f"operator RSS with {pods} pods: {rss:.1f} MiB")
    finally:
        core.delete_namespace(ns)


if __name__ == "__main__":
    main()
