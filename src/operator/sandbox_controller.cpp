#include <fmt/format.h>

#include "core/error.h"
#include "core/fork_spec.h"
#include "core/json_view.h"
#include "core/log.h"
#include "core/names.h"
#include "core/types.h"
#include "operator/controllers.h"
#include "operator/fork_source.h"
#include "operator/pod_state.h"
#include "operator/sandbox_plan.h"
#include "operator/stage_spans.h"

namespace arl::op {

using nlohmann::json;
namespace res = k8s::resources;
using std::chrono::milliseconds;

namespace {

void delete_pod(Context& ctx, const std::string& ns, const std::string& pod) {
  if (pod.empty()) return;
  k8s::DeleteOptions opts;
  opts.grace_period_seconds = 0;
  ctx.api.remove(res::pods, ns, pod, opts);
}

bool run_in_progress(Context& ctx, const std::string& ns, const std::string& sandbox) {
  {
    std::lock_guard lock(ctx.busy_mu);
    if (ctx.busy_sandboxes.count(key_of(ns, sandbox))) return true;
  }
  for (const auto& t : ctx.cache.list(res::tasks, ns)) {
    const json& o = *t;
    if (!o.contains("spec") || o["spec"].value("sandboxRef", "") != sandbox) continue;
    if (o.contains("status") && o["status"].is_object() && o["status"].value("state", "") == "Running") return true;
  }
  return false;
}

// Reads only what the sandbox's phase needs: the idle-pod index is scanned
// for Pending sandboxes alone.
SandboxView observe(Context& ctx, json obj) {
  SandboxView view;
  const std::string ns = obj["metadata"].value("namespace", "");
  const std::string name = obj["metadata"].value("name", "");
  const json& status = core::object_at(obj, "status");
  const std::string pod_name = status.is_object() ? status.value("podName", "") : "";
  if (!pod_name.empty()) {
    view.pod = ctx.cache.get(res::pods, ns, pod_name);
    if (view.pod) view.sidecar_bound_at = ctx.sidecar_binds.bound_at((*view.pod)["metadata"].value("uid", ""));
    // A Ready sandbox runs a task too while the run is too short to be
    // written Bound (task_execution.cpp): its idle TTL must not fire then.
    const std::string phase = status.is_object() ? status.value("phase", "") : "";
    const bool has_ttl = obj.contains("spec") && obj["spec"].contains("ttlSecondsAfterFinished");
    if (phase == "Bound" || (phase == "Ready" && has_ttl)) view.run_in_progress = run_in_progress(ctx, ns, name);
  } else {
    std::string pool = obj.contains("spec") ? obj["spec"].value("poolRef", "") : "";
    view.labelled = ctx.cache.list(res::pods, ns, std::string(labels::kSandbox), name);
    view.pool_exists = ctx.cache.get(res::warm_pools, ns, pool).has_value();
    // Small when it matters: a burst of sandboxes drains it.
    view.idle = ctx.cache.list(res::pods, ns, std::string(labels::kPodState), std::string(labels::kPodStateReady));
  }
  view.object = std::move(obj);
  return view;
}

// A pod that must serve no one (its sidecar broke, or is bound to a sandbox
// that could not have it) is deleted, and marked going in the cache so the
// next reconcile adopts no pod the API server is deleting.
void discard_pod(Context& ctx, const std::string& ns, const std::string& pod_name) {
  try {
    delete_pod(ctx, ns, pod_name);
  } catch (const Error&) {
    // Retried by whoever meets its sidecar next; a claimed pod also goes
    // with its sandbox through the ownerReference.
  }
  if (auto pod = ctx.cache.get(res::pods, ns, pod_name)) {
    (*pod)["metadata"]["deletionTimestamp"] = core::format_rfc3339(ctx.wall_now());
    ctx.cache.upsert(res::pods, *pod);
  }
}

// spec.env's Secrets and ConfigMaps, read through the short cache: GETs
// only, no write (the allocation's write count is unchanged).
const k8s::Resource kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};

ResolvedSettings settings_for(Context& ctx, const json& sandbox) {
  const std::string ns = sandbox["metadata"].value("namespace", "");
  return resolve_settings(core::sandbox_settings_from_json(sandbox), ns, [&](bool secret, const std::string& name) {
    const k8s::Resource& r = secret ? res::secrets : kConfigMaps;
    return ctx.env_objects.get(r.plural + "/" + key_of(ns, name), ctx.steady_now(),
                               [&] { return ctx.api.get(r, ns, name); });
  });
}

// The chosen pod's sidecar must accept the sandbox's own token before the
// status write tells anyone the sandbox is Ready. A sidecar bound to another
// token (409) serves another operator's sandbox: it is skipped, untouched.
// Any other failure deletes the pod (it must not serve anyone on the pool
// token), and the sandbox, still Pending, tries another.
enum class BindOutcome { bound, taken, failed };

BindOutcome bind_sidecar(Context& ctx, const json& sandbox, const SidecarBind& b, const SandboxSettings& settings,
                         StageSpans& spans) {
  const std::string ns = sandbox["metadata"].value("namespace", "");
  const std::string name = sandbox["metadata"].value("name", "");
  try {
    const auto sent = ctx.steady_now();
    SandboxTokens t = sandbox_tokens(ctx, sandbox);
    ctx.bind(b.pod_ip, t.pool, t.sandbox, settings);
    spans.add("bind", sent, ctx.steady_now());
    return BindOutcome::bound;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::conflict) {
      ctx.metrics.inc("arl_allocation_conflicts_total");
      return BindOutcome::taken;
    }
    const std::string msg = fmt::format("pod {} of sandbox {}: the sidecar at {} could not be bound to the sandbox's token ({}); "
                                        "deleted the pod, claiming another",
                                        b.pod, name, b.pod_ip, e.what());
    log::warn("Failed to bind pod", {{"sandbox", key_of(ns, name)}, {"pod", b.pod}, {"error", e.what()}});
    ctx.events.record(sandbox, EventSpec{"Warning", "BindFailed", msg});
    ctx.metrics.inc("arl_sidecar_bind_failures_total");
    discard_pod(ctx, ns, b.pod);
    return BindOutcome::failed;
  }
}

