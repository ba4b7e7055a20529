#include "sidecar/task_run.h"

#include <fmt/format.h>

#include "core/duration.h"
#include "core/error.h"
#include "core/names.h"

namespace arl::sidecar {

using Clock = std::chrono::steady_clock;

namespace {

// Keeps the tail: the end of a log is where the error usually is.
std::string tail(const std::string& s, size_t cap, bool& truncated) {
  if (s.size() <= cap) return s;
  truncated = true;
  size_t start = s.size() - cap;
  while (start < s.size() && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) ++start;  // no split UTF-8
  return s.substr(start);
}

}  // namespace

AttemptOutcome TaskRun::attempt(std::chrono::milliseconds budget) {
  const Clock::time_point deadline = Clock::now() + budget;
  auto& st = t_.status;
  st.steps.clear();
  st.stdout_.clear();
  st.stderr_.clear();
  st.exit_code.reset();
  full_out_.clear();
  AttemptOutcome out;
  for (const auto& step : t_.spec.steps) {
    core::StepStatus ss{step.name, "Running", std::nullopt, "", "", false, std::nullopt, core::now_rfc3339(), ""};
    if (!out.ok) {
      ss.state = "Skipped";
      ss.started_at.clear();
      st.steps.push_back(ss);
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      out = {false, "Timeout", fmt::format("attempt {} exceeded its timeout of {}", st.attempts, core::format_duration(budget))};
      ss.state = "Failed";
      st.steps.push_back(ss);
      continue;
    }
    try {
      if (step.type == core::kStepFilePatch) {
        runner_.write_file({step.path, step.content, std::nullopt, ""});
        ss.state = "Succeeded";
      } else {
        core::ExecuteRequest req;
        req.command = step.command;
        req.working_dir = step.work_dir;  // "": the sandbox's working dir (bind), else the workdir
        req.env = step.env;
        req.timeout_seconds = static_cast<double>(left.count()) / 1000.0;
        req.background = step.background;
        core::ExecuteResponse r = runner_.execute(req);
        ss.exit_code = r.exit_code;
        st.exit_code = r.exit_code;
        ss.pid = r.pid ? std::optional<int64_t>(*r.pid) : std::nullopt;
        ss.usage = r.usage;
        full_out_.push_back({step.name, r.stdout_data, r.stderr_data});
        ss.stdout_ = tail(r.stdout_data, cap_, ss.truncated);
        ss.stderr_ = tail(r.stderr_data, cap_, ss.truncated);
        ss.truncated = ss.truncated || r.stdout_truncated || r.stderr_truncated;
        st.stdout_ += r.stdout_data;
        st.stderr_ += r.stderr_data;
        if (r.timed_out) {
          ss.state = "Failed";
          out = {false, "Timeout",
                 fmt::format("attempt {} exceeded its timeout of {} in step {}", st.attempts, core::format_duration(budget), step.name)};
        } else if (r.exit_code != 0) {
          ss.state = "Failed";
          out = {false, "StepFailed", fmt::format("step {} exited with code {}", step.name, r.exit_code)};
        } else {
          ss.state = "Succeeded";
        }
      }
    } catch (const Error& e) {
      ss.state = "Failed";
      out = {false, e.code() == ErrorCode::invalid ? "StepInvalid" : "ExecutorUnavailable",
             fmt::format("step {}: {}", step.name, e.what())};
    }
    ss.completed_at = core::now_rfc3339();
    st.steps.push_back(ss);
  }
  st.stdout_ = tail(st.stdout_, cap_, st.stdout_truncated);
  st.stderr_ = tail(st.stderr_, cap_, st.stderr_truncated);
  return out;
}

void TaskRun::store_full_output() {
  for (size_t i = 0; i < full_out_.size(); ++i) {
    const auto& [step, out, err] = full_out_[i];
    bool truncated = false;
    for (const auto& ss : t_.status.steps)
      if (ss.name == step) truncated = ss.truncated;
    if (!truncated) continue;
    std::string dir = fmt::format("{}/.arl/tasks/{}/", kDefaultWorkDir, t_.metadata.name);
    try {
      runner_.write_file({dir + step + ".stdout", out, std::nullopt, ""});
      runner_.write_file({dir + step + ".stderr", err, std::nullopt, ""});
    } catch (const Error&) {
      // Best effort: the capped tail is in the status either way.
    }
  }
}

AttemptOutcome TaskRun::run_with_retries(std::chrono::milliseconds budget) {
  AttemptOutcome outcome = attempt(budget);
  while (!outcome.ok && t_.status.attempts <= t_.spec.retries) {
    t_.status.attempts += 1;
    outcome = attempt(budget);
  }
  return outcome;
}

}  // namespace arl::sidecar
