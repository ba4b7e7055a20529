"""The CRDs, samples and RBAC manifests, checked by a real kube-apiserver."""
import json
import pathlib
import time

import pytest
import yaml

from arl_kubectl import api_get

MANIFESTS = pathlib.Path(__file__).resolve().parents[2] / "manifests"

OPERATOR = "system:serviceaccount:arl-system:arl-operator"


def task(steps, **spec):
    body = {"apiVersion": "arl.infra.io/v1alpha1", "kind": "Task", "metadata": {"name": "t1"},
            "spec": {"sandboxRef": "s1", **spec}}
    if steps is not None:
        body["spec"]["steps"] = steps
    return yaml.safe_dump(body)


def pool(replicas=1, template=None):
    if template is None:
        template = {"spec": {"containers": [{"name": "python", "image": "python:3.12-slim"}]}}
    return yaml.safe_dump({"apiVersion": "arl.infra.io/v1alpha1", "kind": "WarmPool", "metadata": {"name": "p1"},
                           "spec": {"replicas": replicas, "template": template}})


def sandbox(**spec):
    return yaml.safe_dump({"apiVersion": "arl.infra.io/v1alpha1", "kind": "Sandbox", "metadata": {"name": "s1"},
                           "spec": {"poolRef": "p1", **spec}})


ECHO = {"name": "run", "type": "Command", "command": ["echo", "hi"]}

# (id, manifest, text the API server's refusal must contain)
INVALID = [
    ("command-without-command", task([{"name": "run", "type": "Command"}]),
     "spec.steps[0]: Invalid value: \"object\": a Command step needs command"),
    ("command-with-empty-command", task([{"name": "run", "type": "Command", "command": []}]),
     "a Command step needs command"),
    ("filepatch-without-path", task([{"name": "w", "type": "FilePatch", "content": "x"}]),
     "spec.steps[0]: Invalid value: \"object\": a FilePatch step needs path"),
    ("path-on-command", task([{**ECHO, "path": "a.txt"}]), "path is only allowed in a FilePatch step"),
    ("background-on-filepatch", task([{"name": "w", "type": "FilePatch", "path": "a", "background": True}]),
     "background is only allowed in a Command step"),
    ("unknown-step-type", task([{"name": "run", "type": "Shell", "command": ["ls"]}]),
     "spec.steps[0].type: Unsupported value: \"Shell\": supported values: \"Command\", \"FilePatch\""),
    ("step-without-name", task([{"type": "Command", "command": ["ls"]}]), "spec.steps[0].name: Required value"),
    ("duplicate-step-names", task([ECHO, {"name": "w", "type": "FilePatch", "path": "a"}, ECHO]),
     "spec.steps: step names must be unique"),
    ("zero-steps", task([]), "spec.steps: at least one step is required"),
    ("missing-steps", task(None), "spec.steps: at least one step is required"),
    ("negative-retries", task([ECHO], retries=-1),
     "spec.retries: Invalid value: -1: spec.retries in body should be greater than or equal to 0"),
    ("negative-task-ttl", task([ECHO], ttlSecondsAfterFinished=-5),
     "spec.ttlSecondsAfterFinished in body should be greater than or equal to 0"),
    ("bad-timeout", task([ECHO], timeout="3x"), "spec.timeout: Invalid value: \"3x\": spec.timeout in body should match"),
    ("timeout-without-unit", task([ECHO], timeout="30"), "spec.timeout in body should match"),
    ("task-without-sandbox", yaml.safe_dump({"apiVersion": "arl.infra.io/v1alpha1", "kind": "Task",
                                            "metadata": {"name": "t1"}, "spec": {"steps": [ECHO]}}),
     "spec.sandboxRef: Required value"),
    ("negative-replicas", pool(replicas=-1),
     "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0"),
    ("pool-without-containers", pool(template={"metadata": {"labels": {"a": "b"}}, "spec": {}}),
     "spec.template: Invalid value: \"object\": spec.template.spec.containers: at least one container is required"),
    ("pool-empty-containers", pool(template={"spec": {"containers": []}}), "at least one container is required"),
    ("pool-container-without-image", pool(template={"spec": {"containers": [{"name": "c"}]}}),
     "every container needs an image"),
    ("pool-without-template", yaml.safe_dump({"apiVersion": "arl.infra.io/v1alpha1", "kind": "WarmPool",
                                              "metadata": {"name": "p1"}, "spec": {"replicas": 1}}),
     "spec.template: Required value"),
    ("sandbox-without-pool", yaml.safe_dump({"apiVersion": "arl.infra.io/v1alpha1", "kind": "Sandbox",
                                             "metadata": {"name": "s1"}, "spec": {"keepAlive": True}}),
     "spec.poolRef: Required value"),
    ("negative-sandbox-ttl", sandbox(ttlSecondsAfterFinished=-1),
     "spec.ttlSecondsAfterFinished: Invalid value: -1"),
]


