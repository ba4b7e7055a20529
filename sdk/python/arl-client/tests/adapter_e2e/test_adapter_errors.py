"""What goes wrong comes back as a result an agent can read: the API
server's reason and code, or what a wait was still missing."""
import pytest

from arl_client import KubernetesAdapter, KubernetesAdapterSync

from conftest import deployment, job, run


def test_not_found_is_an_error_result(adapter, namespace):
    for call in (adapter.scale_deployment("nope", 2, namespace=namespace, timeout=5),
                 adapter.rollback_deployment("nope", namespace=namespace),
                 adapter.get_job_logs("nope", namespace=namespace),
                 adapter.restart_pod(pod_name="nope", namespace=namespace)):
        r = run(call)
        assert (r["status"], r["reason"], r["code"]) == ("error", "NotFound", 404), r
        assert '"nope" not found' in r["message"]
    r = run(adapter.get_resource_status("frobnicators", "x", namespace=namespace))
    assert r["status"] == "error" and r["reason"] == "NotFound" and "no such kind" in r["message"], r


def test_invalid_manifest_is_an_error_result_with_causes(adapter, namespace):
    bad = deployment("bad")
    bad["spec"]["selector"]["matchLabels"] = {"app": "other"}  # does not select its own template
    r = run(adapter.apply_manifest(bad, namespace=namespace))
    assert (r["status"], r["reason"], r["code"]) == ("error", "Invalid", 422), r
    assert "does not match template" in r["message"]
    assert any(c.get("field") == "spec.template.metadata.labels" for c in r["causes"]), r


def test_forbidden_outside_the_role_namespace(namespace, namespace_only_kubeconfig):
    agent = KubernetesAdapter(kubeconfig_path=namespace_only_kubeconfig, namespace=namespace)
    try:
        ok = run(agent.apply_manifest(deployment("mine")))
        assert ok["status"] == "success", ok
        r = run(agent.apply_manifest(deployment("theirs"), namespace="default"))
        assert (r["status"], r["reason"], r["code"]) == ("error", "Forbidden", 403), r
        assert "cannot get resource" in r["message"] or "cannot patch resource" in r["message"], r
        r = run(agent.get_resource_status("namespaces", "default"))
        assert (r["status"], r["reason"], r["code"]) == ("error", "Forbidden", 403), r
    finally:
        agent.close()


def test_timeouts_say_what_was_missing(adapter, namespace):
    # No command: the local node cannot run the image's entrypoint, so the pod never gets ready.
    assert run(adapter.apply_manifest(deployment("stuck", command=None), namespace=namespace))["status"] == "success"
    r = run(adapter.scale_deployment("stuck", 2, namespace=namespace, timeout=2))
    assert (r["status"], r["reason"]) == ("error", "Timeout"), r
    assert "0 of 2 updated replicas are available" in r["missing"], r
    assert 2 <= r["elapsed"] < 10
    assert r["replicas"]["desired"] == 2 and r["replicas"]["ready"] == 0

    assert run(adapter.run_job(job("slow", "sleep 30"), namespace=namespace, wait_for_completion=False))["status"] \
        == "success"
    w = run(adapter.wait_for_job_completion("slow", timeout=1, namespace=namespace))
    assert (w["status"], w["reason"]) == ("error", "Timeout"), w
    assert w["missing"].startswith("job not finished"), w


def test_programming_errors_raise_value_error(adapter):
    with pytest.raises(ValueError, match="exactly one of pod_name or deployment_name"):
        run(adapter.restart_pod())
    with pytest.raises(ValueError, match="kind is required"):
        run(adapter.apply_manifest({"apiVersion": "v1", "metadata": {"name": "x"}}))
    with pytest.raises(ValueError, match="kind must be Job"):
        run(adapter.run_job(deployment("x")))
    with pytest.raises(ValueError, match="replicas"):
        run(adapter.scale_deployment("x", -1))


def test_sync_twin_has_the_same_methods(kubeconfig, namespace):
    with KubernetesAdapterSync(kubeconfig_path=kubeconfig, namespace=namespace) as sync:
        r = sync.apply_manifest(deployment("app"))
        assert r["status"] == "success", r
        assert sync.scale_deployment("app", 2, timeout=60)["replicas"]["ready"] == 2
        assert sync.run_job(job("j", "echo sync"), timeout=60)["logs"] == "sync\n"
        assert sync.get_resource_status("deployment", "app")["ready"] is True
        with pytest.raises(ValueError):
            sync.restart_pod()


def test_execute_command_is_a_structured_local_subprocess(adapter):
    r = run(adapter.execute_command(["sh", "-c", "echo out; echo err >&2"]))
    assert (r["status"], r["returncode"], r["stdout"], r["stderr"]) == ("success", 0, "out\n", "err\n"), r
    r = run(adapter.execute_command("exit 3"))
    assert (r["status"], r["reason"], r["returncode"]) == ("error", "NonZeroExit", 3), r
    r = run(adapter.execute_command(["sleep", "5"], timeout=0.5))
    assert (r["status"], r["reason"]) == ("error", "Timeout") and r["elapsed"] < 3, r
    r = run(adapter.execute_command(["/nonexistent/tool"]))
    assert (r["status"], r["reason"]) == ("error", "NotFound"), r
