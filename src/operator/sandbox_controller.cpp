#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"
#include "core/names.h"
#include "core/types.h"
#include "operator/controllers.h"
#include "operator/pod_builder.h"
#include "operator/pod_state.h"

namespace arl::op {

using nlohmann::json;
namespace res = k8s::resources;
using std::chrono::milliseconds;

namespace {

json write_status(Context& ctx, const core::Sandbox& sb, const core::SandboxStatus& st) {
  json updated = ctx.api.patch(res::sandboxes, sb.metadata.namespace_, sb.metadata.name, k8s::PatchType::merge,
                               json{{"status", core::to_json(st)}}, true);
  ctx.cache.upsert(res::sandboxes, updated);
  return updated;
}

void wait_for(Context& ctx, const json& obj, const core::Sandbox& sb, const std::string& reason, const std::string& message) {
  core::SandboxStatus st = sb.status;
  st.phase = "Pending";
  if (core::set_condition(st.conditions, {"Ready", "False", reason, message, "", 0})) {
    write_status(ctx, sb, st);
    ctx.events.record(obj, "Normal", reason, message);
  }
}

void delete_pod(Context& ctx, const std::string& ns, const std::string& pod) {
  if (pod.empty()) return;
  k8s::DeleteOptions opts;
  opts.grace_period_seconds = 0;
  ctx.api.remove(res::pods, ns, pod, opts);
}

// Pending -> Ready: take an idle ready pod with an optimistic-concurrency
// patch of its labels (design.md: write 1 of the allocation).
std::optional<json> allocate_pod(Context& ctx, const json& obj, const core::Sandbox& sb) {
  const std::string& ns = sb.metadata.namespace_;
  // The index of idle pods is small when it matters: a burst drains it.
  auto pods = ctx.cache.list(res::pods, ns, std::string(labels::kPodState), std::string(labels::kPodStateReady));
  std::vector<const json*> candidates;
  for (const auto& p : pods)
    if (pod_label(*p, labels::kWarmPool) == sb.spec.pool_ref && pod_is_idle(*p) && pod_is_ready(*p) && !pod_ip(*p).empty())
      candidates.push_back(p.get());
  std::sort(candidates.begin(), candidates.end(), [](const json* a, const json* b) {
    return a->at("metadata").value("creationTimestamp", "") < b->at("metadata").value("creationTimestamp", "");
  });
  for (const json* p : candidates) {
    const std::string pod_name = p->at("metadata").value("name", "");
    const std::string claim = key_of(ns, pod_name);
    if (!ctx.claims.try_claim(claim)) continue;
    json patch{{"metadata",
                {{"resourceVersion", p->at("metadata").value("resourceVersion", "")},
                 {"labels", {{std::string(labels::kPodState), std::string(labels::kPodStateAllocated)},
                             {std::string(labels::kSandbox), sb.metadata.name}}},
                 {"ownerReferences", json::array({controller_ref(obj)})}}}};
    try {
      json updated = ctx.api.patch(res::pods, ns, pod_name, k8s::PatchType::merge, patch);
      ctx.cache.upsert(res::pods, updated);
      return updated;  // the claim stays until the pod is deleted
    } catch (const Error& e) {
      ctx.claims.release(claim);
      if (e.code() == ErrorCode::conflict || e.code() == ErrorCode::not_found) {
        ctx.metrics.inc("arl_allocation_conflicts_total");
        continue;
      }
      throw;
    }
  }
  return std::nullopt;
}

Result expire_after(Context& ctx, const core::Sandbox& sb, const std::string& since) {
  if (!sb.spec.ttl_seconds_after_finished) return {};
  auto start = core::parse_rfc3339(since);
  if (!start) return {};
  int64_t now = core::parse_rfc3339(core::now_rfc3339()).value_or(0);
  int64_t left = *start + *sb.spec.ttl_seconds_after_finished - now;
  if (left > 0) return {milliseconds(left * 1000 + 50)};
  ctx.api.remove(res::sandboxes, sb.metadata.namespace_, sb.metadata.name);
  return {};
}

}  // namespace

void on_sandbox_deleted(Context& ctx, const json& obj) {
  core::Sandbox sb = core::sandbox_from_json(obj);
  const std::string& ns = sb.metadata.namespace_;
  std::string pod = sb.status.pod_name;
  if (pod.empty()) {
    auto mine = ctx.cache.list(res::pods, ns, std::string(labels::kSandbox), sb.metadata.name);
    if (!mine.empty()) pod = (*mine.front())["metadata"].value("name", "");
  }
  if (!pod.empty()) {
    try {
      delete_pod(ctx, ns, pod);
    } catch (const Error&) {
      // The garbage collector deletes it through the ownerReference anyway.
    }
  }
  for (const auto& t : ctx.cache.list(res::tasks, ns))
    if (t->contains("spec") && (*t)["spec"].value("sandboxRef", "") == sb.metadata.name)
      ctx.enqueue.task(key_of(ns, (*t)["metadata"].value("name", "")), milliseconds(0));
  ctx.enqueue.pool(key_of(ns, sb.spec.pool_ref), milliseconds(0));
}

Result reconcile_sandbox(Context& ctx, const std::string& ns, const std::string& name) {
  auto obj = ctx.cache.get(res::sandboxes, ns, name);
  if (!obj || pod_is_terminating(*obj)) return {};
  core::Sandbox sb = core::sandbox_from_json(*obj);
  const std::string& phase = sb.status.phase;

  if (phase == "Released" || phase == "Failed") {
    if (!sb.status.pod_name.empty()) {
      auto pod = ctx.cache.get(res::pods, ns, sb.status.pod_name);
      if (pod && !pod_is_terminating(*pod)) delete_pod(ctx, ns, sb.status.pod_name);
    }
    return expire_after(ctx, sb, sb.status.last_activity_at.empty() ? sb.status.allocated_at : sb.status.last_activity_at);
  }

  if (!sb.status.pod_name.empty()) {  // Ready or Bound: watch over the pod and the idle TTL
    auto pod = ctx.cache.get(res::pods, ns, sb.status.pod_name);
    if (!pod || pod_is_terminating(*pod) || pod_has_failed(*pod)) {
      core::SandboxStatus st = sb.status;
      st.phase = "Failed";
      std::string msg = fmt::format("pod {} of sandbox {} is gone or failed", sb.status.pod_name, name);
      core::set_condition(st.conditions, {"Ready", "False", "PodLost", msg, "", 0});
      write_status(ctx, sb, st);
      ctx.events.record(*obj, "Warning", "PodLost", msg);
      return {};
    }
    if (phase == "Ready") return expire_after(ctx, sb, sb.status.last_activity_at.empty() ? sb.status.allocated_at : sb.status.last_activity_at);
    return {};
  }

  // Pending. A pod may already carry our label: the operator restarted
  // between the pod patch and the status write. Adopt it, never allocate twice.
  std::optional<json> pod;
  for (auto& p : ctx.cache.list(res::pods, ns, std::string(labels::kSandbox), name))
    if (!pod_is_terminating(*p)) pod = *p;
  if (!pod) {
    auto pool = ctx.cache.get(res::warm_pools, ns, sb.spec.pool_ref);
    if (!pool) {
      wait_for(ctx, *obj, sb, "PoolNotFound",
               fmt::format("warmpool \"{}\" does not exist in namespace {}; create it or fix spec.poolRef", sb.spec.pool_ref, ns));
      return {std::chrono::seconds(5)};
    }
    pod = allocate_pod(ctx, *obj, sb);
    if (!pod) {
      ctx.enqueue.pool(key_of(ns, sb.spec.pool_ref), milliseconds(0));
      wait_for(ctx, *obj, sb, "NoIdlePod",
               fmt::format("waiting for an idle ready pod in warmpool \"{}\" (scale it up if this persists)", sb.spec.pool_ref));
      return {std::chrono::seconds(2)};  // a pod turning ready also enqueues us
    }
  }

  core::SandboxStatus st = sb.status;
  st.phase = "Ready";
  st.pod_name = (*pod)["metadata"].value("name", "");
  st.pod_ip = pod_ip(*pod);
  st.work_dir = std::string(kDefaultWorkDir);
  st.allocated_at = core::now_rfc3339();
  st.last_activity_at = st.allocated_at;
  core::set_condition(st.conditions, {"Ready", "True", "Allocated", "pod " + st.pod_name, "", 0});
  write_status(ctx, sb, st);
  if (auto created = core::parse_rfc3339(sb.metadata.creation_timestamp))
    ctx.metrics.observe("arl_sandbox_allocation_seconds", "",
                        static_cast<double>(core::parse_rfc3339(core::now_rfc3339()).value_or(0) - *created));
  ctx.metrics.inc("arl_sandboxes_allocated_total");
  // Refill and pool status happen after the sandbox is Ready, off its latency path.
  ctx.enqueue.pool(key_of(ns, sb.spec.pool_ref), milliseconds(0));
  return expire_after(ctx, sb, st.allocated_at);
}

}  // namespace arl::op
