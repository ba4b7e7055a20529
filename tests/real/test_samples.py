"""manifests/samples/ on real containers. The samples name python:3.9-slim from Docker Hub, which
this offline node cannot pull; the pool's image is swapped for the node's own Debian python
(localhost/arl-test/python:1, imagePullPolicy: Never, as tests/real/test_walkthroughs.py uses) and
everything else is applied as the folder holds it. Then the operations guide's follow-up commands,
as typed, in a namespace of this test (the kubeconfig copy's context defaults to it)."""
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("ARL_CACHE", Path.home() / ".cache" / "arl"))
KUBECTL = CACHE / "bin" / f"k8s-v{os.environ.get('K8S_VERSION', '1.33.13')}" / "kubectl"
IMAGE = "localhost/arl-test/python:1"


@pytest.fixture
def kubeconfig(ns, tmp_path):
    flat = subprocess.run([str(KUBECTL), "--kubeconfig", os.environ["ARL_REAL_KUBECONFIG"], "config", "view",
                           "--flatten", "--raw"], capture_output=True, text=True, check=True).stdout
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(flat)
    subprocess.run([str(KUBECTL), "--kubeconfig", str(cfg), "config", "set-context", "--current", f"--namespace={ns}"],
                   check=True, capture_output=True)
    return cfg


def typed(kubeconfig, line, stdin=None, timeout=60):
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PATH": f"{KUBECTL.parent}:{os.environ['PATH']}"}
    r = subprocess.run(["bash", "-c", line], input=stdin, capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=timeout)
    assert r.returncode == 0, f"{line}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return r.stdout


def eventually(kubeconfig, line, want, timeout=180):
    deadline = time.monotonic() + timeout
    while (got := typed(kubeconfig, line)) != want:
        assert time.monotonic() < deadline, f"{line}: {got!r} after {timeout}s, want {want!r}"
        time.sleep(0.5)


def test_samples_on_real_containers(kubeconfig):
    pool = yaml.safe_load((ROOT / "manifests/samples/warmpool.yaml").read_text())
    c = pool["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "python:3.9-slim"
    c["image"], c["imagePullPolicy"] = IMAGE, "Never"
    typed(kubeconfig, "kubectl apply -f -", stdin=yaml.safe_dump(pool))
    typed(kubeconfig, "kubectl apply -f manifests/samples/sandbox.yaml -f manifests/samples/task.yaml")

    eventually(kubeconfig, "kubectl get warmpool python-3.9-std -o jsonpath='{.status.readyReplicas}'", "2")
    eventually(kubeconfig, "kubectl get sandbox my-agent-workspace -o jsonpath='{.status.phase}'", "Ready")
    pod = typed(kubeconfig, "kubectl get sandbox my-agent-workspace -o jsonpath='{.status.podName}'")
    assert f"pod/{pod}" in typed(kubeconfig, "kubectl get pods -l warmpool=python-3.9-std -o name").split()
    eventually(kubeconfig, "kubectl get task my-task -o jsonpath='{.status.state}'", "Succeeded")
    assert typed(kubeconfig, "kubectl get task my-task -o jsonpath='{.status.exitCode}'") == "0"
    assert typed(kubeconfig, "kubectl get task my-task -o jsonpath='{.status.stdout}'").startswith("hello from python 3.")
