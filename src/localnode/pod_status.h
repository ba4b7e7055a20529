#pragma once
// Pure builders of the pod status the local node reports. Each transition is
// ONE strategic-merge patch of the status subresource (conditions merge by
// type, so PodScheduled written by the binding stays).
#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace arl::localnode {

using json = nlohmann::json;

/// RFC 3339 with microseconds, as metav1.MicroTime (Lease renewTime) needs.
std::string rfc3339_micro(std::chrono::system_clock::time_point t);

struct ExitInfo {
  int exit_code = 0;    // 128+signal when killed by a signal
  int signal = 0;       // 0 when it exited normally
  std::string finished_at;
  std::string reason;  // empty: Completed (exit 0) or Error
};

struct RunState {
  std::string container;
  std::string image;
  std::string pod_ip;
  std::string host_ip;
  std::string start_time;  // pod startTime and container startedAt
  int pid = 0;
  int restart_count = 0;  // the container's runs on this node before this one
  bool ready = false;
  std::optional<ExitInfo> exit;
};

/// {"status": {...}}: Running (ready or not) while the process lives,
/// Succeeded (exit 0) / Failed once it exited.
json status_patch(const RunState& s, const std::string& now);

/// The container could not be started (missing Secret, bad spec): Pending
/// with a waiting reason such as CreateContainerConfigError.
json waiting_patch(const std::string& container, const std::string& image, const std::string& reason,
                   const std::string& message, const std::string& host_ip);

/// The phase a RunState reports; used to skip writes that change nothing.
std::string phase_of(const RunState& s);

/// What an earlier agent reported of a pod whose process it left running, so
/// a new agent can take the process over: nullopt unless the status says the
/// container runs and where (pod IP, start time).
std::optional<RunState> reported_run_state(const json& pod);

/// The restartCount a new process for `pod` reports: one more than the last
/// status when a container already ran (an agent restart that lost it), so
/// whoever bound itself to the old process (the operator's sidecar bind)
/// sees that it must do so again.
int restart_count_for_new_process(const json& pod);

}  // namespace arl::localnode
