#pragma once
// The seam between ARL's logic and Kubernetes: objects are plain JSON (so
// unknown fields of a pod template are never dropped); typed views live in
// core. The real client (rest_client.h) and the in-memory FakeKube
// (fake_kube.h) both implement this interface.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace arl::k8s {

using json = nlohmann::json;

/// A resource type as the API server addresses it.
struct Resource {
  std::string group;    // "" for the core group
  std::string version;  // "v1", "v1alpha1"
  std::string plural;   // "pods", "warmpools"
  std::string kind;     // "Pod", "WarmPool"
  bool namespaced = true;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  /// Collection path, e.g. /apis/arl.infra.io/v1alpha1/namespaces/NS/warmpools
  /// (namespace omitted when ns is empty or the resource is cluster-scoped).
  std::string collection_path(const std::string& ns) const;
  std::string object_path(const std::string& ns, const std::string& name) const;
};

namespace resources {
extern const Resource pods;
extern const Resource pod_bindings;  // pods/binding is POSTed via bind()
extern const Resource secrets;
extern const Resource events;
extern const Resource nodes;
extern const Resource leases;        // coordination.k8s.io/v1
extern const Resource namespaces;
extern const Resource warm_pools;    // arl.infra.io/v1alpha1
extern const Resource sandboxes;
extern const Resource tasks;
extern const Resource crds;          // apiextensions.k8s.io/v1
}  // namespace resources

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;               // 0: no limit
  std::string continue_token;
  std::string resource_version;
};

struct ListResult {
  std::vector<json> items;
  std::string resource_version;    // of the list, to start a watch from
  std::string continue_token;
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;    // start after this version
  bool allow_bookmarks = true;
  std::chrono::seconds timeout{300};  // server-side timeoutSeconds
};

struct WatchEvent {
  enum class Type { added, modified, deleted, bookmark, error };
  Type type;
  json object;
};

enum class PatchType { merge, json_patch, strategic_merge };

struct DeleteOptions {
  std::optional<int64_t> grace_period_seconds;
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::string propagation_policy;  // "", "Background", "Foreground", "Orphan"
};

/// Errors: every method throws arl::Error with the code mapped from the
/// API server's Status (NotFound -> not_found, 409 on update -> conflict,
/// 409 on create -> already_exists, 422 -> invalid with causes in the message,
/// 410 -> gone, ...). The message names the object: `pods "p1" not found`.
class KubeApi {
 public:
  virtual ~KubeApi() = default;

  /// nullopt when the object does not exist.
  virtual std::optional<json> get(const Resource& r, const std::string& ns, const std::string& name) = 0;
  virtual ListResult list(const Resource& r, const std::string& ns, const ListOptions& opts = {}) = 0;
  virtual json create(const Resource& r, const std::string& ns, const json& obj) = 0;
  /// PUT; obj.metadata.resourceVersion makes it conditional (conflict on mismatch).
  virtual json update(const Resource& r, const std::string& ns, const json& obj) = 0;
  /// PUT to the status subresource.
  virtual json update_status(const Resource& r, const std::string& ns, const json& obj) = 0;
  virtual json patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type,
                     const json& patch, bool status_subresource = false) = 0;
  /// false when the object was already gone.
  virtual bool remove(const Resource& r, const std::string& ns, const std::string& name,
                      const DeleteOptions& opts = {}) = 0;
  /// POST pods/NAME/binding.
  virtual void bind_pod(const std::string& ns, const std::string& pod, const std::string& node) = 0;

  /// Streams events to on_event until it returns false, the server ends the
  /// stream, or `stop` is requested (then it returns within about a second).
  /// Returns normally in all three cases. Throws arl::Error{gone} when
  /// opts.resource_version is too old (the caller re-lists).
  virtual void watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
                     const std::function<bool(const WatchEvent&)>& on_event, std::stop_token stop = {}) = 0;
};

}  // namespace arl::k8s
