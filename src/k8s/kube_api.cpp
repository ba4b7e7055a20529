#include "k8s/kube_api.h"

namespace arl::k8s {

std::string Resource::collection_path(const std::string& ns) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) p += "/namespaces/" + ns;
  return p + "/" + plural;
}

std::string Resource::object_path(const std::string& ns, const std::string& name) const {
  return collection_path(ns) + "/" + name;
}

namespace resources {
const Resource pods{"", "v1", "pods", "Pod", true};
const Resource pod_bindings{"", "v1", "bindings", "Binding", true};
const Resource secrets{"", "v1", "secrets", "Secret", true};
const Resource events{"", "v1", "events", "Event", true};
const Resource nodes{"", "v1", "nodes", "Node", false};
const Resource leases{"coordination.k8s.io", "v1", "leases", "Lease", true};
const Resource namespaces{"", "v1", "namespaces", "Namespace", false};
const Resource warm_pools{"arl.infra.io", "v1alpha1", "warmpools", "WarmPool", true};
const Resource sandboxes{"arl.infra.io", "v1alpha1", "sandboxes", "Sandbox", true};
const Resource tasks{"arl.infra.io", "v1alpha1", "tasks", "Task", true};
const Resource crds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false};
}  // namespace resources

}  // namespace arl::k8s
