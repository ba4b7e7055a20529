"""KubernetesAdapter over a fake backend: result dicts, exact writes, errors
as results, ValueError for the caller's mistakes, one log line per call, and
many calls at once on a bounded pool."""
import asyncio
import logging
import threading
import time

import pytest

from arl_client import KubernetesAdapter, KubernetesAdapterSync
from arl_client import k8s_adapter_rollout as ro

from fake_k8s_backend import FakeBackend, api_error


def deployment(name="web", replicas=1):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"image": "a"}]}}}}


def roll_out(backend):
    """A deployment controller that finishes every rollout at once."""
    def react(verb, obj):
        if obj["kind"] != "Deployment" or verb == "delete":
            return
        n = obj["spec"]["replicas"]
        status = {"observedGeneration": obj["metadata"].get("generation", 0), "replicas": n, "updatedReplicas": n,
                  "readyReplicas": n, "availableReplicas": n}
        if obj.get("status") != status:
            backend.put({**obj, "status": status})
    backend.reactors.append(react)


@pytest.fixture
def backend():
    return FakeBackend()


@pytest.fixture
def adapter(backend):
    a = KubernetesAdapter(namespace="ns", backend=backend, max_workers=4)
    yield a
    a.close()


def run(coro):
    return asyncio.run(coro)


def test_apply_reports_created_then_unchanged_with_exact_writes(adapter, backend):
    r = run(adapter.apply_manifest([deployment(), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}]))
    assert r["status"] == "success" and r["message"] == "deployment/web created, namespace/x created"
    assert [(a["kind"], a["namespace"], a["action"]) for a in r["applied"]] == [
        ("Deployment", "ns", "created"), ("Namespace", None, "created")]
    assert backend.writes == [("apply", "Deployment", "web"), ("apply", "Namespace", "x")]
    again = run(adapter.apply_manifest(deployment(), namespace="ns"))
    assert again["applied"][0]["action"] == "unchanged"
    assert isinstance(again["elapsed"], float)


def test_dry_run_writes_nothing(adapter, backend):
    r = run(adapter.apply_manifest(deployment(), dry_run=True))
    assert r["applied"][0]["action"] == "created" and r["dry_run"] is True
    assert backend.writes == [("apply dry-run", "Deployment", "web")] and backend.objects == {}


def test_namespace_override_beats_the_manifests_own(adapter, backend):
    d = deployment()
    d["metadata"]["namespace"] = "theirs"
    assert run(adapter.apply_manifest(d))["applied"][0]["namespace"] == "theirs"
    assert run(adapter.apply_manifest(d, namespace="mine"))["applied"][0]["namespace"] == "mine"


def test_api_errors_come_back_as_results_with_reason_and_code(adapter, backend):
    backend.fail[("apply", "web")] = api_error(403, "Forbidden", 'deployments.apps "web" is forbidden: User "a" '
                                                                 'cannot patch resource')
    r = run(adapter.apply_manifest(deployment()))
    assert (r["status"], r["reason"], r["code"]) == ("error", "Forbidden", 403)
    assert r["message"] == 'apply Deployment/web: deployments.apps "web" is forbidden: User "a" cannot patch resource'
    r = run(adapter.scale_deployment("missing", 2))
    assert (r["status"], r["reason"], r["code"]) == ("error", "NotFound", 404)
    r = run(adapter.get_resource_status("gizmo", "x"))
    assert (r["status"], r["reason"], r["code"]) == ("error", "NotFound", None)


def test_an_unreachable_server_is_an_error_result(adapter, backend):
    backend.fail[("get", "web")] = ConnectionRefusedError(111, "Connection refused")
    r = run(adapter.scale_deployment("web", 2))
    assert (r["status"], r["reason"], r["code"]) == ("error", "Unavailable", None)
    assert "cannot reach the API server" in r["message"]


