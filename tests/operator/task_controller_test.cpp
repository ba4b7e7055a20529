#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "operator/task_plan.h"
#include "k8s/sandbox_token.h"
#include "operator_fixture.h"

using namespace arl::op;
using namespace arl::op::testing;

namespace {

// A pool of one ready pod and a Ready sandbox on it.
void ready_sandbox(Fixture& f, bool keep_alive = true) { f.allocate_sandbox(keep_alive); }

json two_steps() {
  return json::parse(R"([{"name":"write","type":"FilePatch","path":"hello.txt","content":"hi"},
                         {"name":"run","type":"Command","command":["sh","-c","cat hello.txt"],"env":{"A":"1"}}])");
}

}  // namespace

TEST_CASE("steps run in order through the sidecar with the sandbox's own token") {
  Fixture f;
  ready_sandbox(f);
  f.script->replies.push_back(reply(0, "hi"));
  f.make_task("t", "sb", two_steps());
  reconcile_task(*f.ctx, "default", "t");
  auto t = f.get(res::tasks, "t");
  CHECK(t["status"]["state"] == "Succeeded");
  CHECK(t["status"]["stdout"] == "hi");
  CHECK(t["status"]["exitCode"] == 0);
  CHECK(t["status"]["attempts"] == 1);
  CHECK(t["status"]["steps"].size() == 2);
  REQUIRE(f.script->written.size() == 1);
  CHECK(f.script->written[0].path == "hello.txt");
  REQUIRE(f.script->executed.size() == 1);
  CHECK(f.script->executed[0].env.at("A") == "1");
  // No workDir in the step: none is sent, so the sidecar starts it in the
  // sandbox's own working dir (spec.workingDir from the bind), else /workspace.
  CHECK(f.script->executed[0].working_dir == "");
  auto secret = f.kube.get(res::secrets, "default", "arl-pool-py").value();
  auto sb = f.get(res::sandboxes, "sb");
  CHECK(f.last_token == arl::k8s::sandbox_token(secret["stringData"]["token"].get<std::string>(),
                                                sb["metadata"]["uid"].get<std::string>()));
  CHECK(f.get(res::sandboxes, "sb")["status"]["phase"] == "Ready");  // keepAlive: back to Ready
}

TEST_CASE("a task's stages are observed once its outcome is written, from its first sighting") {
  Fixture f;
  ready_sandbox(f);
  f.script->replies.push_back(reply(0, "hi"));
  json task = f.make_task("t", "sb", two_steps());
  note_task_seen(*f.ctx, task);  // as the informer's add handler does
  reconcile_task(*f.ctx, "default", "t");
  REQUIRE(f.get(res::tasks, "t")["status"]["state"] == "Succeeded");
  for (const char* stage : {"queue", "plan", "spawn", "running_write", "execute", "final_write", "total"})
    CHECK_MESSAGE(f.metrics.histogram("arl_task_stage_seconds", std::string("stage=\"") + stage + "\"").first == 1, stage);
  CHECK(f.ctx->task_seen.size() == 0);  // forgotten once written
}

TEST_CASE("a failing step stops the task; later steps are skipped; the exit code is kept") {
  Fixture f;
  ready_sandbox(f);
  f.script->replies.push_back(reply(3, "", "boom"));
  json steps = json::parse(R"([{"name":"a","type":"Command","command":["false"]},
                               {"name":"b","type":"Command","command":["echo","never"]}])");
  f.make_task("t", "sb", steps);
  reconcile_task(*f.ctx, "default", "t");
  auto t = f.get(res::tasks, "t");
  CHECK(t["status"]["state"] == "Failed");
  CHECK(t["status"]["exitCode"] == 3);
  CHECK(t["status"]["stderr"] == "boom");
  CHECK(t["status"]["steps"][1]["state"] == "Skipped");
  CHECK(f.script->executed.size() == 1);
}

