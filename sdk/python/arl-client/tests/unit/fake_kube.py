"""An in-memory stand-in for the API server, speaking the transport interface.

Objects keep their full event history, so a watch from resourceVersion R
replays exactly the changes after R, as the real server does. `reactors` play
the operator: called after each create with (plural, obj), they may push
further updates with `update`.
"""
from __future__ import annotations

import json
import re
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple


class FakeResponse:
    def __init__(self, status: int, body: Any = None, lines: Optional[List[Any]] = None):
        self.status = status
        self._body = body
        self._lines = lines if lines is not None else []
        self.closed = False

    @property
    def data(self) -> bytes:
        if isinstance(self._body, bytes):
            return self._body
        return json.dumps(self._body).encode() if self._body is not None else b""

    def json(self) -> Any:
        return json.loads(self.data or b"null")

    def lines(self):
        for ln in self._lines:
            yield ln if isinstance(ln, bytes) else json.dumps(ln).encode()

    def close(self) -> None:
        self.closed = True


_CR = re.compile(r"^/apis/arl\.infra\.io/v1alpha1/namespaces/([^/]+)/([^/]+)(?:/([^/]+))?$")
_PROXY = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/:]+):8080/proxy/(.+)$")
_SECRET = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets/([^/]+)$")


class FakeKube:
    def __init__(self) -> None:
        self.rv = 100
        self.objects: Dict[Tuple[str, str, str], Dict[str, Any]] = {}
        self.history: List[Tuple[int, str, str, Dict[str, Any]]] = []  # rv, plural, type, obj
        self.requests: List[Dict[str, Any]] = []
        self.reactors: List[Callable[[str, Dict[str, Any]], None]] = []
        self.sidecar: Callable[[str, Dict[str, Any], Dict[str, str]], FakeResponse] = \
            lambda ep, body, hdrs: FakeResponse(404, {"error": "no sidecar"})
        self.secrets: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self.expire_next_watch = False
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # notified on every new event
        self.watch_cap_s = 0.2  # a watch of every name ends after this long (the server's timeoutSeconds)
        self.fail_next: List[int] = []  # statuses the next requests get instead of an answer (e.g. 429)

    # ---- helpers for tests

    def _bump(self, plural: str, kind: str, obj: Dict[str, Any]) -> Dict[str, Any]:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.history.append((self.rv, plural, kind, json.loads(json.dumps(obj))))
        self.changed.notify_all()
        return obj

    def update(self, plural: str, ns: str, name: str, status: Dict[str, Any]) -> None:
        with self.lock:
            obj = self.objects[(plural, ns, name)]
            obj["status"] = status
            self._bump(plural, "MODIFIED", obj)

    def put_secret(self, ns: str, name: str, token: str) -> None:
        import base64
        self.secrets[(ns, name)] = {"data": {"token": base64.b64encode(token.encode()).decode()}}

    def calls(self, method: str, contains: str = "") -> List[Dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and contains in r["path"]]

    # ---- transport interface

    def request(self, method: str, path: str, *, query=None, body=None, headers=None,
                content_type="application/json", timeout=None, chunked=False) -> FakeResponse:
        with self.lock:
            self.requests.append({"method": method, "path": path, "query": dict(query or {}), "body": body,
                                  "headers": dict(headers or {}), "chunked": chunked})
            if self.fail_next:
                return FakeResponse(self.fail_next.pop(0), {"kind": "Status", "message": "injected"})
            m = _PROXY.match(path)
            if m:
                return self.sidecar(m.group(3), body, dict(headers or {}))
            m = _SECRET.match(path)
            if m:
                s = self.secrets.get((m.group(1), m.group(2)))
                return FakeResponse(200, s) if s else FakeResponse(
                    404, {"kind": "Status", "reason": "NotFound", "message": f'secrets "{m.group(2)}" not found'})
            m = _CR.match(path)
            if not m:
                return FakeResponse(404, {"kind": "Status", "message": "no route " + path})
            ns, plural, name = m.groups()
            q = dict(query or {})
            if method == "POST":
                return self._create(plural, ns, body)
            if method == "GET" and name:
                obj = self.objects.get((plural, ns, name))
                if obj is None:
                    return FakeResponse(404, {"kind": "Status", "reason": "NotFound",
                                              "message": f'{plural} "{name}" not found'})
                return FakeResponse(200, json.loads(json.dumps(obj)))
            if method == "GET" and q.get("watch"):
                return self._watch(plural, ns, q)
            if method == "GET":
                items = [o for (p, n, _), o in self.objects.items() if p == plural and n == ns]
                return FakeResponse(200, {"items": items, "metadata": {"resourceVersion": str(self.rv)}})
            if method == "DELETE":
                obj = self.objects.pop((plural, ns, name), None)
                if obj is None:
                    return FakeResponse(404, {"kind": "Status", "reason": "NotFound",
                                              "message": f'{plural} "{name}" not found'})
                self._bump(plural, "DELETED", obj)
                return FakeResponse(200, {"kind": "Status", "status": "Success"})
        return FakeResponse(405, {"kind": "Status", "message": "unsupported"})

    def _create(self, plural: str, ns: str, body: Dict[str, Any]) -> FakeResponse:
        obj = json.loads(json.dumps(body))
        name = obj["metadata"]["name"]
        if (plural, ns, name) in self.objects:
            return FakeResponse(409, {"kind": "Status", "reason": "AlreadyExists",
                                      "message": f'{plural} "{name}" already exists'})
        obj["metadata"]["uid"] = f"uid-{name}"
        self.objects[(plural, ns, name)] = obj
        self._bump(plural, "ADDED", obj)
        reply = json.loads(json.dumps(obj))
        for r in self.reactors:
            r(plural, obj)
        return FakeResponse(201, reply)

    def _watch(self, plural: str, ns: str, q: Dict[str, Any]) -> FakeResponse:
        if self.expire_next_watch:
            self.expire_next_watch = False
            return FakeResponse(200, lines=[{"type": "ERROR", "object": {"kind": "Status", "code": 410,
                                                                        "message": "too old resource version"}}])
        if "fieldSelector" not in q:
            return FakeResponse(200, lines=self._stream(plural, ns, int(q.get("resourceVersion") or 0)))
        name = q["fieldSelector"].split("=", 1)[1]
        since = int(q.get("resourceVersion") or 0)
        events = [{"type": t, "object": o} for rv, p, t, o in self.history
                  if p == plural and rv > since and o["metadata"]["name"] == name
                  and o["metadata"].get("namespace", ns) == ns]
        return FakeResponse(200, lines=events)

    def _stream(self, plural: str, ns: str, since: int):
        """Every event of (plural, ns) after `since`, then new ones as they come, for watch_cap_s."""
        import time
        end = time.monotonic() + self.watch_cap_s
        while True:
            with self.lock:
                batch = [{"type": t, "object": o} for rv, p, t, o in self.history
                         if p == plural and rv > since and o["metadata"].get("namespace", ns) == ns]
                if not batch:
                    left = end - time.monotonic()
                    if left <= 0:
                        return
                    self.changed.wait(left)
                    continue
            for ev in batch:
                since = int(ev["object"]["metadata"]["resourceVersion"])
                yield ev
