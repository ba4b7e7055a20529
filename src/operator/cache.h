#pragma once
// What controllers read. In production an informer-backed cache (no API
// round trip on reads); in unit tests a pass-through to the in-memory
// FakeKube. Controllers apply their own writes with upsert() so the next
// reconcile never acts on a state older than what it just wrote. Deletions
// need no such step: they arrive through the watch, and deleting an object
// again before then finds it gone (KubeApi::remove returns false).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k8s/kube_api.h"

namespace arl::op {

class Cache {
 public:
  /// Shared, immutable snapshots: listing never copies objects.
  using Obj = std::shared_ptr<const nlohmann::json>;
  virtual ~Cache() = default;
  virtual std::optional<nlohmann::json> get(const k8s::Resource& r, const std::string& ns, const std::string& name) = 0;
  /// Objects of `r` in `ns` ("" = all) with label key=value (key "" = all).
  virtual std::vector<Obj> list(const k8s::Resource& r, const std::string& ns, const std::string& label_key = "",
                                const std::string& label_value = "") = 0;
  virtual void upsert(const k8s::Resource& r, const nlohmann::json& obj) = 0;
};

/// Reads straight from the API (used with FakeKube in unit tests).
class PassThroughCache : public Cache {
 public:
  explicit PassThroughCache(k8s::KubeApi& api) : api_(api) {}
  std::optional<nlohmann::json> get(const k8s::Resource& r, const std::string& ns, const std::string& name) override {
    return api_.get(r, ns, name);
  }
  std::vector<Obj> list(const k8s::Resource& r, const std::string& ns, const std::string& key,
                        const std::string& value) override {
    k8s::ListOptions opts;
    if (!key.empty()) opts.label_selector = key + "=" + value;
    std::vector<Obj> out;
    for (auto& item : api_.list(r, ns, opts).items) out.push_back(std::make_shared<const nlohmann::json>(std::move(item)));
    return out;
  }
  void upsert(const k8s::Resource&, const nlohmann::json&) override {}

 private:
  k8s::KubeApi& api_;
};

}  // namespace arl::op
