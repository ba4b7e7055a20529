"""Result dicts of the KubernetesAdapter. Every operation answers
{"status": "success"|"error", "message": str, ...data}; a cluster-side failure
is an error result carrying the API server's reason and HTTP code, never an
exception, so an agent reads what went wrong from the same place as what went
right.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import urllib3

from .k8s_adapter_backend import UnknownResourceType, status_body


def success(message: str, **data: Any) -> Dict[str, Any]:
    return {"status": "success", "message": message, **data}


def error(message: str, reason: str, code: Optional[int] = None, **data: Any) -> Dict[str, Any]:
    return {"status": "error", "message": message, "reason": reason, "code": code, **data}


def timeout(what: str, seconds: float, missing: str, **data: Any) -> Dict[str, Any]:
    """A wait that ran out: `missing` says what had not happened yet."""
    return error(f"{what}: timed out after {seconds:g}s: {missing}", "Timeout", None, missing=missing, **data)


# HTTP codes the API server answers without a Status body (or a proxy in between).
_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
            409: "Conflict", 410: "Gone", 415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests",
            500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


def from_exception(what: str, exc: BaseException, **data: Any) -> Dict[str, Any]:
    """An error result for a failed call: the Status' reason, code and message when the API
    server sent one; otherwise the transport's failure (unreachable server, TLS, ...)."""
    if isinstance(exc, UnknownResourceType):
        return error(f"{what}: {exc}", "NotFound", None, **data)
    code = getattr(exc, "status", None)
    if isinstance(code, int) and code > 0:
        body = status_body(exc)
        reason = body.get("reason") or _REASONS.get(code) or getattr(exc, "reason", None) or "Unknown"
        message = body.get("message") or str(getattr(exc, "reason", "")) or str(exc)
        details = body.get("details") or {}
        extra = {"causes": details["causes"]} if details.get("causes") else {}
        return error(f"{what}: {message}", str(reason), code, **extra, **data)
    if isinstance(exc, (OSError, urllib3.exceptions.HTTPError)):
        return error(f"{what}: cannot reach the API server: {type(exc).__name__}: {exc}", "Unavailable", None,
                     **data)
    # Not the cluster's doing: still a result, so one bad call does not end the agent's episode.
    return error(f"{what}: the adapter failed: {type(exc).__name__}: {exc}", "AdapterError", None, **data)