def test_an_unexpected_failure_is_a_result_too(adapter, backend):
    backend.fail[("get", "web")] = KeyError("spec")
    r = run(adapter.scale_deployment("web", 2))
    assert (r["status"], r["reason"], r["code"]) == ("error", "AdapterError", None)
    assert r["message"] == "scale Deployment/ns/web: the adapter failed: KeyError: 'spec'"


def test_scale_patches_replicas_and_waits_for_the_rollout(adapter, backend):
    roll_out(backend)
    run(adapter.apply_manifest(deployment()))
    backend.writes.clear()
    r = run(adapter.scale_deployment("web", 3, timeout=5))
    assert r["status"] == "success", r
    assert r["replicas"] == {"desired": 3, "current": 3, "updated": 3, "ready": 3, "available": 3, "unavailable": 0}
    assert r["previous_replicas"] == 1
    assert backend.writes == [("patch", "Deployment", "web")]


def test_scale_timeout_says_what_is_missing(adapter, backend):
    backend.put({**deployment(), "metadata": {"name": "web", "namespace": "ns", "generation": 1},
                 "status": {"observedGeneration": 1}}, "ADDED")
    r = run(adapter.scale_deployment("web", 2, timeout=0.3))
    assert (r["status"], r["reason"]) == ("error", "Timeout"), r
    assert r["missing"] == 'Waiting for deployment "web" rollout to finish: 0 out of 2 new replicas have been updated'
    assert r["message"].startswith("scale deployment ns/web to 2: timed out after ")


