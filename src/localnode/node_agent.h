#pragma once
// `arl localnode`: a node agent for machines without a kubelet. LOCAL USE
// ONLY and NOT ISOLATED: pods run as host processes (as root), sharing one
// network namespace of the agent's and each having its own mount namespace
// for its volumes. It registers a Node, binds the unscheduled pods that fit
// it, runs each pod's first container, reports status, and finishes
// graceful deletion as a kubelet would.
#include <chrono>
#include <memory>
#include <stop_token>
#include <string>

#include "k8s/kube_api.h"

namespace arl::localnode {

struct AgentOptions {
  std::string node_name = "local-node";
  std::string netns = "arl-node0";
  std::string pod_cidr = "198.18.0.0/16";
  std::string state_dir = "/tmp/arl-localnode";
  std::string arl_binary;  // empty: this executable
  int workers = 16;        // API writes are the bottleneck: several in flight
  int max_pods = 0;        // reported capacity; 0: every address of the pod CIDR
  std::chrono::seconds lease_interval{10};
  std::chrono::seconds max_grace{2};
  /// How long a pod may take to pass its readiness probe before Running is
  /// reported without Ready (one write more, but the phase is not held back).
  std::chrono::milliseconds ready_wait{1000};
};

class NodeAgent {
 public:
  NodeAgent(k8s::KubeApi& api, AgentOptions opts);
  ~NodeAgent();
  NodeAgent(const NodeAgent&) = delete;
  NodeAgent& operator=(const NodeAgent&) = delete;

  /// Sets up the network, registers the node, serves until `stop`, then
  /// kills every pod process and removes the network. Throws Error when the
  /// setup fails (after undoing what it did).
  void run(std::stop_token stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arl::localnode
