"""One watch per (API server, namespace, kind) for the whole process.

Every wait of every session (a sandbox becoming Ready, a task finishing, a pool
filling up) is answered from a shared in-memory view of the namespace's objects
of that kind, kept current by a single list + watch. A watch per wait costs a
TLS connection and a server-side watcher each; at hundreds of concurrent
episodes that, not the operator, is what limits throughput.

The informer:
- starts lazily with its first waiter (list, then watch from the list's
  resourceVersion) and stops once it has had no waiter for `linger` seconds;
- resumes a watch the server or the network ends from the last resourceVersion
  it saw (bookmarks keep that fresh), and lists afresh only on 410 Gone;
- retries every failure (connection refused while the API server restarts,
  429 Too Many Requests, 5xx) with capped, jittered backoff: a waiter never sees
  them, it only times out if the view cannot be brought up to date in time;
- wakes only the waiters of the object that changed (one Event per waiter).

Waiters evaluate their predicate in their own thread, on the newest object.
"""
from __future__ import annotations

import json
import os
import random
import threading
import time
from typing import Any, Callable, Dict, Iterator, Optional, Set, Tuple

import urllib3

from .errors import UnavailableError

GROUP_PATH = "/apis/arl.infra.io/v1alpha1"
# How long a watch request lasts before the server ends it and we resume it: short
# enough that an unused informer notices it may stop, long enough to cost nothing.
WATCH_SECONDS = int(os.environ.get("ARL_INFORMER_WATCH_SECONDS", "60"))
LINGER_SECONDS = float(os.environ.get("ARL_INFORMER_LINGER_SECONDS", "30"))
BACKOFF_START, BACKOFF_MAX = 0.1, 5.0


def _rv_int(obj: Optional[Dict[str, Any]]) -> Optional[int]:
    """resourceVersions are opaque, but every API server backed by etcd gives
    integers; they are compared only to ignore a view older than what a caller
    already holds, and not at all when they do not parse."""
    try:
        return int((obj or {}).get("metadata", {}).get("resourceVersion", ""))
    except (TypeError, ValueError):
        return None


class Waiter:
    """One blocked wait on one object name."""

    def __init__(self, name: str):
        self.name = name
        self.event = threading.Event()
        self.deleted: Optional[Dict[str, Any]] = None  # the last state, once a DELETED was seen


