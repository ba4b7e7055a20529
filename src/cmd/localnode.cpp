// Placeholder until the localnode command lands.
#include <CLI/CLI.hpp>

#include "cmd/commands.h"

namespace arl::cmd {
void add_localnode_command(CLI::App& app) { (void)app; }
}  // namespace arl::cmd
