#include <fmt/format.h>

#include "core/types.h"
#include "operator/controllers.h"
#include "operator/pod_state.h"
#include "operator/task_plan.h"

namespace arl::op {

using nlohmann::json;
namespace res = k8s::resources;

namespace {

bool sandbox_busy(Context& ctx, const std::string& key) {
  std::lock_guard lock(ctx.busy_mu);
  return ctx.busy_sandboxes.count(key) > 0;
}

// Finished tasks need only their TTL: the sandbox is read for the others.
TaskView observe(Context& ctx, json obj) {
  TaskView view;
  const std::string ns = obj["metadata"].value("namespace", "");
  const std::string sandbox = obj.contains("spec") ? obj["spec"].value("sandboxRef", "") : "";
  const std::string state = obj.contains("status") && obj["status"].is_object() ? obj["status"].value("state", "") : "";
  if (state != "Succeeded" && state != "Failed") {
    view.sandbox_busy = sandbox_busy(ctx, key_of(ns, sandbox));
    if (view.sandbox_busy) {
      std::lock_guard lock(ctx.busy_mu);
      view.self_running = ctx.running_tasks.count(key_of(ns, obj["metadata"].value("name", ""))) > 0;
    }
    if (!view.sandbox_busy) view.sandbox = ctx.cache.get(res::sandboxes, ns, sandbox);
  }
  view.object = std::move(obj);
  return view;
}

void start(Context& ctx, const TaskView& view, StageSpans spans) {
  core::Task t = core::task_from_json(view.object);
  const std::string& ns = t.metadata.namespace_;
  if (!first_in_line(t, ctx.cache.list(res::tasks, ns))) {  // the predecessor's completion enqueues us
    if (auto st = waiting_status(t, "WaitingForTask", fmt::format("an earlier task of sandbox \"{}\" runs first", t.spec.sandbox_ref)))
      write_task_status_if_current(ctx, t, core::to_json(*st));
    return;
  }
  {
    std::lock_guard lock(ctx.busy_mu);
    if (!ctx.busy_sandboxes.insert(key_of(ns, t.spec.sandbox_ref)).second) return;
    ctx.running_tasks.insert(key_of(ns, t.metadata.name));
  }
  json task_obj = view.object, sandbox_obj = *view.sandbox;
  ctx.spawn([&ctx, task_obj, sandbox_obj, spans, spawned = ctx.steady_now()]() mutable {
    spans.add("spawn", spawned, ctx.steady_now());
    execute_task(ctx, task_obj, sandbox_obj, std::move(spans));
  });
}

}  // namespace

void note_task_seen(Context& ctx, const json& task) {
  const json& meta = task["metadata"];
  const std::string state = task.contains("status") && task["status"].is_object() ? task["status"].value("state", "") : "";
  if (state != "Succeeded" && state != "Failed")
    ctx.task_seen.see(key_of(meta.value("namespace", ""), meta.value("name", "")), ctx.steady_now());
}

Result reconcile_task(Context& ctx, const std::string& ns, const std::string& name) {
  const auto began = ctx.steady_now();
  auto obj = ctx.cache.get(res::tasks, ns, name);
  if (!obj || pod_is_terminating(*obj)) return {};
  TaskView view = observe(ctx, std::move(*obj));
  TaskPlan plan = plan_task(view, ctx.config.missing_sandbox_grace, ctx.wall_now());

  if (plan.status) {
    if (!write_task_status_if_current(ctx, core::task_from_json(view.object), core::to_json(*plan.status))) return {};
    // A task failed here (OperatorRestarted, ...) may be the one its sandbox
    // is still Bound for: the sandbox decides again (sandbox_plan.cpp).
    if (plan.status->state == "Failed" && view.object.contains("spec"))
      ctx.enqueue.sandbox(key_of(ns, view.object["spec"].value("sandboxRef", "")), std::chrono::milliseconds(0));
  }
  if (plan.event) ctx.events.record(view.object, *plan.event);
  if (plan.delete_task) ctx.api.remove(res::tasks, ns, name);
  if (plan.run) {
    StageSpans spans;
    if (auto seen = ctx.task_seen.peek(key_of(ns, name))) spans.add("queue", *seen, began);
    spans.add("plan", began, ctx.steady_now());
    start(ctx, view, std::move(spans));
  }
  return {plan.requeue_after};
}

}  // namespace arl::op
