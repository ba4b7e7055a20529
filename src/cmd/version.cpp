#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "build_info.h"
#include "cmd/commands.h"

namespace arl::cmd {

void add_version_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print the version, git commit, build date and linkage of this binary");
  cmd->callback([] {
#ifdef ARL_STATIC_BUILD
    const char* linkage = "static";
#else
    const char* linkage = "dynamic";
#endif
    std::cout << fmt::format("arl {} (commit {}, built {}, {})\n", build::kVersion, build::kGitCommit,
                             build::kBuildDate, linkage);
  });
}

}  // namespace arl::cmd
