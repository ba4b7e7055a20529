"""SandboxEnv and SandboxVectorEnv against the in-memory API server (fake_kube.FakeKube).

The fake operator allocates a pod to every sandbox; the fake executor plays a shell that
knows `echo` and nothing else, and keeps written files.
"""
import subprocess
import sys
import warnings

import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

from arl_client import ArlClient
from arl_client.errors import ValidationError
from arl_client.gym import SandboxEnv, SandboxVectorEnv
from fake_kube import FakeKube, FakeResponse

NS = "default"


@pytest.fixture
def kube():
    k = FakeKube()
    k.put_secret(NS, "arl-pool-pool", "tok123")

    def allocate(plural, obj):
        if plural == "sandboxes":
            k.update("sandboxes", NS, obj["metadata"]["name"], {"phase": "Ready", "podName": "p-abcde"})
    k.reactors.append(allocate)
    k.files = {}

    def sidecar(endpoint, body, headers):
        if endpoint == "files":
            if body["path"].endswith("/"):
                return FakeResponse(400, {"error": "path: names a directory"})
            k.files[body["path"]] = body["content"]
            return FakeResponse(200, {"path": body["path"]})
        script = body["command"][2]
        if script.startswith("echo "):
            return FakeResponse(200, {"stdout": script[5:] + "\n", "stderr": "", "exit_code": 0})
        return FakeResponse(200, {"stdout": "", "stderr": f"sh: 1: {script}: not found\n", "exit_code": 127})
    k.sidecar = sidecar
    return k


def make_env(kube, reward_fn=None, **kw):
    return SandboxEnv("pool", reward_fn, client=ArlClient(kube), **kw)


def live_sandboxes(kube):
    return sorted(name for (plural, _, name) in kube.objects if plural == "sandboxes")


def test_step_before_reset_raises_reset_needed(kube):
    env = make_env(kube)
    with pytest.raises(ResetNeeded, match=r"SandboxEnv\(pool=default/pool\): step\(\) before reset\(\): "
                                          r"call reset\(\) to get a sandbox first"):
        env.step("echo hi")
    assert not kube.calls("POST")


def test_reset_allocates_step_runs_close_releases(kube):
    env = make_env(kube)
    obs, info = env.reset(seed=3)
    assert obs == {"stdout": "", "stderr": "", "exit_code": 0}
    assert live_sandboxes(kube) == [info["sandbox"]] and info["pod"] == "p-abcde"
    created = kube.calls("POST", "/sandboxes")[0]["body"]
    assert created["metadata"]["labels"]["arl.infra.io/gym-env"] == "true"
    obs, reward, terminated, truncated, info = env.step("echo hello")
    assert obs == {"stdout": "hello\n", "stderr": "", "exit_code": 0}
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info == {"step": 1, "timed_out": False, "stdout_truncated": False, "stderr_truncated": False}
    assert kube.calls("POST", "/proxy/execute")[0]["body"]["command"] == ["sh", "-c", "echo hello"]
    env.close()
    assert live_sandboxes(kube) == []
    env.close()  # twice is fine
    with pytest.raises(ResetNeeded):
        env.step("echo again")


def test_reset_releases_the_previous_sandbox_before_taking_a_new_one(kube):
    env = make_env(kube)
    _, first = env.reset()
    _, second = env.reset()
    assert first["sandbox"] != second["sandbox"]
    assert live_sandboxes(kube) == [second["sandbox"]]
    order = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in kube.requests
             if r["method"] in ("POST", "DELETE") and "/sandboxes" in r["path"]]
    assert order == [("POST", "sandboxes"), ("DELETE", first["sandbox"]), ("POST", "sandboxes")]
    env.close()


def test_reward_fn_sees_the_action_full_result_session_and_step(kube):
    seen = []

    def reward(t):
        seen.append((t.action.kind, t.action.command, t.result.stdout, t.result.exit_code, t.session.name, t.step))
        return 0.5 if t.result.exit_code == 0 else -1

    env = make_env(kube, reward, max_output_chars=3)
    _, info = env.reset()
    obs, r1, *_ = env.step("echo abcdef")
    _, r2, *_ = env.step({"kind": "run", "command": "false"})
    assert (r1, r2) == (0.5, -1.0) and type(r2) is float
    # The observation is cut to the space; the reward function sees the whole output.
    assert obs["stdout"] == "ef\n"
    assert seen == [("run", "echo abcdef", "abcdef\n", 0, info["sandbox"], 1),
                    ("run", "false", "", 127, info["sandbox"], 2)]
    env.close()


def test_reward_fn_can_terminate_and_a_finished_episode_needs_reset(kube):
    env = make_env(kube, lambda t: (1.0, "done" in t.result.stdout))
    env.reset()
    assert env.step("echo working")[1:4] == (1.0, False, False)
    assert env.step("echo done")[1:4] == (1.0, True, False)
    with pytest.raises(ResetNeeded, match="after the episode ended"):
        env.step("echo more")
    env.reset()
    assert env.step("echo again")[2] is False
    env.close()


def test_step_limit_truncates(kube):
    env = make_env(kube, max_steps=3)
    env.reset()
    assert [env.step("echo x")[3] for _ in range(3)] == [False, False, True]
    env.close()


