"""The KubernetesAdapter's pure decisions, as tables."""
import pytest

from arl_client import k8s_adapter_rollout as ro


def dep(gen=2, observed=2, desired=3, current=3, updated=3, ready=3, available=3, conditions=(), revision="2",
        template=None, paused=False):
    return {"metadata": {"name": "web", "uid": "d1", "generation": gen, "annotations": {ro.REVISION: revision}},
            "spec": {"replicas": desired, "paused": paused,
                     "template": template or {"metadata": {"labels": {"app": "web"}},
                                              "spec": {"containers": [{"image": "v2"}]}}},
            "status": {"observedGeneration": observed, "replicas": current, "updatedReplicas": updated,
                       "readyReplicas": ready, "availableReplicas": available, "conditions": list(conditions)}}


@pytest.mark.parametrize("d, require_ready, done, message", [
    (dep(), False, True, 'deployment "web" successfully rolled out'),
    (dep(gen=3), False, False, 'Waiting for deployment "web" spec update to be observed'),
    (dep(updated=1), False, False, 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated'),
    (dep(current=4), False, False, 'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination'),
    (dep(available=2), False, False, 'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available'),
    # kubectl calls an observed scale-down done; a scale waits for the count it asked for.
    (dep(desired=1, current=3, updated=3), False, True, 'deployment "web" successfully rolled out'),
    (dep(desired=1, current=3, updated=3), True, False, 'Waiting for deployment "web": 3 of 1 replicas are ready, 3 exist'),
    (dep(ready=2), True, False, 'Waiting for deployment "web": 2 of 3 replicas are ready, 3 exist'),
    (dep(), True, True, 'deployment "web" successfully rolled out'),
])
def test_rollout_state_follows_kubectl_rollout_status(d, require_ready, done, message):
    s = ro.rollout_state(d, require_ready)
    assert (s.done, s.failed, s.message) == (done, False, message)


def test_progress_deadline_exceeded_is_a_failed_rollout():
    s = ro.rollout_state(dep(updated=1, conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]))
    assert (s.done, s.failed, s.message) == (False, True, 'deployment "web" exceeded its progress deadline')


def rs(rev, image, owner="d1", extra_annotations=None):
    ann = {ro.REVISION: str(rev), **(extra_annotations or {})}
    return {"metadata": {"name": f"web-{rev}", "annotations": ann,
                         "ownerReferences": [{"uid": owner, "controller": True, "kind": "Deployment"}]},
            "spec": {"template": {"metadata": {"labels": {"app": "web", ro.POD_TEMPLATE_HASH: f"h{rev}"}},
                                  "spec": {"containers": [{"image": image}]}}}}


def tmpl(image):
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"image": image}]}}


def test_rollback_to_previous_takes_the_newest_older_revision_without_its_hash_label():
    d = dep(revision="3", template=tmpl("v3"))
    plan = ro.plan_rollback(d, [rs(1, "v1"), rs(2, "v2", extra_annotations={"team": "a"}), rs(3, "v3"),
                                rs(9, "other", owner="x")], None)
    assert (plan.from_revision, plan.to_revision, plan.error, plan.skipped) == (3, 2, None, False)
    assert plan.patch == [{"op": "replace", "path": "/spec/template", "value": tmpl("v2")},
                          {"op": "add", "path": "/metadata/annotations", "value": {ro.REVISION: "3", "team": "a"}}]
    assert plan.message == 'deployment "web" rolled back from revision 3 to 2'


@pytest.mark.parametrize("to, sets, want", [
    (1, [rs(1, "v1"), rs(2, "v2"), rs(3, "v3")], dict(to_revision=1, error=None, skipped=False)),
    (7, [rs(1, "v1"), rs(3, "v3")],
     dict(to_revision=7, reason="RevisionNotFound",
          error='deployment "web": unable to find specified revision 7 in history (revisions: 1, 3)')),
    (None, [rs(3, "v3")], dict(to_revision=None, reason="NoRolloutHistory",
                               error='deployment "web": no rollout history found: only revision 3 exists')),
    (3, [rs(1, "v1"), rs(3, "v3")], dict(to_revision=3, error=None, skipped=True)),
])
def test_rollback_targets(to, sets, want):
    plan = ro.plan_rollback(dep(revision="3", template=tmpl("v3")), sets, to)
    for k, v in want.items():
        assert getattr(plan, k) == v, k
    if want.get("skipped"):
        assert plan.patch is None and plan.message == "skipped rollback (current template already matches revision 3)"


