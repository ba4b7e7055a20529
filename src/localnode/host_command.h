#pragma once
// Runs a host tool (`ip`) and waits for that one child; used only for the
// one-time network setup, never on a pod's hot path.
#include <string>
#include <vector>

namespace arl::localnode {

struct CommandResult {
  int status = -1;     // exit status, or -1 when it could not be started / was killed
  std::string output;  // stdout and stderr together
};

CommandResult run_host_command(const std::vector<std::string>& argv);
/// Throws Error{internal} with the command line and its output unless it exits 0.
void run_host_command_checked(const std::vector<std::string>& argv);

}  // namespace arl::localnode
