"""Pure decisions of the KubernetesAdapter: what a manifest is, whether a
rollout or a Job is done (with kubectl's rules and words), which ReplicaSet a
rollback returns to. No I/O here, so every rule is a table test
(tests/unit/test_k8s_adapter_rollout.py).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

import yaml

REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
POD_TEMPLATE_HASH = "pod-template-hash"
# Annotations the deployment controller or kubectl own: a rollback never copies them
# from the ReplicaSet onto the Deployment (kubectl's annotationsToSkip).
ROLLBACK_SKIPPED_ANNOTATIONS = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}


def parse_manifests(manifest: Union[Dict[str, Any], List[Dict[str, Any]], str]) -> List[Dict[str, Any]]:
    """Objects of one manifest, a list of them or a YAML string of one or many documents;
    `kind: List` is unpacked. Raises ValueError naming every document that lacks apiVersion,
    kind or metadata.name: those are the caller's mistakes, not the cluster's."""
    if isinstance(manifest, str):
        try:
            docs = [d for d in yaml.safe_load_all(manifest) if d is not None]
        except yaml.YAMLError as e:
            raise ValueError(f"manifest: not valid YAML: {e}") from None
    elif isinstance(manifest, dict):
        docs = [manifest]
    elif isinstance(manifest, (list, tuple)):
        docs = list(manifest)
    else:
        raise ValueError(f"manifest: expected a dict, a list of dicts or a YAML string, got {type(manifest).__name__}")
    objects: List[Dict[str, Any]] = []
    for d in docs:
        if isinstance(d, dict) and str(d.get("kind", "")).endswith("List") and isinstance(d.get("items"), list):
            objects.extend(d["items"])
        else:
            objects.append(d)
    if not objects:
        raise ValueError("manifest: no objects in it")
    problems = []
    for i, obj in enumerate(objects):
        where = f"manifest document {i}"
        if not isinstance(obj, dict):
            problems.append(f"{where}: expected a mapping, got {type(obj).__name__}")
            continue
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        if meta.get("name"):
            where += f" ({meta['name']})"
        for key in ("apiVersion", "kind"):
            if not obj.get(key):
                problems.append(f"{where}: {key} is required")
        if not meta.get("name"):
            problems.append(f"{where}: metadata.name is required (server-side apply cannot use generateName)")
    if problems:
        raise ValueError("; ".join(problems))
    return [copy.deepcopy(o) for o in objects]


def apply_action(before: Optional[Dict[str, Any]], after: Dict[str, Any], dry_run: bool) -> str:
    """created, configured or unchanged, as kubectl apply prints it. A real write that
    changed nothing keeps the resourceVersion; a dry run never moves it, so otherwise the
    objects themselves are compared (status and managedFields aside)."""
    if before is None:
        return "created"
    if not dry_run and before.get("metadata", {}).get("resourceVersion") == \
            after.get("metadata", {}).get("resourceVersion"):
        return "unchanged"
    # A controller's status write between our read and our apply also moves the
    # resourceVersion: only a change outside status counts.
    return "unchanged" if _comparable(before) == _comparable(after) else "configured"


def _comparable(obj: Dict[str, Any]) -> Dict[str, Any]:
    o = copy.deepcopy(obj)
    meta = o.get("metadata", {})
    for k in ("managedFields", "resourceVersion", "generation"):
        meta.pop(k, None)
    o.pop("status", None)
    return o


@dataclass
class Replicas:
    desired: int = 0
    current: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    unavailable: int = 0

    def as_dict(self) -> Dict[str, int]:
        return dict(self.__dict__)


def replicas_of(deployment: Dict[str, Any]) -> Replicas:
    spec, st = deployment.get("spec", {}), deployment.get("status", {}) or {}
    return Replicas(desired=int(spec.get("replicas", 1)), current=int(st.get("replicas", 0) or 0),
                    updated=int(st.get("updatedReplicas", 0) or 0), ready=int(st.get("readyReplicas", 0) or 0),
                    available=int(st.get("availableReplicas", 0) or 0),
                    unavailable=int(st.get("unavailableReplicas", 0) or 0))


@dataclass
class RolloutState:
    done: bool
    failed: bool
    message: str  # kubectl's words: what the rollout still waits for, or why it failed


def rollout_state(deployment: Dict[str, Any], require_ready: bool = False) -> RolloutState:
    """kubectl rollout status's rule (observedGeneration, then updated, old and available
    replicas); `require_ready` also waits for readyReplicas, which scale reports."""
    meta, st = deployment.get("metadata", {}), deployment.get("status", {}) or {}
    name = meta.get("name", "")
    if int(meta.get("generation", 0)) > int(st.get("observedGeneration", 0) or 0):
        return RolloutState(False, False, f'Waiting for deployment "{name}" spec update to be observed')
    for c in st.get("conditions", []) or []:
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            return RolloutState(False, True, f'deployment "{name}" exceeded its progress deadline')
    r = replicas_of(deployment)
    if r.updated < r.desired:
        return RolloutState(False, False, f'Waiting for deployment "{name}" rollout to finish: '
                                          f'{r.updated} out of {r.desired} new replicas have been updated')
    if r.current > r.updated:
        return RolloutState(False, False, f'Waiting for deployment "{name}" rollout to finish: '
                                          f'{r.current - r.updated} old replicas are pending termination')
    if r.available < r.updated:
        return RolloutState(False, False, f'Waiting for deployment "{name}" rollout to finish: '
                                          f'{r.available} of {r.updated} updated replicas are available')
    if require_ready and (r.ready < r.desired or r.current != r.desired):
        # A scale-down is "rolled out" for kubectl as soon as it is observed; an agent that
        # scaled wants the replica count it asked for.
        return RolloutState(False, False, f'Waiting for deployment "{name}": {r.ready} of {r.desired} replicas '
                                          f'are ready, {r.current} exist')
    return RolloutState(True, False, f'deployment "{name}" successfully rolled out')


def revision_of(obj: Dict[str, Any]) -> Optional[int]:
    try:
        return int((obj.get("metadata", {}).get("annotations") or {}).get(REVISION, ""))
    except ValueError:
        return None


def owned_by(obj: Dict[str, Any], owner_uid: str) -> bool:
    return any(r.get("uid") == owner_uid and r.get("controller")
               for r in obj.get("metadata", {}).get("ownerReferences", []) or [])


def controller_of(obj: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    for r in obj.get("metadata", {}).get("ownerReferences", []) or []:
        if r.get("controller"):
            return r
    return None


def template_without_hash(template: Dict[str, Any]) -> Dict[str, Any]:
    t = copy.deepcopy(template)
    labels = t.get("metadata", {}).get("labels")
    if labels:
        labels.pop(POD_TEMPLATE_HASH, None)
    return t


@dataclass
class RollbackPlan:
    from_revision: Optional[int]
    to_revision: Optional[int]
    patch: Optional[List[Dict[str, Any]]] = None  # JSON patch for the Deployment; None: nothing to do
    error: Optional[str] = None                  # the rollback is impossible: why
    reason: str = ""                             # ... as a CamelCase reason for the result
    skipped: bool = False                        # the target's template is already the current one
    message: str = ""


def plan_rollback(deployment: Dict[str, Any], replica_sets: List[Dict[str, Any]],
                  to_revision: Optional[int]) -> RollbackPlan:
    """kubectl rollout undo [--to-revision]: the ReplicaSet of that revision (default: the
    newest one older than the current revision) gives its template back to the Deployment."""
    uid = deployment.get("metadata", {}).get("uid", "")
    name = deployment.get("metadata", {}).get("name", "")
    if deployment.get("spec", {}).get("paused"):
        return RollbackPlan(revision_of(deployment), to_revision,
                            error=f'deployment "{name}" is paused: resume it before rolling back',
                            reason="DeploymentPaused")
    owned = [(revision_of(rs), rs) for rs in replica_sets if owned_by(rs, uid)]
    owned = [(rev, rs) for rev, rs in owned if rev is not None]
    current = revision_of(deployment) or max((rev for rev, _ in owned), default=None)
    if to_revision in (None, 0):
        older = sorted((pair for pair in owned if pair[0] != current), key=lambda p: p[0])
        if not older:
            return RollbackPlan(current, None, error=f'deployment "{name}": no rollout history found: '
                                                     f'only revision {current} exists', reason="NoRolloutHistory")
        target_rev, target = older[-1]
    else:
        match = [pair for pair in owned if pair[0] == to_revision]
        if not match:
            have = ", ".join(str(r) for r in sorted(rev for rev, _ in owned)) or "none"
            return RollbackPlan(current, to_revision, error=f'deployment "{name}": unable to find specified '
                                                            f'revision {to_revision} in history (revisions: {have})',
                                reason="RevisionNotFound")
        target_rev, target = match[0]
    template = template_without_hash(target.get("spec", {}).get("template", {}))
    if template == template_without_hash(deployment.get("spec", {}).get("template", {})):
        return RollbackPlan(current, target_rev, skipped=True,
                            message=f'skipped rollback (current template already matches revision {target_rev})')
    annotations = dict(deployment.get("metadata", {}).get("annotations") or {})
    for k, v in (target.get("metadata", {}).get("annotations") or {}).items():
        if k not in ROLLBACK_SKIPPED_ANNOTATIONS:
            annotations[k] = v
    patch = [{"op": "replace", "path": "/spec/template", "value": template},
             {"op": "add", "path": "/metadata/annotations", "value": annotations}]
    return RollbackPlan(current, target_rev, patch=patch,
                        message=f'deployment "{name}" rolled back from revision {current} to {target_rev}')


@dataclass
class JobState:
    finished: bool
    succeeded: bool
    reason: str = ""
    message: str = ""
    counts: Dict[str, int] = field(default_factory=dict)


def job_state(job: Dict[str, Any]) -> JobState:
    """Complete or Failed by the Job's conditions (set by the job controller once its
    pods are accounted for), with the counts an agent reads."""
    st = job.get("status", {}) or {}
    counts = {"active": int(st.get("active", 0) or 0), "succeeded": int(st.get("succeeded", 0) or 0),
              "failed": int(st.get("failed", 0) or 0), "ready": int(st.get("ready", 0) or 0)}
    for c in st.get("conditions", []) or []:
        if c.get("status") != "True":
            continue
        if c.get("type") == "Complete":
            return JobState(True, True, c.get("reason", "Completed") or "Completed", c.get("message", ""), counts)
        if c.get("type") == "Failed":
            return JobState(True, False, c.get("reason", "Failed") or "Failed", c.get("message", ""), counts)
    return JobState(False, False, "", "", counts)


def pod_failures(pod: Dict[str, Any]) -> List[str]:
    """Why a Job's pod failed, from its containers' terminated or waiting states."""
    out = []
    name = pod.get("metadata", {}).get("name", "")
    st = pod.get("status", {}) or {}
    for cs in st.get("containerStatuses", []) or []:
        state = cs.get("state", {}) or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode", 0) != 0:
            out.append(f'pod {name} container {cs.get("name")}: exit code {term.get("exitCode")} '
                       f'({term.get("reason", "Error")})')
        elif wait and wait.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            out.append(f'pod {name} container {cs.get("name")}: {wait.get("reason")}: {wait.get("message", "")}'.rstrip(": "))
    if not out and st.get("phase") == "Failed":
        out.append(f'pod {name}: {st.get("reason", "Failed")}: {st.get("message", "")}'.rstrip(": "))
    return out


def pod_ready(pod: Dict[str, Any]) -> bool:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    for c in (pod.get("status", {}) or {}).get("conditions", []) or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def pod_template_hash_of(obj: Dict[str, Any]) -> str:
    return (obj.get("metadata", {}).get("labels") or {}).get(POD_TEMPLATE_HASH, "")


def newest_replica_set(deployment: Dict[str, Any], replica_sets: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The ReplicaSet whose template is the Deployment's (the controller's "new" one)."""
    uid = deployment.get("metadata", {}).get("uid", "")
    want = template_without_hash(deployment.get("spec", {}).get("template", {}))
    for rs in replica_sets:
        if owned_by(rs, uid) and template_without_hash(rs.get("spec", {}).get("template", {})) == want:
            return rs
    return None


def selector_string(match_labels: Dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))

