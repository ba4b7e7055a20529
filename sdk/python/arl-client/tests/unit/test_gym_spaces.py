"""The gym environment's spaces and action/observation mapping: pure, no server."""
import numpy as np
import pytest

from arl_client.errors import ValidationError
from arl_client.gym import RUN, WRITE, Action, AnyText, action_space, observation_space, parse_action
from arl_client.gym.spaces import observation


@pytest.mark.parametrize("action,expected", [
    ("echo hi", Action("run", command="echo hi")),
    ({"kind": RUN, "command": "ls -l"}, Action("run", command="ls -l")),
    ({"kind": "run", "command": "ls"}, Action("run", command="ls")),
    ({"kind": np.int64(0), "command": "ls", "path": "ignored", "content": "x"}, Action("run", command="ls")),
    ({"kind": WRITE, "path": "a.py", "content": "print(1)\n"}, Action("write", path="a.py", content="print(1)\n")),
    ({"kind": "write", "path": "/tmp/b", "content": b"\x00\xff"}, Action("write", path="/tmp/b", content=b"\x00\xff")),
    ({"kind": "write", "path": "empty.txt"}, Action("write", path="empty.txt", content="")),
])
def test_parse_action_accepts_strings_names_and_indices(action, expected):
    assert parse_action(action) == expected


@pytest.mark.parametrize("action,message", [
    ({"kind": "delete", "path": "x"}, "action: kind: unknown kind 'delete', expected 'run' (0) or 'write' (1)"),
    ({"kind": 2, "command": "ls"}, "action: kind: unknown kind 2, expected 'run' (0) or 'write' (1)"),
    ({"kind": True, "command": "ls"}, "action: kind: unknown kind True, expected 'run' (0) or 'write' (1)"),
    ({"command": "ls"}, "action: kind: required, expected 'run' (0) or 'write' (1)"),
    ({"kind": "run"}, "action: command: required, a non-empty string"),
    ({"kind": "run", "command": "  "}, "action: command: required, a non-empty string"),
    ({"kind": "write", "content": 5}, "action: path: required, a non-empty string; "
                                       "content: must be str or bytes, got int"),
    ({"kind": "run", "cmd": "ls"}, "action: unknown keys ['cmd'], expected some of "
                                   "['kind', 'command', 'path', 'content']; command: required, a non-empty string"),
    ("", "action: command: must not be empty"),
    (["ls"], "action: must be a command string or a dict with 'kind', got list"),
    (None, "action: must be a command string or a dict with 'kind', got NoneType"),
])
def test_parse_action_refuses_bad_input_naming_every_problem(action, message):
    with pytest.raises(ValidationError) as e:
        parse_action(action)
    assert str(e.value) == message
    assert isinstance(e.value, ValueError)


def test_sampled_actions_are_valid_actions():
    space = action_space(64, 32, 64)
    space.seed(7)
    for _ in range(50):
        sample = space.sample()
        act = parse_action(sample)
        assert act.kind == ("run", "write")[int(sample["kind"])]
        assert sample in space


def test_observation_keeps_the_tail_of_long_output_and_flags_the_cut():
    obs, cut = observation("0123456789", "err\n", 0, max_output_chars=4)
    assert obs == {"stdout": "6789", "stderr": "err\n", "exit_code": 0}
    assert cut == {"stdout_truncated": True, "stderr_truncated": False}
    assert type(obs["exit_code"]) is np.int64


@pytest.mark.parametrize("code,expected", [(0, 0), (1, 1), (137, 137), (255, 255), (None, -1), (-9, -1), (300, -1)])
def test_observation_exit_code_is_minus_one_when_there_is_none_in_range(code, expected):
    obs, _ = observation("", "", code, 10)
    assert obs["exit_code"] == expected
    assert obs in observation_space(10)


def test_observations_may_hold_any_character_but_not_more_than_the_limit():
    space = observation_space(8)
    assert {"stdout": "你好\n\t\x00é", "stderr": "", "exit_code": np.int64(0)} in space
    assert {"stdout": "x" * 9, "stderr": "", "exit_code": np.int64(0)} not in space
    assert {"stdout": b"bytes", "stderr": "", "exit_code": np.int64(0)} not in space
    assert not AnyText(4).contains(None)
