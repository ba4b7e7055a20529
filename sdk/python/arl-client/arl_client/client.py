"""Lower-level helpers: create/get/list/delete pools, sandboxes and tasks,
wait for a condition with a watch, and call a sandbox's executor through the
API server's pod proxy. `SandboxSession` is built on these.

Objects are plain dicts as the API returns them (models.py gives typed views).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import random
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Mapping, Optional

from . import validation
from .duration import DurationLike, to_duration_string, to_seconds
from .errors import ArlTimeoutError, NotFoundError, api_error, sidecar_error
from .models import API_VERSION, GROUP, VERSION, pool_template
from .informer import _rv_int, informer_for, retry_after
from .transport import KubeTransport, shared_transport

KINDS = {"warmpools": "WarmPool", "sandboxes": "Sandbox", "tasks": "Task"}
SINGULAR = {"warmpools": "warmpool", "sandboxes": "sandbox", "tasks": "task"}
SIDECAR_PORT = 8080
TOKEN_HEADER = "X-Arl-Token"
SANDBOX_TOKEN_CONTEXT = "arl-sandbox-token/v1:"


def sandbox_token(pool_token: str, sandbox_uid: str) -> str:
    """The token a sandbox's pod accepts once allocated (docs/design.md "Sandbox tokens").

    HMAC-SHA256 keyed with the pool's token over "arl-sandbox-token/v1:<uid>",
    in lowercase hex: the operator hands the same value to the pod at
    allocation, and the pool token stops working there.
    """
    if not pool_token:
        raise ValueError("sandbox token: the pool token is empty")
    if not sandbox_uid:
        raise ValueError("sandbox token: the sandbox has no metadata.uid (was it read from the API server?)")
    return hmac.new(pool_token.encode(), (SANDBOX_TOKEN_CONTEXT + sandbox_uid).encode(), hashlib.sha256).hexdigest()
POOL_SECRET_PREFIX = "arl-pool-"
SESSION_LABEL = "arl.infra.io/session"
THROTTLE_RETRY_S = 120.0

Predicate = Callable[[Dict[str, Any]], bool]


def unique_name(prefix: str, limit: int = 63) -> str:
    """`prefix-<10 hex>`, short enough for a label value (sandbox names end up in pod labels)."""
    suffix = uuid.uuid4().hex[:10]
    head = prefix[: limit - len(suffix) - 1].rstrip("-.") or "arl"
    return f"{head}-{suffix}"


class ArlClient:
    """Thread-safe: share one per process (`ArlClient.shared()`)."""

    def __init__(self, transport: Optional[Any] = None, *, kubeconfig: Optional[str] = None,
                 context: Optional[str] = None):
        self.transport = transport or KubeTransport.from_config(kubeconfig, context)
        self._tokens: Dict[tuple, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, kubeconfig: Optional[str] = None, context: Optional[str] = None) -> "ArlClient":
        with _shared_lock:
            key = (kubeconfig, context)
            c = _shared_clients.get(key)
            if c is None:
                c = cls(shared_transport(kubeconfig, context))
                _shared_clients[key] = c
            return c

    # ---- raw resource access

    @staticmethod
    def _path(plural: str, namespace: str, name: Optional[str] = None) -> str:
        p = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}"
        return f"{p}/{name}" if name else p

    def _call(self, method: str, path: str, what: str, **kw: Any) -> Any:
        """One API call. A 429 (API Priority and Fairness turned it away before doing
        anything, so even a create is safe to repeat) is retried with backoff, honouring
        Retry-After, for up to THROTTLE_RETRY_S: under load it must not fail an episode."""
        give_up = time.monotonic() + THROTTLE_RETRY_S
        backoff = 0.1
        while True:
            r = self.transport.request(method, path, **kw)
            if r.status == 429 and time.monotonic() < give_up:
                after = retry_after(r)
                r.data  # hand the connection back to the pool
                time.sleep(after if after is not None else backoff * (0.5 + random.random()))
                backoff = min(5.0, backoff * 2)
                continue
            if not 200 <= r.status < 300:
                raise api_error(r.status, r.data, what)
            return r.json()

    def create(self, plural: str, obj: Dict[str, Any], namespace: str = "default") -> Dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", namespace)
        obj.setdefault("apiVersion", API_VERSION)
        obj.setdefault("kind", KINDS[plural])
        {"warmpools": validation.validate_pool, "sandboxes": validation.validate_sandbox,
         "tasks": validation.validate_task}[plural](obj)
        what = f"{SINGULAR[plural]} {meta['namespace']}/{meta.get('name') or meta.get('generateName', '') + '*'}"
        return self._call("POST", self._path(plural, meta["namespace"]), what, body=obj)

    def get(self, plural: str, name: str, namespace: str = "default") -> Dict[str, Any]:
        return self._call("GET", self._path(plural, namespace, name), f"{SINGULAR[plural]} {namespace}/{name}")

    def list(self, plural: str, namespace: Optional[str] = "default",
             label_selector: Optional[str] = None) -> List[Dict[str, Any]]:
        path = f"/apis/{GROUP}/{VERSION}/{plural}" if namespace is None else self._path(plural, namespace)
        out = self._call("GET", path, f"{plural} in {namespace or 'all namespaces'}",
                         query={"labelSelector": label_selector})
        return out.get("items") or []

    def delete(self, plural: str, name: str, namespace: str = "default", *,
               missing_ok: bool = True) -> bool:
        """Deletes with background propagation; False when it was already gone."""
        try:
            self._call("DELETE", self._path(plural, namespace, name), f"{SINGULAR[plural]} {namespace}/{name}",
                       body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"})
        except NotFoundError:
            if missing_ok:
                return False
            raise
        return True

    def patch(self, plural: str, name: str, patch: Dict[str, Any], namespace: str = "default") -> Dict[str, Any]:
        return self._call("PATCH", self._path(plural, namespace, name), f"{SINGULAR[plural]} {namespace}/{name}",
                          body=patch, content_type="application/merge-patch+json")

    # ---- typed conveniences

    def create_pool(self, name: str, image: Optional[str] = None, *, replicas: int = 1,
                    template: Optional[Dict[str, Any]] = None, namespace: str = "default") -> Dict[str, Any]:
        if template is None:
            if not image:
                raise validation.ValidationError(f"warmpool {namespace}/{name}", ["spec.template: give image or template"])
            template = pool_template(image)
        return self.create("warmpools", {"metadata": {"name": name},
                                         "spec": {"replicas": replicas, "template": template}}, namespace)

    def get_pool(self, name: str, namespace: str = "default") -> Dict[str, Any]:
        return self.get("warmpools", name, namespace)

    def list_pools(self, namespace: Optional[str] = "default") -> List[Dict[str, Any]]:
        return self.list("warmpools", namespace)

    def delete_pool(self, name: str, namespace: str = "default") -> bool:
        return self.delete("warmpools", name, namespace)

    def scale_pool(self, name: str, replicas: int, namespace: str = "default") -> Dict[str, Any]:
        return self.patch("warmpools", name, {"spec": {"replicas": replicas}}, namespace)

    def wait_pool_ready(self, name: str, min_ready: int = 1, namespace: str = "default",
                        timeout: DurationLike = 120) -> Dict[str, Any]:
        return self.wait_for("warmpools", name,
                             lambda o: ((o.get("status") or {}).get("readyReplicas") or 0) >= min_ready,
                             namespace=namespace, timeout=timeout)

    def create_sandbox(self, pool_ref: str, *, name: Optional[str] = None, keep_alive: Optional[bool] = None,
                       ttl_seconds_after_finished: Optional[int] = None, labels: Optional[Dict[str, str]] = None,
                       namespace: str = "default", env: Any = None,
                       working_dir: Optional[str] = None,
                       fork_of: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        """env: {"NAME": "value"} for literals, or a list of spec.env entries as a container's
        ({"name": ..., "valueFrom": {"secretKeyRef": {"name": ..., "key": ...}}}); the operator
        resolves them at allocation and hands them to the warm pod's sidecar. working_dir: the
        sandbox's default cwd, relative to /workspace or under it. fork_of: {"sandbox": NAME,
        "checkpoint": ID} starts the sandbox as a copy of that sandbox's checkpoint (spec.forkOf)."""
        spec: Dict[str, Any] = {"poolRef": pool_ref}
        if fork_of:
            spec["forkOf"] = dict(fork_of)
        if env:
            spec["env"] = env_entries(env)
        if working_dir:
            spec["workingDir"] = working_dir
        if keep_alive is not None:
            spec["keepAlive"] = keep_alive
        if ttl_seconds_after_finished is not None:
            spec["ttlSecondsAfterFinished"] = ttl_seconds_after_finished
        meta: Dict[str, Any] = {"name": name or unique_name(pool_ref)}
        if labels:
            meta["labels"] = dict(labels)
        return self.create("sandboxes", {"metadata": meta, "spec": spec}, namespace)

    def get_sandbox(self, name: str, namespace: str = "default") -> Dict[str, Any]:
        return self.get("sandboxes", name, namespace)

    def list_sandboxes(self, namespace: Optional[str] = "default", label_selector: Optional[str] = None):
        return self.list("sandboxes", namespace, label_selector)

    def delete_sandbox(self, name: str, namespace: str = "default") -> bool:
        return self.delete("sandboxes", name, namespace)

    def create_task(self, sandbox_ref: str, steps: Any, *, timeout: DurationLike = "30s",
                    name: Optional[str] = None, retries: Optional[int] = None,
                    ttl_seconds_after_finished: Optional[int] = None,
                    owner: Optional[Dict[str, Any]] = None, namespace: str = "default") -> Dict[str, Any]:
        """`owner` (a Sandbox object) makes the task garbage-collected with its sandbox."""
        subject = f"task {namespace}/{name or sandbox_ref + '-*'}"
        problems = validation.step_problems(steps)
        try:
            timeout_s = to_duration_string(timeout)
        except ValueError as e:
            problems.append(f"spec.timeout: {e}")
            timeout_s = None
        if problems:
            raise validation.ValidationError(subject, problems)
        spec: Dict[str, Any] = {"sandboxRef": sandbox_ref, "timeout": timeout_s,
                                "steps": validation.step_dicts(steps)}
        if retries is not None:
            spec["retries"] = retries
        if ttl_seconds_after_finished is not None:
            spec["ttlSecondsAfterFinished"] = ttl_seconds_after_finished
        meta: Dict[str, Any] = {"name": name or unique_name(sandbox_ref, 253)}
        if owner is not None:
            om = owner["metadata"]
            meta["ownerReferences"] = [{"apiVersion": API_VERSION, "kind": "Sandbox",
                                        "name": om["name"], "uid": om["uid"]}]
        return self.create("tasks", {"metadata": meta, "spec": spec}, namespace)

    def get_task(self, name: str, namespace: str = "default") -> Dict[str, Any]:
        return self.get("tasks", name, namespace)

    def list_tasks(self, namespace: Optional[str] = "default", label_selector: Optional[str] = None):
        return self.list("tasks", namespace, label_selector)

    def delete_task(self, name: str, namespace: str = "default") -> bool:
        return self.delete("tasks", name, namespace)

    # ---- waiting

    def wait_for(self, plural: str, name: str, predicate: Predicate, *, namespace: str = "default",
                 timeout: DurationLike = 60, resource_version: Optional[str] = None,
                 current: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Blocks until `predicate(obj)` is true and returns that object.

        Answered from the process-wide informer of (namespace, kind) (informer.py:
        one list + watch shared by every wait), never a poll loop. Pass the
        object you already have (`current`, e.g. the create reply): states of the
        shared view older than its resourceVersion are ignored.
        Raises ArlTimeoutError (a TimeoutError) on timeout, NotFoundError when
        the object is deleted meanwhile. `predicate` may raise to abort.
        """
        what = f"{SINGULAR[plural]} {namespace}/{name}"
        deadline = time.monotonic() + to_seconds(timeout)
        inf = informer_for(self.transport, plural, namespace)
        waiter = inf.add_waiter(name)  # before the first look: no change can slip between the two
        try:
            obj = current
            if obj is None or resource_version is None and not obj.get("metadata", {}).get("resourceVersion"):
                obj = self.get(plural, name, namespace)
            if predicate(obj):
                return obj
            floor = _rv_int(resource_version) if resource_version else _rv_int(obj)
            while True:
                seen, view_rv = inf.lookup(name)
                gone = seen is None and (waiter.deleted is not None or
                                         floor is not None and view_rv is not None and view_rv >= floor)
                if gone:
                    raise NotFoundError(f"{what}: deleted while waiting; last seen {_summary(waiter.deleted or obj)}",
                                        status=404, reason="NotFound")
                # The shared view may still be behind the object the caller holds: skip it until it catches up.
                if seen is not None and seen is not obj and (floor is None or (_rv_int(seen) or 0) >= floor):
                    obj = seen
                    if predicate(obj):
                        return obj
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ArlTimeoutError(f"{what}: timed out after {to_seconds(timeout):g}s waiting; last seen "
                                          f"{_summary(obj)}", reason="Timeout")
                waiter.event.wait(remaining)
                waiter.event.clear()
        finally:
            inf.remove_waiter(waiter)

    # ---- the sandbox's executor, through the API server's pod proxy

    def pool_token(self, pool: str, namespace: str = "default", *, refresh: bool = False) -> str:
        key = (namespace, pool)
        with self._lock:
            if not refresh and key in self._tokens:
                return self._tokens[key]
        secret = POOL_SECRET_PREFIX + pool
        doc = self._call("GET", f"/api/v1/namespaces/{namespace}/secrets/{secret}", f"secret {namespace}/{secret}")
        raw = (doc.get("data") or {}).get("token")
        if not raw:
            raise NotFoundError(f"secret {namespace}/{secret}: has no key 'token'; is the operator running?")
        # As stored: the sidecar compares it raw, and it keys the sandbox tokens.
        token = base64.b64decode(raw).decode()
        with self._lock:
            self._tokens[key] = token
        return token

    def sidecar_request(self, namespace: str, pod: str, token: str, endpoint: str, body: Optional[Dict[str, Any]],
                        timeout: float, stream: bool = False, method: str = "POST"):
        """POST (or `method`) to the executor of `pod`; returns the decoded reply, or the open Response if stream."""
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}:{SIDECAR_PORT}/proxy/{endpoint}"
        what = f"sandbox pod {namespace}/{pod} {method} /{endpoint}" if method != "POST" else \
            f"sandbox pod {namespace}/{pod} /{endpoint}"
        r = self.transport.request(method, path, body=body, headers={TOKEN_HEADER: token},
                                   timeout=(10.0, timeout), chunked=stream)
        if not 200 <= r.status < 300:
            raise sidecar_error(r.status, r.data, what)
        if stream:
            return r
        return r.json()

    def sidecar_get(self, namespace: str, pod: str, token: str, endpoint: str, query: Dict[str, Any],
                    timeout: float) -> bytes:
        """GET from the executor of `pod`; returns the raw reply body (e.g. NDJSON)."""
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}:{SIDECAR_PORT}/proxy/{endpoint}"
        what = f"sandbox pod {namespace}/{pod} /{endpoint}"
        r = self.transport.request("GET", path, query=query, headers={TOKEN_HEADER: token}, timeout=(10.0, timeout))
        if not 200 <= r.status < 300:
            raise sidecar_error(r.status, r.data, what)
        return r.data


def _summary(obj: Optional[Dict[str, Any]]) -> str:
    if not obj:
        return "nothing"
    st = obj.get("status") or {}
    state = st.get("phase") or st.get("state") or "no status"
    msg = st.get("message") or next((c.get("message") for c in st.get("conditions") or [] if c.get("message")), None)
    return f"{state}" + (f" ({msg})" if msg else "")


_shared_lock = threading.Lock()
_shared_clients: Dict[tuple, ArlClient] = {}


def env_entries(env: Any) -> List[Dict[str, Any]]:
    """spec.env from a mapping of literals or a list of entries (passed through)."""
    if isinstance(env, Mapping):
        return [{"name": str(k), "value": str(v)} for k, v in env.items()]
    return [dict(e) for e in env]
