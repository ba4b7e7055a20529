"""The typed models must name exactly the fields the CRD schemas declare, so
the SDK and manifests/crds never drift apart."""
import pathlib

import pytest
import yaml

from arl_client.models import (GROUP, VERSION, Condition, SandboxSpec, SandboxStatus, Step, StepStatus, TaskSpec,
                               TaskStatus, WarmPoolSpec, WarmPoolStatus)

CRDS = pathlib.Path(__file__).resolve().parents[5] / "manifests" / "crds"


def schema(plural):
    path = CRDS / f"{GROUP}_{plural}.yaml"
    assert path.is_file(), f"CRD file {path} is missing: the models are checked against manifests/crds"
    crd = yaml.safe_load(path.read_text())
    assert crd["spec"]["group"] == GROUP
    version = next(v for v in crd["spec"]["versions"] if v["name"] == VERSION)
    return version["schema"]["openAPIV3Schema"]["properties"]


def props(node):
    return set((node.get("properties") or {}).keys())


@pytest.mark.parametrize("plural,spec_model,status_model", [
    ("warmpools", WarmPoolSpec, WarmPoolStatus),
    ("sandboxes", SandboxSpec, SandboxStatus),
    ("tasks", TaskSpec, TaskStatus),
])
def test_spec_and_status_fields_match_crd(plural, spec_model, status_model):
    s = schema(plural)
    assert set(spec_model.json_fields()) == props(s["spec"])
    assert set(status_model.json_fields()) == props(s["status"])
    conditions = s["status"]["properties"]["conditions"]["items"]
    assert set(Condition.json_fields()) == props(conditions)


def test_step_and_step_status_fields_match_crd():
    s = schema("tasks")
    assert set(Step.json_fields()) == props(s["spec"]["properties"]["steps"]["items"])
    assert set(StepStatus.json_fields()) == props(s["status"]["properties"]["steps"]["items"])


def test_step_types_and_duration_pattern_match_crd():
    import re
    from arl_client.duration import parse_duration
    from arl_client.models import STEP_TYPES
    s = schema("tasks")
    step = s["spec"]["properties"]["steps"]["items"]["properties"]
    assert tuple(step["type"]["enum"]) == STEP_TYPES
    pattern = re.compile(s["spec"]["properties"]["timeout"]["pattern"])
    for text in ("30s", "2m", "1h30m", "1.5s", "500ms", "3x", "30", "1h 2m"):
        try:
            parse_duration(text)
            ours = True
        except ValueError:
            ours = False
        assert ours == bool(pattern.match(text)), text
