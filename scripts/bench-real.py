#!/usr/bin/env python3
"""Figures of ARL on the real node (scripts/real-node.sh): how fast a cold WarmPool of real
containers fills (create -> every pod Ready through the kubelet's readiness probe), and how fast
a sandbox is Ready from a warm pool. Run by `scripts/bench.sh real`.

Usage: bench-real.py --kubeconfig K [--pods 20] [--sandboxes 20] [--image localhost/arl-test/busybox:1]
"""
import argparse
import statistics
import sys
import time
import uuid

from kubernetes import client, config

GROUP, VERSION = "arl.infra.io", "v1alpha1"


def ready(pod):
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def wait(what, fn, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(interval)
    sys.exit(f"bench-real: timed out after {timeout}s waiting for {what}")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--pods", type=int, default=20)
    ap.add_argument("--sandboxes", type=int, default=20)
    ap.add_argument("--image", default="localhost/arl-test/busybox:1")
    a = ap.parse_args()

    api = config.new_client_from_config(config_file=a.kubeconfig)
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    ns = f"bench-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    try:
        # Cold fill: one create of the pool; each pod's first Ready is seen by a 50 ms poll.
        t0 = time.monotonic()
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, "warmpools", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "WarmPool", "metadata": {"name": "cold"},
            "spec": {"replicas": a.pods, "template": {"spec": {"containers": [
                {"name": "main", "image": a.image, "imagePullPolicy": "Never"}]}}}})
        first_ready = {}
        deadline = t0 + 300
        while len(first_ready) < a.pods:
            if time.monotonic() > deadline:
                sys.exit(f"bench-real: only {len(first_ready)}/{a.pods} pods Ready after 300 s")
            now = time.monotonic() - t0
            for p in core.list_namespaced_pod(ns, label_selector="arl.infra.io/warmpool=cold").items:
                if ready(p) and p.metadata.name not in first_ready:
                    first_ready[p.metadata.name] = now
            time.sleep(0.05)
        times = sorted(first_ready.values())
        total = times[-1]
        print(f"cold pool fill ({a.pods} pods, {a.image}): first Ready {times[0]:.2f}s, "
              f"p50 {pct(times, 50):.2f}s, all Ready {total:.2f}s -> {a.pods / total:.1f} pods/s")

        # Warm allocations, one at a time (each has a ready pod waiting: the pool refills).
        lat = []
        for i in range(a.sandboxes):
            wait("a ready pool", lambda: (w := custom.get_namespaced_custom_object(GROUP, VERSION, ns, "warmpools", "cold"))
                 and w.get("status", {}).get("readyReplicas", 0) >= 1, 120)
            t = time.monotonic()
            custom.create_namespaced_custom_object(GROUP, VERSION, ns, "sandboxes", {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "Sandbox", "metadata": {"name": f"s{i}"},
                "spec": {"poolRef": "cold", "keepAlive": True}})
            wait(f"sandbox s{i} Ready", lambda: custom.get_namespaced_custom_object(
                GROUP, VERSION, ns, "sandboxes", f"s{i}").get("status", {}).get("phase") == "Ready", 60, 0.005)
            lat.append(time.monotonic() - t)
        ms = [x * 1000 for x in lat]
        print(f"warm sandbox Ready ({a.sandboxes} sequential): p50 {statistics.median(ms):.0f} ms, "
              f"p90 {pct(ms, 90):.0f} ms, max {max(ms):.0f} ms")
    finally:
        core.delete_namespace(ns)
        wait(f"namespace {ns} gone", lambda: ns not in [n.metadata.name for n in core.list_namespace().items], 180, 0.5)


if __name__ == "__main__":
    main()
