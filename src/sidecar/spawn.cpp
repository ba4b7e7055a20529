#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sidecar/spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace arl::sidecar {
namespace {

struct ChildArgs {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  int fds[3];
  volatile int exec_errno;  // written by the child; shared memory (CLONE_VM)
};

// Runs in the child on its own stack while the parent thread is suspended
// (CLONE_VFORK): only async-signal-safe calls, no allocation.
int child_main(void* p) {
  auto* a = static_cast<ChildArgs*>(p);
  sigset_t none;
  sigemptyset(&none);
  // The sidecar ignores SIGPIPE and blocks SIGTERM/SIGINT for sigwait; both
  // survive exec and would change how user commands behave.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) sigaction(sig, &dfl, nullptr);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  if (setpgid(0, 0) != 0) goto fail;
  for (int i = 0; i < 3; ++i) {
    if (a->fds[i] == i) {
      int fl = fcntl(i, F_GETFD);
      if (fl >= 0) fcntl(i, F_SETFD, fl & ~FD_CLOEXEC);
    } else if (dup2(a->fds[i], i) < 0) {
      goto fail;
    }
  }
  if (a->cwd && a->cwd[0] && chdir(a->cwd) != 0) goto fail;
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
  {
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (long fd = 3; fd < max; ++fd) close(static_cast<int>(fd));
  }
  execve(a->path, a->argv, a->envp);
fail:
  a->exec_errno = errno ? errno : EINVAL;
  _exit(127);
}

std::vector<char*> c_array(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

constexpr size_t kChildStack = 64 * 1024;

}  // namespace

int spawn_process(const SpawnSpec& spec) {
  auto argv = c_array(spec.argv);
  auto envp = c_array(spec.env);
  ChildArgs args{spec.path.c_str(), argv.data(), envp.data(), spec.cwd.c_str(),
                 {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd}, 0};
  // Per-thread stack: the child only runs while this thread is suspended.
  thread_local std::unique_ptr<char[]> stack(new char[kChildStack]);
  char* top = stack.get() + kChildStack;
  top -= reinterpret_cast<uintptr_t>(top) % 16;
  int pid = clone(child_main, top, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  if (pid < 0) {
    throw Error(ErrorCode::internal, std::string("cannot start \"") + spec.argv[0] + "\": " + std::strerror(errno));
  }
  if (args.exec_errno != 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    int e = args.exec_errno;
    throw Error(ErrorCode::invalid,
                std::string("command[0]: cannot run \"") + spec.argv[0] + "\": " + std::strerror(e));
  }
  return pid;
}

std::string resolve_executable(const std::string& argv0, const std::string& search_path) {
  if (argv0.find('/') != std::string::npos) return argv0;
  size_t start = 0;
  while (start <= search_path.size()) {
    size_t end = search_path.find(':', start);
    if (end == std::string::npos) end = search_path.size();
    std::string dir = search_path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string cand = dir + "/" + argv0;
    struct stat st;
    if (stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return {};
}

void ensure_std_fds_open() {
  for (int fd = 0; fd < 3; ++fd) {
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      int n = open("/dev/null", O_RDWR);
      if (n >= 0 && n != fd) {
        dup2(n, fd);
        close(n);
      }
    }
  }
}

}  // namespace arl::sidecar
