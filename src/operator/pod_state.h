#pragma once
// Questions the controllers ask about a pod, answered from its JSON.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arl::op {

bool pod_is_ready(const nlohmann::json& pod);        // condition Ready=True, not terminating
bool pod_is_terminating(const nlohmann::json& pod);  // deletionTimestamp set
bool pod_has_failed(const nlohmann::json& pod);      // phase Failed or Succeeded: it will never serve again
bool pod_is_idle(const nlohmann::json& pod);         // pod-state=ready and not terminating (ready or starting)
std::string pod_label(const nlohmann::json& pod, std::string_view key);
std::string pod_ip(const nlohmann::json& pod);
/// How often the kubelet restarted the container the sidecar runs in (the
/// template's first container, pod_builder.cpp): status.containerStatuses'
/// restartCount of the container named by spec.containers[0]; 0 when not
/// reported.
int64_t sidecar_restarts(const nlohmann::json& pod);

/// What the operator's pod cache keeps of a pod: identity, labels, owners,
/// phase, IP, the Ready condition and what sidecar_restarts() reads. The rest
/// (the spec with the injected containers, the other container statuses,
/// annotations) is most of a pod's size and read by no controller.
void trim_cached_pod(nlohmann::json& pod);

/// What a pool must do to get back to `replicas` idle pods.
struct PoolPlan {
  int64_t to_create = 0;
  int64_t deferred = 0;  // refill pods held back while allocations are queued (defer_refill)
  std::vector<std::string> to_delete;  // idle pods: failed ones first, then surplus (not-ready first, newest first)
  int64_t ready = 0;      // idle and Ready
  int64_t idle = 0;       // idle, ready or starting
  int64_t allocated = 0;
  int64_t total = 0;      // every live pod of the pool
};

/// Pure arithmetic over the pool's pods (as cached): allocated pods never
/// count toward replicas; only idle pods are removed on scale-down; failed
/// idle pods are replaced.
PoolPlan plan_pool(int64_t replicas, const std::vector<std::shared_ptr<const nlohmann::json>>& pods);

/// Allocations queued on the pool (`waiting`: its sandboxes with no pod yet)
/// come first. A refill pod costs the API server three writes (the create,
/// the node's binding and status) beside an allocation's two, on the same
/// CPUs, so while sandboxes wait the pool creates only the pods they lack
/// (waiting - idle) and holds back the rest of its refill (`deferred`) until
/// the queue has drained.
void defer_refill(PoolPlan& plan, int64_t waiting);

}  // namespace arl::op
