#include "localnode/pod_process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace arl::localnode {

namespace {

std::string resolve_executable(const std::string& name, const std::vector<std::pair<std::string, std::string>>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& [k, v] : env) {
    if (k == "PATH") path = v;
  }
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    auto candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;  // execve fails with ENOENT and the log says so
}

// Only async-signal-safe calls between fork and exec.
void child_fail(int log_fd, const char* step, const char* detail) {
  const char* err = strerror(errno);
  const char* parts[] = {"arl localnode: ", step, " ", detail, ": ", err, "\n"};
  for (const char* p : parts) {
    ssize_t ignored = write(log_fd, p, strlen(p));
    (void)ignored;
  }
  _exit(127);
}

}  // namespace

SpawnResult spawn_pod_process(const ProcessPlan& plan, int netns_fd, const std::string& log_path,
                              const std::string& fallback_cwd) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& m : plan.mounts) {
    if (!m.source.empty()) fs::create_directories(m.source, ec);
    fs::create_directories(m.target, ec);  // on the host: a bind mount needs an existing target
  }
  fs::create_directories(fallback_cwd, ec);

  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw Error(ErrorCode::internal, "cannot open pod log " + log_path + ": " + strerror(errno));
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

  // Everything the child needs is built before fork: after it, no allocation.
  const std::string exe = resolve_executable(plan.argv.at(0), plan.env);
  std::vector<char*> argv;
  for (const auto& a : plan.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : plan.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string cwd = plan.working_dir.empty() ? fallback_cwd : plan.working_dir;

  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(log_fd);
    if (null_fd >= 0) close(null_fd);
    throw Error(ErrorCode::internal, std::string("fork for pod process failed: ") + strerror(e));
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    setsid();
    if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) child_fail(log_fd, "setns", "netns");
    if (unshare(CLONE_NEWNS) != 0) child_fail(log_fd, "unshare", "mount namespace");
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) child_fail(log_fd, "mount", "/ private");
    for (const auto& m : plan.mounts) {
      if (m.tmpfs) {
        if (mount("tmpfs", m.target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0777") != 0)
          child_fail(log_fd, "tmpfs mount", m.target.c_str());
      } else if (mount(m.source.c_str(), m.target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        child_fail(log_fd, "bind mount", m.target.c_str());
      }
      if (m.read_only &&
          mount(nullptr, m.target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
        child_fail(log_fd, "read-only remount", m.target.c_str());
      }
    }
    if (chdir(cwd.c_str()) != 0) child_fail(log_fd, "chdir", cwd.c_str());
    if (null_fd >= 0) dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    // The agent's API connections must not leak into pods.
    if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0) {
      for (int fd = 3; fd < 4096; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    execve(exe.c_str(), argv.data(), envp.data());
    child_fail(2, "exec", exe.c_str());
  }
  close(log_fd);
  if (null_fd >= 0) close(null_fd);
  SpawnResult r;
  r.pid = pid;
  r.start_ticks = process_start_ticks(pid).value_or(0);
  return r;
}

bool signal_group(pid_t pgid, int sig) {
  if (pgid <= 1) return false;
  // Just after fork the child may not have called setsid yet: then only the pid exists.
  return kill(-pgid, sig) == 0 || kill(pgid, sig) == 0;
}

std::string mount_namespace_of(pid_t pid) {
  char buf[64];
  auto link = "/proc/" + std::to_string(pid) + "/ns/mnt";
  ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

int signal_mount_namespace(const std::string& mnt_ns, int sig) {
  if (mnt_ns.empty() || mnt_ns == mount_namespace_of(getpid())) return 0;
  int count = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (mount_namespace_of(pid) == mnt_ns && kill(pid, sig) == 0) ++count;
  }
  return count;
}

std::optional<uint64_t> process_start_ticks(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return std::nullopt;
  auto close_paren = line.rfind(')');
  if (close_paren == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close_paren + 2));
  std::string field;
  // Fields after "(comm)" start at 3 (state); starttime is field 22.
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return std::nullopt;
  }
  try {
    return std::stoull(field);
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace arl::localnode
