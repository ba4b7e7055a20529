"""What the real tier's sandbox tests share: pools of the Debian python image, a sandbox's
tokens, and calls to a pod's sidecar through the API server's pod proxy (the path `kubectl arl
sandbox exec` takes)."""
import base64
import json
import time

from op_cluster import GROUP, VERSION, _ready, sandbox_token

PYTHON = "localhost/arl-test/python:1"


def python_pool(cluster, ns, name, replicas, timeout=120):
    cluster.create(ns, "warmpools", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "WarmPool", "metadata": {"name": name},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [
            {"name": "main", "image": PYTHON, "imagePullPolicy": "Never"}]}}}})
    cluster.wait(f"pool {name}: {replicas} ready pods",
                 lambda: len([p for p in cluster.pods(ns, name, "ready") if _ready(p)]) >= replicas,
                 timeout=timeout, interval=0.2)


def ready_sandbox(cluster, ns, name, pool, timeout=30):
    cluster.sandbox(ns, name, pool)
    return cluster.wait_phase(ns, name, "Ready", timeout=timeout)


def pool_token(cluster, ns, pool):
    """The pool's token as the test reads it from the Secret the operator made."""
    return base64.b64decode(cluster.core.read_namespaced_secret(f"arl-pool-{pool}", ns).data["token"]).decode()


def own_token(cluster, ns, sandbox, pool):
    sb = cluster.get(ns, "sandboxes", sandbox)
    return sandbox_token(pool_token(cluster, ns, pool), sb["metadata"]["uid"])


def sidecar_call(cluster, ns, pod, token, method, path, body=None, timeout=30):
    """(HTTP status, body) of one call to the pod's sidecar through the pod proxy."""
    headers = {"X-Arl-Token": token, "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    params = cluster.api_client.param_serialize(
        method, f"/api/v1/namespaces/{ns}/pods/{pod}:8080/proxy/{path}", header_params=headers,
        body=body, auth_settings=["BearerToken"])
    resp = cluster.api_client.call_api(*params, _request_timeout=timeout)
    return resp.status, resp.read()


def execute(cluster, ns, pod, token, command, timeout=30):
    """(status, parsed reply or raw body) of POST /execute."""
    status, data = sidecar_call(cluster, ns, pod, token, "POST", "execute",
                                {"command": command, "timeout_seconds": timeout}, timeout=timeout + 10)
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data


def answers(cluster, ns, pod, token, word="alive"):
    """The sidecar runs a command for `token` and returns its output (False while it cannot)."""
    try:
        status, reply = execute(cluster, ns, pod, token, ["echo", word], timeout=10)
    except Exception:  # the pod proxy while the sidecar restarts: refused, reset, 502/503
        return False
    return status == 200 and reply.get("stdout") == word + "\n"


def wait(what, fn, timeout, interval=0.5):
    """Polls fn until it returns something true; prints progress every 5 s of a long wait."""
    start = time.monotonic()
    next_note = start + 5
    last = None
    while time.monotonic() - start < timeout:
        last = fn()
        if last:
            return last
        if time.monotonic() >= next_note:
            print(f"  still waiting for {what} ({time.monotonic() - start:.0f}s): {last!r}", flush=True)
            next_note += 5
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def sidecar_status(cluster, ns, pod):
    """The kubelet's status of the sidecar's container ("main") of the pod."""
    p = cluster.core.read_namespaced_pod(pod, ns)
    return next(s for s in p.status.container_statuses if s.name == "main")
