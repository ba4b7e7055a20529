#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "core/duration.h"
#include "core/error.h"
#include "core/log.h"
#include "core/names.h"
#include "core/types.h"
#include "operator/controllers.h"
#include "operator/pod_builder.h"
#include "operator/sandbox_plan.h"
#include "sidecar/task_run.h"

namespace arl::op {

using nlohmann::json;
namespace res = k8s::resources;
using Clock = std::chrono::steady_clock;

namespace {

struct StalePlan {};

// Set once a run's steps are over; the Bound write waits on it.
class RunEnded {
 public:
  void mark() {
    {
      std::lock_guard lock(mu_);
      ended_ = true;
    }
    cv_.notify_all();
  }
  /// True when the run ended within `d`.
  bool wait_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [&] { return ended_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool ended_ = false;
};

// Writes a status patch (the whole patch body) and puts the answer in the cache.
json patch_status_body(Context& ctx, const k8s::Resource& r, const std::string& ns, const std::string& name, const json& patch) {
  json updated = ctx.api.patch(r, ns, name, k8s::PatchType::merge, patch, true);
  ctx.cache.upsert(r, updated);
  return updated;
}

json patch_status(Context& ctx, const k8s::Resource& r, const std::string& ns, const std::string& name, const json& status) {
  return patch_status_body(ctx, r, ns, name, json{{"status", status}});
}

// A run's outcome exists only in this process. When the API server is away
// (restarting, or etcd is) as the run ends, giving up on the write would
// leave the task Running and its sandbox Bound until an operator restart, so
// it is retried until it lands, the object is gone (404: thrown) or about 10
// minutes pass. Only unavailable/timeout are retried: a refusal stays one.
// This runs on the task's own thread, never on a reconcile worker.
json patch_until_written(Context& ctx, const k8s::Resource& r, const std::string& ns, const std::string& name, const json& patch) {
  std::chrono::milliseconds delay(50);
  for (int attempt = 1;; ++attempt) {
    try {
      return patch_status_body(ctx, r, ns, name, patch);
    } catch (const Error& e) {
      const bool transient = e.code() == ErrorCode::unavailable || e.code() == ErrorCode::timeout;
      if (!transient || attempt >= 300) throw;
      if (attempt == 1 || attempt % 30 == 0)
        log::warn("Retrying a run's outcome write", {{"object", ns + "/" + name}, {"resource", r.plural},
                                                     {"attempt", std::to_string(attempt)}, {"error", e.what()}});
      ctx.sleep(delay);
      delay = std::min<std::chrono::milliseconds>(delay * 2, std::chrono::seconds(2));
    }
  }
}

json patch_status_until_written(Context& ctx, const k8s::Resource& r, const std::string& ns, const std::string& name,
                                const json& status) {
  return patch_until_written(ctx, r, ns, name, json{{"status", status}});
}

// A status patch that applies only while the task is at the resourceVersion
// t was read at (a merge patch's resourceVersion is a precondition).
json conditional_status_patch(const core::Task& t, const json& status) {
  json patch{{"status", status}};
  if (!t.metadata.resource_version.empty()) patch["metadata"]["resourceVersion"] = t.metadata.resource_version;
  return patch;
}

// A task's status as a merge patch: an empty reason or message is sent as
// null, because to_json leaves empty fields out and a merge patch keeps what
// it does not name, so a waiting task's reason would outlive its wait.
json task_status_patch(const core::TaskStatus& st) {
  json j = core::to_json(st);
  for (const char* key : {"reason", "message"})
    if (!j.contains(key)) j[key] = nullptr;
  return j;
}

// The sandbox once a run is over, whatever its outcome: Ready again
// (keepAlive) or Released with its pod deleted. Shared by the outcome and the
// exception path, so no run leaves its sandbox Bound, where the idle TTL
// never fires.
void end_run(Context& ctx, const core::Sandbox& sb, core::SandboxStatus after, const std::string& completed_at, core::TimePoint done) {
  const std::string& ns = sb.metadata.namespace_;
  const core::SandboxStatus ended = status_after_run(sb, std::move(after), completed_at, done);
  patch_status_until_written(ctx, res::sandboxes, ns, sb.metadata.name, core::to_json(ended));
  if (!sb.spec.keep_alive && !sb.status.pod_name.empty()) {
    k8s::DeleteOptions opts;
    opts.grace_period_seconds = 0;
    try {
      ctx.api.remove(res::pods, ns, sb.status.pod_name, opts);
    } catch (const Error&) {
    }
  }
}

}  // namespace

bool write_task_status_if_current(Context& ctx, const core::Task& t, const json& status) {
  try {
    patch_status_body(ctx, res::tasks, t.metadata.namespace_, t.metadata.name, conditional_status_patch(t, status));
    return true;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::conflict) throw;
    return false;
  }
}

void execute_task(Context& ctx, json task_obj, json sandbox_obj, StageSpans spans) {
  core::Task t = core::task_from_json(task_obj);
  core::Sandbox sb = core::sandbox_from_json(sandbox_obj);
  core::apply_defaults(t);
  const std::string& ns = t.metadata.namespace_;
  const std::string sandbox_key = key_of(ns, sb.metadata.name);
  auto started = Clock::now();
  std::function<void()> bound_written;  // waits for the Bound write (ctx.alongside); empty until it is sent
  auto run_ended = std::make_shared<RunEnded>();
  core::SandboxStatus bound_st = sb.status;
  bool sandbox_ended = false;

  try {
    const std::string token = sandbox_tokens(ctx, sandbox_obj).sandbox;

    t.status.state = "Running";
    t.status.started_at = core::format_rfc3339(ctx.wall_now());
    t.status.observed_generation = t.metadata.generation;
    t.status.attempts += 1;
    t.status.message.clear();
    t.status.reason.clear();
    // A run planned on a stale view (the task finished, or another run
    // started, after the cache read) runs nothing. (Should a retried write
    // have landed unseen, its retry conflicts too: the task is left Running
    // and resolved as after an operator restart.)
    try {
      const auto sent = Clock::now();
      patch_until_written(ctx, res::tasks, ns, t.metadata.name, conditional_status_patch(t, task_status_patch(t.status)));
      spans.add("running_write", sent, Clock::now());
    } catch (const Error& e) {
      if (e.code() == ErrorCode::conflict) throw StalePlan{};
      throw;
    }

    // The sandbox shows Bound while the steps run, once they have run for
    // ctx.config.bound_after; the write overlaps them.
    bound_st.phase = "Bound";
    bound_st.last_activity_at = t.status.started_at;
    bound_st.observed_generation = sb.metadata.generation;
    bound_written = ctx.alongside([&ctx, ns, name = sb.metadata.name, bound_st, run_ended, after = ctx.config.bound_after] {
      if (after.count() > 0 && run_ended->wait_for(after)) return;
      try {
        patch_status(ctx, res::sandboxes, ns, name, core::to_json(bound_st));
      } catch (const Error&) {
      }
    });

    auto budget = core::parse_duration(t.spec.timeout, "spec.timeout");
    auto runner = ctx.runners(sb.status.pod_ip, token);
    sidecar::TaskRun run(t, *runner, ctx.config.status_output_cap);
    const auto run_began = Clock::now();
    sidecar::AttemptOutcome outcome = run.run_with_retries(budget);
    run_ended->mark();
    spans.add("execute", run_began, Clock::now());
    run.store_full_output();

    t.status.state = outcome.ok ? "Succeeded" : "Failed";
    t.status.reason = outcome.ok ? "" : outcome.reason;
    t.status.message = outcome.message;
    const core::TimePoint done = ctx.wall_now();
    t.status.completed_at = core::format_rfc3339(done);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    t.status.duration = core::format_duration(took);
    core::set_condition(t.status.conditions,
                        {"Complete", "True", outcome.ok ? "Succeeded" : outcome.reason, outcome.message, "", t.metadata.generation}, done);
    // The outcome does not wait for the sandbox's Bound write: only the
    // sandbox's own next write (end_run) must come after it.
    const auto final_sent = Clock::now();
    patch_status_until_written(ctx, res::tasks, ns, t.metadata.name, task_status_patch(t.status));
    const auto written = Clock::now();
    spans.add("final_write", final_sent, written);
    if (auto seen = ctx.task_seen.take(key_of(ns, t.metadata.name))) spans.add("total", *seen, written);
    spans.observe(ctx.metrics, "arl_task_stage_seconds");
    ctx.metrics.observe("arl_task_duration_seconds", "", static_cast<double>(took.count()) / 1000.0);
    ctx.metrics.inc("arl_tasks_total", fmt::format("state=\"{}\"", t.status.state));

    sandbox_ended = true;  // set first: a failed write here is not retried below
    bound_written();
    try {
      end_run(ctx, sb, bound_st, t.status.completed_at, done);
    } catch (const Error& e) {
      // The outcome is written and stays: a sandbox deleted meanwhile (its
      // idle TTL, its user) has nothing to take back; anything else is
      // retried by the sandbox's own reconcile (a Bound sandbox with no run).
      if (e.code() != ErrorCode::not_found)
        log::warn("Failed to take the sandbox back after a run", {{"sandbox", sandbox_key}, {"error", e.what()}});
    }
  } catch (const StalePlan&) {
    // Nothing was written: the newer version's watch event enqueues the task.
  } catch (const std::exception& e) {
    run_ended->mark();
    if (bound_written) bound_written();
    const core::TimePoint done = ctx.wall_now();
    try {
      t.status.state = "Failed";
      t.status.reason = "ExecutionError";
      t.status.message = e.what();
      t.status.completed_at = core::format_rfc3339(done);
      t.status.observed_generation = t.metadata.generation;
      patch_status_until_written(ctx, res::tasks, ns, t.metadata.name, core::to_json(t.status));
    } catch (const std::exception&) {
      // The task is gone, or the API server stayed away for minutes: a task
      // left Running is resolved by the next operator start (OperatorRestarted).
    }
    // Once Bound was written the sandbox is taken back whatever failed, the
    // task's own write included.
    if (bound_written && !sandbox_ended) {
      try {
        end_run(ctx, sb, bound_st, core::format_rfc3339(done), done);
      } catch (const std::exception&) {
        // Deleted meanwhile (nothing to take back) or the API server is
        // down; the error is the task's, already reported above.
      }
    }
  }

  {
    std::lock_guard lock(ctx.busy_mu);
    ctx.busy_sandboxes.erase(sandbox_key);
    ctx.running_tasks.erase(key_of(ns, t.metadata.name));
  }
  for (const auto& ptr : ctx.cache.list(res::tasks, ns)) {
    const json& other = *ptr;
    if (other.contains("spec") && other["spec"].value("sandboxRef", "") == sb.metadata.name &&
        other["metadata"].value("name", "") != t.metadata.name)
      ctx.enqueue.task(key_of(ns, other["metadata"].value("name", "")), std::chrono::milliseconds(0));
  }
  ctx.enqueue.sandbox(sandbox_key, std::chrono::milliseconds(0));
}

}  // namespace arl::op
