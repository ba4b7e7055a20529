#include "k8s/fake_kube.h"

#include <random>

#include "core/types.h"
#include "k8s/label_selector.h"
#include "k8s/status_error.h"

namespace arl::k8s {
namespace {

constexpr size_t kHistoryLimit = 10000;

// Kinds whose status is only written through the status subresource.
bool has_status_subresource(const Resource& r) {
  static const std::set<std::string> without = {"secrets", "configmaps", "events", "leases", "serviceaccounts",
                                                "bindings"};
  return !without.count(r.plural);
}

std::string meta_str(const json& obj, const char* f) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  const auto& m = obj["metadata"];
  return m.contains(f) && m[f].is_string() ? m[f].get<std::string>() : "";
}

json labels_of(const json& obj) {
  if (obj.contains("metadata") && obj["metadata"].contains("labels")) return obj["metadata"]["labels"];
  return json();
}

std::string obj_ref(const Resource& r, const std::string& name) {
  return qualified_plural(r) + " \"" + name + "\"";
}

Error conflict(const Resource& r, const std::string& name) {
  return Error(ErrorCode::conflict, "Operation cannot be fulfilled on " + obj_ref(r, name) +
                                        ": the object has been modified; please apply your changes to the latest version and try again");
}

std::string random_suffix() {
  static thread_local std::mt19937 rng(std::random_device{}());
  static const char* alphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string s;
  for (int i = 0; i < 5; ++i) s += alphabet[rng() % 27];
  return s;
}

}  // namespace

struct FakeKube::Watcher {
  std::string res;
  std::string ns;
  LabelSelector labels;
  FieldSelector fields;
  std::deque<WatchEvent> queue;
  bool closed = false;
  std::condition_variable_any cv;

  bool matches(const json& obj) const {
    if (!ns.empty() && meta_str(obj, "namespace") != ns) return false;
    return labels.matches(labels_of(obj)) && fields.matches(obj);
  }
  // Objects moving in or out of a selector appear as ADDED/DELETED, as with
  // the real server.
  void offer(WatchEvent::Type type, const json& obj, const json* old) {
    bool now = matches(obj);
    if (type == WatchEvent::Type::modified && old) {
      bool before = matches(*old);
      if (before && now) queue.push_back({type, obj});
      else if (before) queue.push_back({WatchEvent::Type::deleted, obj});
      else if (now) queue.push_back({WatchEvent::Type::added, obj});
      else return;
    } else if (now) {
      queue.push_back({type, obj});
    } else {
      return;
    }
    cv.notify_all();
  }
};

FakeKube::FakeKube() = default;

FakeKube::~FakeKube() { close_watches(); }

void FakeKube::set_hook(Hook h) {
  std::lock_guard lk(mu_);
  hook_ = std::move(h);
}

void FakeKube::hook(const std::string& verb, const Resource& r, const std::string& ns, const std::string& name) {
  Hook h;
  {
    std::lock_guard lk(mu_);
    h = hook_;
  }
  if (h) h(verb, r, ns, name);
}

void FakeKube::count_locked(const std::string& verb, const Resource& r, const std::string& ns, const std::string& name,
                            const json& body) {
  ++writes_[verb];
  ++writes_by_res_[verb + "/" + r.plural];
  log_.push_back({verb, r.plural, ns, name, body});
}

std::vector<FakeKube::Write> FakeKube::write_log() const {
  std::lock_guard lk(mu_);
  return log_;
}

std::vector<std::string> FakeKube::write_summaries() const {
  std::lock_guard lk(mu_);
  std::vector<std::string> out;
  for (const auto& w : log_) out.push_back(w.summary());
  return out;
}

std::map<std::string, int> FakeKube::writes() const {
  std::lock_guard lk(mu_);
  return writes_;
}

int FakeKube::writes(const std::string& verb) const {
  std::lock_guard lk(mu_);
  auto it = writes_.find(verb);
  return it == writes_.end() ? 0 : it->second;
}

int FakeKube::writes(const std::string& verb, const std::string& plural) const {
  std::lock_guard lk(mu_);
  auto it = writes_by_res_.find(verb + "/" + plural);
  return it == writes_by_res_.end() ? 0 : it->second;
}

int FakeKube::total_writes() const {
  std::lock_guard lk(mu_);
  int n = 0;
  for (const auto& [_, c] : writes_) n += c;
  return n;
}

void FakeKube::reset_counters() {
  std::lock_guard lk(mu_);
  writes_.clear();
  writes_by_res_.clear();
  log_.clear();
}

std::string FakeKube::current_resource_version() const {
  std::lock_guard lk(mu_);
  return std::to_string(rv_);
}

