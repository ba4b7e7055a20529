#pragma once
#include <map>

#include "k8s/informer.h"
#include "operator/cache.h"

namespace arl::op {

/// Cache over one informer per resource (plural -> informer).
class InformerCache : public Cache {
 public:
  void add(k8s::Informer& inf) { informers_[inf.resource().plural] = &inf; }
  std::optional<nlohmann::json> get(const k8s::Resource& r, const std::string& ns, const std::string& name) override {
    return store(r).get(ns, name);
  }
  std::vector<Obj> list(const k8s::Resource& r, const std::string& ns, const std::string& key,
                        const std::string& value) override {
    return key.empty() ? store(r).list_ptrs(ns) : store(r).list_ptrs(ns, key, value);
  }
  void upsert(const k8s::Resource& r, const nlohmann::json& obj) override { store(r).upsert(obj); }

 private:
  k8s::Store& store(const k8s::Resource& r) { return informers_.at(r.plural)->store(); }
  std::map<std::string, k8s::Informer*> informers_;
};

}  // namespace arl::op
