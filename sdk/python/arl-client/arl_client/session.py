"""SandboxSession: one sandbox for the length of a `with` block.

    with SandboxSession("python-pool", namespace="default") as session:
        result = session.execute([...])           # a Task object, returned as a dict
        out = session.run(["python3", "-c", "print(1)"])   # direct, nothing written to etcd

The sandbox is deleted when the block exits, whatever the reason (exception,
Ctrl-C). A session may be shared by many threads.
"""
from __future__ import annotations

import base64
import errno
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from .client import ArlClient, sandbox_token
from .duration import DurationLike, to_duration_string, to_seconds
from .errors import (ArlError, ArlTimeoutError, ForbiddenError, NotFoundError, SandboxError, SidecarError,
                     ValidationError)
from . import validation
from .trajectory import fetch_trajectory

# Concurrent creates for fork(n): enough to overlap the round trips, few enough not to swamp the
# API server's request limits for a large n.
_FORK_CREATE_THREADS = 16

TERMINAL_TASK_STATES = ("Succeeded", "Failed")
READY_PHASES = ("Ready", "Bound")
# The operator marks a task done only after the command's own deadline; this
# is how much longer the client waits before it gives up on the operator.
TASK_WAIT_GRACE_S = 30.0
SIDECAR_GRACE_S = 10.0
CREATED_BY_LABEL = "app.kubernetes.io/created-by"

CommandLike = Union[str, Sequence[str]]


@dataclass
class RunResult:
    stdout: str
    stderr: str
    exit_code: Optional[int]
    duration_ms: Optional[float] = None
    timed_out: bool = False
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    # {"wall_ms", "cpu_user_ms", "cpu_system_ms", "max_rss_kb"}: the command and the children it waited for
    usage: Optional[Dict[str, Any]] = None

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any]) -> "RunResult":
        return cls(stdout=reply.get("stdout") or "", stderr=reply.get("stderr") or "",
                   exit_code=reply.get("exit_code"), duration_ms=reply.get("duration_ms"),
                   timed_out=bool(reply.get("timed_out")),
                   stdout_truncated=bool(reply.get("stdout_truncated")),
                   stderr_truncated=bool(reply.get("stderr_truncated")),
                   usage=reply.get("usage"))

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass
class StreamEvent:
    """One line of a streamed run: 'start' (pid), 'stdout'/'stderr' (data), and last 'exit'."""
    type: str
    data: str = ""
    exit_code: Optional[int] = None
    timed_out: bool = False
    duration_ms: Optional[float] = None
    pid: Optional[int] = None
    usage: Optional[Dict[str, Any]] = None  # on 'exit', as RunResult.usage


def task_timed_out(task: Mapping[str, Any]) -> bool:
    """Whether a Failed task failed because its timeout expired."""
    st = task.get("status") or {}
    # The operator sets status.reason (and the Complete condition's reason) to
    # Timeout; the message is only a fallback for objects without a reason.
    if st.get("reason"):
        return st["reason"] == "Timeout"
    for c in st.get("conditions") or []:
        if c.get("type") == "Complete" and c.get("reason"):
            return c["reason"] == "Timeout"
    return bool(re.search(r"\btime[d]?[ -]?out\b|deadline exceeded", st.get("message") or "", re.IGNORECASE))


def _condition_reason(obj: Mapping[str, Any]) -> str:
    st = obj.get("status") or {}
    parts = []
    for c in st.get("conditions") or []:
        if c.get("status") != "True" or c.get("type") not in ("Ready", "Allocated"):
            if c.get("reason") or c.get("message"):
                parts.append(": ".join(p for p in (c.get("reason"), c.get("message")) if p))
    if st.get("message"):
        parts.insert(0, st["message"])
    return "; ".join(dict.fromkeys(parts)) or "no reason given"


# A checkpoint of a big workdir copies its data: more than a command's default 30 s may be needed.
CHECKPOINT_TIMEOUT_S = 120.0
_CHECKPOINT_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def _checkpoint_ref(subject: str, ref: Any, field: str = "checkpoint") -> str:
    """An id or name as the sidecar accepts them; it goes into a URL path, so nothing else passes."""
    if not isinstance(ref, str) or not _CHECKPOINT_REF.match(ref):
        raise ValidationError(subject, [f"{field}: must be 1-63 characters of A-Z, a-z, 0-9, '.', '_' or '-', "
                                        "starting with a letter or digit"])
    return ref


