import pytest

from arl_client.errors import ValidationError
from arl_client.models import Step
from arl_client.validation import (step_problems, validate_pool, validate_sandbox, validate_steps,
                                   validate_task)

GOOD = [
    {"name": "write", "type": "FilePatch", "path": "/workspace/hello.py", "content": "print(1)"},
    {"name": "run", "type": "Command", "command": ["python", "/workspace/hello.py"], "env": {"A": "1"},
     "workDir": "/workspace", "background": False},
]


def test_valid_steps_pass_and_come_back_as_dicts():
    assert validate_steps(GOOD) == GOOD
    assert validate_steps([Step.run("a", ["ls"]), Step.file("b", "x.txt", "hi")]) == [
        {"name": "a", "type": "Command", "command": ["ls"]},
        {"name": "b", "type": "FilePatch", "path": "x.txt", "content": "hi"},
    ]


def test_every_problem_is_reported_in_one_error():
    with pytest.raises(ValidationError) as ei:
        validate_steps([
            {"name": "a", "type": "Command"},
            {"name": "a", "type": "FilePatch", "content": "x"},
            {"type": "Shell", "command": ["ls"]},
        ])
    assert ei.value.problems == [
        "spec.steps[0].command: required for type Command",
        'spec.steps[1].name: duplicate step name "a"',
        "spec.steps[1].path: required for type FilePatch",
        "spec.steps[2].name: required",
        'spec.steps[2].type: unknown step type "Shell": use Command or FilePatch',
    ]
    assert str(ei.value).startswith("task: spec.steps[0].command: required for type Command; ")
    assert isinstance(ei.value, ValueError)


@pytest.mark.parametrize("step,problem", [
    ({"name": "a", "type": "Command", "command": []}, "spec.steps[0].command: required for type Command"),
    ({"name": "a", "type": "Command", "command": ["", "x"]}, "spec.steps[0].command[0]: must not be empty"),
    ({"name": "a", "type": "Command", "command": "ls -l"},
     'spec.steps[0].command: must be a list of strings, e.g. ["python", "app.py"]'),
    ({"name": "a", "type": "Command", "command": ["ls", 3]}, "spec.steps[0].command: every element must be a string"),
    ({"name": "a", "command": ["ls"]}, "spec.steps[0].type: required: Command or FilePatch"),
    ({"name": "a", "type": "Command", "command": ["ls"], "env": {"A": 1}},
     "spec.steps[0].env['A']: names and values must be strings"),
    ({"name": "a", "type": "Command", "command": ["ls"], "background": "yes"},
     "spec.steps[0].background: must be true or false"),
    ({"name": "a", "type": "Command", "command": ["ls"], "cmd": ["ls"]},
     "spec.steps[0].cmd: unknown field (step fields: background, command, content, env, name, path, type, workDir)"),
    ({"name": "a", "type": "Command", "command": ["ls"], "path": "x"}, "spec.steps[0].path: only allowed for type FilePatch"),
    ({"name": "a", "type": "FilePatch", "path": "p", "command": ["ls"]},
     "spec.steps[0].command: only allowed for type Command"),
    ({"name": "a", "type": "FilePatch", "path": "p", "background": True},
     "spec.steps[0].background: only allowed for type Command"),
    ({"name": "a", "type": "FilePatch", "path": "p", "content": 5}, "spec.steps[0].content: must be a string"),
    ({"name": "a", "type": "FilePatch", "path": "dir/"}, 'spec.steps[0].path: "dir/" names a directory; give a file path'),
    ({"name": "a", "type": "FilePatch", "path": "a/../../etc/x"},
     'spec.steps[0].path: relative path "a/../../etc/x" escapes the workspace; use an absolute path to write '
     'outside /workspace'),
    ({"name": "", "type": "Command", "command": ["ls"]}, "spec.steps[0].name: required"),
    ({"name": "n" * 64, "type": "Command", "command": ["ls"]}, "spec.steps[0].name: must be at most 63 characters"),
])
def test_single_step_rules(step, problem):
    assert step_problems([step]) == [problem]


def test_steps_must_be_a_non_empty_list():
    assert step_problems([]) == ["spec.steps: at least one step is required"]
    assert step_problems("ls") == ["spec.steps: must be a list of steps"]
    assert step_problems(None) == ["spec.steps: must be a list of steps"]
    assert step_problems(["ls"]) == ["spec.steps[0]: must be an object with name and type"]


def test_task_checks_sandbox_ref_timeout_and_counts():
    with pytest.raises(ValidationError) as ei:
        validate_task({"metadata": {"name": "t1", "namespace": "default"},
                       "spec": {"timeout": "soon", "retries": -1, "steps": GOOD}})
    assert str(ei.value) == (
        "task default/t1: spec.sandboxRef: required: the name of a Sandbox in the same namespace; "
        'spec.timeout: invalid duration "soon" (use e.g. 30s, 2m, 1h30m, 500ms); '
        "spec.retries: must be >= 0, got -1")
    validate_task({"metadata": {"name": "t1"}, "spec": {"sandboxRef": "s", "timeout": "2m", "steps": GOOD}})


def test_object_names_must_be_dns_subdomains():
    with pytest.raises(ValidationError, match=r'metadata.name: "Bad_Name" is not a valid name: use lower-case'):
        validate_sandbox({"metadata": {"name": "Bad_Name"}, "spec": {"poolRef": "p"}})
    validate_sandbox({"metadata": {"generateName": "p-"}, "spec": {"poolRef": "p"}})


def test_sandbox_and_pool_rules():
    with pytest.raises(ValidationError) as ei:
        validate_sandbox({"metadata": {"name": "s"}, "spec": {"keepAlive": "yes", "ttlSecondsAfterFinished": -5}})
    assert ei.value.problems == ["spec.poolRef: required: the name of a WarmPool in the same namespace",
                                 "spec.keepAlive: must be true or false",
                                 "spec.ttlSecondsAfterFinished: must be >= 0, got -5"]
    with pytest.raises(ValidationError) as ei:
        validate_pool({"metadata": {"name": "p"}, "spec": {"replicas": -1, "template": {"spec": {"containers": []}}}})
    assert ei.value.problems == ["spec.replicas: must be >= 0, got -1",
                                 "spec.template.spec.containers: at least one container is required"]
    with pytest.raises(ValidationError) as ei:
        validate_pool({"metadata": {"name": "p" * 64}, "spec": {"replicas": 1,
                                                              "template": {"spec": {"containers": [{"name": "c"}]}}}})
    assert ei.value.problems == [
        "metadata.name: must be at most 63 characters (it is used as a label value on the pool's pods)",
        "spec.template.spec.containers[0].image: required"]
    with pytest.raises(ValidationError, match="spec.replicas: required; spec.template: required"):
        validate_pool({"metadata": {"name": "p"}, "spec": {}})
