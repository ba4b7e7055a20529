// Placeholder until the plugin commands land.
#include <CLI/CLI.hpp>

#include "cmd/commands.h"

namespace arl::cmd {
void add_plugin_commands(CLI::App& app) { (void)app; }
}  // namespace arl::cmd
