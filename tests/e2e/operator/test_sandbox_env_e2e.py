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


def arl(*args):
    """`kubectl arl ...` as a user types it; returns (exit code, stdout, stderr)."""
    binary = os.environ.get("ARL_BIN") or str(ROOT / "build" / "arl")
    p = subprocess.run([binary, "kubectl", *args], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "KUBECONFIG": os.environ["ARL_E2E_KUBECONFIG"]})
    return p.returncode, p.stdout, p.stderr


def arl_exec(ns, sandbox, *argv, env=()):
    """`kubectl arl sandbox exec`; returns (exit code, stdout, stderr)."""
    flags = [a for kv in env for a in ("--env", kv)]
    return arl("sandbox", "exec", sandbox, "-n", ns, *flags, "--", *argv)


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

    # A task step: the env, and the sandbox's working dir (the step gives none).
    script = 'echo "$TASK_ID $API_KEY $SEED [${GONE-unset}]"; pwd'
    cluster.task(ns, "t", "sb", [{"name": "a", "type": "Command", "command": ["sh", "-c", script]}])
    t = cluster.wait_task(ns, "t")
    assert t["status"]["state"] == "Succeeded", t["status"]
    # The task's stdout is the user's own output: the secret is there because the step printed it.
    assert t["status"]["stdout"] == f"t-7 {secret_value} 42 [unset]\n/workspace/repo/src\n"

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


def test_task_steps_start_in_the_sandbox_working_dir_with_its_env(cluster, ns):
    cluster.ready_pool(ns, "py", 1)
    sandbox_with(cluster, ns, "sb", [{"name": "EPISODE", "value": "e-3"}, {"name": "SEED", "value": "7"}],
                 working_dir="/workspace/episode")
    sb = cluster.wait_phase(ns, "sb", "Ready", timeout=60)
    assert sb["status"]["workDir"] == "/workspace/episode"
    script = 'echo "$EPISODE $SEED"; pwd'
    cluster.task(ns, "t", "sb", [
        # No workDir: the sandbox's; its env as given.
        {"name": "plain", "type": "Command", "command": ["sh", "-c", script]},
        # The step's own env overrides the sandbox's for that step only.
        {"name": "own-env", "type": "Command", "command": ["sh", "-c", script], "env": {"SEED": "8"}},
        # The step's own workDir wins over the sandbox's.
        {"name": "own-dir", "type": "Command", "command": ["sh", "-c", script], "workDir": "/workspace"},
        # A relative path in a command names a file in the sandbox's working dir.
        {"name": "write", "type": "FilePatch", "path": "/workspace/episode/note.txt", "content": "here\n"},
        {"name": "read", "type": "Command", "command": ["cat", "note.txt"]},
        # A relative FilePatch path lands there too, where the next command looks.
        {"name": "patch", "type": "FilePatch", "path": "main.sh", "content": "echo from-main\n"},
        {"name": "run", "type": "Command", "command": ["sh", "main.sh"]},
    ])
    t = cluster.wait_task(ns, "t")
    assert t["status"]["state"] == "Succeeded", t["status"]
    out = {s["name"]: s.get("stdout", "") for s in t["status"]["steps"]}
    assert out == {"plain": "e-3 7\n/workspace/episode\n", "own-env": "e-3 8\n/workspace/episode\n",
                   "own-dir": "e-3 7\n/workspace\n", "write": "", "read": "here\n", "patch": "",
                   "run": "from-main\n"}, t["status"]


def test_sandbox_create_flags_set_env_and_working_dir(cluster, ns):
    cluster.core.create_namespaced_secret(ns, client.V1Secret(
        metadata=client.V1ObjectMeta(name="creds"), string_data={"api-key": "from-secret"}))
    cluster.core.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="cfg"), data={"mode": "eval"}))
    cluster.ready_pool(ns, "py", 1)
    # The repeatable flags before and after the positional name, as users mix them.
    code, out, err = arl("sandbox", "create", "--env", "TASK_ID=t-9", "--env", "EXPR=a=b", "cli-sb", "-n", ns,
                         "--pool", "py", "--keep-alive", "--env-from-secret", "API_KEY=creds:api-key",
                         "--env-from-configmap", "MODE=cfg:mode", "--workdir", "runs/9", "--wait")
    assert (code, out) == (0, "sandbox.arl.infra.io/cli-sb created\n"), err
    # Shell-only: the real node's test image has no printenv.
    code, out, err = arl_exec(ns, "cli-sb", "sh", "-c",
                             'for v in "$TASK_ID" "$EXPR" "$API_KEY" "$MODE"; do echo "$v"; done; pwd')
    assert (code, out) == (0, "t-9\na=b\nfrom-secret\neval\n/workspace/runs/9\n"), err

    # A bad value exits 2 naming the flag and the value, and creates nothing.
    code, out, err = arl("sandbox", "create", "bad-sb", "-n", ns, "--pool", "py", "--env-from-secret", "API_KEY=creds")
    assert code == 2 and '--env-from-secret "API_KEY=creds": the key is missing' in err, (code, err)
    assert cluster.get(ns, "sandboxes", "bad-sb") is None


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
