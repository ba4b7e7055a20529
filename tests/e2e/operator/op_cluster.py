"""Helpers for the operator's end-to-end tests: a real kube-apiserver + etcd +
kube-controller-manager, the local node and `arl operator`, all started by
scripts/local-cluster.sh. The cluster is given through ARL_E2E_KUBECONFIG."""
import contextlib
import hashlib
import hmac
import json
import os
import time
import uuid
from pathlib import Path

from kubernetes import client, config

GROUP, VERSION = "arl.infra.io", "v1alpha1"
# The pools' image: any name on the local node (it runs the host's tools); on the real node
# (scripts/test.sh real) an image built by scripts/build-test-images.sh, present in containerd.
POOL_IMAGE = os.environ.get("ARL_E2E_IMAGE", "python:3.12-slim")


def sandbox_token(pool_token, sandbox_uid):
    """The token an allocated sandbox's pod accepts (docs/design.md "Sandbox tokens"), written
    out here rather than imported from the SDK so the tests check the documented formula."""
    return hmac.new(pool_token.encode(), f"arl-sandbox-token/v1:{sandbox_uid}".encode(), hashlib.sha256).hexdigest()


class Cluster:
    @classmethod
    def from_env(cls, var, what):
        """The cluster whose kubeconfig the environment variable `var` names; `what` says
        which cluster that must be, for the failure message."""
        path = os.environ.get(var)
        if not path or not os.path.isfile(path):
            import pytest
            pytest.fail(f"set {var} to the kubeconfig of {what}")
        return cls(path)

    @contextlib.contextmanager
    def namespace(self, prefix, labels=None, wait_gone=False):
        """A fresh namespace for one test, deleted afterwards. wait_gone: until the namespace
        controller (and on a real node the kubelet) has removed everything in it."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
        try:
            yield name
        finally:
            self.core.delete_namespace(name)
            if wait_gone:
                self.wait(f"namespace {name} gone", lambda: name not in
                          [n.metadata.name for n in self.core.list_namespace().items], timeout=120, interval=0.5)

    def __init__(self, kubeconfig):
        self.api_client = config.new_client_from_config(config_file=kubeconfig)
        self.api_client.configuration.connection_pool_maxsize = 64
        self.core = client.CoreV1Api(self.api_client)
        self.custom = client.CustomObjectsApi(self.api_client)

    # --- our resources
    def create(self, ns, plural, obj):
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, plural, obj)

    def get(self, ns, plural, name):
        try:
            return self.custom.get_namespaced_custom_object(GROUP, VERSION, ns, plural, name)
        except client.exceptions.ApiException as e:
            if e.status == 404:
                return None
            raise

    def patch(self, ns, plural, name, body):
        return self.custom.patch_namespaced_custom_object(GROUP, VERSION, ns, plural, name, body)

    def delete(self, ns, plural, name):
        try:
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, plural, name)
        except client.exceptions.ApiException as e:
            if e.status != 404:
                raise

    def pool(self, ns, name, replicas, image=POOL_IMAGE):
        return self.create(ns, "warmpools", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "WarmPool", "metadata": {"name": name},
            "spec": {"replicas": replicas,
                     "template": {"spec": {"containers": [{"name": "main", "image": image}]}}}})

    def sandbox(self, ns, name, pool, keep_alive=True, ttl=None):
        spec = {"poolRef": pool, "keepAlive": keep_alive}
        if ttl is not None:
            spec["ttlSecondsAfterFinished"] = ttl
        return self.create(ns, "sandboxes", {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Sandbox",
                                             "metadata": {"name": name}, "spec": spec})

    def task(self, ns, name, sandbox, steps, **spec):
        body = {"sandboxRef": sandbox, "steps": steps}
        body.update(spec)
        return self.create(ns, "tasks", {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Task",
                                         "metadata": {"name": name}, "spec": body})

    def pods(self, ns, pool, state=None):
        selector = f"arl.infra.io/warmpool={pool}"
        if state:
            selector += f",arl.infra.io/pod-state={state}"
        items = self.core.list_namespaced_pod(ns, label_selector=selector).items
        return [p for p in items if p.metadata.deletion_timestamp is None]

    def wait(self, what, fn, timeout=30.0, interval=0.02):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")

    def wait_phase(self, ns, name, phase, timeout=30.0):
        return self.wait(f"sandbox {name} {phase}",
                         lambda: (s := self.get(ns, "sandboxes", name)) and s.get("status", {}).get("phase") == phase and s,
                         timeout)

    def wait_task(self, ns, name, timeout=60.0):
        return self.wait(f"task {name} terminal",
                         lambda: (t := self.get(ns, "tasks", name))
                         and t.get("status", {}).get("state") in ("Succeeded", "Failed") and t, timeout)

    def ready_pool(self, ns, name, replicas, timeout=60.0):
        self.pool(ns, name, replicas)
        self.wait(f"pool {name} has {replicas} ready pods",
                  lambda: len([p for p in self.pods(ns, name, "ready") if _ready(p)]) >= replicas, timeout)


def _ready(pod):
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))




def run_sandbox_probe(cluster, ns, sandbox, own_ip, other_ip, tokens):
    """Runs sandbox_probe.py as a task of `sandbox` (sandbox code: hostile by definition) and
    returns its report: what it could read of its own sidecar and pod, and whether any of it
    opened its own or the `other_ip` sidecar. The probe gets only the tokens' sha256, to say
    whether it found one."""
    probe = (Path(__file__).parent / "sandbox_probe.py").read_text()
    args = json.dumps({"own": own_ip, "other": other_ip, "secrets": [hashlib.sha256(t.encode()).hexdigest() for t in tokens]})
    cluster.task(ns, "probe", sandbox, [
        {"name": "write", "type": "FilePatch", "path": "probe.py", "content": probe},
        {"name": "probe", "type": "Command", "command": ["python3", "/workspace/probe.py", args]}], timeout="240s")
    t = cluster.wait_task(ns, "probe", timeout=300)
    assert t["status"]["state"] == "Succeeded", t["status"]
    return json.loads(t["status"]["stdout"].strip().splitlines()[-1])
