"""SandboxVectorEnv: N SandboxEnvs on one pool, stepped together, each call fanned out.

Each sub-environment is a SandboxEnv (so one sandbox each); reset(), step() and close()
run the N calls at once on the SDK's shared thread pool (the one AsyncSandboxSession
uses), so N sandboxes are allocated concurrently and one slow command does not hold up
the others' requests. One ArlClient (one connection pool) serves all N.

Autoreset: gymnasium's modes (metadata["autoreset_mode"]).
- NEXT_STEP (default): after a sub-environment's episode ends, the next step() ignores its
  action, gives it a fresh sandbox and returns the reset observation with reward 0 and
  terminated = truncated = False.
- SAME_STEP: the step that ends an episode resets at once; it returns the new episode's
  first observation, the last one in info["final_obs"] and its info in info["final_info"].
- DISABLED: nothing automatic; reset(options={"reset_mask": mask}) resets the chosen ones.
"""
from __future__ import annotations

import concurrent.futures
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, TypeVar, Union

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array

from ..async_session import executor
from ..client import ArlClient
from ..errors import ValidationError
from .env import RewardFn, SandboxEnv

R = TypeVar("R")


class SandboxVectorEnv(VectorEnv):
    """`SandboxVectorEnv("python-pool", reward_fn, num_envs=4, max_steps=8)`; other keywords go to SandboxEnv."""

    def __init__(self, pool: str, reward_fn: Optional[RewardFn] = None, *, num_envs: int,
                 autoreset_mode: Union[str, AutoresetMode] = AutoresetMode.NEXT_STEP,
                 client: Optional[ArlClient] = None, kubeconfig: Optional[str] = None,
                 context: Optional[str] = None, **env_kwargs: Any):
        if not isinstance(num_envs, int) or num_envs < 1:
            raise ValidationError("SandboxVectorEnv", [f"num_envs: must be an integer >= 1, got {num_envs!r}"])
        client = client or ArlClient.shared(kubeconfig, context)
        self.envs: List[SandboxEnv] = [SandboxEnv(pool, reward_fn, client=client, **env_kwargs)
                                       for _ in range(num_envs)]
        self.num_envs = num_envs
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.metadata = {**self.envs[0].metadata, "autoreset_mode": self.autoreset_mode}
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._obs: List[Any] = [None] * num_envs
        self._rewards = np.zeros(num_envs, dtype=np.float64)
        self._terminations = np.zeros(num_envs, dtype=np.bool_)
        self._truncations = np.zeros(num_envs, dtype=np.bool_)
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)

    def __str__(self) -> str:
        return f"SandboxVectorEnv(pool={self.envs[0].namespace}/{self.envs[0].pool}, num_envs={self.num_envs})"

    __repr__ = __str__

    def reset(self, *, seed: Optional[Union[int, Sequence[Optional[int]]]] = None,
              options: Optional[Dict[str, Any]] = None):
        """Seeds as gymnasium's vector envs take them: None, an int (env i gets seed + i), or a list of N."""
        if seed is None:
            seeds: List[Optional[int]] = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValidationError(f"{self}", [f"seed: a list of {self.num_envs} seeds, got {len(seeds)}"])
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        chosen = list(range(self.num_envs)) if mask is None else [i for i in range(self.num_envs) if mask[i]]
        results = self._fan_out([lambda i=i: self.envs[i].reset(seed=seeds[i], options=options) for i in chosen])
        infos: Dict[str, Any] = {}
        for i, (obs, info) in zip(chosen, results):
            self._obs[i] = obs
            self._terminations[i] = self._truncations[i] = self._autoreset[i] = False
            infos = self._add_info(infos, info, i)
        return self._batch(), infos

    def step(self, actions: Any):
        """`actions`: a batched dict (as action_space.sample() gives) or a sequence of N single actions."""
        per_env = self._split(actions)
        if self.autoreset_mode == AutoresetMode.DISABLED and self._autoreset.any():
            ended = [i for i in range(self.num_envs) if self._autoreset[i]]
            raise ValidationError(f"{self}", [f"envs {ended}: episode over and autoreset is disabled: "
                                              f"reset(options={{'reset_mask': ...}}) them first"])
        results = self._fan_out([lambda i=i: self._step_one(i, per_env[i]) for i in range(self.num_envs)])
        infos: Dict[str, Any] = {}
        for i, (obs, reward, terminated, truncated, info) in enumerate(results):
            self._obs[i] = obs
            self._rewards[i], self._terminations[i], self._truncations[i] = reward, terminated, truncated
            infos = self._add_info(infos, info, i)
        self._autoreset = self._terminations | self._truncations
        return (self._batch(), self._rewards.copy(), self._terminations.copy(), self._truncations.copy(), infos)

    def close_extras(self, **kwargs: Any) -> None:
        """Releases every sandbox, all at once."""
        self._fan_out([env.close for env in self.envs])

    # ---- internals

    def _step_one(self, i: int, action: Any):
        env = self.envs[i]
        if self.autoreset_mode == AutoresetMode.NEXT_STEP and self._autoreset[i]:
            obs, info = env.reset()
            return obs, 0.0, False, False, info
        obs, reward, terminated, truncated, info = env.step(action)
        if self.autoreset_mode == AutoresetMode.SAME_STEP and (terminated or truncated):
            final = {"final_obs": obs, "final_info": info}
            obs, info = env.reset()
            info = {**info, **final}
        return obs, reward, terminated, truncated, info

    def _split(self, actions: Any) -> List[Any]:
        n = self.num_envs
        if isinstance(actions, Mapping):
            lengths = {k: len(v) for k, v in actions.items()}
            if any(length != n for length in lengths.values()):
                raise ValidationError(f"{self}", [f"actions: every key needs {n} values, got {lengths}"])
            return [{k: v[i] for k, v in actions.items()} for i in range(n)]
        if isinstance(actions, (str, bytes)) or not isinstance(actions, Sequence) or len(actions) != n:
            raise ValidationError(f"{self}", [f"actions: a batched dict or a sequence of {n} actions, "
                                              f"got {type(actions).__name__}"])
        return list(actions)

    def _batch(self) -> Any:
        out = create_empty_array(self.single_observation_space, self.num_envs)
        return concatenate(self.single_observation_space, self._obs, out)

    def _fan_out(self, calls: List[Callable[[], R]]) -> List[R]:
        """Runs the calls at once; waits for all of them, then raises the first failure."""
        try:
            futures = [executor().submit(c) for c in calls]
        except RuntimeError:
            # The interpreter is exiting (gymnasium's VectorEnv closes itself when collected)
            # and takes no new threads: release one after another instead.
            return [c() for c in calls]
        concurrent.futures.wait(futures)
        return [f.result() for f in futures]
