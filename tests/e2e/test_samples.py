"""manifests/samples/ as the operations guide uses it: `kubectl apply -f` of the folder (or
`make deploy-samples`), then the guide's follow-up commands exactly as typed, with no -n flag.

ARL_E2E_KUBECONFIG names the local cluster (scripts/local-cluster.sh up). The test works on a
copy of that kubeconfig whose context defaults to a fresh namespace, so the commands typed as in
the guide land in a namespace of this test alone.
"""
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("ARL_CACHE", Path.home() / ".cache" / "arl"))
KUBECTL = Path(os.environ.get("ARL_KUBECTL", CACHE / "bin" / "k8s-v1.33.13" / "kubectl"))


@pytest.fixture
def kubeconfig(tmp_path):
    src = os.environ.get("ARL_E2E_KUBECONFIG")
    if not src:
        pytest.skip("ARL_E2E_KUBECONFIG not set (scripts/test.sh sets it in the cluster tier)")
    ns = f"samples-{uuid.uuid4().hex[:6]}"
    flat = subprocess.run([str(KUBECTL), "--kubeconfig", src, "config", "view", "--flatten", "--raw"],
                          capture_output=True, text=True, check=True).stdout
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(flat)
    subprocess.run([str(KUBECTL), "--kubeconfig", str(cfg), "create", "namespace", ns], check=True, capture_output=True)
    subprocess.run([str(KUBECTL), "--kubeconfig", str(cfg), "config", "set-context", "--current", f"--namespace={ns}"],
                   check=True, capture_output=True)
    yield cfg
    subprocess.run([str(KUBECTL), "--kubeconfig", str(cfg), "delete", "namespace", ns, "--wait=false"],
                   capture_output=True)


def typed(kubeconfig, line, timeout=30):
    """Runs a command line as the guide prints it, with `kubectl` being the tested kubectl."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PATH": f"{KUBECTL.parent}:{os.environ['PATH']}"}
    r = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    assert r.returncode == 0, f"{line}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return r.stdout


def eventually(kubeconfig, line, want, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        got = typed(kubeconfig, line)
        if got == want:
            return
        assert time.monotonic() < deadline, f"{line}: {got!r} after {timeout}s, want {want!r}"
        time.sleep(0.2)


def test_samples_folder_with_plain_kubectl_and_the_guides_commands(kubeconfig):
    out = typed(kubeconfig, "kubectl apply -f manifests/samples/")
    assert out.splitlines() == ["sandbox.arl.infra.io/my-agent-workspace created", "task.arl.infra.io/my-task created",
                                "warmpool.arl.infra.io/python-3.9-std created"]

    # Operations guide, "Working with Custom Resources" and "Testing Workflows".
    eventually(kubeconfig, "kubectl get warmpool python-3.9-std -o jsonpath='{.status.readyReplicas}'", "2")
    eventually(kubeconfig, "kubectl get warmpool python-3.9-std -o jsonpath='{.status.phase}'", "Ready")
    pods = typed(kubeconfig, "kubectl get pods -l warmpool=python-3.9-std -o name").split()
    assert len(pods) == 3, pods  # two idle, one allocated to the sandbox
    eventually(kubeconfig, "kubectl get sandbox my-agent-workspace -o jsonpath='{.status.phase}'", "Ready")
    pod = typed(kubeconfig, "kubectl get sandbox my-agent-workspace -o jsonpath='{.status.podName}'")
    assert f"pod/{pod}" in pods
    assert typed(kubeconfig, "kubectl get sandbox my-agent-workspace -o jsonpath='{.status.podIP}'").startswith("198.18.")
    eventually(kubeconfig, "kubectl get task my-task -o jsonpath='{.status.state}'", "Succeeded")
    assert typed(kubeconfig, "kubectl get task my-task -o jsonpath='{.status.exitCode}'") == "0"
    assert typed(kubeconfig, "kubectl get task my-task -o jsonpath='{.status.stdout}'").startswith("hello from python 3.")
    assert typed(kubeconfig, "kubectl get task my-task -o jsonpath='{.status.stderr}'") == ""
    assert typed(kubeconfig, "kubectl get task my-task -o jsonpath='{.spec.sandboxRef}'") == "my-agent-workspace"
    listed = typed(kubeconfig, "kubectl get warmpools,sandboxes,tasks")
    for name in ("python-3.9-std", "my-agent-workspace", "my-task"):
        assert name in listed, listed
    # User manual: waiting on the task.
    typed(kubeconfig, "kubectl wait --for=jsonpath='{.status.state}'=Succeeded task/my-task --timeout=120s")

    # make deploy-samples applies the same folder: a second apply changes nothing.
    out = typed(kubeconfig, "make -s deploy-samples KUBECTL=kubectl")
    assert sorted(out.splitlines()) == ["sandbox.arl.infra.io/my-agent-workspace unchanged",
                                        "task.arl.infra.io/my-task unchanged",
                                        "warmpool.arl.infra.io/python-3.9-std unchanged"]


def test_make_logs_shows_the_local_operators_log(kubeconfig):
    # On the local cluster the operator is a host process: make logs reads its log file.
    state = Path(os.environ["ARL_E2E_KUBECONFIG"]).resolve().parent
    r = subprocess.run(["make", "-s", "logs"], capture_output=True, text=True, cwd=ROOT, timeout=30,
                       env={**os.environ, "KUBECONFIG": str(kubeconfig), "ARL_STATE": str(state), "LOGS_FOLLOW": ""})
    assert r.returncode == 0, r.stderr
    assert f"the local cluster's operator is a host process; its log is {state}/logs/operator.log" in r.stderr
    lines = r.stdout.splitlines()
    assert 0 < len(lines) <= 100
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", line) for line in lines), lines[:5]
