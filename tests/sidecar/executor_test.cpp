#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "core/error.h"
#include "sidecar/executor.h"
#include "sidecar_test_util.h"

using namespace arl;
using namespace arl::sidecar;
using arl::sidecar::testing::TempDir;

namespace {
core::ExecuteRequest cmd(std::vector<std::string> argv, double timeout = 10) {
  core::ExecuteRequest r;
  r.command = std::move(argv);
  r.timeout_seconds = timeout;
  return r;
}
core::ExecuteRequest sh(const std::string& script, double timeout = 10) { return cmd({"sh", "-c", script}, timeout); }
}  // namespace

TEST_CASE("exit codes, stdout and stderr are captured separately") {
  TempDir d;
  Executor ex({d.path});
  auto r = ex.execute(sh("echo out; echo err >&2; exit 3"));
  CHECK(r.exit_code == 3);
  CHECK(r.stdout_data == "out\n");
  CHECK(r.stderr_data == "err\n");
  CHECK(r.done);
  CHECK_FALSE(r.timed_out);
  CHECK(ex.execute(cmd({"true"})).exit_code == 0);
  CHECK(ex.execute(cmd({"false"})).exit_code == 1);
  // A signal death is 128 + signal.
  CHECK(ex.execute(sh("kill -9 $$")).exit_code == 137);
}

TEST_CASE("timeout_seconds 0 runs a foreground command to its end without a deadline") {
  TempDir d;
  Executor ex({d.path});
  auto r = ex.execute(sh("sleep 0.2; echo done", 0));
  CHECK(r.exit_code == 0);
  CHECK(r.stdout_data == "done\n");
  CHECK_FALSE(r.timed_out);
}

TEST_CASE("command not found is exit 127, not a crash") {
  TempDir d;
  Executor ex({d.path});
  auto r = ex.execute(cmd({"definitely-not-a-command-xyz"}));
  CHECK(r.exit_code == 127);
  CHECK(r.stderr_data.find("command not found") != std::string::npos);
  auto r2 = ex.execute(cmd({"/nonexistent/bin"}));
  CHECK(r2.exit_code == 127);
}

TEST_CASE("env is merged over the sidecar's, the token is hidden, no shell is involved") {
  TempDir d;
  setenv("ARL_SIDECAR_TOKEN", "secret", 1);
  setenv("ARL_TEST_INHERITED", "inherited", 1);
  Executor ex({d.path});
  auto r = cmd({"sh", "-c", "echo $FOO-$ARL_TEST_INHERITED-${ARL_SIDECAR_TOKEN:-none}"});
  r.env["FOO"] = "bar";
  CHECK(ex.execute(r).stdout_data == "bar-inherited-none\n");
  // Arguments reach the program verbatim: no word splitting or globbing.
  CHECK(ex.execute(cmd({"echo", "a  b", "*", "$HOME"})).stdout_data == "a  b * $HOME\n");
  unsetenv("ARL_SIDECAR_TOKEN");
}

TEST_CASE("working_dir defaults to the workdir; relative is under it; missing is invalid") {
  TempDir d;
  std::filesystem::create_directories(d.path + "/sub");
  Executor ex({d.path});
  CHECK(ex.execute(cmd({"pwd"})).stdout_data == d.path + "\n");
  auto r = cmd({"pwd"});
  r.working_dir = "sub";
  CHECK(ex.execute(r).stdout_data == d.path + "/sub\n");
  r.working_dir = "/tmp";
  CHECK(ex.execute(r).stdout_data == "/tmp\n");
  r.working_dir = "missing";
  CHECK_THROWS_AS(ex.execute(r), Error);
}

TEST_CASE("stdin is fed to the command") {
  TempDir d;
  Executor ex({d.path});
  auto r = cmd({"cat"});
  r.stdin_data = std::string(300000, 'z');  // larger than a pipe buffer
  auto res = ex.execute(r);
  CHECK(res.stdout_data.size() == 300000);
  // Without stdin the command reads EOF at once instead of hanging.
  CHECK(ex.execute(cmd({"cat"}, 5)).stdout_data.empty());
}

TEST_CASE("several MiB on both streams do not deadlock") {
  TempDir d;
  Executor ex({d.path});
  auto r = ex.execute(sh("head -c 5000000 /dev/zero | tr '\\0' a; head -c 3000000 /dev/zero | tr '\\0' b >&2; echo x >&2"));
  CHECK(r.exit_code == 0);
  CHECK(r.stdout_data.size() == 5000000);
  CHECK(r.stderr_data.size() == 3000002);
  CHECK(r.stdout_data.find('b') == std::string::npos);
}

TEST_CASE("output over the cap keeps the tail and says so") {
  TempDir d;
  ExecutorOptions o{d.path};
  o.max_buffered_output = 1000;
  Executor ex(o);
  auto r = ex.execute(sh("head -c 100000 /dev/zero | tr '\\0' a; echo END"));
  CHECK(r.stdout_truncated);
  CHECK(r.stdout_data.size() <= 2000);
  CHECK(r.stdout_data.size() >= 1000);
  CHECK(r.stdout_data.substr(r.stdout_data.size() - 4) == "END\n");
}

TEST_CASE("timeout kills the whole process group, grandchildren included") {
  TempDir d;
  Executor ex({d.path});
  auto t0 = std::chrono::steady_clock::now();
  auto r = ex.execute(sh("sleep 30 & echo $!; wait", 0.5));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(r.timed_out);
  CHECK(r.exit_code == core::kTimeoutExitCode);
  CHECK(took < std::chrono::seconds(3));
  int grandchild = std::stoi(r.stdout_data);
  CHECK(testing::wait_gone(grandchild, 2000));
}

