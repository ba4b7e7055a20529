#include "localnode/node_registration.h"

#include <condition_variable>
#include <mutex>

#include "core/error.h"
#include "core/log.h"
#include "core/types.h"
#include "localnode/pod_status.h"

namespace arl::localnode {

using Clock = std::chrono::steady_clock;

namespace {
// The kubelet's default: the lease says "alive" for 40 s, renewed every 10 s.
constexpr int kLeaseDurationSeconds = 40;
constexpr std::chrono::seconds kStatusInterval{60};
}  // namespace

NodeRegistration::NodeRegistration(k8s::KubeApi& api, NodeIdentity id, std::chrono::seconds lease_interval)
    : api_(api), id_(std::move(id)), lease_interval_(lease_interval) {}

void NodeRegistration::register_node() {
  try {
    api_.create(k8s::resources::nodes, "", node_object(id_));
    log::info("Registered Node", {{"node", id_.name}});
  } catch (const Error& e) {
    if (e.code() != ErrorCode::already_exists) throw;
  }
  post_status();
  renew_lease();
}

void NodeRegistration::post_status() {
  api_.patch(k8s::resources::nodes, "", id_.name, k8s::PatchType::strategic_merge,
             node_status_patch(id_, core::now_rfc3339()), true);
}

void NodeRegistration::renew_lease() {
  json spec = {{"holderIdentity", id_.name},
               {"leaseDurationSeconds", kLeaseDurationSeconds},
               {"renewTime", rfc3339_micro(std::chrono::system_clock::now())}};
  try {
    api_.patch(k8s::resources::leases, "kube-node-lease", id_.name, k8s::PatchType::merge, {{"spec", spec}});
  } catch (const Error& e) {
    if (e.code() != ErrorCode::not_found) throw;
    json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", id_.name}, {"namespace", "kube-node-lease"}}},
                  {"spec", spec}};
    api_.create(k8s::resources::leases, "kube-node-lease", lease);
  }
}

void NodeRegistration::heartbeat(std::stop_token stop) {
  auto next_status = Clock::now() + kStatusInterval;
  std::mutex m;
  std::condition_variable_any cv;
  while (!stop.stop_requested()) {
    std::unique_lock lk(m);
    cv.wait_for(lk, stop, lease_interval_, [] { return false; });
    if (stop.stop_requested()) break;
    try {
      renew_lease();
      if (Clock::now() >= next_status) {
        post_status();
        next_status = Clock::now() + kStatusInterval;
      }
    } catch (const std::exception& e) {
      log::warn("Failed to renew node Lease, retrying", {{"node", id_.name}, {"error", e.what()}});
    }
  }
}

}  // namespace arl::localnode
