"""An in-memory stand-in for KubernetesAdapter's backend seam
(arl_client.k8s_adapter_backend.KubeBackend): same methods, dicts in and
out, ApiException with a Status body for failures. Every write is recorded
in `writes` so tests list the exact calls an operation made. `reactors`
play the controllers: called after each write with (verb, obj), they may
change objects with `put`, which watchers then see as events.
"""
from __future__ import annotations

import copy
import json
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from kubernetes.client.exceptions import ApiException

NAMESPACED = {"Deployment", "ReplicaSet", "Pod", "Job", "Service", "ConfigMap"}
ALIASES = {"deploy": ("apps/v1", "Deployment"), "deployment": ("apps/v1", "Deployment"),
           "pod": ("v1", "Pod"), "job": ("batch/v1", "Job"), "svc": ("v1", "Service"),
           "namespace": ("v1", "Namespace")}


def api_error(code: int, reason: str, message: str) -> ApiException:
    e = ApiException(status=code, reason=reason)
    e.body = json.dumps({"kind": "Status", "status": "Failure", "reason": reason, "message": message,
                         "code": code})
    return e


class FakeBackend:
    def __init__(self) -> None:
        self.objects: Dict[Tuple[str, Optional[str], str], Dict[str, Any]] = {}
        self.writes: List[Tuple[str, str, str]] = []  # (verb, kind, name)
        self.reactors: List[Callable[[str, Dict[str, Any]], None]] = []
        self.fail: Dict[Tuple[str, str], ApiException] = {}  # (verb, name) -> error to raise
        self.logs: Dict[str, str] = {}
        self._rv = 0
        self._cond = threading.Condition()
        self._events: List[Tuple[int, str, Dict[str, Any]]] = []

    # ---- helpers for tests
    def put(self, obj: Dict[str, Any], event: str = "MODIFIED") -> Dict[str, Any]:
        with self._cond:
            self._rv += 1
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            meta["resourceVersion"] = str(self._rv)
            meta.setdefault("uid", f"uid-{meta['name']}")
            key = (obj["kind"], meta.get("namespace"), meta["name"])
            if event == "DELETED":
                self.objects.pop(key, None)
            else:
                self.objects[key] = obj
            self._events.append((self._rv, event, copy.deepcopy(obj)))
            self._cond.notify_all()
            return copy.deepcopy(obj)

    def _check_fail(self, verb: str, name: str) -> None:
        if (verb, name) in self.fail:
            raise self.fail[(verb, name)]

    def _react(self, verb: str, obj: Dict[str, Any]) -> None:
        for r in self.reactors:
            r(verb, obj)

    # ---- the seam
    def namespaced(self, api_version: str, kind: str) -> bool:
        return kind in NAMESPACED

    def resolve_type(self, resource_type: str) -> Tuple[str, str]:
        if resource_type not in ALIASES:
            from arl_client.k8s_adapter_backend import UnknownResourceType
            raise UnknownResourceType(f'resource type "{resource_type}": the cluster serves no such kind')
        return ALIASES[resource_type]

    def get(self, api_version, kind, name, namespace):
        self._check_fail("get", name)
        obj = self.objects.get((kind, namespace, name))
        if obj is None:
            raise api_error(404, "NotFound", f'{kind.lower()}s "{name}" not found')
        return copy.deepcopy(obj)

    def list(self, api_version, kind, namespace, label_selector=None, field_selector=None):
        want = dict(p.split("=", 1) for p in label_selector.split(",")) if label_selector else {}
        name = field_selector.split("=", 1)[1] if field_selector else None
        with self._cond:
            items = [copy.deepcopy(o) for (k, ns, n), o in self.objects.items()
                     if k == kind and ns == namespace and (name is None or n == name)
                     and all((o["metadata"].get("labels") or {}).get(a) == b for a, b in want.items())]
            return {"items": items, "metadata": {"resourceVersion": str(self._rv)}}

    def apply(self, obj, namespace, dry_run, force):
        self._check_fail("apply", obj["metadata"]["name"])
        self.writes.append(("apply" + (" dry-run" if dry_run else ""), obj["kind"], obj["metadata"]["name"]))
        key = (obj["kind"], namespace, obj["metadata"]["name"])
        before = self.objects.get(key)
        merged = copy.deepcopy(before) if before else {}
        for k, v in obj.items():
            if k != "metadata":
                merged[k] = copy.deepcopy(v)
        merged.setdefault("metadata", {}).update({k: v for k, v in obj["metadata"].items()})
        if before and {k: v for k, v in merged.items() if k != "metadata"} == \
                {k: v for k, v in before.items() if k != "metadata"}:
            return copy.deepcopy(before)
        if dry_run:
            return merged
        out = self.put(merged, "MODIFIED" if before else "ADDED")
        self._react("apply", out)
        return out

    def create(self, obj, namespace, dry_run):
        self._check_fail("create", obj["metadata"].get("name", ""))
        obj = copy.deepcopy(obj)
        if not obj["metadata"].get("name"):
            obj["metadata"]["name"] = obj["metadata"]["generateName"] + "x1"
        self.writes.append(("create" + (" dry-run" if dry_run else ""), obj["kind"], obj["metadata"]["name"]))
        if dry_run:
            return obj
        out = self.put(obj, "ADDED")
        self._react("create", out)
        return out

    def patch(self, api_version, kind, name, namespace, body, content_type, dry_run):
        self._check_fail("patch", name)
        self.writes.append(("patch" + (" dry-run" if dry_run else ""), kind, name))
        obj = self.get(api_version, kind, name, namespace)
        if content_type.startswith("application/json-patch"):
            for op in body:
                parts = op["path"].strip("/").split("/")
                target = obj
                for p in parts[:-1]:
                    target = target.setdefault(p, {})
                target[parts[-1]] = copy.deepcopy(op["value"])
        else:
            _merge(obj, body)
        if dry_run:
            return obj
        out = self.put(obj)
        self._react("patch", out)
        return out

    def delete(self, api_version, kind, name, namespace, dry_run, propagation="Background"):
        self._check_fail("delete", name)
        obj = self.get(api_version, kind, name, namespace)
        self.writes.append(("delete" + (" dry-run" if dry_run else ""), kind, name))
        if not dry_run:
            self.put(obj, "DELETED")
            self._react("delete", obj)

    def watch(self, api_version, kind, namespace, resource_version, timeout, field_selector=None,
              label_selector=None):
        import time
        deadline = time.monotonic() + timeout
        seen = int(resource_version or 0)
        want = dict(p.split("=", 1) for p in label_selector.split(",")) if label_selector else {}
        name = field_selector.split("=", 1)[1] if field_selector else None
        while True:
            with self._cond:
                fresh = [e for e in self._events if e[0] > seen]
                if not fresh:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self._cond.wait(left)
                    continue
            for rv, ev, obj in fresh:
                seen = rv
                meta = obj["metadata"]
                if obj["kind"] != kind or meta.get("namespace") != namespace:
                    continue
                if name is not None and meta["name"] != name:
                    continue
                if not all((meta.get("labels") or {}).get(a) == b for a, b in want.items()):
                    continue
                yield ev, copy.deepcopy(obj)

    def pod_log(self, name, namespace, container):
        if name not in self.logs:
            raise api_error(400, "BadRequest", f'pod "{name}" has no log')
        return self.logs[name]


def _merge(dst: Dict[str, Any], patch: Dict[str, Any]) -> None:
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        elif v is None:
            dst.pop(k, None)
        else:
            dst[k] = copy.deepcopy(v)
