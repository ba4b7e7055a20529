#include "operator/sandbox_env.h"

#include <fmt/format.h>

#include "core/base64.h"

namespace arl::op {

using nlohmann::json;

namespace {

// A key's value in a Secret (data is base64) or a ConfigMap (data is text,
// binaryData base64); nullopt when the key is absent.
std::optional<std::string> value_of(const json& obj, bool secret, const std::string& key) {
  auto text = [&](const char* field) -> const json* {
    auto d = obj.find(field);
    if (d == obj.end() || !d->is_object()) return nullptr;
    auto v = d->find(key);
    return v == d->end() || !v->is_string() ? nullptr : &*v;
  };
  if (secret) {
    if (const json* v = text("data")) return core::base64_decode(v->get<std::string>(), "secret data");
    return std::nullopt;
  }
  if (const json* v = text("data")) return v->get<std::string>();
  if (const json* v = text("binaryData")) return core::base64_decode(v->get<std::string>(), "configmap binaryData");
  return std::nullopt;
}

}  // namespace

ResolvedSettings resolve_settings(const core::SandboxSettingsSpec& spec, const std::string& ns, const EnvLookup& lookup) {
  ResolvedSettings out;
  out.settings.working_dir = spec.working_dir;
  for (size_t i = 0; i < spec.env.size(); ++i) {
    const core::EnvVar& e = spec.env[i];
    if (!e.secret_key_ref && !e.config_map_key_ref) {
      out.settings.env[e.name] = e.value.value_or("");
      continue;
    }
    const bool secret = e.secret_key_ref.has_value();
    const core::EnvKeyRef& ref = secret ? *e.secret_key_ref : *e.config_map_key_ref;
    const char* kind = secret ? "secret" : "configmap";
    const std::string field = fmt::format("spec.env[{}] ({})", i, e.name);
    auto obj = lookup(secret, ref.name);
    if (!obj) {
      if (ref.optional) continue;
      out.failure = EnvFailure{secret ? "EnvSecretNotFound" : "EnvConfigMapNotFound",
                               fmt::format("{}: {} \"{}\" not found in namespace {}; create it or mark the reference optional",
                                           field, kind, ref.name, ns)};
      return out;
    }
    auto value = value_of(*obj, secret, ref.key);
    if (!value) {
      if (ref.optional) continue;
      out.failure = EnvFailure{"EnvKeyNotFound", fmt::format("{}: {} \"{}\" has no key \"{}\"; add it or mark the reference optional",
                                                             field, kind, ref.name, ref.key)};
      return out;
    }
    out.settings.env[e.name] = std::move(*value);
  }
  return out;
}

std::optional<json> EnvObjectCache::get(const std::string& key, Clock::time_point now,
                                        const std::function<std::optional<json>()>& fetch) {
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && now - it->second.at < ttl_) return it->second.obj;
  }
  // Fetched unlocked: a slow GET must not hold up allocations of other pools.
  std::optional<json> obj = fetch();
  if (obj) {
    // Only what resolution reads: no metadata (managedFields) kept in memory.
    json slim = json::object();
    for (const char* f : {"data", "binaryData"})
      if (obj->contains(f)) slim[f] = (*obj)[f];
    obj = std::move(slim);
  }
  std::lock_guard lock(mu_);
  if (entries_.size() > 4096) entries_.clear();  // bounds memory; entries are cheap to fetch again
  entries_[key] = Entry{now, obj};
  return obj;
}

}  // namespace arl::op