TEST_CASE("timeout fails with reason Timeout once no retry is left") {
  Fixture f;
  ready_sandbox(f);
  f.script->replies.push_back(reply(124, "", "", true));
  f.make_task("t", "sb", json::parse(R"([{"name":"a","type":"Command","command":["sleep","99"]}])"), json{{"timeout", "2s"}});
  reconcile_task(*f.ctx, "default", "t");
  auto t = f.get(res::tasks, "t");
  CHECK(t["status"]["state"] == "Failed");
  CHECK(t["status"]["reason"] == "Timeout");
  CHECK(t["status"]["message"] == "attempt 1 exceeded its timeout of 2s in step a");
  CHECK(t["status"]["attempts"] == 1);
  CHECK(f.script->executed[0].timeout_seconds.value() <= 2.0);
}

TEST_CASE("each attempt gets the whole spec.timeout and a timed-out attempt is retried") {
  Fixture f;
  ready_sandbox(f);
  f.script->replies = {reply(124, "", "", true), reply(124, "", "", true), reply(0, "ok")};
  f.make_task("t", "sb", json::parse(R"([{"name":"a","type":"Command","command":["slow"]}])"), json{{"timeout", "60s"}, {"retries", 3}});
  reconcile_task(*f.ctx, "default", "t");
  auto t = f.get(res::tasks, "t");
  CHECK(t["status"]["state"] == "Succeeded");
  CHECK(t["status"]["attempts"] == 3);
  REQUIRE(f.script->executed.size() == 3);
  for (const auto& req : f.script->executed) CHECK(req.timeout_seconds.value() == doctest::Approx(60).epsilon(0.01));
}

TEST_CASE("retries rerun the steps until one attempt succeeds") {
  Fixture f;
  ready_sandbox(f);
  f.script->replies = {reply(1), reply(0, "ok")};
  f.make_task("t", "sb", json::parse(R"([{"name":"a","type":"Command","command":["flaky"]}])"), json{{"retries", 1}});
  reconcile_task(*f.ctx, "default", "t");
  auto t = f.get(res::tasks, "t");
  CHECK(t["status"]["state"] == "Succeeded");
  CHECK(t["status"]["attempts"] == 2);
  CHECK(t["status"]["stdout"] == "ok");
}

TEST_CASE("background steps record their pid") {
  Fixture f;
  ready_sandbox(f);
  auto r = reply(0);
  r.pid = 4242;
  r.done = false;
  f.script->replies.push_back(r);
  f.make_task("t", "sb", json::parse(R"([{"name":"srv","type":"Command","command":["sleep","100"],"background":true}])"));
  reconcile_task(*f.ctx, "default", "t");
  auto t = f.get(res::tasks, "t");
  CHECK(t["status"]["steps"][0]["pid"] == 4242);
  CHECK(f.script->executed[0].background);
}

TEST_CASE("keepAlive=false releases the sandbox and deletes its pod after the first task") {
  Fixture f;
  ready_sandbox(f, false);
  std::string pod = f.get(res::sandboxes, "sb")["status"]["podName"];
  f.make_task("t", "sb", json::parse(R"([{"name":"a","type":"Command","command":["true"]}])"));
  reconcile_task(*f.ctx, "default", "t");
  CHECK(f.get(res::sandboxes, "sb")["status"]["phase"] == "Released");
  CHECK_FALSE(f.kube.get(res::pods, "default", pod));
  // a later task on it fails instead of waiting forever
  f.make_task("t2", "sb", json::parse(R"([{"name":"a","type":"Command","command":["true"]}])"));
  reconcile_task(*f.ctx, "default", "t2");
  CHECK(f.get(res::tasks, "t2")["status"]["reason"] == "SandboxUnavailable");
}

TEST_CASE("tasks of one sandbox run one at a time in creation order") {
  Fixture f;
  ready_sandbox(f);
  std::vector<std::function<void()>> deferred;
  f.ctx->spawn = [&](std::function<void()> fn) { deferred.push_back(std::move(fn)); };
  json steps = json::parse(R"([{"name":"a","type":"Command","command":["true"]}])");
  f.make_task("first", "sb", steps);
  f.make_task("second", "sb", steps);
  reconcile_task(*f.ctx, "default", "second");  // not first in line
  CHECK(deferred.empty());
  reconcile_task(*f.ctx, "default", "first");
  REQUIRE(deferred.size() == 1);
  reconcile_task(*f.ctx, "default", "second");  // the sandbox is busy
  CHECK(deferred.size() == 1);
  deferred[0]();
  CHECK(f.get(res::tasks, "first")["status"]["state"] == "Succeeded");
  CHECK(std::find(f.enqueued.begin(), f.enqueued.end(), "task:default/second") != f.enqueued.end());
  reconcile_task(*f.ctx, "default", "second");
  REQUIRE(deferred.size() == 2);
  deferred[1]();
  CHECK(f.get(res::tasks, "second")["status"]["state"] == "Succeeded");
}