def test_restart_pod_without_owner_is_deleted_and_reported(adapter, backend):
    backend.put({"kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}}, "ADDED")
    r = run(adapter.restart_pod(pod_name="p"))
    assert r["status"] == "success" and r["owner"] is None and r["replacement"] is None
    assert r["message"] == "pod ns/p deleted; it had no owner, so nothing replaces it"
    assert backend.writes == [("delete", "Pod", "p")]


def test_rollback_writes_one_json_patch(adapter, backend):
    roll_out(backend)
    d = deployment()
    d["metadata"].update(namespace="ns", uid="d1", annotations={ro.REVISION: "2"}, generation=1)
    backend.put(d, "ADDED")
    for rev, image in ((1, "old"), (2, "a")):
        backend.put({"kind": "ReplicaSet", "metadata": {
            "name": f"web-{rev}", "namespace": "ns", "annotations": {ro.REVISION: str(rev)},
            "ownerReferences": [{"uid": "d1", "controller": True}]},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": image}]}}}},
            "ADDED")
    r = run(adapter.rollback_deployment("web", timeout=5))
    assert r["status"] == "success", r
    assert (r["from_revision"], r["to_revision"]) == (2, 1)
    assert backend.writes == [("patch", "Deployment", "web")]
    assert backend.objects[("Deployment", "ns", "web")]["spec"]["template"]["spec"]["containers"][0]["image"] == "old"


def test_job_failure_and_logs(adapter, backend):
    def job_controller(verb, obj):
        if obj["kind"] == "Job" and verb == "create":
            backend.put({"kind": "Pod", "metadata": {
                "name": "j-pod", "namespace": "ns", "labels": {"batch.kubernetes.io/controller-uid": obj["metadata"]["uid"]},
                "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"containers": [{"name": "main"}]},
                "status": {"phase": "Failed", "containerStatuses": [
                    {"name": "main", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}}, "ADDED")
            backend.put({**obj, "status": {"failed": 1, "startTime": "2026-01-01T00:00:00Z", "conditions": [
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit"}]}})
    backend.reactors.append(job_controller)
    backend.logs["j-pod"] = "about to fail\n"
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {}}
    r = run(adapter.run_job(job, timeout=5))
    assert (r["status"], r["reason"], r["failed"], r["logs"]) == ("error", "BackoffLimitExceeded", 1, "about to fail\n")
    assert r["failure_reasons"] == ["BackoffLimitExceeded: Job has reached the specified backoff limit",
                                    "pod j-pod container main: exit code 1 (Error)"]
    assert backend.writes == [("create", "Job", "j")]


@pytest.mark.parametrize("call, message", [
    (lambda a: a.restart_pod(), "restart_pod: give exactly one of pod_name or deployment_name"),
    (lambda a: a.restart_pod(pod_name="p", deployment_name="d"), "restart_pod: give exactly one"),
    (lambda a: a.apply_manifest({"apiVersion": "v1", "metadata": {"name": "x"}}), "kind is required"),
    (lambda a: a.run_job({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}), "kind must be Job"),
    (lambda a: a.scale_deployment("web", "3"), "replicas: expected an integer >= 0"),
    (lambda a: a.rollback_deployment("web", revision="latest"), "revision: expected a revision number"),
    (lambda a: a.wait_for_job_completion("j", timeout=0), "timeout: expected a positive number"),
    (lambda a: a.execute_command([]), "command: expected a non-empty list"),
])
def test_programming_errors_raise_value_error(adapter, backend, call, message):
    with pytest.raises(ValueError, match=message):
        run(call(adapter))
    assert backend.writes == []


def test_one_structured_log_line_per_operation(adapter, backend, caplog):
    caplog.set_level(logging.INFO, logger="arl_client.k8s_adapter")
    run(adapter.apply_manifest(deployment()))
    run(adapter.scale_deployment("missing", 1))
    lines = [r for r in caplog.records if r.name == "arl_client.k8s_adapter"]
    assert len(lines) == 2
    assert lines[0].k8s_adapter["action"] == "apply" and lines[0].k8s_adapter["outcome"] == "success"
    assert lines[0].getMessage().startswith("k8s_adapter action=apply object=Deployment/web outcome=success duration_ms=")
    assert lines[1].levelno == logging.WARNING
    assert "action=scale object=Deployment/ns/missing outcome=error reason=NotFound" in lines[1].getMessage()


def test_fifty_calls_at_once_run_on_a_bounded_pool(backend):
    in_flight, peak = [0], [0]
    lock = threading.Lock()
    real_get = backend.get

    def slow_get(*args):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.02)
        with lock:
            in_flight[0] -= 1
        return real_get(*args)

    backend.get = slow_get
    backend.put({**deployment(), "metadata": {"name": "web", "namespace": "ns"}}, "ADDED")
    a = KubernetesAdapter(namespace="ns", backend=backend, max_workers=4)

    async def main():
        return await asyncio.gather(*[a.get_resource_status("deploy", "web") for _ in range(50)])

    results = run(main())
    a.close()
    assert len(results) == 50 and all(r["status"] == "success" for r in results)
    assert peak[0] == 4  # never more threads than the pool has


def test_sync_twin_has_the_same_methods_and_results(backend):
    roll_out(backend)
    with KubernetesAdapterSync(namespace="ns", backend=backend) as s:
        assert s.apply_manifest(deployment())["applied"][0]["action"] == "created"
        assert s.scale_deployment("web", 2, timeout=5)["replicas"]["ready"] == 2
        with pytest.raises(ValueError):
            s.restart_pod()
    for name in ("apply_manifest", "scale_deployment", "restart_pod", "run_job", "rollback_deployment",
                 "wait_for_deployment_ready", "wait_for_rollout_complete", "wait_for_job_completion",
                 "get_resource_status", "get_job_logs", "execute_command"):
        assert getattr(KubernetesAdapterSync, name).__doc__ == getattr(KubernetesAdapter, name).__doc__


def test_real_backend_with_an_unreachable_server_constructs_and_answers_unavailable(tmp_path):
    import yaml
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "x",
           "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
           "users": [{"name": "u", "user": {"token": "t"}}],
           "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    a = KubernetesAdapter(str(path))  # no request yet: nothing to fail
    try:
        r = run(a.get_resource_status("deploy", "web"))
        assert (r["status"], r["reason"], r["code"]) == ("error", "Unavailable", None), r
        assert "cannot reach the API server" in r["message"]
    finally:
        a.close()
