"""Issue 19, "the token must be worthless to sandbox code": each allocated pod accepts only its
own sandbox's token (docs/design.md "Sandbox tokens"). Runs on the local node and, in the real
tier, on real containers (scripts/test.sh real runs this directory again)."""
import base64

from op_cluster import _ready, run_sandbox_probe, sandbox_token
from test_controllers_e2e import ready_sandbox


def proxy_status(cluster, ns, pod, token):
    params = cluster.api_client.param_serialize(
        "GET", f"/api/v1/namespaces/{ns}/pods/{pod}:8080/proxy/processes",
        header_params={"X-Arl-Token": token, "Accept": "application/json"}, auth_settings=["BearerToken"])
    resp = cluster.api_client.call_api(*params)
    resp.read()
    return resp.status


def test_each_sandbox_pod_accepts_only_its_own_token(cluster, ns):
    cluster.ready_pool(ns, "py", 3)
    a = ready_sandbox(cluster, ns, "a")
    b = ready_sandbox(cluster, ns, "b")
    pool_token = base64.b64decode(cluster.core.read_namespaced_secret("arl-pool-py", ns).data["token"]).decode()
    token_a, token_b = (sandbox_token(pool_token, s["metadata"]["uid"]) for s in (a, b))
    pod_a, pod_b = a["status"]["podName"], b["status"]["podName"]

    assert proxy_status(cluster, ns, pod_a, token_a) == 200
    assert proxy_status(cluster, ns, pod_b, token_b) == 200
    assert proxy_status(cluster, ns, pod_a, pool_token) == 401  # the pool token stopped working
    assert proxy_status(cluster, ns, pod_b, token_a) == 401     # and A's is worth nothing on B
    # An idle pod still takes the pool token: no sandbox code has run there (nothing runs on an
    # idle pod but the operator's bind).
    idle = cluster.wait("an idle ready pod", lambda: [p for p in cluster.pods(ns, "py", state="ready") if _ready(p)],
                        timeout=60)
    assert proxy_status(cluster, ns, idle[0].metadata.name, pool_token) == 200

    report = run_sandbox_probe(cluster, ns, "a", a["status"]["podIP"], b["status"]["podIP"], (pool_token, token_a, token_b))
    print("sandbox probe:", report)
    assert report["counts"]["cmdline"] > 0 and report["candidates"] > 0, report  # it did look
    assert report["sidecars"] >= 1, report  # and saw its own sidecar
    assert report["found"] == [], "a token was readable by sandbox code"
    assert report["accepted"] == [], "a string sandbox code could read opened a sidecar"
    if report["tried_mem"]:
        # In a container (no CAP_SYS_PTRACE) the non-dumpable sidecar's memory stays closed.
        assert report["counts"]["mem"] == 0, report
