"""The KubernetesAdapter's operations as blocking functions of a backend
(k8s_adapter_backend.KubeBackend or a fake), each returning a result dict.
They run in the adapter's thread pool; API errors propagate to the caller,
which turns them into error results (k8s_adapter_results.from_exception).
`deadline` is a time.monotonic() value fixed when the call was made, so time
spent queued for a worker counts against the caller's timeout.
"""
from __future__ import annotations

import datetime as _dt
import time
from typing import Any, Callable, Dict, List, Optional

from . import k8s_adapter_rollout as ro
from .k8s_adapter_results import error, success, timeout
from .k8s_adapter_wait import wait_for, wait_for_object

APPS, BATCH, CORE = "apps/v1", "batch/v1", "v1"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def _remaining(deadline: float, clock: Callable[[], float]) -> float:
    return max(0.0, deadline - clock())


def _name_of(obj: Dict[str, Any]) -> str:
    return obj.get("metadata", {}).get("name", "")


class Operations:
    def __init__(self, backend: Any, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], _dt.datetime] = lambda: _dt.datetime.now(_dt.timezone.utc)):
        self.b = backend
        self.clock = clock
        self.now = now

    # ---- apply
    def apply(self, objects: List[Dict[str, Any]], override_ns: Optional[str], default_ns: str, dry_run: bool,
              force: bool) -> Dict[str, Any]:
        """Each namespaced object goes to override_ns, else its own namespace, else default_ns."""
        applied = []
        for obj in objects:
            meta = obj.setdefault("metadata", {})
            namespaced = self.b.namespaced(obj["apiVersion"], obj["kind"])
            ns = (override_ns or meta.get("namespace") or default_ns) if namespaced else None
            if namespaced:
                meta["namespace"] = ns
            else:
                meta.pop("namespace", None)
            try:
                before = self.b.get(obj["apiVersion"], obj["kind"], meta["name"], ns)
            except Exception as e:  # only "not there yet" is expected here
                if getattr(e, "status", None) != 404:
                    raise
                before = None
            after = self.b.apply(obj, ns, dry_run, force)
            applied.append({"kind": obj["kind"], "apiVersion": obj["apiVersion"], "name": meta["name"],
                            "namespace": ns, "action": ro.apply_action(before, after, dry_run),
                            "resource_version": after.get("metadata", {}).get("resourceVersion"),
                            "generation": after.get("metadata", {}).get("generation")})
        words = ", ".join(f'{a["kind"].lower()}/{a["name"]} {a["action"]}' for a in applied)
        return success(words + (" (server dry run)" if dry_run else ""), applied=applied, dry_run=dry_run)

    # ---- deployments
    def _wait_rollout(self, name: str, ns: str, deadline: float, require_ready: bool, what: str):
        """(result-or-None on success, deployment); on timeout an error result naming what is missing."""
        state: Dict[str, Any] = {}

        def check(dep):
            if dep is None:
                state["missing"] = f'deployment "{name}" does not exist'
                return None
            s = ro.rollout_state(dep, require_ready)
            state["missing"] = s.message
            if s.failed:
                return s
            return s if s.done else None

        start = self.clock()
        answer, dep = wait_for_object(self.b, APPS, "Deployment", name, ns, check, deadline, clock=self.clock)
        replicas = ro.replicas_of(dep).as_dict() if dep else {}
        if answer is None:
            return timeout(what, round(self.clock() - start, 3), state.get("missing", "no answer"),
                           replicas=replicas), dep
        if answer.failed:
            return error(f"{what}: {answer.message}", "ProgressDeadlineExceeded", None, replicas=replicas), dep
        return None, dep

    def scale(self, name: str, replicas: int, ns: str, deadline: float, dry_run: bool) -> Dict[str, Any]:
        what = f"scale deployment {ns}/{name} to {replicas}"
        before = self.b.get(APPS, "Deployment", name, ns)
        previous = before.get("spec", {}).get("replicas", 1)
        self.b.patch(APPS, "Deployment", name, ns, {"spec": {"replicas": replicas}}, MERGE, dry_run)
        if dry_run:
            return success(f"{what}: allowed (server dry run; was {previous})", previous_replicas=previous,
                           replicas={"desired": replicas}, dry_run=True)
        err, dep = self._wait_rollout(name, ns, deadline, True, what)
        if err:
            return {**err, "previous_replicas": previous}
        return success(f"deployment {ns}/{name} scaled from {previous} to {replicas}; all replicas ready",
                       previous_replicas=previous, replicas=ro.replicas_of(dep).as_dict(), dry_run=False)

    def wait_deployment(self, name: str, ns: str, deadline: float, require_ready: bool) -> Dict[str, Any]:
        what = f"wait for deployment {ns}/{name} {'ready' if require_ready else 'rollout'}"
        err, dep = self._wait_rollout(name, ns, deadline, require_ready, what)
        if err:
            return err
        msg = (f"deployment {ns}/{name} is ready" if require_ready
               else ro.rollout_state(dep).message)
        return success(msg, replicas=ro.replicas_of(dep).as_dict(), revision=ro.revision_of(dep))

    def restart_deployment(self, name: str, ns: str, deadline: float, dry_run: bool) -> Dict[str, Any]:
        """kubectl rollout restart: a new template annotation makes a new ReplicaSet; then
        the rollout and the old pods' termination are awaited."""
        what = f"restart deployment {ns}/{name}"
        start = self.clock()
        dep = self.b.get(APPS, "Deployment", name, ns)
        old_revision = ro.revision_of(dep)
        stamp = self.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {"spec": {"template": {"metadata": {"annotations": {ro.RESTARTED_AT: stamp}}}}}
        self.b.patch(APPS, "Deployment", name, ns, patch, MERGE, dry_run)
        if dry_run:
            return success(f"{what}: allowed (server dry run)", restarted_at=stamp, dry_run=True)
        err, dep = self._wait_rollout(name, ns, deadline, True, what)
        if err:
            return err
        rss = self.b.list(APPS, "ReplicaSet", ns).get("items", [])
        new_rs = ro.newest_replica_set(dep, rss)
        new_hash = ro.pod_template_hash_of(new_rs) if new_rs else ""
        selector = ro.selector_string(dep.get("spec", {}).get("selector", {}).get("matchLabels", {}))

        def old_pods_gone(pods):
            old = [p for p in pods.values() if ro.pod_template_hash_of(p) != new_hash]
            return True if not old else None

        gone, pods = wait_for(self.b, CORE, "Pod", ns, old_pods_gone, deadline, label_selector=selector,
                              clock=self.clock)
        old_left = sorted(n for n, p in pods.items() if ro.pod_template_hash_of(p) != new_hash)
        data = dict(restarted_at=stamp, previous_revision=old_revision, revision=ro.revision_of(dep),
                    new_replica_set=_name_of(new_rs) if new_rs else None, replicas=ro.replicas_of(dep).as_dict(),
                    pods=sorted(n for n in pods if n not in old_left), dry_run=False)
        if not gone:
            return timeout(what, round(self.clock() - start, 3), f"old pods still present: {', '.join(old_left)}", old_pods=old_left, **data)
        return success(f"deployment {ns}/{name} restarted: revision {old_revision} -> {data['revision']}, "
                       f"new ReplicaSet {data['new_replica_set']}, old pods gone", **data)

    def restart_pod(self, pod_name: str, ns: str, deadline: float, dry_run: bool) -> Dict[str, Any]:
        what = f"restart pod {ns}/{pod_name}"
        pod = self.b.get(CORE, "Pod", pod_name, ns)
        owner = ro.controller_of(pod)
        self.b.delete(CORE, "Pod", pod_name, ns, dry_run)
        if dry_run:
            return success(f"{what}: allowed (server dry run)", owner=owner and owner.get("name"), dry_run=True)
        if owner is None:
            return success(f"pod {ns}/{pod_name} deleted; it had no owner, so nothing replaces it",
                           owner=None, replacement=None, dry_run=False)
        old_uid = pod["metadata"]["uid"]
        labels = pod.get("metadata", {}).get("labels") or {}

        def replaced(pods):
            for p in pods.values():
                if p["metadata"]["uid"] != old_uid and ro.owned_by(p, owner.get("uid", "")) and (
                        ro.pod_ready(p) or (p.get("status") or {}).get("phase") == "Succeeded"):
                    if not any(q["metadata"]["uid"] == old_uid for q in pods.values()):
                        return p
            return None

        start = self.clock()
        new_pod, pods = wait_for(self.b, CORE, "Pod", ns, replaced, deadline,
                                 label_selector=ro.selector_string(labels) or None, clock=self.clock)
        owner_desc = f'{owner.get("kind")}/{owner.get("name")}'
        if new_pod is None:
            still = any(q["metadata"]["uid"] == old_uid for q in pods.values())
            missing = (f"pod {pod_name} is still terminating" if still
                       else f"{owner_desc} has no ready replacement yet")
            return timeout(what, round(self.clock() - start, 3), missing, owner=owner_desc)
        return success(f"pod {ns}/{pod_name} deleted; {owner_desc} replaced it with {_name_of(new_pod)} (ready)",
                       owner=owner_desc, replacement=_name_of(new_pod), dry_run=False)

    def rollback(self, name: str, ns: str, revision: Optional[int], deadline: float,
                 dry_run: bool) -> Dict[str, Any]:
        what = f"roll back deployment {ns}/{name}"
        dep = self.b.get(APPS, "Deployment", name, ns)
        rss = self.b.list(APPS, "ReplicaSet", ns).get("items", [])
        plan = ro.plan_rollback(dep, rss, revision)
        data = {"from_revision": plan.from_revision, "to_revision": plan.to_revision, "dry_run": dry_run}
        if plan.error:
            return error(f"{what}: {plan.error}", plan.reason, None, **data)
        if plan.skipped:
            return success(f"deployment {ns}/{name}: {plan.message}", skipped=True, **data)
        self.b.patch(APPS, "Deployment", name, ns, plan.patch, JSON_PATCH, dry_run)
        if dry_run:
            return success(f"{plan.message} (server dry run)", skipped=False, **data)
        err, dep = self._wait_rollout(name, ns, deadline, False, what)
        if err:
            return {**err, **data}
        # The controller gives the Deployment a new revision number for the old template.
        return success(plan.message, skipped=False, revision=ro.revision_of(dep),
                       replicas=ro.replicas_of(dep).as_dict(), **data)

    # ---- jobs
    def _job_pods(self, job: Dict[str, Any], ns: str) -> List[Dict[str, Any]]:
        uid = job.get("metadata", {}).get("uid", "")
        pods = self.b.list(CORE, "Pod", ns, label_selector=f"batch.kubernetes.io/controller-uid={uid}")
        return sorted(pods.get("items", []), key=lambda p: p["metadata"].get("creationTimestamp") or "")

    def job_logs(self, job_name: str, ns: str) -> Dict[str, Any]:
        job = self.b.get(BATCH, "Job", job_name, ns)
        return self._logs_result(job, ns)

    def _logs_result(self, job: Dict[str, Any], ns: str) -> Dict[str, Any]:
        pods = self._job_pods(job, ns)
        per_pod: Dict[str, str] = {}
        errors: Dict[str, str] = {}
        for p in pods:
            for c in p.get("spec", {}).get("containers", []):
                key = p["metadata"]["name"] if len(p["spec"]["containers"]) == 1 else f'{p["metadata"]["name"]}/{c["name"]}'
                try:
                    per_pod[key] = self.b.pod_log(p["metadata"]["name"], ns, c["name"])
                except Exception as e:  # one unreadable pod must not hide the others' logs
                    body = getattr(e, "body", None) or str(e)
                    errors[key] = body.decode() if isinstance(body, bytes) else str(body)
        if len(per_pod) == 1:
            logs = next(iter(per_pod.values()))
        else:
            logs = "".join(f"==> {k} <==\n{v}" + ("" if v.endswith("\n") or not v else "\n")
                           for k, v in per_pod.items())
        data: Dict[str, Any] = {"logs": logs, "pod_logs": per_pod, "pods": [p["metadata"]["name"] for p in pods]}
        if errors:
            data["log_errors"] = errors
        name = job.get("metadata", {}).get("name", "")
        if errors and not per_pod:
            return error(f"logs of job {ns}/{name}: no pod log could be read", "LogsUnavailable", None, **data)
        return success(f"logs of job {ns}/{name}: {len(per_pod)} container log(s)", **data)

    def _job_summary(self, job: Dict[str, Any], ns: str, with_logs: bool) -> Dict[str, Any]:
        name = job["metadata"]["name"]
        st = ro.job_state(job)
        status = job.get("status", {}) or {}
        duration = None
        if status.get("startTime") and status.get("completionTime"):
            t0 = _dt.datetime.fromisoformat(status["startTime"].replace("Z", "+00:00"))
            t1 = _dt.datetime.fromisoformat(status["completionTime"].replace("Z", "+00:00"))
            duration = (t1 - t0).total_seconds()
        data: Dict[str, Any] = {"job": name, "namespace": ns, **st.counts, "duration": duration,
                                "start_time": status.get("startTime"), "completion_time": status.get("completionTime")}
        pods = self._job_pods(job, ns) if (with_logs or (st.finished and not st.succeeded)) else []
        if with_logs:
            logs = self._logs_result(job, ns)
            for k in ("logs", "pod_logs", "log_errors"):
                if k in logs:
                    data[k] = logs[k]
        if st.finished and not st.succeeded:
            reasons = [f"{st.reason}: {st.message}".rstrip(": ")]
            for p in pods:
                reasons.extend(ro.pod_failures(p))
            data["failure_reasons"] = reasons
            return error(f"job {ns}/{name} failed: {'; '.join(reasons)}", st.reason or "Failed", None, **data)
        if st.finished:
            return success(f"job {ns}/{name} completed: {st.counts['succeeded']} succeeded", **data)
        return success(f"job {ns}/{name} is running: {st.counts['active']} active", **data)

    def wait_job(self, name: str, ns: str, deadline: float, with_logs: bool) -> Dict[str, Any]:
        what = f"wait for job {ns}/{name}"
        start = self.clock()
        last = {"missing": f"job {name} does not exist"}

        def check(job):
            if job is None:
                return None
            st = ro.job_state(job)
            last["missing"] = (f"job not finished: {st.counts['active']} active, {st.counts['succeeded']} "
                               f"succeeded, {st.counts['failed']} failed")
            return job if st.finished else None

        job, current = wait_for_object(self.b, BATCH, "Job", name, ns, check, deadline, clock=self.clock)
        if job is None:
            counts = ro.job_state(current).counts if current else {}
            return timeout(what, round(self.clock() - start, 3), last["missing"], job=name, **counts)
        return self._job_summary(job, ns, with_logs)

    def run_job(self, job: Dict[str, Any], ns: str, wait: bool, deadline: float, dry_run: bool) -> Dict[str, Any]:
        job.setdefault("metadata", {})["namespace"] = ns
        created = self.b.create(job, ns, dry_run)
        name = created["metadata"]["name"]
        if dry_run:
            return success(f"job {ns}/{name}: allowed (server dry run)", job=name, namespace=ns, dry_run=True)
        if not wait:
            return success(f"job {ns}/{name} created", job=name, namespace=ns, uid=created["metadata"].get("uid"),
                           dry_run=False)
        return {**self.wait_job(name, ns, deadline, True), "dry_run": False}

    # ---- status
    def resource_status(self, resource_type: str, name: str, ns: str) -> Dict[str, Any]:
        api_version, kind = self.b.resolve_type(resource_type)
        namespaced = self.b.namespaced(api_version, kind)
        obj = self.b.get(api_version, kind, name, ns if namespaced else None)
        meta = obj.get("metadata", {})
        data: Dict[str, Any] = {"kind": kind, "apiVersion": api_version, "name": name,
                                "namespace": meta.get("namespace"), "uid": meta.get("uid"),
                                "generation": meta.get("generation"), "labels": meta.get("labels") or {},
                                "resource_status": obj.get("status") or {}, "spec": obj.get("spec")}
        summary = f"{kind.lower()}/{name} exists"
        if kind == "Deployment":
            s = ro.rollout_state(obj, True)
            data["replicas"] = ro.replicas_of(obj).as_dict()
            data["ready"] = s.done
            data["revision"] = ro.revision_of(obj)
            summary = s.message
        elif kind == "Job":
            st = ro.job_state(obj)
            data.update(st.counts)
            data["finished"], data["succeeded_job"] = st.finished, st.succeeded
            summary = f"job/{name}: " + (("complete" if st.succeeded else f"failed ({st.reason})")
                                         if st.finished else "running")
        elif kind == "Pod":
            data["phase"] = (obj.get("status") or {}).get("phase")
            data["ready"] = ro.pod_ready(obj)
            summary = f"pod/{name}: {data['phase']}, {'ready' if data['ready'] else 'not ready'}"
        return success(summary, **data)
