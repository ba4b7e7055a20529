"""Jobs through the KubernetesAdapter on the local cluster's real job
controller; their logs come from the local node through pods/log."""
from conftest import job, run


def test_run_job_returns_its_logs_and_counts(adapter, namespace):
    r = run(adapter.run_job(job("hello", "echo hello from job; echo second line"), namespace=namespace, timeout=60))
    assert r["status"] == "success", r
    assert (r["succeeded"], r["failed"], r["active"]) == (1, 0, 0)
    assert r["logs"] == "hello from job\nsecond line\n"
    assert isinstance(r["duration"], float) and r["duration"] >= 0
    assert "completed" in r["message"]

    again = run(adapter.get_job_logs("hello", namespace=namespace))
    assert again["status"] == "success" and again["logs"] == r["logs"], again
    status = run(adapter.get_resource_status("jobs", "hello", namespace=namespace))
    assert status["finished"] is True and status["succeeded_job"] is True, status


def test_failing_job_reports_failure_with_reasons(adapter, namespace):
    r = run(adapter.run_job(job("boom", "echo about to fail; exit 1"), namespace=namespace, timeout=60))
    assert r["status"] == "error", r
    assert r["reason"] == "BackoffLimitExceeded"
    assert r["failed"] == 1 and r["succeeded"] == 0
    assert any("exit code 1" in why for why in r["failure_reasons"]), r["failure_reasons"]
    assert r["logs"] == "about to fail\n"


def test_run_job_without_waiting_then_wait(adapter, namespace):
    r = run(adapter.run_job(job("later", "sleep 1; echo done"), wait_for_completion=False, namespace=namespace))
    assert r["status"] == "success" and r["job"] == "later", r
    w = run(adapter.wait_for_job_completion("later", timeout=60, namespace=namespace))
    assert w["status"] == "success" and w["succeeded"] == 1, w

    dry = run(adapter.run_job(job("never", "echo no"), namespace=namespace, dry_run=True))
    assert dry["status"] == "success" and dry["dry_run"] is True, dry
    gone = run(adapter.get_resource_status("job", "never", namespace=namespace))
    assert gone["status"] == "error" and gone["reason"] == "NotFound", gone
