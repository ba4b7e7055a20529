"""AsyncSandboxSession: the same session for asyncio rollout loops.

The blocking client runs on a dedicated, large thread pool: asyncio's default
executor has only min(32, cores + 4) threads, and every session in flight holds
one while it waits on a watch, so hundreds of episodes would queue behind a
handful of threads.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from typing import Any, AsyncIterator, Callable, List, Optional, TypeVar

from .session import SandboxSession, StreamEvent

R = TypeVar("R")

_executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
_executor_lock = threading.Lock()


def executor() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=int(os.environ.get("ARL_ASYNC_THREADS", "256")), thread_name_prefix="arl-async")
        return _executor


async def _call(fn: Callable[..., R], *args: Any, **kw: Any) -> R:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor(), lambda: fn(*args, **kw))


class AsyncSandboxSession:
    """`async with AsyncSandboxSession("pool") as s: await s.execute([...])`"""

    def __init__(self, *args: Any, **kwargs: Any):
        self.session = SandboxSession(*args, **kwargs)

    @property
    def name(self) -> Optional[str]:
        return self.session.name

    @property
    def sandbox(self):
        return self.session.sandbox

    async def __aenter__(self) -> "AsyncSandboxSession":
        fut = asyncio.get_running_loop().run_in_executor(executor(), self.session.open)
        try:
            await asyncio.shield(fut)
        except asyncio.CancelledError:
            # The thread keeps going after a cancel: once it has created the
            # sandbox, delete it so a cancelled episode leaks nothing.
            fut.add_done_callback(lambda _f: executor().submit(self.session.close))
            raise
        except BaseException:
            await _call(self.session.close)
            raise
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # Shielded: a cancelled episode must still delete its sandbox.
        await asyncio.shield(asyncio.get_running_loop().run_in_executor(executor(), self.session.close))

    @classmethod
    def _of(cls, session: SandboxSession) -> "AsyncSandboxSession":
        wrapped = cls.__new__(cls)
        wrapped.session = session
        return wrapped

    async def fork(self, n: int = 1, checkpoint: Optional[str] = None, timeout: Any = None) -> List["AsyncSandboxSession"]:
        """SandboxSession.fork: n open sessions starting as copies of this sandbox's workdir."""
        forks = await _call(self.session.fork, n, checkpoint, timeout)
        return [AsyncSandboxSession._of(f) for f in forks]

    async def close(self) -> None:
        await asyncio.shield(asyncio.get_running_loop().run_in_executor(executor(), self.session.close))

    async def execute(self, steps: Any, timeout: Any = "30s", **kw: Any):
        return await _call(self.session.execute, steps, timeout, **kw)

    async def run(self, command: Any, workdir: Optional[str] = None, env: Any = None, timeout: Any = 30, **kw: Any):
        return await _call(self.session.run, command, workdir, env, timeout, **kw)

    async def stream(self, command: Any, workdir: Optional[str] = None, env: Any = None,
                     timeout: Any = 30, **kw: Any) -> AsyncIterator[StreamEvent]:
        it = await _call(self.session.run, command, workdir, env, timeout, stream=True, **kw)
        done = object()
        while True:
            ev = await _call(next, it, done)
            if ev is done:
                return
            yield ev

    async def checkpoint(self, name: Optional[str] = None) -> str:
        return await _call(self.session.checkpoint, name)

    async def restore(self, checkpoint: str, kill_processes: bool = False):
        return await _call(self.session.restore, checkpoint, kill_processes)

    async def checkpoints(self):
        return await _call(self.session.checkpoints)

    async def delete_checkpoint(self, checkpoint: str):
        return await _call(self.session.delete_checkpoint, checkpoint)

    async def write_file(self, path: str, content: Any, mode: Any = None):
        return await _call(self.session.write_file, path, content, mode)

    async def read_file(self, path: str, binary: bool = False):
        return await _call(self.session.read_file, path, binary)

    async def trajectory(self, since: int = 0):
        return await _call(self.session.trajectory, since)
