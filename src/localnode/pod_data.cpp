#include "localnode/pod_data.h"

#include "core/base64.h"

namespace arl::localnode {

namespace {
const k8s::Resource kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};
}  // namespace

std::map<std::string, std::string> decode_data(const std::string& kind, const json& obj) {
  const bool secret = kind == "Secret";
  const auto name = obj.value("metadata", json::object()).value("name", std::string());
  std::map<std::string, std::string> data;
  // Named copies: items() of a temporary would dangle inside the loop.
  const json fields = obj.value("data", json::object());
  for (auto& [k, v] : fields.items()) {
    if (!v.is_string()) continue;
    data[k] = secret ? core::base64_decode(v.get<std::string>(), kind + " " + name + " data." + k) : v.get<std::string>();
  }
  if (!secret) {
    const json binary = obj.value("binaryData", json::object());
    for (auto& [k, v] : binary.items()) {
      if (v.is_string()) data[k] = core::base64_decode(v.get<std::string>(), kind + " " + name + " binaryData." + k);
    }
  }
  return data;
}

PodDataCache::PodDataCache(k8s::KubeApi& api, std::chrono::seconds ttl) : api_(api), ttl_(ttl) {}

DataLookup PodDataCache::lookup_for(const std::string& ns) {
  return [this, ns](const std::string& kind, const std::string& name) { return get(kind, ns, name); };
}

std::optional<std::map<std::string, std::string>> PodDataCache::get(const std::string& kind, const std::string& ns,
                                                                    const std::string& name) {
  const auto key = kind + "/" + ns + "/" + name;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lk(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && now - it->second.fetched < ttl_) return it->second.data;
  }
  auto obj = api_.get(kind == "Secret" ? k8s::resources::secrets : kConfigMaps, ns, name);
  if (!obj) return std::nullopt;
  auto data = decode_data(kind, *obj);
  std::lock_guard lk(mu_);
  entries_[key] = {data, now};
  return data;
}

}  // namespace arl::localnode
