"""KubernetesAdapter: an agent's action space over a real cluster (deploy,
scale, restart, roll back, run a batch job), with structured results.

    adapter = KubernetesAdapter(kubeconfig_path=None, namespace="default")
    result = await adapter.scale_deployment("web", 3)
    if result["status"] == "error":
        print(result["reason"], result["code"], result["message"])

Every call returns a dict {"status": "success"|"error", "message": ..., ...}
plus its data and "elapsed" (seconds). Cluster-side failures (NotFound,
Invalid, Forbidden, Conflict, timeouts, an unreachable server) are error
results with the API server's "reason" and HTTP "code"; only the caller's own
mistakes (no target for restart_pod, a manifest without kind) raise
ValueError. The official `kubernetes` client does the work in a bounded
thread pool, so many calls may run at once on one adapter; waits use watches.
Mutations are server-side apply / patches with the field manager
"arl-adapter"; every mutating call takes dry_run=True (server dry run).
Each call logs one line on the "arl_client.k8s_adapter" logger.
"""
from __future__ import annotations

import asyncio
import copy
import functools
import logging
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Union

import yaml

from . import k8s_adapter_rollout as ro
from .k8s_adapter_backend import FIELD_MANAGER, KubeBackend, load_api_client
from .k8s_adapter_ops import Operations
from .k8s_adapter_results import error, from_exception, success

__all__ = ["KubernetesAdapter", "KubernetesAdapterSync", "FIELD_MANAGER"]

log = logging.getLogger("arl_client.k8s_adapter")
# A library logs, the application decides where to: without its configuration, error results
# are not printed to stderr by logging's last-resort handler.
log.addHandler(logging.NullHandler())

Manifest = Union[Dict[str, Any], List[Dict[str, Any]], str]


def _timeout_seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name}: expected a positive number of seconds, got {value!r}")
    return float(value)


def _job_manifest(job_manifest: Union[Dict[str, Any], str]) -> Dict[str, Any]:
    if isinstance(job_manifest, str):
        docs = [d for d in yaml.safe_load_all(job_manifest) if d is not None]
        if len(docs) != 1:
            raise ValueError(f"job_manifest: expected one YAML document, got {len(docs)}")
        job_manifest = docs[0]
    if not isinstance(job_manifest, dict):
        raise ValueError(f"job_manifest: expected a dict, got {type(job_manifest).__name__}")
    problems = []
    if job_manifest.get("kind") != "Job":
        problems.append(f"kind must be Job, got {job_manifest.get('kind')!r}")
    if not job_manifest.get("apiVersion"):
        problems.append("apiVersion is required (batch/v1)")
    meta = job_manifest.get("metadata") or {}
    if not (meta.get("name") or meta.get("generateName")):
        problems.append("metadata.name or metadata.generateName is required")
    if problems:
        raise ValueError("job_manifest: " + "; ".join(problems))
    return copy.deepcopy(job_manifest)


