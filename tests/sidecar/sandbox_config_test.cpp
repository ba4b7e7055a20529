// The sandbox's env and working dir, handed over in POST /bind: every
// command after the bind sees them, a request's own env and working_dir
// win, and /processes never shows them.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <httplib.h>

#include "core/error.h"
#include "core/types.h"
#include "k8s/sidecar_client.h"
#include "sidecar/executor.h"
#include "sidecar/task_run.h"
#include "sidecar_test_util.h"

using namespace arl;
using arl::k8s::SidecarClient;
using arl::sidecar::testing::RunningServer;
using arl::sidecar::testing::sh;

namespace {
const std::string& kPool = arl::sidecar::testing::kPoolToken;
const std::string& kOwn = arl::sidecar::testing::kSandboxToken;
}  // namespace

TEST_CASE("after a bind with env and working_dir, commands see the env and start in the working dir") {
  RunningServer s(kPool);
  SidecarClient pool(s.address(), kPool);
  // Before the bind: neither exists.
  CHECK(pool.execute(sh("echo \"[$API_KEY]\"; pwd")).stdout_data == "[]\n" + s.dir.path + "\n");

  CHECK(pool.bind({kOwn}, {{{"API_KEY", "s3cret-value"}, {"SEED", "7"}}, "repo/src"}).bound);
  CHECK(std::filesystem::is_directory(s.dir.path + "/repo/src"));  // created at the bind

  SidecarClient c(s.address(), kOwn);
  auto r = c.execute(sh("echo \"$API_KEY $SEED\"; pwd"));
  CHECK(r.stdout_data == "s3cret-value 7\n" + s.dir.path + "/repo/src\n");

  // The request's own env and working_dir override the sandbox's.
  auto over = sh("echo \"$API_KEY $SEED\"; pwd");
  over.env = {{"SEED", "8"}};
  over.working_dir = ".";
  CHECK(c.execute(over).stdout_data == "s3cret-value 8\n" + s.dir.path + "\n");

  // Background commands too; /processes lists the argv only.
  core::ExecuteRequest bg = sh("echo $API_KEY > bg.tmp && mv bg.tmp bg.txt; sleep 30");
  bg.background = true;
  auto started = c.execute(bg);
  REQUIRE(started.pid);
  httplib::Client raw(s.address());
  auto ps = raw.Get("/processes", {{"X-Arl-Token", kOwn}});
  REQUIRE(ps);
  CHECK(ps->status == 200);
  CHECK(ps->body.find("s3cret-value") == std::string::npos);
  CHECK(arl::sidecar::testing::read_file_once_present(s.dir.path + "/repo/src/bg.txt") == "s3cret-value\n");
  CHECK(c.signal(*started.pid, "SIGKILL").success);
}

TEST_CASE("a task step with no workDir runs in the sandbox's working dir with its env") {
  RunningServer s(kPool);
  SidecarClient(s.address(), kPool).bind({kOwn}, {{{"TASK_ID", "t-42"}}, "job"});
  SidecarClient c(s.address(), kOwn);
  core::ExecuteRequest step = sh("echo $TASK_ID; pwd");  // as task_run.cpp builds a step: working_dir ""
  CHECK(c.execute(step).stdout_data == "t-42\n" + s.dir.path + "/job\n");
}

TEST_CASE("after a bind with a working_dir, relative file writes land in it; absolute ones and the workdir's bounds hold") {
  RunningServer s(kPool);
  SidecarClient(s.address(), kPool).bind({kOwn}, {{}, "repo/src"});
  SidecarClient c(s.address(), kOwn);

  core::FileWriteRequest rel{"main.py", "print(1)\n", std::nullopt, ""};
  CHECK(c.write_file(rel).path == s.dir.path + "/repo/src/main.py");
  // A command in the working dir finds what a relative FilePatch wrote.
  CHECK(c.execute(sh("cat main.py")).stdout_data == "print(1)\n");

  core::FileWriteRequest up{"../README", "r\n", std::nullopt, ""};  // still under the workdir: allowed
  CHECK(c.write_file(up).path == s.dir.path + "/repo/README");
  core::FileWriteRequest out{"../../../escape", "x", std::nullopt, ""};
  CHECK_THROWS_WITH_AS(c.write_file(out), doctest::Contains("escapes the workdir"), arl::Error);

  core::FileWriteRequest abs{s.dir.path + "/top.txt", "t", std::nullopt, ""};
  CHECK(c.write_file(abs).path == s.dir.path + "/top.txt");
}

