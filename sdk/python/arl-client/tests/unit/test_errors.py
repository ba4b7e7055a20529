import json

import pytest

from arl_client import errors
from arl_client.errors import api_error, sidecar_error


def status(code, reason, message):
    return json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                       "reason": reason, "message": message}).encode()


@pytest.mark.parametrize("code,reason,cls,builtin", [
    (404, "NotFound", errors.NotFoundError, LookupError),
    (409, "AlreadyExists", errors.AlreadyExistsError, errors.ArlError),
    (409, "Conflict", errors.ConflictError, errors.ArlError),
    (422, "Invalid", errors.InvalidError, ValueError),
    (403, "Forbidden", errors.ForbiddenError, PermissionError),
    (401, "Unauthorized", errors.ForbiddenError, PermissionError),
    (503, "ServiceUnavailable", errors.UnavailableError, ConnectionError),
    (504, "Timeout", errors.ArlTimeoutError, TimeoutError),
])
def test_api_statuses_map_to_error_classes(code, reason, cls, builtin):
    e = api_error(code, status(code, reason, "the message"), "sandbox default/s1")
    assert type(e) is cls
    assert isinstance(e, builtin)
    assert str(e) == "sandbox default/s1: the message"
    assert e.status == code


def test_cel_rejection_keeps_server_message():
    msg = 'Task.arl.infra.io "t1" is invalid: spec.steps: Invalid value: "array": step names must be unique'
    e = api_error(422, status(422, "Invalid", msg), "task default/t1")
    assert str(e) == f"task default/t1: {msg}"


def test_non_json_body_is_quoted_and_empty_body_names_status():
    assert str(api_error(500, b"boom", "x")) == "x: boom"
    assert str(api_error(502, b"", "x")) == "x: HTTP 502"


def test_sidecar_json_error_is_a_sidecar_error():
    e = sidecar_error(400, b'{"error": "command: must not be empty"}', "sandbox pod default/p /execute")
    assert type(e) is errors.SidecarError
    assert str(e) == "sandbox pod default/p /execute: command: must not be empty"
    e = sidecar_error(401, b'{"error": "missing or wrong token"}', "w")
    assert isinstance(e, errors.ForbiddenError)


def test_proxy_failure_is_unavailable():
    e = sidecar_error(503, status(503, "ServiceUnavailable", "error trying to reach service: dial tcp"), "w")
    assert type(e) is errors.UnavailableError
    assert str(e) == "w: error trying to reach service: dial tcp"


def test_validation_error_lists_problems():
    e = errors.ValidationError("task default/t1", ["a: bad", "b: worse"])
    assert str(e) == "task default/t1: a: bad; b: worse"
    assert e.problems == ["a: bad", "b: worse"]
