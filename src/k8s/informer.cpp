#include "k8s/informer.h"

#include <cstdio>

#include "core/log.h"

namespace arl::k8s {
namespace {

std::string meta(const json& obj, const char* f) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  const auto& m = obj["metadata"];
  return m.contains(f) && m[f].is_string() ? m[f].get<std::string>() : "";
}

}  // namespace

uint64_t Store::rv_of(const json& obj) {
  std::string s = meta(obj, "resourceVersion");
  if (s.empty()) return 0;
  try {
    return std::stoull(s);
  } catch (const std::exception&) {
    return 0;
  }
}

void Store::index_locked(const Key& k, const json& obj, bool add) {
  if (!obj.contains("metadata") || !obj["metadata"].contains("labels") || !obj["metadata"]["labels"].is_object()) return;
  for (const auto& [lk, lv] : obj["metadata"]["labels"].items()) {
    if (!lv.is_string()) continue;
    std::string idx = lk + "=" + lv.get<std::string>();
    if (add) {
      by_label_[idx].insert(k);
    } else if (auto it = by_label_.find(idx); it != by_label_.end()) {
      it->second.erase(k);
      if (it->second.empty()) by_label_.erase(it);
    }
  }
}

Store::Ptr Store::prepare(json stored) const {
  // managedFields are often half of an object and no controller reads them:
  // dropping them halves the cache's memory and every copy made from it.
  if (stored.contains("metadata") && stored["metadata"].is_object()) stored["metadata"].erase("managedFields");
  if (transform_) transform_(stored);
  return std::make_shared<const json>(std::move(stored));
}

// Takes an object prepared outside the lock: the copy and the trim of a big
// pod would otherwise hold every reader of the cache back.
Store::Ptr Store::put_locked(const Key& k, Ptr obj) {
  Ptr prev;
  if (auto it = objs_.find(k); it != objs_.end()) {
    prev = it->second;
    index_locked(k, *prev, false);
  }
  index_locked(k, *obj, true);
  objs_[k] = std::move(obj);
  deleted_rv_.erase(k);
  return prev;
}

std::optional<json> Store::get(const std::string& ns, const std::string& name) const {
  std::shared_lock lk(mu_);
  auto it = objs_.find({ns, name});
  if (it == objs_.end()) return std::nullopt;
  return *it->second;
}

std::vector<json> Store::list(const std::string& ns) const {
  std::shared_lock lk(mu_);
  std::vector<json> out;
  for (auto it = ns.empty() ? objs_.begin() : objs_.lower_bound({ns, ""}); it != objs_.end(); ++it) {
    if (!ns.empty() && it->first.first != ns) break;
    out.push_back(*it->second);
  }
  return out;
}

std::vector<json> Store::list(const std::string& ns, const std::string& key, const std::string& value) const {
  std::shared_lock lk(mu_);
  std::vector<json> out;
  auto it = by_label_.find(key + "=" + value);
  if (it == by_label_.end()) return out;
  for (const auto& k : it->second)
    if (ns.empty() || k.first == ns) out.push_back(*objs_.at(k));
  return out;
}

std::vector<Store::Ptr> Store::list_ptrs(const std::string& ns) const {
  std::shared_lock lk(mu_);
  std::vector<Ptr> out;
  for (auto it = ns.empty() ? objs_.begin() : objs_.lower_bound({ns, ""}); it != objs_.end(); ++it) {
    if (!ns.empty() && it->first.first != ns) break;
    out.push_back(it->second);
  }
  return out;
}

std::vector<Store::Ptr> Store::list_ptrs(const std::string& ns, const std::string& key, const std::string& value) const {
  std::shared_lock lk(mu_);
  std::vector<Ptr> out;
  auto it = by_label_.find(key + "=" + value);
  if (it == by_label_.end()) return out;
  for (const auto& k : it->second)
    if (ns.empty() || k.first == ns) out.push_back(objs_.at(k));
  return out;
}

size_t Store::size() const {
  std::shared_lock lk(mu_);
  return objs_.size();
}

bool Store::upsert(const json& obj) {
  Key k{meta(obj, "namespace"), meta(obj, "name")};
  uint64_t rv = rv_of(obj);
  Ptr prepared = prepare(obj);
  std::unique_lock lk(mu_);
  if (auto d = deleted_rv_.find(k); d != deleted_rv_.end() && d->second >= rv) return false;
  if (auto it = objs_.find(k); it != objs_.end() && rv_of(*it->second) >= rv) return false;
  put_locked(k, std::move(prepared));
  return true;
}

Store::Ptr Store::apply(const json& obj) {
  Key k{meta(obj, "namespace"), meta(obj, "name")};
  Ptr prepared = prepare(obj);
  std::unique_lock lk(mu_);
  // An upsert may already hold a newer version: keep it, report it as prev.
  if (auto it = objs_.find(k); it != objs_.end() && rv_of(*it->second) > rv_of(obj)) return it->second;
  return put_locked(k, std::move(prepared));
}

Store::Ptr Store::erase(const json& obj) {
  Key k{meta(obj, "namespace"), meta(obj, "name")};
  std::unique_lock lk(mu_);
  deleted_rv_[k] = rv_of(obj);
  auto it = objs_.find(k);
  if (it == objs_.end()) return nullptr;
  Ptr prev = it->second;
  index_locked(k, *prev, false);
  objs_.erase(it);
  return prev;
}

