#pragma once
// `kubectl arl sandbox fork`: N sandboxes that start as copies of a live
// sandbox's workdir (Sandbox.spec.forkOf; the operator does the copy).
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "kubectl/context.h"

namespace arl::kubectl {

/// The forks of `source` (a Sandbox as read from the API server) from one
/// checkpoint: same pool, keepAlive, TTL, env and working dir; named
/// `<prefix>-<i>` (i from 0), or generated from "<source>-fork-" when
/// `prefix` is empty. Pure: the command creates them.
std::vector<nlohmann::json> fork_objects(const nlohmann::json& source, const std::string& checkpoint, int count,
                                         const std::string& prefix);

void add_fork_command(CLI::App& sandbox, std::shared_ptr<PluginContext> ctx);

}  // namespace arl::kubectl
