#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sidecar/executor.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/types.h"

extern char** environ;

namespace arl::sidecar {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

void set_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

int open_pidfd(int pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

struct Pipe {
  int r = -1, w = -1;
  void open() {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
      throw Error(ErrorCode::unavailable, std::string("cannot create pipe: ") + std::strerror(errno));
    r = p[0];
    w = p[1];
  }
  ~Pipe() {
    close_fd(r);
    close_fd(w);
  }
};

// Collects one stream: either hands it to the streaming handler (holding
// back a split UTF-8 character) or keeps the tail in memory.
struct Collector {
  bool is_stderr;
  const OutputHandler* handler;
  size_t cap;
  std::string buf;
  bool truncated = false;
  bool handler_gone = false;

  bool add(const char* data, size_t n) {
    if (!handler) {
      buf.append(data, n);
      if (buf.size() > 2 * cap) {
        buf.erase(0, buf.size() - cap);
        truncated = true;
      }
      return true;
    }
    if (handler_gone) return false;
    buf.append(data, n);
    size_t ok = utf8_complete_prefix(buf);
    if (ok == 0) return true;
    bool alive = handler->on_output(is_stderr, std::string_view(buf.data(), ok));
    buf.erase(0, ok);
    if (!alive) handler_gone = true;
    return alive;
  }
  void flush() {
    if (handler && !handler_gone && !buf.empty()) {
      handler->on_output(is_stderr, buf);
      buf.clear();
    }
  }
};

}  // namespace

int exit_code_from_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

size_t utf8_complete_prefix(std::string_view d) {
  // Look back at most 3 bytes for the lead byte of an unfinished sequence.
  size_t n = d.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(d[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return back < need ? n - back : n;
  }
  return n;
}

Executor::Executor(ExecutorOptions options) : options_(std::move(options)) {
  while (options_.workdir.size() > 1 && options_.workdir.back() == '/') options_.workdir.pop_back();
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string k = kv.substr(0, eq);
    bool hidden = false;
    for (const auto& h : options_.hidden_env) hidden = hidden || h == k;
    if (!hidden) base_env_.emplace_back(k, kv.substr(eq + 1));
  }
  devnull_ = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  reaper_ = std::thread([this] { reaper_loop(); });
}

Executor::~Executor() {
  {
    std::lock_guard<std::mutex> lk(reaper_mu_);
    stopping_ = true;
  }
  reaper_cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
  kill_all();
  std::lock_guard<std::mutex> lk(table_mu_);
  for (auto& [pid, e] : table_) {
    if (e.background && e.running) {
      int st;
      waitpid(pid, &st, 0);
    }
  }
  if (devnull_ >= 0) close(devnull_);
}

std::string Executor::resolve_path(const std::string& p) const {
  if (!p.empty() && p[0] == '/') return p;
  if (p.empty()) {
    std::shared_lock lock(sandbox_mu_);
    if (!default_cwd_.empty()) return default_cwd_;
  }
  if (p.empty() || p == ".") return options_.workdir;
  std::string out = options_.workdir;
  if (out != "/") out += '/';
  out += p;
  return out;
}

std::string Executor::file_path(const std::string& p) const {
  if (p.empty() || p[0] == '/') return p;
  std::shared_lock lock(sandbox_mu_);
  if (default_cwd_.empty() || default_cwd_ == options_.workdir) return p;
  const std::string root = options_.workdir == "/" ? "/" : options_.workdir + "/";
  // A working dir outside the workdir (a sidecar bound by hand): used as given.
  if (default_cwd_.rfind(root, 0) != 0) return default_cwd_ + "/" + p;
  return default_cwd_.substr(root.size()) + "/" + p;
}

void Executor::set_sandbox_config(std::map<std::string, std::string> env, const std::string& working_dir) {
  std::string cwd;
  if (!working_dir.empty()) {
    cwd = working_dir;
    if (cwd[0] != '/') cwd = options_.workdir + (options_.workdir == "/" ? "" : "/") + working_dir;
    std::error_code ec;  // an existing dir is fine; a failure shows on the first command, naming the dir
    std::filesystem::create_directories(cwd, ec);
  }
  std::unique_lock lock(sandbox_mu_);
  sandbox_env_ = std::move(env);
  default_cwd_ = std::move(cwd);
}

// Precedence, lowest first: the sidecar's own environment, the sandbox's
// (bind), the request's.
std::vector<std::string> Executor::build_env(const std::map<std::string, std::string>& extra) const {
  std::shared_lock lock(sandbox_mu_);
  std::vector<std::string> out;
  out.reserve(base_env_.size() + sandbox_env_.size() + extra.size());
  for (const auto& [k, v] : base_env_)
    if (!extra.count(k) && !sandbox_env_.count(k)) out.push_back(k + "=" + v);
  for (const auto& [k, v] : sandbox_env_)
    if (!extra.count(k)) out.push_back(k + "=" + v);
  for (const auto& [k, v] : extra) out.push_back(k + "=" + v);
  return out;
}

int Executor::spawn_registered(const SpawnSpec& spec, const std::vector<std::string>& command, bool background) {
  std::shared_lock<std::shared_mutex> spawn_lock(spawn_mu_);
  int pid = spawn_process(spec);
  std::lock_guard<std::mutex> lk(table_mu_);
  Entry e;
  e.command = command;
  e.background = background;
  e.started_at = core::now_rfc3339();
  table_[pid] = std::move(e);
  groups_.insert(pid);
  return pid;
}

core::ExecuteResponse Executor::execute(const core::ExecuteRequest& req, const OutputHandler* handler) {
  if (req.command.empty() || req.command[0].empty()) throw Error(ErrorCode::invalid, "command: must not be empty");
  const std::string cwd = resolve_path(req.working_dir);
  struct stat st;
  if (stat(cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw Error(ErrorCode::invalid, "working_dir: \"" + cwd + "\" is not an existing directory");

  std::vector<std::string> env = build_env(req.env);
  std::string search = kDefaultPath;
  for (const auto& kv : env)
    if (kv.rfind("PATH=", 0) == 0) search = kv.substr(5);
  std::string path = resolve_executable(req.command[0], search);

  core::ExecuteResponse res;
  auto fail_to_start = [&](const std::string& msg) {
    res.exit_code = core::kNotFoundExitCode;
    if (handler && handler->on_output) handler->on_output(true, msg);
    else res.stderr_data = msg;
    return res;
  };
  if (path.empty()) return fail_to_start("arl sidecar: command not found: " + req.command[0] + "\n");
  if (req.background) return start_background(req, cwd, std::move(env), path);

  Pipe out, err, in;
  out.open();
  err.open();
  if (req.stdin_data) in.open();

  SpawnSpec spec{path, req.command, std::move(env), cwd, req.stdin_data ? in.r : devnull_, out.w, err.w};
  const auto start = Clock::now();
  int pid;
  try {
    pid = spawn_registered(spec, req.command, false);
  } catch (const Error& e) {
    return fail_to_start(std::string("arl sidecar: ") + e.what() + "\n");
  }
  close_fd(out.w);
  close_fd(err.w);
  close_fd(in.r);
  set_nonblocking(out.r);
  set_nonblocking(err.r);
  if (in.w >= 0) set_nonblocking(in.w);
  int pidfd = open_pidfd(pid);
  if (handler && handler->on_start) handler->on_start(pid);

  const double timeout_s = req.timeout_seconds.value_or(core::kSidecarDefaultTimeoutSeconds);
  const auto deadline = timeout_s > 0 ? start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s))
                                      : Clock::time_point::max();  // timeout_seconds: 0 is "no timeout"
  Clock::time_point grace_deadline{};
  bool exited = false, timed_out = false, accounted = false;
  int status = 0;
  struct rusage usage {};
  size_t in_off = 0;
  const std::string empty;
  const std::string& in_data = req.stdin_data ? *req.stdin_data : empty;
  if (in.w >= 0 && in_data.empty()) close_fd(in.w);

  Collector cout_{false, handler, options_.max_buffered_output, {}};
  Collector cerr_{true, handler, options_.max_buffered_output, {}};
  static thread_local char buf[64 * 1024];

  auto reap = [&](bool block) {
    std::lock_guard<std::mutex> lk(table_mu_);
    int r;
    do {
      r = wait4(pid, &status, block ? 0 : WNOHANG, &usage);
    } while (r < 0 && errno == EINTR);
    if (r == pid) accounted = true;
    if (r == pid || (r < 0 && errno == ECHILD)) {
      exited = true;
      table_.erase(pid);
      grace_deadline = Clock::now() + options_.pipe_grace;
    }
  };
  auto drain = [&](int& fd, Collector& c) {
    for (int i = 0; i < 16; ++i) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        if (!c.add(buf, static_cast<size_t>(n))) kill(-pid, SIGKILL);  // caller went away
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      close_fd(fd);  // EOF or error
      return;
    }
  };