std::vector<json> Store::replace(std::vector<json> objs) {
  std::map<Key, std::shared_ptr<const json>> next;
  for (auto& o : objs) {
    Key k{meta(o, "namespace"), meta(o, "name")};
    next[k] = prepare(std::move(o));  // trimmed like a watched object
  }
  std::unique_lock lk(mu_);
  std::vector<json> removed;
  for (const auto& [k, v] : objs_)
    if (!next.count(k)) removed.push_back(*v);
  objs_ = std::move(next);
  by_label_.clear();
  deleted_rv_.clear();
  for (const auto& [k, v] : objs_) index_locked(k, *v, true);
  return removed;
}

Informer::Informer(KubeApi& api, Resource r, InformerOptions opts)
    : api_(api), res_(std::move(r)), opts_(std::move(opts)) {
  if (opts_.transform) store_.set_transform(opts_.transform);
}

Informer::~Informer() { stop(); }

void Informer::start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token st) { run(st); });
}

void Informer::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  cv_.notify_all();
  thread_.join();
}

bool Informer::wait_for_sync(std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return synced_.load(); });
}

std::string Informer::resource_version() const {
  std::lock_guard lk(mu_);
  return rv_;
}

void Informer::sleep(std::stop_token st, std::chrono::milliseconds d) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, st, d, [] { return false; });
}

void Informer::relist(std::stop_token st) {
  std::vector<json> items;
  ListOptions lo;
  lo.label_selector = opts_.label_selector;
  lo.field_selector = opts_.field_selector;
  lo.limit = opts_.page_size;
  std::string rv;
  do {
    ListResult page = api_.list(res_, opts_.ns, lo);
    for (auto& i : page.items) items.push_back(std::move(i));
    rv = page.resource_version;
    lo.continue_token = page.continue_token;
  } while (!lo.continue_token.empty() && !st.stop_requested());
  ++lists_;

  // Diff against what handlers know so they see what changed while we were away.
  std::vector<std::pair<std::optional<json>, json>> changes;
  std::set<std::pair<std::string, std::string>> listed;
  for (const auto& o : items) {
    std::pair<std::string, std::string> k{meta(o, "namespace"), meta(o, "name")};
    listed.insert(k);
    auto prev = store_.get(k.first, k.second);
    if (!known_.count(k)) changes.emplace_back(std::nullopt, o);
    else if (!prev || meta(*prev, "resourceVersion") != meta(o, "resourceVersion")) changes.emplace_back(prev ? prev : o, o);
  }
  auto removed = store_.replace(items);
  {
    std::lock_guard lk(mu_);
    rv_ = rv;
  }
  for (auto& [prev, o] : changes) {
    if (prev && on_update_) on_update_(*prev, o);
    else if (!prev && on_add_) on_add_(o);
  }
  for (const auto& o : removed)
    if (known_.count({meta(o, "namespace"), meta(o, "name")}) && on_delete_) on_delete_(o);
  known_ = std::move(listed);
  if (!synced_.exchange(true)) {
    std::lock_guard lk(mu_);
    cv_.notify_all();
  }
}

void Informer::run(std::stop_token st) {
  bool need_list = true;
  while (!st.stop_requested()) {
    try {
      if (need_list) {
        relist(st);
        need_list = false;
      }
      WatchOptions wo;
      wo.label_selector = opts_.label_selector;
      wo.field_selector = opts_.field_selector;
      wo.resource_version = resource_version();
      wo.timeout = opts_.watch_timeout;
      bool failed = false;
      api_.watch(
          res_, opts_.ns, wo,
          [&](const WatchEvent& ev) {
            if (st.stop_requested()) return false;
            std::string rv = meta(ev.object, "resourceVersion");
            switch (ev.type) {
              case WatchEvent::Type::added:
              case WatchEvent::Type::modified: {
                auto prev = store_.apply(ev.object);
                bool fresh = known_.insert({meta(ev.object, "namespace"), meta(ev.object, "name")}).second;
                if (fresh && on_add_) on_add_(ev.object);
                else if (!fresh && on_update_) on_update_(prev ? *prev : ev.object, ev.object);
                break;
              }
              case WatchEvent::Type::deleted: {
                store_.erase(ev.object);
                bool was_known = known_.erase({meta(ev.object, "namespace"), meta(ev.object, "name")}) > 0;
                if (was_known && on_delete_) on_delete_(ev.object);
                break;
              }
              case WatchEvent::Type::bookmark: break;
              case WatchEvent::Type::error: failed = true; return false;
            }
            if (!rv.empty()) {
              std::lock_guard lk(mu_);
              rv_ = rv;
            }
            return true;
          },
          st);
      if (failed) sleep(st, opts_.retry_backoff);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::gone) {
        need_list = true;
        continue;
      }
      log::warn("Failed to list or watch; retrying", {{"resource", res_.plural}, {"error", e.what()}});
      sleep(st, opts_.retry_backoff);
    } catch (const std::exception& e) {
      log::warn("Failed to list or watch; retrying", {{"resource", res_.plural}, {"error", e.what()}});
      sleep(st, opts_.retry_backoff);
    }
  }
}

}  // namespace arl::k8s