TEST_CASE("without a working_dir, relative file writes land in the workdir as before") {
  RunningServer s(kPool);
  SidecarClient(s.address(), kPool).bind({kOwn}, {{}, ""});
  core::FileWriteRequest rel{"a/b.txt", "b", std::nullopt, ""};
  CHECK(SidecarClient(s.address(), kOwn).write_file(rel).path == s.dir.path + "/a/b.txt");
}

namespace {
// The operator's runner: each step is one /execute over HTTP.
struct ClientRunner : sidecar::StepRunner {
  SidecarClient& client;
  explicit ClientRunner(SidecarClient& c) : client(c) {}
  core::ExecuteResponse execute(const core::ExecuteRequest& req) override { return client.execute(req); }
  void write_file(const core::FileWriteRequest& req) override { client.write_file(req); }
};
}  // namespace

TEST_CASE("task steps, parsed as the operator parses them, start in the sandbox's working dir; their own env and workDir win") {
  RunningServer s(kPool);
  SidecarClient(s.address(), kPool).bind({kOwn}, {{{"TASK_ID", "t-42"}, {"SEED", "7"}}, "job"});
  std::filesystem::create_directories(s.dir.path + "/other");
  SidecarClient c(s.address(), kOwn);
  ClientRunner runner(c);
  struct Row {
    nlohmann::json step;  // fields over {name, type: Command, command: [sh, -c, 'echo "$TASK_ID $SEED"; pwd']}
    std::string stdout_;
  };
  for (const auto& row : std::vector<Row>{
           {nlohmann::json::object(), "t-42 7\n" + s.dir.path + "/job\n"},
           {{{"env", {{"SEED", "8"}}}}, "t-42 8\n" + s.dir.path + "/job\n"},
           {{{"env", {{"TASK_ID", ""}}}}, " 7\n" + s.dir.path + "/job\n"},
           {{{"workDir", "other"}}, "t-42 7\n" + s.dir.path + "/other\n"},
           {{{"workDir", s.dir.path}}, "t-42 7\n" + s.dir.path + "\n"},
       }) {
    CAPTURE(row.step.dump());
    nlohmann::json step{{"name", "a"}, {"type", "Command"}, {"command", {"sh", "-c", "echo \"$TASK_ID $SEED\"; pwd"}}};
    step.update(row.step);
    core::Task t = core::task_from_json(nlohmann::json{{"metadata", {{"name", "t1"}}}, {"spec", {{"steps", {step}}}}});
    core::apply_defaults(t);
    sidecar::TaskRun run(t, runner, 1 << 16);
    auto outcome = run.attempt(std::chrono::seconds(30));
    CHECK(outcome.ok);
    REQUIRE(t.status.steps.size() == 1);
    CHECK(t.status.steps[0].stdout_ == row.stdout_);
  }
}

TEST_CASE("executor: sandbox env sits between the sidecar's environment and the request's") {
  arl::sidecar::testing::TempDir d;
  ::setenv("ARL_TEST_LAYER", "sidecar", 1);
  sidecar::Executor ex({d.path});
  ::unsetenv("ARL_TEST_LAYER");
  CHECK(ex.execute(sh("echo $ARL_TEST_LAYER")).stdout_data == "sidecar\n");
  ex.set_sandbox_config({{"ARL_TEST_LAYER", "sandbox"}}, "/");
  CHECK(ex.execute(sh("echo $ARL_TEST_LAYER; pwd")).stdout_data == "sandbox\n/\n");
  auto req = sh("echo $ARL_TEST_LAYER");
  req.env = {{"ARL_TEST_LAYER", "request"}};
  CHECK(ex.execute(req).stdout_data == "request\n");
  CHECK(ex.resolve_path("x") == d.path + "/x");  // relative paths stay under the workdir
}

TEST_CASE("a bind whose env is malformed is refused with 400 naming the variable, and binds nothing") {
  RunningServer s(kPool);
  httplib::Client raw(s.address());
  auto r = raw.Post("/bind", {{"X-Arl-Token", kPool}}, R"({"token":")" + kOwn + R"(","env":{"A":1}})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(r->body.find("env.A: must be a string") != std::string::npos);
  auto still = raw.Get("/processes", {{"X-Arl-Token", kPool}});
  REQUIRE(still);
  CHECK(still->status == 200);  // the pool token still works: nothing was bound
}
