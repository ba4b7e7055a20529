// `kubectl arl task ...`: run Task manifests, follow them, read their output.
//
// Full output: a Task's status keeps only the tail of each step's output (so
// objects stay far below etcd's limit). For a step whose output was cut
// (StepStatus.truncated) the operator stores the whole output in the sandbox
// pod at /workspace/.arl/tasks/<task>/<step>.stdout and .stderr when the task
// ends; `task logs` reads those through the pod proxy with `cat` and falls
// back to the status tail (with a note) once the pod is gone.
#include <iostream>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "kubectl/common.h"
#include "kubectl/context.h"
#include "kubectl/manifest.h"
#include "kubectl/proxy.h"
#include "kubectl/task.h"
#include "kubectl/wait.h"
#include "core/error.h"
#include "core/names.h"

namespace arl::kubectl {

using nlohmann::json;

std::string task_output_path(const std::string& task, const std::string& step, const std::string& stream) {
  return fmt::format("{}/.arl/tasks/{}/{}.{}", kDefaultWorkDir, task, step, stream);
}

void prepare_task_documents(std::vector<SourceDoc>& docs, const std::string& sandbox) {
  for (auto& d : docs) {
    if (!d.value.is_object()) continue;
    if (!d.value.contains("kind")) d.value["kind"] = "Task";
    if (!d.value.contains("apiVersion")) d.value["apiVersion"] = std::string(kApiVersion);
    if (!sandbox.empty() && d.value.value("kind", "") == "Task") d.value["spec"]["sandboxRef"] = sandbox;
  }
}

bool task_finished(const json& t) {
  auto state = t.value("/status/state"_json_pointer, std::string());
  return state == "Succeeded" || state == "Failed";
}

namespace {

std::string task_state(const json& t) {
  auto state = t.value("/status/state"_json_pointer, std::string("Pending"));
  auto steps = t.value("/status/steps"_json_pointer, json::array());
  for (const auto& s : steps)
    if (s.value("state", "") == "Running") return fmt::format("{} (step {})", state, s.value("name", ""));
  return state;
}

// Prints the output of finished steps once each, in step order. The status
// holds each step's output unless it was truncated; only then is the full
// copy read from the sandbox pod, which the operator writes when the task
// ends (so a truncated step waits for the task to finish before printing).
class StepPrinter {
 public:
  StepPrinter(PluginContext& ctx, std::string ns, std::string task) : ctx_(ctx), ns_(std::move(ns)), task_(std::move(task)) {}

  void print_new(const json& t, bool include_running = false) {
    auto steps = t.value("/status/steps"_json_pointer, json::array());
    if (!steps.is_array()) return;
    const bool task_done = task_finished(t);
    for (const auto& s : steps) {
      const std::string name = s.value("name", "");
      const std::string state = s.value("state", "");
      if (printed_.count(name)) continue;
      const bool finished = state == "Succeeded" || state == "Failed" || state == "Skipped";
      if (!finished && !(include_running && state == "Running")) break;
      if (finished && s.value("truncated", false) && !task_done) break;
      printed_.insert(name);
      if (only_step_.empty() || name == only_step_) print_step(t, s);
    }
  }
  std::string only_step_;

 private:
  void print_step(const json& t, const json& s) {
    const std::string name = s.value("name", "");
    if (step_type(t, name) == "FilePatch") return;
    if (s.value("truncated", false)) {
      std::string out, err;
      if (read_from_pod(t, name, "stdout", out) && read_from_pod(t, name, "stderr", err)) {
        ctx_.out() << out << std::flush;
        ctx_.err() << err << std::flush;
        return;
      }
    }
    ctx_.out() << s.value("stdout", "") << std::flush;
    ctx_.err() << s.value("stderr", "") << std::flush;
    if (s.value("truncated", false))
      ctx_.err() << fmt::format("[arl] output of step {} is truncated: its full copy in the sandbox pod ({}) "
                                "is no longer readable, so only the tail kept in the task status is shown\n",
                                name, task_output_path(task_, name, "stdout"));
  }

  static std::string step_type(const json& t, const std::string& name) {
    for (const auto& s : t.value("/spec/steps"_json_pointer, json::array()))
      if (s.value("name", "") == name) return s.value("type", "Command");
    return "Command";
  }

  bool read_from_pod(const json& t, const std::string& step, const std::string& stream, std::string& data) {
    if (pod_gone_) return false;
    try {
      if (!target_) {
        auto sandbox = t.value("/spec/sandboxRef"_json_pointer, std::string());
        target_ = resolve_sandbox(ctx_, ns_, sandbox);
      }
      auto r = exec_collect(ctx_, *target_, {"cat", task_output_path(task_, step, stream)});
      if (r.exit_code != 0) return false;
      data = std::move(r.stdout_data);
      return true;
    } catch (const Error&) {
      pod_gone_ = true;
      return false;
    }
  }

