#pragma once
// `kubectl arl`: the plugin's command tree, its own layer over core and k8s
// (no operator, sidecar or node-agent code reaches a user's machine through it).
namespace CLI {
class App;
}

namespace arl::kubectl {

/// The kubectl plugin's commands (pool, sandbox, task, install, ...). Help
/// texts say `kubectl arl ...`.
void add_plugin_commands(CLI::App& app);

}  // namespace arl::kubectl