// The pod's sidecar restarted and came back on the pool token (sandbox_plan.h
// rebind). A sidecar that refuses both tokens (401) or another token's bind
// (409) serves someone else: the pod is deleted and the sandbox fails as
// PodLost, as for any lost pod. Anything else (not listening yet, a timeout)
// is retried.
bool rebind_sidecar(Context& ctx, const json& sandbox, const SidecarBind& b) {
  const std::string ns = sandbox["metadata"].value("namespace", "");
  const std::string name = sandbox["metadata"].value("name", "");
  try {
    // The restarted sidecar lost the sandbox's env and working dir with its
    // memory: they are sent again, resolved afresh.
    ResolvedSettings s = settings_for(ctx, sandbox);
    if (s.failure) throw Error(ErrorCode::not_found, s.failure->message);
    SandboxTokens t = sandbox_tokens(ctx, sandbox);
    ctx.bind(b.pod_ip, t.pool, t.sandbox, s.settings);
  } catch (const Error& e) {
    log::warn("Failed to bind restarted sidecar", {{"sandbox", key_of(ns, name)}, {"pod", b.pod}, {"error", e.what()}});
    ctx.metrics.inc("arl_sidecar_bind_failures_total");
    if (e.code() != ErrorCode::unauthorized && e.code() != ErrorCode::conflict) return false;
    ctx.events.record(sandbox, EventSpec{"Warning", "BindFailed",
                                         fmt::format("pod {} of sandbox {}: its sidecar restarted and refuses the sandbox's token ({}); "
                                                     "deleted the pod",
                                                     b.pod, name, e.what())});
    try {
      delete_pod(ctx, ns, b.pod);
    } catch (const Error&) {
      // Retried: the next reconcile decides again from the pod it sees.
    }
    return false;
  }
  ctx.sidecar_binds.bound(b.pod_uid, b.restarts);
  log::info("Bound restarted sidecar", {{"sandbox", key_of(ns, name)}, {"pod", b.pod}, {"restarts", std::to_string(b.restarts)}});
  ctx.events.record(sandbox, EventSpec{"Normal", "SidecarRebound",
                                       fmt::format("the sidecar of pod {} restarted (restart {}); bound it to the sandbox's token again",
                                                   b.pod, b.restarts)});
  ctx.metrics.inc("arl_sidecar_rebinds_total");
  return true;
}

