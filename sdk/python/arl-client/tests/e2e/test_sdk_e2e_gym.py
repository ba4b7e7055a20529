"""arl_client.gym end to end: SandboxEnv and SandboxVectorEnv on the real API server, the
operator and the local node (one sandbox per episode from the session's pool)."""
import warnings

import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env

from arl_client.errors import ValidationError
from arl_client.gym import SandboxEnv, SandboxVectorEnv
from arl_sdk_e2e import wait_gone

GYM = "arl.infra.io/gym-env=true"


def make_env(client, pool, namespace, reward_fn=None, **kw):
    return SandboxEnv(pool, reward_fn, namespace=namespace, client=client, sandbox_timeout=120, **kw)


def gym_sandboxes(client, namespace):
    return sorted(s["metadata"]["name"] for s in client.list_sandboxes(namespace, label_selector=GYM))


def assert_released(client, namespace, names):
    for name in names:
        assert wait_gone(client, "sandboxes", name, namespace, timeout=30), f"sandbox {name} not released"


def test_gymnasium_check_env_passes_on_a_real_sandbox_env(client, pool, namespace):
    env = make_env(client, pool, namespace, lambda t: float(t.result.exit_code == 0))
    # Warnings are gymnasium's way to flag a doubtful env: here each one fails the test. The
    # render check is skipped: the env renders nothing and, built directly, has no spec to
    # build its render modes from.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)
    last = env.session.name
    env.close()
    assert_released(client, namespace, [last])
    assert gym_sandboxes(client, namespace) == []


def test_observation_is_what_the_command_printed(client, pool, namespace):
    env = make_env(client, pool, namespace)
    obs, info = env.reset(seed=1)
    assert obs == {"stdout": "", "stderr": "", "exit_code": 0}
    assert client.get_sandbox(info["sandbox"], namespace)["status"]["podName"] == info["pod"]
    obs, reward, terminated, truncated, info = env.step("printf 'out 1\\nout 2\\n'; printf '错误\\n' >&2; exit 3")
    assert obs == {"stdout": "out 1\nout 2\n", "stderr": "错误\n", "exit_code": 3}
    assert (reward, terminated, truncated, info["timed_out"]) == (0.0, False, False, False)
    assert obs in env.observation_space
    # A file written by one step is there for the next: the episode keeps its sandbox.
    obs, *_ = env.step({"kind": "write", "path": "notes/a.txt", "content": "kept\n"})
    assert obs == {"stdout": "", "stderr": "", "exit_code": 0}
    obs, *_ = env.step({"kind": "run", "command": "cat /workspace/notes/a.txt"})
    assert obs["stdout"] == "kept\n"
    env.close()


def test_reward_fn_gets_the_result_and_can_inspect_the_sandbox(client, pool, namespace):
    seen = []

    def reward(t):
        # A reward that checks the sandbox itself, as a test-passing reward would.
        answer = t.session.read_file("answer.txt") if t.action.kind == "run" else None
        seen.append((t.step, t.action.kind, t.result.exit_code, t.result.stdout, answer))
        solved = answer == "42\n"
        return (1.0 if solved else -0.1), solved

    env = make_env(client, pool, namespace, reward)
    _, info = env.reset()
    results = [env.step({"kind": "write", "path": "answer.txt", "content": "41\n"})[1:4],
               env.step("cat answer.txt")[1:4],
               env.step({"kind": "run", "command": "echo 42 > answer.txt; echo fixed"})[1:4]]
    assert results == [(-0.1, False, False), (-0.1, False, False), (1.0, True, False)]
    assert seen == [(1, "write", 0, "", None), (2, "run", 0, "41\n", "41\n"), (3, "run", 0, "fixed\n", "42\n")]
    with pytest.raises(ResetNeeded, match="after the episode ended"):
        env.step("echo late")
    env.close()
    assert_released(client, namespace, [info["sandbox"]])


def test_step_limit_truncates_and_a_command_past_its_timeout_is_an_observation(client, pool, namespace):
    env = make_env(client, pool, namespace, max_steps=2, step_timeout=1)
    env.reset()
    obs, _, terminated, truncated, info = env.step("echo started; sleep 20")
    assert info["timed_out"] is True and obs["stdout"] == "started\n" and (terminated, truncated) == (False, False)
    _, _, terminated, truncated, info = env.step("echo two")
    assert (terminated, truncated, info["step"]) == (False, True, 2)
    env.close()


def test_close_releases_the_sandbox_and_reset_releases_the_previous_one(client, pool, namespace):
    env = make_env(client, pool, namespace)
    _, first = env.reset()
    _, second = env.reset()
    assert_released(client, namespace, [first["sandbox"]])
    assert client.get_sandbox(second["sandbox"], namespace)["status"]["phase"] in ("Ready", "Bound")
    env.close()
    assert_released(client, namespace, [second["sandbox"]])
    with pytest.raises(ResetNeeded, match=r"step\(\) before reset\(\)"):
        env.step("echo after close")


def test_bad_input_gets_a_clear_error(client, pool, namespace):
    env = make_env(client, pool, namespace)
    with pytest.raises(ResetNeeded, match=rf"SandboxEnv\(pool={namespace}/{pool}\): step\(\) before reset\(\): "
                                          r"call reset\(\) to get a sandbox first"):
        env.step("echo hi")
    assert gym_sandboxes(client, namespace) == []
    env.reset()
    with pytest.raises(ValidationError) as e:
        env.step({"kind": "delete", "path": "/workspace"})
    assert str(e.value) == "action: kind: unknown kind 'delete', expected 'run' (0) or 'write' (1)"
    # The refused action was not a step; the sandbox is still usable.
    obs, _, _, _, info = env.step("echo still here")
    assert obs["stdout"] == "still here\n" and info["step"] == 1
    env.close()


def test_vector_env_runs_four_envs_each_in_its_own_sandbox(client, pool, namespace):
    env = SandboxVectorEnv(pool, lambda t: float(t.result.exit_code == 0), num_envs=4, namespace=namespace,
                           client=client, max_steps=2, sandbox_timeout=120)
    obs, info = env.reset(seed=7)
    names = list(info["sandbox"])
    assert len(set(names)) == 4 and len(set(info["pod"])) == 4
    assert sorted(names) == gym_sandboxes(client, namespace)
    obs, rewards, term, trunc, info = env.step([f"echo env {i}; exit {i}" for i in range(4)])
    assert obs["stdout"] == tuple(f"env {i}\n" for i in range(4))
    assert obs["exit_code"].tolist() == [0, 1, 2, 3] and rewards.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert obs in env.observation_space
    obs, rewards, term, trunc, info = env.step(["echo ok"] * 4)
    assert trunc.tolist() == [True] * 4 and obs["stdout"] == ("ok\n",) * 4
    # Next-step autoreset: four fresh sandboxes, the old four released.
    obs, rewards, term, trunc, info = env.step(["echo ignored"] * 4)
    assert obs["stdout"] == ("",) * 4 and rewards.tolist() == [0.0] * 4
    fresh = list(info["sandbox"])
    assert not set(fresh) & set(names)
    assert_released(client, namespace, names)
    env.close()
    assert_released(client, namespace, fresh)
