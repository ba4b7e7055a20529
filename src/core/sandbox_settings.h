#pragma once
// Sandbox.spec.env and spec.workingDir (issue 15): the per-sandbox settings
// the operator resolves at allocation and hands to the pod's sidecar in
// POST /bind. Read from the Sandbox's JSON, apart from core::Sandbox: only
// the allocation reads them, and the status logic never needs them.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/validation.h"

namespace arl::core {

/// spec.env[i].valueFrom.secretKeyRef / configMapKeyRef: one key of a
/// Secret or ConfigMap in the sandbox's namespace, read at allocation.
struct EnvKeyRef {
  std::string name;
  std::string key;
  bool optional = false;  // missing: the variable is left out instead of failing
  bool operator==(const EnvKeyRef&) const = default;
};

/// One entry of spec.env, shaped like a container's env entry: `value`
/// (absent reads ""), or one of secret_key_ref / config_map_key_ref.
struct EnvVar {
  std::string name;
  std::optional<std::string> value;
  std::optional<EnvKeyRef> secret_key_ref;
  std::optional<EnvKeyRef> config_map_key_ref;
  bool operator==(const EnvVar&) const = default;
};

struct SandboxSettingsSpec {
  std::vector<EnvVar> env;
  /// The default cwd of the sandbox's commands: relative to the workdir or
  /// an absolute path under it; "" keeps the workdir.
  std::string working_dir;
};

/// spec.env and spec.workingDir of a Sandbox object. Throws Error{invalid}
/// naming the field for a wrong JSON type.
SandboxSettingsSpec sandbox_settings_from_json(const nlohmann::json& sandbox);
nlohmann::json to_json(const EnvVar& e);

/// Every problem of spec.env and spec.workingDir, with its field path.
std::vector<FieldError> validate_settings(const SandboxSettingsSpec& s);

}  // namespace arl::core