class Informer:
    def __init__(self, transport: Any, plural: str, namespace: str, *, linger: Optional[float] = None,
                 watch_seconds: Optional[int] = None, sleep: Callable[[float], None] = time.sleep):
        self.transport = transport
        self.plural = plural
        self.namespace = namespace
        self.linger = LINGER_SECONDS if linger is None else linger
        self.watch_seconds = WATCH_SECONDS if watch_seconds is None else watch_seconds
        self._sleep = sleep
        self._lock = threading.Lock()
        self._objects: Dict[str, Dict[str, Any]] = {}
        self._waiters: Dict[str, Set[Waiter]] = {}
        self._n_waiters = 0
        self._idle_since = time.monotonic()
        self._thread: Optional[threading.Thread] = None
        self._synced = threading.Event()  # the first list of this run is in
        self._rv = ""
        self._stop = False
        self._gen = 0  # which run of the thread owns the view; an ending run never touches a newer one
        # Counters, for tests and the bench: how the shared watch is behaving.
        self.lists = 0          # lists (the first, plus one per 410 Gone)
        self.watches = 0        # watch requests made (resumes included)
        self.open_watches = 0   # watch streams open right now (0 or 1)
        self.max_open_watches = 0
        self.errors = 0         # failed requests retried with backoff
        self.runs = 0           # times the informer's thread was started

    @property
    def path(self) -> str:
        return f"{GROUP_PATH}/namespaces/{self.namespace}/{self.plural}"

    # ---- the waiters' side

    def add_waiter(self, name: str) -> Waiter:
        w = Waiter(name)
        with self._lock:
            self._waiters.setdefault(name, set()).add(w)
            self._n_waiters += 1
            if self._thread is None:
                self._stop = False
                self._synced.clear()
                self._objects = {}
                self.runs += 1
                self._gen += 1
                self._thread = threading.Thread(target=self._run, args=(self._gen,), daemon=True,
                                                name=f"arl-informer-{self.namespace}-{self.plural}")
                self._thread.start()
        return w

    def remove_waiter(self, w: Waiter) -> None:
        with self._lock:
            ws = self._waiters.get(w.name)
            if ws is not None and w in ws:
                ws.discard(w)
                if not ws:
                    del self._waiters[w.name]
                self._n_waiters -= 1
                if self._n_waiters == 0:
                    self._idle_since = time.monotonic()

    def current(self, name: str) -> Optional[Dict[str, Any]]:
        """The newest state of `name` in the view (None when absent or before the first list)."""
        with self._lock:
            return self._objects.get(name)

    def lookup(self, name: str) -> Tuple[Optional[Dict[str, Any]], Optional[int]]:
        """(the newest state of `name` or None, the resourceVersion the view is current to or
        None before the first list), read together: apart, a list landing between the two reads
        would make a live object look deleted."""
        with self._lock:
            obj = self._objects.get(name)
            if not self._synced.is_set():
                return obj, None
            try:
                return obj, int(self._rv)
            except ValueError:
                return obj, None

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(max(0.0, timeout))

    def stop(self) -> None:
        """Asks the thread to end at its next wake-up (tests; unused informers stop by themselves)."""
        with self._lock:
            self._stop = True

    @property
    def waiting(self) -> int:
        """How many waits the view is feeding right now."""
        with self._lock:
            return self._n_waiters

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    # ---- the watching thread

    def _should_exit(self, gen: int) -> bool:
        """Called with the lock held: no waiter for `linger` seconds, or told to stop."""
        if gen != self._gen:
            return True  # this run already ended and a new one owns the view
        if self._stop or (self._n_waiters == 0 and time.monotonic() - self._idle_since >= self.linger):
            self._thread = None
            self._synced.clear()
            self._gen += 1
            return True
        return False

    def _run(self, gen: int) -> None:
        backoff = BACKOFF_START
        need_list = True
        while True:
            with self._lock:
                if self._should_exit(gen):
                    return
            try:
                if need_list:
                    self._list(gen)
                    need_list = False
                gone = self._watch_once(gen)
                if gone:
                    need_list = True
                backoff = BACKOFF_START
            except _Retry as e:
                self.errors += 1
                self._sleep(e.after if e.after is not None else backoff * (0.5 + random.random()))
                backoff = min(BACKOFF_MAX, backoff * 2)

    def _list(self, gen: int) -> None:
        r = self._request({})
        doc = r.json()
        items = {o["metadata"]["name"]: o for o in doc.get("items") or []}
        with self._lock:
            if gen != self._gen:
                return
            old = self._objects
            self._objects = items
            self._rv = (doc.get("metadata") or {}).get("resourceVersion", "")
            self.lists += 1
            # Every waiter looks again: a name absent from a list newer than the object it
            # holds was deleted meanwhile (perhaps before this informer ever saw it).
            for n, ws in self._waiters.items():
                for w in ws:
                    if n not in items and n in old:
                        w.deleted = old[n]
                    w.event.set()
            self._synced.set()

    def _watch_once(self, gen: int) -> bool:
        """One watch request from the last resourceVersion; True when it is too old (410)."""
        query = {"watch": "true", "resourceVersion": self._rv, "allowWatchBookmarks": "true",
                 "timeoutSeconds": self.watch_seconds}
        r = self._request(query, timeout=(10.0, self.watch_seconds + 15.0), gone_ok=True)
        if r is None:
            return True
        self.watches += 1
        with self._lock:
            self.open_watches += 1
            self.max_open_watches = max(self.max_open_watches, self.open_watches)
        try:
            for line in r.lines():
                ev = json.loads(line)
                kind, obj = ev.get("type"), ev.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        return True
                    raise _Retry(f"watch {self.path}: {obj.get('message') or obj}")
                with self._lock:
                    if self._should_exit(gen):
                        return False
                    self._apply(kind, obj)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as e:
            # Dropped mid-stream (API server restart, network): resume from self._rv.
            raise _Retry(f"watch {self.path} dropped: {e}")
        finally:
            with self._lock:
                self.open_watches -= 1
            r.close()
        return False

    def _apply(self, kind: str, obj: Dict[str, Any]) -> None:
        """Called with the lock held."""
        meta = obj.get("metadata") or {}
        rv = meta.get("resourceVersion")
        if rv:
            self._rv = rv
        if kind == "BOOKMARK":
            return
        name = meta.get("name", "")
        if kind == "DELETED":
            self._objects.pop(name, None)
        elif kind in ("ADDED", "MODIFIED"):
            self._objects[name] = obj
        else:
            return
        for w in self._waiters.get(name, ()):
            if kind == "DELETED":
                w.deleted = obj
            w.event.set()

    def _request(self, query: Dict[str, Any], timeout: Any = 30.0, gone_ok: bool = False) -> Any:
        try:
            r = self.transport.request("GET", self.path, query=query, timeout=timeout)
        except UnavailableError as e:
            raise _Retry(str(e))
        if r.status == 410 and gone_ok:
            r.data
            return None
        if r.status == 429 or r.status >= 500 or r.status == 0:
            after = retry_after(r)
            r.data
            raise _Retry(f"{self.path}: HTTP {r.status}", after)
        if not 200 <= r.status < 300:
            # 403/404 (no RBAC, CRD missing): nothing a retry fixes soon, but a wait must
            # not crash the informer either; back off at the maximum and keep trying.
            body = r.data
            raise _Retry(f"{self.path}: HTTP {r.status}: {body[:200]!r}", BACKOFF_MAX)
        return r


class _Retry(Exception):
    def __init__(self, message: str, after: Optional[float] = None):
        super().__init__(message)
        self.after = after


def retry_after(r: Any) -> Optional[float]:
    """The reply's Retry-After in seconds (capped), if it has one."""
    headers = getattr(r, "headers", None) or {}
    try:
        v = headers.get("Retry-After")
        return min(BACKOFF_MAX, float(v)) if v else None
    except (TypeError, ValueError, AttributeError):
        return None


_registry_lock = threading.Lock()
_registry: Dict[Tuple[int, str, str], Tuple[Any, Informer]] = {}


def informer_for(transport: Any, plural: str, namespace: str) -> Informer:
    """The process-wide informer of (transport, namespace, plural); one transport is
    one API server and one identity (transport.shared_transport)."""
    key = (id(transport), plural, namespace)
    with _registry_lock:
        entry = _registry.get(key)
        if entry is None or entry[0] is not transport:
            entry = (transport, Informer(transport, plural, namespace))
            _registry[key] = entry
        return entry[1]


def informers() -> Iterator[Informer]:
    with _registry_lock:
        return iter([inf for _, inf in _registry.values()])