class KubernetesAdapter:
    """Asynchronous operations on one cluster; see the module docstring."""

    def __init__(self, kubeconfig_path: Optional[str] = None, namespace: str = "default",
                 context: Optional[str] = None, *, max_workers: int = 16, backend: Any = None):
        if max_workers < 1:
            raise ValueError(f"max_workers: must be at least 1, got {max_workers}")
        self.namespace = namespace
        # The seam: tests pass a fake backend; the real one wraps the official client.
        self._backend = backend or KubeBackend(load_api_client(kubeconfig_path, context, max_workers))
        self._ops = Operations(self._backend)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="arl-k8s-adapter")

    def close(self) -> None:
        """Waits for running calls, then releases the threads and connections."""
        self._pool.shutdown(wait=True)
        close = getattr(self._backend, "close", None)
        if close:
            close()

    async def __aenter__(self) -> "KubernetesAdapter":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def _ns(self, namespace: Optional[str]) -> str:
        return namespace or self.namespace

    async def _call(self, action: str, target: str, fn: Callable[..., Dict[str, Any]], *args: Any) -> Dict[str, Any]:
        start = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._pool, functools.partial(fn, *args))
        except Exception as e:  # the cluster's failures are results, never exceptions
            result = from_exception(f"{action} {target}", e)
            if result["reason"] == "AdapterError":
                log.warning("k8s_adapter internal failure action=%s object=%s", action, target, exc_info=True)
        elapsed = time.monotonic() - start
        result["elapsed"] = round(elapsed, 3)
        _log_operation(action, target, result, elapsed)
        return result

    # ---- mutations
    async def apply_manifest(self, manifest: Manifest, namespace: Optional[str] = None, *, dry_run: bool = False,
                             force_conflicts: bool = False) -> Dict[str, Any]:
        """Server-side apply of one or many objects of any kind (a dict, a list of dicts or a
        YAML string); `namespace` overrides the manifests' own for namespaced kinds.
        result["applied"]: [{kind, apiVersion, name, namespace, action}] with action
        created|configured|unchanged. force_conflicts takes over fields another manager owns."""
        objects = ro.parse_manifests(manifest)
        target = ",".join(f'{o["kind"]}/{o["metadata"]["name"]}' for o in objects)
        return await self._call("apply", target, self._ops.apply, objects, namespace, self.namespace, dry_run,
                                force_conflicts)

    async def scale_deployment(self, name: str, replicas: int, namespace: Optional[str] = None,
                               timeout: float = 300, *, dry_run: bool = False) -> Dict[str, Any]:
        """Sets spec.replicas and waits like `kubectl rollout status` plus readiness:
        result["replicas"] = {desired, current, updated, ready, available, unavailable}."""
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise ValueError(f"replicas: expected an integer >= 0, got {replicas!r}")
        deadline = time.monotonic() + _timeout_seconds("timeout", timeout)
        ns = self._ns(namespace)
        return await self._call("scale", f"Deployment/{ns}/{name}", self._ops.scale, name, replicas, ns, deadline,
                                dry_run)

    async def restart_pod(self, pod_name: Optional[str] = None, deployment_name: Optional[str] = None,
                          namespace: Optional[str] = None, timeout: float = 300, *,
                          dry_run: bool = False) -> Dict[str, Any]:
        """deployment_name: a rolling restart (new ReplicaSet), waiting for the rollout and
        for the old pods to be gone. pod_name: deletes the pod and waits for its owner to
        replace it with a ready pod (or reports that it had no owner)."""
        if (pod_name is None) == (deployment_name is None):
            raise ValueError("restart_pod: give exactly one of pod_name or deployment_name")
        deadline = time.monotonic() + _timeout_seconds("timeout", timeout)
        ns = self._ns(namespace)
        if deployment_name is not None:
            return await self._call("restart", f"Deployment/{ns}/{deployment_name}", self._ops.restart_deployment,
                                    deployment_name, ns, deadline, dry_run)
        return await self._call("restart", f"Pod/{ns}/{pod_name}", self._ops.restart_pod, pod_name, ns, deadline,
                                dry_run)

    async def run_job(self, job_manifest: Union[Dict[str, Any], str], wait_for_completion: bool = True,
                      timeout: float = 600, namespace: Optional[str] = None, *,
                      dry_run: bool = False) -> Dict[str, Any]:
        """Creates the Job; unless wait_for_completion=False, waits for Complete or Failed and
        returns counts (active/succeeded/failed), duration, logs (result["logs"], and per pod
        in result["pod_logs"]) and, on failure, result["failure_reasons"]."""
        job = _job_manifest(job_manifest)
        deadline = time.monotonic() + _timeout_seconds("timeout", timeout)
        ns = namespace or job["metadata"].get("namespace") or self.namespace
        name = job["metadata"].get("name") or job["metadata"].get("generateName", "") + "*"
        return await self._call("run_job", f"Job/{ns}/{name}", self._ops.run_job, job, ns, wait_for_completion,
                                deadline, dry_run)

    async def rollback_deployment(self, name: str, revision: Optional[Union[int, str]] = None,
                                  namespace: Optional[str] = None, timeout: float = 300, *,
                                  dry_run: bool = False) -> Dict[str, Any]:
        """`kubectl rollout undo [--to-revision]`: back to the previous revision, or to
        `revision`; waits for the rollout. result: from_revision, to_revision, revision (the
        new number the controller gives the restored template)."""
        rev: Optional[int] = None
        if revision is not None:
            try:
                rev = int(revision)
            except (TypeError, ValueError):
                raise ValueError(f"revision: expected a revision number, got {revision!r}") from None
            if rev < 0:
                raise ValueError(f"revision: expected a revision number >= 0, got {revision!r}")
        deadline = time.monotonic() + _timeout_seconds("timeout", timeout)
        ns = self._ns(namespace)
        return await self._call("rollback", f"Deployment/{ns}/{name}", self._ops.rollback, name, ns, rev, deadline,
                                dry_run)

    # ---- waits and reads
    async def wait_for_deployment_ready(self, name: str, timeout: float = 300,
                                        namespace: Optional[str] = None) -> Dict[str, Any]:
        deadline = time.monotonic() + _timeout_seconds("timeout", timeout)
        ns = self._ns(namespace)
        return await self._call("wait_ready", f"Deployment/{ns}/{name}", self._ops.wait_deployment, name, ns,
                                deadline, True)

    async def wait_for_rollout_complete(self, name: str, timeout: float = 300,
                                        namespace: Optional[str] = None) -> Dict[str, Any]:
        deadline = time.monotonic() + _timeout_seconds("timeout", timeout)
        ns = self._ns(namespace)
        return await self._call("wait_rollout", f"Deployment/{ns}/{name}", self._ops.wait_deployment, name, ns,
                                deadline, False)

    async def wait_for_job_completion(self, name: str, timeout: float = 600,
                                      namespace: Optional[str] = None) -> Dict[str, Any]:
        """Success when the Job completes; an error result (with failure_reasons) when it fails."""
        deadline = time.monotonic() + _timeout_seconds("timeout", timeout)
        ns = self._ns(namespace)
        return await self._call("wait_job", f"Job/{ns}/{name}", self._ops.wait_job, name, ns, deadline, False)

    async def get_resource_status(self, resource_type: str, resource_name: str,
                                  namespace: Optional[str] = None) -> Dict[str, Any]:
        """Any kind by what kubectl accepts ("deploy", "deployments.apps", "warmpool", ...):
        result["resource_status"] is its status; Deployments, Jobs and Pods get a summary."""
        ns = self._ns(namespace)
        return await self._call("get", f"{resource_type}/{ns}/{resource_name}", self._ops.resource_status,
                                resource_type, resource_name, ns)

    async def get_job_logs(self, job_name: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        ns = self._ns(namespace)
        return await self._call("logs", f"Job/{ns}/{job_name}", self._ops.job_logs, job_name, ns)

    async def execute_command(self, command: Union[List[str], str], timeout: float = 300) -> Dict[str, Any]:
        """A LOCAL subprocess (a list runs without a shell, a string through /bin/sh):
        result: returncode, stdout, stderr; an error result when it fails or times out
        (then its whole process group is killed)."""
        if isinstance(command, str):
            if not command.strip():
                raise ValueError("command: must not be empty")
        elif not (isinstance(command, (list, tuple)) and command and all(isinstance(a, str) for a in command)):
            raise ValueError(f"command: expected a non-empty list of strings or a string, got {command!r}")
        seconds = _timeout_seconds("timeout", timeout)
        start = time.monotonic()
        target = command if isinstance(command, str) else " ".join(command)
        result = await _run_local(command, seconds)
        elapsed = time.monotonic() - start
        result["elapsed"] = round(elapsed, 3)
        _log_operation("execute", target[:80], result, elapsed)
        return result


async def _run_local(command: Union[List[str], str], seconds: float) -> Dict[str, Any]:
    try:
        if isinstance(command, str):
            proc = await asyncio.create_subprocess_shell(command, stdout=asyncio.subprocess.PIPE,
                                                         stderr=asyncio.subprocess.PIPE, start_new_session=True)
        else:
            proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as e:
        return error(f"execute {command!r}: {e.strerror or e}", "NotFound" if isinstance(e, FileNotFoundError)
                     else "CannotRun", None, returncode=None, stdout="", stderr="")
    try:
        out, err = await asyncio.wait_for(proc.communicate(), seconds)
    except asyncio.TimeoutError:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = await proc.communicate()
        return error(f"execute {command!r}: timed out after {seconds:g}s (killed)", "Timeout", None,
                     returncode=proc.returncode, stdout=out.decode(errors="replace"),
                     stderr=err.decode(errors="replace"))
    data = {"returncode": proc.returncode, "stdout": out.decode(errors="replace"),
            "stderr": err.decode(errors="replace")}
    if proc.returncode != 0:
        return error(f"execute {command!r}: exit code {proc.returncode}", "NonZeroExit", None, **data)
    return success(f"execute {command!r}: exit code 0", **data)


def _log_operation(action: str, target: str, result: Dict[str, Any], elapsed: float) -> None:
    fields = {"action": action, "object": target, "outcome": result.get("status"),
              "reason": result.get("reason"), "duration_ms": int(elapsed * 1000)}
    level = logging.INFO if result.get("status") == "success" else logging.WARNING
    log.log(level, "k8s_adapter " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None),
            extra={"k8s_adapter": fields})


