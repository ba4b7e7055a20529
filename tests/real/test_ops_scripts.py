"""The operations guide's helpers on a real node: the operator Deployment the Helm chart installed
(healthy: every helper exits 0, with its real logs and resources), a Deployment whose image is not
there, one scaled to zero, a crash-looping pod (previous logs), and `kubectl exec` into a pool pod
with the command's own exit code. The local-node cases are in tests/e2e/test_ops_scripts.py."""
import os
import re
import sys
from pathlib import Path

from kubernetes import client

from op_cluster import _ready

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from ops_scripts import find_uv, plain_path, run  # noqa: E402

ARL_NS, RELEASE = "arl-system", "arl-operator"
BUSYBOX = "localhost/arl-test/busybox:1"


def kubeconfig():
    return os.environ["ARL_REAL_KUBECONFIG"]


def deployment(cluster, ns, name, image, replicas=1, command=None):
    labels = {"app": name}
    container = {"name": "main", "image": image, "imagePullPolicy": "Never"}
    if command:
        container["command"] = command
    client.AppsV1Api(cluster.api_client).create_namespaced_deployment(ns, {
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"terminationGracePeriodSeconds": 0, "containers": [container]}}}})


def pods_of(cluster, ns, app):
    return sorted((p for p in cluster.core.list_namespaced_pod(ns, label_selector=f"app={app}").items
                   if p.metadata.deletion_timestamp is None), key=lambda p: p.metadata.name)


def test_operator_deployment_is_healthy_for_every_helper(cluster):
    r = run(kubeconfig(), "verify_deployment.py", RELEASE, ARL_NS, "120", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    (pod,) = pods_of_release(cluster)
    assert r.stdout == (f"deployment {ARL_NS}/{RELEASE} is healthy: 1/1 ready, 1/1 available, 1/1 up to date; "
                        f"pods Running and ready: {pod.metadata.name}\n")

    uv = find_uv()
    if uv:  # the guide's own form, from a shell whose python lacks `kubernetes`
        r = run(kubeconfig(), "verify_deployment.py", RELEASE, ARL_NS, "60", prefix=(uv, "run", "python"),
                path=plain_path(), timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith(f"deployment {ARL_NS}/{RELEASE} is healthy: 1/1 ready")

    r = run(kubeconfig(), "wait_for_pod.sh", ARL_NS, RELEASE, "60")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == f"pod {ARL_NS}/{pod.metadata.name}: Running, 1/1 containers ready\n"

    r = run(kubeconfig(), "debug_pod.sh", ARL_NS, pod.metadata.name)
    assert r.returncode == 0, r.stdout + r.stderr
    container = pod.spec.containers[0].name
    logs = section(r.stdout, f"Logs of container {container} (last 200 lines)")
    # The operator's real log (JSON lines in a pod), through the kubelet: not kubectl's excuse.
    assert "(unavailable" not in logs and re.search(r'^\{.*"msg":"', logs, re.M), logs
    assert f"{container}: requests=" + '{"cpu":"100m","memory":"32Mi"} limits={"cpu":"1","memory":"256Mi"}' \
        in section(r.stdout, "Resources: requests and limits")
    assert "QoS class: Burstable" in r.stdout
    assert r.stdout.rstrip().endswith(f"verdict: healthy: {pod.metadata.name}: Running, 1/1 containers ready")

    r = run(kubeconfig(), "wait_for_pod.sh", ARL_NS, "no-such-pod", "1")
    assert r.returncode == 1 and "no pod matches 'no-such-pod'" in r.stdout


def pods_of_release(cluster):
    return [p for p in cluster.core.list_namespaced_pod(ARL_NS, label_selector=f"app.kubernetes.io/name={RELEASE}").items
            if p.metadata.deletion_timestamp is None]


def section(report, title):
    """The text of one `===== title` section of debug_pod.sh's report."""
    start = report.index(f"===== {title}\n") + len(title) + 7
    end = report.find("\n===== ", start)
    return report[start:end if end >= 0 else None]


def test_deployment_whose_image_is_missing_fails_every_helper(cluster, ns):
    deployment(cluster, ns, "broken", "localhost/arl-test/no-such-image:1")
    cluster.wait("the broken pod says ErrImageNeverPull", lambda: any(
        (s.state.waiting and s.state.waiting.reason == "ErrImageNeverPull")
        for p in pods_of(cluster, ns, "broken") for s in p.status.container_statuses or []), timeout=60, interval=0.3)
    (pod,) = pods_of(cluster, ns, "broken")
    name = pod.metadata.name

    r = run(kubeconfig(), "verify_deployment.py", "broken", ns, "4")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"deployment {ns}/broken is not healthy after 4s:\n" in r.stdout
    assert "  - ready replicas 0 of 1 desired\n" in r.stdout
    assert f"  - pod {name}: Pending; container main: waiting: ErrImageNeverPull: " in r.stdout
    assert "recent warning events:\n" in r.stdout and f"pod/{name}: ErrImageNeverPull: " in r.stdout

    r = run(kubeconfig(), "wait_for_pod.sh", ns, "broken", "2")
    assert r.returncode == 1
    assert f"  not ready: {name}: Pending, 0/1 containers ready; main=ErrImageNeverPull" in r.stdout

    r = run(kubeconfig(), "debug_pod.sh", ns, name)
    assert r.returncode == 1
    assert "ErrImageNeverPull" in section(r.stdout, f"Events of pod {ns}/{name}")
    assert "ErrImageNeverPull" in section(r.stdout, f"Recent warnings in namespace {ns}")
    assert r.stdout.rstrip().endswith(f"verdict: not healthy: {name}: Pending, 0/1 containers ready; "
                                      "main=ErrImageNeverPull")


def test_deployment_scaled_to_zero_is_not_healthy(cluster, ns):
    deployment(cluster, ns, "web", BUSYBOX, command=["sleep", "3600"])
    r = run(kubeconfig(), "verify_deployment.py", "web", ns, "120", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    client.AppsV1Api(cluster.api_client).patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 0}})
    r = run(kubeconfig(), "verify_deployment.py", "web", ns, "3")
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("  - spec.replicas is 0: the deployment is scaled to zero and runs nothing "
            f"(kubectl scale deployment/web --replicas=1 -n {ns})\n") in r.stdout