  while (!(exited && out.r < 0 && err.r < 0)) {
    auto now = Clock::now();
    if (!exited && !timed_out && now >= deadline) {
      kill(-pid, SIGKILL);
      timed_out = true;
    }
    if (exited && now >= grace_deadline) break;  // abandon pipes held by background children
    auto until = exited ? grace_deadline : (timed_out ? now + std::chrono::milliseconds(50) : deadline);
    long wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1;
    if (wait_ms < 0) wait_ms = 0;
    if (pidfd < 0 && !exited && wait_ms > 2) wait_ms = 2;  // old kernels: poll waitpid

    pollfd pf[4];
    int n = 0, i_out = -1, i_err = -1, i_in = -1, i_pid = -1;
    if (out.r >= 0) { i_out = n; pf[n++] = {out.r, POLLIN, 0}; }
    if (err.r >= 0) { i_err = n; pf[n++] = {err.r, POLLIN, 0}; }
    if (in.w >= 0 && !exited) { i_in = n; pf[n++] = {in.w, POLLOUT, 0}; }
    if (pidfd >= 0 && !exited) { i_pid = n; pf[n++] = {pidfd, POLLIN, 0}; }
    int r = poll(pf, n, static_cast<int>(wait_ms > 60000 ? 60000 : wait_ms));
    if (r < 0 && errno != EINTR) break;
    if (r > 0) {
      if (i_out >= 0 && pf[i_out].revents) drain(out.r, cout_);
      if (i_err >= 0 && pf[i_err].revents) drain(err.r, cerr_);
      if (i_in >= 0 && pf[i_in].revents) {
        if (pf[i_in].revents & (POLLERR | POLLHUP)) {
          close_fd(in.w);
        } else {
          size_t chunk = std::min<size_t>(in_data.size() - in_off, 64 * 1024);
          ssize_t w = write(in.w, in_data.data() + in_off, chunk);
          if (w > 0) in_off += static_cast<size_t>(w);
          else if (w < 0 && errno != EAGAIN && errno != EINTR) close_fd(in.w);
          if (in_off >= in_data.size()) close_fd(in.w);
        }
      }
      if (i_pid >= 0 && pf[i_pid].revents) reap(true);
    }
    if (pidfd < 0 && !exited) reap(false);
  }
  if (!exited) reap(true);  // poll failed: still never leave a zombie
  close_fd(in.w);
  if (pidfd >= 0) close(pidfd);
  cout_.flush();
  cerr_.flush();

