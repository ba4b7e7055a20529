#pragma once
// The Secrets and ConfigMaps a pod's env refers to, fetched on demand and
// cached briefly: pods of one pool all read the same pool Secret, and a
// burst of them must not turn into a burst of GETs on the hot path.
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "k8s/kube_api.h"
#include "localnode/pod_plan.h"

namespace arl::localnode {

/// The decoded data of a Secret (base64 in `data`) or ConfigMap (`data` as
/// is, `binaryData` base64). Throws Error{invalid} naming the key on bad base64.
std::map<std::string, std::string> decode_data(const std::string& kind, const json& obj);

class PodDataCache {
 public:
  explicit PodDataCache(k8s::KubeApi& api, std::chrono::seconds ttl = std::chrono::seconds(30));

  /// A lookup for plan_pod in namespace `ns`. Only objects that exist are
  /// cached: a missing one may be created any moment and the pod waits for it.
  DataLookup lookup_for(const std::string& ns);

 private:
  std::optional<std::map<std::string, std::string>> get(const std::string& kind, const std::string& ns,
                                                        const std::string& name);

  struct Entry {
    std::map<std::string, std::string> data;
    std::chrono::steady_clock::time_point fetched;
  };
  k8s::KubeApi& api_;
  std::chrono::seconds ttl_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // "Kind/ns/name"
};

}  // namespace arl::localnode