TEST_CASE("a task waits for a Pending sandbox, and fails when its sandbox never appears") {
  Fixture f;
  f.make_sandbox("sb", "nopool");
  reconcile_sandbox(*f.ctx, "default", "sb");
  f.make_task("t", "sb", json::parse(R"([{"name":"a","type":"Command","command":["true"]}])"));
  reconcile_task(*f.ctx, "default", "t");
  auto waiting = f.get(res::tasks, "t")["status"];
  CHECK(waiting["state"] == "Pending");
  CHECK(waiting["reason"] == "SandboxNotReady");
  CHECK(waiting["message"] == "sandbox \"sb\" is Pending");

  f.ctx->config.missing_sandbox_grace = std::chrono::seconds(0);
  f.make_task("orphan", "ghost", json::parse(R"([{"name":"a","type":"Command","command":["true"]}])"));
  reconcile_task(*f.ctx, "default", "orphan");
  auto t = f.get(res::tasks, "orphan");
  CHECK(t["status"]["state"] == "Failed");
  CHECK(t["status"]["reason"] == "SandboxMissing");
}

TEST_CASE("a task found Running after a restart is resolved deterministically") {
  Fixture f;
  ready_sandbox(f);
  f.make_task("t", "sb", json::parse(R"([{"name":"a","type":"Command","command":["true"]}])"));
  f.kube.patch(res::tasks, "default", "t", arl::k8s::PatchType::merge, json{{"status", {{"state", "Running"}, {"attempts", 1}}}}, true);
  reconcile_task(*f.ctx, "default", "t");
  auto t = f.get(res::tasks, "t");
  CHECK(t["status"]["state"] == "Failed");
  CHECK(t["status"]["reason"] == "OperatorRestarted");
  CHECK(f.script->executed.empty());
}

TEST_CASE("output beyond the cap keeps the tail in status and the whole in the sandbox") {
  Fixture f;
  f.ctx->config.status_output_cap = 8;
  ready_sandbox(f);
  f.script->replies.push_back(reply(0, "0123456789abcdef"));
  f.make_task("t", "sb", json::parse(R"([{"name":"a","type":"Command","command":["big"]}])"));
  reconcile_task(*f.ctx, "default", "t");
  auto t = f.get(res::tasks, "t");
  CHECK(t["status"]["stdout"] == "89abcdef");
  CHECK(t["status"]["stdoutTruncated"] == true);
  CHECK(t["status"]["steps"][0]["truncated"] == true);
  bool stored = false;
  for (const auto& w : f.script->written)
    stored |= w.path == "/workspace/.arl/tasks/t/a.stdout" && w.content == "0123456789abcdef";
  CHECK(stored);
}

TEST_CASE("finished tasks are deleted after their TTL") {
  Fixture f;
  ready_sandbox(f);
  f.make_task("t", "sb", json::parse(R"([{"name":"a","type":"Command","command":["true"]}])"), json{{"ttlSecondsAfterFinished", 0}});
  reconcile_task(*f.ctx, "default", "t");
  reconcile_task(*f.ctx, "default", "t");
  CHECK_FALSE(f.kube.get(res::tasks, "default", "t"));
}

// ---- Tables: given this world and this time, exactly these writes.

