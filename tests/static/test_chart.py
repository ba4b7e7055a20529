"""The Helm chart charts/arl-operator: lint, CRDs identical to manifests/crds, the
rendered objects in step with the plain manifests/, values wired through, and
(with ARL_TEST_KUBECONFIG) a server-side dry run against the real control plane.
Tools: helm and kubectl from scripts/install-kube-tools.sh (ARL_HELM / ARL_KUBECTL
override).
"""
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "arl-operator"
MANIFESTS = ROOT / "manifests"
TOOLS = Path(os.environ.get("ARL_CACHE", Path.home() / ".cache" / "arl")) / "bin" / "k8s-v1.33.13"
HELM = Path(os.environ.get("ARL_HELM", TOOLS / "helm"))
KUBECTL = Path(os.environ.get("ARL_KUBECTL", TOOLS / "kubectl"))
RELEASE, NAMESPACE = "arl-operator", "arl-system"


@pytest.fixture(scope="module")
def helm():
    if not HELM.is_file():
        pytest.fail(f"{HELM} is missing: run scripts/install-kube-tools.sh release")
    return HELM


def render(helm, *args):
    r = subprocess.run([str(helm), "template", RELEASE, str(CHART), "-n", NAMESPACE, *args],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def objects(text):
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(docs):
    out = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def manifest_objects(*names):
    docs = []
    for n in names:
        docs += objects((MANIFESTS / n).read_text())
    return by_kind(docs)


def norm_rules(rules):
    """Order-insensitive view of RBAC rules: the set of (group, resource, verb)."""
    return {(g, r, v) for rule in rules for g in rule.get("apiGroups", [])
            for r in rule.get("resources", []) for v in rule.get("verbs", [])}


def test_chart_crds_are_byte_identical_to_manifests():
    src = sorted(p.name for p in (MANIFESTS / "crds").glob("*.yaml"))
    dst = sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
    assert src, "manifests/crds holds no CRDs"
    assert dst == src, "chart CRDs differ from manifests/crds: run scripts/sync-chart-crds.sh"
    for name in src:
        assert (CHART / "crds" / name).read_bytes() == (MANIFESTS / "crds" / name).read_bytes(), \
            f"charts/arl-operator/crds/{name} drifted: run scripts/sync-chart-crds.sh"
    r = subprocess.run([str(ROOT / "scripts" / "sync-chart-crds.sh"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_chart_version_follows_the_binary():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    m = re.search(r"^project\(arl VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text(), re.M)
    assert chart["name"] == "arl-operator"
    assert chart["version"] == m.group(1) and chart["appVersion"] == m.group(1), chart


def test_helm_lint_strict(helm):
    r = subprocess.run([str(helm), "lint", "--strict", str(CHART)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 chart(s) failed" in r.stdout, r.stdout


def test_rendered_rbac_matches_manifests(helm):
    chart = by_kind(objects(render(helm)))
    plain = manifest_objects("rbac.yaml")
    assert norm_rules(chart["ClusterRole"][0]["rules"]) == norm_rules(plain["ClusterRole"][0]["rules"])
    assert norm_rules(chart["Role"][0]["rules"]) == norm_rules(plain["Role"][0]["rules"])
    # No wildcard anywhere: least privilege means naming every verb and resource.
    for role in chart["ClusterRole"] + chart["Role"]:
        for g, r, v in norm_rules(role["rules"]):
            assert "*" not in (g, r, v), role["metadata"]["name"]
    sa = chart["ServiceAccount"][0]["metadata"]
    assert (sa["name"], sa["namespace"]) == (plain["ServiceAccount"][0]["metadata"]["name"], NAMESPACE)
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        assert chart[kind][0]["subjects"] == plain[kind][0]["subjects"], kind


def test_rendered_deployment_matches_manifests(helm):
    chart = by_kind(objects(render(helm)))["Deployment"][0]
    plain = manifest_objects("operator.yaml")["Deployment"][0]
    assert chart["metadata"]["name"] == plain["metadata"]["name"]
    assert chart["metadata"]["namespace"] == NAMESPACE
    cs, ps = chart["spec"]["template"]["spec"], plain["spec"]["template"]["spec"]
    assert cs["serviceAccountName"] == ps["serviceAccountName"]
    assert cs["securityContext"] == ps["securityContext"]
    cc, pc = cs["containers"][0], ps["containers"][0]
    for key in ("image", "command", "ports", "livenessProbe", "readinessProbe", "resources", "securityContext", "env"):
        assert cc[key] == pc[key], key
    # The chart may add flags (workers, log format) but never drops the manifest's.
    missing = set(pc["args"]) - set(cc["args"])
    assert not missing, missing
    assert cc["args"][0] == "operator"


def test_rendered_networkpolicy_matches_manifests(helm):
    chart = by_kind(objects(render(helm)))["NetworkPolicy"]
    plain = manifest_objects("networkpolicy.yaml")["NetworkPolicy"][0]
    assert [p["metadata"]["namespace"] for p in chart] == ["default"]
    assert chart[0]["spec"] == plain["spec"]


def test_metrics_service_selects_operator_pods(helm):
    kinds = by_kind(objects(render(helm)))
    svc, dep = kinds["Service"][0], kinds["Deployment"][0]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in svc["spec"]["selector"].items())
    assert svc["spec"]["ports"][0]["targetPort"] == "metrics"
    ports = {p["name"]: p["containerPort"] for p in dep["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert svc["spec"]["ports"][0]["port"] == ports["metrics"]


def test_values_reach_the_deployment(helm):
    kinds = by_kind(objects(render(
        helm, "--set", "image.repository=reg.example/arl", "--set", "image.tag=9.9.9",
        "--set", "replicas=3", "--set", "watchNamespace=team-a", "--set", "logFormat=text",
        "--set", "leaderElection.enabled=false", "--set", "metrics.port=9100", "--set", "health.port=9101",
        "--set", "networkPolicy.sandboxNamespaces={team-a,team-b}", "--set", "createNamespace=true")))
    dep = kinds["Deployment"][0]
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert dep["spec"]["replicas"] == 3
    assert c["image"] == "reg.example/arl:9.9.9"
    # The init container in pool pods must copy arl from the very image the operator runs.
    assert "--image=reg.example/arl:9.9.9" in c["args"]
    assert "--namespace=team-a" in c["args"] and "--log-format=text" in c["args"]
    assert "--leader-elect" not in c["args"]
    assert "--metrics-addr=:9100" in c["args"] and "--health-addr=:9101" in c["args"]
    assert "Role" not in kinds, "no leader-election Role without leader election"
    assert [p["metadata"]["namespace"] for p in kinds["NetworkPolicy"]] == ["team-a", "team-b"]
    assert kinds["Namespace"][0]["metadata"]["name"] == NAMESPACE


def test_defaults_leave_namespace_to_helm(helm):
    # `helm upgrade --install ... --create-namespace` creates it; a chart-owned one would conflict.
    assert "Namespace" not in by_kind(objects(render(helm)))


def test_crds_are_rendered_with_include_crds(helm):
    kinds = by_kind(objects(render(helm, "--include-crds")))
    names = sorted(c["metadata"]["name"] for c in kinds["CustomResourceDefinition"])
    assert names == ["sandboxes.arl.infra.io", "tasks.arl.infra.io", "warmpools.arl.infra.io"]


@pytest.fixture(scope="module")
def cluster():
    """The kubeconfig of a running control plane, from ARL_TEST_KUBECONFIG."""
    kubeconfig = os.environ.get("ARL_TEST_KUBECONFIG")
    if not kubeconfig:
        pytest.skip("ARL_TEST_KUBECONFIG not set (scripts/test.sh sets it in the cluster tier)")
    assert KUBECTL.is_file(), f"{KUBECTL} missing: run scripts/install-kube-tools.sh"
    # scripts/test.sh keeps the variable after the cluster tier stops its control plane.
    r = subprocess.run([str(KUBECTL), "--kubeconfig", kubeconfig, "get", "--raw", "/readyz", "--request-timeout=5s"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"control plane of {kubeconfig} is not running: {r.stderr.strip()[:200]}")
    return kubeconfig


def test_server_side_dry_run_against_real_control_plane(helm, cluster):
    kubeconfig = cluster
    kc = [str(KUBECTL), "--kubeconfig", kubeconfig]
    # Namespaced objects cannot be dry-run into a namespace that does not exist.
    subprocess.run(kc + ["create", "namespace", NAMESPACE], capture_output=True, text=True)
    rendered = render(helm, "--include-crds")
    r = subprocess.run(kc + ["apply", "--dry-run=server", "-f", "-"], input=rendered, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for kind in ("customresourcedefinition", "serviceaccount", "clusterrole", "clusterrolebinding", "role",
                 "rolebinding", "deployment", "service", "networkpolicy"):
        assert re.search(rf"^{kind}[./].*\(server dry run\)$", r.stdout, re.M), (kind, r.stdout)


def test_helm_install_and_uninstall_on_real_control_plane(helm, cluster):
    kubeconfig = cluster
    import uuid
    release, ns = f"arl-t{uuid.uuid4().hex[:6]}", f"arl-t{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    # The same command `make deploy` runs; no NetworkPolicy so it touches nothing outside ns.
    r = subprocess.run([str(helm), "upgrade", "--install", release, str(CHART), "-n", ns, "--create-namespace",
                        "--set", "networkPolicy.enabled=false"], capture_output=True, text=True, env=env)
    try:
        assert r.returncode == 0, r.stderr
        assert "kubectl arl pool create" in r.stdout, r.stdout  # NOTES.txt names the next step
        kc = [str(KUBECTL), "--kubeconfig", kubeconfig]
        got = subprocess.run(kc + ["-n", ns, "get", "deployment,serviceaccount,service,role", "-o", "name"],
                             capture_output=True, text=True, check=True).stdout.split()
        full = f"{release}-arl-operator"
        for want in (f"deployment.apps/{full}", f"serviceaccount/{full}", f"service/{full}-metrics",
                     f"role.rbac.authorization.k8s.io/{full}-leader-election"):
            assert want in got, (want, got)
        crds = subprocess.run(kc + ["get", "crd", "-o", "name"], capture_output=True, text=True, check=True).stdout
        assert "warmpools.arl.infra.io" in crds
        # The operator's identity may do what the controllers need, and no more.
        sa = f"system:serviceaccount:{ns}:{full}"
        def can(*args):
            return subprocess.run(kc + ["auth", "can-i", "--as", sa, *args], capture_output=True, text=True).stdout.strip()
        assert can("patch", "pods", "-n", "default") == "yes"
        assert can("update", "sandboxes.arl.infra.io/status", "-n", "default") == "yes"
        assert can("create", "secrets", "-n", "default") == "yes"
        assert can("update", "leases.coordination.k8s.io", "-n", ns) == "yes"
        assert can("update", "leases.coordination.k8s.io", "-n", "default") == "no"
        # A pool's token Secret outlives the pool; the operator deletes it once unused.
        assert can("delete", "secrets", "-n", "default") == "yes"
        assert can("update", "secrets", "-n", "default") == "no"
        assert can("create", "deployments.apps", "-n", "default") == "no"
    finally:
        subprocess.run([str(helm), "uninstall", release, "-n", ns], capture_output=True, env=env)
        subprocess.run([str(KUBECTL), "--kubeconfig", kubeconfig, "delete", "namespace", ns, "--wait=false"],
                       capture_output=True)
