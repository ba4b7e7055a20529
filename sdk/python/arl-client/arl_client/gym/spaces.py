"""The spaces of SandboxEnv, and the pure mapping between them and the SDK's calls.

An action is a dict `{"kind": RUN, "command": "..."}` or `{"kind": WRITE, "path": "...",
"content": "..."}` (kind also as the names "run" / "write"), or a plain string, which is a
shell command. An observation is `{"stdout": str, "stderr": str, "exit_code": int}`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
from gymnasium import spaces

from ..errors import ValidationError

RUN, WRITE = 0, 1
KIND_NAMES = ("run", "write")
ACTION_KEYS = ("kind", "command", "path", "content")
# -1 stands for "no exit code" (the executor reported none); real codes are 0..255, a
# signal being 128 + its number.
NO_EXIT_CODE = -1


class AnyText(spaces.Text):
    """Text whose members may hold any character, up to `max_length` of them.

    gymnasium's Text admits only its charset, but a command may print (and an agent may
    type) any Unicode. sample() still draws from the charset (alphanumeric by default), so
    sampled actions are harmless words rather than shell syntax.
    """

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"AnyText({self.min_length}, {self.max_length})"


def observation_space(max_output_chars: int) -> spaces.Dict:
    return spaces.Dict({
        "stdout": AnyText(max_output_chars, min_length=0),
        "stderr": AnyText(max_output_chars, min_length=0),
        "exit_code": spaces.Discrete(257, start=NO_EXIT_CODE),
    })


def action_space(max_command_chars: int, max_path_chars: int, max_content_chars: int) -> spaces.Dict:
    return spaces.Dict({
        "kind": spaces.Discrete(len(KIND_NAMES)),
        "command": AnyText(max_command_chars, min_length=1),
        "path": AnyText(max_path_chars, min_length=1),
        "content": AnyText(max_content_chars, min_length=0),
    })


@dataclass(frozen=True)
class Action:
    """A validated action: kind is "run" (command) or "write" (path, content)."""
    kind: str
    command: str = ""
    path: str = ""
    content: Union[str, bytes] = ""


def _kind(value: Any, problems: List[str]) -> Optional[str]:
    expected = "expected 'run' (0) or 'write' (1)"
    if value is None:
        problems.append(f"kind: required, {expected}")
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if 0 <= int(value) < len(KIND_NAMES):
            return KIND_NAMES[int(value)]
    elif isinstance(value, str) and value in KIND_NAMES:
        return value
    problems.append(f"kind: unknown kind {value!r}, {expected}")
    return None


def _text(action: Mapping[str, Any], key: str, problems: List[str]) -> str:
    value = action.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key}: required, a non-empty string")
        return ""
    return value


def parse_action(action: Any) -> Action:
    """Validates an action; a malformed one raises ValidationError (a ValueError) listing every problem."""
    if isinstance(action, str):
        if not action.strip():
            raise ValidationError("action", ["command: must not be empty"])
        return Action("run", command=action)
    if not isinstance(action, Mapping):
        raise ValidationError("action", [f"must be a command string or a dict with 'kind', "
                                         f"got {type(action).__name__}"])
    problems: List[str] = []
    unknown = sorted(str(k) for k in action if k not in ACTION_KEYS)
    if unknown:
        problems.append(f"unknown keys {unknown}, expected some of {list(ACTION_KEYS)}")
    kind = _kind(action.get("kind"), problems)
    parsed: Optional[Action] = None
    if kind == "run":
        parsed = Action("run", command=_text(action, "command", problems))
    elif kind == "write":
        path = _text(action, "path", problems)
        content = action.get("content", "")
        if not isinstance(content, (str, bytes)):
            problems.append(f"content: must be str or bytes, got {type(content).__name__}")
        parsed = Action("write", path=path, content=content)
    if problems or parsed is None:
        raise ValidationError("action", problems)
    return parsed


def _tail(text: str, limit: int) -> Tuple[str, bool]:
    # The end of a long output is kept: that is where errors and summaries usually are.
    return (text[-limit:], True) if len(text) > limit else (text, False)


def observation(stdout: str, stderr: str, exit_code: Optional[int],
                max_output_chars: int) -> Tuple[Dict[str, Any], Dict[str, bool]]:
    """The observation of one result, and which of its texts were cut to fit the space."""
    out, out_cut = _tail(stdout or "", max_output_chars)
    err, err_cut = _tail(stderr or "", max_output_chars)
    code = exit_code if isinstance(exit_code, int) and 0 <= exit_code <= 255 else NO_EXIT_CODE
    return ({"stdout": out, "stderr": err, "exit_code": np.int64(code)},
            {"stdout_truncated": out_cut, "stderr_truncated": err_cut})
