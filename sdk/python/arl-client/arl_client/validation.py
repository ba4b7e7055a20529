"""Client-side checks: the same rules the CRD schema, its CEL rules and the CLI
enforce, run before anything is sent so mistakes come back at once and name
the field. Every problem is reported in one ValidationError.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from .duration import parse_duration
from .errors import ValidationError
from .models import STEP_TYPES, Model, Step

StepLike = Union[Mapping[str, Any], Step]

_ALL_STEP_FIELDS = {"name", "type", "command", "workDir", "env", "background", "path", "content"}
# A DNS-1123 subdomain: what the API server accepts as an object name.
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def step_dicts(steps: Any) -> List[Dict[str, Any]]:
    """Steps as plain dicts (accepts dicts and Step objects)."""
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        return steps  # validate_steps reports the type problem
    return [s.to_dict() if isinstance(s, Model) else s for s in steps]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def step_problems(steps: Any, prefix: str = "spec.steps") -> List[str]:
    """Problems with a list of steps, worded as the CLI (src/core/validation.cpp) words them."""
    problems: List[str] = []
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        return [f"{prefix}: must be a list of steps"]
    if not steps:
        return [f"{prefix}: at least one step is required"]
    seen: Dict[str, int] = {}
    for i, raw in enumerate(steps):
        at = f"{prefix}[{i}]"
        step = raw.to_dict() if isinstance(raw, Model) else raw
        if not isinstance(step, Mapping):
            problems.append(f"{at}: must be an object with name and type")
            continue
        name = step.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{at}.name: required")
        elif name in seen:
            problems.append(f'{at}.name: duplicate step name "{name}"')
        elif len(name) > 63:
            problems.append(f"{at}.name: must be at most 63 characters")
        else:
            seen[name] = i
        # The API server would silently prune a misspelt field (and then
        # complain about the missing one); naming the typo is kinder.
        for key in sorted(set(step) - _ALL_STEP_FIELDS):
            problems.append(f"{at}.{key}: unknown field (step fields: {', '.join(sorted(_ALL_STEP_FIELDS))})")
        kind = step.get("type")
        if kind == "Command":
            problems += _command_problems(step, at)
        elif kind == "FilePatch":
            problems += _file_patch_problems(step, at)
        elif kind is None or kind == "":
            problems.append(f"{at}.type: required: Command or FilePatch")
        else:
            problems.append(f'{at}.type: unknown step type "{kind}": use Command or FilePatch')
        if kind in STEP_TYPES:
            problems += _common_problems(step, at)
    return problems


def _common_problems(step: Mapping[str, Any], at: str) -> List[str]:
    out: List[str] = []
    if step.get("workDir") is not None and not isinstance(step["workDir"], str):
        out.append(f"{at}.workDir: must be a string")
    env = step.get("env")
    if env is not None:
        if not isinstance(env, Mapping):
            out.append(f"{at}.env: must be a map of strings")
        else:
            for k, v in env.items():
                if not isinstance(k, str) or not k or not isinstance(v, str):
                    out.append(f"{at}.env[{k!r}]: names and values must be strings")
    bg = step.get("background")
    if bg is not None and not isinstance(bg, bool):
        out.append(f"{at}.background: must be true or false")
    content = step.get("content")
    if content is not None and not isinstance(content, str):
        out.append(f"{at}.content: must be a string")
    return out


def _command_problems(step: Mapping[str, Any], at: str) -> List[str]:
    out: List[str] = []
    cmd = step.get("command")
    if cmd is None or (isinstance(cmd, Sequence) and not isinstance(cmd, (str, bytes)) and not cmd):
        out.append(f"{at}.command: required for type Command")
    elif isinstance(cmd, (str, bytes)) or not isinstance(cmd, Sequence):
        out.append(f'{at}.command: must be a list of strings, e.g. ["python", "app.py"]')
    elif not all(isinstance(c, str) for c in cmd):
        out.append(f"{at}.command: every element must be a string")
    elif not cmd[0]:
        out.append(f"{at}.command[0]: must not be empty")
    if step.get("path"):
        out.append(f"{at}.path: only allowed for type FilePatch")
    return out


def _file_patch_problems(step: Mapping[str, Any], at: str) -> List[str]:
    out: List[str] = []
    path = step.get("path")
    if path is None or path == "":
        out.append(f"{at}.path: required for type FilePatch")
    elif not isinstance(path, str):
        out.append(f"{at}.path: must be a string")
    else:
        out += _file_path_problems(f"{at}.path", path)
    if step.get("command"):
        out.append(f"{at}.command: only allowed for type Command")
    if step.get("background"):
        out.append(f"{at}.background: only allowed for type Command")
    return out


def _file_path_problems(field: str, path: str) -> List[str]:
    if "\0" in path:
        return [f"{field}: must not contain NUL bytes"]
    if path.endswith("/"):
        return [f'{field}: "{path}" names a directory; give a file path']
    if path.startswith("/"):
        return []
    depth = 0
    for part in path.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return [f'{field}: relative path "{path}" escapes the workspace; use an absolute path to write '
                        f"outside /workspace"]
        elif part not in ("", "."):
            depth += 1
    return []


def _duration_problem(value: Any, at: str) -> Optional[str]:
    try:
        parse_duration(value)
    except ValueError as e:
        return f"{at}: {e}"
    return None


def task_spec_problems(spec: Mapping[str, Any]) -> List[str]:
    problems: List[str] = []
    if not isinstance(spec.get("sandboxRef"), str) or not spec.get("sandboxRef"):
        problems.append("spec.sandboxRef: required: the name of a Sandbox in the same namespace")
    if spec.get("timeout") is not None:
        p = _duration_problem(spec["timeout"], "spec.timeout")
        if p:
            problems.append(p)
    for key in ("retries", "ttlSecondsAfterFinished"):
        problems += _count_problems(spec.get(key), f"spec.{key}")
    problems += step_problems(spec.get("steps"))
    return problems


def validate_steps(steps: Any, subject: str = "task") -> List[Dict[str, Any]]:
    problems = step_problems(steps)
    if problems:
        raise ValidationError(subject, problems)
    return step_dicts(steps)


def validate_task(obj: Mapping[str, Any]) -> None:
    subject = _subject("task", obj)
    problems = _name_problems(obj) + task_spec_problems(obj.get("spec") or {})
    if problems:
        raise ValidationError(subject, problems)


def validate_sandbox(obj: Mapping[str, Any]) -> None:
    spec = obj.get("spec") or {}
    problems = _name_problems(obj)
    pool_ref = spec.get("poolRef")
    if not isinstance(pool_ref, str) or not pool_ref:
        problems.append("spec.poolRef: required: the name of a WarmPool in the same namespace")
    elif len(pool_ref) > 253 or not _DNS_SUBDOMAIN.fullmatch(pool_ref):
        problems.append(f'spec.poolRef: "{pool_ref}" is not a valid WarmPool name')
    if spec.get("keepAlive") is not None and not isinstance(spec["keepAlive"], bool):
        problems.append("spec.keepAlive: must be true or false")
    problems += _count_problems(spec.get("ttlSecondsAfterFinished"), "spec.ttlSecondsAfterFinished")
    if problems:
        raise ValidationError(_subject("sandbox", obj), problems)


def validate_pool(obj: Mapping[str, Any]) -> None:
    spec = obj.get("spec") or {}
    problems = _name_problems(obj)
    name = (obj.get("metadata") or {}).get("name")
    if isinstance(name, str) and len(name) > 63:
        problems.append("metadata.name: must be at most 63 characters (it is used as a label value on the pool's pods)")
    replicas = spec.get("replicas")
    if replicas is None:
        problems.append("spec.replicas: required")
    else:
        problems += _count_problems(replicas, "spec.replicas")
    template = spec.get("template")
    containers = (((template or {}).get("spec") or {}).get("containers")) if isinstance(template, Mapping) else None
    if not isinstance(template, Mapping):
        problems.append("spec.template: required (a pod template)")
    elif not isinstance(containers, Sequence) or not containers:
        problems.append("spec.template.spec.containers: at least one container is required")
    else:
        for i, c in enumerate(containers):
            for key in ("name", "image"):
                if not isinstance(c, Mapping) or not isinstance(c.get(key), str) or not c.get(key):
                    problems.append(f"spec.template.spec.containers[{i}].{key}: required")
    if problems:
        raise ValidationError(_subject("warmpool", obj), problems)


def _count_problems(v: Any, field: str) -> List[str]:
    if v is None:
        return []
    if not _is_int(v):
        return [f"{field}: must be an integer"]
    return [f"{field}: must be >= 0, got {v}"] if v < 0 else []


def _subject(kind: str, obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not name and meta.get("generateName"):
        name = meta["generateName"] + "*"
    ns = meta.get("namespace")
    if name and ns:
        return f"{kind} {ns}/{name}"
    return f"{kind} {name}" if name else kind


def _name_problems(obj: Mapping[str, Any]) -> List[str]:
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if name is None:
        return [] if meta.get("generateName") else ["metadata.name: required"]
    if not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        return [f"metadata.name: \"{name}\" is not a valid name: use lower-case letters, digits, '-' and '.', "
                "starting and ending with a letter or digit"]
    return []
