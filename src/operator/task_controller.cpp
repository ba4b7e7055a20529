#include <algorithm>

#include <fmt/format.h>

#include "core/duration.h"
#include "core/error.h"
#include "core/types.h"
#include "operator/controllers.h"
#include "operator/pod_state.h"

namespace arl::op {

using nlohmann::json;
namespace res = k8s::resources;
using std::chrono::milliseconds;

namespace {

bool terminal(const std::string& state) { return state == "Succeeded" || state == "Failed"; }

int64_t now_seconds() { return core::parse_rfc3339(core::now_rfc3339()).value_or(0); }

void fail_task(Context& ctx, const json& obj, const core::Task& t, const std::string& reason, const std::string& message) {
  core::TaskStatus st = t.status;
  st.state = "Failed";
  st.reason = reason;
  st.message = message;
  if (st.started_at.empty()) st.started_at = core::now_rfc3339();
  st.completed_at = core::now_rfc3339();
  core::set_condition(st.conditions, {"Complete", "True", reason, message, "", 0});
  json updated = ctx.api.patch(res::tasks, t.metadata.namespace_, t.metadata.name, k8s::PatchType::merge,
                               json{{"status", core::to_json(st)}}, true);
  ctx.cache.upsert(res::tasks, updated);
  ctx.events.record(obj, "Warning", reason, message);
}

// Tasks of one sandbox run one at a time in creation order: is `t` first?
bool first_in_line(Context& ctx, const core::Task& t) {
  // Raw JSON, not typed views: this scans every task of the namespace.
  for (const auto& ptr : ctx.cache.list(res::tasks, t.metadata.namespace_)) {
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

}  // namespace

Result reconcile_task(Context& ctx, const std::string& ns, const std::string& name) {
  auto obj = ctx.cache.get(res::tasks, ns, name);
  if (!obj || pod_is_terminating(*obj)) return {};
  core::Task t = core::task_from_json(*obj);

  if (terminal(t.status.state)) {
    if (!t.spec.ttl_seconds_after_finished) return {};
    auto done = core::parse_rfc3339(t.status.completed_at);
    if (!done) return {};
    int64_t left = *done + *t.spec.ttl_seconds_after_finished - now_seconds();
    if (left > 0) return {milliseconds(left * 1000 + 50)};
    ctx.api.remove(res::tasks, ns, name);
    return {};
  }

  const std::string sandbox_key = key_of(ns, t.spec.sandbox_ref);
  {
    std::lock_guard lock(ctx.busy_mu);
    if (ctx.busy_sandboxes.count(sandbox_key)) return {};  // running here, or queued behind the running one
  }

  if (t.status.state == "Running") {
    // Found Running with no execution in this process: the operator restarted
    // mid-task. Steps may have had side effects, so the outcome is unknown:
    // with retries left the task runs again from its first step (counted as
    // an attempt); without, it fails with reason OperatorRestarted.
    if (t.status.attempts > t.spec.retries) {
      fail_task(ctx, *obj, t, "OperatorRestarted", "the operator restarted while this task was running; its outcome is unknown");
      return {};
    }
  }

  auto sandbox = ctx.cache.get(res::sandboxes, ns, t.spec.sandbox_ref);
  if (!sandbox || pod_is_terminating(*sandbox)) {
    auto created = core::parse_rfc3339(t.metadata.creation_timestamp).value_or(now_seconds());
    int64_t waited = now_seconds() - created;
    if (t.status.state == "Running" || waited >= ctx.config.missing_sandbox_grace.count()) {
      fail_task(ctx, *obj, t, "SandboxMissing", fmt::format("sandbox \"{}\" does not exist", t.spec.sandbox_ref));
      return {};
    }
    return {milliseconds((ctx.config.missing_sandbox_grace.count() - waited) * 1000 + 50)};
  }
  core::Sandbox sb = core::sandbox_from_json(*sandbox);
  if (sb.status.phase == "Released" || sb.status.phase == "Failed") {
    fail_task(ctx, *obj, t, "SandboxUnavailable", fmt::format("sandbox \"{}\" is {}", sb.metadata.name, sb.status.phase));
    return {};
  }
  if (sb.status.phase != "Ready" && sb.status.phase != "Bound") return {};  // the sandbox's update enqueues us
  if (!first_in_line(ctx, t)) return {};                                     // the predecessor's completion enqueues us

  {
    std::lock_guard lock(ctx.busy_mu);
    if (!ctx.busy_sandboxes.insert(sandbox_key).second) return {};
  }
  json task_obj = *obj, sandbox_obj = *sandbox;
  ctx.spawn([&ctx, task_obj, sandbox_obj] { execute_task(ctx, task_obj, sandbox_obj); });
  return {};
}

}  // namespace arl::op
