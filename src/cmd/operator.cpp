// Placeholder until the operator command lands.
#include <CLI/CLI.hpp>

#include "cmd/commands.h"

namespace arl::cmd {
void add_operator_command(CLI::App& app) { (void)app; }
}  // namespace arl::cmd
