#pragma once
// Command registration. Each command group lives in its own file and adds its
// subcommands to the CLI11 app; callbacks may throw arl::Error, which
// run_main() alone turns into an exit status.
#include <string>

namespace CLI {
class App;
}

namespace arl::cmd {

/// Thrown by a command that must exit with a specific status (e.g. `sandbox
/// exec` returns the remote command's exit code, as `kubectl exec` does).
struct ExitStatus {
  int code;
};

int run_main(int argc, char** argv);

void add_version_command(CLI::App& app);
void add_sidecar_command(CLI::App& app);
/// `arl sidecar exec-local`, added under the sidecar command.
void add_exec_local_command(CLI::App& sidecar_cmd);
void add_operator_command(CLI::App& app);
void add_localnode_command(CLI::App& app);
/// The kubectl plugin's commands (pool, sandbox, task, install, ...). Help
/// texts say `kubectl arl ...`.
void add_plugin_commands(CLI::App& app);

}  // namespace arl::cmd
