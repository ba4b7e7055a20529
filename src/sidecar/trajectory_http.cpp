#include "sidecar/trajectory_http.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/sidecar_protocol.h"

namespace arl::sidecar {
namespace {

std::uint64_t parse_since(const httplib::Request& req) {
  if (!req.has_param("since")) return 0;
  const std::string v = req.get_param_value("since");
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
    throw Error(ErrorCode::invalid, "since: \"" + v + "\" is not a sequence number (expected 0, 1, 2, ...)");
  return std::stoull(v);
}

struct FdHolder {
  int fd;
  explicit FdHolder(int f) : fd(f) {}
  FdHolder(const FdHolder&) = delete;
  FdHolder& operator=(const FdHolder&) = delete;
  ~FdHolder() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

void serve_trajectory(Trajectory& trajectory, const httplib::Request& req, httplib::Response& res) {
  const std::uint64_t since = parse_since(req);
  const bool full = trajectory.full();
  const std::uint64_t last = trajectory.last_seq();
  auto range = trajectory.after(since, kTrajectoryPageLines, kTrajectoryPageBytes);
  res.set_header("X-Arl-Trajectory-Last-Seq", std::to_string(last));
  res.set_header("X-Arl-Trajectory-Full", full ? "true" : "false");
  if (range.lines == 0) {
    res.set_content("", core::kNdjsonContentType);
    return;
  }
  auto file = std::make_shared<FdHolder>(range.fd);
  const std::uint64_t begin = range.begin;
  res.set_content_provider(
      range.end - range.begin, core::kNdjsonContentType,
      [file, begin](size_t offset, size_t length, httplib::DataSink& sink) {
        char buf[1 << 16];
        const size_t want = std::min(length, sizeof buf);
        ssize_t n;
        do {
          n = ::pread(file->fd, buf, want, static_cast<off_t>(begin + offset));
        } while (n < 0 && errno == EINTR);
        // Lines below the size seen are never rewritten: a short read means
        // the file was cut (shutdown), and the client sees a cut reply.
        if (n <= 0) return false;
        return sink.write(buf, static_cast<size_t>(n));
      });
}

}  // namespace arl::sidecar
