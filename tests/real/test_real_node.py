"""ARL on a real node: the operator Deployment installed by Helm runs in a pod with in-cluster
config, and pools of real containers (busybox, Debian python3, a shell-less non-root image) get
Ready through the kubelet's readiness probe on the injected sidecar, allocate and run tasks."""
import os
import subprocess
import time
from pathlib import Path

import pytest
from kubernetes import client

from op_cluster import GROUP, VERSION, _ready

ARL_NS, RELEASE, NODE = "arl-system", "arl-operator", "arl-real"
POD_NET = "198.19."  # the node's pod range 198.19.128.0/17

# image, a command printing "hello" there, and what `id` shows when the image has a tool for it.
IMAGES = {
    "busybox": ("localhost/arl-test/busybox:1", ["echo", "hello"]),
    "python": ("localhost/arl-test/python:1", ["python3", "-c", "print('hello')"]),
    "nonroot": ("localhost/arl-test/nonroot:1", ["/bin/echo", "hello"]),
}


def operator_pod(cluster):
    pods = [p for p in cluster.core.list_namespaced_pod(
        ARL_NS, label_selector=f"app.kubernetes.io/name={RELEASE}").items if p.metadata.deletion_timestamp is None]
    assert len(pods) == 1, [p.metadata.name for p in pods]
    return pods[0]


def test_operator_deployment_is_available_with_probes_lease_and_metrics(cluster):
    apps = client.AppsV1Api(cluster.api_client)
    dep = apps.read_namespaced_deployment(RELEASE, ARL_NS)
    available = {c.type: c.status for c in dep.status.conditions or []}
    assert available.get("Available") == "True", dep.status.conditions
    assert dep.status.ready_replicas == 1

    pod = operator_pod(cluster)
    assert pod.spec.node_name == NODE
    assert pod.status.pod_ip.startswith(POD_NET)
    (status,) = pod.status.container_statuses
    assert status.ready and status.container_id.startswith("containerd://")
    assert status.image == "ghcr.io/arl/arl:" + dep.spec.template.spec.containers[0].image.split(":")[-1]
    # Ready means the kubelet's httpGet /readyz on the health port answered; the liveness probe
    # is the same server's /healthz.
    c = pod.spec.containers[0]
    assert c.readiness_probe.http_get.path == "/readyz" and c.liveness_probe.http_get.path == "/healthz"
    # In-cluster config: a projected ServiceAccount token, no kubeconfig anywhere.
    assert any(v.projected for v in pod.spec.volumes), "no projected token volume"
    assert not any(e.name == "KUBECONFIG" for e in c.env or [])

    # Leader election: the Lease names this pod (identity POD_NAME_<pid>) and is being renewed.
    leases = client.CoordinationV1Api(cluster.api_client)
    lease = leases.read_namespaced_lease(RELEASE, ARL_NS)
    assert lease.spec.holder_identity.startswith(pod.metadata.name + "_"), lease.spec.holder_identity
    cluster.wait("the Lease renewed", lambda: leases.read_namespaced_lease(RELEASE, ARL_NS).spec.renew_time
                 > lease.spec.renew_time, timeout=30, interval=0.5)

    # The metrics port through the API server's pod proxy: API server -> bridge -> the pod.
    metrics = cluster.core.connect_get_namespaced_pod_proxy_with_path(
        f"{pod.metadata.name}:8081", ARL_NS, "metrics")
    assert "# TYPE" in metrics


