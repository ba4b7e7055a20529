#pragma once
// List+watch cache of one resource (optionally one namespace and a label
// selector), read by controllers instead of the API server.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "k8s/kube_api.h"

namespace arl::k8s {

/// Thread-safe objects by namespace/name with an index by label key=value.
class Store {
 public:
  /// Applied to every object before it is stored (e.g. to drop fields no
  /// reader needs); set before the store is used.
  void set_transform(std::function<void(json&)> f) { transform_ = std::move(f); }
  std::optional<json> get(const std::string& ns, const std::string& name) const;
  std::vector<json> list(const std::string& ns = "") const;
  /// Objects in `ns` ("" = all) whose label `key` equals `value`.
  std::vector<json> list(const std::string& ns, const std::string& key, const std::string& value) const;
  size_t size() const;
  /// The same without copying: shared, immutable snapshots of the objects
  /// (what controllers scanning hundreds of pods per reconcile need).
  using Ptr = std::shared_ptr<const json>;
  std::vector<Ptr> list_ptrs(const std::string& ns = "") const;
  std::vector<Ptr> list_ptrs(const std::string& ns, const std::string& key, const std::string& value) const;

  /// Applies an object a write returned, at once, so a controller reads its
  /// own write before the watch delivers it. Ignored when the cache already
  /// holds a newer resourceVersion or saw the object deleted at a newer one.
  /// Returns whether it was applied.
  bool upsert(const json& obj);

  // Used by the informer.
  /// Stores obj unless older than the cached one; returns the previous object
  /// (null when there was none), shared, not copied.
  Ptr apply(const json& obj);
  Ptr erase(const json& obj);
  /// Replaces everything (after a list); returns what was removed.
  std::vector<json> replace(std::vector<json> objs);

  static uint64_t rv_of(const json& obj);  // 0 when missing or not a number

 private:
  using Key = std::pair<std::string, std::string>;  // ns, name
  void index_locked(const Key& k, const json& obj, bool add);
  Ptr prepare(json obj) const;
  Ptr put_locked(const Key& k, Ptr obj);

  std::function<void(json&)> transform_;
  mutable std::shared_mutex mu_;
  std::map<Key, std::shared_ptr<const json>> objs_;
  std::map<std::string, std::set<Key>> by_label_;  // "key=value" -> objects
  std::map<Key, uint64_t> deleted_rv_;             // tombstones for upsert
};

struct InformerOptions {
  std::string ns;                   // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  std::chrono::seconds watch_timeout{300};
  std::chrono::milliseconds retry_backoff{500};  // after a failed list/watch
  int64_t page_size = 500;
  /// Trims objects before they are cached (see Store::set_transform).
  std::function<void(json&)> transform;
};

class Informer {
 public:
  using ObjFn = std::function<void(const json&)>;
  using UpdateFn = std::function<void(const json& old_obj, const json& new_obj)>;

  Informer(KubeApi& api, Resource r, InformerOptions opts = {});
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  /// Set handlers before start(); they run on the informer thread. After a
  /// re-list, objects that changed get on_update, vanished ones on_delete.
  void on_add(ObjFn f) { on_add_ = std::move(f); }
  void on_update(UpdateFn f) { on_update_ = std::move(f); }
  void on_delete(ObjFn f) { on_delete_ = std::move(f); }

  void start();
  void stop();
  bool has_synced() const { return synced_.load(); }
  bool wait_for_sync(std::chrono::milliseconds timeout) const;

  Store& store() { return store_; }
  const Store& store() const { return store_; }
  const Resource& resource() const { return res_; }
  /// Last resourceVersion seen (list, event or bookmark).
  std::string resource_version() const;
  /// Lists done so far (1 after a normal start; more after Gone).
  int list_count() const { return lists_.load(); }

 private:
  void run(std::stop_token st);
  void relist(std::stop_token st);
  void sleep(std::stop_token st, std::chrono::milliseconds d);

  KubeApi& api_;
  Resource res_;
  InformerOptions opts_;
  Store store_;
  ObjFn on_add_, on_delete_;
  UpdateFn on_update_;
  std::atomic<bool> synced_{false};
  std::atomic<int> lists_{0};
  mutable std::mutex mu_;
  mutable std::condition_variable_any cv_;
  std::string rv_;
  // Objects handlers were told about (informer thread only). Kept apart from
  // the store because upsert() may put an object there before the watch
  // delivers it, and handlers must still get on_add for it.
  std::set<std::pair<std::string, std::string>> known_;
  std::jthread thread_;
};

}  // namespace arl::k8s
