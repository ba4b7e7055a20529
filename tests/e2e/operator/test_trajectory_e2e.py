"""Issue 16, trajectories and replay: the sidecar records every operation of an episode,
`kubectl arl sandbox history` shows it, and `sandbox replay` re-runs it into a fresh sandbox of
the same pool with no divergence, or reports the step where an edited trajectory diverges."""
import base64
import json
import uuid

from test_sandbox_env_e2e import arl, arl_exec, sandbox_with


def api(ns, sandbox, method, path, data=None):
    args = ["sandbox", "api", sandbox, method, path, "-n", ns]
    if data is not None:
        args += ["-d", json.dumps(data)]
    code, out, err = arl(*args)
    assert code == 0, err
    return json.loads(out)


def ready_sandbox(cluster, ns, name, env):
    sandbox_with(cluster, ns, name, env)
    cluster.wait_phase(ns, name, "Ready", timeout=90)


def record_episode(ns, sb, tmp_path):
    """The episode: a copied file, reads of it, a checkpoint, a change, a restore, a failure."""
    data = tmp_path / "data.txt"
    data.write_text("alpha\nbeta\n")
    code, _, err = arl("sandbox", "cp", str(data), f"{sb}:data.txt", "-n", ns)
    assert code == 0, err
    assert arl_exec(ns, sb, "sh", "-c", "wc -l < data.txt; echo to-stderr >&2")[:2] == (0, "2\n")
    api(ns, sb, "POST", "/checkpoints", {"name": "before-change"})
    assert arl_exec(ns, sb, "sh", "-c", "echo gamma >> data.txt")[0] == 0
    api(ns, sb, "POST", "/checkpoints/before-change/restore", {})
    assert arl_exec(ns, sb, "cat", "data.txt")[:2] == (0, "alpha\nbeta\n")
    assert arl_exec(ns, sb, "sh", "-c", "echo key=$API_KEY; exit 3")[0] == 3


def test_history_then_replay_into_a_fresh_sandbox_and_an_edited_trajectory_diverges(cluster, ns, tmp_path):
    secret = f"s3cret-{uuid.uuid4().hex}"
    env = [{"name": "API_KEY", "value": secret}]
    cluster.ready_pool(ns, "py", 3, timeout=120)
    ready_sandbox(cluster, ns, "ep", env)
    record_episode(ns, "ep", tmp_path)

    # The table: one row per operation, in order, with exit codes.
    code, table, err = arl("sandbox", "history", "ep", "-n", ns)
    assert code == 0, err
    rows = table.splitlines()
    assert rows[0].split() == ["SEQ", "TIME", "KIND", "EXIT", "WALL_MS", "CPU_MS", "SUMMARY"]
    kinds = [r.split()[2] for r in rows[1:]]
    assert kinds == ["file_write", "execute", "checkpoint", "execute", "restore", "execute", "execute"], table
    assert [r.split()[3] for r in rows[1:]] == ["<none>", "0", "<none>", "0", "<none>", "0", "3"], table
    assert rows[1].endswith("data.txt (11 bytes)"), rows[1]
    assert rows[7].endswith("sh -c echo key=$API_KEY; exit 3"), rows[7]

    code, jsonl, err = arl("sandbox", "history", "ep", "-n", ns, "-o", "jsonl")
    assert code == 0, err
    lines = [json.loads(line) for line in jsonl.splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, 8))
    assert lines[6]["stdout"] == "key=[redacted API_KEY]\n"
    # The sandbox's env value is nowhere in the trajectory, whatever its commands printed.
    assert secret not in jsonl
    code, later, err = arl("sandbox", "history", "ep", "-n", ns, "-o", "jsonl", "--since", "5")
    assert code == 0, err
    assert [json.loads(line)["seq"] for line in later.splitlines()] == [6, 7]

    # Replay into a fresh sandbox of the same pool (same env): every step agrees.
    recorded = tmp_path / "ep.jsonl"
    recorded.write_text(jsonl)
    ready_sandbox(cluster, ns, "again", env)
    code, out, err = arl("sandbox", "replay", str(recorded), "--into", "again", "-n", ns)
    assert (code, out) == (0, "no divergence (7 steps)\n"), err
    assert arl_exec(ns, "again", "cat", "data.txt")[:2] == (0, "alpha\nbeta\n")

    # The written file's content edited in the trajectory: the write is replayed as given,
    # and the first read of it (step 2) is where the sandbox does something else.
    edited = [dict(line) for line in lines]
    edited[0]["content_base64"] = base64.b64encode(b"alpha\nbeta\ndelta\n").decode()
    changed = tmp_path / "edited.jsonl"
    changed.write_text("".join(json.dumps(line) + "\n" for line in edited))
    ready_sandbox(cluster, ns, "what-if", env)
    code, out, err = arl("sandbox", "replay", str(changed), "--into", "what-if", "-n", ns, "--stop-at-first")
    assert code == 1, (out, err)
    assert out.startswith("divergence at step 2 (execute: sh -c wc -l < data.txt; echo to-stderr >&2):\n"), out
    assert f"stdout_sha256: expected {lines[1]['stdout_sha256']} (2 bytes), got " in out
    assert out.endswith("1 divergent step of 7; the first at step 2\n"), out
    assert "differs from its recorded sha256" in err


