#pragma once
// The Node object and its Lease: created at start, kept alive while the
// agent runs, as a kubelet does, so the node lifecycle controller never
// marks the node NotReady and evicts its pods.
#include <chrono>
#include <stop_token>

#include "k8s/kube_api.h"
#include "localnode/node_object.h"

namespace arl::localnode {

class NodeRegistration {
 public:
  NodeRegistration(k8s::KubeApi& api, NodeIdentity id, std::chrono::seconds lease_interval);

  const NodeIdentity& identity() const { return id_; }
  /// The log server's port, published in the Node status; set before register_node.
  void set_kubelet_port(int port) { id_.kubelet_port = port; }

  /// Creates the Node (or keeps the existing one), posts its status and
  /// renews the Lease. Throws Error.
  void register_node();
  /// Renews the Lease every lease_interval and reposts the status every
  /// minute until `stop`; failures are logged and retried.
  void heartbeat(std::stop_token stop);

 private:
  void post_status();
  void renew_lease();

  k8s::KubeApi& api_;
  NodeIdentity id_;
  std::chrono::seconds lease_interval_;
};

}  // namespace arl::localnode
