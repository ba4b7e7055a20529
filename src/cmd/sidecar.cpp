// Placeholder until the sidecar command lands.
#include <CLI/CLI.hpp>

#include "cmd/commands.h"

namespace arl::cmd {
void add_sidecar_command(CLI::App& app) { (void)app; }
}  // namespace arl::cmd
