#pragma once
// The sandbox's trajectory (docs/design.md "Trajectory"): one JSON line per
// operation the sidecar performed, appended to `<dir>/trajectory.jsonl`.
//
// The file lies outside the workdir so a checkpoint restore or a /reset
// cannot erase the record of what led there. Lines are only ever appended,
// so a reader may read any range below the size it saw without a lock.
//
// Recording never fails a request: a line that would pass the size cap is
// replaced by one `trajectory_full` line and nothing is recorded afterwards;
// a write error (disk full) stops recording the same way, logged once.
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arl::sidecar {

inline constexpr std::uint64_t kDefaultTrajectoryMaxBytes = 64ull << 20;
inline constexpr const char* kTrajectoryFileName = "trajectory.jsonl";

struct TrajectoryOptions {
  /// "" -> a private file (`$TMPDIR/arl-trajectory-XXXXXX`) unlinked as soon
  /// as it is open: it lives exactly as long as the sidecar, and nothing is
  /// left behind even when the sidecar is killed (pods of the local node
  /// share the host's /tmp). An explicit directory is kept, and a sidecar
  /// that starts again continues its file (seq goes on).
  std::string dir;
  std::uint64_t max_bytes = kDefaultTrajectoryMaxBytes;
};

/// A line as the builders make it (trajectory_lines.h): key order is kept,
/// so every line starts with seq, time and kind.
using TrajectoryLine = nlohmann::ordered_json;

class Trajectory {
 public:
  explicit Trajectory(TrajectoryOptions options);
  ~Trajectory();
  Trajectory(const Trajectory&) = delete;
  Trajectory& operator=(const Trajectory&) = delete;

  /// Appends `line` (which starts with "kind") as seq N+1 with `time` (RFC
  /// 3339, ms). Never throws.
  void record(const TrajectoryLine& line, const std::string& time);

  /// The byte range of the lines with seq > since, at most max_lines lines
  /// and (but for a first line longer than it) max_bytes bytes.
  struct Range {
    int fd = -1;  // a descriptor of the file for the caller to read and close (-1: no lines)
    std::uint64_t begin = 0, end = 0;
    std::uint64_t first_seq = 0, lines = 0;
  };
  Range after(std::uint64_t since, std::uint64_t max_lines, std::uint64_t max_bytes);

  std::uint64_t last_seq();
  bool full();
  /// The file in use ("" for a private one, and until the first line or read).
  std::string path();
  /// Stops recording and closes the file (shutdown).
  void discard();

 private:
  bool ensure_open();  // mu_ held; false when recording is impossible
  void append(const std::string& text);  // mu_ held; throws on I/O errors
  void stop_recording(const std::string& why, const std::string& time);  // mu_ held

  TrajectoryOptions options_;
  bool private_dir_;
  std::string path_;
  std::mutex mu_;
  int fd_ = -1;
  bool broken_ = false;                 // a write failed: nothing more is recorded
  bool full_ = false;                   // the trajectory_full line is written
  std::vector<std::uint64_t> offsets_;  // offsets_[i]: start of seq i+1
  std::uint64_t size_ = 0;
};

}  // namespace arl::sidecar
