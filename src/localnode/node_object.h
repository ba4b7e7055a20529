#pragma once
// Pure builders of the Node this agent registers and the status it posts.
// The labels built here are also what a pod's nodeSelector is matched
// against (pod_decision.h), so the two can never disagree.
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "localnode/host_info.h"

namespace arl::localnode {

using json = nlohmann::json;

struct NodeIdentity {
  std::string name;
  std::string netns;
  std::string pod_cidr;  // "198.18.0.0/16"
  std::string host_ip;   // InternalIP: the host end of the veth
  int max_pods = 0;
  HostInfo host;
  int kubelet_port = 0;  // where the log server listens on host_ip; 0: no logs served
};

/// kubernetes.io/hostname, /os, /arch (only with a known arch) and arl.infra.io/localnode.
std::map<std::string, std::string> node_labels(const NodeIdentity& id);

/// The Node to create: labels, annotations naming the netns and CIDR, spec.podCIDR.
json node_object(const NodeIdentity& id);

/// {"status": ...}: Ready and no pressure, addresses, capacity = allocatable
/// from the host, nodeInfo; `now` stamps the conditions.
json node_status_patch(const NodeIdentity& id, const std::string& now);

/// Kubernetes' quantity for a byte count: "<n>Ki", exact, as the kubelet writes it.
std::string memory_quantity(int64_t bytes);

}  // namespace arl::localnode
