#!/usr/bin/env python3
# /// script
# requires-python = ">=3.9"
# dependencies = ["kubernetes>=28.1.0"]
# ///
"""Waits until a Deployment is healthy and says what is wrong when it is not.

    uv run python scripts/verify_deployment.py <deployment> [namespace] [timeout-seconds]
    uv run scripts/verify_deployment.py arl-operator arl-system 300
    python3 scripts/verify_deployment.py ...        (any Python with the `kubernetes` package)

Healthy: spec.replicas > 0; the controller has seen the current generation; updated, ready and
available replicas all equal spec.replicas with no replica of an older revision left; every pod
of the Deployment Running with every container ready. Polls until healthy or the timeout
(default 300 s; 0 checks once), printing each new set of problems as it appears.

Exit codes: 0 healthy, 1 not healthy (or the Deployment, the cluster or the `kubernetes`
package cannot be had), 2 usage error. The kubeconfig is $KUBECONFIG or ~/.kube/config, or the
in-cluster ServiceAccount when neither exists.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
from typing import Any, Dict, List, Mapping, NoReturn, Optional, Sequence

USAGE = "usage: verify_deployment.py <deployment> [namespace] [timeout-seconds]"
DEFAULT_NAMESPACE = "default"
DEFAULT_TIMEOUT_S = 300.0
POLL_INTERVAL_S = 2.0
RECENT_WARNINGS = 8
# Set in the environment of the re-exec below, so a uv that still cannot provide the package
# does not loop.
REEXEC_MARK = "ARL_VERIFY_DEPLOYMENT_REEXEC"

Obj = Mapping[str, Any]


def fail_usage(message: str) -> NoReturn:
    print(f"verify_deployment.py: {message}\n{USAGE}", file=sys.stderr)
    sys.exit(2)


def parse_args(argv: Sequence[str]) -> tuple:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        sys.exit(0)
    if not 1 <= len(argv) <= 3:
        fail_usage(f"expected 1 to 3 arguments, got {len(argv)}")
    name = argv[0]
    namespace = argv[1] if len(argv) > 1 else DEFAULT_NAMESPACE
    if not name or name.startswith("-") or not namespace or namespace.startswith("-"):
        fail_usage(f"bad deployment or namespace name: {' '.join(argv[:2])!r}")
    timeout = DEFAULT_TIMEOUT_S
    if len(argv) > 2:
        try:
            timeout = float(argv[2])
        except ValueError:
            fail_usage(f"timeout {argv[2]!r}: expected a number of seconds, e.g. 300")
        if timeout < 0 or timeout != timeout:
            fail_usage(f"timeout {argv[2]!r}: must be 0 or more seconds")
    return name, namespace, timeout


# ---- the pure part: a Deployment, its ReplicaSets and pods (API JSON) -> what is wrong

def label_selector(selector: Optional[Obj]) -> str:
    """A LabelSelector object in the `-l` syntax the API's labelSelector parameter takes."""
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], ",".join(e.get("values") or [])
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": key, "DoesNotExist": f"!{key}"}[op])
    return ",".join(parts)


def owned_by(obj: Obj, uids: Sequence[str]) -> bool:
    return any(r.get("uid") in uids for r in (obj.get("metadata") or {}).get("ownerReferences") or [])


