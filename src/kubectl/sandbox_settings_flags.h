#pragma once
// The per-sandbox settings flags of `kubectl arl sandbox create` (issue 15):
// --env, --env-from-secret, --env-from-configmap and --workdir become the
// Sandbox's spec.env and spec.workingDir (core/sandbox_settings.h).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arl::kubectl {

/// The flags as typed; each vector holds one entry per use of its flag.
struct SandboxSettingsFlags {
  std::vector<std::string> env;                 // --env NAME=VALUE
  std::vector<std::string> env_from_secret;     // --env-from-secret NAME=SECRET:KEY
  std::vector<std::string> env_from_configmap;  // --env-from-configmap NAME=CONFIGMAP:KEY
  std::string workdir;                          // --workdir DIR
};

/// Sets spec.env (--env entries first, then the Secret and ConfigMap ones,
/// each in the order given) and spec.workingDir on a Sandbox object; no flag
/// leaves the object as it was. Every value is checked as the CRD checks
/// spec.env and spec.workingDir; Error{usage} lists every bad one by flag and
/// value (`--env "A B=1": "A B" is not a valid variable name: ...`).
void apply_settings_flags(nlohmann::json& sandbox, const SandboxSettingsFlags& flags);

}  // namespace arl::kubectl
