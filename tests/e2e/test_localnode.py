"""End-to-end tests of `arl localnode` on a real API server.

The runner gives the cluster: ARL_E2E_KUBECONFIG names the kubeconfig of a local cluster
(scripts/local-cluster.sh up) whose local node runs ON THIS HOST, because some checks look at the
pod processes and the host's /workspace directly. Talks to the API server with the kubeconfig's
own credentials (no kubectl needed), including the pod proxy the CLI uses.
"""
import base64
import ipaddress
import json
import os
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

BENCH_NET = ipaddress.ip_network("198.18.0.0/15")


class Api:
    def __init__(self, kubeconfig):
        with open(kubeconfig) as f:
            cfg = yaml.safe_load(f)
        ctx_name = cfg.get("current-context")
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        base = os.path.dirname(os.path.abspath(kubeconfig))
        self.server = cluster["server"].rstrip("/")
        self.ctx = ssl.create_default_context()
        if "certificate-authority-data" in cluster:
            self.ctx.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        elif "certificate-authority" in cluster:
            self.ctx.load_verify_locations(cafile=os.path.join(base, cluster["certificate-authority"]))
        self.headers = {}
        if "token" in user:
            self.headers["Authorization"] = f"Bearer {user['token']}"
        elif "tokenFile" in user:
            with open(os.path.join(base, user["tokenFile"])) as f:
                self.headers["Authorization"] = f"Bearer {f.read().strip()}"
        if "client-certificate-data" in user:
            tmp = tempfile.mkdtemp()
            cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
            with open(cert, "wb") as f:
                f.write(base64.b64decode(user["client-certificate-data"]))
            with open(key, "wb") as f:
                f.write(base64.b64decode(user["client-key-data"]))
            self.ctx.load_cert_chain(cert, key)

    def call(self, method, path, body=None, headers=None, ok=(200, 201, 202)):
        """Returns (status, parsed JSON or text); asserts the status is in `ok` unless ok is None."""
        data = None if body is None else json.dumps(body).encode()
        h = dict(self.headers)
        if data is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        req = urllib.request.Request(self.server + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = raw.decode(errors="replace")
        if ok is not None:
            assert status in ok, f"{method} {path} -> {status}: {payload}"
        return status, payload

    def get(self, path):
        status, obj = self.call("GET", path, ok=(200, 404))
        return obj if status == 200 else None


@pytest.fixture(scope="module")
def api():
    path = os.environ.get("ARL_E2E_KUBECONFIG")
    if not path:
        pytest.fail("ARL_E2E_KUBECONFIG is not set: start a local cluster with `scripts/local-cluster.sh up` and set "
                    "ARL_E2E_KUBECONFIG=${ARL_STATE:-/tmp/arl-local}/kubeconfig")
    if not os.path.isfile(path):
        pytest.fail(f"ARL_E2E_KUBECONFIG={path} does not exist: run `scripts/local-cluster.sh up` first")
    return Api(path)


@pytest.fixture(scope="module")
def local_node(api):
    deadline = time.monotonic() + 20
    while True:
        nodes = api.get("/api/v1/nodes?labelSelector=arl.infra.io%2Flocalnode%3Dtrue")["items"]
        ready = [n for n in nodes
                 if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))]
        if ready:
            return ready[0]["metadata"]["name"]
        if time.monotonic() > deadline:
            pytest.fail("no Ready node labelled arl.infra.io/localnode=true: is `arl localnode` running?")
        time.sleep(0.2)


@pytest.fixture
def ns(api):
    name = f"ln-{uuid.uuid4().hex[:8]}"
    api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    api.call("DELETE", f"/api/v1/namespaces/{name}", ok=None)


TOKEN = "e2e-" + uuid.uuid4().hex


def make_secret(api, ns):
    api.call("POST", f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "arl-pool-p"},
        "data": {"token": base64.b64encode(TOKEN.encode()).decode()}})


def injected_pod(name, **spec_extra):
    """The shape docs/design.md "Pod injection" gives the pods of a WarmPool `p`."""
    spec = {
        "volumes": [{"name": "arl-bin", "emptyDir": {}}, {"name": "workspace", "emptyDir": {}}],
        "initContainers": [{"name": "arl-init", "image": "arl:local",
                            "command": ["/arl", "sidecar", "copy-self", "/arl-bin/arl"],
                            "volumeMounts": [{"name": "arl-bin", "mountPath": "/arl-bin"}]}],
        "containers": [{
            "name": "executor", "image": "python:3.12-slim",
            "command": ["/arl-bin/arl", "sidecar"],
            "ports": [{"name": "arl", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/health", "port": 8080}},
            "env": [{"name": "ARL_SIDECAR_TOKEN",
                     "valueFrom": {"secretKeyRef": {"name": "arl-pool-p", "key": "token"}}},
                    {"name": "ARL_SIDECAR_WORKDIR", "value": "/workspace"}],
            "volumeMounts": [{"name": "arl-bin", "mountPath": "/arl-bin"},
                             {"name": "workspace", "mountPath": "/workspace"}]}],
    }
    spec.update(spec_extra)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"arl.infra.io/warmpool": "p", "arl.infra.io/pod-state": "ready"}},
            "spec": spec}


