#pragma once
// Process creation for the executor: a vfork-style clone that puts the child
// in its own process group, wires its stdio, changes directory, resets the
// signal state the sidecar changed, closes every other descriptor (httplib's
// accepted sockets are not close-on-exec) and execs. Faster than fork and,
// unlike posix_spawn on musl, able to close inherited descriptors.
#include <string>
#include <vector>

namespace arl::sidecar {

struct SpawnSpec {
  std::string path;               // resolved executable (see resolve_executable)
  std::vector<std::string> argv;  // argv[0] as the caller gave it
  std::vector<std::string> env;   // "KEY=VALUE"
  std::string cwd;                // "" = inherit
  int stdin_fd = -1;              // each must be >= 0
  int stdout_fd = -1;
  int stderr_fd = -1;
};

/// Starts the process; returns its pid (= its process group id). Throws
/// arl::Error{invalid} when exec fails (message names argv[0] and errno);
/// the failed child is reaped before the throw.
int spawn_process(const SpawnSpec& spec);

/// argv0 with a '/' is returned as given; otherwise the first executable
/// regular file named argv0 in the colon-separated search path. Returns ""
/// when none is found.
std::string resolve_executable(const std::string& argv0, const std::string& search_path);

/// Makes sure fds 0, 1 and 2 are open (on /dev/null when not), so pipes the
/// executor creates never land on them. Call once at startup.
void ensure_std_fds_open();

}  // namespace arl::sidecar
