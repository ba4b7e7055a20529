"""SandboxSession against an in-memory API server (fake_kube.FakeKube)."""
import asyncio
import base64
import hashlib
import hmac
import threading

import pytest

from arl_client import ArlClient, AsyncSandboxSession, SandboxSession, sandbox_token
from arl_client.errors import ArlTimeoutError, NotFoundError, SandboxError, SidecarError, ValidationError
from fake_kube import FakeKube, FakeResponse

NS = "default"


def operator(kube, *, fail_sandbox=None, task_status=None):
    """A reactor that allocates a pod to each sandbox and finishes each task."""
    def react(plural, obj):
        name = obj["metadata"]["name"]
        if plural == "sandboxes":
            kube.update("sandboxes", NS, name, {"phase": "Pending", "conditions": [
                {"type": "Ready", "status": "False", "reason": "NoIdlePod", "message": "waiting for an idle pod"}]})
            if fail_sandbox:
                kube.update("sandboxes", NS, name, {"phase": "Failed", "conditions": [
                    {"type": "Ready", "status": "False", "reason": "PodFailed", "message": fail_sandbox}]})
            else:
                kube.update("sandboxes", NS, name, {"phase": "Ready", "podName": "p-abcde", "podIP": "198.18.0.5"})
        elif plural == "tasks":
            kube.update("tasks", NS, name, {"state": "Running"})
            kube.update("tasks", NS, name, task_status or {"state": "Succeeded", "stdout": "hello\n", "exitCode": 0})
    kube.reactors.append(react)


@pytest.fixture
def kube():
    k = FakeKube()
    k.put_secret(NS, "arl-pool-pool", "tok123")
    return k


def session(kube, **kw):
    return SandboxSession("pool", NS, client=ArlClient(kube), **kw)


def test_session_creates_waits_executes_and_deletes(kube):
    operator(kube)
    with session(kube) as s:
        assert s.pod_name == "p-abcde"
        created = kube.calls("POST", "/sandboxes")[0]["body"]
        assert created["spec"] == {"poolRef": "pool", "keepAlive": True}
        # The wait is answered by the namespace's shared informer: one list, then a
        # watch of every sandbox from the list's resourceVersion.
        listed, watch = [c["query"] for c in kube.calls("GET", "/sandboxes")[:2]]
        assert "watch" not in listed
        assert watch["watch"] == "true" and "fieldSelector" not in watch
        assert watch["resourceVersion"] == "103"
        result = s.execute([{"name": "r", "type": "Command", "command": ["echo", "hello"]}], timeout="10s")
        assert result["status"]["stdout"] == "hello\n" and result["status"]["exitCode"] == 0
        task = kube.calls("POST", "/tasks")[0]["body"]
        assert task["spec"]["sandboxRef"] == s.name and task["spec"]["timeout"] == "10s"
        assert task["metadata"]["ownerReferences"][0]["kind"] == "Sandbox"
        name = s.name
    assert ("sandboxes", NS, name) not in kube.objects
    assert len(kube.calls("DELETE", f"/sandboxes/{name}")) == 1


