#include <doctest/doctest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "core/types.h"
#include "sidecar/task_run.h"

using namespace arl;
using namespace std::chrono_literals;

namespace {

// An executor whose every command fails after `delay`, counting the calls.
struct FailingRunner : sidecar::StepRunner {
  std::chrono::milliseconds delay;
  int calls = 0;
  explicit FailingRunner(std::chrono::milliseconds d) : delay(d) {}
  core::ExecuteResponse execute(const core::ExecuteRequest&) override {
    ++calls;
    std::this_thread::sleep_for(delay);
    core::ExecuteResponse r;
    r.exit_code = 1;
    return r;
  }
  void write_file(const core::FileWriteRequest&) override {}
};

core::Task failing_task(int64_t retries) {
  core::Task t;
  t.metadata.name = "t1";
  t.spec.retries = retries;
  t.spec.steps.push_back({.name = "fail", .type = "Command", .command = {"false"}});
  t.status.attempts = 1;  // the caller counts the first attempt when it reports Running
  return t;
}

}  // namespace

TEST_CASE("retries run while spec.retries allows and each is counted") {
  core::Task t = failing_task(2);
  FailingRunner runner(0ms);
  sidecar::TaskRun run(t, runner, 1024);
  auto outcome = run.run_with_retries(10s);
  CHECK_FALSE(outcome.ok);
  CHECK(outcome.reason == "StepFailed");
  CHECK(runner.calls == 3);
  CHECK(t.status.attempts == 3);
}

TEST_CASE("spec.timeout is per attempt: retries are not cut short by the earlier attempts' time") {
  // Every attempt takes 60 ms of a 100 ms timeout: three attempts take 180 ms
  // together, and each still runs, with a full budget of its own.
  core::Task t = failing_task(2);
  FailingRunner runner(60ms);
  sidecar::TaskRun run(t, runner, 1024);
  auto outcome = run.run_with_retries(100ms);
  CHECK(outcome.reason == "StepFailed");
  CHECK(runner.calls == 3);
  CHECK(t.status.attempts == 3);
}

namespace {
// Times out on the first `timeouts` calls, then succeeds; records each budget.
struct TimingOutRunner : sidecar::StepRunner {
  int timeouts;
  std::vector<double> budgets;
  explicit TimingOutRunner(int n) : timeouts(n) {}
  core::ExecuteResponse execute(const core::ExecuteRequest& req) override {
    budgets.push_back(req.timeout_seconds.value_or(-1));
    core::ExecuteResponse r;
    if (static_cast<int>(budgets.size()) <= timeouts) {
      r.exit_code = core::kTimeoutExitCode;
      r.timed_out = true;
    }
    return r;
  }
  void write_file(const core::FileWriteRequest&) override {}
};
}  // namespace

TEST_CASE("a timed-out attempt is retried with a fresh timeout while retries remain") {
  core::Task t = failing_task(3);
  TimingOutRunner runner(2);
  sidecar::TaskRun run(t, runner, 1024);
  auto outcome = run.run_with_retries(60s);
  CHECK(outcome.ok);
  CHECK(t.status.attempts == 3);
  REQUIRE(runner.budgets.size() == 3);
  for (double b : runner.budgets) CHECK(b == doctest::Approx(60).epsilon(0.01));
}

TEST_CASE("the last attempt's timeout is the task's reason once retries run out") {
  core::Task t = failing_task(1);
  TimingOutRunner runner(5);
  sidecar::TaskRun run(t, runner, 1024);
  auto outcome = run.run_with_retries(2s);
  CHECK_FALSE(outcome.ok);
  CHECK(outcome.reason == "Timeout");
  CHECK(outcome.message == "attempt 2 exceeded its timeout of 2s in step fail");
  CHECK(t.status.attempts == 2);
  CHECK(runner.budgets.size() == 2);
}
