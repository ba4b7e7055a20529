#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "cmd/commands.h"
#include "core/error.h"
#include "kubectl/commands.h"

namespace arl::cmd {
namespace {

int exit_status_for(ErrorCode code) { return code == ErrorCode::usage ? 2 : 1; }

bool invoked_as_plugin(const char* argv0) {
  std::string_view name(argv0 ? argv0 : "");
  auto slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  return name == "kubectl-arl";
}

// CLI11 reports --help as an "error" with exit code 0; everything else it
// raises is a usage error, which exits 2 as Go's flag package does.
int report_parse_error(CLI::App& app, const CLI::ParseError& e) {
  if (e.get_exit_code() == 0) return app.exit(e);
  std::cerr << "error: " << e.what() << "\n";
  std::cerr << "Run '" << app.get_name() << " --help' for usage.\n";
  return 2;
}

}  // namespace

int run_main(int argc, char** argv) {
  const bool plugin = invoked_as_plugin(argc > 0 ? argv[0] : nullptr);
  CLI::App app{plugin ? "ARL: code-execution sandboxes for AI agents on Kubernetes"
                      : "arl: operator, in-pod executor and kubectl plugin of ARL"};
  app.name(plugin ? "kubectl arl" : "arl");
  app.require_subcommand(1);
  app.fallthrough(false);
  if (plugin) {
    kubectl::add_plugin_commands(app);
  } else {
    add_version_command(app);
    add_sidecar_command(app);
    add_operator_command(app);
    add_localnode_command(app);
    auto* kubectl = app.add_subcommand("kubectl", "Run as the kubectl plugin (same as invoking kubectl-arl)");
    kubectl->name("kubectl");
    kubectl->require_subcommand(1);
    kubectl::add_plugin_commands(*kubectl);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return report_parse_error(app, e);
  } catch (const ExitStatus& s) {
    return s.code;
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return exit_status_for(e.code());
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace arl::cmd
