"""Issue 16, fork: `kubectl arl sandbox fork` and Sandbox.spec.forkOf give new sandboxes whose
workdirs are byte-identical copies of a live sandbox's checkpoint, copied pod to pod; the source
keeps running (its processes untouched); a fork that cannot happen fails with a reason."""
import json

from op_cluster import GROUP, POOL_IMAGE, VERSION, _ready
from test_sandbox_env_e2e import arl, arl_exec

# Every entry of the workdir with its type, mode, size and (for files) content hash, and each
# symlink's target: equal listings mean byte-identical trees.
LISTING = ("cd /workspace && find . -path ./.arl -prune -o -printf '%p %y %m %s %l\\n' | sort && "
           "find . -path ./.arl -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum")

# A tree with every kind of entry a checkpoint keeps.
MAKE_TREE = ("cd /workspace && mkdir -p src/pkg empty/deeper && printf 'print(1)\\n' > src/main.py && "
             "printf 'x' > src/pkg/__init__.py && chmod 0755 src/main.py && chmod 0600 src/pkg/__init__.py && "
             "ln -s src/main.py link && : > zero && head -c 1048576 /dev/urandom > big.bin && "
             "for i in $(seq 1 50); do echo $i > src/pkg/f$i.txt; done")


def listing(ns, sandbox):
    code, out, err = arl_exec(ns, sandbox, "sh", "-c", LISTING)
    assert code == 0, err
    return out


def test_cli_fork_copies_the_workdir_and_leaves_the_source_running(cluster, ns):
    cluster.ready_pool(ns, "py", 4)
    cluster.sandbox(ns, "src", "py")
    cluster.wait_phase(ns, "src", "Ready", timeout=60)
    code, _, err = arl_exec(ns, "src", "sh", "-c", MAKE_TREE)
    assert code == 0, err
    code, _, err = arl("sandbox", "api", "src", "-n", ns, "POST", "/execute",
                       "-d", '{"command": ["sleep", "300"], "background": true}')
    assert code == 0, err
    before = listing(ns, "src")
    # (busybox find in the real node's image has no -printf: the tree itself is checked with plain tools.)
    code, out, err = arl_exec(ns, "src", "sh", "-c", "cd /workspace && readlink link && test -d empty/deeper && wc -c < zero")
    assert (code, out.split()) == (0, ["src/main.py", "0"]), err

    code, out, err = arl("sandbox", "fork", "src", "-n", ns, "--count", "2", "--prefix", "br", "--wait")
    assert code == 0, err
    assert "checkpoint " in err and "of sandbox src" in err  # which checkpoint the forks copy
    assert out.split() == ["sandbox.arl.infra.io/br-0", "created", "sandbox.arl.infra.io/br-1", "created"]
    for fork in ("br-0", "br-1"):
        sb = cluster.get(ns, "sandboxes", fork)
        assert sb["status"]["phase"] == "Ready"
        assert sb["spec"]["forkOf"]["sandbox"] == "src"
        assert sb["status"]["podName"] != cluster.get(ns, "sandboxes", "src")["status"]["podName"]
        assert listing(ns, fork) == before
        code, out, _ = arl_exec(ns, fork, "sh", "-c", "cd /workspace && readlink link && test -d empty/deeper && stat -c %a src/main.py")
        assert (code, out.split()) == (0, ["src/main.py", "755"])

    # The source kept running: same pod, its background process alive, and it diverges freely.
    code, out, err = arl("sandbox", "api", "src", "-n", ns, "GET", "/processes")
    assert code == 0, err
    assert any(p["command"][:2] == ["sleep", "300"] and p["running"] for p in json.loads(out)["processes"]), out
    code, _, err = arl_exec(ns, "src", "sh", "-c", "echo changed > /workspace/src/main.py && rm -r /workspace/empty")
    assert code == 0, err
    assert listing(ns, "br-0") == before


def test_fork_of_a_named_checkpoint_gets_that_checkpoint(cluster, ns):
    # /workspace as an emptyDir of medium Memory: the local node mounts a tmpfs in the pod.
    cluster.create(ns, "warmpools", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "WarmPool", "metadata": {"name": "py"},
        "spec": {"replicas": 3, "template": {"spec": {
            "containers": [{"name": "main", "image": POOL_IMAGE}],
            "volumes": [{"name": "workspace", "emptyDir": {"medium": "Memory"}}]}}}})
    cluster.wait("pool py has 3 ready pods",
                 lambda: len([p for p in cluster.pods(ns, "py", "ready") if _ready(p)]) >= 3, 60)
    cluster.sandbox(ns, "src", "py")
    cluster.wait_phase(ns, "src", "Ready", timeout=60)
    assert arl_exec(ns, "src", "sh", "-c", "echo one > /workspace/state")[0] == 0
    code, out, err = arl("sandbox", "api", "src", "-n", ns, "POST", "/checkpoints", "-d", '{"name": "step-1"}')
    assert code == 0, err
    assert arl_exec(ns, "src", "sh", "-c", "echo two > /workspace/state")[0] == 0
    code, out, err = arl("sandbox", "fork", "src", "-n", ns, "--checkpoint", "step-1", "--wait", "-o", "name")
    assert code == 0, err
    fork = out.strip().split("/")[-1]
    assert fork.startswith("src-fork-")
    assert arl_exec(ns, fork, "cat", "/workspace/state")[1] == "one\n"
    assert arl_exec(ns, fork, "stat", "-f", "-c", "%T", "/workspace")[1] == "tmpfs\n"
    assert arl_exec(ns, "src", "cat", "/workspace/state")[1] == "two\n"


def _fork_object(name, fork_of):
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Sandbox", "metadata": {"name": name},
            "spec": {"poolRef": "py", "keepAlive": True, "forkOf": fork_of}}


def test_forks_that_cannot_happen_fail_with_a_reason(cluster, ns):
    cluster.ready_pool(ns, "py", 2)
    cluster.sandbox(ns, "src", "py")
    cluster.wait_phase(ns, "src", "Ready", timeout=60)
    # The refill after src's allocation, so the idle set is settled before the forks.
    def idle():
        names = {p.metadata.name for p in cluster.pods(ns, "py", "ready") if _ready(p)}
        return names if len(names) >= 2 else None
    idle_before = cluster.wait("the pool refilled to 2 idle pods", idle, timeout=60)

    cluster.create(ns, "sandboxes", _fork_object("f-missing", {"sandbox": "nosuch"}))
    sb = cluster.wait_phase(ns, "f-missing", "Failed", timeout=30)
    cond = sb["status"]["conditions"][0]
    assert cond["reason"] == "ForkSourceNotFound" and "nosuch" in cond["message"]
    # Decided before any claim: the idle pods are the same ones.
    assert {p.metadata.name for p in cluster.pods(ns, "py", "ready")} == idle_before

    cluster.create(ns, "sandboxes", _fork_object("f-nockpt", {"sandbox": "src", "checkpoint": "nosuch"}))
    sb = cluster.wait_phase(ns, "f-nockpt", "Failed", timeout=60)
    cond = sb["status"]["conditions"][0]
    assert cond["reason"] == "ForkFailed" and "nosuch" in cond["message"], cond
    # The source is untouched.
    assert cluster.get(ns, "sandboxes", "src")["status"]["phase"] == "Ready"

    # The API server refuses a bad forkOf before the operator sees it.
    code, _, err = arl("sandbox", "fork", "src", "-n", ns, "--checkpoint", "../x")
    assert code != 0 and "--checkpoint" in err
