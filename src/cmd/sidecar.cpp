// `arl sidecar`: the in-pod executor, plus `copy-self` used by the pool's
// init container to place the binary in the shared volume.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include <CLI/CLI.hpp>

#include "build_info.h"
#include "cmd/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "sidecar/credential.h"
#include "sidecar/server.h"

namespace arl::cmd {
namespace {

std::string env_or(const char* name, const std::string& dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : dflt;
}

// Written to a temporary name and renamed, so a half-copied binary is never
// executed by the container that starts next.
void copy_self(const std::string& dest) {
  int in = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (in < 0) throw Error(ErrorCode::internal, std::string("cannot open /proc/self/exe: ") + std::strerror(errno));
  std::string tmp = dest + ".arl-tmp";
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
  if (out < 0) {
    int e = errno;
    ::close(in);
    throw Error(ErrorCode::invalid, "DEST: cannot create " + tmp + ": " + std::strerror(e));
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(ErrorCode::internal, std::string("cannot read /proc/self/exe: ") + std::strerror(errno));
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw Error(ErrorCode::internal, "cannot write " + tmp + ": " + std::strerror(errno));
      off += w;
    }
  }
  ::close(in);
  if (::fchmod(out, 0755) != 0 || ::close(out) != 0)
    throw Error(ErrorCode::internal, "cannot finish " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), dest.c_str()) != 0)
    throw Error(ErrorCode::invalid, "DEST: cannot rename " + tmp + " to " + dest + ": " + std::strerror(errno));
}

}  // namespace

void add_sidecar_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("sidecar", "Run the in-pod executor (HTTP API on --listen)");
  auto opts = std::make_shared<sidecar::ServerOptions>();
  opts->listen = env_or("ARL_SIDECAR_LISTEN", ":8080");
  opts->workdir = env_or("ARL_SIDECAR_WORKDIR", std::string(kDefaultWorkDir));
  opts->token = env_or("ARL_SIDECAR_TOKEN", "");
  cmd->add_option("--listen", opts->listen, "Address to listen on, HOST:PORT or :PORT (env ARL_SIDECAR_LISTEN)")
      ->capture_default_str();
  cmd->add_option("--workdir", opts->workdir, "Workspace directory (env ARL_SIDECAR_WORKDIR)")->capture_default_str();
  cmd->add_option("--token", opts->token,
                  "Token callers must send until the pod is bound to a sandbox (env ARL_SIDECAR_TOKEN, which pods use: "
                  "a flag shows in /proc/PID/cmdline); empty disables auth");
  opts->checkpoint_dir = env_or("ARL_SIDECAR_CHECKPOINT_DIR", "");
  cmd->add_option("--checkpoint-dir", opts->checkpoint_dir,
                  "Directory for checkpoints, outside the workdir (env ARL_SIDECAR_CHECKPOINT_DIR); empty: a private "
                  "directory under $TMPDIR or /tmp, removed when the sidecar stops");
  cmd->add_option("--checkpoint-max-bytes", opts->checkpoint_max_bytes,
                  "File data all checkpoints together may hold; a checkpoint that would exceed it is refused (507)")
      ->capture_default_str();
  opts->trajectory_dir = env_or("ARL_SIDECAR_TRAJECTORY_DIR", "");
  cmd->add_option("--trajectory-dir", opts->trajectory_dir,
                  "Directory of the trajectory (one JSON line per operation), outside the workdir (env "
                  "ARL_SIDECAR_TRAJECTORY_DIR); empty: a private file under $TMPDIR or /tmp, unlinked at once so it "
                  "goes with the sidecar");
  cmd->add_option("--trajectory-max-bytes", opts->trajectory_max_bytes,
                  "Size cap of the trajectory file; at the cap one last line says so and recording stops")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", opts->max_body_bytes, "Largest request body accepted")->capture_default_str();
  cmd->add_option("--threads", opts->worker_threads, "Concurrent requests served")->capture_default_str();
  auto head_timeout = std::make_shared<double>(10), idle_timeout = std::make_shared<double>(30);
  cmd->add_option("--head-timeout", *head_timeout, "Seconds a client has to send a request's headers")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--idle-timeout", *idle_timeout, "Seconds an idle keep-alive connection is kept")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_flag("--quiet", [opts](std::int64_t) { opts->log_requests = false; }, "Log only start and stop");
  // JSON by default: pod logs are read by collectors more than by people.
  auto log_format = std::make_shared<std::string>("json");
  cmd->add_option("--log-format", *log_format, "Log format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();

  auto* copy = cmd->add_subcommand("copy-self", "Copy this binary to DEST with mode 0755 (init container)");
  auto dest = std::make_shared<std::string>();
  copy->add_option("DEST", *dest, "Destination path")->required();
  copy->callback([dest] { copy_self(*dest); });

  add_exec_local_command(*cmd);
  cmd->require_subcommand(0, 1);
  cmd->callback([cmd, opts, log_format, head_timeout, idle_timeout] {
    if (!cmd->get_subcommands().empty()) return;  // copy-self or exec-local ran
    // Before anything else runs: the sandbox's code shares this user, so the
    // pool token must not stay readable in /proc/<pid>/environ (the value
    // read at startup is in opts already; a --token flag wins over it).
    std::string from_env = sidecar::take_env_secret("ARL_SIDECAR_TOKEN");
    sidecar::wipe(from_env);
    log::set_format(*log_format == "json" ? log::Format::json : log::Format::text);
    opts->version = build::kVersion;
    if (opts->worker_threads < 1) throw Error(ErrorCode::usage, "--threads: must be at least 1");
    opts->head_timeout = std::chrono::milliseconds(static_cast<long>(*head_timeout * 1000));
    opts->idle_timeout = std::chrono::milliseconds(static_cast<long>(*idle_timeout * 1000));
    sidecar::run_sidecar_until_signal(std::move(*opts));
  });
}

}  // namespace arl::cmd
