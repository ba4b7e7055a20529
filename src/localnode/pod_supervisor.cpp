#include "localnode/pod_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "core/log.h"
#include "core/types.h"
#include "localnode/pod_decision.h"
#include "localnode/pod_process.h"
#include "localnode/probe.h"

namespace arl::localnode {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

std::chrono::milliseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t);
}

void remove_pod_files(const std::string& pod_dir) {
  std::error_code ec;
  fs::remove_all(pod_dir, ec);
  fs::remove(pod_dir + ".pid", ec);
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434  // the same on every architecture; older libc headers lack it
#endif

// A pidfd of a process that is not our child: it polls readable once the
// process has exited. Through syscall(): musl has no wrapper.
int open_pidfd(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

bool pidfd_exited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

// The pid file: "PID START_TICKS UID NS/NAME", what a restarted agent needs to
// tell its pod's process from a recycled pid and to find the pod it belongs to.
void write_pid_file(const std::string& path, pid_t pid, uint64_t ticks, const std::string& uid,
                    const std::string& key) {
  std::ofstream pf(path, std::ios::trunc);
  pf << pid << " " << ticks << " " << uid << " " << key << "\n";
}

}  // namespace

struct PodSupervisor::Entry {
  std::mutex mu;
  std::string key, uid, pod_dir;
  Probe readiness;
  RunState rs;
  // The pod's mount namespace, held open so its inode cannot be reused by
  // another pod while we may still signal its members.
  std::string mnt_ns;
  int mnt_fd = -1;
  Clock::time_point started;
  Clock::time_point next_probe;
  bool exited = false;
  // Set for a process an earlier agent started: it is not our child, so its
  // exit is seen through this pidfd and its exit status is unknown.
  int pidfd = -1;
  // What the API server was last told, so each transition is written once.
  std::string reported_phase;
  bool reported_ready = false;
};

PodSupervisor::PodSupervisor(SupervisorOptions opts, Wake wake)
    : opts_(std::move(opts)), wake_(std::move(wake)), own_mnt_ns_(mount_namespace_of(getpid())) {}

PodSupervisor::~PodSupervisor() {
  for (auto& [k, e] : entries_) {
    if (e->mnt_fd >= 0) close(e->mnt_fd);
    if (e->pidfd >= 0) close(e->pidfd);
  }
}

std::string PodSupervisor::pod_dir_of(const std::string& key) const {
  auto slash = key.find('/');
  return opts_.state_dir + "/pods/" + pod_file_stem(key.substr(0, slash), key.substr(slash + 1));
}

std::shared_ptr<PodSupervisor::Entry> PodSupervisor::entry_of(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second;
}

std::optional<PodLog> PodSupervisor::log_of(const std::string& key) {
  auto e = entry_of(key);
  if (!e) return std::nullopt;
  std::lock_guard lk(e->mu);
  // A weak pointer: a follower must not keep a forgotten pod alive.
  std::weak_ptr<Entry> weak = e;
  return PodLog{e->pod_dir + ".log", e->rs.container, [weak] {
                  auto p = weak.lock();
                  if (!p) return false;
                  std::lock_guard lk(p->mu);
                  return !p->exited;
                }};
}

std::optional<std::string> PodSupervisor::uid_of(const std::string& key) {
  auto e = entry_of(key);
  if (!e) return std::nullopt;
  return e->uid;
}

void PodSupervisor::start(const std::string& key, const std::string& uid, const ProcessPlan& plan, RunState rs,
                          int netns_fd) {
  auto e = std::make_shared<Entry>();
  e->key = key;
  e->uid = uid;
  e->pod_dir = pod_dir_of(key);
  e->readiness = plan.readiness;
  e->rs = std::move(rs);
  std::error_code ec;
  fs::create_directories(e->pod_dir, ec);
  auto sp = spawn_pod_process(plan, netns_fd, e->pod_dir + ".log", e->pod_dir);
  e->rs.pid = sp.pid;
  e->started = Clock::now();
  e->next_probe = e->started;
  write_pid_file(e->pod_dir + ".pid", sp.pid, sp.start_ticks, uid, key);
  {
    std::lock_guard lk(mu_);
    entries_[key] = e;
  }
  if (e->readiness.kind == Probe::Kind::none) {
    std::lock_guard lk(e->mu);
    e->rs.ready = true;
  } else {
    try_probe(*e);
  }
}

std::optional<StatusWrite> PodSupervisor::status_to_write(const std::string& key, const std::string& now) {
  auto e = entry_of(key);
  if (!e) return std::nullopt;
  std::lock_guard lk(e->mu);
  StatusView v{phase_of(e->rs), e->rs.ready, e->exited, e->reported_phase, e->reported_ready, since(e->started)};
  if (!status_write_due(v, opts_.ready_wait)) return std::nullopt;
  return StatusWrite{status_patch(e->rs, now), v.phase, v.ready && !v.exited};
}

void PodSupervisor::mark_reported(const std::string& key, const StatusWrite& w) {
  auto e = entry_of(key);
  if (!e) return;
  std::lock_guard lk(e->mu);
  e->reported_phase = w.phase;
  e->reported_ready = w.ready;
}

// Pins the pod's mount namespace once the child has left ours.
void PodSupervisor::capture_mnt_locked(Entry& e) {
  if (e.mnt_fd >= 0 || e.exited || e.rs.pid <= 0) return;
  auto ns = mount_namespace_of(e.rs.pid);
  if (ns.empty() || ns == own_mnt_ns_) return;
  int fd = open(("/proc/" + std::to_string(e.rs.pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (mount_namespace_of(e.rs.pid) != ns) {
    close(fd);
    return;
  }
  e.mnt_ns = ns;
  e.mnt_fd = fd;
}

// Detects the main process's exit WITHOUT reaping it first: while it is an
// unreaped zombie its pid (= process group id) cannot be reused, so the
// rest of the pod can be killed safely; then it is reaped. Entry mutex held.
bool PodSupervisor::check_exit_locked(Entry& e) {
  if (e.exited) return true;
  if (e.rs.pid <= 0) return true;
  if (e.pidfd >= 0) return check_adopted_exit_locked(e);
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(e.rs.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == EINTR) return false;
    info.si_pid = e.rs.pid;  // ECHILD: already gone
    info.si_code = CLD_EXITED;
    info.si_status = 255;
  }
  if (info.si_pid != e.rs.pid) return false;
  ExitInfo ex;
  ex.finished_at = core::now_rfc3339();
  if (info.si_code == CLD_EXITED) {
    ex.exit_code = info.si_status;
  } else {
    ex.signal = info.si_status;
    ex.exit_code = 128 + info.si_status;
  }
  // A container's processes end with its main process, as in a pod.
  signal_group(e.rs.pid, SIGKILL);
  if (e.mnt_fd >= 0) signal_mount_namespace(e.mnt_ns, SIGKILL);
  int st = 0;
  while (waitpid(e.rs.pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (e.mnt_fd >= 0) {
    close(e.mnt_fd);
    e.mnt_fd = -1;
  }
  e.exited = true;
  e.rs.exit = ex;
  return true;
}

// An adopted process was reaped by whoever inherited it, so its exit status
// is lost: reported as a kubelet reports a container it cannot find.
bool PodSupervisor::check_adopted_exit_locked(Entry& e) {
  if (!pidfd_exited(e.pidfd)) return false;
  ExitInfo ex;
  ex.finished_at = core::now_rfc3339();
  ex.exit_code = 137;
  ex.reason = "ContainerStatusUnknown";
  signal_group(e.rs.pid, SIGKILL);
  if (e.mnt_fd >= 0) {
    signal_mount_namespace(e.mnt_ns, SIGKILL);
    close(e.mnt_fd);
    e.mnt_fd = -1;
  }
  close(e.pidfd);
  e.pidfd = -1;
  e.exited = true;
  e.rs.exit = ex;
  return true;
}

void PodSupervisor::try_probe(Entry& e) {
  std::unique_lock lk(e.mu);
  if (e.exited || e.rs.ready) return;
  auto probe = e.readiness;
  auto ip = e.rs.pod_ip;
  lk.unlock();
  bool ok = probe_once(probe, ip, 200ms);
  lk.lock();
  if (ok) e.rs.ready = true;
  capture_mnt_locked(e);
  e.next_probe = Clock::now() + probe_interval(since(e.started));
}

void PodSupervisor::monitor(std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::vector<std::shared_ptr<Entry>> snapshot;
    {
      std::lock_guard lk(mu_);
      for (auto& [k, e] : entries_) snapshot.push_back(e);
    }
    for (auto& e : snapshot) {
      bool wake = false, probe_due = false, late = false;
      {
        std::lock_guard lk(e->mu);
        capture_mnt_locked(*e);
        if (!e->exited && check_exit_locked(*e)) {
          wake = true;
          log::info("Pod process exited", {{"pod", e->key},
                                           {"pid", std::to_string(e->rs.pid)},
                                           {"exitCode", std::to_string(e->rs.exit->exit_code)}});
        }
        probe_due = !e->exited && !e->rs.ready && Clock::now() >= e->next_probe;
        late = !e->exited && e->reported_phase.empty() && since(e->started) >= opts_.ready_wait;
      }
      if (probe_due) {
        try_probe(*e);
        std::lock_guard lk(e->mu);
        if (e->rs.ready) wake = true;
      }
      if (wake || late) wake_(e->key);
    }
    std::this_thread::sleep_for(snapshot.empty() ? 20ms : 2ms);
  }
}

// SIGTERM to the process group, SIGKILL to everything in the pod's mount
// namespace after the grace; returns once the main process is reaped.
void PodSupervisor::terminate(Entry& e, std::chrono::seconds grace) {
  std::unique_lock lk(e.mu);
  if (e.rs.pid <= 0) return;
  capture_mnt_locked(e);
  if (check_exit_locked(e)) return;
  signal_group(e.rs.pid, grace.count() > 0 ? SIGTERM : SIGKILL);
  auto deadline = Clock::now() + grace;
  while (!check_exit_locked(e) && Clock::now() < deadline) {
    lk.unlock();
    std::this_thread::sleep_for(5ms);
    lk.lock();
  }
  if (e.exited) return;
  signal_group(e.rs.pid, SIGKILL);
  if (e.mnt_fd >= 0) signal_mount_namespace(e.mnt_ns, SIGKILL);
  auto hard = Clock::now() + 5s;
  while (!check_exit_locked(e) && Clock::now() < hard) {
    lk.unlock();
    std::this_thread::sleep_for(2ms);
    lk.lock();
  }
}

void PodSupervisor::forget(const std::shared_ptr<Entry>& e) {
  {
    std::lock_guard lk(mu_);
    auto it = entries_.find(e->key);
    if (it != entries_.end() && it->second == e) entries_.erase(it);
  }
  {
    std::lock_guard lk(e->mu);
    if (e->mnt_fd >= 0) close(e->mnt_fd);
    e->mnt_fd = -1;
    if (e->pidfd >= 0) close(e->pidfd);
    e->pidfd = -1;
  }
  remove_pod_files(e->pod_dir);
}

void PodSupervisor::stop(const std::string& key, std::chrono::seconds grace) {
  auto e = entry_of(key);
  if (!e) {
    remove_pod_files(pod_dir_of(key));
    return;
  }
  terminate(*e, grace);
  forget(e);
}

std::vector<Leftover> PodSupervisor::find_leftovers() {
  std::vector<Leftover> found;
  std::error_code ec;
  fs::create_directories(opts_.state_dir + "/pods", ec);
  for (const auto& entry : fs::directory_iterator(opts_.state_dir + "/pods", ec)) {
    if (entry.path().extension() != ".pid") continue;
    std::ifstream f(entry.path());
    Leftover l;
    if (f >> l.pid >> l.start_ticks && l.pid > 1 && process_start_ticks(l.pid) == l.start_ticks) {
      f >> l.uid >> l.key;  // absent in an older agent's files: then only killed
      l.pid_file = entry.path().string();
      found.push_back(std::move(l));
    } else {
      fs::remove(entry.path(), ec);
    }
  }
  return found;
}

void PodSupervisor::kill_leftover(const Leftover& l) {
  // Checked again, and the namespace held open while signalling, so neither a
  // recycled pid nor a reused namespace inode is hit.
  int fd = open(("/proc/" + std::to_string(l.pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC);
  if (process_start_ticks(l.pid) == l.start_ticks) {
    auto mnt = mount_namespace_of(l.pid);
    signal_group(l.pid, SIGKILL);
    if (fd >= 0 && mnt != own_mnt_ns_) signal_mount_namespace(mnt, SIGKILL);
    log::info("Killed leftover pod process", {{"pid", std::to_string(l.pid)}, {"pod", l.key}});
  }
  if (fd >= 0) close(fd);
  std::error_code ec;
  fs::remove(l.pid_file, ec);
}

bool PodSupervisor::adopt(const Leftover& l, const Probe& readiness, RunState rs, const std::string& reported_phase) {
  int pidfd = open_pidfd(l.pid);
  // After the pidfd exists the pid cannot name another process unnoticed: the
  // check that it is still ours comes second.
  if (pidfd < 0) return false;
  if (process_start_ticks(l.pid) != l.start_ticks || pidfd_exited(pidfd)) {
    close(pidfd);
    return false;
  }
  auto e = std::make_shared<Entry>();
  e->key = l.key;
  e->uid = l.uid;
  e->pod_dir = pod_dir_of(l.key);
  e->readiness = readiness;
  e->rs = std::move(rs);
  e->rs.pid = l.pid;
  e->pidfd = pidfd;
  e->started = Clock::now();
  e->next_probe = e->started;
  e->reported_phase = reported_phase;
  e->reported_ready = e->rs.ready;
  if (readiness.kind == Probe::Kind::none) e->rs.ready = true;
  {
    std::lock_guard lk(e->mu);
    capture_mnt_locked(*e);
  }
  std::lock_guard lk(mu_);
  entries_[l.key] = e;
  return true;
}

void PodSupervisor::remove_stale_pod_dirs(const std::set<std::string>& keep) {
  std::set<std::string> ours;
  for (const auto& key : keep) ours.insert(fs::path(pod_dir_of(key)).filename().string());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(opts_.state_dir + "/pods", ec)) {
    if (entry.is_directory() && !ours.count(entry.path().filename().string())) fs::remove_all(entry.path(), ec);
  }
}

void PodSupervisor::stop_all() {
  std::vector<std::shared_ptr<Entry>> all;
  {
    std::lock_guard lk(mu_);
    for (auto& [k, e] : entries_) all.push_back(e);
  }
  // SIGTERM everyone first so the grace periods run in parallel.
  for (auto& e : all) {
    std::lock_guard lk(e->mu);
    capture_mnt_locked(*e);
    if (!check_exit_locked(*e)) signal_group(e->rs.pid, SIGTERM);
  }
  for (auto& e : all) terminate(*e, opts_.max_grace);
  std::error_code ec;
  for (auto& e : all) fs::remove(e->pod_dir + ".pid", ec);
  if (!all.empty()) log::info("Stopped pod processes", {{"count", std::to_string(all.size())}});
}

}  // namespace arl::localnode