@pytest.mark.parametrize("manifest,expected", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_api_server_refuses_invalid_object(kubectl, namespace, manifest, expected):
    kind = yaml.safe_load(manifest)["kind"].lower()
    p = kubectl.run("create", "-n", namespace, "-f", "-", input=manifest, check=False)
    assert p.returncode != 0, f"the API server accepted an invalid {kind}:\n{manifest}"
    assert expected in p.stderr, f"expected {expected!r} in the refusal, got:\n{p.stderr}"
    left = kubectl.run("get", kind, "-n", namespace, "-o", "name")
    assert left.stdout.strip() == ""


def test_crds_are_established_with_short_names_and_category(kubectl, crds):
    assert len(crds) == 3
    for name in crds:
        crd = json.loads(kubectl.run("get", "crd", name, "-o", "json").stdout)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", conditions
        assert conditions.get("NamesAccepted") == "True", conditions
        assert crd["spec"]["names"]["categories"] == ["arl"]
        version = crd["spec"]["versions"][0]
        assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    resources = kubectl.run("api-resources", "--api-group=arl.infra.io", "-o", "wide").stdout
    rows = {line.split()[0]: line.split() for line in resources.splitlines()[1:]}
    assert rows["warmpools"][1] == "wp"
    assert rows["sandboxes"][1] == "sbx"
    assert rows["tasks"][1] == "tk"
    for row in rows.values():
        assert "true" in row  # namespaced


def test_samples_are_accepted_by_dry_run_then_for_real(kubectl, namespace):
    samples = MANIFESTS / "samples"
    dry = kubectl.run("apply", "-n", namespace, "--dry-run=server", "-f", str(samples))
    assert "warmpool.arl.infra.io/python-3.9-std created (server dry run)" in dry.stdout
    assert kubectl.run("get", "arl", "-n", namespace, "-o", "name").stdout.strip() == ""
    kubectl.run("apply", "-n", namespace, "-f", str(samples))
    names = set(kubectl.run("get", "arl", "-n", namespace, "-o", "name").stdout.split())
    assert names == {"warmpool.arl.infra.io/python-3.9-std", "sandbox.arl.infra.io/my-agent-workspace",
                     "task.arl.infra.io/my-task"}
    t = json.loads(kubectl.run("get", "tk", "my-task", "-n", namespace, "-o", "json").stdout)
    assert [s["type"] for s in t["spec"]["steps"]] == ["FilePatch", "Command"]
    assert t["spec"]["retries"] == 0  # defaulted
    p = json.loads(kubectl.run("get", "wp", "python-3.9-std", "-n", namespace, "-o", "json").stdout)
    # The pod template is passed through whole, including fields the schema does not declare.
    assert p["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "512Mi"
    assert p["spec"]["template"]["metadata"]["labels"] == {"warmpool": "python-3.9-std"}


def test_defaults_are_filled_by_the_api_server(kubectl, namespace):
    kubectl.apply(sandbox(), "-n", namespace)
    kubectl.apply(task([ECHO]), "-n", namespace)
    s = json.loads(kubectl.run("get", "sbx", "s1", "-n", namespace, "-o", "json").stdout)
    t = json.loads(kubectl.run("get", "tk", "t1", "-n", namespace, "-o", "json").stdout)
    assert s["spec"]["keepAlive"] is False
    assert t["spec"]["timeout"] == "30s"
    assert t["spec"]["retries"] == 0


def test_valid_edge_cases_are_accepted(kubectl, namespace):
    kubectl.apply(task([{"name": "w", "type": "FilePatch", "path": "/etc/x", "content": ""},
                        {**ECHO, "env": {"A": "1"}, "workDir": "/tmp", "background": True}],
                       timeout="1h30m", retries=3, ttlSecondsAfterFinished=0), "-n", namespace)
    kubectl.apply(pool(replicas=0), "-n", namespace)
    t = json.loads(kubectl.run("get", "tk", "t1", "-n", namespace, "-o", "json").stdout)
    assert t["spec"]["steps"][1]["env"] == {"A": "1"}
    for timeout in ["250ms", "1.5s", "2m", "1h"]:
        kubectl.run("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=task([ECHO], timeout=timeout))


def test_sandbox_pool_ref_is_immutable(kubectl, namespace):
    kubectl.apply(sandbox(), "-n", namespace)
    p = kubectl.run("patch", "sbx", "s1", "-n", namespace, "--type=merge", "-p", '{"spec":{"poolRef":"other"}}',
                    check=False)
    assert p.returncode != 0
    assert "spec.poolRef is immutable" in p.stderr


def status_patch(kubectl, namespace, resource, name, status):
    kubectl.run("patch", resource, name, "-n", namespace, "--subresource=status", "--type=merge",
                "-p", json.dumps({"status": status}))


def table(kubectl, namespace, resource):
    lines = kubectl.run("get", resource, "-n", namespace).stdout.splitlines()
    return lines[0].split(), [line.split() for line in lines[1:]]


TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def printed_row(kubectl, namespace, plural, name):
    """One read in Table form with the object embedded: cells and object come from the same
    resourceVersion, so the check holds even while an operator rewrites status."""
    t = api_get(kubectl.kubeconfig, f"/apis/arl.infra.io/v1alpha1/namespaces/{namespace}/{plural}/{name}"
                                    "?includeObject=Object", accept=TABLE)
    columns = [c["name"] for c in t["columnDefinitions"]]
    (row,) = t["rows"]
    return dict(zip(columns, row["cells"])), row["object"]


def test_printer_columns_show_status(kubectl, namespace):
    kubectl.apply(pool(replicas=3), "-n", namespace)
    status_patch(kubectl, namespace, "wp", "p1", {"readyReplicas": 2, "allocatedReplicas": 1, "replicas": 3,
                                                  "phase": "Scaling"})
    header, rows = table(kubectl, namespace, "wp")
    assert header == ["NAME", "READY", "ALLOCATED", "PHASE", "AGE"]
    assert rows[0][0] == "p1"
    cells, obj = printed_row(kubectl, namespace, "warmpools", "p1")
    st = obj["status"]
    assert (cells["Ready"], cells["Allocated"], cells["Phase"], cells["Desired"]) == \
        (st["readyReplicas"], st["allocatedReplicas"], st["phase"], 3)

    kubectl.apply(sandbox(), "-n", namespace)
    status_patch(kubectl, namespace, "sbx", "s1", {"phase": "Ready", "podName": "p1-abcde", "podIP": "198.18.0.2"})
    header, rows = table(kubectl, namespace, "sbx")
    assert header == ["NAME", "PHASE", "POD", "POOL", "AGE"]
    assert rows[0][0] == "s1"
    cells, obj = printed_row(kubectl, namespace, "sandboxes", "s1")
    st = obj["status"]
    assert (cells["Phase"], cells["Pod"], cells["Pool"], cells["IP"]) == \
        (st["phase"], st.get("podName", ""), "p1", st.get("podIP", ""))

    kubectl.apply(task([ECHO]), "-n", namespace)
    status_patch(kubectl, namespace, "tk", "t1", {"state": "Succeeded", "exitCode": 0, "duration": "12ms",
                                                  "steps": [{"name": "run", "state": "Succeeded", "exitCode": 0,
                                                             "stdout": "hi\n"}]})
    header, rows = table(kubectl, namespace, "tk")
    assert header == ["NAME", "STATE", "EXIT", "SANDBOX", "DURATION", "AGE"]
    assert rows[0][0] == "t1"
    cells, obj = printed_row(kubectl, namespace, "tasks", "t1")
    st = obj["status"]
    assert (cells["State"], cells["Exit"], cells["Sandbox"], cells["Duration"]) == \
        (st["state"], st.get("exitCode"), "s1", st.get("duration"))


def test_status_is_a_subresource(kubectl, namespace):
    kubectl.apply(pool(replicas=1), "-n", namespace)
    # Each check reads the write's own answer, so an operator writing status meanwhile cannot
    # make it pass or fail.
    main = kubectl.run("patch", "wp", "p1", "-n", namespace, "--type=merge", "-o", "json",
                       "-p", '{"status":{"phase":"Injected"}}')
    assert json.loads(main.stdout).get("status", {}).get("phase") != "Injected"
    st = kubectl.run("patch", "wp", "p1", "-n", namespace, "--subresource=status", "--type=merge", "-o", "json",
                     "-p", '{"spec":{"replicas":7},"status":{"phase":"Pending"}}')
    obj = json.loads(st.stdout)
    assert obj["spec"]["replicas"] == 1
    assert obj["status"]["phase"] == "Pending"


def test_full_deployment_manifests_pass_server_validation(kubectl, crds, rbac):
    # rbac applied the namespace: a dry run cannot create it for the namespaced objects after it.
    p = kubectl.run("apply", "--dry-run=server", "-k", str(MANIFESTS))
    for line in ["namespace/arl-system", "serviceaccount/arl-operator", "clusterrole.rbac.authorization.k8s.io/arl-operator",
                 "deployment.apps/arl-operator", "networkpolicy.networking.k8s.io/arl-sandbox-ingress"]:
        assert line in p.stdout, p.stdout


def test_operator_deployment_runs_the_operator_hardened():
    docs = list(yaml.safe_load_all((MANIFESTS / "operator.yaml").read_text()))
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert pod["serviceAccountName"] == "arl-operator"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["args"][0] == "operator"
    assert f"--image={c['image']}" in c["args"], "the init container must copy arl from the operator's own image"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["securityContext"]["allowPrivilegeEscalation"] is False


# (verb, resource[/subresource], where, allowed): where is a namespace or "*" for cluster-wide.
PERMISSIONS = [
    ("patch", "pods", "default", True),
    ("create", "pods", "team-a", True),
    ("delete", "pods", "*", True),
    ("watch", "warmpools.arl.infra.io", "*", True),
    ("update", "tasks.arl.infra.io/status", "default", True),
    ("patch", "sandboxes.arl.infra.io/status", "team-a", True),
    ("delete", "tasks.arl.infra.io", "default", True),
    ("create", "secrets", "default", True),
    # A pool's token Secret outlives the pool; the operator deletes it once unused (rbac-pool-secrets.yaml).
    ("delete", "secrets", "default", True),
    ("patch", "secrets", "team-a", True),
    ("create", "events", "default", True),
    ("update", "leases.coordination.k8s.io", "arl-system", True),
    # A sandbox's spec.env names Secrets and ConfigMaps it reads by name (rbac-sandbox-env.yaml).
    ("get", "configmaps", "*", True),
    ("get", "secrets", "team-a", True),
    # Least privilege: nothing it does not need.
    ("update", "leases.coordination.k8s.io", "default", False),
    ("delete", "nodes", "*", False),
    ("list", "configmaps", "default", False),
    ("watch", "configmaps", "*", False),
    ("update", "secrets", "default", False),
    ("create", "tasks.arl.infra.io", "default", False),
    ("create", "pods/exec", "default", False),
    ("update", "pods/status", "default", False),
    ("create", "deployments.apps", "default", False),
    ("update", "customresourcedefinitions.apiextensions.k8s.io", "*", False),
    ("escalate", "clusterroles.rbac.authorization.k8s.io", "*", False),
]


@pytest.mark.parametrize("verb,resource,where,allowed", PERMISSIONS,
                         ids=[f"{'can' if a else 'cannot'}-{v}-{r}-{w}" for v, r, w, a in PERMISSIONS])
def test_operator_rbac_is_least_privilege(kubectl, crds, rbac, verb, resource, where, allowed):
    scope = ["--all-namespaces"] if where == "*" else ["-n", where]
    resource, _, sub = resource.partition("/")
    if sub:
        scope.append(f"--subresource={sub}")
    p = kubectl.run("auth", "can-i", verb, resource, *scope, f"--as={OPERATOR}", check=False)
    answer = p.stdout.strip()
    assert answer == ("yes" if allowed else "no"), f"can-i {verb} {resource} {sub} in {where}: {answer} {p.stderr}"


def test_operator_identity_can_really_write_status(kubectl, namespace, rbac):
    """can-i is the authorizer's word; this drives a real request as the operator's identity."""
    kubectl.apply(pool(replicas=1), "-n", namespace)
    kubectl.run("patch", "wp", "p1", "-n", namespace, "--subresource=status", "--type=merge",
                "-p", '{"status":{"readyReplicas":1}}', f"--as={OPERATOR}")
    p = kubectl.run("delete", "namespace", namespace, f"--as={OPERATOR}", "--wait=false", check=False)
    assert p.returncode != 0 and "forbidden" in p.stderr.lower()


def test_network_policy_admits_only_the_operator_on_8080():
    (np,) = yaml.safe_load_all((MANIFESTS / "networkpolicy.yaml").read_text())
    spec = np["spec"]
    assert spec["podSelector"]["matchExpressions"] == [{"key": "arl.infra.io/warmpool", "operator": "Exists"}]
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8080}]
    (peer,) = rule["from"]
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "arl-operator"}
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "arl-system"}
    op = yaml.safe_load_all((MANIFESTS / "operator.yaml").read_text())
    labels = next(op)["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "arl-operator", "the policy's peer must match the operator's pods"


def test_kustomization_lists_every_manifest():
    k = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    on_disk = {str(p.relative_to(MANIFESTS)) for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml"}
    on_disk |= {str(p.relative_to(MANIFESTS)) for p in (MANIFESTS / "crds").glob("*.yaml")}
    assert set(k["resources"]) == on_disk
    # samples/ is applied with `kubectl apply -f`, which would send a kustomization as an object.
    assert not (MANIFESTS / "samples" / "kustomization.yaml").exists()


def test_deleting_a_pool_garbage_collects_its_pods(kubectl, namespace):
    """kube-controller-manager runs the garbage collector: ownerReferences cascade as in a cluster."""
    kubectl.apply(pool(replicas=1), "-n", namespace)
    uid = kubectl.run("get", "wp", "p1", "-n", namespace, "-o", "jsonpath={.metadata.uid}").stdout
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p1-abcde", "labels": {"arl.infra.io/warmpool": "p1"},
                        "ownerReferences": [{"apiVersion": "arl.infra.io/v1alpha1", "kind": "WarmPool", "name": "p1",
                                             "uid": uid, "controller": True, "blockOwnerDeletion": True}]},
           "spec": {"containers": [{"name": "python", "image": "python:3.12-slim"}]}}
    kubectl.run("create", "-n", namespace, "-f", "-", input=json.dumps(pod))
    kubectl.run("delete", "wp", "p1", "-n", namespace, "--wait=false")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        left = kubectl.run("get", "pods", "-n", namespace, "-o", "name").stdout.strip()
        if not left:
            return
        time.sleep(0.5)
    pytest.fail(f"pod owned by a deleted WarmPool still exists after 90s: {left}")