def test_session_env_and_working_dir_go_into_the_sandbox_spec(kube):
    operator(kube)
    with session(kube, env={"SEED": 7, "TASK": "t-1"}, working_dir="repo") as s:
        assert s.pod_name == "p-abcde"
    created = kube.calls("POST", "/sandboxes")[0]["body"]
    assert created["spec"] == {"poolRef": "pool", "keepAlive": True, "workingDir": "repo",
                               "env": [{"name": "SEED", "value": "7"}, {"name": "TASK", "value": "t-1"}]}
    secret_ref = [{"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "api-key"}}}]
    with session(kube, env=secret_ref):
        pass
    assert kube.calls("POST", "/sandboxes")[1]["body"]["spec"]["env"] == secret_ref


def test_sandbox_is_deleted_when_the_block_raises(kube):
    operator(kube)
    with pytest.raises(KeyError):
        with session(kube) as s:
            name = s.name
            raise KeyError("boom")
    assert ("sandboxes", NS, name) not in kube.objects


def test_failed_sandbox_raises_runtime_error_with_operator_reason(kube):
    operator(kube, fail_sandbox="image pull failed")
    with pytest.raises(RuntimeError, match=r"sandbox default/pool-\w+: Failed: PodFailed: image pull failed"):
        with session(kube):
            pass
    assert not [k for k in kube.objects if k[0] == "sandboxes"]


def test_sandbox_never_ready_raises_with_reason_and_missing_pool(kube):
    def pending(plural, obj):
        kube.update("sandboxes", NS, obj["metadata"]["name"], {"phase": "Pending", "conditions": [
            {"type": "Ready", "status": "False", "reason": "NoIdlePod", "message": "no idle pod in pool"}]})
    kube.reactors.append(pending)
    with pytest.raises(SandboxError) as ei:
        session(kube, timeout=0.3).open()
    name = kube.calls("POST", "/sandboxes")[0]["body"]["metadata"]["name"]
    assert str(ei.value) == (f"sandbox default/{name}: "
                             "not Ready after 0.3s (phase Pending): NoIdlePod: no idle pod in pool; "
                             "warmpool default/pool does not exist")
    assert isinstance(ei.value, RuntimeError)
    assert not [k for k in kube.objects if k[0] == "sandboxes"]


def test_failed_task_returns_with_state_failed(kube):
    operator(kube, task_status={"state": "Failed", "exitCode": 3, "message": "step r exited with 3"})
    with session(kube) as s:
        r = s.execute([{"name": "r", "type": "Command", "command": ["false"]}])
    assert r["status"]["state"] == "Failed" and r["status"]["exitCode"] == 3


def test_timed_out_task_raises_timeout_error(kube):
    operator(kube, task_status={"state": "Failed", "reason": "Timeout", "message": "task exceeded its timeout of 1s",
                                "conditions": [{"type": "Complete", "status": "True", "reason": "Timeout"}]})
    with session(kube) as s:
        with pytest.raises(TimeoutError, match="timed out after 1s") as ei:
            s.execute([{"name": "r", "type": "Command", "command": ["sleep", "9"]}], timeout="1s")
    assert ei.value.task["status"]["state"] == "Failed"


@pytest.mark.parametrize("status,timed_out", [
    ({"reason": "Timeout"}, True),
    ({"conditions": [{"type": "Complete", "status": "True", "reason": "Timeout"}]}, True),
    ({"message": "task exceeded its timeout of 2s"}, True),
    ({"reason": "StepFailed", "message": "step r: curl: timed out"}, False),
    ({"reason": "ExecutionError", "message": "sandbox missing"}, False),
    ({"conditions": [{"type": "Complete", "status": "True", "reason": "StepFailed"}], "message": "timeout"}, False),
])
def test_task_timed_out_reads_the_operator_reason(status, timed_out):
    from arl_client.session import task_timed_out
    assert task_timed_out({"status": {"state": "Failed", **status}}) is timed_out


def test_task_that_never_finishes_raises_timeout_error(kube):
    operator(kube, task_status={"state": "Running"})
    with session(kube) as s:
        with pytest.raises(ArlTimeoutError, match="not finished after 0.2s"):
            s.execute([{"name": "r", "type": "Command", "command": ["sleep", "9"]}], wait_timeout=0.2)


def test_bad_steps_are_refused_before_anything_is_sent(kube):
    operator(kube)
    with session(kube) as s:
        before = len(kube.requests)
        with pytest.raises(ValidationError) as ei:
            s.execute([{"name": "a", "type": "Command"}, {"name": "a", "type": "Bogus"}], timeout="forever")
        assert len(kube.requests) == before
    assert ei.value.problems == [
        "spec.steps[0].command: required for type Command",
        'spec.steps[1].name: duplicate step name "a"',
        'spec.steps[1].type: unknown step type "Bogus": use Command or FilePatch',
        'spec.timeout: invalid duration "forever" (use e.g. 30s, 2m, 1h30m, 500ms)',
    ]


def test_wait_relists_after_watch_expired(kube):
    operator(kube)
    kube.expire_next_watch = True
    with session(kube) as s:
        assert s.pod_name == "p-abcde"
    lists = [c for c in kube.calls("GET", "/sandboxes") if "watch" not in c["query"]]
    assert len(lists) == 2  # the first list, and the re-list after 410


def test_deleted_while_waiting_is_not_found(kube):
    def vanish(plural, obj):
        kube.request("DELETE", f"/apis/arl.infra.io/v1alpha1/namespaces/{NS}/sandboxes/{obj['metadata']['name']}")
    kube.reactors.append(vanish)
    with pytest.raises(NotFoundError, match="deleted while waiting"):
        session(kube).open()


def test_run_goes_through_pod_proxy_with_the_sandboxs_own_token(kube):
    operator(kube)
    seen = []

    def sidecar(endpoint, body, headers):
        seen.append((endpoint, body, headers))
        return FakeResponse(200, {"stdout": "hi\n", "stderr": "", "exit_code": 0, "done": True,
                                  "duration_ms": 1.5, "timed_out": False,
                                  "usage": {"wall_ms": 1.5, "cpu_user_ms": 0.4, "cpu_system_ms": 0.6,
                                            "max_rss_kb": 2048}})
    kube.sidecar = sidecar
    with session(kube) as s:
        r = s.run(["echo", "hi"], workdir="/tmp", env={"A": "1"}, timeout=5)
        s.run("echo hi | tr a-z A-Z")
    assert (r.stdout, r.exit_code, r.duration_ms, r.ok) == ("hi\n", 0, 1.5, True)
    assert r.usage == {"wall_ms": 1.5, "cpu_user_ms": 0.4, "cpu_system_ms": 0.6, "max_rss_kb": 2048}
    # HMAC-SHA256 of the pool token over "arl-sandbox-token/v1:" + the sandbox's uid.
    own = sandbox_token("tok123", s.sandbox["metadata"]["uid"])
    assert own == hmac.new(b"tok123", f"arl-sandbox-token/v1:{s.sandbox['metadata']['uid']}".encode(),
                           hashlib.sha256).hexdigest()
    assert seen[0] == ("execute", {"command": ["echo", "hi"], "env": {"A": "1"}, "timeout_seconds": 5.0,
                                   "working_dir": "/tmp"}, {"X-Arl-Token": own})
    assert seen[1][1]["command"] == ["sh", "-c", "echo hi | tr a-z A-Z"]
    proxy = kube.calls("POST", "/proxy/")[0]["path"]
    assert proxy == "/api/v1/namespaces/default/pods/p-abcde:8080/proxy/execute"
    assert not kube.calls("POST", "/tasks")  # nothing written to etcd


def test_run_stream_yields_events_until_exit(kube):
    operator(kube)
    kube.sidecar = lambda ep, body, h: FakeResponse(200, lines=[
        {"type": "start", "pid": 42}, {"type": "stdout", "data": "1\n"}, {"type": "stderr", "data": "warn\n"}, {"type": "stdout", "data": "2\n"},
        {"type": "exit", "exit_code": 0, "timed_out": False, "duration_ms": 2000,
         "usage": {"wall_ms": 2000, "cpu_user_ms": 1, "cpu_system_ms": 2, "max_rss_kb": 900}}])
    with session(kube) as s:
        events = list(s.run(["sh", "-c", "echo 1; echo 2"], stream=True))
    assert events[0].type == "start" and events[0].pid == 42
    assert [(e.type, e.data) for e in events[1:4]] == [("stdout", "1\n"), ("stderr", "warn\n"), ("stdout", "2\n")]
    assert events[-1].type == "exit" and events[-1].exit_code == 0
    assert events[-1].usage == {"wall_ms": 2000, "cpu_user_ms": 1, "cpu_system_ms": 2, "max_rss_kb": 900}
    call = kube.calls("POST", "/proxy/execute")[0]
    assert call["body"]["stream"] is True
    assert call["chunked"] is True  # a streamed reply through the pod proxy needs a chunked body


def test_stream_error_event_raises(kube):
    operator(kube)
    kube.sidecar = lambda ep, body, h: FakeResponse(200, lines=[
        {"type": "start", "pid": 1}, {"type": "error", "message": "read: broken pipe"}])
    with session(kube) as s:
        it = s.run(["true"], stream=True)
        assert next(it).type == "start"
        with pytest.raises(SidecarError, match="command failed: read: broken pipe"):
            next(it)


def test_write_and_read_file(kube):
    operator(kube)
    files = {}

    def sidecar(endpoint, body, headers):
        if endpoint == "files":
            data = base64.b64decode(body["content"]) if body.get("encoding") == "base64" else body["content"].encode()
            files[body["path"]] = data
            return FakeResponse(200, {"path": body["path"], "size": len(data)})
        path = body["command"][1]
        if path not in files:
            return FakeResponse(200, {"stdout": "", "stderr": f"base64: {path}: No such file or directory",
                                      "exit_code": 1})
        return FakeResponse(200, {"stdout": base64.encodebytes(files[path]).decode(), "stderr": "", "exit_code": 0})
    kube.sidecar = sidecar
    with session(kube) as s:
        s.write_file("/workspace/a.txt", "héllo\n")
        s.write_file("b.bin", b"\x00\xff\x10")
        assert s.read_file("/workspace/a.txt") == "héllo\n"
        assert s.read_file("b.bin", binary=True) == b"\x00\xff\x10"
        with pytest.raises(FileNotFoundError):
            s.read_file("missing")
    assert files["b.bin"] == b"\x00\xff\x10"


def test_token_is_refetched_once_when_refused(kube):
    operator(kube)
    kube.put_secret(NS, "arl-pool-pool", "old")
    with session(kube) as s:
        uid = s.sandbox["metadata"]["uid"]
        kube.sidecar = lambda ep, body, h: FakeResponse(200, {"stdout": "", "exit_code": 0}) \
            if h["X-Arl-Token"] == sandbox_token("new", uid) else FakeResponse(401, {"error": "wrong token"})
        s.client.pool_token("pool", NS)  # cached "old"
        kube.put_secret(NS, "arl-pool-pool", "new")
        assert s.run(["true"]).exit_code == 0


def test_many_threads_share_one_client(kube):
    operator(kube)
    client = ArlClient(kube)
    names, errors = [], []

    def episode():
        try:
            with SandboxSession("pool", NS, client=client) as s:
                names.append(s.name)
                s.execute([{"name": "r", "type": "Command", "command": ["true"]}])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=episode) for _ in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    assert len(set(names)) == 12
    assert not [k for k in kube.objects if k[0] == "sandboxes"]


def test_async_session(kube):
    operator(kube)
    client = ArlClient(kube)

    async def episode(i):
        async with AsyncSandboxSession("pool", NS, client=client) as s:
            r = await s.execute([{"name": "r", "type": "Command", "command": ["echo", str(i)]}])
            return r["status"]["state"]

    async def main():
        return await asyncio.gather(*(episode(i) for i in range(20)))
    assert asyncio.run(main()) == ["Succeeded"] * 20
    assert not [k for k in kube.objects if k[0] == "sandboxes"]


def test_sandbox_token_matches_the_operators_and_refuses_empty_inputs():
    # The same vector as tests/k8s/sandbox_token_test.cpp: the operator's C++ derivation.
    assert sandbox_token("pool-token-0123456789", "uid-1") == \
        "35aabbce3b0f8aa4575b6eda1484bede9f65e1cdb0d12a8fa0edbd7a7215ab25"
    with pytest.raises(ValueError, match="pool token is empty"):
        sandbox_token("", "uid-1")
    with pytest.raises(ValueError, match="no metadata.uid"):
        sandbox_token("pool", "")
