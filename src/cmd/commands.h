#pragma once
// Command registration. Each command group lives in its own file and adds its
// subcommands to the CLI11 app; callbacks may throw arl::Error, which
// run_main() alone turns into an exit status.
#include <string>

namespace CLI {
class App;
}

namespace arl::cmd {

int run_main(int argc, char** argv);

void add_version_command(CLI::App& app);
void add_sidecar_command(CLI::App& app);
/// `arl sidecar exec-local`, added under the sidecar command.
void add_exec_local_command(CLI::App& sidecar_cmd);
void add_operator_command(CLI::App& app);
void add_localnode_command(CLI::App& app);

}  // namespace arl::cmd