def test_debug_pod_shows_the_previous_logs_of_a_crashed_container(cluster, ns):
    # Crashes once, then runs: the kubelet keeps one dead instance, and a container that crashed
    # again would push the first out before it could be read.
    script = ("if [ -e /data/ran ]; then echo second run; exec sleep 3600; fi; "
              "touch /data/ran; echo first run; echo boom >&2; exit 3")
    cluster.core.create_namespaced_pod(ns, {
        "metadata": {"name": "crasher"},
        "spec": {"terminationGracePeriodSeconds": 0, "volumes": [{"name": "data", "emptyDir": {}}],
                 "containers": [{"name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                                 "command": ["sh", "-c", script],
                                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}})
    cluster.wait("crasher running again after one crash", lambda: any(
        (s.restart_count or 0) >= 1 and s.ready
        for s in cluster.core.read_namespaced_pod("crasher", ns).status.container_statuses or []),
        timeout=90, interval=0.3)
    r = run(kubeconfig(), "debug_pod.sh", ns, "crasher")
    assert r.returncode == 0, r.stdout + r.stderr
    previous = section(r.stdout, "Logs of container main, previous instance")
    assert "first run" in previous and "boom" in previous and "second run" not in previous, previous
    assert "second run" in section(r.stdout, "Logs of container main (last 200 lines)")
    containers = section(r.stdout, "Containers: state, restarts, last state")
    assert "main: ready=true restarts=1 " in containers and '"exitCode":3' in containers, containers
    assert r.stdout.rstrip().endswith("verdict: healthy: crasher: Running, 1/1 containers ready")


def test_exec_test_runs_in_a_pool_pod_with_the_commands_exit_code(cluster, ns):
    cluster.pool(ns, "bb", 1, image=BUSYBOX)
    cluster.wait("pool bb ready", lambda: [p for p in cluster.pods(ns, "bb") if _ready(p)], timeout=120, interval=0.3)
    (pod,) = [p.metadata.name for p in cluster.pods(ns, "bb")]

    r = run(kubeconfig(), "exec_test.sh", ns, "bb", "echo", "hello")
    assert (r.returncode, r.stdout) == (0, "hello\n"), r.stderr
    assert f"exec_test.sh: running in pod {ns}/{pod}: echo hello\n" in r.stderr

    # The guide's health check of the sidecar, from inside the pod (busybox's wget for curl).
    r = run(kubeconfig(), "exec_test.sh", ns, "bb", "wget -qO- http://localhost:8080/health")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip(), "the sidecar's /health said nothing"

    r = run(kubeconfig(), "exec_test.sh", ns, "bb", "echo out; exit 3")
    assert (r.returncode, r.stdout) == (3, "out\n"), r.stderr
    assert f"exec_test.sh: `sh -c echo out; exit 3` exited with code 3 in pod {ns}/{pod}" in r.stderr

    r = run(kubeconfig(), "exec_test.sh", "-c", "no-such-container", ns, "bb", "true")
    assert r.returncode == 1
    assert f"exec_test.sh: kubectl could not run `true` in pod {ns}/{pod} (exit 1): " in r.stderr
    assert "no-such-container" in r.stderr
