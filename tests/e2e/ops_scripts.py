"""Runs the operations guide's helpers (scripts/verify_deployment.py, wait_for_pod.sh, debug_pod.sh,
exec_test.sh) as a user types them: shared by the local-node tests (tests/e2e) and the real-node
tests (tests/real). kubectl comes from PATH, the one scripts/install-kube-tools.sh built first."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
CACHE = Path(os.environ.get("ARL_CACHE", Path.home() / ".cache" / "arl"))
KUBE_BIN = CACHE / "bin" / f"k8s-v{os.environ.get('K8S_VERSION', '1.33.13')}"
VENV_BIN = CACHE / "venv" / "bin"


def env_for(kubeconfig, path=None):
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    # Set only under `uv run`; the tests choose whether uv is reachable.
    env.pop("UV", None)
    env.pop("ARL_VERIFY_DEPLOYMENT_REEXEC", None)
    env["PATH"] = path if path is not None else f"{KUBE_BIN}:{os.environ.get('PATH', '')}"
    return env


def run(kubeconfig, script, *args, timeout=120, path=None, python=None, prefix=()):
    """Runs scripts/<script> with args; .py scripts with `python` (default: this interpreter)."""
    argv = [str(SCRIPTS / script), *args]
    if script.endswith(".py") and not prefix:
        argv = [python or sys.executable, *argv]
    return subprocess.run([*prefix, *argv], env=env_for(kubeconfig, path), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def find_uv():
    """uv from PATH or the project venv, or None."""
    found = shutil.which("uv")
    if found:
        return found
    candidate = VENV_BIN / "uv"
    return str(candidate) if candidate.exists() else None


def plain_path():
    """A PATH with kubectl and the system's tools but no interpreter that has `kubernetes`."""
    return f"{KUBE_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def bin_without_kubectl(tmp_path):
    """A PATH directory with the tools the shell helpers use but no kubectl."""
    d = tmp_path / "bin-no-kubectl"
    d.mkdir()
    for tool in ("bash", "dirname", "mktemp", "rm", "cat", "sleep", "cut", "head", "paste", "grep", "sed",
                 "sort", "tail", "tee", "env"):
        src = shutil.which(tool)
        assert src, f"{tool} not found on this machine"
        (d / tool).symlink_to(src)
    return str(d)


def load_verify_deployment():
    """scripts/verify_deployment.py as a module, for its pure assess()."""
    spec = importlib.util.spec_from_file_location("verify_deployment", SCRIPTS / "verify_deployment.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
