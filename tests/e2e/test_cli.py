"""End-to-end tests of `kubectl arl`, typed as a user types them, against a running local
cluster with the operator and the local node (scripts/local-cluster.sh).

Environment (both required; the run fails loudly when either is missing):
  ARL_E2E_KUBECONFIG  kubeconfig of the cluster
  ARL_BIN             the `arl` binary; the tests call it through a `kubectl-arl` symlink,
                      exactly as kubectl runs the plugin
Optional: ARL_KUBECTL (a kubectl to check plugin discovery and to create namespaces).
"""
import json
import os
import pathlib
import shutil
import subprocess
import time
import uuid

import pytest

K8S_VERSION = os.environ.get("K8S_VERSION", "1.33.13")
CACHE = pathlib.Path(os.environ.get("ARL_CACHE", pathlib.Path.home() / ".cache" / "arl"))
KUBECTL = pathlib.Path(os.environ.get("ARL_KUBECTL", CACHE / "bin" / f"k8s-v{K8S_VERSION}" / "kubectl"))
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def kubeconfig():
    path = os.environ.get("ARL_E2E_KUBECONFIG")
    if not path:
        pytest.fail("set ARL_E2E_KUBECONFIG to the kubeconfig of a local cluster running the operator "
                    "(scripts/local-cluster.sh prints it)")
    if not os.path.isfile(path):
        pytest.fail(f"ARL_E2E_KUBECONFIG={path} does not exist: is the local cluster up?")
    return path


@pytest.fixture(scope="session")
def plugin(tmp_path_factory):
    """A directory holding `kubectl-arl` -> $ARL_BIN."""
    binary = os.environ.get("ARL_BIN")
    if not binary:
        pytest.fail("set ARL_BIN to the built `arl` binary (e.g. build/arl)")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"ARL_BIN={binary} is not an executable file")
    d = tmp_path_factory.mktemp("plugin")
    link = d / "kubectl-arl"
    link.symlink_to(os.path.abspath(binary))
    return link


class Arl:
    def __init__(self, plugin, kubeconfig, namespace):
        self.plugin = plugin
        self.kubeconfig = kubeconfig
        self.namespace = namespace

    def env(self):
        env = dict(os.environ)
        env["KUBECONFIG"] = self.kubeconfig
        return env

    def argv(self, args, namespace=True):
        extra = ["-n", self.namespace] if namespace and self.namespace else []
        if "--" in args:  # after `--` everything belongs to the remote command
            cut = list(args).index("--")
            return [str(self.plugin), *args[:cut], *extra, *args[cut:]]
        return [str(self.plugin), *args, *extra]

    def __call__(self, *args, input=None, timeout=120, namespace=True):
        # Global flags go last (before any `--`), as people append them: that they work there is part of the test.
        return subprocess.run(self.argv(args, namespace), input=input, capture_output=True, text=True,
                              timeout=timeout, env=self.env())

    def ok(self, *args, **kw):
        p = self(*args, **kw)
        assert p.returncode == 0, f"kubectl arl {' '.join(args)} exited {p.returncode}:\n{p.stderr}{p.stdout}"
        return p