def test_write_action_writes_the_file_and_a_refused_write_is_an_observation(kube):
    env = make_env(kube)
    env.reset()
    obs, *_ = env.step({"kind": "write", "path": "a.py", "content": "print(1)\n"})
    assert obs == {"stdout": "", "stderr": "", "exit_code": 0} and kube.files == {"a.py": "print(1)\n"}
    obs, *_ = env.step({"kind": 1, "path": "dir/", "content": ""})
    assert obs["exit_code"] == 1
    assert obs["stderr"] == "write dir/: sandbox pod default/p-abcde /files: path: names a directory"
    env.close()


def test_bad_action_raises_and_does_not_count_as_a_step(kube):
    env = make_env(kube, max_steps=2)
    env.reset()
    with pytest.raises(ValidationError, match=r"^action: kind: unknown kind 'delete'"):
        env.step({"kind": "delete", "path": "a"})
    assert env.step("echo 1")[4]["step"] == 1
    env.close()


def test_bad_reward_and_bad_arguments_are_named():
    with pytest.raises(ValidationError) as e:
        SandboxEnv("", reward_fn=3, max_steps=0, client=object())
    assert str(e.value) == ("SandboxEnv: pool: required, the name of a WarmPool; reward_fn: must be callable "
                            "(transition -> reward) or None; max_steps: must be an integer >= 1, got 0")


def test_reward_fn_returning_no_number_is_an_error(kube):
    env = make_env(kube, lambda t: "good")
    env.reset()
    with pytest.raises(ValidationError, match=r"reward_fn: returned 'good', expected a number"):
        env.step("echo x")
    env.close()


def test_setup_fn_prepares_each_sandbox_with_the_seeded_rng(kube):
    picks = []

    def setup(session, rng):
        picks.append(int(rng.integers(1000)))
        session.write_file("task.txt", f"task {picks[-1]}")
        return {"task": picks[-1]}

    env = make_env(kube, setup_fn=setup)
    _, info1 = env.reset(seed=42)
    _, info2 = env.reset(seed=42)
    assert info1["task"] == info2["task"] == picks[0] and kube.files["task.txt"] == f"task {picks[0]}"
    env.close()


def test_gymnasiums_checker_passes_with_warnings_as_errors(kube):
    env = make_env(kube)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)
    env.close()
    assert live_sandboxes(kube) == []


def test_vector_env_resets_steps_and_autoresets_next_step(kube):
    env = SandboxVectorEnv("pool", lambda t: float(t.step), num_envs=3, max_steps=2, client=ArlClient(kube))
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, info = env.reset(seed=1)
    assert len(live_sandboxes(kube)) == 3 and sorted(info["sandbox"]) == live_sandboxes(kube)
    assert obs["stdout"] == ("", "", "") and obs["exit_code"].tolist() == [0, 0, 0]
    obs, rewards, term, trunc, info = env.step(["echo a", "echo b", {"kind": "run", "command": "nope"}])
    assert obs["stdout"] == ("a\n", "b\n", "") and obs["exit_code"].tolist() == [0, 0, 127]
    assert rewards.tolist() == [1.0, 1.0, 1.0] and not term.any() and not trunc.any()
    assert obs in env.observation_space
    _, rewards, _, trunc, _ = env.step(env.action_space.sample())
    assert rewards.tolist() == [2.0, 2.0, 2.0] and trunc.tolist() == [True, True, True]
    before = live_sandboxes(kube)
    # The step after the end: a fresh sandbox each, the actions ignored, reward 0.
    obs, rewards, term, trunc, info = env.step(["echo ignored"] * 3)
    assert obs["stdout"] == ("", "", "") and rewards.tolist() == [0.0, 0.0, 0.0] and not trunc.any()
    assert not set(live_sandboxes(kube)) & set(before) and len(live_sandboxes(kube)) == 3
    env.close()
    assert live_sandboxes(kube) == []


def test_vector_env_same_step_autoreset_reports_the_final_observation(kube):
    env = SandboxVectorEnv("pool", num_envs=2, max_steps=1, autoreset_mode="SameStep", client=ArlClient(kube))
    env.reset()
    obs, _, _, trunc, info = env.step({"kind": np.array([0, 0]), "command": ("echo x", "echo y")})
    assert trunc.tolist() == [True, True] and obs["stdout"] == ("", "")
    assert [o["stdout"] for o in info["final_obs"]] == ["x\n", "y\n"]
    env.close()


def test_vector_env_refuses_a_wrong_number_of_actions(kube):
    env = SandboxVectorEnv("pool", num_envs=2, client=ArlClient(kube))
    env.reset()
    with pytest.raises(ValidationError, match=r"actions: a batched dict or a sequence of 2 actions, got list"):
        env.step(["echo 1"])
    with pytest.raises(ValidationError, match=r"actions: every key needs 2 values"):
        env.step({"kind": [0], "command": ["echo 1"]})
    env.close()


def test_arl_client_imports_without_gymnasium_and_arl_client_gym_names_the_extra():
    # A meta-path finder that refuses gymnasium, as on a machine without it.
    code = """
import sys
class NoGym:
    def find_spec(self, name, path=None, target=None):
        if name == "gymnasium" or name.startswith("gymnasium."):
            raise ModuleNotFoundError("No module named 'gymnasium'", name=name)
sys.meta_path.insert(0, NoGym())
import arl_client
print(arl_client.SandboxSession.__name__)
try:
    import arl_client.gym
except ImportError as e:
    print(e)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "SandboxSession",
        "arl_client.gym needs gymnasium, an optional dependency of arl-client: install it with "
        "`pip install arl-client[gym]` (or `pip install gymnasium`)"]