def create_pod(api, ns, pod):
    api.call("POST", f"/api/v1/namespaces/{ns}/pods", pod)


def wait_pod(api, ns, name, pred, what, timeout=15):
    deadline = time.monotonic() + timeout
    pod = None
    while time.monotonic() < deadline:
        pod = api.get(f"/api/v1/namespaces/{ns}/pods/{name}")
        if pod is not None and pred(pod):
            return pod
        time.sleep(0.05)
    pytest.fail(f"pod {ns}/{name} not {what} after {timeout}s; last seen: {json.dumps(pod and pod.get('status'))}")


def is_ready(pod):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def proxy(api, ns, name, method, path, body=None, token=TOKEN, ok=(200,)):
    headers = {"X-Arl-Token": token} if token else {}
    return api.call(method, f"/api/v1/namespaces/{ns}/pods/{name}:8080/proxy{path}", body, headers, ok=ok)


def pid_of(pod):
    cid = pod["status"]["containerStatuses"][0]["containerID"]
    assert cid.startswith("localnode://"), cid
    return int(cid.split("//", 1)[1])


def test_pod_is_bound_runs_ready_and_answers_through_the_pod_proxy(api, local_node, ns):
    make_secret(api, ns)
    create_pod(api, ns, injected_pod("p-aaaaa"))
    pod = wait_pod(api, ns, "p-aaaaa", is_ready, "Ready")
    assert pod["spec"]["nodeName"] == local_node
    st = pod["status"]
    assert st["phase"] == "Running"
    ip = ipaddress.ip_address(st["podIP"])
    assert ip in BENCH_NET, st["podIP"]
    assert [p["ip"] for p in st["podIPs"]] == [st["podIP"]]
    assert ipaddress.ip_address(st["hostIP"]) in BENCH_NET
    assert st["containerStatuses"][0]["ready"] is True
    assert "running" in st["containerStatuses"][0]["state"]
    assert {c["type"] for c in st["conditions"]} >= {"PodScheduled", "Initialized", "ContainersReady", "Ready"}

    _, health = proxy(api, ns, "p-aaaaa", "GET", "/health", token=None)
    assert health["status"] == "ok"
    # The token from the Secret reached the sidecar: without it the API refuses, with it it runs.
    status, _ = proxy(api, ns, "p-aaaaa", "GET", "/processes", token="wrong", ok=None)
    assert status == 401
    _, out = proxy(api, ns, "p-aaaaa", "POST", "/execute", {"command": ["pwd"]})
    assert out["exit_code"] == 0
    assert out["stdout"].strip() == "/workspace"
    _, env = proxy(api, ns, "p-aaaaa", "POST", "/execute", {"command": ["sh", "-c", "echo $HOSTNAME"]})
    assert env["stdout"].strip() == "p-aaaaa"


def test_each_pod_has_its_own_workspace(api, local_node, ns):
    make_secret(api, ns)
    for name in ("p-one11", "p-two22"):
        create_pod(api, ns, injected_pod(name))
    for name in ("p-one11", "p-two22"):
        wait_pod(api, ns, name, is_ready, "Ready")
    marker = f"only-in-one-{uuid.uuid4().hex[:6]}.txt"
    proxy(api, ns, "p-one11", "POST", "/files", {"path": f"/workspace/{marker}", "content": "one\n"})
    _, a = proxy(api, ns, "p-one11", "POST", "/execute", {"command": ["cat", f"/workspace/{marker}"]})
    assert a["exit_code"] == 0 and a["stdout"] == "one\n"
    _, b = proxy(api, ns, "p-two22", "POST", "/execute", {"command": ["cat", f"/workspace/{marker}"]})
    assert b["exit_code"] != 0
    assert not os.path.exists(f"/workspace/{marker}"), "the host's /workspace must stay untouched"