  res.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  res.timed_out = timed_out;
  res.exit_code = timed_out ? core::kTimeoutExitCode : exit_code_from_wait_status(status);
  res.done = true;
  if (accounted) {
    auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; };
    res.usage = core::Usage{res.duration_ms, ms(usage.ru_utime), ms(usage.ru_stime),
                            static_cast<std::uint64_t>(usage.ru_maxrss > 0 ? usage.ru_maxrss : 0)};  // KiB on Linux
  }
  if (!handler) {
    res.stdout_data = std::move(cout_.buf);
    res.stderr_data = std::move(cerr_.buf);
    res.stdout_truncated = cout_.truncated;
    res.stderr_truncated = cerr_.truncated;
  }
  return res;
}

core::ExecuteResponse Executor::start_background(const core::ExecuteRequest& req, const std::string& cwd,
                                                 std::vector<std::string> env, const std::string& path) {
  SpawnSpec spec{path, req.command, std::move(env), cwd, devnull_, devnull_, devnull_};
  const auto start = Clock::now();
  core::ExecuteResponse res;
  try {
    res.pid = spawn_registered(spec, req.command, true);
  } catch (const Error& e) {
    res.exit_code = core::kNotFoundExitCode;
    res.stderr_data = std::string("arl sidecar: ") + e.what() + "\n";
    return res;
  }
  res.done = false;
  res.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return res;
}

void Executor::refresh_locked() {
  for (auto& [pid, e] : table_) {
    if (!e.background || !e.running) continue;
    int st = 0;
    int r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      e.running = false;
      e.exit_code = exit_code_from_wait_status(st);
    } else if (r < 0 && errno == ECHILD) {
      e.running = false;
      e.exit_code = 255;
    }
  }
}

core::SignalResponse Executor::signal(int pid, int signo) {
  std::lock_guard<std::mutex> lk(table_mu_);
  refresh_locked();
  const std::string sig = std::to_string(signo);
  auto it = table_.find(pid);
  if (it != table_.end()) {
    if (!it->second.running)
      return {false, "process " + std::to_string(pid) + " already exited with code " + std::to_string(it->second.exit_code)};
    if (kill(-pid, signo) != 0 && kill(pid, signo) != 0)
      return {false, "cannot signal process " + std::to_string(pid) + ": " + std::strerror(errno)};
    return {true, "sent signal " + sig + " to process group " + std::to_string(pid)};
  }
  pid_t pg = getpgid(pid);
  if (pg > 0 && groups_.count(pg)) {
    if (kill(pid, signo) != 0)
      return {false, "cannot signal process " + std::to_string(pid) + ": " + std::strerror(errno)};
    return {true, "sent signal " + sig + " to process " + std::to_string(pid)};
  }
  throw Error(ErrorCode::not_found, "pid: process " + std::to_string(pid) + " was not started by this sidecar (see GET /processes)");
}

