"""Issue 15, per-sandbox configuration without losing the warm pod: Sandbox.spec.env (literal,
from a Secret, from a ConfigMap) and spec.workingDir reach every command in the sandbox through
the sidecar's bind (docs/design.md "Per-sandbox settings"), never its status, events or the
operator's log; a missing Secret fails the sandbox before any pod is claimed."""
import base64
import os
import subprocess
import uuid
from pathlib import Path

from kubernetes import client

from op_cluster import GROUP, VERSION, _ready
from test_controllers_e2e import operator_log

ROOT = Path(__file__).resolve().parents[3]


def arl_exec(ns, sandbox, *argv, env=()):
    """`kubectl arl sandbox exec` as a user types it; returns (exit code, stdout, stderr)."""
    binary = os.environ.get("ARL_BIN") or str(ROOT / "build" / "arl")
    flags = [a for kv in env for a in ("--env", kv)]
    p = subprocess.run([binary, "kubectl", "sandbox", "exec", sandbox, "-n", ns, *flags, "--", *argv],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "KUBECONFIG": os.environ["ARL_E2E_KUBECONFIG"]})
    return p.returncode, p.stdout, p.stderr


def sandbox_with(cluster, ns, name, env, working_dir=None):
    spec = {"poolRef": "py", "keepAlive": True, "env": env}
    if working_dir:
        spec["workingDir"] = working_dir
    return cluster.create(ns, "sandboxes", {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Sandbox",
                                            "metadata": {"name": name}, "spec": spec})


def events_of(cluster, ns, name):
    return [e for e in cluster.core.list_namespaced_event(ns).items if e.involved_object.name == name]


def test_env_from_literal_secret_and_configmap_reaches_tasks_and_exec(cluster, ns):
    secret_value = f"s3cret-{uuid.uuid4().hex}"
    cluster.core.create_namespaced_secret(ns, client.V1Secret(
        metadata=client.V1ObjectMeta(name="creds"), data={"api-key": base64.b64encode(secret_value.encode()).decode()}))
    cluster.core.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="cfg"), data={"seed": "42"}))
    cluster.ready_pool(ns, "py", 2)
    sandbox_with(cluster, ns, "sb", [
        {"name": "TASK_ID", "value": "t-7"},
        {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "api-key"}}},
        {"name": "SEED", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "seed"}}},
        {"name": "GONE", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}}},
    ], working_dir="repo/src")
    sb = cluster.wait_phase(ns, "sb", "Ready", timeout=60)

    # A task step: the env. Its cwd is its own workDir, which Task parsing defaults to /workspace.
    script = 'echo "$TASK_ID $API_KEY $SEED [${GONE-unset}]"; pwd'
    cluster.task(ns, "t", "sb", [{"name": "a", "type": "Command", "command": ["sh", "-c", script]}])
    t = cluster.wait_task(ns, "t")
    assert t["status"]["state"] == "Succeeded", t["status"]
    # The task's stdout is the user's own output: the secret is there because the step printed it.
    assert t["status"]["stdout"] == f"t-7 {secret_value} 42 [unset]\n/workspace\n"

    # kubectl arl sandbox exec: the same, and a per-request --env overrides.
    code, out, err = arl_exec(ns, "sb", "sh", "-c", script)
    assert code == 0, err
    assert out == f"t-7 {secret_value} 42 [unset]\n/workspace/repo/src\n"
    code, out, err = arl_exec(ns, "sb", "sh", "-c", "echo $SEED $TASK_ID", env=["SEED=9"])
    assert (code, out) == (0, "9 t-7\n"), err

    # The pod template's env is unchanged: the pod spec has no trace of the sandbox's env.
    pod = cluster.core.read_namespaced_pod(sb["status"]["podName"], ns)
    assert secret_value not in str(pod.spec) and "TASK_ID" not in str(pod.spec)

    # The secret value is nowhere in the sandbox object, its events or the operator's log.
    assert secret_value not in str(cluster.get(ns, "sandboxes", "sb"))
    assert all(secret_value not in str(e.message) for e in events_of(cluster, ns, "sb"))
    assert secret_value not in operator_log()

    # A second sandbox from the same pool does not see the first one's env.
    cluster.sandbox(ns, "other", "py")
    other = cluster.wait_phase(ns, "other", "Ready", timeout=60)
    assert other["status"]["podName"] != sb["status"]["podName"]
    code, out, err = arl_exec(ns, "other", "sh", "-c", 'echo "[${TASK_ID-}${API_KEY-}${SEED-}]"; pwd')
    assert (code, out) == (0, "[]\n/workspace\n"), err


def test_missing_secret_fails_the_sandbox_and_leaves_the_pool_untouched(cluster, ns):
    cluster.ready_pool(ns, "py", 1)
    idle = [p for p in cluster.pods(ns, "py", "ready") if _ready(p)]
    assert len(idle) == 1
    before = idle[0]
    sandbox_with(cluster, ns, "sb", [{"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}])
    sb = cluster.wait_phase(ns, "sb", "Failed", timeout=60)
    ready = next(c for c in sb["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "EnvSecretNotFound"
    assert '"absent"' in ready["message"] and "spec.env[0] (API_KEY)" in ready["message"]
    assert "podName" not in sb["status"]
    cluster.wait("EnvSecretNotFound Warning event", lambda: any(e.reason == "EnvSecretNotFound" and e.type == "Warning"
                                                            for e in events_of(cluster, ns, "sb")), timeout=30)

    # The pod was never claimed: same pod, same resourceVersion, still idle, no owner.
    pod = cluster.core.read_namespaced_pod(before.metadata.name, ns)
    assert pod.metadata.labels["arl.infra.io/pod-state"] == "ready"
    assert pod.metadata.resource_version == before.metadata.resource_version
    assert not pod.metadata.owner_references or all(o.kind != "Sandbox" for o in pod.metadata.owner_references)

    # Missing key in an existing ConfigMap: EnvKeyNotFound.
    cluster.core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cfg"),
                                                                      data={"a": "1"}))
    sandbox_with(cluster, ns, "sb2", [{"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "b"}}}])
    sb2 = cluster.wait_phase(ns, "sb2", "Failed", timeout=60)
    assert next(c for c in sb2["status"]["conditions"] if c["type"] == "Ready")["reason"] == "EnvKeyNotFound"
    assert cluster.core.read_namespaced_pod(before.metadata.name, ns).metadata.labels["arl.infra.io/pod-state"] == "ready"


def test_the_api_server_refuses_an_invalid_env_or_working_dir(cluster, ns):
    for spec, text in (({"workingDir": "/etc"}, "workingDir"),
                       ({"env": [{"name": "A", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
                        "value or valueFrom")):
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Sandbox", "metadata": {"name": "bad"},
                "spec": {"poolRef": "py", **spec}}
        try:
            cluster.create(ns, "sandboxes", body)
            raise AssertionError(f"accepted {spec}")
        except client.exceptions.ApiException as e:
            assert e.status == 422 and text in e.body, e.body
