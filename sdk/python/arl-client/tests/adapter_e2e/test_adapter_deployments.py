"""Deployments through the KubernetesAdapter on the local cluster's real
deployment and replicaset controllers: apply, scale, restart, roll back."""
import copy

import yaml
from kubernetes import client as k

from conftest import deployment, eventually, live_pods, run

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {tier: front}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "busybox:1.36", command: [sh, -c, "echo serving; sleep infinity"], ports: [{containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


def image_of(api, namespace, name):
    return k.AppsV1Api(api).read_namespaced_deployment(name, namespace).spec.template.spec.containers[0].image


def test_apply_deployment_and_service_reports_each_object_and_is_idempotent(adapter, api, namespace):
    dry = run(adapter.apply_manifest(WEB, namespace=namespace, dry_run=True))
    assert dry["status"] == "success", dry
    assert [(a["kind"], a["action"]) for a in dry["applied"]] == [("Deployment", "created"), ("Service", "created")]
    assert k.AppsV1Api(api).list_namespaced_deployment(namespace).items == []  # a dry run writes nothing

    first = run(adapter.apply_manifest(WEB, namespace=namespace))
    assert first["status"] == "success", first
    assert [(a["kind"], a["name"], a["namespace"], a["action"]) for a in first["applied"]] == [
        ("Deployment", "web", namespace, "created"), ("Service", "web", namespace, "created")]
    ready = run(adapter.wait_for_deployment_ready("web", timeout=60, namespace=namespace))
    assert ready["status"] == "success", ready
    assert ready["replicas"]["ready"] == 1 and ready["replicas"]["available"] == 1

    again = run(adapter.apply_manifest(WEB, namespace=namespace))
    assert [a["action"] for a in again["applied"]] == ["unchanged", "unchanged"], again

    changed = WEB.replace("tier: front", "tier: back")
    preview = run(adapter.apply_manifest(changed, namespace=namespace, dry_run=True))
    assert [a["action"] for a in preview["applied"]] == ["configured", "unchanged"], preview
    assert k.AppsV1Api(api).read_namespaced_deployment("web", namespace).metadata.labels == {"tier": "front"}

    svc = run(adapter.get_resource_status("svc", "web", namespace=namespace))
    assert svc["status"] == "success" and svc["kind"] == "Service", svc
    assert svc["spec"]["ports"][0]["port"] == 80
    managers = {m.manager for m in k.AppsV1Api(api).read_namespaced_deployment("web", namespace).metadata.managed_fields}
    assert "arl-adapter" in managers


def test_apply_accepts_crds_and_our_own_kinds(adapter, api, namespace):
    group = f"t{namespace.split('-')[1]}.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"widgets.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    try:
        r = run(adapter.apply_manifest(crd))
        assert r["status"] == "success" and r["applied"][0]["namespace"] is None, r
        widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}}
        # The CRD takes a moment to be served: the adapter says so as a result, not an exception.
        applied = eventually(lambda: (lambda res: res if res["status"] == "success" else None)(
            run(adapter.apply_manifest(widget, namespace=namespace))), what="Widget applied")
        assert applied["applied"][0]["action"] == "created"
        got = run(adapter.get_resource_status("widget", "w1", namespace=namespace))
        assert got["status"] == "success" and got["spec"] == {"size": 3}, got

        pool = {"apiVersion": "arl.infra.io/v1alpha1", "kind": "WarmPool", "metadata": {"name": "p0"},
                "spec": {"replicas": 0, "template": {"spec": {"containers": [{"name": "main", "image": "busybox"}]}}}}
        r = run(adapter.apply_manifest(pool, namespace=namespace, dry_run=True))
        assert r["status"] == "success" and r["applied"][0]["action"] == "created", r
    finally:
        k.ApiextensionsV1Api(api).delete_custom_resource_definition(f"widgets.{group}")


def test_scale_1_to_3_to_1_waits_for_readiness(adapter, api, namespace):
    assert run(adapter.apply_manifest(deployment("app"), namespace=namespace))["status"] == "success"
    up = run(adapter.scale_deployment("app", 3, namespace=namespace, timeout=60))
    assert up["status"] == "success", up
    assert up["previous_replicas"] == 1
    assert up["replicas"] == {"desired": 3, "current": 3, "updated": 3, "ready": 3, "available": 3, "unavailable": 0}
    # Ready means Ready: the pods themselves say so when the call returns.
    pods = live_pods(api, namespace, "app=app")
    assert len(pods) == 3
    assert all(any(c.type == "Ready" and c.status == "True" for c in p.status.conditions) for p in pods)

    down = run(adapter.scale_deployment("app", 1, namespace=namespace, timeout=60))
    assert down["status"] == "success", down
    assert down["previous_replicas"] == 3
    assert down["replicas"]["desired"] == 1 and down["replicas"]["current"] == 1 and down["replicas"]["ready"] == 1
    eventually(lambda: len(k.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="app=app").items) == 1,
               what="scaled-down pods gone")

    dry = run(adapter.scale_deployment("app", 5, namespace=namespace, dry_run=True))
    assert dry["status"] == "success" and dry["dry_run"] is True, dry
    assert k.AppsV1Api(api).read_namespaced_deployment("app", namespace).spec.replicas == 1


