#include "sidecar/trajectory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"

namespace arl::sidecar {
namespace fs = std::filesystem;

namespace {

// Room kept below the cap for the trajectory_full line, so the file always
// says why it ends.
constexpr std::uint64_t kFullLineReserve = 512;

std::string dump(const TrajectoryLine& j) { return j.dump(-1, ' ', false, TrajectoryLine::error_handler_t::replace); }

}  // namespace

Trajectory::Trajectory(TrajectoryOptions options)
    : options_(std::move(options)), private_dir_(options_.dir.empty()) {}

Trajectory::~Trajectory() { discard(); }

void Trajectory::discard() {
  std::lock_guard lock(mu_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  broken_ = true;  // a late request after shutdown records nothing
}

std::string Trajectory::path() {
  std::lock_guard lock(mu_);
  return path_;
}

bool Trajectory::ensure_open() {
  if (fd_ >= 0) return true;
  if (broken_) return false;
  broken_ = true;  // until the file is open and read
  if (private_dir_) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/arl-trajectory-XXXXXX";
    int fd = ::mkostemp(tmpl.data(), O_APPEND | O_CLOEXEC);
    if (fd < 0) {
      log::warn("Stopped recording the trajectory", {{"file", tmpl}, {"error", std::strerror(errno)}});
      return false;
    }
    ::unlink(tmpl.c_str());
    fd_ = fd;
    broken_ = false;
    return true;
  }
  {
    std::error_code ec;
    fs::create_directories(options_.dir, ec);
    if (ec) {
      log::warn("Stopped recording the trajectory", {{"dir", options_.dir}, {"error", ec.message()}});
      return false;
    }
  }
  path_ = options_.dir + "/" + kTrajectoryFileName;
  int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    log::warn("Stopped recording the trajectory", {{"path", path_}, {"error", std::strerror(errno)}});
    return false;
  }
  // A kept directory: go on after the lines already there. A last line
  // without its newline (the sidecar died writing it) is cut off.
  std::string text;
  char buf[1 << 16];
  for (ssize_t n; (n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(text.size()))) > 0;) text.append(buf, n);
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) offsets_.push_back(start);
  // Quotes inside JSON strings are escaped: this text can only be the key.
  if (!offsets_.empty() && text.find(R"("kind":"trajectory_full")", offsets_.back()) < start) full_ = true;
  if (start < text.size() && ::ftruncate(fd, static_cast<off_t>(start)) != 0) {
    ::close(fd);
    log::warn("Stopped recording the trajectory", {{"path", path_}, {"error", std::strerror(errno)}});
    return false;
  }
  size_ = start;
  fd_ = fd;
  broken_ = false;
  return true;
}

void Trajectory::append(const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd_, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // A partial line would corrupt the file for every reader: cut it off.
      int e = n < 0 ? errno : ENOSPC;
      (void)!::ftruncate(fd_, static_cast<off_t>(size_));
      throw Error(ErrorCode::unavailable, std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  offsets_.push_back(size_);
  size_ += text.size();
}

void Trajectory::stop_recording(const std::string& why, const std::string& time) {
  full_ = true;
  TrajectoryLine line = {{"seq", offsets_.size() + 1}, {"time", time}, {"kind", "trajectory_full"},
                         {"max_bytes", options_.max_bytes}, {"message", why}};
  try {
    append(dump(line) + "\n");
  } catch (const Error&) {
    broken_ = true;
  }
  log::warn("Stopped recording the trajectory", {{"path", path_}, {"reason", why}});
}

void Trajectory::record(const TrajectoryLine& line, const std::string& time) {
  try {
    std::lock_guard lock(mu_);
    if (full_ || !ensure_open()) return;
    TrajectoryLine out = {{"seq", offsets_.size() + 1}, {"time", time}};
    out.update(line);
    std::string text = dump(out) + "\n";
    if (size_ + text.size() + kFullLineReserve > options_.max_bytes) {
      stop_recording(fmt::format("the trajectory reached its cap of {} bytes (--trajectory-max-bytes): later "
                                 "operations are not recorded", options_.max_bytes),
                     time);
      return;
    }
    try {
      append(text);
    } catch (const Error& e) {
      broken_ = true;
      log::warn("Stopped recording the trajectory", {{"path", path_}, {"error", e.what()}});
    }
  } catch (...) {
    // Recording is a by-product: the operation itself has already happened.
  }
}

Trajectory::Range Trajectory::after(std::uint64_t since, std::uint64_t max_lines, std::uint64_t max_bytes) {
  std::lock_guard lock(mu_);
  Range r;
  ensure_open();
  const std::uint64_t count = offsets_.size();
  if (since >= count) {
    r.begin = r.end = size_;
    return r;
  }
  r.fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (r.fd < 0) return Range{};
  r.first_seq = since + 1;
  r.begin = offsets_[since];
  std::uint64_t i = since;
  while (i < count && r.lines < max_lines) {
    std::uint64_t next = i + 1 < count ? offsets_[i + 1] : size_;
    if (r.lines > 0 && next - r.begin > max_bytes) break;
    r.end = next;
    ++r.lines;
    ++i;
  }
  return r;
}

std::uint64_t Trajectory::last_seq() {
  std::lock_guard lock(mu_);
  return offsets_.size();
}

bool Trajectory::full() {
  std::lock_guard lock(mu_);
  return full_;
}

}  // namespace arl::sidecar