int FakeKube::active_watches() const {
  std::lock_guard lk(mu_);
  return static_cast<int>(watchers_.size());
}

void FakeKube::compact() {
  std::lock_guard lk(mu_);
  history_.clear();
  oldest_rv_ = rv_;
}

void FakeKube::close_watches() {
  std::lock_guard lk(mu_);
  for (auto* w : watchers_) {
    w->closed = true;
    w->cv.notify_all();
  }
}

void FakeKube::send_bookmarks() {
  std::lock_guard lk(mu_);
  json bm = {{"metadata", {{"resourceVersion", std::to_string(rv_)}}}};
  for (auto* w : watchers_) {
    w->queue.push_back({WatchEvent::Type::bookmark, bm});
    w->cv.notify_all();
  }
}

std::optional<json> FakeKube::get(const Resource& r, const std::string& ns, const std::string& name) {
  hook("get", r, ns, name);
  std::lock_guard lk(mu_);
  auto it = objects_.find({res_key(r), r.namespaced ? ns : "", name});
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

ListResult FakeKube::list(const Resource& r, const std::string& ns, const ListOptions& opts) {
  hook("list", r, ns, "");
  auto sel = LabelSelector::parse(opts.label_selector);
  auto fsel = FieldSelector::parse(opts.field_selector);
  std::lock_guard lk(mu_);
  ListResult out;
  out.resource_version = std::to_string(rv_);
  std::string key = res_key(r);
  Key from{key, r.namespaced ? ns : "", ""};
  if (!opts.continue_token.empty()) {
    auto slash = opts.continue_token.find('/');
    from = {key, opts.continue_token.substr(0, slash), opts.continue_token.substr(slash + 1) + '\x01'};
  }
  for (auto it = objects_.lower_bound(from); it != objects_.end() && it->first.res == key; ++it) {
    if (r.namespaced && !ns.empty() && it->first.ns != ns) break;
    if (!sel.matches(labels_of(it->second)) || !fsel.matches(it->second)) continue;
    if (opts.limit > 0 && static_cast<int64_t>(out.items.size()) == opts.limit) {
      const auto& last = out.items.back();
      out.continue_token = meta_str(last, "namespace") + "/" + meta_str(last, "name");
      break;
    }
    out.items.push_back(it->second);
  }
  return out;
}

json FakeKube::create(const Resource& r, const std::string& ns_arg, const json& in) {
  json obj = in;
  if (!obj.is_object()) throw Error(ErrorCode::invalid, "create " + qualified_plural(r) + ": body is not an object");
  std::string ns = r.namespaced ? (ns_arg.empty() ? meta_str(obj, "namespace") : ns_arg) : "";
  std::string name = meta_str(obj, "name");
  if (name.empty() && !meta_str(obj, "generateName").empty()) name = meta_str(obj, "generateName") + random_suffix();
  hook("create", r, ns, name);
  if (name.empty())
    throw Error(ErrorCode::invalid, r.kind + " \"\" is invalid:\n  metadata.name: Required value: name or generateName is required");
  if (r.namespaced && ns.empty())
    throw Error(ErrorCode::invalid, r.kind + " \"" + name + "\" is invalid:\n  metadata.namespace: Required value");
  if (!meta_str(obj, "namespace").empty() && r.namespaced && meta_str(obj, "namespace") != ns)
    throw Error(ErrorCode::invalid, "the namespace of the provided object does not match the namespace sent on the request");

  std::lock_guard lk(mu_);
  Key k{res_key(r), ns, name};
  if (objects_.count(k)) throw Error(ErrorCode::already_exists, obj_ref(r, name) + " already exists");
  obj["apiVersion"] = r.api_version();
  obj["kind"] = r.kind;
  auto& m = obj["metadata"];
  m["name"] = name;
  if (r.namespaced) m["namespace"] = ns;
  else m.erase("namespace");
  m["uid"] = "fake-uid-" + std::to_string(++uid_);
  m["resourceVersion"] = std::to_string(++rv_);
  m["generation"] = 1;
  m["creationTimestamp"] = core::now_rfc3339();
  if (has_status_subresource(r)) {
    obj.erase("status");
    if (r.plural == "pods" && r.group.empty()) obj["status"] = {{"phase", "Pending"}};
  }
  objects_[k] = obj;
  count_locked("create", r, ns, name, in);
  history_.push_back({rv_, res_key(r), WatchEvent::Type::added, obj});
  for (auto* w : watchers_)
    if (w->res == res_key(r)) w->offer(WatchEvent::Type::added, obj, nullptr);
  if (history_.size() > kHistoryLimit) {
    oldest_rv_ = history_.front().rv;
    history_.pop_front();
  }
  return obj;
}

// Stores `next` as the new version of an existing object: keeps server-owned
// metadata, bumps generation on spec changes, and skips no-op writes as the
// server does (no new resourceVersion, no event).
json FakeKube::put_locked(const Resource& r, const std::string& ns, json next, const std::string& verb,
                          bool status_only, const json& body) {
  std::string name = meta_str(next, "name");
  Key k{res_key(r), r.namespaced ? ns : "", name};
  auto it = objects_.find(k);
  if (it == objects_.end()) throw Error(ErrorCode::not_found, obj_ref(r, name) + " not found");
  const json& cur = it->second;
  std::string rv = meta_str(next, "resourceVersion");
  if (!rv.empty() && rv != meta_str(cur, "resourceVersion")) throw conflict(r, name);

  json out;
  if (status_only) {
    out = cur;
    if (next.contains("status")) out["status"] = next["status"];
    else out.erase("status");
  } else {
    out = std::move(next);
    if (has_status_subresource(r)) {
      if (cur.contains("status")) out["status"] = cur["status"];
      else out.erase("status");
    }
    auto& m = out["metadata"];
    for (const char* f : {"uid", "creationTimestamp", "generation", "namespace", "name"})
      if (cur["metadata"].contains(f)) m[f] = cur["metadata"][f];
    out["apiVersion"] = r.api_version();
    out["kind"] = r.kind;
  }
  out["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"];
  count_locked(verb, r, k.ns, name, body);
  if (out == cur) return out;
  bool spec_changed = (out.contains("spec") ? out["spec"] : json()) != (cur.contains("spec") ? cur["spec"] : json());
  if (spec_changed) out["metadata"]["generation"] = cur["metadata"].value("generation", int64_t{1}) + 1;
  out["metadata"]["resourceVersion"] = std::to_string(++rv_);
  json old = std::move(it->second);
  it->second = out;
  history_.push_back({rv_, res_key(r), WatchEvent::Type::modified, out});
  history_.back().object["__old"] = old;  // for replaying selector transitions
  for (auto* w : watchers_)
    if (w->res == res_key(r)) w->offer(WatchEvent::Type::modified, out, &old);
  if (history_.size() > kHistoryLimit) {
    oldest_rv_ = history_.front().rv;
    history_.pop_front();
  }
  return out;
}

json FakeKube::update(const Resource& r, const std::string& ns, const json& obj) {
  std::string n = r.namespaced ? (ns.empty() ? meta_str(obj, "namespace") : ns) : "";
  hook("update", r, n, meta_str(obj, "name"));
  std::lock_guard lk(mu_);
  return put_locked(r, n, obj, "update", false, obj);
}

json FakeKube::update_status(const Resource& r, const std::string& ns, const json& obj) {
  std::string n = r.namespaced ? (ns.empty() ? meta_str(obj, "namespace") : ns) : "";
  hook("update_status", r, n, meta_str(obj, "name"));
  std::lock_guard lk(mu_);
  return put_locked(r, n, obj, "update_status", true, obj);
}

json FakeKube::patch(const Resource& r, const std::string& ns_arg, const std::string& name, PatchType type,
                     const json& p, bool status_subresource) {
  std::string ns = r.namespaced ? ns_arg : "";
  std::string verb = status_subresource ? "patch_status" : "patch";
  hook(verb, r, ns, name);
  std::lock_guard lk(mu_);
  auto it = objects_.find({res_key(r), ns, name});
  if (it == objects_.end()) throw Error(ErrorCode::not_found, obj_ref(r, name) + " not found");
  json next = it->second;
  try {
    if (type == PatchType::json_patch) {
      if (!p.is_array()) throw Error(ErrorCode::invalid, "JSON patch for " + obj_ref(r, name) + " must be an array");
      next = next.patch(p);
    } else {
      if (!p.is_object()) throw Error(ErrorCode::invalid, "merge patch for " + obj_ref(r, name) + " must be an object");
      next.merge_patch(p);
    }
  } catch (const json::exception& e) {
    throw Error(ErrorCode::invalid, "patch of " + obj_ref(r, name) + " cannot be applied: " + e.what());
  }
  if (meta_str(next, "name") != name) throw Error(ErrorCode::invalid, "patch of " + obj_ref(r, name) + " may not change metadata.name");
  // A resourceVersion the patch carries is a precondition, as on the server.
  return put_locked(r, ns, std::move(next), verb, status_subresource, p);
}

bool FakeKube::remove(const Resource& r, const std::string& ns_arg, const std::string& name, const DeleteOptions& opts) {
  std::string ns = r.namespaced ? ns_arg : "";
  hook("delete", r, ns, name);
  std::lock_guard lk(mu_);
  auto it = objects_.find({res_key(r), ns, name});
  if (it == objects_.end()) return false;
  if (opts.precondition_uid && *opts.precondition_uid != meta_str(it->second, "uid"))
    throw Error(ErrorCode::conflict, "Precondition failed: UID in precondition: " + *opts.precondition_uid +
                                         ", UID in object meta: " + meta_str(it->second, "uid"));
  if (opts.precondition_resource_version &&
      *opts.precondition_resource_version != meta_str(it->second, "resourceVersion"))
    throw Error(ErrorCode::conflict, "Precondition failed: ResourceVersion in precondition: " +
                                         *opts.precondition_resource_version + ", ResourceVersion in object meta: " +
                                         meta_str(it->second, "resourceVersion"));
  json obj = std::move(it->second);
  objects_.erase(it);
  obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
  count_locked("delete", r, ns, name, json());
  history_.push_back({rv_, res_key(r), WatchEvent::Type::deleted, obj});
  for (auto* w : watchers_)
    if (w->res == res_key(r)) w->offer(WatchEvent::Type::deleted, obj, nullptr);
  if (history_.size() > kHistoryLimit) {
    oldest_rv_ = history_.front().rv;
    history_.pop_front();
  }
  return true;
}

void FakeKube::bind_pod(const std::string& ns, const std::string& pod, const std::string& node) {
  const Resource& r = resources::pods;
  hook("bind", r, ns, pod);
  std::lock_guard lk(mu_);
  auto it = objects_.find({res_key(r), ns, pod});
  if (it == objects_.end()) throw Error(ErrorCode::not_found, obj_ref(r, pod) + " not found");
  std::string cur = it->second.contains("spec") ? it->second["spec"].value("nodeName", "") : "";
  if (!cur.empty())
    throw Error(ErrorCode::conflict, "Operation cannot be fulfilled on pods/binding \"" + pod + "\": pod " + pod +
                                         " is already assigned to node \"" + cur + "\"");
  json next = it->second;
  next["spec"]["nodeName"] = node;
  put_locked(r, ns, std::move(next), "bind", false, json{{"target", {{"kind", "Node"}, {"name", node}}}});
}

void FakeKube::watch(const Resource& r, const std::string& ns_arg, const WatchOptions& opts,
                     const std::function<bool(const WatchEvent&)>& on_event, std::stop_token stop) {
  std::string ns = r.namespaced ? ns_arg : "";
  hook("watch", r, ns, "");
  Watcher w;
  w.res = res_key(r);
  w.ns = ns;
  w.labels = LabelSelector::parse(opts.label_selector);
  w.fields = FieldSelector::parse(opts.field_selector);
  std::unique_lock lk(mu_);
  if (opts.resource_version.empty() || opts.resource_version == "0") {
    for (const auto& [k, obj] : objects_)
      if (k.res == w.res && w.matches(obj)) w.queue.push_back({WatchEvent::Type::added, obj});
  } else {
    uint64_t from = 0;
    try {
      from = std::stoull(opts.resource_version);
    } catch (const std::exception&) {
      throw Error(ErrorCode::invalid, "watch " + qualified_plural(r) + ": resourceVersion \"" + opts.resource_version + "\" is not a number");
    }
    if (from < oldest_rv_)
      throw Error(ErrorCode::gone, "too old resource version: " + opts.resource_version + " (" + std::to_string(oldest_rv_) + ")");
    for (const auto& ev : history_) {
      if (ev.rv <= from || ev.res != w.res) continue;
      if (ev.type == WatchEvent::Type::modified) {
        json obj = ev.object;
        json old = obj["__old"];
        obj.erase("__old");
        w.offer(ev.type, obj, &old);
      } else {
        w.offer(ev.type, ev.object, nullptr);
      }
    }
  }
  watchers_.push_back(&w);
  auto deadline = std::chrono::steady_clock::now() + opts.timeout;
  bool go = true;
  while (go) {
    bool woke = w.cv.wait_until(lk, stop, deadline, [&] { return !w.queue.empty() || w.closed; });
    if (!woke || (w.queue.empty() && w.closed)) break;
    while (!w.queue.empty() && go) {
      WatchEvent ev = std::move(w.queue.front());
      w.queue.pop_front();
      lk.unlock();
      go = on_event(ev);
      lk.lock();
    }
  }
  watchers_.remove(&w);
}

}  // namespace arl::k8s
