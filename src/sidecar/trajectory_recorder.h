#pragma once
// Wraps each operation of the sidecar's routes so it lands in the trajectory
// (trajectory.h) with its time, duration and outcome, a refused one with its
// error. The operation runs exactly as without it: its result is returned and
// its exception rethrown unchanged; recording itself never throws.
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "sidecar/output_digest.h"
#include "sidecar/trajectory.h"
#include "sidecar/trajectory_lines.h"

namespace arl::sidecar {

class TrajectoryRecorder {
 public:
  explicit TrajectoryRecorder(TrajectoryOptions options) : trajectory_(std::move(options)) {}

  Trajectory& trajectory() { return trajectory_; }

  /// The sandbox's bound env (POST /bind): its values never reach a line.
  void set_secrets(const std::map<std::string, std::string>& env);

  core::ExecuteResponse execute(const core::ExecuteRequest& req, const std::function<core::ExecuteResponse()>& run);
  core::FileWriteResponse file_write(const core::FileWriteRequest& req,
                                     const std::function<core::FileWriteResponse()>& run);
  core::CheckpointInfo checkpoint(const std::string& name, const std::function<core::CheckpointInfo()>& run);
  core::RestoreResponse restore(const std::string& ref, bool kill_processes,
                                const std::function<core::RestoreResponse()>& run);
  core::SignalResponse signal(int pid, const std::string& signal_name, const std::function<core::SignalResponse()>& run);
  core::ResetResponse reset(bool preserve_files, const std::function<core::ResetResponse()>& run);

  /// A streamed execute: output is digested as it goes out, the line is
  /// written at the end (the exit or error event).
  class Stream {
   public:
    Stream(TrajectoryRecorder& owner, const core::ExecuteRequest& req);
    void output(bool is_stderr, std::string_view data);
    void finish(const core::ExecEvent& last);

   private:
    TrajectoryRecorder& owner_;
    const core::ExecuteRequest& req_;
    std::chrono::system_clock::time_point started_;
    OutputDigest out_, err_;
  };

 private:
  Redactor secrets();
  void record(TrajectoryLine line, std::chrono::system_clock::time_point started, double duration_ms);
  template <typename R>
  R timed(TrajectoryLine line, const std::function<R()>& run, const std::function<void(TrajectoryLine&, const R*)>& fill);

  Trajectory trajectory_;
  std::mutex mu_;
  Redactor secrets_;
};

}  // namespace arl::sidecar
