#pragma once
// Sandbox helpers shared by the sandbox, exec and task commands.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "kubectl/context.h"

namespace arl::kubectl {

/// The Sandbox `sandbox create` sends: generateName "<pool>-" when `name`
/// is empty; `ttl` ("1h") becomes spec.ttlSecondsAfterFinished.
/// Throws Error{usage} for a bad --ttl.
nlohmann::json sandbox_from_flags(const std::string& name, const std::string& pool, bool keep_alive,
                                  const std::string& ttl, const std::string& ns);

/// Waits until the sandbox is Ready or Bound; Error on Failed/Released.
nlohmann::json wait_sandbox_ready(PluginContext& ctx, const std::string& ns, const std::string& name);

/// `NAME:PATH` -> {NAME, PATH}; a local path (no ':' or a '/' before it) -> nullopt.
struct RemotePath {
  std::string sandbox;
  std::string path;
};
std::optional<RemotePath> parse_remote_path(const std::string& arg);

}  // namespace arl::kubectl
