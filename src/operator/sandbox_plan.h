#pragma once
// What a sandbox must do next, decided from what the cache shows and `now`
// alone; sandbox_controller.cpp reads the cache and applies the plan.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.h"
#include "operator/cache.h"
#include "operator/events.h"

namespace arl::op {

/// What the cache shows about one sandbox.
struct SandboxView {
  nlohmann::json object;                      // the Sandbox
  std::optional<nlohmann::json> pod;          // the pod named by status.podName, if cached
  std::vector<Cache::Obj> labelled;           // pods labelled arl.infra.io/sandbox=<name>
  bool pool_exists = false;                   // spec.poolRef's WarmPool
  std::vector<Cache::Obj> idle;               // pods labelled pod-state=ready in the namespace
  /// Read for a Bound sandbox, and a Ready one with an idle TTL: a task of
  /// it executes in this process, or one of its tasks says Running (its run
  /// may resume after a restart).
  bool run_in_progress = false;
  /// Read for a Ready or Bound sandbox only: the sidecar restart count at
  /// which this process last bound its pod (context.h SidecarBinds).
  int64_t sidecar_bound_at = 0;
};

/// A pod to try for allocation write 1 (docs/design.md). Only the pod's
/// name: a burst drains a pool of hundreds of idle pods, and building every
/// candidate's patch body per reconcile would cost more than the one patch
/// that is sent (claim_patch builds it).
struct PodClaim {
  std::string pod;
  bool operator==(const PodClaim&) const = default;
};

/// The claim, a JSON patch: applies only while the pod is still idle (a
/// `test` of its pod-state label), so two operators never take the same pod;
/// labels the pod allocated to the sandbox and makes the sandbox its owner.
/// It tests the label, not the resourceVersion: the node's status writes
/// (probes, conditions) change that without making the pod any less idle,
/// and the claim is sent alongside the status write (sandbox_controller.cpp),
/// where a needless conflict costs a status write to undo.
nlohmann::json claim_patch(const nlohmann::json& sandbox);

/// The status merge patch undoing an allocation whose claim was refused
/// after its status write had been sent (the pod was taken or deleted in the
/// meantime): Pending again, no pod, a condition saying which pod was lost.
nlohmann::json claim_lost_patch(const nlohmann::json& sandbox, const std::string& pod, core::TimePoint now);

/// The allocation handoff to the pod's sidecar (docs/design.md "Sandbox
/// tokens"): after the claim, before the status write that tells clients the
/// sandbox is Ready, so no client ever meets a pod still on the pool token.
struct SidecarBind {
  std::string pod;
  std::string pod_ip;
  std::string pod_uid;
  int64_t restarts = 0;  // the sidecar's restart count it is bound at
  bool operator==(const SidecarBind&) const = default;
};

struct SandboxPlan {
  /// Tried in order; 409 or 404 moves on to the next. The first one won
  /// replaces this plan with plan_allocated(); the fields below apply only
  /// when every claim is lost (or there is none).
  std::vector<PodClaim> claims;
  std::optional<SidecarBind> bind;            // before the status write
  /// The pod's sidecar restarted (restart count != sidecar_bound_at) and is
  /// Ready again: it came back unbound, refusing the sandbox's token and
  /// taking the pool token, so it is bound again. No API write: the count is
  /// in the cached pod status, the last bound count in memory. A pod that is
  /// not Ready yet is retried; one bound to another token is deleted.
  std::optional<SidecarBind> rebind;
  /// The sandbox is Ready on a pod still labelled idle: its claim, sent
  /// alongside the status write, never got an answer (the API server went
  /// away, or the operator restarted in between). Sent again on its own.
  std::optional<PodClaim> reclaim;
  std::optional<core::SandboxStatus> status;  // unset: unchanged, no write
  std::optional<EventSpec> event;             // waits and failures only
  std::string delete_pod;
  bool delete_sandbox = false;                // its TTL passed
  bool enqueue_pool = false;                  // refill, off the sandbox's latency path
  /// The phase changes (Ready, Failed): tasks waiting on this sandbox decide
  /// again. The informer cannot tell them: the status write is put into the
  /// cache at once, so its watch event shows no change of phase.
  bool wake_tasks = false;
  bool allocated = false;                     // count the allocation in the metrics
  std::chrono::milliseconds requeue_after{0};
};

SandboxPlan plan_sandbox(const SandboxView& view, core::TimePoint now);

/// A sandbox's status once a run is over, whatever its outcome: Ready again
/// (keepAlive) or Released (its pod is deleted by the caller), from `after`
/// (the status the run last wrote). Shared by the run's own end
/// (task_execution.cpp) and the plan that takes back a sandbox whose run died.
core::SandboxStatus status_after_run(const core::Sandbox& sb, core::SandboxStatus after, const std::string& last_activity,
                                     core::TimePoint now);

/// Pending -> Ready on `pod` (claimed or adopted): the status write, the
/// pool's refill, the idle TTL from now on.
SandboxPlan plan_allocated(const nlohmann::json& sandbox, const nlohmann::json& pod, core::TimePoint now);

/// Pending -> Failed: its spec.env cannot be resolved (sandbox_env.h) or
/// its fork cannot start or copy (fork_source.h). One status write and a
/// Warning Event with `reason`; the message names the entry and object,
/// never a value.
SandboxPlan plan_allocation_failed(const nlohmann::json& sandbox, const std::string& reason, const std::string& message,
                                 core::TimePoint now);

}  // namespace arl::op
