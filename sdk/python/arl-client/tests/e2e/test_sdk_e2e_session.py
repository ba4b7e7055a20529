"""arl-client end to end: a real API server, the operator and the local node."""
import asyncio
import concurrent.futures
import time

import pytest

from arl_client import AsyncSandboxSession, SandboxSession
from arl_client.errors import NotFoundError, ValidationError
from arl_sdk_e2e import PYTHON, wait_gone


def open_session(client, pool, namespace, **kw):
    return SandboxSession(pool, namespace=namespace, client=client, timeout=120, **kw)


def test_readme_example(client, pool, namespace):
    with open_session(client, pool, namespace) as session:
        result = session.execute([
            {"name": "write_script", "type": "FilePatch", "path": "/workspace/hello.py",
             "content": "print('hello from ARL')"},
            {"name": "run_script", "type": "Command", "command": [PYTHON, "/workspace/hello.py"]},
        ])
        name = session.name
    assert result["status"]["state"] == "Succeeded", result["status"]
    assert result["status"]["stdout"] == "hello from ARL\n"
    assert result["status"]["exitCode"] == 0
    assert wait_gone(client, "sandboxes", name, namespace), f"sandbox {name} still exists after the with block"


def test_batch_of_five_sessions_on_three_threads(client, pool, namespace):
    def episode(i):
        with open_session(client, pool, namespace) as s:
            r = s.execute([
                {"name": "w", "type": "FilePatch", "path": "n.txt", "content": f"episode {i}"},
                {"name": "r", "type": "Command", "command": ["cat", "/workspace/n.txt"]},
            ])
            return s.name, r["status"]["state"], r["status"]["stdout"]

    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        results = list(ex.map(episode, range(5)))
    assert [(state, out) for _, state, out in results] == [("Succeeded", f"episode {i}") for i in range(5)]
    assert len({name for name, _, _ in results}) == 5
    for name, _, _ in results:
        assert wait_gone(client, "sandboxes", name, namespace)


def test_failing_step_returns_failed_with_exit_code(client, pool, namespace):
    with open_session(client, pool, namespace) as s:
        r = s.execute([
            {"name": "fail", "type": "Command", "command": ["sh", "-c", "echo out; echo err >&2; exit 3"]},
            {"name": "never", "type": "Command", "command": ["sh", "-c", "echo should-not-run"]},
        ])
    st = r["status"]
    assert st["state"] == "Failed"
    assert st["exitCode"] == 3
    assert "out" in st["stdout"] and "should-not-run" not in st["stdout"]
    assert "err" in st["stderr"]


def test_task_timeout_raises_timeout_error(client, pool, namespace):
    with open_session(client, pool, namespace) as s:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            s.execute([{"name": "slow", "type": "Command", "command": ["sleep", "30"]}], timeout="2s")
        assert time.monotonic() - started < 25, "the task was not stopped at its timeout"
        # The sandbox is still usable afterwards.
        r = s.execute([{"name": "after", "type": "Command", "command": ["echo", "ok"]}])
        assert r["status"]["stdout"] == "ok\n"


def test_run_write_file_read_file_and_stream(client, pool, namespace):
    with open_session(client, pool, namespace) as s:
        s.write_file("/workspace/app.py", "import sys\nprint('argv', sys.argv[1:])\nprint('e', file=sys.stderr)\n")
        r = s.run([PYTHON, "/workspace/app.py", "x"])
        assert (r.stdout, r.stderr, r.exit_code, r.timed_out) == ("argv ['x']\n", "e\n", 0, False)

        r = s.run("pwd; echo $GREETING; exit 4", workdir="/tmp", env={"GREETING": "hi"})
        assert (r.stdout, r.exit_code) == ("/tmp\nhi\n", 4)

        r = s.run(["sleep", "10"], timeout=1)
        assert r.timed_out

        blob = bytes(range(256)) * 4
        s.write_file("data/blob.bin", blob)
        assert s.read_file("/workspace/data/blob.bin", binary=True) == blob
        assert s.read_file("app.py").startswith("import sys\n")
        with pytest.raises(FileNotFoundError):
            s.read_file("/workspace/missing.txt")

        events, stamps = [], []
        for ev in s.run("for i in 1 2 3; do echo $i; sleep 0.4; done; echo done >&2", stream=True):
            events.append(ev)
            stamps.append(time.monotonic())
        out = "".join(e.data for e in events if e.type == "stdout")
        err = "".join(e.data for e in events if e.type == "stderr")
        assert (out, err) == ("1\n2\n3\n", "done\n")
        assert events[-1].type == "exit" and events[-1].exit_code == 0
        first_out = next(i for i, e in enumerate(events) if e.type == "stdout")
        assert stamps[-1] - stamps[first_out] > 0.5, "output was not streamed as it came"

    # Nothing of the direct path went through Task objects.
    assert not [t for t in client.list_tasks(namespace) if t["spec"]["sandboxRef"] == s.name]