// A fork's source as the cache shows it now, with the source sandbox's
// token (derived, like every sandbox token, from its pool's).
struct ForkPlan {
  ForkSource source;
  std::string source_token;
};
struct ForkDecision {
  std::optional<ForkPlan> plan;
  std::optional<ForkFailure> failure;
};

ForkDecision fork_for(Context& ctx, const core::ForkOf& fork_of, const json& sandbox) {
  const std::string ns = sandbox["metadata"].value("namespace", "");
  auto source = ctx.cache.get(res::sandboxes, ns, fork_of.sandbox);
  const std::string source_pool = source ? (*source)["spec"].value("poolRef", "") : "";
  ResolvedFork r = resolve_fork(fork_of, sandbox, source, ctx.cache.get(res::warm_pools, ns, sandbox["spec"].value("poolRef", "")),
                                source ? ctx.cache.get(res::warm_pools, ns, source_pool) : std::nullopt);
  if (r.failure) return {std::nullopt, r.failure};
  return {ForkPlan{*r.source, sandbox_tokens(ctx, *source).sandbox}, std::nullopt};
}

// After the bind, before the claim and the status: the fork's workdir
// becomes the source's checkpoint. nullopt when copied; else why not (the
// pod, bound to the fork's token, is deleted: it must serve no one).
std::optional<ForkFailure> copy_fork(Context& ctx, const json& sandbox, const ForkPlan& fork, const SidecarBind& b,
                                     StageSpans& spans) {
  const std::string ns = sandbox["metadata"].value("namespace", "");
  const std::string name = sandbox["metadata"].value("name", "");
  const auto began = ctx.steady_now();
  try {
    ForkCopied copied = ctx.fork(ForkTransfer{b.pod_ip, sandbox_tokens(ctx, sandbox).sandbox, fork.source.pod_ip,
                                              fork.source_token, fork.source.checkpoint});
    spans.add("fork", began, ctx.steady_now());
    log::info("Forked sandbox", {{"sandbox", key_of(ns, name)}, {"source", fork.source.sandbox}, {"checkpoint", copied.checkpoint},
                                 {"files", std::to_string(copied.files)}, {"bytes", std::to_string(copied.bytes)}});
    ctx.metrics.inc("arl_sandbox_forks_total");
    return std::nullopt;
  } catch (const Error& e) {
    log::warn("Failed to fork sandbox", {{"sandbox", key_of(ns, name)}, {"source", fork.source.sandbox}, {"error", e.what()}});
    ctx.metrics.inc("arl_sandbox_fork_failures_total");
    discard_pod(ctx, ns, b.pod);
    return ForkFailure{"ForkFailed", fmt::format("copying sandbox {}'s workdir{} into pod {} failed: {}", fork.source.sandbox,
                                                 fork.source.checkpoint.empty() ? "" : " (checkpoint " + fork.source.checkpoint + ")",
                                                 b.pod, e.what())};
  }
}

// The sandbox's status write, timed as the "status" stage and put in the
// cache; nullopt when the sandbox was deleted since the cache showed it
// (nothing left to decide: its delete event cleans up). Other errors throw.
std::optional<json> write_status(Context& ctx, const std::string& ns, const std::string& name,
                                 const core::SandboxStatus& status, StageSpans& spans) {
  try {
    const auto sent = ctx.steady_now();
    json updated = ctx.api.patch(res::sandboxes, ns, name, k8s::PatchType::merge, json{{"status", core::to_json(status)}}, true);
    spans.add("status", sent, ctx.steady_now());
    ctx.cache.upsert(res::sandboxes, updated);
    return updated;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::not_found) return std::nullopt;
    throw;
  }
}

