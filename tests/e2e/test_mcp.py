"""End-to-end tests of `kubectl arl mcp`, the Model Context Protocol server, against a running local
cluster (scripts/local-cluster.sh): the official MCP Python SDK (PyPI `mcp`) drives it over stdio as an
agent's client would, and raw lines on its stdin check the JSON-RPC error handling.

Environment (both required, as for test_cli.py):
  ARL_E2E_KUBECONFIG  kubeconfig of the cluster
  ARL_BIN             the `arl` binary; the server runs as `arl kubectl mcp ...`
"""
import asyncio
import base64
import json
import os
import subprocess
import time
import uuid

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from test_cli import kubectl  # noqa: E402  (same folder: the kubectl helper and its checks)

SIX_TOOLS = {"sandbox_create", "run_command", "write_file", "read_file", "list_files", "sandbox_release"}
# Generous: a loaded 2-core machine, a pod allocation, a command through the API server's proxy.
CALL_TIMEOUT = 180


@pytest.fixture(scope="module")
def kubeconfig():
    path = os.environ.get("ARL_E2E_KUBECONFIG")
    if not path or not os.path.isfile(path):
        pytest.fail("set ARL_E2E_KUBECONFIG to the kubeconfig of a running local cluster "
                    "(scripts/local-cluster.sh prints it)")
    return path


@pytest.fixture(scope="module")
def arl_bin():
    binary = os.environ.get("ARL_BIN")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail("set ARL_BIN to the built `arl` binary (e.g. build/arl)")
    return os.path.abspath(binary)


@pytest.fixture(scope="module")
def namespace(kubeconfig):
    name = f"e2e-mcp-{uuid.uuid4().hex[:6]}"
    kubectl(kubeconfig, "create", "namespace", name)
    yield name
    kubectl(kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


def cli(arl_bin, kubeconfig, namespace, *args, timeout=180):
    return subprocess.run([arl_bin, "kubectl", *args, "-n", namespace], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "KUBECONFIG": kubeconfig})


@pytest.fixture(scope="module")
def pool(arl_bin, kubeconfig, namespace):
    p = cli(arl_bin, kubeconfig, namespace, "pool", "create", "mcp-pool", "--image",
            os.environ.get("ARL_E2E_IMAGE", "python:3.12-slim"), "--replicas", "2", "--wait", "--timeout", "150s")
    assert p.returncode == 0, p.stderr
    return "mcp-pool"


def server(arl_bin, kubeconfig, namespace, *args):
    return StdioServerParameters(command=arl_bin, args=["kubectl", "mcp", *args, "-n", namespace],
                                 env={"KUBECONFIG": kubeconfig})


def session_run(params, body):
    """Runs `body(session, init_result)` in an initialized SDK session; returns what it returns."""
    async def main():
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                return await body(session, init)
    return asyncio.run(asyncio.wait_for(main(), 600))


def text_of(result):
    return "".join(c.text for c in result.content if c.type == "text")


def test_sdk_initializes_and_lists_six_tools_with_schemas(arl_bin, kubeconfig, namespace, pool):
    async def body(s, init):
        return init, await s.list_tools()
    init, listed = session_run(server(arl_bin, kubeconfig, namespace, "--pool", pool), body)
    # The SDK offers the newest handshake version it knows; the server accepts it.
    assert init.protocol_version in ("2025-11-25", "2025-06-18")
    assert init.server_info.name == "arl"
    assert init.capabilities.tools is not None
    assert "sandbox_create" in (init.instructions or "")
    tools = {t.name: t for t in listed.tools}
    assert set(tools) == SIX_TOOLS
    for t in tools.values():
        assert t.input_schema["type"] == "object", t.name
        assert t.output_schema and t.output_schema["type"] == "object", t.name
        assert t.description and t.title, t.name
    assert tools["run_command"].input_schema["required"] == ["command"]
    assert set(tools["write_file"].input_schema["required"]) == {"path", "content"}
    assert tools["read_file"].input_schema["required"] == ["path"]
    assert "exit_code" in tools["run_command"].output_schema["properties"]


