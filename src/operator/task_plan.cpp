#include "operator/task_plan.h"

#include <tuple>

#include <fmt/format.h>

#include "operator/pod_state.h"
#include "operator/ttl_plan.h"

namespace arl::op {

using nlohmann::json;

namespace {

bool terminal(const std::string& state) { return state == "Succeeded" || state == "Failed"; }

TaskPlan fail(const core::Task& t, const std::string& reason, const std::string& message, core::TimePoint now) {
  TaskPlan plan;
  plan.status = failed_status(t, reason, message, now);
  plan.event = EventSpec{"Warning", reason, message};
  return plan;
}

}  // namespace

std::optional<core::TaskStatus> waiting_status(const core::Task& t, const std::string& reason, const std::string& message) {
  if ((t.status.state.empty() || t.status.state == "Pending") && t.status.reason == reason && t.status.message == message)
    return std::nullopt;
  core::TaskStatus st = t.status;
  st.state = "Pending";
  st.reason = reason;
  st.message = message;
  st.observed_generation = t.metadata.generation;
  return st;
}

core::TaskStatus failed_status(const core::Task& t, const std::string& reason, const std::string& message, core::TimePoint now) {
  core::TaskStatus st = t.status;
  st.state = "Failed";
  st.reason = reason;
  st.message = message;
  if (st.started_at.empty()) st.started_at = core::format_rfc3339(now);
  st.completed_at = core::format_rfc3339(now);
  core::set_condition(st.conditions, {"Complete", "True", reason, message, "", t.metadata.generation}, now);
  st.observed_generation = t.metadata.generation;
  return st;
}

TaskPlan plan_task(const TaskView& view, std::chrono::seconds missing_sandbox_grace, core::TimePoint now) {
  TaskPlan plan;
  if (pod_is_terminating(view.object)) return plan;
  core::Task t = core::task_from_json(view.object);

  if (terminal(t.status.state)) {
    if (auto d = deadline_after(t.spec.ttl_seconds_after_finished, t.status.completed_at, now)) {
      plan.delete_task = d->passed;
      plan.requeue_after = d->requeue_after;
    }
    return plan;
  }
  if (view.sandbox_busy) {  // running here, or queued behind the running one
    if (!view.self_running && (t.status.state.empty() || t.status.state == "Pending"))
      plan.status = waiting_status(t, "WaitingForTask", fmt::format("another task of sandbox \"{}\" is running", t.spec.sandbox_ref));
    return plan;
  }

  // Found Running with no execution in this process: the operator restarted
  // mid-task. Steps may have had side effects, so the outcome is unknown:
  // with retries left the task runs again from its first step (counted as
  // an attempt); without, it fails with reason OperatorRestarted.
  if (t.status.state == "Running" && t.status.attempts > t.spec.retries)
    return fail(t, "OperatorRestarted", "the operator restarted while this task was running; its outcome is unknown", now);

  if (!view.sandbox || pod_is_terminating(*view.sandbox)) {
    // A sandbox created together with its task may not be cached yet: wait
    // out the grace period before calling it missing.
    std::string created = t.metadata.creation_timestamp;
    if (!core::parse_rfc3339(created)) created = core::format_rfc3339(now);
    auto d = deadline_after(missing_sandbox_grace.count(), created, now);
    if (t.status.state == "Running" || d->passed)
      return fail(t, "SandboxMissing", fmt::format("sandbox \"{}\" does not exist", t.spec.sandbox_ref), now);
    plan.status = waiting_status(t, "WaitingForSandbox",
                                 fmt::format("sandbox \"{}\" does not exist yet; the task fails if it does not appear within {}s",
                                             t.spec.sandbox_ref, missing_sandbox_grace.count()));
    plan.requeue_after = d->requeue_after;
    return plan;
  }
  core::Sandbox sb = core::sandbox_from_json(*view.sandbox);
  if (sb.status.phase == "Released" || sb.status.phase == "Failed")
    return fail(t, "SandboxUnavailable", fmt::format("sandbox \"{}\" is {}", sb.metadata.name, sb.status.phase), now);
  if (sb.status.phase != "Ready" && sb.status.phase != "Bound") {
    // The sandbox controller wakes us when the phase changes; the slow
    // requeue is a safety net against a missed wake-up, cheap (cache only).
    plan.status = waiting_status(t, "SandboxNotReady",
                                 fmt::format("sandbox \"{}\" is {}", t.spec.sandbox_ref, sb.status.phase.empty() ? "Pending" : sb.status.phase));
    plan.requeue_after = kWaitingTaskRecheck;
    return plan;
  }
  plan.run = true;
  return plan;
}

bool first_in_line(const core::Task& t, const std::vector<Cache::Obj>& tasks) {
  // Raw JSON, not typed views: this scans every task of the namespace.
  for (const auto& ptr : tasks) {
    const json& o = *ptr;
    if (!o.contains("spec") || o["spec"].value("sandboxRef", "") != t.spec.sandbox_ref) continue;
    const json& meta = o["metadata"];
    std::string name = meta.value("name", ""), created = meta.value("creationTimestamp", "");
    std::string state = o.contains("status") && o["status"].is_object() ? o["status"].value("state", "") : "";
    if (terminal(state) || name == t.metadata.name) continue;
    if (std::tie(created, name) < std::tie(t.metadata.creation_timestamp, t.metadata.name)) return false;
  }
  return true;
}

}  // namespace arl::op
