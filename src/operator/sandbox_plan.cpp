#include "operator/sandbox_plan.h"

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <tuple>

#include <fmt/format.h>

#include "core/names.h"
#include "operator/pod_builder.h"
#include "operator/pod_state.h"
#include "operator/ttl_plan.h"

namespace arl::op {

using nlohmann::json;
using std::chrono::seconds;

namespace {

void set_ready(core::Sandbox& sb, const std::string& status, const std::string& reason, const std::string& message,
               core::TimePoint now) {
  core::set_condition(sb.status.conditions, {"Ready", status, reason, message, "", sb.metadata.generation}, now);
  sb.status.observed_generation = sb.metadata.generation;
}

void write_if_changed(SandboxPlan& plan, const core::Sandbox& before, const core::Sandbox& after) {
  if (after.status != before.status) plan.status = after.status;
}

// Pending with a condition saying why; the Event only when that changes.
SandboxPlan wait(const core::Sandbox& sb, const std::string& reason, const std::string& message, seconds retry,
                 core::TimePoint now) {
  SandboxPlan plan;
  core::Sandbox next = sb;
  next.status.phase = "Pending";
  set_ready(next, "False", reason, message, now);
  write_if_changed(plan, sb, next);
  if (plan.status) plan.event = EventSpec{"Normal", reason, message};
  plan.requeue_after = retry;
  return plan;
}

void requeue_within(SandboxPlan& plan, std::chrono::milliseconds d) {
  if (plan.requeue_after.count() == 0 || d < plan.requeue_after) plan.requeue_after = d;
}

// The idle TTL counts from the last activity (or the allocation). An earlier
// requeue already in the plan (a rebind's retry) is kept when it is sooner.
void expire_idle(SandboxPlan& plan, const core::Sandbox& sb, const std::string& since, core::TimePoint now) {
  auto d = deadline_after(sb.spec.ttl_seconds_after_finished, since, now);
  if (!d) return;
  if (d->passed) plan.delete_sandbox = true;
  else requeue_within(plan, d->requeue_after);
}

const std::string& idle_since(const core::Sandbox& sb) {
  return sb.status.last_activity_at.empty() ? sb.status.allocated_at : sb.status.last_activity_at;
}

std::string name_of(const json& obj) { return obj.at("metadata").value("name", ""); }

// The sandbox's pod was claimed by another sandbox: its own claim lost the
// race after its status write went out (sandbox_controller.cpp). That pod is
// not ours to delete.
bool held_by_another(const json& pod, const core::Sandbox& sb) {
  const std::string holder = pod_label(pod, labels::kSandbox);
  return !holder.empty() && holder != sb.metadata.name;
}
std::string uid_of(const json& obj) { return obj.at("metadata").value("uid", ""); }


// A sidecar that restarted (sandbox code can kill it: it runs as the
// sidecar's user) comes back unbound: the sandbox's token gets 401 and the
// pool token works again. Bound again once it answers its readiness probe;
// before that a bind would only fail (the pod's Ready event wakes us; the
// requeue is the fallback).
void plan_rebind(SandboxPlan& plan, const SandboxView& view, const std::string& pod_name) {
  const json& pod = *view.pod;
  const int64_t restarts = sidecar_restarts(pod);
  if (restarts == view.sidecar_bound_at) return;
  if (!pod_is_ready(pod) || pod_ip(pod).empty()) {
    requeue_within(plan, std::chrono::seconds(1));
    return;
  }
  plan.rebind = SidecarBind{pod_name, pod_ip(pod), uid_of(pod), restarts};
}

// Oldest first (the pool keeps its oldest ready pods for this), then by name
// so that equal timestamps (seconds precision) still give one order. Keys are
// views into the cached pods: a burst sorts hundreds of candidates per
// reconcile, and copying two strings per comparison showed up there.
std::vector<PodClaim> claims_for(const core::Sandbox& sb, const std::vector<Cache::Obj>& idle) {
  struct Candidate {
    std::string_view created, name;
    const json* pod;
  };
  auto field = [](const json& meta, const char* key) -> std::string_view {
    auto it = meta.find(key);
    return it != meta.end() && it->is_string() ? std::string_view(it->get_ref<const std::string&>()) : std::string_view();
  };
  std::vector<Candidate> candidates;
  for (const auto& p : idle)
    if (pod_label(*p, labels::kWarmPool) == sb.spec.pool_ref && pod_is_idle(*p) && pod_is_ready(*p) && !pod_ip(*p).empty()) {
      const json& meta = p->at("metadata");
      candidates.push_back({field(meta, "creationTimestamp"), field(meta, "name"), p.get()});
    }
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return std::tie(a.created, a.name) < std::tie(b.created, b.name); });
  std::vector<PodClaim> claims;
  claims.reserve(candidates.size());
  for (const auto& c : candidates)
    claims.push_back({std::string(c.name)});
  return claims;
}