Result apply(Context& ctx, const json& obj, const SandboxPlan& plan, core::TimePoint now, StageSpans& spans,
             std::optional<ResolvedSettings> resolved = std::nullopt);

bool claim_was_lost(const Error& e) {
  // 422: the claim's `test` found the pod no longer idle; 409/404: taken or deleted.
  return e.code() == ErrorCode::conflict || e.code() == ErrorCode::not_found || e.code() == ErrorCode::invalid;
}

json send_claim(Context& ctx, const json& sandbox, const std::string& ns, const PodClaim& c) {
  return ctx.api.patch(res::pods, ns, c.pod, k8s::PatchType::json_patch, claim_patch(sandbox));
}

// A claim refused after the status write went out: the status is taken back
// and the pod, bound to this sandbox's token, deleted (it must serve no one).
void undo_allocation(Context& ctx, const json& sandbox, const std::string& ns, const std::string& pod, core::TimePoint now) {
  const std::string name = sandbox["metadata"].value("name", "");
  ctx.metrics.inc("arl_allocation_conflicts_total");
  log::info("Claim lost after the status write; claiming another", {{"sandbox", key_of(ns, name)}, {"pod", pod}});
  try {
    ctx.cache.upsert(res::sandboxes, ctx.api.patch(res::sandboxes, ns, name, k8s::PatchType::merge,
                                                   claim_lost_patch(sandbox, pod, now), true));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::not_found) throw;
  }
  try {
    delete_pod(ctx, ns, pod);
  } catch (const Error&) {
    // Already gone, or its holder deletes it when its own bind is refused.
  }
}

// Allocation, pipelined (docs/design.md "Allocation"): the candidate's
// sidecar is bound first (pod to pod, ~1 ms), then the claim and the status
// write go out together, so the sandbox is Ready one API round trip after
// the bind instead of two. The claim cannot lose to another worker of this
// process (ctx.claims); it can lose only to another operator or a deleted
// pod, and then the status is taken back (undo_allocation). The answer for
// the first candidate that binds; nullopt when none could be tried.
std::optional<Result> allocate(Context& ctx, const json& sandbox, const std::vector<PodClaim>& claims,
                               const SandboxSettings& settings, const std::optional<ForkPlan>& fork, StageSpans& spans,
                               core::TimePoint now) {
  const std::string ns = sandbox["metadata"].value("namespace", "");
  const std::string name = sandbox["metadata"].value("name", "");
  for (const auto& c : claims) {
    const std::string claim = key_of(ns, c.pod);
    if (!ctx.claims.try_claim(claim)) continue;
    auto pod = ctx.cache.get(res::pods, ns, c.pod);
    if (!pod) {
      ctx.claims.release(claim);
      continue;
    }
    SandboxPlan plan = plan_allocated(sandbox, *pod, now);
    const BindOutcome bound = bind_sidecar(ctx, sandbox, *plan.bind, settings, spans);
    if (bound == BindOutcome::taken) continue;  // held in ctx.claims: nobody here tries it again
    if (bound == BindOutcome::failed) return Result{milliseconds(200)};
    if (fork)
      if (auto failed = copy_fork(ctx, sandbox, *fork, *plan.bind, spans))
        return apply(ctx, sandbox, plan_allocation_failed(sandbox, failed->reason, failed->message, now), now, spans);
    const auto sent = ctx.steady_now();
    // The claim's thread only fills these; they are read after it ends.
    std::optional<json> claimed;
    std::exception_ptr claim_error;
    std::chrono::steady_clock::time_point answered;
    auto claim_ended = ctx.alongside([&] {
      try {
        claimed = send_claim(ctx, sandbox, ns, c);
      } catch (...) {
        claim_error = std::current_exception();
      }
      answered = ctx.steady_now();
    });
    // Not written (nullopt) when the sandbox was deleted meanwhile: the claim
    // makes it the pod's owner, so the garbage collector takes the pod too.
    std::optional<json> written;
    std::exception_ptr status_error;
    try {
      written = write_status(ctx, ns, name, *plan.status, spans);
    } catch (...) {
      status_error = std::current_exception();  // rethrown once the claim's thread has ended
    }
    claim_ended();
    try {
      if (claim_error) std::rethrow_exception(claim_error);
      spans.add("claim", sent, answered);
      ctx.cache.upsert(res::pods, *claimed);
    } catch (const Error& e) {
      const bool lost = claim_was_lost(e);
      if (lost) ctx.claims.release(claim);  // else the outcome is unknown: the pod stays held (reclaim decides)
      if (written) {
        undo_allocation(ctx, *written, ns, c.pod, now);  // deletes the pod too
      } else {
        try {
          delete_pod(ctx, ns, c.pod);  // bound to this sandbox's token: it must serve no one
        } catch (const Error&) {
        }
      }
      if (!lost) throw;
      return Result{milliseconds(1)};
    }
    if (status_error) std::rethrow_exception(status_error);
    if (!written) return Result{};
    plan.bind.reset();
    plan.status.reset();  // both written above
    return apply(ctx, sandbox, plan, now, spans, ResolvedSettings{settings, std::nullopt});
  }
  return std::nullopt;
}

