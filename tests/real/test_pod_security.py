"""Pod Security "restricted" on a real node: ARL's injected init container and executor settings
keep a compliant template compliant (the pods are admitted and run with a read-only root
filesystem), and a template the namespace refuses gets a pool condition quoting the admission
error instead of a silent retry loop."""
from op_cluster import GROUP, VERSION

NONROOT = "localhost/arl-test/nonroot:1"   # USER 1000, no shell: /bin/echo and /bin/id only
BUSYBOX = "localhost/arl-test/busybox:1"


def _pool(name, image, pod_sc=None, container_sc=None):
    container = {"name": "main", "image": image, "imagePullPolicy": "Never"}
    if container_sc:
        container["securityContext"] = container_sc
    spec = {"containers": [container]}
    if pod_sc:
        spec["securityContext"] = pod_sc
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "WarmPool", "metadata": {"name": name},
            "spec": {"replicas": 1, "template": {"spec": spec}}}


def test_compliant_template_is_admitted_and_runs_tasks_on_a_read_only_root(cluster, restricted_ns):
    ns = restricted_ns
    cluster.create(ns, "warmpools", _pool(
        "strict", NONROOT,
        pod_sc={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        container_sc={"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                      "readOnlyRootFilesystem": True}))
    cluster.wait("pool strict readyReplicas=1",
                 lambda: (w := cluster.get(ns, "warmpools", "strict")) and
                 w.get("status", {}).get("readyReplicas") == 1, timeout=120, interval=0.2)
    pod = cluster.pods(ns, "strict")[0]
    init = next(c for c in pod.spec.init_containers if c.name == "arl-init")
    assert init.security_context.run_as_non_root and init.security_context.run_as_user == 65532
    assert init.security_context.capabilities.drop == ["ALL"]

    cluster.sandbox(ns, "sb", "strict")
    cluster.wait_phase(ns, "sb", "Ready", timeout=30)
    cluster.task(ns, "t", "sb", [
        {"name": "write", "type": "FilePatch", "path": "/workspace/notes/hello.txt", "content": "hi\n"},
        {"name": "echo", "type": "Command", "command": ["/bin/echo", "written"]},
        {"name": "id", "type": "Command", "command": ["/bin/id"]},
    ], timeout="30s")
    task = cluster.wait_task(ns, "t", timeout=60)
    assert task["status"]["state"] == "Succeeded", task["status"]
    assert [s["state"] for s in task["status"]["steps"]] == ["Succeeded"] * 3
    assert task["status"]["steps"][1]["stdout"] == "written\n"
    assert task["status"]["steps"][2]["stdout"] == "uid=1000 gid=1000\n"


def test_refused_template_gets_a_pool_condition_quoting_admission(cluster, restricted_ns):
    ns = restricted_ns
    cluster.create(ns, "warmpools", _pool("loose", BUSYBOX))
    pool = cluster.wait("pool loose says why it has no pods",
                        lambda: (w := cluster.get(ns, "warmpools", "loose")) and any(
                            c.get("reason") == "PodCreateFailed" for c in w.get("status", {}).get("conditions", [])) and w,
                        timeout=60, interval=0.2)
    ready = next(c for c in pool["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert 'violates PodSecurity "restricted:latest"' in ready["message"], ready["message"]
    assert not cluster.pods(ns, "loose")
    events = cluster.core.list_namespaced_event(ns, field_selector="involvedObject.name=loose").items
    assert any(e.reason == "PodCreateFailed" and e.type == "Warning" for e in events)