def test_sandbox_deleted_when_block_raises(client, pool, namespace):
    name = None
    with pytest.raises(ZeroDivisionError):
        with open_session(client, pool, namespace) as s:
            name = s.name
            assert client.get_sandbox(name, namespace)["status"]["phase"] in ("Ready", "Bound")
            1 / 0
    assert wait_gone(client, "sandboxes", name, namespace)


def test_unknown_pool_raises_runtime_error_and_leaves_nothing(client, namespace):
    with pytest.raises(RuntimeError, match="does-not-exist"):
        with SandboxSession("does-not-exist", namespace=namespace, client=client, timeout=5):
            pass
    leftovers = [sb["metadata"]["name"] for sb in client.list_sandboxes(namespace)
                 if sb["spec"]["poolRef"] == "does-not-exist"]
    assert all(wait_gone(client, "sandboxes", n, namespace) for n in leftovers)


def test_bad_steps_refused_before_sending(client, pool, namespace):
    with open_session(client, pool, namespace) as s:
        with pytest.raises(ValidationError, match="spec.steps\\[0\\].command: required for type Command"):
            s.execute([{"name": "x", "type": "Command"}])
        assert not [t for t in client.list_tasks(namespace) if t["spec"]["sandboxRef"] == s.name]


def test_asyncio_twenty_sessions_in_flight(client, pool, namespace):
    async def episode(i):
        async with AsyncSandboxSession(pool, namespace=namespace, client=client, timeout=180) as s:
            r = await s.execute([{"name": "r", "type": "Command", "command": ["echo", str(i)]}])
            d = await s.run(["echo", f"direct {i}"])
            return s.name, r["status"]["stdout"], d.stdout

    async def main():
        return await asyncio.gather(*(episode(i) for i in range(20)))

    results = asyncio.run(main())
    assert [(out, direct) for _, out, direct in results] == [(f"{i}\n", f"direct {i}\n") for i in range(20)]
    for name, _, _ in results:
        assert wait_gone(client, "sandboxes", name, namespace)


def test_low_level_helpers(client, pool, namespace):
    pools = [p["metadata"]["name"] for p in client.list_pools(namespace)]
    assert pool in pools
    sb = client.create_sandbox(pool, namespace=namespace, keep_alive=True)
    name = sb["metadata"]["name"]
    try:
        ready = client.wait_for("sandboxes", name, lambda o: (o.get("status") or {}).get("phase") == "Ready",
                                namespace=namespace, timeout=120, current=sb)
        assert ready["status"]["podName"]
        t = client.create_task(name, [{"name": "a", "type": "Command", "command": ["true"]}], namespace=namespace)
        done = client.wait_for("tasks", t["metadata"]["name"],
                               lambda o: (o.get("status") or {}).get("state") in ("Succeeded", "Failed"),
                               namespace=namespace, timeout=60, current=t)
        assert done["status"]["state"] == "Succeeded"
        assert client.delete_task(t["metadata"]["name"], namespace)
    finally:
        assert client.delete_sandbox(name, namespace)
    with pytest.raises(NotFoundError):
        client.get_task("no-such-task", namespace)