def test_sandbox_lifecycle_through_the_sdk(arl_bin, kubeconfig, namespace, pool):
    progress = []

    async def on_progress(value, total, message):
        progress.append((value, message))

    async def body(s, init):
        out = {}
        out["create"] = await s.call_tool("sandbox_create", {}, read_timeout_seconds=CALL_TIMEOUT)
        sb = out["create"].structured_content["sandbox"]
        # Exists as a Sandbox object for every other client too.
        out["get"] = cli(arl_bin, kubeconfig, namespace, "sandbox", "get", sb, "-o", "json")
        out["run"] = await s.call_tool(
            "run_command",
            {"command": "for i in 1 2 3; do echo line$i; sleep 1; done; echo oops >&2; exit 3"},
            read_timeout_seconds=CALL_TIMEOUT, progress_callback=on_progress)
        out["mkdir"] = await s.call_tool("run_command", {"command": "mkdir -p sub"}, read_timeout_seconds=CALL_TIMEOUT)
        out["stdin"] = await s.call_tool("run_command", {"command": "tr a-z A-Z", "stdin": "shout\n"},
                                         read_timeout_seconds=CALL_TIMEOUT)
        out["write"] = await s.call_tool("write_file", {"path": "dir/hello.txt", "content": "h\u00e9llo\n"},
                                         read_timeout_seconds=CALL_TIMEOUT)
        blob = bytes(range(256))
        out["write_bin"] = await s.call_tool(
            "write_file", {"path": "/workspace/dir/blob.bin", "content": base64.b64encode(blob).decode(),
                           "encoding": "base64", "mode": "0755"}, read_timeout_seconds=CALL_TIMEOUT)
        out["read"] = await s.call_tool("read_file", {"path": "dir/hello.txt"}, read_timeout_seconds=CALL_TIMEOUT)
        out["read_bin"] = await s.call_tool("read_file", {"path": "dir/blob.bin"}, read_timeout_seconds=CALL_TIMEOUT)
        out["cat"] = await s.call_tool("run_command", {"command": "cat dir/hello.txt; stat -c %a dir/blob.bin"},
                                       read_timeout_seconds=CALL_TIMEOUT)
        out["list"] = await s.call_tool("list_files", {"path": "dir"}, read_timeout_seconds=CALL_TIMEOUT)
        out["list_all"] = await s.call_tool("list_files", {"recursive": True}, read_timeout_seconds=CALL_TIMEOUT)
        out["missing"] = await s.call_tool("read_file", {"path": "dir/nope.txt"}, read_timeout_seconds=CALL_TIMEOUT)
        out["release"] = await s.call_tool("sandbox_release", {}, read_timeout_seconds=CALL_TIMEOUT)
        out["after"] = await s.call_tool("run_command", {"command": "true"}, read_timeout_seconds=CALL_TIMEOUT)
        out["sb"] = sb
        return out

    out = session_run(server(arl_bin, kubeconfig, namespace, "--pool", pool), body)
    sb = out["sb"]

    create = out["create"]
    assert not create.is_error, text_of(create)
    assert create.structured_content["pool"] == pool
    assert create.structured_content["namespace"] == namespace
    assert create.structured_content["phase"] in ("Ready", "Bound")
    assert create.structured_content["pod"].startswith(pool + "-")
    assert out["get"].returncode == 0, out["get"].stderr
    assert json.loads(out["get"].stdout)["spec"]["keepAlive"] is True

    run = out["run"]
    assert not run.is_error, text_of(run)  # a non-zero exit is a result, not a tool error
    assert run.structured_content["exit_code"] == 3
    assert run.structured_content["stdout"] == "line1\nline2\nline3\n"
    assert run.structured_content["stderr"] == "oops\n"
    assert run.structured_content["timed_out"] is False
    assert "exit code 3" in text_of(run)
    # Output arrived as progress while the command ran, in order, numbered upwards.
    values = [v for v, _ in progress]
    assert values == sorted(values) and len(set(values)) == len(values)
    messages = "".join(m or "" for _, m in progress)
    assert messages.index("line1") < messages.index("line2") < messages.index("line3")
    assert "[stderr] oops" in messages

    assert out["mkdir"].structured_content["exit_code"] == 0
    assert out["stdin"].structured_content["stdout"] == "SHOUT\n"

    assert out["write"].structured_content["path"].endswith("/dir/hello.txt")
    assert out["write"].structured_content["bytes"] == len("h\u00e9llo\n".encode())
    assert out["read"].structured_content == {"path": "dir/hello.txt", "content": "h\u00e9llo\n", "encoding": "utf-8",
                                              "bytes": 7, "truncated": False}
    assert out["read_bin"].structured_content["encoding"] == "base64"
    assert base64.b64decode(out["read_bin"].structured_content["content"]) == bytes(range(256))
    assert out["cat"].structured_content["stdout"] == "h\u00e9llo\n755\n"

    listing = out["list"].structured_content
    assert listing["path"].endswith("/dir") and listing["truncated"] is False
    assert listing["entries"] == [{"name": "blob.bin", "type": "file", "size": 256},
                                  {"name": "hello.txt", "type": "file", "size": 7}]
    names = {e["name"]: e["type"] for e in out["list_all"].structured_content["entries"]}
    assert names["dir"] == "directory" and names["dir/hello.txt"] == "file" and names["sub"] == "directory"

    assert out["missing"].is_error
    assert "dir/nope.txt" in text_of(out["missing"]) and "list_files" in text_of(out["missing"])

    assert not out["release"].is_error and out["release"].structured_content == {"sandbox": sb, "released": True}
    assert out["after"].is_error and "sandbox_create" in text_of(out["after"])
    deadline = time.monotonic() + 120
    while cli(arl_bin, kubeconfig, namespace, "sandbox", "get", sb).returncode == 0:
        assert time.monotonic() < deadline, f"sandbox {sb} still exists 120 s after sandbox_release"
        time.sleep(1)


