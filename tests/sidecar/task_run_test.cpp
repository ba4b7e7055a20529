#include <doctest/doctest.h>

#include <chrono>
#include <thread>

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
  auto outcome = run.run_with_retries(std::chrono::steady_clock::now() + 10s, 10s);
  CHECK_FALSE(outcome.ok);
  CHECK(outcome.reason == "StepFailed");
  CHECK(runner.calls == 3);
  CHECK(t.status.attempts == 3);
}

TEST_CASE("no retry starts once the task's deadline has passed") {
  // Every attempt takes 40 ms of a 100 ms budget: the third one ends past the
  // deadline, and a fourth must not start (it would only report Timeout).
  core::Task t = failing_task(10);
  FailingRunner runner(40ms);
  sidecar::TaskRun run(t, runner, 1024);
  auto outcome = run.run_with_retries(std::chrono::steady_clock::now() + 100ms, 100ms);
  CHECK(outcome.reason == "StepFailed");
  CHECK(runner.calls == 3);
  CHECK(t.status.attempts == 3);
}
