#!/usr/bin/env python3
"""Episodes per second through the Python SDK with N concurrent sessions.

Each episode opens a SandboxSession, writes a file, runs one command and
closes. Two modes: `execute` (the write and the run are Task objects, i.e. the
operator drives them) and `run` (write_file/run straight to the sandbox's
executor through the API server's pod proxy). Prints episodes/s and p50/p99 of
every step, and, for reference, the latency of the sidecar's own /execute
(called directly at the pod IP, and as reported in its duration_ms) so the
proxy's overhead can be read off. After the table: the client's CPU per
episode (process time / episodes) and the TCP connections the process holds to
the API server (peak and at the end, sampled from /proc).

For a before/after on the same cluster, ARL_BENCH_SDK=<path to another
sdk/python/arl-client> benchmarks that copy of the SDK instead.

    ARL_E2E_KUBECONFIG=/tmp/arl-ci/kubeconfig bench/sdk_bench.py --concurrency 1,8,32
"""
from __future__ import annotations

import argparse
import concurrent.futures
import threading
import http.client
import json
import os
import statistics
import sys
import time
import uuid
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
# ARL_BENCH_SDK points at another copy of the SDK (e.g. main's, for a baseline on the same cluster).
sys.path.insert(0, os.environ.get("ARL_BENCH_SDK") or os.path.join(HERE, "..", "sdk", "python", "arl-client"))

from arl_client import ArlClient, SandboxSession, sandbox_token  # noqa: E402
from arl_client.errors import AlreadyExistsError  # noqa: E402
from conn_count import ConnectionSampler  # noqa: E402

STEPS = ("open", "write", "run", "close", "episode")


def pct(values: List[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))]


def episode(client: ArlClient, pool: str, ns: str, mode: str, i: int) -> Dict[str, float]:
    t: Dict[str, float] = {}
    t0 = time.perf_counter()
    s = SandboxSession(pool, namespace=ns, client=client, timeout=300)
    s.open()
    t1 = time.perf_counter()
    try:
        if mode == "execute":
            r = s.execute([{"name": "w", "type": "FilePatch", "path": f"ep{i}.txt", "content": f"episode {i}\n"}])
            assert r["status"]["state"] == "Succeeded", r["status"]
            t2 = time.perf_counter()
            r = s.execute([{"name": "r", "type": "Command", "command": ["cat", f"ep{i}.txt"]}])
            assert r["status"]["stdout"] == f"episode {i}\n", r["status"]
        else:
            s.write_file(f"ep{i}.txt", f"episode {i}\n")
            t2 = time.perf_counter()
            r = s.run(["cat", f"ep{i}.txt"])
            assert r.stdout == f"episode {i}\n", r
            t["sidecar_ms"] = r.duration_ms or 0.0
        t3 = time.perf_counter()
    finally:
        s.close()
    t4 = time.perf_counter()
    t.update(open=t1 - t0, write=t2 - t1, run=t3 - t2, close=t4 - t3, episode=t4 - t0)
    return t


def direct_execute_ms(client: ArlClient, pool: str, ns: str, calls: int) -> Dict[str, List[float]]:
    """/execute of `cat` called directly at the pod IP (with the sandbox's own token) and through run(), on one sandbox, interleaved."""
    out: Dict[str, List[float]] = {"direct": [], "proxy": [], "sidecar": []}
    with SandboxSession(pool, namespace=ns, client=client, timeout=300) as s:
        s.write_file("probe.txt", "x")
        token = sandbox_token(client.pool_token(pool, ns), s.sandbox["metadata"]["uid"])
        body = json.dumps({"command": ["cat", "probe.txt"], "timeout_seconds": 10})
        conn = None
        try:
            conn = http.client.HTTPConnection(s.pod_ip, 8080, timeout=2)
            conn.connect()
        except OSError as e:
            print(f"  (pod IP {s.pod_ip} not reachable from here: {e}; direct numbers omitted)")
            conn = None
        for _ in range(calls):
            if conn is not None:
                t0 = time.perf_counter()
                conn.request("POST", "/execute", body, {"Content-Type": "application/json", "X-Arl-Token": token})
                resp = conn.getresponse()
                data = resp.read()
                out["direct"].append((time.perf_counter() - t0) * 1000)
                assert resp.status == 200, data
            t0 = time.perf_counter()
            r = s.run(["cat", "probe.txt"])
            out["proxy"].append((time.perf_counter() - t0) * 1000)
            out["sidecar"].append(r.duration_ms or 0.0)
        if conn is not None:
            conn.close()
    return out


