"""One exception family for the SDK, and the mapping from API-server and
sidecar replies to it.

The classes also derive from the built-in exception a caller would naturally
catch (ValueError, LookupError, TimeoutError, RuntimeError), so code written
against plain Python exceptions keeps working.
"""
from __future__ import annotations

import json
from typing import Any, List, Optional


class ArlError(Exception):
    """Base of every error the SDK raises on purpose."""

    def __init__(self, message: str, *, status: Optional[int] = None, reason: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


class ValidationError(ArlError, ValueError):
    """Input refused before anything was sent; `problems` lists every issue."""

    def __init__(self, subject: str, problems: List[str]):
        self.subject = subject
        self.problems = list(problems)
        super().__init__(f"{subject}: " + "; ".join(self.problems))


class NotFoundError(ArlError, LookupError):
    pass


class AlreadyExistsError(ArlError):
    pass


class ConflictError(ArlError):
    pass


class InvalidError(ArlError, ValueError):
    """The API server (CRD schema / CEL rules) refused the object."""


class ForbiddenError(ArlError, PermissionError):
    pass


class UnavailableError(ArlError, ConnectionError):
    """The API server or the sandbox's executor could not be reached."""


class ArlTimeoutError(ArlError, TimeoutError):
    pass


class SandboxError(ArlError, RuntimeError):
    """A sandbox could not be had, or failed; the message carries the operator's reason."""


class TaskFailedError(ArlError, RuntimeError):
    pass


class SidecarError(ArlError, RuntimeError):
    """The sandbox's executor refused a request (its JSON `error` is the message)."""


def _body_text(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return str(body)


def server_message(body: Any) -> Optional[str]:
    """The human message of a Kubernetes Status or sidecar error body, if any."""
    text = _body_text(body).strip()
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(doc, dict):
        for key in ("message", "error"):
            if isinstance(doc.get(key), str) and doc[key]:
                return doc[key]
    return text[:500]


def _status_reason(body: Any) -> Optional[str]:
    try:
        doc = json.loads(_body_text(body))
    except ValueError:
        return None
    return doc.get("reason") if isinstance(doc, dict) else None


def api_error(status: int, body: Any, what: str) -> ArlError:
    """Maps an API-server reply to an SDK error; `what` names the object, e.g. 'sandbox default/s1'."""
    msg = server_message(body) or f"HTTP {status}"
    reason = _status_reason(body)
    text = f"{what}: {msg}"
    if status == 404:
        return NotFoundError(text, status=status, reason=reason or "NotFound")
    if status == 409:
        if reason == "AlreadyExists":
            return AlreadyExistsError(text, status=status, reason=reason)
        return ConflictError(text, status=status, reason=reason or "Conflict")
    if status in (400, 422):
        return InvalidError(text, status=status, reason=reason or "Invalid")
    if status in (401, 403):
        return ForbiddenError(text, status=status, reason=reason or "Forbidden")
    if status == 504 or reason == "Timeout":
        return ArlTimeoutError(text, status=status, reason=reason or "Timeout")
    if status == 0 or status >= 500 or status == 429:
        return UnavailableError(text, status=status, reason=reason or "Unavailable")
    return ArlError(text, status=status, reason=reason)


def sidecar_error(status: int, body: Any, what: str) -> ArlError:
    """Maps a reply that came back through the pod proxy.

    A sidecar error is JSON `{"error": ...}` (4xx from our executor); anything
    else is the API server or the proxy talking (pod gone, not reachable).
    """
    msg = server_message(body) or f"HTTP {status}"
    text = f"{what}: {msg}"
    is_sidecar = False
    try:
        doc = json.loads(_body_text(body))
        is_sidecar = isinstance(doc, dict) and "error" in doc and doc.get("kind") != "Status"
    except ValueError:
        pass
    if is_sidecar and status < 500:
        if status in (401, 403):
            return ForbiddenError(text, status=status, reason="Unauthorized")
        if status == 404:
            return NotFoundError(text, status=status, reason="NotFound")
        return SidecarError(text, status=status, reason="Invalid" if status == 400 else None)
    return api_error(status, body, what)
