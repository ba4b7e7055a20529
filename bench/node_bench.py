#!/usr/bin/env python3
"""The same figures on each kind of node, side by side: the real node (kubelet + containerd,
scripts/real-node.sh) and the local node agent (scripts/local-cluster.sh). Run by
`scripts/bench.sh real`, which brings both clusters up.

Per cluster, in a fresh namespace:
  cold pool fill   one WarmPool of N pods created; first / all Ready, pods/s; the operator's
                   share (pool create -> pods created) apart from the node's (created -> Ready);
                   every pod's transitions timestamped by a watch: created -> scheduled ->
                   arl-init terminated -> main running -> Ready (p50 of each segment)
  kubelet view     mean CRI operation times from the kubelet's /metrics (real node only)
  warm sandbox     create -> Ready, N sequential, each timed by a watch
  task             create -> Succeeded of a one-step `echo` on a keepAlive sandbox
  exec `true`      POST /api/v1/namespaces/NS/pods/POD:8080/proxy/execute with the sandbox's token

  variants         (--variants real) bare pods of the pool pod's spec: as injected, with a
                   startupProbe, without the init container; create -> Ready, one at a time

Usage: node_bench.py --cluster NAME=KUBECONFIG [--cluster ...] [--pods 20] [--sandboxes 20]
                     [--tasks 20] [--execs 100] [--image IMAGE] [--variants NAME,...] [--json FILE]
"""
import argparse
import base64
import hashlib
import hmac
import json
import re
import sys
import threading
import time
import uuid

from kubernetes import client, config, watch

GROUP, VERSION = "arl.infra.io", "v1alpha1"
POOL_LABEL = "arl.infra.io/warmpool"
SEGMENTS = ["created", "scheduled", "init done", "main running", "Ready"]


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Seen:
    """Watches one kind in a namespace from a thread; records the first client-side time each
    object matched each named predicate. wait() blocks on a condition, bounded by a deadline."""

    def __init__(self, list_fn, ns, preds, **kw):
        self.list_fn, self.ns, self.preds, self.kw = list_fn, ns, preds, kw
        self.times = {}  # name -> {pred name: monotonic time}
        self.cv = threading.Condition()
        self.stopped = False
        self.ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait(10)

    def _run(self):
        rv = None
        while not self.stopped:
            w = watch.Watch()
            try:
                if rv is None:
                    lst = self.list_fn(namespace=self.ns, **self.kw)
                    rv = lst["metadata"]["resourceVersion"] if isinstance(lst, dict) else lst.metadata.resource_version
                    self.ready.set()
                for ev in w.stream(self.list_fn, namespace=self.ns, resource_version=rv, timeout_seconds=30, **self.kw):
                    now = time.monotonic()
                    obj = ev["object"]
                    d = obj if isinstance(obj, dict) else client.ApiClient().sanitize_for_serialization(obj)
                    rv = d["metadata"]["resourceVersion"]
                    name = d["metadata"]["name"]
                    with self.cv:
                        t = self.times.setdefault(name, {})
                        for pname, pred in self.preds.items():
                            if pname not in t and pred(d):
                                t[pname] = now
                        self.cv.notify_all()
                    if self.stopped:
                        return
            except Exception as e:  # an expired resourceVersion or a dropped stream: list again
                if not self.stopped:
                    print(f"node-bench: watch restarted: {str(e)[:200]}", file=sys.stderr)
                rv = None
                time.sleep(0.1)

    def wait(self, what, cond, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not cond(self.times):
                left = deadline - time.monotonic()
                if left <= 0:
                    sys.exit(f"node-bench: timed out after {timeout}s waiting for {what}")
                self.cv.wait(left)

    def stop(self):
        self.stopped = True


def pod_preds():
    def cond(d, t):
        return any(c.get("type") == t and c.get("status") == "True" for c in d.get("status", {}).get("conditions") or [])

    def init_done(d):
        s = d.get("status", {}).get("initContainerStatuses") or []
        return any(c.get("name") == "arl-init" and "terminated" in (c.get("state") or {}) for c in s)

    def running(d):
        s = d.get("status", {}).get("containerStatuses") or []
        return bool(s) and "running" in (s[0].get("state") or {})

    return {"created": lambda d: True, "scheduled": lambda d: bool(d.get("spec", {}).get("nodeName")),
            "init done": init_done, "main running": running, "Ready": lambda d: cond(d, "Ready")}


def kubelet_cri_means(core, node):
    """sum and count of the kubelet's CRI operation histograms, by operation; {} when absent."""
    try:
        text = core.connect_get_node_proxy_with_path(node, "metrics")
        text += core.connect_get_node_proxy_with_path(node, "metrics/probes")
    except Exception:
        return {}
    out = {}
    # Readiness probe outcomes: a failed one costs a full period before Ready.
    for m in re.finditer(r'^prober_probe_total\{[^}]*probe_type="Readiness"[^}]*result="([a-z]+)"[^}]*\} (\S+)$', text, re.M):
        out.setdefault(f"readiness probes {m.group(1)}", [0.0, 0.0])[0] += float(m.group(2))
    for m in re.finditer(r'^kubelet_runtime_operations_duration_seconds_(sum|count)\{operation_type="([a-z_]+)"\} (\S+)$',
                         text, re.M):
        out.setdefault(m.group(2), [0.0, 0.0])["sum count".split().index(m.group(1))] = float(m.group(3))
    return out


def pod_variants(core, ns, pool_pod, n):
    """create -> Ready of bare pods with a pool pod's spec, as the operator injects it and changed
    the ways that could shorten the cold path, n sequential each."""
    spec = client.ApiClient().sanitize_for_serialization(pool_pod)["spec"]
    spec.pop("nodeName", None)

    def variant(kind):
        s = json.loads(json.dumps(spec))
        c = s["containers"][0]
        if kind == "+ startupProbe":
            c["startupProbe"] = {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 1, "failureThreshold": 60}
        if kind == "no init container":  # the executor's own image as the main container: the floor
            c["image"], c["command"] = s["initContainers"][0]["image"], ["/arl", "sidecar"]
            c["volumeMounts"] = [m for m in c["volumeMounts"] if m["mountPath"] != "/arl-bin"]
            s["initContainers"] = s["initContainers"][1:]
        return s

    out = {}
    for kind in ("as injected", "+ startupProbe", "no init container"):
        lat = []
        for i in range(n):
            name = f"v{len(out)}-{i}"
            t = time.monotonic()
            core.create_namespaced_pod(ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                                            "spec": variant(kind)})
            w = watch.Watch()
            for ev in w.stream(core.list_namespaced_pod, ns, field_selector=f"metadata.name={name}", timeout_seconds=60):
                if any(c.type == "Ready" and c.status == "True" for c in ev["object"].status.conditions or []):
                    lat.append((time.monotonic() - t) * 1000)
                    w.stop()
            core.delete_namespaced_pod(name, ns, grace_period_seconds=0)
        out[f"  single pod create -> Ready, {kind} p50 (ms)"] = pct(lat, 50)
    return out