def test_paused_deployment_is_not_rolled_back():
    plan = ro.plan_rollback(dep(paused=True), [rs(1, "v1"), rs(2, "v2")], None)
    assert plan.error == 'deployment "web" is paused: resume it before rolling back'
    assert plan.reason == "DeploymentPaused"


@pytest.mark.parametrize("status, finished, succeeded, reason", [
    ({}, False, False, ""),
    ({"active": 1}, False, False, ""),
    ({"succeeded": 1, "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                     {"type": "Complete", "status": "True"}]}, True, True, "Completed"),
    ({"failed": 1, "conditions": [{"type": "FailureTarget", "status": "True"},
                                  {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                   "message": "Job has reached the specified backoff limit"}]},
     True, False, "BackoffLimitExceeded"),
    ({"conditions": [{"type": "Failed", "status": "False"}]}, False, False, ""),
])
def test_job_state_by_conditions(status, finished, succeeded, reason):
    s = ro.job_state({"status": status})
    assert (s.finished, s.succeeded, s.reason) == (finished, succeeded, reason)
    assert set(s.counts) == {"active", "succeeded", "failed", "ready"}


def test_pod_failures_name_exit_codes_and_waiting_reasons():
    pod = {"metadata": {"name": "p"}, "status": {"phase": "Failed", "containerStatuses": [
        {"name": "main", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}},
        {"name": "side", "state": {"waiting": {"reason": "LocalNodeNeedsCommand", "message": "no command"}}}]}}
    assert ro.pod_failures(pod) == ["pod p container main: exit code 1 (Error)",
                                    "pod p container side: LocalNodeNeedsCommand: no command"]
    assert ro.pod_failures({"metadata": {"name": "q"}, "status": {"phase": "Failed", "reason": "Evicted"}}) == \
        ["pod q: Evicted"]


def test_parse_manifests_accepts_dicts_lists_yaml_and_list_kinds():
    one = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    assert ro.parse_manifests(one) == [one]
    assert ro.parse_manifests([one, one]) == [one, one]
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n" \
           "- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n"
    assert [o["kind"] for o in ro.parse_manifests(text)] == ["ConfigMap", "Secret"]
    copied = ro.parse_manifests(one)[0]
    copied["metadata"]["namespace"] = "x"
    assert "namespace" not in one["metadata"]  # the caller's dict is never changed


def test_parse_manifests_reports_every_problem_at_once():
    with pytest.raises(ValueError) as e:
        ro.parse_manifests([{"metadata": {"name": "a"}}, {"apiVersion": "v1", "kind": "Pod"}, "text"])
    assert str(e.value) == ("manifest document 0 (a): apiVersion is required; manifest document 0 (a): kind is "
                            "required; manifest document 1: metadata.name is required (server-side apply cannot "
                            "use generateName); manifest document 2: expected a mapping, got str")
    with pytest.raises(ValueError, match="no objects"):
        ro.parse_manifests("")
    with pytest.raises(ValueError, match="not valid YAML"):
        ro.parse_manifests("a: [")


@pytest.mark.parametrize("before, after, dry_run, want", [
    (None, {"metadata": {"resourceVersion": "1"}}, False, "created"),
    (None, {"metadata": {}}, True, "created"),
    ({"metadata": {"resourceVersion": "5"}, "spec": {"a": 1}}, {"metadata": {"resourceVersion": "5"}, "spec": {"a": 1}},
     False, "unchanged"),
    ({"metadata": {"resourceVersion": "5"}, "spec": {"a": 1}}, {"metadata": {"resourceVersion": "6"}, "spec": {"a": 2}},
     False, "configured"),
    # Only a controller's status write moved the resourceVersion: still unchanged.
    ({"metadata": {"resourceVersion": "5"}, "spec": {"a": 1}, "status": {"x": 1}},
     {"metadata": {"resourceVersion": "6"}, "spec": {"a": 1}, "status": {"x": 2}}, False, "unchanged"),
    ({"metadata": {"resourceVersion": "5", "managedFields": [1]}, "spec": {"a": 1}},
     {"metadata": {"resourceVersion": "5", "managedFields": [2]}, "spec": {"a": 1}}, True, "unchanged"),
    ({"metadata": {"resourceVersion": "5", "labels": {"a": "b"}}}, {"metadata": {"resourceVersion": "5"}}, True,
     "configured"),
])
def test_apply_action_as_kubectl_prints_it(before, after, dry_run, want):
    assert ro.apply_action(before, after, dry_run) == want