def test_rolling_restart_makes_a_new_replicaset_and_old_pods_go(adapter, api, namespace):
    assert run(adapter.apply_manifest(deployment("app", replicas=2), namespace=namespace))["status"] == "success"
    assert run(adapter.wait_for_deployment_ready("app", timeout=60, namespace=namespace))["status"] == "success"
    old_pods = {p.metadata.name for p in live_pods(api, namespace, "app=app")}
    old_rs = {rs.metadata.name for rs in k.AppsV1Api(api).list_namespaced_replica_set(namespace).items}

    r = run(adapter.restart_pod(deployment_name="app", namespace=namespace, timeout=60))
    assert r["status"] == "success", r
    assert r["previous_revision"] == 1 and r["revision"] == 2
    assert r["new_replica_set"] not in old_rs
    now = {p.metadata.name for p in k.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="app=app").items}
    assert len(now) == 2 and not (now & old_pods), (now, old_pods)  # old pods are gone, not just terminating
    assert sorted(now) == r["pods"]
    tmpl = k.AppsV1Api(api).read_namespaced_deployment("app", namespace).spec.template
    assert tmpl.metadata.annotations["kubectl.kubernetes.io/restartedAt"] == r["restarted_at"]


def test_restart_pod_by_name_waits_for_its_replacement(adapter, api, namespace):
    assert run(adapter.apply_manifest(deployment("app"), namespace=namespace))["status"] == "success"
    assert run(adapter.wait_for_deployment_ready("app", timeout=60, namespace=namespace))["status"] == "success"
    [pod] = live_pods(api, namespace, "app=app")
    r = run(adapter.restart_pod(pod_name=pod.metadata.name, namespace=namespace, timeout=60))
    assert r["status"] == "success", r
    assert r["owner"].startswith("ReplicaSet/app-") and r["replacement"] != pod.metadata.name
    [new] = live_pods(api, namespace, "app=app")
    assert new.metadata.name == r["replacement"]

    k.CoreV1Api(api).create_namespaced_pod(namespace, {"metadata": {"name": "lonely"}, "spec": {
        "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "infinity"]}]}})
    r = run(adapter.restart_pod(pod_name="lonely", namespace=namespace, timeout=30))
    assert r["status"] == "success" and r["owner"] is None and r["replacement"] is None, r
    assert "had no owner" in r["message"]


def test_image_changes_then_rollback_to_previous_and_to_a_revision(adapter, api, namespace):
    d = deployment("app")
    for tag in ("1.0", "2.0", "3.0"):
        d = copy.deepcopy(d)
        d["spec"]["template"]["spec"]["containers"][0]["image"] = f"busybox:{tag}"
        assert run(adapter.apply_manifest(d, namespace=namespace))["status"] == "success"
        r = run(adapter.wait_for_rollout_complete("app", timeout=60, namespace=namespace))
        assert r["status"] == "success", r
    assert r["revision"] == 3 and image_of(api, namespace, "app") == "busybox:3.0"

    dry = run(adapter.rollback_deployment("app", namespace=namespace, dry_run=True))
    assert dry["status"] == "success" and dry["to_revision"] == 2, dry
    assert image_of(api, namespace, "app") == "busybox:3.0"

    back = run(adapter.rollback_deployment("app", namespace=namespace, timeout=60))
    assert back["status"] == "success", back
    assert (back["from_revision"], back["to_revision"], back["revision"]) == (3, 2, 4)
    assert image_of(api, namespace, "app") == "busybox:2.0"

    first = run(adapter.rollback_deployment("app", revision="1", namespace=namespace, timeout=60))
    assert first["status"] == "success", first
    assert (first["from_revision"], first["to_revision"], first["revision"]) == (4, 1, 5)
    assert image_of(api, namespace, "app") == "busybox:1.0"
    pods = live_pods(api, namespace, "app=app")
    eventually(lambda: [p.spec.containers[0].image for p in live_pods(api, namespace, "app=app")] == ["busybox:1.0"],
               what="only the rolled-back pod left")

    missing = run(adapter.rollback_deployment("app", revision=99, namespace=namespace))
    assert missing["status"] == "error" and missing["reason"] == "RevisionNotFound", missing
    assert "unable to find specified revision 99" in missing["message"]
    assert pods
