// `kubectl arl sandbox exec` and `sandbox cp`: the executor through the pod proxy.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "kubectl/common.h"
#include "kubectl/context.h"
#include "kubectl/proxy.h"
#include "kubectl/sandbox.h"
#include "kubectl/wait.h"
#include "core/duration.h"
#include "core/error.h"
#include "k8s/kubeconfig.h"

namespace arl::kubectl {

std::optional<RemotePath> parse_remote_path(const std::string& arg) {
  auto colon = arg.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  if (arg.substr(0, colon).find('/') != std::string::npos) return std::nullopt;
  return RemotePath{arg.substr(0, colon), arg.substr(colon + 1)};
}

namespace {

struct ExecArgs {
  std::string name;
  std::vector<std::string> command;
  std::string workdir;
  std::vector<std::string> env;
  std::string timeout = "30s";
};

void run_exec(PluginContext& ctx, const ExecArgs& a) {
  if (a.command.empty())
    throw Error(ErrorCode::usage, "sandbox exec: give the command after --, e.g. `kubectl arl sandbox exec "
                                  + a.name + " -- ls -l`");
  core::ExecuteRequest req;
  req.command = a.command;
  req.working_dir = a.workdir;
  req.env = parse_key_values(a.env, "--env");
  std::chrono::milliseconds timeout;
  try {
    timeout = core::parse_duration(a.timeout, "--timeout");
  } catch (const Error& e) {
    throw Error(ErrorCode::usage, std::string(e.what()) + " (use e.g. 30s, 5m)");
  }
  req.timeout_seconds = static_cast<double>(timeout.count()) / 1000.0;
  auto target = resolve_sandbox(ctx, ctx.ns(), a.name);
  auto client = sidecar_client(ctx, target);
  InterruptScope scope;
  auto print = [&](const core::ExecEvent& ev) {
    if (ev.type == core::ExecEvent::Type::stdout_data) ctx.out() << ev.data << std::flush;
    else if (ev.type == core::ExecEvent::Type::stderr_data) ctx.err() << ev.data << std::flush;
  };
  auto r = client.execute_stream(req, print, scope.token());
  if (!r.done) {
    // Ctrl-C: stop the remote process too, as a terminal would.
    if (r.pid) {
      try {
        client.signal(*r.pid, "SIGTERM");
      } catch (const std::exception&) {
        // Best effort: the executor's timeout still ends the command.
      }
    }
    throw ExitStatus{130};
  }
  if (r.timed_out)
    ctx.err() << fmt::format("command timed out after {} and was killed (raise --timeout)\n",
                             core::format_duration(timeout));
  if (r.exit_code != 0) throw ExitStatus{r.exit_code};
}

std::string read_local_file(const std::string& path, unsigned& mode) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error(ErrorCode::not_found, fmt::format("{}: no such file", path));
  if (S_ISDIR(st.st_mode))
    throw Error(ErrorCode::invalid,
                fmt::format("{} is a directory: cp copies single files (pack directories with tar first)", path));
  mode = st.st_mode & 0777;
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorCode::forbidden, fmt::format("{}: cannot read", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void copy_to_sandbox(PluginContext& ctx, const std::string& local, const RemotePath& remote) {
  unsigned mode = 0644;
  auto bytes = read_local_file(local, mode);
  std::string path = remote.path;
  if (path.empty() || path.back() == '/') path += std::filesystem::path(local).filename().string();
  auto target = resolve_sandbox(ctx, ctx.ns(), remote.sandbox);
  write_remote_file(ctx, target, path, bytes, mode);
}

void copy_from_sandbox(PluginContext& ctx, const RemotePath& remote, const std::string& local) {
  if (remote.path.empty()) throw Error(ErrorCode::usage, "sandbox cp: give the file path after NAME:");
  auto target = resolve_sandbox(ctx, ctx.ns(), remote.sandbox);
  const std::string bytes = read_remote_file(ctx, target, remote.path);
  std::string dest = local;
  std::error_code ec;
  if (std::filesystem::is_directory(dest, ec)) dest = (std::filesystem::path(dest) /
                                                       std::filesystem::path(remote.path).filename()).string();
  std::ofstream f(dest, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(ErrorCode::forbidden, fmt::format("{}: cannot write", dest));
  f << bytes;
}

}  // namespace

void add_exec_commands(CLI::App& sandbox, std::shared_ptr<PluginContext> ctx) {
  auto a = std::make_shared<ExecArgs>();
  auto* exec = add_command(sandbox, "exec",
                           "Run a command in a sandbox, streaming its output; exits with the command's exit code",
                           "  kubectl arl sandbox exec my-sb -- python -c 'print(1+1)'\n"
                           "  kubectl arl sandbox exec my-sb --workdir /workspace/src --env DEBUG=1 -- make test\n"
                           "  kubectl arl sandbox exec my-sb --timeout 5m -- sh -c 'pip install -r req.txt'\n");
  exec->add_option("name", a->name, "Sandbox name")->required();
  exec->add_option("command", a->command, "The command and its arguments (after --)");
  exec->add_option("--workdir", a->workdir,
                   "Working directory (default: the sandbox's spec.workingDir, else /workspace; relative paths are under /workspace)");
  exec->add_option("--env", a->env, "Environment variable K=V for the command (repeatable)")->allow_extra_args(false);
  exec->add_option("--timeout", a->timeout, "Kill the command after this long (default 30s)");
  exec->positionals_at_end(false);
  exec->callback([ctx, a] { run_exec(*ctx, *a); });

  auto src = std::make_shared<std::string>();
  auto dst = std::make_shared<std::string>();
  auto* cp = add_command(sandbox, "cp", "Copy a file into or out of a sandbox",
                         "  kubectl arl sandbox cp ./app.py my-sb:/workspace/app.py\n"
                         "  kubectl arl sandbox cp ./data.csv my-sb:data/       (relative: in the sandbox's working dir)\n"
                         "  kubectl arl sandbox cp my-sb:/workspace/out.json ./out.json\n");
  cp->add_option("source", *src, "LOCAL_FILE or SANDBOX:PATH")->required();
  cp->add_option("destination", *dst, "SANDBOX:PATH or LOCAL_FILE")->required();
  cp->callback([ctx, src, dst] {
    auto from = parse_remote_path(*src);
    auto to = parse_remote_path(*dst);
    if (from && to) throw Error(ErrorCode::usage, "sandbox cp: copy between two sandboxes is not supported");
    if (!from && !to)
      throw Error(ErrorCode::usage, "sandbox cp: one of the paths must be SANDBOX:PATH, e.g. my-sb:/workspace/f");
    if (to)
      copy_to_sandbox(*ctx, *src, *to);
    else
      copy_from_sandbox(*ctx, *from, *dst);
  });
}

}  // namespace arl::kubectl
