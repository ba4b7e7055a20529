"""The manual's SDK examples (examples/python/) run as a user runs them: `python FILE` with
KUBECONFIG set, against the pool examples/python/warmpool.yaml creates in `default`, and print what
the manual says they print.

The SDK is this checkout's (sdk/python/arl-client on PYTHONPATH), whatever the venv has installed.
On the local node a pod is a host process, so the examples' `python` is the host's: the local
cluster must have been started with a `python` on its PATH.
"""
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent / "operator"))
from op_cluster import GROUP, VERSION, Cluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "python"
SDK = ROOT / "sdk" / "python" / "arl-client"
NS = "default"  # the examples name it, as the manual does
POOL = "python-pool"


@pytest.fixture(scope="module")
def cluster():
    return Cluster.from_env("ARL_E2E_KUBECONFIG", "the local cluster (`scripts/local-cluster.sh up`)")


@pytest.fixture(scope="module")
def pool(cluster):
    """The manual's pool, created from examples/python/warmpool.yaml unless it is already there."""
    assert shutil.which("python"), ("the examples run `python` in the sandbox, which on the local node is the "
                                    "host's: no `python` on PATH here (python3 only? install python-is-python3)")
    # Left in place afterwards, as a user's pool would be: a pool deleted and soon re-created under
    # the same name (a second run on one cluster) gets no token Secret from today's operator.
    if cluster.get(NS, "warmpools", POOL) is None:
        cluster.create(NS, "warmpools", yaml.safe_load((EXAMPLES / "warmpool.yaml").read_text()))
    cluster.wait(f"warmpool {NS}/{POOL} ready", lambda: (w := cluster.get(NS, "warmpools", POOL))
                 and (w.get("status") or {}).get("readyReplicas", 0) >= min(3, w["spec"]["replicas"]),
                 timeout=120, interval=0.2)
    return POOL


def run_example(name, timeout=180):
    env = dict(os.environ, KUBECONFIG=os.environ["ARL_E2E_KUBECONFIG"],
               PYTHONPATH=os.pathsep.join(filter(None, [str(SDK), os.environ.get("PYTHONPATH")])))
    r = subprocess.run([sys.executable, str(EXAMPLES / name)], env=env, capture_output=True, text=True,
                       timeout=timeout, cwd="/")
    assert r.returncode == 0, f"{name} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r.stdout


def sdk_sandboxes(cluster):
    items = cluster.custom.list_namespaced_custom_object(
        GROUP, VERSION, NS, "sandboxes", label_selector="app.kubernetes.io/created-by=arl-client")["items"]
    return sorted(s["metadata"]["name"] for s in items)


@pytest.fixture
def leaves_no_sandbox(cluster, pool):
    before = set(sdk_sandboxes(cluster))
    yield
    cluster.wait("the example's sandboxes deleted", lambda: not set(sdk_sandboxes(cluster)) - before or None,
                 timeout=30, interval=0.2)


def test_basic_execute(pool, leaves_no_sandbox):
    assert run_example("basic_execute.py") == "输出: 你好，来自 ARL!\n\n退出码: 0\n"


def test_batch_tasks(pool, leaves_no_sandbox):
    assert run_example("batch_tasks.py") == "".join(f"Succeeded: 任务 {i} 完成\n" for i in range(5))


def test_error_handling(pool, leaves_no_sandbox):
    started = time.monotonic()
    lines = run_example("error_handling.py").split("\n")
    # The failed task's stderr ends in a newline, and print adds one: an empty line follows it.
    assert lines[:3] == ["任务失败: 配置文件缺失: /workspace/config.json", "", "任务超时"], lines
    assert re.fullmatch(r"执行错误: sandbox default/no-such-pool-[0-9a-f]+: not Ready after 10s \(phase Pending\): "
                        r'PoolNotFound: warmpool "no-such-pool" does not exist in namespace default; .*', lines[3]), lines
    assert lines[4:] == [""], lines
    # The slow task was stopped at its 2 s timeout, not left to sleep 30 s.
    assert time.monotonic() - started < 45


def test_reuse_sandbox(cluster, pool, leaves_no_sandbox):
    lines = run_example("reuse_sandbox.py").splitlines()
    pods = re.findall(r"\(Pod ([a-z0-9-]+)\)$", "\n".join(lines), re.M)
    assert [re.sub(r" \(Pod .*\)$", "", l) for l in lines] == ["任务 1: 计数 1", "任务 2: 计数 2", "任务 3: 计数 3"]
    assert len(pods) == 3 and len(set(pods)) == 1 and pods[0].startswith(f"{POOL}-"), lines


def test_background_server(pool, leaves_no_sandbox):
    lines = run_example("background_server.py").splitlines()
    assert re.fullmatch(r"服务器 PID: [1-9][0-9]*", lines[0]), lines
    assert lines[1:] == ["输出: Hello from ARL Host Mode!", "停止: Succeeded"]


def test_gym_episodes(pool, leaves_no_sandbox):
    # 100 episodes of three steps each, one fresh sandbox per episode from a pool of three pods.
    lines = run_example("gym_episodes.py", timeout=900).splitlines()
    assert lines[:4] == ["episodes: 100", "solved: 100", "steps: 300", "mean reward: 1.00"], lines
    assert len(lines) == 5 and re.fullmatch(r"episodes/s: [0-9]+\.[0-9]{2} \(3 environments, [0-9.]+ s\)",
                                            lines[4]), lines
    print(lines[4])  # the rate, for whoever runs the tier with -s