void enqueue_tasks_of(Context& ctx, const std::string& ns, const std::string& sandbox) {
  for (const auto& t : ctx.cache.list(res::tasks, ns))
    if (t->contains("spec") && (*t)["spec"].value("sandboxRef", "") == sandbox)
      ctx.enqueue.task(key_of(ns, (*t)["metadata"].value("name", "")), milliseconds(0));
}

// `spans`: the allocation's stages so far (reconcile_sandbox starts them).
// `resolved`: the settings when the caller (the claim's apply) has them.
Result apply(Context& ctx, const json& obj, const SandboxPlan& plan, core::TimePoint now, StageSpans& spans,
             std::optional<ResolvedSettings> resolved) {
  const std::string ns = obj["metadata"].value("namespace", "");
  const std::string name = obj["metadata"].value("name", "");
  // Resolved before the claim: a missing Secret fails the sandbox and leaves
  // the pool's pods untouched.
  if (!resolved && (!plan.claims.empty() || plan.bind)) {
    const auto began = ctx.steady_now();
    resolved = settings_for(ctx, obj);
    spans.add("settings", began, ctx.steady_now());
    if (resolved->failure) {
      log::warn("Failed to resolve sandbox env", {{"sandbox", key_of(ns, name)}, {"reason", resolved->failure->reason}});
      return apply(ctx, obj, plan_allocation_failed(obj, resolved->failure->reason, resolved->failure->message, now), now, spans);
    }
  }
  if (!plan.claims.empty()) {
    // Decided before the claim too: a fork whose source is missing, not
    // Ready or of another image fails with the pool's pods untouched.
    std::optional<ForkPlan> fork;
    if (auto fork_of = core::fork_of_from_json(obj)) {
      ForkDecision d = fork_for(ctx, *fork_of, obj);
      if (d.failure) {
        log::warn("Cannot fork sandbox", {{"sandbox", key_of(ns, name)}, {"reason", d.failure->reason}});
        return apply(ctx, obj, plan_allocation_failed(obj, d.failure->reason, d.failure->message, now), now, spans);
      }
      fork = d.plan;
    }
    if (auto allocated = allocate(ctx, obj, plan.claims, resolved->settings, fork, spans, now)) return *allocated;
  }
  if (plan.reclaim) {
    try {
      ctx.cache.upsert(res::pods, send_claim(ctx, obj, ns, *plan.reclaim));
    } catch (const Error& e) {
      if (!claim_was_lost(e)) throw;
      ctx.claims.release(key_of(ns, plan.reclaim->pod));
      undo_allocation(ctx, obj, ns, plan.reclaim->pod, now);
      return {milliseconds(1)};
    }
  }

  if (plan.bind) {
    if (bind_sidecar(ctx, obj, *plan.bind, resolved->settings, spans) != BindOutcome::bound) return {milliseconds(200)};
    if (plan.bind->restarts > 0) ctx.sidecar_binds.bound(plan.bind->pod_uid, plan.bind->restarts);  // rare: absent reads 0
  }
  // Not bound again yet: the rest of the plan still applies, and we come back.
  const bool rebind_pending = plan.rebind && !rebind_sidecar(ctx, obj, *plan.rebind);
  delete_pod(ctx, ns, plan.delete_pod);
  if (plan.status && !write_status(ctx, ns, name, *plan.status, spans)) return {};
  if (plan.event) ctx.events.record(obj, *plan.event);
  if (plan.allocated) {
    const auto written = ctx.steady_now();
    if (auto seen = ctx.first_seen.take(key_of(ns, name))) {
      ctx.metrics.observe("arl_sandbox_allocation_seconds", "", std::chrono::duration<double>(written - *seen).count());
      spans.add("total", *seen, written);
    }
    spans.observe(ctx.metrics, "arl_allocation_stage_seconds");
    ctx.metrics.inc("arl_sandboxes_allocated_total");
  }
  if (plan.enqueue_pool) ctx.enqueue.pool(key_of(ns, obj["spec"].value("poolRef", "")), milliseconds(0));
  if (plan.wake_tasks) enqueue_tasks_of(ctx, ns, name);
  if (plan.delete_sandbox) ctx.api.remove(res::sandboxes, ns, name);
  if (rebind_pending && (plan.requeue_after.count() == 0 || plan.requeue_after > milliseconds(1000))) return {milliseconds(1000)};
  return {plan.requeue_after};
}

}  // namespace