def ensure_pool(client: ArlClient, name: str, ns: str, image: str, replicas: int) -> None:
    try:
        client.create_pool(name, image, replicas=replicas, namespace=ns)
    except AlreadyExistsError:
        client.scale_pool(name, replicas, ns)
    client.wait_pool_ready(name, min_ready=replicas, namespace=ns, timeout=600)


def ensure_namespace(client: ArlClient, ns: str) -> None:
    from kubernetes import client as k
    from kubernetes.client.exceptions import ApiException
    try:
        k.CoreV1Api(client.transport.api_client).create_namespace({"metadata": {"name": ns}})
    except ApiException as e:
        if e.status != 409:
            raise


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", default=os.environ.get("ARL_E2E_KUBECONFIG") or os.environ.get("KUBECONFIG"))
    ap.add_argument("--namespace", default="arl-sdk-bench")
    ap.add_argument("--pool", default="sdk-bench")
    ap.add_argument("--image", default="python:3.12-slim")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--modes", default="execute,run")
    ap.add_argument("--episodes", type=int, default=0, help="episodes per (mode, N); default max(20, 3N)")
    ap.add_argument("--pool-replicas", type=int, default=0, help="default: the largest N")
    ap.add_argument("--probe-calls", type=int, default=50)
    args = ap.parse_args()
    if not args.kubeconfig:
        print("sdk_bench: set --kubeconfig or ARL_E2E_KUBECONFIG", file=sys.stderr)
        return 2
    levels = [int(x) for x in args.concurrency.split(",")]
    client = ArlClient.shared(args.kubeconfig)
    ensure_namespace(client, args.namespace)
    ensure_pool(client, args.pool, args.namespace, args.image, args.pool_replicas or max(levels))
    print(f"sdk_bench: pool {args.namespace}/{args.pool}, run id {uuid.uuid4().hex[:6]}")

    probe = direct_execute_ms(client, args.pool, args.namespace, args.probe_calls)
    for key, label in (("direct", "sidecar /execute direct (pod IP)"), ("sidecar", "sidecar duration_ms"),
                       ("proxy", "session.run via pod proxy")):
        if probe[key]:
            print(f"  {label:34s} p50 {pct(probe[key], 50):7.2f} ms  p99 {pct(probe[key], 99):7.2f} ms")
    if probe["direct"]:
        print(f"  run() overhead over direct /execute: p50 +{pct(probe['proxy'], 50) - pct(probe['direct'], 50):.2f} ms"
              " (target <= 3 ms)")

    print(f"\n{'mode':8s} {'N':>3s} {'eps':>5s} {'ep/s':>7s}  " + "  ".join(f"{s + ' p50/p99 ms':>20s}" for s in STEPS))
    extra: List[str] = []
    for mode in args.modes.split(","):
        for n in levels:
            count = args.episodes or max(20, 3 * n)
            sampler = ConnectionSampler(client.transport.host)
            sampler.start()
            cpu0 = time.process_time()
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(n) as ex:
                results = list(ex.map(lambda i: episode(client, args.pool, args.namespace, mode, i), range(count)))
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu0
            sampler.stop()
            extra.append(f"{mode:8s} {n:3d}: client CPU {cpu / count * 1000:.1f} ms/episode; TCP connections to the "
                         f"API server: peak {sampler.peak}, at the end {sampler.last}; threads peak "
                         f"{sampler.peak_threads}")
            cells = []
            for s in STEPS:
                v = [r[s] * 1000 for r in results]
                cells.append(f"{pct(v, 50):9.1f}/{pct(v, 99):<9.1f}")
            print(f"{mode:8s} {n:3d} {count:5d} {count / wall:7.2f}  " + "  ".join(f"{c:>20s}" for c in cells))
            if mode == "run":
                sc = [r["sidecar_ms"] for r in results]
                print(f"{'':8s} {'':3s} {'':5s} {'':7s}  sidecar duration_ms of run: p50 {pct(sc, 50):.2f} "
                      f"p99 {pct(sc, 99):.2f}; run p50 minus it: "
                      f"{pct([r['run'] * 1000 for r in results], 50) - statistics.median(sc):.2f} ms")
    print()
    for line in extra:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
