#pragma once
// The per-sandbox settings that ride on POST /bind next to BindRequest's
// token (core/sidecar_protocol.h; docs/design.md "Per-sandbox settings"):
//   {"token": ..., "env": {"NAME": "value", ...}, "working_dir": "repo"}
// Both fields are optional; a sidecar that predates them ignores them. Kept in
// a header of their own so the token's wire type, which most of ARL
// includes, stays as it is.
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace arl::core {

struct BindSettings {
  /// Sandbox.spec.env resolved by the operator: under every command's env
  /// from then on (a request's own env overrides). May hold secrets: never
  /// logged or listed, and errors name the variable, never its value.
  std::map<std::string, std::string> env;
  /// Sandbox.spec.workingDir: the cwd of requests that give none.
  std::string working_dir;
  bool operator==(const BindSettings&) const = default;
};

/// Adds "env" and "working_dir" (when set) to a BindRequest's JSON body.
void add_bind_settings(nlohmann::json& body, const BindSettings& s);
/// Reads them from a /bind body; Error{invalid} naming the field
/// ("env.NAME: must be a string").
BindSettings bind_settings_from_json(const nlohmann::json& body);

}  // namespace arl::core
