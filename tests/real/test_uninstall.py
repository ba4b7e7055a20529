"""Uninstalling ARL leaves nothing of it behind: `helm uninstall` removes every object of the
release, and `kubectl arl install` then `kubectl arl uninstall` (the plugin's own manifests)
removes the operator, its RBAC, its namespace and the CRDs. Runs last in tests/real: the chart is
installed again at the end (scripts/real-node.sh install-arl) for the suites that follow."""
import os
import subprocess
from pathlib import Path

from kubernetes import client

from op_cluster import GROUP

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("ARL_CACHE", Path.home() / ".cache" / "arl"))
HELM = CACHE / "bin" / f"k8s-v{os.environ.get('K8S_VERSION', '1.33.13')}" / "helm"
ARL_NS, RELEASE = "arl-system", "arl-operator"


def _names(items):
    return sorted(i.metadata.name for i in items)


def _release_objects(cluster):
    """Every object carrying the release's instance label, by kind."""
    sel = f"app.kubernetes.io/instance={RELEASE}"
    apps, rbac = client.AppsV1Api(cluster.api_client), client.RbacAuthorizationV1Api(cluster.api_client)
    net = client.NetworkingV1Api(cluster.api_client)
    found = {
        "deployments": _names(apps.list_deployment_for_all_namespaces(label_selector=sel).items),
        "replicasets": _names(apps.list_replica_set_for_all_namespaces(label_selector=sel).items),
        "pods": _names(cluster.core.list_pod_for_all_namespaces(label_selector=sel).items),
        "services": _names(cluster.core.list_service_for_all_namespaces(label_selector=sel).items),
        "serviceaccounts": _names(cluster.core.list_service_account_for_all_namespaces(label_selector=sel).items),
        "networkpolicies": _names(net.list_network_policy_for_all_namespaces(label_selector=sel).items),
        "roles": _names(rbac.list_role_for_all_namespaces(label_selector=sel).items),
        "rolebindings": _names(rbac.list_role_binding_for_all_namespaces(label_selector=sel).items),
        "clusterroles": _names(rbac.list_cluster_role(label_selector=sel).items),
        "clusterrolebindings": _names(rbac.list_cluster_role_binding(label_selector=sel).items),
    }
    return {k: v for k, v in found.items() if v}


def _arl_crds(cluster):
    ext = client.ApiextensionsV1Api(cluster.api_client)
    return _names([c for c in ext.list_custom_resource_definition().items if c.spec.group == GROUP])


def _run(*args, env=None):
    p = subprocess.run(list(map(str, args)), capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, f"{args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


def test_helm_and_kubectl_arl_uninstall_leave_nothing_behind(cluster):
    path = os.environ["ARL_REAL_KUBECONFIG"]
    apps = client.AppsV1Api(cluster.api_client)
    image = apps.read_namespaced_deployment(RELEASE, ARL_NS).spec.template.spec.containers[0].image
    assert _release_objects(cluster), "the release's objects should carry its instance label"

    _run(HELM, "--kubeconfig", path, "uninstall", RELEASE, "-n", ARL_NS, "--wait", "--timeout", "120s")
    cluster.wait("the release's objects gone", lambda: not _release_objects(cluster), timeout=120, interval=0.5)
    cluster.wait("no pod left in arl-system", lambda: not cluster.core.list_namespaced_pod(ARL_NS).items,
                 timeout=120, interval=0.5)
    # crds.keep, the chart's default (helm.sh/resource-policy: keep): the CRDs stay, and with them
    # every WarmPool, Sandbox and Task. tests/static/test_chart.py covers crds.keep=false.
    assert _arl_crds(cluster) == ["sandboxes.arl.infra.io", "tasks.arl.infra.io", "warmpools.arl.infra.io"]

    binary = os.environ.get("ARL_BIN", str(ROOT / "dist" / "arl"))
    env = {**os.environ, "KUBECONFIG": path}
    out = _run(binary, "kubectl", "install", "--image", image, env=env)
    assert "deployment.apps/arl-operator" in out, out
    cluster.wait("the plugin-installed operator Available", lambda: apps.read_namespaced_deployment(
        RELEASE, ARL_NS).status.available_replicas == 1, timeout=120, interval=0.5)

    out = _run(binary, "kubectl", "uninstall", env=env)
    assert "customresourcedefinition.apiextensions.k8s.io/warmpools.arl.infra.io deleted" in out, out
    cluster.wait("the CRDs gone", lambda: not _arl_crds(cluster), timeout=120, interval=0.5)
    cluster.wait("the arl-system namespace gone", lambda: ARL_NS not in
                 _names(cluster.core.list_namespace().items), timeout=180, interval=0.5)
    rbac = client.RbacAuthorizationV1Api(cluster.api_client)
    assert not [n for n in _names(rbac.list_cluster_role().items) if n.startswith("arl")]
    assert not [n for n in _names(rbac.list_cluster_role_binding().items) if n.startswith("arl")]

    # Back as it was, for the suites that run after this file.
    _run(ROOT / "scripts" / "real-node.sh", "install-arl",
         env={**os.environ, "ARL_REAL_STATE": str(Path(path).parent)})
    assert apps.read_namespaced_deployment(RELEASE, ARL_NS).status.available_replicas == 1
