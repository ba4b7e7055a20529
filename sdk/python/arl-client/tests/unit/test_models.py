from arl_client.models import Sandbox, Step, Task, TaskStatus, WarmPool, pool_template

TASK = {
    "apiVersion": "arl.infra.io/v1alpha1", "kind": "Task",
    "metadata": {"name": "t1", "namespace": "default", "resourceVersion": "7"},
    "spec": {"sandboxRef": "s1", "timeout": "30s", "steps": [
        {"name": "w", "type": "FilePatch", "path": "a.py", "content": "print(1)"},
        {"name": "r", "type": "Command", "command": ["python", "a.py"], "workDir": "/workspace"}]},
    "status": {"state": "Failed", "exitCode": 0, "stdout": "1\n", "message": "step r failed",
               "steps": [{"name": "r", "state": "Failed", "exitCode": 3, "pid": 12}],
               "conditions": [{"type": "Complete", "status": "True", "reason": "StepFailed"}],
               "stdoutTruncated": True},
}


def test_task_parses_into_typed_fields():
    t = Task.from_dict(TASK)
    assert t.name == "t1" and t.namespace == "default"
    assert t.spec.sandbox_ref == "s1"
    assert t.spec.steps[1].command == ["python", "a.py"]
    assert t.spec.steps[1].work_dir == "/workspace"
    assert t.status.state == "Failed"
    assert t.status.exit_code == 0
    assert t.status.steps[0].exit_code == 3 and t.status.steps[0].pid == 12
    assert t.status.conditions[0].reason == "StepFailed"


def test_round_trip_keeps_unknown_fields():
    assert Task.from_dict(TASK).to_dict() == TASK


def test_models_build_objects():
    sb = Sandbox.from_dict({"metadata": {"name": "s"}, "spec": {"poolRef": "p", "keepAlive": True}})
    assert sb.to_dict() == {"apiVersion": "arl.infra.io/v1alpha1", "kind": "Sandbox",
                            "metadata": {"name": "s"}, "spec": {"poolRef": "p", "keepAlive": True}}
    pool = WarmPool.from_dict({"metadata": {"name": "p"},
                               "spec": {"replicas": 2, "template": pool_template("python:3.12-slim")},
                               "status": {"readyReplicas": 2, "allocatedReplicas": 1}})
    assert pool.spec.template == {"spec": {"containers": [{"name": "executor", "image": "python:3.12-slim"}]}}
    assert pool.status.ready_replicas == 2 and pool.status.allocated_replicas == 1


def test_step_helpers_and_zero_exit_code_survive():
    assert Step.run("a", ["ls"], env={"X": "1"}).to_dict() == {"name": "a", "type": "Command", "command": ["ls"],
                                                               "env": {"X": "1"}}
    assert TaskStatus.from_dict({"exitCode": 0}).to_dict() == {"exitCode": 0}
