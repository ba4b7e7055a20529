"""The manuals' walkthroughs, typed as a user types them: plain kubectl and the YAML of the CRD
reference, on real containers (the Debian python image). Data processing uses the standard
library instead of `pip install pandas`: these machines reach no package index from a pod."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("ARL_CACHE", Path.home() / ".cache" / "arl"))
KUBECTL = CACHE / "bin" / f"k8s-v{os.environ.get('K8S_VERSION', '1.33.13')}" / "kubectl"
IMAGE = "localhost/arl-test/python:1"


class Kubectl:
    def __init__(self, ns):
        self.ns = ns

    def __call__(self, *args, stdin=None, check=True, timeout=120):
        p = subprocess.run([str(KUBECTL), "--kubeconfig", os.environ["ARL_REAL_KUBECONFIG"], "-n", self.ns, *args],
                           input=stdin, capture_output=True, text=True, timeout=timeout)
        if check:
            assert p.returncode == 0, f"kubectl {' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}"
        return p

    def apply(self, yaml_text):
        return self("apply", "-f", "-", stdin=yaml_text).stdout

    def jsonpath(self, obj, path):
        return self("get", obj, "-o", f"jsonpath={path}").stdout

    def wait_task(self, name, state="Succeeded", timeout=90):
        self("wait", f"--for=jsonpath={{.status.state}}={state}", f"task/{name}", f"--timeout={timeout}s",
             timeout=timeout + 30)
        return json.loads(self("get", f"task/{name}", "-o", "json").stdout)["status"]


@pytest.fixture
def kubectl(ns):
    k = Kubectl(ns)
    k.apply(f"""
apiVersion: arl.infra.io/v1alpha1
kind: WarmPool
metadata:
  name: python-pool
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: python
          image: {IMAGE}
          imagePullPolicy: Never
""")
    k("wait", "--for=jsonpath={.status.readyReplicas}=3", "warmpool/python-pool", "--timeout=120s", timeout=150)
    return k


def test_workspace_tasks_from_the_crd_reference(kubectl):
    assert kubectl.apply("""
apiVersion: arl.infra.io/v1alpha1
kind: Sandbox
metadata:
  name: my-workspace
spec:
  poolRef: python-pool
  keepAlive: true
  ttlSecondsAfterFinished: 3600
""").strip() == "sandbox.arl.infra.io/my-workspace created"
    kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "sandbox/my-workspace", "--timeout=60s")

    kubectl.apply("""
apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata:
  name: run-python
spec:
  sandboxRef: my-workspace
  timeout: 60s
  steps:
    - name: execute
      type: Command
      command: ["python", "-c", "import os; print('Hello, World!', os.environ['DEBUG'], os.environ['PYTHONPATH'])"]
      workDir: /workspace
      env:
        DEBUG: "true"
        PYTHONPATH: "/workspace/lib"
""")
    st = kubectl.wait_task("run-python")
    assert st["stdout"] == "Hello, World! true /workspace/lib\n" and st["exitCode"] == 0

    kubectl.apply("""
apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata:
  name: write-and-run
spec:
  sandboxRef: my-workspace
  timeout: 30s
  steps:
    - name: write-script
      type: FilePatch
      path: /workspace/script.py
      content: |
        import os
        print(f"Hello from {os.getcwd()}")
        print("Environment:", os.environ.get("MY_VAR", "not set"))
    - name: run-script
      type: Command
      command: ["python", "/workspace/script.py"]
      env:
        MY_VAR: "custom-value"
    - name: env-is-per-step
      type: Command
      command: ["python", "/workspace/script.py"]
""")
    st = kubectl.wait_task("write-and-run")
    assert st["steps"][1]["stdout"] == "Hello from /workspace\nEnvironment: custom-value\n"
    assert st["steps"][2]["stdout"] == "Hello from /workspace\nEnvironment: not set\n"

    kubectl.apply("""
apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata:
  name: data-pipeline
spec:
  sandboxRef: my-workspace
  timeout: 120s
  steps:
    - name: create-data
      type: FilePatch
      path: /workspace/data.csv
      content: |
        name,value
        a,1
        b,2
        c,3
    - name: create-script
      type: FilePatch
      path: /workspace/process.py
      content: |
        import csv
        rows = list(csv.DictReader(open('/workspace/data.csv')))
        print(f"Sum: {sum(int(r['value']) for r in rows)}")
    - name: run
      type: Command
      command: ["python", "/workspace/process.py"]
""")
    assert kubectl.wait_task("data-pipeline")["stdout"] == "Sum: 6\n"
    # The table a user looks at.
    assert kubectl("get", "task", "data-pipeline").stdout.split("\n")[1].split()[1] == "Succeeded"

    kubectl.apply("""
apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata:
  name: failing