void note_sandbox_seen(Context& ctx, const json& obj) {
  const json& meta = obj["metadata"];
  bool pending = !obj.contains("status") || !obj["status"].is_object() || obj["status"].value("podName", "").empty();
  std::string phase = obj.contains("status") && obj["status"].is_object() ? obj["status"].value("phase", "") : "";
  if (pending && phase != "Released" && phase != "Failed")
    ctx.first_seen.see(key_of(meta.value("namespace", ""), meta.value("name", "")), ctx.steady_now());
}

void on_sandbox_deleted(Context& ctx, const json& obj) {
  core::Sandbox sb = core::sandbox_from_json(obj);
  const std::string& ns = sb.metadata.namespace_;
  ctx.first_seen.forget(key_of(ns, sb.metadata.name));
  std::string pod = sb.status.pod_name;
  if (pod.empty()) {
    auto mine = ctx.cache.list(res::pods, ns, std::string(labels::kSandbox), sb.metadata.name);
    if (!mine.empty()) pod = (*mine.front())["metadata"].value("name", "");
  }
  try {
    delete_pod(ctx, ns, pod);
  } catch (const Error&) {
    // The garbage collector deletes it through the ownerReference anyway.
  }
  enqueue_tasks_of(ctx, ns, sb.metadata.name);
  ctx.enqueue.pool(key_of(ns, sb.spec.pool_ref), milliseconds(0));
}

Result reconcile_sandbox(Context& ctx, const std::string& ns, const std::string& name) {
  auto obj = ctx.cache.get(res::sandboxes, ns, name);
  if (!obj || pod_is_terminating(*obj)) return {};
  const auto began = ctx.steady_now();
  const core::TimePoint now = ctx.wall_now();
  StageSpans spans;
  // The wait between the watch event and this reconcile (an allocation's
  // first stage; observed only if this reconcile allocates).
  if (auto seen = ctx.first_seen.peek(key_of(ns, name))) spans.add("queue", *seen, began);
  SandboxView view = observe(ctx, std::move(*obj));
  SandboxPlan plan = plan_sandbox(view, now);
  spans.add("plan", began, ctx.steady_now());
  return apply(ctx, view.object, plan, now, spans);
}

}  // namespace arl::op
