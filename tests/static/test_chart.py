"""The Helm chart charts/arl-operator: lint, CRDs identical to manifests/crds, the
rendered objects in step with the plain manifests/, values wired through, and
(with ARL_TEST_KUBECONFIG) a server-side dry run against the real control plane.
Tools: helm and kubectl from scripts/install-kube-tools.sh (ARL_HELM / ARL_KUBECTL
override).
"""
import json
import os
import re
import shutil
import subprocess
import time
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


def test_chart_crds_are_generated_from_manifests():
    src = sorted(p.name for p in (MANIFESTS / "crds").glob("*.yaml"))
    copies = sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
    templates = sorted(p.name for p in (CHART / "templates" / "crds").glob("*.yaml"))
    assert src, "manifests/crds holds no CRDs"
    assert copies == src and templates == src, "chart CRDs differ from manifests/crds: run make manifests"
    for name in src:
        # crds/ stays byte-identical for `kubectl apply -f charts/arl-operator/crds/`.
        assert (CHART / "crds" / name).read_bytes() == (MANIFESTS / "crds" / name).read_bytes(), \
            f"charts/arl-operator/crds/{name} drifted: run make manifests"
    r = subprocess.run([str(ROOT / "scripts" / "sync-chart-crds.sh"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_sync_check_names_a_drifted_template(tmp_path):
    # The check runs on a copy of the tree: a hand edit of a generated template must be caught.
    for d in ("scripts", "manifests/crds", "charts/arl-operator/crds", "charts/arl-operator/templates/crds"):
        shutil.copytree(ROOT / d, tmp_path / d)
    t = tmp_path / "charts/arl-operator/templates/crds/arl.infra.io_tasks.yaml"
    t.write_text(t.read_text().replace("helm.sh/resource-policy: keep", "helm.sh/resource-policy: delete"))
    r = subprocess.run([str(tmp_path / "scripts" / "sync-chart-crds.sh"), "--check"], capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{t} is not generated from {tmp_path}/manifests/crds/arl.infra.io_tasks.yaml" in r.stderr, r.stderr
    assert "run scripts/sync-chart-crds.sh (or make manifests)" in r.stderr
    # Rerunning the script repairs it.
    subprocess.run([str(tmp_path / "scripts" / "sync-chart-crds.sh")], check=True, capture_output=True)
    assert t.read_bytes() == (CHART / "templates/crds/arl.infra.io_tasks.yaml").read_bytes()


def test_chart_version_follows_the_binary():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    m = re.search(r"^project\(arl VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text(), re.M)
    assert chart["name"] == "arl-operator"
    assert chart["version"] == m.group(1) and chart["appVersion"] == m.group(1), chart


CRD_VALUES = [("true", "true"), ("true", "false"), ("false", "true"), ("false", "false")]


@pytest.mark.parametrize("install,keep", CRD_VALUES)
def test_helm_lint_strict(helm, install, keep):
    r = subprocess.run([str(helm), "lint", "--strict", str(CHART), "--set", f"crds.install={install}",
                        "--set", f"crds.keep={keep}"], capture_output=True, text=True)
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


def test_rendered_sandbox_env_rbac_matches_manifest(helm):
    """spec.env's Secrets and ConfigMaps: `get` only, the same rules in the chart and the manifest."""
    chart = by_kind(objects(render(helm)))
    plain = manifest_objects("rbac-sandbox-env.yaml")
    role = next(r for r in chart["ClusterRole"] if r["metadata"]["name"].endswith("-sandbox-env"))
    assert norm_rules(role["rules"]) == norm_rules(plain["ClusterRole"][0]["rules"]) == {
        ("", "secrets", "get"), ("", "configmaps", "get")}
    binding = next(b for b in chart["ClusterRoleBinding"] if b["metadata"]["name"].endswith("-sandbox-env"))
    assert binding["subjects"] == plain["ClusterRoleBinding"][0]["subjects"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


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


CRD_NAMES = ["sandboxes.arl.infra.io", "tasks.arl.infra.io", "warmpools.arl.infra.io"]


def crds(docs):
    return sorted(by_kind(docs).get("CustomResourceDefinition", []), key=lambda c: c["metadata"]["name"])


def test_crds_are_templates_kept_on_uninstall_by_default(helm):
    got = crds(objects(render(helm)))
    assert [c["metadata"]["name"] for c in got] == CRD_NAMES
    for c in got:
        assert c["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}, c["metadata"]
        # Apart from the annotation, the very CRD of manifests/crds.
        src = objects((MANIFESTS / "crds" / f"arl.infra.io_{c['spec']['names']['plural']}.yaml").read_text())[0]
        del c["metadata"]["annotations"]
        assert c == src
    # Helm never sees the crds/ copies: it would install them first and then refuse the templates.
    r = subprocess.run([str(helm), "show", "crds", str(CHART)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout + r.stderr
    assert crds(objects(render(helm, "--include-crds"))) == crds(objects(render(helm)))


def test_crds_keep_false_drops_the_resource_policy(helm):
    got = crds(objects(render(helm, "--set", "crds.keep=false")))
    assert [c["metadata"]["name"] for c in got] == CRD_NAMES
    assert all("annotations" not in c["metadata"] for c in got)


def test_crds_install_false_renders_no_crd(helm):
    assert crds(objects(render(helm, "--set", "crds.install=false", "--include-crds"))) == []


def operator_container(kinds):
    return kinds["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]


def test_sidecar_image_defaults_to_the_operator_image(helm):
    c = operator_container(by_kind(objects(render(helm, "--set", "image.tag=1.2.3"))))
    assert c["image"] == "ghcr.io/arl/arl:1.2.3"
    assert "--image=ghcr.io/arl/arl:1.2.3" in c["args"]


def test_sidecar_image_overrides_only_the_init_container_image(helm):
    c = operator_container(by_kind(objects(render(
        helm, "--set", "image.repository=reg.example/arl-operator", "--set", "image.tag=2.0.0",
        "--set", "sidecar.image.repository=reg.example/arl-sidecar"))))
    assert c["image"] == "reg.example/arl-operator:2.0.0"
    # The tag follows image.tag unless sidecar.image.tag is set.
    assert [a for a in c["args"] if a.startswith("--image=")] == ["--image=reg.example/arl-sidecar:2.0.0"]
    c = operator_container(by_kind(objects(render(helm, "--set", "sidecar.image.tag=9.9.9-debug"))))
    assert c["image"] == "ghcr.io/arl/arl:0.1.0"
    assert [a for a in c["args"] if a.startswith("--image=")] == ["--image=ghcr.io/arl/arl:9.9.9-debug"]


def test_operator_pod_carries_app_label_outside_the_immutable_selector(helm):
    dep = by_kind(objects(render(helm)))["Deployment"][0]
    assert dep["spec"]["template"]["metadata"]["labels"]["app"] == "arl-operator"
    # The selector of the earlier chart, unchanged: `helm upgrade` cannot change it.
    assert dep["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "arl-operator",
                                                       "app.kubernetes.io/instance": RELEASE}}
    # A release with another name still answers to the manuals' `-l app=arl-operator`.
    other = by_kind(objects(subprocess.run([str(helm), "template", "ml", str(CHART)], capture_output=True,
                                           text=True, check=True).stdout))["Deployment"][0]
    assert other["spec"]["template"]["metadata"]["labels"]["app"] == "arl-operator"
    plain = manifest_objects("operator.yaml")["Deployment"][0]
    assert plain["spec"]["template"]["metadata"]["labels"]["app"] == "arl-operator"
    assert plain["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "arl-operator"}}


def test_samples_apply_with_plain_kubectl_and_use_the_manuals_names():
    samples = MANIFESTS / "samples"
    # kubectl apply -f <dir> sends every YAML file, so nothing but objects may live there.
    assert sorted(p.name for p in samples.iterdir()) == ["sandbox.yaml", "task.yaml", "warmpool.yaml"]
    docs = {d["kind"]: d for p in samples.glob("*.yaml") for d in objects(p.read_text())}
    assert docs["WarmPool"]["metadata"]["name"] == "python-3.9-std"
    assert docs["Sandbox"]["metadata"]["name"] == "my-agent-workspace"
    assert docs["Sandbox"]["spec"]["poolRef"] == "python-3.9-std"
    assert docs["Task"]["metadata"]["name"] == "my-task"
    assert docs["Task"]["spec"]["sandboxRef"] == "my-agent-workspace"
    # `kubectl get pods -l warmpool=python-3.9-std` (operations guide) finds the pool's pods.
    assert docs["WarmPool"]["spec"]["template"]["metadata"]["labels"]["warmpool"] == "python-3.9-std"


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


@pytest.mark.parametrize("install,keep", CRD_VALUES)
def test_server_side_dry_run_against_real_control_plane(helm, cluster, install, keep):
    kubeconfig = cluster
    kc = [str(KUBECTL), "--kubeconfig", kubeconfig]
    # Namespaced objects cannot be dry-run into a namespace that does not exist.
    subprocess.run(kc + ["create", "namespace", NAMESPACE], capture_output=True, text=True)
    rendered = render(helm, "--set", f"crds.install={install}", "--set", f"crds.keep={keep}")
    r = subprocess.run(kc + ["apply", "--dry-run=server", "-f", "-"], input=rendered, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    kinds = ["serviceaccount", "clusterrole", "clusterrolebinding", "role", "rolebinding", "deployment", "service",
             "networkpolicy"]
    for kind in kinds + (["customresourcedefinition"] if install == "true" else []):
        assert re.search(rf"^{kind}[./].*\(server dry run\)$", r.stdout, re.M), (kind, r.stdout)
    if install == "false":
        assert "customresourcedefinition" not in r.stdout


def test_helm_install_and_uninstall_on_real_control_plane(helm, cluster):
    kubeconfig = cluster
    import uuid
    release, ns = f"arl-t{uuid.uuid4().hex[:6]}", f"arl-t{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    # The command `make deploy` runs; no NetworkPolicy so it touches nothing outside ns, and no CRDs:
    # this cluster's come from kubectl (scripts/local-cluster.sh) and the other tests need them.
    # test_crds_lifecycle_on_a_private_control_plane installs and removes them.
    r = subprocess.run([str(helm), "upgrade", "--install", release, str(CHART), "-n", ns, "--create-namespace",
                        "--set", "networkPolicy.enabled=false", "--set", "crds.install=false"],
                       capture_output=True, text=True, env=env)
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


# The chart as released before the CRDs became templates (they lived in crds/, which Helm installs
# once and never owns), to check that `make deploy` upgrades a release of it.
PREVIOUS_CHART_COMMIT = "c5b932d"


@pytest.fixture
def private_control_plane(cluster, tmp_path_factory):
    """A control plane of this test's own (scripts/control-plane.sh): CRDs are cluster-wide, and
    installing and deleting them on the shared one would pull them from under the other tests."""
    state = tmp_path_factory.mktemp("cp")
    env = {**os.environ, "ARL_STATE": str(state)}
    script = ROOT / "scripts" / "control-plane.sh"
    r = subprocess.run([str(script), "up"], capture_output=True, text=True, env=env, timeout=180)
    try:
        assert r.returncode == 0, r.stderr[-2000:]
        yield str(state / "kubeconfig")
    finally:
        subprocess.run([str(script), "down"], capture_output=True, env=env, timeout=120)


def test_crds_lifecycle_on_a_private_control_plane_real_control_plane(helm, private_control_plane, tmp_path):
    kubeconfig = private_control_plane
    kc = [str(KUBECTL), "--kubeconfig", kubeconfig]
    env = {**os.environ, "KUBECONFIG": kubeconfig, "RELEASE": RELEASE, "NAMESPACE": NAMESPACE}
    # No node and no deployment controller here: a Deployment never reports progress, so no --wait
    # (the last --wait flag wins over make deploy's).
    quiet = "--set replicas=0 --set networkPolicy.enabled=false --wait=false"

    def make(target, helm_args=quiet):
        return subprocess.run(["make", "-s", "-C", str(ROOT), target], capture_output=True, text=True,
                              env={**env, "HELM_ARGS": helm_args}, timeout=400)

    def crd_meta():
        r = subprocess.run(kc + ["get", "crd", "-o", "json"], capture_output=True, text=True, check=True)
        return {c["metadata"]["name"]: c["metadata"] for c in json.loads(r.stdout)["items"]}

    if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", PREVIOUS_CHART_COMMIT],
                      capture_output=True).returncode != 0:
        pytest.skip(f"commit {PREVIOUS_CHART_COMMIT} (the previous chart) is not in this clone's history")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PREVIOUS_CHART_COMMIT, "charts/arl-operator"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive, check=True)
    old = subprocess.run([str(helm), "upgrade", "--install", RELEASE, str(tmp_path / "charts/arl-operator"),
                          "-n", NAMESPACE, "--create-namespace", *quiet.split()],
                         capture_output=True, text=True, env=env)
    assert old.returncode == 0, old.stderr
    assert sorted(crd_meta()) == CRD_NAMES
    subprocess.run(kc + ["apply", "-f", str(MANIFESTS / "samples" / "warmpool.yaml")], check=True, capture_output=True)

    # Upgrade to this chart: the old crds/ CRDs have no owner, so make deploy hands them to the release;
    # the Deployment's selector is the old one, so Helm can patch it.
    r = make("deploy")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "CRD warmpools.arl.infra.io exists without a Helm release: adopting it into release arl-operator" in r.stderr
    for name, meta in crd_meta().items():
        assert meta["annotations"]["meta.helm.sh/release-name"] == RELEASE, name
        assert meta["annotations"]["helm.sh/resource-policy"] == "keep", name
    dep = json.loads(subprocess.run(kc + ["-n", NAMESPACE, "get", "deployment", RELEASE, "-o", "json"],
                                    capture_output=True, text=True, check=True).stdout)
    assert dep["spec"]["template"]["metadata"]["labels"]["app"] == "arl-operator"

    # crds.keep (the default): the CRDs and the objects in them outlive the release.
    r = make("undeploy")
    assert r.returncode == 0, r.stdout + r.stderr
    assert subprocess.run([str(helm), "status", RELEASE, "-n", NAMESPACE], env=env, capture_output=True).returncode != 0
    assert sorted(crd_meta()) == CRD_NAMES
    got = subprocess.run(kc + ["get", "warmpool", "python-3.9-std", "-o", "name"], capture_output=True, text=True)
    assert got.stdout.strip() == "warmpool.arl.infra.io/python-3.9-std", got.stderr
    r = make("undeploy")
    assert r.returncode == 0 and "no release arl-operator in namespace arl-system: nothing to remove" in r.stderr

    # A new release adopts the kept CRDs; `helm upgrade --set crds.keep=false` then takes the policy
    # off, and uninstall removes them, as the operations guide's uninstall expects.
    r = make("deploy")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "adopting" not in r.stderr  # they name this release already
    r = make("deploy", quiet + " --set crds.keep=false")
    assert r.returncode == 0, r.stdout + r.stderr
    assert all("helm.sh/resource-policy" not in m["annotations"] for m in crd_meta().values())
    r = make("undeploy")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_until(lambda: crd_meta() == {}, "the CRDs deleted by helm uninstall with crds.keep=false")

    # Installed straight with crds.keep=false over CRDs a kept uninstall left: make deploy drops
    # their stale `keep`, which Helm's adoption would carry over.
    assert make("deploy").returncode == 0 and make("undeploy").returncode == 0
    assert all(m["annotations"]["helm.sh/resource-policy"] == "keep" for m in crd_meta().values())
    r = make("deploy", quiet + " --set crds.keep=false")
    assert r.returncode == 0, r.stdout + r.stderr
    assert ("CRD tasks.arl.infra.io: removing the helm.sh/resource-policy=keep an earlier release left "
            "(crds.keep=false)") in r.stderr
    assert make("undeploy").returncode == 0
    wait_until(lambda: crd_meta() == {}, "the CRDs deleted by helm uninstall with crds.keep=false")


def wait_until(check, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.5)
