"""Gymnasium environments over ARL sandboxes (`pip install arl-client[gym]`).

    from arl_client.gym import SandboxEnv
    env = SandboxEnv("python-pool", reward_fn=lambda t: float(t.result.exit_code == 0))
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("echo hello")
    env.close()

`SandboxEnv` is one episode in one sandbox; `SandboxVectorEnv` runs N of them on
one pool. gymnasium is an optional dependency: the rest of arl_client imports
without it, and only this package needs it.
"""
try:
    import gymnasium  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised in a subprocess by the unit tests
    raise ImportError("arl_client.gym needs gymnasium, an optional dependency of arl-client: "
                      "install it with `pip install arl-client[gym]` (or `pip install gymnasium`)") from e

from .env import SandboxEnv, Transition
from .spaces import RUN, WRITE, Action, AnyText, action_space, observation_space, parse_action
from .vector_env import SandboxVectorEnv

__all__ = ["SandboxEnv", "SandboxVectorEnv", "Transition", "Action", "AnyText", "RUN", "WRITE",
           "action_space", "observation_space", "parse_action"]