SandboxPlan plan_pending(const SandboxView& view, const core::Sandbox& sb, core::TimePoint now) {
  // A pod may already carry our label: the operator restarted between the
  // pod patch and the status write. Adopt it, never allocate twice.
  const json* adopt = nullptr;
  for (const auto& p : view.labelled)
    if (!pod_is_terminating(*p)) adopt = p.get();
  if (adopt) return plan_allocated(view.object, *adopt, now);

  if (!view.pool_exists)
    return wait(sb, "PoolNotFound",
                fmt::format("warmpool \"{}\" does not exist in namespace {}; create it or fix spec.poolRef", sb.spec.pool_ref,
                            sb.metadata.namespace_),
                seconds(5), now);
  SandboxPlan plan = wait(sb, "NoIdlePod",
                          fmt::format("waiting for an idle ready pod in warmpool \"{}\" (scale it up if this persists)", sb.spec.pool_ref),
                          seconds(2), now);  // a pod turning ready also enqueues us
  plan.enqueue_pool = true;
  plan.claims = claims_for(sb, view.idle);
  return plan;
}

}  // namespace

// A label key as a JSON pointer segment (RFC 6901: "/" is written "~1").
std::string label_path(std::string_view key) {
  std::string out = "/metadata/labels/";
  for (char c : key) out += c == '/' ? std::string("~1") : std::string(1, c);
  return out;
}

json claim_patch(const json& sandbox) {
  const std::string name = sandbox.at("metadata").value("name", "");
  return json::array({
      {{"op", "test"}, {"path", label_path(labels::kPodState)}, {"value", std::string(labels::kPodStateReady)}},
      {{"op", "replace"}, {"path", label_path(labels::kPodState)}, {"value", std::string(labels::kPodStateAllocated)}},
      {{"op", "add"}, {"path", label_path(labels::kSandbox)}, {"value", name}},
      {{"op", "add"}, {"path", label_path(labels::kSandboxShort)}, {"value", name}},
      {{"op", "add"}, {"path", "/metadata/ownerReferences"}, {"value", json::array({controller_ref(sandbox)})}},
  });
}

json claim_lost_patch(const json& sandbox, const std::string& pod, core::TimePoint now) {
  core::Sandbox sb = core::sandbox_from_json(sandbox);
  core::Sandbox next = sb;
  next.status.phase = "Pending";
  set_ready(next, "False", "ClaimLost",
            fmt::format("pod {} was taken or deleted while it was being claimed; claiming another", pod), now);
  json status = core::to_json(next.status);
  // A merge patch keeps what it does not name: the allocation's fields are
  // removed by name.
  for (const char* key : {"podName", "podIP", "workDir", "allocatedAt", "lastActivityAt"}) status[key] = nullptr;
  return json{{"status", status}};
}