def bench(name, kubeconfig, a):
    api = config.new_client_from_config(config_file=kubeconfig)
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    ns = f"bench-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    r = {}
    watchers = []
    try:
        pods = Seen(core.list_namespaced_pod, ns, pod_preds(), label_selector=f"{POOL_LABEL}=cold")
        watchers.append(pods)
        nodes = [n.metadata.name for n in core.list_node().items]
        cri0 = kubelet_cri_means(core, nodes[0]) if nodes else {}

        # Cold fill: one create of a pool of N pods.
        t0 = time.monotonic()
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, "warmpools", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "WarmPool", "metadata": {"name": "cold"},
            "spec": {"replicas": a.pods, "template": {"spec": {"containers": [
                {"name": "main", "image": a.image, "imagePullPolicy": "IfNotPresent"}]}}}})
        pods.wait(f"{a.pods} pods Ready", lambda ts: sum("Ready" in t for t in ts.values()) >= a.pods, 300)
        with pods.cv:
            per_pod = [dict(t) for t in pods.times.values() if "Ready" in t][:a.pods]
        ready = sorted(t["Ready"] - t0 for t in per_pod)
        created = sorted(t["created"] - t0 for t in per_pod)
        r["cold first Ready (s)"] = ready[0]
        r["cold all Ready (s)"] = ready[-1]
        r["cold pods/s"] = a.pods / ready[-1]
        r["cold: operator, pool -> all pods created (s)"] = created[-1]
        r["cold: node, created -> Ready p50 (s)"] = pct([t["Ready"] - t["created"] for t in per_pod], 50)
        # Cumulative from the pod's creation: the local node agent reports no init container status.
        for stage in SEGMENTS[1:]:
            seg = [(t[stage] - t["created"]) * 1000 for t in per_pod if stage in t]
            if seg:
                r[f"  created -> {stage} p50 (ms)"] = pct(seg, 50)
        cri1 = kubelet_cri_means(core, nodes[0]) if nodes else {}
        for op in ("pull_image", "run_podsandbox", "create_container", "start_container"):
            if op in cri1:
                s0, c0 = cri0.get(op, [0.0, 0.0])
                s1, c1 = cri1[op]
                r[f"  kubelet CRI {op} mean (ms)"] = (s1 - s0) / (c1 - c0) * 1000 if c1 > c0 else float("nan")
        for key in sorted(k for k in cri1 if k.startswith("readiness probes")):
            r[f"  kubelet {key} (per pod)"] = (cri1[key][0] - cri0.get(key, [0.0])[0]) / a.pods

        if a.variants and nodes and name in a.variants.split(","):
            r.update(pod_variants(core, ns, core.list_namespaced_pod(ns, label_selector=f"{POOL_LABEL}=cold").items[0],
                                  a.variants_n))

        # Warm allocations, one at a time, each timed by a watch on sandboxes.
        sbx = Seen(custom.list_namespaced_custom_object, ns,
                   {"Ready": lambda d: (d.get("status") or {}).get("phase") == "Ready"},
                   group=GROUP, version=VERSION, plural="sandboxes")
        watchers.append(sbx)
        lat = []
        for i in range(a.sandboxes):
            deadline = time.monotonic() + 120
            while (custom.get_namespaced_custom_object(GROUP, VERSION, ns, "warmpools", "cold")
                   .get("status", {}).get("readyReplicas", 0) < 1):
                if time.monotonic() > deadline:
                    sys.exit("node-bench: no ready pod in the pool after 120 s")
                time.sleep(0.05)
            t = time.monotonic()
            custom.create_namespaced_custom_object(GROUP, VERSION, ns, "sandboxes", {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "Sandbox", "metadata": {"name": f"s{i}"},
                "spec": {"poolRef": "cold", "keepAlive": True}})
            sbx.wait(f"sandbox s{i} Ready", lambda ts: "Ready" in ts.get(f"s{i}", {}), 60)
            lat.append((sbx.times[f"s{i}"]["Ready"] - t) * 1000)
        r["warm sandbox Ready p50 (ms)"] = pct(lat, 50)
        r["warm sandbox Ready p99 (ms)"] = pct(lat, 99)

        # Task round trip on the first sandbox.
        tasks = Seen(custom.list_namespaced_custom_object, ns,
                     {"done": lambda d: (d.get("status") or {}).get("state") in ("Succeeded", "Failed")},
                     group=GROUP, version=VERSION, plural="tasks")
        watchers.append(tasks)
        tl = []
        for i in range(a.tasks):
            t = time.monotonic()
            custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasks", {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "Task", "metadata": {"name": f"t{i}"},
                "spec": {"sandboxRef": "s0", "steps": [{"name": "echo", "type": "Command", "command": ["echo", "hi"]}]}})
            tasks.wait(f"task t{i} done", lambda ts: "done" in ts.get(f"t{i}", {}), 60)
            tl.append((tasks.times[f"t{i}"]["done"] - t) * 1000)
        state = custom.get_namespaced_custom_object(GROUP, VERSION, ns, "tasks", "t0").get("status", {}).get("state")
        if state != "Succeeded":
            sys.exit(f"node-bench: task t0 ended {state}")
        r["task Succeeded p50 (ms)"] = pct(tl, 50)
        r["task Succeeded p99 (ms)"] = pct(tl, 99)

        # exec of `true` through the API server's pod proxy, keep-alive connection.
        s0 = custom.get_namespaced_custom_object(GROUP, VERSION, ns, "sandboxes", "s0")
        pod = s0["status"]["podName"]
        # The pod answers only the sandbox's own token, derived from the pool's (docs/design.md).
        pool_token = base64.b64decode(core.read_namespaced_secret("arl-pool-cold", ns).data["token"]).decode()
        token = hmac.new(pool_token.encode(), f"arl-sandbox-token/v1:{s0['metadata']['uid']}".encode(),
                         hashlib.sha256).hexdigest()
        path = f"/api/v1/namespaces/{ns}/pods/{pod}:8080/proxy/execute"
        el = []
        for _ in range(a.execs):
            t = time.monotonic()
            method, url, headers, body, _ = api.param_serialize(
                "POST", path, header_params={"X-Arl-Token": token, "Content-Type": "application/json",
                                             "Accept": "application/json"},
                body={"command": ["true"]}, auth_settings=["BearerToken"])
            resp = api.call_api(method, url, header_params=headers, body=body, _request_timeout=30)
            resp.read()
            el.append((time.monotonic() - t) * 1000)
            if resp.status != 200:
                sys.exit(f"node-bench: exec through the pod proxy: HTTP {resp.status}: {resp.data[:200]}")
        r["exec `true` via pod proxy p50 (ms)"] = pct(el, 50)
        r["exec `true` via pod proxy p99 (ms)"] = pct(el, 99)
        return r
    finally:
        for w in watchers:
            w.stop()
        core.delete_namespace(ns)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and ns in [n.metadata.name for n in core.list_namespace().items]:
            time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cluster", action="append", required=True, help="NAME=KUBECONFIG")
    ap.add_argument("--pods", type=int, default=20)
    ap.add_argument("--sandboxes", type=int, default=20)
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--execs", type=int, default=100)
    ap.add_argument("--image", default="localhost/arl-test/busybox:1")
    ap.add_argument("--variants", default="", help="clusters (NAME,...) to time bare-pod variants of the pool pod on")
    ap.add_argument("--variants-n", type=int, default=5)
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()

    results = {}
    for spec in a.cluster:
        name, kubeconfig = spec.split("=", 1)
        print(f"node-bench: {name} ...", file=sys.stderr)
        results[name] = bench(name, kubeconfig, a)
    names = list(results)
    rows = list(dict.fromkeys(k for r in results.values() for k in r))
    width = max(len(k) for k in rows) + 2
    print(f"{'figure':<{width}}" + "".join(f"{n:>14}" for n in names))
    for k in rows:
        cells = "".join(f"{results[n][k]:>14.2f}" if results[n].get(k) == results[n].get(k) and k in results[n]
                        else f"{'-':>14}" for n in names)
        print(f"{k:<{width}}{cells}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