def test_env_workdir_timeout_and_heartbeat(arl_bin, kubeconfig, namespace, pool):
    progress = []

    async def on_progress(value, total, message):
        progress.append(message)

    async def body(s, init):
        await s.call_tool("sandbox_create", {"name": "mcp-env"}, read_timeout_seconds=CALL_TIMEOUT)
        await s.call_tool("run_command", {"command": "mkdir -p sub"}, read_timeout_seconds=CALL_TIMEOUT)
        r = await s.call_tool("run_command", {"command": "pwd; echo $GREETING", "workdir": "sub",
                                              "env": {"GREETING": "hi"}}, read_timeout_seconds=CALL_TIMEOUT)
        t = await s.call_tool("run_command", {"command": "sleep 30", "timeout_seconds": 1},
                              read_timeout_seconds=CALL_TIMEOUT)
        # Silent for 7 s: the heartbeat (every 5 s) still reports.
        q = await s.call_tool("run_command", {"command": "sleep 7"}, read_timeout_seconds=CALL_TIMEOUT,
                              progress_callback=on_progress)
        await s.call_tool("sandbox_release", {"sandbox": "mcp-env"}, read_timeout_seconds=CALL_TIMEOUT)
        return r, t, q
    r, t, q = session_run(server(arl_bin, kubeconfig, namespace, "--pool", pool), body)
    assert r.structured_content["stdout"] == "/workspace/sub\nhi\n"
    assert q.structured_content["exit_code"] == 0
    assert progress[0].startswith("started (pid ") and "still running (5s)" in progress
    assert t.structured_content["timed_out"] is True
    assert "raise timeout_seconds" in text_of(t)


def test_cancelling_a_call_stops_its_command(arl_bin, kubeconfig, namespace, pool):
    async def body(s, init):
        await s.call_tool("sandbox_create", {"name": "mcp-cancel"}, read_timeout_seconds=CALL_TIMEOUT)
        started = anyio.Event()

        async def on_progress(value, total, message):
            started.set()

        async def long_call():
            await s.call_tool("run_command", {"command": "sleep 8 && touch late-marker"},
                              read_timeout_seconds=CALL_TIMEOUT, progress_callback=on_progress)

        # Cancelled once it runs: the SDK sends notifications/cancelled.
        async with anyio.create_task_group() as tg:
            tg.start_soon(long_call)
            await started.wait()
            await anyio.sleep(1)
            tg.cancel_scope.cancel()
        # The server answers the next call; the cancelled command never reaches its touch.
        r = await s.call_tool("run_command", {"command": "sleep 10; ls late-marker"},
                              read_timeout_seconds=CALL_TIMEOUT)
        await s.call_tool("sandbox_release", {}, read_timeout_seconds=CALL_TIMEOUT)
        return r
    r = session_run(server(arl_bin, kubeconfig, namespace, "--pool", pool), body)
    assert r.structured_content["exit_code"] != 0, r.structured_content
    assert "late-marker" in r.structured_content["stderr"]


def test_tool_errors_are_results_that_say_what_to_do(arl_bin, kubeconfig, namespace, pool):
    async def body(s, init):
        out = {
            "no_sandbox": await s.call_tool("run_command", {"command": "true"}),
            "no_pool": await s.call_tool("sandbox_create", {"pool": "no-such-pool"}),
            "missing_sb": await s.call_tool("read_file", {"path": "x", "sandbox": "no-such-sb"}),
            "bad_args": await s.call_tool("run_command", {"cmd": "ls"}),
            "bad_mode": await s.call_tool("write_file", {"path": "x", "content": "", "mode": "rwx"}),
            "bad_ttl": await s.call_tool("sandbox_create", {"ttl": "soon"}),
        }
        await s.send_ping()  # still serving
        return out
    out = session_run(server(arl_bin, kubeconfig, namespace, "--pool", pool), body)
    assert all(r.is_error for r in out.values())
    assert "call sandbox_create first" in text_of(out["no_sandbox"])
    assert "warm pool no-such-pool not found" in text_of(out["no_pool"])
    assert 'sandboxes.arl.infra.io "no-such-sb" not found' in text_of(out["missing_sb"])
    assert text_of(out["bad_args"]).startswith("run_command: bad arguments: command: required (a string); "
                                               "cmd: unknown argument")
    assert "mode" in text_of(out["bad_mode"]) and "0755" in text_of(out["bad_mode"])
    assert text_of(out["bad_ttl"]).startswith("sandbox_create: ttl") and "30m" in text_of(out["bad_ttl"])


