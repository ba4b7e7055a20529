#pragma once
// Runs commands for the sidecar: foreground executes (buffered or streamed),
// background processes with a table that is reaped, signalled and reset.
// Every command runs in its own process group so a timeout, /signal or
// /reset reaches the grandchildren too.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/sidecar_protocol.h"
#include "sidecar/spawn.h"

namespace arl::sidecar {

struct ExecutorOptions {
  std::string workdir = std::string(kDefaultWorkDir);
  /// After the command exits, pipes still held by its background children
  /// are drained this long, then abandoned.
  std::chrono::milliseconds pipe_grace{100};
  /// Buffered output keeps at most this many bytes per stream (the tail).
  size_t max_buffered_output = 16 * 1024 * 1024;
  /// Environment variables the sidecar never passes to commands.
  std::vector<std::string> hidden_env = {"ARL_SIDECAR_TOKEN"};
};

/// Receives streamed output. Returning false (the caller went away) kills
/// the command's process group.
struct OutputHandler {
  std::function<void(int pid)> on_start;
  std::function<bool(bool is_stderr, std::string_view data)> on_output;
};

class Executor {
 public:
  explicit Executor(ExecutorOptions options);
  ~Executor();  // kills every process group it started
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  /// Runs a foreground command to completion (or starts a background one
  /// when request.background). With a handler, output goes to it and is not
  /// kept in the result. Throws Error{invalid} for a bad working_dir.
  core::ExecuteResponse execute(const core::ExecuteRequest& request, const OutputHandler* handler = nullptr);

  /// Signals a process the sidecar started: a table entry (its whole group),
  /// or any member of a group the sidecar created. Error{not_found} otherwise.
  core::SignalResponse signal(int pid, int signo);
  /// Kills every group the sidecar started; empties the workdir unless preserve_files.
  core::ResetResponse reset(bool preserve_files);
  std::vector<core::ProcessInfo> processes();
  /// Kills every group (shutdown).
  int kill_all();

  const ExecutorOptions& options() const { return options_; }
  /// The absolute path `p` denotes: relative paths are under the workdir;
  /// "" is the sandbox's working dir (set_sandbox_config), else the workdir.
  std::string resolve_path(const std::string& p) const;
  /// A file path of POST /files: a relative one names a file under the
  /// sandbox's working dir (the bind's), as a command's relative paths do,
  /// and stays relative so it is still resolved beneath the workdir.
  std::string file_path(const std::string& p) const;

  /// The sandbox's own settings from POST /bind: `env` goes under every
  /// command's request env, `working_dir` (relative to the workdir, or
  /// absolute) becomes the cwd of requests that give none; it is created if
  /// missing. Held in memory only: never listed by /processes nor logged.
  void set_sandbox_config(std::map<std::string, std::string> env, const std::string& working_dir);

 private:
  struct Entry {
    std::vector<std::string> command;
    bool background = false;
    bool running = true;
    int exit_code = 0;
    std::string started_at;
  };

  core::ExecuteResponse start_background(const core::ExecuteRequest& request, const std::string& cwd,
                                         std::vector<std::string> env, const std::string& path);
  std::vector<std::string> build_env(const std::map<std::string, std::string>& extra) const;
  int spawn_registered(const SpawnSpec& spec, const std::vector<std::string>& command, bool background);
  void finish_foreground(int pid, int exit_code);
  void refresh_locked();  // reaps exited background entries; table_mu_ held
  void reaper_loop();
  void reap_orphans();    // only when we are PID 1

  ExecutorOptions options_;
  std::vector<std::pair<std::string, std::string>> base_env_;
  mutable std::shared_mutex sandbox_mu_;  // guards the two below: set once at bind, read by every request
  std::map<std::string, std::string> sandbox_env_;
  std::string default_cwd_;  // "" -> the workdir
  int devnull_ = -1;

  std::shared_mutex spawn_mu_;  // shared: spawn+register; exclusive: orphan reaping
  std::mutex table_mu_;
  std::map<int, Entry> table_;
  std::set<int> groups_;  // every process group created and maybe still populated

  std::mutex reaper_mu_;
  std::condition_variable reaper_cv_;
  bool stopping_ = false;
  std::thread reaper_;
};

/// Exit code convention: exited -> status; killed by signal -> 128 + signal.
int exit_code_from_wait_status(int status);
/// Length of the longest prefix of `data` that does not end inside a UTF-8
/// sequence, so streamed chunks never split a character.
size_t utf8_complete_prefix(std::string_view data);

}  // namespace arl::sidecar
