#include <algorithm>
#include <atomic>
#include <future>
#include <vector>

#include <fmt/format.h>

#include "core/base64.h"
#include "core/error.h"
#include "core/json_view.h"
#include "core/names.h"
#include "core/types.h"
#include "k8s/kubeconfig.h"
#include "k8s/sandbox_token.h"
#include "operator/controllers.h"
#include "operator/pod_builder.h"
#include "operator/pod_state.h"
#include "operator/pool_secret_plan.h"
#include "operator/pool_status_pacing.h"
#include "operator/pool_status_plan.h"

namespace arl::op {

using nlohmann::json;

namespace res = k8s::resources;

namespace {

std::string read_token(const json& secret) {
  if (secret.contains("data") && secret["data"].contains(kPoolSecretKey))
    return core::base64_decode(secret["data"][std::string(kPoolSecretKey)].get<std::string>(), "secret data");
  if (secret.contains("stringData")) return secret["stringData"].value(std::string(kPoolSecretKey), "");
  return "";
}

std::string checked(const std::string& token, const std::string& ns, const std::string& pool) {
  if (token.empty())
    throw Error(ErrorCode::invalid, fmt::format("secrets \"{}\" in namespace {} has no key \"{}\": delete it and the operator recreates it",
                                                pool_secret_name(pool), ns, kPoolSecretKey));
  return token;
}

// Secrets made before the token outlived its pool are owned by the pool:
// drop that owner once, or the garbage collector deletes the token together
// with the pool under sandboxes that still use it.
void disown(Context& ctx, const json& secret) {
  const json& meta = secret["metadata"];
  if (!meta.contains("ownerReferences") || meta["ownerReferences"].empty()) return;
  ctx.api.patch(res::secrets, meta.value("namespace", ""), meta.value("name", ""), k8s::PatchType::merge,
                json{{"metadata", {{"ownerReferences", nullptr}}}});
}

}  // namespace

std::string ensure_pool_token(Context& ctx, const json& pool) {
  const std::string ns = pool["metadata"].value("namespace", "");
  const std::string name = pool["metadata"].value("name", "");
  const std::string key = key_of(ns, name);
  if (auto t = ctx.tokens.get(key); !t.empty()) return t;
  {
    std::lock_guard lock(ctx.busy_mu);
    ctx.pool_secrets_deleted.erase(key);
  }
  std::string token;
  if (auto secret = ctx.api.get(res::secrets, ns, pool_secret_name(name))) {
    token = read_token(*secret);
    disown(ctx, *secret);
  } else {
    token = random_token();
    try {
      ctx.api.create(res::secrets, ns, build_pool_secret(pool, token));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::already_exists) throw;
      auto again = ctx.api.get(res::secrets, ns, pool_secret_name(name));
      token = again ? read_token(*again) : "";
    }
  }
  ctx.tokens.put(key, checked(token, ns, name));
  return token;
}

std::string sandbox_pool_token(Context& ctx, const std::string& ns, const std::string& pool, const std::string& sandbox) {
  if (auto obj = ctx.cache.get(res::warm_pools, ns, pool); obj && !pod_is_terminating(*obj)) return ensure_pool_token(ctx, *obj);
  // The pool is gone: its sandboxes keep working on the token it left.
  const std::string key = key_of(ns, pool);
  if (auto t = ctx.tokens.get(key); !t.empty()) return t;
  auto secret = ctx.api.get(res::secrets, ns, pool_secret_name(pool));
  if (!secret)
    throw Error(ErrorCode::not_found,
                fmt::format("sandbox \"{}\": warmpool \"{}\" is gone and so is its token, secrets \"{}\" in namespace {}: "
                            "the sidecar cannot be called; delete the sandbox and create one on a live pool",
                            sandbox, pool, pool_secret_name(pool), ns));
  std::string token = checked(read_token(*secret), ns, pool);
  ctx.tokens.put(key, token);
  return token;
}

SandboxTokens sandbox_tokens(Context& ctx, const json& sandbox) {
  const json& meta = sandbox.at("metadata");
  const std::string ns = meta.value("namespace", "");
  const std::string pool = sandbox.contains("spec") ? sandbox["spec"].value("poolRef", "") : "";
  // Memory first: this runs on the allocation path, where copying the pool
  // object out of the cache costs more than the lookup.
  std::string pool_token = ctx.tokens.get(key_of(ns, pool));
  if (pool_token.empty()) pool_token = sandbox_pool_token(ctx, ns, pool, meta.value("name", ""));
  std::string own = k8s::sandbox_token(pool_token, meta.value("uid", ""));
  return {std::move(pool_token), std::move(own)};
}

