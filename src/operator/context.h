#pragma once
// Everything a reconcile function needs, passed explicitly so the
// controllers are plain functions testable over FakeKube.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "core/types.h"
#include "k8s/kube_api.h"
#include "operator/alongside.h"
#include "operator/cache.h"
#include "operator/events.h"
#include "operator/metrics.h"
#include "operator/pool_status_pacing.h"
#include "operator/sandbox_env.h"
#include "operator/sidecar_forker.h"
#include "operator/step_runner.h"

namespace arl::op {

struct OperatorConfig {
  std::string arl_image = "arl:local";
  /// Output kept in Task status per stream (the tail); the full output is
  /// stored in the sandbox under /workspace/.arl/tasks/<task>/.
  size_t status_output_cap = 16 * 1024;
  /// When a pool's changed status is written (operator/pool_status_pacing.h).
  PoolStatusPacing pool_status;
  int create_parallelism = 16;
  /// A run's sandbox is written Bound only when the run is still going after
  /// this long: an `echo` takes ~2 ms, less than a watcher needs to see
  /// Bound, and the write competed with the run's own two (task p50 -1.4 ms).
  std::chrono::milliseconds bound_after{50};
  /// How long a Pending task waits for its sandbox to exist before failing.
  std::chrono::seconds missing_sandbox_grace{30};
};

/// What to reconcile next. Keys are "<namespace>/<name>".
struct Enqueue {
  std::function<void(const std::string& key, std::chrono::milliseconds delay)> pool, sandbox, task;
};

/// Pods handed to a sandbox by this process. Two workers never try the same
/// pod, so allocation conflicts come only from another operator.
class PodClaims {
 public:
  bool try_claim(const std::string& key) {
    std::lock_guard lock(mu_);
    return claimed_.insert(key).second;
  }
  void release(const std::string& key) {
    std::lock_guard lock(mu_);
    claimed_.erase(key);
  }

 private:
  std::mutex mu_;
  std::set<std::string> claimed_;
};

/// When this process first saw each Pending sandbox, on the monotonic clock:
/// allocation latency measured from second-precision API timestamps would
/// read 0 or 1 s for what takes milliseconds. Entries go when the sandbox is
/// allocated or deleted.
class FirstSeen {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  void see(const std::string& key, TimePoint t) {
    std::lock_guard lock(mu_);
    seen_.emplace(key, t);  // keeps the first
  }
  /// When `key` was first seen, and forgets it; nullopt when unseen.
  std::optional<TimePoint> take(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = seen_.find(key);
    if (it == seen_.end()) return std::nullopt;
    TimePoint seen = it->second;
    seen_.erase(it);
    return seen;
  }
  std::optional<TimePoint> peek(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = seen_.find(key);
    if (it == seen_.end()) return std::nullopt;
    return it->second;
  }
  void forget(const std::string& key) {
    std::lock_guard lock(mu_);
    seen_.erase(key);
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return seen_.size();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, TimePoint> seen_;
};

/// The sidecar restart count (pod_state.h sidecar_restarts) at which this
/// process last bound each pod, by pod uid. Only pods bound at a count above
/// 0 have an entry: an absent one reads 0, so the allocation path, where the
/// count is 0, touches nothing, and after an operator restart a pod whose
/// sidecar ever restarted is bound once more (answered `already` when the
/// previous process had done it). Entries go with their pod.
class SidecarBinds {
 public:
  int64_t bound_at(const std::string& pod_uid) const {
    std::lock_guard lock(mu_);
    auto it = counts_.find(pod_uid);
    return it == counts_.end() ? 0 : it->second;
  }
  void bound(const std::string& pod_uid, int64_t restarts) {
    std::lock_guard lock(mu_);
    if (restarts > 0) counts_[pod_uid] = restarts;
    else counts_.erase(pod_uid);
  }
  void forget(const std::string& pod_uid) {
    std::lock_guard lock(mu_);
    counts_.erase(pod_uid);
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return counts_.size();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> counts_;
};

/// Per-pool sidecar tokens, read once from the pool's Secret.
class TokenCache {
 public:
  std::string get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = tokens_.find(key);
    return it == tokens_.end() ? "" : it->second;
  }
  void put(const std::string& key, const std::string& token) {
    std::lock_guard lock(mu_);
    tokens_[key] = token;
  }
  void forget(const std::string& key) {
    std::lock_guard lock(mu_);
    tokens_.erase(key);
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> tokens_;
};

struct Context {
  k8s::KubeApi& api;
  Cache& cache;
  OperatorConfig config;
  StepRunnerFactory runners;
  Metrics& metrics;
  EventRecorder& events;
  Enqueue enqueue;
  /// The allocation handoff to the pod's sidecar (sidecar_binder() in
  /// production; tests record the calls).
  SidecarBinder bind = sidecar_binder();
  /// A fork's copy of its source's workdir, pod to pod (sidecar_forker.h;
  /// tests record the calls).
  SidecarForker fork = sidecar_forker();
  /// Runs a task's execution off the worker (a thread in production; inline in tests).
  std::function<void(std::function<void()>)> spawn = [](std::function<void()> f) { f(); };
  /// Starts work beside the caller and returns the wait for its end: the
  /// allocation's claim goes out alongside its status write (alongside.h;
  /// threaded in production, inline in tests).
  Alongside alongside = inline_alongside();
  PodClaims claims;
  TokenCache tokens;
  std::mutex busy_mu;
  std::set<std::string> busy_sandboxes;  // "<ns>/<sandbox>" with a task executing in this process
  std::set<std::string> running_tasks;   // "<ns>/<task>" executing in this process
  std::map<std::string, PoolStatusClock> pool_status_clocks;  // guarded by busy_mu
  /// Namespace -> when a pod create there was refused because it is being
  /// deleted (guarded by busy_mu): its pools create nothing for a while.
  std::map<std::string, std::chrono::steady_clock::time_point> terminating_namespaces;
  FirstSeen first_seen;  // "<ns>/<sandbox>" -> first sight while Pending
  FirstSeen task_seen;   // "<ns>/<task>" -> first sight while not finished
  SidecarBinds sidecar_binds;
  EnvObjectCache env_objects;  // Secrets and ConfigMaps that sandboxes' spec.env names
  /// Pools ("<ns>/<pool>") whose token Secret this process deleted: their
  /// pods' later events need no second delete. Guarded by busy_mu.
  std::set<std::string> pool_secrets_deleted;
  /// Clocks, replaced in tests so TTL and latency rows need no sleeping.
  std::function<core::TimePoint()> wall_now = [] { return std::chrono::system_clock::now(); };
  std::function<std::chrono::steady_clock::time_point()> steady_now = [] { return std::chrono::steady_clock::now(); };
  /// Waits between retries of a run's outcome writes (task_execution.cpp); tests pass time instantly.
  std::function<void(std::chrono::milliseconds)> sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
};

/// Result of one reconcile: requeue after a delay when time must pass.
struct Result {
  std::chrono::milliseconds requeue_after{0};
};

/// The earlier of two requeues (0: none).
inline Result sooner(Result a, Result b) {
  if (a.requeue_after.count() == 0) return b;
  if (b.requeue_after.count() == 0) return a;
  return {std::min(a.requeue_after, b.requeue_after)};
}

inline std::string key_of(const std::string& ns, const std::string& name) { return ns + "/" + name; }
inline std::pair<std::string, std::string> split_key(const std::string& key) {
  auto slash = key.find('/');
  return {key.substr(0, slash), key.substr(slash + 1)};
}

}  // namespace arl::op