namespace {

json one_step() { return json::parse(R"([{"name":"a","type":"Command","command":["true"]}])"); }

struct TaskRow {
  const char* name;
  std::function<void(Fixture&)> world;  // creates task "t"
  std::chrono::milliseconds after_created;
  Writes writes;
  std::chrono::milliseconds requeue;
  size_t started;  // executions handed to ctx.spawn
};

void finished(Fixture& f, json extra) {
  f.make_task("t", "sb", one_step(), extra);
  std::string created = f.get(res::tasks, "t")["metadata"]["creationTimestamp"];
  f.set_status(res::tasks, "t", {{"state", "Succeeded"}, {"completedAt", created}});
}

}  // namespace

TEST_CASE("task reconcile: exact writes per world") {
  using std::chrono::milliseconds;
  const std::vector<TaskRow> rows = {
      {"sandbox Ready: the execution starts; the reconcile itself writes nothing",
       [](Fixture& f) {
         ready_sandbox(f);
         f.make_task("t", "sb", one_step());
       },
       milliseconds(0), {}, milliseconds(0), 1},
      {"sandbox Pending: says why it waits, waits for the sandbox's wake-up, rechecks slowly",
       [](Fixture& f) {
         f.make_sandbox("sb", "nopool");
         reconcile_sandbox(*f.ctx, "default", "sb");
         f.make_task("t", "sb", one_step());
       },
       milliseconds(0), {"patch_status tasks/t"}, kWaitingTaskRecheck, 0},
      {"sandbox Pending, the task already says so: no write",
       [](Fixture& f) {
         f.make_sandbox("sb", "nopool");
         reconcile_sandbox(*f.ctx, "default", "sb");
         f.make_task("t", "sb", one_step());
         f.set_status(res::tasks, "t", {{"state", "Pending"}, {"reason", "SandboxNotReady"}, {"message", "sandbox \"sb\" is Pending"}});
       },
       milliseconds(0), {}, kWaitingTaskRecheck, 0},
      {"sandbox missing, within the 30 s grace: says so, requeue at its end", [](Fixture& f) { f.make_task("t", "sb", one_step()); },
       milliseconds(10000), {"patch_status tasks/t"}, milliseconds(20050), 0},
      {"sandbox missing past the grace: Failed with SandboxMissing and a Warning",
       [](Fixture& f) { f.make_task("t", "sb", one_step()); }, milliseconds(30000), {"patch_status tasks/t", "create events/t.*"},
       milliseconds(0), 0},
      {"found Running with no retry left: Failed with OperatorRestarted",
       [](Fixture& f) {
         ready_sandbox(f);
         f.make_task("t", "sb", one_step());
         f.set_status(res::tasks, "t", {{"state", "Running"}, {"attempts", 1}});
       },
       milliseconds(0), {"patch_status tasks/t", "create events/t.*"}, milliseconds(0), 0},
      {"found Running with a retry left: runs again",
       [](Fixture& f) {
         ready_sandbox(f);
         f.make_task("t", "sb", one_step(), {{"retries", 1}});
         f.set_status(res::tasks, "t", {{"state", "Running"}, {"attempts", 1}});
       },
       milliseconds(0), {}, milliseconds(0), 1},
      {"found Running with its sandbox gone: Failed with SandboxMissing at once",
       [](Fixture& f) {
         f.make_task("t", "sb", one_step(), {{"retries", 1}});
         f.set_status(res::tasks, "t", {{"state", "Running"}, {"attempts", 1}});
       },
       milliseconds(0), {"patch_status tasks/t", "create events/t.*"}, milliseconds(0), 0},
      {"sandbox Released: Failed with SandboxUnavailable",
       [](Fixture& f) {
         ready_sandbox(f);
         f.set_status(res::sandboxes, "sb", {{"phase", "Released"}});
         f.make_task("t", "sb", one_step());
       },
       milliseconds(0), {"patch_status tasks/t", "create events/t.*"}, milliseconds(0), 0},
      {"second in line on its sandbox: says it waits for the first",
       [](Fixture& f) {
         ready_sandbox(f);
         f.make_task("s", "sb", one_step());
         f.make_task("t", "sb", one_step());
       },
       milliseconds(0), {"patch_status tasks/t"}, milliseconds(0), 0},
      {"its sandbox busy with another task in this process: says it waits",
       [](Fixture& f) {
         ready_sandbox(f);
         f.make_task("t", "sb", one_step());
         f.ctx->busy_sandboxes.insert("default/sb");
       },
       milliseconds(0), {"patch_status tasks/t"}, milliseconds(0), 0},
      {"its sandbox busy with this very task (Running not written yet): nothing",
       [](Fixture& f) {
         ready_sandbox(f);
         f.make_task("t", "sb", one_step());
         f.ctx->busy_sandboxes.insert("default/sb");
         f.ctx->running_tasks.insert("default/t");
       },
       milliseconds(0), {}, milliseconds(0), 0},
      {"finished without a TTL: kept", [](Fixture& f) { finished(f, json::object()); }, milliseconds(3600000), {},
       milliseconds(0), 0},
      {"finished, TTL 60 s not yet passed: no write, requeue at the deadline",
       [](Fixture& f) { finished(f, {{"ttlSecondsAfterFinished", 60}}); }, milliseconds(30000), {}, milliseconds(30050), 0},
      {"finished, TTL 60 s passed: deleted", [](Fixture& f) { finished(f, {{"ttlSecondsAfterFinished", 60}}); },
       milliseconds(60000), {"delete tasks/t"}, milliseconds(0), 0},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    Fixture f;
    std::vector<std::function<void()>> started;
    f.ctx->spawn = [&](std::function<void()> fn) { started.push_back(std::move(fn)); };
    row.world(f);
    f.at(at_rfc3339(f.get(res::tasks, "t")["metadata"]["creationTimestamp"]) + row.after_created);
    f.kube.reset_counters();
    Result r = reconcile_task(*f.ctx, "default", "t");
    CHECK(f.writes() == row.writes);
    CHECK(r.requeue_after == row.requeue);
    CHECK(started.size() == row.started);
  }
}

