#pragma once
// What the agent does with a pod, decided from what the API server says
// (the pod object) and what runs here (the local process), as a kubelet and
// a scheduler would together. Pure: the sync loop observes, calls these and
// applies the result; tests/localnode/pod_decision_test.cpp is its table.
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace arl::localnode {

using json = nlohmann::json;

/// The fields of a pod the decision reads.
struct PodView {
  std::string uid;
  std::string node_name;
  std::string scheduler_name;
  std::map<std::string, std::string> node_selector;
  bool deleting = false;  // metadata.deletionTimestamp is set
  std::string phase;
};
PodView view_of(const json& pod);

/// The node as the pods see it.
struct NodeView {
  std::string name;
  std::map<std::string, std::string> labels;
};

enum class PodAction {
  none,             // not ours, finished, or nothing to do
  stop,             // the pod is gone from the API: kill its process at once
  start,            // ours and not running here: plan and spawn it
  report_status,    // running here: write its status if that changed
  finish_deletion,  // ours and being deleted: stop within the grace, then remove the object
};

struct PodDecision {
  /// A process of an earlier pod with the same name runs: kill it first.
  bool kill_stale = false;
  /// Unscheduled and this node fits: bind it to us before acting.
  bool bind = false;
  PodAction action = PodAction::none;
  bool operator==(const PodDecision&) const = default;
};

/// `pod` is nullopt when the API server no longer has it; `local_uid` is the
/// uid of the pod whose process runs here, nullopt when none does.
PodDecision decide_pod(const std::optional<PodView>& pod, const std::optional<std::string>& local_uid,
                       const NodeView& node);

/// Whether a pod process an earlier agent of this node left running is taken
/// over rather than killed: its network must have survived (else it can no
/// longer be reached), the API server must still have the very pod it was
/// started for (same uid) on this node, and that agent's last status must say
/// where it runs (`reported`: see reported_run_state).
bool adopt_leftover(const std::string& leftover_uid, const std::optional<PodView>& pod, bool reported,
                    bool network_kept, const NodeView& node);

/// Whether an unscheduled pod may be bound here: the default scheduler is
/// ours to play, another scheduler's pods are not; nodeSelector must match.
bool schedulable_here(const PodView& pod, const NodeView& node);

/// How long a deleted pod's process gets after SIGTERM: the deletion's grace,
/// else the spec's, else 30 s as in Kubernetes, capped at `max`: a
/// terminating pod holds one of the few sync workers until it is gone.
std::chrono::seconds deletion_grace(const json& pod, std::chrono::seconds max);

/// What the API server was last told about a running pod, and what is true now.
struct StatusView {
  std::string phase;  // now
  bool ready = false;
  bool exited = false;
  std::string reported_phase;  // empty: nothing written yet
  bool reported_ready = false;
  std::chrono::milliseconds age{0};  // since the process started
};

/// Whether to write the pod status now. The first write waits (up to
/// ready_wait) for readiness, so a pod normally goes Pending -> Running+Ready
/// in ONE write instead of two; each later change is written once.
bool status_write_due(const StatusView& s, std::chrono::milliseconds ready_wait);

/// Delay before the next readiness probe: fast while the process starts
/// (pod Ready latency is the hot path), gentle once it is slow to come up.
std::chrono::milliseconds probe_interval(std::chrono::milliseconds age);

}  // namespace arl::localnode