// Where the sandbox's commands start and its relative file paths land: its
// spec.workingDir (validation keeps it under the workdir), else the workdir.
static std::string work_dir_of(const json& sandbox) {
  const auto spec = sandbox.find("spec");
  const std::string dir = spec != sandbox.end() && spec->is_object() ? spec->value("workingDir", "") : "";
  if (dir.empty()) return std::string(kDefaultWorkDir);
  std::string path = std::filesystem::path(dir.front() == '/' ? dir : std::string(kDefaultWorkDir) + "/" + dir).lexically_normal();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

SandboxPlan plan_allocated(const json& sandbox, const json& pod, core::TimePoint now) {
  core::Sandbox sb = core::sandbox_from_json(sandbox);
  core::Sandbox next = sb;
  next.status.phase = "Ready";
  next.status.pod_name = name_of(pod);
  next.status.pod_ip = pod_ip(pod);
  next.status.work_dir = work_dir_of(sandbox);
  next.status.allocated_at = core::format_rfc3339(now);
  next.status.last_activity_at = next.status.allocated_at;
  set_ready(next, "True", "Allocated", "pod " + next.status.pod_name, now);
  SandboxPlan plan;
  plan.bind = SidecarBind{next.status.pod_name, next.status.pod_ip, uid_of(pod), sidecar_restarts(pod)};
  plan.status = next.status;
  plan.allocated = true;
  plan.enqueue_pool = true;
  plan.wake_tasks = true;
  expire_idle(plan, sb, next.status.allocated_at, now);
  return plan;
}

SandboxPlan plan_allocation_failed(const json& sandbox, const std::string& reason, const std::string& message,
                                 core::TimePoint now) {
  core::Sandbox sb = core::sandbox_from_json(sandbox);
  core::Sandbox next = sb;
  next.status.phase = "Failed";
  set_ready(next, "False", reason, message, now);
  SandboxPlan plan;
  write_if_changed(plan, sb, next);
  plan.event = EventSpec{"Warning", reason, message};
  plan.wake_tasks = true;
  expire_idle(plan, sb, core::format_rfc3339(now), now);
  return plan;
}

core::SandboxStatus status_after_run(const core::Sandbox& sb, core::SandboxStatus after, const std::string& last_activity,
                                     core::TimePoint now) {
  after.last_activity_at = last_activity;
  if (sb.spec.keep_alive) {
    after.phase = "Ready";
  } else {
    after.phase = "Released";  // released after its first task; its pod is never reused
    core::set_condition(after.conditions,
                        {"Ready", "False", "Released", "released after its first task (keepAlive=false)", "", sb.metadata.generation}, now);
  }
  return after;
}

SandboxPlan plan_sandbox(const SandboxView& view, core::TimePoint now) {
  SandboxPlan plan;
  if (pod_is_terminating(view.object)) return plan;
  core::Sandbox sb = core::sandbox_from_json(view.object);
  const std::string& phase = sb.status.phase;

  if (phase == "Released" || phase == "Failed") {
    // Never returned dirty to the pool: its pod goes.
    if (!sb.status.pod_name.empty() && view.pod && !pod_is_terminating(*view.pod) && !held_by_another(*view.pod, sb))
      plan.delete_pod = sb.status.pod_name;
    expire_idle(plan, sb, idle_since(sb), now);
    return plan;
  }
  if (sb.status.pod_name.empty()) return plan_pending(view, sb, now);

  // Ready or Bound: watch over the pod and the idle TTL.
  if (!view.pod || pod_is_terminating(*view.pod) || pod_has_failed(*view.pod) || held_by_another(*view.pod, sb)) {
    core::Sandbox next = sb;
    next.status.phase = "Failed";
    std::string msg = fmt::format("pod {} of sandbox {} is gone or failed", sb.status.pod_name, sb.metadata.name);
    set_ready(next, "False", "PodLost", msg, now);
    write_if_changed(plan, sb, next);
    plan.wake_tasks = plan.status.has_value();
    plan.event = EventSpec{"Warning", "PodLost", msg};
    return plan;
  }
  if (pod_is_idle(*view.pod)) plan.reclaim = PodClaim{sb.status.pod_name};
  plan_rebind(plan, view, sb.status.pod_name);
  if (phase == "Bound" && !view.run_in_progress) {
    // Bound with no run anywhere: the operator that ran its last task died
    // between the task's outcome write and the sandbox's. Take it back as
    // that run would have (task_execution.cpp end_run), or it stays Bound,
    // where no idle TTL fires.
    plan.status = status_after_run(sb, sb.status, core::format_rfc3339(now), now);
    if (!sb.spec.keep_alive) {
      plan.delete_pod = sb.status.pod_name;
      plan.rebind.reset();  // it goes
    }
    plan.wake_tasks = true;
    return plan;
  }
  if (phase == "Ready" && !view.run_in_progress) {  // the run's end wakes us
    expire_idle(plan, sb, idle_since(sb), now);
    if (plan.delete_sandbox) plan.rebind.reset();
  }
  return plan;
}

}  // namespace arl::op