TEST_CASE("a failure's status names the reason, with the generation observed") {
  Fixture f;
  f.make_task("t", "ghost", one_step());
  const auto created = at_rfc3339(f.get(res::tasks, "t")["metadata"]["creationTimestamp"]);
  f.at(created + std::chrono::seconds(30));
  f.kube.reset_counters();
  reconcile_task(*f.ctx, "default", "t");
  json st = f.body("patch_status", "tasks", "t")["status"];
  const std::string when = arl::core::format_rfc3339(created + std::chrono::seconds(30));
  CHECK(st["state"] == "Failed");
  CHECK(st["reason"] == "SandboxMissing");
  CHECK(st["message"] == "sandbox \"ghost\" does not exist");
  CHECK(st["startedAt"] == when);
  CHECK(st["completedAt"] == when);
  CHECK(st["observedGeneration"] == 1);
  CHECK(st["conditions"] == json::parse(R"([{"type":"Complete","status":"True","reason":"SandboxMissing",
      "message":"sandbox \"ghost\" does not exist","lastTransitionTime":")" + when + R"(","observedGeneration":1}])"));
}

namespace {

// Task t of one step on a Ready sandbox sb, reconciled once: the writes it made.
Writes run_one_step_task(Fixture& f) {
  ready_sandbox(f);
  f.make_task("t", "sb", one_step());
  f.kube.reset_counters();
  reconcile_task(*f.ctx, "default", "t");
  return f.writes();
}

}  // namespace

TEST_CASE("a run writes the task Running, the sandbox Bound, the outcome, the sandbox Ready") {
  Fixture f;
  CHECK(run_one_step_task(f) == Writes{"patch_status tasks/t", "patch_status sandboxes/sb", "patch_status tasks/t", "patch_status sandboxes/sb"});
  auto log = f.kube.write_log();
  CHECK(log[0].body["status"]["state"] == "Running");
  CHECK(log[0].body["status"]["observedGeneration"] == 1);
  CHECK(log[1].body["status"]["phase"] == "Bound");
  CHECK(log[2].body["status"]["state"] == "Succeeded");
  CHECK(log[2].body["status"]["conditions"][0]["observedGeneration"] == 1);
  CHECK(log[3].body["status"]["phase"] == "Ready");
}

