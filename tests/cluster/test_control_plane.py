"""scripts/control-plane.sh on a state dir of its own: up, env, status, idempotent up, down."""
import os
import pathlib
import subprocess
import time

import pytest

from arl_kubectl import Kubectl

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "control-plane.sh"
COMPONENTS = ["etcd", "kube-apiserver", "kube-controller-manager"]


def script(state, *args, timeout=600):
    env = {**os.environ, "ARL_STATE": str(state)}
    env.pop("KUBECONFIG", None)
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=timeout)


def processes_naming(path):
    """Pids of live processes whose command line mentions `path`."""
    found = []
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (d / "stat").read_text().rsplit(") ", 1)[1][0]
        except (OSError, IndexError):
            continue
        if str(path) in cmd and state != "Z":
            found.append((int(d.name), cmd))
    return found


@pytest.fixture
def state(tmp_path):
    d = tmp_path / "cp"
    yield d
    script(d, "down")  # whatever the test did, leave nothing running


def test_up_serves_a_real_cluster_and_down_leaves_no_process(kubectl, state):
    # kubectl fixture: the run's own cluster must exist too; this one runs beside it on other ports.
    started = time.monotonic()
    up = script(state, "up")
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == f"{state}/kubeconfig"
    assert time.monotonic() - started < 60

    env = script(state, "env")
    assert env.stdout.strip() == f"export KUBECONFIG={state}/kubeconfig"
    pids = {c: int((state / "pids" / f"{c}.pid").read_text()) for c in COMPONENTS}
    for c, pid in pids.items():
        assert os.path.exists(f"/proc/{pid}"), f"{c} is not running"

    own = Kubectl(str(state / "kubeconfig"))
    assert own.run("get", "namespace", "default", "-o", "name").stdout.strip() == "namespace/default"
    assert own.kubeconfig != kubectl.kubeconfig
    who = own.run("auth", "whoami", "-o", "jsonpath={.status.userInfo.groups}").stdout
    assert "system:masters" in who

    status = script(state, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "ready: https://127.0.0.1:" in status.stdout

    again = script(state, "up")
    assert again.returncode == 0 and "already running" in again.stderr
    assert {c: int((state / "pids" / f"{c}.pid").read_text()) for c in COMPONENTS} == pids

    down = script(state, "down")
    assert down.returncode == 0, down.stderr
    for c, pid in pids.items():
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1][0] == "Z", \
            f"{c} (pid {pid}) still running after down"
    assert processes_naming(state) == []
    assert (state / "logs" / "kube-apiserver.log").exists(), "down keeps the logs for post-mortems"

    status = script(state, "status")
    assert status.returncode == 1
    assert "stopped" in status.stdout


def test_down_without_up_is_harmless(tmp_path):
    p = script(tmp_path / "never-started", "down")
    assert p.returncode == 0, p.stderr


def test_env_before_up_says_what_to_do(tmp_path):
    p = script(tmp_path / "never-started", "env")
    assert p.returncode == 1
    assert "run" in p.stderr and "up" in p.stderr


def test_unknown_command_is_a_usage_error(tmp_path):
    p = script(tmp_path / "x", "sideways")
    assert p.returncode == 2
    assert "usage:" in p.stderr


def test_failed_start_names_the_component_shows_its_log_and_cleans_up(tmp_path):
    state = tmp_path / "bad"
    env = {**os.environ, "ARL_STATE": str(state), "ARL_APISERVER_FLAGS": "--no-such-flag"}
    p = subprocess.run([str(SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 1
    assert "kube-apiserver exited during startup" in p.stderr
    assert "unknown flag: --no-such-flag" in p.stderr, p.stderr  # the log tail
    assert f"logs are in {state}/logs" in p.stderr
    assert processes_naming(state) == []