void release_pool_token(Context& ctx, const std::string& ns, const std::string& pool) {
  const std::string key = key_of(ns, pool);
  {
    std::lock_guard lock(ctx.busy_mu);
    if (ctx.pool_secrets_deleted.count(key)) return;
  }
  if (pool_token_in_use(pool, ctx.cache.list(res::sandboxes, ns))) return;  // the last one's release enqueues us again
  // Only a Secret the operator made (it carries the pool label): pods labelled
  // with a pool that never existed must not cost anyone a Secret of that name.
  if (auto secret = ctx.api.get(res::secrets, ns, pool_secret_name(pool));
      secret && pod_label(*secret, labels::kWarmPool) == pool) {
    k8s::DeleteOptions opts;
    opts.precondition_uid = (*secret)["metadata"].value("uid", "");  // not a Secret recreated since the GET
    try {
      ctx.api.remove(res::secrets, ns, pool_secret_name(pool), opts);  // false: already gone
    } catch (const Error& e) {
      if (e.code() != ErrorCode::conflict) throw;  // conflict: a new pool made a new one
    }
  }
  ctx.tokens.forget(key);
  std::lock_guard lock(ctx.busy_mu);
  ctx.pool_secrets_deleted.insert(key);
}

namespace {

// A refused pod create is retried at this pace: often enough to pick up a
// fixed template or quota, rarely enough not to load the API server.
constexpr std::chrono::seconds kCreateRetry{10};
// A deferred refill is looked at again this soon even without a pod event:
// the claim that drained the queue may have been seen before its sandbox's
// status reached the cache.
constexpr std::chrono::milliseconds kDeferredRefillRecheck{100};
// A namespace being deleted refuses every pod create (403), and each of its
// pods' deletions would wake its pools to try again: hundreds of refused
// creates per namespace deletion. After one refusal its pools create nothing
// for this long (a namespace recreated under the same name meanwhile gets its
// pods that much later).
constexpr std::chrono::seconds kTerminatingNamespaceHold{5};

// How long the pools of `ns` must still hold their creates (0: none).
std::chrono::milliseconds terminating_hold(Context& ctx, const std::string& ns) {
  std::lock_guard lock(ctx.busy_mu);
  auto it = ctx.terminating_namespaces.find(ns);
  if (it == ctx.terminating_namespaces.end()) return std::chrono::milliseconds(0);
  const auto left = it->second + kTerminatingNamespaceHold - ctx.steady_now();
  if (left <= std::chrono::steady_clock::duration::zero()) {
    ctx.terminating_namespaces.erase(it);
    return std::chrono::milliseconds(0);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(left) + std::chrono::milliseconds(1);
}

// The pool's sandboxes still waiting for a pod (defer_refill).
int64_t waiting_sandboxes(Context& ctx, const std::string& ns, const std::string& pool) {
  int64_t n = 0;
  for (const auto& ptr : ctx.cache.list(res::sandboxes, ns)) {
    const json& sb = *ptr;
    if (pod_is_terminating(sb) || !sb.contains("spec") || sb["spec"].value("poolRef", "") != pool) continue;
    const json& status = core::object_at(sb, "status");
    const std::string phase = core::string_at(status, "phase");
    if (core::string_at(status, "podName").empty() && phase != "Failed" && phase != "Released") ++n;
  }
  return n;
}

void create_pods(Context& ctx, const json& pool, int64_t count) {
  const std::string ns = pool["metadata"].value("namespace", "");
  PodBuildOptions opts{ctx.config.arl_image, ""};
  // Fan out: a cold pool of 200 would otherwise take 200 sequential round trips.
  int64_t parallel = std::clamp<int64_t>(count, 1, ctx.config.create_parallelism);
  std::vector<std::future<void>> workers;
  std::atomic<int64_t> next{0};
  std::mutex err_mu;
  std::atomic<bool> failed{false};
  Error first_error(ErrorCode::internal, "");
  for (int64_t w = 0; w < parallel; ++w) {
    workers.push_back(std::async(std::launch::async, [&] {
      // The first failure stops the fan-out: the rest would fail alike
      // (quota, a terminating namespace) and only load the API server.
      while (!failed && next.fetch_add(1) < count) {
        for (int attempt = 0; attempt < 3; ++attempt) {
          try {
            json created = ctx.api.create(res::pods, ns, build_pool_pod(pool, opts));
            ctx.cache.upsert(res::pods, created);
            ctx.metrics.inc("arl_pods_created_total");
            break;
          } catch (const Error& e) {
            if (e.code() == ErrorCode::already_exists) continue;  // name clash: new suffix
            std::lock_guard lock(err_mu);
            if (!failed) first_error = e;
            failed = true;
            break;
          }
        }
      }
    }));
  }
  for (auto& w : workers) w.get();
  if (failed) throw Error(first_error.code(), std::string("creating pool pods: ") + first_error.what());
}

}  // namespace

Result reconcile_pool(Context& ctx, const std::string& ns, const std::string& name) {
  auto obj = ctx.cache.get(res::warm_pools, ns, name);
  if (!obj) {
    {
      std::lock_guard lock(ctx.busy_mu);
      ctx.pool_status_clocks.erase(key_of(ns, name));
    }
    release_pool_token(ctx, ns, name);
    return {};
  }
  if (pod_is_terminating(*obj)) return {};
  const json& pool = *obj;
  core::WarmPool wp = core::warm_pool_from_json(pool);
  const int64_t replicas = std::max<int64_t>(0, wp.spec.replicas.value_or(0));

  ensure_pool_token(ctx, pool);

  auto pods = ctx.cache.list(res::pods, ns, std::string(labels::kWarmPool), name);
  PoolPlan plan = plan_pool(replicas, pods);
  defer_refill(plan, waiting_sandboxes(ctx, ns, name));
  for (const auto& pod_name : plan.to_delete) {
    k8s::DeleteOptions opts;
    opts.grace_period_seconds = 0;
    ctx.api.remove(res::pods, ns, pod_name, opts);
  }
  std::string create_error;
  if (plan.to_create > 0) {
    if (auto hold = terminating_hold(ctx, ns); hold.count() > 0) return {hold};
    try {
      create_pods(ctx, pool, plan.to_create);
    } catch (const Error& e) {
      // The namespace is going away and takes the pool with it: nothing to
      // retry, and nothing to try again soon.
      if (e.code() == ErrorCode::forbidden && std::string(e.what()).find("being terminated") != std::string::npos) {
        std::lock_guard lock(ctx.busy_mu);
        ctx.terminating_namespaces[ns] = ctx.steady_now();
        return {};
      }
      // Refused (admission, quota, an invalid template): the pool says why
      // instead of retrying silently; a fixed template or quota is picked up
      // by the next try.
      if (e.code() != ErrorCode::invalid && e.code() != ErrorCode::forbidden) throw;
      create_error = e.what();
    }
  }

  core::WarmPoolStatus st = plan_pool_status(wp, plan, ctx.wall_now(), create_error);
  ctx.metrics.set("arl_pool_ready_replicas", fmt::format("namespace=\"{}\",pool=\"{}\"", ns, name), static_cast<double>(plan.ready));
  ctx.metrics.set("arl_pool_allocated_replicas", fmt::format("namespace=\"{}\",pool=\"{}\"", ns, name),
                  static_cast<double>(plan.allocated));
  auto write_status = [&] {
    json updated = ctx.api.patch(res::warm_pools, ns, name, k8s::PatchType::merge, json{{"status", core::to_json(st)}}, true);
    ctx.cache.upsert(res::warm_pools, updated);
  };
  if (!create_error.empty()) {
    if (st == wp.status) return {kCreateRetry};
    ctx.events.record(pool, EventSpec{"Warning", "PodCreateFailed", create_error});
    write_status();
    return {kCreateRetry};
  }
  const Result deferred{plan.deferred > 0 ? kDeferredRefillRecheck : std::chrono::milliseconds(0)};
  const auto now = ctx.steady_now();
  {
    std::lock_guard lock(ctx.busy_mu);
    PoolStatusClock& clock = ctx.pool_status_clocks[key_of(ns, name)];
    observe_pool_status(clock, plan.allocated, st != wp.status, now);
    if (st == wp.status) return deferred;
    const auto due = pool_status_due(clock, ctx.config.pool_status);
    if (now < due)
      return sooner(deferred, {std::chrono::duration_cast<std::chrono::milliseconds>(due - now) + std::chrono::milliseconds(1)});
    pool_status_written(clock, now);
  }
  write_status();
  return deferred;
}

}  // namespace arl::op