namespace {

// Answers after `delay`, as a command that takes that long would.
class SlowRunner : public arl::sidecar::StepRunner {
 public:
  explicit SlowRunner(std::chrono::milliseconds delay) : delay_(delay) {}
  arl::core::ExecuteResponse execute(const arl::core::ExecuteRequest&) override {
    std::this_thread::sleep_for(delay_);
    return arl::core::ExecuteResponse{};
  }
  void write_file(const arl::core::FileWriteRequest&) override {}

 private:
  std::chrono::milliseconds delay_;
};

}  // namespace

TEST_CASE("a run shorter than bound_after never writes its sandbox Bound") {
  Fixture f;
  f.ctx->alongside = threaded_alongside();
  f.ctx->config.bound_after = std::chrono::seconds(10);
  CHECK(run_one_step_task(f) == Writes{"patch_status tasks/t", "patch_status tasks/t", "patch_status sandboxes/sb"});
  auto log = f.kube.write_log();
  CHECK(log[1].body["status"]["state"] == "Succeeded");
  CHECK(log[2].body["status"]["phase"] == "Ready");
  CHECK(log[2].body["status"].contains("lastActivityAt"));
}

TEST_CASE("a run still going after bound_after writes its sandbox Bound before the outcome") {
  Fixture f;
  f.ctx->alongside = threaded_alongside();
  f.ctx->config.bound_after = std::chrono::milliseconds(5);
  f.ctx->runners = [](const std::string&, const std::string&) { return std::make_unique<SlowRunner>(std::chrono::milliseconds(300)); };
  CHECK(run_one_step_task(f) == Writes{"patch_status tasks/t", "patch_status sandboxes/sb", "patch_status tasks/t", "patch_status sandboxes/sb"});
  auto log = f.kube.write_log();
  CHECK(log[1].body["status"]["phase"] == "Bound");
  CHECK(log[2].body["status"]["state"] == "Succeeded");
  CHECK(log[3].body["status"]["phase"] == "Ready");
}

TEST_CASE("keepAlive=false: the run ends with the sandbox Released and its pod deleted") {
  Fixture f;
  ready_sandbox(f, false);
  std::string pod = f.get(res::sandboxes, "sb")["status"]["podName"];
  f.make_task("t", "sb", one_step());
  f.kube.reset_counters();
  reconcile_task(*f.ctx, "default", "t");
  CHECK(f.writes() == Writes{"patch_status tasks/t", "patch_status sandboxes/sb", "patch_status tasks/t",
                             "patch_status sandboxes/sb", "delete pods/" + pod});
  CHECK(f.kube.write_log()[3].body["status"]["conditions"][0]["reason"] == "Released");
}

