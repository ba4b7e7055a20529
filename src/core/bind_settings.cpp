#include "core/bind_settings.h"

#include "core/error.h"

namespace arl::core {

using nlohmann::json;

void add_bind_settings(json& body, const BindSettings& s) {
  if (!s.env.empty()) body["env"] = s.env;
  if (!s.working_dir.empty()) body["working_dir"] = s.working_dir;
}

BindSettings bind_settings_from_json(const json& body) {
  BindSettings s;
  if (!body.is_object()) return s;
  if (auto e = body.find("env"); e != body.end() && !e->is_null()) {
    if (!e->is_object()) throw Error(ErrorCode::invalid, std::string("env: must be an object of strings, got ") + e->type_name());
    for (const auto& [k, v] : e->items()) {
      if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos)
        throw Error(ErrorCode::invalid, "env: invalid variable name \"" + k + "\"");
      if (!v.is_string()) throw Error(ErrorCode::invalid, "env." + k + ": must be a string, got " + v.type_name());
      auto value = v.get<std::string>();
      if (value.find('\0') != std::string::npos) throw Error(ErrorCode::invalid, "env." + k + ": must not contain NUL bytes");
      s.env[k] = std::move(value);
    }
  }
  if (auto w = body.find("working_dir"); w != body.end() && !w->is_null()) {
    if (!w->is_string()) throw Error(ErrorCode::invalid, std::string("working_dir: must be a string, got ") + w->type_name());
    s.working_dir = w->get<std::string>();
    if (s.working_dir.find('\0') != std::string::npos) throw Error(ErrorCode::invalid, "working_dir: must not contain NUL bytes");
  }
  return s;
}

}  // namespace arl::core