def kubectl(kubeconfig, *args, check=True):
    if not KUBECTL.is_file():
        pytest.fail(f"{KUBECTL} is missing (set ARL_KUBECTL or run scripts/install-kube-tools.sh control-plane)")
    p = subprocess.run([str(KUBECTL), "--kubeconfig", kubeconfig, *args], capture_output=True, text=True,
                       timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {p.stderr}")
    return p


@pytest.fixture(scope="module")
def namespace(kubeconfig):
    name = f"e2e-cli-{uuid.uuid4().hex[:6]}"
    kubectl(kubeconfig, "create", "namespace", name)
    yield name
    kubectl(kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def arl(plugin, kubeconfig, namespace):
    return Arl(plugin, kubeconfig, namespace)


@pytest.fixture(scope="module")
def pool(arl):
    p = arl.ok("pool", "create", "e2e-pool", "--image", os.environ.get("ARL_E2E_IMAGE", "python:3.12-slim"),
               "--replicas", "2", "--wait",
               "--timeout", "120s", timeout=180)
    assert p.stdout == "warmpool.arl.infra.io/e2e-pool created\n"
    return "e2e-pool"


@pytest.fixture(scope="module")
def sandbox(arl, pool):
    p = arl.ok("sandbox", "create", "e2e-sb", "--pool", pool, "--keep-alive", "--wait", "--timeout", "60s",
               "-o", "name", timeout=90)
    assert p.stdout == "sandbox.arl.infra.io/e2e-sb\n"
    return "e2e-sb"


# ---- no cluster needed ---------------------------------------------------------------------------

def test_help_at_every_level_has_examples(plugin):
    for args in (["--help"], ["pool", "--help"], ["pool", "create", "--help"], ["sandbox", "--help"],
                 ["sandbox", "exec", "--help"], ["sandbox", "cp", "--help"], ["task", "run", "--help"],
                 ["task", "logs", "--help"], ["install", "--help"], ["version", "--help"]):
        p = subprocess.run([str(plugin), *args], capture_output=True, text=True, timeout=10)
        assert p.returncode == 0, (args, p.stderr)
        assert "Examples:" in p.stdout, args
        assert "kubectl arl" in p.stdout, args


def test_bad_flags_exit_2_with_a_hint(plugin):
    for args in (["pool", "list", "--bogus"], ["pool", "list", "-o", "xml"], ["sandbox", "exec"],
                 ["pool", "create", "p", "--image", "i", "--replicas", "many"], ["nosuchcommand"],
                 ["sandbox", "create", "--pool", "p", "--ttl", "soon"], ["completion", "fish"]):
        p = subprocess.run([str(plugin), *args], capture_output=True, text=True, timeout=10,
                           env={**os.environ, "KUBECONFIG": "/nonexistent"})
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert p.stderr.startswith("error: "), (args, p.stderr)


def test_version_client_only(plugin):
    p = subprocess.run([str(plugin), "version", "--client"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0
    assert p.stdout.startswith("Client Version: ")


def test_completion_scripts(plugin):
    for shell in ("bash", "zsh"):
        p = subprocess.run([str(plugin), "completion", shell], capture_output=True, text=True, timeout=10)
        assert p.returncode == 0
        assert "complete -F _kubectl_arl kubectl-arl" in p.stdout
    if shutil.which("bash"):
        script = subprocess.run([str(plugin), "completion", "bash"], capture_output=True, text=True).stdout
        probe = script + '\nCOMP_WORDS=(kubectl-arl sandbox exe); COMP_CWORD=2; _kubectl_arl; echo "${COMPREPLY[@]}"\n'
        out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True).stdout
        assert out.split() == ["exec"]


def test_invalid_task_file_lists_every_problem_with_lines(plugin, tmp_path):
    f = tmp_path / "task.yaml"
    f.write_text(
        "apiVersion: arl.infra.io/v1alpha1\n"
        "kind: Task\n"
        "metadata:\n"
        "  name: broken\n"
        "spec:\n"
        "  timeout: soon\n"
        "  steps:\n"
        "    - name: run\n"
        "      type: Command\n"
        "    - name: run\n"
        "      type: FilePatch\n")
    # Validation happens before any cluster access: no kubeconfig needed to see the problems.
    p = subprocess.run([str(plugin), "task", "run", "-f", str(f)], capture_output=True, text=True, timeout=10,
                       env={**os.environ, "KUBECONFIG": "/nonexistent"})
    assert p.returncode == 1
    err = p.stderr
    assert "nothing was created" in err
    assert f"{f}:5:" in err and "spec.sandboxRef" in err
    assert f"{f}:6:" in err and "spec.timeout" in err
    assert f"{f}:8:" in err and "spec.steps[0].command" in err
    assert "spec.steps[1].path" in err


def test_yaml_syntax_error_has_line(plugin, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("kind: Task\nspec:\n  steps: [unclosed\n")
    p = subprocess.run([str(plugin), "task", "run", "-f", str(f)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 1
    assert f"{f}:" in p.stderr


# ---- against the cluster -------------------------------------------------------------------------

def test_version_shows_the_operator(arl):
    p = arl.ok("version", namespace=False)
    assert "Client Version: " in p.stdout
    assert "Operator Version: " in p.stdout


def test_plugin_is_found_by_kubectl(plugin, kubeconfig):
    if not KUBECTL.is_file():
        pytest.fail(f"{KUBECTL} is missing (set ARL_KUBECTL)")
    env = {**os.environ, "PATH": f"{plugin.parent}:{os.environ.get('PATH', '')}", "KUBECONFIG": kubeconfig}
    p = subprocess.run([str(KUBECTL), "arl", "version", "--client"], capture_output=True, text=True, env=env,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Client Version: ")


def test_pool_list_get_scale(arl, pool):
    p = arl.ok("pool", "list")
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "ALLOCATED", "DESIRED", "PHASE", "AGE"]
    row = next(line for line in lines[1:] if line.startswith(pool + " "))
    assert row.split()[3] == "2"
    assert lines[0].index("READY") == row.index(row.split()[1], len(pool))  # columns line up

    assert arl.ok("pool", "list", "--no-headers").stdout.splitlines()[0].startswith(pool)
    assert "NAMESPACE" in arl.ok("pool", "list", "-A", namespace=False).stdout.splitlines()[0]
    assert "IMAGE" in arl.ok("pool", "list", "-o", "wide").stdout
    assert arl.ok("pool", "get", pool, "-o", "name").stdout == f"warmpool.arl.infra.io/{pool}\n"
    obj = json.loads(arl.ok("pool", "get", pool, "-o", "json").stdout)
    assert obj["kind"] == "WarmPool" and obj["metadata"]["uid"]
    assert "kind: WarmPool" in arl.ok("pool", "get", pool, "-o", "yaml").stdout

    assert arl.ok("pool", "scale", pool, "--replicas", "3").stdout == f"warmpool.arl.infra.io/{pool} scaled\n"
    assert json.loads(arl.ok("pool", "get", pool, "-o", "json").stdout)["spec"]["replicas"] == 3
    arl.ok("pool", "scale", pool, "--replicas", "2")


def test_missing_objects_exit_1(arl):
    p = arl("pool", "get", "no-such-pool")
    assert p.returncode == 1
    assert 'warmpools.arl.infra.io "no-such-pool" not found' in p.stderr
    p = arl("sandbox", "exec", "no-such-sb", "--", "true")
    assert p.returncode == 1
    assert "not found" in p.stderr


def test_pool_create_from_file_and_delete(arl, tmp_path):
    f = tmp_path / "pool.yaml"
    f.write_text((ROOT / "manifests/samples/warmpool.yaml").read_text().replace("python-3.9-std", "file-pool")
                 .replace("replicas: 2", "replicas: 0"))
    assert arl.ok("pool", "create", "-f", str(f)).stdout == "warmpool.arl.infra.io/file-pool created\n"
    assert arl.ok("pool", "delete", "file-pool").stdout == 'warmpool.arl.infra.io "file-pool" deleted\n'
    assert arl("pool", "get", "file-pool").returncode == 1


def test_sandbox_list_get(arl, sandbox, pool):
    lines = arl.ok("sandbox", "list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "POOL", "POD", "AGE"]
    row = next(line.split() for line in lines if line.startswith(sandbox + " "))
    assert row[1] in ("Ready", "Bound") and row[2] == pool and row[3].startswith(pool + "-")
    obj = json.loads(arl.ok("sandbox", "get", sandbox, "-o", "json").stdout)
    assert obj["status"]["podName"]


def test_sandbox_create_generates_a_name(arl, pool):
    p = arl.ok("sandbox", "create", "--pool", pool)
    assert p.stdout.startswith(f"sandbox.arl.infra.io/{pool}-") and p.stdout.endswith(" created\n")
    name = p.stdout.split("/")[1].split()[0]
    assert arl.ok("sandbox", "delete", name).stdout == f'sandbox.arl.infra.io "{name}" deleted\n'


def test_exec_output_and_exit_code(arl, sandbox):
    p = arl("sandbox", "exec", sandbox, "--", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert p.returncode == 7
    assert p.stdout == "out\n"
    assert p.stderr == "err\n"
    assert arl("sandbox", "exec", sandbox, "--", "true").returncode == 0


def test_sandbox_api_calls_the_executor_through_the_api_server(arl, sandbox):
    health = json.loads(arl.ok("sandbox", "api", sandbox, "GET", "/health").stdout)
    assert health["status"] == "ok", health
    r = json.loads(arl.ok("sandbox", "api", sandbox, "POST", "/execute", "-d", '{"command": ["echo", "hi"]}').stdout)
    assert (r["stdout"], r["exit_code"]) == ("hi\n", 0), r
    r = json.loads(arl.ok("sandbox", "api", sandbox, "post", "/execute", "-d", "@-",
                          input='{"command": ["sh", "-c", "exit 4"]}').stdout)
    assert r["exit_code"] == 4
    # The executor refuses: its JSON error on stdout, exit 1, what failed on stderr.
    p = arl("sandbox", "api", sandbox, "POST", "/execute", "-d", '{"command": []}')
    assert p.returncode == 1, p
    assert "command" in json.loads(p.stdout)["error"]
    assert f"sandbox {sandbox}: POST /execute: HTTP 400" in p.stderr
    # Usage errors never reach the cluster.
    assert arl("sandbox", "api", sandbox, "PUT", "/execute").returncode == 2
    assert arl("sandbox", "api", sandbox, "GET", "health").returncode == 2
    assert arl("sandbox", "api", sandbox, "POST", "/execute", "-d", "{not json").returncode == 2


def test_exec_env_and_workdir(arl, sandbox):
    p = arl.ok("sandbox", "exec", sandbox, "--env", "GREETING=hi", "--workdir", "/tmp", "--",
               "sh", "-c", 'echo "$GREETING"; pwd')
    assert p.stdout == "hi\n/tmp\n"


def test_exec_streams_output_before_the_command_ends(arl, sandbox):
    proc = subprocess.Popen(arl.argv(["sandbox", "exec", sandbox, "--", "sh", "-c", "echo first; sleep 4; echo second"]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=arl.env())
    start = time.monotonic()
    try:
        first = proc.stdout.readline()
        got_first = time.monotonic() - start
        assert first == "first\n"
        assert got_first < 3.5, f"first line took {got_first:.1f}s: output is buffered, not streamed"
        assert proc.poll() is None, "the command should still be running"
        rest = proc.stdout.read()
        assert rest == "second\n"
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()


def test_exec_timeout_kills_the_command(arl, sandbox):
    start = time.monotonic()
    p = arl("sandbox", "exec", sandbox, "--timeout", "1s", "--", "sleep", "30")
    assert p.returncode == 124
    assert time.monotonic() - start < 15
    assert "timed out" in p.stderr


def test_cp_round_trip_binary(arl, sandbox, tmp_path):
    data = bytes(range(256)) * 64
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    arl.ok("sandbox", "cp", str(src), f"{sandbox}:/workspace/in/blob.bin")
    assert arl.ok("sandbox", "exec", sandbox, "--", "wc", "-c", "/workspace/in/blob.bin").stdout.split()[0] == str(len(data))
    back = tmp_path / "back.bin"
    arl.ok("sandbox", "cp", f"{sandbox}:/workspace/in/blob.bin", str(back))
    assert back.read_bytes() == data
    p = arl("sandbox", "cp", f"{sandbox}:/workspace/nope", str(tmp_path / "x"))
    assert p.returncode == 1 and "nope" in p.stderr


TASK = """\
apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata:
  name: {name}
spec:
  timeout: 60s
  steps:
    - name: write
      type: FilePatch
      path: hello.sh
      content: |
        echo "hello from {name}"
    - name: run
      type: Command
      command: [sh, /workspace/hello.sh]
"""


def test_task_run_wait_logs_get_list_delete(arl, sandbox, tmp_path):
    f = tmp_path / "task.yaml"
    f.write_text(TASK.format(name="e2e-task"))
    p = arl.ok("task", "run", "-f", str(f), "--sandbox", sandbox, "--wait", "--timeout", "60s", timeout=90)
    assert "task.arl.infra.io/e2e-task created" in p.stdout
    assert "task.arl.infra.io/e2e-task Succeeded" in p.stdout
    assert arl.ok("task", "logs", "e2e-task").stdout == "hello from e2e-task\n"
    assert json.loads(arl.ok("task", "get", "e2e-task", "-o", "json").stdout)["status"]["state"] == "Succeeded"
    lines = arl.ok("task", "list").stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "STATE", "EXIT"]
    assert any(line.split()[:3] == ["e2e-task", "Succeeded", "0"] for line in lines[1:])
    assert arl.ok("task", "delete", "e2e-task").stdout == 'task.arl.infra.io "e2e-task" deleted\n'


def test_task_run_from_stdin_with_several_documents_and_follow(arl, sandbox):
    text = TASK.format(name="multi-a") + "---\n" + TASK.format(name="multi-b")
    p = arl.ok("task", "run", "-f", "-", "--sandbox", sandbox, "--follow", "--timeout", "90s", input=text,
               timeout=120)
    assert "hello from multi-a\n" in p.stdout and "hello from multi-b\n" in p.stdout
    assert p.stdout.index("hello from multi-a") < p.stdout.index("hello from multi-b")


def test_task_failure_exits_1(arl, sandbox, tmp_path):
    f = tmp_path / "fail.yaml"
    f.write_text("kind: Task\nmetadata: {name: e2e-fail}\nspec:\n  steps:\n"
                 "    - {name: boom, type: Command, command: [sh, -c, 'echo bad >&2; exit 3']}\n")
    p = arl("task", "run", "-f", str(f), "--sandbox", sandbox, "--wait", "--timeout", "60s", timeout=90)
    assert p.returncode == 1
    assert "task e2e-fail failed" in p.stderr
    logs = arl.ok("task", "logs", "e2e-fail")
    assert logs.stderr == "bad\n"


def test_task_logs_has_the_full_output_beyond_the_status_cap(arl, sandbox, tmp_path):
    f = tmp_path / "big.yaml"
    f.write_text("kind: Task\nmetadata: {name: e2e-big}\nspec:\n  steps:\n"
                 "    - {name: seq, type: Command, command: [seq, '1', '200000']}\n")
    arl.ok("task", "run", "-f", str(f), "--sandbox", sandbox, "--wait", "--timeout", "60s", timeout=90)
    status_out = json.loads(arl.ok("task", "get", "e2e-big", "-o", "json").stdout)["status"]["steps"][0]["stdout"]
    assert len(status_out) < 1_000_000, "the status keeps only a tail"
    out = arl.ok("task", "logs", "e2e-big").stdout
    assert out == "".join(f"{i}\n" for i in range(1, 200001))


def test_invalid_task_on_the_cluster_creates_nothing(arl, tmp_path):
    f = tmp_path / "mixed.yaml"
    f.write_text(TASK.format(name="valid-one") + "---\nkind: Task\nmetadata: {name: invalid-one}\nspec: {steps: []}\n")
    p = arl("task", "run", "-f", str(f), "--sandbox", "whatever")
    assert p.returncode == 1
    assert "spec.steps" in p.stderr
    assert arl("task", "get", "valid-one").returncode == 1


def test_install_dry_run_lists_the_manifests(arl):
    p = arl.ok("install", "--dry-run", "--manifests", str(ROOT / "manifests"), namespace=False)
    assert "customresourcedefinition.apiextensions.k8s.io/warmpools.arl.infra.io" in p.stdout
    assert "deployment.apps/arl-operator" in p.stdout


def test_sandbox_delete(arl, pool):
    arl.ok("sandbox", "create", "e2e-doomed", "--pool", pool)
    assert arl.ok("sandbox", "delete", "e2e-doomed").stdout == 'sandbox.arl.infra.io "e2e-doomed" deleted\n'
    p = arl("sandbox", "delete", "e2e-doomed")
    assert p.returncode == 1 and "not found" in p.stderr
