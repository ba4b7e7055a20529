#pragma once
// Runs a Task's steps, in order, against one executor: the code path shared
// by the operator and by `arl sidecar exec-local`.
#include <chrono>
#include <string>
#include <tuple>
#include <vector>

#include "core/types.h"
#include "sidecar/step_runner.h"

namespace arl::sidecar {

struct AttemptOutcome {
  bool ok = true;
  std::string reason, message;  // reason: Timeout | StepFailed | StepInvalid | ExecutorUnavailable
};

class TaskRun {
 public:
  /// Output kept in status per stream is the tail of at most output_cap bytes.
  TaskRun(core::Task& task, StepRunner& runner, size_t output_cap) : t_(task), runner_(runner), cap_(output_cap) {}

  /// One attempt of at most `budget` (spec.timeout): every step in order
  /// until the first failure (later steps Skipped); fills task.status.steps,
  /// stdout, stderr, exitCode.
  AttemptOutcome attempt(std::chrono::milliseconds budget);

  /// The first attempt (already counted in status.attempts by the caller,
  /// who reports the task Running with it), then retries while spec.retries
  /// allows, whatever the failure, a timeout included. spec.timeout is per
  /// attempt (the manual: `retries: 3` with `timeout: 60s` gives each attempt
  /// 60 s). Every attempt is counted in status.attempts. Returns the last
  /// outcome, so the task's reason is the last attempt's.
  AttemptOutcome run_with_retries(std::chrono::milliseconds budget);

  /// Writes the full output of truncated steps into the sandbox at
  /// /workspace/.arl/tasks/<task>/<step>.stdout|.stderr (best effort).
  void store_full_output();

 private:
  core::Task& t_;
  StepRunner& runner_;
  size_t cap_;
  std::vector<std::tuple<std::string, std::string, std::string>> full_out_;
};

}  // namespace arl::sidecar
