#pragma once
// The three reconcile functions (SPEC.md). Each reads from ctx.cache,
// writes through ctx.api, and throws on errors the caller should retry with
// backoff.
#include <string>

#include "operator/context.h"
#include "operator/stage_spans.h"

namespace arl::op {

Result reconcile_pool(Context& ctx, const std::string& ns, const std::string& name);
Result reconcile_sandbox(Context& ctx, const std::string& ns, const std::string& name);
Result reconcile_task(Context& ctx, const std::string& ns, const std::string& name);

/// The pool's sidecar token: from memory, else its Secret, else a new Secret.
std::string ensure_pool_token(Context& ctx, const nlohmann::json& pool);

/// The token a sandbox's sidecar expects: its pool's, also after the pool
/// was deleted (from memory or the Secret the pool left behind).
std::string sandbox_pool_token(Context& ctx, const std::string& ns, const std::string& pool, const std::string& sandbox);

/// A sandbox's sidecar tokens: its pool's (accepted until the pod is bound)
/// and its own, derived from that and the sandbox's uid (k8s/sandbox_token.h).
struct SandboxTokens {
  std::string pool;
  std::string sandbox;
};
SandboxTokens sandbox_tokens(Context& ctx, const nlohmann::json& sandbox);

/// The pool is gone: deletes its token Secret once no sandbox holds a pod
/// of it (pool_secret_plan.h). Called by the pool reconcile of a missing pool.
void release_pool_token(Context& ctx, const std::string& ns, const std::string& pool);

/// Starts the allocation-latency clock of a Pending sandbox. Called by the
/// informer's add handler (the initial list included), before the sandbox is
/// queued, so the latency includes the wait in the queue.
void note_sandbox_seen(Context& ctx, const nlohmann::json& sandbox);

/// A sandbox object is gone: delete its pod now rather than waiting for the
/// garbage collector, and let its tasks fail.
void on_sandbox_deleted(Context& ctx, const nlohmann::json& sandbox);

/// Starts a task's latency clock (arl_task_stage_seconds) from its watch event.
void note_task_seen(Context& ctx, const nlohmann::json& task);

/// Runs a task's steps against its sandbox and writes the outcome. Called by
/// reconcile_task through ctx.spawn; public for tests. `spans`: the stages
/// before the run (queue, plan), observed with the run's own.
void execute_task(Context& ctx, nlohmann::json task, nlohmann::json sandbox, StageSpans spans = {});

/// Writes a task's status on condition that the task is still at the
/// resourceVersion t was read at. Decisions are made on cached objects: a
/// decision on a stale view (a run that finished between the cache read and
/// the busy check) gets 409 instead of replacing the newer outcome. Returns
/// false on that conflict; the newer version's watch event enqueues the task.
bool write_task_status_if_current(Context& ctx, const core::Task& t, const nlohmann::json& status);

}  // namespace arl::op
