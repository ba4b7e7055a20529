#!/usr/bin/env python3
"""Fork of a live sandbox (issue 16): a 1,000-file / 10 MB workdir forked into N sandboxes.

Each round times SandboxSession.fork(N) end to end: one checkpoint of the source, N Sandbox
objects with spec.forkOf, the operator's allocation of N warm pods, and each new pod's sidecar
importing the checkpoint straight from the source's pod and restoring its workdir, until all N
are Ready. The forks are then deleted and the pool refills before the next round. Prints
p50/p90 over the rounds, and the checkpoint alone.

    ARL_E2E_KUBECONFIG=/tmp/arl-bench/kubeconfig bench/fork_bench.py --forks 8 --rounds 10
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sdk", "python", "arl-client"))

from arl_client import ArlClient, SandboxSession  # noqa: E402
from arl_client.models import pool_template  # noqa: E402

# 1,000 files of 10,000 random bytes in 20 directories: 10 MB that does not compress away.
MAKE_TREE = ("cd /workspace && for d in $(seq 0 19); do mkdir -p src/d$d; done && "
             "head -c 10000000 /dev/urandom > /tmp/arl-fork-bench-blob && "
             "i=0; while [ $i -lt 1000 ]; do "
             "dd if=/tmp/arl-fork-bench-blob of=src/d$((i % 20))/f$i bs=10000 skip=$i count=1 status=none; "
             "i=$((i + 1)); done; rm -f /tmp/arl-fork-bench-blob; find src -type f | wc -l")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", default=os.environ.get("ARL_E2E_KUBECONFIG"))
    ap.add_argument("--forks", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--image", default=os.environ.get("ARL_E2E_IMAGE", "python:3.12-slim"))
    ap.add_argument("--memory-workspace", action="store_true",
                    help="the pool's /workspace is an emptyDir with medium: Memory (tmpfs)")
    a = ap.parse_args()
    client = ArlClient(kubeconfig=a.kubeconfig)
    ns = "default"
    pool = f"fork-bench-{uuid.uuid4().hex[:6]}"
    replicas = a.forks + 2
    template = pool_template(a.image)
    if a.memory_workspace:
        template["spec"]["volumes"] = [{"name": "workspace", "emptyDir": {"medium": "Memory"}}]
    client.create_pool(pool, replicas=replicas, template=template, namespace=ns)
    try:
        client.wait_pool_ready(pool, min_ready=replicas, namespace=ns, timeout=300)
        with SandboxSession(pool, namespace=ns, client=client, timeout=120) as src:
            made = src.run(MAKE_TREE, timeout=300)
            assert made.exit_code == 0 and made.stdout.strip() == "1000", (made.stdout, made.stderr)
            ckpt_ms, fork_ms = [], []
            for _ in range(a.rounds):
                client.wait_pool_ready(pool, min_ready=a.forks, namespace=ns, timeout=300)
                t0 = time.perf_counter()
                cid = src.checkpoint()
                ckpt_ms.append((time.perf_counter() - t0) * 1000)
                src.delete_checkpoint(cid)
                t0 = time.perf_counter()
                forks = src.fork(a.forks)
                fork_ms.append((time.perf_counter() - t0) * 1000)
                probe = forks[-1].run("find /workspace/src -type f | wc -l")
                assert probe.stdout.strip() == "1000", probe
                for f in forks:
                    f.close()
                for c in src.checkpoints():
                    src.delete_checkpoint(c["id"])
        where = "tmpfs (emptyDir medium: Memory)" if a.memory_workspace else "the node's disk"
        print(f"fork of a 1,000-file / 10 MB workdir on {where} into {a.forks} sandboxes, all Ready (n={a.rounds}): "
              f"p50 {statistics.median(fork_ms):.0f} ms, p90 {pct(fork_ms, 90):.0f} ms (target p50 < 300 ms)")
        print(f"  its checkpoint through the pod proxy alone: p50 {statistics.median(ckpt_ms):.0f} ms")
    finally:
        client.delete_pool(pool, ns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
