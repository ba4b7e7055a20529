#pragma once
// The pod processes of this node: spawns them, probes their readiness,
// notices their exit, kills them (with the pod's grace) and removes their
// files. Knows nothing of the API server: it reports through `wake(key)`
// and answers what the sync loop asks.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "localnode/log_server.h"
#include "localnode/pod_plan.h"
#include "localnode/pod_status.h"

namespace arl::localnode {

struct SupervisorOptions {
  std::string state_dir;
  std::chrono::seconds max_grace{2};
  std::chrono::milliseconds ready_wait{1000};
};

/// A pod process an earlier agent left running, found by its pid file.
struct Leftover {
  std::string key;  // "ns/name"; empty in pid files of agents older than adoption
  std::string uid;
  pid_t pid = 0;
  uint64_t start_ticks = 0;
  std::string pid_file;
};

/// A status patch the sync loop should write, and what it reports.
struct StatusWrite {
  json patch;
  std::string phase;
  bool ready = false;
};

class PodSupervisor {
 public:
  using Wake = std::function<void(const std::string& key)>;
  PodSupervisor(SupervisorOptions opts, Wake wake);
  ~PodSupervisor();
  PodSupervisor(const PodSupervisor&) = delete;
  PodSupervisor& operator=(const PodSupervisor&) = delete;

  /// state-dir/pods/NS_NAME for the pod "NS/NAME".
  std::string pod_dir_of(const std::string& key) const;

  /// The live processes an earlier agent left, found by their pid files (pid
  /// + start time, so a recycled pid is never taken for one). Pid files of
  /// processes that are gone are removed.
  std::vector<Leftover> find_leftovers();
  /// Kills a leftover with everything in its pod and removes its pid file.
  void kill_leftover(const Leftover& l);
  /// Takes a leftover over as if this agent had started it: watched for its
  /// exit (through a pidfd: it is not our child), probed while unready,
  /// stopped with the pod's grace. `rs` is what the API server was told
  /// (reported_run_state), so an unchanged status is not written again.
  /// False, and nothing taken, when the process ended meanwhile.
  bool adopt(const Leftover& l, const Probe& readiness, RunState rs, const std::string& reported_phase);
  /// Removes pod dirs of pods not in `keep` (keys), left by an earlier agent.
  void remove_stale_pod_dirs(const std::set<std::string>& keep);

  /// The log of the pod's process while the supervisor knows it (running or
  /// exited, until the pod is stopped and its files removed).
  std::optional<PodLog> log_of(const std::string& key);

  /// uid of the pod whose process runs (or ran) here under `key`.
  std::optional<std::string> uid_of(const std::string& key);

  /// Spawns the pod's process and probes it once. `rs` carries container,
  /// image, IPs and start time. Throws Error when the spawn fails.
  void start(const std::string& key, const std::string& uid, const ProcessPlan& plan, RunState rs, int netns_fd);
  /// The status to write for `key` if it changed and is due (see status_write_due).
  std::optional<StatusWrite> status_to_write(const std::string& key, const std::string& now);
  /// Records that `w` reached the API server, so it is not written again.
  void mark_reported(const std::string& key, const StatusWrite& w);

  /// SIGTERM, SIGKILL after `grace`; returns once reaped, then removes the
  /// pod's files and forgets it. No process: removes the files only.
  void stop(const std::string& key, std::chrono::seconds grace);

  /// Reaps exited processes and probes unready ones until `stop`, calling
  /// wake(key) when a pod's status changed or its first write is due.
  void monitor(std::stop_token stop);
  /// Stops every pod (graces in parallel); used at shutdown.
  void stop_all();

 private:
  struct Entry;
  std::shared_ptr<Entry> entry_of(const std::string& key);
  void capture_mnt_locked(Entry& e);
  bool check_exit_locked(Entry& e);
  bool check_adopted_exit_locked(Entry& e);
  void try_probe(Entry& e);
  void terminate(Entry& e, std::chrono::seconds grace);
  void forget(const std::shared_ptr<Entry>& e);

  SupervisorOptions opts_;
  Wake wake_;
  const std::string own_mnt_ns_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
};

}  // namespace arl::localnode