TEST_CASE("a command is done when it exits even if a background child holds its pipes") {
  TempDir d;
  Executor ex({d.path});
  auto t0 = std::chrono::steady_clock::now();
  // The sleeper inherits stdout; the command must not wait for it.
  auto r = ex.execute(sh("sleep 5 & echo started $!", 10));
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(r.exit_code == 0);
  CHECK(r.stdout_data.rfind("started", 0) == 0);
  CHECK(took < std::chrono::seconds(2));
  int pid = std::stoi(r.stdout_data.substr(8));
  // Only a timeout, /signal or /reset kills: the child survives its parent.
  CHECK(testing::process_alive(pid));
  ex.signal(pid, SIGKILL);  // a member of a group we created
  CHECK(testing::wait_gone(pid, 2000));
}

TEST_CASE("background processes: listed, signalled, reaped, reset") {
  TempDir d;
  Executor ex({d.path});
  auto bg = cmd({"sleep", "30"});
  bg.background = true;
  auto r = ex.execute(bg);
  REQUIRE(r.pid);
  CHECK_FALSE(r.done);
  int pid = *r.pid;
  auto ps = ex.processes();
  REQUIRE(ps.size() == 1);
  CHECK(ps[0].pid == pid);
  CHECK(ps[0].running);
  CHECK(ps[0].command == std::vector<std::string>{"sleep", "30"});

  auto s = ex.signal(pid, SIGTERM);
  CHECK(s.success);
  bool exited = false;
  for (int i = 0; i < 2000 && !exited; ++i) {
    auto list = ex.processes();
    exited = !list.empty() && !list[0].running;
    if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(exited);
  CHECK(*ex.processes()[0].exit_code == 128 + SIGTERM);
  CHECK_FALSE(ex.signal(pid, SIGTERM).success);  // already exited
  // Reaped: no zombie left behind.
  CHECK_FALSE(testing::process_alive(pid));

  // Only processes the sidecar started can be signalled.
  CHECK_THROWS_AS(ex.signal(getpid(), SIGTERM), Error);
  CHECK_THROWS_AS(ex.signal(1, SIGTERM), Error);

  // Reset kills every background process and empties the workdir.
  auto r2 = ex.execute(bg);
  auto r3 = ex.execute(sh("nohup sleep 30 >/dev/null 2>&1 & echo $!"));
  int orphan = std::stoi(r3.stdout_data);
  std::ofstream(d.path + "/file.txt") << "x";
  std::filesystem::create_directories(d.path + "/dir/sub");
  auto rr = ex.reset(false);
  CHECK(rr.success);
  CHECK(rr.killed >= 2);
  CHECK(testing::wait_gone(*r2.pid, 2000));
  CHECK(testing::wait_gone(orphan, 2000));
  CHECK(std::filesystem::exists(d.path));
  CHECK(std::filesystem::is_empty(d.path));
  CHECK(ex.processes().empty());
}

TEST_CASE("reset with preserve_files keeps the workspace") {
  TempDir d;
  Executor ex({d.path});
  std::ofstream(d.path + "/keep.txt") << "x";
  CHECK(ex.reset(true).success);
  CHECK(std::filesystem::exists(d.path + "/keep.txt"));
}

TEST_CASE("streaming handler gets output as it comes, never split inside a UTF-8 character") {
  TempDir d;
  Executor ex({d.path});
  std::string out, err;
  int started = 0;
  OutputHandler h;
  h.on_start = [&](int pid) { started = pid; };
  h.on_output = [&](bool is_err, std::string_view data) {
    (is_err ? err : out) += data;
    return true;
  };
  auto r = ex.execute(sh("printf 'h\\303'; sleep 0.05; printf '\\251llo'; echo e >&2"), &h);
  CHECK(started > 0);
  CHECK(out == "h\xc3\xa9llo");
  CHECK(err == "e\n");
  CHECK(r.stdout_data.empty());
  CHECK(utf8_complete_prefix("ab\xc3") == 2);
  CHECK(utf8_complete_prefix("ab\xe2\x82") == 2);
  CHECK(utf8_complete_prefix("ab\xe2\x82\xac") == 5);
}

TEST_CASE("a streaming caller that goes away kills the command") {
  TempDir d;
  Executor ex({d.path});
  OutputHandler h;
  h.on_output = [](bool, std::string_view) { return false; };
  auto t0 = std::chrono::steady_clock::now();
  auto r = ex.execute(sh("while true; do echo spam; sleep 0.01; done", 20), &h);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
  CHECK(r.exit_code == 128 + SIGKILL);
}

TEST_CASE("concurrent executes run in parallel") {
  TempDir d;
  Executor ex({d.path});
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] {
      auto r = ex.execute(sh("sleep 0.3; echo " + std::to_string(i)));
      if (r.exit_code == 0 && r.stdout_data == std::to_string(i) + "\n") ++ok;
    });
  for (auto& t : ts) t.join();
  CHECK(ok == 8);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1500));
}

TEST_CASE("a foreground command reports its usage, its waited-for children included; a background start none") {
  TempDir d;
  Executor ex({d.path});
  // dd fills a 64 MiB buffer: the shell waits for it, so its peak RSS and
  // CPU are in the shell's accounting.
  auto r = ex.execute(sh("dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; true"));
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.usage);
  CHECK(r.usage->wall_ms == r.duration_ms);
  CHECK(r.usage->max_rss_kb >= 64 * 1024);
  CHECK(r.usage->cpu_user_ms + r.usage->cpu_system_ms > 0);
  CHECK(r.usage->cpu_user_ms >= 0);

  core::ExecuteRequest bg = sh("sleep 5");
  bg.background = true;
  auto started = ex.execute(bg);
  CHECK_FALSE(started.usage);
  CHECK_FALSE(ex.execute(cmd({"no-such-command-arl"})).usage);
}