def test_delete_kills_the_process_and_removes_the_pod(api, local_node, ns):
    make_secret(api, ns)
    create_pod(api, ns, injected_pod("p-del00"))
    pod = wait_pod(api, ns, "p-del00", is_ready, "Ready")
    pid = pid_of(pod)
    assert os.path.exists(f"/proc/{pid}"), "the pod's process should run on this host"
    # A background process outside the sidecar's process group must die with the pod too.
    _, bg = proxy(api, ns, "p-del00", "POST", "/execute", {"command": ["sleep", "300"], "background": True})
    bg_pid = bg.get("pid")
    t0 = time.monotonic()
    api.call("DELETE", f"/api/v1/namespaces/{ns}/pods/p-del00")  # default grace: the node finishes it
    while api.get(f"/api/v1/namespaces/{ns}/pods/p-del00") is not None:
        assert time.monotonic() - t0 < 5, "pod object still there 5s after delete"
        time.sleep(0.05)
    while os.path.exists(f"/proc/{pid}") and not open(f"/proc/{pid}/stat").read().split(") ")[1].startswith("Z"):
        assert time.monotonic() - t0 < 5, f"pod process {pid} still running"
        time.sleep(0.05)
    if bg_pid:  # pid as the sidecar sees it; same pid namespace as the host
        assert not os.path.exists(f"/proc/{bg_pid}") or \
            open(f"/proc/{bg_pid}/stat").read().split(") ")[1].startswith("Z"), "background process survived"


def test_exiting_process_fails_the_pod(api, local_node, ns):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "quits"},
           "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 3"]}]}}
    create_pod(api, ns, pod)
    pod = wait_pod(api, ns, "quits", lambda p: p.get("status", {}).get("phase") == "Failed", "Failed")
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 3
    assert not is_ready(pod)


def test_pods_for_another_scheduler_are_left_alone(api, local_node, ns):
    pod = injected_pod("p-other", schedulerName="someone-else")
    create_pod(api, ns, pod)
    time.sleep(1.0)
    pod = api.get(f"/api/v1/namespaces/{ns}/pods/p-other")
    assert not pod["spec"].get("nodeName")
    assert pod["status"].get("phase") == "Pending"


def test_twenty_pods_at_once_get_distinct_ips(api, local_node, ns):
    make_secret(api, ns)
    names = [f"p-b{i:04d}" for i in range(20)]
    t0 = time.monotonic()
    for n in names:
        create_pod(api, ns, injected_pod(n))
    ips = {}
    for n in names:
        ips[n] = wait_pod(api, ns, n, is_ready, "Ready")["status"]["podIP"]
    elapsed = time.monotonic() - t0
    assert len(set(ips.values())) == len(names), ips
    assert elapsed < 10, f"20 pods took {elapsed:.1f}s to be Ready"


def test_pod_logs_are_served_like_a_kubelet_does(api, local_node, ns):
    """pods/log goes API server -> the node's log server (Node daemonEndpoints) -> the pod's log file."""
    node = api.get(f"/api/v1/nodes/{local_node}")
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    assert port > 0, node["status"]["daemonEndpoints"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "talks"},
           "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": [
               "sh", "-c", "echo one; echo two >&2; echo three; sleep 1; echo four"]}]}}
    create_pod(api, ns, pod)
    wait_pod(api, ns, "talks", lambda p: p.get("status", {}).get("phase") == "Running", "Running")
    # follow streams until the process exits, then the response ends.
    _, followed = api.call("GET", f"/api/v1/namespaces/{ns}/pods/talks/log?follow=true")
    assert followed == "one\ntwo\nthree\nfour\n"
    wait_pod(api, ns, "talks", lambda p: p.get("status", {}).get("phase") == "Succeeded", "Succeeded")
    _, whole = api.call("GET", f"/api/v1/namespaces/{ns}/pods/talks/log")
    assert whole == "one\ntwo\nthree\nfour\n"
    _, tail = api.call("GET", f"/api/v1/namespaces/{ns}/pods/talks/log?tailLines=2")
    assert tail == "three\nfour\n"
    _, head = api.call("GET", f"/api/v1/namespaces/{ns}/pods/talks/log?limitBytes=5")
    assert head == "one\nt"
    status, _ = api.call("GET", f"/api/v1/namespaces/{ns}/pods/talks/log?container=nope", ok=None)
    assert status == 400  # the API server knows the pod's containers


def test_container_without_command_waits_with_a_reason(api, local_node, ns):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "entry"},
           "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
    create_pod(api, ns, pod)
    pod = wait_pod(api, ns, "entry", lambda p: p.get("status", {}).get("containerStatuses"), "reported")
    assert pod["status"]["phase"] == "Pending"
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "LocalNodeNeedsCommand"
    assert "set spec.containers[0].command" in waiting["message"]
    rv = pod["metadata"]["resourceVersion"]
    time.sleep(1.0)  # written once: no status write loop on the watch's echo
    assert api.get(f"/api/v1/namespaces/{ns}/pods/entry")["metadata"]["resourceVersion"] == rv
