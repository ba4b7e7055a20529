"""Durations as the CRD spells them (`30s`, `2m`, `1h30m`, `500ms`)."""
from __future__ import annotations

import re
from typing import Union

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_WHOLE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h))+")

DurationLike = Union[str, int, float]


def parse_duration(text: str) -> float:
    """Seconds in `text` (> 0, as the CLI requires); raises ValueError naming the expected form."""
    if not isinstance(text, str) or not _WHOLE.fullmatch(text):
        raise ValueError(f'invalid duration "{text}" (use e.g. 30s, 2m, 1h30m, 500ms)')
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f'duration "{text}" must be greater than zero')
    return seconds


def format_duration(seconds: float) -> str:
    """Shortest CRD duration for `seconds` (whole seconds when possible, else ms)."""
    if seconds <= 0:
        raise ValueError(f"invalid duration {seconds!r}: must be greater than zero")
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{int(round(seconds * 1000))}ms"


def to_seconds(value: DurationLike) -> float:
    """Accepts a duration string or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: expected seconds or a string such as 30s")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"invalid duration {value!r}: must not be negative")
        return float(value)
    return parse_duration(value)


def to_duration_string(value: DurationLike) -> str:
    """The CRD form of `value`, validating strings as they are."""
    if isinstance(value, str):
        parse_duration(value)
        return value
    return format_duration(to_seconds(value))
