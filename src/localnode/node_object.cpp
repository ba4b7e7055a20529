#include "localnode/node_object.h"

namespace arl::localnode {

std::map<std::string, std::string> node_labels(const NodeIdentity& id) {
  std::map<std::string, std::string> labels = {
      {"kubernetes.io/hostname", id.name}, {"kubernetes.io/os", "linux"}, {"arl.infra.io/localnode", "true"}};
  if (!id.host.arch.empty()) labels["kubernetes.io/arch"] = id.host.arch;
  return labels;
}

std::string memory_quantity(int64_t bytes) { return std::to_string(bytes / 1024) + "Ki"; }

json node_object(const NodeIdentity& id) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata",
           {{"name", id.name},
            {"labels", node_labels(id)},
            {"annotations", {{"arl.infra.io/netns", id.netns}, {"arl.infra.io/pod-cidr", id.pod_cidr}}}}},
          {"spec", {{"podCIDR", id.pod_cidr}, {"podCIDRs", json::array({id.pod_cidr})}}}};
}

json node_status_patch(const NodeIdentity& id, const std::string& now) {
  auto cond = [&](const char* type, const char* status, const char* reason, const char* msg) {
    return json{{"type", type},     {"status", status},          {"reason", reason},
                {"message", msg},   {"lastHeartbeatTime", now}, {"lastTransitionTime", now}};
  };
  json cap = {{"cpu", std::to_string(id.host.cpus)}, {"pods", std::to_string(id.max_pods)}};
  if (id.host.memory_bytes > 0) cap["memory"] = memory_quantity(id.host.memory_bytes);
  return {{"status",
           {{"conditions",
             json::array({cond("Ready", "True", "KubeletReady", "arl localnode is posting ready status"),
                          cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "local node"),
                          cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "local node"),
                          cond("PIDPressure", "False", "KubeletHasSufficientPID", "local node")})},
            {"addresses", json::array({{{"type", "InternalIP"}, {"address", id.host_ip}},
                                       {{"type", "Hostname"}, {"address", id.name}}})},
            {"capacity", cap},
            {"allocatable", cap},
            {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", id.kubelet_port}}}}},
            {"nodeInfo",
             {{"machineID", ""},
              {"systemUUID", ""},
              {"bootID", ""},
              {"kernelVersion", id.host.kernel_version},
              {"osImage", "arl localnode (host processes, not isolated)"},
              {"containerRuntimeVersion", "arl-localnode://0"},
              {"kubeletVersion", "v1.33.13-arl-localnode"},
              {"kubeProxyVersion", ""},
              {"operatingSystem", "linux"},
              {"architecture", id.host.arch}}}}}};
}

}  // namespace arl::localnode
