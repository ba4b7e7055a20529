"""Typed views of the ARL resources (group arl.infra.io, version v1alpha1).

Only what ARL reads or writes is typed; anything else a server sends (pod
templates, fields added later) is kept in `extra` / passed through as dicts,
so a round trip never drops data. tests/unit/test_models_crd.py checks the
field names against the CRD schemas in manifests/.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Type, TypeVar

GROUP = "arl.infra.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

T = TypeVar("T", bound="Model")


def _f(json_name: str, default: Any = None, *, factory: Any = None) -> Any:
    meta = {"json": json_name}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


class Model:
    """Mapping between snake_case attributes and the camelCase JSON of the API."""

    extra: Dict[str, Any]

    @classmethod
    def json_fields(cls) -> Dict[str, str]:
        """JSON key -> attribute name, for every typed field."""
        return {f.metadata["json"]: f.name for f in dataclasses.fields(cls) if "json" in f.metadata}

    @classmethod
    def _nested(cls) -> Dict[str, Any]:
        return getattr(cls, "_NESTED", {})

    @classmethod
    def from_dict(cls: Type[T], data: Optional[Dict[str, Any]]) -> T:
        data = dict(data or {})
        kwargs: Dict[str, Any] = {}
        nested = cls._nested()
        for key, attr in cls.json_fields().items():
            if key not in data:
                continue
            value = data.pop(key)
            kind = nested.get(attr)
            if kind is not None and value is not None:
                if isinstance(kind, list):
                    value = [kind[0].from_dict(v) for v in value]
                else:
                    value = kind.from_dict(value)
            kwargs[attr] = value
        obj = cls(**kwargs)
        obj.extra = data
        return obj

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if "json" not in f.metadata:
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            if value == [] and f.default_factory is list:
                continue
            if isinstance(value, Model):
                value = value.to_dict()
            elif isinstance(value, list):
                value = [v.to_dict() if isinstance(v, Model) else v for v in value]
            out[f.metadata["json"]] = value
        out.update(getattr(self, "extra", {}) or {})
        return out


def _extra() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


@dataclass
class Condition(Model):
    type: Optional[str] = _f("type")
    status: Optional[str] = _f("status")
    reason: Optional[str] = _f("reason")
    message: Optional[str] = _f("message")
    last_transition_time: Optional[str] = _f("lastTransitionTime")
    observed_generation: Optional[int] = _f("observedGeneration")
    extra: Dict[str, Any] = _extra()


# ---- WarmPool

@dataclass
class WarmPoolSpec(Model):
    replicas: int = _f("replicas", 0)
    template: Dict[str, Any] = _f("template", factory=dict)
    extra: Dict[str, Any] = _extra()


@dataclass
class WarmPoolStatus(Model):
    replicas: Optional[int] = _f("replicas")
    ready_replicas: Optional[int] = _f("readyReplicas")
    allocated_replicas: Optional[int] = _f("allocatedReplicas")
    phase: Optional[str] = _f("phase")
    conditions: List[Condition] = _f("conditions", factory=list)
    observed_generation: Optional[int] = _f("observedGeneration")
    extra: Dict[str, Any] = _extra()
    _NESTED = {"conditions": [Condition]}


# ---- Sandbox

SANDBOX_PHASES = ("Pending", "Ready", "Bound", "Released", "Failed")


@dataclass
class SandboxSpec(Model):
    pool_ref: str = _f("poolRef", "")
    keep_alive: Optional[bool] = _f("keepAlive")
    ttl_seconds_after_finished: Optional[int] = _f("ttlSecondsAfterFinished")
    env: Optional[List[Dict[str, Any]]] = _f("env")  # as a container's env: value or valueFrom
    working_dir: Optional[str] = _f("workingDir")
    fork_of: Optional[Dict[str, str]] = _f("forkOf")  # {"sandbox": NAME, "checkpoint"?: ID}
    extra: Dict[str, Any] = _extra()


@dataclass
class SandboxStatus(Model):
    phase: Optional[str] = _f("phase")
    pod_name: Optional[str] = _f("podName")
    pod_ip: Optional[str] = _f("podIP")
    work_dir: Optional[str] = _f("workDir")
    allocated_at: Optional[str] = _f("allocatedAt")
    last_activity_at: Optional[str] = _f("lastActivityAt")
    conditions: List[Condition] = _f("conditions", factory=list)
    observed_generation: Optional[int] = _f("observedGeneration")
    extra: Dict[str, Any] = _extra()
    _NESTED = {"conditions": [Condition]}


# ---- Task

TASK_STATES = ("Pending", "Running", "Succeeded", "Failed")
STEP_TYPES = ("Command", "FilePatch")


@dataclass
class Step(Model):
    name: str = _f("name", "")
    type: str = _f("type", "Command")
    command: Optional[List[str]] = _f("command")
    work_dir: Optional[str] = _f("workDir")
    env: Optional[Dict[str, str]] = _f("env")
    background: Optional[bool] = _f("background")
    path: Optional[str] = _f("path")
    content: Optional[str] = _f("content")
    extra: Dict[str, Any] = _extra()

    @classmethod
    def run(cls, name: str, command: List[str], **kw: Any) -> "Step":
        return cls(name=name, type="Command", command=list(command), **kw)

    @classmethod
    def file(cls, name: str, path: str, content: str) -> "Step":
        return cls(name=name, type="FilePatch", path=path, content=content)


@dataclass
class TaskSpec(Model):
    sandbox_ref: str = _f("sandboxRef", "")
    timeout: Optional[str] = _f("timeout")
    retries: Optional[int] = _f("retries")
    ttl_seconds_after_finished: Optional[int] = _f("ttlSecondsAfterFinished")
    steps: List[Step] = _f("steps", factory=list)
    extra: Dict[str, Any] = _extra()
    _NESTED = {"steps": [Step]}


@dataclass
class StepStatus(Model):
    name: Optional[str] = _f("name")
    state: Optional[str] = _f("state")
    exit_code: Optional[int] = _f("exitCode")
    stdout: Optional[str] = _f("stdout")
    stderr: Optional[str] = _f("stderr")
    truncated: Optional[bool] = _f("truncated")
    pid: Optional[int] = _f("pid")
    started_at: Optional[str] = _f("startedAt")
    completed_at: Optional[str] = _f("completedAt")
    usage: Optional[Dict[str, Any]] = _f("usage")  # {"wallMs", "cpuUserMs", "cpuSystemMs", "maxRssKb"}
    extra: Dict[str, Any] = _extra()


@dataclass
class TaskStatus(Model):
    state: Optional[str] = _f("state")
    reason: Optional[str] = _f("reason")
    stdout: Optional[str] = _f("stdout")
    stderr: Optional[str] = _f("stderr")
    stdout_truncated: Optional[bool] = _f("stdoutTruncated")
    stderr_truncated: Optional[bool] = _f("stderrTruncated")
    exit_code: Optional[int] = _f("exitCode")
    started_at: Optional[str] = _f("startedAt")
    completed_at: Optional[str] = _f("completedAt")
    duration: Optional[str] = _f("duration")
    attempts: Optional[int] = _f("attempts")
    message: Optional[str] = _f("message")
    steps: List[StepStatus] = _f("steps", factory=list)
    conditions: List[Condition] = _f("conditions", factory=list)
    observed_generation: Optional[int] = _f("observedGeneration")
    extra: Dict[str, Any] = _extra()
    _NESTED = {"steps": [StepStatus], "conditions": [Condition]}


# ---- top-level objects

@dataclass
class Resource(Model):
    """Common shape: metadata kept as a dict (names, labels, resourceVersion ...)."""

    metadata: Dict[str, Any] = _f("metadata", factory=dict)
    extra: Dict[str, Any] = _extra()

    KIND = ""
    PLURAL = ""

    @property
    def name(self) -> Optional[str]:
        return self.metadata.get("name")

    @property
    def namespace(self) -> Optional[str]:
        return self.metadata.get("namespace")

    def to_dict(self) -> Dict[str, Any]:
        out = {"apiVersion": API_VERSION, "kind": self.KIND}
        out.update(super().to_dict())
        return out

    @classmethod
    def from_dict(cls: Type[T], data: Optional[Dict[str, Any]]) -> T:
        data = {k: v for k, v in (data or {}).items() if k not in ("apiVersion", "kind")}
        return super().from_dict.__func__(cls, data)  # type: ignore[attr-defined]


@dataclass
class WarmPool(Resource):
    spec: WarmPoolSpec = _f("spec", factory=WarmPoolSpec)
    status: Optional[WarmPoolStatus] = _f("status")
    KIND = "WarmPool"
    PLURAL = "warmpools"
    _NESTED = {"spec": WarmPoolSpec, "status": WarmPoolStatus}


@dataclass
class Sandbox(Resource):
    spec: SandboxSpec = _f("spec", factory=SandboxSpec)
    status: Optional[SandboxStatus] = _f("status")
    KIND = "Sandbox"
    PLURAL = "sandboxes"
    _NESTED = {"spec": SandboxSpec, "status": SandboxStatus}


@dataclass
class Task(Resource):
    spec: TaskSpec = _f("spec", factory=TaskSpec)
    status: Optional[TaskStatus] = _f("status")
    KIND = "Task"
    PLURAL = "tasks"
    _NESTED = {"spec": TaskSpec, "status": TaskStatus}


RESOURCES = {"warmpools": WarmPool, "sandboxes": Sandbox, "tasks": Task}


def pool_template(image: str, *, command: Optional[List[str]] = None,
                  resources: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A minimal pod template with one executor container running `image`."""
    container: Dict[str, Any] = {"name": "executor", "image": image}
    if command:
        container["command"] = list(command)
    if resources:
        container["resources"] = resources
    return {"spec": {"containers": [container]}}
