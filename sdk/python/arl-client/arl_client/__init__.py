"""ARL Python SDK: sandboxes for agent and RL code on Kubernetes."""
from .async_session import AsyncSandboxSession
from .client import ArlClient, sandbox_token
from .duration import format_duration, parse_duration
from .errors import (AlreadyExistsError, ArlError, ArlTimeoutError, ConflictError, ForbiddenError, InvalidError,
                     NotFoundError, SandboxError, SidecarError, UnavailableError, ValidationError)
from .k8s_adapter import KubernetesAdapter, KubernetesAdapterSync
from .models import Sandbox, SandboxSpec, SandboxStatus, Step, Task, TaskSpec, TaskStatus, WarmPool
from .session import RunResult, SandboxSession, StreamEvent

__all__ = [
    "AsyncSandboxSession", "ArlClient", "KubernetesAdapter", "KubernetesAdapterSync", "SandboxSession", "RunResult", "StreamEvent",
    "sandbox_token",
    "parse_duration", "format_duration",
    "ArlError", "ArlTimeoutError", "AlreadyExistsError", "ConflictError", "ForbiddenError", "InvalidError",
    "NotFoundError", "SandboxError", "SidecarError", "UnavailableError", "ValidationError",
    "WarmPool", "Sandbox", "SandboxSpec", "SandboxStatus", "Task", "TaskSpec", "TaskStatus", "Step",
]
__version__ = "0.1.0"
