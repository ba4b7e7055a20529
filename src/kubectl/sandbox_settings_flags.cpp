#include "kubectl/sandbox_settings_flags.h"

#include <optional>

#include <fmt/format.h>

#include "core/error.h"
#include "core/sandbox_settings.h"

namespace arl::kubectl {
namespace {

using nlohmann::json;

// Where a spec.env entry came from, so that a problem found in the entry is
// reported against what the user typed.
struct Origin {
  std::string flag;
  std::string arg;
};

std::string bad(const Origin& o, const std::string& why) { return fmt::format("{} \"{}\": {}", o.flag, o.arg, why); }

// NAME=VALUE -> {NAME, VALUE}; the name is what precedes the first '=', which
// a variable name cannot contain, so the value may hold '=' freely.
bool split_name(const Origin& o, const char* expected, std::string& name, std::string& rest,
                std::vector<std::string>& problems) {
  const auto eq = o.arg.find('=');
  if (eq == std::string::npos) {
    problems.push_back(bad(o, fmt::format("expected {}", expected)));
    return false;
  }
  if (eq == 0) {
    problems.push_back(bad(o, fmt::format("the variable name is empty; expected {}", expected)));
    return false;
  }
  name = o.arg.substr(0, eq);
  rest = o.arg.substr(eq + 1);
  return true;
}

// NAME=OBJECT:KEY -> an entry reading KEY of the Secret (secret) or ConfigMap
// OBJECT. Object names cannot hold ':' (DNS subdomains), so the first one splits.
std::optional<core::EnvVar> key_ref_entry(const Origin& o, bool secret, std::vector<std::string>& problems) {
  const char* object = secret ? "SECRET" : "CONFIGMAP";
  const std::string expected = fmt::format("NAME={}:KEY", object);
  std::string name, ref;
  if (!split_name(o, expected.c_str(), name, ref, problems)) return std::nullopt;
  const auto colon = ref.find(':');
  if (colon == std::string::npos || colon + 1 == ref.size()) {
    problems.push_back(bad(o, fmt::format("the key is missing; expected {}", expected)));
    return std::nullopt;
  }
  if (colon == 0) {
    problems.push_back(bad(o, fmt::format("the {} name is empty; expected {}", object, expected)));
    return std::nullopt;
  }
  core::EnvVar v;
  v.name = name;
  (secret ? v.secret_key_ref : v.config_map_key_ref) = core::EnvKeyRef{ref.substr(0, colon), ref.substr(colon + 1)};
  return v;
}

// "spec.env[3].name" -> 3; anything else -> npos.
size_t env_index(const std::string& path) {
  static const std::string prefix = "spec.env[";
  if (path.rfind(prefix, 0) != 0) return std::string::npos;
  const auto close = path.find(']', prefix.size());
  if (close == std::string::npos) return std::string::npos;
  try {
    return std::stoul(path.substr(prefix.size(), close - prefix.size()));
  } catch (const std::exception&) {
    return std::string::npos;
  }
}

}  // namespace

void apply_settings_flags(json& sandbox, const SandboxSettingsFlags& flags) {
  std::vector<std::string> problems;
  core::SandboxSettingsSpec spec;
  std::vector<Origin> origins;  // origins[i] produced spec.env[i]

  for (const auto& arg : flags.env) {
    Origin o{"--env", arg};
    std::string name, value;
    if (!split_name(o, "NAME=VALUE", name, value, problems)) continue;
    spec.env.push_back({name, value, std::nullopt, std::nullopt});
    origins.push_back(o);
  }
  for (bool secret : {true, false}) {
    for (const auto& arg : secret ? flags.env_from_secret : flags.env_from_configmap) {
      Origin o{secret ? "--env-from-secret" : "--env-from-configmap", arg};
      if (auto v = key_ref_entry(o, secret, problems)) {
        spec.env.push_back(std::move(*v));
        origins.push_back(o);
      }
    }
  }
  spec.working_dir = flags.workdir;

  // The CRD's rules (names, keys, the workdir's bounds) live in core; their
  // findings are re-addressed from the field path to the flag that set it.
  for (const auto& e : core::validate_settings(spec)) {
    const size_t i = env_index(e.path);
    if (i < origins.size()) problems.push_back(bad(origins[i], e.message));
    else if (e.path == "spec.workingDir") problems.push_back(bad({"--workdir", flags.workdir}, e.message));
    else problems.push_back(e.to_string());
  }

  if (problems.size() == 1) throw Error(ErrorCode::usage, problems.front());
  if (!problems.empty()) {
    std::string msg = fmt::format("{} flag values are invalid:", problems.size());
    for (const auto& p : problems) msg += "\n  " + p;
    throw Error(ErrorCode::usage, msg);
  }

  if (!spec.env.empty()) {
    json env = json::array();
    for (const auto& v : spec.env) env.push_back(core::to_json(v));
    sandbox["spec"]["env"] = env;
  }
  if (!spec.working_dir.empty()) sandbox["spec"]["workingDir"] = spec.working_dir;
}

}  // namespace arl::kubectl