  PluginContext& ctx_;
  std::string ns_;
  std::string task_;
  std::set<std::string> printed_;
  std::optional<SandboxTarget> target_;
  bool pod_gone_ = false;
};

json wait_task(PluginContext& ctx, const std::string& ns, const std::string& name, StepPrinter* printer) {
  WaitSpec w;
  w.resource = &k8s::resources::tasks;
  w.ns = ns;
  w.name = name;
  w.what = "task " + name;
  w.done = task_finished;
  w.describe = task_state;
  if (printer) w.on_change = [printer](const json& t) { printer->print_new(t); };
  w.timeout = ctx.timeout_or(std::chrono::milliseconds{0});
  w.interactive = ctx.interactive();
  w.progress = &ctx.err();
  return wait_for(ctx.api(), w);
}

std::string failure_text(const json& t) {
  auto msg = t.value("/status/message"_json_pointer, std::string());
  auto code = t.value("/status/exitCode"_json_pointer, json());
  std::string text = "task " + t.value("/metadata/name"_json_pointer, std::string()) + " failed";
  if (code.is_number()) text += fmt::format(" (exit code {})", code.get<int64_t>());
  if (!msg.empty()) text += ": " + msg;
  return text;
}

struct RunArgs {
  std::vector<std::string> files;
  std::string sandbox;
  bool wait = false;
  bool follow = false;
};

void task_run(PluginContext& ctx, const RunArgs& a) {
  std::vector<SourceDoc> docs;
  for (const auto& f : a.files) {
    auto more = read_manifests(f, std::cin);
    docs.insert(docs.end(), more.begin(), more.end());
  }
  if (docs.empty()) throw Error(ErrorCode::invalid, "no Task documents found in the given files");
  prepare_task_documents(docs, a.sandbox);
  throw_if_problems(validate_documents(docs, {"Task"}));

  std::vector<json> created;
  for (auto& d : docs) {
    std::string ns = d.value.value("/metadata/namespace"_json_pointer, std::string());
    if (ns.empty()) ns = ctx.ns();
    created.push_back(ctx.api().create(k8s::resources::tasks, ns, d.value));
    if (ctx.flags.output.empty()) ctx.out() << action_line(task_view(), created.back(), "created") << "\n" << std::flush;
  }
  std::vector<std::string> failures;
  if (a.wait || a.follow) {
    for (auto& t : created) {
      const std::string ns = t.value("/metadata/namespace"_json_pointer, ctx.ns());
      const std::string name = t.value("/metadata/name"_json_pointer, std::string());
      StepPrinter printer(ctx, ns, name);
      t = wait_task(ctx, ns, name, a.follow ? &printer : nullptr);
      if (a.follow) printer.print_new(t);
      if (t.value("/status/state"_json_pointer, std::string()) == "Failed") failures.push_back(failure_text(t));
      if (ctx.flags.output.empty() && !a.follow)
        ctx.out() << action_line(task_view(), t, t.value("/status/state"_json_pointer, std::string())) << "\n";
    }
  }
  if (!ctx.flags.output.empty()) ctx.out() << render_objects(created, task_view(), ctx.print_options(), created.size() == 1);
  if (!failures.empty()) {
    std::string msg;
    for (const auto& f : failures) msg += (msg.empty() ? "" : "\n") + f;
    throw Error(ErrorCode::internal, msg);
  }
}

void task_logs(PluginContext& ctx, const std::string& name, bool follow, const std::string& step) {
  const std::string ns = ctx.ns();
  auto t = get_required(ctx.api(), k8s::resources::tasks, ns, name);
  StepPrinter printer(ctx, ns, name);
  printer.only_step_ = step;
  if (follow && !task_finished(t)) t = wait_task(ctx, ns, name, &printer);
  auto steps = t.value("/status/steps"_json_pointer, json::array());
  if (steps.empty()) {
    // Not started, or an operator that reports only the task-level output.
    ctx.out() << t.value("/status/stdout"_json_pointer, std::string());
    ctx.err() << t.value("/status/stderr"_json_pointer, std::string());
    return;
  }
  printer.print_new(t, /*include_running=*/true);
}

}  // namespace

void add_task_commands(CLI::App& app, std::shared_ptr<PluginContext> ctx) {
  auto* task = add_command(app, "task", "Run tasks (file writes and commands) in sandboxes",
                           "  kubectl arl task run -f task.yaml --wait\n"
                           "  cat tasks.yaml | kubectl arl task run -f - --sandbox my-sb --follow\n"
                           "  kubectl arl task logs my-task\n");
  task->require_subcommand(1);

  auto a = std::make_shared<RunArgs>();
  auto* run = add_command(*task, "run", "Create tasks from a file (several documents allowed), validated first",
                          "  kubectl arl task run -f task.yaml\n"
                          "  kubectl arl task run -f task.yaml --sandbox my-sb --wait\n"
                          "  kubectl arl task run -f - --follow < task.yaml\n");
  run->add_option("-f,--filename", a->files, "Task manifest ('-' for stdin; repeatable)")
      ->required()
      ->allow_extra_args(false);
  run->add_option("--sandbox", a->sandbox, "Run in this sandbox (sets spec.sandboxRef of every task)");
  run->add_flag("--wait", a->wait, "Wait until the tasks finish; exit 1 if one failed");
  run->add_flag("--follow", a->follow, "Like --wait, printing each step's output as the step finishes");
  add_output_flags(*run, *ctx);
  run->callback([ctx, a] { task_run(*ctx, *a); });

  add_object_commands(*task, ctx, {k8s::resources::tasks, task_view(), "tasks", "my-task", "Delete tasks"});

  auto log_name = std::make_shared<std::string>();
  auto log_step = std::make_shared<std::string>();
  auto log_follow = std::make_shared<bool>(false);
  auto* logs = add_command(*task, "logs",
                           "Print a task's full output (stdout and stderr of every step, in order)",
                           "  kubectl arl task logs my-task\n"
                           "  kubectl arl task logs my-task -f\n"
                           "  kubectl arl task logs my-task --step test 2>/dev/null\n\n"
                           "The full output is read from the sandbox pod; once the pod is gone only the\n"
                           "tail kept in the task's status is available.\n");
  logs->add_option("name", *log_name, "Task name")->required();
  logs->add_flag("-f,--follow", *log_follow, "Wait for the task, printing each step's output as it finishes");
  logs->add_option("--step", *log_step, "Only this step's output");
  logs->callback([ctx, log_name, log_follow, log_step] { task_logs(*ctx, *log_name, *log_follow, *log_step); });
}

}  // namespace arl::kubectl
