"""The soak behind scripts/soak.sh: cycles of mixed load at a fixed rate on a local cluster,
with resource samples. One cycle: create a sandbox and wait for Ready, run a two-step Task on it,
/execute through the API server's pod proxy (the SDK's path), delete the sandbox; plus, each
cycle, a task and an exec on one long-lived sandbox whose sidecar is sampled.

Bounds (after a warm-up of a fifth of the run, at least 1 min: the caches, pools and
allocator arenas fill first): the operator's and the node agent's RSS may grow at most
max(16 MiB, 25 %) over their post-warm-up value, their fds at most 32; the long-lived
sidecar's RSS at most 8 MiB, its fds at most 16. API calls are retried on 409/429/5xx and
connection errors; anything else, or a sandbox not Ready / task not done within 60 s, is an
error and fails the soak."""
import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from arl_client import ArlClient, SandboxSession

GROUP, VERSION = "arl.infra.io", "v1alpha1"


class Soak:
    def __init__(self, a):
        self.a = a
        self.kubeconfig = str(Path(a.state) / "kubeconfig")
        self.api = config.new_client_from_config(config_file=self.kubeconfig)
        self.api.configuration.connection_pool_maxsize = 32
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.sdk = ArlClient(kubeconfig=self.kubeconfig)
        self.ns = f"soak-{uuid.uuid4().hex[:6]}"
        self.lat = {"ready": [], "task": [], "exec": [], "delete": []}
        self.errors, self.retries, self.cycles = [], 0, 0
        self.lock = threading.Lock()
        self.samples = []

    # --- API with retries for what a restart or a conflict may cause
    def call(self, fn):
        for attempt in range(50):
            try:
                return fn()
            except (ApiException, HTTPError, OSError) as e:
                status = getattr(e, "status", None)
                if status is not None and status < 500 and status not in (409, 429):
                    raise
                with self.lock:
                    self.retries += 1
                time.sleep(min(0.1 * (attempt + 1), 1))
        raise RuntimeError("gave up after 50 retries")

    def get(self, plural, name):
        try:
            return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, plural, name)
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def create(self, plural, kind, name, spec):
        return self.call(lambda: self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.ns, plural, {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind,
                                              "metadata": {"name": name}, "spec": spec}))

    def wait(self, what, fn, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = self.call(fn)
            if v:
                return v
            time.sleep(0.01)
        raise TimeoutError(f"{what}: not within {timeout}s")

    def run_task(self, sandbox, name):
        t0 = time.monotonic()
        self.create("tasks", "Task", name, {"sandboxRef": sandbox, "ttlSecondsAfterFinished": 30, "steps": [
            {"name": "w", "type": "FilePatch", "path": f"{name}.txt", "content": name},
            {"name": "r", "type": "Command", "command": ["cat", f"/workspace/{name}.txt"]}]})
        t = self.wait(f"task {name}", lambda: (x := self.get("tasks", name)) and
                      (x.get("status") or {}).get("state") in ("Succeeded", "Failed") and x)
        if t["status"]["state"] != "Succeeded" or t["status"].get("stdout") != name:
            raise RuntimeError(f"task {name}: {t['status']}")
        return time.monotonic() - t0

    def cycle(self, i, steady):
        name = f"c{i}"
        t0 = time.monotonic()
        self.create("sandboxes", "Sandbox", name, {"poolRef": "soak", "keepAlive": True})
        self.wait(f"sandbox {name} Ready", lambda: (x := self.get("sandboxes", name)) and
                  (x.get("status") or {}).get("phase") == "Ready")
        ready = time.monotonic() - t0
        task = self.run_task(name, f"{name}-t")
        t1 = time.monotonic()
        r = steady.run(["echo", name])
        if r.stdout != name + "\n":
            raise RuntimeError(f"exec on the steady sandbox: {r}")
        ex = time.monotonic() - t1
        self.run_task(steady.name, f"{name}-s")
        t2 = time.monotonic()
        self.call(lambda: self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.ns, "sandboxes", name))
        with self.lock:
            self.lat["ready"].append(ready * 1000)
            self.lat["task"].append(task * 1000)
            self.lat["exec"].append(ex * 1000)
            self.lat["delete"].append((time.monotonic() - t2) * 1000)
            self.cycles += 1

    # --- samples
    @staticmethod
    def proc(pid):
        try:
            rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")) / 1024
            return rss, len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, StopIteration):
            return None

    def sample(self, t, sidecar_pid):
        pids = {c: int(Path(self.a.state, "pids", f"{c}.pid").read_text()) for c in ("operator", "localnode")}
        pids["sidecar"] = sidecar_pid
        row = {"t": t}
        for c, pid in pids.items():
            v = self.proc(pid)
            if v is None:
                raise RuntimeError(f"{c} (pid {pid}) is gone")
            row[c] = v
        self.samples.append(row)
        return row

    def run(self):
        a = self.a
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=self.ns)))
        try:
            self.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, "warmpools", {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "WarmPool", "metadata": {"name": "soak"},
                "spec": {"replicas": a.pool, "template": {"spec": {"containers": [{"name": "main", "image": "python:3.12-slim"}]}}}})
            with SandboxSession("soak", self.ns, client=self.sdk, timeout=120) as steady:
                # Its sidecar's pid: the parent of the shell it runs.
                sidecar_pid = int(steady.run(["sh", "-c", "echo $PPID"]).stdout)
                return self.loop(steady, sidecar_pid)
        finally:
            self.core.delete_namespace(self.ns)

    def loop(self, steady, sidecar_pid):
        a = self.a
        start = time.monotonic()
        end = start + a.minutes * 60
        warm = start + max(60, a.minutes * 60 / 5)
        period = 1 / a.rate
        stop = threading.Event()
        slots = threading.BoundedSemaphore(a.concurrency)
        threads, i, next_t, next_sample = [], 0, start, start
        baseline = None

        def one(k):
            try:
                self.cycle(k, steady)
            except Exception as e:  # an unretried error: the soak fails
                with self.lock:
                    self.errors.append(f"cycle {k}: {type(e).__name__}: {e}")
            finally:
                slots.release()

        print(f"soak: {a.minutes:g} min, {a.rate:g} cycles/s, pool {a.pool}, namespace {self.ns}, "
              f"steady sidecar pid {sidecar_pid}", flush=True)
        while time.monotonic() < end and not self.errors:
            now = time.monotonic()
            if now >= next_sample:
                row = self.sample(now - start, sidecar_pid)
                if baseline is None and now >= warm:
                    baseline = row
                print(f"  t={row['t']:6.0f}s cycles={self.cycles:5d} retries={self.retries:3d} " +
                      " ".join(f"{c}={row[c][0]:.1f}MiB/{row[c][1]}fd" for c in ("operator", "localnode", "sidecar")),
                      flush=True)
                next_sample += a.sample_seconds
            if now >= next_t:
                if not slots.acquire(timeout=60):
                    self.errors.append(f"no cycle finished within 60 s ({a.concurrency} running)")
                    break
                th = threading.Thread(target=one, args=(i,), daemon=True)
                th.start()
                threads.append(th)
                i += 1
                next_t += period
            time.sleep(min(0.01, max(0.0, min(next_t, next_sample) - time.monotonic())))
        for th in threads:
            th.join(90)
        last = self.sample(time.monotonic() - start, sidecar_pid)
        return self.report(baseline or self.samples[0], last)

    def report(self, base, last):
        def pct(xs, p):
            xs = sorted(xs)
            return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")
        print(f"\nsoak: {self.cycles} cycles in {last['t']:.0f}s ({self.cycles / max(last['t'], 1):.2f}/s), "
              f"{self.retries} retried API calls, {len(self.errors)} errors")
        for k, xs in self.lat.items():
            print(f"  {k:7s} p50 {pct(xs, 50):7.1f} ms  p99 {pct(xs, 99):7.1f} ms  max {max(xs, default=0):7.1f} ms")
        bounds = {"operator": (16, 0.25, 32), "localnode": (16, 0.25, 32), "sidecar": (8, 0.0, 16)}
        failures = list(self.errors)
        print(f"  {'process':9s} {'RSS after warm-up':>18s} {'RSS end':>8s} {'RSS max':>8s} {'fds warm':>9s} {'fds end':>8s} {'fds max':>8s}  bound")
        for c, (mib, frac, fds) in bounds.items():
            rss_max = max(s[c][0] for s in self.samples)
            fd_max = max(s[c][1] for s in self.samples)
            allowed = max(mib, base[c][0] * frac)
            print(f"  {c:9s} {base[c][0]:15.1f}MiB {last[c][0]:5.1f}MiB {rss_max:5.1f}MiB {base[c][1]:9d} {last[c][1]:8d} "
                  f"{fd_max:8d}  RSS +{allowed:.0f} MiB, fds +{fds}")
            if last[c][0] - base[c][0] > allowed:
                failures.append(f"{c}: RSS grew {last[c][0] - base[c][0]:.1f} MiB after warm-up (bound {allowed:.0f} MiB)")
            if last[c][1] - base[c][1] > fds:
                failures.append(f"{c}: open fds grew by {last[c][1] - base[c][1]} after warm-up (bound {fds})")
        for f in failures[:20]:
            print(f"FAIL {f}")
        print("soak: " + ("FAILED" if failures else "passed"))
        return 1 if failures else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--state", required=True, help="the local cluster's state dir (ARL_STATE)")
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--rate", type=float, default=2, help="cycles started per second")
    p.add_argument("--concurrency", type=int, default=8, help="cycles in flight at most")
    p.add_argument("--pool", type=int, default=8, help="the pool's replicas")
    p.add_argument("--sample-seconds", type=float, default=15)
    sys.exit(Soak(p.parse_args()).run())


if __name__ == "__main__":
    main()