def container_problems(pod: Obj) -> List[str]:
    """Why the pod's containers are not all ready, one entry per container, with the kubelet's reason."""
    spec_names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    statuses = {s["name"]: s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    out = []
    for name in spec_names:
        s = statuses.get(name)
        if s is None:
            out.append(f"container {name}: not started yet")
            continue
        restarts = f", restarted {s['restartCount']} times" if s.get("restartCount") else ""
        state = s.get("state") or {}
        if state.get("waiting"):
            w = state["waiting"]
            out.append(f"container {name}: waiting: {w.get('reason') or 'no reason'}"
                       + (f": {w['message']}" if w.get("message") else "") + restarts)
        elif state.get("terminated"):
            t = state["terminated"]
            out.append(f"container {name}: terminated: {t.get('reason') or 'no reason'} "
                       f"(exit code {t.get('exitCode')}){restarts}")
        elif not s.get("ready"):
            out.append(f"container {name}: running but not ready (its readiness probe fails?){restarts}")
    return out


def pod_problems(pod: Obj) -> List[str]:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    name, phase = meta.get("name"), status.get("phase") or "no phase"
    details = container_problems(pod)
    if phase != "Running" or not status.get("containerStatuses"):
        # Before any container exists the reason is in a condition (e.g. PodScheduled=False: Unschedulable).
        for c in status.get("conditions") or []:
            if c.get("status") == "False" and (c.get("reason") or c.get("message")):
                details.append(f"{c['type']}=False: " + ": ".join(x for x in (c.get("reason"), c.get("message")) if x))
    if phase == "Running" and not details:
        return []
    return [f"pod {name}: {phase}" + ("; " + "; ".join(details) if details else "")]


def assess(dep: Obj, replicasets: Sequence[Obj], pods: Sequence[Obj]) -> List[str]:
    """Everything that keeps the Deployment from being healthy; empty when it is healthy.

    `replicasets` and `pods` are those the Deployment's selector matches; ownership is checked here.
    """
    meta, spec, status = dep.get("metadata") or {}, dep.get("spec") or {}, dep.get("status") or {}
    desired = spec.get("replicas", 1)
    problems: List[str] = []
    if desired == 0:
        problems.append("spec.replicas is 0: the deployment is scaled to zero and runs nothing "
                        f"(kubectl scale deployment/{meta.get('name')} --replicas=1 -n {meta.get('namespace')})")
    my_rs = [rs for rs in replicasets if owned_by(rs, [meta.get("uid")])]
    my_pods = [p for p in pods if owned_by(p, [(rs.get("metadata") or {}).get("uid") for rs in my_rs])]
    live_pods = [p for p in my_pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    observed, generation = status.get("observedGeneration", 0), meta.get("generation", 0)
    if observed < generation:
        hint = ""
        if not my_rs and not status:
            hint = ": no ReplicaSet and no status at all; is kube-controller-manager running its deployment controller?"
        problems.append(f"the deployment controller has not handled generation {generation} yet "
                        f"(observedGeneration {observed}){hint}")
    counts = [("updated", status.get("updatedReplicas", 0)), ("ready", status.get("readyReplicas", 0)),
              ("available", status.get("availableReplicas", 0))]
    for what, n in counts:
        if desired and n < desired:
            problems.append(f"{what} replicas {n} of {desired} desired")
    total = status.get("replicas", 0)
    if total > desired and desired:
        problems.append(f"{total - desired} replicas of an older revision still exist (rollout in progress)")
    for c in status.get("conditions") or []:
        bad = (c.get("type") == "ReplicaFailure" and c.get("status") == "True") or \
              (c.get("type") in ("Available", "Progressing") and c.get("status") == "False")
        if bad:
            problems.append(f"condition {c['type']}={c['status']}: {c.get('reason', '')}: {c.get('message', '')}")
    for rs in my_rs:
        for c in (rs.get("status") or {}).get("conditions") or []:
            if c.get("type") == "ReplicaFailure" and c.get("status") == "True":
                problems.append(f"replicaset {rs['metadata']['name']}: {c.get('reason', '')}: {c.get('message', '')}")
    if desired and not live_pods:
        problems.append("no pod of the deployment exists")
    for p in sorted(live_pods, key=lambda p: p["metadata"]["name"]):
        problems += pod_problems(p)
    return problems


def summary(dep: Obj, pods: Sequence[Obj]) -> str:
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    desired = spec.get("replicas", 1)
    names = ", ".join(sorted(p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")))
    return (f"{status.get('readyReplicas', 0)}/{desired} ready, {status.get('availableReplicas', 0)}/{desired} "
            f"available, {status.get('updatedReplicas', 0)}/{desired} up to date; pods Running and ready: "
            f"{names or '<none>'}")


# ---- the cluster part

def ensure_kubernetes() -> None:
    """Makes sure `kubernetes` imports: if not, re-execs through uv, which reads this file's header.

    `uv run python script.py` (the operations guide's form) runs a plain interpreter and ignores
    the header; only `uv run --script` honours it. uv sets $UV for what it runs.
    """
    if importlib.util.find_spec("kubernetes") is not None:
        return
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv and not os.environ.get(REEXEC_MARK):
        os.environ[REEXEC_MARK] = "1"
        os.execv(uv, [uv, "run", "--quiet", "--script", os.path.abspath(__file__), *sys.argv[1:]])
    print("verify_deployment.py: needs the Python package `kubernetes`: run it with "
          "`uv run scripts/verify_deployment.py ...` (uv installs what this file's header names), "
          "or `pip install kubernetes` into the Python that runs it", file=sys.stderr)
    sys.exit(1)


class Cluster:
    def __init__(self):
        from kubernetes import client, config
        self.client = client
        try:
            if os.environ.get("KUBECONFIG") or os.path.exists(os.path.expanduser("~/.kube/config")) \
                    or not os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_kube_config()
            else:
                config.load_incluster_config()
        except Exception as e:  # the library raises ConfigException and plain errors alike
            raise SystemExit(f"verify_deployment.py: cannot load a kubeconfig ($KUBECONFIG or ~/.kube/config): {e}")
        self.api = client.ApiClient()
        self.apps = client.AppsV1Api(self.api)
        self.core = client.CoreV1Api(self.api)

    def plain(self, obj: Any) -> Dict[str, Any]:
        return self.api.sanitize_for_serialization(obj)

    def read(self, name: str, namespace: str):
        """(deployment, replicasets, pods) as API JSON; deployment None when it does not exist."""
        try:
            dep = self.plain(self.apps.read_namespaced_deployment(name, namespace))
        except self.client.exceptions.ApiException as e:
            if e.status == 404:
                return None, [], []
            raise
        sel = label_selector((dep.get("spec") or {}).get("selector"))
        rs = self.plain(self.apps.list_namespaced_replica_set(namespace, label_selector=sel)).get("items") or []
        pods = self.plain(self.core.list_namespaced_pod(namespace, label_selector=sel)).get("items") or []
        return dep, rs, pods

    def deployment_names(self, namespace: str) -> List[str]:
        try:
            return sorted(d.metadata.name for d in self.apps.list_namespaced_deployment(namespace).items)
        except self.client.exceptions.ApiException:
            return []

    def warnings(self, namespace: str, names: Sequence[str]) -> List[str]:
        """The latest Warning events about the deployment, its ReplicaSets and pods."""
        try:
            events = self.core.list_namespaced_event(namespace, field_selector="type=Warning").items
        except self.client.exceptions.ApiException:
            return []
        mine = [e for e in events if e.involved_object and e.involved_object.name in names]

        def when(e):
            t = e.last_timestamp or e.event_time or e.first_timestamp or e.metadata.creation_timestamp
            return t.timestamp() if t else 0.0
        mine.sort(key=when)
        return [f"{e.involved_object.kind.lower()}/{e.involved_object.name}: {e.reason}: {(e.message or '').strip()}"
                + (f" (x{e.count})" if e.count and e.count > 1 else "") for e in mine[-RECENT_WARNINGS:]]


def main(argv: Sequence[str]) -> int:
    name, namespace, timeout = parse_args(argv)
    ensure_kubernetes()
    cluster = Cluster()
    what = f"deployment {namespace}/{name}"
    deadline = time.monotonic() + timeout
    shown: List[str] = []
    while True:
        try:
            dep, rs, pods = cluster.read(name, namespace)
        except cluster.client.exceptions.ApiException as e:
            if e.status in (401, 403):
                print(f"{what}: the API server refused access ({e.status} {e.reason}): check the kubeconfig's user "
                      "and its RBAC rights to get deployments, replicasets and pods")
                return 1
            problems = [f"cannot read it: {e.status} {e.reason}"]
            dep, rs, pods = None, [], []
        except Exception as e:  # urllib3 connection errors: the API server may come back
            problems = [f"cannot reach the API server: {e}"]
            dep, rs, pods = None, [], []
        else:
            if dep is None:
                others = cluster.deployment_names(namespace)
                print(f"{what}: not found (deployments in namespace {namespace}: {', '.join(others) or '<none>'})")
                return 1
            problems = assess(dep, rs, pods)
        if not problems:
            print(f"{what} is healthy: {summary(dep, pods)}")
            return 0
        if time.monotonic() >= deadline:
            break
        if problems != shown:
            print(f"{what}: waiting: " + "; ".join(problems), flush=True)
            shown = problems
        time.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - time.monotonic())))
    print(f"{what} is not healthy after {timeout:g}s:")
    for p in problems:
        print(f"  - {p}")
    if dep is not None:
        names = [name] + [r["metadata"]["name"] for r in rs] + [p["metadata"]["name"] for p in pods]
        warnings = cluster.warnings(namespace, names)
        if warnings:
            print("recent warning events:")
            for w in warnings:
                print(f"  {w}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