def test_sandbox_flag_works_on_an_existing_sandbox(arl_bin, kubeconfig, namespace, pool):
    p = cli(arl_bin, kubeconfig, namespace, "sandbox", "create", "mcp-fixed", "--pool", pool, "--keep-alive",
            "--wait", "--timeout", "120s")
    assert p.returncode == 0, p.stderr

    async def body(s, init):
        return (await s.call_tool("run_command", {"command": "echo on-$((20+22))"}, read_timeout_seconds=CALL_TIMEOUT),
                await s.call_tool("sandbox_create", {}))
    run, create = session_run(server(arl_bin, kubeconfig, namespace, "--sandbox", "mcp-fixed"), body)
    assert run.structured_content["stdout"] == "on-42\n"
    assert create.is_error and "--sandbox" in text_of(create) and "--pool" in text_of(create)
    cli(arl_bin, kubeconfig, namespace, "sandbox", "delete", "mcp-fixed")


def test_pool_and_sandbox_flags_exclude_each_other(arl_bin, kubeconfig, namespace):
    p = cli(arl_bin, kubeconfig, namespace, "mcp", "--pool", "p", "--sandbox", "s", timeout=30)
    assert p.returncode == 2 and p.stdout == ""
    assert "excludes" in p.stderr


def test_help_teaches_how_to_register_it(arl_bin):
    p = subprocess.run([arl_bin, "kubectl", "mcp", "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    assert '"mcpServers"' in p.stdout and "kubectl arl mcp --pool" in p.stdout


# ---- raw JSON-RPC on stdin -------------------------------------------------------------------------

def raw_exchange(arl_bin, kubeconfig, namespace, lines):
    """Sends `lines` to a fresh server, closes stdin, returns (exit code, messages on stdout, stderr)."""
    p = subprocess.run([arl_bin, "kubectl", "mcp", "--pool", "no-such-pool", "-n", namespace],
                       input="".join(line + "\n" for line in lines), capture_output=True, text=True, timeout=120,
                       env={**os.environ, "KUBECONFIG": kubeconfig})
    # stdout carries JSON-RPC only: every line parses.
    return p.returncode, [json.loads(line) for line in p.stdout.splitlines()], p.stderr


def test_malformed_json_rpc_gets_errors_and_the_server_goes_on(arl_bin, kubeconfig, namespace):
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
    lines = [
        "garbage, not json",
        json.dumps(init),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        '{"jsonrpc":"2.0","id":2,"method":"ping"',                                   # truncated
        json.dumps([{"jsonrpc": "2.0", "id": 3, "method": "ping"}]),                 # batch
        json.dumps({"jsonrpc": "2.0", "method": "tools/list"}),                      # request without id
        json.dumps({"jsonrpc": "2.0", "id": 4, "method": "prompts/list"}),           # unknown method
        json.dumps({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"arguments": {}}}),  # no name
        json.dumps({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "nope"}}),
        json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": [1, 2]}),
        json.dumps({"jsonrpc": "1.0", "id": 8, "method": "ping"}),
        json.dumps({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                    "params": {"name": "list_files", "arguments": {"sandbox": "no-such-sb"}}}),
        json.dumps({"jsonrpc": "2.0", "id": 10, "method": "ping"}),
    ]
    code, msgs, stderr = raw_exchange(arl_bin, kubeconfig, namespace, lines)
    assert code == 0, stderr
    errors = [(m["id"], m["error"]["code"]) for m in msgs if "error" in m]
    assert errors == [(None, -32700), (None, -32700), (None, -32600), (None, -32600), (4, -32601), (5, -32602),
                      (6, -32602), (7, -32602), (8, -32600)]
    results = {m["id"]: m["result"] for m in msgs if "result" in m}
    assert results[1]["protocolVersion"] == "2025-06-18"
    assert results[9]["isError"] is True and "no-such-sb" in results[9]["content"][0]["text"]
    assert results[10] == {}
    assert "Rejected message" in stderr  # logs go to stderr


def test_protocol_version_negotiation(arl_bin, kubeconfig, namespace):
    for asked, answered in (("2025-03-26", "2025-03-26"), ("2025-11-25", "2025-11-25"), ("1999-01-01", "2025-06-18")):
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": asked}}
        lst = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        code, msgs, stderr = raw_exchange(arl_bin, kubeconfig, namespace, [json.dumps(init), json.dumps(lst)])
        assert code == 0, stderr
        assert msgs[0]["result"]["protocolVersion"] == answered
        # Output schemas exist from 2025-06-18 on.
        assert all(("outputSchema" in t) == (answered != "2025-03-26") for t in msgs[1]["result"]["tools"])
