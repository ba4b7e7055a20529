// `arl sidecar exec-local -f task.yaml`: runs a Task's steps against a local
// directory with the executor and the step sequencing the operator uses, so
// task semantics can be tried without a cluster.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cmd/commands.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/names.h"
#include "core/read_file.h"
#include "core/types.h"
#include "core/validation.h"
#include "core/yaml.h"
#include "sidecar/executor.h"
#include "sidecar/files.h"
#include "sidecar/task_run.h"

namespace arl::cmd {
namespace {

namespace fs = std::filesystem;

// Tasks address the sandbox as /workspace; here that is --workdir.
std::string map_path(const std::string& path, const std::string& workdir) {
  const std::string ws(kDefaultWorkDir);
  if (path.empty()) return path;  // a step with no workDir: the executor's own, --workdir
  if (path == ws) return workdir;
  if (path.rfind(ws + "/", 0) == 0) return workdir + path.substr(ws.size());
  if (!path.empty() && path.front() == '/') return path;
  return workdir + "/" + path;
}

class LocalRunner : public sidecar::StepRunner {
 public:
  explicit LocalRunner(const std::string& workdir) : workdir_(workdir), executor_(sidecar::ExecutorOptions{workdir}) {}
  core::ExecuteResponse execute(const core::ExecuteRequest& req) override {
    core::ExecuteRequest local = req;
    local.working_dir = map_path(req.working_dir, workdir_);
    // Arguments naming /workspace files (python /workspace/app.py) point into --workdir.
    const std::string ws(kDefaultWorkDir);
    for (auto& arg : local.command)
      if (arg == ws || arg.rfind(ws + "/", 0) == 0) arg = map_path(arg, workdir_);
    return executor_.execute(local);
  }
  void write_file(const core::FileWriteRequest& req) override {
    sidecar::write_file_atomically(map_path(req.path, workdir_), req);
  }

 private:
  std::string workdir_;
  sidecar::Executor executor_;
};

// Returns whether the task succeeded; prints its status as YAML.
bool run_one(core::Task& t, const std::string& workdir) {
  core::apply_defaults(t);
  auto budget = core::parse_duration(t.spec.timeout, "spec.timeout");
  auto started = std::chrono::steady_clock::now();
  LocalRunner runner(workdir);
  sidecar::TaskRun run(t, runner, 1 << 20);
  t.status.started_at = core::now_rfc3339();
  t.status.attempts = 1;
  auto outcome = run.run_with_retries(budget);
  t.status.state = outcome.ok ? "Succeeded" : "Failed";
  t.status.reason = outcome.ok ? "" : outcome.reason;
  t.status.message = outcome.message;
  t.status.completed_at = core::now_rfc3339();
  t.status.duration = core::format_duration(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started));
  nlohmann::json out{{"task", t.metadata.name}, {"status", core::to_json(t.status)}};
  std::cout << "---\n" << core::to_yaml(out) << std::flush;
  return outcome.ok;
}

}  // namespace

void add_exec_local_command(CLI::App& sidecar_cmd) {
  struct Args {
    std::string file, workdir = ".";
  };
  auto a = std::make_shared<Args>();
  auto* cmd = sidecar_cmd.add_subcommand(
      "exec-local", "Run the steps of the Task(s) in a file against a local directory, no cluster needed");
  cmd->footer(
      "The directory stands in for the sandbox's /workspace: relative paths, paths under /workspace and\n"
      "command arguments naming /workspace files land in it; commands run as local processes with the\n"
      "executor's timeout and output capture.\n\n"
      "Examples:\n"
      "  arl sidecar exec-local -f manifests/samples/task.yaml --workdir /tmp/ws\n"
      "  cat task.yaml | arl sidecar exec-local -f -\n");
  cmd->add_option("-f,--filename", a->file, "Task YAML (several documents allowed; - reads stdin)")->required();
  cmd->add_option("--workdir", a->workdir, "Directory standing in for /workspace (created if missing)")->capture_default_str();
  cmd->callback([a] {
    auto docs = core::parse_yaml_documents(core::read_file_or_stdin(a->file, "-f", std::cin), a->file == "-" ? "<stdin>" : a->file);
    std::vector<core::Task> tasks;
    std::string problems;
    for (const auto& d : docs) {
      auto errs = core::validate_object(d.value);
      if (d.value.value("kind", "") != "Task")
        errs.push_back({"kind", fmt::format("exec-local runs Tasks, got \"{}\"", d.value.value("kind", ""))});
      for (const auto& e : errs) problems += fmt::format("\n  {}:{}: {}", a->file, d.line, e.to_string());
      if (errs.empty()) tasks.push_back(core::task_from_json(d.value));
    }
    if (!problems.empty()) throw Error(ErrorCode::invalid, "invalid input:" + problems);
    if (tasks.empty()) throw Error(ErrorCode::invalid, fmt::format("-f {}: no Task in the file", a->file));
    fs::create_directories(a->workdir);
    std::string workdir = fs::canonical(a->workdir).string();
    bool all_ok = true;
    for (auto& t : tasks) all_ok = run_one(t, workdir) && all_ok;
    if (!all_ok) throw ExitStatus{1};
  });
}

}  // namespace arl::cmd