// When the run itself throws, the sandbox must still leave Bound: the idle
// TTL counts only from Ready, so a Bound sandbox would hold its pod forever.
TEST_CASE("a run that throws takes its sandbox back: exact writes") {
  struct ThrowRow {
    const char* name;
    bool keep_alive;
    std::function<void(Fixture&)> sabotage;  // makes the run throw
    std::function<Writes(const std::string& pod)> writes;
    const char* sandbox_phase;
  };
  auto unreachable = [](Fixture& f) {
    f.ctx->runners = [](const std::string& ip, const std::string&) -> std::unique_ptr<arl::sidecar::StepRunner> {
      throw arl::Error(arl::ErrorCode::unavailable, "sidecar at " + ip + ":8080 unreachable");
    };
  };
  // The user deletes the task while it runs: its outcome write gets 404.
  auto task_deleted = [](Fixture& f) {
    auto runs = std::make_shared<int>(0);
    f.kube.set_hook([runs](const std::string& verb, const arl::k8s::Resource& r, const std::string&, const std::string&) {
      if (verb == "patch_status" && r.plural == "tasks" && ++*runs >= 2) throw arl::Error(arl::ErrorCode::not_found, "tasks \"t\" not found");
    });
  };
  const std::vector<ThrowRow> rows = {
      {"sidecar unreachable, keepAlive: task Failed, sandbox Ready", true, unreachable,
       [](const std::string&) {
         return Writes{"patch_status tasks/t", "patch_status sandboxes/sb", "patch_status tasks/t", "patch_status sandboxes/sb"};
       },
       "Ready"},
      {"sidecar unreachable, keepAlive=false: task Failed, sandbox Released, pod deleted", false, unreachable,
       [](const std::string& pod) {
         return Writes{"patch_status tasks/t", "patch_status sandboxes/sb", "patch_status tasks/t", "patch_status sandboxes/sb",
                       "delete pods/" + pod};
       },
       "Released"},
      {"task deleted mid-run: no task write lands, the sandbox is Ready again", true, task_deleted,
       [](const std::string&) { return Writes{"patch_status tasks/t", "patch_status sandboxes/sb", "patch_status sandboxes/sb"}; },
       "Ready"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    Fixture f;
    std::string pod = f.allocate_sandbox(row.keep_alive);
    f.make_task("t", "sb", one_step());
    row.sabotage(f);
    f.kube.reset_counters();
    reconcile_task(*f.ctx, "default", "t");
    CHECK(f.writes() == row.writes(pod));
    auto sb = f.get(res::sandboxes, "sb");
    CHECK(sb["status"]["phase"] == row.sandbox_phase);
    CHECK_FALSE(sb["status"].value("lastActivityAt", "").empty());
    if (f.kube.writes("patch_status", "tasks") == 2) {  // the failure was written
      auto t = f.get(res::tasks, "t")["status"];
      CHECK(t["state"] == "Failed");
      CHECK(t["reason"] == "ExecutionError");
      CHECK(t["message"] == "sidecar at 198.18.0.2:8080 unreachable");
    }
  }
}

TEST_CASE("a task that waited loses its wait reason once it runs") {
  Fixture f;
  ready_sandbox(f);
  f.make_task("t", "sb", one_step());
  f.set_status(res::tasks, "t", {{"state", "Pending"}, {"reason", "WaitingForTask"}, {"message", "another task of sandbox \"sb\" is running"}});
  f.kube.reset_counters();
  reconcile_task(*f.ctx, "default", "t");
  auto log = f.kube.write_log();
  REQUIRE(log.size() == 4);
  CHECK(log[0].body["status"]["state"] == "Running");
  CHECK(log[0].body["status"]["reason"].is_null());  // sent as null: a merge patch keeps what it does not name
  CHECK(log[0].body["status"]["message"].is_null());
  auto st = f.get(res::tasks, "t")["status"];
  CHECK(st["state"] == "Succeeded");
  CHECK_FALSE(st.contains("reason"));
  CHECK_FALSE(st.contains("message"));
}

TEST_CASE("a run ending while the API server is away writes its outcome once it is back: no task stays Running") {
  Fixture f;
  ready_sandbox(f);
  f.script->replies.push_back(reply(0, "hi"));
  f.make_task("t", "sb", two_steps());
  // The Running write lands; then the server is away for the next 4 status writes.
  auto calls = std::make_shared<int>(0);
  f.kube.set_hook([calls](const std::string& verb, const arl::k8s::Resource& r, const std::string&, const std::string&) {
    if (verb != "patch_status") return;
    ++*calls;
    if (*calls >= 3 && *calls <= 6)
      throw arl::Error(arl::ErrorCode::unavailable, "PATCH " + r.plural + ": Connection; is the API server reachable?");
  });
  std::vector<long> waits;
  f.ctx->sleep = [&](std::chrono::milliseconds d) { waits.push_back(static_cast<long>(d.count())); };
  reconcile_task(*f.ctx, "default", "t");
  auto t = f.get(res::tasks, "t");
  CHECK(t["status"]["state"] == "Succeeded");
  CHECK(t["status"]["stdout"] == "hi");
  CHECK(f.get(res::sandboxes, "sb")["status"]["phase"] == "Ready");
  CHECK(waits == std::vector<long>{50, 100, 200, 400});  // backoff, capped at 2 s
}

TEST_CASE("an outcome write refused for good (not a transient error) is not retried") {
  Fixture f;
  ready_sandbox(f);
  f.script->replies.push_back(reply(0, "hi"));
  f.make_task("t", "sb", two_steps());
  f.kube.set_hook([](const std::string& verb, const arl::k8s::Resource& r, const std::string&, const std::string&) {
    if (verb == "patch_status" && r.plural == "tasks") throw arl::Error(arl::ErrorCode::invalid, "status.stdout: too long");
  });
  int waits = 0;
  f.ctx->sleep = [&](std::chrono::milliseconds) { ++waits; };
  reconcile_task(*f.ctx, "default", "t");
  CHECK(waits == 0);
  CHECK(f.get(res::sandboxes, "sb")["status"]["phase"] == "Ready");  // still taken back
}

TEST_CASE("a task failed as OperatorRestarted wakes its sandbox, which the dead run left Bound") {
  Fixture f;
  ready_sandbox(f);
  f.set_status(res::sandboxes, "sb", {{"phase", "Bound"}});
  f.make_task("t", "sb", two_steps());
  f.set_status(res::tasks, "t", {{"state", "Running"}, {"attempts", 1}});
  f.enqueued.clear();
  reconcile_task(*f.ctx, "default", "t");
  CHECK(f.get(res::tasks, "t")["status"]["reason"] == "OperatorRestarted");
  CHECK(std::find(f.enqueued.begin(), f.enqueued.end(), "sandbox:default/sb") != f.enqueued.end());
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.get(res::sandboxes, "sb")["status"]["phase"] == "Ready");
}

