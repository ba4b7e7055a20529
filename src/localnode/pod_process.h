#pragma once
// Starts a pod's process on the host: in the node's network namespace, in a
// private mount namespace of its own (so its bind mounts, e.g. the pod dir
// at /workspace, are seen by it alone), in a new session (one process group
// to signal), stdout/stderr appended to the pod's log file.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "localnode/pod_plan.h"

namespace arl::localnode {

struct SpawnResult {
  pid_t pid = -1;
  uint64_t start_ticks = 0;  // /proc/PID/stat starttime: tells a recycled pid apart
};

/// Creates mount sources and targets, then forks; the child joins `netns_fd`,
/// unshares its mount namespace, bind-mounts, chdirs and execs. Setup errors
/// in the child are written to the log and end it with status 126/127.
/// Throws Error{internal} when the fork itself fails.
SpawnResult spawn_pod_process(const ProcessPlan& plan, int netns_fd, const std::string& log_path,
                              const std::string& fallback_cwd);

/// kill(-pgid, sig); false when the group no longer exists.
bool signal_group(pid_t pgid, int sig);

/// "mnt:[4026532...]" of a process, empty when it is gone.
std::string mount_namespace_of(pid_t pid);
/// Signals every process in that mount namespace: a pod's processes that
/// left its process group (the sidecar runs commands in sessions of their
/// own) still share it. Never signals the agent's own namespace. Returns the count.
int signal_mount_namespace(const std::string& mnt_ns, int sig);

/// starttime field of /proc/PID/stat, nullopt when there is no such process.
std::optional<uint64_t> process_start_ticks(pid_t pid);

}  // namespace arl::localnode