spec:
  sandboxRef: my-workspace
  steps:
    - name: bad
      type: Command
      command: ["sh", "-c", "echo oops >&2; exit 3"]
    - name: never
      type: Command
      command: ["echo", "skipped"]
---
apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata:
  name: too-slow
spec:
  sandboxRef: my-workspace
  timeout: 2s
  steps:
    - name: sleep
      type: Command
      command: ["sleep", "30"]
""")
    st = kubectl.wait_task("failing", "Failed")
    assert st["exitCode"] == 3 and st["stderr"] == "oops\n"
    assert [s["state"] for s in st["steps"]] == ["Failed", "Skipped"]
    st = kubectl.wait_task("too-slow", "Failed")
    assert st["reason"] == "Timeout", st


def test_background_server_reached_through_the_pod_proxy_listed_and_stopped(kubectl):
    kubectl.apply("""
apiVersion: arl.infra.io/v1alpha1
kind: Sandbox
metadata:
  name: persistent-workspace
spec:
  poolRef: python-pool
  keepAlive: true
---
apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata:
  name: task-1
spec:
  sandboxRef: persistent-workspace
  steps:
    - name: init
      type: FilePatch
      path: /workspace/state.txt
      content: "initialized"
    - name: serve
      type: Command
      command: ["python", "-m", "http.server", "8000", "--directory", "/workspace"]
      background: true
""")
    st = kubectl.wait_task("task-1")
    pid = st["steps"][1]["pid"]
    pod = kubectl.jsonpath("sandbox/persistent-workspace", "{.status.podName}")

    def fetch():
        return kubectl("get", "--raw", f"/api/v1/namespaces/{kubectl.ns}/pods/{pod}:8000/proxy/state.txt", check=False)
    deadline = time.monotonic() + 20
    while (r := fetch()).returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert r.stdout == "initialized", r.stderr

    kubectl.apply(f"""
apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata:
  name: task-2
spec:
  sandboxRef: persistent-workspace
  steps:
    - name: read
      type: Command
      command: ["cat", "/workspace/state.txt"]
    - name: list
      type: Command
      command: ["sh", "-c", "ps -o pid,args | grep '[h]ttp.server'"]
    - name: stop
      type: Command
      command: ["kill", "{pid}"]
""")
    st = kubectl.wait_task("task-2")
    assert st["steps"][0]["stdout"] == "initialized"
    assert st["steps"][1]["stdout"].split()[0] == str(pid)
    deadline = time.monotonic() + 20
    while fetch().returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fetch().returncode != 0, "the server still answers after kill"


def test_keep_alive_false_releases_the_pod_and_the_ttl_deletes_the_sandbox(kubectl):
    kubectl.apply("""
apiVersion: arl.infra.io/v1alpha1
kind: Sandbox
metadata:
  name: temp-workspace
spec:
  poolRef: python-pool
  keepAlive: false
  ttlSecondsAfterFinished: 3
""")
    # The task comes after Ready is seen: with both applied at once the sandbox may pass through
    # Ready, Bound and Released before `kubectl wait` looks.
    kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "sandbox/temp-workspace", "--timeout=60s")
    pod = kubectl.jsonpath("sandbox/temp-workspace", "{.status.podName}")
    kubectl.apply("""
apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata:
  name: once
spec:
  sandboxRef: temp-workspace
  steps:
    - name: hello
      type: Command
      command: ["echo", "hello"]
""")
    assert kubectl.wait_task("once")["stdout"] == "hello\n"
    kubectl("wait", "--for=jsonpath={.status.phase}=Released", "sandbox/temp-workspace", "--timeout=30s")
    kubectl("wait", "--for=delete", f"pod/{pod}", "--timeout=60s")
    kubectl("wait", "--for=delete", "sandbox/temp-workspace", "--timeout=30s")


def test_a_sandbox_pod_deleted_behind_arls_back_fails_the_sandbox(kubectl):
    kubectl.apply("""
apiVersion: arl.infra.io/v1alpha1
kind: Sandbox
metadata:
  name: victim
spec:
  poolRef: python-pool
  keepAlive: true
""")
    kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "sandbox/victim", "--timeout=60s")
    pod = kubectl.jsonpath("sandbox/victim", "{.status.podName}")
    kubectl("delete", "pod", pod, "--wait=false")
    kubectl("wait", "--for=jsonpath={.status.phase}=Failed", "sandbox/victim", "--timeout=60s")
    cond = json.loads(kubectl("get", "sandbox/victim", "-o", "json").stdout)["status"]["conditions"]
    ready = next(c for c in cond if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "PodLost"
    # The lost pod was allocated, not idle: the pool keeps its idle pods and stays full.
    kubectl("wait", "--for=jsonpath={.status.readyReplicas}=3", "warmpool/python-pool", "--timeout=60s")
