"""Waiting on the cluster with watches, not polling loops: list once (state
and resourceVersion), then watch from there, judging every event, until the
judgement says done or the deadline passes. A watch the server ends early
(its timeoutSeconds, a 410 Gone) is followed by a fresh list.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional, Tuple

Objects = Dict[str, Dict[str, Any]]  # name -> object


def wait_for(backend: Any, api_version: str, kind: str, namespace: Optional[str],
             check: Callable[[Objects], Any], deadline: float, *, field_selector: Optional[str] = None,
             label_selector: Optional[str] = None,
             clock: Callable[[], float] = time.monotonic) -> Tuple[Any, Objects]:
    """Calls check(objects) on the listed objects and after every change; returns
    (its first non-None answer, the objects then) or (None, the last objects seen) once
    `deadline` (a `clock` value) passes. Errors of the list propagate."""
    objects: Objects = {}
    while True:
        listed = backend.list(api_version, kind, namespace, label_selector=label_selector,
                              field_selector=field_selector)
        objects = {o["metadata"]["name"]: o for o in listed.get("items", [])}
        answer = check(objects)
        if answer is not None:
            return answer, objects
        remaining = deadline - clock()
        if remaining <= 0:
            return None, objects
        rv = listed.get("metadata", {}).get("resourceVersion", "")
        for ev_type, obj in backend.watch(api_version, kind, namespace, rv, remaining,
                                          field_selector=field_selector, label_selector=label_selector):
            if ev_type == "ERROR":
                break  # e.g. 410 Gone: the list above starts over from now
            name = obj.get("metadata", {}).get("name", "")
            if ev_type == "DELETED":
                objects.pop(name, None)
            elif ev_type in ("ADDED", "MODIFIED"):
                objects[name] = obj
            else:
                continue
            answer = check(objects)
            if answer is not None:
                return answer, objects
            if clock() >= deadline:
                return None, objects
        if clock() >= deadline:
            return None, objects


def wait_for_object(backend: Any, api_version: str, kind: str, name: str, namespace: Optional[str],
                    check: Callable[[Optional[Dict[str, Any]]], Any], deadline: float,
                    clock: Callable[[], float] = time.monotonic) -> Tuple[Any, Optional[Dict[str, Any]]]:
    """wait_for on one object by name; check gets None while it does not exist."""
    answer, objects = wait_for(backend, api_version, kind, namespace, lambda objs: check(objs.get(name)), deadline,
                               field_selector=f"metadata.name={name}", clock=clock)
    return answer, objects.get(name)