def test_replay_reports_a_write_it_cannot_redo_and_a_bad_file_is_a_clear_error(cluster, ns, tmp_path):
    cluster.ready_pool(ns, "py", 1, timeout=120)
    ready_sandbox(cluster, ns, "sb", [])
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (64 * 1024 + 1))
    assert arl("sandbox", "cp", str(big), "sb:big.bin", "-n", ns)[0] == 0
    assert arl_exec(ns, "sb", "wc", "-c", "big.bin")[:2] == (0, "65537 big.bin\n")
    code, jsonl, err = arl("sandbox", "history", "sb", "-n", ns, "-o", "jsonl")
    assert code == 0, err
    first = json.loads(jsonl.splitlines()[0])
    assert first["content_omitted"] == "larger than 65536 bytes" and "content_base64" not in first
    trajectory = tmp_path / "t.jsonl"
    trajectory.write_text(jsonl)
    api(ns, "sb", "POST", "/reset", {})
    code, out, err = arl("sandbox", "replay", str(trajectory), "--into", "sb", "-n", ns)
    assert code == 1, (out, err)
    assert "divergence at step 1 (file_write: big.bin (65537 bytes)):\n" \
           "  content: not recorded (larger than 65536 bytes): cannot replay this write\n" in out
    # Without the file the read fails too: step 2 diverges on its exit code.
    assert "divergence at step 2 (execute: wc -c big.bin):\n  exit_code: expected 0, got 1\n" in out

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": 1, "kind": "execute"}\nnot json\n')
    code, out, err = arl("sandbox", "replay", str(bad), "--into", "sb", "-n", ns)
    assert code == 1
    assert f"{bad}: line 2: not a trajectory line" in err


def test_a_task_run_through_the_sidecar_is_in_the_trajectory(cluster, ns):
    cluster.ready_pool(ns, "py", 1, timeout=120)
    ready_sandbox(cluster, ns, "sb", [])
    cluster.task(ns, "t", "sb", [
        {"name": "write", "type": "FilePatch", "path": "/workspace/app.sh", "content": "echo from-task\n"},
        {"name": "run", "type": "Command", "command": ["sh", "/workspace/app.sh"]},
    ])
    assert cluster.wait_task(ns, "t")["status"]["state"] == "Succeeded"
    code, jsonl, err = arl("sandbox", "history", "sb", "-n", ns, "-o", "jsonl")
    assert code == 0, err
    lines = [json.loads(line) for line in jsonl.splitlines()]
    assert [(line["kind"], line.get("path"), line.get("command")) for line in lines] == [
        ("file_write", "/workspace/app.sh", None), ("execute", None, ["sh", "/workspace/app.sh"])]
    assert (lines[1]["exit_code"], lines[1]["stdout"]) == (0, "from-task\n")