class KubernetesAdapterSync:
    """The same methods, blocking, for callers without an event loop: the coroutines run
    on a private loop in a thread of its own, so calls from several threads overlap."""

    def __init__(self, kubeconfig_path: Optional[str] = None, namespace: str = "default",
                 context: Optional[str] = None, **kwargs: Any):
        self._adapter = KubernetesAdapter(kubeconfig_path, namespace, context, **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="arl-k8s-adapter-loop", daemon=True)
        self._thread.start()

    @property
    def namespace(self) -> str:
        return self._adapter.namespace

    def _run(self, coro: Any) -> Dict[str, Any]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._adapter.close()

    def __enter__(self) -> "KubernetesAdapterSync":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _blocking(name: str) -> Callable[..., Dict[str, Any]]:
    method = getattr(KubernetesAdapter, name)

    @functools.wraps(method)
    def call(self: KubernetesAdapterSync, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        # Argument errors (ValueError) surface here, in the caller's thread, as in the async API.
        return self._run(method(self._adapter, *args, **kwargs))

    return call


for _name in ("apply_manifest", "scale_deployment", "restart_pod", "run_job", "rollback_deployment",
              "wait_for_deployment_ready", "wait_for_rollout_complete", "wait_for_job_completion",
              "get_resource_status", "get_job_logs", "execute_command"):
    setattr(KubernetesAdapterSync, _name, _blocking(_name))
