"""SandboxEnv: a gymnasium.Env whose episodes each run in a fresh ARL sandbox.

reset() releases the previous sandbox and allocates a new one from the pool (a
SandboxSession); step() runs a command or writes a file there, on the direct path (the
sandbox's executor through the pod proxy, nothing written to etcd); close() releases it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import gymnasium as gym
from gymnasium.error import ResetNeeded

from ..client import ArlClient
from ..duration import DurationLike, to_seconds
from ..errors import SidecarError, ValidationError
from ..session import RunResult, SandboxSession
from .spaces import Action, action_space, observation, observation_space, parse_action

GYM_LABEL = "arl.infra.io/gym-env"


@dataclass
class Transition:
    """What reward_fn sees of one step.

    `result` is the full RunResult (uncut stdout/stderr, exit_code, timed_out; a write comes
    back as exit code 0, or 1 with the executor's refusal in stderr); `session` is the
    episode's sandbox, for rewards that inspect it (run a test, read a file); `step` counts
    from 1 within the episode.
    """
    action: Action
    result: RunResult
    session: SandboxSession
    step: int


RewardResult = Union[float, Tuple[float, bool]]
RewardFn = Callable[[Transition], RewardResult]
SetupFn = Callable[[SandboxSession, Any], Optional[Mapping[str, Any]]]


class SandboxEnv(gym.Env):
    """One sandbox per episode.

    reward_fn(transition) returns the step's reward, or (reward, terminated) to end the
    episode (e.g. when a test passes); None gives reward 0 and never terminates. An episode
    is truncated after `max_steps` steps, or at the first step ending `episode_timeout`
    seconds after reset(). A command running past `step_timeout` is killed and comes back
    as an observation (info["timed_out"]); it does not end the episode by itself.

    setup_fn(session, np_random), if given, prepares each new sandbox in reset() (write the
    task's files, pick a task with the seeded np_random); a dict it returns joins reset's info.
    """

    metadata: Dict[str, Any] = {"render_modes": []}

    def __init__(self, pool: str, reward_fn: Optional[RewardFn] = None, *, namespace: str = "default",
                 max_steps: int = 16, step_timeout: DurationLike = 30,
                 episode_timeout: Optional[DurationLike] = None, sandbox_timeout: DurationLike = 120,
                 setup_fn: Optional[SetupFn] = None, workdir: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None, max_output_chars: int = 65536,
                 max_command_chars: int = 4096, max_path_chars: int = 255, max_content_chars: int = 4096,
                 client: Optional[ArlClient] = None, kubeconfig: Optional[str] = None,
                 context: Optional[str] = None, labels: Optional[Dict[str, str]] = None):
        problems = []
        if not isinstance(pool, str) or not pool:
            problems.append("pool: required, the name of a WarmPool")
        if reward_fn is not None and not callable(reward_fn):
            problems.append("reward_fn: must be callable (transition -> reward) or None")
        if setup_fn is not None and not callable(setup_fn):
            problems.append("setup_fn: must be callable (session, np_random -> info) or None")
        if not isinstance(max_steps, int) or max_steps < 1:
            problems.append(f"max_steps: must be an integer >= 1, got {max_steps!r}")
        if problems:
            raise ValidationError("SandboxEnv", problems)
        self.pool = pool
        self.namespace = namespace
        self.reward_fn = reward_fn
        self.setup_fn = setup_fn
        self.max_steps = max_steps
        self.step_timeout = to_seconds(step_timeout)
        self.episode_timeout = None if episode_timeout is None else to_seconds(episode_timeout)
        self.sandbox_timeout = to_seconds(sandbox_timeout)
        self.workdir = workdir
        self.env_vars = dict(env or {})
        self.max_output_chars = max_output_chars
        self.client = client or ArlClient.shared(kubeconfig, context)
        self.labels = {GYM_LABEL: "true", **(labels or {})}
        self.observation_space = observation_space(max_output_chars)
        self.action_space = action_space(max_command_chars, max_path_chars, max_content_chars)
        self.session: Optional[SandboxSession] = None
        self._steps = 0
        self._episode_over = False
        self._started = 0.0

    def __str__(self) -> str:
        # gymnasium's Env.__str__ names the spec, which an env built directly has not.
        return f"SandboxEnv(pool={self.namespace}/{self.pool})"

    __repr__ = __str__

    # ---- episodes

    def reset(self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None):
        """A fresh sandbox: the previous one is released first. `options` is accepted and unused."""
        super().reset(seed=seed)
        self._release()
        session = SandboxSession(self.pool, self.namespace, timeout=self.sandbox_timeout, client=self.client,
                                 labels=self.labels)
        session.open()
        info: Dict[str, Any] = {"sandbox": session.name, "pod": session.pod_name}
        try:
            if self.setup_fn is not None:
                info.update(self.setup_fn(session, self.np_random) or {})
        except BaseException:
            session.close()
            raise
        self.session = session
        self._steps = 0
        self._episode_over = False
        self._started = time.monotonic()
        obs, _ = observation("", "", 0, self.max_output_chars)
        return obs, info

    def step(self, action: Any):
        if self.session is None:
            raise ResetNeeded(f"{self}: step() before reset(): call reset() to get a sandbox first")
        if self._episode_over:
            raise ResetNeeded(f"{self}: step() after the episode ended (terminated or truncated): "
                              f"call reset() to start the next one")
        act = parse_action(action)
        result = self._perform(act)
        self._steps += 1
        reward, terminated = self._reward(Transition(act, result, self.session, self._steps))
        truncated = self._steps >= self.max_steps or self._out_of_time()
        self._episode_over = terminated or truncated
        obs, cut = observation(result.stdout, result.stderr, result.exit_code, self.max_output_chars)
        # Only what a replay of the same action would reproduce: gymnasium's checker compares
        # the infos of two seeded steps, so durations and pod names stay out of them.
        info = {"step": self._steps, "timed_out": result.timed_out, **cut}
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        """Releases the sandbox (deletes it; its pod goes with it). Safe to call twice."""
        self._release()
        super().close()

    # ---- internals

    def _release(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.close()

    def _remaining(self) -> Optional[float]:
        if self.episode_timeout is None:
            return None
        return self.episode_timeout - (time.monotonic() - self._started)

    def _out_of_time(self) -> bool:
        remaining = self._remaining()
        return remaining is not None and remaining <= 0

    def _perform(self, act: Action) -> RunResult:
        assert self.session is not None
        if act.kind == "run":
            timeout = self.step_timeout
            remaining = self._remaining()
            if remaining is not None:
                # A command may not outlive its episode, but gets at least a second.
                timeout = min(timeout, max(remaining, 1.0))
            result = self.session.run(act.command, workdir=self.workdir, env=self.env_vars, timeout=timeout)
            assert isinstance(result, RunResult)
            return result
        try:
            self.session.write_file(act.path, act.content)
        except SidecarError as e:
            # The executor refused this path (e.g. a directory there): the agent's mistake, so
            # an observation, not an exception that would end the rollout.
            return RunResult(stdout="", stderr=f"write {act.path}: {e}", exit_code=1)
        return RunResult(stdout="", stderr="", exit_code=0)

    def _reward(self, transition: Transition) -> Tuple[float, bool]:
        if self.reward_fn is None:
            return 0.0, False
        value = self.reward_fn(transition)
        reward, terminated = value if isinstance(value, tuple) and len(value) == 2 else (value, False)
        try:
            return float(reward), bool(terminated)
        except (TypeError, ValueError):
            raise ValidationError(f"{self}", [f"reward_fn: returned {value!r}, expected a number or "
                                              f"(number, terminated)"]) from None
