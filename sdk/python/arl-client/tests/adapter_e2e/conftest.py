"""Fixtures for the KubernetesAdapter's end-to-end tests on the local cluster
(scripts/local-cluster.sh up: a real API server, the deployment, replicaset
and job controllers, the local node running pods as host processes).

The cluster's kubeconfig comes from the `kubeconfig` fixture (tests/conftest.py).
"""
import asyncio
import base64
import time
import uuid

import pytest
import yaml
from kubernetes import client as k
from kubernetes import config as kconfig

from arl_client import KubernetesAdapter


@pytest.fixture(scope="session")
def api(kubeconfig):
    """A plain official client, to check what the adapter did without trusting it."""
    return kconfig.new_client_from_config(config_file=kubeconfig)


@pytest.fixture(scope="session")
def adapter(kubeconfig):
    a = KubernetesAdapter(kubeconfig_path=kubeconfig)
    yield a
    a.close()


@pytest.fixture
def namespace(api):
    core = k.CoreV1Api(api)
    name = f"adapter-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"arl.infra.io/test": "k8s-adapter"}}})
    yield name
    core.delete_namespace(name)


def run(coro):
    return asyncio.run(coro)


def eventually(check, timeout=30.0, what="condition"):
    """Polls `check` (a test's own observation, not the adapter's) until truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached after {timeout}s (last: {last!r})")


def live_pods(api, namespace, selector):
    pods = k.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
    return [p for p in pods if p.metadata.deletion_timestamp is None]


def deployment(name, image="busybox:1.36", replicas=1, command=("sleep", "infinity")):
    spec = {"name": "main", "image": image}
    if command is not None:
        spec["command"] = list(command)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [spec]}}}}


def job(name, script, backoff=0):
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": backoff, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script]}]}}}}


@pytest.fixture
def namespace_only_kubeconfig(api, namespace, tmp_path):
    """A kubeconfig for a ServiceAccount bound to a Role in `namespace` alone (its token from
    the TokenRequest API: the local API server signs service-account tokens even though no
    token controller runs)."""
    core, rbac = k.CoreV1Api(api), k.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "agent"}})
    rbac.create_namespaced_role(namespace, {
        "metadata": {"name": "agent"},
        "rules": [{"apiGroups": ["", "apps", "batch"], "resources": ["*"], "verbs": ["*"]}]})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "agent"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "agent"},
        "subjects": [{"kind": "ServiceAccount", "name": "agent", "namespace": namespace}]})
    token = core.create_namespaced_service_account_token(
        "agent", namespace, {"spec": {"expirationSeconds": 3600}}).status.token
    cfg = api.configuration
    with open(cfg.ssl_ca_cert, "rb") as f:
        ca = base64.b64encode(f.read()).decode()
    path = tmp_path / "agent.kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "agent",
        "clusters": [{"name": "local", "cluster": {"server": cfg.host, "certificate-authority-data": ca}}],
        "users": [{"name": "agent", "user": {"token": token}}],
        "contexts": [{"name": "agent", "context": {"cluster": "local", "user": "agent", "namespace": namespace}}]}))
    return str(path)