def test_manuals_log_command_finds_the_operator(cluster):
    # `kubectl logs -n arl-system -l app=arl-operator` as the operations guide types it: the chart
    # puts the label on the pod template (not the immutable selector).
    pod = operator_pod(cluster)
    assert pod.metadata.labels.get("app") == "arl-operator", pod.metadata.labels
    kubectl = Path(os.environ.get("ARL_CACHE", Path.home() / ".cache" / "arl")) / "bin" / "k8s-v1.33.13" / "kubectl"
    kc = [str(kubectl), "--kubeconfig", os.environ["ARL_REAL_KUBECONFIG"]]
    names = subprocess.run(kc + ["get", "pods", "-n", ARL_NS, "-l", "app=arl-operator", "-o", "name"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert names == [f"pod/{pod.metadata.name}"]
    r = subprocess.run(kc + ["logs", "-n", ARL_NS, "-l", "app=arl-operator", "--tail=-1"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert '"msg":"operator started"' in r.stdout, r.stdout[:2000]


@pytest.mark.parametrize("kind", list(IMAGES))
def test_pool_of_real_containers_gets_ready_allocates_and_runs_a_task(cluster, ns, kind):
    image, hello = IMAGES[kind]
    replicas = 2
    t0 = time.monotonic()
    cluster.create(ns, "warmpools", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "WarmPool", "metadata": {"name": kind},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [
            {"name": "main", "image": image, "imagePullPolicy": "Never"}]}}}})
    cluster.wait(f"pool {kind} readyReplicas={replicas}",
                 lambda: (w := cluster.get(ns, "warmpools", kind)) and w.get("status", {}).get("readyReplicas") == replicas,
                 timeout=120, interval=0.1)
    fill = time.monotonic() - t0
    print(f"\n{kind}: pool of {replicas} Ready after {fill:.2f}s")  # shown with pytest -s

    pods = cluster.pods(ns, kind)
    assert len(pods) == replicas
    for p in pods:
        assert p.spec.node_name == NODE and p.status.pod_ip.startswith(POD_NET)
        assert _ready(p)
        main = next(s for s in p.status.container_statuses if s.name == "main")
        assert main.ready and main.container_id.startswith("containerd://")
        assert main.image == image
        init = next(s for s in p.status.init_container_statuses if s.name == "arl-init")
        assert init.state.terminated and init.state.terminated.exit_code == 0
        probe = next(c for c in p.spec.containers if c.name == "main").readiness_probe
        assert probe.http_get.path == "/health" and probe.http_get.port == 8080

    t1 = time.monotonic()
    cluster.sandbox(ns, "sb", kind)
    sb = cluster.wait_phase(ns, "sb", "Ready", timeout=30)
    print(f"{kind}: sandbox Ready after {time.monotonic() - t1:.3f}s")
    assert sb["status"]["podName"] in [p.metadata.name for p in pods]
    assert sb["status"]["podIP"].startswith(POD_NET)

    steps = [{"name": "hello", "type": "Command", "command": hello}]
    if kind == "nonroot":
        steps.append({"name": "id", "type": "Command", "command": ["/bin/id"]})
    cluster.task(ns, "hello", "sb", steps, timeout="30s")
    task = cluster.wait_task(ns, "hello", timeout=60)
    assert task["status"]["state"] == "Succeeded", task["status"]
    assert task["status"]["steps"][0]["stdout"] == "hello\n"
    if kind == "nonroot":
        # The image's USER 1000 holds in the container, the sidecar and the task's process.
        assert task["status"]["steps"][1]["stdout"] == "uid=1000 gid=1000\n"

    allocated = sb["status"]["podName"]
    cluster.delete(ns, "sandboxes", "sb")
    cluster.wait("the sandbox's pod deleted", lambda: allocated not in [p.metadata.name for p in cluster.pods(ns, kind)],
                 timeout=60, interval=0.2)
    cluster.wait("the pool refilled", lambda: (w := cluster.get(ns, "warmpools", kind))
                 and w.get("status", {}).get("readyReplicas") == replicas, timeout=120, interval=0.2)
    cluster.delete(ns, "warmpools", kind)
    cluster.wait(f"pool {kind}'s pods gone", lambda: not cluster.pods(ns, kind), timeout=60, interval=0.2)


def test_node_listens_only_on_loopback_and_the_node_address():
    # Every process real-node.sh started (pid files in its state dir, next to the kubeconfig):
    # nothing may listen on the machine's external interface or a wildcard address.
    state = Path(os.environ["ARL_REAL_KUBECONFIG"]).parent
    pids = {f.stem: f.read_text().strip() for f in (state / "pids").glob("*.pid")}
    assert {"kube-apiserver", "kubelet", "kube-proxy", "containerd", "etcd"} <= set(pids), pids
    out = subprocess.run(["ss", "-Hltnup"], capture_output=True, text=True, check=True).stdout
    seen = []
    for line in out.splitlines():
        for name, pid in pids.items():
            if f"pid={pid}," in line:
                addr = line.split()[4].rsplit(":", 1)[0]
                seen.append((name, addr))
                assert addr == "198.19.128.1" or addr.startswith("127."), f"{name} listens on {addr}"
    assert ("kube-apiserver", "198.19.128.1") in seen and ("kubelet", "198.19.128.1") in seen, seen
