#include "sidecar/trajectory_recorder.h"

#include "core/types.h"

namespace arl::sidecar {

using Clock = std::chrono::system_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

OutputRecord digest(const std::string& data) {
  OutputDigest d(kTrajectoryOutputCap);
  d.add(data);
  return d.finish();
}

}  // namespace

void TrajectoryRecorder::set_secrets(const std::map<std::string, std::string>& env) {
  std::lock_guard lock(mu_);
  secrets_ = Redactor(env);
}

Redactor TrajectoryRecorder::secrets() {
  std::lock_guard lock(mu_);
  return secrets_;
}

void TrajectoryRecorder::record(TrajectoryLine line, Clock::time_point started, double duration_ms) {
  try {
    line["duration_ms"] = duration_ms;
    trajectory_.record(line, core::format_rfc3339_fraction(started, 3));
  } catch (...) {
    // Never fails the operation it describes (trajectory.h).
  }
}

template <typename R>
R TrajectoryRecorder::timed(TrajectoryLine line, const std::function<R()>& run,
                            const std::function<void(TrajectoryLine&, const R*)>& fill) {
  const auto t0 = Clock::now();
  R r;
  try {
    r = run();
  } catch (const std::exception& e) {
    fill(line, nullptr);
    line["error"] = e.what();
    record(std::move(line), t0, ms_since(t0));
    throw;
  }
  fill(line, &r);
  record(std::move(line), t0, ms_since(t0));
  return r;
}

core::ExecuteResponse TrajectoryRecorder::execute(const core::ExecuteRequest& req,
                                                  const std::function<core::ExecuteResponse()>& run) {
  const auto t0 = Clock::now();
  core::ExecuteResponse r;
  try {
    r = run();
  } catch (const std::exception& e) {
    TrajectoryLine line = execute_request_line(req, secrets());
    line["error"] = e.what();
    record(std::move(line), t0, ms_since(t0));
    throw;
  }
  try {
    record(execute_line(req, r, digest(r.stdout_data), digest(r.stderr_data), secrets()), t0, r.duration_ms);
  } catch (...) {
    // Building the line failed (no SHA-256): the command ran, its reply goes out.
  }
  return r;
}

core::FileWriteResponse TrajectoryRecorder::file_write(const core::FileWriteRequest& req,
                                                       const std::function<core::FileWriteResponse()>& run) {
  const auto t0 = Clock::now();
  core::FileWriteResponse r;
  try {
    r = run();
  } catch (const std::exception& e) {
    TrajectoryLine line = file_write_line(req, nullptr, secrets());
    line["error"] = e.what();
    record(std::move(line), t0, ms_since(t0));
    throw;
  }
  record(file_write_line(req, &r, secrets()), t0, ms_since(t0));
  return r;
}

core::CheckpointInfo TrajectoryRecorder::checkpoint(const std::string& name,
                                                    const std::function<core::CheckpointInfo()>& run) {
  return timed<core::CheckpointInfo>(line_of(TrajectoryKind::checkpoint), run,
                                     [&](TrajectoryLine& l, const core::CheckpointInfo* r) { l = checkpoint_line(name, r); });
}

core::RestoreResponse TrajectoryRecorder::restore(const std::string& ref, bool kill_processes,
                                                  const std::function<core::RestoreResponse()>& run) {
  return timed<core::RestoreResponse>(line_of(TrajectoryKind::restore), run,
                                      [&](TrajectoryLine& l, const core::RestoreResponse* r) {
                                        l = restore_line(ref, kill_processes, r);
                                      });
}

core::SignalResponse TrajectoryRecorder::signal(int pid, const std::string& signal_name,
                                                const std::function<core::SignalResponse()>& run) {
  return timed<core::SignalResponse>(line_of(TrajectoryKind::signal), run,
                                     [&](TrajectoryLine& l, const core::SignalResponse* r) { l = signal_line(pid, signal_name, r); });
}

core::ResetResponse TrajectoryRecorder::reset(bool preserve_files, const std::function<core::ResetResponse()>& run) {
  return timed<core::ResetResponse>(line_of(TrajectoryKind::reset), run,
                                    [&](TrajectoryLine& l, const core::ResetResponse* r) { l = reset_line(preserve_files, r); });
}

TrajectoryRecorder::Stream::Stream(TrajectoryRecorder& owner, const core::ExecuteRequest& req)
    : owner_(owner), req_(req), started_(Clock::now()), out_(kTrajectoryOutputCap), err_(kTrajectoryOutputCap) {}

void TrajectoryRecorder::Stream::output(bool is_stderr, std::string_view data) {
  (is_stderr ? err_ : out_).add(data);
}

void TrajectoryRecorder::Stream::finish(const core::ExecEvent& last) {
  try {
    if (last.type == core::ExecEvent::Type::error) {
      TrajectoryLine line = execute_request_line(req_, owner_.secrets());
      line["error"] = last.data;
      owner_.record(std::move(line), started_, ms_since(started_));
      return;
    }
    core::ExecuteResponse r;
    r.exit_code = last.exit_code;
    r.timed_out = last.timed_out;
    r.usage = last.usage;
    owner_.record(execute_line(req_, r, out_.finish(), err_.finish(), owner_.secrets()), started_, last.duration_ms);
  } catch (...) {
    // Never fails the stream it describes.
  }
}

}  // namespace arl::sidecar
