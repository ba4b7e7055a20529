#pragma once
// An in-memory KubeApi for unit tests of controllers. It keeps the API
// server's rules that controllers depend on: resourceVersion conflicts,
// AlreadyExists, label/field selectors, merge and JSON patch, the status
// subresource (update ignores status, update_status changes only status),
// generation bumps on spec changes, and watches (with replay from a
// resourceVersion, and Gone once the history is compacted).
// Unlike a real cluster, delete removes at once (no finalizers/grace) and
// create drops `status` for kinds with a status subresource, as the server does.
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "k8s/kube_api.h"

namespace arl::k8s {

class FakeKube : public KubeApi {
 public:
  FakeKube();
  ~FakeKube() override;

  std::optional<json> get(const Resource& r, const std::string& ns, const std::string& name) override;
  ListResult list(const Resource& r, const std::string& ns, const ListOptions& opts = {}) override;
  json create(const Resource& r, const std::string& ns, const json& obj) override;
  json update(const Resource& r, const std::string& ns, const json& obj) override;
  json update_status(const Resource& r, const std::string& ns, const json& obj) override;
  json patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type, const json& patch,
             bool status_subresource = false) override;
  bool remove(const Resource& r, const std::string& ns, const std::string& name,
              const DeleteOptions& opts = {}) override;
  void bind_pod(const std::string& ns, const std::string& pod, const std::string& node) override;
  void watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
             const std::function<bool(const WatchEvent&)>& on_event, std::stop_token stop = {}) override;

  /// One successful write as the client sent it.
  struct Write {
    std::string verb;      // create | update | update_status | patch | patch_status | delete | bind
    std::string resource;  // plural: "pods", "sandboxes"
    std::string ns;
    std::string name;
    json body;             // the object or the patch sent; null for delete
    /// "verb resource/name", the form tests list expected writes in.
    std::string summary() const { return verb + " " + resource + "/" + name; }
  };
  /// Every successful write since the last reset_counters(), in order.
  std::vector<Write> write_log() const;
  /// write_log() as summaries.
  std::vector<std::string> write_summaries() const;

  /// Writes per verb: "create", "update", "update_status", "patch",
  /// "patch_status", "delete", "bind". Failed writes are not counted.
  std::map<std::string, int> writes() const;
  int writes(const std::string& verb) const;
  int total_writes() const;
  /// Writes per verb and plural, e.g. writes("patch", "pods").
  int writes(const std::string& verb, const std::string& plural) const;
  /// Clears the counters and the write log.
  void reset_counters();

  /// Called before every call with (verb, resource, ns, name); throw from it
  /// to inject a failure. verbs: the write verbs above plus "get", "list", "watch".
  using Hook = std::function<void(const std::string& verb, const Resource& r, const std::string& ns,
                                  const std::string& name)>;
  void set_hook(Hook hook);

  /// Forget the event history: a watch from an older resourceVersion gets Gone.
  void compact();
  /// End every active watch as a server closing its streams would.
  void close_watches();
  /// Send a BOOKMARK at the current resourceVersion to active watches.
  void send_bookmarks();
  /// Active watch streams (to wait until an informer is watching).
  int active_watches() const;
  std::string current_resource_version() const;

 private:
  struct Key {
    std::string res;  // group/plural
    std::string ns;
    std::string name;
    auto operator<=>(const Key&) const = default;
  };
  struct Event {
    uint64_t rv;
    std::string res;
    WatchEvent::Type type;
    json object;
  };
  struct Watcher;

  json put_locked(const Resource& r, const std::string& ns, json obj, const std::string& verb, bool status_only,
                  const json& body);
  void count_locked(const std::string& verb, const Resource& r, const std::string& ns, const std::string& name,
                    const json& body);
  void hook(const std::string& verb, const Resource& r, const std::string& ns, const std::string& name);
  static std::string res_key(const Resource& r) { return r.group + "/" + r.plural; }

  mutable std::mutex mu_;
  std::map<Key, json> objects_;
  uint64_t rv_ = 1000;
  uint64_t uid_ = 0;
  uint64_t oldest_rv_ = 1000;  // history holds every event after this rv
  std::deque<Event> history_;
  std::list<Watcher*> watchers_;
  std::map<std::string, int> writes_;
  std::map<std::string, int> writes_by_res_;
  std::vector<Write> log_;
  Hook hook_;
};

}  // namespace arl::k8s