int Executor::kill_all() {
  std::lock_guard<std::mutex> lk(table_mu_);
  int killed = 0;
  for (int pg : groups_)
    if (kill(-pg, SIGKILL) == 0) ++killed;
  return killed;
}

core::ResetResponse Executor::reset(bool preserve_files) {
  core::ResetResponse res;
  res.killed = kill_all();
  {
    // SIGKILL is prompt; reap so the table does not list them as running.
    const auto until = Clock::now() + std::chrono::seconds(2);
    std::lock_guard<std::mutex> lk(table_mu_);
    for (;;) {
      refresh_locked();
      bool any = false;
      for (auto& [pid, e] : table_) any = any || (e.background && e.running);
      if (!any || Clock::now() >= until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (auto it = table_.begin(); it != table_.end();) {
      if (it->second.background && !it->second.running) it = table_.erase(it);
      else ++it;
    }
  }
  res.message = "killed " + std::to_string(res.killed) + " process group(s)";
  if (!preserve_files) {
    namespace fs = std::filesystem;
    std::error_code ec;
    size_t failures = 0;
    std::string first_error;
    for (fs::directory_iterator it(options_.workdir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code rec;
      fs::remove_all(it->path(), rec);
      if (rec) {
        if (!failures++) first_error = it->path().string() + ": " + rec.message();
      }
    }
    if (ec) {
      res.success = false;
      res.message += "; cannot list workdir " + options_.workdir + ": " + ec.message();
    } else if (failures) {
      res.success = false;
      res.message += "; could not remove " + std::to_string(failures) + " entr(ies), first: " + first_error;
    } else {
      res.message += "; workdir " + options_.workdir + " emptied";
    }
  }
  return res;
}

std::vector<core::ProcessInfo> Executor::processes() {
  std::lock_guard<std::mutex> lk(table_mu_);
  refresh_locked();
  std::vector<core::ProcessInfo> out;
  out.reserve(table_.size());
  for (const auto& [pid, e] : table_) {
    core::ProcessInfo p;
    p.pid = pid;
    p.command = e.command;
    p.running = e.running;
    if (!e.running) p.exit_code = e.exit_code;
    p.background = e.background;
    p.started_at = e.started_at;
    out.push_back(std::move(p));
  }
  return out;
}

void Executor::reap_orphans() {
  // As a container's PID 1 we inherit every orphan; reap those that are not
  // ours to wait for. Exclusive spawn lock: a just-spawned child is always in
  // the table before we look.
  std::unique_lock<std::shared_mutex> spawn_lock(spawn_mu_);
  DIR* d = opendir("/proc");
  if (!d) return;
  std::vector<int> zombies;
  while (dirent* ent = readdir(d)) {
    char* endp;
    long pid = std::strtol(ent->d_name, &endp, 10);
    if (*endp || pid <= 1) continue;
    std::ifstream f(std::string("/proc/") + ent->d_name + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    auto rp = line.rfind(')');
    if (rp == std::string::npos || rp + 4 >= line.size()) continue;
    char state = line[rp + 2];
    long ppid = std::strtol(line.c_str() + rp + 4, nullptr, 10);
    if (state == 'Z' && ppid == getpid()) zombies.push_back(static_cast<int>(pid));
  }
  closedir(d);
  std::lock_guard<std::mutex> lk(table_mu_);
  for (int pid : zombies) {
    if (table_.count(pid)) continue;
    int st;
    waitpid(pid, &st, WNOHANG);
  }
}

void Executor::reaper_loop() {
  const bool pid1 = getpid() == 1;
  std::unique_lock<std::mutex> lk(reaper_mu_);
  while (!stopping_) {
    reaper_cv_.wait_for(lk, std::chrono::milliseconds(250));
    if (stopping_) break;
    {
      std::lock_guard<std::mutex> tl(table_mu_);
      refresh_locked();
      for (auto it = groups_.begin(); it != groups_.end();) {
        // An empty group can have its number reused by an unrelated process.
        if (kill(-*it, 0) != 0 && errno == ESRCH) it = groups_.erase(it);
        else ++it;
      }
    }
    if (pid1) reap_orphans();
  }
}

}  // namespace arl::sidecar
