#include "core/sandbox_settings.h"

#include "core/json_reader.h"

namespace arl::core {

using nlohmann::json;

namespace {

json key_ref_json(const EnvKeyRef& r) {
  json j{{"name", r.name}, {"key", r.key}};
  if (r.optional) j["optional"] = true;
  return j;
}

std::optional<EnvKeyRef> key_ref_from(const JsonReader& from, const char* key) {
  if (!from.has(key)) return std::nullopt;
  JsonReader r = from.child(key);
  return EnvKeyRef{r.str("name"), r.str("key"), r.boolean("optional")};
}

EnvVar env_var_from(const JsonReader& e) {
  EnvVar v;
  v.name = e.str("name");
  if (e.has("value")) v.value = e.str("value");
  if (e.has("valueFrom")) {
    JsonReader from = e.child("valueFrom");
    v.secret_key_ref = key_ref_from(from, "secretKeyRef");
    v.config_map_key_ref = key_ref_from(from, "configMapKeyRef");
  }
  return v;
}

}  // namespace

json to_json(const EnvVar& e) {
  json j{{"name", e.name}};
  if (e.value) j["value"] = *e.value;
  if (e.secret_key_ref) j["valueFrom"]["secretKeyRef"] = key_ref_json(*e.secret_key_ref);
  if (e.config_map_key_ref) j["valueFrom"]["configMapKeyRef"] = key_ref_json(*e.config_map_key_ref);
  return j;
}

SandboxSettingsSpec sandbox_settings_from_json(const json& sandbox) {
  SandboxSettingsSpec s;
  JsonReader spec = JsonReader(sandbox, "").child("spec");
  for (const auto& e : spec.items("env")) s.env.push_back(env_var_from(e));
  s.working_dir = spec.str("workingDir");
  return s;
}

}  // namespace arl::core