def _command_list(command: CommandLike) -> List[str]:
    if isinstance(command, str):
        if not command.strip():
            raise ValidationError("run", ["command: must not be empty"])
        return ["sh", "-c", command]
    cmd = list(command)
    if not cmd or not all(isinstance(c, str) for c in cmd):
        raise ValidationError("run", ["command: must be a non-empty list of strings"])
    return cmd


class SandboxSession:
    def __init__(self, pool_ref: str, namespace: str = "default", keep_alive: bool = True,
                 ttl: Optional[int] = None, timeout: DurationLike = 60, *, client: Optional[ArlClient] = None,
                 kubeconfig: Optional[str] = None, context: Optional[str] = None, name: Optional[str] = None,
                 labels: Optional[Dict[str, str]] = None, env: Any = None, working_dir: Optional[str] = None,
                 fork_of: Optional[Dict[str, str]] = None):
        if not isinstance(pool_ref, str) or not pool_ref:
            raise ValidationError("sandbox", ["spec.poolRef: required"])
        self.pool_ref = pool_ref
        self.namespace = namespace
        self.keep_alive = keep_alive
        self.ttl = ttl
        self.env = env  # {"NAME": "value"} or spec.env entries; every run in the sandbox sees them
        self.working_dir = working_dir
        self.fork_of = fork_of  # {"sandbox": NAME, "checkpoint": ID}: start as a copy (see fork())
        self.timeout = to_seconds(timeout)
        self.client = client or ArlClient.shared(kubeconfig, context)
        self._name = name
        self._labels = {CREATED_BY_LABEL: "arl-client", **(labels or {})}
        self.sandbox: Optional[Dict[str, Any]] = None
        self._lock = threading.Lock()
        self._closed = False

    # ---- lifecycle

    @property
    def name(self) -> Optional[str]:
        return (self.sandbox or {}).get("metadata", {}).get("name") or self._name

    @property
    def pod_name(self) -> Optional[str]:
        return ((self.sandbox or {}).get("status") or {}).get("podName")

    @property
    def pod_ip(self) -> Optional[str]:
        return ((self.sandbox or {}).get("status") or {}).get("podIP")

    def open(self) -> "SandboxSession":
        """Creates the sandbox and waits (with a watch) until a pod is allocated to it."""
        self._create()
        return self._await_ready()

    def _create(self) -> None:
        created = self.client.create_sandbox(self.pool_ref, name=self._name, keep_alive=self.keep_alive,
                                             ttl_seconds_after_finished=self.ttl, labels=self._labels,
                                             namespace=self.namespace, env=self.env, working_dir=self.working_dir,
                                             fork_of=self.fork_of)
        with self._lock:
            self.sandbox = created

    def _await_ready(self) -> "SandboxSession":
        created = self.sandbox
        assert created is not None
        try:
            ready = self.client.wait_for("sandboxes", created["metadata"]["name"], self._sandbox_ready,
                                         namespace=self.namespace, timeout=self.timeout, current=created)
        except ArlTimeoutError as e:
            self._delete()
            raise SandboxError(self._not_ready_message(), reason="NotReady") from e
        except BaseException:
            # Ctrl-C or a failure while waiting: the sandbox must not outlive us.
            self._delete()
            raise
        with self._lock:
            self.sandbox = ready
        return self

    def _sandbox_ready(self, obj: Dict[str, Any]) -> bool:
        phase = (obj.get("status") or {}).get("phase")
        if phase in ("Failed", "Released"):
            with self._lock:
                self.sandbox = obj
            raise SandboxError(f"sandbox {self.namespace}/{obj['metadata']['name']}: {phase}: "
                               f"{_condition_reason(obj)}", reason=phase)
        with self._lock:
            self.sandbox = obj
        return phase in READY_PHASES and bool((obj.get("status") or {}).get("podName"))

    def _not_ready_message(self) -> str:
        sb = self.sandbox or {}
        phase = (sb.get("status") or {}).get("phase") or "no status yet"
        reason = _condition_reason(sb)
        msg = f"sandbox {self.namespace}/{self.name}: not Ready after {self.timeout:g}s (phase {phase}): {reason}"
        try:
            self.client.get_pool(self.pool_ref, self.namespace)
        except NotFoundError:
            if "notfound" not in reason.lower().replace(" ", ""):
                msg += f"; warmpool {self.namespace}/{self.pool_ref} does not exist"
        except ArlError:
            pass
        return msg

    def fork(self, n: int = 1, checkpoint: Optional[str] = None,
             timeout: Optional[DurationLike] = None) -> List["SandboxSession"]:
        """n new sandboxes whose workdirs start as copies of this one's; this sandbox keeps
        running, its processes and streams untouched. Takes one checkpoint of this sandbox (kept:
        it shows in its checkpoint list) unless `checkpoint` names one. Returns open sessions,
        all Ready; close each (or use them as context managers). If any fork fails, all are
        deleted and the error is raised."""
        if not isinstance(n, int) or n < 1:
            raise ValidationError("fork", [f"n: must be a positive integer, got {n!r}"])
        if checkpoint is None:
            checkpoint = self.checkpoint()
        forks = [SandboxSession(self.pool_ref, self.namespace, self.keep_alive, self.ttl,
                                self.timeout if timeout is None else timeout, client=self.client,
                                labels={k: v for k, v in self._labels.items() if k != CREATED_BY_LABEL},
                                env=self.env, working_dir=self.working_dir,
                                fork_of={"sandbox": self.name or "", "checkpoint": checkpoint})
                 for _ in range(n)]
        try:
            # All created first, at once: the operator copies them in parallel, and n creates one
            # after another would cost n round trips (~3 ms each) before the last fork even starts.
            with ThreadPoolExecutor(max_workers=min(n, _FORK_CREATE_THREADS)) as creating:
                for done in [creating.submit(f._create) for f in forks]:
                    done.result()
            for f in forks:
                f._await_ready()
        except BaseException:
            for f in forks:
                f.close()
            raise
        return forks

    def close(self) -> None:
        """Deletes the sandbox (its pod goes with it). Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._delete()

    def _delete(self) -> None:
        if self.name:
            self.client.delete_sandbox(self.name, self.namespace)

    def __enter__(self) -> "SandboxSession":
        return self.open()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    def _require_open(self) -> Dict[str, Any]:
        sb = self.sandbox
        if sb is None or self._closed:
            raise SandboxError(f"sandbox session on pool {self.pool_ref}: not open (use `with SandboxSession(...)`)")
        return sb

    # ---- Task objects

    def execute(self, steps: Sequence[Any], timeout: DurationLike = "30s", *,
                wait_timeout: Optional[DurationLike] = None, retries: Optional[int] = None,
                ttl_seconds_after_finished: Optional[int] = None) -> Dict[str, Any]:
        """Runs `steps` as a Task on this sandbox and returns the finished Task as a dict.

        A failing step returns normally with status.state == "Failed"; a task
        that runs out of time raises TimeoutError (ArlTimeoutError, with the
        Task in `.task`).
        """
        subject = f"task on sandbox {self.namespace}/{self.name}"
        problems = validation.step_problems(steps)
        try:
            timeout_str = to_duration_string(timeout)
        except ValueError as e:
            problems.append(f"spec.timeout: {e}")
        if problems:
            raise ValidationError(subject, problems)
        sb = self._require_open()
        task = self.client.create_task(sb["metadata"]["name"], steps, timeout=timeout_str, retries=retries,
                                       ttl_seconds_after_finished=ttl_seconds_after_finished, owner=sb,
                                       namespace=self.namespace)
        name = task["metadata"]["name"]
        limit = to_seconds(wait_timeout) if wait_timeout is not None else \
            to_seconds(timeout_str) * (1 + (retries or 0)) + TASK_WAIT_GRACE_S
        try:
            done = self.client.wait_for(
                "tasks", name, lambda t: (t.get("status") or {}).get("state") in TERMINAL_TASK_STATES,
                namespace=self.namespace, timeout=limit, current=task)
        except ArlTimeoutError as e:
            err = ArlTimeoutError(f"task {self.namespace}/{name}: not finished after {limit:g}s "
                                  f"(task timeout {timeout_str}): {e}", reason="Timeout")
            err.task = task  # type: ignore[attr-defined]
            raise err from e
        if (done.get("status") or {}).get("state") == "Failed" and task_timed_out(done):
            err = ArlTimeoutError(f"task {self.namespace}/{name}: timed out after {timeout_str}: "
                                  f"{(done.get('status') or {}).get('message') or 'Timeout'}", reason="Timeout")
            err.task = done  # type: ignore[attr-defined]
            raise err
        return done

    # ---- the direct path: sandbox executor through the pod proxy

    def _sidecar(self, endpoint: str, body: Optional[Dict[str, Any]], timeout: float, stream: bool = False,
                 method: str = "POST") -> Any:
        sb = self._require_open()
        pod = (sb.get("status") or {}).get("podName")
        uid = (sb.get("metadata") or {}).get("uid", "")
        # The pod accepts only this sandbox's own token, derived from the pool's.
        token = sandbox_token(self.client.pool_token(self.pool_ref, self.namespace), uid)
        try:
            return self.client.sidecar_request(self.namespace, pod, token, endpoint, body, timeout, stream, method)
        except ForbiddenError:
            # The pool's secret may have been re-created since we cached it.
            token = sandbox_token(self.client.pool_token(self.pool_ref, self.namespace, refresh=True), uid)
            return self.client.sidecar_request(self.namespace, pod, token, endpoint, body, timeout, stream, method)

    def _sidecar_get(self, endpoint: str, query: Dict[str, Any], timeout: float) -> bytes:
        sb = self._require_open()
        pod = (sb.get("status") or {}).get("podName")
        uid = (sb.get("metadata") or {}).get("uid", "")
        token = sandbox_token(self.client.pool_token(self.pool_ref, self.namespace), uid)
        return self.client.sidecar_get(self.namespace, pod, token, endpoint, query, timeout)

    def trajectory(self, since: int = 0) -> List[Dict[str, Any]]:
        """What the sandbox did, one dict per operation with seq > since (docs/design.md
        "Trajectory"): kind, the request (env names only), exit code, capped output with
        the SHA-256 of all of it, usage, duration_ms."""
        return fetch_trajectory(lambda after: self._sidecar_get("trajectory", {"since": after}, 30.0), since)

    def run(self, command: CommandLike, workdir: Optional[str] = None, env: Optional[Dict[str, str]] = None,
            timeout: DurationLike = 30, *, stdin: Optional[str] = None, stream: bool = False
            ) -> Union[RunResult, Iterator[StreamEvent]]:
        """Runs one command in the sandbox without creating any object.

        A string command runs under `sh -c`. Returns a RunResult (a command
        that times out comes back with timed_out=True and the output so far),
        or with stream=True an iterator of StreamEvent ending with type 'exit'.
        """
        cmd = _command_list(command)
        secs = to_seconds(timeout)
        if secs <= 0:
            raise ValidationError("run", ["timeout: must be greater than zero"])
        body: Dict[str, Any] = {"command": cmd, "env": dict(env or {}), "timeout_seconds": secs}
        if workdir:
            body["working_dir"] = workdir
        if stdin is not None:
            body["stdin"] = stdin
        if stream:
            body["stream"] = True
            return self._stream(body, secs + SIDECAR_GRACE_S)
        return RunResult.from_reply(self._sidecar("execute", body, secs + SIDECAR_GRACE_S))

    def _stream(self, body: Dict[str, Any], timeout: float) -> Iterator[StreamEvent]:
        resp = self._sidecar("execute", body, timeout, stream=True)
        try:
            for line in resp.lines():
                ev = json.loads(line)
                kind = ev.get("type")
                if kind == "exit":
                    yield StreamEvent("exit", exit_code=ev.get("exit_code"), timed_out=bool(ev.get("timed_out")),
                                      duration_ms=ev.get("duration_ms"), usage=ev.get("usage"))
                    return
                if kind == "error":
                    detail = ev.get("message") or ev.get("data") or ev.get("error")
                    raise SidecarError(f"sandbox {self.namespace}/{self.name}: command failed: {detail}")
                if kind == "start":
                    yield StreamEvent("start", pid=ev.get("pid"))
                    continue
                yield StreamEvent(kind or "stdout", data=ev.get("data") or "")
        finally:
            resp.close()

    # ---- checkpoints of the workdir, kept in the pod (SPEC.md "Checkpoints")

    def checkpoint(self, name: Optional[str] = None) -> str:
        """Snapshots the workdir (files, modes, symlinks, empty directories); returns the checkpoint's id."""
        body: Dict[str, Any] = {}
        if name is not None:
            body["name"] = _checkpoint_ref("checkpoint", name, "name")
        return self._sidecar("checkpoints", body, CHECKPOINT_TIMEOUT_S)["id"]

    def restore(self, checkpoint: str, kill_processes: bool = False) -> Dict[str, Any]:
        """Makes the workdir exactly what it was at `checkpoint` (an id or a name).

        Returns the counts: {"id", "written", "removed", "unchanged", "killed", "duration_ms"}.
        kill_processes=True kills the sandbox's background processes first."""
        ref = _checkpoint_ref("restore", checkpoint)
        return self._sidecar(f"checkpoints/{ref}/restore", {"kill_processes": bool(kill_processes)},
                             CHECKPOINT_TIMEOUT_S)

    def checkpoints(self) -> List[Dict[str, Any]]:
        """The sandbox's checkpoints, oldest first: {"id", "name", "created_at", "files", "bytes", ...}."""
        return (self._sidecar("checkpoints", None, 30.0 + SIDECAR_GRACE_S, method="GET") or {}).get("checkpoints", [])

    def delete_checkpoint(self, checkpoint: str) -> Dict[str, Any]:
        """Deletes a checkpoint (id or name); returns {"id", "freed_bytes"}."""
        ref = _checkpoint_ref("delete_checkpoint", checkpoint)
        return self._sidecar(f"checkpoints/{ref}", None, 30.0 + SIDECAR_GRACE_S, method="DELETE")

    def write_file(self, path: str, content: Union[str, bytes], mode: Optional[Any] = None) -> Dict[str, Any]:
        """Writes a file atomically (parents created); relative paths are in the sandbox's working dir
        (its spec.workingDir, else /workspace), where `run` starts."""
        if not isinstance(path, str) or not path:
            raise ValidationError("write_file", ["path: required"])
        body: Dict[str, Any] = {"path": path}
        if isinstance(content, bytes):
            body["content"] = base64.b64encode(content).decode()
            body["encoding"] = "base64"
        elif isinstance(content, str):
            body["content"] = content
        else:
            raise ValidationError("write_file", ["content: must be str or bytes"])
        if mode is not None:
            body["mode"] = mode
        return self._sidecar("files", body, 30.0 + SIDECAR_GRACE_S) or {}

    def read_file(self, path: str, binary: bool = False, timeout: DurationLike = 30) -> Union[str, bytes]:
        """Reads a file from the sandbox (base64 on the wire, so any bytes survive)."""
        if not isinstance(path, str) or not path:
            raise ValidationError("read_file", ["path: required"])
        result = self.run(["base64", path], timeout=timeout)
        encoded = True
        if result.exit_code == 127:  # an image without coreutils' base64
            result = self.run(["cat", path], timeout=timeout)
            encoded = False
        if result.exit_code != 0:
            if "No such file" in result.stderr or "can't open" in result.stderr:
                raise FileNotFoundError(errno.ENOENT, f"sandbox {self.namespace}/{self.name}: no such file", path)
            raise SidecarError(f"sandbox {self.namespace}/{self.name}: reading {path} failed "
                               f"(exit {result.exit_code}): {result.stderr.strip()}")
        data = base64.b64decode(result.stdout) if encoded else result.stdout.encode()
        return data if binary else data.decode("utf-8", "replace")