// Controllers decide on cached objects. A run can finish between a
// reconcile's cache read and its busy check (seen on the real node: a
// keepAlive=false task's Succeeded overwritten with SandboxUnavailable). The
// world below changes the task just before the reconcile's first write, as
// that finished run would: the write carries the version read, gets 409, and
// nothing is run or written over the newer outcome.
TEST_CASE("a decision on a stale view writes nothing over a newer outcome") {
  struct StaleRow {
    const char* name;
    json status_read;  // what the reconcile reads (older than the truth)
    Writes writes;     // the world's own Succeeded write; the reconcile's attempts get 409 and are not logged
  };
  const std::vector<StaleRow> rows = {
      {"read Running with no retry left (would fail with OperatorRestarted)", {{"state", "Running"}, {"attempts", 1}},
       {"patch_status tasks/t"}},
      {"read Pending on a Ready sandbox (would run the steps again)", {{"state", "Pending"}}, {"patch_status tasks/t"}},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    Fixture f;
    ready_sandbox(f);
    f.make_task("t", "sb", one_step());
    f.set_status(res::tasks, "t", row.status_read);
    auto finished_meanwhile = std::make_shared<bool>(false);
    f.kube.set_hook([&f, finished_meanwhile](const std::string& verb, const arl::k8s::Resource& r, const std::string&, const std::string&) {
      if (verb != "patch_status" || r.plural != "tasks" || *finished_meanwhile) return;
      *finished_meanwhile = true;
      f.set_status(res::tasks, "t", {{"state", "Succeeded"}, {"attempts", 1}});
    });
    f.kube.reset_counters();
    reconcile_task(*f.ctx, "default", "t");
    CHECK(f.writes() == row.writes);
    CHECK(f.get(res::tasks, "t")["status"]["state"] == "Succeeded");
    CHECK(f.script->executed.empty());
    CHECK(f.get(res::sandboxes, "sb")["status"]["phase"] == "Ready");
    CHECK(f.ctx->busy_sandboxes.empty());
  }
}

TEST_CASE("a sandbox deleted during the run leaves the task's written outcome as it is") {
  Fixture f;
  ready_sandbox(f);
  f.make_task("t", "sb", one_step());
  // Its idle TTL or its user deleted the sandbox: every write to it is 404.
  f.kube.set_hook([](const std::string& verb, const arl::k8s::Resource& r, const std::string&, const std::string&) {
    if (verb == "patch_status" && r.plural == "sandboxes") throw arl::Error(arl::ErrorCode::not_found, "sandboxes \"sb\" not found");
  });
  reconcile_task(*f.ctx, "default", "t");
  auto st = f.get(res::tasks, "t")["status"];
  CHECK(st["state"] == "Succeeded");
  CHECK_FALSE(st.contains("reason"));
}
